#pragma once
/// \file
/// Turns the samples of one report interval into the quantities of a telemetry record.
#include "sewage/agent/config.hpp"
#include "sewage/agent/pump_station.hpp"
#include "sewage/agent/stats.hpp"

#include <set>
#include <vector>

namespace sewage::agent {

/// Accumulates samples of all devices for the current window. Used from the agent's executor
/// only (not thread-safe).
class interval_builder {
 public:
  /// `fitted`: quantities some configured point provides (others are omitted from records).
  interval_builder(const agent_config& config, std::set<quantity> fitted);

  /// Adds the samples of one poll of one device, taken at `now`: a MONOTONIC time point (the agent
  /// passes agent_clock::elapsed()); only differences are used (clean-out hold_s), so a wall clock
  /// step never shortens or stretches a hold. Samples outside the wire
  /// contract's bounds (proto/limits.hpp) become out_of_range; a stuck reading becomes fault.
  void add(const std::vector<sample>& samples, proto::timestamp now);

  /// Closes the window: fills flow/turbidity/sludge/energy/pump_station of a record (terminal id,
  /// epoch, seq, queue_depth and dropped are left to the caller) and starts a new window.
  /// `monotonic_end`: the end of the window on the same monotonic time base as `add`'s `now`
  /// (pump run times are measured on it); default `end` (tests that use one time base).
  proto::telemetry_record close(proto::timestamp end, std::uint32_t interval_s,
                                std::optional<proto::timestamp> monotonic_end = std::nullopt);

  /// Volume counted by the totalizer in the closing window, m3 (never negative). For logs/tests.
  [[nodiscard]] double last_window_volume_m3() const noexcept { return last_volume_m3_; }

 private:
  sample check(sample s);
  void add_energy_reading(double kwh);
  void close_energy(proto::telemetry_record& r, std::uint32_t interval_s);
  std::set<quantity> fitted_;
  cleanout_source cleanout_source_;
  window_stats flow_rate_, flow_total_, turbidity_, level_, switch_;
  window_stats power_, current_, energy_total_;
  totalizer totalizer_;
  /// The kWh meter's total, with the same wrap/reset/implausible-step handling as the flow
  /// totalizer (a reset or a glitch adds nothing); its increments give the power when no power
  /// point is fitted. Largest credible step: proto limits::max_power_kw for 24 h.
  totalizer energy_meter_{100.0 * 24};
  std::optional<double> latest_kwh_;
  double energy_kwh_{0};
  std::uint32_t energy_steps_{0};  ///< meter readings in the window with a previous reading
  stuck_detector stuck_flow_, stuck_turbidity_, stuck_level_;
  cleanout_detector cleanout_;
  std::optional<double> latest_total_m3_;
  std::optional<bool> switch_state_;
  double volume_m3_{0}, last_volume_m3_{0};
  std::optional<pump_station_window> station_;  ///< set when the config has [pump_station]
};

}  // namespace sewage::agent
