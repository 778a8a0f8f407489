// sd_notify(3) wrappers and the watchdog keep-alive timer (systemd_notify.hpp).
#include "sewage/service/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

namespace sewage::service {

namespace {

/// sd_notify() with unset_environment = 0: the variables stay for later calls (keep-alives).
bool send(const std::string& state) noexcept { return sd_notify(0, state.c_str()) > 0; }

}  // namespace

bool notify_ready(std::string_view status) noexcept {
  try {
    std::string state = "READY=1";
    if (!status.empty()) state.append("\nSTATUS=").append(status);
    return send(state);
  } catch (...) {  // std::bad_alloc: not worth dying for
    return false;
  }
}

bool notify_reloading() noexcept { return send("RELOADING=1"); }

bool notify_stopping() noexcept { return send("STOPPING=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() noexcept {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

watchdog_keepalive::watchdog_keepalive(boost::asio::io_context& io) : timer_(io) {
  if (const auto interval = watchdog_interval()) {
    period_ = *interval / 2;  // sd_watchdog_enabled(3): "send ... at half the interval"
    (void)send("WATCHDOG=1");
    arm();
  }
}

watchdog_keepalive::~watchdog_keepalive() { cancel(); }

void watchdog_keepalive::cancel() noexcept {
  cancelled_ = true;
  boost::system::error_code ignored;
  timer_.cancel(ignored);  // the non-throwing overload: nothing to do if it fails
}

void watchdog_keepalive::arm() {
  timer_.expires_after(*period_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || cancelled_) return;
    (void)send("WATCHDOG=1");
    arm();
  });
}

}  // namespace sewage::service
