// Incidents as JSON (codec.hpp) and the names of their enums (incident.hpp).
#include "codec.hpp"

#include <sewage/proto/timestamp.hpp>

#include <cmath>
#include <stdexcept>

namespace sewage::gateway::incidents {

using nlohmann::json;

std::string_view to_string(incident_state s) noexcept {
  switch (s) {
    case incident_state::open: return "open";
    case incident_state::acknowledged: return "acknowledged";
    case incident_state::resolved: return "resolved";
  }
  return "open";
}

std::string_view to_string(incident_kind k) noexcept {
  switch (k) {
    case incident_kind::pump_station_fault: return "pump_station_fault";
    case incident_kind::flow_loss: return "flow_loss";
    case incident_kind::weather: return "weather";
  }
  return "flow_loss";
}

std::string_view to_string(alert_role r) noexcept {
  switch (r) {
    case alert_role::cause: return "cause";
    case alert_role::consequence: return "consequence";
    case alert_role::symptom: return "symptom";
    case alert_role::weather: return "weather";
  }
  return "consequence";
}

std::optional<incident_state> parse_state(std::string_view s) noexcept {
  for (const auto v : {incident_state::open, incident_state::acknowledged, incident_state::resolved})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::optional<incident_kind> parse_kind(std::string_view s) noexcept {
  for (const auto v : {incident_kind::pump_station_fault, incident_kind::flow_loss, incident_kind::weather})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::optional<alert_role> parse_role(std::string_view s) noexcept {
  for (const auto v : {alert_role::cause, alert_role::consequence, alert_role::symptom, alert_role::weather})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::optional<double> incident::time_to_resolve_s() const noexcept {
  if (!resolved_at) return std::nullopt;
  return static_cast<double>((*resolved_at - opened_at).count()) / 1000.0;
}

namespace {

json iso(const std::optional<proto::timestamp>& t) { return t ? json(proto::format_timestamp(*t)) : json(nullptr); }

proto::timestamp parse_ts(const json& v) {
  const auto t = proto::parse_timestamp(v.get<std::string>());
  if (!t) throw std::runtime_error("incident: bad timestamp " + v.dump());
  return *t;
}

std::optional<proto::timestamp> parse_opt_ts(const json& v) {
  if (v.is_null()) return std::nullopt;
  return parse_ts(v);
}

}  // namespace

json to_json(const incident& i) {
  json alerts = json::array();
  for (const auto& a : i.alerts)
    alerts.push_back(json{{"alert_id", a.alert_id},
                          {"site_id", a.site_id},
                          {"type", a.type},
                          {"role", to_string(a.role)},
                          {"open", a.open},
                          {"forwarded", a.forwarded},
                          {"raised_at", iso(a.raised_at)},
                          {"cleared_at", iso(a.cleared_at)}});
  json root = nullptr;
  if (i.root) root = json{{"node", i.root->node}, {"site_id", i.root->site_id}, {"kind", i.root->kind}, {"name", i.root->name}};
  const auto ttr = i.time_to_resolve_s();
  return json{{"id", i.id},
              {"state", to_string(i.state)},
              {"kind", to_string(i.kind)},
              {"root_cause", root},
              {"suspected_segments", i.suspected_segments},
              {"suspected_length_m", std::round(i.suspected_length_m * 10.0) / 10.0},
              {"origin", i.origin.empty() ? json(nullptr) : json(i.origin)},
              {"loci", i.loci},
              {"affected_nodes", i.affected_nodes},
              {"affected_terminals", i.affected_terminals},
              {"villages", i.villages},
              {"towns", i.towns},
              {"households", i.households},
              {"alerts", alerts},
              {"opened_at", iso(i.opened_at)},
              {"acked_at", iso(i.acked_at)},
              {"acked_by", i.acked_by.empty() ? json(nullptr) : json(i.acked_by)},
              {"ack_note", i.ack_note.empty() ? json(nullptr) : json(i.ack_note)},
              {"resolved_at", iso(i.resolved_at)},
              {"time_to_resolve_s", ttr ? json(*ttr) : json(nullptr)},
              {"merged_into", i.merged_into ? json(*i.merged_into) : json(nullptr)},
              {"notified_with", i.notified_with ? json(*i.notified_with) : json(nullptr)},
              {"notification_lost", i.notification_lost},
              {"title", i.title}};
}

incident from_json(const json& j) {
  incident i;
  i.id = j.at("id").get<std::int64_t>();
  i.state = parse_state(j.at("state").get<std::string>()).value_or(incident_state::open);
  i.kind = parse_kind(j.at("kind").get<std::string>()).value_or(incident_kind::flow_loss);
  if (const auto& r = j.at("root_cause"); !r.is_null())
    i.root = root_cause{r.at("node").get<std::string>(), r.at("site_id").get<std::string>(), r.at("kind").get<std::string>(),
                        r.at("name").get<std::string>()};
  i.suspected_segments = j.at("suspected_segments").get<std::vector<std::string>>();
  i.suspected_length_m = j.at("suspected_length_m").get<double>();
  if (const auto& o = j.at("origin"); !o.is_null()) i.origin = o.get<std::string>();
  i.loci = j.at("loci").get<std::vector<std::string>>();
  i.affected_nodes = j.at("affected_nodes").get<std::vector<std::string>>();
  i.affected_terminals = j.at("affected_terminals").get<std::vector<std::string>>();
  i.villages = j.at("villages").get<std::vector<std::string>>();
  if (const auto t = j.find("towns"); t != j.end()) i.towns = t->get<std::vector<std::string>>();  // since issue 14
  i.households = j.at("households").get<std::int64_t>();
  for (const auto& a : j.at("alerts")) {
    member_alert m;
    m.alert_id = a.at("alert_id").get<std::uint64_t>();
    m.site_id = a.at("site_id").get<std::string>();
    m.type = a.at("type").get<std::string>();
    m.role = parse_role(a.at("role").get<std::string>()).value_or(alert_role::consequence);
    m.open = a.at("open").get<bool>();
    m.forwarded = a.at("forwarded").get<bool>();
    m.raised_at = parse_ts(a.at("raised_at"));
    m.cleared_at = parse_opt_ts(a.at("cleared_at"));
    i.alerts.push_back(std::move(m));
  }
  i.opened_at = parse_ts(j.at("opened_at"));
  i.acked_at = parse_opt_ts(j.at("acked_at"));
  if (const auto& v = j.at("acked_by"); !v.is_null()) i.acked_by = v.get<std::string>();
  if (const auto& v = j.at("ack_note"); !v.is_null()) i.ack_note = v.get<std::string>();
  i.resolved_at = parse_opt_ts(j.at("resolved_at"));
  if (const auto& v = j.at("merged_into"); !v.is_null()) i.merged_into = v.get<std::int64_t>();
  i.title = j.at("title").get<std::string>();
  // Since 2026-12-06 (absent before: notified, with an alert not recorded).
  if (const auto v = j.find("notified_with"); v != j.end() && !v->is_null()) i.notified_with = v->get<std::uint64_t>();
  if (const auto v = j.find("notification_lost"); v != j.end()) i.notification_lost = v->get<bool>();
  return i;
}

}  // namespace sewage::gateway::incidents
