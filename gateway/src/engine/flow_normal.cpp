// The engine room's learned normal flow per site (issue 14 item 1): see engine/flow_normal.hpp.
#include "sewage/gateway/engine/flow_normal.hpp"


#include <algorithm>
#include <cmath>

namespace sewage::gateway {
namespace {
constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t day_ms = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept { return a >= 0 ? a / b : (a - b + 1) / b; }
}  // namespace

std::string_view to_string(day_type t) noexcept { return t == day_type::weekend ? "weekend" : "weekday"; }

day_type day_type_of(std::int32_t day) noexcept {
  // 1970-01-01 was a Thursday: Monday = 0 .. Sunday = 6.
  const std::int64_t dow = ((static_cast<std::int64_t>(day) + 3) % 7 + 7) % 7;
  return dow >= 5 ? day_type::weekend : day_type::weekday;
}

local_hour local_hour_of(std::int64_t ts_ms, const county_zone& zone) noexcept {
  const auto offset = zone.offset_at(proto::timestamp(std::chrono::milliseconds(ts_ms)));
  const std::int64_t local = ts_ms + std::chrono::duration_cast<std::chrono::milliseconds>(offset).count();
  const std::int64_t day = floor_div(local, day_ms);
  return {static_cast<std::int32_t>(day), static_cast<int>((local - day * day_ms) / hour_ms)};
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

flow_normal prior_flow_normal(double design_capacity_m3d, double load) noexcept {
  flow_normal n;
  const double mean_m3h = std::max(0.0, design_capacity_m3d) / 24.0 * load;
  for (const auto t : {day_type::weekday, day_type::weekend})
    for (int h = 0; h < 24; ++h) n.at(t, h) = {mean_m3h * flow_prior_shape.at(static_cast<std::size_t>(h)), 0.0, 0, true};
  return n;
}

flow_normal learn_flow_normal(const std::vector<flow_hour>& hours, std::int32_t today, const county_zone& zone,
                              double design_capacity_m3d, double load, std::uint32_t min_days,
                              const std::vector<std::int32_t>& wet_days, const flow_normal* previous) {
  flow_normal n = prior_flow_normal(design_capacity_m3d, load);
  n.computed_day = today;
  std::vector<std::int32_t> wet = wet_days;
  std::sort(wet.begin(), wet.end());
  std::array<std::vector<double>, day_type_count * 24> dry;
  std::array<std::vector<double>, day_type_count * 24> all;
  for (const auto& h : hours) {
    if (h.covered_s < flow_normal_hour_covered * 3600.0) continue;
    const auto lh = local_hour_of(h.hour_ms, zone);
    if (lh.day < today - flow_normal_history_days || lh.day >= today) continue;
    const auto i = static_cast<std::size_t>(day_type_of(lh.day)) * 24 + static_cast<std::size_t>(lh.hour);
    const double mean = h.volume_m3 / h.covered_s * 3600.0;
    all.at(i).push_back(mean);
    if (!std::binary_search(wet.begin(), wet.end(), lh.day)) dry.at(i).push_back(mean);
  }
  const auto need = std::max<std::uint32_t>(min_days, 1);
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto& cell = n.cells.at(i);
    if (dry[i].size() < need && all[i].size() >= need && previous != nullptr && !previous->cells.at(i).prior) {
      cell = previous->cells.at(i);  // too few dry days: the last learned value, not the wet median
      continue;
    }
    const auto& means = dry[i].size() >= need ? dry[i] : all[i];
    cell.days = static_cast<std::uint32_t>(means.size());
    if (cell.days < need) continue;
    cell.median_m3h = quantile(means, 0.5);
    cell.low_m3h = quantile(means, flow_normal_low_quantile);
    cell.prior = false;
  }
  return n;
}

std::vector<std::int32_t> wet_days_of(const std::vector<weather_span>& spans, const county_zone& zone) {
  std::vector<std::int32_t> days;
  for (const auto& s : spans) {
    const auto first = local_hour_of(s.from_ms, zone).day;
    const auto last = std::max(first, local_hour_of(std::max(s.to_ms, s.from_ms), zone).day);
    for (auto d = first; d <= last + 1; ++d) days.push_back(d);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return days;
}

void flow_window::add(std::int64_t ts_ms, double rate_m3h, double interval_s, std::uint32_t window_s) noexcept {
  const std::int64_t slot_ms = std::max<std::int64_t>(1, std::int64_t{window_s} * 1000 / std::int64_t{slots});
  if (slot_ms != slot_ms_) {
    ring_ = {};
    slot_ms_ = slot_ms;
  }
  const std::int64_t index = floor_div(ts_ms - 1, slot_ms);
  auto& s = ring_.at(static_cast<std::size_t>(((index % std::int64_t{slots}) + std::int64_t{slots}) % std::int64_t{slots}));
  if (s.index > index) return;  // older than the window
  if (s.index != index) s = {index, 0, 0};
  s.volume_m3 += rate_m3h * interval_s / 3600.0;
  s.covered_s += interval_s;
}

flow_window::sum flow_window::total(std::int64_t now_ms) const noexcept {
  sum out;
  if (slot_ms_ <= 0) return out;
  const std::int64_t newest = floor_div(now_ms - 1, slot_ms_);
  for (const auto& s : ring_) {
    if (s.index < 0 || s.index > newest || s.index <= newest - std::int64_t{slots}) continue;
    out.volume_m3 += s.volume_m3;
    out.covered_s += s.covered_s;
  }
  return out;
}

flow_normal_view make_flow_normal_view(const flow_normal& normal, const flow_window& window, std::int64_t now_ms,
                                       std::uint32_t window_s, const county_zone& zone) noexcept {
  flow_normal_view v;
  v.window_s = window_s;
  const auto sum = window.total(now_ms);
  v.window_covered_s = sum.covered_s;
  v.window_mean_m3h = sum.covered_s > 0 ? sum.volume_m3 / sum.covered_s * 3600.0 : 0.0;
  const double slot_ms = static_cast<double>(window_s) * 1000.0 / static_cast<double>(flow_window::slots);
  double median_sum = 0, low_sum = 0;
  v.normal_low_m3h = std::numeric_limits<double>::infinity();
  v.learned = true;
  for (std::size_t k = 0; k < flow_window::slots; ++k) {
    const auto t = now_ms - static_cast<std::int64_t>((static_cast<double>(k) + 0.5) * slot_ms);
    const auto lh = local_hour_of(t, zone);
    const auto& c = normal.at(day_type_of(lh.day), lh.hour);
    median_sum += c.median_m3h;
    low_sum += c.low_m3h;
    v.normal_low_m3h = std::min(v.normal_low_m3h, c.low_m3h);
    v.learned = v.learned && !c.prior;
  }
  v.normal_m3h = median_sum / static_cast<double>(flow_window::slots);
  v.normal_low_mean_m3h = low_sum / static_cast<double>(flow_window::slots);
  const auto own = local_hour_of(now_ms - 1, zone);
  const auto& c = normal.at(day_type_of(own.day), own.hour);
  v.hour_low_m3h = c.low_m3h;
  v.hour_learned = !c.prior;
  return v;
}

}  // namespace sewage::gateway
