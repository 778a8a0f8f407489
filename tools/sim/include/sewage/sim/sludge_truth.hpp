#pragma once
/// \file
/// The simulated county's true clean-out outlook (`sludge_truth.csv`, county.hpp): how fast a
/// terminal's sludge rises and when it reaches the clean-out raise level, for scoring the
/// gateway's clean-out forecast. SIMULATION ONLY.
///
/// The true rate of rise is terminal_model's own: sludge_m_per_m3 x the village's long-run
/// dry-weather treated volume per day (dry_weather_treated), plus any scripted forced rise in
/// force (physical_faults::sludge_extra_m_per_h x 24), from the model's true level now.

#include "sewage/sim/influent.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <chrono>
#include <optional>
#include <span>

namespace sewage::sim {

/// The clean-out levels the county gives every agent (county.cpp, agent config `[cleanout]
/// raise_m` and `clear_m`) and the history's clean-out flag follows (history.cpp), m above the
/// tank floor. The raise level is also `raise_level_m` of sludge_truth.csv.
inline constexpr double cleanout_raise_m = 1.5;
inline constexpr double cleanout_clear_m = 1.2;

/// Volume treated over a span of time.
struct treated_span {
  double volume_m3{0.0};
  double days{0.0};  ///< 0: nothing known
};

/// The village's long-run dry-weather treated volume: `design_capacity_m3d x load_factor` per
/// day. terminal_model scales its influent profile so that its mean dry-weather flow is exactly
/// that (terminal_model.cpp, `scale_`), and the BSM1 profile repeats weekly, so any whole week of
/// dry weather treats 7 x this. The truth projects the level forward at this rate: a rain or a
/// blockage moves the level by the sludge it really added or missed, and does not change the rate
/// for the years ahead (a rainy week's rate projected forward, 1.29 x, put the truth ~22 % early after a
/// rain of 1.8 days). Pure; never throws.
[[nodiscard]] treated_span dry_weather_treated(const terminal_params& params) noexcept;

/// The sludge level at the simulation origin (`lead_h` hours before the scenario start) from
/// which the terminal's true level reaches `raise_m` `due_in_days` after the scenario start under
/// `weather` (days since the origin: weather_events_days) and no fault (a scripted fault that
/// stops the flow delays the true crossing by its hours; sludge_truth.csv reached_at is the true
/// one): raise_m -
/// sludge_m_per_m3 x the volume a terminal_model of `params` on `profile` treats from the origin
/// to then, m (scenario.hpp `[[sludge]]`). The weather matters: a rain adds ~2 days of dry rise,
/// a storm ~4 (at the dry rate the soak's crossings came 7-12 days early). Throws
/// std::invalid_argument naming due_in_days when that level would lie below the tank floor (0 m:
/// the village fills too slowly for so many days), or when due_in_days is not > 0 or lead_h < 0.
/// Runs the model in 30 s steps (2,880 a day), a day at a time, and stops at the first day that
/// would need a start below the floor. Thread-safe while `profile` is not modified.
[[nodiscard]] double sludge_start_level_m(const influent_profile& profile, const terminal_params& params,
                                          double due_in_days, double lead_h, std::span<const weather_event> weather,
                                          double raise_m = cleanout_raise_m);

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
