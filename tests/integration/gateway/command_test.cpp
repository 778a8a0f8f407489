// Issue 10 commands against a real mosquitto and the real sewage-gateway process: a command POSTed
// over HTTP reaches a subscriber on the terminal's cmd topic (playing the agent), the result it
// publishes on cmd/result makes the command ok; a command nobody answers ends timed_out.
#include "gateway_cli.hpp"
#include "http_client.hpp"

#include <sewage/proto/command.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <mqtt/client.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <thread>

namespace sewage::gateway::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

class GatewayCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::temp_dir>("gw-cmd-it");
    std::filesystem::create_directories(dir_->path() / "broker");
    broker_ = std::make_unique<testing::mosquitto_broker>(dir_->path() / "broker");
    http_port_ = testing::free_loopback_port();
    std::ofstream(dir_->path() / "registry.toml")
        << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
           "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n";
    std::ofstream(dir_->path() / "gateway.toml")
        << "[mqtt]\nuri = \"" << broker_->uri() << "\"\nallow_plaintext = true\nclient_id = \"gw-cmd-it\"\nkeep_alive_s = 5\n"
        << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
        << "[http]\nlisten = \"127.0.0.1:" << http_port_ << "\"\npublic_read = true\n"
        << "[registry]\npath = \"registry.toml\"\n"
        << "[alerts]\nstartup_grace_s = 1\ntick_ms = 100\n"
        << "[commands]\ntimeout_s = 3\n"
        << "[log]\nlevel = \"debug\"\n";
    token_ = operator_token((dir_->path() / "gateway.toml").string());
    gateway_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BINARY, "--config", (dir_->path() / "gateway.toml").string()},
        dir_->path() / "gateway.log");
    ASSERT_TRUE(testing::wait_for_port(http_port_, 30s)) << slurp(dir_->path() / "gateway.log");
    ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));
  }

  void TearDown() override {
    if (HasFailure())
      std::cerr << "---- gateway log ----\n" << slurp(dir_->path() / "gateway.log") << "\n---- broker log ----\n"
                << broker_->log() << '\n';
    if (gateway_) gateway_->stop(5s);
    gateway_.reset();
    broker_.reset();
  }

  json get(const std::string& target) {
    const auto r = http_call(http_port_, "GET", target);
    if (r.status != 200) return json::object();
    return json::parse(r.body, nullptr, false);
  }

  /// The agent's side: subscribed (SUBACK received) to the terminal's cmd topic before returning.
  std::unique_ptr<mqtt::client> agent() {
    auto c = std::make_unique<mqtt::client>(broker_->uri(), "agent-T1");
    c->start_consuming();
    c->connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize());
    c->subscribe(proto::command_topic("T1"), 1);
    return c;
  }

  std::string command_state(const std::string& id) { return get("/api/commands/" + id)["command"].value("state", ""); }

  std::unique_ptr<testing::temp_dir> dir_;
  std::unique_ptr<testing::mosquitto_broker> broker_;
  std::unique_ptr<testing::child_process> gateway_;
  int http_port_{0};
  std::string token_;  ///< an operator bearer token made with the CLI
};

TEST_F(GatewayCommands, APostedCommandReachesTheAgentAndItsResultMakesItOk) {
  auto a = agent();
  const auto r = http_call(http_port_, "POST", "/api/terminals/T1/commands",
                           R"({"name":"set_report_interval","args":{"interval_s":300},"by":"Li Wei"})", token_);
  ASSERT_EQ(r.status, 202) << r.body;
  const auto id = json::parse(r.body)["command"]["id"].get<std::string>();
  EXPECT_EQ(id, "gw-1");
  EXPECT_EQ(command_state(id), "pending");

  mqtt::const_message_ptr msg;
  ASSERT_TRUE(a->try_consume_message_for(&msg, 10s)) << "no command on " << proto::command_topic("T1");
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->get_topic(), "sewage/v1/T1/cmd");
  EXPECT_EQ(msg->get_qos(), 1);
  EXPECT_FALSE(msg->is_retained());
  const auto cmd = proto::decode_command(msg->to_string());
  ASSERT_TRUE(cmd.ok()) << msg->to_string();
  EXPECT_EQ(cmd.value->id, id);
  EXPECT_EQ(cmd.value->name, proto::command_name::set_report_interval);
  EXPECT_EQ(cmd.value->interval_s, 300u);

  proto::command_result_message res;
  res.id = cmd.value->id;
  res.ok = true;
  res.result = json{{"interval_s", 300}};
  const auto payload = proto::encode(res);
  a->publish(proto::command_result_topic("T1"), payload.data(), payload.size(), 1, false);
  ASSERT_TRUE(eventually([&] { return command_state(id) == "ok"; }, 10s)) << get("/api/commands/" + id).dump();
  const auto done = get("/api/commands/" + id)["command"];
  EXPECT_EQ(done["result"], json({{"interval_s", 300}}));
  EXPECT_FALSE(done["answered_at"].is_null());
  // Still ok after the timeout has passed, and listed with the terminal.
  std::this_thread::sleep_for(3500ms);
  EXPECT_EQ(command_state(id), "ok");
  EXPECT_EQ(get("/api/terminals/T1/commands")["commands"][0]["id"], id);
  const auto metrics = http_call(http_port_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("sewage_gateway_commands_total{state=\"ok\"} 1\n"), std::string::npos) << metrics;
  a->disconnect();
}

TEST_F(GatewayCommands, ACommandNobodyAnswersTimesOut) {
  // No agent is connected (the agent's clean session would drop it anyway): the command is lost.
  const auto r = http_call(http_port_, "POST", "/api/terminals/T1/commands", R"({"name":"snapshot_now","by":"Li"})",
                           token_);
  ASSERT_EQ(r.status, 202) << r.body;
  const auto id = json::parse(r.body)["command"]["id"].get<std::string>();
  EXPECT_EQ(command_state(id), "pending");
  ASSERT_TRUE(eventually([&] { return command_state(id) == "timed_out"; }, 10s)) << get("/api/commands/" + id).dump();
  const auto c = get("/api/commands/" + id)["command"];
  EXPECT_TRUE(c["answered_at"].is_null());
  EXPECT_NE(c["error"].get<std::string>().find("no result within 3 s"), std::string::npos) << c;
  // Refused without the token, and nothing sent.
  EXPECT_EQ(http_call(http_port_, "POST", "/api/terminals/T1/commands", R"({"name":"snapshot_now","by":"Li"})").status, 401);
  EXPECT_EQ(get("/api/terminals/T1/commands")["commands"].size(), 1u);
}

}  // namespace
}  // namespace sewage::gateway::test
