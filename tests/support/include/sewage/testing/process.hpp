#pragma once
/// \file
/// A child process for integration tests: started with posix_spawnp, output to a log file, stopped
/// by PID. The destructor stops it (SIGTERM, then SIGKILL after a grace period) and reaps it.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sewage::testing {

/// Picks a free TCP port on 127.0.0.1 by binding port 0. Never returns the same port twice in one
/// process, nor one that accepts connections now. Throws std::runtime_error on failure.
/// Thread-safe. The port is free when returned; another process could take it before use (tests retry).
int free_loopback_port();

/// True when something accepts TCP connections on 127.0.0.1:`port`. Never throws.
bool port_accepts(int port);

/// Waits until `port` accepts connections or `timeout` passes. Returns true when it does.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

class child_process {
 public:
  /// Starts `argv[0]` (searched in PATH) with `argv`, stdout and stderr appended to `log_path`,
  /// extra environment variables `env` added to the current environment. The child inherits no
  /// other descriptor of this process (stdin is /dev/null).
  /// Throws std::runtime_error if it cannot be spawned.
  child_process(std::vector<std::string> argv, std::filesystem::path log_path,
                std::map<std::string, std::string> env = {});
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }

  /// True while the process has not exited (reaps it if it has). Never throws.
  bool running();
  /// Sends `signal`. Never throws.
  void signal(int sig) noexcept;
  /// Waits up to `timeout` for exit. Returns the wait status (as from waitpid) or nullopt.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status. Never throws.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) noexcept;
  /// SIGKILL and reap. Never throws.
  void kill_now() noexcept;
  /// The log file's content so far.
  [[nodiscard]] std::string log() const;

 private:
  pid_t pid_{-1};
  std::optional<int> status_;
  std::filesystem::path log_path_;
};

/// Stops many children at once: SIGTERM to every one still running, then one shared `grace` for
/// all of them, then SIGKILL (and reap) for those still running. So 139 agents stop within `grace`
/// instead of up to 139 x `grace` one after the other. Null pointers are skipped. Returns how many
/// had to be killed. Never throws. Not thread-safe with other calls on the same children.
std::size_t stop_together(const std::vector<child_process*>& children,
                          std::chrono::milliseconds grace = std::chrono::seconds(10)) noexcept;

/// A fresh directory under the system temp dir, removed by the destructor unless the environment
/// variable SEWAGE_KEEP_TEST_DIRS is set.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix);
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sewage::testing
