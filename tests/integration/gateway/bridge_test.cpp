// Issue 16 item 3: the county topology with a mosquitto per district bridged to the county broker
// (gateway/README.md "Brokers: a district bridged to the county"). Terminals publish QoS 1
// telemetry to their district broker; the bridge forwards it to the county broker, where the
// gateway is; the gateway's receipts come back over the bridge. Then the county broker is down
// (its link from the district broken) while the terminals go on publishing, and the district
// broker restarts meanwhile: every record reaches the gateway once, none lost, none counted twice.
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

std::string terminal_id(int i) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "D%02d", i);
  return buf;
}

TEST(CountyBridge, QoS1RecordsCrossADistrictBridgeThroughABrokerOutageOnceEach) {
  constexpr int terminals = 5;
  constexpr std::uint64_t per_phase = 60;
  testing::temp_dir dir("gw-bridge");
  std::filesystem::create_directories(dir.path() / "county");
  std::filesystem::create_directories(dir.path() / "district");
  testing::mosquitto_broker county(dir.path() / "county");
  // The district broker: its own listener for the terminals, one bridge to the county broker.
  // cleansession false: the county broker keeps the bridge's session, the district broker keeps
  // what the bridge could not forward yet (max_queued_messages 0: no count limit; the memory
  // and the persistence file bound it). Receipts come back "in".
  testing::broker_options d;
  d.extra_config = "max_queued_messages 0\n"
                   "connection district-test\n"
                   "address 127.0.0.1:" + std::to_string(county.port()) + "\n"
                   "bridge_protocol_version mqttv311\n"
                   "cleansession false\n"
                   "restart_timeout 1\n"
                   "notifications false\n"
                   "topic sewage/v1/+/telemetry out 1\n"
                   "topic sewage/v1/+/receipt in 1\n";
  testing::mosquitto_broker district(dir.path() / "district", d);

  const int http_port = testing::free_loopback_port();
  std::vector<std::string> ids;
  for (int i = 1; i <= terminals; ++i) ids.push_back(terminal_id(i));
  write_registry(dir.path() / "registry.toml", ids);
  write_gateway_config(dir.path() / "gateway.toml", county.uri(), "gw-bridge", http_port);
  const auto get = [&](const std::string& target) { return get_json(http_port, target); };
  const auto metric = [&](const std::string& name) { return metric_value(http_port, name); };
  testing::child_process gateway({SEWAGE_GATEWAY_BINARY, "--config", (dir.path() / "gateway.toml").string()},
                                 dir.path() / "gateway.log");
  ASSERT_TRUE(testing::wait_for_port(http_port, 30s)) << slurp(dir.path() / "gateway.log");
  ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));

  // A terminal's view of its receipts, on its district broker.
  testing::child_process receipts({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(district.port()), "-q", "1",
                                   "-t", "sewage/v1/" + terminal_id(1) + "/receipt", "-v"},
                                  dir.path() / "receipts.log");

  const auto t0 = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) -
                  std::chrono::minutes(2 * per_phase + 10);
  const auto publish = [&](std::uint64_t first, std::uint64_t last) {
    std::vector<std::unique_ptr<testing::child_process>> pubs;
    for (int i = 1; i <= terminals; ++i) {
      const auto id = terminal_id(i);
      const auto file = dir.path() / (id + "-" + std::to_string(first) + ".lines");
      {
        std::ofstream out(file);
        for (auto s = first; s <= last; ++s) out << record_json(id, s, t0 + std::chrono::minutes(s)) << '\n';
      }
      pubs.push_back(std::make_unique<testing::child_process>(
          std::vector<std::string>{"sh", "-c",
                                   "exec mosquitto_pub -h 127.0.0.1 -p " + std::to_string(district.port()) +
                                       " -q 1 -t '" + proto::telemetry_topic(id) + "' -l < '" + file.string() + "'"},
          dir.path() / (id + ".pub.log")));
    }
    for (auto& p : pubs) {
      const auto st = p->wait_for_exit(60s);
      ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
    }
  };
  const auto accepted = [&] { return metric("sewage_gateway_records_accepted_total"); };

  // 1. Link up: every record crosses the bridge; receipts come back to the district.
  publish(1, per_phase);
  ASSERT_TRUE(eventually([&] { return accepted() == terminals * per_phase; }, 30s))
      << accepted() << "\n" << district.log();
  ASSERT_TRUE(eventually([&] { return slurp(dir.path() / "receipts.log").find("/receipt") != std::string::npos; }, 20s))
      << "no receipt came back over the bridge";

  // 2. The county broker goes down (the bridge link drops); the terminals go on publishing to
  //    their district broker, which restarts meanwhile (its queue for the bridge is persisted).
  county.stop();
  publish(per_phase + 1, 2 * per_phase);
  district.stop();
  district.start();
  county.start();

  // 3. Link up again: the district's queue is forwarded; the gateway takes each record once.
  ASSERT_TRUE(eventually([&] { return accepted() == 2 * terminals * per_phase; }, 60s))
      << accepted() << " of " << 2 * terminals * per_phase << "\n" << district.log();
  std::this_thread::sleep_for(2s);  // a duplicate forwarded late would show now
  EXPECT_EQ(accepted(), 2 * terminals * per_phase);
  std::cerr << "duplicates discarded by the gateway: " << metric("sewage_gateway_duplicates_total") << "\n";
  for (int i = 1; i <= terminals; ++i) {
    const auto t = get("/api/terminals/" + terminal_id(i));
    EXPECT_EQ(t.value("missing_records", -1), 0) << t.dump();
    EXPECT_EQ(t["latest_record"].value("seq", 0u), 2 * per_phase) << t.dump();
  }
  if (HasFailure())
    std::cerr << slurp(dir.path() / "gateway.log") << "\n" << county.log() << "\n" << district.log() << "\n";
  receipts.stop(5s);
  gateway.stop(10s);
}

}  // namespace
}  // namespace sewage::gateway::test
