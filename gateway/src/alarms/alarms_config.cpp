// Alarm discipline: the [alarms] table of the gateway config (alarms/settings.hpp).
#include "sewage/gateway/alarms/settings.hpp"

#include "toml_reader.hpp"

namespace sewage::gateway::detail {

void read_alarms(const toml::table& table, alarms::settings& out) {
  toml_reader r(table, "alarms");
  r.read_int("max_shelve_s", out.max_shelve_s, 60, 30 * 86400);
  r.read_int("group_window_s", out.group_window_s, 0, 7 * 86400);
  if (const auto* n = r.raw("escalate_after_min")) {
    const auto* a = n->as_array();
    if (a == nullptr || a->size() != 2 || !(*a)[0].is_integer() || !(*a)[1].is_integer())
      r.fail("escalate_after_min", "must be two whole numbers of minutes [town, county], e.g. [30, 120]");
    const auto town = *(*a)[0].value<std::int64_t>();
    const auto county = *(*a)[1].value<std::int64_t>();
    if (town < 1 || town > 7 * 24 * 60)
      r.fail("escalate_after_min", "the town level's minutes must be in [1, 10080], got " + std::to_string(town));
    if (county <= town || county > 30 * 24 * 60)
      r.fail("escalate_after_min", "the county level's minutes must be above the town level's and at most 43200, got " +
                                       std::to_string(county));
    out.escalate_town_after_min = town;
    out.escalate_county_after_min = county;
  }
  r.reject_unknown();
}

}  // namespace sewage::gateway::detail
