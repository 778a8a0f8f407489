#pragma once
/// \file
/// Notifications room: the notifier. On the engine's thread it turns each alert transition into
/// one queue row per matching `[[notify.target]]` (events, min_severity, towns), rendered in the
/// target's language; the engine stores those rows in the same transaction as the transition
/// (write_batch::notifications), so a notification exists exactly when its transition does and
/// survives any restart. A delivery thread with its own store connection sends them (libcurl,
/// http_post.hpp), first-in first-out per target, retrying failures with exponential backoff and
/// jitter; the queue is bounded (oldest dropped, counted). gateway/README.md "Notifications".

#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/notify/message.hpp"
#include "sewage/gateway/notify/settings.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace sewage::gateway {

/// Delay before attempt `failures + 1` after `failures` (>= 1) failed attempts: initial x
/// 2^(failures-1), capped at `max`, then "equal jitter": uniformly drawn from [d/2, d] with
/// `jitter01` in [0, 1] (so concurrent retries spread out while the growth stays exponential).
/// Never throws.
std::chrono::milliseconds notify_backoff(std::uint32_t failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double jitter01) noexcept;

class notifier final : public alert_listener {
 public:
  /// `queue` is the delivery thread's own connection to the store (the engine keeps its own);
  /// `zone` is the county's (times in the texts). Targets must be valid (load_config checks
  /// them); throws std::invalid_argument naming the target otherwise (a plain http:// URL without
  /// allow_plaintext, a duplicate name). Starts the delivery thread.
  notifier(notify_settings settings, county_zone zone, std::unique_ptr<notification_store> queue);
  /// Stops the delivery thread (aborting a transfer in progress) and joins it; what is queued
  /// stays in the store for the next start.
  ~notifier() override;
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  /// Engine thread: appends one row per matching target to `queue`. Never blocks, never throws.
  void on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                     std::vector<notification_row>& queue) noexcept override;
  /// Engine thread, after a commit that stored rows: wakes the delivery thread. Never blocks.
  void on_committed() noexcept override;

  /// Escalation (issue 12): queues one message to every target of `level` whose `towns` include
  /// `town` (or that has no towns), rendered per target (render_escalation), durably: the rows are
  /// in the store when this returns, and the delivery thread sends them like alert notifications
  /// (retries, bounds, restarts). With msg.once_key set, a key already used queues nothing (see
  /// notification_store::notification_enqueue): the caller may call again after a crash without
  /// sending twice. `level` operator reaches the operator targets (unusual, allowed).
  /// Returns the rows queued (0: no target of that level takes the town — counted and logged — or
  /// the key was used). Throws store_error when the store fails (nothing queued, the key not used:
  /// call again later). Thread-safe: any thread.
  std::size_t enqueue_escalation(notify_level level, const std::string& site_id, const std::string& town,
                                 const escalation_message& msg);
  /// Queues the notification of an alert's current state to the operator targets (as a transition
  /// would), durably, outside a transition: used when an alert held back (maintenance window)
  /// becomes a normal active alert. `once_key` as for enqueue_escalation. Thread-safe; throws
  /// store_error.
  std::size_t enqueue_alert(const proto::alert_message& alert, const terminal_info* terminal, const std::string& once_key);
  /// Stores `rows` that on_transition appended outside the engine's batch (a transition passed on
  /// later: the incident correlator's held weather raises, incidents/correlator.hpp tick), durably,
  /// under `once_key` as for enqueue_escalation, and wakes the delivery thread. Returns the rows
  /// queued (0: none, or the key was used). Thread-safe; throws store_error (nothing queued, the
  /// key not used: call again).
  std::size_t enqueue_rows(const std::vector<notification_row>& rows, const std::string& once_key);

  /// Counters for /metrics. Thread-safe.
  [[nodiscard]] notify_counts counts() const;

 private:
  struct counters {
    std::atomic<std::uint64_t> sent{0}, failures{0}, tls_failures{0};
  };
  void run();
  /// One pass over the queue heads; returns when the next row is due (or nullopt: nothing waits).
  std::optional<std::chrono::system_clock::time_point> pass();
  void attempt(const notification_row& row, std::size_t target_index);
  [[nodiscard]] const notify_target* find(const std::string& name, std::size_t& index) const noexcept;

  const notify_settings settings_;
  const county_zone zone_;
  std::unique_ptr<notification_store> queue_;
  std::mutex queue_mutex_;  // queue_ is used by the delivery thread and by enqueue_* callers
  std::deque<counters> counters_;  // per target, same order as settings_.targets
  std::atomic<std::uint64_t> dropped_queue_full_{0}, dropped_gave_up_{0}, dropped_permanent_{0},
      dropped_unknown_target_{0}, depth_{0}, escalations_queued_{0}, escalations_unrouted_{0};
  std::mt19937_64 rng_{std::random_device{}()};  // delivery thread only

  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_{true};
  std::atomic<bool> stop_{false};
  std::thread worker_;  // last: started after everything above exists
};

}  // namespace sewage::gateway
