#include "sewage/agent/clock.hpp"

#include <cmath>
#include <stdexcept>

namespace sewage::agent {

agent_clock::agent_clock(std::optional<proto::timestamp> start, double scale,
                         std::optional<proto::timestamp> origin)
    : simulated_(start.has_value() || scale != 1.0),
      scale_(scale),
      start_(start.value_or(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()))),
      t0_(std::chrono::steady_clock::now()) {
  if (!std::isfinite(scale) || scale <= 0) throw std::invalid_argument("time scale must be a positive number");
  if (origin) {
    // The simulated clock read `start` at the real wall time `origin` (possibly in the past):
    // processes given the same pair share one simulated clock whatever their start-up delay.
    t0_ -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::system_clock::now() - *origin);
  }
}

proto::timestamp agent_clock::now() const noexcept {
  if (!simulated_) return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0_;
  return start_ + std::chrono::milliseconds(static_cast<std::int64_t>(elapsed.count() * scale_ * 1000.0));
}

std::chrono::nanoseconds agent_clock::real(std::chrono::duration<double> simulated) const noexcept {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(simulated.count() / scale_ * 1e9));
}

}  // namespace sewage::agent
