#pragma once
/// \file
/// The agent's injectable clock. It reads two sources: the UTC wall clock (for time stamps; it may
/// jump when NTP or an operator steps it, e.g. an SBC without RTC starting at 1970) and a
/// monotonic clock (for every duration: sampling windows, hold times; it never jumps). In
/// production they are std::chrono::system_clock and steady_clock; tests inject fakes through
/// `time_sources`.
///
/// For simulation only (`--time-scale N`, `--start-time T`) the wall clock starts at T and runs N
/// times faster than real time, derived from the monotonic clock; timers (polling, reporting,
/// images) are scaled by the same factor. Never use these options on a real terminal: records would
/// carry fictitious timestamps.
#include "sewage/proto/timestamp.hpp"

#include <chrono>
#include <functional>
#include <optional>

namespace sewage::agent {

/// Where the clock reads time. Both functions must be thread-safe and must not throw.
struct time_sources {
  /// UTC wall time; may jump in either direction. Default: std::chrono::system_clock::now.
  std::function<std::chrono::system_clock::time_point()> wall;
  /// Monotonic time; never goes back, never jumps. Default: std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> monotonic;
  /// The real clocks of the machine.
  static time_sources system();
};

class agent_clock {
 public:
  /// `start`: the simulated time at construction (nullopt = now); `scale` > 0. `origin`, when
  /// given, is the real UTC wall time at which the simulated clock read `start` (it may lie in the
  /// past), so that several processes share one simulated clock. `sources`: the wall and
  /// monotonic clocks (tests inject fakes).
  /// Throws std::invalid_argument for a non-positive or non-finite scale or an empty source.
  explicit agent_clock(std::optional<proto::timestamp> start = std::nullopt, double scale = 1.0,
                       std::optional<proto::timestamp> origin = std::nullopt,
                       time_sources sources = time_sources::system());
  /// Current (possibly simulated) UTC wall time, millisecond resolution: for time stamps only,
  /// never for durations (it may jump). Thread-safe, never throws.
  [[nodiscard]] proto::timestamp now() const noexcept;
  /// Time elapsed since construction on the monotonic clock, in (simulated) milliseconds: the
  /// measure for every duration. Never decreases; unaffected by wall clock steps. Thread-safe,
  /// never throws.
  [[nodiscard]] std::chrono::milliseconds elapsed() const noexcept;
  /// Real duration for a simulated one (divided by the scale). Thread-safe, never throws.
  [[nodiscard]] std::chrono::nanoseconds real(std::chrono::duration<double> simulated) const noexcept;
  [[nodiscard]] double scale() const noexcept { return scale_; }
  [[nodiscard]] bool simulated() const noexcept { return simulated_; }

 private:
  time_sources sources_;
  bool simulated_;
  double scale_;
  proto::timestamp start_;
  std::chrono::steady_clock::time_point t0_;
};

/// One sampling window: starts when constructed (or at the previous `close`), ends at `close`.
/// Its length is measured on the monotonic clock, so a wall clock step inside the window (1970 →
/// today, or an NTP step back) never changes `interval_s`; the end time stamp is the wall clock.
/// Not thread-safe (the agent uses it from its executor only).
class sampling_window {
 public:
  explicit sampling_window(const agent_clock& clock) noexcept;
  struct closed {
    proto::timestamp end;  ///< wall clock at close: the record's `ts`
    double interval_s;     ///< monotonic length of the window, seconds (>= 0)
    std::chrono::milliseconds elapsed_end{0};  ///< the end on the monotonic clock (agent_clock::elapsed())
  };
  /// Ends the current window now and starts the next one. Never throws.
  closed close() noexcept;

 private:
  const agent_clock& clock_;
  std::chrono::milliseconds start_;
};

}  // namespace sewage::agent
