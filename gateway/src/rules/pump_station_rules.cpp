// Pump-station rules on event time (issue 13 item 2): pump_fault, wet_well_high, wet_well_low,
// pump_no_level_drop, power_lost, pump_runtime_abnormal. Each applies to sites of kind pump_station
// only and judges the record's `pump_station` section; what a record does not carry is not judged
// (no level = no level rule: a faulty transmitter is sensor_fault's business).
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

/// Base of the six: pump stations only.
class station_rule : public alert_rule {
 public:
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::pump_station; }
};

/// The wet-well level at the end of the window when the transmitter reads ok.
std::optional<double> level_of(const proto::telemetry_record& r) {
  if (!r.pump_station || r.pump_station->status != proto::quantity_status::ok) return std::nullopt;
  return r.pump_station->wet_well_level_m;
}

class pump_fault final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::pump_fault; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& ps = o.record.pump_station;
    if (!ps || ps->pumps.empty()) return {};  // no pump I/O fitted
    std::string which;
    int faulted = 0;
    for (const auto& p : ps->pumps) {
      if (!p.fault) continue;
      ++faulted;
      if (!which.empty()) which += ", ";
      which += p.id;
    }
    const auto act = debounce_step(s, o.record.ts, faulted > 0, faulted == 0, t.limits.pump_fault_debounce_s);
    if (act == verdict::action::none) return {};
    const auto total = static_cast<double>(ps->pumps.size());
    if (act == verdict::action::raise)
      return make(act, o.record.ts, faulted, 1.0,
                  "Pump fault (thermal or overload trip): " + which + "; " +
                      fmt("%.0f of %.0f pumps available.", total - faulted, total));
    return make(act, o.record.ts, 0, 1.0, fmt("No pump fault input active (%.0f pumps).", total));
  }
};

class wet_well_high final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::wet_well_high; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto level = level_of(o.record);
    if (!level) return {};
    const auto& th = t.limits;
    const double clear = th.wet_well_high_m - th.wet_well_hysteresis_m;
    const auto act = debounce_step(s, o.record.ts, *level > th.wet_well_high_m, *level <= clear, th.wet_well_debounce_s);
    if (act == verdict::action::none) return {};
    return make(act, o.record.ts, *level, th.wet_well_high_m,
                act == verdict::action::raise
                    ? fmt("Wet well at %.2f m, above %.2f m: overflow risk.", *level, th.wet_well_high_m)
                    : fmt("Wet well back to %.2f m (clear level %.2f m).", *level, clear));
  }
};

class wet_well_low final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::wet_well_low; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto level = level_of(o.record);
    if (!level) return {};
    const auto& th = t.limits;
    const double clear = th.wet_well_low_m + th.wet_well_hysteresis_m;
    const auto act = debounce_step(s, o.record.ts, *level < th.wet_well_low_m, *level >= clear, th.wet_well_debounce_s);
    if (act == verdict::action::none) return {};
    return make(act, o.record.ts, *level, th.wet_well_low_m,
                act == verdict::action::raise
                    ? fmt("Wet well at %.2f m, below %.2f m: dry-run risk, or the inflow is lost.", *level, th.wet_well_low_m)
                    : fmt("Wet well back to %.2f m (clear level %.2f m).", *level, clear));
  }
};

class pump_no_level_drop final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::pump_no_level_drop; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& ps = o.record.pump_station;
    const auto level = level_of(o.record);
    if (!ps || ps->pumps.empty() || !level) return {};
    const auto& th = t.limits;
    const double interval = o.record.interval_s;
    // Raising needs a pump running most of every interval; clearing needs any run that works.
    const double need_s = s.active ? 1.0 : th.pump_running_fraction * interval;
    const bool running = std::any_of(ps->pumps.begin(), ps->pumps.end(),
                                     [&](const proto::pump_reading& p) { return p.run_s >= need_s; });
    const std::int64_t ts = o.record.ts.time_since_epoch().count();
    if (!running) {
      s.pending = false;  // the run ended: the next one starts afresh
      return {};
    }
    if (!s.pending) {
      // The run starts with this window: its highest level is the nearest to the level before it.
      s.pending = true;
      s.since_ms = ts - static_cast<std::int64_t>(interval * 1000.0);
      s.aux = std::max(*level, ps->max_level_m.value_or(*level));
    }
    const double drop = s.aux - *level;
    if (s.active) {
      if (drop < th.pump_no_level_drop_m) return {};
      s.active = false;
      s.pending = false;
      return make(verdict::action::clear, o.record.ts, drop, th.pump_no_level_drop_m,
                  fmt("Pumping lowers the wet well again (%.2f m over the run, needed %.2f m).", drop, th.pump_no_level_drop_m));
    }
    const double run_ms = static_cast<double>(ts - s.since_ms);
    if (drop >= th.pump_no_level_drop_m) {
      // Working: judge the rest of a long run from here on (a pump that empties the well and then
      // stalls against a blocked main is still caught).
      s.since_ms = ts;
      s.aux = *level;
      return {};
    }
    if (run_ms < static_cast<double>(th.pump_no_level_drop_intervals) * interval * 1000.0) return {};
    s.active = true;
    s.pending = false;
    return make(verdict::action::raise, o.record.ts, drop, th.pump_no_level_drop_m,
                fmt("A pump ran for %.0f min but the wet well fell only %.2f m", run_ms / 60000.0, drop) +
                    fmt(" (needed %.2f m): blocked rising main, worn or air-locked pump?", th.pump_no_level_drop_m));
  }
};

class power_lost final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::power_lost; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& ps = o.record.pump_station;
    if (!ps || !ps->mains_power) return {};  // mains not monitored
    const bool off = !*ps->mains_power;
    if (off && !s.active && !s.pending) s.aux = 0;  // a new outage
    if (off || s.active)
      s.aux += static_cast<double>(ps->power_lost_s.value_or(off ? o.record.interval_s : 0));
    const auto& th = t.limits;
    const auto act = debounce_step(s, o.record.ts, off, !off, th.power_lost_debounce_s);
    if (act == verdict::action::none) return {};
    if (act == verdict::action::raise)
      return make(act, o.record.ts, s.aux, th.power_lost_debounce_s,
                  fmt("Station mains power lost (%.0f s without mains, limit %.0f s): no pump can run.", s.aux,
                      static_cast<double>(th.power_lost_debounce_s)));
    return make(act, o.record.ts, s.aux, th.power_lost_debounce_s,
                fmt("Station mains power back (%.0f s without mains in all).", s.aux));
  }
};

class pump_runtime_abnormal final : public station_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::pump_runtime_abnormal; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto* v = o.pump_runtime;
    const auto& th = t.limits;
    // No judgement without a normal, on a near-idle normal, or when the last 24 h are not
    // covered by records (a silent station is offline's business, not "below normal").
    if (v == nullptr || !v->normal_h || *v->normal_h < th.pump_runtime_min_normal_h ||
        *v->normal_h <= 0 || v->last_24h_covered_s < 0.8 * 86400.0)
      return {};
    const double normal = *v->normal_h;
    const double ratio = v->last_24h_run_h / normal;
    const bool bad = ratio < th.pump_runtime_low_ratio || ratio > th.pump_runtime_high_ratio;
    const bool good = ratio >= th.pump_runtime_clear_low_ratio && ratio <= th.pump_runtime_clear_high_ratio;
    const auto act = debounce_step(s, o.record.ts, bad, good, th.pump_runtime_debounce_s);
    if (act == verdict::action::none) return {};
    const double h = v->last_24h_run_h;
    if (act == verdict::action::raise)
      return make(act, o.record.ts, h, normal,
                  ratio < th.pump_runtime_low_ratio
                      ? fmt("Pumps ran %.1f h in the last 24 h, far below the station's normal %.1f h: inflow lost upstream?", h, normal)
                      : fmt("Pumps ran %.1f h in the last 24 h, far above the station's normal %.1f h: infiltration, "
                            "a worn pump or a leaking check valve?", h, normal));
    return make(act, o.record.ts, h, normal,
                fmt("Pump run time back near normal (%.1f h in 24 h, normal %.1f h).", h, normal));
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_pump_fault_rule() { return std::make_unique<pump_fault>(); }
std::unique_ptr<alert_rule> make_wet_well_high_rule() { return std::make_unique<wet_well_high>(); }
std::unique_ptr<alert_rule> make_wet_well_low_rule() { return std::make_unique<wet_well_low>(); }
std::unique_ptr<alert_rule> make_pump_no_level_drop_rule() { return std::make_unique<pump_no_level_drop>(); }
std::unique_ptr<alert_rule> make_power_lost_rule() { return std::make_unique<power_lost>(); }
std::unique_ptr<alert_rule> make_pump_runtime_abnormal_rule() { return std::make_unique<pump_runtime_abnormal>(); }

}  // namespace sewage::gateway
