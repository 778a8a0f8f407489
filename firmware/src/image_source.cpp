#include "sewage/agent/image_source.hpp"

#include "sewage/proto/image.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

extern char** environ;

namespace sewage::agent {

namespace {

std::optional<std::string> run_command(const image_config& c, std::string& why) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const std::string cmd = c.command;
  char sh[] = "/bin/sh";
  char dash_c[] = "-c";
  std::string cmd_copy = cmd;
  char* argv[] = {sh, dash_c, cmd_copy.data(), nullptr};
  // Own process group, so a timeout kills the shell and everything it started (curl, a camera tool).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    why = std::string("cannot start /bin/sh: ") + std::strerror(rc);
    return std::nullopt;
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(c.timeout_s);
  bool timed_out = false;
  bool too_big = false;
  char buf[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > c.max_bytes) {
      too_big = true;
      break;
    }
  }
  ::close(fds[0]);
  if (timed_out || too_big) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    why = "command timed out after " + std::to_string(c.timeout_s) + " s";
    return std::nullopt;
  }
  if (too_big) {
    why = "image larger than " + std::to_string(c.max_bytes) + " bytes";
    return std::nullopt;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    why = "command failed (status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::string> capture_image(const image_config& c, std::string& why) {
  std::optional<std::string> bytes;
  if (!c.command.empty()) {
    bytes = run_command(c, why);
  } else {
    std::ifstream in(c.file, std::ios::binary);
    if (!in) {
      why = "cannot read " + c.file.string();
      return std::nullopt;
    }
    std::string data;
    data.resize(c.max_bytes + 1);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<std::size_t>(in.gcount()));
    if (data.size() > c.max_bytes) {
      why = "image larger than " + std::to_string(c.max_bytes) + " bytes";
      return std::nullopt;
    }
    bytes = std::move(data);
  }
  if (!bytes) return std::nullopt;
  std::string reason;
  if (!proto::is_acceptable_jpeg(*bytes, &reason)) {
    why = "not an acceptable JPEG: " + reason;
    return std::nullopt;
  }
  return bytes;
}

image_source::image_source(image_config config, const agent_clock& clock, sink on_image)
    : config_(std::move(config)), clock_(clock), sink_(std::move(on_image)), worker_([this] { run(); }) {}

image_source::~image_source() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void image_source::trigger() noexcept {
  {
    std::lock_guard lock(mutex_);
    triggered_ = true;
  }
  cv_.notify_all();
}

void image_source::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, clock_.real(std::chrono::seconds(config_.period_s)), [this] { return stop_ || triggered_; });
    if (stop_) break;
    triggered_ = false;
    lock.unlock();
    try {
      std::string why;
      auto img = capture_image(config_, why);
      if (img) {
        spdlog::info("image: captured {} bytes", img->size());
        sink_(std::move(*img));
      } else {
        spdlog::warn("image: capture failed: {}", why);
      }
    } catch (const std::exception& e) {
      spdlog::warn("image: capture failed: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace sewage::agent
