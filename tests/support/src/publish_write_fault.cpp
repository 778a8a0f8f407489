#include "sewage/testing/publish_write_fault.hpp"

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>

namespace {

std::atomic<bool> armed{false};
std::atomic<int> failed{0};

/// The first byte of an MQTT control packet: type in the high nibble, 3 = PUBLISH
/// (MQTT 3.1.1 section 2.2.1).
bool is_publish_packet(const struct iovec* iov, int count) {
  for (int i = 0; i < count; ++i)
    if (iov[i].iov_len > 0) return (static_cast<const unsigned char*>(iov[i].iov_base)[0] >> 4) == 3;
  return false;
}

}  // namespace

void sewage::testing::fail_next_publish_write() noexcept { armed = true; }
int sewage::testing::publish_writes_failed() noexcept { return failed.load(); }

extern "C" ssize_t writev(int fd, const struct iovec* iov, int count) {
  using writev_fn = ssize_t (*)(int, const struct iovec*, int);
  static const auto real = reinterpret_cast<writev_fn>(::dlsym(RTLD_NEXT, "writev"));
  if (armed.load() && is_publish_packet(iov, count)) {
    bool expected = true;
    if (armed.compare_exchange_strong(expected, false)) {
      ::shutdown(fd, SHUT_RDWR);  // the connection is gone for both of Paho's threads
      failed.fetch_add(1);
      errno = ECONNRESET;
      return -1;
    }
  }
  return real(fd, iov, count);
}
