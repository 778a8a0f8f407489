// sd_notify from sewage::service and from the real daemons (issue 15): a unix datagram socket in
// the test's temp dir plays systemd's NOTIFY_SOCKET; WATCHDOG_USEC asks for keep-alives.
#include "sewage/service/systemd_notify.hpp"
#include "sewage/testing/mosquitto.hpp"
#include "sewage/testing/process.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <optional>
#include <cerrno>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace testing = sewage::testing;

/// The manager's end: a bound AF_UNIX datagram socket; every datagram is kept with its arrival time.
class notify_socket {
 public:
  explicit notify_socket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX, SOCK_DGRAM) failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.string().size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + path_.string());
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
      throw std::runtime_error("bind " + path_.string() + ": " + std::strerror(errno));
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;
  ~notify_socket() { ::close(fd_); }

  [[nodiscard]] std::string path() const { return path_.string(); }

  struct message {
    std::string text;
    clock_type::time_point at;
  };

  /// Receives until a datagram has a line equal to `line` (or starting with it, for "STATUS=") or
  /// `timeout` passes. Returns true when one arrived.
  bool wait_for_line(const std::string& line, std::chrono::milliseconds timeout, bool prefix = false) {
    const auto deadline = clock_type::now() + timeout;
    for (std::size_t seen = 0;;) {
      for (; seen < messages_.size(); ++seen)
        if (has_line(messages_[seen].text, line, prefix)) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms || !receive(left)) return false;
    }
  }

  /// Keeps receiving for `d`.
  void collect_for(std::chrono::milliseconds d) {
    const auto deadline = clock_type::now() + d;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms) return;
      (void)receive(left);
    }
  }

  /// Arrival times of the datagrams holding `line`.
  [[nodiscard]] std::vector<clock_type::time_point> times_of(const std::string& line) const {
    std::vector<clock_type::time_point> t;
    for (const auto& m : messages_)
      if (has_line(m.text, line, false)) t.push_back(m.at);
    return t;
  }

  /// Everything received, one datagram per line (for failure messages).
  [[nodiscard]] std::string dump() const {
    std::string s;
    for (const auto& m : messages_) {
      std::string one = m.text;
      for (auto& c : one)
        if (c == '\n') c = '|';
      s += one + "\n";
    }
    return s;
  }

 private:
  static bool has_line(const std::string& text, const std::string& line, bool prefix) {
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto end = text.find('\n', start);
      const std::string l = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (prefix ? l.rfind(line, 0) == 0 : l == line) return true;
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return false;
  }

  bool receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    std::vector<char> buf(4096);
    const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0) return false;
    messages_.push_back({std::string(buf.data(), static_cast<std::size_t>(n)), clock_type::now()});
    return true;
  }

  std::filesystem::path path_;
  int fd_{-1};
  std::vector<message> messages_;
};

/// Sets an environment variable for one scope (the in-process tests), restoring the old value.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// Watchdog of 1 s for the daemons: keep-alives every 0.5 s.
constexpr auto watchdog_usec = "1000000";

/// The keep-alive gaps: each at least half the watchdog interval (a timer never fires early), and
/// at least 3 keep-alives within the collection time.
void expect_keepalives(const notify_socket& s, std::chrono::milliseconds half) {
  const auto t = s.times_of("WATCHDOG=1");
  ASSERT_GE(t.size(), 3U) << s.dump();
  for (std::size_t i = 2; i < t.size(); ++i)  // the first is sent at once, the second one period later
    EXPECT_GE(t[i] - t[i - 1], half - 50ms) << "keep-alive " << i << " came early\n" << s.dump();
}

TEST(SystemdNotify, NoSocketIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_FALSE(sewage::service::notify_ready("x"));
  EXPECT_FALSE(sewage::service::notify_stopping());
  EXPECT_FALSE(sewage::service::watchdog_interval().has_value());
  boost::asio::io_context io;
  sewage::service::watchdog_keepalive k(io);
  EXPECT_FALSE(k.period().has_value());
  EXPECT_EQ(io.poll(), 0U);  // nothing armed
}

TEST(SystemdNotify, ReadyStatusAndKeepalivesFromTheLoop) {
  testing::temp_dir dir("notify-lib");
  notify_socket s(dir.path() / "notify.sock");
  scoped_env socket_env("NOTIFY_SOCKET", s.path());
  scoped_env watchdog_env("WATCHDOG_USEC", "200000");  // 0.2 s: keep-alives every 0.1 s
  scoped_env pid_env("WATCHDOG_PID", std::to_string(::getpid()));
  EXPECT_TRUE(sewage::service::notify_ready("polling 2 device(s)"));
  ASSERT_TRUE(s.wait_for_line("READY=1", 2s)) << s.dump();
  EXPECT_TRUE(s.wait_for_line("STATUS=polling 2 device(s)", 0ms)) << s.dump();
  ASSERT_EQ(sewage::service::watchdog_interval(), std::chrono::microseconds(200000));
  boost::asio::io_context io;
  sewage::service::watchdog_keepalive k(io);
  EXPECT_EQ(k.period(), std::chrono::microseconds(100000));
  // The loop runs on its own thread while this one receives (arrival times = send times).
  std::thread loop([&io] { io.run_for(450ms); });  // keep-alives at 0, 0.1, 0.2, 0.3, 0.4 s
  s.collect_for(550ms);
  loop.join();
  expect_keepalives(s, 100ms);
  EXPECT_LE(s.times_of("WATCHDOG=1").size(), 6U) << s.dump();
  k.cancel();
  EXPECT_TRUE(sewage::service::notify_stopping());
  EXPECT_TRUE(s.wait_for_line("STOPPING=1", 2s)) << s.dump();
}

TEST(SystemdNotify, WatchdogForAnotherProcessIsOff) {
  scoped_env watchdog_env("WATCHDOG_USEC", "200000");
  scoped_env pid_env("WATCHDOG_PID", std::to_string(::getpid() + 1));  // meant for someone else
  EXPECT_FALSE(sewage::service::watchdog_interval().has_value());
  scoped_env bad_env("WATCHDOG_PID", "not-a-pid");
  EXPECT_FALSE(sewage::service::watchdog_interval().has_value());
}

// The notification protocol is sent without libsystemd (systemd_notify.cpp): an abstract socket
// name ("@name", as systemd also hands out) and malformed watchdog variables as sd_notify(3) and
// sd_watchdog_enabled(3) treat them.
TEST(SystemdNotify, AbstractSocketName) {
  const std::string name = "sewage-notify-test-" + std::to_string(::getpid());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = '\0': abstract
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len), 0) << std::strerror(errno);
  {
    scoped_env socket_env("NOTIFY_SOCKET", "@" + name);
    EXPECT_TRUE(sewage::service::notify_stopping());
  }
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  char buf[64] = {};
  const auto n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0U), "STOPPING=1");
}

TEST(SystemdNotify, UnusableSocketOrWatchdogVariablesAreOff) {
  {
    scoped_env socket_env("NOTIFY_SOCKET", "relative/path.sock");  // neither '/' nor '@'
    EXPECT_FALSE(sewage::service::notify_ready());
  }
  {
    scoped_env socket_env("NOTIFY_SOCKET", "/nonexistent/notify.sock");
    EXPECT_FALSE(sewage::service::notify_ready());
  }
  ::unsetenv("WATCHDOG_PID");
  for (const char* bad : {"", "0", "-5", "abc", "12x", " 12", "99999999999999999999999"}) {
    scoped_env watchdog_env("WATCHDOG_USEC", bad);
    EXPECT_FALSE(sewage::service::watchdog_interval().has_value()) << "WATCHDOG_USEC=\"" << bad << "\"";
  }
  scoped_env watchdog_env("WATCHDOG_USEC", "30000000");
  EXPECT_EQ(sewage::service::watchdog_interval(), std::chrono::microseconds(30000000));
}

TEST(ServiceProcess, AgentSendsReadyAndKeepalives) {
  testing::temp_dir dir("notify-agent");
  testing::mosquitto_broker broker(dir.path());
  notify_socket s(dir.path() / "notify.sock");
  const auto config = dir.path() / "agent.toml";
  std::ofstream(config) << "terminal_id = \"NOTIFY-1\"\npoll_interval_s = 1\nreport_interval_s = 60\n"
                        << "[mqtt]\nuri = \"" << broker.uri() << "\"\nallow_plaintext = true\n[queue]\npath = \""
                        << (dir.path() / "q.db").string() << "\"\n"
                        << "[[device]]\nname = \"sim\"\ndriver = \"simulated\"\n"
                        << "[[device.point]]\nquantity = \"flow_rate\"\nprofile = \"series\"\nvalues = [1.5]\n";
  testing::child_process agent({SEWAGE_AGENT_BIN, "--config", config.string()}, dir.path() / "agent.log",
                               {{"NOTIFY_SOCKET", s.path()}, {"WATCHDOG_USEC", watchdog_usec}});
  ASSERT_TRUE(s.wait_for_line("READY=1", 30s)) << s.dump() << agent.log();
  EXPECT_TRUE(s.wait_for_line("STATUS=terminal NOTIFY-1: polling 1 device(s)", 0ms)) << s.dump();
  s.collect_for(2s);
  expect_keepalives(s, 500ms);
  agent.signal(SIGTERM);
  EXPECT_TRUE(s.wait_for_line("STOPPING=1", 10s)) << s.dump();
  const auto status = agent.wait_for_exit(20s);
  ASSERT_TRUE(status.has_value()) << agent.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << agent.log();
}

TEST(ServiceProcess, GatewaySendsReadyKeepalivesAndReloading) {
  testing::temp_dir dir("notify-gw");
  std::filesystem::create_directories(dir.path() / "broker");
  testing::mosquitto_broker broker(dir.path() / "broker");
  notify_socket s(dir.path() / "notify.sock");
  const int http_port = testing::free_loopback_port();
  std::ofstream(dir.path() / "registry.toml")
      << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
         "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n";
  std::ofstream(dir.path() / "gateway.toml")
      << "[mqtt]\nuri = \"" << broker.uri() << "\"\nallow_plaintext = true\nclient_id = \"gw-notify\"\n"
      << "[store]\npath = \"gateway.db\"\n[http]\nlisten = \"127.0.0.1:" << http_port << "\"\n"
      << "[registry]\npath = \"registry.toml\"\n";
  testing::child_process gw({SEWAGE_GATEWAY_BINARY, "--config", (dir.path() / "gateway.toml").string()},
                            dir.path() / "gateway.log", {{"NOTIFY_SOCKET", s.path()}, {"WATCHDOG_USEC", watchdog_usec}});
  ASSERT_TRUE(s.wait_for_line("READY=1", 60s)) << s.dump() << gw.log();
  // Ready means ready: the HTTP listener accepts at once.
  EXPECT_TRUE(testing::port_accepts(http_port)) << gw.log();
  EXPECT_TRUE(s.wait_for_line("STATUS=HTTP on 127.0.0.1:" + std::to_string(http_port), 0ms, true)) << s.dump();
  s.collect_for(2s);
  expect_keepalives(s, 500ms);
  // systemctl reload = SIGHUP: RELOADING=1, the registry re-read, READY=1 again.
  const auto readies = s.times_of("READY=1").size();
  gw.signal(SIGHUP);
  ASSERT_TRUE(s.wait_for_line("RELOADING=1", 10s)) << s.dump() << gw.log();
  const auto deadline = clock_type::now() + 10s;
  while (s.times_of("READY=1").size() == readies && clock_type::now() < deadline) s.collect_for(100ms);
  EXPECT_EQ(s.times_of("READY=1").size(), readies + 1) << s.dump();
  gw.signal(SIGTERM);
  EXPECT_TRUE(s.wait_for_line("STOPPING=1", 10s)) << s.dump();
  const auto status = gw.wait_for_exit(30s);
  ASSERT_TRUE(status.has_value()) << gw.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << gw.log();
}

}  // namespace
