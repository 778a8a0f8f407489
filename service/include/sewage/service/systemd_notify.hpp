#pragma once
/// \file
/// Tells systemd how a service is doing (sd_notify(3)): ready, reloading, stopping, and alive (the
/// watchdog keep-alive). Every function is a no-op that returns false when the process was not
/// started by systemd with Type=notify (NOTIFY_SOCKET unset), so the daemons call them
/// unconditionally, also under tests and the simulator.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string_view>

namespace sewage::service {

/// Sends READY=1 (start-up finished: config read, store/queue open, listeners bound) with an
/// optional one-line STATUS= text shown by `systemctl status`. Returns true when a notification
/// was sent, false when NOTIFY_SOCKET is unset or sending failed (never throws: a service must not
/// die because its manager went away). Thread-safe (one datagram per call).
bool notify_ready(std::string_view status = {}) noexcept;

/// Sends RELOADING=1 before a reload (SIGHUP) starts; send notify_ready() when it is done.
/// Returns and fails like notify_ready(). Thread-safe.
bool notify_reloading() noexcept;

/// Sends STOPPING=1 when shutdown begins. Returns and fails like notify_ready(). Thread-safe.
bool notify_stopping() noexcept;

/// The watchdog interval systemd expects keep-alives within (WatchdogSec= of the unit, read by
/// sd_watchdog_enabled(3) from WATCHDOG_USEC and WATCHDOG_PID), or nullopt when the watchdog is off
/// for this process or the variables are malformed. Never throws. Thread-safe.
std::optional<std::chrono::microseconds> watchdog_interval() noexcept;

/// Sends WATCHDOG=1 every half of watchdog_interval() from a timer on the service's own event loop
/// (the io_context that runs its work): when that loop hangs the keep-alives stop and systemd kills
/// and restarts the service (Restart=on-failure). The first keep-alive is sent at once. Does nothing
/// at all when the watchdog is off. Not thread-safe: create, use and destroy it on the thread that
/// runs `io` (or before `io` runs); destroy it before `io`.
class watchdog_keepalive {
 public:
  /// Arms the timer on `io` when watchdog_interval() has a value. Never throws except
  /// std::bad_alloc.
  explicit watchdog_keepalive(boost::asio::io_context& io);
  watchdog_keepalive(const watchdog_keepalive&) = delete;
  watchdog_keepalive& operator=(const watchdog_keepalive&) = delete;
  ~watchdog_keepalive();

  /// Stops the keep-alives (at shutdown, so a hang while stopping is caught by TimeoutStopSec=,
  /// not by the watchdog). Idempotent.
  void cancel() noexcept;

  /// Half the watchdog interval (the keep-alive period), or nullopt when the watchdog is off.
  [[nodiscard]] std::optional<std::chrono::microseconds> period() const noexcept { return period_; }

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::optional<std::chrono::microseconds> period_;
  bool cancelled_{false};
};

}  // namespace sewage::service
