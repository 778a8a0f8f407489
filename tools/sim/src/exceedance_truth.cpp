#include "sewage/sim/exceedance_truth.hpp"

#include <algorithm>
#include <stdexcept>

namespace sewage::sim {

std::string_view to_string(exceedance_type t) noexcept {
  return t == exceedance_type::turbidity_high ? "turbidity_high" : "flow_high";
}

exceedance_rule exceedance_limits::turbidity_rule(double report_interval_s) const noexcept {
  return {turbidity_raise_ntu, turbidity_clear_ntu, turbidity_debounce_s, turbidity_margin,
          required_report_intervals * report_interval_s};
}

exceedance_rule exceedance_limits::flow_rule(double design_capacity_m3d, double report_interval_s) const noexcept {
  const double mean_hourly = design_capacity_m3d / 24.0;
  return {flow_high_raise_factor * mean_hourly, flow_high_clear_factor * mean_hourly, flow_high_debounce_s,
          flow_margin, required_report_intervals * report_interval_s};
}

exceedance_tracker::exceedance_tracker(exceedance_rule rule) : rule_(rule) {
  if (!(rule.clear <= rule.raise)) throw std::invalid_argument("exceedance rule: clear must be <= raise");
  if (!(rule.debounce_s >= 0.0)) throw std::invalid_argument("exceedance rule: debounce_s must be >= 0");
  if (!(rule.margin > -1.0)) throw std::invalid_argument("exceedance rule: margin must be > -1");
  if (!(rule.required_extra_s >= 0.0)) throw std::invalid_argument("exceedance rule: required_extra_s must be >= 0");
}

void exceedance_tracker::observe(double t_s, double value) {
  if (last_t_ && t_s < *last_t_) return;
  last_t_ = t_s;
  // Runs of consecutive samples meeting each condition (the gateway's debounce_step: the time
  // from the first sample of the run to this one).
  auto run = [t_s](std::optional<double>& since, bool holds) -> double {
    if (!holds) {
      since.reset();
      return -1.0;
    }
    if (!since) since = t_s;
    return t_s - *since;
  };
  const double above = run(above_since_, value > rule_.raise);
  const double margin_above = run(margin_above_since_, value > rule_.raise * (1.0 + rule_.margin));
  const double cleared = run(clear_since_, value <= rule_.clear);
  if (!open_) {
    if (above < 0.0) return;
    open_ = true;
    exceedance_episode e;
    e.start_s = t_s;
    e.peak = value;
    episodes_.push_back(e);
  }
  auto& e = episodes_.back();
  e.peak = std::max(e.peak, value);
  e.above_s = std::max(e.above_s, above);
  e.margin_above_s = std::max(e.margin_above_s, margin_above);
  if (!e.raised_s && above >= rule_.debounce_s) e.raised_s = t_s;
  e.required = e.margin_above_s >= rule_.debounce_s + rule_.required_extra_s;
  if (cleared >= rule_.debounce_s) {
    e.end_s = t_s;
    open_ = false;
  }
}

}  // namespace sewage::sim
