// Level rules on event time: turbidity_high, no_flow, flow_high, cleanout_required, sensor_fault.
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

class turbidity_high final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::turbidity_high; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& tb = o.record.turbidity;
    if (!tb || tb->status != proto::quantity_status::ok || !tb->ntu) return {};
    const double ntu = *tb->ntu;
    const auto& th = t.limits;
    const auto act = debounce_step(s, o.record.ts, ntu > th.turbidity_raise_ntu, ntu <= th.turbidity_clear_ntu,
                                   th.turbidity_debounce_s);
    if (act == verdict::action::none) return {};
    return make(act, o.record.ts, ntu, th.turbidity_raise_ntu,
                act == verdict::action::raise
                    ? fmt("Effluent turbidity %.1f NTU above %.1f NTU (a proxy for suspended solids).", ntu, th.turbidity_raise_ntu)
                    : fmt("Effluent turbidity back to %.1f NTU (clear level %.1f NTU).", ntu, th.turbidity_clear_ntu));
  }
};

class no_flow final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::no_flow; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& f = o.record.flow;
    if (!f || f->status != proto::quantity_status::ok || !f->rate_m3h) return {};
    const double q = *f->rate_m3h;
    const auto& th = t.limits;
    // Where this hour's learned normal flows (issue 14), absence is judged sooner; at night, when
    // night flow is normally absent, and while the normal is the prior, the long debounce holds.
    const auto* n = o.flow_normal;
    const bool flows_normally = n != nullptr && n->hour_learned && n->hour_low_m3h >= th.low_flow_min_normal_m3h;
    const std::uint32_t debounce =
        flows_normally ? std::min(th.no_flow_flowing_debounce_s, th.no_flow_debounce_s) : th.no_flow_debounce_s;
    const auto act = debounce_step(s, o.record.ts, q <= th.no_flow_raise_m3h, q >= th.no_flow_clear_m3h, debounce);
    if (act == verdict::action::none) return {};
    const double for_s = static_cast<double>(o.record.ts.time_since_epoch().count() - s.since_ms) / 1000.0;
    return make(act, o.record.ts, q, th.no_flow_raise_m3h,
                act == verdict::action::raise
                    ? fmt("No effluent flow (%.3f m3/h, at or below %.3f m3/h): blockage or pump failure?", q, th.no_flow_raise_m3h) +
                          (flows_normally ? fmt(" Absent for %.0f min in hours when this site normally flows (p10 %.3f m3/h).",
                                                for_s / 60.0, n->hour_low_m3h)
                                          : std::string())
                    : fmt("Effluent flow resumed (%.3f m3/h, clear level %.3f m3/h).", q, th.no_flow_clear_m3h));
  }
};

class flow_high final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::flow_high; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& f = o.record.flow;
    if (!f || f->status != proto::quantity_status::ok || !f->rate_m3h) return {};
    const double q = *f->rate_m3h;
    const double mean_hourly = t.design_capacity_m3d / 24.0;
    const double raise = mean_hourly * t.limits.flow_high_raise_factor;
    const double clear = mean_hourly * t.limits.flow_high_clear_factor;
    const auto act = debounce_step(s, o.record.ts, q > raise, q <= clear, t.limits.flow_high_debounce_s);
    if (act == verdict::action::none) return {};
    return make(act, o.record.ts, q, raise,
                act == verdict::action::raise
                    ? fmt("Effluent flow %.2f m3/h above %.2f m3/h (over design capacity).", q, raise)
                    : fmt("Effluent flow back to %.2f m3/h (clear level %.2f m3/h).", q, clear));
  }
};

class cleanout_required final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::cleanout_required; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto& sl = o.record.sludge;
    if (!sl || sl->status != proto::quantity_status::ok || !sl->cleanout_required) return {};
    const bool flag = *sl->cleanout_required;
    const auto act = debounce_step(s, o.record.ts, flag, !flag, t.limits.cleanout_debounce_s);
    if (act == verdict::action::none) return {};
    const double level = sl->level_m.value_or(flag ? 1.0 : 0.0);
    return make(act, o.record.ts, level, 1.0,
                act == verdict::action::raise
                    ? fmt("Sludge tank needs a clean-out (level %.2f m).", level)
                    : fmt("Clean-out done: flag cleared (level %.2f m).", level));
  }
};

class sensor_fault final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::sensor_fault; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    std::string which;
    int faulty = 0;
    auto check = [&](const char* name, const auto& q) {
      if (q && q->status != proto::quantity_status::ok) {
        ++faulty;
        if (!which.empty()) which += ", ";
        which += name;
        which += " ";
        which += proto::to_string(q->status);
        if (q->reason) which += " (" + *q->reason + ")";
      }
    };
    check("flow", o.record.flow);
    check("turbidity", o.record.turbidity);
    check("sludge", o.record.sludge);
    check("energy", o.record.energy);
    check("wet_well_level", o.record.pump_station);  // a pump station's level transmitter
    const auto act = debounce_step(s, o.record.ts, faulty > 0, faulty == 0, t.limits.sensor_fault_debounce_s);
    if (act == verdict::action::none) return {};
    return make(act, o.record.ts, faulty, 1.0,
                act == verdict::action::raise ? "Sensor fault: " + which + "."
                                              : std::string("All fitted sensors report ok again."));
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_turbidity_high_rule() { return std::make_unique<turbidity_high>(); }
std::unique_ptr<alert_rule> make_no_flow_rule() { return std::make_unique<no_flow>(); }
std::unique_ptr<alert_rule> make_flow_high_rule() { return std::make_unique<flow_high>(); }
std::unique_ptr<alert_rule> make_cleanout_required_rule() { return std::make_unique<cleanout_required>(); }
std::unique_ptr<alert_rule> make_sensor_fault_rule() { return std::make_unique<sensor_fault>(); }

}  // namespace sewage::gateway
