// Inspections, QR codes and assessment routes (om/http_inspections.hpp). JSON via nlohmann.
#include "om/http_inspections.hpp"

#include "sewage/gateway/om/assessment.hpp"
#include "sewage/gateway/om/qr.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/report.hpp"
#include "detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sewage::gateway::om {

using nlohmann::json;

namespace {

using gateway::detail::json_response;

std::int64_t ms_of(proto::timestamp t) { return t.time_since_epoch().count(); }
std::string iso(std::int64_t ms) { return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms))); }
json iso_or_null(const std::optional<std::int64_t>& ms) { return ms ? json(iso(*ms)) : json(nullptr); }

std::optional<std::string> param(const inspections_call& c, std::string_view k) {
  const auto it = c.q.find(k);
  if (it == c.q.end()) return std::nullopt;
  return it->second;
}

/// A positive integer id from a path segment or body; auth_error 400 naming `field` otherwise.
std::int64_t id_of(std::string_view text, const char* field) {
  std::int64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || v <= 0)
    throw auth::auth_error(400, std::string(field) + ": must be a positive integer id");
  return v;
}

/// Rethrows an inspection_error as the auth_error api.cpp answers.
template <class F>
auto refusals(F&& f) {
  try {
    return f();
  } catch (const inspection_error& e) {
    throw auth::auth_error(e.status(), e.what());
  }
}

const plan_site& site_of(const std::vector<plan_site>& sites, const inspections_call& c, const std::string& id,
                         const char* field) {
  const auto it = std::find_if(sites.begin(), sites.end(), [&](const auto& s) { return s.site_id == id; });
  if (it != sites.end()) return *it;
  // Tell "outside your towns" from "no such site" only to whole-county callers' benefit: 403 when
  // the registry has it.
  if (c.view.reg->find(id)) throw auth::auth_error(403, std::string(field) + ": site is outside your towns");
  throw auth::auth_error(404, std::string(field) + ": no such site");
}

json item_json(const inspection_item& i) {
  return json{{"key", i.key},
              {"label", i.label},
              {"result", to_string(i.result)},
              {"note", i.note},
              {"work_order_id", i.work_order_id ? json(*i.work_order_id) : json(nullptr)}};
}

json inspection_json(const inspection& i) {
  json items = json::array();
  for (const auto& it : i.items) items.push_back(item_json(it));
  return json{{"id", i.id},
              {"site_id", i.site_id},
              {"kind", i.kind},
              {"town", i.town},
              {"contractor", i.contractor},
              {"state", i.state},
              {"checkin_id", i.checkin_id ? json(*i.checkin_id) : json(nullptr)},
              {"due_at", iso(i.due_ms)},
              {"started_at", iso(i.started_ms)},
              {"completed_at", iso_or_null(i.completed_ms)},
              {"started_by", i.started_by},
              {"completed_by", i.completed_by},
              {"late", i.completed_ms ? *i.completed_ms > i.due_ms : false},
              {"note", i.note},
              {"items", std::move(items)}};
}

json figures_json(const inspection_figures& f) {
  const auto rate = [](std::optional<double> v) { return v ? json(std::round(*v * 1000.0) / 1000.0) : json(nullptr); };
  return json{{"key", f.key},          {"due", f.judged()},      {"on_time", f.on_time},
              {"late", f.late},        {"missed", f.missed},     {"overdue", f.overdue},
              {"pending", f.pending},  {"late_total", f.late_total()},
              {"completion_rate", rate(f.completion_rate())}, {"on_time_rate", rate(f.on_time_rate())}};
}

json body_object(const http_request& req, std::initializer_list<std::string_view> allowed, const char* shape) {
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw auth::auth_error(400, std::string("body must be a JSON object ") + shape);
  for (const auto& [k, v] : body.items())
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      throw auth::auth_error(400, "unknown field '" + k.substr(0, 64) + "' in the body");
  return body;
}

/// The work-order severity of a checklist item's: minor -> info, major -> warning, critical -> critical.
severity order_severity(const std::string& item_severity) {
  if (item_severity == "critical") return severity::critical;
  if (item_severity == "warning") return severity::warning;
  return severity::info;
}

/// Opens the work order of a finding through om::work_orders::create (source "inspection",
/// source_ref "<inspection id>/<item key>", the item's fault type and severity), on a connection
/// of its own for this completion. A refusal (om_error) refuses the completion, naming the item.
std::int64_t open_finding_order(const inspections_call& c, const finding& f, const auth::principal& by) {
  const auto reg = c.view.reg;
  std::optional<work_orders> own;  // without the gateway's room: one on the SQLite file
  if (c.orders == nullptr)
    own.emplace(c.insp.db_path(), c.view.cfg->om, c.clock,
                [reg](const std::string& id) -> std::optional<site_ref> {
                  const auto i = reg->find(id);
                  if (!i) return std::nullopt;
                  const auto& t = reg->terminals()[*i];
                  return site_ref{t.id, t.town, t.latitude_deg, t.longitude_deg};
                },
                c.ids);
  work_orders& orders = c.orders != nullptr ? *c.orders : *own;
  new_work_order o;
  o.site_id = f.site_id;
  o.source = "inspection";
  o.source_ref = std::to_string(f.inspection_id) + "/" + f.item.key;
  o.fault_type = f.item.fault_type.substr(0, 64);
  o.sev = order_severity(f.item.severity);
  o.title = (f.item.label + ": " + f.note).substr(0, 200);
  o.description = "Inspection " + std::to_string(f.inspection_id) + " finding: " + f.item.label + " - " + f.note;
  o.contractor = f.contractor;
  // A contractor's crew may not create orders (om::refusal): its finding is opened by the gateway
  // on its behalf (actor kind system, the inspector's name), like an order from an alert.
  auth::principal creator = by;
  if (!by.at_least(auth::role::operator_)) {
    creator = auth::principal{};
    creator.kind = auth::actor_kind::system;
    creator.name = by.name;
  }
  try {
    return orders.create(o, creator);
  } catch (const om_error& e) {
    throw inspection_error(e.status(), "items: '" + f.item.key + "': work order refused: " + e.what());
  }
}

}  // namespace

std::vector<plan_site> visible_sites(const county_view& view, const auth::principal& who, std::int64_t plan_started_ms) {
  std::vector<plan_site> out;
  if (!view.reg) return out;
  for (std::size_t i = 0; i < view.reg->size(); ++i) {
    const auto& t = view.reg->terminals()[i];
    plan_site s;
    s.site_id = t.id;
    s.name = t.name;
    s.town = t.town;
    s.kind = "terminal";
    if (!who.sees(t.town, t.id)) continue;
    s.contractor = view.cfg != nullptr ? contractor_of(view.cfg->om, t.id, t.town) : std::string();
    s.design_capacity_m3d = t.design_capacity_m3d;
    // Registered before registration times were kept (the epoch): the plan's own start.
    const auto reg = i < view.registered_at.size() ? ms_of(view.registered_at[i]) : ms_of(view.now);
    s.since_ms = reg > 0 ? reg : plan_started_ms;
    out.push_back(std::move(s));
  }
  return out;
}

http_response checklists_get(const inspections_call& c) {
  const auto& s = c.insp.settings();
  json kinds = json::object();
  for (const auto& [kind, items] : s.checklists) {
    json arr = json::array();
    for (const auto& i : items)
      arr.push_back(json{{"key", i.key}, {"label", i.label}, {"fault_type", i.fault_type}, {"severity", i.severity}});
    kinds[kind] = std::move(arr);
  }
  return json_response(200, json{{"checklists", std::move(kinds)},
                                 {"interval_days", {{"small", s.interval_days_small},
                                                    {"medium", s.interval_days_medium},
                                                    {"large", s.interval_days_large}}},
                                 {"size_class_limits_m3d", s.size_class_limits_m3d}});
}

http_response plan_get(const inspections_call& c) {
  const auto town = param(c, "town");
  if (town && !c.who.sees_town(*town)) throw auth::auth_error(403, "town: outside your towns");
  auto sites = visible_sites(c.view, c.who, c.insp.plan_started_ms());
  if (town) std::erase_if(sites, [&](const auto& s) { return s.town != *town; });
  const auto now = ms_of(c.view.now);
  json rows = json::array();
  std::size_t late = 0;
  for (const auto& r : c.insp.plan(sites, now)) {
    late += r.late ? 1 : 0;
    rows.push_back(json{{"site_id", r.site.site_id},
                        {"name", r.site.name},
                        {"town", r.site.town},
                        {"kind", r.site.kind},
                        {"contractor", r.site.contractor},
                        {"size_class", to_string(r.size)},
                        {"interval_days", r.interval_days},
                        {"last_completed_at", iso_or_null(r.last_completed_ms)},
                        {"last_inspection_id", r.last_inspection_id ? json(*r.last_inspection_id) : json(nullptr)},
                        {"next_due_at", iso(r.next_due_ms)},
                        {"late", r.late},
                        {"days_late", r.days_late},
                        {"open_inspection_id", r.open_inspection_id ? json(*r.open_inspection_id) : json(nullptr)}});
  }
  return json_response(200, json{{"generated_at", iso(now)}, {"sites", rows.size()}, {"late", late}, {"plan", std::move(rows)}});
}

http_response figures_get(const inspections_call& c) {
  const auto now = ms_of(c.view.now);
  const auto time = [&](const char* key, std::int64_t fallback) {
    const auto v = param(c, key);
    if (!v) return fallback;
    const auto t = proto::parse_timestamp(*v);
    if (!t) throw auth::auth_error(400, std::string(key) + ": must be an ISO 8601 UTC time like 2026-11-01T00:00:00Z");
    return ms_of(*t);
  };
  const auto to = time("to", now);
  const auto from = time("from", to - 30LL * 86'400'000);
  if (from >= to) throw auth::auth_error(400, "from: must be before to");
  if (to - from > 3660LL * 86'400'000) throw auth::auth_error(400, "from: the period may span at most 3660 days");
  const auto by = param(c, "by").value_or("contractor");
  if (by != "contractor" && by != "town") throw auth::auth_error(400, "by: must be 'contractor' or 'town'");
  const auto occ = c.insp.occurrences(visible_sites(c.view, c.who, c.insp.plan_started_ms()), from, to, now);
  json groups = json::array();
  for (const auto& f : figures_of(occ, by == "contractor")) groups.push_back(figures_json(f));
  json late = json::array();
  for (const auto& o : occ)
    if (o.state != occurrence::status::on_time && o.state != occurrence::status::pending)
      late.push_back(json{{"site_id", o.site_id},
                          {"town", o.town},
                          {"contractor", o.contractor},
                          {"due_at", iso(o.due_ms)},
                          {"state", to_string(o.state)},
                          {"inspection_id", o.inspection_id ? json(*o.inspection_id) : json(nullptr)},
                          {"completed_at", iso_or_null(o.completed_ms)}});
  return json_response(200, json{{"from", iso(from)}, {"to", iso(to)}, {"by", by}, {"groups", std::move(groups)},
                                 {"late_inspections", std::move(late)}});
}

http_response inspections_get(const inspections_call& c) {
  std::size_t limit = 100;
  if (const auto l = param(c, "limit")) {
    const auto v = id_of(*l, "limit");
    if (v > 1000) throw auth::auth_error(400, "limit: at most 1000");
    limit = static_cast<std::size_t>(v);
  }
  const auto sites = visible_sites(c.view, c.who, c.insp.plan_started_ms());
  std::vector<std::string> ids;
  if (const auto s = param(c, "site")) ids.push_back(site_of(sites, c, *s, "site").site_id);
  else
    for (const auto& s : sites) ids.push_back(s.site_id);
  json arr = json::array();
  if (!ids.empty())
    for (const auto& i : c.insp.list(ids, limit)) arr.push_back(inspection_json(i));
  return json_response(200, json{{"count", arr.size()}, {"inspections", std::move(arr)}});
}

http_response inspection_get(const inspections_call& c) {
  const auto id = id_of(c.args.at(0), "id");
  const auto i = c.insp.get(id);
  if (!i) throw auth::auth_error(404, "no inspection " + std::to_string(id));
  if (!c.who.sees(i->town, i->site_id)) throw auth::auth_error(403, "inspection " + std::to_string(id) + " is outside your towns");
  return json_response(200, json{{"inspection", inspection_json(*i)}});
}

http_response inspection_start(const inspections_call& c) {
  if (!c.who.at_least(auth::role::contractor))
    throw auth::auth_error(403, "role " + std::string(auth::to_string(c.who.role)) + " may not do inspections: contractor or operator needed");
  const auto body = body_object(c.req, {"site_id", "checkin_id"}, "{\"site_id\": \"...\", \"checkin_id\": 12}");
  const auto sid = body.find("site_id");
  if (sid == body.end() || !sid->is_string()) throw auth::auth_error(400, "site_id: required string");
  const auto cid = body.find("checkin_id");
  if (cid == body.end() || !cid->is_number_integer() || cid->get<std::int64_t>() <= 0)
    throw auth::auth_error(400, "checkin_id: required positive integer (POST /api/checkins at the site first)");
  const auto sites = visible_sites(c.view, c.who, c.insp.plan_started_ms());
  const auto& site = site_of(sites, c, sid->get<std::string>(), "site_id");
  const auto id = refusals([&] { return c.insp.start(site, cid->get<std::int64_t>(), c.who, ms_of(c.view.now)); });
  if (c.ids != nullptr)
    c.ids->audit(c.who, "inspection.start", std::to_string(id),
                 json{{"site_id", site.site_id}, {"checkin_id", cid->get<std::int64_t>()}}.dump());
  return json_response(201, json{{"inspection", inspection_json(*c.insp.get(id))}});
}

http_response inspection_complete(const inspections_call& c) {
  if (!c.who.at_least(auth::role::contractor))
    throw auth::auth_error(403, "role " + std::string(auth::to_string(c.who.role)) + " may not do inspections: contractor or operator needed");
  const auto id = id_of(c.args.at(0), "id");
  const auto body = body_object(c.req, {"items", "note"},
                                "{\"items\": [{\"key\": \"outlet_clear\", \"result\": \"ok\" | \"not_ok\" | \"na\", \"note\": \"...\"}], \"note\": \"...\"}");
  const auto current = c.insp.get(id);
  if (!current) throw auth::auth_error(404, "no inspection " + std::to_string(id));
  if (!c.who.sees(current->town, current->site_id)) throw auth::auth_error(403, "inspection " + std::to_string(id) + " is outside your towns");
  const auto items = body.find("items");
  if (items == body.end() || !items->is_array()) throw auth::auth_error(400, "items: required array of answers");
  std::vector<item_answer> answers;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const auto& a = (*items)[i];
    const std::string at = "items[" + std::to_string(i) + "]";
    if (!a.is_object()) throw auth::auth_error(400, at + ": must be an object {key, result, note}");
    for (const auto& [k, v] : a.items())
      if (k != "key" && k != "result" && k != "note") throw auth::auth_error(400, at + ": unknown field '" + k.substr(0, 64) + "'");
    item_answer ans;
    if (!a.contains("key") || !a["key"].is_string()) throw auth::auth_error(400, at + ".key: required string");
    ans.key = a["key"].get<std::string>();
    if (!a.contains("result") || !a["result"].is_string()) throw auth::auth_error(400, at + ".result: required: ok, not_ok or na");
    const auto r = parse_item_result(a["result"].get<std::string>());
    if (!r) throw auth::auth_error(400, at + ".result: must be ok, not_ok or na");
    ans.result = *r;
    if (a.contains("note")) {
      if (!a["note"].is_string()) throw auth::auth_error(400, at + ".note: must be a string");
      ans.note = a["note"].get<std::string>();
    }
    answers.push_back(std::move(ans));
  }
  std::string note;
  if (const auto n = body.find("note"); n != body.end()) {
    if (!n->is_string()) throw auth::auth_error(400, "note: must be a string");
    note = n->get<std::string>();
  }
  const auto done = refusals([&] {
    return c.insp.complete(id, answers, note, c.who, ms_of(c.view.now), [&](const finding& f, const auth::principal& by) {
      return open_finding_order(c, f, by);
    });
  });
  if (c.ids != nullptr) {
    json orders = json::array();
    for (const auto& i : done.items)
      if (i.work_order_id) orders.push_back(*i.work_order_id);
    c.ids->audit(c.who, "inspection.complete", std::to_string(id), json{{"site_id", done.site_id}, {"work_orders", orders}}.dump());
  }
  return json_response(200, json{{"inspection", inspection_json(done)}});
}

http_response site_qr_get(const inspections_call& c) {
  const auto& id = c.args.at(0);
  const auto sites = visible_sites(c.view, c.who, c.insp.plan_started_ms());
  const auto& site = site_of(sites, c, id, "id");
  // The key file of [om] site_key_file (made 0600 at first start when absent; the check-in
  // verifies with the same file). Read per request: 32 bytes, and a replaced key shows at once.
  const auto& configured = c.view.cfg->om.site_key_file;
  const auto key = load_or_create_site_key(configured.empty() ? c.insp.db_path().parent_path() / "site-key" : configured);
  http_response r;
  r.content_type = "image/svg+xml";
  r.body = qr_svg(checkin_url(c.view.cfg->om.public_url, site.site_id, sign_site_token(key, site.site_id)));
  return r;
}

http_response assessment_get(const inspections_call& c) {
  std::optional<report_month> month;
  if (const auto m = param(c, "month")) {
    month = parse_report_month(*m);
    if (!month) throw auth::auth_error(400, "month: must be a month YYYY-MM (1970-01 or later)");
  }
  const auto by = param(c, "by").value_or("contractor");
  if (by != "contractor" && by != "town") throw auth::auth_error(400, "by: must be 'contractor' or 'town'");
  const auto format = param(c, "format").value_or("json");
  if (format != "json" && format != "csv") throw auth::auth_error(400, "format: must be 'json' or 'csv'");
  // The caller's sites only: a town officer's assessment covers its towns.
  county_view scoped = c.view;
  if (!c.who.whole_county()) {
    std::vector<terminal_info> keep;
    scoped.report_interval_s.clear();
    scoped.registered_at.clear();
    for (std::size_t i = 0; i < c.view.reg->size(); ++i) {
      if (!c.who.sees(c.view.reg->terminals()[i].town, c.view.reg->terminals()[i].id)) continue;
      keep.push_back(c.view.reg->terminals()[i]);
      scoped.report_interval_s.push_back(c.view.report_interval_s.at(i));
      scoped.registered_at.push_back(c.view.registered_at.at(i));
    }
    scoped.reg = std::make_shared<const registry>(std::move(keep));
  }
  monthly_report rep;
  try {
    rep = build_report(c.db, scoped, month, std::nullopt);
  } catch (const report_error& e) {
    throw auth::auth_error(e.not_found() ? 404 : 400, e.what());
  }
  assessment_input in;
  in.month = format_report_month(rep.month);
  in.from_ms = ms_of(rep.from);
  in.to_ms = ms_of(rep.to);
  in.now_ms = ms_of(c.view.now);
  const auto sites = visible_sites(scoped, c.who, c.insp.plan_started_ms());
  for (const auto& s : sites) in.sites.push_back({s.site_id, s.town, s.contractor});
  for (const auto& t : rep.terminals)
    in.availability.push_back({t.id, static_cast<double>(t.figures.records), t.figures.expected_records});
  in.inspections = c.insp.occurrences(sites, in.from_ms, in.to_ms, in.now_ms);
  load_orders_and_lab(c.insp.db_path(), in);
  if (c.orders != nullptr) load_orders(*c.orders, in);  // the room's orders (with PostgreSQL: the shared ones)
  const auto a = assess(in, c.view.cfg->om_assessment, by == "contractor");
  http_response r;
  if (format == "json") {
    r.body = assessment_json(a);
    return r;
  }
  r.content_type = "text/csv; charset=utf-8";
  r.body = assessment_csv(a);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"assessment-" + a.month + "-" + by + ".csv\"");
  return r;
}

}  // namespace sewage::gateway::om
