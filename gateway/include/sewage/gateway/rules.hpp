#pragma once
/// \file
/// The built-in alert rules and the one place where they are registered.

#include "sewage/gateway/alert_rule.hpp"

#include <memory>
#include <vector>

namespace sewage::gateway {

/// Rules indexed by proto::alert_type (at most one per type). Immutable after construction.
class rule_set {
 public:
  /// Adds a rule; throws std::invalid_argument if its type already has one.
  void add(std::unique_ptr<alert_rule> rule);
  /// The rule for `type`, or nullptr. Never throws.
  [[nodiscard]] const alert_rule* find(proto::alert_type type) const noexcept;
  [[nodiscard]] const std::vector<std::unique_ptr<alert_rule>>& rules() const noexcept { return rules_; }

 private:
  std::vector<std::unique_ptr<alert_rule>> rules_;
};

// Factories of the built-in rules (each throws only bad_alloc). Thresholds come from the
// terminal's `thresholds` (config.hpp, county defaults with registry overrides); the reasoning for
// each default is in gateway/README.md.

/// offline, ARRIVAL time (tick): last will, or no live record for offline_after_intervals x the
/// report interval, never before presence_view::grace_until; cleared by the next live record.
std::unique_ptr<alert_rule> make_offline_rule();
/// turbidity_high: mean NTU > turbidity_raise_ntu; clear <= turbidity_clear_ntu; turbidity_debounce_s.
std::unique_ptr<alert_rule> make_turbidity_high_rule();
/// no_flow: rate m3/h <= no_flow_raise_m3h; clear >= no_flow_clear_m3h; no_flow_debounce_s.
std::unique_ptr<alert_rule> make_no_flow_rule();
/// flow_high: rate m3/h > flow_high_raise_factor x design_capacity_m3d / 24; clear <= clear factor.
std::unique_ptr<alert_rule> make_flow_high_rule();
/// cleanout_required: the agent's flag set (clear: unset) for cleanout_debounce_s.
std::unique_ptr<alert_rule> make_cleanout_required_rule();
/// sensor_fault: any fitted quantity not ok (fault incl. stuck, out_of_range, stale) for
/// sensor_fault_debounce_s; cleared when all are ok for the same time.
std::unique_ptr<alert_rule> make_sensor_fault_rule();
/// queue_overflow: `dropped` increased within one agent run; cleared after queue_overflow_clear_s
/// of event time without a new drop.
std::unique_ptr<alert_rule> make_queue_overflow_rule();
/// clock_skew: abs(ts - arrival) s > clock_skew_raise_s (a past ts only when live); clear <= clock_skew_clear_s.
std::unique_ptr<alert_rule> make_clock_skew_rule();

/// power_without_flow (energy_rules.cpp): the pump current >= pump_running_a (when the record has
/// one) or the power >= power_without_flow_raise_kw, while the rate <= power_without_flow_flow_m3h,
/// for power_without_flow_debounce_s; clear when current <= pump_stopped_a / power <=
/// power_without_flow_clear_kw or rate >= power_without_flow_flow_clear_m3h. Only records whose
/// energy and flow are both ok are judged (no meter: never raised).
std::unique_ptr<alert_rule> make_power_without_flow_rule();
/// flow_without_power: rate >= flow_without_power_flow_m3h while power <= flow_without_power_raise_kw
/// for flow_without_power_debounce_s; clear when power >= flow_without_power_clear_kw or rate <=
/// flow_without_power_flow_clear_m3h. Needs power_kw in the record.
std::unique_ptr<alert_rule> make_flow_without_power_rule();

/// Every built-in rule: the registration list.
rule_set default_rules();

/// Shared debounce/hysteresis step used by level rules (exposed for tests).
/// `bad` = raise condition holds, `good` = clear condition holds (both false inside the hysteresis
/// band). A raise needs `bad` continuously for `debounce_s` of event time; a clear needs `good`
/// for the same time. `t` is the event time. Returns raise/clear or none. Never throws.
verdict::action debounce_step(rule_state& s, proto::timestamp t, bool bad, bool good,
                              std::uint32_t debounce_s) noexcept;

}  // namespace sewage::gateway
