#pragma once
/// \file
/// The physical truth of one simulated sewage pump station (issue 13 item 5): a wet well of fixed
/// plan area filled by its catchment's sewage and emptied by duty/standby pumps under level
/// control, with mains power, per-pump fault trips and motor current. SIMULATION ONLY.
///
/// Level control (the usual float/level-relay scheme of small lift stations): the lead pump starts
/// when the level reaches `duty_on_m` and every running pump stops at `duty_off_m`; a second pump
/// joins at `standby_on_m` (inflow above one pump's rate). The lead rotates at every start over the
/// pumps that are not tripped (a tripped lead is replaced by the next pump: automatic changeover).
/// Above `overflow_m` the well spills (the emergency overflow): the excess is lost to the
/// environment, never passed on. Without mains no pump runs.
///
/// Thread-safety: none (one owner, the county's loop). Never throws after construction.

#include <cstdint>
#include <string>
#include <vector>

namespace sewage::sim {

/// One pump of a station. Defaults are documented, provisional engineering values.
struct pump_params {
  std::string id{"P1"};           ///< the agent's pump id ([A-Za-z0-9_-]{1,16}), e.g. "P1"
  double rated_flow_m3h{6.0};     ///< delivery at the station's duty point, m3/h
  /// Motor current while pumping, A (a 0.75-3 kW submersible at 380 V three-phase draws 2-7 A).
  double rated_current_a{3.0};
};

/// Fixed properties of one station. Levels are metres above the wet-well floor.
struct pump_station_params {
  double wet_well_area_m2{1.5};   ///< plan area of the wet well, m2 (a 1.2-2.8 m precast shaft)
  double duty_off_m{0.5};         ///< every pump stops at or below this level (keeps the pumps submerged)
  double duty_on_m{1.1};          ///< the lead pump starts at this level
  double standby_on_m{1.5};       ///< a second pump joins at this level
  double overflow_m{2.0};         ///< the emergency overflow's invert: the well spills above it
  double depth_m{2.5};            ///< floor to cover slab: the level never reads above it
  double level_start_m{0.8};      ///< level at the start of the simulation
  std::vector<pump_params> pumps{pump_params{"P1"}, pump_params{"P2"}};  ///< duty + standby
};

/// Faults acting on a station over one step (built from the scenario by the county).
struct station_faults {
  bool mains_lost{false};               ///< station_power_loss: no mains, no pump can run
  std::vector<std::string> tripped;     ///< station_pump_failure: pump ids whose fault input is on
  bool all_tripped{false};              ///< station_pump_failure without a pump id: every pump
  /// wet_well_overflow: the inflow is this multiple of the station's total pump capacity (> 1:
  /// inflow above what the pumps can move, e.g. infiltration or a storm surge); 0 = not in force.
  double overload_factor{0.0};
};

/// One pump as the station's I/O device shows it (what the pump-station agent profile reads).
struct pump_io {
  std::string id;
  bool running{false};    ///< run feedback (contactor auxiliary)
  bool fault{false};      ///< fault input (thermal/overload trip)
  double current_a{0.0};  ///< motor current, A (0 when stopped)
};

/// The physical values of one station at one instant: what the emulated pump-station I/O device
/// (tools/instruments) exposes in its registers every tick. The county fills one per station per
/// loop (pump_station_model::io()).
struct pump_station_io {
  double wet_well_level_m{0.0};  ///< m above the wet-well floor
  bool mains_power{true};        ///< mains present (the controller itself is on a UPS)
  std::vector<pump_io> pumps;    ///< in pump_station_params::pumps order
  double inflow_m3h{0.0};        ///< truth only (no instrument): sewage arriving now
  double outflow_m3h{0.0};       ///< truth only: pumped now
  double spill_m3h{0.0};         ///< truth only: lost over the overflow now
};

class pump_station_model {
 public:
  /// Throws std::invalid_argument naming the parameter for: no pump, more than 8, an empty or
  /// duplicate pump id, a non-positive rate or area, levels not ordered
  /// 0 <= duty_off < duty_on <= standby_on < overflow <= depth.
  explicit pump_station_model(pump_station_params params);

  /// Advances `dt_s` simulated seconds (>= 0) with `inflow_m3h` arriving (>= 0; a negative value
  /// counts as 0) and `faults` in force; integrates in sub-steps of at most 5 s so that a pump
  /// start or stop falls within 5 s of its level. Never throws.
  void advance(double dt_s, double inflow_m3h, const station_faults& faults);

  /// Volume pumped on (m3) and spilled (m3) since the last call of take_volumes(); resets both.
  /// The county routes the pumped volume downstream.
  struct volumes {
    double pumped_m3{0.0};
    double spilled_m3{0.0};
  };
  volumes take_volumes() noexcept;

  [[nodiscard]] const pump_station_io& io() const noexcept { return io_; }
  [[nodiscard]] double level_m() const noexcept { return io_.wet_well_level_m; }
  [[nodiscard]] const pump_station_params& params() const noexcept { return params_; }
  /// Total rate of the pumps that are not tripped, m3/h (what the station can move with mains).
  [[nodiscard]] double capacity_m3h(const station_faults& faults) const noexcept;
  /// True totals since the start, m3.
  [[nodiscard]] double pumped_total_m3() const noexcept { return pumped_total_m3_; }
  [[nodiscard]] double spilled_total_m3() const noexcept { return spilled_total_m3_; }
  /// Starts of each pump since the start (off -> on), in pump order.
  [[nodiscard]] const std::vector<std::uint64_t>& starts() const noexcept { return starts_; }

 private:
  void sub_step(double dt_s, double inflow_m3h, const station_faults& faults);
  [[nodiscard]] bool is_tripped(std::size_t i, const station_faults& faults) const noexcept;

  pump_station_params params_;
  pump_station_io io_;
  std::size_t lead_{0};
  std::vector<std::uint64_t> starts_;
  double pumped_m3_{0.0};
  double spilled_m3_{0.0};
  double pumped_total_m3_{0.0};
  double spilled_total_m3_{0.0};
};

/// Sizing of a station for its mean inflow (what sewage-sim gives each registry pump station),
/// provisional engineering rules of thumb:
///  - each pump's rated flow is 6x the mean inflow (peak factor ~3 of small catchments, doubled),
///    at least 3 m3/h and at most 60 m3/h, rounded to 0.5 m3/h;
///  - motor current 1.5 A + 0.25 A per m3/h of rated flow (0.75 kW at 3 m3/h ~ 2.3 A, 3 kW at
///    15 m3/h ~ 5.3 A, 380 V three-phase);
///  - the wet well holds one hour of mean inflow between duty_off and duty_on (at most ~1 start an
///    hour at the mean), area clamped to 0.8..6 m2;
///  - `pump_count` pumps (1..8; 2 = duty + standby) named P1..Pn;
///  - `level_start_m` is clamped to [0, overflow).
/// Throws std::invalid_argument for a negative or non-finite mean inflow or a pump count outside 1..8.
pump_station_params size_station(double mean_inflow_m3h, int pump_count = 2, double level_start_m = 0.8);

}  // namespace sewage::sim
