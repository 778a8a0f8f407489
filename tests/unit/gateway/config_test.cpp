// Configuration and registry: the example files parse to the documented defaults; every error
// names the file, the key (and for the registry the terminal index and id).
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/registry.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::gateway {
namespace {

std::filesystem::path write(const testing::temp_dir& d, const std::string& name, const std::string& text) {
  const auto p = d.path() / name;
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, ExampleFileShowsExactlyTheDefaults) {
  const auto c = load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG);
  const config d;
  EXPECT_EQ(c.mqtt_uri, d.mqtt_uri);
  EXPECT_EQ(c.mqtt_client_id, d.mqtt_client_id);
  EXPECT_EQ(c.http_address, "127.0.0.1");
  EXPECT_EQ(c.http_port, 8080);
  EXPECT_EQ(c.time_zone, "Asia/Shanghai");
  EXPECT_EQ(c.zone, d.zone);
  EXPECT_EQ(c.zone.name(), "Asia/Shanghai");
  EXPECT_EQ(c.defaults, d.defaults);
  EXPECT_EQ(c.retention_days, d.retention_days);
  EXPECT_EQ(c.rollup_after_days, d.rollup_after_days);
  EXPECT_EQ(c.flush_interval, d.flush_interval);
  EXPECT_EQ(c.startup_grace, d.startup_grace);
  EXPECT_EQ(c.http_public_read, d.http_public_read);
  EXPECT_EQ(c.http_session_idle_timeout, d.http_session_idle_timeout);
  EXPECT_EQ(c.http_login_max_failures, d.http_login_max_failures);
  EXPECT_TRUE(c.notify.targets.empty());
  EXPECT_EQ(c.om.public_url, d.om.public_url);
  EXPECT_EQ(c.om.checkin_radius_m, d.om.checkin_radius_m);
  EXPECT_EQ(c.om.checkin_max_accuracy_m, d.om.checkin_max_accuracy_m);
  EXPECT_EQ(c.om.size_class_limits_m3d, d.om.size_class_limits_m3d);
  EXPECT_EQ(c.om.photo_max_bytes, d.om.photo_max_bytes);
  EXPECT_EQ(c.om.work_orders.due_critical_h, d.om.work_orders.due_critical_h);
  EXPECT_EQ(c.om.work_orders.due_warning_h, d.om.work_orders.due_warning_h);
  EXPECT_EQ(c.om.work_orders.due_info_h, d.om.work_orders.due_info_h);
  EXPECT_EQ(c.om.work_orders.escalate_county_after_h, d.om.work_orders.escalate_county_after_h);
  EXPECT_EQ(c.om.work_orders.check_interval_s, d.om.work_orders.check_interval_s);
  EXPECT_TRUE(c.om.work_orders.policies.empty());
  EXPECT_TRUE(c.om.contractors.empty());
}

TEST(Config, ErrorsNameFileAndKey) {
  testing::temp_dir dir("gw-config");
  auto p = write(dir, "a.toml", "[http]\nlisten = \"127.0.0.1:99999\"\n");
  auto e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("a.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("http.listen"), std::string::npos) << e;
  p = write(dir, "b.toml", "[alerts]\nturbidity_raise_ntu = \"high\"\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("alerts.turbidity_raise_ntu: must be a number"), std::string::npos) << e;
  p = write(dir, "c.toml", "[store]\nretention_dayz = 3\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("store.retention_dayz: unknown key"), std::string::npos) << e;
  p = write(dir, "c2.toml", "[store]\nrollup_after_days = -1\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("store.rollup_after_days"), std::string::npos) << e;
  EXPECT_EQ(load_config(write(dir, "c3.toml", "[store]\nrollup_after_days = 0\n")).rollup_after_days, 0u);
  p = write(dir, "d.toml", "[alerts]\nturbidity_raise_ntu = 5.0\nturbidity_clear_ntu = 6.0\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("alerts.turbidity_clear_ntu"), std::string::npos) << e;
  p = write(dir, "e.toml", "[http\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("e.toml:"), std::string::npos) << e;
  e = error_of([&] { load_config(dir.path() / "missing.toml"); });
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
}

TEST(Config, ReaderKeysAreReadAndBounded) {
  testing::temp_dir dir("gw-config");
  auto c = load_config(write(dir, "r.toml", "[http]\nreader_threads = 4\nreader_queue_max = 8\nread_cpu_limit_ms = 2500\n"));
  EXPECT_EQ(c.http_reader_threads, 4u);
  EXPECT_EQ(c.http_reader_queue_max, 8u);
  EXPECT_EQ(c.http_read_cpu_limit, std::chrono::milliseconds(2500));
  EXPECT_EQ(load_config(write(dir, "z.toml", "[http]\nreader_threads = 0\n")).http_reader_threads, 0u);
  for (const char* bad : {"reader_threads = 65", "reader_threads = -1", "reader_queue_max = 0", "read_cpu_limit_ms = 5",
                          "reader_threads = \"two\""}) {
    const std::string key = std::string(bad).substr(0, std::string(bad).find(' '));
    const auto e = error_of([&] { load_config(write(dir, "b.toml", std::string("[http]\n") + bad + "\n")); });
    EXPECT_NE(e.find("http." + key), std::string::npos) << bad << ": " << e;
  }
}

TEST(Config, IdentityKeysAreReadAndBoundedAndAckTokenNamesItsReplacement) {
  testing::temp_dir dir("gw-config");
  const config d;
  EXPECT_FALSE(d.http_public_read);
  EXPECT_EQ(d.http_session_idle_timeout, std::chrono::seconds(1800));
  EXPECT_EQ(d.http_session_max_age, std::chrono::seconds(43200));
  EXPECT_EQ(d.http_login_max_failures, 5u);
  EXPECT_EQ(d.http_login_window, std::chrono::seconds(900));
  const auto c = load_config(write(dir, "i.toml",
                                   "[http]\npublic_read = true\nsession_idle_timeout_s = 600\nsession_max_age_s = 3600\n"
                                   "login_max_failures = 3\nlogin_window_s = 60\n"));
  EXPECT_TRUE(c.http_public_read);
  EXPECT_EQ(c.http_session_idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(c.http_session_max_age, std::chrono::seconds(3600));
  EXPECT_EQ(c.http_login_max_failures, 3u);
  EXPECT_EQ(c.http_login_window, std::chrono::seconds(60));
  for (const char* bad : {"public_read = 1", "public_read = \"yes\"", "session_idle_timeout_s = 59", "session_max_age_s = 0",
                          "login_max_failures = 0", "login_window_s = 86401"}) {
    const std::string key = std::string(bad).substr(0, std::string(bad).find(' '));
    const auto e = error_of([&] { load_config(write(dir, "b.toml", std::string("[http]\n") + bad + "\n")); });
    EXPECT_NE(e.find("http." + key), std::string::npos) << bad << ": " << e;
  }
  // The shared token is gone; the error names what replaces it (and never echoes the token).
  const auto e = error_of([&] { load_config(write(dir, "t.toml", "[http]\nack_token = \"hunter2-secret\"\n")); });
  EXPECT_NE(e.find("http.ack_token: was removed"), std::string::npos) << e;
  EXPECT_NE(e.find("tokens add NAME --role operator"), std::string::npos) << e;
  EXPECT_NE(e.find("users add NAME"), std::string::npos) << e;
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
}

TEST(Config, ValuesThatCannotWorkAtRuntimeAreRejectedByTheCheck) {
  testing::temp_dir dir("gw-config");
  const auto check = [&](const std::string& text) { return error_of([&] { load_config(write(dir, "x.toml", text)); }); };
  auto e = check("[http]\nlisten = \"localhost:8080\"\n");
  EXPECT_NE(e.find("http.listen: \"localhost\" is not an IP address"), std::string::npos) << e;
  e = check("[mqtt]\nuri = \"tcp://\"\n");
  EXPECT_NE(e.find("mqtt.uri: no host"), std::string::npos) << e;
  e = check("[mqtt]\nuri = \"tcp://127.0.0.1:99999\"\n");
  EXPECT_NE(e.find("mqtt.uri: port must be 1..65535, got \"99999\""), std::string::npos) << e;
  e = check("[mqtt]\nuri = \"ssl://broker:8883\"\nca_file = \"missing-ca.crt\"\n");
  EXPECT_NE(e.find("mqtt.ca_file: no such file: " + (dir.path() / "missing-ca.crt").string()), std::string::npos) << e;
  std::ofstream(dir.path() / "plain-file") << "x";
  e = check("[store]\npath = \"plain-file/sub/g.db\"\n");
  EXPECT_NE(e.find("store.path: " + (dir.path() / "plain-file").string() + " is not a directory"), std::string::npos) << e;
  EXPECT_EQ(check("[mqtt]\nuri = \"ssl://broker.example\"\n"), "no error");  // Paho's default port
}

TEST(Config, TimeZoneMustBeAZoneOfTheSystemDatabase) {
  testing::temp_dir dir("gw-config");
  const auto check = [&](const std::string& text) { return error_of([&] { load_config(write(dir, "z.toml", text)); }); };
  for (const char* bad : {"Not/AZone", "", "../../etc/passwd", "Asia/Shanghai "}) {
    const auto e = check(std::string("[county]\ntime_zone = \"") + bad + "\"\n");
    EXPECT_NE(e.find("z.toml"), std::string::npos) << e;
    EXPECT_NE(e.find("county.time_zone: \"" + std::string(bad) + "\" is not a time zone"), std::string::npos) << e;
  }
  // The fixed offset key is gone: refused with a message naming it and the replacement.
  auto e = check("[county]\nutc_offset_minutes = 480\n");
  EXPECT_NE(e.find("county.utc_offset_minutes: was removed"), std::string::npos) << e;
  EXPECT_NE(e.find("Etc/GMT-8"), std::string::npos) << e;
  const auto c = load_config(write(dir, "ok.toml", "[county]\ntime_zone = \"Europe/Berlin\"\n"));
  EXPECT_EQ(c.time_zone, "Europe/Berlin");
  EXPECT_EQ(c.zone.name(), "Europe/Berlin");
  EXPECT_EQ(load_config(write(dir, "none.toml", "")).zone.name(), "Asia/Shanghai");  // the default
}

TEST(Config, RelativePathsResolveAgainstTheConfigFile) {
  testing::temp_dir dir("gw-config");
  const auto p = write(dir, "g.toml", "[store]\npath = \"data/g.db\"\n[registry]\npath = \"reg.toml\"\n");
  const auto c = load_config(p);
  EXPECT_EQ(c.store_path, dir.path() / "data/g.db");
  EXPECT_EQ(c.registry_path, dir.path() / "reg.toml");
}

/// Runs `f` with the current folder set to `dir`, restoring it afterwards.
template <typename F>
auto in_folder(const std::filesystem::path& dir, F&& f) {
  const auto before = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  struct restore {
    std::filesystem::path p;
    ~restore() { std::filesystem::current_path(p); }
  } r{before};
  return f();
}

// Issue 9 section 6: `--config g.toml` with store.path = "gw.db" (config in the current folder)
// gave an empty parent folder and "cannot create directories: Invalid argument []" at start.
TEST(Config, RelativePathsOfAConfigInTheCurrentFolderAreAbsoluteWithARealParent) {
  testing::temp_dir dir("gw-config");
  std::filesystem::create_directories(dir.path() / "etc");
  const auto root = std::filesystem::canonical(dir.path());
  struct each {
    std::string store;
    std::filesystem::path expected;
  };
  for (const auto& c : {each{"gw.db", root / "etc/gw.db"}, each{"./gw.db", root / "etc/gw.db"},
                        each{"../var/gw.db", root / "var/gw.db"}, each{"./a/../gw.db", root / "etc/gw.db"}}) {
    write(dir, "etc/g.toml", "[store]\npath = \"" + c.store + "\"\n[registry]\npath = \"./reg.toml\"\n");
    const auto cfg = in_folder(root / "etc", [] { return load_config("g.toml"); });
    EXPECT_EQ(cfg.store_path, c.expected) << c.store;
    EXPECT_TRUE(cfg.store_path.is_absolute()) << c.store;
    EXPECT_FALSE(cfg.store_path.parent_path().empty()) << c.store;
    EXPECT_EQ(cfg.registry_path, root / "etc/reg.toml") << c.store;
    // The same config named through a relative folder ("etc/g.toml" from the root).
    const auto cfg2 = in_folder(root, [] { return load_config("etc/g.toml"); });
    EXPECT_EQ(cfg2.store_path, c.expected) << c.store;
  }
}

// Issue 9 section 6: ca_file with a tcp:// URI connected in plaintext (and sent the password).
TEST(Config, TlsKeysWithAPlaintextUriAreRefusedNamingTheKeys) {
  testing::temp_dir dir("gw-config");
  std::ofstream(dir.path() / "ca.crt") << "x";
  std::ofstream(dir.path() / "c.crt") << "x";
  const auto check = [&](const std::string& text) { return error_of([&] { load_config(write(dir, "x.toml", text)); }); };
  auto e = check("[mqtt]\nuri = \"tcp://broker:1883\"\nca_file = \"ca.crt\"\npassword = \"pw\"\n");
  EXPECT_NE(e.find("x.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("mqtt.uri: mqtt.ca_file is set but \"tcp://broker:1883\" is a plaintext URI"), std::string::npos) << e;
  e = check("[mqtt]\nuri = \"mqtt://broker\"\ncert_file = \"c.crt\"\nkey_file = \"c.crt\"\n");
  EXPECT_NE(e.find("mqtt.cert_file, mqtt.key_file are set but \"mqtt://broker\" is a plaintext URI"), std::string::npos) << e;
  EXPECT_EQ(check("[mqtt]\nuri = \"ssl://broker:8883\"\nca_file = \"ca.crt\"\n"), "no error");
  EXPECT_EQ(check("[mqtt]\nuri = \"mqtts://broker\"\nca_file = \"ca.crt\"\n"), "no error");
  EXPECT_EQ(check("[mqtt]\nuri = \"tcp://broker:1883\"\nallow_plaintext = true\n"), "no error");
  // The opt-in does not make TLS files with a plain URI acceptable.
  e = check("[mqtt]\nuri = \"tcp://broker:1883\"\nallow_plaintext = true\nca_file = \"ca.crt\"\n");
  EXPECT_NE(e.find("mqtt.uri: mqtt.ca_file is set but \"tcp://broker:1883\" is a plaintext URI"), std::string::npos) << e;
}

// Issue 11: TLS by default. A plain URI is refused unless mqtt.allow_plaintext = true.
TEST(Config, APlaintextUriNeedsTheExplicitOptIn) {
  testing::temp_dir dir("gw-config");
  const auto check = [&](const std::string& text) { return error_of([&] { load_config(write(dir, "x.toml", text)); }); };
  EXPECT_EQ(check("[mqtt]\nuri = \"tcp://broker:1883\"\n"),
            (dir.path() / "x.toml").string() +
                ": mqtt.uri: \"tcp://broker:1883\" is plaintext: set mqtt.allow_plaintext = true to accept that (not "
                "recommended), or use ssl://");
  auto e = check("[mqtt]\nuri = \"mqtt://broker\"\nallow_plaintext = false\n");
  EXPECT_NE(e.find("mqtt.uri: \"mqtt://broker\" is plaintext: set mqtt.allow_plaintext = true"), std::string::npos) << e;
  e = check("[mqtt]\nuri = \"tcp://broker\"\nallow_plaintext = \"yes\"\n");
  EXPECT_NE(e.find("mqtt.allow_plaintext: must be true or false"), std::string::npos) << e;
  EXPECT_FALSE(config{}.mqtt_allow_plaintext);
  EXPECT_TRUE(load_config(write(dir, "p.toml", "[mqtt]\nuri = \"tcp://b\"\nallow_plaintext = true\n")).mqtt_allow_plaintext);
  // The default URI is TLS: a config without [mqtt] passes and means ssl://.
  const auto d = load_config(write(dir, "d.toml", "[store]\npath = \"g.db\"\n"));
  EXPECT_EQ(d.mqtt_uri.rfind("ssl://", 0), 0U) << d.mqtt_uri;
  EXPECT_FALSE(d.mqtt_allow_plaintext);
}

TEST(Registry, ExampleLoadsWithOverrides) {
  const thresholds d;
  const auto r = load_registry(SEWAGE_GATEWAY_EXAMPLE_REGISTRY, d);
  ASSERT_GE(r.size(), 2u);
  bool some_override = false;
  for (const auto& t : r.terminals()) some_override = some_override || !(t.limits == d);
  EXPECT_TRUE(some_override);
  EXPECT_TRUE(r.find(r.terminals()[1].id).has_value());
  EXPECT_FALSE(r.find("nope").has_value());
}

TEST(Registry, ErrorsNameFileTerminalAndKey) {
  testing::temp_dir dir("gw-registry");
  const std::string good =
      "[[terminal]]\nid = \"A1\"\nname = \"a\"\ntown = \"t\"\nvillage = \"v\"\nlatitude = 30.5\n"
      "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\n";
  auto p = write(dir, "r1.toml", good + good);
  auto e = error_of([&] { load_registry(p, {}); });
  EXPECT_NE(e.find("r1.toml: terminal[1] (A1).id: duplicate of terminal[0]"), std::string::npos) << e;
  p = write(dir, "r2.toml", good + "[[terminal]]\nid = \"B2\"\nname = \"b\"\ntown = \"t\"\nvillage = \"v\"\nlatitude = 95.0\n");
  e = error_of([&] { load_registry(p, {}); });
  EXPECT_NE(e.find("terminal[1] (B2).latitude"), std::string::npos) << e;
  p = write(dir, "r3.toml", good + "[terminal.thresholds]\nturbidity_raise_ntu = -1.0\n");
  e = error_of([&] { load_registry(p, {}); });
  EXPECT_NE(e.find("terminal[0] (A1).thresholds.turbidity_raise_ntu"), std::string::npos) << e;
  p = write(dir, "r4.toml", good + "colour = \"red\"\n");
  e = error_of([&] { load_registry(p, {}); });
  EXPECT_NE(e.find("terminal[0] (A1).colour: unknown key"), std::string::npos) << e;
  p = write(dir, "r5.toml", "[[terminal]]\nid = \"bad id!\"\n");
  e = error_of([&] { load_registry(p, {}); });
  EXPECT_NE(e.find("terminal[0] (bad id!).id"), std::string::npos) << e;
}

TEST(Registry, EntriesThatCannotBeShownOrJudgedAreRefused) {
  testing::temp_dir dir("gw-registry");
  // One valid terminal with `key = value` lines replaced.
  const auto with = [](const std::vector<std::pair<std::string, std::string>>& changes) {
    std::string t =
        "[[terminal]]\nid = \"A1\"\nname = \"a\"\ntown = \"t\"\nvillage = \"v\"\nlatitude = 30.5\n"
        "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\n";
    for (const auto& [key, value] : changes) {
      const auto at = t.find("\n" + key + " = ") + 1;
      t.replace(at, t.find('\n', at) - at, key + " = " + value);
    }
    return t;
  };
  const auto check = [&](const std::string& text) { return error_of([&] { load_registry(write(dir, "r.toml", text), {}); }); };
  auto e = check(with({{"name", "\"\""}}));
  EXPECT_NE(e.find("terminal[0] (A1).name: is required"), std::string::npos) << e;
  EXPECT_EQ(check(with({{"latitude", "0.0"}})), "no error");  // on the equator: a real place
  e = check(with({{"latitude", "0.0"}, {"longitude", "0.0"}}));
  EXPECT_NE(e.find("terminal[0] (A1).latitude: 0, 0 is in the Gulf of Guinea"), std::string::npos) << e;
  e = check(with({{"discharge_grade", "\"class A\""}}));
  EXPECT_NE(e.find("discharge_grade: must be one of grade_1, grade_2"), std::string::npos) << e;
  e = check("# nothing yet\n");
  EXPECT_NE(e.find("r.toml: terminal: no [[terminal]] table"), std::string::npos) << e;
}

TEST(Config, TimeStampTrustWindowIsReadAndBounded) {
  testing::temp_dir dir("gw-config");
  const auto c = load_config(write(dir, "t.toml", "[alerts]\nclock_trust_behind_s = 86400\nclock_trust_ahead_s = 60\n"));
  EXPECT_EQ(c.defaults.clock_trust_behind_s, 86400u);
  EXPECT_EQ(c.defaults.clock_trust_ahead_s, 60u);
  EXPECT_EQ(thresholds{}.clock_trust_behind_s, 7776000u);  // 90 days: the agent queue's ~69 days + margin
  const auto e = error_of([&] { load_config(write(dir, "u.toml", "[alerts]\nclock_trust_behind_s = 10\n")); });
  EXPECT_NE(e.find("alerts.clock_trust_behind_s"), std::string::npos) << e;
}

TEST(Config, WebApplicationKeys) {
  testing::temp_dir dir("gw-config");
  const config d;
  const auto ex = load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG);
  EXPECT_EQ(ex.http_web_root, d.http_web_root);
  EXPECT_EQ(ex.http_web_root, default_web_root());
  EXPECT_EQ(ex.http_vendor_root, std::filesystem::path("/usr/share/javascript"));
  EXPECT_EQ(ex.http_tile_url, "");
  EXPECT_EQ(ex.http_poll_interval_ms, 3000u);
  auto p = write(dir, "w.toml",
                 "[http]\nweb_root = \"site\"\nvendor_root = \"/opt/js\"\ntile_url = \"http://tiles.local/{z}/{x}/{y}.png\"\n"
                 "tile_attribution = \"County GIS\"\npoll_interval_ms = 2000\n");
  const auto c = load_config(p);
  EXPECT_EQ(c.http_web_root, dir.path() / "site");  // relative to the config file
  EXPECT_EQ(c.http_vendor_root, std::filesystem::path("/opt/js"));
  EXPECT_EQ(c.http_tile_url, "http://tiles.local/{z}/{x}/{y}.png");
  EXPECT_EQ(c.http_tile_attribution, "County GIS");
  EXPECT_EQ(c.http_poll_interval_ms, 2000u);
  p = write(dir, "x.toml", "[http]\npoll_interval_ms = 10\n");
  auto e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("http.poll_interval_ms"), std::string::npos) << e;
  p = write(dir, "y.toml", "[http]\nweb_root = 3\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("http.web_root"), std::string::npos) << e;
}

// Issue 16 item 2: [standby] is read and bounded; a standby pair needs the shared PostgreSQL store.
TEST(Config, StandbyKeysAreReadAndNeedThePostgresqlStore) {
  testing::temp_dir dir("gw-config");
  const config d;
  const auto ex = load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG);
  EXPECT_EQ(ex.standby_enabled, d.standby_enabled);
  EXPECT_FALSE(ex.standby_enabled);
  EXPECT_EQ(ex.standby_lease_key, d.standby_lease_key);
  EXPECT_EQ(ex.standby_check_interval, d.standby_check_interval);
  EXPECT_FALSE(ex.standby_node.empty());  // the host name
  auto p = write(dir, "s.toml",
                 "[store]\nbackend = \"postgresql\"\npostgresql_uri = \"host=db dbname=sewage\"\n"
                 "[standby]\nenabled = true\nnode = \"county-b\"\nhttp_url = \"https://b.example/\"\n"
                 "lease_key = -7\ncheck_interval_ms = 500\n");
  const auto c = load_config(p);
  EXPECT_TRUE(c.standby_enabled);
  EXPECT_EQ(c.standby_node, "county-b");
  EXPECT_EQ(c.standby_http_url, "https://b.example/");
  EXPECT_EQ(c.standby_lease_key, -7);
  EXPECT_EQ(c.standby_check_interval, std::chrono::milliseconds(500));
  p = write(dir, "t.toml", "[standby]\nenabled = true\n");  // SQLite: nothing to share
  auto e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("standby.enabled"), std::string::npos) << e;
  EXPECT_NE(e.find("postgresql"), std::string::npos) << e;
  p = write(dir, "u.toml", "[standby]\ncheck_interval_ms = 10\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("standby.check_interval_ms"), std::string::npos) << e;
  p = write(dir, "v.toml", "[standby]\nleader = true\n");
  e = error_of([&] { load_config(p); });
  EXPECT_NE(e.find("standby.leader"), std::string::npos) << e;
}

}  // namespace
}  // namespace sewage::gateway
