// HTTP routes of work orders, check-ins and photos (om/http_work_orders.hpp).
#include "om/http_work_orders.hpp"

#include "sewage/gateway/om/checkin.hpp"
#include "detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace sewage::gateway::om {

using nlohmann::json;

namespace {

using gateway::detail::json_response;

json iso(std::optional<std::int64_t> ms) {
  if (!ms) return nullptr;
  return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(*ms)));
}

json body_object(const http_request& req, std::initializer_list<std::string_view> allowed) {
  auto body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw om_error(400, "bad_body", "body must be a JSON object");
  for (const auto& [k, v] : body.items())
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string names;
      for (const auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      throw om_error(400, "bad_field", "unknown field '" + k.substr(0, 64) + "' (accepted: " + names + ")");
    }
  return body;
}

std::string str(const json& b, const char* key, bool required, std::string fallback = {}) {
  const auto it = b.find(key);
  if (it == b.end() || it->is_null()) {
    if (required) throw om_error(400, "bad_field", std::string(key) + ": required string");
    return fallback;
  }
  if (!it->is_string()) throw om_error(400, "bad_field", std::string(key) + ": must be a string");
  return it->get<std::string>();
}

std::optional<double> num(const json& b, const char* key) {
  const auto it = b.find(key);
  if (it == b.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw om_error(400, "bad_field", std::string(key) + ": must be a number");
  return it->get<double>();
}

std::optional<std::int64_t> integer(const json& b, const char* key) {
  const auto it = b.find(key);
  if (it == b.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw om_error(400, "bad_field", std::string(key) + ": must be an integer");
  return it->get<std::int64_t>();
}

std::int64_t id_arg(const std::string& s, const char* what) {
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v <= 0)
    throw om_error(400, "bad_id", std::string(what) + ": must be a positive integer");
  return v;
}

std::optional<double> q_num(const order_call& c, const char* key) {
  const auto it = c.q.find(key);
  if (it == c.q.end() || it->second.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const double v = std::stod(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("tail");
    return v;
  } catch (const std::exception&) {
    throw om_error(400, "bad_parameter", std::string(key) + ": must be a number");
  }
}

std::optional<std::int64_t> q_time(const order_call& c, const char* key) {
  const auto it = c.q.find(key);
  if (it == c.q.end() || it->second.empty()) return std::nullopt;
  const auto t = proto::parse_timestamp(it->second);
  if (!t) throw om_error(400, "bad_parameter", std::string(key) + ": must be an RFC 3339 time (2026-12-01T00:00:00Z)");
  return t->time_since_epoch().count();
}

json order_json(const work_order& o) {
  auto j = order_fields_json(o);
  j["created_at"] = iso(o.created_ms);
  j["dispatched_at"] = iso(o.dispatched_ms);
  j["on_site_at"] = iso(o.on_site_ms);
  j["fixed_at"] = iso(o.fixed_ms);
  j["verified_at"] = iso(o.verified_ms);
  j["due_at"] = iso(o.due_ms);
  j["escalated"] = o.escalated_level == 2 ? "county" : o.escalated_level == 1 ? "town" : "";
  return j;
}

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<site_ref> site_of(const registry& reg, const std::string& id) {
  const auto idx = reg.find(id);
  if (!idx) return std::nullopt;
  const auto& t = reg.terminals()[*idx];
  return site_ref{t.id, t.town, t.latitude_deg, t.longitude_deg};
}

/// The order `id` when `who` may see it: 404 unknown, 403 outside the scope.
work_order visible_order(const order_call& c, std::int64_t id) {
  auto o = c.orders.get(id);
  if (!o) throw om_error(404, "not_found", "work order " + std::to_string(id) + " does not exist");
  if (!may_see(c.who, o->town, o->contractor))
    throw om_error(403, "forbidden", "work order " + std::to_string(id) + " is outside your scope");
  return *o;
}

}  // namespace

json order_fields_json(const work_order& o) {
  return json{{"id", o.id},
              {"site_id", o.site_id},
              {"town", o.town},
              {"source", o.source},
              {"source_ref", o.source_ref},
              {"fault_type", o.fault_type},
              {"severity", to_string(o.sev)},
              {"title", o.title},
              {"description", o.description},
              {"contractor", o.contractor},
              {"state", to_string(o.state)},
              {"reopen_count", o.reopen_count},
              {"cause", o.cause},
              {"parts_used", o.parts_used},
              {"created_by", o.created_by},
              {"reporter_phone", o.reporter_phone}};
}

std::vector<std::string> sites_of_contractor(const settings& s, const registry& reg, const std::string& contractor) {
  std::vector<std::string> out;
  if (contractor.empty()) return out;
  for (const auto& t : reg.terminals())
    if (contractor_of(s, t.id, t.town) == contractor) out.push_back(t.id);
  return out;
}

http_response orders_get(const order_call& c) {
  order_query q;
  if (const auto it = c.q.find("state"); it != c.q.end()) {
    q.state = parse_order_state(it->second);
    if (!q.state) throw om_error(400, "bad_parameter", "state: must be open, dispatched, on_site, fixed, verified or reopened");
  }
  if (const auto it = c.q.find("site"); it != c.q.end()) q.site = it->second;
  if (const auto it = c.q.find("contractor"); it != c.q.end()) q.contractor = it->second;
  if (const auto it = c.q.find("town"); it != c.q.end()) q.town = it->second;
  if (const auto it = c.q.find("cursor"); it != c.q.end()) q.before_id = id_arg(it->second, "cursor");
  if (const auto it = c.q.find("limit"); it != c.q.end()) {
    const auto l = id_arg(it->second, "limit");
    if (l > 500) throw om_error(400, "bad_parameter", "limit: must be 1..500");
    q.limit = static_cast<std::size_t>(l);
  }
  const auto rows = c.orders.list(q, c.who);
  json items = json::array();
  for (const auto& o : rows) items.push_back(order_json(o));
  json out{{"items", items}};
  out["next_cursor"] = rows.size() == q.limit && !rows.empty() ? json(std::to_string(rows.back().id)) : json(nullptr);
  return json_response(200, out);
}

http_response orders_post(const order_call& c) {
  const auto b = body_object(c.req, {"site_id", "source", "source_ref", "fault_type", "severity", "title", "description",
                                     "reporter_phone", "contractor"});
  new_work_order o;
  o.site_id = str(b, "site_id", true);
  o.source = str(b, "source", false, "manual");
  o.source_ref = str(b, "source_ref", false);
  o.fault_type = str(b, "fault_type", true);
  const auto sev = str(b, "severity", false, "warning");
  if (sev == "info") o.sev = severity::info;
  else if (sev == "warning") o.sev = severity::warning;
  else if (sev == "critical") o.sev = severity::critical;
  else throw om_error(400, "bad_field", "severity: must be info, warning or critical");
  o.title = str(b, "title", true);
  o.description = str(b, "description", false);
  o.reporter_phone = str(b, "reporter_phone", false);
  o.contractor = str(b, "contractor", false);
  const auto id = c.orders.create(o, c.who);
  return json_response(201, order_json(*c.orders.get(id)));
}

http_response figures_get(const order_call& c) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto to = q_time(c, "to").value_or(now + 1);
  const auto from = q_time(c, "from").value_or(to - 30LL * 86'400'000);
  if (from >= to) throw om_error(400, "bad_parameter", "from: must be before to");
  const auto it = c.q.find("by");
  const std::string by = it == c.q.end() ? "contractor" : it->second;
  json rows = json::array();
  for (const auto& r : c.orders.figures(from, to, by, c.who))
    rows.push_back(json{{"key", r.key},
                        {"orders", r.orders},
                        {"dispatched", r.dispatched},
                        {"mean_time_to_dispatch_h", opt(r.mean_time_to_dispatch_h)},
                        {"fixed", r.fixed},
                        {"mean_time_to_fix_h", opt(r.mean_time_to_fix_h)},
                        {"verified", r.closed},
                        {"on_time", r.on_time},
                        {"on_time_rate", opt(r.on_time_rate)},
                        {"reopened", r.reopened},
                        {"reopen_rate", opt(r.reopen_rate)}});
  return json_response(200, json{{"from", iso(from)}, {"to", iso(to)}, {"by", by}, {"rows", rows}});
}

http_response order_get(const order_call& c) {
  const auto o = visible_order(c, id_arg(c.args.at(0), "id"));
  auto j = order_json(o);
  json ev = json::array();
  for (const auto& e : c.orders.events(o.id))
    ev.push_back(json{{"at", iso(e.ts_ms)}, {"actor", e.actor}, {"from", e.from_state}, {"to", e.to_state},
                      {"lat", opt(e.lat)}, {"lon", opt(e.lon)}, {"note", e.note}});
  json ck = json::array();
  for (const auto& k : c.orders.checkins_of(o.id))
    ck.push_back(json{{"id", k.id}, {"at", iso(k.ts_ms)}, {"actor", k.actor}, {"lat", k.lat}, {"lon", k.lon},
                      {"accuracy_m", opt(k.accuracy_m)}, {"distance_m", k.distance_m}});
  json ph = json::array();
  for (const auto& p : c.orders.photos_of(o.id))
    ph.push_back(json{{"id", p.id}, {"url", "/api/photos/" + std::to_string(p.id)}, {"sha256", p.sha256}, {"bytes", p.bytes},
                      {"content_type", p.content_type}, {"taken_at", iso(p.taken_ms)}, {"taken_source", p.taken_source},
                      {"uploaded_at", iso(p.uploaded_ms)}, {"lat", opt(p.lat)}, {"lon", opt(p.lon)},
                      {"position_source", p.position_source}, {"actor", p.actor}});
  j["events"] = ev;
  j["checkins"] = ck;
  j["photos"] = ph;
  return json_response(200, j);
}

http_response order_action_post(const order_call& c) {
  const auto id = id_arg(c.args.at(0), "id");
  (void)visible_order(c, id);
  std::string name = c.args.at(1);
  std::replace(name.begin(), name.end(), '-', '_');
  const auto a = parse_order_action(name);
  if (!a) throw om_error(404, "not_found", "no work order action '" + c.args.at(1).substr(0, 32) + "' (dispatch, on-site, fixed, verify, reopen)");
  const auto b = body_object(c.req, {"note", "lat", "lon", "contractor", "cause", "parts_used"});
  transition_args t;
  t.note = str(b, "note", false);
  t.lat = num(b, "lat");
  t.lon = num(b, "lon");
  t.contractor = str(b, "contractor", false);
  t.cause = str(b, "cause", false);
  t.parts_used = str(b, "parts_used", false);
  return json_response(200, order_json(c.orders.transition(id, *a, c.who, t)));
}

http_response photos_post(const order_call& c) {
  const auto id = id_arg(c.args.at(0), "id");
  const auto o = visible_order(c, id);
  const bool crew = c.who.role == auth::role::contractor && c.who.contractor == o.contractor;
  const bool officer = c.who.role != auth::role::contractor && c.who.at_least(auth::role::operator_) && c.who.sees_town(o.town);
  if (!crew && !officer)
    throw om_error(403, "forbidden", "role " + std::string(auth::to_string(c.who.role)) +
                                         " may not add photos: the order's contractor or an operator of its town does");
  std::string type;
  for (const auto& [k, v] : c.req.headers)
    if (k.size() == 12 && std::equal(k.begin(), k.end(), "content-type", [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == y; }))
      type = v;
  if (type.empty()) throw om_error(400, "bad_field", "Content-Type: must be image/jpeg or image/png");
  const auto pid = c.orders.add_photo(id, c.req.body, type, q_num(c, "lat"), q_num(c, "lon"), c.who);
  const auto p = c.orders.photo_by_id(pid);
  return json_response(201, json{{"id", pid}, {"url", "/api/photos/" + std::to_string(pid)}, {"taken_at", iso(p->taken_ms)},
                                 {"taken_source", p->taken_source}, {"lat", opt(p->lat)}, {"lon", opt(p->lon)},
                                 {"position_source", p->position_source}, {"sha256", p->sha256}});
}

http_response photo_get(const order_call& c) {
  const auto p = c.orders.photo_by_id(id_arg(c.args.at(0), "id"));
  if (!p) throw om_error(404, "not_found", "photo " + c.args.at(0).substr(0, 32) + " does not exist");
  if (p->order_id) (void)visible_order(c, *p->order_id);
  else if (const auto s = site_of(c.reg, p->site_id); !s || !c.who.sees(s->town, s->id))
    throw om_error(403, "forbidden", "photo of a site outside your scope");
  std::ifstream f(p->path, std::ios::binary);
  if (!f) throw om_error(404, "not_found", "photo " + std::to_string(p->id) + ": its file is missing");
  std::ostringstream ss;
  ss << f.rdbuf();
  http_response r;
  r.content_type = p->content_type;
  r.body = ss.str();
  r.headers.emplace_back("Cache-Control", "private, max-age=3600");
  return r;
}

http_response checkins_post(const order_call& c) {
  const auto b = body_object(c.req, {"site_id", "token", "lat", "lon", "accuracy_m", "order_id", "inspection_id"});
  checkin_request r;
  r.site_id = str(b, "site_id", true);
  r.token = str(b, "token", false);
  r.lat = num(b, "lat");
  r.lon = num(b, "lon");
  r.accuracy_m = num(b, "accuracy_m");
  r.order_id = integer(b, "order_id");
  r.inspection_id = integer(b, "inspection_id");
  const auto site = site_of(c.reg, r.site_id);
  if (!site) throw om_error(404, "not_found", "site_id: unknown site '" + r.site_id.substr(0, 64) + "'");
  if (c.who.role == auth::role::viewer)
    throw om_error(403, "forbidden", "role viewer may not check in: field crews (contractor) and operators do");
  if (!c.who.sees(site->town, site->id)) throw om_error(403, "forbidden", "site '" + site->id + "' is outside your scope");
  if (r.order_id) {
    const auto o = visible_order(c, *r.order_id);
    if (o.site_id != site->id) throw om_error(400, "bad_field", "order_id: order " + std::to_string(o.id) + " is for site '" + o.site_id + "'");
  }
  const auto k = judge_checkin(r, *site, c.key, c.orders.config());
  const auto id = c.orders.add_checkin(k, c.who);
  return json_response(201, json{{"id", id}, {"distance_m", k.distance_m}, {"site_id", k.site_id}});
}

}  // namespace sewage::gateway::om
