#include "sewage/gateway/registry.hpp"

#include "toml_reader.hpp"

#include <sewage/proto/topic.hpp>

#include <fstream>

namespace sewage::gateway {
namespace {

/// Discharge grades of the standards rural terminals in Zhejiang are built to: DB33/973-2021
/// (Zhejiang rural domestic sewage treatment facilities, grades 1 and 2) and GB 18918-2002
/// (municipal plants: 1A, 1B, 2, 3).
bool is_known_discharge_grade(const std::string& g) {
  return g == "grade_1" || g == "grade_2" || g == "grade_1a" || g == "grade_1b" || g == "grade_3";
}

}  // namespace


registry::registry(std::vector<terminal_info> terminals) : terminals_(std::move(terminals)) {
  index_.reserve(terminals_.size());
  for (std::size_t i = 0; i < terminals_.size(); ++i) index_.emplace(terminals_[i].id, i);
}

std::optional<std::size_t> registry::find(std::string_view id) const noexcept {
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

registry load_registry(const std::filesystem::path& path, const thresholds& defaults) {
  const toml::table root = detail::parse_toml_file(path, "registry file");
  std::vector<terminal_info> out;
  try {
    detail::toml_reader top(root, "");
    const auto* arr_node = root.get("terminal");
    if (arr_node != nullptr && !arr_node->is_array_of_tables())
      top.fail("terminal", "must be an array of tables ([[terminal]])");
    for (const auto& [k, v] : root)
      if (k.str() != "terminal") top.fail(k.str(), "unknown key (expected only [[terminal]] tables)");
    if (arr_node == nullptr || arr_node->as_array()->empty())
      top.fail("terminal", "no [[terminal]] table: the gateway would have no terminal to watch");
    const auto& arr = *arr_node->as_array();
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const auto& tbl = *arr[i].as_table();
      std::string where = "terminal[" + std::to_string(i) + "]";
      if (const auto id = tbl.get_as<std::string>("id")) where += " (" + id->get() + ")";
      detail::toml_reader r(tbl, where);
      terminal_info t;
      t.limits = defaults;
      r.read("id", t.id);
      if (t.id.empty()) r.fail("id", "is required");
      if (!proto::is_valid_terminal_id(t.id)) r.fail("id", "must match [A-Za-z0-9_-]{1,32} and not be 'alerts' or 'gateway'");
      if (const auto [it, fresh] = seen.emplace(t.id, i); !fresh)
        r.fail("id", "duplicate of terminal[" + std::to_string(it->second) + "]");
      r.read("name", t.name);
      r.read("town", t.town);
      r.read("village", t.village);
      // Operators find a terminal by these on the dashboard and the map: all three are required.
      if (t.name.empty()) r.fail("name", "is required (the name operators know the terminal by)");
      if (t.town.empty()) r.fail("town", "is required");
      if (t.village.empty()) r.fail("village", "is required");
      double lat = 1000, lon = 1000, cap = -1;
      r.read("latitude", lat, -90.0, 90.0);
      r.read("longitude", lon, -180.0, 180.0);
      r.read("design_capacity_m3d", cap, 0.001, 1e6);
      if (lat == 1000) r.fail("latitude", "is required (WGS84 degrees)");
      if (lon == 1000) r.fail("longitude", "is required (WGS84 degrees)");
      if (cap < 0) r.fail("design_capacity_m3d", "is required (m3/day)");
      if (lat == 0 && lon == 0)
        r.fail("latitude", "0, 0 is in the Gulf of Guinea: the terminal's coordinates are missing");
      t.latitude_deg = lat;
      t.longitude_deg = lon;
      t.design_capacity_m3d = cap;
      r.read("discharge_grade", t.discharge_grade);
      if (!is_known_discharge_grade(t.discharge_grade))
        r.fail("discharge_grade", "must be one of grade_1, grade_2 (DB33/973-2021) or grade_1a, grade_1b, grade_3 "
                                  "(GB 18918-2002), got \"" + t.discharge_grade + "\"");
      r.read_int("report_interval_s", t.report_interval_s, 1, 86400);
      if (const auto* th = r.sub_table("thresholds")) {
        detail::toml_reader tr(*th, where + ".thresholds");
        detail::read_thresholds(tr, t.limits);
        tr.reject_unknown();
      }
      r.reject_unknown();
      out.push_back(std::move(t));
    }
  } catch (const config_error& e) {
    throw config_error(path.string() + ": " + e.what());
  }
  return registry(std::move(out));
}

}  // namespace sewage::gateway
