#pragma once
// Internal: the energy keys of a [thresholds] table (county defaults and registry overrides).
#include "../toml_reader.hpp"

namespace sewage::gateway::detail {

/// Reads the energy thresholds of `t` (config.hpp, "Energy") from `r`, checking ranges and the
/// hysteresis of each pair; errors name the key (config_error). Not thread-safe (start-up only).
void read_energy_thresholds(toml_reader& r, thresholds& t);

}  // namespace sewage::gateway::detail
