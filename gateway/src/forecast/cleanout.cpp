// The forecast room: when a tank needs a clean-out (issue 14 item 3). See forecast/cleanout.hpp.
#include "sewage/gateway/forecast/cleanout.hpp"

#include "sewage/gateway/engine/flow_normal.hpp"  // quantile

#include <algorithm>
#include <cmath>
#include <map>

namespace sewage::gateway {
namespace {

/// Order statistic at 0-based fractional position `pos` of sorted `v`, interpolated, clamped.
double order_stat(const std::vector<double>& v, double pos) {
  pos = std::clamp(pos, 0.0, static_cast<double>(v.size() - 1));
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

/// Whole days from `level` to `target` at `rise` m/day, rounded up: the first day the trend is at
/// the level (rise > 0, target > level; 1e-9 day of tolerance for the rounding of exact quotients).
std::int32_t days_to(double level, double target, double rise) {
  return static_cast<std::int32_t>(std::min(std::ceil((target - level) / rise - 1e-9), 1e6));
}

}  // namespace

std::string_view to_string(cleanout_status s) noexcept {
  switch (s) {
    case cleanout_status::insufficient_history: return "insufficient_history";
    case cleanout_status::not_rising: return "not_rising";
    case cleanout_status::beyond_horizon: return "beyond_horizon";
    case cleanout_status::forecast: return "forecast";
    case cleanout_status::reached: return "reached";
  }
  return "insufficient_history";
}

std::vector<daily_sludge> daily_sludge_levels(const std::vector<daily_row>& rows) {
  std::map<std::int32_t, std::pair<double, double>> by_day;  // day -> (level x s, s)
  for (const auto& r : rows) {
    auto& d = by_day[r.totals.day];
    d.first += r.totals.sludge_level_s;
    d.second += r.totals.sludge_ok_s;
  }
  std::vector<daily_sludge> out;
  for (const auto& [day, v] : by_day)
    if (v.second >= cleanout_day_covered_s) out.push_back({day, v.first / v.second});
  return out;
}

cleanout_forecast forecast_cleanout(const std::vector<daily_sludge>& days, std::int32_t today, double cleanout_level_m) {
  cleanout_forecast f;
  f.today = today;
  f.cleanout_level_m = cleanout_level_m;
  std::vector<daily_sludge> used;
  for (const auto& d : days) {
    if (d.day < today - cleanout_history_days || d.day >= today) continue;
    if (!used.empty()) {
      const double before = used.back().level_m;
      if (before - d.level_m >= cleanout_fall_m && before - d.level_m >= cleanout_fall_ratio * before) {
        used.clear();  // emptied: the trend starts again after the clean-out
        f.last_cleanout_day = d.day;
      }
    }
    used.push_back(d);
  }
  f.days_used = static_cast<std::uint32_t>(used.size());
  if (!used.empty()) f.first_day = used.front().day;
  if (used.size() < cleanout_min_days) return f;

  // Theil-Sen: the median of the pairwise slopes (days are unique, so every pair has a run).
  std::vector<double> slopes;
  slopes.reserve(used.size() * (used.size() - 1) / 2);
  for (std::size_t i = 0; i < used.size(); ++i)
    for (std::size_t j = i + 1; j < used.size(); ++j)
      slopes.push_back((used[j].level_m - used[i].level_m) / static_cast<double>(used[j].day - used[i].day));
  std::sort(slopes.begin(), slopes.end());
  const double slope = order_stat(slopes, 0.5 * static_cast<double>(slopes.size() - 1));
  // Sen's interval: C = z sqrt(Var S), Var S = n (n - 1) (2n + 5) / 18 (no ties: levels are real
  // numbers); the bounds are the (N - C) / 2-th and the ((N + C) / 2 + 1)-th of the N sorted slopes.
  const double n = static_cast<double>(used.size());
  const double big_n = static_cast<double>(slopes.size());
  const double c = cleanout_interval_z * std::sqrt(n * (n - 1) * (2 * n + 5) / 18.0);
  const double lo = order_stat(slopes, (big_n - c) / 2.0 - 1.0);
  const double hi = order_stat(slopes, (big_n + c) / 2.0);
  // Today's level on the trend: the median of the intercepts at today.
  std::vector<double> at_today;
  at_today.reserve(used.size());
  for (const auto& d : used) at_today.push_back(d.level_m + slope * static_cast<double>(today - d.day));
  const double level = quantile(std::move(at_today), 0.5);
  f.level_m = level;
  f.rise_m_per_day = slope;
  f.rise_low_m_per_day = lo;
  f.rise_high_m_per_day = hi;
  if (level >= cleanout_level_m) {
    f.status = cleanout_status::reached;
    f.due_day = today;
    return f;
  }
  if (slope < cleanout_min_rise_m_per_day) {
    f.status = cleanout_status::not_rising;
    return f;
  }
  const std::int32_t ahead = days_to(level, cleanout_level_m, slope);
  if (ahead > cleanout_horizon_days) {
    f.status = cleanout_status::beyond_horizon;
    return f;
  }
  f.status = cleanout_status::forecast;
  f.due_day = today + ahead;
  f.due_early_day = today + days_to(level, cleanout_level_m, std::max(hi, slope));
  if (lo >= cleanout_min_rise_m_per_day) f.due_late_day = today + days_to(level, cleanout_level_m, lo);
  return f;
}

}  // namespace sewage::gateway
