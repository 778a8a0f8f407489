#pragma once
/// \file
/// The simulator's clock (SIMULATION ONLY). It reads the simulated UTC time that the agents'
/// (agent/clock.hpp) and the gateway's (gateway/clock.hpp) `--time-scale` clocks read: `sim_origin`
/// at the real UTC instant `real_origin`, running `speed` times faster. Like theirs it runs on the
/// monotonic clock, anchored once at construction, so that a step of the machine's wall clock (NTP,
/// a virtual machine's clock resync) does not move the simulator away from its agents and gateway:
/// a simulator on the wall clock stood still while its clock was stepped back and every agent read
/// its instruments as stuck.
#include <chrono>
#include <functional>
#include <stdexcept>
#include <utility>

namespace sewage::sim {

class sim_clock {
 public:
  using wall_source = std::function<std::chrono::system_clock::time_point()>;
  using monotonic_source = std::function<std::chrono::steady_clock::time_point()>;

  /// `speed`: simulated seconds per real second, > 0. `wall`, `monotonic`: the machine's clocks
  /// (tests inject fakes; both must be thread-safe and must not throw).
  /// Throws std::invalid_argument for a speed that is not a positive finite number or an empty source.
  sim_clock(std::chrono::system_clock::time_point real_origin, std::chrono::system_clock::time_point sim_origin,
            double speed, wall_source wall = [] { return std::chrono::system_clock::now(); },
            monotonic_source monotonic = [] { return std::chrono::steady_clock::now(); })
      : real_origin_(real_origin), sim_origin_(sim_origin), speed_(speed), wall_(std::move(wall)),
        monotonic_(std::move(monotonic)) {
    if (!(speed > 0.0) || speed > 1e6) throw std::invalid_argument("sim_clock: speed must be in (0, 1e6]");
    if (!wall_ || !monotonic_) throw std::invalid_argument("sim_clock: empty clock source");
    steady_origin_ = monotonic_() - std::chrono::duration_cast<std::chrono::steady_clock::duration>(wall_() - real_origin_);
  }

  /// The real instant now as the monotonic clock has counted it since construction (the wall
  /// clock's reading then, plus monotonic time since). Thread-safe, never throws.
  [[nodiscard]] std::chrono::system_clock::time_point real_now() const {
    return real_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(monotonic_() - steady_origin_);
  }

  /// The simulated UTC time now: sim_origin + speed x (real_now() - real_origin). Thread-safe,
  /// never throws.
  [[nodiscard]] std::chrono::system_clock::time_point now() const {
    const std::chrono::duration<double> elapsed = real_now() - real_origin_;
    return sim_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed * speed_);
  }

  /// The wall clock minus real_now(): 0 at construction; a change is a step of the machine's wall
  /// clock (for the log). Thread-safe, never throws.
  [[nodiscard]] std::chrono::system_clock::duration wall_offset() const { return wall_() - real_now(); }

 private:
  std::chrono::system_clock::time_point real_origin_;
  std::chrono::system_clock::time_point sim_origin_;
  double speed_;
  wall_source wall_;
  monotonic_source monotonic_;
  std::chrono::steady_clock::time_point steady_origin_{};
};

}  // namespace sewage::sim
