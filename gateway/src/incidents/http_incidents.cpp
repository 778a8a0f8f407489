// The incidents routes and the pipe network's live state (http_incidents.hpp).
#include "http_incidents.hpp"
#include "sewage/gateway/incidents/weather.hpp"

#include "codec.hpp"
#include "detail/http_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>

namespace sewage::gateway::incidents {

using nlohmann::json;
using gateway::detail::json_response;

namespace {

/// The most incidents one list returns (and the ceiling of `limit`).
constexpr std::int64_t max_list = 1000;
constexpr std::int64_t default_list = 100;

const incident_reader& reads_of(const call& c) {
  if (c.reads == nullptr) throw incident_error(503, "unavailable", "this gateway has no incident store");
  return *c.reads;
}

correlator& store_of(const call& c) {
  if (c.corr == nullptr) throw incident_error(503, "unavailable", "this gateway has no incident store");
  return *c.corr;
}

engine& engine_of(const call& c) {
  if (c.eng == nullptr) throw incident_error(503, "unavailable", "this gateway runs no engine (a standby)");
  return *c.eng;
}

std::shared_ptr<const network::network_model> model_of(const call& c) {
  auto m = c.pipes != nullptr ? c.pipes->current() : nullptr;
  if (!m) throw incident_error(503, "unavailable", "no network configured ([network] file is not set)");
  return m;
}

std::int64_t incident_id(const call& c) {
  const auto& s = c.args.at(0);
  std::int64_t id = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), id);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || id <= 0)
    throw incident_error(400, "bad_target", "incident id: must be a positive integer, got '" + escaped(s) + "'");
  return id;
}

/// True when the caller may see `i`: whole-county callers always; town-limited ones when one of
/// its sites (member alerts, affected terminals, root) is in their scope, or a node it affects
/// lies in one of their towns.
bool visible(const call& c, const incident& i, const network::network_model* m) {
  if (c.who.whole_county()) return true;
  std::set<std::string> sites(i.affected_terminals.begin(), i.affected_terminals.end());
  for (const auto& a : i.alerts) sites.insert(a.site_id);
  if (i.root) sites.insert(i.root->site_id);
  const auto& reg = c.reg;
  for (const auto& s : sites)
    if (const auto idx = reg.find(s); idx && c.who.sees(reg.terminals()[*idx].town, s)) return true;
  if (m != nullptr) {
    for (const auto& id : i.affected_nodes)
      if (const auto* n = m->find_node(id); n != nullptr && !n->town.empty() && c.who.sees_town(n->town)) return true;
  }
  return false;
}

incident visible_incident(const call& c) {
  const auto id = incident_id(c);
  auto i = reads_of(c).find(id);
  if (!i) throw incident_error(404, "not_found", "no incident " + std::to_string(id));
  const auto m = c.pipes != nullptr ? c.pipes->current() : nullptr;
  if (!visible(c, *i, m.get())) throw incident_error(403, "forbidden", "incident " + std::to_string(id) + " is outside your towns");
  return *i;
}

std::optional<std::string> param(const call& c, const char* key) {
  const auto it = c.q.find(key);
  if (it == c.q.end()) return std::nullopt;
  return it->second;
}

json point(const network::node& n) { return json{{"type", "Point"}, {"coordinates", {n.longitude_deg, n.latitude_deg}}}; }

json line(const network::segment& s) {
  json coords = json::array();
  for (const auto& [lon, lat] : s.coordinates) coords.push_back({lon, lat});
  return json{{"type", "LineString"}, {"coordinates", coords}};
}

}  // namespace

http_response incidents_get(const call& c) {
  const auto& store = reads_of(c);
  std::optional<incident_state> state;
  if (const auto s = param(c, "state"); s && *s != "all") {
    state = parse_state(*s);
    if (!state)
      throw incident_error(400, "bad_parameter",
                           "state: must be one of open, acknowledged, resolved, all; got '" + escaped(*s) + "'");
  }
  std::int64_t limit = default_list;
  if (const auto l = param(c, "limit")) {
    const auto r = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (l->empty() || r.ec != std::errc() || r.ptr != l->data() + l->size() || limit < 1 || limit > max_list)
      throw incident_error(400, "bad_parameter",
                           "limit: must be a whole number 1.." + std::to_string(max_list) + ", got '" + escaped(*l) + "'");
  }
  // A town-limited caller's list is filtered after reading: read further so the limit still fills.
  const auto read = c.who.whole_county() ? limit : max_list * 10;
  const auto m = c.pipes != nullptr ? c.pipes->current() : nullptr;
  json out = json::array();
  for (const auto& i : store.list(state, static_cast<std::size_t>(read))) {
    if (!visible(c, i, m.get())) continue;
    out.push_back(to_json(i));
    if (static_cast<std::int64_t>(out.size()) >= limit) break;
  }
  return json_response(200, json{{"incidents", out}});
}

http_response incident_get(const call& c) {
  const auto i = visible_incident(c);
  auto out = to_json(i);
  if (i.kind == incident_kind::weather) {
    // The event's figures from the stored history (weather.hpp), read when asked: the list stays cheap.
    const auto w = weather_figures(i, c.db, c.reg, c.now);
    json terminals = json::array();
    auto num = [](const std::optional<double>& v, double scale) {
      return v ? json(std::round(*v * scale) / scale) : json(nullptr);
    };
    for (const auto& t : w.terminals)
      terminals.push_back(json{{"site_id", t.site_id},
                               {"town", t.town},
                               {"peak_flow_m3h", num(t.peak_flow_m3h, 1000.0)},
                               {"peak_turbidity_ntu", num(t.peak_turbidity_ntu, 100.0)},
                               {"compliance_hours_lost", std::round(t.compliance_hours_lost * 100.0) / 100.0},
                               {"records", t.records}});
    out["weather"] = json{{"from", proto::format_timestamp(w.from)},
                          {"to", proto::format_timestamp(w.to)},
                          {"towns", i.towns},
                          {"terminals", terminals},
                          {"compliance_hours_lost", std::round(w.compliance_hours_lost * 100.0) / 100.0}};
  }
  return json_response(200, out);
}

http_response incident_ack(const call& c) {
  auto& store = store_of(c);
  const auto i = visible_incident(c);
  const auto body = c.req.body.empty() ? json::object() : json::parse(c.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw incident_error(400, "bad_body", "body: must be a JSON object {\"note\": \"...\"}");
  const auto by = c.acting_name(body);
  std::string note;
  if (body.contains("note")) {
    if (!body["note"].is_string()) throw incident_error(400, "bad_body", "note: must be a string");
    note = body["note"].get<std::string>();
    if (note.size() > 1024 || text_problem(note, text_rules::multi_line))
      throw incident_error(400, "bad_body", "note: at most 1024 bytes of UTF-8 without control characters other than line breaks");
  }
  incident out;
  switch (store.acknowledge(i.id, by, note, &out)) {
    case correlator::ack_result::acknowledged:
      c.audit("incident.ack", std::to_string(i.id), json{{"by", by}, {"note", note}, {"title", out.title}});
      return json_response(200, to_json(out));
    case correlator::ack_result::not_found: throw incident_error(404, "not_found", "no incident " + std::to_string(i.id));
    case correlator::ack_result::already_acknowledged:
      throw incident_error(409, "conflict", "incident " + std::to_string(i.id) + " was already acknowledged by " + out.acked_by);
    case correlator::ack_result::already_resolved:
      throw incident_error(409, "conflict", "incident " + std::to_string(i.id) + " is already resolved");
  }
  throw incident_error(500, "internal", "unexpected acknowledgement result");
}

http_response incident_geojson(const call& c) {
  const auto i = visible_incident(c);
  const auto m = model_of(c);
  json features = json::array();
  const auto add_node = [&](const std::string& id, const char* role) {
    const auto* n = m->find_node(id);
    if (n == nullptr) return;  // gone from the network since (a reload)
    features.push_back(json{{"type", "Feature"},
                            {"geometry", point(*n)},
                            {"properties", {{"id", n->id}, {"kind", network::node_kind_name(n->kind)}, {"role", role}}}});
  };
  if (i.root) add_node(i.root->node, "root_cause");
  for (const auto& s : i.suspected_segments) {
    const auto* seg = m->find_segment(s);
    if (seg == nullptr) continue;
    features.push_back(json{{"type", "Feature"},
                            {"geometry", line(*seg)},
                            {"properties", {{"id", seg->id}, {"kind", "segment"}, {"role", "suspected"}, {"length_m", seg->length_m}}}});
  }
  for (const auto& id : i.affected_nodes)
    if (!i.root || id != i.root->node) add_node(id, "affected");
  if (i.kind == incident_kind::weather) {  // no nodes of its own: its terminals, where the network has them
    const site_index sites(*m);
    for (const auto& site : i.affected_terminals)
      if (const auto v = sites.find(site)) add_node(m->nodes()[*v].id, "affected");
  }
  http_response r = json_response(200, json{{"type", "FeatureCollection"}, {"incident", i.id}, {"features", features}});
  r.content_type = "application/geo+json";
  return r;
}

/// The network's static GeoJSON, built once per loaded model (a reload makes a new model): building
/// and parsing the county's 8,842 features on every request held the engine thread for seconds in
/// a Debug build. Thread-safe (the mutex); the returned document is never modified.
std::shared_ptr<const json> static_geojson(const std::shared_ptr<const network::network_model>& m) {
  static std::mutex mu;
  static std::weak_ptr<const network::network_model> cached_model;
  static std::shared_ptr<const json> cached_doc;
  const std::lock_guard lock(mu);
  if (cached_doc == nullptr || cached_model.lock() != m) {
    cached_doc = std::make_shared<const json>(json::parse(m->to_geojson()));
    cached_model = m;
  }
  return cached_doc;
}

http_response network_get(const call& c) {
  const auto m = model_of(c);
  json doc = *static_geojson(m);
  // Live state of each site: its open alerts (by site), presence from the engine.
  std::map<std::string, std::vector<std::string>, std::less<>> alerts_at;
  auto& eng = engine_of(c);
  for (const auto& [id, a] : eng.open_alerts()) alerts_at[a.terminal_id].emplace_back(proto::to_string(a.type));
  std::map<std::string, std::int64_t, std::less<>> incident_of_segment;
  std::map<std::string, std::int64_t, std::less<>> incident_of_root;
  if (c.corr != nullptr)
    for (const auto& i : c.corr->active()) {
      for (const auto& s : i.suspected_segments) incident_of_segment.emplace(s, i.id);
      if (i.root) incident_of_root.emplace(i.root->node, i.id);
    }
  const auto& reg = eng.terminals();
  for (auto& f : doc["features"]) {
    auto& p = f["properties"];
    const auto id = p.value("id", std::string());
    if (p.value("kind", std::string()) == "segment") {
      if (const auto it = incident_of_segment.find(id); it != incident_of_segment.end()) p["incident"] = it->second;
      continue;
    }
    const auto* n = m->find_node(id);
    if (n == nullptr) continue;
    if (const auto it = incident_of_root.find(id); it != incident_of_root.end()) p["incident"] = it->second;
    if (!instrumented(*n)) continue;
    std::vector<std::string> types;
    if (const auto it = alerts_at.find(n->site_id); it != alerts_at.end()) types = it->second;
    std::sort(types.begin(), types.end());
    const auto idx = reg.find(n->site_id);
    const char* state = "unknown";
    if (idx) {
      const auto pr = eng.presence_of(*idx);
      state = pr == engine::presence::offline ? "offline" : !types.empty() ? "alert" : pr == engine::presence::online ? "ok" : "unknown";
    }
    p["state"] = state;
    p["alerts"] = types;
  }
  http_response r = json_response(200, doc);
  r.content_type = "application/geo+json";
  return r;
}

http_response network_trace(const call& c) {
  const auto m = model_of(c);
  const auto id = param(c, "id");
  if (!id || id->empty()) throw incident_error(400, "bad_parameter", "id: required (a node or segment id of the network)");
  if (m->find_node(*id) == nullptr && m->find_segment(*id) == nullptr)
    throw incident_error(404, "not_found", "id: no node or segment '" + escaped(*id) + "' in the network");
  const auto up = m->upstream(*id);
  const auto down = m->downstream(*id);
  return json_response(200, json{{"id", *id},
                                 {"upstream",
                                  {{"nodes", up.nodes},
                                   {"segments", up.segments},
                                   {"villages", up.villages},
                                   {"households", up.households},
                                   {"length_m", std::round(up.length_m * 10.0) / 10.0}}},
                                 {"downstream",
                                  {{"nodes", down.nodes},
                                   {"segments", down.segments},
                                   {"terminal", down.terminal},
                                   {"length_m", std::round(down.length_m * 10.0) / 10.0}}}});
}

}  // namespace sewage::gateway::incidents
