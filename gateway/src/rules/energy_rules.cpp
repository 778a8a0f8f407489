// Energy rules on event time (issue 12 item 5): power_without_flow, flow_without_power. Both judge
// only records whose energy and flow sections are ok: a terminal without a meter (no `energy`
// section) is never judged, and a faulty meter or flowmeter is sensor_fault's business.
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

/// Flow rate and energy of a record when both are usable.
struct both {
  double flow_m3h{0};
  const proto::energy_reading* energy{nullptr};
};

std::optional<both> usable(const proto::telemetry_record& r) {
  if (!r.energy || r.energy->status != proto::quantity_status::ok) return std::nullopt;
  if (!r.flow || r.flow->status != proto::quantity_status::ok || !r.flow->rate_m3h) return std::nullopt;
  return both{*r.flow->rate_m3h, &*r.energy};
}

class power_without_flow final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::power_without_flow; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto u = usable(o.record);
    if (!u) return {};
    const auto& th = t.limits;
    // The running signal: the pump's own current when measured, else the supply's power.
    const bool by_current = u->energy->pump_current_a.has_value();
    if (!by_current && !u->energy->power_kw) return {};
    const double x = by_current ? *u->energy->pump_current_a : *u->energy->power_kw;
    const double on = by_current ? th.pump_running_a : th.power_without_flow_raise_kw;
    const double off = by_current ? th.pump_stopped_a : th.power_without_flow_clear_kw;
    const bool bad = x >= on && u->flow_m3h <= th.power_without_flow_flow_m3h;
    const bool good = x <= off || u->flow_m3h >= th.power_without_flow_flow_clear_m3h;
    const auto act = debounce_step(s, o.record.ts, bad, good, th.power_without_flow_debounce_s);
    if (act == verdict::action::none) return {};
    // value/threshold in kW (proto value_unit); with a current signal the power when known.
    const double kw = u->energy->power_kw.value_or(0.0);
    if (act == verdict::action::raise)
      return make(act, o.record.ts, kw, by_current ? 0.0 : on,
                  by_current ? fmt("Pump draws %.2f A but no effluent flows (%.3f m3/h): pump running dry or outlet blocked?",
                                   x, u->flow_m3h)
                             : fmt("Terminal draws %.2f kW but no effluent flows (%.3f m3/h): pump running dry or outlet blocked?",
                                   x, u->flow_m3h));
    return make(act, o.record.ts, kw, by_current ? 0.0 : on,
                fmt("Power and flow agree again (%.3f m3/h at %.2f kW).", u->flow_m3h, kw));
  }
};

class flow_without_power final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::flow_without_power; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto u = usable(o.record);
    if (!u || !u->energy->power_kw) return {};  // a pump current alone cannot see the blower
    const auto& th = t.limits;
    const double kw = *u->energy->power_kw;
    const bool bad = u->flow_m3h >= th.flow_without_power_flow_m3h && kw <= th.flow_without_power_raise_kw;
    const bool good = kw >= th.flow_without_power_clear_kw || u->flow_m3h <= th.flow_without_power_flow_clear_m3h;
    const auto act = debounce_step(s, o.record.ts, bad, good, th.flow_without_power_debounce_s);
    if (act == verdict::action::none) return {};
    if (act == verdict::action::raise)
      return make(act, o.record.ts, kw, th.flow_without_power_raise_kw,
                  fmt("Effluent flows (%.3f m3/h) but the terminal draws %.3f kW: supply or meter fault, or a bypass?",
                      u->flow_m3h, kw));
    return make(act, o.record.ts, kw, th.flow_without_power_raise_kw,
                fmt("Power back (%.3f kW) or flow gone (%.3f m3/h).", kw, u->flow_m3h));
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_power_without_flow_rule() { return std::make_unique<power_without_flow>(); }
std::unique_ptr<alert_rule> make_flow_without_power_rule() { return std::make_unique<flow_without_power>(); }

}  // namespace sewage::gateway
