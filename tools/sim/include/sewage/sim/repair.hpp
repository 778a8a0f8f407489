#pragma once
/// \file
/// Repairs: a field crew (tools/fieldcrew.py in the demo) ends a terminal's scripted faults at the
/// simulated moment it fixes them. The crew drops a small TOML file into the simulator's repair
/// folder (`sewage-sim --repair-dir DIR`):
///
///   terminal = "HY-WY-002"       # required: a terminal of the registry
///   fault = "blockage"           # optional: only faults of this type (see fault_kind); default all
///   order = 17                   # optional: the gateway's work order id, kept in the truth
///   by = "hy-north"              # optional: who repaired (contractor), kept in the truth
///
/// At its next step the county ends every fault of that terminal (and type) active at the current
/// simulated time: the fault's `end_h` becomes that time, so the physics (faults_in_force) and the
/// side effects of step_faults (probe answers again, agent restarted, link back) end then, and the
/// ground truth records the repair (ground_truth_csv's `end` and `repaired_by` columns).
/// Pure functions here; the folder scan is in county.cpp.

#include "sewage/sim/pump_station.hpp"
#include "sewage/sim/scenario.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::sim {

struct repair_request {
  std::string terminal;
  std::optional<fault_kind> kind;     ///< nullopt: every active fault of the terminal
  std::optional<std::int64_t> order;  ///< the work order id (for the truth), if given
  std::string by;                     ///< who repaired (free text, <= 64 bytes), if given
};

/// The outcome of parsing a repair file: `request` or a reason naming the key.
struct repair_parse {
  std::optional<repair_request> request;
  std::string error;  ///< empty when `request` is set
};

/// Parses the text of a repair file (format above). Never throws: bad TOML, a missing or
/// non-string `terminal`, an unknown `fault` type, a non-integer `order`, an unknown key, or a
/// terminal not in `known_terminals` (when not empty) give `error` naming the key and reason.
/// Bounded: a text over 4096 bytes is refused.
repair_parse parse_repair(std::string_view text, const std::vector<std::string>& known_terminals = {});

/// Ends the faults of `r.terminal` (of `r.kind` when set) active at scenario hour `now_h`
/// (start_h <= now_h < end_h): sets their `end_h = now_h` and `repaired_h = now_h`, `repaired_by`.
/// Returns the indices in `s.faults` of the faults ended (empty: nothing was active, the repair
/// changes nothing). Never throws.
std::vector<std::size_t> apply_repair(scenario& s, const repair_request& r, double now_h);

/// The continuous physical faults of `terminal` in force at scenario hour `h` (no flow, pump dry
/// run, turbidity factor, forced sludge rise): what the county feeds terminal_model::advance_to.
/// A repaired fault no longer counts after its repair. Pure; never throws.
physical_faults faults_in_force(const scenario& s, std::string_view terminal, double h) noexcept;

/// The network faults in force at scenario hour `h` (a repaired one no longer counts).
struct network_faults {
  /// Segment id -> fraction of the flow entering it that is lost (pipe_blockage 1, pipe_burst its
  /// fraction; two faults on one segment combine as 1 - (1-a)(1-b)).
  std::map<std::string, double, std::less<>> segment_loss;
  /// Pump station node id -> its faults (station_pump_failure, station_power_loss, wet_well_overflow).
  std::map<std::string, station_faults, std::less<>> stations;
};
/// Pure; never throws (beyond allocation).
network_faults network_faults_in_force(const scenario& s, double h);

/// The ground truth file's text (`ground_truth.csv`): header
/// `type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share`
/// and one row per fault, times ISO 8601 UTC with milliseconds. `end` is the repair time for a
/// repaired fault; `repaired_by` is `<by>` or `<by>/order <id>` (empty: not repaired, it ended
/// as scripted). Network faults fill `node` or `segment`, `expected_incident`
/// (pump_station_fault | flow_loss), `affected` (the sites from the fault down to the terminal,
/// separated by spaces) and `households_share` (0..1); `terminal` is then the station's site (station
/// faults) or the terminal's (pipe faults). Pure.
std::string ground_truth_csv(const scenario& s);

}  // namespace sewage::sim
