#include "sewage/proto/alert.hpp"

#include "detail/object_reader.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/payload.hpp"

#include <limits>

namespace sewage::proto {
namespace {

using nlohmann::json;
using detail::object_reader;
using detail::presence_rule;
constexpr auto required = presence_rule::required;
constexpr auto optional = presence_rule::optional;

constexpr std::string_view type_choices =
    "\"offline\", \"turbidity_high\", \"no_flow\", \"flow_high\", \"cleanout_required\", "
    "\"sensor_fault\", \"queue_overflow\", \"clock_skew\", \"power_without_flow\", \"flow_without_power\", "
    "\"pump_fault\", \"wet_well_high\", \"wet_well_low\", \"pump_no_level_drop\", \"power_lost\", "
    "\"pump_runtime_abnormal\", \"low_flow\", \"cleanout_due_soon\"";

template <class T>
void put(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

}  // namespace

unit value_unit(alert_type type) noexcept {
  switch (type) {
    case alert_type::turbidity_high: return unit::ntu;
    case alert_type::no_flow:
    case alert_type::flow_high: return unit::m3_per_h;
    case alert_type::cleanout_required: return unit::m;
    case alert_type::offline:
    case alert_type::clock_skew: return unit::seconds;
    case alert_type::sensor_fault:
    case alert_type::queue_overflow: return unit::count;
    case alert_type::power_without_flow:
    case alert_type::flow_without_power: return unit::kw;
    case alert_type::pump_fault: return unit::count;
    case alert_type::wet_well_high:
    case alert_type::wet_well_low:
    case alert_type::pump_no_level_drop: return unit::m;
    case alert_type::power_lost: return unit::seconds;
    case alert_type::pump_runtime_abnormal: return unit::hours;
    case alert_type::low_flow: return unit::m3_per_h;
    case alert_type::cleanout_due_soon: return unit::m;
  }
  return unit::count;
}

std::string_view to_string(alert_type type) noexcept {
  switch (type) {
    case alert_type::offline: return "offline";
    case alert_type::turbidity_high: return "turbidity_high";
    case alert_type::no_flow: return "no_flow";
    case alert_type::flow_high: return "flow_high";
    case alert_type::cleanout_required: return "cleanout_required";
    case alert_type::sensor_fault: return "sensor_fault";
    case alert_type::queue_overflow: return "queue_overflow";
    case alert_type::clock_skew: return "clock_skew";
    case alert_type::power_without_flow: return "power_without_flow";
    case alert_type::flow_without_power: return "flow_without_power";
    case alert_type::pump_fault: return "pump_fault";
    case alert_type::wet_well_high: return "wet_well_high";
    case alert_type::wet_well_low: return "wet_well_low";
    case alert_type::pump_no_level_drop: return "pump_no_level_drop";
    case alert_type::power_lost: return "power_lost";
    case alert_type::pump_runtime_abnormal: return "pump_runtime_abnormal";
    case alert_type::low_flow: return "low_flow";
    case alert_type::cleanout_due_soon: return "cleanout_due_soon";
  }
  return "unknown";
}

std::optional<alert_type> parse_alert_type(std::string_view name) noexcept {
  for (const auto t : all_alert_types) {
    if (to_string(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view to_string(alert_state state) noexcept {
  switch (state) {
    case alert_state::raised: return "raised";
    case alert_state::acknowledged: return "acknowledged";
    case alert_state::cleared: return "cleared";
  }
  return "unknown";
}

std::optional<alert_state> parse_alert_state(std::string_view name) noexcept {
  if (name == "raised") return alert_state::raised;
  if (name == "acknowledged") return alert_state::acknowledged;
  if (name == "cleared") return alert_state::cleared;
  return std::nullopt;
}

std::string encode(const alert_message& m) {
  json j;
  j["terminal_id"] = m.terminal_id;
  j["type"] = std::string(to_string(m.type));
  j["state"] = std::string(to_string(m.state));
  j["alert_id"] = m.alert_id;
  j["raised_at"] = format_timestamp(m.raised_at);
  if (m.acked_at) j["acked_at"] = format_timestamp(*m.acked_at);
  put(j, "acked_by", m.acked_by);
  put(j, "ack_note", m.ack_note);
  if (m.cleared_at) j["cleared_at"] = format_timestamp(*m.cleared_at);
  detail::put_measured(j, "value", m.value, value_unit(m.type));
  detail::put_measured(j, "threshold", m.threshold, value_unit(m.type));
  j["message"] = m.message;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

decoded<alert_message> decode_alert(std::string_view payload,
                                    std::optional<std::string_view> topic_terminal_id,
                                    std::optional<alert_type> topic_type) {
  decoded<alert_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  auto& problems = out.problems;
  object_reader r(*parsed.doc, "", problems);
  alert_message m;
  const auto id = r.identifier("terminal_id", required, limits::max_terminal_id_length,
                               &detail::is_id_char, "[A-Za-z0-9_-]{1,32}");
  detail::check_terminal_id(r, id, topic_terminal_id);
  const auto type = r.enumeration<alert_type>("type", required, &parse_alert_type, type_choices);
  if (type && topic_type && *type != *topic_type) {
    r.add("type", problem_code::id_mismatch,
          "is \"" + std::string(to_string(*type)) + "\" but the topic is for \"" +
              std::string(to_string(*topic_type)) + "\"");
  }
  const auto state = r.enumeration<alert_state>("state", required, &parse_alert_state,
                                                "\"raised\", \"acknowledged\", \"cleared\"");
  const auto alert_id = r.unsigned_integer("alert_id", required, 1);
  const auto raised_at = r.time("raised_at", required);
  m.acked_at = r.time("acked_at", optional);
  m.acked_by = r.text("acked_by", optional, limits::max_reason_length);
  m.ack_note = r.text("ack_note", optional, limits::max_text_length);
  m.cleared_at = r.time("cleared_at", optional);
  const double inf = std::numeric_limits<double>::infinity();
  const unit vu = value_unit(type.value_or(alert_type::sensor_fault));
  m.value = r.measured("value", optional, -inf, inf, vu);
  m.threshold = r.measured("threshold", optional, -inf, inf, vu);
  const auto message = r.text("message", required, limits::max_text_length);
  if (state == alert_state::acknowledged || state == alert_state::cleared) {
    // A cleared episode may or may not have been acknowledged first; acknowledged needs both.
    if (state == alert_state::acknowledged) {
      if (!r.has("acked_at")) r.add("acked_at", problem_code::missing, "required when acknowledged");
      if (!r.has("acked_by")) r.add("acked_by", problem_code::missing, "required when acknowledged");
    }
  }
  if (state == alert_state::cleared && !r.has("cleared_at")) {
    r.add("cleared_at", problem_code::missing, "required when cleared");
  }
  if (raised_at && m.cleared_at && *m.cleared_at < *raised_at) {
    r.add("cleared_at", problem_code::inconsistent, "must not be before raised_at");
  }
  if (!problems.empty()) return out;
  m.terminal_id = *id;
  m.type = *type;
  m.state = *state;
  m.alert_id = *alert_id;
  m.raised_at = *raised_at;
  m.message = *message;
  out.value = std::move(m);
  return out;
}

}  // namespace sewage::proto
