// sd_notify(3) wrappers and the watchdog keep-alive timer (systemd_notify.hpp).
//
// The notification protocol is sent here directly instead of through libsystemd: one AF_UNIX
// datagram of newline-separated "VAR=value" lines to the socket named by $NOTIFY_SOCKET (a path,
// or an abstract name written with a leading '@'). systemd documents this protocol as stable and
// open to other implementations (sd_notify(3); the page of systemd 254 and later carries a
// reference implementation of this very function; the watchdog variables WATCHDOG_USEC and
// WATCHDOG_PID are read as sd_watchdog_enabled(3) describes). libsystemd.so.0
// and the libraries it loads (libgcrypt, libgpg-error, libzstd, liblzma, liblz4, libcap) cost the
// agent 1.06 MiB of VmRSS and 0.5 MiB of PSS for these few lines (issue 15 item 6; measured with
// agent_resources_bench --breakdown, service/CMakeLists.txt).
#include "sewage/service/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sewage::service {

namespace {

/// One datagram to $NOTIFY_SOCKET, as sd_notify(0, state) sends it (the variables stay set for
/// later calls). True when the whole datagram was sent; false without NOTIFY_SOCKET, for an
/// unsupported address (only AF_UNIX paths and '@' abstract names, as systemd 252 supports) or
/// when sending fails. Never throws; thread-safe (own socket per call).
bool send(const std::string& state) noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || state.empty()) return false;
  const std::size_t length = std::strlen(path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || length < 2 || length >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path, length);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

/// The whole of `text` as a decimal unsigned number, or false (empty, signs, spaces, overflow).
bool parse_unsigned(const char* text, std::uint64_t& out) noexcept {
  const char* end = text + std::strlen(text);
  if (text == end) return false;
  const auto [ptr, ec] = std::from_chars(text, end, out);
  return ec == std::errc{} && ptr == end;
}

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

bool notify_reloading() noexcept {
  try {
    return send("RELOADING=1");
  } catch (...) {
    return false;
  }
}

bool notify_stopping() noexcept {
  try {
    return send("STOPPING=1");
  } catch (...) {
    return false;
  }
}

std::optional<std::chrono::microseconds> watchdog_interval() noexcept {
  // sd_watchdog_enabled(3): WATCHDOG_USEC, a positive number of microseconds; when WATCHDOG_PID is
  // set the watchdog is meant for that process only (a malformed one also means "off").
  const char* usec_text = std::getenv("WATCHDOG_USEC");
  std::uint64_t usec = 0;
  if (usec_text == nullptr || !parse_unsigned(usec_text, usec) || usec == 0 || usec == UINT64_MAX) return std::nullopt;
  if (const char* pid_text = std::getenv("WATCHDOG_PID")) {
    std::uint64_t pid = 0;
    if (!parse_unsigned(pid_text, pid) || pid == 0 || pid != static_cast<std::uint64_t>(::getpid())) return std::nullopt;
  }
  if (usec > static_cast<std::uint64_t>(std::chrono::microseconds::max().count())) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
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
