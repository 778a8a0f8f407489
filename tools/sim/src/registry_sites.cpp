#include "sewage/sim/registry_sites.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <stdexcept>

namespace sewage::sim {

std::vector<registry_site> read_registry_sites(const std::filesystem::path& file) {
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(file.string() + ": line " + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
  }
  const auto* arr = root["terminal"].as_array();
  if (arr == nullptr || arr->empty()) throw std::runtime_error(file.string() + ": terminal: no [[terminal]] table");
  std::vector<registry_site> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    std::string where = file.string() + ": terminal[" + std::to_string(i) + "]";
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr) throw std::runtime_error(where + ": must be a table");
    registry_site r;
    const auto id = (*t)["id"].value<std::string>();
    if (!id || id->empty()) throw std::runtime_error(where + ".id: is required");
    r.id = *id;
    where += " (" + r.id + ")";
    for (const auto& earlier : out)
      if (earlier.id == r.id) throw std::runtime_error(where + ".id: duplicate");
    std::string kind = "terminal";
    if (const auto* k = t->get("kind")) {
      const auto v = k->value<std::string>();
      if (!v) throw std::runtime_error(where + ".kind: must be a string (\"terminal\" or \"pump_station\")");
      kind = *v;
    }
    if (kind == "pump_station") {
      r.pump_station = true;
      if (const auto* ps = (*t)["pump_station"].as_table()) {
        if (const auto* n = ps->get("pumps")) {
          const auto v = n->value<std::int64_t>();
          if (!v || *v < 1 || *v > 8 || !n->is_integer())
            throw std::runtime_error(where + ".pump_station.pumps: must be an integer 1..8");
          r.pumps = static_cast<int>(*v);
        }
        if (const auto* n = ps->get("pump_rated_current_a")) {
          const auto v = n->value<double>();
          if (!v || !(*v > 0) || *v > 1000)
            throw std::runtime_error(where + ".pump_station.pump_rated_current_a: must be a number > 0 and <= 1000");
          r.pump_rated_current_a = *v;
        }
      }
    } else if (kind == "terminal") {
      const auto cap = (*t)["design_capacity_m3d"].value<double>();
      if (!cap || !(*cap > 0)) throw std::runtime_error(where + ".design_capacity_m3d: is required (m3/day, > 0)");
      r.design_capacity_m3d = *cap;
    } else {
      throw std::runtime_error(where + ".kind: must be \"terminal\" or \"pump_station\", got \"" + kind + "\"");
    }
    out.push_back(std::move(r));
  }
  return out;
}


}  // namespace sewage::sim
