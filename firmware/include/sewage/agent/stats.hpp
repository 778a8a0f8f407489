#pragma once
/// \file
/// Building blocks of an interval record: window statistics, the totalizer, stuck-sensor and
/// clean-out detection. Plain values, no I/O, no locking: used from the agent's executor only.
#include "sewage/agent/sensor_driver.hpp"
#include "sewage/proto/telemetry.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace sewage::agent {

/// Mean/min/max over the good samples of one window, and counts per failure status.
class window_stats {
 public:
  /// Adds one sample (only its status, value and reason are used). Never throws except bad_alloc.
  void add(const sample& s);
  /// Status of the window: `ok` when there is at least one good sample and good samples are at
  /// least as many as failed ones; otherwise the dominant failure (`stale` when timeouts are at
  /// least as many as the other failures, then `out_of_range` if more than faults, else `fault`).
  /// An empty window is `stale`.
  [[nodiscard]] proto::quantity_status status() const noexcept;
  [[nodiscard]] std::uint32_t samples() const noexcept { return good_ + stale_ + fault_ + out_of_range_; }
  [[nodiscard]] std::uint32_t good() const noexcept { return good_; }
  /// Over good samples only; std::nullopt when there are none.
  [[nodiscard]] std::optional<double> mean() const noexcept;
  [[nodiscard]] std::optional<double> min() const noexcept;
  [[nodiscard]] std::optional<double> max() const noexcept;
  [[nodiscard]] std::optional<double> last() const noexcept;
  /// Reason of the most recent failed sample ("" if none).
  [[nodiscard]] const std::string& last_reason() const noexcept { return last_reason_; }
  void reset() noexcept;

 private:
  std::uint32_t good_{0}, stale_{0}, fault_{0}, out_of_range_{0};
  double sum_{0}, min_{0}, max_{0}, last_{0};
  std::string last_reason_;
};

/// Tracks a flowmeter totalizer (reading in m3 within [0, 2^32), the range of a 32-bit integer
/// part, MFE600H 0x1018) and gives the volume since the previous reading. A decrease is either a
/// 32-bit wrap (previous reading in the top 10 % of the range and the new one in the bottom
/// 10 %: volume counted across the wrap) or a meter reset (volume 0 for that step: unknown, never
/// negative). A step above `max_step_m3` is refused as implausible (volume 0).
class totalizer {
 public:
  /// Range of the meter's integer register, m3 (2^32).
  static constexpr double range_m3 = 4294967296.0;
  enum class event { first, normal, wrap, reset, implausible };
  struct step {
    double volume_m3{0};  ///< >= 0 always
    event what{event::first};
  };
  /// `max_step_m3`: largest credible volume between two readings (default: 1200 m3/h for 24 h).
  explicit totalizer(double max_step_m3 = 1200.0 * 24) : max_step_m3_(max_step_m3) {}
  /// Feeds a new reading (m3, must be finite and in [0, range_m3)). Never throws.
  step update(double reading_m3) noexcept;
  [[nodiscard]] std::optional<double> last() const noexcept { return last_; }

 private:
  double max_step_m3_;
  std::optional<double> last_;
};

/// Combines the integer and fractional totalizer registers (MFE600H: Long at 0x1018 + Float at
/// 0x101A). Returns std::nullopt when the fraction is outside [0, 1) or the integer is negative.
std::optional<double> combine_totalizer(double integer_part, double fraction) noexcept;

/// Reports a sensor as stuck when a reading is identical to the previous `polls` readings.
/// `polls == 0` disables detection.
class stuck_detector {
 public:
  explicit stuck_detector(std::uint32_t polls = 0) : polls_(polls) {}
  /// Feeds a good reading; returns true when it is stuck. Never throws.
  bool update(double value) noexcept;
  /// A failed poll breaks the run.
  void interrupt() noexcept { run_ = 0; }

 private:
  std::uint32_t polls_;
  std::optional<double> last_;
  std::uint32_t run_{0};  ///< previous readings identical to last_
};

/// Clean-out flag from the sludge level with hysteresis and a hold time: raised once the level
/// has stayed above `raise_m` for `hold_s` seconds, cleared as soon as it falls below `clear_m`.
class cleanout_detector {
 public:
  cleanout_detector(double raise_m, double clear_m, std::uint32_t hold_s)
      : raise_m_(raise_m), clear_m_(clear_m), hold_s_(hold_s) {}
  /// Feeds a good level reading taken at `now`; returns the flag. Never throws.
  bool update(double level_m, proto::timestamp now) noexcept;
  [[nodiscard]] bool flag() const noexcept { return flag_; }

 private:
  double raise_m_, clear_m_;
  std::uint32_t hold_s_;
  bool flag_{false};
  std::optional<proto::timestamp> above_since_;
};

}  // namespace sewage::agent
