#pragma once
/// \file
/// The simulated county's true clean-out outlook (`sludge_truth.csv`, county.hpp): how fast a
/// terminal's sludge rises and when it reaches the clean-out raise level, for scoring the
/// gateway's clean-out forecast. SIMULATION ONLY.
///
/// The true rate of rise is terminal_model's own: sludge_m_per_m3 x the true treated volume per
/// day, averaged over the last (up to) 7 simulated days, plus any scripted forced rise in force
/// (physical_faults::sludge_extra_m_per_h x 24).

#include "sewage/sim/influent.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <chrono>
#include <deque>
#include <optional>
#include <utility>

namespace sewage::sim {

/// The clean-out levels the county gives every agent (county.cpp, agent config `[cleanout]
/// raise_m` and `clear_m`) and the history's clean-out flag follows (history.cpp), m above the
/// tank floor. The raise level is also `raise_level_m` of sludge_truth.csv.
inline constexpr double cleanout_raise_m = 1.5;
inline constexpr double cleanout_clear_m = 1.2;

/// Days over which the true treated volume is averaged for the rate of rise.
inline constexpr double sludge_rise_window_days = 7.0;

/// Volume treated over a span of time.
struct treated_span {
  double volume_m3{0.0};
  double days{0.0};  ///< 0: nothing known
};

/// A terminal's cumulative true treated volume over time, thinned to one sample per
/// `resolution_days` and kept only as far back as the window needs. Not thread-safe.
class treated_volume_history {
 public:
  /// `window_days` and `resolution_days` must be > 0 (else std::invalid_argument).
  explicit treated_volume_history(double window_days = sludge_rise_window_days,
                                   double resolution_days = 0.25 / 24.0);

  /// Records the cumulative volume `volume_m3` at `t_days` (any origin, the same for every
  /// call). Kept when at least resolution_days after the last kept sample (the first always);
  /// ignored otherwise. Drops samples the window no longer needs. Never throws except bad_alloc.
  void add(double t_days, double volume_m3);

  /// The volume treated over the window that ends at (`t_days`, `volume_m3`), the cumulative
  /// volume now: since window_days before, or since the first sample when the history is shorter
  /// (the cumulative volume at the window's start interpolated linearly between samples). {0, 0}
  /// without a sample before `t_days`. Pure.
  [[nodiscard]] treated_span until(double t_days, double volume_m3) const;

  [[nodiscard]] std::size_t samples() const noexcept { return samples_.size(); }

 private:
  double window_days_;
  double resolution_days_;
  std::deque<std::pair<double, double>> samples_;  ///< (t_days, cumulative m3), in time order
};

/// Fills `history` with the `days` before a live model with `live` parameters starts (its t = 0;
/// samples at t in [-days, 0], cumulative volume 0 at t = 0): the same village run from `days`
/// before with dry weather, no faults and its whole influent, as sewage-sim-history writes it
/// without a pipe network (history.cpp). Call before any live sample. Throws what terminal_model
/// throws.
void add_history_before_start(treated_volume_history& history, const influent_profile& profile,
                              terminal_params live, double days);

/// The true outlook of one terminal at an instant.
struct sludge_outlook {
  double rise_m_per_day{0.0};
  /// When the level reaches the raise level at this rate: `now` when it already has; none when
  /// the rate is <= 0 or the instant lies more than 100 years ahead.
  std::optional<std::chrono::system_clock::time_point> due_at;
};

/// rise = sludge_m_per_m3 x treated.volume_m3 / treated.days (0 when treated.days is 0) +
/// extra_m_per_h x 24; due_at = now + (raise_m - level_m) / rise days. Pure; never throws.
sludge_outlook true_sludge_outlook(double level_m, double sludge_m_per_m3, treated_span treated,
                                   double extra_m_per_h, double raise_m,
                                   std::chrono::system_clock::time_point now) noexcept;

}  // namespace sewage::sim
