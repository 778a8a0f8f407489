#include "sewage/gateway/energy.hpp"
#include "detail/day_sink.hpp"

#include <sewage/proto/limits.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace sewage::gateway {
namespace {

namespace lim = energy_limits;
constexpr double ms_per_h = 3'600'000.0;

std::optional<double> usable_power(const proto::telemetry_record& r) {
  if (!r.energy || r.energy->status != proto::quantity_status::ok || !r.energy->power_kw) return std::nullopt;
  return *r.energy->power_kw;
}

double power_energy(const proto::telemetry_record& r, double seconds) {
  const auto p = usable_power(r);
  return p ? *p * std::max(seconds, 0.0) / 3600.0 : 0.0;
}

double plausible(std::int64_t elapsed_ms, const proto::telemetry_record& r, const energy_params& p) {
  double peak = std::min(p.peak_kw, proto::limits::max_power_kw);
  if (const auto pw = usable_power(r)) peak = std::max(peak, *pw * lim::power_margin);
  return peak * static_cast<double>(std::max<std::int64_t>(elapsed_ms, 0)) / ms_per_h + 2 * lim::meter_resolution_kwh;
}

using sink = gateway::detail::day_sink;

energy_source meter_step(const proto::telemetry_record& r, double total, energy_cursor& c, const energy_params& p,
                         sink& days) {
  const std::int64_t ts_ms = r.ts.time_since_epoch().count();
  if (!c.valid) {
    days.own().energy_estimated_kwh += power_energy(r, r.interval_s);
    c = energy_cursor{total, ts_ms, true};
    return energy_source::estimated;
  }
  if (ts_ms <= std::max(c.ts_ms, c.suspect ? c.suspect_ts_ms : c.ts_ms)) return energy_source::late;
  const double delta = total - c.kwh;
  if (delta >= 0 && delta <= plausible(ts_ms - c.ts_ms, r, p)) {
    const bool ended = c.suspect;
    if (ended) days.own().energy_glitches += 1;
    days.spread(delta, c.ts_ms, ts_ms, &daily_delta::energy_kwh, lim::spread_bound_days);
    c = energy_cursor{total, ts_ms, true};
    return ended ? energy_source::resolved : energy_source::meter;
  }
  if (delta < 0 && -delta <= lim::jitter_kwh) {
    const bool ended = c.suspect;
    if (ended) days.own().energy_glitches += 1;
    c.ts_ms = ts_ms;  // keep the higher value, move its time
    c.suspect = false;
    return ended ? energy_source::resolved : energy_source::jitter;
  }
  if (c.suspect) {
    const double d2 = total - c.suspect_kwh;
    if (d2 >= 0 && d2 <= plausible(ts_ms - c.suspect_ts_ms, r, p)) {
      // Confirmed: the meter counts from the suspect reading on. What it drew between the baseline
      // and the suspect reading is unknown: estimated from the power.
      const bool reset = c.suspect_kwh < c.kwh;
      days.own().energy_glitches += 1;
      days.own().energy_estimated_kwh += power_energy(r, static_cast<double>(c.suspect_ts_ms - c.ts_ms) / 1000.0);
      days.spread(d2, c.suspect_ts_ms, ts_ms, &daily_delta::energy_kwh, lim::spread_bound_days);
      c = energy_cursor{total, ts_ms, true};
      return reset ? energy_source::reset : energy_source::rebase;
    }
    days.own().energy_glitches += 1;  // the held reading was a glitch; this one is the new suspect
  }
  c.suspect = true;
  c.suspect_kwh = total;
  c.suspect_ts_ms = ts_ms;
  return energy_source::suspect;
}

}  // namespace

std::vector<daily_delta> energy_deltas(const proto::telemetry_record& r, energy_cursor& cursor,
                                       const energy_params& params, energy_source* source) {
  if (source != nullptr) *source = energy_source::none;
  if (!r.energy) return {};
  using std::chrono::milliseconds;
  sink days(operating_day(r.ts - milliseconds(1), params.zone), params.zone);
  const auto& e = *r.energy;
  energy_source src = energy_source::none;
  if (e.status == proto::quantity_status::ok) days.own().energy_records = 1;
  const bool has_total = e.kwh_total.has_value() && e.status != proto::quantity_status::fault &&
                         e.status != proto::quantity_status::stale;
  if (has_total) {
    src = meter_step(r, *e.kwh_total, cursor, params, days);
  } else if (const double est = power_energy(r, r.interval_s); est > 0) {
    days.own().energy_estimated_kwh += est;
    src = energy_source::estimated;
  }
  if (source != nullptr) *source = src;
  return days.take();
}

std::optional<double> energy_per_m3(const daily_delta& d) noexcept {
  const double volume = d.volume_m3 + d.volume_estimated_m3;
  if (d.energy_records == 0 || volume <= 0) return std::nullopt;
  return (d.energy_kwh + d.energy_estimated_kwh) / volume;
}

}  // namespace sewage::gateway
