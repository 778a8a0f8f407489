// Issue 10 commands end to end without sockets: POST /api/terminals/{id}/commands publishes a
// proto::command_message on the terminal's cmd topic and stores it; its cmd/result makes it ok or
// error; no result within commands.timeout_s makes it timed_out on a tick; pending commands
// survive a restart; every bad request is a clear 400/401/403/404. Plus the schema v6 migration
// from version 5 and the commands.timeout_s key.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "auth_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/command.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <fstream>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;
using std::chrono::seconds;

class ApiCommandsTest : public ::testing::Test {
 protected:
  ApiCommandsTest() : dir_("gw-cmd"), clock_(at("2026-11-29T08:00:00Z")) {
    cfg_.http_public_read = true;  // reads here are not about identity
    open();
  }
  void open() {
    api_.reset();
    ids_.reset();
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 10);
    eng_ = std::make_unique<engine>(cfg_, registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)}),
                                    *db_, clock_, pub_, default_rules());
    ids_ = std::make_unique<test::identities>(dir_.path() / "g.db", clock_);
    api_ = std::make_unique<api>(*eng_, link_status{}, &ids_->ids);
  }
  http_response post(const std::string& id, const std::string& body, const std::string& auth = "Bearer tok") {
    return api_->handle({"POST", "/api/terminals/" + id + "/commands", ids_->authorization(auth), body});
  }
  json get_json(const std::string& target) {
    const auto r = api_->handle({"GET", target, "", ""});
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return json::parse(r.body);
  }
  void result(const std::string& terminal, const std::string& payload) {
    eng_->handle({proto::command_result_topic(terminal), payload, false, clock_.now()});
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<test::identities> ids_;
  std::unique_ptr<api> api_;
};

TEST_F(ApiCommandsTest, ACommandIsPublishedOnTheCmdTopicStoredAndAnsweredOk) {
  const auto r = post("T1", R"({"name":"set_report_interval","args":{"interval_s":300},"by":"Li Wei"})");
  ASSERT_EQ(r.status, 202u) << r.body;
  const auto c = json::parse(r.body)["command"];
  EXPECT_EQ(c["id"], "gw-1");
  EXPECT_EQ(c["terminal_id"], "T1");
  EXPECT_EQ(c["name"], "set_report_interval");
  EXPECT_EQ(c["args"], json({{"interval_s", 300}}));
  EXPECT_EQ(c["by"], "Li Wei");
  EXPECT_EQ(c["state"], "pending");
  EXPECT_EQ(c["sent_at"], "2026-11-29T08:00:00Z");
  EXPECT_TRUE(c["answered_at"].is_null());
  EXPECT_TRUE(c["result"].is_null());
  EXPECT_TRUE(c["error"].is_null());
  // On the wire: QoS 1 (the publisher's), not retained, a valid proto command with that id.
  ASSERT_EQ(pub_.sent.size(), 1u);
  EXPECT_EQ(pub_.sent[0].topic, "sewage/v1/T1/cmd");
  EXPECT_FALSE(pub_.sent[0].retained);
  const auto m = proto::decode_command(pub_.sent[0].payload);
  ASSERT_TRUE(m.ok()) << pub_.sent[0].payload;
  EXPECT_EQ(m.value->id, "gw-1");
  EXPECT_EQ(m.value->name, proto::command_name::set_report_interval);
  EXPECT_EQ(m.value->interval_s, 300u);
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "pending");

  clock_.advance(seconds(3));
  result("T1", R"({"id":"gw-1","ok":true,"result":{"interval_s":300}})");
  const auto done = get_json("/api/commands/gw-1")["command"];
  EXPECT_EQ(done["state"], "ok");
  EXPECT_EQ(done["answered_at"], "2026-11-29T08:00:03Z");
  EXPECT_EQ(done["result"], json({{"interval_s", 300}}));
  EXPECT_TRUE(done["error"].is_null());
  EXPECT_TRUE(eng_->pending_commands().empty());
  // A later tick does not time out an answered command.
  clock_.advance(seconds(600));
  eng_->tick();
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "ok");
}

TEST_F(ApiCommandsTest, AnErrorResultMakesItErrorWithTheAgentsMessage) {
  ASSERT_EQ(post("T1", R"({"name":"snapshot_now","by":"Li"})").status, 202u);
  result("T1", R"({"id":"gw-1","ok":false,"error":"no camera fitted"})");
  const auto c = get_json("/api/commands/gw-1")["command"];
  EXPECT_EQ(c["state"], "error");
  EXPECT_EQ(c["error"], "no camera fitted");
  EXPECT_EQ(c["name"], "snapshot_now");
  EXPECT_EQ(c["args"], json::object());
}

TEST_F(ApiCommandsTest, NoResultWithinTheTimeoutIsTimedOutAndALateResultChangesNothing) {
  ASSERT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})").status, 202u);
  clock_.advance(seconds(119));
  eng_->tick();
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "pending");
  clock_.advance(seconds(1));  // 120 s = commands.timeout_s (default)
  eng_->tick();
  auto c = get_json("/api/commands/gw-1")["command"];
  EXPECT_EQ(c["state"], "timed_out");
  EXPECT_NE(c["error"].get<std::string>().find("no result within 120 s"), std::string::npos) << c;
  EXPECT_TRUE(c["answered_at"].is_null());
  result("T1", R"({"id":"gw-1","ok":true})");
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "timed_out");
  const auto metrics = api_->handle({"GET", "/metrics", "", ""}).body;
  EXPECT_NE(metrics.find("\nsewage_gateway_commands_total{state=\"pending\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nsewage_gateway_commands_total{state=\"timed_out\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nsewage_gateway_commands_total{state=\"ok\"} 0\n"), std::string::npos);
}

TEST_F(ApiCommandsTest, TheTimeoutIsConfigurable) {
  cfg_.command_timeout = seconds(5);
  open();
  ASSERT_EQ(post("T2", R"({"name":"get_config","by":"Li"})").status, 202u);
  clock_.advance(seconds(5));
  eng_->tick();
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "timed_out");
}

TEST_F(ApiCommandsTest, PendingCommandsSurviveARestartAndIdsAreNeverReused) {
  ASSERT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})").status, 202u);
  ASSERT_EQ(post("T2", R"({"name":"sample_now","by":"Li"})").status, 202u);
  result("T2", R"({"id":"gw-2","ok":true})");
  eng_->flush();
  open();  // the gateway restarts
  ASSERT_EQ(eng_->pending_commands().size(), 1u);
  EXPECT_EQ(eng_->pending_commands().begin()->second.terminal_id, "T1");
  result("T1", R"({"id":"gw-1","ok":true})");
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "ok");
  const auto r = post("T1", R"({"name":"sample_now","by":"Li"})");
  EXPECT_EQ(json::parse(r.body)["command"]["id"], "gw-3");
  // And one still pending at a restart times out after it, judged from when it was sent.
  open();
  clock_.advance(seconds(120));
  eng_->tick();
  EXPECT_EQ(get_json("/api/commands/gw-3")["command"]["state"], "timed_out");
}

TEST_F(ApiCommandsTest, AResultFromAnotherTerminalOrForAnUnknownIdIsIgnored) {
  ASSERT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})").status, 202u);
  result("T2", R"({"id":"gw-1","ok":true})");         // T2 cannot answer T1's command
  result("T1", R"({"id":"cli-7","ok":true})");        // not sent by this gateway
  result("T1", R"({"id":"gw-99","ok":true})");
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "pending");
  result("T1", R"({"id":"gw-1","ok":true})");
  EXPECT_EQ(get_json("/api/commands/gw-1")["command"]["state"], "ok");
}

TEST_F(ApiCommandsTest, ListsNewestFirstWithALimit) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})").status, 202u);
  ASSERT_EQ(post("T2", R"({"name":"sample_now","by":"Li"})").status, 202u);
  const auto all = get_json("/api/terminals/T1/commands");
  EXPECT_EQ(all["terminal_id"], "T1");
  ASSERT_EQ(all["commands"].size(), 3u);
  EXPECT_EQ(all["commands"][0]["id"], "gw-3");
  EXPECT_EQ(all["commands"][2]["id"], "gw-1");
  const auto two = get_json("/api/terminals/T1/commands?limit=2");
  ASSERT_EQ(two["commands"].size(), 2u);
  EXPECT_EQ(two["commands"][1]["id"], "gw-2");
  EXPECT_EQ(get_json("/api/terminals/T2/commands")["commands"].size(), 1u);
  EXPECT_EQ(api_->handle({"GET", "/api/terminals/NOPE/commands", "", ""}).status, 404u);
  EXPECT_EQ(api_->handle({"GET", "/api/terminals/T1/commands?limit=0", "", ""}).status, 400u);
  EXPECT_EQ(api_->handle({"GET", "/api/terminals/T1/commands?limit=1001", "", ""}).status, 400u);
  EXPECT_EQ(api_->handle({"GET", "/api/commands/gw-99", "", ""}).status, 404u);
  for (const std::string bad : {"17", "gw-0", "gw-", "gw-x", "gw-01", "gw--1"}) {
    const auto r = api_->handle({"GET", "/api/commands/" + bad, "", ""});
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_NE(r.body.find("command id must look like gw-17"), std::string::npos) << r.body;
  }
}

TEST_F(ApiCommandsTest, BadRequestsAreRefusedClearlyAndSendNothing) {
  EXPECT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})", "").status, 401u);
  EXPECT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})", "Bearer nope").status, 401u);
  EXPECT_EQ(post("NOPE", R"({"name":"sample_now","by":"Li"})").status, 404u);
  const std::vector<std::pair<std::string, std::string>> bad{
      {"not json", "body must be a JSON object"},
      {"[]", "body must be a JSON object"},
      {R"({"by":"Li"})", "name: required string"},
      {R"({"name":7,"by":"Li"})", "name: required string"},
      {R"({"name":"reboot","by":"Li"})", "name: must be sample_now, snapshot_now, set_report_interval or get_config, got 'reboot'"},
      {R"({"name":"sample_now","by":""})", "by: must be 1..128 bytes"},
      {R"({"name":"sample_now","by":"Li","when":"now"})", "unknown field 'when' (accepted: name, args, by)"},
      {R"({"name":"sample_now","by":"Li","args":{"interval_s":5}})", "args: sample_now takes no arguments"},
      {R"({"name":"sample_now","by":"Li","args":[1]})", "args: must be a JSON object"},
      {R"({"name":"set_report_interval","by":"Li"})", "args.interval_s: required for set_report_interval"},
      {R"({"name":"set_report_interval","by":"Li","args":{}})", "args.interval_s: required for set_report_interval"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":0}})", "args.interval_s: must be a whole number of seconds 1..86400, got 0"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":86401}})", "args.interval_s: must be a whole number"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":-60}})", "args.interval_s: must be a whole number"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":300.5}})", "args.interval_s: must be a whole number"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":"300"}})", "args.interval_s: must be a whole number"},
      {R"({"name":"set_report_interval","by":"Li","args":{"interval_s":300,"x":1}})", "args: unknown argument 'x' for set_report_interval"},
  };
  for (const auto& [body, msg] : bad) {
    const auto r = post("T1", body);
    EXPECT_EQ(r.status, 400u) << body << ": " << r.body;
    EXPECT_NE(r.body.find(msg), std::string::npos) << body << ": " << r.body;
  }
  EXPECT_TRUE(pub_.sent.empty());
  EXPECT_EQ(api_->handle({"GET", "/api/terminals/T1/commands", "", ""}).body, R"({"commands":[],"terminal_id":"T1"})");
  // A viewer token may not send commands (403), a revoked token is unknown (401).
  const auto viewer = ids_->ids.add_token("wall-screen", auth::role::viewer, {});
  EXPECT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})", "Bearer " + viewer).status, 403u);
  ids_->ids.revoke_token(ids_->token_name);
  EXPECT_EQ(post("T1", R"({"name":"sample_now","by":"Li"})").status, 401u);
  EXPECT_TRUE(pub_.sent.empty());
}

TEST(SqliteStoreV6, MigratesAVersionFiveDatabaseAddingTheCommandsTable) {
  testing::temp_dir dir("gw-store6");
  const auto path = dir.path() / "v5.db";
  {
    sqlite_store s(path, 10);  // today's schema, then turned back into version 5
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE commands; DROP TABLE users; DROP TABLE api_tokens; DROP TABLE sessions; DROP TABLE audit; DROP TABLE notify_queue;"
                           "DROP TABLE notify_once; DROP TABLE maintenance_windows; DROP TABLE alert_discipline; DROP TABLE alert_groups;"
                           // the lab room's tables (schema v11)
                           "DROP TABLE lab_results; DROP TABLE site_archive; DROP TABLE site_equipment; DROP TABLE site_cleanouts;"
                           "DROP TABLE work_orders; DROP TABLE work_order_events; DROP TABLE checkins; DROP TABLE photos;"
                           "DROP TABLE work_order_alert_seen;"
                           "DROP TABLE inspection_items; DROP TABLE inspections; DROP TABLE inspection_plan;"
                           // the incidents' tables (schema v14, issue 13)
                           "DROP TABLE incidents; DROP TABLE incident_alerts;"
                           // the energy columns of version 13 (issue 12)
                           "ALTER TABLE daily DROP COLUMN energy_kwh; ALTER TABLE daily DROP COLUMN energy_estimated_kwh; ALTER TABLE daily DROP COLUMN energy_records; ALTER TABLE daily DROP COLUMN energy_glitches; "
                           "ALTER TABLE terminal_state DROP COLUMN energy_kwh; ALTER TABLE terminal_state DROP COLUMN energy_ts_ms; ALTER TABLE terminal_state DROP COLUMN energy_valid; ALTER TABLE terminal_state DROP COLUMN energy_suspect; ALTER TABLE terminal_state DROP COLUMN energy_suspect_kwh; ALTER TABLE terminal_state DROP COLUMN energy_suspect_ts_ms; "
                           "DROP TABLE pump_run_hours;"  // version 15 (issue 13)
                           "DROP TABLE flow_hours; DROP TABLE flow_normal_sites;"  // versions 16 and 19 (issues 14, 16)
                           "ALTER TABLE daily DROP COLUMN sludge_level_s; ALTER TABLE daily DROP COLUMN sludge_ok_s;"  // version 17
                           "DROP TABLE hourly;"  // version 18 (issue 16)
                           "DROP TABLE weather_held;"  // version 20 (issue 14)
                           "PRAGMA user_version=5;"
                           "INSERT INTO alerts(id, terminal, type, state, raised_ms, message)"
                           " VALUES(3, 'T1', 'no_flow', 'raised', 1000, 'm');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  sqlite_store s(path, 10);
  EXPECT_EQ(s.schema_version(), sqlite_schema_version);
  EXPECT_EQ(s.max_alert_id(), 3u);  // data of version 5 kept
  EXPECT_EQ(s.max_command_id(), 0u);
  write_batch b;
  command_row c;
  c.id = 1;
  c.terminal_id = "T1";
  c.name = "sample_now";
  c.by = "Li";
  c.sent_at = at("2026-11-29T08:00:00Z");
  b.commands.push_back(c);
  s.apply(b);
  c.state = command_state::ok;
  c.answered_at = at("2026-11-29T08:00:02Z");
  c.result_json = R"({"a":1})";
  b.commands = {c};
  s.apply(b);
  const auto back = s.command(1);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state, command_state::ok);
  EXPECT_EQ(back->answered_at, at("2026-11-29T08:00:02Z"));
  EXPECT_EQ(back->result_json, R"({"a":1})");
  EXPECT_EQ(back->args_json, "{}");
  EXPECT_EQ(s.commands(std::nullopt, command_state::pending, 10).size(), 0u);
  EXPECT_EQ(s.commands(std::string("T1"), std::nullopt, 10).size(), 1u);
  EXPECT_EQ(s.max_command_id(), 1u);
}

TEST(CommandConfig, TimeoutKeyIsReadAndCheckedAndDefaultsTo120) {
  testing::temp_dir dir("gw-cmdcfg");
  EXPECT_EQ(config{}.command_timeout, seconds(120));
  EXPECT_EQ(load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG).command_timeout, seconds(120));
  const auto p = dir.path() / "g.toml";
  std::ofstream(p) << "[commands]\ntimeout_s = 30\n";
  EXPECT_EQ(load_config(p).command_timeout, seconds(30));
  for (const std::string bad : {"[commands]\ntimeout_s = 0\n", "[commands]\ntimeout_s = 86401\n",
                                "[commands]\ntimeout = 30\n"}) {
    std::ofstream(p, std::ios::trunc) << bad;
    try {
      load_config(p);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const config_error& e) {
      EXPECT_NE(std::string(e.what()).find("commands.timeout"), std::string::npos) << e.what();
    }
  }
}

TEST(CommandWireId, RoundTripsAndRefusesOtherShapes) {
  EXPECT_EQ(command_wire_id(17), "gw-17");
  EXPECT_EQ(parse_command_wire_id("gw-17"), 17u);
  for (const std::string_view bad : {"", "gw-", "gw-0", "gw-01", "gw-x", "gw-1x", "GW-1", "c-17", "gw--1", "gw-+1"})
    EXPECT_FALSE(parse_command_wire_id(bad).has_value()) << bad;
}

}  // namespace
}  // namespace sewage::gateway
