// Issue 9 section 5 end to end: records the broker dropped while the gateway was stopped are
// visible as missing. mosquitto with max_queued_messages 100, gateway stopped, 20 terminals x 300
// records, gateway started, then one live record per terminal: the API's missing count must equal
// 6000 minus the records stored.
#include "http_client.hpp"
#include "process_util.hpp"

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

proto::timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string terminal_id(int i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "L%02d", i);
  return buf;
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
  std::vector<std::string> ids;
  for (int i = 1; i <= terminals; ++i) ids.push_back(terminal_id(i));
  write_registry(dir.path() / "registry.toml", ids);
  write_gateway_config(dir.path() / "gateway.toml", broker.uri(), "gw-loss", http_port);
  const auto get = [&](const std::string& target) { return get_json(http_port, target); };
  const auto metric = [&](const std::string& name) { return metric_value(http_port, name); };
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
