#include "sewage/gateway/config.hpp"

#include "sewage/gateway/http/security.hpp"
#include "rules/energy_config.hpp"
#include "rules/pump_station_config.hpp"
#include "toml_reader.hpp"

#include <sewage/proto/broker_uri.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <optional>
#include <vector>

#include <unistd.h>

namespace sewage::gateway {
namespace detail {

void read_thresholds(toml_reader& r, thresholds& t) {
  constexpr double max_ntu = 4000.0;   // proto limits::max_turbidity_ntu
  constexpr double max_m3h = 1200.0;   // proto limits::max_flow_m3h
  constexpr std::int64_t max_s = 7 * 86400;
  r.read("turbidity_limit_ntu", t.turbidity_limit_ntu, 0.0, max_ntu);
  r.read("turbidity_raise_ntu", t.turbidity_raise_ntu, 0.0, max_ntu);
  r.read("turbidity_clear_ntu", t.turbidity_clear_ntu, 0.0, max_ntu);
  r.read_int("turbidity_debounce_s", t.turbidity_debounce_s, 0, max_s);
  r.read("no_flow_raise_m3h", t.no_flow_raise_m3h, 0.0, max_m3h);
  r.read("no_flow_clear_m3h", t.no_flow_clear_m3h, 0.0, max_m3h);
  r.read_int("no_flow_debounce_s", t.no_flow_debounce_s, 0, max_s);
  r.read_int("no_flow_flowing_debounce_s", t.no_flow_flowing_debounce_s, 0, max_s);
  r.read_int("low_flow_window_s", t.low_flow_window_s, 600, 86400);
  r.read("low_flow_raise_ratio", t.low_flow_raise_ratio, 0.0, 1.0);
  r.read("low_flow_clear_ratio", t.low_flow_clear_ratio, 0.0, 1.0);
  r.read("low_flow_low_band_ratio", t.low_flow_low_band_ratio, 0.0, 1.0);
  r.read_int("low_flow_debounce_s", t.low_flow_debounce_s, 0, max_s);
  r.read("low_flow_min_normal_m3h", t.low_flow_min_normal_m3h, 0.001, max_m3h);
  r.read_int("flow_min_days", t.flow_min_days, 1, 28);
  r.read("flow_prior_load", t.flow_prior_load, 0.0, 2.0);
  r.read("flow_high_raise_factor", t.flow_high_raise_factor, 0.1, 100.0);
  r.read("flow_high_clear_factor", t.flow_high_clear_factor, 0.1, 100.0);
  r.read_int("flow_high_debounce_s", t.flow_high_debounce_s, 0, max_s);
  r.read_int("cleanout_debounce_s", t.cleanout_debounce_s, 0, max_s);
  r.read("cleanout_level_m", t.cleanout_level_m, 0.01, 10.0);  // proto limits::max_sludge_level_m
  r.read_int("cleanout_due_soon_days", t.cleanout_due_soon_days, 0, 365);
  r.read_int("sensor_fault_debounce_s", t.sensor_fault_debounce_s, 0, max_s);
  r.read_int("queue_overflow_clear_s", t.queue_overflow_clear_s, 0, max_s);
  r.read_int("clock_skew_raise_s", t.clock_skew_raise_s, 1, max_s);
  r.read_int("clock_skew_clear_s", t.clock_skew_clear_s, 0, max_s);
  read_energy_thresholds(r, t);  // gateway/src/rules/energy_config.cpp
  read_pump_station_thresholds(r, t);  // gateway/src/rules/pump_station_config.cpp
  r.read("offline_after_intervals", t.offline_after_intervals, 1.0, 1000.0);
  r.read_int("clock_trust_behind_s", t.clock_trust_behind_s, 60, std::int64_t{400} * 86400);
  r.read_int("clock_trust_ahead_s", t.clock_trust_ahead_s, 0, max_s);
  if (t.turbidity_clear_ntu > t.turbidity_raise_ntu)
    r.fail("turbidity_clear_ntu", "must not be above turbidity_raise_ntu (hysteresis)");
  if (t.no_flow_clear_m3h < t.no_flow_raise_m3h)
    r.fail("no_flow_clear_m3h", "must not be below no_flow_raise_m3h (hysteresis)");
  if (t.low_flow_clear_ratio < t.low_flow_raise_ratio)
    r.fail("low_flow_clear_ratio", "must not be below low_flow_raise_ratio (hysteresis)");
  if (t.flow_high_clear_factor > t.flow_high_raise_factor)
    r.fail("flow_high_clear_factor", "must not be above flow_high_raise_factor (hysteresis)");
  if (t.clock_skew_clear_s > t.clock_skew_raise_s)
    r.fail("clock_skew_clear_s", "must not be above clock_skew_raise_s (hysteresis)");
}

}  // namespace detail

namespace {

/// Why the gateway could not create its files in `dir` (created at start if missing), or nullopt.
std::optional<std::string> unwritable_dir_problem(std::filesystem::path dir) {
  std::error_code ec;
  while (!dir.empty() && !std::filesystem::exists(dir, ec)) dir = dir.parent_path();
  if (dir.empty()) return std::nullopt;
  if (!std::filesystem::is_directory(dir, ec)) return dir.string() + " is not a directory";
  if (::access(dir.c_str(), W_OK) != 0) return "directory " + dir.string() + " is not writable by this user";
  return std::nullopt;
}


/// `p` as an absolute, normalised path; a relative `p` ("gw.db", "./gw.db", "../data/gw.db") is
/// taken relative to the folder of `base_file`, which may itself be relative to the current folder
/// ("g.toml", whose folder is ""). The result always has a non-empty parent folder.
std::filesystem::path resolve(const std::filesystem::path& base_file, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative()) {
    std::error_code ec;
    auto base = std::filesystem::absolute(base_file, ec);
    if (ec) base = base_file;
    path = base.parent_path() / path;
  }
  return path.lexically_normal();
}

}  // namespace

std::filesystem::path default_web_root() {
  std::error_code ec;
  const std::filesystem::path installed(SEWAGE_GATEWAY_WEB_INSTALLED);
  if (std::filesystem::is_regular_file(installed / "index.html", ec)) return installed;
  return std::filesystem::path(SEWAGE_GATEWAY_WEB_SOURCE);
}

config load_config(const std::filesystem::path& path) {
  const toml::table root = detail::parse_toml_file(path);
  config c;
  c.source = path;
  const std::string file = path.string() + ": ";
  detail::toml_reader top(root, "");
  try {
    if (const auto* t = top.sub_table("mqtt")) {
      detail::toml_reader r(*t, "mqtt");
      r.read("uri", c.mqtt_uri);
      r.read("allow_plaintext", c.mqtt_allow_plaintext);
      r.read("client_id", c.mqtt_client_id);
      r.read("username", c.mqtt_username);
      r.read("password", c.mqtt_password);
      r.read("ca_file", c.mqtt_ca_file);
      r.read("cert_file", c.mqtt_cert_file);
      r.read("key_file", c.mqtt_key_file);
      std::int64_t ka = c.mqtt_keep_alive.count();
      r.read_int("keep_alive_s", ka, 2, 3600);
      c.mqtt_keep_alive = std::chrono::seconds(ka);
      r.reject_unknown();
      if (const auto why = proto::broker_uri_problem(c.mqtt_uri)) r.fail("uri", *why + " in \"" + c.mqtt_uri + "\"");
      std::vector<std::string> tls_keys;
      for (auto [key, value] : {std::pair{"mqtt.ca_file", &c.mqtt_ca_file}, std::pair{"mqtt.cert_file", &c.mqtt_cert_file},
                                std::pair{"mqtt.key_file", &c.mqtt_key_file}})
        if (!value->empty()) tls_keys.emplace_back(key);
      if (const auto why = proto::broker_uri_tls_mismatch(c.mqtt_uri, tls_keys)) r.fail("uri", *why);
      // TLS by default (DESIGN.md, "Identity"): plaintext only with the explicit, logged opt-in.
      if (const auto why = proto::broker_uri_plaintext_refusal(c.mqtt_uri, c.mqtt_allow_plaintext)) r.fail("uri", *why);
      for (auto [key, file] : {std::pair{"ca_file", &c.mqtt_ca_file}, std::pair{"cert_file", &c.mqtt_cert_file},
                               std::pair{"key_file", &c.mqtt_key_file}}) {
        if (file->empty()) continue;
        *file = resolve(path, *file).string();
        if (!std::filesystem::is_regular_file(*file)) r.fail(key, "no such file: " + *file);
      }
      if (c.mqtt_client_id.empty() || c.mqtt_client_id.size() > 64)
        r.fail("client_id", "must be 1..64 characters (a fixed id keeps the persistent session)");
    }
    if (const auto* t = top.sub_table("store")) {
      detail::toml_reader r(*t, "store");
      std::string backend = "sqlite";
      r.read("backend", backend);
      if (backend == "sqlite")
        c.backend = store_backend::sqlite;
      else if (backend == "postgresql")
        c.backend = store_backend::postgresql;
      else
        r.fail("backend", "must be \"sqlite\" or \"postgresql\", got \"" + backend + "\"");
      r.read("postgresql_uri", c.postgresql_uri);
      if (c.backend == store_backend::postgresql && c.postgresql_uri.empty())
        r.fail("postgresql_uri", "is required when store.backend is \"postgresql\"");
      if (c.backend == store_backend::sqlite && !c.postgresql_uri.empty())
        r.fail("postgresql_uri", "is set but store.backend is \"sqlite\" (set backend = \"postgresql\" to use it)");
      std::string p = c.store_path.string();
      r.read("path", p);
      if (p.empty()) r.fail("path", "must not be empty");
      c.store_path = resolve(path, p);
      if (const auto why = unwritable_dir_problem(c.store_path.parent_path())) r.fail("path", *why);
      r.read_int("retention_days", c.retention_days, 1, 36500);
      r.read_int("rollup_after_days", c.rollup_after_days, 0, 36500);
      r.read_int("dead_letter_max_rows", c.dead_letter_max_rows, 1, 10'000'000);
      std::int64_t fl = c.flush_interval.count();
      r.read_int("flush_interval_ms", fl, 1, 60000);
      c.flush_interval = std::chrono::milliseconds(fl);
      r.reject_unknown();
    } else {
      c.store_path = resolve(path, c.store_path.string());
    }
    if (const auto* t = top.sub_table("http")) {
      detail::toml_reader r(*t, "http");
      std::string listen = c.http_address + ":" + std::to_string(c.http_port);
      r.read("listen", listen);
      const auto colon = listen.rfind(':');
      if (colon == std::string::npos || colon == 0) r.fail("listen", "must be ADDRESS:PORT, got \"" + listen + "\"");
      c.http_address = listen.substr(0, colon);
      const std::string port = listen.substr(colon + 1);
      long v = 0;
      try {
        std::size_t used = 0;
        v = std::stol(port, &used);
        if (used != port.size()) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
      if (v < 1 || v > 65535) r.fail("listen", "port must be 1..65535, got \"" + port + "\"");
      c.http_port = static_cast<std::uint16_t>(v);
      boost::system::error_code ec;
      boost::asio::ip::make_address(c.http_address, ec);
      if (ec) r.fail("listen", "\"" + c.http_address + "\" is not an IP address (such as 127.0.0.1 or 0.0.0.0)");
      if (t->contains("ack_token"))
        r.fail("ack_token", "was removed: machines use bearer tokens made with the CLI "
                            "(sewage-gateway --config FILE tokens add NAME --role operator), people log in as users "
                            "(sewage-gateway --config FILE users add NAME --role operator); delete this key");
      r.read("public_read", c.http_public_read);
      std::int64_t secs = c.http_session_idle_timeout.count();
      r.read_int("session_idle_timeout_s", secs, 60, 86400);
      c.http_session_idle_timeout = std::chrono::seconds(secs);
      secs = c.http_session_max_age.count();
      r.read_int("session_max_age_s", secs, 60, 2'592'000);
      c.http_session_max_age = std::chrono::seconds(secs);
      r.read_int("login_max_failures", c.http_login_max_failures, 1, 1000);
      secs = c.http_login_window.count();
      r.read_int("login_window_s", secs, 1, 86400);
      c.http_login_window = std::chrono::seconds(secs);
      r.read_int("max_body_bytes", c.http_max_body_bytes, 256, 1 << 20);
      r.read_int("max_range_days", c.http_max_range_days, 1, 3660);
      r.read_int("max_rows", c.http_max_rows, 1, 1'000'000);
      std::string web_root = c.http_web_root.string();
      r.read("web_root", web_root);
      if (t->contains("web_root")) c.http_web_root = resolve(path, web_root);
      std::string vendor_root = c.http_vendor_root.string();
      r.read("vendor_root", vendor_root);
      c.http_vendor_root = resolve(path, vendor_root);
      r.read("tile_url", c.http_tile_url);
      if (std::string why; !c.http_tile_url.empty() && !http_security::tile_source(c.http_tile_url, &why))
        r.fail("tile_url", "\"" + c.http_tile_url + "\" " + why);
      {
        std::string cert, key;
        r.read("tls_cert_file", cert);
        r.read("tls_key_file", key);
        if (cert.empty() != key.empty())
          r.fail(cert.empty() ? "tls_cert_file" : "tls_key_file",
                 "must be set together with http." + std::string(cert.empty() ? "tls_key_file" : "tls_cert_file") +
                     " (both = HTTPS, neither = plain HTTP)");
        if (!cert.empty()) {
          c.http_tls_cert_file = resolve(path, cert);
          c.http_tls_key_file = resolve(path, key);
          if (const auto why = http_security::tls_files_problem(c.http_tls_cert_file, c.http_tls_key_file))
            r.fail(why->find("private key") != std::string::npos ? "tls_key_file" : "tls_cert_file", *why);
        }
      }
      r.read("tile_attribution", c.http_tile_attribution);
      r.read_int("poll_interval_ms", c.http_poll_interval_ms, 1000, 60000);
      r.read_int("reader_threads", c.http_reader_threads, 0, 64);
      r.read_int("reader_queue_max", c.http_reader_queue_max, 1, 100'000);
      std::int64_t read_cpu_ms = c.http_read_cpu_limit.count();
      r.read_int("read_cpu_limit_ms", read_cpu_ms, 10, 600'000);
      c.http_read_cpu_limit = std::chrono::milliseconds(read_cpu_ms);
      r.reject_unknown();
    }
    if (const auto* t = top.sub_table("registry")) {
      detail::toml_reader r(*t, "registry");
      std::string p = c.registry_path.string();
      r.read("path", p);
      if (p.empty()) r.fail("path", "must not be empty");
      c.registry_path = resolve(path, p);
      r.reject_unknown();
    } else {
      c.registry_path = resolve(path, c.registry_path.string());
    }
    {
      // [county]: the operating day's time zone, an IANA name of the system database.
      static const toml::table no_table;
      const auto* t = top.sub_table("county");
      detail::toml_reader r(t != nullptr ? *t : no_table, "county");
      r.read("time_zone", c.time_zone);
      if (t != nullptr && t->contains("utc_offset_minutes"))
        r.fail("utc_offset_minutes",
               "was removed: operating days follow county.time_zone (an IANA name, daylight saving included); "
               "delete this key, and for a fixed offset use a zone such as \"Etc/GMT-8\" (= UTC+8)");
      const auto zone = county_zone::locate(c.time_zone);
      if (!zone)
        r.fail("time_zone", "\"" + c.time_zone + "\" is not a time zone of the system database "
                            "(/usr/share/zoneinfo, Debian package tzdata); use an IANA name such as \"Asia/Shanghai\"");
      c.zone = *zone;
      r.reject_unknown();
    }
    if (const auto* t = top.sub_table("alerts")) {
      detail::toml_reader r(*t, "alerts");
      detail::read_thresholds(r, c.defaults);
      std::int64_t g = c.startup_grace.count();
      r.read_int("startup_grace_s", g, 0, 86400);
      c.startup_grace = std::chrono::seconds(g);
      g = c.restart_grace.count();
      r.read_int("restart_grace_s", g, 0, 86400);
      c.restart_grace = std::chrono::seconds(g);
      std::int64_t tick = c.tick_interval.count();
      r.read_int("tick_ms", tick, 10, 60000);
      c.tick_interval = std::chrono::milliseconds(tick);
      r.reject_unknown();
    }
    if (root.contains("notifier"))
      top.fail("notifier",
               "was replaced by [[notify.target]] tables: for the former webhook_url write [[notify.target]] with "
               "name = \"webhook\", kind = \"webhook\", url = \"https://...\" (http:// only with allow_plaintext = "
               "true); max_attempts, initial_backoff_ms and queue_max moved to [notify] (see gateway.example.toml)");
    if (const auto* t = top.sub_table("notify"))
      detail::read_notify(*t, c.notify, [&path](const std::string& p) { return resolve(path, p).string(); });
    if (const auto* t = top.sub_table("alarms")) detail::read_alarms(*t, c.alarms);
    if (const auto* t = top.sub_table("om")) {
      // [om.inspections] and [om.assessment] are read by om/inspections_config.cpp, [om.lab] and
      // [om.archive] by om/lab_config.cpp (below), the rest of [om] by om/om_config.cpp.
      toml::table rest = *t;
      rest.erase("lab");
      rest.erase("archive");
      for (const char* key : {"inspections", "assessment"}) {
        const auto* n = t->get(key);
        if (n == nullptr) continue;
        if (!n->is_table()) detail::toml_reader(*t, "om").fail(key, "must be a table");
        if (std::string_view(key) == "inspections") detail::read_om_inspections(*n->as_table(), c.om_inspections);
        else detail::read_om_assessment(*n->as_table(), c.om_assessment);
        rest.erase(key);
      }
      detail::read_om(rest, c.om, [&path](const std::string& p) { return resolve(path, p).string(); });
    }
    c.om_inspections.size_class_limits_m3d = c.om.size_class_limits_m3d;
    if (c.om.site_key_file.empty()) c.om.site_key_file = c.store_path.parent_path() / "site-key";
    if (c.om.photo_dir.empty()) c.om.photo_dir = c.store_path.parent_path() / "photos";
    {
      const toml::table* om = top.sub_table("om");
      const toml::table* lab = nullptr;
      const toml::table* archive = nullptr;
      if (om != nullptr) {
        detail::toml_reader omr(*om, "om");
        lab = omr.sub_table("lab");
        archive = omr.sub_table("archive");
      }
      detail::read_om_lab(lab, archive, c.om_lab, c.om_archive, [&path](const std::string& p) { return resolve(path, p); });
    }
    if (const auto* t = top.sub_table("network")) detail::read_network(*t, c.network_file, [&path](const std::string& p) { return resolve(path, p); });
    bool hold_configured = false;
    if (const auto* t = top.sub_table("incidents")) {
      hold_configured = t->contains("weather_hold_s");
      detail::toml_reader r(*t, "incidents");
      std::int64_t window = c.weather.window.count();
      r.read_int("weather_window_s", window, 600, 604800);
      c.weather.window = std::chrono::seconds(window);
      r.read_int("weather_min_terminals", c.weather.min_terminals, 0, 1000);
      r.read("weather_running_high_factor", c.weather.running_high_factor, 0.0, 10.0);
      if (c.weather.running_high_factor != 0.0 && c.weather.running_high_factor < 1.2)
        r.fail("weather_running_high_factor",
               "must be 0 (off) or at least 1.2 (a normal day's spread), got " + std::to_string(c.weather.running_high_factor));
      r.read("weather_running_high_share", c.weather.running_high_share, 0.05, 1.0);
      std::int64_t reopen = c.weather.reopen.count();
      r.read_int("weather_reopen_s", reopen, 600, 2592000);
      c.weather.reopen = std::chrono::seconds(reopen);
      std::int64_t hold = c.weather.hold.count();
      r.read_int("weather_hold_s", hold, 0, 3600);
      c.weather.hold = std::chrono::seconds(hold);
      // A held raise must still count towards the event when others follow, and be notified
      // before the discipline escalates it (escalation counts from the raise).
      if (c.weather.hold > c.weather.window)
        r.fail("weather_hold_s", "must be at most weather_window_s (" + std::to_string(c.weather.window.count()) +
                                     " s): a raise held longer would no longer count towards the event");
      r.reject_unknown();
    }
    // After every table: [alarms] may lower the escalation below the default hold with no
    // [incidents] table at all.
    if (c.weather.hold.count() > 0 && c.weather.hold.count() >= c.alarms.escalate_town_after_min * 60)
      throw config_error("incidents.weather_hold_s (" + std::to_string(c.weather.hold.count()) + " s" +
                         (hold_configured ? std::string() : std::string(", the default")) +
                         "): must be below the town escalation of alarms.escalate_after_min (" +
                         std::to_string(c.alarms.escalate_town_after_min) +
                         " min): a held raise would escalate before it is notified; set a shorter weather_hold_s "
                         "(0: no hold) or a later escalation");
    if (const auto* t = top.sub_table("commands")) {
      detail::toml_reader r(*t, "commands");
      std::int64_t to = c.command_timeout.count();
      r.read_int("timeout_s", to, 1, 86400);
      c.command_timeout = std::chrono::seconds(to);
      r.reject_unknown();
    }
    if (const auto* t = top.sub_table("standby")) {
      detail::toml_reader r(*t, "standby");
      r.read("enabled", c.standby_enabled);
      r.read("node", c.standby_node);
      r.read("http_url", c.standby_http_url);
      r.read_int("lease_key", c.standby_lease_key, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max());
      std::int64_t ci = c.standby_check_interval.count();
      r.read_int("check_interval_ms", ci, 100, 3000);  // 3 intervals < the server's 12 s (leader_lease.hpp)
      c.standby_check_interval = std::chrono::milliseconds(ci);
      r.reject_unknown();
      if (c.standby_enabled && c.backend != store_backend::postgresql)
        r.fail("enabled", "needs store.backend = \"postgresql\": the leader and the standby share one PostgreSQL store");
      if (c.standby_node.size() > 200) r.fail("node", "must be at most 200 characters");
    }
    if (c.standby_node.empty()) {
      std::array<char, 256> host{};
      c.standby_node = ::gethostname(host.data(), host.size() - 1) == 0 ? std::string(host.data()) : std::string("gateway");
    }
    if (const auto* t = top.sub_table("log")) {
      detail::toml_reader r(*t, "log");
      r.read("level", c.log_level);
      static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      bool ok = false;
      for (auto l : levels) ok = ok || l == c.log_level;
      if (!ok) r.fail("level", "must be one of trace, debug, info, warn, error, critical, off");
      r.reject_unknown();
    }
    top.reject_unknown();
  } catch (const config_error& e) {
    throw config_error(file + e.what());
  }
  return c;
}

}  // namespace sewage::gateway
