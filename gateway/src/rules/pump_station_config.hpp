#pragma once
// Internal: the pump-station keys of a threshold table (county [alerts] and registry
// [terminal.thresholds]) and the per-station [terminal.pump_station] table.
#include "../toml_reader.hpp"

#include "sewage/gateway/registry.hpp"

namespace sewage::gateway::detail {

/// Reads the pump-station thresholds of `t` (config.hpp, "Pump stations") from `r`, checking
/// ranges and the hysteresis of each pair; errors name the key (config_error). Start-up only.
void read_pump_station_thresholds(toml_reader& r, thresholds& t);

/// Reads a station's [terminal.pump_station] table (`r` names it, e.g.
/// "terminal[3] (HY-PS-004).pump_station") onto `info` and its level overrides onto `t`; checks
/// ranges and that wet_well_low_m + hysteresis < wet_well_high_m - hysteresis. Errors name the key.
void read_pump_station_table(toml_reader& r, pump_station_info& info, thresholds& t);

/// Checks the level thresholds of `t` against each other (low band below the high band); `r`
/// names the table. Throws config_error naming `key`.
void check_wet_well_levels(const toml_reader& r, const thresholds& t, std::string_view key);

}  // namespace sewage::gateway::detail
