// Issue 16 item 2: two sewage-gateway processes on one PostgreSQL store (started by the test:
// tests/support postgres.hpp) and one mosquitto, each with its own folder (two hosts: its own
// SQLite rooms and received-message journal). One leads; the other answers as the standby. The
// leader is killed with SIGKILL while records keep arriving; the standby takes over the MQTT
// session and the engine, and nothing is lost, counted twice, or raised twice.
#include "gateway_cli.hpp"
#include "http_client.hpp"
#include "process_util.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/postgres.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <csignal>
#include <fstream>
#include <thread>
#include <iostream>
#include <sys/wait.h>

namespace sewage::gateway::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class StandbyPair : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::temp_dir>("gw-standby");
    std::filesystem::create_directories(dir_->path() / "broker");
    broker_ = std::make_unique<testing::mosquitto_broker>(dir_->path() / "broker");
    pg_ = std::make_unique<testing::postgres_server>();
    {
      pqxx::connection c(pg_->uri());
      pqxx::nontransaction t(c);
      t.exec("CREATE DATABASE standby_pair");
    }
    for (const char* node : {"A", "B"}) {
      const auto d = dir_->path() / node;
      std::filesystem::create_directories(d);
      const int port = testing::free_loopback_port();
      ports_[node] = port;
      // T1: 60 s reports, turbidity alert at 10 NTU without debounce (as GatewayProcess's).
      std::ofstream(d / "registry.toml")
          << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
             "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n"
             "[terminal.thresholds]\nturbidity_raise_ntu = 10.0\nturbidity_clear_ntu = 8.0\nturbidity_debounce_s = 0\n";
      std::ofstream(d / "gateway.toml")
          << "[mqtt]\nuri = \"" << broker_->uri()
          << "\"\nallow_plaintext = true\nclient_id = \"gw-pair\"\nkeep_alive_s = 5\n"
          << "[store]\nbackend = \"postgresql\"\npostgresql_uri = \"" << pg_->uri("standby_pair")
          << "\"\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
          << "[http]\nlisten = \"127.0.0.1:" << port << "\"\npublic_read = true\n"
          << "[registry]\npath = \"registry.toml\"\n"
          << "[alerts]\nstartup_grace_s = 1\ntick_ms = 100\n"
          << "[standby]\nenabled = true\nnode = \"" << node << "\"\nhttp_url = \"http://127.0.0.1:" << port
          << "/\"\ncheck_interval_ms = 1000\n"
          << "[log]\nlevel = \"info\"\n";
    }
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const char* node : {"A", "B"})
        std::cerr << "---- gateway " << node << " log ----\n" << slurp(dir_->path() / node / "gateway.log") << '\n';
      std::cerr << "---- broker log ----\n" << broker_->log() << "\n---- PostgreSQL log ----\n" << pg_->log() << '\n';
    }
    for (auto& [node, g] : gateways_)
      if (g) g->stop(5s);
    gateways_.clear();
    pg_.reset();
    broker_.reset();
  }

  void start(const std::string& node) {
    const auto d = dir_->path() / node;
    gateways_[node] = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BINARY, "--config", (d / "gateway.toml").string()}, d / "gateway.log");
    ASSERT_TRUE(testing::wait_for_port(ports_[node], 60s)) << slurp(d / "gateway.log");
  }

  json healthz(const std::string& node) {
    const auto r = http_call(ports_[node], "GET", "/healthz");
    return r.status == 0 ? json::object() : json::parse(r.body, nullptr, false);
  }
  bool leads(const std::string& node) {
    const auto h = healthz(node);
    return h.value("status", "") == "ok" && h.value("role", "") == "leader" && h.value("mqtt_connected", false);
  }
  bool stands_by_for(const std::string& node, const std::string& leader) {
    const auto h = healthz(node);
    return h.value("status", "") == "standby" && h["leader"].is_object() && h["leader"].value("node", "") == leader;
  }

  void publish_record(std::uint64_t seq, double total_m3, double ntu, proto::timestamp ts) {
    testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-q", "1",
                                "-t", proto::telemetry_topic("T1"), "-m",
                                 flow_turbidity_record_json("T1", seq, total_m3, ntu, ts)},
                               dir_->path() / "pub.log");
    const auto st = pub.wait_for_exit(10s);
    ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir_->path() / "pub.log");
  }

  int daily_records(const std::string& node) {
    const auto days = get_json(ports_[node], "/api/terminals/T1/daily").value("days", json::array());
    return days.empty() ? 0 : days.back().value("records", 0);
  }

  std::unique_ptr<testing::temp_dir> dir_;
  std::unique_ptr<testing::mosquitto_broker> broker_;
  std::unique_ptr<testing::postgres_server> pg_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<testing::child_process>> gateways_;
};

TEST_F(StandbyPair, TheStandbyAnswersReadsFromTheSharedStoreAndRefusesWorkWhileTheLeaderLeads) {
  {  // B's reads need a login or a token: identities come from the shared store too.
    const auto p = dir_->path() / "B" / "gateway.toml";
    std::string cfg = slurp(p);
    cfg.replace(cfg.find("public_read = true"), 18, "public_read = false");
    std::ofstream(p) << cfg;
  }
  for (const char* node : {"A", "B"})  // one terminal's turbidity raise is a weather event: an incident
    std::ofstream(dir_->path() / node / "gateway.toml", std::ios::app) << "[incidents]\nweather_min_terminals = 1\n";
  start("A");
  ASSERT_TRUE(eventually([&] { return leads("A"); }, 30s)) << healthz("A").dump();
  start("B");
  ASSERT_TRUE(eventually([&] { return stands_by_for("B", "A"); }, 30s)) << healthz("B").dump();
  // A viewer's token, made with the CLI on A's host.
  const auto made = gateway_cli(SEWAGE_GATEWAY_BINARY, (dir_->path() / "A" / "gateway.toml").string(),
                                "tokens add scada-reader --role viewer");
  const auto tok_at = made.out.find("sgw_");
  ASSERT_TRUE(made.exit_code == 0 && tok_at != std::string::npos) << made.out;
  const auto token = made.out.substr(tok_at, made.out.find('\n', tok_at) - tok_at);
  const auto on_b = [&](const std::string& target) {
    return json::parse(http_call(ports_["B"], "GET", target, "", token).body, nullptr, false);
  };
  const auto h = healthz("B");
  EXPECT_EQ(h["leader"]["http_url"], "http://127.0.0.1:" + std::to_string(ports_["A"]) + "/");
  EXPECT_EQ(h["node"], "B");
  // Three records through A (the third raises a turbidity alert), committed to the shared store.
  auto t0 = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) - 10min;
  const auto local_minute = (t0.time_since_epoch() / 1min + 8 * 60) % (24 * 60);
  if (local_minute > 24 * 60 - 10) t0 -= 15min;  // all in one local day (Asia/Shanghai)
  for (std::uint64_t s = 1; s <= 3; ++s) publish_record(s, 100.0 + static_cast<double>(s - 1), 20.0, t0 + std::chrono::minutes(s));
  ASSERT_TRUE(eventually([&] { return daily_records("A") == 3; }, 20s));
  ASSERT_TRUE(eventually([&] { return get_json(ports_["A"], "/api/alerts?state=open&terminal=T1")["alerts"].size() == 1; }, 20s));
  // The read routes on the standby: what the leader committed, from the shared store.
  EXPECT_EQ(http_call(ports_["B"], "GET", "/api/terminals/T1/daily").status, 401);  // no token, no read
  ASSERT_TRUE(eventually([&] {
    const auto days = on_b("/api/terminals/T1/daily").value("days", json::array());
    return !days.empty() && days.back().value("records", 0) == 3;
  }, 20s)) << http_call(ports_["B"], "GET", "/api/terminals/T1/daily", "", token).body;
  {  // The same day as A's (fields that move with the clock, e.g. expected records so far, aside).
    const auto day_a = get_json(ports_["A"], "/api/terminals/T1/daily")["days"].back();
    const auto day_b = on_b("/api/terminals/T1/daily")["days"].back();
    for (const char* k : {"day", "records", "volume_measured_m3", "turbidity_mean_ntu", "turbidity_max_ntu"})
      EXPECT_EQ(day_b.value(k, json()), day_a.value(k, json())) << k << "\nA: " << day_a.dump() << "\nB: " << day_b.dump();
    EXPECT_EQ(day_b["records"], 3);
  }
  const auto alerts_a = get_json(ports_["A"], "/api/alerts?state=all&terminal=T1")["alerts"];
  const auto alerts_b = on_b("/api/alerts?state=all&terminal=T1")["alerts"];
  ASSERT_EQ(alerts_b.size(), 1u) << alerts_b.dump();
  EXPECT_EQ(alerts_b[0]["alert_id"], alerts_a[0]["alert_id"]);
  EXPECT_EQ(alerts_b[0]["type"], alerts_a[0]["type"]);
  EXPECT_EQ(alerts_b[0]["state"], alerts_a[0]["state"]);
  EXPECT_EQ(alerts_b[0]["state"], "raised");
  const auto history_b = on_b("/api/terminals/T1/history")["records"];  // from/to: now - 24 h
  EXPECT_EQ(history_b.size(), 3u);
  EXPECT_EQ(history_b, get_json(ports_["A"], "/api/terminals/T1/history")["records"]);
  EXPECT_EQ(http_call(ports_["B"], "GET", "/api/terminals/NOPE/daily", "", token).status, 404);  // the registry's answers
  {  // The incidents (2026-12-06: 503 on a standby): A's, from the incident room's shared tables.
    const auto listed_a = get_json(ports_["A"], "/api/incidents?state=all")["incidents"];
    ASSERT_EQ(listed_a.size(), 1u) << listed_a.dump();
    EXPECT_EQ(listed_a[0]["kind"], "weather");
    const auto listed_b = on_b("/api/incidents?state=all");
    EXPECT_EQ(listed_b["incidents"], listed_a) << listed_b.dump();
    const auto id = std::to_string(listed_a[0]["id"].get<std::int64_t>());
    EXPECT_EQ(http_call(ports_["B"], "GET", "/api/incidents/" + id).status, 401);  // no token, no read
    const auto one_b = on_b("/api/incidents/" + id);
    EXPECT_EQ(one_b["title"], listed_a[0]["title"]) << one_b.dump();
    ASSERT_EQ(one_b["weather"]["terminals"].size(), 1u) << one_b.dump();  // its figures from the shared history
    EXPECT_EQ(one_b["weather"]["terminals"][0]["site_id"], "T1");
    EXPECT_EQ(one_b["weather"]["terminals"][0]["peak_turbidity_ntu"],
              get_json(ports_["A"], "/api/incidents/" + id)["weather"]["terminals"][0]["peak_turbidity_ntu"]);
    EXPECT_EQ(http_call(ports_["B"], "GET", "/api/incidents/99", "", token).status, 404);
    EXPECT_EQ(http_call(ports_["B"], "GET", "/api/incidents?state=nope", "", token).status, 400);
    // No network on either: its GeoJSON is 503 "no network configured", as on the leader.
    const auto geo = http_call(ports_["B"], "GET", "/api/incidents/" + id + "/geojson", "", token);
    EXPECT_EQ(geo.status, 503);
    EXPECT_NE(geo.body.find("no network configured"), std::string::npos) << geo.body;
    EXPECT_EQ(http_call(ports_["A"], "GET", "/api/incidents/" + id + "/geojson").status, 503);
    // Acknowledging is the leader's: 503 naming it.
    const auto ack = http_call(ports_["B"], "POST", "/api/incidents/" + id + "/ack", "{}", token);
    EXPECT_EQ(ack.status, 503);
    EXPECT_EQ(json::parse(ack.body, nullptr, false)["error"]["reason"], "standby") << ack.body;
  }
  {  // A terminal added to the registry: SIGHUP makes the standby's reads know it (2026-12-05: it
     // stayed a 404 until the takeover). A registry that does not parse keeps the one before.
    const auto reg = dir_->path() / "B" / "registry.toml";
    const std::string before = slurp(reg);
    std::ofstream(reg) << "[[terminal]]\nid = \"T1\"\nname = ";  // cut short: does not parse
    gateways_["B"]->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return slurp(dir_->path() / "B" / "gateway.log").find("registry reload failed") != std::string::npos; }, 10s));
    EXPECT_EQ(http_call(ports_["B"], "GET", "/api/terminals/T1/daily", "", token).status, 200);
    std::ofstream(reg) << before
                       << "[[terminal]]\nid = \"T2\"\nname = \"Two\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.6\n"
                          "longitude = 120.8\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n";
    gateways_["B"]->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return http_call(ports_["B"], "GET", "/api/terminals/T2/daily", "", token).status == 200; }, 10s))
        << slurp(dir_->path() / "B" / "gateway.log");
    EXPECT_EQ(http_call(ports_["B"], "GET", "/api/terminals/T1/daily", "", token).status, 200);
  }
  EXPECT_GE(metric_value(ports_["B"], "sewage_gateway_standby_reads_total"), 4);
  // Writes and the engine's live state: 503 naming the leader, with Retry-After.
  for (const auto& [method, target] : {std::pair{"GET", "/api/terminals"}, std::pair{"POST", "/api/alerts/1/ack"},
                                       std::pair{"GET", "/api/summary"}, std::pair{"GET", "/api/maintenance-windows"}}) {
    const auto r = http_call(ports_["B"], method, target, method == std::string("POST") ? "{}" : "", token);
    EXPECT_EQ(r.status, 503) << method << ' ' << target;
    const auto body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body["error"]["reason"], "standby") << r.body;
    EXPECT_NE(body["error"]["message"].get<std::string>().find("the leader is A"), std::string::npos) << r.body;
  }
  // An operator's browser on the standby goes on to the leader's web application.
  EXPECT_EQ(http_call(ports_["B"], "GET", "/").status, 307);
  EXPECT_EQ(metric_value(ports_["B"], "sewage_gateway_leader"), 0);
  EXPECT_EQ(metric_value(ports_["A"], "sewage_gateway_leader"), 1);
  // The standby never connected to the broker: one client with the pair's id, A's.
  EXPECT_EQ(slurp(dir_->path() / "B" / "gateway.log").find("connected to"), std::string::npos);
  // SIGTERM stops a standby cleanly.
  gateways_["B"]->signal(SIGTERM);
  const auto st = gateways_["B"]->wait_for_exit(10s);
  ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  EXPECT_TRUE(leads("A"));
}

TEST_F(StandbyPair, SigkillOfTheLeaderTheStandbyTakesOverWithNothingLostDoubledOrRaisedTwice) {
  // A commits only when asked (a read on the engine's thread, reader_threads = 0, commits first)
  // or once a minute: records it receives after the last API call are acknowledged to the broker
  // and journaled on A's disk, not committed.
  {
    const auto p = dir_->path() / "A" / "gateway.toml";
    std::string cfg = slurp(p);
    cfg.replace(cfg.find("flush_interval_ms = 50"), 22, "flush_interval_ms = 60000");
    cfg.replace(cfg.find("public_read = true"), 18, "public_read = true\nreader_threads = 0");
    std::ofstream(p) << cfg;
  }
  for (const char* node : {"A", "B"})  // T1's town has a contractor: its orders can be dispatched
    std::ofstream(dir_->path() / node / "gateway.toml", std::ios::app)
        << "[om]\n[[om.contractor]]\nname = \"hy-water\"\ntowns = [\"A\"]\n";
  start("A");
  ASSERT_TRUE(eventually([&] { return leads("A"); }, 30s)) << healthz("A").dump();
  start("B");
  ASSERT_TRUE(eventually([&] { return stands_by_for("B", "A"); }, 30s)) << healthz("B").dump();

  // Six records a minute apart within one local day (Asia/Shanghai, UTC+8), ending 4 min ago.
  auto t0 = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) - 10min;
  const auto local_minute = (t0.time_since_epoch() / 1min + 8 * 60) % (24 * 60);
  if (local_minute > 24 * 60 - 10) t0 -= 15min;
  auto at = [&](std::uint64_t s) { return t0 + std::chrono::minutes(s); };
  for (std::uint64_t s = 1; s <= 3; ++s) publish_record(s, 100.0 + static_cast<double>(s - 1), 20.0, at(s));
  ASSERT_TRUE(eventually([&] { return daily_records("A") == 3; }, 20s));  // each call commits
  const auto open = get_json(ports_["A"], "/api/alerts?state=open&terminal=T1")["alerts"];
  ASSERT_EQ(open.size(), 1u) << open.dump();
  const auto alert_id = open[0]["alert_id"].get<std::uint64_t>();
  // A lone turbidity_high: its notification is held for a weather event (weather_hold_s, 15 min)
  // in the incident room's table, shared by the pair.
  const auto held_until = get_json(ports_["A"], "/api/alerts/" + std::to_string(alert_id))["notification_held_until"];
  ASSERT_TRUE(held_until.is_string()) << held_until.dump();
  // An administrator's token, made with the CLI on A's host: kept in the shared store (identities
  // are in PostgreSQL), so it works on whichever gateway leads.
  const auto made = gateway_cli(SEWAGE_GATEWAY_BINARY, (dir_->path() / "A" / "gateway.toml").string(),
                                "tokens add it-admin --role admin");
  const auto tok_at = made.out.find("sgw_");
  ASSERT_TRUE(made.exit_code == 0 && tok_at != std::string::npos) << made.out;
  const auto admin_token = made.out.substr(tok_at, made.out.find('\n', tok_at) - tok_at);
  EXPECT_EQ(http_call(ports_["A"], "GET", "/api/users", "", admin_token).status, 200);
  EXPECT_EQ(http_call(ports_["B"], "GET", "/api/users", "", admin_token).status, 503);  // the standby
  // A maintenance window made on A: the alarm discipline is in the shared store too.
  const auto made_window = http_call(ports_["A"], "POST", "/api/maintenance-windows",
                                     R"({"site_id":"T1","reason":"desludging","recurrence":"daily",)"
                                     R"("start":"2026-12-01T00:00:00Z","local_start":"02:00","duration_s":3600})",
                                     admin_token);
  ASSERT_EQ(made_window.status, 201) << made_window.body;
  const auto window_id = json::parse(made_window.body)["id"];
  // A work order made on A: the work orders are in the shared store too (schema v7); the standby
  // runs no room and refuses it meanwhile.
  const char* order_body = R"({"site_id":"T1","source":"complaint","fault_type":"blocked_pipe","title":"smell at the well"})";
  EXPECT_EQ(http_call(ports_["B"], "POST", "/api/work-orders", order_body, admin_token).status, 503);
  const auto made_order = http_call(ports_["A"], "POST", "/api/work-orders", order_body, admin_token);
  ASSERT_EQ(made_order.status, 201) << made_order.body;
  const auto order_id = json::parse(made_order.body)["id"].get<std::int64_t>();

  // Two more: received, acknowledged, journaled on A's host; no API call, so not committed. (After
  // the calls above, which take seconds under ASan: A's periodic commit comes once a minute.)
  publish_record(4, 103.0, 20.0, at(4));
  publish_record(5, 104.0, 20.0, at(5));
  std::this_thread::sleep_for(1500ms);

  gateways_["A"]->kill_now();  // SIGKILL: no commit, no goodbye, the lease connection dies with it
  const auto killed = std::chrono::steady_clock::now();
  // A's journal is on A's host, gone with it. The terminal re-sends what no receipt confirmed (4, 5;
  // 1-3 again too, as after a lost receipt) and reports 6, which clears the alert. The broker
  // queues them for the pair's persistent session.
  for (std::uint64_t s = 1; s <= 5; ++s) publish_record(s, 100.0 + static_cast<double>(s - 1), 20.0, at(s));
  publish_record(6, 105.0, 2.0, at(6));

  ASSERT_TRUE(eventually([&] { return leads("B"); }, 60s)) << healthz("B").dump();
  const double takeover_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::cout << "takeover: SIGKILL of the leader to the standby leading with its MQTT session: " << takeover_s << " s\n";
  EXPECT_LT(takeover_s, 30.0);

  ASSERT_TRUE(eventually([&] { return daily_records("B") == 6; }, 30s)) << get_json(ports_["B"], "/api/terminals/T1/daily");
  const auto day = get_json(ports_["B"], "/api/terminals/T1/daily")["days"].back();
  EXPECT_DOUBLE_EQ(day["volume_measured_m3"].get<double>(), 5.0);  // 100 -> 105: nothing counted twice
  EXPECT_EQ(get_json(ports_["B"], "/api/terminals/T1")["dedup"]["max_seq"], 6);
  EXPECT_EQ(metric_value(ports_["B"], "sewage_gateway_duplicates_total"), 3);
  const auto all = get_json(ports_["B"], "/api/alerts?state=all&terminal=T1")["alerts"];
  ASSERT_EQ(all.size(), 1u) << all.dump();  // the same episode: not raised again, not forgotten
  EXPECT_EQ(all[0]["alert_id"], alert_id);
  EXPECT_EQ(all[0]["state"], "cleared");
  // B holds it to the same end, from A's row: the hold neither starts again nor is lost, and its
  // raise and clear are notified once, by B, when it runs out (unless an event takes it first).
  EXPECT_EQ(get_json(ports_["B"], "/api/alerts/" + std::to_string(alert_id))["notification_held_until"], held_until);
  EXPECT_NE(slurp(dir_->path() / "B" / "gateway.log").find("held again (0 without a row"), std::string::npos);
  EXPECT_NE(slurp(dir_->path() / "B" / "gateway.log").find("took the lease"), std::string::npos);
  // The token made on A's host is known to B, the new leader; an unknown one is not.
  EXPECT_EQ(http_call(ports_["B"], "GET", "/api/users", "", admin_token).status, 200);
  EXPECT_EQ(http_call(ports_["B"], "GET", "/api/users", "", "sgw_not-a-token").status, 401);
  const auto listed = http_call(ports_["B"], "GET", "/api/maintenance-windows", "", admin_token);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto windows = json::parse(listed.body)["windows"];
  ASSERT_EQ(windows.size(), 1u) << windows.dump();
  EXPECT_EQ(windows[0]["id"], window_id);
  EXPECT_EQ(windows[0]["reason"], "desludging");
  EXPECT_EQ(windows[0]["local_start"], "02:00");
  EXPECT_NE(slurp(dir_->path() / "B" / "gateway.log").find("leading with term"), std::string::npos);
  // B's operators see A's work order, continue it, and B's next order follows its id.
  const auto orders = http_call(ports_["B"], "GET", "/api/work-orders", "", admin_token);
  ASSERT_EQ(orders.status, 200) << orders.body;
  const auto items = json::parse(orders.body)["items"];
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["id"], order_id);
  EXPECT_EQ(items[0]["title"], "smell at the well");
  EXPECT_EQ(items[0]["state"], "open");
  const auto verified = http_call(ports_["B"], "POST", "/api/work-orders/" + std::to_string(order_id) + "/reopen",
                                  R"({"note":"not fixed yet"})", admin_token);
  EXPECT_EQ(verified.status, 409) << verified.body;  // open: the state machine is A's row's
  // B dispatches A's order: the transition is written to the shared row, fenced by B's term.
  const auto dispatched = http_call(ports_["B"], "POST", "/api/work-orders/" + std::to_string(order_id) + "/dispatch",
                                    R"({"note":"crew on the way"})", admin_token);
  ASSERT_EQ(dispatched.status, 200) << dispatched.body;
  EXPECT_EQ(json::parse(dispatched.body)["state"], "dispatched") << dispatched.body;
  EXPECT_EQ(json::parse(dispatched.body)["contractor"], "hy-water") << dispatched.body;
  const auto next = http_call(ports_["B"], "POST", "/api/work-orders", order_body, admin_token);
  ASSERT_EQ(next.status, 201) << next.body;
  EXPECT_EQ(json::parse(next.body)["id"], order_id + 1);
  const auto one = http_call(ports_["B"], "GET", "/api/work-orders/" + std::to_string(order_id), "", admin_token);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(json::parse(one.body)["state"], "dispatched") << one.body;
  EXPECT_EQ(json::parse(one.body)["events"].size(), 2u) << one.body;  // created on A, dispatched on B

  // A comes back (systemd restarts it): now it is the standby, B stays the leader.
  start("A");
  ASSERT_TRUE(eventually([&] { return stands_by_for("A", "B"); }, 30s)) << healthz("A").dump();
  EXPECT_TRUE(leads("B"));
}

// Fencing: a leader whose lease session ends while it lives (an administrator, a network cut
// between it and the database) stops leading at once, exit status 3, and the standby leads.
TEST_F(StandbyPair, ALeaderThatLosesItsLeaseSessionStopsWithStatus3AndTheStandbyLeads) {
  start("A");
  ASSERT_TRUE(eventually([&] { return leads("A"); }, 30s)) << healthz("A").dump();
  start("B");
  ASSERT_TRUE(eventually([&] { return stands_by_for("B", "A"); }, 30s)) << healthz("B").dump();
  {
    pqxx::connection c(pg_->uri("standby_pair"));
    pqxx::nontransaction t(c);
    const auto r = t.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted "
        "AND objsubid = 1");
    ASSERT_EQ(r.size(), 1u);  // exactly one session holds the lease: A's
  }
  const auto st = gateways_["A"]->wait_for_exit(10s);
  ASSERT_TRUE(st.has_value()) << "the leader kept running without its lease";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 3) << *st;
  EXPECT_NE(slurp(dir_->path() / "A" / "gateway.log").find("the lease is lost"), std::string::npos);
  ASSERT_TRUE(eventually([&] { return leads("B"); }, 30s)) << healthz("B").dump();
}

}  // namespace
}  // namespace sewage::gateway::test
