#pragma once
/// \file
/// The physical truth of one simulated terminal: effluent flow and volume, effluent turbidity and
/// sludge level, driven by the BSM1-derived influent and by scripted faults.

#include "sewage/sim/influent.hpp"

#include <cstdint>
#include <span>

namespace sewage::sim {

/// Fixed properties of one terminal. Defaults are documented, provisional engineering values.
struct terminal_params {
  double design_capacity_m3d{20.0};  ///< from the registry
  /// Mean inflow as a share of design capacity. Rural terminals are commonly sized with margin
  /// for village growth and run at 40-80 %; 0.6 keeps the BSM1 peak (1.74x mean) under capacity.
  double load_factor{0.6};
  double phase_days{0.0};        ///< offset into the influent table, so villages differ
  /// Share of influent TSS removed (provisional). With BSM1 influent TSS of 100-320 g/m3 it gives
  /// effluent TSS of 5-16 mg/L, typical of a working small biological terminal.
  double tss_removal{0.95};
  /// mg/L TSS per NTU (provisional; standards.md section 3: 1.5-2.4 is plausible, site-specific).
  double tss_per_ntu{2.0};
  double sludge_level_start_m{0.4};   ///< sludge level at the start of the simulation
  double sludge_m_per_m3{0.00005};    ///< level rise per m3 treated (0.2 m a year at 10 m3/d)
  double sludge_after_cleanout_m{0.1};  ///< residual level after a clean-out
  double totalizer_start_m3{0.0};     ///< the flowmeter's reading at the start
  /// Electricity (issue 12 item 5; provisional values of a small A/O terminal): the aeration
  /// blower runs continuously (0.37 kW: the smallest common ring blower), the lift pump (0.75 kW)
  /// runs for the share of time flow / pump_rate (a pump sized at 3x the design mean hourly flow).
  /// Mean power 0.4-1.1 kW.
  double blower_kw{0.37};
  double pump_kw{0.75};
  double pump_rate_factor{3.0};       ///< pump rate as a multiple of design_capacity_m3d / 24
  double meter_start_kwh{1000.0};     ///< the kWh meter's reading at the start
};

/// Fault effects on the physics (sensor faults act on the emulated instruments instead).
struct physical_faults {
  bool no_flow{false};              ///< blockage or pump failure: effluent flow is zero
  double turbidity_factor{1.0};     ///< treatment upset multiplies effluent turbidity
  double sludge_extra_m_per_h{0.0};  ///< forced sludge rise (scripted "sludge reaches clean-out")
  bool pump_dry_run{false};         ///< the pump runs on without moving water (no flow, pump on)
  /// Share of the catchment's influent that reaches the terminal (issue 13: network faults and
  /// pump stations upstream cut some off; network_flow::step). 1 = all of it; clamped to 0..3.
  double inflow_share{1.0};
};

/// The simulated county's village `index` (0-based, registry order of terminals) with the
/// registry's `design_capacity_m3d`: its phase into the influent table (0-14 days), load factor
/// (0.45-0.75), sludge level (0.2-0.8 m), flowmeter totalizer (5,000-60,000 m3) and kWh meter
/// (20,000 kWh) at the start, drawn from a generator seeded by the index, so that the county
/// (county.cpp) and its history (history.hpp) simulate the same villages. Pure; never throws.
terminal_params village_params(double design_capacity_m3d, std::uint64_t index);

class terminal_model {
 public:
  /// `profile` must outlive the model. Throws std::invalid_argument for a non-positive capacity.
  terminal_model(const influent_profile& profile, terminal_params params);

  /// Advances the truth to `t_days` (days since the simulation start; must not go back), with
  /// `weather` active since `weather_start_days` and `faults` in force over the step. Volume is
  /// integrated in steps of at most 30 s of simulated time. Not thread-safe.
  void advance_to(double t_days, weather_kind weather, double weather_start_days,
                  const physical_faults& faults) {
    const weather_event e{weather, weather_start_days};
    advance_to(t_days, std::span<const weather_event>(&e, 1), faults);
  }
  /// As above with several weather events (apply_weather: overlapping ones combine).
  void advance_to(double t_days, std::span<const weather_event> weather, const physical_faults& faults);

  [[nodiscard]] double flow_m3h() const noexcept { return flow_m3h_; }
  /// The influent of the terminal's whole catchment at `t_days` with `weather`, m3/h, before any
  /// loss upstream (what network_flow shares out over the catchment). Pure; never throws.
  [[nodiscard]] double influent_m3h(double t_days, weather_kind weather, double weather_start_days) const noexcept {
    const weather_event e{weather, weather_start_days};
    return influent_m3h(t_days, std::span<const weather_event>(&e, 1));
  }
  [[nodiscard]] double influent_m3h(double t_days, std::span<const weather_event> weather) const noexcept;
  /// What the flowmeter's totalizer shows, m3 (resets with reset_totalizer()).
  [[nodiscard]] double totalizer_m3() const noexcept { return totalizer_m3_; }
  /// True effluent volume since the start, m3; unaffected by meter resets.
  [[nodiscard]] double volume_m3() const noexcept { return volume_m3_; }
  [[nodiscard]] double turbidity_ntu() const noexcept { return turbidity_ntu_; }
  [[nodiscard]] double sludge_level_m() const noexcept { return sludge_level_m_; }
  [[nodiscard]] double time_days() const noexcept { return t_days_; }
  /// Mean electrical power drawn now, kW (blower + the pump's duty share).
  [[nodiscard]] double power_kw() const noexcept { return power_kw_; }
  /// True energy drawn since the start plus meter_start_kwh, kWh (what a working meter shows).
  [[nodiscard]] double energy_kwh() const noexcept { return energy_kwh_; }
  [[nodiscard]] const terminal_params& params() const noexcept { return params_; }

  /// The flowmeter's totalizer is reset to zero (maintenance, converter replaced).
  void reset_totalizer() noexcept { totalizer_m3_ = 0.0; }
  /// The tank is emptied by a tanker.
  void clean_out() noexcept { sludge_level_m_ = params_.sludge_after_cleanout_m; }

 private:
  void sample(double t_days, std::span<const weather_event> weather, const physical_faults& faults);

  const influent_profile& profile_;
  terminal_params params_;
  double scale_;
  double t_days_{0.0};
  double flow_m3h_{0.0};
  double totalizer_m3_;
  double volume_m3_{0.0};
  double turbidity_ntu_{0.0};
  double sludge_level_m_;
  double power_kw_{0.0};
  double energy_kwh_;
};

}  // namespace sewage::sim
