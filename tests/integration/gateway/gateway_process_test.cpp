// sewage-gateway as a real process against a real mosquitto, fed by mosquitto_pub (a client we did
// not write), observed through its HTTP API and the broker's retained alert topics.
#include "gateway_cli.hpp"
#include "http_client.hpp"
#include "process_util.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <functional>
#include <thread>

namespace sewage::gateway::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class GatewayProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::temp_dir>("gw-it");
    std::filesystem::create_directories(dir_->path() / "broker");
    broker_ = std::make_unique<testing::mosquitto_broker>(dir_->path() / "broker");
    http_port_ = testing::free_loopback_port();
    // T1: 60 s reports (never offline during a test), turbidity alert without debounce.
    // T2: 1 s reports, offline after 2 intervals of silence.
    std::ofstream(dir_->path() / "registry.toml")
        << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
           "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n"
           "[terminal.thresholds]\nturbidity_raise_ntu = 10.0\nturbidity_clear_ntu = 8.0\nturbidity_debounce_s = 0\n"
           "[[terminal]]\nid = \"T2\"\nname = \"Two\"\ntown = \"A\"\nvillage = \"C\"\nlatitude = 30.4\n"
           "longitude = 120.8\ndesign_capacity_m3d = 10\ndischarge_grade = \"grade_2\"\nreport_interval_s = 1\n"
           "[terminal.thresholds]\noffline_after_intervals = 2.0\n";
    std::ofstream(dir_->path() / "gateway.toml")
        << "[mqtt]\nuri = \"" << broker_->uri() << "\"\nallow_plaintext = true\nclient_id = \"gw-it\"\nkeep_alive_s = 5\n"
        << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
        << "[http]\nlisten = \"127.0.0.1:" << http_port_ << "\"\npublic_read = true\n"
        << "[registry]\npath = \"registry.toml\"\n"
        << "[alerts]\nstartup_grace_s = 1\ntick_ms = 100\n"
        << "[log]\nlevel = \"debug\"\n";
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- gateway log ----\n" << slurp(dir_->path() / "gateway.log") << "\n---- broker log ----\n"
                << broker_->log() << '\n';
    }
    if (gateway_) gateway_->stop(5s);
    gateway_.reset();
    broker_.reset();
  }

  void start_gateway() {
    if (token_.empty()) token_ = operator_token((dir_->path() / "gateway.toml").string());
    gateway_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BINARY, "--config", (dir_->path() / "gateway.toml").string()},
        dir_->path() / "gateway.log");
    ASSERT_TRUE(testing::wait_for_port(http_port_, 30s)) << slurp(dir_->path() / "gateway.log");
    ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));
  }

  void publish(const std::string& topic, const std::string& payload) {
    testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-q", "1",
                                "-t", topic, "-m", payload},
                               dir_->path() / "pub.log");
    const auto st = pub.wait_for_exit(10s);
    ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir_->path() / "pub.log");
  }

  void publish_record(std::uint64_t seq, double total_m3, double ntu, proto::timestamp ts) {
    publish(proto::telemetry_topic("T1"), flow_turbidity_record_json("T1", seq, total_m3, ntu, ts));
  }

  /// The retained message on `topic` (empty string when there is none), read with mosquitto_sub.
  std::string retained(const std::string& topic) {
    const auto out = dir_->path() / "sub.out";
    std::filesystem::remove(out);
    testing::child_process sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t", topic,
                                "--retained-only", "-C", "1", "-W", "2"},
                               out);
    sub.wait_for_exit(10s);
    const std::string text = slurp(out);
    return text.rfind("Timed out", 0) == 0 ? std::string() : text;  // mosquitto_sub -W found nothing
  }

  json get(const std::string& target) {
    const auto r = http_call(http_port_, "GET", target);
    if (r.status != 200) return json::object();
    return json::parse(r.body, nullptr, false);
  }

  /// Records counted in the terminal's newest daily row (0 when there is none yet).
  int daily_records(const std::string& id) {
    const auto days = get("/api/terminals/" + id + "/daily").value("days", json::array());
    return days.empty() ? 0 : days.back().value("records", 0);
  }

  double metric(const std::string& name_labels) {
    const auto r = http_call(http_port_, "GET", "/metrics");
    const auto pos = r.body.find("\n" + name_labels + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(r.body.substr(pos + name_labels.size() + 2));
  }

  static bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (cond()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return cond();
  }

  static proto::timestamp now() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }

  std::unique_ptr<testing::temp_dir> dir_;
  std::unique_ptr<testing::mosquitto_broker> broker_;
  std::unique_ptr<testing::child_process> gateway_;
  int http_port_{0};
  std::string token_;  ///< an operator bearer token made with the CLI
};

// Issue 9, section 1: `curl 'http://127.0.0.1:PORT/api/terminals/%ff'` made sewage-gateway exit 1.
// Invalid UTF-8 and control bytes in the path, query, headers and body, sent as raw bytes: each is
// a 400 with a JSON body, and the process lives on and stays healthy.
TEST_F(GatewayProcess, UsersAndTokensAreManagedWithTheCliAndWorkOverHttpAtOnce) {
  const auto cfg = (dir_->path() / "gateway.toml").string();
  const auto cli = [&](const std::string& args, const std::string& in = {}) { return gateway_cli(SEWAGE_GATEWAY_BINARY, cfg, args, in); };
  EXPECT_EQ(cli("users add alice --role admin", "alice-first-pw").exit_code, 0);
  EXPECT_EQ(cli("users add bob --role operator --town A", "bob-pass-1234").exit_code, 0);
  const auto no_town = cli("users add carl --role viewer --town Nowhere", "carl-pass-1234");
  EXPECT_EQ(no_town.exit_code, 1);
  EXPECT_NE(no_town.out.find("--town 'Nowhere' is not a town of the registry"), std::string::npos) << no_town.out;
  EXPECT_NE(cli("users add carl --role root", "carl-pass-1234").exit_code, 0);
  EXPECT_EQ(cli("users add dave --role viewer", "short").exit_code, 1);  // 8 bytes at least
  EXPECT_EQ(cli("users add alice --role viewer", "alice-other-pw").exit_code, 1);  // exists
  EXPECT_EQ(cli("users passwd alice", "alice-second-pw").exit_code, 0);
  EXPECT_EQ(cli("users disable bob").exit_code, 0);
  const auto users = cli("users list");
  EXPECT_NE(users.out.find("alice\tadmin\t(whole county)\tenabled"), std::string::npos) << users.out;
  EXPECT_NE(users.out.find("bob\toperator\t[\"A\"]\tdisabled"), std::string::npos) << users.out;
  EXPECT_EQ(users.out.find("argon2"), std::string::npos) << users.out;
  const auto made = cli("tokens add wall-screen --role viewer");
  const auto at = made.out.find("sgw_");
  ASSERT_NE(at, std::string::npos) << made.out;
  const auto viewer = made.out.substr(at, made.out.find('\n', at) - at);
  EXPECT_EQ(cli("tokens list").out.find(viewer), std::string::npos);

  start_gateway();
  EXPECT_EQ(http_call(http_port_, "GET", "/api/users").status, 401);
  EXPECT_EQ(http_call(http_port_, "GET", "/api/users", {}, viewer).status, 403);
  EXPECT_EQ(http_call(http_port_, "GET", "/api/summary", {}, viewer).status, 200);
  // Logins over the wire: the new password works, the old one and the disabled user do not.
  const auto login = [&](const std::string& body) {
    return raw_http_exchange(http_port_, "POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  EXPECT_EQ(login(R"({"user":"alice","password":"alice-second-pw"})").status, 200);
  EXPECT_EQ(login(R"({"user":"alice","password":"alice-first-pw"})").status, 401);
  EXPECT_EQ(login(R"({"user":"bob","password":"bob-pass-1234"})").status, 401);
  // Revoked with the CLI while the gateway runs: refused at the next request.
  EXPECT_EQ(cli("tokens revoke wall-screen").exit_code, 0);
  EXPECT_EQ(http_call(http_port_, "GET", "/api/summary", {}, viewer).status, 401);
  EXPECT_EQ(cli("tokens revoke wall-screen").exit_code, 1);
  const auto log = slurp(dir_->path() / "gateway.log");
  for (const auto& secret : {std::string("alice-first-pw"), std::string("alice-second-pw"), std::string("bob-pass-1234"), viewer})
    EXPECT_EQ(log.find(secret), std::string::npos) << log;
}

TEST_F(GatewayProcess, HostileRequestBytesGet400AndTheGatewayLives) {
  start_gateway();
  const std::string end = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"path %ff", "GET /api/terminals/%ff" + end + "\r\n"},
      {"path %00", "GET /api/terminals/%00" + end + "\r\n"},
      {"path %c3%28", "GET /api/terminals/%c3%28" + end + "\r\n"},
      {"raw byte in path", "GET /api/terminals/\xff" + end + "\r\n"},
      {"query value", "GET /api/alerts?terminal=%ff" + end + "\r\n"},
      {"query name", "GET /api/alerts?%c3%28=1" + end + "\r\n"},
      {"header", "GET /api/summary" + end + "User-Agent: \xff\xfe\r\n\r\n"},
      {"header NUL", "GET /api/summary" + end + "User-Agent: a" + std::string(1, '\0') + "b\r\n\r\n"},
      {"body", "POST /api/alerts/1/ack" + end + "Authorization: Bearer tok-123\r\nContent-Length: 11\r\n\r\n{\"by\":\"\xc3\x28\"}"},
      {"unknown parameter", "GET /api/terminals/T1/daily?form=2026-11-01" + end + "\r\n"},
      {"negative limit", "GET /api/terminals/T1/history?limit=-1" + end + "\r\n"},
  };
  for (const auto& [what, bytes] : requests) {
    const auto r = raw_http_exchange(http_port_, bytes);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_TRUE(json::accept(r.body)) << what << ": " << r.body;
    ASSERT_TRUE(gateway_->running()) << "the gateway died on: " << what;
  }
  const auto health = http_call(http_port_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_GE(metric("sewage_gateway_http_rejected_total{reason=\"bad_bytes\"}"), 6);
  EXPECT_TRUE(gateway_->running());
}

TEST_F(GatewayProcess, TelemetryShowsUpInTheApiAndAMalformedPayloadIsRejectedWhileTheNextIsAccepted) {
  start_gateway();
  const auto t0 = now() - 5min;
  publish_record(1, 100.0, 3.0, t0);
  {
    // A complete record whose only fault is a seq sent as a string.
    proto::telemetry_record bad;
    bad.terminal_id = "T1";
    bad.epoch = "ep1";
    bad.seq = 777;
    bad.ts = t0;
    std::string payload = proto::encode(bad);
    payload.replace(payload.find("777"), 3, "\"2\"");
    publish(proto::telemetry_topic("T1"), payload);
  }
  publish_record(2, 100.5, 3.0, t0 + 60s);
  ASSERT_TRUE(eventually([&] { return get("/api/terminals/T1").value("/latest_record/seq"_json_pointer, 0) == 2; }, 20s));
  EXPECT_EQ(metric("sewage_gateway_records_accepted_total"), 2);
  EXPECT_EQ(metric("sewage_gateway_rejects_total{reason=\"wrong_type\"}"), 1);
  const auto dl = get("/api/dead-letters");
  ASSERT_EQ(dl["dead_letters"].size(), 1u);
  EXPECT_EQ(dl["dead_letters"][0]["topic"], proto::telemetry_topic("T1"));
  EXPECT_NE(dl["dead_letters"][0]["reason"].get<std::string>().find("/seq"), std::string::npos);

  const auto hist = get("/api/terminals/T1/history?from=" + proto::format_timestamp(t0 - 1h) +
                        "&to=" + proto::format_timestamp(now() + 1min));
  EXPECT_EQ(hist["records"].size(), 2u);
  const auto daily = get("/api/terminals/T1/daily");
  ASSERT_EQ(daily["days"].size(), 1u);
  EXPECT_DOUBLE_EQ(daily["days"][0]["volume_measured_m3"].get<double>(), 0.5);
  EXPECT_EQ(get("/api/summary")["terminals"], 2);
  EXPECT_EQ(get("/api/terminals.geojson")["features"].size(), 2u);
  const auto missing = http_call(http_port_, "GET", "/api/terminals/NOPE");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(json::parse(missing.body).contains("error"));
  EXPECT_EQ(http_call(http_port_, "GET", "/api/terminals/T1/history?from=2020-01-01T00:00:00Z").status, 400);
}

TEST_F(GatewayProcess, SigkillAndRestartKeepAlertsDedupAndAggregatesAndProcessTheBacklog) {
  start_gateway();
  const auto t0 = now() - 10min;
  auto at = [&](std::uint64_t s) { return t0 + std::chrono::minutes(s); };
  for (std::uint64_t s = 1; s <= 3; ++s) publish_record(s, 100.0 + static_cast<double>(s - 1), 20.0, at(s));
  ASSERT_TRUE(eventually([&] { return daily_records("T1") == 3; }, 20s));
  const auto open = get("/api/alerts?state=open&terminal=T1")["alerts"];
  ASSERT_EQ(open.size(), 1u);
  const auto alert_id = open[0]["alert_id"].get<std::uint64_t>();
  EXPECT_EQ(open[0]["type"], "turbidity_high");

  gateway_->kill_now();  // SIGKILL: no flush, no goodbye
  // While it is down: a replay of what it already has, two new records, and one that clears.
  for (std::uint64_t s = 1; s <= 5; ++s) publish_record(s, 100.0 + static_cast<double>(s - 1), 20.0, at(s));
  publish_record(6, 105.0, 2.0, at(6));
  start_gateway();

  ASSERT_TRUE(eventually([&] { return daily_records("T1") == 6; }, 30s));
  const auto day = get("/api/terminals/T1/daily")["days"][0];
  EXPECT_DOUBLE_EQ(day["volume_measured_m3"].get<double>(), 5.0);
  EXPECT_EQ(metric("sewage_gateway_duplicates_total"), 3);
  EXPECT_EQ(get("/api/terminals/T1")["dedup"]["max_seq"], 6);
  const auto all = get("/api/alerts?state=all&terminal=T1")["alerts"];
  ASSERT_EQ(all.size(), 1u) << all.dump();
  EXPECT_EQ(all[0]["alert_id"], alert_id);
  EXPECT_EQ(all[0]["state"], "cleared");
}

TEST_F(GatewayProcess, ReceivedRecordsSurviveASigkillBeforeTheirBatchIsCommitted) {
  // Commit only every minute: whatever arrives now is acknowledged to the broker (Paho does
  // that when the callback returns) long before it reaches the store.
  {
    std::string cfg = slurp(dir_->path() / "gateway.toml");
    cfg.replace(cfg.find("flush_interval_ms = 50"), 22, "flush_interval_ms = 60000");
    std::ofstream(dir_->path() / "gateway.toml") << cfg;
  }
  start_gateway();
  const auto t0 = now() - 10min;
  for (std::uint64_t s = 1; s <= 5; ++s)
    publish_record(s, 200.0 + static_cast<double>(s), 3.0, t0 + std::chrono::minutes(s));
  std::this_thread::sleep_for(1500ms);  // delivered and acknowledged; no API call (it would flush)
  gateway_->kill_now();
  {
    std::string cfg = slurp(dir_->path() / "gateway.toml");
    cfg.replace(cfg.find("flush_interval_ms = 60000"), 25, "flush_interval_ms = 50");
    std::ofstream(dir_->path() / "gateway.toml") << cfg;
  }
  start_gateway();
  ASSERT_TRUE(eventually([&] { return daily_records("T1") == 5; }, 20s)) << get("/api/terminals/T1/daily").dump();
  EXPECT_EQ(get("/api/terminals/T1")["dedup"]["max_seq"], 5);
  EXPECT_NE(slurp(dir_->path() / "gateway.log").find("replayed"), std::string::npos);
}

TEST_F(GatewayProcess, AlertsArePublishedRetainedAcknowledgedAndRemovedWhenCleared) {
  // A retained alert state left behind (its clear was lost): the gateway removes it at subscribe.
  proto::alert_message stale;
  stale.terminal_id = "T1";
  stale.type = proto::alert_type::no_flow;
  stale.alert_id = 999;
  stale.raised_at = now() - 24h;
  stale.message = "left over";
  const auto stale_topic = proto::alert_topic("T1", proto::alert_type::no_flow);
  {
    testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-q", "1",
                                "-r", "-t", stale_topic, "-m", proto::encode(stale)},
                               dir_->path() / "pub.log");
    ASSERT_TRUE(pub.wait_for_exit(10s).has_value());
  }
  ASSERT_NE(retained(stale_topic), "");
  start_gateway();
  EXPECT_TRUE(eventually([&] { return retained(stale_topic).empty(); }, 15s)) << "stale retained alert not removed";
  const auto topic = proto::alert_topic("T1", proto::alert_type::turbidity_high);
  publish_record(1, 10.0, 25.0, now() - 5s);
  json alert;
  ASSERT_TRUE(eventually([&] {
    const auto a = get("/api/alerts?state=open&terminal=T1")["alerts"];
    if (a.size() != 1) return false;
    alert = a[0];
    return true;
  }, 20s));
  EXPECT_TRUE(eventually([&] { return retained(topic).find("\"raised\"") != std::string::npos; }, 10s));

  const std::string ack_path = "/api/alerts/" + std::to_string(alert["alert_id"].get<std::uint64_t>()) + "/ack";
  EXPECT_EQ(http_call(http_port_, "POST", ack_path, R"({"by":"Li Wei","note":"crew sent"})", "wrong").status, 401);
  EXPECT_EQ(http_call(http_port_, "POST", ack_path, R"({"by":""})", token_).status, 400);
  const auto ack = http_call(http_port_, "POST", ack_path, R"({"by":"Li Wei","note":"crew sent"})", token_);
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(json::parse(ack.body)["state"], "acknowledged");
  EXPECT_TRUE(eventually([&] { return retained(topic).find("Li Wei") != std::string::npos; }, 10s));

  publish_record(2, 10.1, 3.0, now() - 4s);
  ASSERT_TRUE(eventually([&] { return get("/api/alerts?state=open&terminal=T1")["alerts"].empty(); }, 20s));
  EXPECT_TRUE(eventually([&] { return retained(topic).empty(); }, 10s)) << "retained alert not removed: " << retained(topic);
  EXPECT_EQ(http_call(http_port_, "POST", ack_path, R"({"by":"Li Wei"})", token_).status, 409);

  // T2 never reports: offline after the 1 s start-up grace and 2 x 1 s, published retained.
  const auto offline_topic = proto::alert_topic("T2", proto::alert_type::offline);
  EXPECT_TRUE(eventually([&] { return retained(offline_topic).find("\"offline\"") != std::string::npos; }, 20s));
  EXPECT_EQ(get("/api/summary")["open_alerts"]["offline"], 1);
}

}  // namespace
}  // namespace sewage::gateway::test

namespace sewage::gateway::test {
namespace {

TEST_F(GatewayProcess, ImageIsServedAndRegistryReloadsOnSighupWithoutLosingState) {
  start_gateway();
  publish_record(1, 100.0, 3.0, now() - 2min);
  // A minimal JPEG: SOI + APP0 marker ... EOI, published from a file like a camera would.
  static constexpr char jpeg_bytes[] = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";
  const std::string jpeg(jpeg_bytes, sizeof jpeg_bytes - 1);
  std::ofstream(dir_->path() / "snap.jpg", std::ios::binary) << jpeg;
  testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-q", "1",
                              "-r", "-t", proto::image_topic("T1"), "-f", (dir_->path() / "snap.jpg").string()},
                             dir_->path() / "pub.log");
  ASSERT_TRUE(pub.wait_for_exit(10s).has_value());
  ASSERT_TRUE(eventually([&] { return http_call(http_port_, "GET", "/api/terminals/T1/image").status == 200; }, 20s));
  EXPECT_EQ(http_call(http_port_, "GET", "/api/terminals/T1/image").body, jpeg);
  ASSERT_TRUE(eventually([&] { return get("/api/terminals/T1").value("/latest_record/seq"_json_pointer, 0) == 1; }, 20s));

  // Add T3 to the registry and send SIGHUP: T3 appears, T1 keeps its state.
  std::ofstream(dir_->path() / "registry.toml", std::ios::app)
      << "[[terminal]]\nid = \"T3\"\nname = \"Three\"\ntown = \"A\"\nvillage = \"D\"\nlatitude = 30.3\n"
         "longitude = 120.7\ndesign_capacity_m3d = 5\ndischarge_grade = \"grade_1\"\n";
  gateway_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return get("/api/terminals")["terminals"].size() == 3; }, 20s));
  EXPECT_EQ(get("/api/terminals/T1").value("/latest_record/seq"_json_pointer, 0), 1);
  // A broken registry is refused and the current one kept.
  std::ofstream(dir_->path() / "registry.toml", std::ios::app) << "[[terminal]]\nid = \"bad id\"\n";
  gateway_->signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(get("/api/terminals")["terminals"].size(), 3u);
  EXPECT_TRUE(gateway_->running());
}

/// A pipe network GeoJSON: terminal T1 and `wells` wells in a chain draining into it; with
/// `stray`, one more well W99 that drains nowhere.
std::string network_text(int wells, bool stray) {
  std::string f = R"({"type":"FeatureCollection","features":[)"
                  R"({"type":"Feature","geometry":{"type":"Point","coordinates":[120.9,30.5]},"properties":{"id":"T1","kind":"terminal"}})";
  const auto lon = [](int i) { return std::to_string(120.9 + 0.001 * i); };
  for (int i = 1; i <= wells; ++i) {
    f += R"(,{"type":"Feature","geometry":{"type":"Point","coordinates":[)" + lon(i) +
         R"(,30.5]},"properties":{"id":"W)" + std::to_string(i) + R"(","kind":"inspection_well"}})";
    f += R"(,{"type":"Feature","geometry":{"type":"LineString","coordinates":[[)" + lon(i) + ",30.5],[" + lon(i - 1) +
         R"(,30.5]]},"properties":{"id":"S)" + std::to_string(i) + R"(","kind":"segment","from":"W)" + std::to_string(i) +
         R"(","to":")" + (i == 1 ? std::string("T1") : "W" + std::to_string(i - 1)) +
         R"(","diameter_mm":300,"material":"PVC-U","flow":"gravity"}})";
  }
  if (stray)
    f += R"(,{"type":"Feature","geometry":{"type":"Point","coordinates":[121.0,30.5]},"properties":{"id":"W99","kind":"inspection_well"}})";
  return f + "]}";
}

TEST_F(GatewayProcess, PipeNetworkLoadsAtStartAndABadFileOnSighupKeepsThePreviousOne) {
  std::ofstream(dir_->path() / "net.geojson") << network_text(1, false);
  std::ofstream(dir_->path() / "gateway.toml", std::ios::app) << "[network]\nfile = \"net.geojson\"\n";
  start_gateway();
  const auto log = [&] { return slurp(dir_->path() / "gateway.log"); };
  ASSERT_TRUE(eventually([&] { return log().find("net.geojson: 2 nodes, 1 segments") != std::string::npos; }, 20s)) << log();
  // A bad file on SIGHUP: every problem logged, the gateway keeps running on the previous network.
  std::ofstream(dir_->path() / "net.geojson") << network_text(2, true);
  gateway_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return log().find("network reload: W99: drains nowhere") != std::string::npos; }, 20s)) << log();
  EXPECT_NE(log().find("keeping the previous network"), std::string::npos);
  EXPECT_NE(http_call(http_port_, "GET", "/metrics").body.find("sewage_gateway_network_reload_failures_total 1"),
            std::string::npos);
  EXPECT_TRUE(gateway_->running());
  // A good file replaces it.
  std::ofstream(dir_->path() / "net.geojson") << network_text(3, false);
  gateway_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return log().find("loaded (4 nodes, 3 segments") != std::string::npos; }, 20s)) << log();
  gateway_->stop(5s);
  gateway_.reset();
  // At start, a bad file refuses to start with every problem printed.
  std::ofstream(dir_->path() / "net.geojson") << network_text(1, true);
  testing::child_process p({SEWAGE_GATEWAY_BINARY, "--config", (dir_->path() / "gateway.toml").string()},
                           dir_->path() / "refused.log");
  const auto st = p.wait_for_exit(20s);
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(slurp(dir_->path() / "refused.log").find("W99: drains nowhere"), std::string::npos)
      << slurp(dir_->path() / "refused.log");
}

// Issue 13 item 3: incidents in the real process. PS1 (1 s reports) is a pump station (registry kind pump_station) on the
// network draining into terminal T1; when it falls silent, its offline alert opens an incident
// rooted at it with T1 affected; an operator acknowledges it; when PS1 reports again the incident
// resolves with its time to resolve. /api/network shows the live state.
TEST_F(GatewayProcess, APumpStationFallingSilentIsOneIncidentAcknowledgedAndResolved) {
  std::ofstream(dir_->path() / "net.geojson")
      << R"({"type":"FeatureCollection","features":[)"
         R"({"type":"Feature","geometry":{"type":"Point","coordinates":[120.9,30.5]},"properties":{"id":"T1","kind":"terminal"}},)"
         R"({"type":"Feature","geometry":{"type":"Point","coordinates":[120.901,30.5]},"properties":{"id":"PS1","kind":"pump_station"}},)"
         R"({"type":"Feature","geometry":{"type":"Point","coordinates":[120.902,30.5]},"properties":{"id":"C1","kind":"collection_point","village":"Xicun","households":30}},)"
         R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.901,30.5],[120.9,30.5]]},"properties":{"id":"S1","kind":"segment","from":"PS1","to":"T1","diameter_mm":110,"material":"HDPE","flow":"pressure"}},)"
         R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.902,30.5],[120.901,30.5]]},"properties":{"id":"S2","kind":"segment","from":"C1","to":"PS1","diameter_mm":300,"material":"PVC-U","flow":"gravity"}}]})";
  std::ofstream(dir_->path() / "gateway.toml", std::ios::app) << "[network]\nfile = \"net.geojson\"\n";
  std::ofstream(dir_->path() / "registry.toml", std::ios::app)
      << "[[terminal]]\nid = \"PS1\"\nkind = \"pump_station\"\nname = \"Station one\"\ntown = \"A\"\n"
         "latitude = 30.5\nlongitude = 120.901\nreport_interval_s = 1\n";
  start_gateway();
  std::uint64_t seq = 0;
  const auto report_ps1 = [&] {
    proto::telemetry_record r;
    r.terminal_id = "PS1";
    r.epoch = "ep-ps1";
    r.seq = ++seq;
    r.ts = now();
    r.interval_s = 1;
    publish(proto::telemetry_topic("PS1"), proto::encode(r));
  };
  for (int k = 0; k < 3; ++k) report_ps1();
  // Silence: offline after 2 s, an incident rooted at the station.
  json open;
  ASSERT_TRUE(eventually([&] {
    open = get("/api/incidents?state=open");
    return open.value("incidents", json::array()).size() == 1;
  }, 20s)) << open.dump();
  const auto& i = open["incidents"][0];
  EXPECT_EQ(i["kind"], "pump_station_fault");
  EXPECT_EQ(i["root_cause"]["node"], "PS1");
  EXPECT_EQ(i["affected_terminals"], json::array({"T1"}));
  EXPECT_EQ(i["households"], 30);
  ASSERT_EQ(i["alerts"].size(), 1u);
  EXPECT_EQ(i["alerts"][0]["type"], "offline");
  EXPECT_EQ(i["alerts"][0]["role"], "cause");
  const auto id = std::to_string(i["id"].get<int>());
  const auto net = get("/api/network");
  bool station_offline = false;
  for (const auto& f : net.value("features", json::array()))
    if (f["properties"]["id"] == "PS1") station_offline = f["properties"]["state"] == "offline";
  EXPECT_TRUE(station_offline) << net.dump();
  EXPECT_EQ(http_call(http_port_, "POST", "/api/incidents/" + id + "/ack", R"({"by":"Li Wei","note":"crew sent"})", token_).status, 200);
  EXPECT_EQ(get("/api/incidents/" + id)["state"], "acknowledged");
  EXPECT_EQ(metric("sewage_gateway_incidents_open"), 1);
  // The station reports again: offline clears, the incident resolves.
  report_ps1();
  json done;
  ASSERT_TRUE(eventually([&] {
    report_ps1();
    done = get("/api/incidents/" + id);
    return done.value("state", "") == "resolved";
  }, 20s)) << done.dump();
  EXPECT_GT(done["time_to_resolve_s"].get<double>(), 0.0);
  EXPECT_EQ(metric("sewage_gateway_incidents_open"), 0);
}

TEST_F(GatewayProcess, CommandLineVersionAndConfigCheck) {
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SEWAGE_GATEWAY_BINARY);
    std::filesystem::remove(dir_->path() / "cli.log");
    testing::child_process p(args, dir_->path() / "cli.log");
    const auto st = p.wait_for_exit(20s);
    return std::make_pair(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, slurp(dir_->path() / "cli.log"));
  };
  auto [rc, out] = run({"--version"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("sewage-gateway "), std::string::npos);
  std::tie(rc, out) = run({"--config", (dir_->path() / "gateway.toml").string(), "--check-config"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("2 terminals"), std::string::npos) << out;
  std::ofstream(dir_->path() / "bad.toml") << "[http]\nlisten = \"nowhere\"\n";
  std::tie(rc, out) = run({"--config", (dir_->path() / "bad.toml").string(), "--check-config"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("http.listen"), std::string::npos) << out;
}

}  // namespace
}  // namespace sewage::gateway::test
