#include "sewage/gateway/api.hpp"

#include "sewage/gateway/operating_day.hpp"

#include "dashboard.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/payload.hpp>
#include <sewage/proto/problem.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

namespace sewage::gateway {

using nlohmann::json;

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      unsigned v = 0;
      const auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec != std::errc() || r.ptr != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

struct api_error {
  unsigned status;
  std::string message;
};

http_response json_response(unsigned status, const json& j) {
  http_response r;
  r.status = status;
  r.body = j.dump();
  return r;
}

http_response error_response(unsigned status, const std::string& message) {
  return json_response(status, json{{"error", {{"status", status}, {"message", message}}}});
}

std::string iso(proto::timestamp t) { return proto::format_timestamp(t); }
json iso_or_null(std::int64_t ms_since_epoch) {
  if (ms_since_epoch == 0) return nullptr;
  return iso(proto::timestamp(std::chrono::milliseconds(ms_since_epoch)));
}

json alert_json(const proto::alert_message& a) { return json::parse(proto::encode(a)); }

struct query {
  std::map<std::string, std::string, std::less<>> params;
  [[nodiscard]] std::optional<std::string> get(std::string_view k) const {
    const auto it = params.find(k);
    if (it == params.end()) return std::nullopt;
    return it->second;
  }
};

struct parsed_target {
  std::vector<std::string> segments;  // decoded path segments
  query q;
};

parsed_target parse_target(const std::string& target) {
  parsed_target out;
  const auto qpos = target.find('?');
  const std::string_view path = std::string_view(target).substr(0, qpos);
  std::size_t start = 1;
  if (path.empty() || path[0] != '/') throw api_error{400, "request target must start with '/'"};
  while (start <= path.size()) {
    const auto end = path.find('/', start);
    const auto seg = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!seg.empty()) {
      auto d = url_decode(seg);
      if (!d) throw api_error{400, "bad percent-escape in path"};
      out.segments.push_back(std::move(*d));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (qpos != std::string::npos) {
    std::string_view qs = std::string_view(target).substr(qpos + 1);
    while (!qs.empty()) {
      const auto amp = qs.find('&');
      const auto pair = qs.substr(0, amp);
      const auto eq = pair.find('=');
      auto k = url_decode(pair.substr(0, eq));
      auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!k || !v) throw api_error{400, "bad percent-escape in query"};
      if (!k->empty()) out.q.params[*k] = *v;
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is not secret; the content is compared without an early exit.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

api::api(engine& eng, link_status link) : eng_(eng), link_(std::move(link)) {}

http_response api::handle(const http_request& req) {
  try {
    return route(req);
  } catch (const api_error& e) {
    return error_response(e.status, e.message);
  } catch (const std::exception& e) {
    spdlog::error("API {} {} failed: {}", req.method, req.target, e.what());
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

namespace {

std::size_t terminal_index(const engine& eng, const std::string& id) {
  const auto idx = eng.terminals().find(id);
  if (!idx) throw api_error{404, "no terminal '" + id + "' in the registry"};
  return *idx;
}

/// `registered`: the terminal's registration (engine::registered_at); expected records of a day
/// are counted from it when it falls inside the day. `missing_records`: the day's records never
/// received, when known (the /daily rows; not "today").
json daily_json(const daily_delta& d, double interval_s, const engine& eng, proto::timestamp registered,
                std::optional<std::int64_t> missing_records = std::nullopt) {
  const auto& cfg = eng.cfg();
  const auto now = eng.clock().now();
  const auto end = operating_day_start(d.day + 1, cfg.zone);
  const auto start = std::clamp(registered, operating_day_start(d.day, cfg.zone), end);
  const double covered_s = std::chrono::duration<double>(std::clamp(now, start, end) - start).count();
  const double expected = covered_s / interval_s;
  json j{{"day", format_day(d.day)},
         {"volume_m3", d.volume_m3 + d.volume_estimated_m3},
         {"volume_measured_m3", d.volume_m3},
         {"volume_estimated_m3", d.volume_estimated_m3},
         {"volume_estimated", d.volume_estimated_m3 > 0},
         {"records", d.records},
         {"expected_records", expected},
         {"availability", expected > 0 ? json(std::min(1.0, d.records / expected)) : json(nullptr)},
         {"turbidity_mean_ntu", d.turbidity_count > 0 ? json(d.turbidity_sum_ntu / d.turbidity_count) : json(nullptr)},
         {"turbidity_max_ntu", d.turbidity_max_ntu >= 0 ? json(d.turbidity_max_ntu) : json(nullptr)},
         {"totalizer_glitches", d.totalizer_glitches}};
  // Compliance over the time with good turbidity readings only; coverage says how much time that is.
  j["turbidity_ok_s"] = d.turbidity_ok_s;
  j["compliance_rate"] = d.turbidity_ok_s > 0 ? json(std::min(1.0, d.compliant_s / d.turbidity_ok_s)) : json(nullptr);
  j["compliance_coverage"] = covered_s > 0 ? json(std::min(1.0, d.turbidity_ok_s / covered_s)) : json(nullptr);
  if (missing_records) {
    // records never received attributed to this day (seq holes, see gateway/README.md)
    j["missing_records"] = *missing_records;
    j["complete"] = *missing_records == 0;
  }
  return j;
}

std::string presence_state(const engine& eng, std::size_t i) { return engine::to_string(eng.presence_of(i)); }

json terminal_json(engine& eng, std::size_t i, bool detail, const std::map<std::string, daily_delta>& today) {
  const auto& t = eng.terminals().terminals()[i];
  const auto& rt = eng.runtime(i);
  json open = json::array();
  for (const auto id : rt.open_alert) {
    if (id == 0) continue;
    const auto it = eng.open_alerts().find(id);
    if (it != eng.open_alerts().end()) open.push_back(alert_json(it->second));
  }
  json j{{"id", t.id},
         {"name", t.name},
         {"town", t.town},
         {"village", t.village},
         {"latitude", t.latitude_deg},
         {"longitude", t.longitude_deg},
         {"design_capacity_m3d", t.design_capacity_m3d},
         {"discharge_grade", t.discharge_grade},
         {"report_interval_s", eng.report_interval_s(i)},
         {"state", presence_state(eng, i)},
         {"last_alive_at", iso_or_null(rt.snap.last_alive_ms)},
         {"open_alerts", open}};
  // Records never received in the current epoch, and the newest holes (seq ranges).
  constexpr std::size_t max_gaps_shown = 10;
  json gaps = json::array();
  for (const auto& g : rt.snap.seen.gaps(max_gaps_shown + 1)) gaps.push_back({g.lo, g.hi});
  const bool gaps_truncated = gaps.size() > max_gaps_shown;
  if (gaps_truncated) gaps.erase(gaps.size() - 1);
  j["missing_records"] = rt.snap.seen.missing();
  j["missing_seq_ranges"] = std::move(gaps);
  j["missing_seq_ranges_truncated"] = gaps_truncated;
  if (rt.snap.latest) {
    j["latest_record"] = json::parse(proto::encode(*rt.snap.latest));
    j["latest_record_arrived_at"] = iso(rt.snap.latest_arrival);
  } else {
    j["latest_record"] = nullptr;
  }
  if (rt.snap.status) {
    j["status"] = json::parse(proto::encode(*rt.snap.status));
    j["status_arrived_at"] = iso(rt.snap.status_arrival);
  } else {
    j["status"] = nullptr;
  }
  const auto td = today.find(t.id);
  daily_delta d;
  d.day = operating_day(eng.clock().now(), eng.cfg().zone);
  if (td != today.end()) d = td->second;
  j["today"] = daily_json(d, eng.report_interval_s(i), eng, eng.registered_at(i));
  if (detail) {
    const auto& th = t.limits;
    j["thresholds"] = {{"turbidity_limit_ntu", th.turbidity_limit_ntu},
                       {"turbidity_raise_ntu", th.turbidity_raise_ntu},
                       {"turbidity_clear_ntu", th.turbidity_clear_ntu},
                       {"turbidity_debounce_s", th.turbidity_debounce_s},
                       {"no_flow_raise_m3h", th.no_flow_raise_m3h},
                       {"no_flow_clear_m3h", th.no_flow_clear_m3h},
                       {"no_flow_debounce_s", th.no_flow_debounce_s},
                       {"flow_high_raise_factor", th.flow_high_raise_factor},
                       {"flow_high_clear_factor", th.flow_high_clear_factor},
                       {"flow_high_debounce_s", th.flow_high_debounce_s},
                       {"cleanout_debounce_s", th.cleanout_debounce_s},
                       {"sensor_fault_debounce_s", th.sensor_fault_debounce_s},
                       {"queue_overflow_clear_s", th.queue_overflow_clear_s},
                       {"clock_skew_raise_s", th.clock_skew_raise_s},
                       {"clock_skew_clear_s", th.clock_skew_clear_s},
                       {"offline_after_intervals", th.offline_after_intervals},
                       {"clock_trust_behind_s", th.clock_trust_behind_s},
                       {"clock_trust_ahead_s", th.clock_trust_ahead_s}};
    j["dedup"] = {{"epoch", rt.snap.epoch},
                  {"max_seq", rt.snap.seen.max_seq()},
                  {"accepted", rt.snap.seen.accepted()},
                  {"ranges_in_memory", rt.snap.seen.ranges().size()}};
  }
  return j;
}

std::map<std::string, daily_delta> today_rows(engine& eng) {
  eng.flush();
  const auto day = operating_day(eng.clock().now(), eng.cfg().zone);
  std::map<std::string, daily_delta> out;
  for (auto& r : eng.db().daily(std::nullopt, day, day)) out[r.terminal_id] = r.totals;
  return out;
}

proto::timestamp time_param(const query& q, std::string_view key, proto::timestamp fallback) {
  const auto v = q.get(key);
  if (!v) return fallback;
  const auto t = proto::parse_timestamp(*v);
  if (!t) throw api_error{400, std::string(key) + ": must be an ISO 8601 UTC time like 2026-11-29T08:00:00Z, got '" + *v + "'"};
  return *t;
}

std::int32_t day_param(const query& q, std::string_view key, std::int32_t fallback, const county_zone& zone) {
  const auto v = q.get(key);
  if (!v) return fallback;
  if (const auto d = parse_day(*v)) return *d;
  if (const auto t = proto::parse_timestamp(*v)) return operating_day(*t, zone);
  throw api_error{400, std::string(key) + ": must be a date YYYY-MM-DD or an ISO 8601 UTC time, got '" + *v + "'"};
}

void add_metric(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void add_sample(std::string& out, const std::string& name_labels, double v) {
  out += name_labels;
  out += ' ';
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
  out += '\n';
}

}  // namespace

http_response api::route(const http_request& req) {
  const auto t = parse_target(req.target);
  const auto& s = t.segments;
  const bool get = req.method == "GET" || req.method == "HEAD";
  auto method_not_allowed = [&](const char* allowed) {
    auto r = error_response(405, "method " + req.method + " not allowed here");
    r.headers.emplace_back("Allow", allowed);
    return r;
  };
  const auto& cfg = eng_.cfg();
  const auto now = eng_.clock().now();

  if (s.size() == 1 && s[0] == "healthz") {
    if (!get) return method_not_allowed("GET");
    // Healthy = receiving and storing: a gateway cut off from the broker ingests nothing, so a
    // load balancer or systemd watchdog must see it as unhealthy too.
    const bool mqtt = link_.connected ? link_.connected() : false;
    const bool store_ok = eng_.metrics().last_commit_ok;
    const char* status = !store_ok ? "store_failing" : !mqtt ? "mqtt_disconnected" : "ok";
    return json_response(store_ok && mqtt ? 200 : 503, json{{"status", status},
                                                     {"mqtt_connected", mqtt},
                                                     {"store_ok", store_ok},
                                                     {"started_at", iso(eng_.started_at())},
                                                     {"now", iso(now)}});
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return method_not_allowed("GET");
    const auto& m = eng_.metrics();
    std::string out;
    add_metric(out, "sewage_gateway_messages_total", "counter", "MQTT messages received.");
    add_sample(out, "sewage_gateway_messages_total", static_cast<double>(m.messages_in));
    add_metric(out, "sewage_gateway_records_accepted_total", "counter", "Telemetry records accepted (after de-duplication).");
    add_sample(out, "sewage_gateway_records_accepted_total", static_cast<double>(m.records_accepted));
    add_metric(out, "sewage_gateway_duplicates_total", "counter", "Redelivered or replayed records dropped by de-duplication.");
    add_sample(out, "sewage_gateway_duplicates_total", static_cast<double>(m.duplicates));
    add_metric(out, "sewage_gateway_late_records_total", "counter", "Accepted records older than the rules' event clock.");
    add_sample(out, "sewage_gateway_late_records_total", static_cast<double>(m.late_records));
    add_metric(out, "sewage_gateway_missing_records", "gauge",
               "Telemetry records never received: seq holes below each terminal epoch's highest seq.");
    add_sample(out, "sewage_gateway_missing_records", static_cast<double>(m.missing_records));
    add_metric(out, "sewage_gateway_untrusted_timestamps_total", "counter",
               "Records whose ts was outside the trust window around arrival (kept at their arrival time).");
    add_sample(out, "sewage_gateway_untrusted_timestamps_total", static_cast<double>(m.untrusted_stamps));
    add_metric(out, "sewage_gateway_rejects_total", "counter", "Rejected messages by reason code (sewage::proto problem codes).");
    for (std::size_t c = 0; c <= static_cast<std::size_t>(proto::problem_code::bad_image); ++c)
      add_sample(out,
                 "sewage_gateway_rejects_total{reason=\"" +
                     std::string(proto::to_string(static_cast<proto::problem_code>(c))) + "\"}",
                 static_cast<double>(m.rejects_by_code.at(c)));
    add_metric(out, "sewage_gateway_unknown_terminal_messages_total", "counter", "Messages from terminals not in the registry.");
    add_sample(out, "sewage_gateway_unknown_terminal_messages_total", static_cast<double>(m.unknown_terminal_messages));
    add_metric(out, "sewage_gateway_unknown_terminals", "gauge", "Distinct unregistered terminal ids seen (bounded list).");
    add_sample(out, "sewage_gateway_unknown_terminals", static_cast<double>(eng_.unknown_terminals().size()));
    add_metric(out, "sewage_gateway_volume_fallback_total", "counter", "Records whose volume came from rate integration.");
    add_sample(out, "sewage_gateway_volume_fallback_total", static_cast<double>(m.volume_fallbacks));
    add_metric(out, "sewage_gateway_totalizer_glitches_total", "counter",
               "Totalizer readings that were not real volume, by kind (never counted as flow).");
    for (const auto g : all_totalizer_glitches)
      add_sample(out, "sewage_gateway_totalizer_glitches_total{kind=\"" + std::string(to_string(g)) + "\"}",
                 static_cast<double>(m.totalizer_glitches.at(static_cast<std::size_t>(g))));
    add_metric(out, "sewage_gateway_open_alerts", "gauge", "Open alert episodes by type.");
    std::array<std::uint64_t, proto::all_alert_types.size()> open{};
    for (const auto& [id, a] : eng_.open_alerts()) ++open.at(static_cast<std::size_t>(a.type));
    for (const auto type : proto::all_alert_types)
      add_sample(out, "sewage_gateway_open_alerts{type=\"" + std::string(proto::to_string(type)) + "\"}",
                 static_cast<double>(open.at(static_cast<std::size_t>(type))));
    add_metric(out, "sewage_gateway_alerts_raised_total", "counter", "Alert episodes raised.");
    add_sample(out, "sewage_gateway_alerts_raised_total", static_cast<double>(m.alerts_raised));
    add_metric(out, "sewage_gateway_alerts_cleared_total", "counter", "Alert episodes cleared.");
    add_sample(out, "sewage_gateway_alerts_cleared_total", static_cast<double>(m.alerts_cleared));
    add_metric(out, "sewage_gateway_store_commit_seconds", "histogram", "Latency of store commits (one transaction per batch).");
    static constexpr const char* le[] = {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"};
    std::uint64_t cum = 0;
    for (std::size_t b = 0; b < std::size(le); ++b) {
      cum += m.store_commit_buckets.at(b);
      add_sample(out, std::string("sewage_gateway_store_commit_seconds_bucket{le=\"") + le[b] + "\"}", static_cast<double>(cum));
    }
    add_sample(out, "sewage_gateway_store_commit_seconds_sum", m.store_commit_seconds_sum);
    add_sample(out, "sewage_gateway_store_commit_seconds_count", static_cast<double>(m.store_commits));
    add_metric(out, "sewage_gateway_store_failures_total", "counter", "Failed store commits (retried).");
    add_sample(out, "sewage_gateway_store_failures_total", static_cast<double>(m.store_failures));
    add_metric(out, "sewage_gateway_terminals", "gauge", "Registered terminals by presence state.");
    std::map<std::string, std::size_t> states{{"online", 0}, {"offline", 0}, {"unknown", 0}};
    for (std::size_t i = 0; i < eng_.terminals().size(); ++i) ++states[presence_state(eng_, i)];
    for (const auto& [k, v] : states) add_sample(out, "sewage_gateway_terminals{state=\"" + k + "\"}", static_cast<double>(v));
    add_metric(out, "sewage_gateway_mqtt_connected", "gauge", "1 when connected to the broker.");
    add_sample(out, "sewage_gateway_mqtt_connected", link_.connected && link_.connected() ? 1 : 0);
    add_metric(out, "sewage_gateway_publish_failures_total", "counter", "Alert publications the MQTT client refused or failed.");
    add_sample(out, "sewage_gateway_publish_failures_total", link_.publish_failures ? static_cast<double>(link_.publish_failures()) : 0);
    add_metric(out, "sewage_gateway_journal_failures_total", "counter",
               "Received messages the received-message journal could not store (disk full); kept in memory only.");
    add_sample(out, "sewage_gateway_journal_failures_total", link_.journal_failures ? static_cast<double>(link_.journal_failures()) : 0);
    add_metric(out, "sewage_gateway_mqtt_connect_failures_total", "counter", "Failed broker connect attempts (every retry counts).");
    add_sample(out, "sewage_gateway_mqtt_connect_failures_total", link_.connect_failures ? static_cast<double>(link_.connect_failures()) : 0);
    add_metric(out, "sewage_gateway_webhook_failures_total", "counter", "Webhook POST attempts that failed.");
    add_sample(out, "sewage_gateway_webhook_failures_total", link_.webhook_failures ? static_cast<double>(link_.webhook_failures()) : 0);
    add_metric(out, "sewage_gateway_webhook_dropped_total", "counter", "Transitions dropped from a full webhook queue or after the last retry.");
    add_sample(out, "sewage_gateway_webhook_dropped_total", link_.webhook_dropped ? static_cast<double>(link_.webhook_dropped()) : 0);
    http_response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = std::move(out);
    return r;
  }
  if (s.empty() || (s.size() == 1 && s[0] == "index.html")) {
    if (!get) return method_not_allowed("GET");
    http_response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(detail::dashboard_html());
    return r;
  }
  if (s[0] != "api") throw api_error{404, "no route for " + req.target};

  if (s.size() == 2 && s[1] == "summary") {
    if (!get) return method_not_allowed("GET");
    const auto today = today_rows(eng_);
    const auto day = operating_day(now, cfg.zone);
    std::size_t online = 0, offline = 0, unknown = 0;
    for (std::size_t i = 0; i < eng_.terminals().size(); ++i) {
      const auto st = presence_state(eng_, i);
      (st == "online" ? online : st == "offline" ? offline : unknown)++;
    }
    double vol = 0, est = 0, compliant_s = 0, ok_s = 0;
    for (const auto& [id, d] : today) {
      if (!eng_.terminals().find(id)) continue;
      vol += d.volume_m3;
      est += d.volume_estimated_m3;
      compliant_s += d.compliant_s;
      ok_s += d.turbidity_ok_s;
    }
    // Coverage: good turbidity time over the terminal-time of the day so far (every registered terminal).
    const double elapsed_s =
        std::chrono::duration<double>(std::max(now, operating_day_start(day, cfg.zone)) - operating_day_start(day, cfg.zone)).count();
    const double terminal_s = elapsed_s * static_cast<double>(eng_.terminals().size());
    json by_type = json::object();
    for (const auto type : proto::all_alert_types) by_type[std::string(proto::to_string(type))] = 0;
    for (const auto& [id, a] : eng_.open_alerts()) by_type[std::string(proto::to_string(a.type))] = by_type[std::string(proto::to_string(a.type))].get<int>() + 1;
    const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(day))};
    const auto month_start_day = static_cast<std::int32_t>(
        std::chrono::sys_days(ymd.year() / ymd.month() / std::chrono::day(1)).time_since_epoch().count());
    const auto month_start = operating_day_start(month_start_day, cfg.zone);
    eng_.flush();
    const auto faults = eng_.db().faults_since(month_start);
    return json_response(200, json{{"generated_at", iso(now)},
                                   {"operating_day", format_day(day)},
                                   {"time_zone", cfg.time_zone},
                                   {"terminals", eng_.terminals().size()},
                                   {"online", online},
                                   {"offline", offline},
                                   {"unknown", unknown},
                                   {"volume_today_m3", vol + est},
                                   {"volume_today_estimated_m3", est},
                                   {"compliance_rate_today", ok_s > 0 ? json(std::min(1.0, compliant_s / ok_s)) : json(nullptr)},
                                   {"compliance_coverage_today", terminal_s > 0 ? json(std::min(1.0, ok_s / terminal_s)) : json(nullptr)},
                                   {"open_alerts", by_type},
                                   {"open_alerts_total", eng_.open_alerts().size()},
                                   {"month", {{"from", iso(month_start)},
                                              {"faults_found", faults.raised},
                                              {"faults_resolved", faults.resolved},
                                              {"mean_time_to_resolve_s", faults.resolved > 0 ? json(faults.mean_time_to_resolve_s) : json(nullptr)}}},
                                   {"unknown_terminals", eng_.unknown_terminals().size()},
                                   {"mqtt_connected", link_.connected ? link_.connected() : false}});
  }
  if (s.size() == 2 && s[1] == "terminals") {
    if (!get) return method_not_allowed("GET");
    const auto today = today_rows(eng_);
    json arr = json::array();
    for (std::size_t i = 0; i < eng_.terminals().size(); ++i) arr.push_back(terminal_json(eng_, i, false, today));
    return json_response(200, json{{"terminals", arr}});
  }
  if (s.size() == 2 && s[1] == "terminals.geojson") {
    if (!get) return method_not_allowed("GET");
    json features = json::array();
    for (std::size_t i = 0; i < eng_.terminals().size(); ++i) {
      const auto& t = eng_.terminals().terminals()[i];
      json types = json::array();
      for (const auto id : eng_.runtime(i).open_alert) {
        if (id == 0) continue;
        const auto it = eng_.open_alerts().find(id);
        if (it != eng_.open_alerts().end()) types.push_back(proto::to_string(it->second.type));
      }
      features.push_back({{"type", "Feature"},
                          {"geometry", {{"type", "Point"}, {"coordinates", {t.longitude_deg, t.latitude_deg}}}},
                          {"properties", {{"id", t.id},
                                          {"name", t.name},
                                          {"town", t.town},
                                          {"village", t.village},
                                          {"design_capacity_m3d", t.design_capacity_m3d},
                                          {"state", presence_state(eng_, i)},
                                          {"open_alerts", types}}}});
    }
    auto r = json_response(200, json{{"type", "FeatureCollection"}, {"features", features}});
    r.content_type = "application/geo+json";
    return r;
  }
  if (s.size() == 2 && s[1] == "unknown-terminals") {
    if (!get) return method_not_allowed("GET");
    json arr = json::array();
    for (const auto& [id, u] : eng_.unknown_terminals())
      arr.push_back({{"id", id}, {"messages", u.messages}, {"last_seen", iso(u.last_seen)}});
    return json_response(200, json{{"unknown_terminals", arr}});
  }
  if (s.size() == 2 && s[1] == "dead-letters") {
    if (!get) return method_not_allowed("GET");
    eng_.flush();
    json arr = json::array();
    for (const auto& d : eng_.db().dead_letters(100)) {
      json payload = proto::is_valid_utf8(d.payload) ? json(d.payload) : json(nullptr);
      arr.push_back({{"id", d.id}, {"arrived_at", iso(d.arrival)}, {"topic", d.topic}, {"reason_code", d.code},
                     {"reason", d.reason}, {"payload", payload}});
    }
    return json_response(200, json{{"dead_letters", arr}});
  }
  if (s.size() >= 3 && s[1] == "terminals") {
    const auto idx = terminal_index(eng_, s[2]);
    const auto& id = s[2];
    if (s.size() == 3) {
      if (!get) return method_not_allowed("GET");
      return json_response(200, terminal_json(eng_, idx, true, today_rows(eng_)));
    }
    if (s.size() == 4 && s[3] == "history") {
      if (!get) return method_not_allowed("GET");
      const auto to = time_param(t.q, "to", now + std::chrono::minutes(1));
      const auto from = time_param(t.q, "from", to - std::chrono::hours(24));
      if (!(from < to)) throw api_error{400, "from must be before to"};
      if (to - from > std::chrono::days(cfg.http_max_range_days))
        throw api_error{400, "range too long: at most " + std::to_string(cfg.http_max_range_days) + " days (http.max_range_days)"};
      eng_.flush();
      const auto rows = eng_.db().history(id, from, to, cfg.http_max_rows);
      json arr = json::array();
      for (const auto& r : rows) {
        auto j = json::parse(proto::encode(r.record));
        j["arrived_at"] = iso(r.arrival);
        // false: the stamp was outside the trust window; the record is listed at its arrival time
        j["ts_trusted"] = r.ts_trusted;
        arr.push_back(std::move(j));
      }
      return json_response(200, json{{"terminal_id", id}, {"from", iso(from)}, {"to", iso(to)},
                                     {"truncated", rows.size() >= cfg.http_max_rows}, {"records", arr}});
    }
    if (s.size() == 4 && s[3] == "daily") {
      if (!get) return method_not_allowed("GET");
      const auto today = operating_day(now, cfg.zone);
      const auto to = day_param(t.q, "to", today, cfg.zone);
      const auto from = day_param(t.q, "from", to - 29, cfg.zone);
      if (from > to) throw api_error{400, "from must not be after to"};
      if (to - from + 1 > static_cast<std::int32_t>(cfg.http_max_range_days))
        throw api_error{400, "range too long: at most " + std::to_string(cfg.http_max_range_days) + " days (http.max_range_days)"};
      eng_.flush();
      json arr = json::array();
      for (const auto& r : eng_.db().daily(id, from, to))
        arr.push_back(daily_json(r.totals, eng_.report_interval_s(idx), eng_, eng_.registered_at(idx), r.missing_records));
      return json_response(200, json{{"terminal_id", id}, {"from", format_day(from)}, {"to", format_day(to)},
                                     {"time_zone", cfg.time_zone}, {"days", arr}});
    }
    if (s.size() == 4 && s[3] == "image") {
      if (!get) return method_not_allowed("GET");
      eng_.flush();
      const auto img = eng_.db().image(id);
      if (!img) throw api_error{404, "no image received from '" + id + "' yet"};
      http_response r;
      r.content_type = "image/jpeg";
      r.body = img->first;
      r.headers.emplace_back("X-Image-Arrived-At", iso(img->second));
      return r;
    }
    throw api_error{404, "no route for " + req.target};
  }
  if (s.size() == 2 && s[1] == "alerts") {
    if (!get) return method_not_allowed("GET");
    const auto state = t.q.get("state").value_or("open");
    if (state != "open" && state != "all") throw api_error{400, "state: must be 'open' or 'all', got '" + state + "'"};
    const auto terminal = t.q.get("terminal");
    if (terminal && !proto::is_valid_terminal_id(*terminal)) throw api_error{400, "terminal: not a valid terminal id"};
    eng_.flush();
    json arr = json::array();
    for (const auto& a : eng_.db().alerts(state == "open", terminal, 1000)) arr.push_back(alert_json(a));
    // A terminal taken out of the registry keeps its alert history; a mistyped id gets a 404.
    if (terminal && arr.empty()) terminal_index(eng_, *terminal);
    return json_response(200, json{{"alerts", arr}});
  }
  if (s.size() == 4 && s[1] == "alerts" && s[3] == "ack") {
    if (req.method != "POST") return method_not_allowed("POST");
    std::uint64_t alert_id = 0;
    const auto r = std::from_chars(s[2].data(), s[2].data() + s[2].size(), alert_id);
    if (r.ec != std::errc() || r.ptr != s[2].data() + s[2].size() || alert_id == 0)
      throw api_error{400, "alert id must be a positive integer"};
    if (cfg.ack_token.empty()) throw api_error{403, "acknowledgement is disabled (http.ack_token is empty)"};
    const std::string prefix = "Bearer ";
    if (req.authorization.rfind(prefix, 0) != 0 ||
        !constant_time_equal(std::string_view(req.authorization).substr(prefix.size()), cfg.ack_token)) {
      auto resp = error_response(401, "a valid 'Authorization: Bearer <token>' header is required");
      resp.headers.emplace_back("WWW-Authenticate", "Bearer");
      return resp;
    }
    const auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) throw api_error{400, "body must be a JSON object {\"by\": \"name\", \"note\": \"...\"}"};
    if (!body.contains("by") || !body["by"].is_string()) throw api_error{400, "by: required string (the operator's name)"};
    const auto by = body["by"].get<std::string>();
    if (by.empty() || by.size() > 128 || !proto::is_valid_utf8(by)) throw api_error{400, "by: must be 1..128 bytes of UTF-8"};
    std::string note;
    if (body.contains("note")) {
      if (!body["note"].is_string()) throw api_error{400, "note: must be a string"};
      note = body["note"].get<std::string>();
      if (note.size() > 1024 || !proto::is_valid_utf8(note)) throw api_error{400, "note: at most 1024 bytes of UTF-8"};
    }
    proto::alert_message out;
    switch (eng_.acknowledge(alert_id, by, note, &out)) {
      case engine::ack_result::acknowledged: return json_response(200, alert_json(out));
      case engine::ack_result::not_found: throw api_error{404, "no alert " + std::to_string(alert_id)};
      case engine::ack_result::already_cleared: throw api_error{409, "alert " + std::to_string(alert_id) + " is already cleared"};
      case engine::ack_result::already_acknowledged:
        throw api_error{409, "alert " + std::to_string(alert_id) + " was already acknowledged by " + out.acked_by.value_or("?") +
                                 " at " + (out.acked_at ? iso(*out.acked_at) : std::string("?"))};
    }
  }
  throw api_error{404, "no route for " + req.target};
}

}  // namespace sewage::gateway
