#pragma once
/// \file
/// Optional terminal picture: a command whose stdout is one JPEG (a camera tool, or an HTTP
/// snapshot fetch such as `curl -fsS http://camera/snapshot.jpg`), or a file. Runs on its own
/// thread, so a failing or slow camera never delays telemetry.
#include "sewage/agent/clock.hpp"
#include "sewage/agent/config.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace sewage::agent {

/// Takes one picture: runs `config.command` with /bin/sh -c (killed after timeout_s; stdout read
/// up to max_bytes + 1), or reads `config.file`. Returns the bytes if they are an acceptable JPEG
/// (proto::is_acceptable_jpeg) no larger than max_bytes; otherwise std::nullopt and `why`.
/// Blocking; never throws except bad_alloc. Thread-safe.
std::optional<std::string> capture_image(const image_config& config, std::string& why);

class image_source {
 public:
  /// Called on the worker thread with a valid JPEG; it must only hand the bytes on (post).
  using sink = std::function<void(std::string jpeg)>;
  /// Starts the worker: a picture at start, then every period_s (agent clock). `config` must be
  /// enabled().
  image_source(image_config config, const agent_clock& clock, sink on_image);
  /// Stops and joins the worker (waits for a running command up to its timeout).
  ~image_source();
  image_source(const image_source&) = delete;
  image_source& operator=(const image_source&) = delete;
  /// Takes a picture as soon as possible (snapshot_now). Thread-safe, never throws.
  void trigger() noexcept;

 private:
  void run();
  image_config config_;
  const agent_clock& clock_;
  sink sink_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_{false};
  bool triggered_{true};
  std::thread worker_;
};

}  // namespace sewage::agent
