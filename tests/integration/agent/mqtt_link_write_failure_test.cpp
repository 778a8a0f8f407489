// Issue 17, the class behind the second 168 h chaos run's crash, on the agent's side: a QoS 1
// publish whose first write fails because the connection broke under it. Paho C 1.3.12 then frees
// that PUBLISH's topic and payload while its session copy still points at them
// (gateway/include/sewage/gateway/mqtt_link.hpp). The agent's session is clean, so Paho drops the
// copy at the disconnect instead of re-sending it (the second free is ignored by Paho's own
// allocator). This test makes the failure happen again and again (tests/support
// publish_write_fault wraps writev: when armed, the next write of an MQTT PUBLISH packet shuts the
// socket down and fails with ECONNRESET, as a link reset does) and checks what the agent's
// durable queue relies on:
// every publish gets exactly one delivery result, nothing reported delivered is missing at the
// broker, and the link reconnects and delivers afterwards. Runs under AddressSanitizer in the
// test command, so a read of freed memory aborts it.
//
// Loopback only: a real mosquitto on a free port (tests/support), stopped by PID.

#include "sewage/agent/config.hpp"
#include "sewage/agent/mqtt_link.hpp"

#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/publish_write_fault.hpp>
#include <sewage/testing/topic_reader.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace sewage::agent {
namespace {

using sewage::testing::wait_until;


TEST(AgentMqttLinkWriteFailure, EveryPublishGetsOneResultAndNothingReportedDeliveredIsMissing) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sewage-agent-write-failure-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sewage::testing::mosquitto_broker broker(dir / "broker");

  const std::string topic = "sewage/v1/HY-T-002/telemetry";
  sewage::testing::topic_reader reader(broker.uri(), topic, "test-telemetry-reader");

  agent_config cfg;
  cfg.terminal_id = "HY-T-002";
  cfg.mqtt.uris = {broker.uri()};
  cfg.mqtt.allow_plaintext = true;
  cfg.mqtt.reconnect_min_s = 1;
  cfg.mqtt.reconnect_max_s = 1;

  std::atomic<int> connects{0};
  std::mutex results_mutex;
  std::map<std::uint64_t, std::vector<bool>> results;  // tag -> every delivery result it got
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  {
    mqtt_link::handlers h;
    h.on_connected = [&connects] { connects.fetch_add(1); };
    h.on_connection_lost = [] {};
    h.on_delivery = [&](std::uint64_t tag, bool ok, int) {
      std::lock_guard lock(results_mutex);
      results[tag].push_back(ok);
    };
    h.on_message = [](std::string, std::string) {};
    // Destroyed after the io thread has stopped: no handler of it can run afterwards.
    auto link_owner = std::make_unique<mqtt_link>(cfg, io, h, "sewage/v1/HY-T-002/status", "{}");
    auto& link = *link_owner;
    boost::asio::post(io, [&link] { link.start(); });
    ASSERT_TRUE(wait_until([&] { return connects.load() >= 1; }, std::chrono::seconds(10)));

    std::atomic<std::uint64_t> next_tag{1};
    std::mutex accepted_mutex;
    std::set<std::uint64_t> accepted;  // tags Paho took (publish returned true)
    auto publish_burst = [&](int n) {
      boost::asio::post(io, [&, n] {
        for (int i = 0; i < n; ++i) {
          const auto tag = next_tag.fetch_add(1);
          if (link.publish(topic, "rec-" + std::to_string(tag), false, tag)) {
            std::lock_guard lock(accepted_mutex);
            accepted.insert(tag);
          }
        }
      });
    };

    constexpr int injections = 8;
    for (int k = 1; k <= injections; ++k) {
      ASSERT_TRUE(wait_until([&] { return connects.load() >= k; }, std::chrono::seconds(10))) << "injection " << k;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      sewage::testing::fail_next_publish_write();
      ASSERT_TRUE(wait_until(
          [&] {
            publish_burst(10);
            return sewage::testing::publish_writes_failed() >= k;
          },
          std::chrono::seconds(10)))
          << "no PUBLISH was written after arming, injection " << k;
    }
    ASSERT_TRUE(wait_until([&] { return connects.load() >= injections + 1; }, std::chrono::seconds(15)));
    // After the failures the link delivers again: publish until one is acknowledged.
    ASSERT_TRUE(wait_until(
        [&] {
          {
            std::lock_guard lock(results_mutex);
            for (const auto& [tag, r] : results)
              if (!r.empty() && r.front()) return true;
          }
          publish_burst(1);
          return false;
        },
        std::chrono::seconds(15)))
        << "no publish was acknowledged after the last reconnect";

    // Every publish Paho took gets exactly one result; nothing reported delivered is missing.
    std::set<std::uint64_t> accepted_now;
    ASSERT_TRUE(wait_until(
        [&] {
          {
            std::lock_guard lock(accepted_mutex);
            accepted_now = accepted;
          }
          std::lock_guard lock(results_mutex);
          for (const auto tag : accepted_now)
            if (results.count(tag) == 0) return false;
          return true;
        },
        std::chrono::seconds(15)))
        << "a publish got no delivery result";
    std::set<std::string> delivered;
    int failed = 0;
    {
      std::lock_guard lock(results_mutex);
      for (const auto& [tag, r] : results) {
        EXPECT_EQ(r.size(), 1u) << "tag " << tag << " got " << r.size() << " results";
        if (r.front())
          delivered.insert("rec-" + std::to_string(tag));
        else
          ++failed;
      }
    }
    EXPECT_GE(failed, injections) << "each failed write must be reported as not delivered";
    EXPECT_FALSE(delivered.empty());
    ASSERT_TRUE(wait_until(
        [&] {
          const auto seen = reader.seen();
          for (const auto& p : delivered)
            if (seen.count(p) == 0) return false;
          return true;
        },
        std::chrono::seconds(10)))
        << "a publish reported delivered never reached the broker";
    EXPECT_EQ(sewage::testing::publish_writes_failed(), injections);
    guard.reset();
    io.stop();
    io_thread.join();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sewage::agent
