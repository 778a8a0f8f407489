#pragma once
/// \file
/// Daily aggregates of one terminal per operating day: effluent volume from real totalizer
/// increments (glitches recognised, counted and never flowed; meter reset, 32-bit wrap and gaps
/// handled; rate integration only as a marked estimate), turbidity mean and max, and compliance
/// weighted by the time covered by good turbidity readings. The algorithm, with a worked example,
/// is in gateway/README.md ("Effluent volume").

#include "sewage/gateway/operating_day.hpp"

#include <sewage/proto/telemetry.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// Constants of the totalizer algorithm (gateway/README.md, "Effluent volume", explains each).
namespace totalizer_limits {
/// Plausible peak flow as a multiple of the design mean hourly flow (design_capacity_m3d / 24).
/// Small rural catchments peak at 2.5-4 x the mean (the flow_high rule raises at 2.5); 4 keeps a
/// real storm peak above the flow_high threshold measurable.
inline constexpr double peak_factor = 4.0;
/// The reported mean rate times this also bounds a plausible increment (a window mean under-states
/// its own peak; the totalizer and the rate are sampled at slightly different instants).
inline constexpr double rate_margin = 1.5;
/// Resolution of the meter's totalizer, m3 (one litre: the last digit of common converters). A
/// float32 totalizer is coarser at large totals: its step (ulp) is used when larger (2 m3 at 2e7).
inline constexpr double meter_resolution_m3 = 0.001;
/// A backwards step up to max(this, 4 resolutions) is jitter (backflow when a pump stops, float
/// rounding): no volume, the baseline keeps its higher value. m3.
inline constexpr double jitter_m3 = 0.1;
/// Readings in a suspect series (the first included), rising, before a reset (a series well below
/// the baseline: at most half of it) is taken as a new baseline.
inline constexpr std::uint32_t reset_confirm_readings = 3;
/// Any other suspect series (above the baseline, or just below it) must also persist this long
/// without returning to the baseline before it becomes the new baseline (meter replaced or set). ms.
inline constexpr std::int64_t rebase_confirm_ms = 3'600'000;
/// A gap's volume is spread over the operating days it spans only when it starts at most this many
/// days before the record's own day; a longer gap (or a previous reading stamped far in the past)
/// puts its whole volume on the record's day. Bounds the daily rows one record can create to 8.
inline constexpr std::int32_t spread_bound_days = 7;
}  // namespace totalizer_limits

/// The totalizer state of one terminal (persisted with the terminal's resume state so that a
/// restart in the middle of a glitch continues it).
struct totalizer_cursor {
  double total_m3{0};      ///< baseline: the last reading taken as real, m3 (highest value, see jitter)
  std::int64_t ts_ms{0};   ///< its record timestamp, ms since epoch UTC
  bool valid{false};
  /// Suspect series: readings not explained by the baseline, held (no volume) until they return
  /// to the baseline (a dip or spike: the glitch) or are confirmed as a new baseline (reset).
  std::uint32_t suspect_count{0};        ///< readings in the series; 0 = none
  double suspect_first_m3{0};            ///< first reading of the series, m3
  std::int64_t suspect_first_ts_ms{0};
  double suspect_last_m3{0};             ///< highest reading of the series so far, m3
  std::int64_t suspect_last_ts_ms{0};    ///< timestamp of the series' newest reading
  /// Rate estimate of (ts_ms, suspect_first_ts_ms], m3: booked as estimated volume if the series
  /// becomes the new baseline (what the meter counted before its reset is unknown).
  double suspect_estimate_m3{0};
  friend bool operator==(const totalizer_cursor&, const totalizer_cursor&) = default;
};

/// What one record adds to one operating day. Additive: rows for the same (terminal, day) are summed
/// (max for turbidity_max_ntu), so late and replayed records fold in correctly and a store can
/// apply them as increments.
struct daily_delta {
  std::int32_t day{0};              ///< operating day, see operating_day.hpp
  double volume_m3{0};              ///< from real totalizer increments (measured)
  double volume_estimated_m3{0};    ///< from rate x time (no totalizer, first reading, meter reset)
  double turbidity_sum_ntu{0};      ///< sum of interval means with status ok
  std::uint32_t turbidity_count{0};
  double turbidity_max_ntu{-1};     ///< -1 = none
  std::uint32_t compliant_count{0}; ///< records with mean turbidity <= the terminal's limit
  std::uint32_t records{0};         ///< accepted (de-duplicated) records
  /// Time covered by turbidity readings with status ok, s (each record's interval_s, the part of
  /// its window inside this day).
  double turbidity_ok_s{0};
  /// The part of turbidity_ok_s whose mean turbidity was at or below the terminal's limit, s.
  double compliant_s{0};
  /// Totalizer glitches recognised by records of this day (dips, spikes, jitter, resets, rebases).
  std::uint32_t totalizer_glitches{0};
  /// Energy from real kWh meter increments, kWh (energy.hpp; 0 without a meter).
  double energy_kwh{0};
  /// Energy from power x time (no meter total, first reading, before a meter reset), kWh.
  double energy_estimated_kwh{0};
  /// Records with an energy section of status ok (0 = no meter that day: no energy per m3).
  std::uint32_t energy_records{0};
  /// kWh meter glitches recognised (dips, spikes, resets, rebases).
  std::uint32_t energy_glitches{0};
  /// Sludge level x time of the records with a sludge level of status ok, m*s (the record's
  /// interval_s, on the record's own day): sludge_level_s / sludge_ok_s is the day's time-weighted
  /// mean level, the clean-out forecast's input (forecast/cleanout.hpp).
  double sludge_level_s{0};
  /// Seconds covered by those records, s.
  double sludge_ok_s{0};

  /// Folds `o` (same day) into this one.
  void add(const daily_delta& o) noexcept;
  friend bool operator==(const daily_delta&, const daily_delta&) = default;
};

/// How the volume of a record was obtained (for metrics and logs).
enum class volume_source {
  totalizer,      ///< a plausible increment from the baseline
  wrap,           ///< the 32-bit totalizer wrapped (2^32 m3, proto limits::max_total_m3)
  jitter,         ///< a small backwards step: no volume
  suspect,        ///< the reading is held as suspect: no volume yet
  resolved,       ///< back at the baseline after suspect readings: the increment since the baseline
  reset,          ///< a confirmed meter reset: new baseline, the reset's interval estimated
  rebase,         ///< a confirmed jump to another value (meter replaced or set): new baseline
  rate_fallback,  ///< no usable totalizer (or the first reading): rate x interval, estimated
  late,           ///< stamped at or before the newest reading: no volume (inside a later delta)
  none
};

/// Kinds of totalizer glitch, counted per kind (metric sewage_gateway_totalizer_glitches_total).
enum class totalizer_glitch : std::uint8_t { none, jitter, dip, spike, reset, rebase };
inline constexpr std::array<totalizer_glitch, 5> all_totalizer_glitches{
    totalizer_glitch::jitter, totalizer_glitch::dip, totalizer_glitch::spike, totalizer_glitch::reset,
    totalizer_glitch::rebase};
/// "jitter", "dip", "spike", "reset", "rebase" ("none"). Never throws.
std::string_view to_string(totalizer_glitch g) noexcept;

/// The outcome of one record, for metrics and logs.
struct volume_outcome {
  volume_source source{volume_source::none};
  /// A glitch this record recognised (a series it ended, a jitter step, a confirmed reset), or none.
  totalizer_glitch glitch{totalizer_glitch::none};
  std::uint32_t glitch_readings{0};  ///< suspect readings the glitch spanned (1 for jitter)
  double glitch_reading_m3{0};       ///< the (first) glitched reading, m3
  double baseline_m3{0};             ///< the baseline it was judged against, m3
  bool gap_not_spread{false};        ///< a gap longer than spread_bound_days went onto the record's day
};

/// What the aggregates need to know of the terminal.
struct aggregate_params {
  double turbidity_limit_ntu{10.0};  ///< compliance limit, NTU (mean at or below = compliant)
  /// Registry design capacity, m3/day; 0 = unknown (the plausible peak is then the pipe maximum,
  /// proto limits::max_flow_m3h).
  double design_capacity_m3d{0};
  county_zone zone;                  ///< the county's time zone (operating days)
};

/// Computes the daily deltas of one accepted record and advances `cursor`. The first element is
/// always the record's own day (day of ts - 1 ms: a window ending exactly at midnight belongs to
/// the day that is ending); further elements are earlier days (a gap's share, the part of the
/// record's window before midnight). At most spread_bound_days + 1 days are touched.
///
/// Volume (README "Effluent volume"): an increment from the baseline counts when it is at most
/// plausible(elapsed) = max(design_capacity_m3d / 24 x peak_factor, rate_m3h x rate_margin) x elapsed
/// (capped at the pipe maximum) + 2 x resolution(total). A gap's increment is spread over the days
/// it spans in proportion to time (within spread_bound_days). A small backwards step is jitter. A
/// 32-bit wrap (2^32 m3) with a plausible wrapped increment is measured. Anything else starts a
/// suspect series that is held without volume: a reading back at a plausible distance from the
/// baseline ends it (a dip or spike glitch; the increment from the baseline counts); a series that
/// keeps rising plausibly from a low value (at most half the baseline) for reset_confirm_readings
/// readings is a reset; any other series that persists rebase_confirm_ms is a rebase. Both make the
/// series the new baseline: the series' own increments count, the time before it is estimated from
/// the rate (volume_estimated_m3). Without a usable totalizer, and for the first reading, the
/// volume is rate_m3h x interval_s, estimated. A record stamped at or before the newest reading adds
/// no volume.
///
/// Compliance: a record with turbidity status ok adds its interval_s (split at midnight) to
/// turbidity_ok_s, and to compliant_s when its mean is at or below the limit.
/// Sludge: a record with a sludge level of status ok adds level x interval_s to sludge_level_s and
/// interval_s to sludge_ok_s of its own day.
/// Never throws except bad_alloc.
std::vector<daily_delta> record_deltas(const proto::telemetry_record& r, totalizer_cursor& cursor,
                                       const aggregate_params& params, volume_outcome* outcome = nullptr);

/// A log rate limiter for glitch messages: at most `burst` lines per `window`, then one summary
/// with the number suppressed. Not thread-safe (the engine's thread only).
class log_limiter {
 public:
  log_limiter(std::uint32_t burst, std::chrono::milliseconds window) noexcept : burst_(burst), window_(window) {}
  /// True when a line may be logged at `now`; `suppressed` is then set to the number of lines
  /// refused since the last allowed one (to be mentioned in that line). Never throws.
  bool allow(proto::timestamp now, std::uint64_t& suppressed) noexcept;

 private:
  std::uint32_t burst_;
  std::chrono::milliseconds window_;
  proto::timestamp window_start_{};
  std::uint32_t used_{0};
  std::uint64_t suppressed_{0};
};

}  // namespace sewage::gateway
