// HTTP routes of the site archive (om/http_lab.hpp): GET/PUT the archive, clean-outs, equipment.
#include "om/http_lab.hpp"
#include "om/http_work_orders.hpp"

#include "sewage/gateway/operating_day.hpp"
#include "detail/http_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sewage::gateway::om {

using gateway::detail::json_response;

using nlohmann::json;

namespace {

archive& archive_of(const call& c) {
  if (c.archive_room == nullptr) throw lab_error(503, "this gateway has no site archive (no store connection)");
  return *c.archive_room;
}

/// A county date "YYYY-MM-DD" not after today; "" allowed when not `required`.
std::string date_field(const call& c, const json& b, const char* key, bool required) {
  const auto s = text_field(b, key, required, 10);
  if (s.empty()) return s;
  const auto d = parse_day(s);
  if (!d) throw lab_error(400, std::string(key) + ": must be a date YYYY-MM-DD, got '" + escaped(s) + "'");
  const auto today = operating_day(proto::timestamp(std::chrono::milliseconds(c.now_ms)), c.cfg.zone);
  if (*d > today) throw lab_error(400, std::string(key) + ": is in the future");
  return s;
}

/// The contractor serving a site per [[om.contractor]] (contract of issue 12: the one whose `sites`
/// names it, else the one whose `towns` has its town); null when none. A local reading of the
/// configuration until the work-order room's om::contractors::of is merged.
json contractor_json(const call& c, const terminal_info& t) {
  const auto pick = [&](const om::contractor& k) { return json{{"name", k.name}, {"display_name", k.display_name.empty() ? k.name : k.display_name}}; };
  for (const auto& k : c.cfg.om.contractors)
    if (std::find(k.sites.begin(), k.sites.end(), t.id) != k.sites.end()) return pick(k);
  for (const auto& k : c.cfg.om.contractors)
    if (std::find(k.towns.begin(), k.towns.end(), t.town) != k.towns.end()) return pick(k);
  return nullptr;
}

json fields_json(const archive_fields& f) {
  return json{{"process", f.process},
              {"households", f.households ? json(*f.households) : json(nullptr)},
              {"villages", f.villages},
              {"notes", f.notes},
              {"changed_at", f.changed_ms ? json(iso_ms(f.changed_ms)) : json(nullptr)},
              {"changed_by", f.changed_ms ? json(f.changed_by) : json(nullptr)}};
}

/// Site `site_id`'s newest `limit` orders from the work orders room, each with the columns of its
/// table as archive::history lists the SQLite file's rows (times in ms, null when not set).
json orders_history(work_orders& orders, const std::string& site_id, std::size_t limit) {
  auth::principal gateway;
  gateway.kind = auth::actor_kind::system;  // the route has checked the caller may see the site
  order_query q;
  q.site = site_id;
  q.limit = limit;
  const auto ms = [](const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); };
  json rows = json::array();
  for (const auto& o : orders.list(q, gateway)) {
    auto row = order_fields_json(o);
    row["created_ms"] = o.created_ms;
    row["dispatched_ms"] = ms(o.dispatched_ms);
    row["on_site_ms"] = ms(o.on_site_ms);
    row["fixed_ms"] = ms(o.fixed_ms);
    row["verified_ms"] = ms(o.verified_ms);
    row["due_ms"] = o.due_ms;
    row["escalated_level"] = o.escalated_level;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

http_response archive_get(const call& c) {
  auto& a = archive_of(c);
  const auto& id = c.args.at(0);
  const auto idx = visible_site(c, id);
  const auto& t = c.reg.terminals()[idx];
  const auto limit = c.cfg.om_archive.history_limit;
  json site{{"id", t.id},
            {"name", t.name},
            {"town", t.town},
            {"village", t.village},
            {"latitude_deg", t.latitude_deg},
            {"longitude_deg", t.longitude_deg},
            {"design_capacity_m3d", t.design_capacity_m3d},
            {"size_class", std::string(size_class(t.design_capacity_m3d, c.cfg.om))},
            {"discharge_grade", t.discharge_grade}};
  const limits_table* limits = c.lab_room != nullptr ? &c.lab_room->limits() : c.cfg.om_lab.limits.get();
  if (const auto* g = limits != nullptr ? limits->find(t.discharge_grade) : nullptr) {
    site["discharge_standard"] = g->standard;
    site["discharge_grade_label"] = g->label;
  }
  json equipment = json::array();
  for (const auto& e : a.equipment(id))
    equipment.push_back({{"id", e.id},
                         {"kind", e.kind},
                         {"model", e.model},
                         {"serial", e.serial},
                         {"installed_date", e.installed_date},
                         {"added_at", iso_ms(e.added_ms)},
                         {"added_by", e.added_by}});
  json cleanouts = json::array();
  for (const auto& k : a.cleanouts(id, limit))
    cleanouts.push_back({{"id", k.id},
                         {"date", k.date},
                         {"volume_m3", k.volume_m3},
                         {"sludge_destination", k.sludge_destination},
                         {"done_by", k.done_by},
                         {"note", k.note},
                         {"entered_at", iso_ms(k.created_ms)},
                         {"entered_by", k.created_by}});
  json out{{"site", site},
           {"archive", fields_json(a.fields(id))},
           {"contractor", contractor_json(c, t)},
           {"equipment", equipment},
           {"cleanouts", cleanouts}};
  // The orders from the work orders room (with PostgreSQL: the shared tables, not this host's file).
  const auto wo = c.orders != nullptr ? std::optional<json>(orders_history(*c.orders, id, limit))
                                      : a.history("work_orders", id, limit);
  const auto insp = a.history("inspections", id, limit);
  out["work_orders"] = wo ? *wo : json(nullptr);
  out["inspections"] = insp ? *insp : json(nullptr);
  if (c.lab_room != nullptr) {
    // The lab section: recent results with their verdicts and the site's sampling status.
    std::map<std::string, std::string, std::less<>> q{{"site", id}, {"limit", std::to_string(std::min<std::uint32_t>(limit, 1000))}};
    const call lc{c.lab_room, c.archive_room, c.ids, c.who, c.req, q, c.args, c.reg, c.cfg, c.now_ms, c.registered_ms, c.db,
                  c.orders};
    out["lab_results"] = json::parse(lab_results_get(lc).body)["results"];
    const auto last = c.lab_room->last_sampled();
    const auto it = last.find(id);
    const auto st = sampling_of(id, size_class(t.design_capacity_m3d, c.cfg.om), it == last.end() ? std::nullopt : std::optional<std::int64_t>(it->second),
                                c.registered_ms(idx), c.now_ms, c.cfg.om_lab);
    out["sampling"] = {{"size_class", st.size_class},
                       {"interval_days", st.interval_days},
                       {"last_sampled_at", st.last_sampled_ms ? json(iso_ms(*st.last_sampled_ms)) : json(nullptr)},
                       {"due_at", iso_ms(st.due_ms)},
                       {"overdue", st.overdue},
                       {"overdue_days", st.overdue_days}};
  } else {
    out["lab_results"] = nullptr;
    out["sampling"] = nullptr;
  }
  out["generated_at"] = iso_ms(c.now_ms);
  return json_response(200, out);
}

http_response archive_put(const call& c) {
  auto& a = archive_of(c);
  const auto& id = c.args.at(0);
  visible_site(c, id);
  const auto b = body_object(c, {"process", "households", "villages", "notes"});
  archive_fields f;
  f.process = text_field(b, "process", false, 200);
  f.notes = text_field(b, "notes", false, 4000);
  if (const auto it = b.find("households"); it != b.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 1'000'000)
      throw lab_error(400, "households: must be an integer in [0, 1000000] or null");
    f.households = it->get<std::int64_t>();
  }
  if (const auto it = b.find("villages"); it != b.end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 100) throw lab_error(400, "villages: must be an array of at most 100 names");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 100)
        throw lab_error(400, "villages[" + std::to_string(i) + "]: must be a name of 1..100 bytes");
      f.villages.push_back(v.get<std::string>());
    }
  }
  a.put(id, f, c.now_ms, c.who.name);
  audit(c, "archive.put", id, json{{"process", f.process}, {"households", f.households ? json(*f.households) : json(nullptr)}});
  return json_response(200, json{{"archive", fields_json(a.fields(id))}});
}

http_response cleanouts_post(const call& c) {
  auto& a = archive_of(c);
  const auto& id = c.args.at(0);
  visible_site(c, id);
  const auto b = body_object(c, {"date", "volume_m3", "sludge_destination", "done_by", "note"});
  cleanout k;
  k.date = date_field(c, b, "date", true);
  const auto v = b.find("volume_m3");
  if (v == b.end() || !v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 0 || v->get<double>() > 100000)
    throw lab_error(400, "volume_m3: required, a number of m3 in [0, 100000]");
  k.volume_m3 = v->get<double>();
  k.sludge_destination = text_field(b, "sludge_destination", true);
  k.done_by = text_field(b, "done_by", true);
  k.note = text_field(b, "note", false, 2000);
  const auto cid = a.add_cleanout(id, k, c.now_ms, c.who.name);
  audit(c, "archive.cleanout", id, json{{"id", cid}, {"date", k.date}, {"volume_m3", k.volume_m3}});
  return json_response(201, json{{"id", cid}});
}

http_response equipment_post(const call& c) {
  auto& a = archive_of(c);
  const auto& id = c.args.at(0);
  visible_site(c, id);
  const auto b = body_object(c, {"kind", "model", "serial", "installed_date"});
  equipment_item e;
  e.kind = text_field(b, "kind", true, 100);
  e.model = text_field(b, "model", false, 100);
  e.serial = text_field(b, "serial", false, 100);
  e.installed_date = date_field(c, b, "installed_date", false);
  const auto eid = a.add_equipment(id, e, c.now_ms, c.who.name);
  audit(c, "archive.equipment.add", id, json{{"id", eid}, {"kind", e.kind}, {"model", e.model}, {"serial", e.serial}});
  return json_response(201, json{{"id", eid}});
}

http_response equipment_delete(const call& c) {
  auto& a = archive_of(c);
  const auto& id = c.args.at(0);
  visible_site(c, id);
  const auto& s = c.args.at(1);
  std::int64_t eid = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), eid);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || eid < 1) throw lab_error(400, "equipment id: must be a positive integer");
  if (!a.remove_equipment(id, eid)) throw lab_error(404, "site '" + escaped(id) + "' has no equipment " + std::to_string(eid));
  audit(c, "archive.equipment.remove", id, json{{"id", eid}});
  return json_response(200, json{{"deleted", eid}});
}

}  // namespace sewage::gateway::om
