#include "sewage/gateway/pump_runtime.hpp"

#include <algorithm>
#include <vector>

namespace sewage::gateway {
namespace {
constexpr std::int64_t hour_ms = 3'600'000;
proto::timestamp from_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }
std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
}  // namespace

std::int64_t pump_run_log::add(std::int64_t ts_ms, double run_s, double interval_s) {
  const std::int64_t h = pump_run_hour_of(ts_ms);
  auto& b = hours_[h];
  b.run_s += run_s;
  b.covered_s += interval_s;
  return h;
}

pump_runtime_view pump_run_log::view(std::int64_t now_ms, const county_zone& zone, std::uint32_t min_days) const {
  pump_runtime_view v;
  const std::int64_t cur = pump_run_hour_of(now_ms);
  for (auto it = hours_.lower_bound(cur - 23 * hour_ms); it != hours_.end() && it->first <= cur; ++it) {
    v.last_24h_run_h += it->second.run_s / 3600.0;
    v.last_24h_covered_s += it->second.covered_s;
  }
  const std::int32_t today = operating_day(from_ms(cur), zone);
  std::vector<double> totals;
  for (std::int32_t d = today - pump_runtime_history_days; d < today; ++d) {
    const std::int64_t start = ms(operating_day_start(d, zone));
    const std::int64_t end = ms(operating_day_start(d + 1, zone));
    double run = 0, covered = 0;
    for (auto it = hours_.lower_bound(start); it != hours_.end() && it->first < end; ++it) {
      run += it->second.run_s;
      covered += it->second.covered_s;
    }
    if (covered >= pump_runtime_complete_day * static_cast<double>(end - start) / 1000.0) totals.push_back(run / 3600.0);
  }
  v.history_days = static_cast<std::uint32_t>(totals.size());
  if (!totals.empty() && v.history_days >= min_days) {
    std::sort(totals.begin(), totals.end());
    const std::size_t n = totals.size();
    v.normal_h = n % 2 == 1 ? totals[n / 2] : (totals[n / 2 - 1] + totals[n / 2]) / 2.0;
  }
  return v;
}

std::int64_t pump_run_log::prune(std::int64_t now_ms, const county_zone& zone) {
  const std::int32_t today = operating_day(from_ms(pump_run_hour_of(now_ms)), zone);
  const std::int64_t cut = ms(operating_day_start(today - pump_runtime_history_days - 1, zone));
  if (cut <= cut_ms_) return 0;
  cut_ms_ = cut;
  hours_.erase(hours_.begin(), hours_.lower_bound(cut));
  return cut;
}

}  // namespace sewage::gateway
