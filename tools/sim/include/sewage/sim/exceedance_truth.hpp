#pragma once
/// \file
/// The simulated county's TRUE EXCEEDANCES (`exceedance_truth.csv`, county.hpp): episodes in
/// which a terminal's true effluent turbidity or true effluent flow is above the gateway's raise
/// level for longer than its debounce, for scoring (tools/score) turbidity_high and flow_high
/// alerts that the physics bears out (a storm's first flush) apart from false ones. SIMULATION
/// ONLY.
///
/// The tracker runs the gateway's debounce (gateway/src/rules/rules.cpp debounce_step, the
/// turbidity_high and flow_high rules of level_rules.cpp) on the true values sampled at the
/// simulator's step: a condition holds for `debounce_s` when the first sample that meets it and
/// the current one, with every sample between them meeting it too, lie at least `debounce_s`
/// apart. The gateway sees interval means of noisy instruments instead (probe 2 %, flowmeter
/// 1 %), so an episode is only REQUIRED (the gateway must report it) when the value stays above
/// the raise level by a margin for the debounce plus some report intervals; a smaller one is
/// marginal (an alert matching it is neither false nor required).

#include <optional>
#include <string_view>
#include <vector>

namespace sewage::sim {

/// The two alert types a true exceedance stands for (the gateway's alert type names).
enum class exceedance_type { turbidity_high, flow_high };

/// "turbidity_high" | "flow_high". Never throws.
std::string_view to_string(exceedance_type t) noexcept;

/// One rule on one terminal's true value, in the value's own unit (NTU, m3/h).
struct exceedance_rule {
  double raise{0.0};       ///< above it (strictly) the value exceeds
  double clear{0.0};       ///< at or below it the value is back (hysteresis; <= raise)
  double debounce_s{0.0};  ///< each condition must hold this long, s (>= 0)
  /// Relative margin for `required`: the value must be above raise x (1 + margin) (> -1).
  double margin{0.0};
  /// Extra time beyond the debounce for `required`, s (two report intervals: the gateway judges
  /// interval means, one interval after the fact).
  double required_extra_s{0.0};
};

/// The thresholds the truth applies: defaults are the gateway's defaults
/// (gateway/include/sewage/gateway/config.hpp `thresholds`, the values the simulated county's
/// gateway uses); a scenario's `[truth]` table overrides any of them (scenario.hpp), so a county
/// with other limits can be scored. Margins: 5 % for turbidity (the probe's noise is 2 % of one
/// reading, 2.5 sigma; an interval mean of two polls less), 3 % for flow (the flowmeter's 1 %).
struct exceedance_limits {
  double turbidity_raise_ntu{10.0};
  double turbidity_clear_ntu{8.0};
  double turbidity_debounce_s{900.0};
  /// flow_high levels as multiples of the design mean hourly flow (design_capacity_m3d / 24).
  double flow_high_raise_factor{2.5};
  double flow_high_clear_factor{2.0};
  double flow_high_debounce_s{3600.0};
  double turbidity_margin{0.05};
  double flow_margin{0.03};
  /// Report intervals beyond the debounce an episode must last (above the margin) to be required.
  double required_report_intervals{2.0};

  /// The turbidity_high rule (NTU) for agents reporting every `report_interval_s`. Pure.
  [[nodiscard]] exceedance_rule turbidity_rule(double report_interval_s) const noexcept;
  /// The flow_high rule (m3/h) of a terminal of `design_capacity_m3d`. Pure.
  [[nodiscard]] exceedance_rule flow_rule(double design_capacity_m3d, double report_interval_s) const noexcept;
};

/// One true exceedance episode. Times are seconds on the caller's clock (county.cpp: simulated
/// seconds since its origin).
struct exceedance_episode {
  double start_s{0.0};            ///< first sample above the raise level
  std::optional<double> end_s;    ///< when the value had been at or below the clear level for
                                  ///< the debounce; none while ongoing
  double peak{0.0};               ///< highest sample in the episode
  double above_s{0.0};            ///< longest continuous time above the raise level
  double margin_above_s{0.0};     ///< longest continuous time above raise x (1 + margin)
  std::optional<double> raised_s;  ///< when the gateway's rule would raise on the true values
  bool required{false};           ///< margin_above_s >= debounce_s + required_extra_s
};

/// Tracks the episodes of one rule on one terminal's true value. Not thread-safe (one per
/// terminal and type, owned by the simulator's loop).
class exceedance_tracker {
 public:
  /// Throws std::invalid_argument when clear > raise, debounce_s < 0, margin <= -1 or
  /// required_extra_s < 0.
  explicit exceedance_tracker(exceedance_rule rule);

  /// The true value `value` at `t_s` (non-decreasing from call to call; an earlier one is
  /// ignored). An episode opens at the first sample above the raise level while none is open and
  /// closes once the value has been at or below the clear level for the debounce (whether the
  /// rule raised or not: a marginal episode spans the whole band a noisy reading could raise in).
  /// Never throws except bad_alloc.
  void observe(double t_s, double value);

  /// Every episode so far, in start order; the last one may be ongoing.
  [[nodiscard]] const std::vector<exceedance_episode>& episodes() const noexcept { return episodes_; }
  [[nodiscard]] const exceedance_rule& rule() const noexcept { return rule_; }

 private:
  exceedance_rule rule_;
  std::vector<exceedance_episode> episodes_;
  bool open_{false};
  std::optional<double> last_t_;
  std::optional<double> above_since_;         ///< start of the current run above raise
  std::optional<double> margin_above_since_;  ///< start of the current run above raise x (1 + margin)
  std::optional<double> clear_since_;         ///< start of the current run at or below clear
};

}  // namespace sewage::sim
