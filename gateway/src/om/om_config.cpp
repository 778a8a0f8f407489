// O&M room: the [om] table of the gateway config (om/settings.hpp), with [om.work_orders],
// [[om.work_orders.policy]] and [[om.contractor]].
#include "sewage/gateway/om/settings.hpp"

#include "toml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace sewage::gateway {
namespace om {

std::int64_t work_order_settings::due_ms_for(severity s) const noexcept {
  const std::uint32_t h = s == severity::critical ? due_critical_h : s == severity::warning ? due_warning_h : due_info_h;
  return static_cast<std::int64_t>(h) * 3'600'000;
}

std::string_view size_class(double design_capacity_m3d, const settings& s) noexcept {
  if (!(design_capacity_m3d >= s.size_class_limits_m3d[0])) return "small";  // NaN and negatives too
  if (design_capacity_m3d >= s.size_class_limits_m3d[1]) return "large";
  return "medium";
}

}  // namespace om

namespace detail {
namespace {

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
         });
}

std::optional<severity> parse_sev(std::string_view s) {
  if (s == "info") return severity::info;
  if (s == "warning") return severity::warning;
  if (s == "critical") return severity::critical;
  return std::nullopt;
}

void read_work_orders(const toml::table& t, om::work_order_settings& w) {
  toml_reader r(t, "om.work_orders");
  if (const auto* d = r.sub_table("due_h")) {
    toml_reader dr(*d, "om.work_orders.due_h");
    dr.read_int("critical", w.due_critical_h, 1, 24 * 365);
    dr.read_int("warning", w.due_warning_h, 1, 24 * 365);
    dr.read_int("info", w.due_info_h, 1, 24 * 365);
    dr.reject_unknown();
  }
  r.read_int("escalate_county_after_h", w.escalate_county_after_h, 1, 24 * 365);
  r.read_int("check_interval_s", w.check_interval_s, 1, 3600);
  if (const auto* n = r.raw("policy")) {
    if (!n->is_array_of_tables()) r.fail("policy", "must be [[om.work_orders.policy]] tables");
    std::size_t i = 0;
    for (const auto& e : *n->as_array()) {
      toml_reader pr(*e.as_table(), "om.work_orders.policy[" + std::to_string(i++) + "]");
      om::work_order_policy p;
      pr.read("type", p.type);
      if (p.type.empty()) pr.fail("type", "must name an alert type (e.g. \"turbidity_high\") or \"*\"");
      std::string sev(to_string(p.min_severity));
      pr.read("min_severity", sev);
      const auto s = parse_sev(sev);
      if (!s) pr.fail("min_severity", "must be \"info\", \"warning\" or \"critical\", got \"" + sev + "\"");
      p.min_severity = *s;
      pr.read_int("min_duration_s", p.min_duration_s, 0, 30 * 86400);
      pr.reject_unknown();
      w.policies.push_back(std::move(p));
    }
  }
  r.reject_unknown();
}

}  // namespace

void read_om(const toml::table& table, om::settings& out,
             const std::function<std::string(const std::string&)>& resolve_path) {
  toml_reader r(table, "om");
  r.read("public_url", out.public_url);
  if (out.public_url.rfind("https://", 0) != 0 && out.public_url.rfind("http://", 0) != 0)
    r.fail("public_url", "must start with https:// or http:// (QR codes carry it)");
  while (!out.public_url.empty() && out.public_url.back() == '/') out.public_url.pop_back();
  std::string key_file = out.site_key_file.string();
  r.read("site_key_file", key_file);
  if (!key_file.empty()) out.site_key_file = resolve_path(key_file);
  std::string photo_dir = out.photo_dir.string();
  r.read("photo_dir", photo_dir);
  if (!photo_dir.empty()) out.photo_dir = resolve_path(photo_dir);
  r.read("checkin_radius_m", out.checkin_radius_m, 1.0, 10000.0);
  r.read("checkin_max_accuracy_m", out.checkin_max_accuracy_m, 1.0, 100000.0);
  if (const auto* n = r.raw("size_class_limits_m3d")) {
    const auto* a = n->as_array();
    if (a == nullptr || a->size() != 2 || !(*a)[0].is_number() || !(*a)[1].is_number())
      r.fail("size_class_limits_m3d", "must be two numbers [small_below, large_from], m3/d");
    const double lo = *(*a)[0].value<double>(), hi = *(*a)[1].value<double>();
    if (!(lo > 0 && hi > lo)) r.fail("size_class_limits_m3d", "must be increasing positive numbers");
    out.size_class_limits_m3d = {lo, hi};
  }
  r.read_int("photo_max_bytes", out.photo_max_bytes, 1024, 100LL * 1024 * 1024);
  if (const auto* t = r.sub_table("work_orders")) read_work_orders(*t, out.work_orders);
  if (const auto* n = r.raw("contractor")) {
    if (!n->is_array_of_tables()) r.fail("contractor", "must be [[om.contractor]] tables");
    std::map<std::string, std::string> site_owner, town_owner;
    std::size_t i = 0;
    for (const auto& e : *n->as_array()) {
      toml_reader cr(*e.as_table(), "om.contractor[" + std::to_string(i++) + "]");
      om::contractor c;
      cr.read("name", c.name);
      if (!valid_name(c.name)) cr.fail("name", "must be 1..64 characters of A-Z a-z 0-9 . _ -");
      cr.read("display_name", c.display_name);
      if (c.display_name.empty()) c.display_name = c.name;
      cr.read("towns", c.towns);
      cr.read("sites", c.sites);
      cr.reject_unknown();
      for (const auto& o : out.contractors)
        if (o.name == c.name) cr.fail("name", "\"" + c.name + "\" is used by an earlier contractor");
      for (const auto& s : c.sites)
        if (auto [it, fresh] = site_owner.emplace(s, c.name); !fresh)
          cr.fail("sites", "site \"" + s + "\" is already served by contractor \"" + it->second + "\"");
      for (const auto& t : c.towns)
        if (auto [it, fresh] = town_owner.emplace(t, c.name); !fresh)
          cr.fail("towns", "town \"" + t + "\" is already served by contractor \"" + it->second + "\"");
      out.contractors.push_back(std::move(c));
    }
  }
  r.reject_unknown();
}

}  // namespace detail
}  // namespace sewage::gateway
