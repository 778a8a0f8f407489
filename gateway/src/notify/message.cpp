// Notifications room: request bodies per target kind and language, DingTalk signature, answers.
#include "sewage/gateway/notify/message.hpp"

#include <sewage/proto/resolution.hpp>
#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <vector>

namespace sewage::gateway {
namespace {

using nlohmann::json;

struct words {
  std::string_view terminal, town, type, severity, value, threshold, time, alert_id, acked_by, note;
};
constexpr words zh{"终端", "镇/街道", "告警类型", "级别", "数值", "阈值", "时间", "告警编号", "确认人", "备注"};
constexpr words en{"Terminal", "Town", "Alert", "Severity", "Value", "Threshold", "Time", "Alert id", "Acknowledged by",
                   "Note"};

std::string_view type_words(proto::alert_type t, notify_language l) {
  const bool z = l == notify_language::zh_cn;
  switch (t) {
    case proto::alert_type::offline: return z ? "终端离线" : "Terminal offline";
    case proto::alert_type::turbidity_high: return z ? "出水浊度超标" : "Effluent turbidity high";
    case proto::alert_type::no_flow: return z ? "无出水流量（堵塞或泵故障）" : "No effluent flow (blockage or pump failure)";
    case proto::alert_type::flow_high: return z ? "流量超过设计能力" : "Flow above design capacity";
    case proto::alert_type::cleanout_required: return z ? "需要清掏污泥" : "Sludge clean-out required";
    case proto::alert_type::sensor_fault: return z ? "传感器故障" : "Sensor fault";
    case proto::alert_type::queue_overflow: return z ? "终端缓存溢出，数据丢失" : "Records lost from the terminal's full queue";
    case proto::alert_type::clock_skew: return z ? "终端时钟偏差" : "Terminal clock wrong";
    case proto::alert_type::power_without_flow:
      return z ? "有电耗无出水（泵空转或出水堵塞）" : "Power drawn without flow (pump running dry or outlet blocked)";
    case proto::alert_type::flow_without_power:
      return z ? "有出水无电耗（供电或电表故障、旁通）" : "Flow without power (supply or meter fault, bypass)";
    case proto::alert_type::pump_fault: return z ? "泵站水泵故障" : "Pump station: pump fault";
    case proto::alert_type::wet_well_high: return z ? "泵站集水井高液位（溢流风险）" : "Pump station: wet well high (overflow risk)";
    case proto::alert_type::wet_well_low: return z ? "泵站集水井低液位（干转风险）" : "Pump station: wet well low (dry-run risk)";
    case proto::alert_type::pump_no_level_drop:
      return z ? "泵站水泵运行但液位不降" : "Pump station: pump running, level not falling";
    case proto::alert_type::power_lost: return z ? "泵站市电中断" : "Pump station: mains power lost";
    case proto::alert_type::pump_runtime_abnormal:
      return z ? "泵站运行时长异常" : "Pump station: run time far from its normal";
    case proto::alert_type::low_flow:
      return z ? "出水量远低于该站同时段常态（上游堵塞或破损）" : "Flow far below this site's normal for the hour (blockage or burst upstream)";
    case proto::alert_type::cleanout_due_soon:
      return z ? "污泥即将达到清掏液位，请预约吸污车" : "Sludge will reach the clean-out level soon: book a suction tanker";
  }
  return "?";
}

std::string_view severity_words(severity s, notify_language l) {
  const bool z = l == notify_language::zh_cn;
  switch (s) {
    case severity::critical: return z ? "严重" : "Critical";
    case severity::warning: return z ? "警告" : "Warning";
    case severity::info: return z ? "提示" : "Info";
  }
  return "?";
}

std::string_view event_words(proto::alert_state s, notify_language l) {
  const bool z = l == notify_language::zh_cn;
  switch (s) {
    case proto::alert_state::raised: return z ? "告警" : "raised";
    case proto::alert_state::acknowledged: return z ? "已确认" : "acknowledged";
    case proto::alert_state::cleared: return z ? "已恢复" : "cleared";
  }
  return "?";
}

// A number at its unit's resolution (resolution.hpp) with the unit: "15.25 NTU", "0.8 m3/h".
std::string with_unit(double v, proto::alert_type t, notify_language l) {
  const auto u = proto::value_unit(t);
  std::array<char, 32> buf{};  // shortest round-trip form of the value at its resolution: "10", "15.25"
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), proto::round_to(v, u));
  std::string n(buf.data(), res.ptr);
  if (u == proto::unit::count) return n + (l == notify_language::zh_cn ? " 次" : "");
  if (u == proto::unit::seconds && l == notify_language::zh_cn) return n + " 秒";
  return n + " " + std::string(proto::symbol(u));
}

// "2026-11-30 00:00:00 (Asia/Shanghai, UTC+08:00)": local wall time in the county's zone.
std::string local_time(proto::timestamp ts, const county_zone& zone) {
  using namespace std::chrono;
  const auto off = zone.offset_at(ts);
  const auto local = time_point_cast<seconds>(ts) + off;
  const auto day = floor<days>(local);
  const year_month_day ymd{day};
  const hh_mm_ss hms{local - day};
  const auto abs_off = off < minutes(0) ? -off : off;
  std::array<char, 96> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02u %02ld:%02ld:%02ld (%s, UTC%c%02ld:%02ld)",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()), zone.name().c_str(), off < minutes(0) ? '-' : '+',
                static_cast<long>(abs_off.count() / 60), static_cast<long>(abs_off.count() % 60));
  return buf.data();
}

proto::timestamp event_time(const proto::alert_message& a) {
  if (a.state == proto::alert_state::acknowledged && a.acked_at) return *a.acked_at;
  if (a.state == proto::alert_state::cleared && a.cleared_at) return *a.cleared_at;
  return a.raised_at;
}

struct rendered {
  std::string title;
  std::vector<std::string> lines;
};

rendered render_text(const notify_target& target, const proto::alert_message& a, const terminal_info* t,
                     const county_zone& zone) {
  const auto l = target.language;
  const auto& w = l == notify_language::zh_cn ? zh : en;
  const std::string colon = l == notify_language::zh_cn ? "：" : ": ";
  const std::string sev(severity_words(alert_severity(a.type), l));
  const std::string type(type_words(a.type, l));
  const std::string name = t != nullptr && !t->name.empty() ? t->name : "-";
  const std::string town = t != nullptr && !t->town.empty() ? t->town : "-";
  rendered r;
  r.title = (l == notify_language::zh_cn ? "【" + sev + "】" : "[" + sev + "] ") + type + " " +
            std::string(event_words(a.state, l)) + " " + a.terminal_id;
  r.lines.push_back("### " + r.title);
  const auto line = [&](std::string_view label, const std::string& v) {
    r.lines.push_back("- " + std::string(label) + colon + v);
  };
  line(w.terminal, a.terminal_id + " " + name);
  line(w.town, town);
  line(w.type, type);
  line(w.severity, sev);
  if (a.value) line(w.value, with_unit(*a.value, a.type, l));
  if (a.threshold) line(w.threshold, with_unit(*a.threshold, a.type, l));
  line(w.time, local_time(event_time(a), zone));
  if (a.state == proto::alert_state::acknowledged) {
    if (a.acked_by) line(w.acked_by, *a.acked_by);
    if (a.ack_note) line(w.note, *a.ack_note);
  }
  line(w.alert_id, std::to_string(a.alert_id));
  return r;
}

std::string join(const std::vector<std::string>& lines, std::string_view sep) {
  std::string out;
  for (const auto& s : lines) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// The WeCom / DingTalk request body of a rendered text.
std::string markdown_body(notify_kind kind, const rendered& r) {
  json body;
  body["msgtype"] = "markdown";
  if (kind == notify_kind::wecom) {
    body["markdown"] = {{"content", join(r.lines, "\n")}};
  } else {
    // DingTalk's markdown needs a blank line for a line break.
    body["markdown"] = {{"title", r.title}, {"text", join(r.lines, "\n\n")}};
  }
  return body.dump();
}

// RFC 3986 percent-encoding: unreserved characters kept, everything else %XX.
std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string_view notify_event(proto::alert_state s) noexcept {
  switch (s) {
    case proto::alert_state::raised: return "raise";
    case proto::alert_state::acknowledged: return "ack";
    case proto::alert_state::cleared: return "clear";
  }
  return "raise";
}

std::string render_notification(const notify_target& target, const proto::alert_message& alert,
                                 const terminal_info* terminal, const county_zone& zone) {
  if (target.kind == notify_kind::webhook) return proto::encode(alert);
  return markdown_body(target.kind, render_text(target, alert, terminal, zone));
}

std::string_view alert_type_words(proto::alert_type t, notify_language l) noexcept { return type_words(t, l); }

std::string_view level_words(notify_level level, notify_language l) noexcept {
  const bool z = l == notify_language::zh_cn;
  switch (level) {
    case notify_level::operator_: return z ? "值班" : "operator";
    case notify_level::town: return z ? "镇级" : "town";
    case notify_level::county: return z ? "县级" : "county";
  }
  return "?";
}

std::string render_escalation(const notify_target& target, notify_level level, const std::string& site_id,
                              const std::string& town, const escalation_message& msg, const county_zone& zone) {
  const auto l = target.language;
  const bool z = l == notify_language::zh_cn;
  const std::string& what = z ? msg.what_zh : msg.what_en;
  const std::string lw(level_words(level, l));
  if (target.kind == notify_kind::webhook) {
    return json{{"kind", "escalation"},
                {"level", std::string(to_string(level))},
                {"site_id", site_id},
                {"site_name", msg.site_name},
                {"town", town},
                {"subject_kind", msg.subject_kind},
                {"subject_id", msg.subject_id},
                {"what", what},
                {"since", proto::format_timestamp(msg.since)}}
        .dump();
  }
  const std::string colon = z ? "：" : ": ";
  rendered r;
  r.title = (z ? "【升级·" + lw + "】" : "[Escalated: " + lw + "] ") + what + " " + site_id;
  r.lines.push_back("### " + r.title);
  const auto line = [&](std::string_view label, const std::string& v) {
    r.lines.push_back("- " + std::string(label) + colon + v);
  };
  line(z ? "站点" : "Site", site_id + " " + (msg.site_name.empty() ? std::string("-") : msg.site_name));
  line(z ? "镇/街道" : "Town", town.empty() ? std::string("-") : town);
  line(z ? "事项" : "What", what);
  line(z ? "起始时间" : "Since", local_time(msg.since, zone));
  line(z ? "升级级别" : "Level", lw);
  line(z ? "编号" : "Reference", msg.subject_kind + " " + std::to_string(msg.subject_id));
  return markdown_body(target.kind, r);
}

std::string dingtalk_signature(std::string_view secret, std::int64_t timestamp_ms) {
  const std::string to_sign = std::to_string(timestamp_ms) + "\n" + std::string(secret);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac.data(), &mac_len);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
  const int n = EVP_EncodeBlock(b64.data(), mac.data(), static_cast<int>(mac_len));
  return url_encode(std::string_view(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n)));
}

std::string dingtalk_signed_url(const std::string& url, std::string_view secret, std::int64_t timestamp_ms) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "timestamp=" + std::to_string(timestamp_ms) +
         "&sign=" + dingtalk_signature(secret, timestamp_ms);
}

std::string loggable_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  const std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto end = url.find_first_of("?#", start);
  if (end == std::string_view::npos) end = url.size();
  std::string_view rest = url.substr(start, end - start);
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  std::string out(url.substr(0, start));
  out += rest;
  if (end < url.size()) out += "?…";
  return out;
}

answer_verdict judge_answer(notify_kind kind, long http_status, std::string_view body) {
  answer_verdict v;
  if (http_status < 200 || http_status > 299) {
    v.error = "HTTP " + std::to_string(http_status);
    v.permanent = http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429;
    return v;
  }
  if (kind == notify_kind::webhook) {
    v.delivered = true;
    return v;
  }
  const auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errcode") || !j["errcode"].is_number_integer()) {
    v.error = "answer without an integer errcode: " + std::string(body.substr(0, 200));
    return v;
  }
  const auto code = j["errcode"].get<std::int64_t>();
  if (code == 0) {
    v.delivered = true;
    return v;
  }
  const std::string msg = j.contains("errmsg") && j["errmsg"].is_string() ? j["errmsg"].get<std::string>() : "";
  v.error = "errcode " + std::to_string(code) + ": " + msg.substr(0, 200);
  if (kind == notify_kind::wecom) v.permanent = code == 93000;
  if (kind == notify_kind::dingtalk) v.permanent = code == 300001 || code == 310000;
  return v;
}

std::string_view to_string(notify_kind k) noexcept {
  switch (k) {
    case notify_kind::webhook: return "webhook";
    case notify_kind::wecom: return "wecom";
    case notify_kind::dingtalk: return "dingtalk";
  }
  return "webhook";
}

namespace {
// The value of `all` whose to_string is `s`.
template <class E>
std::optional<E> parse_by_name(std::string_view s, std::initializer_list<E> all) noexcept {
  for (auto e : all)
    if (to_string(e) == s) return e;
  return std::nullopt;
}
}  // namespace

std::optional<notify_kind> parse_notify_kind(std::string_view s) noexcept {
  return parse_by_name(s, {notify_kind::webhook, notify_kind::wecom, notify_kind::dingtalk});
}

std::string_view to_string(notify_level l) noexcept {
  switch (l) {
    case notify_level::operator_: return "operator";
    case notify_level::town: return "town";
    case notify_level::county: return "county";
  }
  return "operator";
}

std::optional<notify_level> parse_notify_level(std::string_view s) noexcept {
  return parse_by_name(s, {notify_level::operator_, notify_level::town, notify_level::county});
}

std::string_view to_string(notify_language l) noexcept { return l == notify_language::zh_cn ? "zh-CN" : "en"; }

std::optional<notify_language> parse_notify_language(std::string_view s) noexcept {
  if (s == "zh-CN") return notify_language::zh_cn;
  if (s == "en") return notify_language::en;
  return std::nullopt;
}

}  // namespace sewage::gateway
