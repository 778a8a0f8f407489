#pragma once
/// \file
/// The forecast room (issue 14 item 3): when a terminal's tank will need a clean-out. From the
/// daily mean sludge level of the recent operating days (aggregates.hpp: sludge_level_s /
/// sludge_ok_s), a robust linear trend - the Theil-Sen estimator: the median of the slopes between
/// every pair of days (Sen 1968, "Estimates of the regression coefficient based on Kendall's tau",
/// JASA 63:1379) - gives the date the sludge reaches the clean-out level
/// (thresholds::cleanout_level_m), with a 90 % interval from the slope's confidence bounds (Sen's
/// order-statistic interval, as in Gilbert 1987, "Statistical Methods for Environmental Pollution
/// Monitoring", section 16.5). A median ignores a day or two of bad readings (a float stuck, foam
/// on the ultrasonic sensor); a clean-out (a fall of the daily level) starts the trend again.
///
/// The interval covers the uncertainty of the slope only, not that of today's level (the
/// median of the residuals around the trend, typically a few mm) nor a change of load to come
/// (summer visitors, a new connection): the forecast assumes the tank keeps filling as it did.
///
/// Thread-safety: free functions on values; no shared state.

#include "sewage/gateway/store.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// Operating days of history behind a forecast (the "recent weeks"; as the learned normal).
inline constexpr std::int32_t cleanout_history_days = 28;
/// Days with a mean level a trend needs: a week, so that a weekend's lower load does not decide it.
inline constexpr std::uint32_t cleanout_min_days = 7;
/// A day counts when good sludge readings cover at least this much of it, s (6 h: a terminal that
/// reported a quarter of the day still has a fair mean of a level that moves millimetres a day).
inline constexpr double cleanout_day_covered_s = 6 * 3600.0;
/// A clean-out between two consecutive counted days: the level falls by at least this, m, ...
inline constexpr double cleanout_fall_m = 0.2;
/// ... and by at least this share of the earlier day's level (a suction tanker empties most of the
/// tank; a sensor's day of noise moves it by millimetres).
inline constexpr double cleanout_fall_ratio = 0.3;
/// A rise below this, m/day, is "not rising" (0.1 mm/day = 3.7 cm a year: no clean-out date a
/// county could plan by).
inline constexpr double cleanout_min_rise_m_per_day = 0.0001;
/// Forecasts further ahead than this, days, are "beyond_horizon" (no date: 10 years).
inline constexpr std::int32_t cleanout_horizon_days = 3650;
/// Two-sided 90 % normal quantile for the slope's interval (z of 0.95).
inline constexpr double cleanout_interval_z = 1.6449;

/// One counted day: operating day and its time-weighted mean sludge level, m.
struct daily_sludge {
  std::int32_t day{0};
  double level_m{0};
  friend bool operator==(const daily_sludge&, const daily_sludge&) = default;
};

/// What the forecast says.
enum class cleanout_status : std::uint8_t {
  insufficient_history,  ///< fewer than cleanout_min_days counted days since the last clean-out
  not_rising,            ///< the trend rises less than cleanout_min_rise_m_per_day (or falls)
  beyond_horizon,        ///< rising, but the date is over cleanout_horizon_days ahead
  forecast,              ///< a due date
  reached,               ///< the trend is at or above the clean-out level today
};
/// "insufficient_history", "not_rising", "beyond_horizon", "forecast", "reached". Never throws.
std::string_view to_string(cleanout_status s) noexcept;

/// A terminal's clean-out forecast on operating day `today`.
struct cleanout_forecast {
  cleanout_status status{cleanout_status::insufficient_history};
  std::int32_t today{0};          ///< the operating day it was made on (its history: days before)
  double cleanout_level_m{0};     ///< the level it forecasts, m
  std::uint32_t days_used{0};     ///< counted days in the trend (since the last clean-out)
  std::optional<std::int32_t> first_day;      ///< first counted day used
  std::optional<std::int32_t> last_cleanout_day;  ///< the first day after a clean-out in the history
  /// The trend (set unless insufficient_history): today's level, m, and the slope with its 90 %
  /// bounds, m/day.
  std::optional<double> level_m;
  std::optional<double> rise_m_per_day;
  std::optional<double> rise_low_m_per_day;
  std::optional<double> rise_high_m_per_day;
  /// forecast: the operating day the trend reaches the level, and the 90 % interval's days (late
  /// unset when the slope's lower bound does not rise); reached: today.
  std::optional<std::int32_t> due_day;
  std::optional<std::int32_t> due_early_day;
  std::optional<std::int32_t> due_late_day;
  friend bool operator==(const cleanout_forecast&, const cleanout_forecast&) = default;
};

/// The counted days of a terminal's daily rows (any order, any terminal id): those whose good
/// sludge readings cover at least cleanout_day_covered_s, with their mean level; rows of the same
/// day are summed first (increments). Sorted by day. Never throws except bad_alloc.
std::vector<daily_sludge> daily_sludge_levels(const std::vector<daily_row>& rows);

/// Theil-Sen trend of `days` (sorted by day, unique; the caller passes the counted days before
/// `today`; days outside [today - cleanout_history_days, today) are ignored) and the date it
/// reaches `cleanout_level_m` (m, > 0). Only the days after the last clean-out (a fall of at least
/// cleanout_fall_m and cleanout_fall_ratio between consecutive counted days) are used. Never
/// throws except bad_alloc.
cleanout_forecast forecast_cleanout(const std::vector<daily_sludge>& days, std::int32_t today, double cleanout_level_m);

}  // namespace sewage::gateway
