#include "sewage/proto/status.hpp"

#include "detail/object_reader.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/payload.hpp"

namespace sewage::proto {
namespace {

using nlohmann::json;
using detail::object_reader;
using detail::presence_rule;
constexpr auto required = presence_rule::required;
constexpr auto optional = presence_rule::optional;

std::optional<presence> parse_presence(std::string_view s) noexcept {
  if (s == "online") return presence::online;
  if (s == "offline") return presence::offline;
  return std::nullopt;
}

std::optional<offline_reason> parse_offline_reason(std::string_view s) noexcept {
  if (s == "connection_lost") return offline_reason::connection_lost;
  if (s == "shutdown") return offline_reason::shutdown;
  return std::nullopt;
}

bool is_hex_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_version_char(char c) noexcept {
  return detail::is_id_char(c) || c == '.' || c == '+' || c == '~';
}

/// Fields shared by terminal and gateway presence: state, ts, reason. Applies the rules:
/// online -> ts required, reason absent; offline -> reason required; ts required unless the
/// reason is connection_lost (a last will is composed at connect time and has no meaningful ts).
struct presence_fields {
  std::optional<presence> state;
  std::optional<timestamp> ts;
  std::optional<offline_reason> reason;
};

presence_fields read_presence(object_reader& r) {
  presence_fields p;
  p.state = r.enumeration<presence>("state", required, &parse_presence, "\"online\", \"offline\"");
  p.ts = r.time("ts", presence_rule::optional);
  p.reason = r.enumeration<offline_reason>("reason", optional, &parse_offline_reason,
                                           "\"connection_lost\", \"shutdown\"");
  if (p.state == presence::online) {
    if (!r.has("ts")) r.add("ts", problem_code::missing, "required when state is \"online\"");
    if (r.has("reason")) r.add("reason", problem_code::inconsistent, "only allowed when offline");
  } else if (p.state == presence::offline) {
    if (!r.has("reason")) r.add("reason", problem_code::missing, "required when state is \"offline\"");
    if (p.reason == offline_reason::shutdown && !r.has("ts")) {
      r.add("ts", problem_code::missing, "required when reason is \"shutdown\"");
    }
  }
  return p;
}

template <class T>
void put(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

void put_presence(json& j, presence state, const std::optional<timestamp>& ts,
                  const std::optional<offline_reason>& reason) {
  j["state"] = std::string(to_string(state));
  if (ts) j["ts"] = format_timestamp(*ts);
  if (reason) j["reason"] = std::string(to_string(*reason));
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string_view to_string(presence p) noexcept {
  return p == presence::online ? "online" : "offline";
}

std::string_view to_string(offline_reason r) noexcept {
  return r == offline_reason::shutdown ? "shutdown" : "connection_lost";
}

std::string encode(const status_message& m) {
  json j;
  j["terminal_id"] = m.terminal_id;
  put_presence(j, m.state, m.ts, m.reason);
  put(j, "agent_version", m.agent_version);
  put(j, "config_digest", m.config_digest);
  put(j, "epoch", m.epoch);
  put(j, "report_interval_s", m.report_interval_s);
  return dump(j);
}

decoded<status_message> decode_status(std::string_view payload,
                                      std::optional<std::string_view> topic_terminal_id) {
  decoded<status_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  object_reader r(*parsed.doc, "", out.problems);
  status_message m;
  const auto id = r.identifier("terminal_id", required, limits::max_terminal_id_length,
                               &detail::is_id_char, "[A-Za-z0-9_-]{1,32}");
  detail::check_terminal_id(r, id, topic_terminal_id);
  const auto p = read_presence(r);
  const auto online_rule = p.state == presence::online ? required : optional;
  m.agent_version =
      r.identifier("agent_version", online_rule, 64, &is_version_char, "[A-Za-z0-9_.+~-]{1,64}");
  m.config_digest =
      r.identifier("config_digest", online_rule, 128, &is_hex_char, "hexadecimal, 1-128 digits");
  m.epoch = r.identifier("epoch", optional, limits::max_epoch_length, &detail::is_id_char,
                         "[A-Za-z0-9_-]{1,64}");
  if (auto i = r.unsigned_integer("report_interval_s", optional, limits::min_interval_s,
                                  limits::max_interval_s)) {
    m.report_interval_s = static_cast<std::uint32_t>(*i);
  }
  if (!out.problems.empty()) return out;
  m.terminal_id = *id;
  m.state = *p.state;
  m.ts = p.ts;
  m.reason = p.reason;
  out.value = std::move(m);
  return out;
}

std::string encode(const gateway_status_message& m) {
  json j;
  put_presence(j, m.state, m.ts, m.reason);
  put(j, "version", m.version);
  put(j, "receipts", m.receipts);
  return dump(j);
}

decoded<gateway_status_message> decode_gateway_status(std::string_view payload) {
  decoded<gateway_status_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  object_reader r(*parsed.doc, "", out.problems);
  const auto p = read_presence(r);
  gateway_status_message m;
  m.version = r.identifier("version", p.state == presence::online ? required : optional, 64,
                           &is_version_char, "[A-Za-z0-9_.+~-]{1,64}");
  m.receipts = r.boolean("receipts", optional);
  if (m.receipts && p.state != presence::online) r.add("receipts", problem_code::inconsistent, "only allowed when online");
  if (!out.problems.empty()) return out;
  m.state = *p.state;
  m.ts = p.ts;
  m.reason = p.reason;
  out.value = std::move(m);
  return out;
}

}  // namespace sewage::proto
