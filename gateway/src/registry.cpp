#include "sewage/gateway/registry.hpp"

#include "rules/pump_station_config.hpp"
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

std::string_view to_string(site_kind k) noexcept {
  return k == site_kind::pump_station ? "pump_station" : "terminal";
}

std::optional<site_kind> parse_site_kind(std::string_view name) noexcept {
  if (name == "terminal") return site_kind::terminal;
  if (name == "pump_station") return site_kind::pump_station;
  return std::nullopt;
}

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
      std::string kind = "terminal";
      r.read("kind", kind);
      const auto k = parse_site_kind(kind);
      if (!k) r.fail("kind", "must be \"terminal\" or \"pump_station\", got \"" + kind + "\"");
      t.kind = *k;
      const bool station = t.kind == site_kind::pump_station;
      r.read("name", t.name);
      r.read("town", t.town);
      r.read("village", t.village);
      // Operators find a site by these on the dashboard and the map.
      if (t.name.empty()) r.fail("name", "is required (the name operators know the site by)");
      if (t.town.empty()) r.fail("town", "is required");
      if (t.village.empty() && !station) r.fail("village", "is required");
      double lat = 1000, lon = 1000, cap = -1;
      r.read("latitude", lat, -90.0, 90.0);
      r.read("longitude", lon, -180.0, 180.0);
      if (lat == 1000) r.fail("latitude", "is required (WGS84 degrees)");
      if (lon == 1000) r.fail("longitude", "is required (WGS84 degrees)");
      if (lat == 0 && lon == 0)
        r.fail("latitude", "0, 0 is in the Gulf of Guinea: the site's coordinates are missing");
      t.latitude_deg = lat;
      t.longitude_deg = lon;
      if (station) {
        // A pump station treats nothing: capacity and discharge grade are a terminal's; accepted
        // (a converted GIS export may carry them) and ignored.
        (void)r.raw("design_capacity_m3d");
        (void)r.raw("discharge_grade");
        if (r.raw("report_interval_s") == nullptr)
          r.fail("report_interval_s", "is required for a pump station (s; its agent's report interval)");
      } else {
        r.read("design_capacity_m3d", cap, 0.001, 1e6);
        if (cap < 0) r.fail("design_capacity_m3d", "is required (m3/day)");
        t.design_capacity_m3d = cap;
        r.read("discharge_grade", t.discharge_grade);
        if (!is_known_discharge_grade(t.discharge_grade))
          r.fail("discharge_grade", "must be one of grade_1, grade_2 (DB33/973-2021) or grade_1a, grade_1b, grade_3 "
                                    "(GB 18918-2002), got \"" + t.discharge_grade + "\"");
      }
      r.read_int("report_interval_s", t.report_interval_s, 1, 86400);
      if (const auto* th = r.sub_table("thresholds")) {
        detail::toml_reader tr(*th, where + ".thresholds");
        detail::read_thresholds(tr, t.limits);
        tr.reject_unknown();
      }
      if (const auto* ps = r.sub_table("pump_station")) {
        if (!station) r.fail("pump_station", "is only for an entry with kind = \"pump_station\"");
        detail::toml_reader pr(*ps, where + ".pump_station");
        detail::read_pump_station_table(pr, t.station, t.limits);
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
