#pragma once
/// \file
/// Daily energy of one terminal from its kWh meter (issue 12 item 5): the energy drawn per operating
/// day from real meter increments (glitches recognised, counted and never booked; meter reset,
/// rollover and replacement handled), power x time only as a marked estimate. With the day's volume
/// (aggregates.hpp) this gives the energy per m3 treated. Algorithm: gateway/README.md, "Energy".

#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <sewage/proto/telemetry.hpp>

#include <cstdint>
#include <vector>

namespace sewage::gateway {

/// Constants of the meter algorithm (gateway/README.md, "Energy", explains each).
namespace energy_limits {
/// Resolution of the meter's total, kWh (0.01 kWh: the last digit of DIN-rail meters such as the
/// Chint DTSU666/DDSU666; proto/resolution.hpp unit::kwh).
inline constexpr double meter_resolution_kwh = 0.01;
/// A backwards step up to this is jitter (float rounding, a reading taken mid-update): no energy,
/// the baseline keeps its higher value. kWh.
inline constexpr double jitter_kwh = 0.05;
/// The reported mean power times this also bounds a plausible increment (a window mean
/// under-states its own peak: a pump starting draws more than its mean).
inline constexpr double power_margin = 1.5;
/// A gap's energy is split over the operating days it spans only when it starts at most this many
/// days before the record's day; otherwise it is all booked on the record's day (as the volume).
inline constexpr std::int32_t spread_bound_days = 7;
}  // namespace energy_limits

/// The meter state of one terminal (persisted with the terminal's resume state).
struct energy_cursor {
  double kwh{0};             ///< baseline: the last reading taken as real, kWh
  std::int64_t ts_ms{0};     ///< its record time stamp, ms since epoch UTC
  bool valid{false};
  /// One suspect reading (not explained by the baseline) waits for the next reading: back at the
  /// baseline = it was a glitch (dip/spike); rising plausibly from it = the meter was reset,
  /// rolled over or replaced (new baseline).
  bool suspect{false};
  double suspect_kwh{0};
  std::int64_t suspect_ts_ms{0};
  friend bool operator==(const energy_cursor&, const energy_cursor&) = default;
};

/// How the energy of a record was obtained (metrics, logs, tests).
enum class energy_source {
  none,       ///< no usable energy section
  meter,      ///< a plausible increment from the baseline (measured)
  jitter,     ///< a small backwards step: nothing
  suspect,    ///< held as suspect: nothing yet
  resolved,   ///< back at the baseline after a suspect reading: the glitch is dropped, the increment counts
  reset,      ///< the suspect reading (below the baseline: reset or rollover) is confirmed: new baseline
  rebase,     ///< the suspect reading (above the baseline: meter replaced or set) is confirmed
  estimated,  ///< no total (or the first reading): power x interval, estimated
  late,       ///< stamped at or before the newest reading: nothing (inside a later increment)
};

/// What the terminal's settings say.
struct energy_params {
  /// Largest power the terminal can draw, kW (thresholds::energy_peak_kw); bounds a plausible
  /// increment together with the reported power x energy_limits::power_margin.
  double peak_kw{10.0};
  county_zone zone;
};

/// Computes the energy deltas of one accepted record and advances `cursor`: only the energy fields
/// (energy_kwh, energy_estimated_kwh, energy_records, energy_glitches) of the returned daily deltas
/// are set; the first element is the record's own day (day of ts - 1 ms), further elements earlier
/// days a gap spans. A record without an `energy` section returns an empty vector and leaves the
/// cursor alone. Increment from the baseline: counted when 0 <= d <= max(peak_kw, power_kw x
/// power_margin) x elapsed + 2 x resolution; a step back of at most jitter_kwh is nothing; anything
/// else is held as a suspect reading and never booked (see energy_cursor). The time before a
/// confirmed reset is estimated from the reported power. Never throws except bad_alloc.
std::vector<daily_delta> energy_deltas(const proto::telemetry_record& r, energy_cursor& cursor,
                                       const energy_params& params, energy_source* source = nullptr);

/// Energy per m3 treated of a day, kWh/m3: (energy_kwh + energy_estimated_kwh) / (volume_m3 +
/// volume_estimated_m3); std::nullopt when the day has no energy record or no volume. Never throws.
std::optional<double> energy_per_m3(const daily_delta& d) noexcept;

}  // namespace sewage::gateway
