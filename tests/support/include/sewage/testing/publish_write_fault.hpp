#pragma once
/// \file
/// Fault injection for tests of the class "a QoS 1 publish whose first write fails because the
/// connection broke under it" (issue 17; gateway/include/sewage/gateway/mqtt_link.hpp). Linking
/// the library `sewage::test_publish_write_fault` defines writev() in the test executable, which
/// comes first in the process's symbol lookup, so Paho C's calls (Socket_writev writes every packet
/// of a plain TCP connection) land there. When armed, the next write of an MQTT PUBLISH packet
/// shuts the socket down and fails with ECONNRESET, as a link reset by a router or a broker killed
/// mid-write does; every other write goes to the real writev. TLS connections are not affected
/// (OpenSSL writes with write()). Link it into its own test binary only.
///
/// Thread-safety: all functions may be called from any thread.

namespace sewage::testing {

/// Fails the next PUBLISH packet written with writev (once), then disarms itself.
void fail_next_publish_write() noexcept;
/// PUBLISH writes failed so far by fail_next_publish_write().
[[nodiscard]] int publish_writes_failed() noexcept;

/// Polls `pred` every 10 ms until it is true (returns true) or `limit` has passed (false).
template <class Pred, class Duration>
bool wait_until(Pred pred, Duration limit);

}  // namespace sewage::testing

#include <chrono>
#include <thread>

template <class Pred, class Duration>
bool sewage::testing::wait_until(Pred pred, Duration limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}
