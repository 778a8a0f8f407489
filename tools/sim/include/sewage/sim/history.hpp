#pragma once
/// \file
/// The simulated county's past: weeks of interval records of every terminal before the scenario
/// starts, as the county's earlier loggers would have recorded them, for the gateway's history
/// import (`sewage-gateway import-history`, gateway/README.md). With it the gateway starts with
/// the learned normal flow of every village (engine/flow_normal.hpp needs 5 days per day type),
/// daily volumes and compliance history, as a county that has run for weeks. SIMULATION ONLY.
///
/// The same villages as the live county (terminal_model.hpp village_params, registry order),
/// the same BSM1 influent, dry weather, no faults. With the pipe network, the sewage is routed
/// through the same pump stations as the county routes it before its start (network_flow.hpp
/// network_run_before, which sewage-sim runs for --history-days): each terminal receives what
/// the stations' pumping cycles deliver, and the history ends in the network state the county
/// starts in. The history ends where the live simulation starts (scenario start - lead): the last
/// record's flowmeter totalizer, sludge level and kWh meter are the live model's starting values,
/// so the gateway sees one continuous meter. Pump stations have no history records (their
/// run-time normal learns from the live run).

#include "sewage/sim/scenario.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <vector>

namespace sewage::sim {

struct history_options {
  std::filesystem::path registry;   ///< the county's registry (TOML, gateway format)
  std::filesystem::path influent;   ///< BSM1 dry-weather influent csv
  /// Where the history ends: the simulated clock's origin (scenario start - lead), UTC.
  std::chrono::system_clock::time_point end{};
  double days{21.0};                ///< length of the history, simulated days, (0, 60]
  std::uint32_t interval_s{900};    ///< one record per terminal per interval, s, 60..3600, divides 86,400
  /// The pipe network (GeoJSON, the gateway's format); empty: none (each terminal receives its
  /// whole catchment's influent).
  std::filesystem::path network;
  double tank_lag_h{4.0};           ///< the scenario's terminal_tank_lag_h (network_flow), 0.05..24
  /// The scenario's `[[sludge]]` entries (scenario.hpp): those terminals' sludge ends the history
  /// where the county starts it (sludge_truth.hpp sludge_start_level_m, with `lead_h` and the
  /// scenario's `weather`).
  std::vector<scenario_sludge> sludge;
  std::vector<scenario_weather> weather;  ///< the scenario's weather events (for `sludge` only)
  double lead_h{0.0};               ///< the county's warm-up before the scenario start, h (>= 0)
};

/// What write_history wrote.
struct history_summary {
  std::uint64_t terminals{0};
  std::uint64_t records{0};
};

/// Writes the history as JSON Lines to `out`: one telemetry record (proto/telemetry.hpp, valid
/// v1 payloads with flow rate and totalizer, turbidity mean/min/max, sludge level and clean-out
/// flag, energy) per terminal and interval, in time order (terminals in registry order), epoch
/// "history", seq from 1, `ts` the end of each window. Throws std::invalid_argument naming the
/// option for days, interval_s or tank_lag_h out of range (days must be whole intervals),
/// std::runtime_error naming the file for a bad registry, network or influent table, a network
/// terminal or station that is not in the registry, and when a village's meter would read below zero at the history's
/// start (the history is longer than its meter readings allow: fewer days). Not thread-safe.
history_summary write_history(const history_options& options, std::ostream& out);

}  // namespace sewage::sim
