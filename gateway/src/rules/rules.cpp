#include "sewage/gateway/rules.hpp"

#include <stdexcept>
#include <string>

namespace sewage::gateway {

void rule_set::add(std::unique_ptr<alert_rule> rule) {
  if (find(rule->type()) != nullptr)
    throw std::invalid_argument("a rule for " + std::string(proto::to_string(rule->type())) + " is already registered");
  rules_.push_back(std::move(rule));
}

const alert_rule* rule_set::find(proto::alert_type type) const noexcept {
  for (const auto& r : rules_)
    if (r->type() == type) return r.get();
  return nullptr;
}

rule_set default_rules() {
  rule_set s;
  s.add(make_offline_rule());
  s.add(make_turbidity_high_rule());
  s.add(make_no_flow_rule());
  s.add(make_flow_high_rule());
  s.add(make_cleanout_required_rule());
  s.add(make_sensor_fault_rule());
  s.add(make_queue_overflow_rule());
  s.add(make_clock_skew_rule());
  s.add(make_power_without_flow_rule());
  s.add(make_flow_without_power_rule());
  s.add(make_pump_fault_rule());
  s.add(make_wet_well_high_rule());
  s.add(make_wet_well_low_rule());
  s.add(make_pump_no_level_drop_rule());
  s.add(make_power_lost_rule());
  s.add(make_pump_runtime_abnormal_rule());
  s.add(make_low_flow_rule());
  s.add(make_cleanout_due_soon_rule());
  return s;
}

verdict::action debounce_step(rule_state& s, proto::timestamp t, bool bad, bool good,
                              std::uint32_t debounce_s) noexcept {
  const std::int64_t now_ms = t.time_since_epoch().count();
  const bool wanted = s.active ? good : bad;
  if (!wanted) {
    s.pending = false;
    return verdict::action::none;
  }
  if (!s.pending) {
    s.pending = true;
    s.since_ms = now_ms;
  }
  if (now_ms - s.since_ms < static_cast<std::int64_t>(debounce_s) * 1000) return verdict::action::none;
  s.pending = false;
  s.active = !s.active;
  return s.active ? verdict::action::raise : verdict::action::clear;
}

}  // namespace sewage::gateway
