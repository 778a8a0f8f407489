#include "sewage/gateway/aggregates.hpp"
#include "detail/day_sink.hpp"

#include <sewage/proto/limits.hpp>

#include <algorithm>
#include <cmath>

namespace sewage::gateway {

void daily_delta::add(const daily_delta& o) noexcept {
  volume_m3 += o.volume_m3;
  volume_estimated_m3 += o.volume_estimated_m3;
  turbidity_sum_ntu += o.turbidity_sum_ntu;
  turbidity_count += o.turbidity_count;
  turbidity_max_ntu = std::max(turbidity_max_ntu, o.turbidity_max_ntu);
  compliant_count += o.compliant_count;
  records += o.records;
  turbidity_ok_s += o.turbidity_ok_s;
  compliant_s += o.compliant_s;
  totalizer_glitches += o.totalizer_glitches;
  energy_kwh += o.energy_kwh;
  energy_estimated_kwh += o.energy_estimated_kwh;
  energy_records += o.energy_records;
  energy_glitches += o.energy_glitches;
  sludge_level_s += o.sludge_level_s;
  sludge_ok_s += o.sludge_ok_s;
}

std::string_view to_string(totalizer_glitch g) noexcept {
  switch (g) {
    case totalizer_glitch::jitter: return "jitter";
    case totalizer_glitch::dip: return "dip";
    case totalizer_glitch::spike: return "spike";
    case totalizer_glitch::reset: return "reset";
    case totalizer_glitch::rebase: return "rebase";
    case totalizer_glitch::none: break;
  }
  return "none";
}

bool log_limiter::allow(proto::timestamp now, std::uint64_t& suppressed) noexcept {
  if (now - window_start_ >= window_ || now < window_start_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++used_;
  suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

namespace {

namespace lim = totalizer_limits;
constexpr double wrap_m3 = proto::limits::max_total_m3;  // 2^32: the converter's 32-bit register
constexpr double ms_per_h = 3'600'000.0;

/// The reported mean rate when usable, m3/h.
std::optional<double> usable_rate(const proto::telemetry_record& r) {
  if (!r.flow || r.flow->status != proto::quantity_status::ok || !r.flow->rate_m3h) return std::nullopt;
  return *r.flow->rate_m3h;
}

double rate_volume(const proto::telemetry_record& r, double seconds) {
  const auto rate = usable_rate(r);
  return rate ? *rate * seconds / 3600.0 : 0.0;
}

/// Step of the totalizer's reading at `x`: the meter's resolution, or a float32's ulp when larger.
double resolution(double x) {
  int exp = 0;
  (void)std::frexp(std::fabs(x), &exp);  // |x| = m * 2^exp, 0.5 <= m < 1
  return std::max(lim::meter_resolution_m3, std::ldexp(1.0, exp - 24));
}

double jitter_tolerance(double x) { return std::max(lim::jitter_m3, 4 * resolution(x)); }

/// The largest increment the meter can really have counted from `from` to `to` in `elapsed_ms`.
double plausible_increment(double from, double to, std::int64_t elapsed_ms, const proto::telemetry_record& r,
                           const aggregate_params& p) {
  double peak_m3h = p.design_capacity_m3d > 0 ? p.design_capacity_m3d / 24.0 * lim::peak_factor
                                              : proto::limits::max_flow_m3h;
  if (const auto rate = usable_rate(r)) peak_m3h = std::max(peak_m3h, *rate * lim::rate_margin);
  peak_m3h = std::min(peak_m3h, proto::limits::max_flow_m3h);
  const double step = resolution(std::max(std::fabs(from), std::fabs(to)));
  return peak_m3h * static_cast<double>(std::max<std::int64_t>(elapsed_ms, 0)) / ms_per_h + 2 * step;
}

/// How a reading relates to a reference reading.
enum class relation { increment, wrap, jitter, none };

struct judged {
  relation rel{relation::none};
  double increment_m3{0};  ///< for increment and wrap
};

judged judge(double ref, std::int64_t ref_ms, double total, std::int64_t ts_ms, const proto::telemetry_record& r,
             const aggregate_params& p) {
  const double delta = total - ref;
  const double plausible = plausible_increment(ref, total, ts_ms - ref_ms, r, p);
  if (delta >= 0) return delta <= plausible ? judged{relation::increment, delta} : judged{};
  if (-delta <= jitter_tolerance(ref)) return {relation::jitter, 0};
  const double wrapped = delta + wrap_m3;
  if (ref < wrap_m3 && wrapped >= 0 && wrapped <= plausible) return {relation::wrap, wrapped};
  return {};
}

using gateway::detail::day_sink;

void clear_suspect(totalizer_cursor& c) {
  c.suspect_count = 0;
  c.suspect_first_m3 = c.suspect_last_m3 = c.suspect_estimate_m3 = 0;
  c.suspect_first_ts_ms = c.suspect_last_ts_ms = 0;
}

void start_suspect(totalizer_cursor& c, double total, std::int64_t ts_ms, const proto::telemetry_record& r) {
  c.suspect_count = 1;
  c.suspect_first_m3 = c.suspect_last_m3 = total;
  c.suspect_first_ts_ms = c.suspect_last_ts_ms = ts_ms;
  c.suspect_estimate_m3 = rate_volume(r, static_cast<double>(ts_ms - c.ts_ms) / 1000.0);
}

totalizer_glitch series_kind(const totalizer_cursor& c) {
  return c.suspect_first_m3 < c.total_m3 ? totalizer_glitch::dip : totalizer_glitch::spike;
}

/// The totalizer part of record_deltas. `total` is a usable reading.
void totalizer_volume(const proto::telemetry_record& r, double total, totalizer_cursor& c, const aggregate_params& p,
                      day_sink& days, volume_outcome& out) {
  const std::int64_t ts_ms = r.ts.time_since_epoch().count();
  auto glitch = [&](totalizer_glitch kind, std::uint32_t readings, double reading) {
    out.glitch = kind;
    out.glitch_readings = readings;
    out.glitch_reading_m3 = reading;
    out.baseline_m3 = c.total_m3;
    days.own().totalizer_glitches += 1;
  };
  auto take_increment = [&](double increment, double new_total) {
    out.gap_not_spread = !days.spread(increment, c.ts_ms, ts_ms, &daily_delta::volume_m3, lim::spread_bound_days) || out.gap_not_spread;
    c.total_m3 = new_total;
    c.ts_ms = ts_ms;
  };
  if (!c.valid) {
    // First reading: no baseline yet; its own window is estimated from the rate.
    days.own().volume_estimated_m3 += rate_volume(r, r.interval_s);
    out.source = days.own().volume_estimated_m3 > 0 ? volume_source::rate_fallback : volume_source::none;
    c = totalizer_cursor{};
    c.total_m3 = total;
    c.ts_ms = ts_ms;
    c.valid = true;
    return;
  }
  const std::int64_t newest_ms = std::max(c.ts_ms, c.suspect_count > 0 ? c.suspect_last_ts_ms : c.ts_ms);
  if (ts_ms <= newest_ms) {
    out.source = volume_source::late;
    return;
  }
  // 1. Against the baseline: a plausible increment, a wrap or jitter (this also ends a suspect series).
  const auto base = judge(c.total_m3, c.ts_ms, total, ts_ms, r, p);
  if (base.rel != relation::none) {
    const bool ends_series = c.suspect_count > 0;
    if (ends_series) glitch(series_kind(c), c.suspect_count, c.suspect_first_m3);
    if (base.rel == relation::jitter) {
      // Below the baseline by a step or two: nothing flowed; keep the higher value, move its time.
      if (!ends_series) glitch(totalizer_glitch::jitter, 1, total);
      c.ts_ms = ts_ms;
      out.source = ends_series ? volume_source::resolved : volume_source::jitter;
    } else {
      take_increment(base.increment_m3, total);
      out.source = ends_series ? volume_source::resolved
                   : base.rel == relation::wrap ? volume_source::wrap
                                                : volume_source::totalizer;
    }
    clear_suspect(c);
    return;
  }
  // 2. Not explained by the baseline: a suspect reading.
  if (c.suspect_count == 0) {
    start_suspect(c, total, ts_ms, r);
    out.source = volume_source::suspect;
    return;
  }
  const auto next = judge(c.suspect_last_m3, c.suspect_last_ts_ms, total, ts_ms, r, p);
  if (next.rel == relation::none || next.rel == relation::wrap) {
    // The series is broken as well: it was a glitch; this reading starts a new series.
    glitch(series_kind(c), c.suspect_count, c.suspect_first_m3);
    start_suspect(c, total, ts_ms, r);
    out.source = volume_source::suspect;
    return;
  }
  ++c.suspect_count;
  c.suspect_last_m3 = std::max(c.suspect_last_m3, total);
  c.suspect_last_ts_ms = ts_ms;
  out.source = volume_source::suspect;
  const bool rising = c.suspect_last_m3 > c.suspect_first_m3;
  const bool low = c.suspect_first_m3 <= c.total_m3 / 2;  // a reset goes (near) zero
  const bool persisted = c.suspect_last_ts_ms - c.suspect_first_ts_ms >= lim::rebase_confirm_ms;
  if (c.suspect_count < lim::reset_confirm_readings || !rising || !(low || persisted)) return;
  // 3. Confirmed: the series is the meter's new count. What it counted before its first reading
  // is unknown: estimated from the rate. Its own increments are measured.
  const auto kind = low ? totalizer_glitch::reset : totalizer_glitch::rebase;
  glitch(kind, c.suspect_count, c.suspect_first_m3);
  const std::int32_t first_day =
      operating_day(proto::timestamp(std::chrono::milliseconds(c.suspect_first_ts_ms - 1)), p.zone);
  if (first_day >= days.own().day - lim::spread_bound_days)
    days.at(first_day).volume_estimated_m3 += c.suspect_estimate_m3;
  else
    days.own().volume_estimated_m3 += c.suspect_estimate_m3;
  c.total_m3 = c.suspect_first_m3;
  c.ts_ms = c.suspect_first_ts_ms;
  take_increment(c.suspect_last_m3 - c.suspect_first_m3, c.suspect_last_m3);
  c.ts_ms = c.suspect_last_ts_ms;
  clear_suspect(c);
  out.source = kind == totalizer_glitch::reset ? volume_source::reset : volume_source::rebase;
}

}  // namespace

std::vector<daily_delta> record_deltas(const proto::telemetry_record& r, totalizer_cursor& cursor,
                                       const aggregate_params& params, volume_outcome* outcome) {
  using std::chrono::milliseconds;
  const std::int32_t day = operating_day(r.ts - milliseconds(1), params.zone);
  day_sink days(day, params.zone);
  days.own().records = 1;
  if (r.turbidity && r.turbidity->status == proto::quantity_status::ok && r.turbidity->ntu) {
    const double ntu = *r.turbidity->ntu;
    const bool compliant = ntu <= params.turbidity_limit_ntu;
    auto& own = days.own();
    own.turbidity_sum_ntu = ntu;
    own.turbidity_count = 1;
    own.turbidity_max_ntu = r.turbidity->max_ntu.value_or(ntu);
    own.compliant_count = compliant ? 1 : 0;
    // Time weight: the record's window, split at the local midnight it may straddle (at most one
    // day back: interval_s is at most a day, proto limits::max_interval_s).
    const std::int64_t end_ms = r.ts.time_since_epoch().count();
    const std::int64_t start_ms = end_ms - static_cast<std::int64_t>(r.interval_s) * 1000;
    std::int64_t hi = end_ms;
    for (std::int32_t d = day; d >= day - 1 && hi > start_ms; --d) {
      const std::int64_t lo = std::max(start_ms, params.zone.local_midnight(d).time_since_epoch().count());
      if (hi <= lo) break;
      auto& target = days.at(d);
      const double s = static_cast<double>(hi - lo) / 1000.0;
      target.turbidity_ok_s += s;
      if (compliant) target.compliant_s += s;
      hi = lo;
    }
  }
  if (r.sludge && r.sludge->status == proto::quantity_status::ok && r.sludge->level_m) {
    days.own().sludge_level_s = *r.sludge->level_m * r.interval_s;
    days.own().sludge_ok_s = r.interval_s;
  }
  volume_outcome out;
  const bool has_total = r.flow && r.flow->total_m3.has_value() &&
                         r.flow->status != proto::quantity_status::fault &&
                         r.flow->status != proto::quantity_status::stale;
  if (has_total) {
    totalizer_volume(r, *r.flow->total_m3, cursor, params, days, out);
  } else {
    days.own().volume_estimated_m3 = rate_volume(r, r.interval_s);
    if (days.own().volume_estimated_m3 > 0) out.source = volume_source::rate_fallback;
  }
  if (outcome != nullptr) *outcome = out;
  return days.take();
}

}  // namespace sewage::gateway
