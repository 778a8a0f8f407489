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

std::unique_ptr<alert_rule> make_offline_rule();
std::unique_ptr<alert_rule> make_turbidity_high_rule();
std::unique_ptr<alert_rule> make_no_flow_rule();
std::unique_ptr<alert_rule> make_flow_high_rule();
std::unique_ptr<alert_rule> make_cleanout_required_rule();
std::unique_ptr<alert_rule> make_sensor_fault_rule();
std::unique_ptr<alert_rule> make_queue_overflow_rule();
std::unique_ptr<alert_rule> make_clock_skew_rule();

/// Every built-in rule: the registration list.
rule_set default_rules();

/// Shared debounce/hysteresis step used by level rules (exposed for tests).
/// `bad` = raise condition holds, `good` = clear condition holds (both false inside the hysteresis
/// band). A raise needs `bad` continuously for `debounce_s` of event time; a clear needs `good`
/// for the same time. `t` is the event time. Returns raise/clear or none. Never throws.
verdict::action debounce_step(rule_state& s, proto::timestamp t, bool bad, bool good,
                              std::uint32_t debounce_s) noexcept;

}  // namespace sewage::gateway
