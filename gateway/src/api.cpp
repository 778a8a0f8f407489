#include "sewage/gateway/api.hpp"

#include "sewage/gateway/energy.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/severity.hpp"
#include "sewage/gateway/report.hpp"

#include "sewage/gateway/http/static_files.hpp"
#include "sewage/gateway/auth/secrets.hpp"
#include "sewage/gateway/auth/service.hpp"

#include "auth/routes.hpp"
#include "om/http_lab.hpp"
#include "incidents/http_incidents.hpp"
#include "om/http_work_orders.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "om/http_inspections.hpp"

#include <sewage/proto/alert.hpp>

#include "alarms/http_alarms.hpp"
#include "detail/http_json.hpp"
#include <sewage/proto/payload.hpp>
#include <sewage/proto/problem.hpp>
#include <sewage/proto/resolution.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace sewage::gateway {

using nlohmann::json;

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && plus_is_space) {
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

std::optional<std::string> text_problem(std::string_view s, text_rules rules) {
  std::size_t bad = 0;
  if (!proto::is_valid_utf8(s, &bad)) return "invalid UTF-8 at byte " + std::to_string(bad);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    unsigned code = 0xFFFFFFFF;
    if (c < 0x20 || c == 0x7F) {
      code = c;
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      code = static_cast<unsigned char>(s[i + 1]);  // C1 control U+0080..U+009F
    }
    if (code == 0xFFFFFFFF) continue;
    const bool allowed = (code == '\t' && rules != text_rules::single_line) ||
                         ((code == '\n' || code == '\r') && rules == text_rules::multi_line);
    if (allowed) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "control character U+%04X at byte %zu", code, i);
    return std::string(buf);
  }
  return std::nullopt;
}

std::string escaped(std::string_view s, std::size_t max_bytes) {
  std::string out;
  const std::size_t n = std::min(s.size(), max_bytes);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

namespace {

/// "offline, turbidity_high, ..." : every alert type, for errors naming the choices.
std::string alert_type_names() {
  std::string out;
  for (const auto t : proto::all_alert_types) {
    if (!out.empty()) out += ", ";
    out += proto::to_string(t);
  }
  return out;
}

/// A refused request: HTTP status, a metric label (`reason`), a message that never holds raw
/// request bytes (see escaped()), and extra response headers.
struct api_error {
  unsigned status;
  std::string reason;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers{};
};

/// Serialises without ever throwing on invalid UTF-8 (U+FFFD replaces it): the API's last line
/// of defence, the checks below keep raw request bytes out of responses in the first place.
std::string safe_dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

using gateway::detail::json_response;

http_response error_response(unsigned status, const std::string& message) {
  return json_response(status, json{{"error", {{"status", status}, {"message", message}}}});
}

/// Answered when even building an error response failed (nothing of the request in it).
http_response last_resort_500() {
  http_response r;
  r.status = 500;
  r.body = R"({"error":{"status":500,"message":"internal error"}})";
  return r;
}

std::string iso(proto::timestamp t) { return proto::format_timestamp(t); }
json iso_or_null(std::int64_t ms_since_epoch) {
  if (ms_since_epoch == 0) return nullptr;
  return iso(proto::timestamp(std::chrono::milliseconds(ms_since_epoch)));
}

json alert_json(const proto::alert_message& a) { return json::parse(proto::encode(a)); }

/// Query parameters (decoded, checked text) of one request.
using query_map = std::map<std::string, std::string, std::less<>>;

struct parsed_target {
  std::vector<std::string> segments;  // decoded path segments
  query_map q;
};

void check_text_or_throw(std::string_view s, text_rules rules, const std::string& where) {
  if (auto p = text_problem(s, rules)) throw api_error{400, "bad_bytes", where + ": " + *p};
}

parsed_target parse_target(const std::string& target) {
  parsed_target out;
  const auto qpos = target.find('?');
  const std::string_view path = std::string_view(target).substr(0, qpos);
  if (path.empty() || path[0] != '/') throw api_error{400, "bad_target", "request target must start with '/'"};
  std::size_t start = 1;
  std::size_t index = 0;
  while (start <= path.size()) {
    const auto end = path.find('/', start);
    const auto seg = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    ++index;
    if (!seg.empty()) {
      auto d = url_decode(seg, false);
      const std::string where = "path segment " + std::to_string(index);
      if (!d) throw api_error{400, "bad_target", where + ": bad percent-escape"};
      check_text_or_throw(*d, text_rules::single_line, where);
      out.segments.push_back(std::move(*d));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (qpos != std::string::npos) {
    std::string_view qs = std::string_view(target).substr(qpos + 1);
    std::size_t index = 0;
    while (!qs.empty()) {
      const auto amp = qs.find('&');
      const auto pair = qs.substr(0, amp);
      ++index;
      if (!pair.empty()) {  // "a=1&&b=2" has an empty pair: nothing to refuse
        const auto eq = pair.find('=');
        const std::string where = "query parameter " + std::to_string(index);
        auto k = url_decode(pair.substr(0, eq), true);
        if (!k) throw api_error{400, "bad_target", where + " name: bad percent-escape"};
        check_text_or_throw(*k, text_rules::single_line, where + " name");
        if (k->empty()) throw api_error{400, "bad_parameter", where + ": a value without a parameter name"};
        auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!v) throw api_error{400, "bad_target", "query parameter '" + *k + "': bad percent-escape"};
        check_text_or_throw(*v, text_rules::single_line, "query parameter '" + *k + "'");
        if (!out.q.emplace(*k, std::move(*v)).second)
          throw api_error{400, "bad_parameter", "query parameter '" + *k + "' given more than once"};
      }
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  return out;
}

}  // namespace


namespace {

using proto::round_to;
using proto::unit;

std::size_t terminal_index(const registry& reg, const std::string& id) {
  const auto idx = reg.find(id);
  if (!idx) throw api_error{404, "not_found", "no terminal '" + escaped(id) + "' in the registry"};
  return *idx;
}

/// `registered`: the terminal's registration (engine::registered_at); expected records of a day
/// are counted from it when it falls inside the day. `missing_records`: the day's records never
/// received, when known (the /daily rows; not "today").
json daily_json(const daily_delta& d, double interval_s, const config& cfg, proto::timestamp now,
                proto::timestamp registered, std::optional<std::int64_t> missing_records = std::nullopt) {
  const auto end = operating_day_start(d.day + 1, cfg.zone);
  const auto start = std::clamp(registered, operating_day_start(d.day, cfg.zone), end);
  const double covered_s = std::chrono::duration<double>(std::clamp(now, start, end) - start).count();
  const double expected = covered_s / interval_s;
  // Derived figures at their unit's resolution (proto/resolution.hpp): sums and means of decimal
  // readings would otherwise print as 1240.0099999997765.
  json j{{"day", format_day(d.day)},
         {"volume_m3", round_to(d.volume_m3 + d.volume_estimated_m3, unit::m3)},
         {"volume_measured_m3", round_to(d.volume_m3, unit::m3)},
         {"volume_estimated_m3", round_to(d.volume_estimated_m3, unit::m3)},
         {"volume_estimated", d.volume_estimated_m3 > 0},
         {"records", d.records},
         {"expected_records", round_to(expected, unit::count)},
         {"availability", expected > 0 ? json(round_to(std::min(1.0, d.records / expected), unit::ratio)) : json(nullptr)},
         {"turbidity_mean_ntu",
          d.turbidity_count > 0 ? json(round_to(d.turbidity_sum_ntu / d.turbidity_count, unit::ntu)) : json(nullptr)},
         {"turbidity_max_ntu", d.turbidity_max_ntu >= 0 ? json(round_to(d.turbidity_max_ntu, unit::ntu)) : json(nullptr)},
         {"totalizer_glitches", d.totalizer_glitches}};
  // Energy (issue 12 item 5, gateway/README.md "Energy"): null without a meter that day.
  const bool metered = d.energy_records > 0;
  const auto per_m3 = energy_per_m3(d);
  j["energy_kwh"] = metered ? json(round_to(d.energy_kwh + d.energy_estimated_kwh, unit::kwh)) : json(nullptr);
  j["energy_estimated_kwh"] = metered ? json(round_to(d.energy_estimated_kwh, unit::kwh)) : json(nullptr);
  j["energy_kwh_per_m3"] = per_m3 ? json(round_to(*per_m3, unit::kwh_per_m3)) : json(nullptr);
  j["energy_glitches"] = d.energy_glitches;
  // Compliance over the time with good turbidity readings only; coverage says how much time that is.
  j["turbidity_ok_s"] = round_to(d.turbidity_ok_s, unit::seconds);
  j["compliance_rate"] =
      d.turbidity_ok_s > 0 ? json(round_to(std::min(1.0, d.compliant_s / d.turbidity_ok_s), unit::ratio)) : json(nullptr);
  j["compliance_coverage"] =
      covered_s > 0 ? json(round_to(std::min(1.0, d.turbidity_ok_s / covered_s), unit::ratio)) : json(nullptr);
  if (missing_records) {
    // records never received attributed to this day (seq holes, see gateway/README.md)
    j["missing_records"] = *missing_records;
    j["complete"] = *missing_records == 0;
  }
  return j;
}

std::string presence_state(const engine& eng, std::size_t i) { return engine::to_string(eng.presence_of(i)); }

/// A terminal's latest values are stale when its latest live record is older than this many
/// report intervals (issue 10: the terminal page greys them; the list ranks them after alerts).
constexpr double stale_after_intervals = 2.0;

/// What the map and the list show for one terminal (severity.hpp).
struct terminal_class_info {
  std::optional<proto::timestamp> last_seen;  ///< arrival of its latest live record
  std::optional<double> age_s;                ///< now - last_seen, s
  bool stale{false};
  std::optional<severity> worst;              ///< most severe open alert
  state_class cls{state_class::normal};
};

terminal_class_info classify_terminal(const engine& eng, std::size_t i, proto::timestamp now) {
  const auto& rt = eng.runtime(i);
  terminal_class_info out;
  if (rt.snap.last_alive_ms != 0) {
    out.last_seen = proto::timestamp(std::chrono::milliseconds(rt.snap.last_alive_ms));
    out.age_s = std::max(0.0, std::chrono::duration<double>(now - *out.last_seen).count());
    out.stale = *out.age_s > stale_after_intervals * eng.report_interval_s(i);
  }
  for (const auto id : rt.open_alert) {
    if (id == 0) continue;
    const auto it = eng.open_alerts().find(id);
    if (it == eng.open_alerts().end()) continue;
    const auto sev = alert_severity(it->second.type);
    out.worst = out.worst ? std::max(*out.worst, sev) : sev;
  }
  const auto p = eng.presence_of(i);
  out.cls = classify({p == engine::presence::offline, out.worst, out.stale, p == engine::presence::unknown});
  return out;
}

/// The classification fields every terminal view carries (list, detail, GeoJSON properties).
void add_class_fields(json& j, const terminal_class_info& k) {
  j["last_seen"] = k.last_seen ? json(iso(*k.last_seen)) : json(nullptr);
  j["age_s"] = k.age_s ? json(proto::round_to(*k.age_s, proto::unit::seconds)) : json(nullptr);
  j["stale"] = k.stale;
  j["severity"] = k.worst ? json(to_string(*k.worst)) : json(nullptr);
  j["state_class"] = to_string(k.cls);
}

/// A clean-out forecast (forecast/cleanout.hpp) as /api/terminals/{id} shows it: dates as local
/// "YYYY-MM-DD", levels m (0.001), rises m/day (6 decimals: a micrometre a day), null where not set.
json cleanout_forecast_json(const cleanout_forecast& f) {
  const auto day = [](const std::optional<std::int32_t>& d) { return d ? json(format_day(*d)) : json(nullptr); };
  const auto num = [](const std::optional<double>& v, int places) {
    return v ? json(proto::round_to_decimals(*v, places)) : json(nullptr);
  };
  return {{"status", to_string(f.status)},
          {"computed_date", format_day(f.today)},
          {"cleanout_level_m", f.cleanout_level_m},
          {"level_m", num(f.level_m, proto::decimals(unit::m))},
          {"rise_m_per_day", num(f.rise_m_per_day, 6)},
          {"rise_low_m_per_day", num(f.rise_low_m_per_day, 6)},
          {"rise_high_m_per_day", num(f.rise_high_m_per_day, 6)},
          {"due_date", day(f.due_day)},
          {"due_early_date", day(f.due_early_day)},
          {"due_late_date", day(f.due_late_day)},
          {"days_used", f.days_used},
          {"first_date", day(f.first_day)},
          {"last_cleanout_date", day(f.last_cleanout_day)},
          {"history_days", cleanout_history_days},
          {"min_days", cleanout_min_days}};
}

json terminal_json(engine& eng, std::size_t i, bool detail, const std::map<std::string, daily_delta>& today) {
  const auto& t = eng.terminals().terminals()[i];
  const auto& rt = eng.runtime(i);
  json open = json::array();
  for (const auto id : rt.open_alert) {
    if (id == 0) continue;
    const auto it = eng.open_alerts().find(id);
    if (it != eng.open_alerts().end()) open.push_back(alert_json(it->second));
  }
  const bool station = t.kind == site_kind::pump_station;
  json j{{"id", t.id},
         {"kind", to_string(t.kind)},
         {"name", t.name},
         {"town", t.town},
         {"village", t.village},
         {"latitude", t.latitude_deg},
         {"longitude", t.longitude_deg},
         // a pump station treats nothing: no capacity, no discharge grade
         {"design_capacity_m3d", station ? json(nullptr) : json(t.design_capacity_m3d)},
         {"discharge_grade", station ? json(nullptr) : json(t.discharge_grade)},
         {"report_interval_s", eng.report_interval_s(i)},
         {"state", presence_state(eng, i)},
         {"last_alive_at", iso_or_null(rt.snap.last_alive_ms)},
         {"open_alerts", open}};
  add_class_fields(j, classify_terminal(eng, i, eng.clock().now()));
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
  j["today"] = daily_json(d, eng.report_interval_s(i), eng.cfg(), eng.clock().now(), eng.registered_at(i));
  if (detail) {
    const auto& th = t.limits;
    j["thresholds"] = {{"turbidity_limit_ntu", th.turbidity_limit_ntu},
                       {"turbidity_raise_ntu", th.turbidity_raise_ntu},
                       {"turbidity_clear_ntu", th.turbidity_clear_ntu},
                       {"turbidity_debounce_s", th.turbidity_debounce_s},
                       {"no_flow_raise_m3h", th.no_flow_raise_m3h},
                       {"no_flow_clear_m3h", th.no_flow_clear_m3h},
                       {"no_flow_debounce_s", th.no_flow_debounce_s},
                       {"no_flow_flowing_debounce_s", th.no_flow_flowing_debounce_s},
                       {"low_flow_window_s", th.low_flow_window_s},
                       {"low_flow_raise_ratio", th.low_flow_raise_ratio},
                       {"low_flow_low_band_ratio", th.low_flow_low_band_ratio},
                       {"low_flow_clear_ratio", th.low_flow_clear_ratio},
                       {"low_flow_debounce_s", th.low_flow_debounce_s},
                       {"low_flow_min_normal_m3h", th.low_flow_min_normal_m3h},
                       {"flow_min_days", th.flow_min_days},
                       {"flow_prior_load", th.flow_prior_load},
                       {"flow_high_raise_factor", th.flow_high_raise_factor},
                       {"flow_high_clear_factor", th.flow_high_clear_factor},
                       {"flow_high_debounce_s", th.flow_high_debounce_s},
                       {"cleanout_debounce_s", th.cleanout_debounce_s},
                       {"cleanout_level_m", th.cleanout_level_m},
                       {"cleanout_due_soon_days", th.cleanout_due_soon_days},
                       {"sensor_fault_debounce_s", th.sensor_fault_debounce_s},
                       {"queue_overflow_clear_s", th.queue_overflow_clear_s},
                       {"clock_skew_raise_s", th.clock_skew_raise_s},
                       {"clock_skew_clear_s", th.clock_skew_clear_s},
                       {"offline_after_intervals", th.offline_after_intervals},
                       {"clock_trust_behind_s", th.clock_trust_behind_s},
                       {"clock_trust_ahead_s", th.clock_trust_ahead_s}};
    j["thresholds"].update({{"energy_peak_kw", th.energy_peak_kw},
                            {"power_without_flow_raise_kw", th.power_without_flow_raise_kw},
                            {"power_without_flow_clear_kw", th.power_without_flow_clear_kw},
                            {"pump_running_a", th.pump_running_a},
                            {"pump_stopped_a", th.pump_stopped_a},
                            {"power_without_flow_flow_m3h", th.power_without_flow_flow_m3h},
                            {"power_without_flow_flow_clear_m3h", th.power_without_flow_flow_clear_m3h},
                            {"power_without_flow_debounce_s", th.power_without_flow_debounce_s},
                            {"flow_without_power_flow_m3h", th.flow_without_power_flow_m3h},
                            {"flow_without_power_flow_clear_m3h", th.flow_without_power_flow_clear_m3h},
                            {"flow_without_power_raise_kw", th.flow_without_power_raise_kw},
                            {"flow_without_power_clear_kw", th.flow_without_power_clear_kw},
                            {"flow_without_power_debounce_s", th.flow_without_power_debounce_s}});
    if (station) {
      j["thresholds"].update({{"wet_well_high_m", th.wet_well_high_m},
                              {"wet_well_low_m", th.wet_well_low_m},
                              {"wet_well_hysteresis_m", th.wet_well_hysteresis_m},
                              {"wet_well_debounce_s", th.wet_well_debounce_s},
                              {"pump_fault_debounce_s", th.pump_fault_debounce_s},
                              {"power_lost_debounce_s", th.power_lost_debounce_s},
                              {"pump_running_fraction", th.pump_running_fraction},
                              {"pump_no_level_drop_intervals", th.pump_no_level_drop_intervals},
                              {"pump_no_level_drop_m", th.pump_no_level_drop_m},
                              {"pump_runtime_low_ratio", th.pump_runtime_low_ratio},
                              {"pump_runtime_high_ratio", th.pump_runtime_high_ratio},
                              {"pump_runtime_clear_low_ratio", th.pump_runtime_clear_low_ratio},
                              {"pump_runtime_clear_high_ratio", th.pump_runtime_clear_high_ratio},
                              {"pump_runtime_min_days", th.pump_runtime_min_days},
                              {"pump_runtime_min_normal_h", th.pump_runtime_min_normal_h},
                              {"pump_runtime_debounce_s", th.pump_runtime_debounce_s}});
      j["pump_station"] = {{"pumps", t.station.pumps > 0 ? json(t.station.pumps) : json(nullptr)},
                           {"pump_rated_current_a", t.station.pump_rated_current_a ? json(*t.station.pump_rated_current_a)
                                                                                   : json(nullptr)}};
      // Run time as pump_runtime_abnormal sees it now (pump_runtime.hpp), on the last record's time.
      json runtime = nullptr;
      if (const auto* log = eng.pump_runtime_log(t.id); log != nullptr && rt.snap.rule_clock_ms > 0) {
        const auto v = log->view(rt.snap.rule_clock_ms, eng.cfg().zone, th.pump_runtime_min_days);
        runtime = {{"last_24h_run_h", round_to(v.last_24h_run_h, unit::hours)},
                   {"last_24h_covered_s", round_to(v.last_24h_covered_s, unit::seconds)},
                   {"history_days", v.history_days},
                   {"normal_h", v.normal_h ? json(round_to(*v.normal_h, unit::hours)) : json(nullptr)}};
      }
      j["pump_runtime"] = std::move(runtime);
    }
    if (!station) {
      // The clean-out forecast of today (forecast/cleanout.hpp) from the stored days before it.
      const auto day = operating_day(eng.clock().now(), eng.cfg().zone);
      const auto rows = eng.db().daily(t.id, day - cleanout_history_days, day - 1);
      j["cleanout_forecast"] = cleanout_forecast_json(forecast_cleanout(daily_sludge_levels(rows), day, th.cleanout_level_m));
    }
    // When the latest picture arrived (null: none yet), so a page asks for the JPEG only when it
    // exists and has changed (GET /api/terminals/{id}/image).
    const auto image_at = eng.db().image_arrival(t.id);
    j["image_arrived_at"] = image_at ? json(iso(*image_at)) : json(nullptr);
    j["dedup"] = {{"epoch", rt.snap.epoch},
                  {"max_seq", rt.snap.seen.max_seq()},
                  {"accepted", rt.snap.seen.accepted()},
                  {"ranges_in_memory", rt.snap.seen.ranges().size()}};
  }
  return j;
}

/// Today's daily rows of the terminals `indices` (registry indices), by id, after committing what
/// is pending: one keyed read per terminal (store::daily by terminal), so a page of the list or
/// one terminal costs the same with 38 terminals as with a million.
std::map<std::string, daily_delta> today_rows(engine& eng, const std::vector<std::size_t>& indices) {
  eng.flush();
  const auto day = operating_day(eng.clock().now(), eng.cfg().zone);
  std::map<std::string, daily_delta> out;
  for (const auto i : indices) {
    const auto& id = eng.terminals().terminals()[i].id;
    for (auto& r : eng.db().daily(id, day, day)) out[r.terminal_id] = r.totals;
  }
  return out;
}

std::optional<std::string> param(const query_map& q, std::string_view key) {
  const auto it = q.find(key);
  if (it == q.end()) return std::nullopt;
  return it->second;
}

proto::timestamp time_param(const query_map& q, std::string_view key, proto::timestamp fallback) {
  const auto v = param(q, key);
  if (!v) return fallback;
  const auto t = proto::parse_timestamp(*v);
  if (!t)
    throw api_error{400, "bad_parameter",
                    std::string(key) + ": must be an ISO 8601 UTC time like 2026-11-29T08:00:00Z, got '" + escaped(*v) + "'"};
  return *t;
}

std::int32_t day_param(const query_map& q, std::string_view key, std::int32_t fallback, const county_zone& zone) {
  const auto v = param(q, key);
  if (!v) return fallback;
  if (const auto d = parse_day(*v)) return *d;
  if (const auto t = proto::parse_timestamp(*v)) return operating_day(*t, zone);
  throw api_error{400, "bad_parameter",
                  std::string(key) + ": must be a date YYYY-MM-DD or an ISO 8601 UTC time, got '" + escaped(*v) + "'"};
}

/// A whole number in [lo, hi]; the message says which rule the value broke.
std::uint64_t count_param(const query_map& q, std::string_view key, std::uint64_t lo, std::uint64_t hi,
                          std::uint64_t fallback) {
  const auto v = param(q, key);
  if (!v) return fallback;
  const std::string range = " in " + std::to_string(lo) + ".." + std::to_string(hi);
  const std::string got = ", got '" + escaped(*v) + "'";
  if (!v->empty() && (*v)[0] == '-')
    throw api_error{400, "bad_parameter", std::string(key) + ": must not be negative: a whole number" + range + got};
  std::uint64_t n = 0;
  const auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec == std::errc::result_out_of_range)
    throw api_error{400, "bad_parameter", std::string(key) + ": out of range: must be a whole number" + range + got};
  if (v->empty() || r.ec != std::errc() || r.ptr != v->data() + v->size())
    throw api_error{400, "bad_parameter", std::string(key) + ": not a number: must be a whole number" + range + got};
  if (n < lo || n > hi)
    throw api_error{400, "bad_parameter", std::string(key) + ": out of range: must be a whole number" + range + got};
  return n;
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

/// The most alerts /api/alerts returns (also the ceiling of its `limit`).
constexpr std::uint64_t max_alerts = 1000;

}  // namespace

/// What a handler gets: the engine, the link figures, the request, its query and path captures.
struct api::context {
  /// Engine routes only: a read route must not touch it (route_info::read_route). Null in a
  /// reads-only api (a standby: api(const config&, ...)), which never runs an engine route.
  engine* engine_ptr;
  [[nodiscard]] engine& eng() const { return *engine_ptr; }
  store& db;    ///< the store to read from (the engine's, or a read connection on another thread)
  const county_view& view;  ///< read routes: registry, intervals, configuration, clock
  const link_status& link;
  const api_counters& counters;
  const http_request& req;
  const query_map& q;
  const auth::principal& who;  ///< the caller (route_access already checked); its towns limit what it sees
  auth::service* ids;          ///< users, tokens, sessions, audit (null: none configured)
  om::inspections* insp;       ///< inspections and assessment (null: none configured)
  std::vector<std::string> args;  ///< path segments captured by "{...}" in the route's pattern
  alarms::discipline* alarms;  ///< alarm discipline (null: none configured)
  om_rooms om{};                  ///< issue 12 rooms (null members: not configured)
  om::work_orders* orders{nullptr};     ///< work orders, check-ins, photos (null: none configured)
  const om::site_key* site_key{nullptr};
  incidents::correlator* incidents{nullptr};  ///< incidents (null: none configured, or a standby)
  const network::holder* pipes{nullptr};      ///< the pipe network (null: none configured)
  const incidents::incident_reader* incident_reads{nullptr};  ///< incidents' reads (null: none configured)
};

namespace {

using context = api::context;

/// The index of terminal `id` in `reg`: 404 when unknown, 403 when outside the caller's towns.
std::size_t visible_terminal(const context& c, const registry& reg, const std::string& id) {
  const auto idx = terminal_index(reg, id);
  if (!c.who.sees(reg.terminals()[idx].town, reg.terminals()[idx].id))
    throw api_error{403, "forbidden", "terminal '" + escaped(id) + "' is outside your towns"};
  return idx;
}

/// An alert's `notification_held_until` (incidents/correlator.hpp held_until): when its raise, held
/// for a weather event, is notified if no event takes it first; null when not held. Absent without
/// an incident room (a standby's read-only API).
void add_held_until(const context& c, std::uint64_t alert_id, json& j) {
  if (c.incidents == nullptr) return;
  const auto until = c.incidents->held_until(alert_id);
  j["notification_held_until"] = until ? json(iso(*until)) : json(nullptr);
}

/// 403 unless a town-limited caller may see terminal `id` (a terminal no longer in the registry
/// belongs to no town: only whole-county callers see what is left of it).
void require_terminal_scope(const context& c, const registry& reg, const std::string& id) {
  if (c.who.whole_county()) return;
  const auto idx = reg.find(id);
  if (!idx || !c.who.sees(reg.terminals()[*idx].town, reg.terminals()[*idx].id))
    throw api_error{403, "forbidden", "terminal '" + escaped(id) + "' is outside your towns"};
}

/// 403 for a town-limited caller: the route shows county-wide facts that belong to no town.
void require_whole_county(const context& c, const char* what) {
  if (!c.who.whole_county())
    throw api_error{403, "forbidden", std::string(what) + " belong to no town: only whole-county users see them"};
}

/// 403 when a `town` query parameter names a town outside the caller's scope.
void require_town_param_scope(const context& c, const std::optional<std::string>& town) {
  if (town && !c.who.sees_town(*town)) throw api_error{403, "forbidden", "town '" + escaped(*town) + "' is outside your towns"};
}

/// `v` limited to the terminals of the caller's towns (the same when whole county).
county_view scoped_view(const county_view& v, const auth::principal& who) {
  county_view out = v;
  if (who.whole_county()) return out;
  std::vector<terminal_info> keep;
  out.report_interval_s.clear();
  out.registered_at.clear();
  for (std::size_t i = 0; i < v.reg->size(); ++i) {
    if (!who.sees(v.reg->terminals()[i].town, v.reg->terminals()[i].id)) continue;
    keep.push_back(v.reg->terminals()[i]);
    out.report_interval_s.push_back(v.report_interval_s.at(i));
    out.registered_at.push_back(v.registered_at.at(i));
  }
  out.reg = std::make_shared<const registry>(std::move(keep));
  return out;
}

http_response healthz(const context& c) {
  // Healthy = receiving and storing: a gateway cut off from the broker ingests nothing, so a
  // load balancer or systemd watchdog must see it as unhealthy too.
  const bool mqtt = c.link.connected ? c.link.connected() : false;
  const bool store_ok = c.eng().metrics().last_commit_ok;
  const char* status = !store_ok ? "store_failing" : !mqtt ? "mqtt_disconnected" : "ok";
  auto body = json{{"status", status},
                   {"mqtt_connected", mqtt},
                   {"store_ok", store_ok},
                   {"started_at", iso(c.eng().started_at())},
                   {"now", iso(c.eng().clock().now())}};
  if (c.link.lease_held) body["role"] = c.link.lease_held() ? "leader" : "lease_lost";
  return json_response(store_ok && mqtt ? 200 : 503, body);
}

http_response api_metrics(const context& c) {
  auto& eng = c.eng();
  const auto& link = c.link;
  const auto& m = eng.metrics();
  std::string out;
  add_metric(out, "sewage_gateway_messages_total", "counter", "MQTT messages received.");
  add_sample(out, "sewage_gateway_messages_total", static_cast<double>(m.messages_in));
  add_metric(out, "sewage_gateway_records_accepted_total", "counter", "Telemetry records accepted (after de-duplication).");
  add_sample(out, "sewage_gateway_records_accepted_total", static_cast<double>(m.records_accepted));
  add_metric(out, "sewage_gateway_duplicates_total", "counter", "Redelivered or replayed records dropped by de-duplication.");
  add_sample(out, "sewage_gateway_duplicates_total", static_cast<double>(m.duplicates));
  add_metric(out, "sewage_gateway_receipts_total", "counter",
             "Delivery receipts published after commits (sewage/v1/{terminal}/receipt).");
  add_sample(out, "sewage_gateway_receipts_total", static_cast<double>(m.receipts_published));
  add_metric(out, "sewage_gateway_receipts_skipped_total", "counter",
             "Commits whose receipts were not sent because the broker link was down.");
  add_sample(out, "sewage_gateway_receipts_skipped_total", static_cast<double>(m.receipts_skipped));
  add_metric(out, "sewage_gateway_late_records_total", "counter", "Accepted records older than the rules' event clock.");
  add_sample(out, "sewage_gateway_late_records_total", static_cast<double>(m.late_records));
  add_metric(out, "sewage_gateway_missing_records", "gauge",
             "Telemetry records never received: seq holes below each terminal epoch's highest seq.");
  add_sample(out, "sewage_gateway_missing_records", static_cast<double>(m.missing_records));
  add_metric(out, "sewage_gateway_untrusted_timestamps_total", "counter",
             "Records whose ts was outside the trust window around arrival (kept at their arrival time).");
  add_sample(out, "sewage_gateway_untrusted_timestamps_total", static_cast<double>(m.untrusted_stamps));
  add_metric(out, "sewage_gateway_rejects_total", "counter", "Rejected messages by reason code (sewage::proto problem codes).");
  for (std::size_t code = 0; code <= static_cast<std::size_t>(proto::problem_code::bad_image); ++code)
    add_sample(out,
               "sewage_gateway_rejects_total{reason=\"" +
                   std::string(proto::to_string(static_cast<proto::problem_code>(code))) + "\"}",
               static_cast<double>(m.rejects_by_code.at(code)));
  add_metric(out, "sewage_gateway_unknown_terminal_messages_total", "counter", "Messages from terminals not in the registry.");
  add_sample(out, "sewage_gateway_unknown_terminal_messages_total", static_cast<double>(m.unknown_terminal_messages));
  add_metric(out, "sewage_gateway_unknown_terminals", "gauge", "Distinct unregistered terminal ids seen (bounded list).");
  add_sample(out, "sewage_gateway_unknown_terminals", static_cast<double>(eng.unknown_terminals().size()));
  add_metric(out, "sewage_gateway_volume_fallback_total", "counter", "Records whose volume came from rate integration.");
  add_sample(out, "sewage_gateway_volume_fallback_total", static_cast<double>(m.volume_fallbacks));
  add_metric(out, "sewage_gateway_totalizer_glitches_total", "counter",
             "Totalizer readings that were not real volume, by kind (never counted as flow).");
  for (const auto g : all_totalizer_glitches)
    add_sample(out, "sewage_gateway_totalizer_glitches_total{kind=\"" + std::string(to_string(g)) + "\"}",
               static_cast<double>(m.totalizer_glitches.at(static_cast<std::size_t>(g))));
  add_metric(out, "sewage_gateway_open_alerts", "gauge", "Open alert episodes by type.");
  std::array<std::uint64_t, proto::all_alert_types.size()> open{};
  for (const auto& [id, a] : eng.open_alerts()) ++open.at(static_cast<std::size_t>(a.type));
  for (const auto type : proto::all_alert_types)
    add_sample(out, "sewage_gateway_open_alerts{type=\"" + std::string(proto::to_string(type)) + "\"}",
               static_cast<double>(open.at(static_cast<std::size_t>(type))));
  add_metric(out, "sewage_gateway_alerts_raised_total", "counter", "Alert episodes raised.");
  add_sample(out, "sewage_gateway_alerts_raised_total", static_cast<double>(m.alerts_raised));
  add_metric(out, "sewage_gateway_alerts_cleared_total", "counter", "Alert episodes cleared.");
  add_sample(out, "sewage_gateway_alerts_cleared_total", static_cast<double>(m.alerts_cleared));
  add_metric(out, "sewage_gateway_commands_total", "counter",
             "Commands to terminals by the state they entered (pending = sent, then ok, error or timed_out).");
  for (const auto st : all_command_states)
    add_sample(out, std::string("sewage_gateway_commands_total{state=\"") + to_string(st) + "\"}",
               static_cast<double>(m.commands.at(static_cast<std::size_t>(st))));
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
  add_metric(out, "sewage_gateway_pump_stations", "gauge", "Registered pump stations by presence state.");
  // Counted by presence (engine::presence: online, offline, unknown), terminals and stations apart.
  std::array<std::size_t, 3> states{}, station_states{};
  for (std::size_t i = 0; i < eng.terminals().size(); ++i)
    ++(eng.terminals().terminals()[i].is_terminal() ? states : station_states).at(static_cast<std::size_t>(eng.presence_of(i)));
  for (const auto p : {engine::presence::offline, engine::presence::online, engine::presence::unknown}) {
    const auto k = static_cast<std::size_t>(p);
    add_sample(out, std::string("sewage_gateway_terminals{state=\"") + engine::to_string(p) + "\"}", static_cast<double>(states.at(k)));
  }
  for (const auto p : {engine::presence::offline, engine::presence::online, engine::presence::unknown}) {
    const auto k = static_cast<std::size_t>(p);
    add_sample(out, std::string("sewage_gateway_pump_stations{state=\"") + engine::to_string(p) + "\"}",
               static_cast<double>(station_states.at(k)));
  }
  add_metric(out, "sewage_gateway_mqtt_connected", "gauge", "1 when connected to the broker.");
  add_sample(out, "sewage_gateway_mqtt_connected", link.connected && link.connected() ? 1 : 0);
  add_metric(out, "sewage_gateway_publish_failures_total", "counter",
             "Publications (alert states, receipts, commands, probes, birth) the MQTT client refused or failed.");
  add_sample(out, "sewage_gateway_publish_failures_total", link.publish_failures ? static_cast<double>(link.publish_failures()) : 0);
  add_metric(out, "sewage_gateway_journal_failures_total", "counter",
             "Received messages the received-message journal could not store (disk full); kept in memory only.");
  add_sample(out, "sewage_gateway_journal_failures_total", link.journal_failures ? static_cast<double>(link.journal_failures()) : 0);
  add_metric(out, "sewage_gateway_mqtt_connect_failures_total", "counter", "Failed broker connect attempts (every retry counts).");
  add_sample(out, "sewage_gateway_mqtt_connect_failures_total", link.connect_failures ? static_cast<double>(link.connect_failures()) : 0);
  add_metric(out, "sewage_gateway_mqtt_probes_sent_total", "counter",
             "Loopback probes published to prove the broker path (offline is judged only as far as they come back).");
  add_sample(out, "sewage_gateway_mqtt_probes_sent_total", link.probes_sent ? static_cast<double>(link.probes_sent()) : 0);
  add_metric(out, "sewage_gateway_mqtt_probes_echoed_total", "counter",
             "Loopback probes that came back through the broker; far below sent: a stalled broker or an ACL without the probe topic.");
  add_sample(out, "sewage_gateway_mqtt_probes_echoed_total", link.probes_echoed ? static_cast<double>(link.probes_echoed()) : 0);
  add_metric(out, "sewage_gateway_mqtt_session_resets_total", "counter",
             "Reconnects with a clean session because a publish's write failed as the connection broke (Paho C frees "
             "that message's session copy); the agents send again what has no receipt.");
  add_sample(out, "sewage_gateway_mqtt_session_resets_total", link.session_resets ? static_cast<double>(link.session_resets()) : 0);
  add_metric(out, "sewage_gateway_receipts_waiting", "gauge",
             "Delivery receipts waiting in the gateway for the MQTT client (at most 256 unacknowledged there at once).");
  add_sample(out, "sewage_gateway_receipts_waiting", link.receipts_waiting ? static_cast<double>(link.receipts_waiting()) : 0);
  add_metric(out, "sewage_gateway_receipts_dropped_total", "counter",
             "Delivery receipts dropped while waiting (connection lost, or over 100,000 waiting); the agents send again "
             "what has no receipt after the gateway's next birth.");
  add_sample(out, "sewage_gateway_receipts_dropped_total", link.receipts_dropped ? static_cast<double>(link.receipts_dropped()) : 0);
  add_metric(out, "sewage_gateway_handover_waiting", "gauge",
             "Received MQTT messages waiting for the engine (a backlog the engine has not caught up with).");
  add_sample(out, "sewage_gateway_handover_waiting", link.handover_waiting ? static_cast<double>(link.handover_waiting()) : 0);
  add_metric(out, "sewage_gateway_handover_peak", "gauge", "The most received MQTT messages ever waiting for the engine.");
  add_sample(out, "sewage_gateway_handover_peak", link.handover_peak ? static_cast<double>(link.handover_peak()) : 0);
  if (link.lease_held) {  // a standby pair (standby/leader_lease.hpp): the standby answers 0 itself
    add_metric(out, "sewage_gateway_leader", "gauge",
               "1 while this gateway holds the lease and leads, 0 while it waits as the standby.");
    add_sample(out, "sewage_gateway_leader", link.lease_held() ? 1 : 0);
  }
  {
    const notify_counts nc = link.notify ? link.notify() : notify_counts{};
    add_metric(out, "sewage_gateway_notify_sent_total", "counter", "Notifications delivered, by target.");
    for (const auto& t : nc.targets) add_sample(out, "sewage_gateway_notify_sent_total{target=\"" + t.target + "\"}", static_cast<double>(t.sent));
    add_metric(out, "sewage_gateway_notify_failures_total", "counter", "Failed notification attempts (each retry counts), by target.");
    for (const auto& t : nc.targets) add_sample(out, "sewage_gateway_notify_failures_total{target=\"" + t.target + "\"}", static_cast<double>(t.failures));
    add_metric(out, "sewage_gateway_notify_tls_failures_total", "counter", "Failed attempts whose TLS certificate, host name check or handshake failed, by target.");
    for (const auto& t : nc.targets) add_sample(out, "sewage_gateway_notify_tls_failures_total{target=\"" + t.target + "\"}", static_cast<double>(t.tls_failures));
    add_metric(out, "sewage_gateway_notify_dropped_total", "counter", "Notifications dropped, by reason.");
    for (const auto& [reason, n] : {std::pair{"queue_full", nc.dropped_queue_full}, std::pair{"gave_up", nc.dropped_gave_up},
                                    std::pair{"permanent", nc.dropped_permanent}, std::pair{"unknown_target", nc.dropped_unknown_target}})
      add_sample(out, std::string("sewage_gateway_notify_dropped_total{reason=\"") + reason + "\"}", static_cast<double>(n));
    add_metric(out, "sewage_gateway_notify_queue", "gauge", "Notifications waiting in the durable queue.");
    add_sample(out, "sewage_gateway_notify_queue", static_cast<double>(nc.queue_depth));
    add_metric(out, "sewage_gateway_notify_escalations_total", "counter",
               "Escalations (issue 12): rows queued, and escalations no target of their level and town takes.");
    add_sample(out, "sewage_gateway_notify_escalations_total{outcome=\"queued\"}", static_cast<double>(nc.escalations_queued));
    add_sample(out, "sewage_gateway_notify_escalations_total{outcome=\"unrouted\"}", static_cast<double>(nc.escalations_unrouted));
  }
  if (c.alarms != nullptr) {
    const auto a = c.alarms->counters();
    add_metric(out, "sewage_gateway_alarm_discipline_total", "counter",
               "Alarm discipline events: suppressed by a maintenance window, released when it ended, shelved, back from "
               "a shelf, escalated (town, county), grouped as a repeat, failures of its store.");
    for (const auto& [what, n] : {std::pair{"suppressed", a.suppressed}, std::pair{"released", a.released},
                                  std::pair{"shelved", a.shelved}, std::pair{"unshelved", a.unshelved},
                                  std::pair{"escalated_town", a.escalated_town}, std::pair{"escalated_county", a.escalated_county},
                                  std::pair{"grouped", a.grouped}, std::pair{"failures", a.failures}})
      add_sample(out, std::string("sewage_gateway_alarm_discipline_total{event=\"") + what + "\"}", static_cast<double>(n));
  }
  add_metric(out, "sewage_gateway_http_requests_total", "counter", "HTTP requests handled by the API.");
  add_sample(out, "sewage_gateway_http_requests_total", static_cast<double>(c.counters.requests));
  add_metric(out, "sewage_gateway_http_rejected_total", "counter", "HTTP requests refused with a 4xx, by reason.");
  for (const auto& [reason, n] : c.counters.rejected)
    add_sample(out, "sewage_gateway_http_rejected_total{reason=\"" + reason + "\"}", static_cast<double>(n));
  add_metric(out, "sewage_gateway_http_internal_errors_total", "counter", "HTTP requests answered 500 (a bug: see the log).");
  add_sample(out, "sewage_gateway_http_internal_errors_total", static_cast<double>(c.counters.internal_errors));
  add_metric(out, "sewage_gateway_http_read_busy_total", "counter",
             "Read requests refused 503 because the reader queue was full (http.reader_queue_max).");
  add_sample(out, "sewage_gateway_http_read_busy_total", static_cast<double>(c.counters.read_busy));
  add_metric(out, "sewage_gateway_http_read_timeouts_total", "counter",
             "Read requests answered 503 because they used up http.read_cpu_limit_ms of CPU time.");
  add_sample(out, "sewage_gateway_http_read_timeouts_total", static_cast<double>(c.counters.read_timeouts));
  add_metric(out, "sewage_gateway_http_read_queue", "gauge", "Read requests waiting for a reader thread.");
  add_sample(out, "sewage_gateway_http_read_queue", link.read_queue_depth ? static_cast<double>(link.read_queue_depth()) : 0);
  add_metric(out, "sewage_gateway_http_tls_refused_total", "counter",
             "Connections refused on the HTTPS listener: plain HTTP sent to it or a failed TLS handshake.");
  add_sample(out, "sewage_gateway_http_tls_refused_total", link.tls_refused ? static_cast<double>(link.tls_refused()) : 0);
  add_metric(out, "sewage_gateway_network_reload_failures_total", "counter",
             "Pipe network files refused on SIGHUP (the previous network was kept; problems in the log).");
  add_sample(out, "sewage_gateway_network_reload_failures_total",
             link.network_reload_failures ? static_cast<double>(link.network_reload_failures()) : 0);
  // Incidents (incidents/correlator.hpp); zeros when the gateway has no correlator.
  const auto inc = c.incidents != nullptr ? c.incidents->counters() : incidents::counts{};
  using metric_row = std::tuple<const char*, const char*, const char*, std::uint64_t>;
  for (const auto& [name, type, help, value] : std::initializer_list<metric_row>{
           {"sewage_gateway_incidents_open", "gauge", "Incidents open or acknowledged (not resolved).", inc.open},
        {"sewage_gateway_incidents_total", "counter", "Incidents opened since the gateway started.", inc.opened},
        {"sewage_gateway_incident_consequences_total", "counter",
         "Alerts that joined an incident as a consequence since the gateway started (not notified on their own).",
         inc.consequences},
        {"sewage_gateway_weather_raises_held_total", "counter",
         "Weather-driven raises held for a weather event since the gateway started (incidents weather_hold_s).",
         inc.held},
        {"sewage_gateway_weather_raises_released_total", "counter",
         "Held weather-driven raises notified on their own when their hold ran out (no event followed).", inc.released},
        {"sewage_gateway_incident_failures_total", "counter",
         "Incident database writes that failed (the alert was passed on unchanged; logged).", inc.failures}}) {
    add_metric(out, name, type, help);
    add_sample(out, name, static_cast<double>(value));
  }
  http_response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(out);
  return r;
}

/// The web application's settings (static_files.hpp), plus "public_read" and "commands_enabled"
/// (true when the caller's role may acknowledge and send commands).
http_response ui_config(const context& c) {
  auto r = webapp::ui_config_response(c.eng().cfg());
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    j["public_read"] = c.eng().cfg().http_public_read;
    j["commands_enabled"] = c.who.kind != auth::actor_kind::anonymous && c.who.at_least(auth::role::operator_);
    r.body = safe_dump(j);
  }
  return r;
}

http_response summary(const context& c) {
  auto& eng = c.eng();
  const auto& cfg = eng.cfg();
  const auto now = eng.clock().now();
  const auto day = operating_day(now, cfg.zone);
  // A town-limited caller: every figure over its towns' terminals only.
  const auto& reg = eng.terminals();
  std::size_t visible = 0;
  std::size_t online = 0, offline = 0, unknown = 0;
  // Terminals' figures count terminals only; pump stations are listed apart (issue 13).
  std::size_t stations = 0, st_online = 0, st_offline = 0, st_unknown = 0;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    if (!c.who.sees(reg.terminals()[i].town, reg.terminals()[i].id)) continue;
    const auto st = eng.presence_of(i);
    if (!reg.terminals()[i].is_terminal()) {
      ++stations;
      (st == engine::presence::online ? st_online : st == engine::presence::offline ? st_offline : st_unknown)++;
      continue;
    }
    ++visible;
    (st == engine::presence::online ? online : st == engine::presence::offline ? offline : unknown)++;
  }
  // Today's effluent figures: the committed daily totals the engine keeps per terminal (the
  // store's daily rows after this flush), terminals only, over the caller's towns.
  double vol = 0, est = 0, compliant_s = 0, ok_s = 0;
  eng.flush();
  for (std::size_t i = 0; i < reg.size(); ++i) {
    const auto& t = reg.terminals()[i];
    if (!t.is_terminal() || !c.who.sees(t.town, t.id)) continue;
    const auto* d = eng.committed_today(i, day);
    if (d == nullptr) continue;
    vol += d->volume_m3;
    est += d->volume_estimated_m3;
    compliant_s += d->compliant_s;
    ok_s += d->turbidity_ok_s;
  }
  // Coverage: good turbidity time over the terminal-time of the day so far (every registered terminal).
  const auto day_start = operating_day_start(day, cfg.zone);
  const double elapsed_s = std::chrono::duration<double>(std::max(now, day_start) - day_start).count();
  const double terminal_s = elapsed_s * static_cast<double>(visible);
  json by_type = json::object();
  for (const auto type : proto::all_alert_types) by_type[std::string(proto::to_string(type))] = 0;
  std::size_t open_total = 0, needing_ack = 0, quiet = 0;
  for (const auto& [id, a] : eng.open_alerts()) {
    if (!c.who.whole_county()) {
      const auto idx = reg.find(a.terminal_id);
      if (!idx || !c.who.sees(reg.terminals()[*idx].town, reg.terminals()[*idx].id)) continue;
    }
    ++open_total;
    // Alarm discipline: suppressed (maintenance window) and shelved alerts need no acknowledgement.
    const bool is_quiet = c.alarms != nullptr && c.alarms->quiet(id);
    if (is_quiet) ++quiet;
    else if (a.state == proto::alert_state::raised) ++needing_ack;
    by_type[std::string(proto::to_string(a.type))] = by_type[std::string(proto::to_string(a.type))].get<int>() + 1;
  }
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(day))};
  const auto month_start_day = static_cast<std::int32_t>(
      std::chrono::sys_days(ymd.year() / ymd.month() / std::chrono::day(1)).time_since_epoch().count());
  const auto month_start = operating_day_start(month_start_day, cfg.zone);
  eng.flush();
  auto faults = eng.db().faults_since(month_start);
  if (!c.who.whole_county()) {
    // The month's faults of the caller's towns: per-terminal counts summed (store::fault_counts_between).
    faults = {};
    std::int64_t resolve_ms = 0;
    for (const auto& f : eng.db().fault_counts_between(month_start, now + std::chrono::milliseconds(1))) {
      const auto idx = reg.find(f.terminal_id);
      if (!idx || !c.who.sees(reg.terminals()[*idx].town, reg.terminals()[*idx].id)) continue;
      faults.raised += f.found;
      faults.resolved += f.resolved;
      resolve_ms += f.resolve_ms_sum;
    }
    if (faults.resolved > 0) faults.mean_time_to_resolve_s = static_cast<double>(resolve_ms) / 1000.0 / static_cast<double>(faults.resolved);
  }
  return json_response(
      200, json{{"generated_at", iso(now)},
                {"operating_day", format_day(day)},
                {"time_zone", cfg.time_zone},
                {"terminals", visible},
                {"online", online},
                {"offline", offline},
                {"unknown", unknown},
                {"pump_stations", {{"count", stations}, {"online", st_online}, {"offline", st_offline}, {"unknown", st_unknown}}},
                {"volume_today_m3", round_to(vol + est, unit::m3)},
                {"volume_today_estimated_m3", round_to(est, unit::m3)},
                {"compliance_rate_today",
                 ok_s > 0 ? json(round_to(std::min(1.0, compliant_s / ok_s), unit::ratio)) : json(nullptr)},
                {"compliance_coverage_today",
                 terminal_s > 0 ? json(round_to(std::min(1.0, ok_s / terminal_s), unit::ratio)) : json(nullptr)},
                {"open_alerts", by_type},
                {"open_alerts_total", open_total},
                {"open_alerts_needing_ack", needing_ack},
                {"open_alerts_quiet", quiet},
                {"month", {{"from", iso(month_start)},
                           {"faults_found", faults.raised},
                           {"faults_resolved", faults.resolved},
                           {"mean_time_to_resolve_s", faults.resolved > 0 ? json(round_to(faults.mean_time_to_resolve_s, unit::seconds))
                                                                          : json(nullptr)}}},
                // unregistered ids belong to no town: whole-county callers only
                {"unknown_terminals", c.who.whole_county() ? json(eng.unknown_terminals().size()) : json(nullptr)},
                {"mqtt_connected", c.link.connected ? c.link.connected() : false}});
}

/// ASCII letters folded to lower case; every other byte (UTF-8 sequences included) kept, so a
/// Chinese name matches its own characters exactly.
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

/// The most terminals one /api/terminals page holds (also the ceiling of its `limit`).
constexpr std::uint64_t max_terminals_page = 10000;

/// Position of a terminal in one /api/terminals order: (rank, text, id), compared in that order.
struct terminal_sort_key {
  int rank{0};       ///< attention_rank for sort=attention, else 0
  std::string text;  ///< name for sort=name, town for sort=town, else empty
  std::string id;
  friend auto operator<=>(const terminal_sort_key&, const terminal_sort_key&) = default;
};

/// The cursor of /api/terminals is the sort key of the last terminal of a page, as
/// "<sort>:<rank>:<id>:<text>" (ids hold no ':'; the text is the rest). The next page starts after
/// it in the current order; a terminal whose state changed between the pages may move past it.
/// The same position as views (into the registry, or into a parsed cursor that outlives them).
struct terminal_sort_view {
  int rank{0};
  std::string_view text;
  std::string_view id;
  friend auto operator<=>(const terminal_sort_view&, const terminal_sort_view&) = default;
};

terminal_sort_view view_of(const terminal_sort_key& k) { return {k.rank, k.text, k.id}; }

std::string terminal_cursor(std::string_view sort, const terminal_sort_view& k) {
  return std::string(sort) + ":" + std::to_string(k.rank) + ":" + std::string(k.id) + ":" + std::string(k.text);
}

terminal_sort_key parse_terminal_cursor(const std::string& v, std::string_view sort) {
  const auto bad = [&](const std::string& why) {
    return api_error{400, "bad_parameter",
                     "cursor: " + why + " (pass the 'next' value of the previous page unchanged), got '" + escaped(v) + "'"};
  };
  const auto a = v.find(':');
  const auto b = a == std::string::npos ? a : v.find(':', a + 1);
  const auto c = b == std::string::npos ? b : v.find(':', b + 1);
  if (c == std::string::npos) throw bad("not a cursor of /api/terminals");
  if (std::string_view(v).substr(0, a) != sort)
    throw bad("made for sort=" + escaped(v.substr(0, a)) + ", this request sorts by " + std::string(sort));
  terminal_sort_key k;
  const auto r = std::from_chars(v.data() + a + 1, v.data() + b, k.rank);
  if (r.ec != std::errc() || r.ptr != v.data() + b || k.rank < 0) throw bad("rank is not a whole number");
  k.id = v.substr(b + 1, c - b - 1);
  if (!proto::is_valid_terminal_id(k.id)) throw bad("not a valid terminal id in it");
  k.text = v.substr(c + 1);
  return k;
}

http_response terminals(const context& c) {
  auto& eng = c.eng();
  const auto& reg = eng.terminals();
  const auto now = eng.clock().now();
  const auto town = param(c.q, "town");
  std::optional<state_class> want_class;
  if (const auto st = param(c.q, "state")) {
    want_class = parse_state_class(*st);
    if (!want_class)
      throw api_error{400, "bad_parameter",
                      "state: must be one of offline, alert_critical, alert_warning, alert_info, stale, unknown, normal, "
                      "got '" + escaped(*st) + "'"};
  }
  std::optional<proto::alert_type> want_type;
  if (const auto at = param(c.q, "alert_type")) {
    want_type = proto::parse_alert_type(*at);
    if (!want_type)
      throw api_error{400, "bad_parameter", "alert_type: not an alert type (" + alert_type_names() + "), got '" +
                                                escaped(*at) + "'"};
  }
  std::optional<site_kind> want_kind;
  if (const auto k = param(c.q, "kind")) {
    want_kind = parse_site_kind(*k);
    if (!want_kind)
      throw api_error{400, "bad_parameter", "kind: must be terminal or pump_station, got '" + escaped(*k) + "'"};
  }
  const auto text = param(c.q, "q");
  const std::string needle = text ? ascii_lower(*text) : std::string();
  const auto sort = param(c.q, "sort").value_or("attention");
  if (sort != "attention" && sort != "id" && sort != "name" && sort != "town")
    throw api_error{400, "bad_parameter", "sort: must be attention, id, name or town, got '" + escaped(sort) + "'"};
  const auto limit = count_param(c.q, "limit", 1, max_terminals_page, max_terminals_page);
  std::optional<terminal_sort_key> after;
  if (const auto cur = param(c.q, "cursor")) after = parse_terminal_cursor(*cur, sort);

  // One pass over the registry: every match counts; those after the cursor are kept, as views
  // into the registry (no copies), and only the page's first `limit` are put in order
  // (partial_sort): O(terminals + kept x log(limit)), not a sort of the whole county per page.
  struct row {
    std::size_t index;
    terminal_sort_view key;
  };
  std::vector<row> rows;
  std::size_t count = 0;
  const auto after_view = after ? std::optional<terminal_sort_view>(view_of(*after)) : std::nullopt;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    const auto& t = reg.terminals()[i];
    if (town && t.town != *town) continue;
    if (want_kind && t.kind != *want_kind) continue;
    if (!c.who.sees(t.town, t.id)) continue;
    if (want_type && eng.runtime(i).open_alert.at(static_cast<std::size_t>(*want_type)) == 0) continue;
    if (text && ascii_lower(t.id).find(needle) == std::string::npos && ascii_lower(t.name).find(needle) == std::string::npos)
      continue;
    const auto k = classify_terminal(eng, i, now);
    if (want_class && k.cls != *want_class) continue;
    ++count;
    const terminal_sort_view key{sort == "attention" ? attention_rank(k.cls) : 0,
                                 sort == "name" ? std::string_view(t.name) : sort == "town" ? std::string_view(t.town)
                                                                                            : std::string_view(),
                                 t.id};
    if (after_view && !(*after_view < key)) continue;
    rows.push_back({i, key});
  }
  const auto available = rows.size();
  const auto n = std::min<std::size_t>(available, static_cast<std::size_t>(limit));
  const auto by_key = [](const row& a, const row& b) { return a.key < b.key; };
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n), rows.end(), by_key);
  std::vector<std::size_t> page;
  page.reserve(n);
  for (std::size_t k = 0; k < n; ++k) page.push_back(rows[k].index);
  const auto today = today_rows(eng, page);
  json arr = json::array();
  for (const auto i : page) arr.push_back(terminal_json(eng, i, false, today));
  json next = n < available ? json(terminal_cursor(sort, rows[n - 1].key)) : json(nullptr);
  return json_response(200, json{{"now", iso(now)}, {"count", count}, {"next", next}, {"terminals", arr}});
}

http_response terminals_geojson(const context& c) {
  auto& eng = c.eng();
  json features = json::array();
  for (std::size_t i = 0; i < eng.terminals().size(); ++i) {
    const auto& t = eng.terminals().terminals()[i];
    if (!c.who.sees(t.town, t.id)) continue;
    json types = json::array();
    for (const auto id : eng.runtime(i).open_alert) {
      if (id == 0) continue;
      const auto it = eng.open_alerts().find(id);
      if (it != eng.open_alerts().end()) types.push_back(proto::to_string(it->second.type));
    }
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "Point"}, {"coordinates", {t.longitude_deg, t.latitude_deg}}}},
                        {"properties", {{"id", t.id},
                                        {"kind", to_string(t.kind)},
                                        {"name", t.name},
                                        {"town", t.town},
                                        {"village", t.village},
                                        {"design_capacity_m3d", t.design_capacity_m3d},
                                        {"state", presence_state(eng, i)},
                                        {"open_alerts", types}}}});
    const auto k = classify_terminal(eng, i, eng.clock().now());
    auto& props = features.back()["properties"];
    props["state_class"] = to_string(k.cls);
    props["severity"] = k.worst ? json(to_string(*k.worst)) : json(nullptr);
  }
  auto r = json_response(200, json{{"type", "FeatureCollection"}, {"features", features}});
  r.content_type = "application/geo+json";
  return r;
}

http_response unknown_terminals(const context& c) {
  require_whole_county(c, "unknown terminals");
  json arr = json::array();
  for (const auto& [id, u] : c.eng().unknown_terminals())
    arr.push_back({{"id", id}, {"messages", u.messages}, {"last_seen", iso(u.last_seen)}});
  return json_response(200, json{{"unknown_terminals", arr}});
}

http_response dead_letters(const context& c) {
  require_whole_county(c, "dead letters");
  c.eng().flush();
  json arr = json::array();
  for (const auto& d : c.eng().db().dead_letters(100)) {
    json payload = proto::is_valid_utf8(d.payload) ? json(d.payload) : json(nullptr);
    arr.push_back({{"id", d.id}, {"arrived_at", iso(d.arrival)}, {"topic", d.topic}, {"reason_code", d.code},
                   {"reason", d.reason}, {"payload", payload}});
  }
  return json_response(200, json{{"dead_letters", arr}});
}

http_response terminal(const context& c) {
  const auto idx = visible_terminal(c, c.eng().terminals(), c.args.at(0));
  return json_response(200, terminal_json(c.eng(), idx, true, today_rows(c.eng(), {idx})));
}

/// GET /api/terminals/{id}/normal: the site's learned normal flow (engine/flow_normal.hpp), 2 day
/// types x 24 local hours, each with its median and low quantile (m3/h, 0.001), the days of
/// history behind it and whether it is still the prior; before the first computation, the prior.
http_response terminal_normal(const context& c) {
  const auto idx = visible_terminal(c, c.eng().terminals(), c.args.at(0));
  const auto& t = c.eng().terminals().terminals()[idx];
  const auto* learned = c.eng().learned_normal(t.id);
  const flow_normal n = learned != nullptr ? *learned : prior_flow_normal(t.design_capacity_m3d, t.limits.flow_prior_load);
  json types = json::object();
  for (const auto dt : {day_type::weekday, day_type::weekend}) {
    json hours = json::array();
    for (int h = 0; h < 24; ++h) {
      const auto& cell = n.at(dt, h);
      hours.push_back({{"hour", h},
                       {"median_m3h", round_to(cell.median_m3h, unit::m3_per_h)},
                       {"low_m3h", round_to(cell.low_m3h, unit::m3_per_h)},
                       {"days", cell.days},
                       {"prior", cell.prior}});
    }
    types[std::string(to_string(dt))] = std::move(hours);
  }
  return json_response(
      200, json{{"terminal_id", t.id},
                {"computed_day", learned != nullptr ? json(format_day(n.computed_day)) : json(nullptr)},
                {"history_days", flow_normal_history_days},
                {"low_quantile", flow_normal_low_quantile},
                {"min_days", t.limits.flow_min_days},
                {"design_capacity_m3d", t.design_capacity_m3d},
                {"prior_load", t.limits.flow_prior_load},
                {"time_zone", c.eng().cfg().zone.name()},
                {"day_types", std::move(types)}});
}

http_response history(const context& c) {
  const auto& cfg = *c.view.cfg;
  const auto& id = c.args.at(0);
  visible_terminal(c, *c.view.reg, id);
  const auto now = c.view.now;
  const auto to = time_param(c.q, "to", now + std::chrono::minutes(1));
  const auto from = time_param(c.q, "from", to - std::chrono::hours(24));
  const auto limit = count_param(c.q, "limit", 1, cfg.http_max_rows, cfg.http_max_rows);
  if (!(from < to)) throw api_error{400, "bad_parameter", "from must be before to"};
  if (to - from > std::chrono::days(cfg.http_max_range_days))
    throw api_error{400, "bad_parameter",
                    "range too long: at most " + std::to_string(cfg.http_max_range_days) + " days (http.max_range_days)"};
  const auto rows = c.db.history(id, from, to, static_cast<std::size_t>(limit));
  json arr = json::array();
  for (const auto& r : rows) {
    auto j = json::parse(proto::encode(r.record));
    j["arrived_at"] = iso(r.arrival);
    // false: the stamp was outside the trust window; the record is listed at its arrival time
    j["ts_trusted"] = r.ts_trusted;
    arr.push_back(std::move(j));
  }
  // Older history is kept as hourly values (store.rollup_after_days): listed beside the records.
  const auto hours = c.db.hourly(id, from, to, static_cast<std::size_t>(limit));
  json hourly = json::array();
  const auto stat = [](const hourly_stat& st) -> json {
    if (st.n == 0) return nullptr;
    return json{{"n", st.n}, {"mean", st.sum / st.n}, {"min", st.min}, {"max", st.max}};
  };
  for (const auto& h : hours)
    hourly.push_back(json{{"hour", iso(h.hour)},
                          {"records", h.records},
                          {"flow_rate_m3h", stat(h.flow_rate_m3h)},
                          {"turbidity_ntu", stat(h.turbidity_ntu)},
                          {"sludge_level_m", stat(h.sludge_level_m)}});
  return json_response(200, json{{"terminal_id", id},
                                 {"from", iso(from)},
                                 {"to", iso(to)},
                                 {"truncated", rows.size() >= limit || hours.size() >= limit},
                                 {"records", arr},
                                 {"hourly", hourly}});
}

http_response daily(const context& c) {
  const auto& cfg = *c.view.cfg;
  const auto& id = c.args.at(0);
  const auto idx = visible_terminal(c, *c.view.reg, id);
  const auto today = operating_day(c.view.now, cfg.zone);
  const auto to = day_param(c.q, "to", today, cfg.zone);
  const auto from = day_param(c.q, "from", to - 29, cfg.zone);
  if (from > to) throw api_error{400, "bad_parameter", "from must not be after to"};
  if (static_cast<std::int64_t>(to) - from + 1 > static_cast<std::int64_t>(cfg.http_max_range_days))
    throw api_error{400, "bad_parameter",
                    "range too long: at most " + std::to_string(cfg.http_max_range_days) + " days (http.max_range_days)"};
  json arr = json::array();
  for (const auto& r : c.db.daily(id, from, to))
    arr.push_back(daily_json(r.totals, c.view.report_interval_s.at(idx), cfg, c.view.now, c.view.registered_at.at(idx),
                             r.missing_records));
  return json_response(200, json{{"terminal_id", id}, {"from", format_day(from)}, {"to", format_day(to)},
                                 {"time_zone", cfg.time_zone}, {"days", arr}});
}

/// County-wide (or one town's) daily series: the daily rows of the registered terminals summed
/// per operating day (store::daily_totals, in SQL), every day of the range listed (zeros where
/// nothing was received). Expected records and coverage count each terminal from its
/// registration and up to now, at its own report interval, like the per-terminal rows.
http_response county_daily(const context& c) {
  const auto& cfg = *c.view.cfg;
  const auto& reg = *c.view.reg;
  const auto town = param(c.q, "town");
  require_town_param_scope(c, town);
  const auto today = operating_day(c.view.now, cfg.zone);
  const auto to = day_param(c.q, "to", today, cfg.zone);
  const auto from = day_param(c.q, "from", to - 29, cfg.zone);
  if (from > to) throw api_error{400, "bad_parameter", "from must not be after to"};
  if (static_cast<std::int64_t>(to) - from + 1 > static_cast<std::int64_t>(cfg.http_max_range_days))
    throw api_error{400, "bad_parameter",
                    "range too long: at most " + std::to_string(cfg.http_max_range_days) + " days (http.max_range_days)"};
  std::vector<std::size_t> members;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    if (!reg.terminals()[i].is_terminal()) continue;  // effluent figures: terminals only, never pump stations
    if (town && reg.terminals()[i].town != *town) continue;
    if (!c.who.sees(reg.terminals()[i].town, reg.terminals()[i].id)) continue;  // the county series of a town officer: their towns
    members.push_back(i);
    ids.push_back(reg.terminals()[i].id);
  }
  if (town && members.empty()) throw api_error{404, "not_found", "no terminal in town '" + escaped(*town) + "' in the registry"};
  const auto rows = c.db.daily_totals(ids, from, to);
  auto row = rows.begin();
  json days = json::array();
  auto start = operating_day_start(from, cfg.zone);
  for (std::int32_t day = from; day <= to; ++day) {
    const auto end = operating_day_start(day + 1, cfg.zone);
    double expected = 0, covered_s = 0;
    for (const auto i : members) {
      const auto s = std::clamp(c.view.registered_at.at(i), start, end);
      const double cov = std::chrono::duration<double>(std::clamp(c.view.now, s, end) - s).count();
      covered_s += cov;
      expected += cov / c.view.report_interval_s.at(i);
    }
    start = end;
    daily_total_row d;
    d.day = day;
    while (row != rows.end() && row->day < day) ++row;
    if (row != rows.end() && row->day == day) d = *row;
    days.push_back(
        {{"day", format_day(day)},
         {"volume_m3", round_to(d.volume_m3 + d.volume_estimated_m3, unit::m3)},
         {"volume_measured_m3", round_to(d.volume_m3, unit::m3)},
         {"volume_estimated_m3", round_to(d.volume_estimated_m3, unit::m3)},
         {"compliance_rate", d.turbidity_ok_s > 0 ? json(round_to(std::min(1.0, d.compliant_s / d.turbidity_ok_s), unit::ratio))
                                                  : json(nullptr)},
         {"compliance_coverage", covered_s > 0 ? json(round_to(std::min(1.0, d.turbidity_ok_s / covered_s), unit::ratio))
                                               : json(nullptr)},
         {"availability", expected > 0 ? json(round_to(std::min(1.0, static_cast<double>(d.records) / expected), unit::ratio))
                                       : json(nullptr)},
         {"records", d.records},
         {"expected_records", round_to(expected, unit::count)},
         {"missing_records", d.missing_records},
         {"terminals_reporting", d.terminals_reporting},
         {"terminals_metered", d.terminals_metered},
         {"energy_kwh", d.terminals_metered > 0 ? json(round_to(d.energy_kwh, unit::kwh)) : json(nullptr)},
         {"energy_estimated_kwh", d.terminals_metered > 0 ? json(round_to(d.energy_estimated_kwh, unit::kwh)) : json(nullptr)},
         {"energy_kwh_per_m3", d.terminals_metered > 0 && d.metered_volume_m3 > 0
                                   ? json(round_to(d.energy_kwh / d.metered_volume_m3, unit::kwh_per_m3))
                                   : json(nullptr)}});
  }
  return json_response(200, json{{"town", town ? json(*town) : json(nullptr)},
                                 {"from", format_day(from)},
                                 {"to", format_day(to)},
                                 {"time_zone", cfg.time_zone},
                                 {"terminals", members.size()},
                                 {"days", days}});
}

http_response image(const context& c) {
  const auto& id = c.args.at(0);
  visible_terminal(c, *c.view.reg, id);
  const auto img = c.db.image(id);
  if (!img) throw api_error{404, "not_found", "no image received from '" + id + "' yet"};
  http_response r;
  r.content_type = "image/jpeg";
  r.body = img->first;
  r.headers.emplace_back("X-Image-Arrived-At", iso(img->second));
  return r;
}

/// An alert as listed by the API: its wire form plus the gateway's severity and where it is
/// (terminal name, town, coordinates; null for a terminal no longer in the registry).
json alert_view_json(const proto::alert_message& a, const registry& reg) {
  auto j = alert_json(a);
  j["severity"] = to_string(alert_severity(a.type));
  if (const auto idx = reg.find(a.terminal_id)) {
    const auto& t = reg.terminals()[*idx];
    j["terminal_name"] = t.name;
    j["town"] = t.town;
    j["latitude"] = t.latitude_deg;
    j["longitude"] = t.longitude_deg;
  } else {
    j["terminal_name"] = nullptr;
    j["town"] = nullptr;
    j["latitude"] = nullptr;
    j["longitude"] = nullptr;
  }
  return j;
}

/// A positive whole number (an alert id in a path or a cursor); `what` names it in the error.
std::uint64_t positive_id(const std::string& v, const std::string& what, const char* reason) {
  std::uint64_t id = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), id);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || id == 0)
    throw api_error{400, reason, what + " must be a positive integer, got '" + escaped(v) + "'"};
  return id;
}

http_response alerts(const context& c) {
  const auto& reg = *c.view.reg;
  alert_query aq;
  const auto state = param(c.q, "state").value_or("open");
  if (state == "open") aq.state = alert_query::state_filter::open;
  else if (state == "raised") aq.state = alert_query::state_filter::raised;
  else if (state == "acknowledged") aq.state = alert_query::state_filter::acknowledged;
  else if (state == "cleared") aq.state = alert_query::state_filter::cleared;
  else if (state == "all") aq.state = alert_query::state_filter::all;
  else
    throw api_error{400, "bad_parameter",
                    "state: must be open, raised, acknowledged, cleared or all, got '" + escaped(state) + "'"};
  if (const auto type = param(c.q, "type")) {
    aq.type = proto::parse_alert_type(*type);
    if (!aq.type)
      throw api_error{400, "bad_parameter", "type: not an alert type (" + alert_type_names() + "), got '" +
                                                escaped(*type) + "'"};
  }
  aq.terminal_id = param(c.q, "terminal");
  if (aq.terminal_id && !proto::is_valid_terminal_id(*aq.terminal_id))
    throw api_error{400, "bad_parameter",
                    "terminal: not a valid terminal id ([A-Za-z0-9_-]{1,32}), got '" + escaped(*aq.terminal_id) + "'"};
  if (aq.terminal_id) require_terminal_scope(c, reg, *aq.terminal_id);
  const auto town = param(c.q, "town");
  if (town || !c.who.whole_county()) {
    // A town, and a town-limited caller's towns: other terminals' alerts are simply absent.
    aq.terminal_ids.emplace();
    for (const auto& t : reg.terminals())
      if ((!town || t.town == *town) && c.who.sees(t.town, t.id)) aq.terminal_ids->push_back(t.id);
  }
  const auto limit = count_param(c.q, "limit", 1, max_alerts, max_alerts);
  if (const auto cur = param(c.q, "cursor")) aq.before_id = positive_id(*cur, "cursor: an alert id", "bad_parameter");
  // Shelved alerts (alarm discipline): hidden by default, shown with shelved=include, alone with
  // shelved=only. Filtered after the page is read: a page may hold fewer than `limit`.
  const auto shelved = param(c.q, "shelved").value_or("hide");
  if (shelved != "hide" && shelved != "include" && shelved != "only")
    throw api_error{400, "bad_parameter", "shelved: must be hide, include or only, got '" + escaped(shelved) + "'"};
  aq.limit = static_cast<std::size_t>(limit) + 1;  // one more than shown: is there a next page?
  auto rows = c.db.find_alerts(aq);
  const bool more = rows.size() > limit;
  if (more) rows.resize(static_cast<std::size_t>(limit));
  json arr = json::array();
  for (const auto& a : rows) {
    auto j = alert_view_json(a, reg);
    add_held_until(c, a.alert_id, j);
    if (c.alarms != nullptr) {
      j["discipline"] = alarms::discipline_json(*c.alarms, a.alert_id);
      const bool on_shelf = j["discipline"]["shelved"].get<bool>();
      if ((shelved == "hide" && on_shelf) || (shelved == "only" && !on_shelf)) continue;
    } else if (shelved == "only") {
      continue;
    }
    arr.push_back(std::move(j));
  }
  // A terminal taken out of the registry keeps its alert history; a mistyped id gets a 404.
  if (aq.terminal_id && rows.empty() && !aq.before_id) terminal_index(reg, *aq.terminal_id);
  json next = more ? json(std::to_string(rows.back().alert_id)) : json(nullptr);
  return json_response(200, json{{"alerts", arr}, {"next", next}});
}

http_response alert_detail(const context& c) {
  const auto id = positive_id(c.args.at(0), "alert id", "bad_target");
  const auto a = c.db.alert(id);
  if (!a) throw api_error{404, "not_found", "no alert " + std::to_string(id)};
  require_terminal_scope(c, *c.view.reg, a->terminal_id);
  auto j = alert_view_json(*a, *c.view.reg);
  add_held_until(c, a->alert_id, j);
  if (c.alarms != nullptr) j["discipline"] = alarms::discipline_json(*c.alarms, a->alert_id);
  json tr = json::array();
  for (const auto& t : c.db.transitions(id))
    tr.push_back({{"state", proto::to_string(t.state)},
                  {"at", iso(t.at)},
                  {"by", t.by.empty() ? json(nullptr) : json(t.by)},
                  {"note", t.note.empty() ? json(nullptr) : json(t.note)}});
  j["transitions"] = std::move(tr);
  return json_response(200, j);
}

/// The name an acknowledgement or a command is recorded under: a signed-in user's own name (a
/// body "by", if given, must be that name: nobody acts in another's name); for a bearer token the
/// body's "by" (the person the machine acts for), else the token's name.
std::string acting_name(const context& c, const json& body) {
  std::optional<std::string> by;
  if (body.contains("by")) {
    if (!body["by"].is_string()) throw api_error{400, "bad_body", "by: must be a string (the operator's name)"};
    by = body["by"].get<std::string>();
    if (by->empty() || by->size() > 128 || text_problem(*by, text_rules::single_line))
      throw api_error{400, "bad_body", "by: must be 1..128 bytes of UTF-8 without control characters"};
  }
  if (c.who.kind == auth::actor_kind::token) return by.value_or(c.who.name);
  if (by && *by != c.who.name)
    throw api_error{400, "bad_body", "by: a signed-in user acts in their own name ('" + c.who.name + "'); leave it out"};
  return c.who.name;
}

/// Appends an audit row for the caller (no-op without an identity store).
void audit(const context& c, const std::string& action, const std::string& target, const json& detail) {
  if (c.ids != nullptr) c.ids->audit(c.who, action, target, safe_dump(detail));
}

http_response acknowledge(const context& c) {
  auto& eng = c.eng();
  const auto& sid = c.args.at(0);
  std::uint64_t alert_id = 0;
  const auto r = std::from_chars(sid.data(), sid.data() + sid.size(), alert_id);
  if (r.ec != std::errc() || r.ptr != sid.data() + sid.size() || alert_id == 0)
    throw api_error{400, "bad_target", "alert id must be a positive integer, got '" + escaped(sid) + "'"};
  // Town scope: the alert's terminal must be one of the caller's towns (404 below when no such alert).
  std::optional<std::string> terminal_id;
  if (const auto it = eng.open_alerts().find(alert_id); it != eng.open_alerts().end()) {
    terminal_id = it->second.terminal_id;
  } else {
    eng.flush();
    if (const auto a = eng.db().alert(alert_id)) terminal_id = a->terminal_id;
  }
  if (terminal_id) require_terminal_scope(c, eng.terminals(), *terminal_id);
  const auto body = json::parse(c.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw api_error{400, "bad_body", "body must be a JSON object {\"note\": \"...\"} (\"by\" only with a bearer token)"};
  const auto by = acting_name(c, body);
  std::string note;
  if (body.contains("note")) {
    if (!body["note"].is_string()) throw api_error{400, "bad_body", "note: must be a string"};
    note = body["note"].get<std::string>();
    if (note.size() > 1024 || text_problem(note, text_rules::multi_line))
      throw api_error{400, "bad_body", "note: at most 1024 bytes of UTF-8 without control characters other than line breaks"};
  }
  proto::alert_message out;
  switch (eng.acknowledge(alert_id, by, note, &out)) {
    case engine::ack_result::acknowledged:
      audit(c, "alert.ack", std::to_string(alert_id), json{{"terminal", out.terminal_id}, {"by", by}});
      return json_response(200, alert_json(out));
    case engine::ack_result::not_found: throw api_error{404, "not_found", "no alert " + std::to_string(alert_id)};
    case engine::ack_result::already_cleared:
      throw api_error{409, "conflict", "alert " + std::to_string(alert_id) + " is already cleared"};
    case engine::ack_result::already_acknowledged:
      throw api_error{409, "conflict", "alert " + std::to_string(alert_id) + " was already acknowledged by " +
                                           out.acked_by.value_or("?") + " at " + (out.acked_at ? iso(*out.acked_at) : std::string("?"))};
  }
  throw api_error{500, "internal", "unexpected acknowledgement result"};
}

/// A command as the API shows it: {"id","terminal_id","name","args","by","state","sent_at",
/// "answered_at","result","error"} (null where there is none).
json command_json(const command_row& c) {
  auto args = json::parse(c.args_json, nullptr, false);
  auto result = c.result_json ? json::parse(*c.result_json, nullptr, false) : json(nullptr);
  return json{{"id", command_wire_id(c.id)},
              {"terminal_id", c.terminal_id},
              {"name", c.name},
              {"args", args.is_discarded() ? json::object() : args},
              {"by", c.by},
              {"state", to_string(c.state)},
              {"sent_at", iso(c.sent_at)},
              {"answered_at", c.answered_at ? json(iso(*c.answered_at)) : json(nullptr)},
              {"result", result.is_discarded() ? json(nullptr) : result},
              {"error", c.error ? json(*c.error) : json(nullptr)}};
}

/// The most commands GET /api/terminals/{id}/commands lists (also the ceiling of its `limit`).
constexpr std::uint64_t max_commands = 1000;

http_response send_command(const context& c) {
  const auto idx = visible_terminal(c, c.eng().terminals(), c.args.at(0));
  static const char* shape =
      "body must be a JSON object {\"name\": \"sample_now\" | \"snapshot_now\" | \"set_report_interval\" | "
      "\"get_config\", \"args\": {\"interval_s\": 300} (set_report_interval only), \"by\": \"operator name\" (bearer token only)}";
  const auto body = json::parse(c.req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw api_error{400, "bad_body", shape};
  for (const auto& [k, v] : body.items())
    if (k != "name" && k != "args" && k != "by")
      throw api_error{400, "bad_body", "unknown field '" + escaped(k) + "' (accepted: name, args, by)"};
  if (!body.contains("name") || !body["name"].is_string())
    throw api_error{400, "bad_body", "name: required string: sample_now, snapshot_now, set_report_interval or get_config"};
  const auto name_text = body["name"].get<std::string>();
  const auto name = proto::parse_command_name(name_text);
  if (!name)
    throw api_error{400, "bad_body", "name: must be sample_now, snapshot_now, set_report_interval or get_config, got '" +
                                         escaped(name_text) + "'"};
  const auto by = acting_name(c, body);
  const json args = body.contains("args") ? body["args"] : json::object();
  if (!args.is_object()) throw api_error{400, "bad_body", "args: must be a JSON object"};
  std::optional<std::uint32_t> interval_s;
  if (*name == proto::command_name::set_report_interval) {
    for (const auto& [k, v] : args.items())
      if (k != "interval_s")
        throw api_error{400, "bad_body", "args: unknown argument '" + escaped(k) + "' for set_report_interval (accepted: interval_s)"};
    // 1..86400 s: the agent's limits for the report interval (proto/command.hpp).
    const auto it = args.find("interval_s");
    if (it == args.end()) throw api_error{400, "bad_body", "args.interval_s: required for set_report_interval (whole seconds 1..86400)"};
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 86400)
      throw api_error{400, "bad_body", "args.interval_s: must be a whole number of seconds 1..86400, got " + escaped(it->dump())};
    interval_s = static_cast<std::uint32_t>(it->get<std::int64_t>());
  } else if (!args.empty()) {
    throw api_error{400, "bad_body", "args: " + name_text + " takes no arguments"};
  }
  const auto row = c.eng().send_command(idx, *name, interval_s, by);
  audit(c, "command.send", c.eng().terminals().terminals()[idx].id,
        json{{"command", command_wire_id(row.id)}, {"name", name_text}, {"args", args}, {"by", by}});
  return json_response(202, json{{"command", command_json(row)}});
}

http_response terminal_commands(const context& c) {
  const auto& id = c.args.at(0);
  visible_terminal(c, *c.view.reg, id);
  const auto limit = count_param(c.q, "limit", 1, max_commands, 100);
  json arr = json::array();
  for (const auto& row : c.db.commands(id, std::nullopt, static_cast<std::size_t>(limit))) arr.push_back(command_json(row));
  return json_response(200, json{{"terminal_id", id}, {"commands", arr}});
}

http_response command_detail(const context& c) {
  const auto& sid = c.args.at(0);
  const auto n = parse_command_wire_id(sid);
  if (!n) throw api_error{400, "bad_target", "command id must look like gw-17, got '" + escaped(sid) + "'"};
  const auto row = c.db.command(*n);
  if (!row) throw api_error{404, "not_found", "no command " + sid};
  require_terminal_scope(c, *c.view.reg, row->terminal_id);
  return json_response(200, json{{"command", command_json(*row)}});
}

/// GET /api/report (read route): the monthly operations report (report.hpp), JSON or CSV.
http_response report(const context& c) {
  std::optional<report_month> month;
  if (const auto m = param(c.q, "month")) {
    month = parse_report_month(*m);
    if (!month) throw api_error{400, "bad_parameter", "month: must be a month YYYY-MM (1970-01 or later), got '" + escaped(*m) + "'"};
  }
  const auto format = param(c.q, "format").value_or("json");
  if (format != "json" && format != "csv")
    throw api_error{400, "bad_parameter", "format: must be 'json' or 'csv', got '" + escaped(format) + "'"};
  const auto town = param(c.q, "town");
  require_town_param_scope(c, town);
  monthly_report rep;
  try {
    // Without a town, a town-limited caller's report covers its towns only.
    rep = build_report(c.db, town ? c.view : scoped_view(c.view, c.who), month, town);
  } catch (const report_error& e) {
    throw api_error{e.not_found() ? 404u : 400u, e.not_found() ? "not_found" : "bad_parameter", e.what()};
  }
  if (format == "json") {
    http_response r;
    r.body = report_json(rep);
    // Lab compliance of the month beside the turbidity figures (om/http_lab.hpp).
    if (c.om.lab != nullptr) r.body = om::report_with_lab(r.body, rep, *c.om.lab);
    return r;
  }
  http_response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = report_csv(rep);
  r.headers.emplace_back("Content-Disposition", report_content_disposition(rep));
  return r;
}

/// An identity route (auth/routes.hpp) with this api's identity store.
template <http_response (*F)(const auth::call&)>
http_response identity_route(const context& c) {
  if (c.ids == nullptr) throw api_error{503, "no_identities", "this gateway has no user store"};
  return F(auth::call{*c.ids, c.who, c.req, c.q, c.args, c.eng().terminals()});
}

/// An alarm discipline route (alarms/http_alarms.hpp) with this api's discipline.
template <http_response (*F)(const alarms::call&)>
http_response alarm_route(const context& c) {
  if (c.alarms == nullptr) throw api_error{503, "no_alarms", "this gateway has no alarm discipline"};
  try {
    return F(alarms::call{*c.alarms, c.who, c.req, c.q, c.args, c.view.reg ? *c.view.reg : c.eng().terminals(), &c.eng(),
                          [&c](const json& body) { return acting_name(c, body); },
                          [&c](const std::string& action, const std::string& target, const json& detail) {
                            audit(c, action, target, detail);
                          }});
  } catch (const alarms::discipline_error& e) {
    const auto s = static_cast<unsigned>(e.status());
    throw api_error{s, s == 404 ? "not_found" : s == 403 ? "forbidden" : s == 409 ? "conflict" : "bad_body", e.what()};
  }
}

/// A lab or archive route (om/http_lab.hpp): engine routes, with the engine's registry and clock.
template <http_response (*F)(const om::call&)>
http_response om_route(const context& c) {
  const auto& eng = c.eng();
  const om::call oc{c.om.lab, c.om.archive, c.ids, c.who, c.req, c.q, c.args, eng.terminals(), eng.cfg(),
                    eng.clock().now().time_since_epoch().count(),
                    [&eng](std::size_t i) { return eng.registered_at(i).time_since_epoch().count(); }, c.db,
                    c.orders};
  return F(oc);
}

/// A work-order route (om/http_work_orders.hpp) with this api's order store and site key.
template <http_response (*F)(const om::order_call&)>
http_response orders_route(const context& c) {
  if (c.orders == nullptr || c.site_key == nullptr) throw api_error{503, "no_work_orders", "this gateway has no work order store"};
  return F(om::order_call{*c.orders, *c.site_key, c.who, c.req, c.q, c.args, c.eng().terminals()});
}

/// POST /api/registry/reload: reads the registry file again (as SIGHUP does); 200 with the new
/// terminal count, 400 naming the problem when the file is wrong (the current registry is kept).
http_response registry_reload(const context& c) {
  const auto& cfg = c.eng().cfg();
  const auto before = c.eng().terminals().size();
  try {
    c.eng().reload_registry(load_registry(cfg.registry_path, cfg.defaults));
  } catch (const config_error& e) {
    audit(c, "registry.reload", cfg.registry_path.string(), json{{"ok", false}, {"error", e.what()}});
    throw api_error{400, "bad_registry", std::string("registry reload failed, the current registry is kept: ") + e.what()};
  }
  const auto after = c.eng().terminals().size();
  audit(c, "registry.reload", cfg.registry_path.string(), json{{"ok", true}, {"terminals_before", before}, {"terminals", after}});
  return json_response(200, json{{"terminals", after}, {"terminals_before", before}});
}

/// An inspections / assessment route (om/http_inspections.hpp), on the engine's thread with a
/// fresh county view (pending writes committed first).
template <http_response (*F)(const om::inspections_call&)>
http_response insp_route(const context& c) {
  if (c.insp == nullptr) throw api_error{503, "no_inspections", "this gateway has no inspections store"};
  c.eng().flush();
  const auto view = make_county_view(c.eng());
  return F(om::inspections_call{*c.insp, c.who, c.req, c.q, c.args, view, c.eng().db(), c.ids, c.eng().clock(),
                                c.orders});
}

/// An incidents read route (incidents/http_incidents.hpp): a reader thread's, the engine's or a
/// standby's; the registry and the time of the view, the store of the context.
template <http_response (*F)(const incidents::call&)>
http_response incident_read_route(const context& c) {
  if (!c.view.reg) throw api_error{500, "internal", "an incidents read without a county view"};
  try {
    return F(incidents::call{c.incident_reads, nullptr, c.pipes, nullptr, *c.view.reg, c.db, c.view.now, c.who, c.req,
                             c.q, c.args, [](const json&) { return std::string(); },
                             [](const std::string&, const std::string&, const json&) {}});
  } catch (const incidents::incident_error& e) {
    throw api_error{e.status(), e.reason(), e.what()};
  } catch (const store_error&) {
    throw;  // a read over its CPU time, or fenced: answered as every read's
  } catch (const std::runtime_error& e) {
    // The incident store unreachable (a standby's connection to the shared database ended, the
    // server restarting): the client may retry; the cause (naming the database) goes to the log.
    // Answered here, not thrown: no bug of ours (api_error >= 500 counts as an internal error).
    spdlog::warn("HTTP {}: the incident store could not be read: {}", escaped(c.req.target, 200), escaped(e.what(), 300));
    auto r = error_response(503, "the incident store could not be read; retry in 5 s");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
}

/// An incidents write or network route (incidents/http_incidents.hpp), on the engine's thread.
template <http_response (*F)(const incidents::call&)>
http_response incident_route(const context& c) {
  try {
    return F(incidents::call{c.incidents, c.incidents, c.pipes, &c.eng(), c.eng().terminals(), c.eng().db(),
                             c.eng().clock().now(), c.who, c.req, c.q, c.args,
                             [&c](const json& body) { return acting_name(c, body); },
                             [&c](const std::string& action, const std::string& target, const json& detail) {
                               audit(c, action, target, detail);
                             }});
  } catch (const incidents::incident_error& e) {
    throw api_error{e.status(), e.reason(), e.what()};
  }
}

using handler_fn = http_response (*)(const context&);

struct route_entry {
  route_info info;
  handler_fn fn;
};

/// Every route: method, path pattern ("{id}" captures one segment), the query parameters it
/// accepts (anything else is refused with 400), handler. Matched in order.
const std::vector<route_entry>& route_table() {
  using enum route_access;
  static const std::vector<route_entry> table{
      {{"GET", "/api/ui-config", open, {}}, &ui_config},
      {{"GET", "/healthz", open, {}}, &healthz},
      {{"GET", "/metrics", metrics, {}}, &api_metrics},
      {{"GET", "/api/session", open, {}}, &identity_route<auth::session_get>},
      {{"POST", "/api/session", open, {}}, &identity_route<auth::session_post>},
      {{"DELETE", "/api/session", signed_in, {}}, &identity_route<auth::session_delete>},
      {{"GET", "/api/summary", read, {}}, &summary},
      {{"GET", "/api/terminals", read, {"town", "kind", "state", "alert_type", "q", "sort", "limit", "cursor"}}, &terminals},
      {{"GET", "/api/terminals.geojson", read, {}}, &terminals_geojson},
      {{"GET", "/api/unknown-terminals", read, {}}, &unknown_terminals},
      {{"GET", "/api/dead-letters", read, {}}, &dead_letters},
      {{"GET", "/api/terminals/{id}", read, {}}, &terminal},
      {{"GET", "/api/terminals/{id}/normal", read, {}}, &terminal_normal},
      {{"GET", "/api/terminals/{id}/history", read, {"from", "to", "limit"}, true}, &history},
      {{"GET", "/api/terminals/{id}/daily", read, {"from", "to"}, true}, &daily},
      {{"GET", "/api/terminals/{id}/image", read, {}, true}, &image},
      {{"GET", "/api/alerts", read, {"state", "type", "town", "terminal", "limit", "cursor", "shelved"}, true}, &alerts},
      {{"GET", "/api/alerts/{id}", read, {}, true}, &alert_detail},
      {{"POST", "/api/alerts/{id}/ack", operate, {}}, &acknowledge},
      {{"POST", "/api/alerts/{id}/shelve", operate, {}}, &alarm_route<alarms::alert_shelve>},
      {{"GET", "/api/maintenance-windows", read, {"site", "town", "ended"}, true}, &alarm_route<alarms::windows_get>},
      {{"POST", "/api/maintenance-windows", operate, {}}, &alarm_route<alarms::windows_post>},
      {{"POST", "/api/maintenance-windows/{id}/end", operate, {}}, &alarm_route<alarms::window_end>},
      {{"DELETE", "/api/maintenance-windows/{id}", operate, {}}, &alarm_route<alarms::window_delete>},
      {{"POST", "/api/terminals/{id}/commands", operate, {}}, &send_command},
      {{"GET", "/api/terminals/{id}/commands", read, {"limit"}, true}, &terminal_commands},
      {{"GET", "/api/commands/{id}", read, {}, true}, &command_detail},
      {{"GET", "/api/daily", read, {"from", "to", "town"}, true}, &county_daily},
      {{"GET", "/api/report", read, {"month", "town", "format"}, true}, &report},
      {{"GET", "/api/users", admin, {}}, &identity_route<auth::users_get>},
      {{"POST", "/api/users", admin, {}}, &identity_route<auth::users_post>},
      {{"PATCH", "/api/users/{name}", admin, {}}, &identity_route<auth::users_patch>},
      {{"GET", "/api/tokens", admin, {}}, &identity_route<auth::tokens_get>},
      {{"POST", "/api/tokens", admin, {}}, &identity_route<auth::tokens_post>},
      {{"DELETE", "/api/tokens/{name}", admin, {}}, &identity_route<auth::tokens_delete>},
      {{"POST", "/api/registry/reload", admin, {}}, &registry_reload},
      {{"GET", "/api/audit", admin, {"from", "to", "actor", "action", "limit", "cursor"}}, &identity_route<auth::audit_get>},
      {{"GET", "/api/lab-results", read, {"site", "town", "from", "to", "limit"}}, &om_route<om::lab_results_get>},
      {{"POST", "/api/lab-results", operate, {}}, &om_route<om::lab_results_post>},
      {{"POST", "/api/lab-results/import", operate, {}}, &om_route<om::lab_results_import>},
      {{"GET", "/api/lab-results/compliance", read, {"from", "to", "town"}}, &om_route<om::lab_compliance_get>},
      {{"GET", "/api/lab-results/schedule", read, {"town", "overdue"}}, &om_route<om::lab_schedule_get>},
      {{"GET", "/api/effluent-limits", read, {}}, &om_route<om::effluent_limits_get>},
      {{"GET", "/api/sites/{id}/archive", read, {}}, &om_route<om::archive_get>},
      {{"PUT", "/api/sites/{id}/archive", operate, {}}, &om_route<om::archive_put>},
      {{"POST", "/api/sites/{id}/cleanouts", operate, {}}, &om_route<om::cleanouts_post>},
      {{"POST", "/api/sites/{id}/equipment", operate, {}}, &om_route<om::equipment_post>},
      {{"DELETE", "/api/sites/{id}/equipment/{eid}", operate, {}}, &om_route<om::equipment_delete>},
      {{"GET", "/api/work-orders", read, {"state", "site", "contractor", "town", "limit", "cursor"}}, &orders_route<om::orders_get>},
      {{"POST", "/api/work-orders", operate, {}}, &orders_route<om::orders_post>},
      {{"GET", "/api/work-orders/figures", read, {"from", "to", "by"}}, &orders_route<om::figures_get>},
      {{"GET", "/api/work-orders/{id}", read, {}}, &orders_route<om::order_get>},
      {{"POST", "/api/work-orders/{id}/photos", signed_in, {"lat", "lon"}, false, true}, &orders_route<om::photos_post>},
      {{"POST", "/api/work-orders/{id}/{action}", signed_in, {}}, &orders_route<om::order_action_post>},
      {{"GET", "/api/photos/{id}", read, {}}, &orders_route<om::photo_get>},
      {{"POST", "/api/checkins", signed_in, {}}, &orders_route<om::checkins_post>},
      {{"GET", "/api/inspections/checklists", read, {}}, &insp_route<om::checklists_get>},
      {{"GET", "/api/inspections/plan", read, {"town"}}, &insp_route<om::plan_get>},
      {{"GET", "/api/inspections/figures", read, {"from", "to", "by"}}, &insp_route<om::figures_get>},
      {{"GET", "/api/inspections", read, {"site", "limit"}}, &insp_route<om::inspections_get>},
      {{"GET", "/api/inspections/{id}", read, {}}, &insp_route<om::inspection_get>},
      {{"POST", "/api/inspections", signed_in, {}}, &insp_route<om::inspection_start>},
      {{"POST", "/api/inspections/{id}/complete", signed_in, {}}, &insp_route<om::inspection_complete>},
      {{"GET", "/api/assessment", read, {"month", "by", "format"}}, &insp_route<om::assessment_get>},
      {{"GET", "/api/sites/{id}/qr.svg", operate, {}}, &insp_route<om::site_qr_get>},
      {{"GET", "/api/incidents", read, {"state", "limit"}, true}, &incident_read_route<incidents::incidents_get>},
      {{"GET", "/api/incidents/{id}", read, {}, true}, &incident_read_route<incidents::incident_get>},
      {{"GET", "/api/incidents/{id}/geojson", read, {}, true}, &incident_read_route<incidents::incident_geojson>},
      {{"POST", "/api/incidents/{id}/ack", operate, {}}, &incident_route<incidents::incident_ack>},
      {{"GET", "/api/network", read, {}}, &incident_route<incidents::network_get>},
      {{"GET", "/api/network/trace", read, {"id"}}, &incident_route<incidents::network_trace>},
  };
  return table;
}

std::vector<std::string_view> split_pattern(std::string_view pattern) {
  std::vector<std::string_view> out;
  std::size_t start = 1;
  while (start < pattern.size()) {
    const auto end = pattern.find('/', start);
    out.push_back(pattern.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool match(std::string_view pattern, const std::vector<std::string>& segments, std::vector<std::string>* args) {
  const auto parts = split_pattern(pattern);
  if (parts.size() != segments.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].size() > 1 && parts[i].front() == '{') {
      if (args != nullptr) args->push_back(segments[i]);
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

std::string join(const std::vector<std::string_view>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

std::vector<route_info> api::routes() {
  std::vector<route_info> out;
  for (const auto& r : route_table()) out.push_back(r.info);
  return out;
}

county_view make_county_view(const engine& eng) {
  county_view v;
  v.reg = std::make_shared<const registry>(eng.terminals());
  const auto n = eng.terminals().size();
  v.report_interval_s.reserve(n);
  v.registered_at.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    v.report_interval_s.push_back(eng.report_interval_s(i));
    v.registered_at.push_back(eng.registered_at(i));
  }
  v.cfg = &eng.cfg();
  v.now = eng.clock().now();
  return v;
}

county_view make_county_view(std::shared_ptr<const registry> reg, const std::vector<terminal_snapshot>& stored,
                             const config& cfg, proto::timestamp now) {
  std::unordered_map<std::string_view, const terminal_snapshot*> by_id;
  by_id.reserve(stored.size());
  for (const auto& s : stored) by_id.emplace(s.terminal_id, &s);
  county_view v;
  const auto n = reg->size();
  v.report_interval_s.reserve(n);
  v.registered_at.reserve(n);
  for (const auto& t : reg->terminals()) {
    const auto it = by_id.find(t.id);
    const terminal_snapshot* s = it == by_id.end() ? nullptr : it->second;
    // As engine::report_interval_s and engine::registered_at read the same snapshot.
    v.report_interval_s.push_back(s != nullptr && s->status && s->status->report_interval_s ? *s->status->report_interval_s
                                                                                               : t.report_interval_s);
    v.registered_at.push_back(
        s != nullptr
            ? proto::timestamp(std::chrono::milliseconds(s->rules[static_cast<std::size_t>(proto::alert_type::offline)].since_ms))
            : now);
  }
  v.reg = std::move(reg);
  v.cfg = &cfg;
  v.now = now;
  return v;
}

std::string_view to_string(route_access a) noexcept {
  switch (a) {
    case route_access::open: return "open";
    case route_access::signed_in: return "signed_in";
    case route_access::read: return "read";
    case route_access::operate: return "operate";
    case route_access::admin: return "admin";
    case route_access::metrics: return "metrics";
  }
  return "admin";
}

api::api(engine& eng, link_status link, auth::service* ids, om_rooms om)
    : eng_(&eng),
      cfg_(eng.cfg()),
      link_(std::move(link)),
      ids_(ids),
      om_(om),
      files_(std::make_shared<const webapp::static_files>(eng.cfg().http_web_root, eng.cfg().http_vendor_root)) {
  insp_ = om.inspections;
}

api::api(const config& cfg, auth::service* ids)
    : eng_(nullptr),
      cfg_(cfg),
      ids_(ids),
      files_(std::make_shared<const webapp::static_files>(cfg.http_web_root, cfg.http_vendor_root)) {}

auth::principal api::authenticate(const http_request& req) const {
  auth::principal anonymous;
  anonymous.address = req.remote_address;
  // A bearer token (machines) wins over the cookie; a wrong token is a 401, never a fallback.
  if (!req.authorization.empty()) {
    static constexpr std::string_view prefix = "Bearer ";
    if (req.authorization.size() <= prefix.size() || req.authorization.compare(0, prefix.size(), prefix) != 0)
      throw api_error{401, "unauthorized", "Authorization: only 'Bearer <token>' is accepted", {{"WWW-Authenticate", "Bearer"}}};
    auto p = ids_ != nullptr ? ids_->bearer(req.authorization.substr(prefix.size()), req.remote_address) : std::nullopt;
    if (!p) throw api_error{401, "unauthorized", "unknown or revoked bearer token", {{"WWW-Authenticate", "Bearer"}}};
    return std::move(*p);
  }
  if (ids_ == nullptr) return anonymous;
  const auto cookie = auth::cookie_value(req, auth::session_cookie);
  if (cookie.empty()) return anonymous;
  auto p = ids_->session(cookie, req.remote_address);
  return p ? std::move(*p) : anonymous;  // an ended session is anonymous: 401 where a login is needed
}

namespace {

/// Refuses the request unless `who` may call a route of `access` (401 not signed in, 403 role),
/// and a cookie-authenticated state change without the session's CSRF token (403).
void check_access(const route_info& r, const auth::principal& who, const http_request& req, const config& cfg) {
  const bool anonymous = who.kind == auth::actor_kind::anonymous;
  const auto login_required = [] { return api_error{401, "unauthorized", "login required"}; };
  switch (r.access) {
    case route_access::open: return;  // no CSRF either: the login itself, and reads
    case route_access::signed_in:
      if (anonymous) throw login_required();
      break;
    case route_access::read:
      if (anonymous && !cfg.http_public_read) throw login_required();
      break;
    case route_access::metrics:
      if (anonymous && cfg.http_public_read) return;
      if (anonymous) throw login_required();
      if (!who.at_least(auth::role::admin)) throw api_error{403, "forbidden", "metrics need the admin role"};
      break;
    case route_access::operate:
      if (anonymous) throw login_required();
      if (!who.at_least(auth::role::operator_))
        throw api_error{403, "forbidden", "role " + std::string(auth::to_string(who.role)) + " may not do this: operator or admin needed"};
      break;
    case route_access::admin:
      if (anonymous) throw login_required();
      if (!who.at_least(auth::role::admin) || !who.whole_county())
        throw api_error{403, "forbidden", "administration needs the admin role for the whole county"};
      break;
  }
  // CSRF: a state change carried by the cookie must also carry the session's token in a header
  // (a cross-site form can make the browser send the cookie, never a custom header).
  const bool changes = req.method != "GET" && req.method != "HEAD";
  if (changes && who.via_cookie) {
    std::string_view sent;
    for (const auto& [name, value] : req.headers)
      if (name.size() == 12 && std::equal(name.begin(), name.end(), "x-csrf-token", [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
          }))
        sent = value;
    if (!auth::equal_constant_time(sent, who.csrf_token)) throw api_error{403, "csrf", "csrf token missing or wrong"};
  }
}

}  // namespace

http_response api::dispatch(const http_request& req, const read_context* reader) {
  // 1. Every byte of the request is checked before anything looks at it.
  check_text_or_throw(req.method, text_rules::single_line, "method");
  for (const auto& [name, value] : req.headers) {
    check_text_or_throw(name, text_rules::single_line, "header name");
    check_text_or_throw(value, text_rules::header_value, "header '" + escaped(name) + "'");
  }
  check_text_or_throw(req.authorization, text_rules::header_value, "header 'Authorization'");
  const auto t = parse_target(req.target);
  // A text body is checked before routing too: a request to a static file, to no route (404) or
  // with another method (405) with bad bytes in its body is a 400 like any other. Only a path
  // some route takes a binary body on (photos) leaves its body to that route.
  const bool binary_path = std::any_of(route_table().begin(), route_table().end(), [&](const auto& r) {
    return r.info.binary_body && match(r.info.pattern, t.segments, nullptr);
  });
  if (!binary_path && !req.body.empty()) check_text_or_throw(req.body, text_rules::multi_line, "body");

  // 2. The route table: 404 when no pattern matches, 405 when only other methods do.
  const bool get = req.method == "GET" || req.method == "HEAD";
  // Static files first (/, /index.html, /web/..., /vendor/...): their own safe path handling.
  if (webapp::static_files::is_static_path(t.segments)) {
    if (!get) throw api_error{405, "method_not_allowed", "method " + escaped(req.method) + " not allowed here", {{"Allow", "GET, HEAD"}}};
    std::string_view inm;
    for (const auto& [name, value] : req.headers)
      if (name.size() == 13 && std::equal(name.begin(), name.end(), "if-none-match", [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
          }))
        inm = value;
    auto r = files_->serve(t.segments, inm);
    if (r->status == 404) count_rejected("not_found");
    return std::move(*r);
  }
  std::vector<std::string_view> allowed;
  for (const auto& r : route_table()) {
    if (!match(r.info.pattern, t.segments, nullptr)) continue;
    if (!(r.info.method == req.method || (r.info.method == "GET" && get))) {
      allowed.push_back(r.info.method);
      if (r.info.method == "GET") allowed.emplace_back("HEAD");
      continue;
    }
    // 3. Query parameters: only those the route declares.
    std::vector<std::string_view> unknown;
    for (const auto& [k, v] : t.q)
      if (std::find(r.info.params.begin(), r.info.params.end(), k) == r.info.params.end()) unknown.emplace_back(k);
    if (!unknown.empty()) {
      std::string names;
      for (const auto& u : unknown) names += (names.empty() ? "'" : ", '") + escaped(u) + "'";
      throw api_error{400, "unknown_parameter",
                      std::string(unknown.size() == 1 ? "unknown query parameter " : "unknown query parameters ") + names +
                          " for " + std::string(r.info.method) + " " + std::string(r.info.pattern) +
                          (r.info.params.empty() ? " (it takes no query parameters)"
                                                 : " (accepted: " + join(r.info.params, ", ") + ")")};
    }
    // The body: text unless the route takes a binary one (photos); bounded by http.max_body_bytes
    // unless binary (the listener's limit then is om.photo_max_bytes, checked again by the route).
    if (!r.info.binary_body) {
      if (req.body.size() > cfg_.http_max_body_bytes)
        throw api_error{413, "body_too_large", "body: more than http.max_body_bytes = " + std::to_string(cfg_.http_max_body_bytes) + " bytes"};
      if (!req.body.empty()) check_text_or_throw(req.body, text_rules::multi_line, "body");
    }
    // On a reader thread (`reader`): the reader's own read-only connection and the view the engine
    // last published; what was committed is what it sees. On the engine's thread a read route
    // sees what has been received so far: pending writes are committed first. (Engine routes
    // read the engine's live state, which is always current.)
    if (reader != nullptr && !r.info.read_route)
      throw api_error{500, "internal", "engine route " + std::string(r.info.pattern) + " handed to a reader thread"};
    if (eng_ == nullptr && reader == nullptr)  // a reads-only api (standby) answers read routes only
      throw api_error{503, "standby", "this gateway runs no engine: " + std::string(r.info.pattern) + " is answered by the leader"};
    std::optional<county_view> view;
    if (r.info.read_route && reader == nullptr) {
      eng_->flush();
      view = make_county_view(*eng_);
    }
    // 4. Who asks, and may they (route_access); handlers then apply the caller's town scope.
    auto who = r.info.access == route_access::open && req.method == "POST" ? auth::principal{} : authenticate(req);
    if (who.role == auth::role::contractor)  // its scope: the sites its contractor serves (om/settings.hpp)
      who.sites = om::sites_of_contractor(orders_ != nullptr ? orders_->config() : cfg_.om, reader != nullptr ? *reader->view.reg : eng_->terminals(), who.contractor);
    check_access(r.info, who, req, cfg_);  // the configuration is immutable: safe from any thread
    static const county_view no_view{};
    const api_counters counters_now = counters();
    context c{eng_, reader != nullptr ? reader->db : eng_->db(),
              reader != nullptr ? reader->view : view ? *view : no_view,
              link_, counters_now, req, t.q, who, ids_, insp_, {}, alarms_, om_, orders_, site_key_, incidents_, pipes_,
              incident_reads_};
    match(r.info.pattern, t.segments, &c.args);
    return r.fn(c);
  }
  if (!allowed.empty()) {
    throw api_error{405, "method_not_allowed", "method " + escaped(req.method) + " not allowed here",
                    {{"Allow", join(allowed, ", ")}}};
  }
  throw api_error{404, "not_found", "no route for " + escaped(req.target, 200)};
}

namespace {

/// Weak validator of a body: W/"<64-bit FNV-1a of the bytes, hex>-<length, hex>". Equal bodies
/// give equal tags (also after a restart); a different body of the same length collides with
/// probability ~2^-64. Weak: the same JSON may be serialised differently in another version.
std::string weak_etag(std::string_view body) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis and prime (FNV spec)
  for (const unsigned char ch : body) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "W/\"%016llx-%zx\"", static_cast<unsigned long long>(h), body.size());
  return buf;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// If-None-Match (RFC 9110 13.1.2): "*" or a comma-separated list of tags, compared weakly (a
/// "W/" prefix on either side is ignored).
bool none_match_hits(std::string_view header, std::string_view etag) {
  const auto opaque = [](std::string_view t) {
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    return t;
  };
  const auto mine = opaque(etag);
  while (true) {
    const auto comma = header.find(',');
    const auto tag = opaque(header.substr(0, comma));
    if (tag == "*" || tag == mine) return true;
    if (comma == std::string_view::npos) return false;
    header.remove_prefix(comma + 1);
  }
}

bool is_json(std::string_view content_type) {
  return content_type.rfind("application/json", 0) == 0 || content_type.rfind("application/geo+json", 0) == 0;
}

}  // namespace

http_response api::handle(const http_request& req, const read_context* reader) {
  auto r = handle_uncached(req, reader);
  // Every GET (and HEAD) JSON 200 carries a weak ETag of its body; a client that sends it back in
  // If-None-Match gets 304 without a body when nothing changed (the web application polls so).
  // (Static files, json language files included, carry their own ETag: webapp::static_files.)
  const bool tagged = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) { return iequals(h.first, "ETag"); });
  if ((req.method == "GET" || req.method == "HEAD") && r.status == 200 && is_json(r.content_type) && !tagged) {
    auto tag = weak_etag(r.body);
    r.headers.emplace_back("Cache-Control", "no-cache");  // may be stored, must be revalidated
    for (const auto& [name, value] : req.headers) {
      if (!iequals(name, "If-None-Match") || !none_match_hits(value, tag)) continue;
      r.status = 304;
      r.body.clear();
      break;
    }
    r.headers.emplace_back("ETag", std::move(tag));
  }
  return r;
}

http_response api::handle_uncached(const http_request& req, const read_context* reader) {
  {
    const std::lock_guard lock(counters_mutex_);
    ++counters_.requests;
  }
  try {
    return dispatch(req, reader);
  } catch (const store_timeout& e) {
    // A read bounded by http.read_cpu_limit_ms (read_pool.hpp): the client may retry later.
    {
      const std::lock_guard lock(counters_mutex_);
      ++counters_.read_timeouts;
    }
    spdlog::warn("HTTP {} {}: 503 {}", escaped(req.method), escaped(req.target, 200), escaped(e.what(), 200));
    auto r = error_response(503, "the read used up its CPU time limit (http.read_cpu_limit_ms); narrow the range or retry later");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  } catch (const store_fenced& e) {
    // This gateway no longer leads (standby/leader_lease.hpp): a write of the shared store was
    // refused by its term; the process is about to stop. Not a bug of the route: 503, the client
    // retries at the new leader.
    spdlog::warn("HTTP {} {}: 503 {}", escaped(req.method), escaped(req.target, 200), escaped(e.what(), 300));
    auto r = error_response(503, "this gateway no longer leads (another took over); retry in a few seconds");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  } catch (const om::lab_error& e) {
    // Lab and archive refusals (om/http_lab.hpp): the message, plus every field error when listed.
    count_rejected(e.status() == 403 ? "forbidden" : e.status() == 404 ? "not_found" : e.status() == 503 ? "unavailable" : "bad_body");
    spdlog::info("HTTP {} {}: {} {}", escaped(req.method), escaped(req.target, 200), e.status(), escaped(e.what(), 200));
    auto r = error_response(e.status(), e.what());
    if (!e.errors().is_null()) {
      auto j = json::parse(r.body, nullptr, false);
      j["errors"] = e.errors();
      r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return r;
  } catch (const auth::auth_error& e) {
    // Identity refusals (auth/routes.hpp): their messages never hold a secret.
    count_rejected(e.status() == 401 ? "unauthorized" : e.status() == 404 ? "not_found" : e.status() == 409 ? "conflict" : "bad_body");
    spdlog::info("HTTP {} {}: {} {}", escaped(req.method), escaped(req.target, 200), e.status(), escaped(e.what(), 200));
    return error_response(e.status(), e.what());
  } catch (const om::om_error& e) {
    // Work-order refusals (om/work_orders.hpp): the message names the field and the reason; the
    // code (checkin_required, photo_required, too_far, ...) is in the answer too, for the pages.
    count_rejected(e.code());
    spdlog::info("HTTP {} {}: {} {}", escaped(req.method), escaped(req.target, 200), e.status(), escaped(e.what(), 200));
    return json_response(e.status(), json{{"error", {{"status", e.status()}, {"message", e.what()}, {"code", e.code()}}}});
  } catch (const api_error& e) {
    if (e.status >= 500) {
      {
        const std::lock_guard lock(counters_mutex_);
        ++counters_.internal_errors;
      }
      spdlog::error("HTTP {} {}: {}", escaped(req.method), escaped(req.target, 200), e.message);
    } else {
      count_rejected(e.reason);
      spdlog::info("HTTP {} {}: {} {}", escaped(req.method), escaped(req.target, 200), e.status, e.message);
    }
    auto r = error_response(e.status, e.message);
    for (const auto& h : e.headers) r.headers.push_back(h);
    return r;
  } catch (const std::exception& e) {
    {
      const std::lock_guard lock(counters_mutex_);
      ++counters_.internal_errors;
    }
    spdlog::error("HTTP {} {} failed: {}", escaped(req.method), escaped(req.target, 200), escaped(e.what(), 500));
    return error_response(500, "internal error: " + escaped(e.what(), 200));
  } catch (...) {
    {
      const std::lock_guard lock(counters_mutex_);
      ++counters_.internal_errors;
    }
    spdlog::error("HTTP {} {} failed: unknown exception", escaped(req.method), escaped(req.target, 200));
    return last_resort_500();
  }
}

void api::count_rejected(const std::string& reason) {
  const std::lock_guard lock(counters_mutex_);
  ++counters_.rejected[reason];
}

api_counters api::counters() const {
  const std::lock_guard lock(counters_mutex_);
  return counters_;
}

void api::set_incidents(incidents::correlator* corr, const network::holder* pipes) noexcept {
  incidents_ = corr;
  incident_reads_ = corr;
  pipes_ = pipes;
}

bool api::is_read_request(const http_request& req) noexcept {
  try {
    if (req.method != "GET" && req.method != "HEAD") return false;
    const auto t = parse_target(req.target);
    for (const auto& r : route_table()) {
      if (!match(r.info.pattern, t.segments, nullptr) || r.info.method != "GET") continue;
      return r.info.read_route;  // the first GET route that matches is the one dispatch takes
    }
  } catch (...) {
    // a target that does not parse: the engine's thread answers the 400 (cheap)
  }
  return false;
}

http_response api::busy(const http_request& req, unsigned retry_after_s) {
  {
    const std::lock_guard lock(counters_mutex_);
    ++counters_.requests;
    ++counters_.read_busy;
  }
  spdlog::debug("HTTP {} {}: 503 reader queue full", escaped(req.method), escaped(req.target, 200));
  auto r = error_response(503, "too many read requests waiting; retry in " + std::to_string(retry_after_s) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

}  // namespace sewage::gateway
