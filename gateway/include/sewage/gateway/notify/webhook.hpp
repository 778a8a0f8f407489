#pragma once
/// \file
/// Optional webhook notifier: each alert transition is POSTed as JSON (the proto alert message) to
/// an http:// URL from its own thread, retried with exponential backoff (initial_backoff doubling
/// up to 5 min, at most max_attempts tries). on_transition() only enqueues, so ingest never waits;
/// when the queue is full the oldest waiting transition is dropped and counted.

#include "sewage/gateway/engine.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace sewage::gateway {

class webhook_notifier final : public alert_listener {
 public:
  /// `url` is "http://HOST[:PORT][/PATH]". Throws std::invalid_argument naming the URL if malformed.
  webhook_notifier(const std::string& url, std::uint32_t max_attempts, std::chrono::milliseconds initial_backoff,
                   std::size_t queue_max);
  /// Stops the worker (abandoning what is queued) and joins it.
  ~webhook_notifier() override;
  webhook_notifier(const webhook_notifier&) = delete;
  webhook_notifier& operator=(const webhook_notifier&) = delete;

  /// Enqueues; never blocks on the network. Thread-safe.
  void on_transition(const proto::alert_message& alert) noexcept override;

  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_.load(); }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_.load(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(); }

 private:
  void run();
  bool post_once(const std::string& body, std::string& error);

  std::string host_;
  std::string port_;
  std::string path_;
  std::uint32_t max_attempts_;
  std::chrono::milliseconds initial_backoff_;
  std::size_t queue_max_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_{false};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread worker_;  // last: started after everything above exists
};

}  // namespace sewage::gateway
