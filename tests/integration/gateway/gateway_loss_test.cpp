// Issue 9 section 5 end to end: records the broker dropped while the gateway was stopped are
// visible as missing. mosquitto with max_queued_messages 100, gateway stopped, 20 terminals x 300
// records, gateway started, then one live record per terminal: the API's missing count must equal
// 6000 minus the records stored.
#include "http_client.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
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
    std::this_thread::sleep_for(200ms);
  }
  return cond();
}

proto::timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string terminal_id(int i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "L%02d", i);
  return buf;
}

std::string record_json(const std::string& id, std::uint64_t seq, proto::timestamp ts) {
  proto::telemetry_record r;
  r.terminal_id = id;
  r.epoch = "ep1";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  r.flow = proto::flow_reading{proto::quantity_status::ok, 0.6, 100.0 + 0.01 * static_cast<double>(seq), std::nullopt};
  return proto::encode(r);
}

TEST(GatewayLoss, RecordsDroppedByTheBrokerWhileTheGatewayWasStoppedAreCountedAsMissing) {
  constexpr int terminals = 20;
  constexpr std::uint64_t records = 300;
  testing::temp_dir dir("gw-loss");
  std::filesystem::create_directories(dir.path() / "broker");
  testing::broker_options bo;
  bo.extra_config = "max_queued_messages 100\n";
  testing::mosquitto_broker broker(dir.path() / "broker", bo);
  const int http_port = testing::free_loopback_port();
  {
    std::ofstream reg(dir.path() / "registry.toml");
    for (int i = 1; i <= terminals; ++i)
      reg << "[[terminal]]\nid = \"" << terminal_id(i) << "\"\nname = \"n\"\ntown = \"A\"\nvillage = \"B\"\n"
          << "latitude = 30.5\nlongitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\n"
          << "report_interval_s = 60\n";
  }
  std::ofstream(dir.path() / "gateway.toml")
      << "[mqtt]\nuri = \"" << broker.uri() << "\"\nallow_plaintext = true\nclient_id = \"gw-loss\"\nkeep_alive_s = 5\n"
      << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
      << "[http]\nlisten = \"127.0.0.1:" << http_port << "\"\npublic_read = true\n"
      << "[registry]\npath = \"registry.toml\"\n"
      << "[log]\nlevel = \"info\"\n";
  const auto get = [&](const std::string& target) {
    const auto r = http_call(http_port, "GET", target);
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json::object();
  };
  const auto metric = [&](const std::string& name) {
    const auto r = http_call(http_port, "GET", "/metrics");
    const auto pos = r.body.find("\n" + name + " ");
    return pos == std::string::npos ? -1.0 : std::stod(r.body.substr(pos + name.size() + 2));
  };
  auto start_gateway = [&] {
    auto gw = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BINARY, "--config", (dir.path() / "gateway.toml").string()},
        dir.path() / "gateway.log");
    EXPECT_TRUE(testing::wait_for_port(http_port, 30s)) << slurp(dir.path() / "gateway.log");
    EXPECT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));
    return gw;
  };
  // The gateway subscribes once (its persistent session), then stops.
  auto gateway = start_gateway();
  gateway->stop(10s);
  gateway.reset();

  // 20 terminals publish 300 records each, concurrently, while the gateway is away.
  const auto t0 = now() - std::chrono::minutes(records + 10);
  std::vector<std::unique_ptr<testing::child_process>> pubs;
  for (int i = 1; i <= terminals; ++i) {
    const auto id = terminal_id(i);
    const auto file = dir.path() / (id + ".lines");
    {
      std::ofstream out(file);
      for (std::uint64_t s = 1; s <= records; ++s) out << record_json(id, s, t0 + std::chrono::minutes(s)) << '\n';
    }
    pubs.push_back(std::make_unique<testing::child_process>(
        std::vector<std::string>{"sh", "-c",
                                 "exec mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) + " -q 1 -t '" +
                                     proto::telemetry_topic(id) + "' -l < '" + file.string() + "'"},
        dir.path() / (id + ".pub.log")));
  }
  for (auto& p : pubs) {
    const auto st = p->wait_for_exit(60s);
    ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  }

  gateway = start_gateway();
  // Wait until the backlog the broker kept has been taken in (the count stops moving).
  double stored = -1;
  ASSERT_TRUE(eventually(
      [&] {
        const double n = metric("sewage_gateway_records_accepted_total");
        const bool settled = n > 0 && n == stored;
        stored = n;
        return settled;
      },
      30s));
  std::cerr << "stored after the restart: " << stored << " of " << terminals * records << "\n";
  EXPECT_LT(stored, terminals * records);  // the broker did drop records (otherwise nothing is tested)
  // Before any later record the gateway can only know the holes below each terminal's highest seq.
  // One live record per terminal shows everything above too.
  for (int i = 1; i <= terminals; ++i) {
    testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q", "1",
                                "-t", proto::telemetry_topic(terminal_id(i)), "-m",
                                record_json(terminal_id(i), records + 1, now())},
                               dir.path() / "live.pub.log");
    ASSERT_TRUE(pub.wait_for_exit(10s).has_value());
  }
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_records_accepted_total") == stored + terminals; }, 20s));
  double api_missing = 0;
  const auto list = get("/api/terminals")["terminals"];
  ASSERT_EQ(list.size(), static_cast<std::size_t>(terminals));
  for (const auto& t : list) api_missing += t["missing_records"].get<double>();
  std::cerr << "missing in the API: " << api_missing << "\n";
  EXPECT_EQ(api_missing, terminals * records - stored);
  EXPECT_EQ(metric("sewage_gateway_missing_records"), terminals * records - stored);
  // The days that lost records say so, and their counts add up to the same total.
  double daily_missing = 0;
  for (int i = 1; i <= terminals; ++i) {
    const auto daily = get("/api/terminals/" + terminal_id(i) + "/daily");
    for (const auto& d : daily["days"]) {
      daily_missing += d["missing_records"].get<double>();
      EXPECT_EQ(d["complete"].get<bool>(), d["missing_records"] == 0) << d.dump();
    }
  }
  EXPECT_EQ(daily_missing, api_missing);
  if (HasFailure()) std::cerr << slurp(dir.path() / "gateway.log") << "\n" << broker.log() << "\n";
  gateway->stop(10s);
}

}  // namespace
}  // namespace sewage::gateway::test
