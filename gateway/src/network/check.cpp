// Pipe network room: the `network check` command's work (network/check.hpp).
#include "sewage/gateway/network/check.hpp"

#include "sewage/gateway/registry.hpp"

#include <array>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

namespace sewage::gateway::network {

std::string summary(const network_model& m) {
  std::array<std::size_t, 4> per_kind{};
  std::int64_t households = 0;
  std::set<std::string> villages;
  for (const auto& n : m.nodes()) {
    ++per_kind[static_cast<std::size_t>(n.kind)];
    if (n.kind == node_kind::collection_point) {
      households += n.households;
      villages.insert(n.village);
    }
  }
  std::size_t gravity = 0;
  double gravity_m = 0;
  for (const auto& s : m.segments())
    if (s.flow == flow_kind::gravity) {
      ++gravity;
      gravity_m += s.length_m;
    }
  std::ostringstream o;
  o << std::fixed << std::setprecision(3);
  if (m.metadata().illustrative) o << "  ILLUSTRATIVE network (not surveyed data)\n";
  o << "  nodes: " << m.nodes().size() << " (terminal " << per_kind[0] << ", pump_station " << per_kind[1]
    << ", inspection_well " << per_kind[2] << ", collection_point " << per_kind[3] << ")\n";
  o << "  segments: " << m.segments().size() << " (gravity " << gravity << ", pressure " << m.segments().size() - gravity
    << ")\n";
  o << "  total length: " << m.total_length_m() / 1000.0 << " km (gravity " << gravity_m / 1000.0 << " km, pressure "
    << (m.total_length_m() - gravity_m) / 1000.0 << " km)\n";
  o << "  households: " << households << " in " << villages.size() << " villages\n";
  return o.str();
}

load_options options_for(const registry& reg) {
  load_options o;
  std::set<std::string, std::less<>> terminals, stations;
  for (const auto& t : reg.terminals()) (t.is_terminal() ? terminals : stations).insert(t.id);
  o.registry_terminals = std::move(terminals);
  o.registry_pump_stations = std::move(stations);
  return o;
}

int check_command(const std::filesystem::path& file, const std::filesystem::path& registry_file, std::ostream& out,
                  std::ostream& err) noexcept {
  try {
    load_options opt;
    if (!registry_file.empty()) {
      try {
        opt = options_for(load_registry(registry_file, thresholds{}));
      } catch (const std::exception& e) {
        err << "network check: registry: " << e.what() << '\n';
        return 2;
      }
    }
    try {
      const auto m = load_network(file, opt);
      out << file.string() << ": ok\n" << summary(m);
      return 0;
    } catch (const network_error& e) {
      err << e.what() << '\n';
      return 1;
    }
  } catch (const std::exception& e) {
    err << "network check: " << e.what() << '\n';
    return 1;
  } catch (...) {
    return 1;
  }
}

}  // namespace sewage::gateway::network
