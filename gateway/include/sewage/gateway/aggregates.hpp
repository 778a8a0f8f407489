#pragma once
/// \file
/// Daily aggregates of one terminal per operating day: effluent volume from totalizer deltas
/// (robust to meter reset, 32-bit wrap and gaps; rate integration only as a marked fallback),
/// turbidity mean and max, compliance and availability.

#include <sewage/proto/telemetry.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

namespace sewage::gateway {

/// The last totalizer reading used for volume deltas of one terminal (persisted).
struct totalizer_cursor {
  double total_m3{0};      ///< last reading, m3
  std::int64_t ts_ms{0};   ///< its record timestamp, ms since epoch UTC
  bool valid{false};
  friend bool operator==(const totalizer_cursor&, const totalizer_cursor&) = default;
};

/// What one record adds to one operating day. Additive: rows for the same (terminal, day) are summed
/// (max for turbidity_max_ntu), so late and replayed records fold in correctly and a store can
/// apply them as increments.
struct daily_delta {
  std::int32_t day{0};              ///< operating day, see operating_day.hpp
  double volume_m3{0};              ///< from totalizer deltas (measured)
  double volume_estimated_m3{0};    ///< from rate x interval (fallback: no totalizer, reset, jump)
  double turbidity_sum_ntu{0};      ///< sum of interval means with status ok
  std::uint32_t turbidity_count{0};
  double turbidity_max_ntu{-1};     ///< -1 = none
  std::uint32_t compliant_count{0}; ///< records with mean turbidity <= the terminal's limit
  std::uint32_t records{0};         ///< accepted (de-duplicated) records

  /// Folds `o` (same day) into this one.
  void add(const daily_delta& o) noexcept;
  friend bool operator==(const daily_delta&, const daily_delta&) = default;
};

/// How the volume of a record was obtained (for metrics and logs).
enum class volume_source { totalizer, wrap, reset, jump, rate_fallback, late, none };

/// Computes the daily deltas of one accepted record and advances `cursor`.
///  * The record belongs to the day of (ts - 1 ms): a window ending exactly at the day boundary
///    belongs to the day that is ending.
///  * Totalizer: delta = total - cursor.total. A gap is fine (the meter counted through it); the
///    delta is spread over the days of [cursor.ts, ts] in proportion to time.
///  * Negative delta with the previous reading in the top 10 % of 2^32 m3 (proto
///    limits::max_total_m3) and a plausible wrapped delta: 32-bit wrap, delta + 2^32.
///  * Other negative delta (meter reset) or a delta above 1200 m3/h x elapsed (proto
///    limits::max_flow_m3h; a jump): fallback rate_m3h x interval_s, into volume_estimated_m3.
///  * No totalizer: rate_m3h x interval_s as estimated volume. First reading: same.
///  * ts not after cursor.ts (late or out of order): no volume (it is inside a later delta).
/// `limit_ntu` is the terminal's compliance limit. Never throws except bad_alloc.
std::vector<daily_delta> record_deltas(const proto::telemetry_record& r, totalizer_cursor& cursor,
                                       double limit_ntu, std::chrono::minutes utc_offset,
                                       volume_source* source = nullptr);

}  // namespace sewage::gateway
