#pragma once
/// \file
/// A pump station's run time per hour (issue 13 item 2, pump_runtime_abnormal): the hourly log
/// the rule's "run hours in the last 24 h" and "normal" (median of the previous 7 complete daily
/// totals) come from. Kept per station in the engine and in the store (table pump_run_hours, one
/// row per station and hour, about 9 days), so a restart keeps the history.
///
/// A record adds its pumps' run_s (summed over the pumps: pump hours) and its interval_s (the time
/// it covers) to the UTC hour its window ends in (`ts - 1 ms`). A window straddling an hour
/// boundary is booked whole on its ending hour (reports are 60 s; a 15-min window moves at most
/// 15 min of run time across the boundary, negligible for a 24 h sum). An hour belongs to the
/// operating day of its start, exact for zones whose offset is whole hours (Asia/Shanghai).

#include "sewage/gateway/alert_rule.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace sewage::gateway {

/// One station-hour as stored.
struct pump_run_hour {
  std::string site_id;
  std::int64_t hour_ms{0};   ///< start of the UTC hour, ms since the epoch
  double run_s{0};           ///< pump run seconds booked on that hour (all pumps)
  double covered_s{0};       ///< seconds of report windows booked on that hour
  friend bool operator==(const pump_run_hour&, const pump_run_hour&) = default;
};

/// A day counts as history when records cover at least this share of it.
inline constexpr double pump_runtime_complete_day = 0.8;
/// Days of history the normal is taken over (the contract's 7).
inline constexpr std::int32_t pump_runtime_history_days = 7;

/// The hourly run log of one station. Not thread-safe (the engine's thread).
class pump_run_log {
 public:
  struct hour {
    double run_s{0};
    double covered_s{0};
  };
  /// Books one record: its window ends at `ts_ms` (effective time), pumps ran `run_s` in total,
  /// the window is `interval_s` long. Returns the hour's start (ms). Never throws except bad_alloc.
  std::int64_t add(std::int64_t ts_ms, double run_s, double interval_s);
  /// Restores one stored hour (load at start).
  void restore(std::int64_t hour_ms, double run_s, double covered_s) { hours_[hour_ms] = {run_s, covered_s}; }
  /// The view at event time `now_ms`: the current hour and the 23 before it; the previous 7
  /// operating days' totals (complete days only) and their median when at least `min_days`.
  [[nodiscard]] pump_runtime_view view(std::int64_t now_ms, const county_zone& zone, std::uint32_t min_days) const;
  /// Forgets hours before the operating day 8 days before `now_ms`'s. Returns the cut (ms) when it
  /// moved forward (stored rows before it can go too), else 0.
  std::int64_t prune(std::int64_t now_ms, const county_zone& zone);
  [[nodiscard]] const std::map<std::int64_t, hour>& hours() const noexcept { return hours_; }

 private:
  std::map<std::int64_t, hour> hours_;
  std::int64_t cut_ms_{0};
};

/// Start of the UTC hour holding the window that ends at `ts_ms` (ts - 1 ms). Never throws.
constexpr std::int64_t pump_run_hour_of(std::int64_t ts_ms) noexcept {
  const std::int64_t t = ts_ms - 1;
  const std::int64_t h = 3'600'000;
  return (t >= 0 ? t / h : (t - h + 1) / h) * h;
}

}  // namespace sewage::gateway
