// Issue 17, the second 168 h chaos run: the gateway died with a heap-use-after-free inside Paho C
// 1.3.12. Class: a QoS 1 publish whose first write fails because the connection broke under it.
// Paho's MQTTAsync_processCommand then frees that PUBLISH's topic and payload while the copy it
// keeps in the session still points at them, and the re-send after the reconnect reads them
// (gateway/include/sewage/gateway/mqtt_link.hpp). This test makes exactly that happen, many
// times: tests/support publish_write_fault wraps writev(), and when armed the next write of an
// MQTT PUBLISH packet shuts the socket down and fails with ECONNRESET, as a link reset by a
// router or a broker killed mid-write does. The gateway's mqtt_link must reconnect each time with nothing
// freed read (this binary runs under AddressSanitizer in the test command; without the clean
// reconnect the second injection aborts it), and keep delivering.
//
// Loopback only: a real mosquitto on a free port (tests/support), stopped by PID.

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/mqtt_link.hpp"

#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/publish_write_fault.hpp>
#include <sewage/testing/topic_reader.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace sewage::gateway {
namespace {

using sewage::testing::wait_until;


TEST(MqttLinkWriteFailure, APublishWhoseWriteFailsLeavesNoFreedMemoryBehind) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sewage-link-write-failure-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sewage::testing::mosquitto_broker broker(dir / "broker");  // keeps the gateway's session in memory

  const std::string topic = "sewage/v1/HY-T-001/receipt";
  sewage::testing::topic_reader reader(broker.uri(), topic, "test-receipt-reader");

  config cfg;
  cfg.mqtt_uri = broker.uri();
  cfg.mqtt_allow_plaintext = true;
  cfg.mqtt_client_id = "test-gateway-write-failure";
  system_clock_source clock;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  {
    // Destroyed after the io thread has stopped: no handler of it can run afterwards.
    auto link_owner = std::make_unique<mqtt_link>(cfg, clock, io, [](inbound_message) {}, [] {});
    auto& link = *link_owner;
    link.start();
    ASSERT_TRUE(wait_until([&] { return link.connected(); }, std::chrono::seconds(10)));

    std::atomic<int> sent{0};
    auto publish_burst = [&](int n) {
      boost::asio::post(io, [&link, &sent, &topic, n] {
        for (int i = 0; i < n; ++i) link.publish(topic, "r" + std::to_string(sent.fetch_add(1)), false);
      });
    };

    constexpr int injections = 10;
    for (int k = 1; k <= injections; ++k) {
      // Connected and settled (the reconnect's re-sends are out): the next PUBLISH written is a
      // first write, the case Paho frees.
      ASSERT_TRUE(wait_until([&] { return link.connected(); }, std::chrono::seconds(10))) << "injection " << k;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      sewage::testing::fail_next_publish_write();
      ASSERT_TRUE(wait_until(
          [&] {
            publish_burst(20);
            return sewage::testing::publish_writes_failed() >= k;
          },
          std::chrono::seconds(10)))
          << "no PUBLISH was written after arming, injection " << k;
      // The link notices, reconnects (clean once) and goes on.
      ASSERT_TRUE(wait_until([&] { return link.session_resets() >= static_cast<std::uint64_t>(k); },
                             std::chrono::seconds(10)))
          << "injection " << k << ": no clean reconnect after the failed write (resets " << link.session_resets()
          << ", connects " << link.connects() << ")";
    }
    EXPECT_EQ(sewage::testing::publish_writes_failed(), injections);
    EXPECT_EQ(link.session_resets(), static_cast<std::uint64_t>(injections));
    EXPECT_GE(link.connects(), static_cast<std::uint64_t>(injections + 1));
    // Each failed write is counted (sewage_gateway_publish_failures_total), with what the clean
    // session dropped unacknowledged.
    EXPECT_GE(link.publish_failures(), static_cast<std::uint64_t>(injections));

    // Still delivering after all that.
    ASSERT_TRUE(wait_until([&] { return link.connected(); }, std::chrono::seconds(10)));
    boost::asio::post(io, [&link, &topic] { link.publish(topic, "after-the-failures", false); });
    EXPECT_TRUE(wait_until([&] { return reader.has("after-the-failures"); }, std::chrono::seconds(10)));
    link.stop();
    guard.reset();
    io.stop();
    io_thread.join();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sewage::gateway
