#pragma once
// Small helpers for the agent benchmarks (release builds have no test support library):
// child processes by PID, a private mosquitto on a free loopback port, /proc readings.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sewage::bench {

inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

/// A child process, stdout/stderr to `log`, stdin from `in` (or /dev/null). Stopped by PID.
class process {
 public:
  process(std::vector<std::string> argv, const std::filesystem::path& log, const std::filesystem::path& in = "/dev/null") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~process() { stop(); }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Waits for exit; returns the wait status.
  int wait() {
    int st = 0;
    if (pid_ > 0) ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  pid_t pid_{-1};
};

/// mosquitto on a free loopback port with limits raised for a burst (DEPENDENCIES.md §3.5).
class broker {
 public:
  explicit broker(const std::filesystem::path& dir) : port_(free_port()) {
    const auto conf = dir / "mosquitto.conf";
    std::ofstream(conf) << "per_listener_settings false\nuser root\nlistener " << port_
                        << " 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 200000\n"
                        << "log_dest file " << (dir / "broker.log").string() << "\n";
    proc_ = std::make_unique<process>(std::vector<std::string>{"mosquitto", "-c", conf.string()}, dir / "broker.out");
    for (int i = 0; i < 200 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!port_open(port_)) throw std::runtime_error("mosquitto did not start");
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  std::unique_ptr<process> proc_;
};

/// Resident set size of `pid`, KiB (VmRSS in /proc/pid/status).
inline long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

/// User + system CPU time of `pid`, seconds (/proc/pid/stat fields 14 and 15).
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace sewage::bench
