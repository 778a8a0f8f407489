#pragma once
/// \file
/// The agent's injectable clock. In production it is the system clock. For simulation only
/// (`--time-scale N`, `--start-time T`) it starts at T and runs N times faster than real time;
/// timers (polling, reporting, images) are scaled by the same factor. Never use these options on
/// a real terminal: records would carry fictitious timestamps.
#include "sewage/proto/timestamp.hpp"

#include <chrono>
#include <optional>

namespace sewage::agent {

class agent_clock {
 public:
  /// `start`: the simulated time at construction (nullopt = now); `scale` > 0. `origin`, when
  /// given, is the real UTC wall time at which the simulated clock read `start` (it may lie in the
  /// past), so that several processes share one simulated clock.
  /// Throws std::invalid_argument for a non-positive or non-finite scale.
  explicit agent_clock(std::optional<proto::timestamp> start = std::nullopt, double scale = 1.0,
                       std::optional<proto::timestamp> origin = std::nullopt);
  /// Current (possibly simulated) UTC time, millisecond resolution. Thread-safe, never throws.
  [[nodiscard]] proto::timestamp now() const noexcept;
  /// Real duration for a simulated one (divided by the scale). Thread-safe, never throws.
  [[nodiscard]] std::chrono::nanoseconds real(std::chrono::duration<double> simulated) const noexcept;
  [[nodiscard]] double scale() const noexcept { return scale_; }
  [[nodiscard]] bool simulated() const noexcept { return simulated_; }

 private:
  bool simulated_;
  double scale_;
  proto::timestamp start_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace sewage::agent
