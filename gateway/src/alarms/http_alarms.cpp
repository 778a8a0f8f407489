// Alarm discipline routes: maintenance windows and shelving (alarms/http_alarms.hpp).
#include "http_alarms.hpp"
#include "detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace sewage::gateway::alarms {

using nlohmann::json;

namespace {

using gateway::detail::json_response;

json ts_json(const std::optional<proto::timestamp>& t) { return t ? json(proto::format_timestamp(*t)) : json(nullptr); }

std::string hh_mm(std::chrono::seconds s) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(s.count() / 3600), static_cast<int>(s.count() / 60 % 60));
  return buf;
}

/// The town of site `id` (a registry terminal today); 404 unknown, 403 outside the caller's towns.
std::string site_town(const call& c, const std::string& id, const char* field) {
  const auto idx = c.reg.find(id);
  if (!idx) throw discipline_error(404, std::string(field) + ": no site '" + escaped(id) + "'");
  const auto& town = c.reg.terminals()[*idx].town;
  if (!c.who.sees(town, id)) throw discipline_error(403, std::string(field) + ": site '" + escaped(id) + "' is outside your towns");
  return town;
}

json window_json(const call& c, const maintenance_window& w) {
  const auto now = c.d.now();
  const auto current = occurrence_at(w, now, c.d.zone());
  const auto next = next_occurrence(w, now, c.d.zone());
  const auto idx = c.reg.find(w.site_id);
  json weekdays = json::array();
  for (unsigned d = 1; d <= 7; ++d)
    if ((w.weekdays & (1u << (d - 1))) != 0) weekdays.push_back(d);
  const bool rec = w.kind != recurrence::once;
  const auto occ = [](const std::optional<occurrence>& o) {
    return o ? json{{"start", proto::format_timestamp(o->start)}, {"end", proto::format_timestamp(o->end)}} : json(nullptr);
  };
  return json{{"id", w.id},
              {"site_id", w.site_id},
              {"site_name", idx ? json(c.reg.terminals()[*idx].name) : json(nullptr)},
              {"town", idx ? json(c.reg.terminals()[*idx].town) : json(nullptr)},
              {"recurrence", std::string(to_string(w.kind))},
              {"start", proto::format_timestamp(w.start)},
              {"end", ts_json(w.end)},
              {"local_start", rec ? json(hh_mm(w.local_start)) : json(nullptr)},
              {"weekdays", w.kind == recurrence::weekly ? weekdays : json(nullptr)},
              {"duration_s", rec ? json(w.duration.count()) : json(nullptr)},
              {"time_zone", c.d.zone().name()},
              {"reason", w.reason},
              {"created_by", w.created_by},
              {"created_at", proto::format_timestamp(w.created)},
              {"ended_at", ts_json(w.ended)},
              {"ended_by", w.ended ? json(w.ended_by) : json(nullptr)},
              {"active", current.has_value()},
              {"current", occ(current)},
              {"next", occ(next)}};
}

std::int64_t window_id(const call& c) {
  const auto& s = c.args.at(0);
  std::int64_t id = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), id);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || id <= 0)
    throw discipline_error(400, "window id must be a positive integer, got '" + escaped(s) + "'");
  return id;
}

json body_object(const call& c, std::initializer_list<std::string_view> allowed) {
  auto body = json::parse(c.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw discipline_error(400, "body: must be a JSON object");
  for (const auto& [k, v] : body.items())
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      throw discipline_error(400, escaped(k) + ": unknown field");
  return body;
}

std::string text_field(const json& body, const char* key, std::size_t max, bool required, text_rules rules) {
  if (!body.contains(key)) {
    if (required) throw discipline_error(400, std::string(key) + ": required");
    return {};
  }
  if (!body[key].is_string()) throw discipline_error(400, std::string(key) + ": must be a string");
  auto v = body[key].get<std::string>();
  if ((required && v.empty()) || v.size() > max || text_problem(v, rules))
    throw discipline_error(400, std::string(key) + ": must be " + (required ? "1" : "0") + ".." + std::to_string(max) +
                                    " bytes of UTF-8 without control characters");
  return v;
}

std::optional<proto::timestamp> time_field(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  if (!body[key].is_string()) throw discipline_error(400, std::string(key) + ": must be an ISO 8601 time string");
  const auto t = proto::parse_timestamp(body[key].get<std::string>());
  if (!t) throw discipline_error(400, std::string(key) + ": not an ISO 8601 UTC time (2026-12-01T08:00:00Z)");
  return t;
}

}  // namespace

json discipline_json(const discipline& d, std::uint64_t alert_id) {
  const auto s = d.state_of(alert_id);
  if (!s) {
    return json{{"suppressed", false}, {"window", nullptr}, {"released_at", nullptr}, {"shelved", false},
                {"shelved_until", nullptr}, {"shelved_by", nullptr}, {"shelve_note", nullptr}, {"escalated", nullptr},
                {"escalated_at", nullptr}, {"group", nullptr}, {"repeat_of", nullptr}};
  }
  json window = nullptr;
  if (s->window_id) {
    const auto w = d.window(*s->window_id);
    std::optional<occurrence> o;
    if (w && s->suppressed()) o = occurrence_at(*w, d.now(), d.zone());
    window = json{{"id", *s->window_id},
                  {"reason", w ? json(w->reason) : json(nullptr)},
                  {"until", o ? json(proto::format_timestamp(o->end)) : json(nullptr)}};
  }
  json group = nullptr;
  if (s->group) {
    group = json{{"id", s->group->id},
                 {"head_alert", s->group->head_alert},
                 {"repeats", s->group->repeats},
                 {"first_at", proto::format_timestamp(s->group->first)},
                 {"last_at", proto::format_timestamp(s->group->last)}};
  }
  return json{{"suppressed", s->suppressed()},
              {"window", window},
              {"released_at", ts_json(s->released)},
              {"shelved", s->shelved()},
              {"shelved_until", ts_json(s->shelved_until)},
              {"shelved_by", s->shelved_until ? json(s->shelved_by) : json(nullptr)},
              {"shelve_note", s->shelved_until ? json(s->shelve_note) : json(nullptr)},
              {"escalated", s->escalated ? json(std::string(to_string(*s->escalated))) : json(nullptr)},
              {"escalated_at", ts_json(s->escalated_at)},
              {"group", group},
              {"repeat_of", s->repeat_of ? json(*s->repeat_of) : json(nullptr)}};
}

http_response windows_get(const call& c) {
  std::vector<std::string> sites;
  const auto site = c.q.find("site");
  const auto town = c.q.find("town");
  if (town != c.q.end() && !c.who.sees_town(town->second))
    throw discipline_error(403, "town: '" + escaped(town->second) + "' is outside your towns");
  if (site != c.q.end()) {
    const auto t = site_town(c, site->second, "site");
    if (town != c.q.end() && t != town->second) return json_response(200, json{{"windows", json::array()}});
    sites.push_back(site->second);
  } else if (town != c.q.end() || !c.who.whole_county()) {
    for (const auto& t : c.reg.terminals())
      if ((town == c.q.end() || t.town == town->second) && c.who.sees(t.town, t.id)) sites.push_back(t.id);
    if (sites.empty()) return json_response(200, json{{"windows", json::array()}});
  }
  bool ended = false;
  if (const auto e = c.q.find("ended"); e != c.q.end()) {
    if (e->second != "true" && e->second != "false") throw discipline_error(400, "ended: must be true or false");
    ended = e->second == "true";
  }
  json arr = json::array();
  for (const auto& w : c.d.windows(sites, ended)) {
    if (sites.empty() && !c.who.whole_county()) continue;
    arr.push_back(window_json(c, w));
  }
  return json_response(200, json{{"windows", arr}});
}

http_response windows_post(const call& c) {
  const auto body = body_object(c, {"site_id", "reason", "recurrence", "start", "end", "local_start", "weekdays",
                                    "duration_s", "by"});
  maintenance_window w;
  w.site_id = text_field(body, "site_id", 64, true, text_rules::single_line);
  site_town(c, w.site_id, "site_id");
  w.reason = text_field(body, "reason", 256, true, text_rules::single_line);
  const auto rec = text_field(body, "recurrence", 16, false, text_rules::single_line);
  const auto kind = rec.empty() ? std::optional(recurrence::once) : parse_recurrence(rec);
  if (!kind) throw discipline_error(400, "recurrence: must be once, daily or weekly, got '" + escaped(rec) + "'");
  w.kind = *kind;
  const auto start = time_field(body, "start");
  w.end = time_field(body, "end");
  if (w.kind == recurrence::once) {
    if (!start) throw discipline_error(400, "start: required for a one-off window");
    if (!w.end) throw discipline_error(400, "end: required for a one-off window");
    for (const auto* k : {"local_start", "weekdays", "duration_s"})
      if (body.contains(k)) throw discipline_error(400, std::string(k) + ": only for a daily or weekly window");
  } else {
    const auto ls = text_field(body, "local_start", 5, true, text_rules::single_line);
    int h = -1, m = -1;
    if (ls.size() != 5 || ls[2] != ':' || std::from_chars(ls.data(), ls.data() + 2, h).ptr != ls.data() + 2 ||
        std::from_chars(ls.data() + 3, ls.data() + 5, m).ptr != ls.data() + 5 || h < 0 || h > 23 || m < 0 || m > 59)
      throw discipline_error(400, "local_start: must be a local wall time HH:MM (00:00 .. 23:59), got '" + escaped(ls) + "'");
    w.local_start = std::chrono::hours(h) + std::chrono::minutes(m);
    if (!body.contains("duration_s") || !body["duration_s"].is_number_integer())
      throw discipline_error(400, "duration_s: required, a whole number of seconds");
    w.duration = std::chrono::seconds(body["duration_s"].get<std::int64_t>());
    if (w.kind == recurrence::weekly) {
      if (!body.contains("weekdays") || !body["weekdays"].is_array())
        throw discipline_error(400, "weekdays: required for a weekly window, ISO weekdays [1 (Monday) .. 7 (Sunday)]");
      for (const auto& d : body["weekdays"]) {
        if (!d.is_number_integer() || d.get<std::int64_t>() < 1 || d.get<std::int64_t>() > 7)
          throw discipline_error(400, "weekdays: each must be an ISO weekday 1 (Monday) .. 7 (Sunday)");
        w.weekdays = static_cast<std::uint8_t>(w.weekdays | (1u << (d.get<int>() - 1)));
      }
    } else if (body.contains("weekdays")) {
      throw discipline_error(400, "weekdays: only for a weekly window");
    }
  }
  w.start = start.value_or(c.d.now());
  w.created_by = c.acting_name(body);
  const auto made = c.d.create_window(w);
  c.audit("maintenance.create", std::to_string(made.id),
          json{{"site", made.site_id}, {"recurrence", std::string(to_string(made.kind))}, {"reason", made.reason}});
  return json_response(201, window_json(c, made));
}

http_response window_end(const call& c) {
  const auto id = window_id(c);
  const auto w = c.d.window(id);
  if (!w) throw discipline_error(404, "no maintenance window " + std::to_string(id));
  site_town(c, w->site_id, "site_id");
  json body = json::object();
  if (!c.req.body.empty()) body = body_object(c, {"by"});
  const auto ended = c.d.end_window(id, c.acting_name(body));
  c.audit("maintenance.end", std::to_string(id), json{{"site", ended.site_id}});
  return json_response(200, window_json(c, ended));
}

http_response window_delete(const call& c) {
  const auto id = window_id(c);
  const auto w = c.d.window(id);
  if (!w) throw discipline_error(404, "no maintenance window " + std::to_string(id));
  site_town(c, w->site_id, "site_id");
  c.d.delete_window(id);
  c.audit("maintenance.delete", std::to_string(id), json{{"site", w->site_id}, {"reason", w->reason}});
  return json_response(200, json{{"deleted", id}});
}

http_response alert_shelve(const call& c) {
  const auto& sid = c.args.at(0);
  std::uint64_t id = 0;
  const auto r = std::from_chars(sid.data(), sid.data() + sid.size(), id);
  if (r.ec != std::errc() || r.ptr != sid.data() + sid.size() || id == 0)
    throw discipline_error(400, "alert id must be a positive integer, got '" + escaped(sid) + "'");
  auto& eng = *c.eng;
  std::optional<proto::alert_message> a;
  if (const auto it = eng.open_alerts().find(id); it != eng.open_alerts().end()) {
    a = it->second;
  } else {
    eng.flush();
    a = eng.db().alert(id);
  }
  if (!a) throw discipline_error(404, "no alert " + std::to_string(id));
  if (!c.who.whole_county()) site_town(c, a->terminal_id, "alert");
  const auto body = body_object(c, {"duration_s", "note", "by"});
  if (!body.contains("duration_s")) throw discipline_error(400, "duration_s: required (how long the alert stays shelved, s)");
  if (!body["duration_s"].is_number_integer()) throw discipline_error(400, "duration_s: must be a whole number of seconds");
  const auto note = text_field(body, "note", 1024, false, text_rules::multi_line);
  const auto by = c.acting_name(body);
  const auto s = c.d.shelve(*a, body["duration_s"].get<std::int64_t>(), note, by);
  c.audit("alert.shelve", std::to_string(id),
          json{{"terminal", a->terminal_id}, {"duration_s", body["duration_s"]}, {"until", ts_json(s.shelved_until)},
               {"note", note}});
  return json_response(200, json{{"alert_id", id}, {"discipline", discipline_json(c.d, id)}});
}

}  // namespace sewage::gateway::alarms
