#pragma once
/// \file
/// The registry's sites as the simulator reads them (issue 13: site kinds). SIMULATION ONLY.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sewage::sim {

/// One site of the registry as the simulator needs it.
struct registry_site {
  std::string id;
  bool pump_station{false};
  double design_capacity_m3d{0.0};  ///< terminals
  int pumps{2};                     ///< pump stations: [terminal.pump_station] pumps (1..8)
  std::optional<double> pump_rated_current_a;  ///< pump stations: [terminal.pump_station]
};

/// The registry's sites with their kind (`kind = "terminal" | "pump_station"`, default terminal;
/// I13-CONTRACT "Registry kinds"). The gateway's loader checks the whole file when the gateway
/// starts; the simulator reads only what it simulates: every entry's id, a terminal's
/// design_capacity_m3d (> 0), a pump station's optional [terminal.pump_station] `pumps` (integer
/// 1..8) and `pump_rated_current_a` (0 < A <= 1000). Throws std::runtime_error naming the file,
/// the entry (`terminal[i] (ID)`) and the key for bad TOML, no [[terminal]] table, a missing id,
/// an unknown kind or a bad value.
std::vector<registry_site> read_registry_sites(const std::filesystem::path& file);

}  // namespace sewage::sim
