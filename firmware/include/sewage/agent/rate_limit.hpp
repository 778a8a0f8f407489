#pragma once
/// \file
/// A log rate limit for events that can repeat every record (a full disk, a refused write): the
/// first event is reported at once, later ones are counted and reported as one summary at most
/// once per period. Header-only; not thread-safe (each user keeps its own on one thread).
#include <chrono>
#include <cstdint>

namespace sewage::agent {

class rate_limit {
 public:
  using clock = std::chrono::steady_clock;
  /// `period`: at most one report per period after the first.
  explicit rate_limit(std::chrono::seconds period = std::chrono::seconds(60)) noexcept : period_(period) {}

  /// Counts one event at `now`. Returns the number of events to report now (this one and those
  /// counted silently since the last report), or 0 when the caller should stay silent.
  std::uint64_t note(clock::time_point now = clock::now()) noexcept {
    ++pending_;
    if (reported_ && now - last_ < period_) return 0;
    reported_ = true;
    last_ = now;
    const std::uint64_t n = pending_;
    pending_ = 0;
    return n;
  }
  /// Events counted but not reported yet (e.g. for a final summary when the condition ends).
  [[nodiscard]] std::uint64_t pending() const noexcept { return pending_; }
  /// Forgets everything: the next event is reported at once (call when the condition ends).
  void reset() noexcept {
    pending_ = 0;
    reported_ = false;
  }

 private:
  std::chrono::seconds period_;
  clock::time_point last_{};
  std::uint64_t pending_{0};
  bool reported_{false};
};

}  // namespace sewage::agent
