// Notifications room: the [notify] table and its [[notify.target]] array of the gateway config.
#include "sewage/gateway/notify/settings.hpp"

#include "toml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

namespace sewage::gateway::detail {
namespace {

bool read_bool(toml_reader& r, std::string_view key, bool fallback) {
  const auto* n = r.raw(key);
  if (n == nullptr) return fallback;
  if (!n->is_boolean()) r.fail(key, "must be true or false");
  return *n->value<bool>();
}

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

notify_target read_target(toml_reader& r, const std::function<std::string(const std::string&)>& resolve_path) {
  notify_target t;
  r.read("name", t.name);
  if (!valid_name(t.name)) r.fail("name", "must be 1..64 characters of A-Z a-z 0-9 _ - (names the target in logs and metrics)");
  std::string kind;
  r.read("kind", kind);
  const auto k = parse_notify_kind(kind);
  if (!k) r.fail("kind", "must be \"webhook\", \"wecom\" or \"dingtalk\", got \"" + kind + "\"");
  t.kind = *k;
  r.read("url", t.url);
  r.read("secret", t.secret);
  if (!t.secret.empty() && t.kind != notify_kind::dingtalk)
    r.fail("secret", "is only used by kind = \"dingtalk\" (its signed URLs)");
  std::string lang(to_string(t.language));
  r.read("language", lang);
  const auto l = parse_notify_language(lang);
  if (!l) r.fail("language", "must be \"zh-CN\" or \"en\", got \"" + lang + "\"");
  t.language = *l;
  r.read("events", t.events);
  if (t.events.empty()) r.fail("events", "must name at least one of \"raise\", \"ack\", \"clear\"");
  for (const auto& e : t.events)
    if (e != "raise" && e != "ack" && e != "clear")
      r.fail("events", "\"" + e + "\" is not one of \"raise\", \"ack\", \"clear\"");
  std::string sev(to_string(t.min_severity));
  r.read("min_severity", sev);
  if (sev == "info") t.min_severity = severity::info;
  else if (sev == "warning") t.min_severity = severity::warning;
  else if (sev == "critical") t.min_severity = severity::critical;
  else r.fail("min_severity", "must be \"info\", \"warning\" or \"critical\", got \"" + sev + "\"");
  r.read("towns", t.towns);
  std::string level(to_string(t.level));
  r.read("level", level);
  const auto lv = parse_notify_level(level);
  if (!lv) r.fail("level", "must be \"operator\", \"town\" or \"county\", got \"" + level + "\"");
  t.level = *lv;
  t.allow_plaintext = read_bool(r, "allow_plaintext", false);
  r.read("ca_file", t.ca_file);
  if (!t.ca_file.empty()) {
    t.ca_file = resolve_path(t.ca_file);
    if (!std::filesystem::is_regular_file(t.ca_file)) r.fail("ca_file", "no such file: " + t.ca_file);
  }
  r.reject_unknown();
  // The URL is never echoed (its query may hold the robot's key or token).
  const bool https = t.url.rfind("https://", 0) == 0;
  const bool http = t.url.rfind("http://", 0) == 0;
  if (!https && !http) r.fail("url", "must start with https:// (or http:// with allow_plaintext = true)");
  if (https && t.url.size() <= 8) r.fail("url", "has no host");
  if (http && !t.allow_plaintext)
    r.fail("url", "is plaintext http://: set allow_plaintext = true in this target to accept that (the message and "
                  "the URL's key travel unencrypted), or use https://");
  return t;
}

}  // namespace

void read_notify(const toml::table& table, notify_settings& out,
                 const std::function<std::string(const std::string&)>& resolve_path) {
  toml_reader r(table, "notify");
  r.read_int("queue_max", out.queue_max, 1, 10'000'000);
  r.read_int("max_attempts", out.max_attempts, 1, 100'000);
  std::int64_t v = out.initial_backoff.count();
  r.read_int("initial_backoff_ms", v, 10, 3'600'000);
  out.initial_backoff = std::chrono::milliseconds(v);
  v = out.max_backoff.count();
  r.read_int("max_backoff_ms", v, 10, 86'400'000);
  out.max_backoff = std::chrono::milliseconds(v);
  v = out.timeout.count();
  r.read_int("timeout_ms", v, 100, 600'000);
  out.timeout = std::chrono::milliseconds(v);
  if (out.max_backoff < out.initial_backoff) r.fail("max_backoff_ms", "must not be below initial_backoff_ms");
  if (const auto* n = r.raw("target")) {
    if (!n->is_array_of_tables()) r.fail("target", "must be [[notify.target]] tables");
    std::set<std::string> names;
    std::size_t i = 0;
    for (const auto& e : *n->as_array()) {
      toml_reader tr(*e.as_table(), "notify.target[" + std::to_string(i++) + "]");
      auto t = read_target(tr, resolve_path);
      if (!names.insert(t.name).second) tr.fail("name", "\"" + t.name + "\" is used by an earlier target");
      out.targets.push_back(std::move(t));
    }
  }
  r.reject_unknown();
}

}  // namespace sewage::gateway::detail
