#include "sewage/agent/clock.hpp"

#include <cmath>
#include <stdexcept>

namespace sewage::agent {

time_sources time_sources::system() {
  return time_sources{[] { return std::chrono::system_clock::now(); }, [] { return std::chrono::steady_clock::now(); }};
}

agent_clock::agent_clock(std::optional<proto::timestamp> start, double scale, std::optional<proto::timestamp> origin,
                         time_sources sources)
    : sources_(std::move(sources)), simulated_(start.has_value() || scale != 1.0), scale_(scale) {
  if (!sources_.wall || !sources_.monotonic) throw std::invalid_argument("agent_clock: empty time source");
  if (!std::isfinite(scale) || scale <= 0) throw std::invalid_argument("time scale must be a positive number");
  start_ = start.value_or(std::chrono::time_point_cast<std::chrono::milliseconds>(sources_.wall()));
  t0_ = sources_.monotonic();
  if (origin) {
    // The simulated clock read `start` at the real wall time `origin` (possibly in the past):
    // processes given the same pair share one simulated clock whatever their start-up delay.
    t0_ -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(sources_.wall() - *origin);
  }
}

proto::timestamp agent_clock::now() const noexcept {
  if (!simulated_) return std::chrono::time_point_cast<std::chrono::milliseconds>(sources_.wall());
  return start_ + elapsed();
}

std::chrono::milliseconds agent_clock::elapsed() const noexcept {
  const std::chrono::duration<double> e = sources_.monotonic() - t0_;
  return std::chrono::milliseconds(static_cast<std::int64_t>(e.count() * scale_ * 1000.0));
}

std::chrono::nanoseconds agent_clock::real(std::chrono::duration<double> simulated) const noexcept {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(simulated.count() / scale_ * 1e9));
}

sampling_window::sampling_window(const agent_clock& clock) noexcept : clock_(clock), start_(clock.elapsed()) {}

sampling_window::closed sampling_window::close() noexcept {
  const auto end_mono = clock_.elapsed();
  const closed out{clock_.now(), std::chrono::duration<double>(end_mono - start_).count(), end_mono};
  start_ = end_mono;
  return out;
}

}  // namespace sewage::agent
