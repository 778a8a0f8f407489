#pragma once
/// \file
/// The learned normal flow of each site (issue 14 item 1; the engine room owns it): per hour of the
/// operating day and per day type, robust statistics of the site's own hourly mean flow over the
/// last flow_normal_history_days operating days, recomputed when an operating day ends, persisted
/// (tables flow_hours and flow_normals, sqlite schema v16) and shown at /api/terminals/{id}/normal.
/// `low_flow` and `no_flow` (rules.hpp) compare the observed flow with it.
///
/// Source of an hour's flow: the agent's interval mean rate (`flow.rate_m3h`, status ok), weighted
/// by the time each record covers. Not the totalizer: the daily rows' volume (aggregates.hpp) is
/// booked per operating day only, and an increment that spans a gap or ends a glitch cannot be
/// apportioned to hours without inventing; the rules also judge the rate, so the normal is of the
/// same quantity. A record whose flow is not ok adds nothing (its hour is less covered).
///
/// Hours: a record's window is booked whole on the UTC hour it ends in (pump_run_hour_of, as the
/// pump run log); an hour belongs to the operating day and local hour of its start, exact for
/// zones whose offset is whole hours (Asia/Shanghai). The day types are weekday (Monday-Friday)
/// and weekend (Saturday, Sunday) of the local date; public holidays are not known (a holiday
/// weekday counts as a weekday, one more reason for robust statistics).
///
/// Thread-safety: plain values and free functions; no shared state.

#include "sewage/gateway/alert_rule.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// Operating days of history behind a normal (the 2-4 weeks: four of each weekday).
inline constexpr std::int32_t flow_normal_history_days = 28;
/// An hour counts as history when records with good flow cover at least this share of it (as the
/// pump run log's complete day).
inline constexpr double flow_normal_hour_covered = 0.8;
/// The low quantile kept beside the median (p10: on 20 weekdays the second-lowest day).
inline constexpr double flow_normal_low_quantile = 0.10;

/// Assumed diurnal shape of a rural domestic catchment, factor of the mean hourly flow per local
/// hour 0..23 (mean 1.0): night minimum 0.3 (02-04 h), morning peak 1.65 (08 h), a smaller noon
/// peak and the evening peak 1.7 (19 h). An ASSUMPTION for the prior only, shaped after the usual
/// two-peak profile of village water use; its peak 1.7 stays inside the peak factors of small
/// catchments (GB 50014-2021 total variation coefficient up to 2.7, flow_high's 2.5). It is
/// replaced per hour by the site's own history as soon as flow_min_days days of it exist.
inline constexpr std::array<double, 24> flow_prior_shape{
    0.45, 0.35, 0.30, 0.30, 0.35, 0.55, 1.00, 1.50, 1.65, 1.40, 1.20, 1.25,
    1.40, 1.10, 0.95, 0.90, 0.95, 1.20, 1.50, 1.70, 1.45, 1.15, 0.80, 0.60};

/// Day types of the normal.
enum class day_type : std::uint8_t { weekday = 0, weekend = 1 };
inline constexpr std::size_t day_type_count = 2;
/// "weekday" / "weekend". Never throws.
std::string_view to_string(day_type t) noexcept;
/// The day type of operating day `day` (days since 1970-01-01, a Thursday). Never throws.
day_type day_type_of(std::int32_t day) noexcept;

/// A local hour: operating day and hour of the day 0..23.
struct local_hour {
  std::int32_t day{0};
  int hour{0};
};
/// The local day and hour of instant `ts_ms` (ms since the epoch) in `zone`, with the offset in
/// force at that instant. Never throws.
local_hour local_hour_of(std::int64_t ts_ms, const county_zone& zone) noexcept;

/// The normal of one (day type, hour).
struct flow_normal_cell {
  double median_m3h{0};  ///< median of the hour's mean flow over the days of history, m3/h
  double low_m3h{0};     ///< flow_normal_low_quantile of the same, m3/h (0 for the prior)
  /// Days of history behind it (hours covered >= flow_normal_hour_covered); of a cell kept from
  /// the day before (learn_flow_normal `previous`), the days behind that value when it was learned.
  std::uint32_t days{0};
  bool prior{true};  ///< still the prior from the design capacity: never learned from flow_min_days days
  friend bool operator==(const flow_normal_cell&, const flow_normal_cell&) = default;
};

/// A site's normal: 2 day types x 24 hours.
struct flow_normal {
  /// The operating day it was computed on (its history: the flow_normal_history_days days before);
  /// never_computed before the first computation.
  static constexpr std::int32_t never_computed = std::numeric_limits<std::int32_t>::min();
  std::int32_t computed_day{never_computed};
  std::array<flow_normal_cell, day_type_count * 24> cells{};

  [[nodiscard]] flow_normal_cell& at(day_type t, int hour) { return cells.at(static_cast<std::size_t>(t) * 24 + static_cast<std::size_t>(hour)); }
  [[nodiscard]] const flow_normal_cell& at(day_type t, int hour) const {
    return cells.at(static_cast<std::size_t>(t) * 24 + static_cast<std::size_t>(hour));
  }
  friend bool operator==(const flow_normal&, const flow_normal&) = default;
};

/// One site-hour as stored (table flow_hours; the engine writes increments).
struct flow_hour {
  std::string site_id;
  std::int64_t hour_ms{0};  ///< start of the UTC hour, ms since the epoch
  double volume_m3{0};      ///< sum of rate_m3h x interval_s / 3600 of the records booked on it
  double covered_s{0};      ///< seconds of report windows with good flow booked on it
  friend bool operator==(const flow_hour&, const flow_hour&) = default;
};

/// A site's normal as stored (table flow_normals).
struct site_flow_normal {
  std::string site_id;
  flow_normal normal;
};

/// Quantile `q` (0..1) of `values` with linear interpolation between order statistics (Hyndman &
/// Fan type 7, R's and NumPy's default). 0 for no values. Never throws except bad_alloc.
double quantile(std::vector<double> values, double q);

/// The prior of a site: median = design_capacity_m3d / 24 x load x flow_prior_shape[hour] for both
/// day types, low 0 (the prior knows nothing of the spread, so no rule acts on it: low_flow needs a
/// learned low quantile, no_flow keeps its long debounce), days 0, prior. `load`: share of the
/// design capacity the site is assumed to receive (thresholds::flow_prior_load). Never throws.
flow_normal prior_flow_normal(double design_capacity_m3d, double load) noexcept;

/// Learns a site's normal on operating day `today` from its stored hours (any order; hours outside
/// the flow_normal_history_days days before `today` are ignored). Each (day type, hour) with at
/// least `min_days` covered days gets the median and low quantile of their hourly means; the rest
/// keep the prior's cell (with `days` set to what exists).
///
/// `wet_days` (any order; may be empty): operating days of rain (wet_days_of), left out so that the
/// normal is the dry-weather flow: in a wet month the median of all days is itself wet, and a
/// county-wide rise then no longer looks like one (the 30-day soak's last rain, 2026-12-05).
///
/// A cell with fewer than `min_days` dry days left but enough days in all (a wet month: each rain
/// and the day after leave out 3-4 days, and a weekend cell has 8 days in 28) keeps `previous`'s
/// cell when that one is learned (not the prior): the last dry-weather value stays the normal
/// until enough dry days exist again, as the 30-day soak's night rain on a Saturday needed
/// (2026-12-06: the weekend cell fell back to the wet median, and the county's rise no longer
/// looked like one). Without a learned previous cell (`previous` null, or its cell the prior) the
/// cell is learned from every day, wet ones too (a new site in a rainy season: its flow is then
/// the normal there is), and that value is kept in turn until enough dry days exist: a learned
/// cell does not say whether its days were dry. Nor does a kept cell expire: through a rainy
/// season longer than the history it is as old as its last dry days (limits documented in
/// gateway/README.md "Learned normal per site"). Never throws except bad_alloc.
flow_normal learn_flow_normal(const std::vector<flow_hour>& hours, std::int32_t today, const county_zone& zone,
                              double design_capacity_m3d, double load, std::uint32_t min_days,
                              const std::vector<std::int32_t>& wet_days = {}, const flow_normal* previous = nullptr);

/// A span of weather: from its start to its end (ms since the epoch; an open one ends now).
struct weather_span {
  std::int64_t from_ms{0};
  std::int64_t to_ms{0};
};
/// The operating days (in `zone`, sorted, unique) that `spans` touch, each with the day after it:
/// dry-weather flow is taken on days with no rain that day or the day before (a common definition
/// of a dry-weather day), since a rain's inflow and infiltration recede over the next day. A span with to_ms < from_ms counts as its start only. Never throws
/// except bad_alloc.
std::vector<std::int32_t> wet_days_of(const std::vector<weather_span>& spans, const county_zone& zone);

/// A site's recent flow, for low_flow's window: a ring of 24 slots of window_s / 24 each (5 min
/// for the default 2 h), 24 bytes a slot. A record is booked whole on the slot its window ends in.
/// Not thread-safe (the engine's thread).
class flow_window {
 public:
  static constexpr std::size_t slots = 24;
  /// Books a record ending at `ts_ms` with mean rate `rate_m3h` over `interval_s`. A change of
  /// `window_s` (registry reload) empties the ring. A record older than the window is ignored.
  void add(std::int64_t ts_ms, double rate_m3h, double interval_s, std::uint32_t window_s) noexcept;
  /// Volume (m3) and covered seconds of the slots of the window ending at `now_ms`.
  struct sum {
    double volume_m3{0};
    double covered_s{0};
  };
  [[nodiscard]] sum total(std::int64_t now_ms) const noexcept;

 private:
  struct slot {
    std::int64_t index{-1};
    double volume_m3{0};
    double covered_s{0};
  };
  std::array<slot, slots> ring_{};
  std::int64_t slot_ms_{0};
};

/// The view the rules get (alert_rule.hpp flow_normal_view) at event time `now_ms`: the window's
/// mean flow and coverage, and the normal sampled at the middle of each of the window's slots
/// (time-weighted means of the medians and of the low quantiles; the lowest low quantile; learned
/// only if every slot's hour is). `window_s` > 0. Never throws.
flow_normal_view make_flow_normal_view(const flow_normal& normal, const flow_window& window, std::int64_t now_ms,
                                       std::uint32_t window_s, const county_zone& zone) noexcept;

}  // namespace sewage::gateway
