#pragma once
/// \file
/// A simulation scenario: when the simulated county starts, how long it runs, its weather, and
/// the scripted faults with their ground truth.
///
///   start = 2026-11-29T00:00:00Z    # simulated UTC start (TOML offset date-time)
///   duration_h = 24.0
///   weather = "dry"                 # dry | rain | storm
///   weather_start_h = 6.0
///   # or, instead of those two keys, several weather events (a file has one form or the other:
///   # TOML allows one `weather` key); overlapping events combine (influent.hpp apply_weather):
///   [[weather]]
///   kind = "rain"                   # rain | storm
///   start_h = 30.0                  # hours after start, >= 0
///   [[fault]]
///   type = "blockage"               # see fault_kind
///   terminal = "HY-WY-002"
///   start_h = 3.0                   # hours after start
///   end_h = 6.0
///   # optional per type: factor (turbidity_excursion), skew_s (clock_skew), raw (sentinel),
///   # mode (link_outage: "reset", the default, or "blackhole"; tcp_proxy.hpp outage_mode)
///
/// The limits of the true exceedances (exceedance_truth.hpp, exceedance_truth.csv) default to the
/// gateway's defaults; a county whose gateway has other limits sets them (every key optional):
///   [truth]
///   turbidity_raise_ntu = 10.0      # > 0
///   turbidity_clear_ntu = 8.0       # > 0, <= turbidity_raise_ntu
///   turbidity_debounce_s = 900      # >= 0
///   flow_high_raise_factor = 2.5    # x design_capacity_m3d / 24; > 0
///   flow_high_clear_factor = 2.0    # > 0, <= flow_high_raise_factor
///   flow_high_debounce_s = 3600     # >= 0
///   turbidity_margin = 0.05         # required: above raise x (1 + margin); 0..1
///   flow_margin = 0.03              # 0..1
///   required_report_intervals = 2   # required: above it for the debounce + this many intervals; 0..100
///
/// Network faults (issue 13; need the network, sewage-sim --network) name a network node or
/// segment instead of a terminal (`terminal` is then an error):
///   [[fault]]
///   type = "station_pump_failure"   # node = a pump station node; pump = "P1" (optional; default
///   node = "HY-PS-012"              #   every pump: the station stops)
///   type = "station_power_loss"     # node: the station loses mains (no pump runs)
///   type = "wet_well_overflow"      # node: inflow = factor (default 1.5, > 1) x the pumps' capacity
///   type = "pipe_blockage"          # segment = "GS-WY-001-00012": nothing passes it
///   type = "pipe_burst"             # segment; fraction = 0.6 (default; 0 < f <= 1): share lost
///
/// A terminal whose sludge starts near the clean-out raise level (to score the clean-out
/// forecast some days before a real crossing: tools/soak). Without it a village's sludge starts
/// 0.2..0.8 m above the tank floor, years below the raise level (terminal_model.cpp):
///   [[sludge]]
///   terminal = "HY-WY-002"
///   due_in_days = 20.0              # (0, 3650]: the level reaches the raise level this many days
///                                   # after `start` under the scenario's weather (sludge_truth.hpp
///                                   # sludge_start_level_m); a scripted fault that stops the flow
///                                   # (blockage, pump_failure, pump_dry_run, a network fault
///                                   # upstream) brings it later by its hours

#include "sewage/sim/exceedance_truth.hpp"
#include "sewage/sim/influent.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::sim {

/// Scripted faults. Each is detected by the gateway as one alert type (expected_alert), except
/// meter_reset, which must raise nothing and leave the daily volume right.
enum class fault_kind {
  blockage,              ///< outlet blocked: flow zero                      -> no_flow
  pump_failure,          ///< lift pump stopped: flow zero                   -> no_flow
  turbidity_excursion,   ///< treatment upset: turbidity x factor            -> turbidity_high
  stuck_turbidity,       ///< probe repeats its last value                   -> sensor_fault
  sentinel,              ///< probe returns the no-value raw word            -> sensor_fault
  device_not_answering,  ///< turbidity probe silent on the bus              -> sensor_fault
  meter_reset,           ///< flowmeter totalizer reset to 0 at start        -> (none)
  sludge_cleanout,       ///< sludge rises to clean-out level; emptied at end -> cleanout_required
  power_loss,            ///< agent killed at start, restarted at end        -> offline
  link_outage,           ///< agent's broker connection cut                  -> offline
  clock_skew,            ///< agent's clock off by skew_s                    -> clock_skew
  pump_dry_run,          ///< pump runs dry / against a blocked outlet: power, no flow -> power_without_flow
  meter_no_power,        ///< meter or supply fault / bypass: flow, the meter reads 0 kW -> flow_without_power
  // Network faults (issue 13 item 5): at a pump station node or a pipe segment.
  station_pump_failure,  ///< a pump (or every pump) trips: fault input on, it stops     -> pump_fault
  station_power_loss,    ///< the station loses mains: no pump runs, the well fills       -> power_lost
  wet_well_overflow,     ///< inflow above the pumps' capacity: the well rises and spills -> wet_well_high
  pipe_blockage,         ///< a segment blocked: nothing upstream of it arrives           -> (flow loss)
  pipe_burst,            ///< a segment bursts: `fraction` of what enters it is lost      -> (flow loss)
};

/// True for the network faults (they name `node` or `segment`, not `terminal`).
bool is_network_fault(fault_kind k) noexcept;
/// True for the network faults at a pump station node (`node`), false for segment faults.
bool is_station_fault(fault_kind k) noexcept;
/// The gateway incident kind a network fault must produce ("pump_station_fault" or "flow_loss"),
/// "" for the other faults (I13-CONTRACT "Incidents room").
std::string_view expected_incident(fault_kind k) noexcept;

std::string_view to_string(fault_kind k) noexcept;
std::optional<fault_kind> parse_fault_kind(std::string_view name) noexcept;
/// The gateway alert type expected for a fault ("" for meter_reset).
std::string_view expected_alert(fault_kind k) noexcept;

/// One weather event of a scenario: `kind` (rain or storm) from `start_h` hours after its start.
struct scenario_weather {
  weather_kind kind{weather_kind::rain};
  double start_h{0.0};
};

/// The scenario's weather events as the physics takes them (influent.hpp weather_event): days
/// since the simulation origin, which is `lead_h` hours before the scenario start.
std::vector<weather_event> weather_events_days(const std::vector<scenario_weather>& events, double lead_h);

struct scripted_fault {
  fault_kind kind{fault_kind::blockage};
  std::string terminal;
  double start_h{0.0};
  double end_h{0.0};
  double factor{6.0};         ///< turbidity_excursion: multiplier on effluent turbidity
  double skew_s{900.0};       ///< clock_skew: agent clock offset, s
  std::uint16_t raw{0xFFFF};  ///< sentinel: raw register word returned
  bool blackhole{false};      ///< link_outage: the link swallows traffic (mode = "blackhole") instead of resetting
  std::string node;           ///< station faults: the pump station's network node id
  std::string segment;        ///< pipe faults: the segment id
  std::string pump;           ///< station_pump_failure: the pump id; empty = every pump
  double fraction{0.6};       ///< pipe_burst: share of the flow entering the segment that is lost
  /// Network faults, filled by the county from the network (never read from the file): the site
  /// ids of the instrumented nodes from the fault down to the terminal (`terminal` is then the
  /// station's site for a station fault, the terminal's for a pipe fault) and the share of the
  /// terminal's households draining through the fault.
  std::vector<std::string> affected_sites;
  double households_share{0.0};
  /// Set by a field crew's repair (repair.hpp apply_repair): the scenario hour it was repaired
  /// (then end_h == repaired_h) and who repaired it. Never read from the scenario file.
  std::optional<double> repaired_h;
  std::string repaired_by;
};

/// One `[[sludge]]` entry: the terminal's sludge reaches the clean-out raise level `due_in_days`
/// after the scenario start under the scenario's weather (see sludge_start_level_m).
struct scenario_sludge {
  std::string terminal;
  double due_in_days{0.0};
};

struct scenario {
  std::chrono::sys_seconds start{};
  double duration_h{24.0};
  /// The single-event form (`weather`, `weather_start_h`); with `[[weather]]` the first event
  /// (dry when there is none). Kept for readers of one event; the physics uses weather_events.
  weather_kind weather{weather_kind::dry};
  double weather_start_h{0.0};
  /// Every weather event (either form; a dry single event gives none), in file order.
  std::vector<scenario_weather> weather_events;
  /// `terminal_tank_lag_h`: with a pipe network, the first-order lag of the terminals'
  /// equalisation tanks between what the network delivers and the outlet flow (network_flow,
  /// terminal_smoothing_s), h, 0.05..24. Default 4 (small terminals' tanks hold 6-12 h). A scenario
  /// about small tanks (or a short test of a pipe fault) sets less.
  double terminal_tank_lag_h{4.0};
  /// `[truth]`: the limits of the true exceedances (defaults: the gateway's defaults).
  exceedance_limits truth;
  std::vector<scripted_fault> faults;
  /// `[[sludge]]`: terminals whose sludge starts near the raise level, at most one per terminal.
  std::vector<scenario_sludge> sludge;
};

/// Status of one true daily volume (true_volumes.csv), so tools/score compares only days that
/// have happened.
enum class truth_day_status {
  complete,     ///< wholly inside the scenario, and ended at least `settle` ago (or the run finished)
  in_progress,  ///< wholly inside the scenario, not complete yet
  outside,      ///< not wholly inside the scenario (the warm-up, or the day after its end)
};
std::string_view to_string(truth_day_status s) noexcept;

/// Status of the operating day [day_begin, day_begin + 24 h) of a scenario running from
/// `scenario_begin` to `scenario_end`, at simulated time `now`. `settle` is the time the day's
/// last records need to reach the gateway; `finished` says the scenario end was reached (every
/// day inside it is then complete). Pure; never throws.
truth_day_status true_day_status(std::chrono::system_clock::time_point day_begin,
                                 std::chrono::system_clock::time_point scenario_begin,
                                 std::chrono::system_clock::time_point scenario_end,
                                 std::chrono::system_clock::time_point now,
                                 std::chrono::system_clock::duration settle, bool finished) noexcept;

/// The network's names a scenario's network faults may use (from the network file).
struct network_names {
  std::vector<std::string> pump_stations;  ///< node ids of kind pump_station
  std::vector<std::string> segments;       ///< segment ids
};

/// Reads only the `start` of a scenario file (UTC). Throws std::runtime_error naming the file and
/// the key for bad TOML or a missing or offset-less start.
std::chrono::sys_seconds load_scenario_start(const std::filesystem::path& file);
/// Reads only `terminal_tank_lag_h` (default 4). Throws as load_scenario_start, or for a value
/// outside [0.05, 24] h.
double load_scenario_tank_lag_h(const std::filesystem::path& file);

/// Reads only the weather events (scenario::weather_events: either form). Throws as load_scenario
/// for bad weather keys.
std::vector<scenario_weather> load_scenario_weather(const std::filesystem::path& file);

/// Reads only the `[[sludge]]` entries (sewage-sim-history starts its villages' sludge where the
/// county's will be). Throws as load_scenario for a bad entry.
std::vector<scenario_sludge> load_scenario_sludge(const std::filesystem::path& file,
                                                  const std::vector<std::string>& known_terminals = {});

/// Reads a scenario file. `known_terminals`, when not empty, is the registry's id list: a fault
/// naming another terminal is an error. `network`, when given, lists the names network faults
/// may use; without it a network fault is an error ("needs a network"). Throws
/// std::runtime_error naming the file, the fault index and the key for a missing or wrong key
/// (e.g. `fault[2].segment: "GS-X" is not a segment of the network`), a key of the wrong family
/// (`terminal` on a network fault, `node`/`segment` on a terminal fault), a fault whose end is
/// not after its start or that ends after the scenario, or an unknown fault type; and for a
/// `[[sludge]]` entry without `terminal` or with due_in_days outside (0, 3650], an unknown key,
/// or a terminal named twice.
scenario load_scenario(const std::filesystem::path& file,
                       const std::vector<std::string>& known_terminals = {},
                       const network_names* network = nullptr);

}  // namespace sewage::sim
