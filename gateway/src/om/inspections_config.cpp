// O&M room (insp): [om.inspections] and [om.assessment] of the gateway configuration.
#include "sewage/gateway/om/inspections_settings.hpp"
#include "toml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace sewage::gateway {
namespace om {

std::string_view to_string(facility_size c) noexcept {
  switch (c) {
    case facility_size::small: return "small";
    case facility_size::medium: return "medium";
    case facility_size::large: return "large";
  }
  return "small";
}

facility_size size_class_of(double design_capacity_m3d, const std::array<double, 2>& limits_m3d) noexcept {
  if (design_capacity_m3d >= limits_m3d[1]) return facility_size::large;
  if (design_capacity_m3d >= limits_m3d[0]) return facility_size::medium;
  return facility_size::small;
}

std::uint32_t inspection_settings::interval_days(facility_size c) const noexcept {
  switch (c) {
    case facility_size::small: return interval_days_small;
    case facility_size::medium: return interval_days_medium;
    case facility_size::large: return interval_days_large;
  }
  return interval_days_small;
}

std::map<std::string, std::vector<checklist_item>, std::less<>> inspection_settings::default_checklists() {
  // The demo county's lists (county-configurable defaults): what a rural terminal's inspector
  // looks at on every visit (outlet, aeration, sludge, enclosure), and a pump station's.
  const auto item = [](std::string key, std::string label, std::string severity = "info") {
    checklist_item i;
    i.fault_type = "inspection:" + key;
    i.key = std::move(key);
    i.label = std::move(label);
    i.severity = std::move(severity);
    return i;
  };
  return {
      {"terminal",
       {item("outlet_clear", "Outlet well clear", "warning"), item("blower_running", "Blower running", "warning"),
        item("sludge_level", "Sludge level below the mark"), item("effluent_clear", "Effluent clear, no odour"),
        item("sensor_clean", "Turbidity sensor and flow meter clean"), item("fence_signage", "Fence and signage intact")}},
      {"pump_station",
       {item("pumps_running", "Pumps start and stop on level", "warning"), item("float_switches", "Level switches free"),
        item("wet_well_debris", "Wet well free of debris"), item("panel_alarms", "Control panel without alarms"),
        item("fence_signage", "Fence and signage intact")}},
  };
}

std::string_view to_string(assessment_part p) noexcept {
  switch (p) {
    case assessment_part::on_time: return "on_time";
    case assessment_part::reopen: return "reopen";
    case assessment_part::inspection: return "inspection";
    case assessment_part::availability: return "availability";
    case assessment_part::lab: return "lab";
  }
  return "on_time";
}

}  // namespace om

namespace detail {

namespace {

bool item_key_ok(const std::string& k) {
  return !k.empty() && k.size() <= 32 &&
         std::all_of(k.begin(), k.end(), [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'; });
}

std::vector<om::checklist_item> read_checklist(const toml::node& n, const std::string& where, const toml_reader& parent,
                                               std::string_view key) {
  const auto* arr = n.as_array();
  if (arr == nullptr || arr->empty())
    parent.fail(key, "must be a non-empty array of tables {key = \"...\", label = \"...\"}");
  std::vector<om::checklist_item> out;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto* t = (*arr)[i].as_table();
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (t == nullptr) throw config_error(at + ": must be a table {key = \"...\", label = \"...\"}");
    toml_reader r(*t, at);
    om::checklist_item item;
    r.read("key", item.key);
    r.read("label", item.label);
    r.read("fault_type", item.fault_type);
    r.read("severity", item.severity);
    r.reject_unknown();
    if (!item_key_ok(item.key)) r.fail("key", "must be 1..32 characters of a-z, 0-9 and _");
    if (!seen.insert(item.key).second) r.fail("key", "\"" + item.key + "\" appears twice in this checklist");
    if (item.label.empty() || item.label.size() > 200) r.fail("label", "must be 1..200 characters");
    if (item.fault_type.empty()) item.fault_type = "inspection:" + item.key;
    if (item.severity != "info" && item.severity != "warning" && item.severity != "critical")
      r.fail("severity", "must be info, warning or critical (the work order's severity)");
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

void read_om_inspections(const toml::table& t, om::inspection_settings& out) {
  toml_reader r(t, "om.inspections");
  r.read_int("interval_days_small", out.interval_days_small, 1, 366);
  r.read_int("interval_days_medium", out.interval_days_medium, 1, 366);
  r.read_int("interval_days_large", out.interval_days_large, 1, 366);
  if (const auto* c = r.sub_table("checklist")) {
    toml_reader cr(*c, "om.inspections.checklist");
    for (const auto kind : om::site_kinds)
      if (const auto* n = cr.raw(kind))
        out.checklists[std::string(kind)] = read_checklist(*n, "om.inspections.checklist." + std::string(kind), cr, kind);
    cr.reject_unknown();
  }
  r.reject_unknown();
}

void read_om_assessment(const toml::table& t, om::assessment_settings& out) {
  toml_reader r(t, "om.assessment");
  if (const auto* w = r.sub_table("weights")) {
    toml_reader wr(*w, "om.assessment.weights");
    for (const auto p : om::all_assessment_parts)
      wr.read(om::to_string(p), out.weights[static_cast<std::size_t>(p)], 0.0, 100.0);
    wr.reject_unknown();
    double sum = 0;
    for (const auto v : out.weights) sum += v;
    if (std::abs(sum - 100.0) > 1e-9)
      wr.fail("", "must add up to 100 points (on_time + reopen + inspection + availability + lab), got " + std::to_string(sum));
  }
  for (const auto p : {om::assessment_part::on_time, om::assessment_part::inspection, om::assessment_part::availability,
                       om::assessment_part::lab})
    r.read(std::string(om::to_string(p)) + "_target", out.targets[static_cast<std::size_t>(p)], 0.01, 1.0);
  r.read("reopen_rate_full_deduction", out.reopen_rate_full_deduction, 0.01, 1.0);
  r.reject_unknown();
}

}  // namespace detail
}  // namespace sewage::gateway
