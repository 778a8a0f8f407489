// HTTP routes of the lab room (om/http_lab.hpp): results, CSV import, compliance beside the
// turbidity early warning, the sampling schedule and the limits table.
#include "om/http_lab.hpp"

#include "sewage/gateway/operating_day.hpp"
#include "detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sewage::gateway::om {

using nlohmann::json;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
/// The most results one GET returns (also the ceiling of its `limit`).
constexpr std::size_t max_results = 1000;

const std::string* query(const call& c, std::string_view key) {
  const auto it = c.q.find(key);
  return it == c.q.end() ? nullptr : &it->second;
}

lab& lab_of(const call& c) {
  if (c.lab_room == nullptr) throw lab_error(503, "this gateway has no lab room (no store connection)");
  return *c.lab_room;
}

/// A period bound: a county date (its local midnight; `end` = the midnight after it) or an ISO time.
std::optional<std::int64_t> bound(const call& c, const char* key, bool end) {
  const auto* v = query(c, key);
  if (v == nullptr) return std::nullopt;
  if (const auto d = parse_day(*v))
    return operating_day_start(*d + (end ? 1 : 0), c.cfg.zone).time_since_epoch().count();
  if (const auto t = proto::parse_timestamp(*v)) return t->time_since_epoch().count();
  throw lab_error(400, std::string(key) + ": must be a date YYYY-MM-DD or an ISO 8601 UTC time, got '" + escaped(*v) + "'");
}

/// The registry indexes the caller sees, limited to `town` (403 when the town is outside its scope).
std::vector<std::size_t> visible_sites(const call& c) {
  const auto* town = query(c, "town");
  if (town != nullptr && !c.who.sees_town(*town)) throw lab_error(403, "town '" + escaped(*town) + "' is outside your towns");
  std::vector<std::size_t> out;
  const auto& ts = c.reg.terminals();
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!c.who.sees(ts[i].town, ts[i].id)) continue;
    if (town != nullptr && ts[i].town != *town) continue;
    out.push_back(i);
  }
  if (town != nullptr && out.empty()) throw lab_error(404, "no site in town '" + escaped(*town) + "'");
  return out;
}

std::string verdict_word(const lab_result& r) {
  if (!r.compliant) return "not_judged";
  if (*r.compliant) return "compliant";
  if (r.limit_low && r.value < *r.limit_low) return "below_range";
  return "exceeds";
}

json result_json(const lab_result& r, const registry& reg) {
  const auto idx = reg.find(r.site_id);
  return json{{"id", r.id},
              {"site_id", r.site_id},
              {"site_name", idx ? json(reg.terminals()[*idx].name) : json(nullptr)},
              {"town", idx ? json(reg.terminals()[*idx].town) : json(nullptr)},
              {"sampled_at", iso_ms(r.sampled_ms)},
              {"sampled_by", r.sampled_by},
              {"lab", r.lab},
              {"parameter", std::string(to_string(r.parameter))},
              {"value", r.value},
              {"unit", r.unit},
              {"limit_low", r.limit_low ? json(*r.limit_low) : json(nullptr)},
              {"limit_high", r.limit_high ? json(*r.limit_high) : json(nullptr)},
              {"grade", r.grade},
              {"compliant", r.compliant ? json(*r.compliant) : json(nullptr)},
              {"verdict", verdict_word(r)},
              {"provisional_limit", r.provisional},
              {"source", r.source},
              {"entered_by", r.imported_by},
              {"entered_at", iso_ms(r.created_ms)}};
}

json figures_json(const compliance_figures& f) {
  return json{{"samples", f.samples},
              {"compliant_samples", f.compliant},
              {"rate", f.rate ? json(*f.rate) : json(nullptr)},
              {"results", f.results},
              {"compliant_results", f.results_compliant},
              {"provisional_limits", f.provisional}};
}

/// The turbidity early warning over the same sites and days: share of the time with good
/// turbidity readings whose mean was within the terminal's turbidity limit (daily rows).
json turbidity_json(const call& c, const std::vector<std::string>& ids, std::int32_t from_day, std::int32_t to_day) {
  double ok = 0;
  double compliant = 0;
  if (!ids.empty())
    for (const auto& d : c.db.daily_totals(ids, from_day, to_day)) {
      ok += d.turbidity_ok_s;
      compliant += d.compliant_s;
    }
  return json{{"time_within_limit_rate", ok > 0 ? json(std::min(1.0, compliant / ok)) : json(nullptr)},
              {"turbidity_ok_s", ok},
              {"within_limit_s", compliant}};
}

}  // namespace

using gateway::detail::json_response;

std::string iso_ms(std::int64_t ms) { return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms))); }

std::size_t visible_site(const call& c, const std::string& id) {
  const auto idx = c.reg.find(id);
  if (!idx) throw lab_error(404, "site '" + escaped(id) + "' is not in the registry");
  if (!c.who.sees(c.reg.terminals()[*idx].town, c.reg.terminals()[*idx].id)) throw lab_error(403, "site '" + escaped(id) + "' is outside your towns");
  return *idx;
}

json body_object(const call& c, std::initializer_list<std::string_view> allowed) {
  auto body = json::parse(c.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw lab_error(400, "body must be a JSON object");
  for (const auto& [k, v] : body.items())
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string list;
      for (const auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw lab_error(400, "unknown field '" + escaped(k) + "' (accepted: " + list + ")");
    }
  return body;
}

std::string text_field(const json& b, const char* key, bool required, std::size_t max) {
  const auto it = b.find(key);
  if (it == b.end() || it->is_null()) {
    if (required) throw lab_error(400, std::string(key) + ": required");
    return {};
  }
  if (!it->is_string()) throw lab_error(400, std::string(key) + ": must be a string");
  auto s = it->get<std::string>();
  if (s.size() > max) throw lab_error(400, std::string(key) + ": at most " + std::to_string(max) + " bytes");
  if (required && s.empty()) throw lab_error(400, std::string(key) + ": must not be empty");
  return s;
}

void audit(const call& c, const std::string& action, const std::string& target, const json& detail) {
  if (c.ids != nullptr) c.ids->audit(c.who, action, target, detail.dump(-1, ' ', false, json::error_handler_t::replace));
}

http_response lab_results_get(const call& c) {
  auto& l = lab_of(c);
  std::vector<std::string> ids;
  if (const auto* site = query(c, "site")) {
    visible_site(c, *site);
    if (query(c, "town") != nullptr) throw lab_error(400, "site and town: give one of them");
    ids.push_back(*site);
  } else {
    for (const auto i : visible_sites(c)) ids.push_back(c.reg.terminals()[i].id);
  }
  std::size_t limit = 200;
  if (const auto* v = query(c, "limit")) {
    const auto r = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (r.ec != std::errc() || r.ptr != v->data() + v->size() || limit < 1 || limit > max_results)
      throw lab_error(400, "limit: must be an integer in [1, " + std::to_string(max_results) + "]");
  }
  const auto from = bound(c, "from", false).value_or(0);
  const auto to = bound(c, "to", true).value_or(c.now_ms + day_ms);
  json rows = json::array();
  for (const auto& r : l.results(ids, from, to, limit)) rows.push_back(result_json(r, c.reg));
  return json_response(200, json{{"results", rows}});
}

http_response lab_results_post(const call& c) {
  auto& l = lab_of(c);
  const auto b = body_object(c, {"site_id", "sampled_at", "lab", "sampled_by", "results"});
  const auto site = text_field(b, "site_id", true, 64);
  const auto idx = visible_site(c, site);
  json errors = json::array();
  const auto problem = [&](const std::string& field, const std::string& why) { errors.push_back({{"field", field}, {"reason", why}}); };
  lab_result_input base;
  base.site_id = site;
  base.grade = c.reg.terminals()[idx].discharge_grade;
  base.lab = text_field(b, "lab", false);
  base.sampled_by = text_field(b, "sampled_by", false);
  const auto at = text_field(b, "sampled_at", true, 40);
  if (const auto ts = proto::parse_timestamp(at)) base.sampled_ms = ts->time_since_epoch().count();
  else if (const auto d = parse_day(at)) base.sampled_ms = operating_day_start(*d, c.cfg.zone).time_since_epoch().count();
  else problem("sampled_at", "must be an ISO 8601 UTC time or a date YYYY-MM-DD");
  if (base.sampled_ms > c.now_ms + 5 * 60 * 1000) problem("sampled_at", "is in the future");
  const auto it = b.find("results");
  if (it == b.end() || !it->is_array() || it->empty() || it->size() > 20)
    throw lab_error(400, "results: must be an array of 1..20 {parameter, value, unit} objects");
  std::vector<lab_result_input> rows;
  std::vector<lab_parameter> seen;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& r = (*it)[i];
    const std::string where = "results[" + std::to_string(i) + "]";
    if (!r.is_object()) {
      problem(where, "must be an object {parameter, value, unit}");
      continue;
    }
    for (const auto& [k, v] : r.items())
      if (k != "parameter" && k != "value" && k != "unit") problem(where + "." + escaped(k), "unknown field (parameter, value, unit)");
    auto row = base;
    const auto pn = r.find("parameter");
    const auto p = pn != r.end() && pn->is_string() ? parse_lab_parameter(pn->get<std::string>()) : std::nullopt;
    if (!p) {
      problem(where + ".parameter", "must be one of cod, nh3_n, tn, tp, ss, ph, faecal_coliforms");
      continue;
    }
    row.parameter = *p;
    if (std::find(seen.begin(), seen.end(), *p) != seen.end()) problem(where + ".parameter", "given twice in one sample");
    seen.push_back(*p);
    const auto vn = r.find("value");
    if (vn == r.end() || !vn->is_number()) {
      problem(where + ".value", "must be a number");
    } else if (const auto why = value_problem(*p, vn->get<double>())) {
      problem(where + ".value", *why);
    } else {
      row.value = vn->get<double>();
    }
    const auto un = r.find("unit");
    const std::string unit = un != r.end() && un->is_string() ? un->get<std::string>() : std::string("(missing)");
    if (!accepted_unit(*p, unit))
      problem(where + ".unit", "'" + escaped(unit, 20) + "' is not accepted for " + std::string(to_string(*p)) + ": use " +
                                   std::string(canonical_unit(*p)));
    rows.push_back(std::move(row));
  }
  if (!errors.empty()) {
    const auto first = errors[0]["field"].get<std::string>() + ": " + errors[0]["reason"].get<std::string>();
    throw lab_error(400, std::to_string(errors.size()) + " problem(s), nothing stored; first: " + first, errors);
  }
  const auto ids = l.add(rows, "form", c.who.name);
  audit(c, "lab.add", site, json{{"ids", ids}, {"sampled_at", iso_ms(base.sampled_ms)}});
  json out = json::array();
  const auto stored = l.results({site}, base.sampled_ms, base.sampled_ms + 1, 100);
  for (const auto& r : stored)
    if (std::find(ids.begin(), ids.end(), r.id) != ids.end()) out.push_back(result_json(r, c.reg));
  return json_response(201, json{{"results", out}});
}

http_response lab_results_import(const call& c) {
  auto& l = lab_of(c);
  std::string type;
  for (const auto& [k, v] : c.req.headers)
    if (k.size() == 12 && std::equal(k.begin(), k.end(), "content-type", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      type = v;
  if (type.rfind("text/csv", 0) != 0) throw lab_error(415, "Content-Type must be text/csv (UTF-8)");
  bool outside_scope = false;  // a row of a site outside the caller's towns makes the refusal a 403
  const auto check_site = [&](const std::string& id) {
    site_check sc;
    const auto idx = c.reg.find(id);
    if (!idx) {
      sc.problem = "unknown site '" + escaped(id, 40) + "'";
    } else if (!c.who.sees(c.reg.terminals()[*idx].town, c.reg.terminals()[*idx].id)) {
      sc.problem = "site '" + escaped(id, 40) + "' is outside your towns";
      outside_scope = true;
    } else {
      sc.grade = c.reg.terminals()[*idx].discharge_grade;
    }
    return sc;
  };
  const auto day_start = [&](std::string_view s) -> std::optional<std::int64_t> {
    const auto d = parse_day(s);
    if (!d) return std::nullopt;
    return operating_day_start(*d, c.cfg.zone).time_since_epoch().count();
  };
  const auto parsed = parse_lab_csv(c.req.body, check_site, day_start, c.now_ms);
  if (!parsed.errors.empty()) {
    json errors = json::array();
    for (const auto& e : parsed.errors) errors.push_back({{"line", e.line}, {"column", e.column}, {"reason", e.reason}});
    const auto& f = parsed.errors.front();
    spdlog::info("lab import by {} refused: {} problem(s), first line {} column {}: {}", c.who.name, parsed.errors.size(), f.line,
                 escaped(f.column), escaped(f.reason, 200));
    throw lab_error(outside_scope ? 403 : 400,
                   std::to_string(parsed.errors.size()) + " problem(s), nothing imported; first: line " + std::to_string(f.line) +
                       (f.column.empty() ? "" : ", column " + f.column) + ": " + f.reason,
                   errors);
  }
  const auto ids = l.add(parsed.rows, "csv", c.who.name);
  audit(c, "lab.import", "", json{{"rows", ids.size()}});
  return json_response(201, json{{"imported", ids.size()}, {"ids", ids}});
}

http_response lab_compliance_get(const call& c) {
  auto& l = lab_of(c);
  const auto today = operating_day(proto::timestamp(std::chrono::milliseconds(c.now_ms)), c.cfg.zone);
  const auto day_of = [&](const char* key, std::int32_t fallback) {
    const auto* v = query(c, key);
    if (v == nullptr) return fallback;
    const auto d = parse_day(*v);
    if (!d) throw lab_error(400, std::string(key) + ": must be a date YYYY-MM-DD, got '" + escaped(*v) + "'");
    return *d;
  };
  const auto to_day = day_of("to", today);
  const auto from_day = day_of("from", to_day - 89);
  if (from_day > to_day) throw lab_error(400, "from: must not be after to");
  if (to_day - from_day >= 3660) throw lab_error(400, "from, to: at most 3660 days");
  const auto from_ms = operating_day_start(from_day, c.cfg.zone).time_since_epoch().count();
  const auto to_ms = operating_day_start(to_day + 1, c.cfg.zone).time_since_epoch().count();
  const auto sites = visible_sites(c);
  std::vector<std::string> all;
  std::map<std::string, std::vector<std::string>> by_town;
  json site_rows = json::array();
  for (const auto i : sites) {
    const auto& t = c.reg.terminals()[i];
    all.push_back(t.id);
    by_town[t.town].push_back(t.id);
    site_rows.push_back({{"site_id", t.id},
                         {"name", t.name},
                         {"town", t.town},
                         {"discharge_grade", t.discharge_grade},
                         {"lab_compliance", figures_json(l.compliance({t.id}, from_ms, to_ms))},
                         {"turbidity_early_warning", turbidity_json(c, {t.id}, from_day, to_day)}});
  }
  json town_rows = json::array();
  for (const auto& [town, ids] : by_town)
    town_rows.push_back({{"town", town},
                         {"lab_compliance", figures_json(l.compliance(ids, from_ms, to_ms))},
                         {"turbidity_early_warning", turbidity_json(c, ids, from_day, to_day)}});
  return json_response(200, json{{"from", format_day(from_day)},
                               {"to", format_day(to_day)},
                               {"scope", c.who.whole_county() && query(c, "town") == nullptr ? "county" : "towns"},
                               {"total",
                                {{"lab_compliance", figures_json(l.compliance(all, from_ms, to_ms))},
                                 {"turbidity_early_warning", turbidity_json(c, all, from_day, to_day)}}},
                               {"towns", town_rows},
                               {"sites", site_rows},
                               {"notes",
                                {{"lab_compliance",
                                  "legal compliance: share of lab samples (one site, one time) whose every judged result is within "
                                  "the limits of the site's discharge grade"},
                                 {"turbidity_early_warning",
                                  "online turbidity proxy, not a legal figure: share of good turbidity time whose mean was within "
                                  "the terminal's turbidity limit"}}}});
}

http_response lab_schedule_get(const call& c) {
  auto& l = lab_of(c);
  bool only_overdue = false;
  if (const auto* v = query(c, "overdue")) {
    if (*v != "true" && *v != "false") throw lab_error(400, "overdue: must be true or false");
    only_overdue = *v == "true";
  }
  const auto last = l.last_sampled();
  std::vector<sampling_status> list;
  for (const auto i : visible_sites(c)) {
    const auto& t = c.reg.terminals()[i];
    const auto it = last.find(t.id);
    auto st = sampling_of(t.id, size_class(t.design_capacity_m3d, c.cfg.om), it == last.end() ? std::nullopt : std::optional<std::int64_t>(it->second),
                          c.registered_ms(i), c.now_ms, c.cfg.om_lab);
    if (!only_overdue || st.overdue) list.push_back(std::move(st));
  }
  std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.due_ms < b.due_ms; });
  json rows = json::array();
  std::size_t overdue = 0;
  for (const auto& s : list) {
    const auto idx = c.reg.find(s.site_id);
    const auto& t = c.reg.terminals()[*idx];
    overdue += s.overdue ? 1 : 0;
    rows.push_back({{"site_id", s.site_id},
                    {"name", t.name},
                    {"town", t.town},
                    {"size_class", s.size_class},
                    {"interval_days", s.interval_days},
                    {"last_sampled_at", s.last_sampled_ms ? json(iso_ms(*s.last_sampled_ms)) : json(nullptr)},
                    {"due_at", iso_ms(s.due_ms)},
                    {"overdue", s.overdue},
                    {"overdue_days", s.overdue_days}});
  }
  return json_response(200, json{{"sites", rows}, {"overdue", overdue}, {"now", iso_ms(c.now_ms)}});
}

std::string report_with_lab(const std::string& report_json_text, const monthly_report& rep, lab& l) {
  auto j = json::parse(report_json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return report_json_text;
  const auto from = rep.from.time_since_epoch().count();
  const auto to = rep.to.time_since_epoch().count();
  std::vector<std::string> all;
  std::map<std::string, std::vector<std::string>> by_town;
  for (std::size_t i = 0; i < rep.terminals.size(); ++i) {
    const auto& t = rep.terminals[i];
    all.push_back(t.id);
    by_town[t.town].push_back(t.id);
    if (j.contains("terminals") && i < j["terminals"].size()) j["terminals"][i]["lab_compliance"] = figures_json(l.compliance({t.id}, from, to));
  }
  if (j.contains("towns"))
    for (auto& tj : j["towns"])
      if (tj.contains("town") && tj["town"].is_string()) tj["lab_compliance"] = figures_json(l.compliance(by_town[tj["town"].get<std::string>()], from, to));
  if (j.contains("totals")) j["totals"]["lab_compliance"] = figures_json(l.compliance(all, from, to));
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

http_response effluent_limits_get(const call& c) {
  const auto* t = c.lab_room != nullptr ? &c.lab_room->limits() : c.cfg.om_lab.limits.get();
  json grades = json::array();
  if (t != nullptr)
    for (const auto& g : t->grades()) {
      json params = json::object();
      for (const auto& [p, lim] : g.limits)
        params[std::string(to_string(p))] = {{"min", lim.low ? json(*lim.low) : json(nullptr)},
                                             {"max", lim.high ? json(*lim.high) : json(nullptr)},
                                             {"unit", std::string(canonical_unit(p))},
                                             {"source", lim.source},
                                             {"provisional", lim.provisional},
                                             {"note", lim.note}};
      grades.push_back({{"grade", g.grade}, {"standard", g.standard}, {"label", g.label}, {"limits", params}});
    }
  json units = json::object();
  for (const auto p : all_lab_parameters) units[std::string(to_string(p))] = std::string(canonical_unit(p));
  return json_response(200, json{{"grades", grades},
                               {"units", units},
                               {"file", t != nullptr ? json(t->source_file.filename().string()) : json(nullptr)}});
}

}  // namespace sewage::gateway::om
