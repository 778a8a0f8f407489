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
/// no_flow: rate m3/h <= no_flow_raise_m3h; clear >= no_flow_clear_m3h; no_flow_debounce_s, or
/// min(no_flow_flowing_debounce_s, no_flow_debounce_s) when the record's hour has a learned normal
/// whose low quantile is at least low_flow_min_normal_m3h (observation::flow_normal).
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

// Pump stations (pump_station_rules.cpp; issue 13 item 2). Each applies to sites of kind
// pump_station only and judges the record's `pump_station` section on event time; a record
// without it (or without the part a rule needs) is not judged. Thresholds: config.hpp "Pump
// stations"; reasoning in gateway/README.md "Pump stations".

/// pump_fault: any pump's fault input active for pump_fault_debounce_s; clear when none is for
/// the same time. value = faulted pumps (count), threshold 1.
std::unique_ptr<alert_rule> make_pump_fault_rule();
/// wet_well_high: level (status ok) > wet_well_high_m for wet_well_debounce_s; clear at <=
/// wet_well_high_m - wet_well_hysteresis_m for the same time. value/threshold m.
std::unique_ptr<alert_rule> make_wet_well_high_rule();
/// wet_well_low: level < wet_well_low_m for wet_well_debounce_s; clear at >= wet_well_low_m +
/// wet_well_hysteresis_m for the same time. value/threshold m.
std::unique_ptr<alert_rule> make_wet_well_low_rule();
/// pump_no_level_drop: a pump ran >= pump_running_fraction of each interval for
/// pump_no_level_drop_intervals x the interval and the level fell by less than pump_no_level_drop_m
/// from the start of the run (the first running window's max_level_m, else its level). Clear: a
/// later run (any pump running) that lowers the level by pump_no_level_drop_m. value = the level's
/// drop over the run, m (negative: it rose); threshold = pump_no_level_drop_m.
/// state: pending = in a run, since_ms = the run's start, aux = the level at its start.
std::unique_ptr<alert_rule> make_pump_no_level_drop_rule();
/// power_lost: mains_power false for power_lost_debounce_s; clear when true for the same time.
/// value = seconds without mains in the episode (sum of power_lost_s, else interval_s per record);
/// threshold = the debounce. A record without mains_power (not monitored) is not judged.
std::unique_ptr<alert_rule> make_power_lost_rule();
/// pump_runtime_abnormal: run hours of the last 24 h (observation::pump_runtime) outside
/// [pump_runtime_low_ratio, pump_runtime_high_ratio] x the station's normal (median of its
/// previous 7 complete daily run totals, at least pump_runtime_min_days of them) for
/// pump_runtime_debounce_s; clear within [clear_low, clear_high] x normal for the same time. Not
/// judged without a normal, with a normal below pump_runtime_min_normal_h, or when less than 80 %
/// of the last 24 h is covered by records. value = run hours (h), threshold = the normal (h).
std::unique_ptr<alert_rule> make_pump_runtime_abnormal_rule();

/// low_flow (flow_normal_rules.cpp; issue 14): the mean flow over the last low_flow_window_s
/// (observation::flow_normal) below low_flow_raise_ratio x the site's learned normal (median) for
/// those hours and below their learned low quantile, for low_flow_debounce_s; raised only where every hour of the window is learned (not
/// the prior) with a low quantile of at least low_flow_min_normal_m3h (not at night when night flow
/// is normally near zero). Clear at >= low_flow_clear_ratio x normal for the same time, in any
/// hour. Not judged when less than low_flow_min_covered of the window has good flow readings.
/// value = the window's mean (m3/h), threshold = the normal (m3/h). Terminals only.
std::unique_ptr<alert_rule> make_low_flow_rule();
/// Share of low_flow's window that records with good flow must cover before it is judged.
inline constexpr double low_flow_min_covered = 0.8;
/// cleanout_due_soon (cleanout_rules.cpp; issue 14 item 3), a notice: the clean-out forecast
/// (observation::cleanout) has a due date at most cleanout_due_soon_days after the day it was made
/// (status forecast); cleared when the forecast no longer says so (after a clean-out the history
/// starts again; a slower trend moves the date out) - but not while the trend has reached the
/// level (cleanout_required then tells the rest). No debounce: the forecast changes once a day.
/// Never raised when cleanout_due_soon_days is 0. value = the trend's level today (m), threshold =
/// cleanout_level_m (m). Terminals only.
std::unique_ptr<alert_rule> make_cleanout_due_soon_rule();

/// Every built-in rule: the registration list.
rule_set default_rules();

/// Shared debounce/hysteresis step used by level rules (exposed for tests).
/// `bad` = raise condition holds, `good` = clear condition holds (both false inside the hysteresis
/// band). A raise needs `bad` continuously for `debounce_s` of event time; a clear needs `good`
/// for the same time. `t` is the event time. Returns raise/clear or none. Never throws.
verdict::action debounce_step(rule_state& s, proto::timestamp t, bool bad, bool good,
                              std::uint32_t debounce_s) noexcept;

}  // namespace sewage::gateway
