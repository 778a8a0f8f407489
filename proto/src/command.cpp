#include "sewage/proto/command.hpp"

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
constexpr std::string_view id_pattern = "[A-Za-z0-9_.:-]{1,64}";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string_view to_string(command_name n) noexcept {
  switch (n) {
    case command_name::sample_now: return "sample_now";
    case command_name::snapshot_now: return "snapshot_now";
    case command_name::set_report_interval: return "set_report_interval";
    case command_name::get_config: return "get_config";
  }
  return "unknown";
}

std::optional<command_name> parse_command_name(std::string_view name) noexcept {
  for (const auto n : {command_name::sample_now, command_name::snapshot_now,
                       command_name::set_report_interval, command_name::get_config}) {
    if (to_string(n) == name) return n;
  }
  return std::nullopt;
}

std::string encode(const command_message& m) {
  json j;
  j["id"] = m.id;
  j["name"] = std::string(to_string(m.name));
  json args = json::object();
  if (m.interval_s) args["interval_s"] = *m.interval_s;
  j["args"] = std::move(args);
  if (m.ts) j["ts"] = format_timestamp(*m.ts);
  return dump(j);
}

decoded<command_message> decode_command(std::string_view payload) {
  decoded<command_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  auto& problems = out.problems;
  object_reader r(*parsed.doc, "", problems);
  command_message m;
  const auto id = r.identifier("id", required, limits::max_command_id_length,
                               &detail::is_command_id_char, id_pattern);
  const auto name = r.enumeration<command_name>(
      "name", required, &parse_command_name,
      "\"sample_now\", \"snapshot_now\", \"set_report_interval\", \"get_config\"");
  const json* args = r.object("args", optional);
  m.ts = r.time("ts", optional);
  if (name == command_name::set_report_interval) {
    if (args == nullptr) {
      if (!r.has("args")) r.add("args", problem_code::missing, "set_report_interval needs args.interval_s");
    } else {
      object_reader a(*args, "/args", problems);
      if (auto i = a.unsigned_integer("interval_s", required, limits::min_interval_s,
                                      limits::max_interval_s)) {
        m.interval_s = static_cast<std::uint32_t>(*i);
      }
    }
  }
  if (!problems.empty()) return out;
  m.id = *id;
  m.name = *name;
  out.value = std::move(m);
  return out;
}

std::optional<std::string> extract_command_id(std::string_view payload) {
  auto parsed = parse_payload(payload);
  if (!parsed.doc) return std::nullopt;
  std::vector<problem> ignored;
  object_reader r(*parsed.doc, "", ignored);
  return r.identifier("id", required, limits::max_command_id_length, &detail::is_command_id_char,
                      id_pattern);
}

std::string encode(const command_result_message& m) {
  json j;
  j["id"] = m.id;
  j["ok"] = m.ok;
  if (m.error) j["error"] = *m.error;
  if (m.result) j["result"] = *m.result;
  if (m.ts) j["ts"] = format_timestamp(*m.ts);
  return dump(j);
}

decoded<command_result_message> decode_command_result(std::string_view payload) {
  decoded<command_result_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  auto& problems = out.problems;
  object_reader r(*parsed.doc, "", problems);
  command_result_message m;
  const auto id = r.identifier("id", required, limits::max_command_id_length,
                               &detail::is_command_id_char, id_pattern);
  const auto ok = r.boolean("ok", required);
  m.error = r.text("error", optional, limits::max_text_length);
  if (const json* res = r.object("result", optional)) m.result = *res;
  m.ts = r.time("ts", optional);
  if (ok == false && !r.has("error")) r.add("error", problem_code::missing, "required when ok is false");
  if (!problems.empty()) return out;
  m.id = *id;
  m.ok = *ok;
  out.value = std::move(m);
  return out;
}

}  // namespace sewage::proto
