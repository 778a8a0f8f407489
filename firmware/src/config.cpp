#include "sewage/agent/config.hpp"
#include "sewage/agent/pump_station.hpp"
#include "sewage/agent/sensor_driver.hpp"

#include "sewage/proto/broker_uri.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/topic.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

namespace sewage::agent {

config_error::config_error(std::string key, const std::string& reason)
    : std::runtime_error(key + ": " + reason), key_(std::move(key)) {}

namespace detail {

namespace {
std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string type_name(const toml::node& n) {
  std::ostringstream os;
  os << n.type();
  return os.str();
}
}  // namespace

std::string get_string(const toml::table& t, std::string_view key, const std::string& path,
                       std::optional<std::string> fallback) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (fallback) return *fallback;
    throw config_error(join(path, key), "is required (a string)");
  }
  if (const auto* s = n->as_string()) return s->get();
  throw config_error(join(path, key), "must be a string, got " + type_name(*n));
}

double get_double(const toml::table& t, std::string_view key, const std::string& path,
                  std::optional<double> fallback, double lo, double hi) {
  const toml::node* n = t.get(key);
  double v = 0;
  if (n == nullptr) {
    if (fallback) return *fallback;
    throw config_error(join(path, key), "is required (a number)");
  }
  if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else {
    throw config_error(join(path, key), "must be a number, got " + type_name(*n));
  }
  if (!std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream os;
    os << "must be a number in [" << lo << ", " << hi << "], got " << v;
    throw config_error(join(path, key), os.str());
  }
  return v;
}

std::int64_t get_int(const toml::table& t, std::string_view key, const std::string& path,
                     std::optional<std::int64_t> fallback, std::int64_t lo, std::int64_t hi) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (fallback) return *fallback;
    throw config_error(join(path, key), "is required (an integer)");
  }
  const auto* i = n->as_integer();
  if (i == nullptr) throw config_error(join(path, key), "must be an integer, got " + type_name(*n));
  const std::int64_t v = i->get();
  if (v < lo || v > hi) {
    throw config_error(join(path, key), "must be an integer in [" + std::to_string(lo) + ", " +
                                            std::to_string(hi) + "], got " + std::to_string(v));
  }
  return v;
}

bool get_bool(const toml::table& t, std::string_view key, const std::string& path,
              std::optional<bool> fallback) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (fallback) return *fallback;
    throw config_error(join(path, key), "is required (true or false)");
  }
  if (const auto* b = n->as_boolean()) return b->get();
  throw config_error(join(path, key), "must be true or false, got " + type_name(*n));
}

void reject_unknown(const toml::table& t, const std::vector<std::string_view>& allowed,
                    const std::string& path) {
  for (const auto& [k, v] : t) {
    bool known = false;
    for (const auto a : allowed) known = known || (k.str() == a);
    if (!known) throw config_error(join(path, k.str()), "unknown key");
  }
}

}  // namespace detail

namespace {

using detail::get_bool;
using detail::get_double;
using detail::get_int;
using detail::get_string;

const toml::table* sub_table(const toml::table& root, std::string_view key) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  if (const auto* t = n->as_table()) return t;
  throw config_error(std::string(key), "must be a table");
}

std::string fnv1a_hex(std::string_view text) {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;  // FNV-1a 64-bit prime
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}


mqtt_config parse_mqtt(const toml::table& root) {
  mqtt_config m;
  const toml::table* t = sub_table(root, "mqtt");
  if (t == nullptr) throw config_error("mqtt", "is required (a table with at least uri)");
  detail::reject_unknown(*t,
                         {"uri", "fallback_uris", "allow_plaintext", "username", "password", "ca_file",
                          "cert_file", "key_file", "keep_alive_s", "reconnect_min_s", "reconnect_max_s",
                          "max_inflight", "replay_per_s", "max_packet_bytes"},
                         "mqtt");
  const std::string uri = get_string(*t, "uri", "mqtt", std::nullopt);
  if (const auto why = proto::broker_uri_problem(uri)) throw config_error("mqtt.uri", *why + " in \"" + uri + "\"");
  m.uris.push_back(uri);
  if (const toml::node* f = t->get("fallback_uris")) {
    const auto* arr = f->as_array();
    if (arr == nullptr) throw config_error("mqtt.fallback_uris", "must be an array of strings");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* s = (*arr)[i].as_string();
      const std::string key = "mqtt.fallback_uris[" + std::to_string(i) + "]";
      if (s == nullptr) throw config_error(key, "must be a string");
      if (const auto why = proto::broker_uri_problem(s->get())) throw config_error(key, *why + " in \"" + s->get() + "\"");
      m.uris.push_back(s->get());
    }
  }
  m.username = get_string(*t, "username", "mqtt", "");
  m.password = get_string(*t, "password", "mqtt", "");
  m.ca_file = get_string(*t, "ca_file", "mqtt", "");
  m.cert_file = get_string(*t, "cert_file", "mqtt", "");
  m.key_file = get_string(*t, "key_file", "mqtt", "");
  if (m.cert_file.empty() != m.key_file.empty()) {
    throw config_error(m.cert_file.empty() ? "mqtt.cert_file" : "mqtt.key_file",
                       "cert_file and key_file must be given together");
  }
  // TLS files with a plaintext URI: Paho would connect in clear and send the password, while the
  // example (and the operator) expect ca_file to mean TLS. Refuse it, naming both keys.
  if (!m.ca_file.empty() || !m.cert_file.empty()) {
    const std::string tls_key = !m.ca_file.empty() ? "mqtt.ca_file" : "mqtt.cert_file";
    for (std::size_t i = 0; i < m.uris.size(); ++i) {
      if (proto::broker_uri_uses_tls(m.uris[i])) continue;
      const std::string uri_key = i == 0 ? "mqtt.uri" : "mqtt.fallback_uris[" + std::to_string(i - 1) + "]";
      throw config_error(tls_key, "is set but " + uri_key + " \"" + m.uris[i] +
                                      "\" is plaintext (tcp:// or mqtt://): the password would be sent in clear; "
                                      "use ssl:// or mqtts:// for TLS, or remove " + tls_key);
    }
  }
  // TLS by default (DESIGN.md, "Identity"): a plain URI needs the explicit opt-in, logged at start.
  m.allow_plaintext = get_bool(*t, "allow_plaintext", "mqtt", false);
  for (std::size_t i = 0; i < m.uris.size(); ++i) {
    if (const auto why = proto::broker_uri_plaintext_refusal(m.uris[i], m.allow_plaintext)) {
      throw config_error(i == 0 ? "mqtt.uri" : "mqtt.fallback_uris[" + std::to_string(i - 1) + "]", *why);
    }
  }
  m.keep_alive_s = static_cast<std::uint32_t>(get_int(*t, "keep_alive_s", "mqtt", 30, 2, 3600));
  m.reconnect_min_s =
      static_cast<std::uint32_t>(get_int(*t, "reconnect_min_s", "mqtt", 1, 1, 3600));
  m.reconnect_max_s =
      static_cast<std::uint32_t>(get_int(*t, "reconnect_max_s", "mqtt", 60, 1, 86400));
  if (m.reconnect_max_s < m.reconnect_min_s) {
    throw config_error("mqtt.reconnect_max_s", "must be >= mqtt.reconnect_min_s");
  }
  m.max_inflight = static_cast<std::uint32_t>(get_int(*t, "max_inflight", "mqtt", 20, 1, 500));
  m.replay_per_s = static_cast<std::uint32_t>(get_int(*t, "replay_per_s", "mqtt", 500, 1, 1000000));
  m.max_packet_bytes =
      static_cast<std::size_t>(get_int(*t, "max_packet_bytes", "mqtt", 262144, 1024, 268435455));
  return m;
}

std::vector<serial_line_config> parse_serial_lines(const toml::table& root) {
  std::vector<serial_line_config> out;
  const toml::node* n = root.get("serial_line");
  if (n == nullptr) return out;
  const auto* arr = n->as_array();
  if (arr == nullptr) throw config_error("serial_line", "must be an array of tables ([[serial_line]])");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string key = "serial_line[" + std::to_string(i) + "]";
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr) throw config_error(key, "must be a table");
    detail::reject_unknown(*t, {"serial_device", "extra_delay_ms"}, key);
    serial_line_config l;
    l.key = key;
    l.serial_device = get_string(*t, "serial_device", key, std::nullopt);
    if (l.serial_device.empty()) throw config_error(key + ".serial_device", "must not be empty");
    if (!seen.insert(l.serial_device).second) {
      throw config_error(key + ".serial_device", "line " + l.serial_device + " is described twice");
    }
    l.extra_delay_ms = static_cast<std::uint32_t>(get_int(*t, "extra_delay_ms", key, 0, 0, 10000));
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

agent_config parse_config(std::string_view text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ":" << e.source().begin.line << ":" << e.source().begin.column;
    throw config_error(os.str(), std::string(e.description()));
  }
  detail::reject_unknown(root,
                         {"terminal_id", "log_level", "poll_interval_s", "report_interval_s",
                          "stuck_after_polls", "mqtt", "queue", "cleanout", "image", "device", "serial_line",
                          "pump_station"},
                         "");
  agent_config c;
  c.terminal_id = get_string(root, "terminal_id", "", std::nullopt);
  if (!proto::is_valid_terminal_id(c.terminal_id)) {
    throw config_error("terminal_id", "must match [A-Za-z0-9_-]{1,32} and not be 'alerts' or "
                                      "'gateway', got '" + c.terminal_id + "'");
  }
  c.log_level = get_string(root, "log_level", "", "info");
  static const std::set<std::string> levels{"trace", "debug", "info",    "warn",
                                            "error", "critical", "off"};
  if (levels.count(c.log_level) == 0) {
    throw config_error("log_level", "must be one of trace, debug, info, warn, error, critical, off");
  }
  c.poll_interval_s = get_double(root, "poll_interval_s", "", 5.0, 0.1, 3600.0);
  c.report_interval_s = static_cast<std::uint32_t>(
      get_int(root, "report_interval_s", "", 60, proto::limits::min_interval_s,
              proto::limits::max_interval_s));
  c.stuck_after_polls =
      static_cast<std::uint32_t>(get_int(root, "stuck_after_polls", "", 120, 0, 1000000));
  c.mqtt = parse_mqtt(root);

  if (const toml::table* q = sub_table(root, "queue")) {
    detail::reject_unknown(*q, {"path", "max_records", "max_bytes", "delete_batch", "delete_after_s"}, "queue");
    c.queue.path = get_string(*q, "path", "queue", c.queue.path.string());
    if (c.queue.path.empty()) throw config_error("queue.path", "must not be empty");
    c.queue.max_records = static_cast<std::uint64_t>(
        get_int(*q, "max_records", "queue", 100000, 1, 100000000));
    c.queue.max_bytes = static_cast<std::uint64_t>(
        get_int(*q, "max_bytes", "queue", 64LL * 1024 * 1024, 4096, 1LL << 40));
    c.queue.delete_batch = static_cast<std::uint32_t>(get_int(*q, "delete_batch", "queue", 32, 1, 10000));
    c.queue.delete_after_s = static_cast<std::uint32_t>(get_int(*q, "delete_after_s", "queue", 1800, 1, 86400));
  }

  if (const toml::table* k = sub_table(root, "cleanout")) {
    detail::reject_unknown(*k, {"source", "raise_m", "clear_m", "hold_s"}, "cleanout");
    const std::string src = get_string(*k, "source", "cleanout", "none");
    if (src == "none") {
      c.cleanout.source = cleanout_source::none;
    } else if (src == "level") {
      c.cleanout.source = cleanout_source::level;
    } else if (src == "digital_input") {
      c.cleanout.source = cleanout_source::digital_input;
    } else {
      throw config_error("cleanout.source", "must be none, level or digital_input, got '" + src + "'");
    }
    c.cleanout.raise_m = get_double(*k, "raise_m", "cleanout", 1.5, 0.0, 10.0);
    c.cleanout.clear_m = get_double(*k, "clear_m", "cleanout", 1.2, 0.0, 10.0);
    if (c.cleanout.clear_m > c.cleanout.raise_m) {
      throw config_error("cleanout.clear_m", "must be <= cleanout.raise_m (hysteresis)");
    }
    c.cleanout.hold_s =
        static_cast<std::uint32_t>(get_int(*k, "hold_s", "cleanout", 1800, 0, 30 * 86400));
  }

  if (const toml::table* im = sub_table(root, "image")) {
    detail::reject_unknown(*im, {"command", "file", "period_s", "max_bytes", "timeout_s"}, "image");
    c.image.command = get_string(*im, "command", "image", "");
    c.image.file = get_string(*im, "file", "image", "");
    c.image.period_s = static_cast<std::uint32_t>(get_int(*im, "period_s", "image", 3600, 1, 7 * 86400));
    c.image.max_bytes = static_cast<std::size_t>(get_int(
        *im, "max_bytes", "image", 512 * 1024, 1024,
        static_cast<std::int64_t>(proto::limits::max_image_bytes)));
    c.image.timeout_s = static_cast<std::uint32_t>(get_int(*im, "timeout_s", "image", 30, 1, 3600));
  }

  if (const toml::node* d = root.get("device")) {
    const auto* arr = d->as_array();
    if (arr == nullptr) throw config_error("device", "must be an array of tables ([[device]])");
    std::set<std::string> names;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string key = "device[" + std::to_string(i) + "]";
      const auto* t = (*arr)[i].as_table();
      if (t == nullptr) throw config_error(key, "must be a table");
      device_config dc;
      dc.key = key;
      dc.name = get_string(*t, "name", key, std::nullopt);
      dc.driver = get_string(*t, "driver", key, std::nullopt);
      if (!names.insert(dc.name).second) throw config_error(key + ".name", "duplicate device name");
      dc.table = *t;
      c.devices.push_back(std::move(dc));
    }
  }
  c.serial_lines = parse_serial_lines(root);
  c.pump_station = parse_pump_station(root, c.devices);
  c.digest = fnv1a_hex(text);
  return c;
}

void check_deployable(const agent_config& c) {
  // The queue's directory is created at start if missing: its nearest existing ancestor must be
  // a writable directory.
  std::filesystem::path dir = c.queue.path.parent_path();
  std::error_code ec;
  while (!dir.empty() && !std::filesystem::exists(dir, ec)) dir = dir.parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw config_error("queue.path", dir.string() + " is not a directory");
  if (!dir.empty() && ::access(dir.c_str(), W_OK) != 0)
    throw config_error("queue.path", "directory " + dir.string() + " is not writable by this user");
  // TLS files are read at every connect attempt: a missing one would only show as failed connects.
  for (const auto& [key, file] : {std::pair<const char*, const std::string&>{"mqtt.ca_file", c.mqtt.ca_file},
                                  std::pair<const char*, const std::string&>{"mqtt.cert_file", c.mqtt.cert_file},
                                  std::pair<const char*, const std::string&>{"mqtt.key_file", c.mqtt.key_file}}) {
    if (!file.empty() && ::access(file.c_str(), R_OK) != 0)
      throw config_error(key, "cannot read " + file + ": " + std::strerror(errno));
  }
  if (c.devices.empty())
    throw config_error("device", "at least one [[device]] is required: a terminal without instruments reports nothing");
  if (c.poll_interval_s > c.report_interval_s)
    throw config_error("poll_interval_s", "must be <= report_interval_s (" + std::to_string(c.report_interval_s) +
                                              "): every report interval needs at least one poll");
  for (const auto& line : c.serial_lines) {
    bool used = false;
    for (const auto& d : c.devices) {
      const toml::node* sd = d.table.get("serial_device");
      used = used || (sd != nullptr && sd->value_or(std::string{}) == line.serial_device);
    }
    if (!used)
      throw config_error(line.key + ".serial_device",
                         "no [[device]] has serial_device = \"" + line.serial_device + "\" (a typo?)");
  }
  const auto fitted = fitted_quantities(c);
  if (c.cleanout.source == cleanout_source::digital_input && fitted.count(quantity::cleanout_switch) == 0)
    throw config_error("cleanout.source",
                       "digital_input needs a device point with quantity = \"cleanout_switch\" (the float switch)");
  if (c.cleanout.source == cleanout_source::level && fitted.count(quantity::sludge_level) == 0)
    throw config_error("cleanout.source", "level needs a device point with quantity = \"sludge_level\"");
}

std::set<quantity> fitted_quantities(const agent_config& config) {
  std::set<quantity> out;
  for (const auto& d : config.devices) {
    const toml::node* pts = d.table.get("point");
    const toml::array* arr = pts != nullptr ? pts->as_array() : nullptr;
    if (arr == nullptr) continue;
    for (const auto& p : *arr) {
      const auto* t = p.as_table();
      const toml::node* q = t != nullptr ? t->get("quantity") : nullptr;
      if (q == nullptr) continue;
      if (const auto parsed = parse_quantity(q->value_or(std::string{}))) out.insert(*parsed);
    }
  }
  return out;
}

agent_config load_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(path.string(), "cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path.string());
}

nlohmann::json describe_config(const agent_config& c) {
  nlohmann::json j;
  j["terminal_id"] = c.terminal_id;
  j["log_level"] = c.log_level;
  j["poll_interval_s"] = c.poll_interval_s;
  j["report_interval_s"] = c.report_interval_s;
  j["stuck_after_polls"] = c.stuck_after_polls;
  j["config_digest"] = c.digest;
  j["mqtt"] = {{"uris", c.mqtt.uris},
               {"allow_plaintext", c.mqtt.allow_plaintext},
               {"username", c.mqtt.username},
               {"password", c.mqtt.password.empty() ? "" : "<redacted>"},
               {"ca_file", c.mqtt.ca_file},
               {"cert_file", c.mqtt.cert_file},
               {"keep_alive_s", c.mqtt.keep_alive_s},
               {"reconnect_min_s", c.mqtt.reconnect_min_s},
               {"reconnect_max_s", c.mqtt.reconnect_max_s},
               {"max_inflight", c.mqtt.max_inflight},
               {"replay_per_s", c.mqtt.replay_per_s},
               {"max_packet_bytes", c.mqtt.max_packet_bytes}};
  j["queue"] = {{"path", c.queue.path.string()},
                {"max_records", c.queue.max_records},
                {"max_bytes", c.queue.max_bytes},
                {"delete_batch", c.queue.delete_batch},
                {"delete_after_s", c.queue.delete_after_s}};
  const char* src = c.cleanout.source == cleanout_source::level           ? "level"
                    : c.cleanout.source == cleanout_source::digital_input ? "digital_input"
                                                                          : "none";
  j["cleanout"] = {{"source", src},
                   {"raise_m", c.cleanout.raise_m},
                   {"clear_m", c.cleanout.clear_m},
                   {"hold_s", c.cleanout.hold_s}};
  j["image"] = {{"command", c.image.command},
                {"file", c.image.file.string()},
                {"period_s", c.image.period_s},
                {"max_bytes", c.image.max_bytes},
                {"timeout_s", c.image.timeout_s}};
  nlohmann::json devs = nlohmann::json::array();
  for (const auto& d : c.devices) devs.push_back({{"name", d.name}, {"driver", d.driver}});
  j["devices"] = devs;
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& l : c.serial_lines) lines.push_back({{"serial_device", l.serial_device}, {"extra_delay_ms", l.extra_delay_ms}});
  j["serial_lines"] = lines;
  if (c.pump_station) {
    j["pump_station"] = {{"pumps", c.pump_station->pump_ids}, {"mains_monitored", c.pump_station->mains_monitored}};
  }
  return j;
}

}  // namespace sewage::agent
