// The webhook notifier against a real HTTP server on a loopback port (the gateway's own Beast
// server as receiver): delivery of the alert JSON, retry with backoff after failures, and that
// on_transition never waits for the network.
#include "sewage/gateway/http_server.hpp"
#include "sewage/gateway/notify/webhook.hpp"

#include <sewage/proto/alert.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace sewage::gateway {
namespace {

using namespace std::chrono_literals;

proto::alert_message sample_alert(std::uint64_t id) {
  proto::alert_message a;
  a.terminal_id = "T1";
  a.type = proto::alert_type::no_flow;
  a.alert_id = id;
  a.raised_at = *proto::parse_timestamp("2026-11-29T08:00:00Z");
  a.message = "No effluent flow.";
  return a;
}

TEST(Webhook, DeliversAlertJsonAndRetriesAfterFailures) {
  boost::asio::io_context io;
  std::mutex mu;
  std::vector<std::string> bodies;
  std::atomic<int> calls{0};
  http_server server(io, "127.0.0.1", 0, 65536, [&](const http_request& r) {
    http_response resp;
    if (calls.fetch_add(1) < 2) {  // the first two attempts fail
      resp.status = 503;
      return resp;
    }
    std::lock_guard lock(mu);
    bodies.push_back(r.body);
    resp.status = 204;
    return resp;
  });
  server.start();
  std::thread io_thread([&] { io.run(); });
  {
    webhook_notifier hook("http://127.0.0.1:" + std::to_string(server.port()) + "/hook", 5, 20ms, 100);
    const auto t0 = std::chrono::steady_clock::now();
    hook.on_transition(sample_alert(1));
    hook.on_transition(sample_alert(2));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms) << "on_transition must not wait for the network";
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (hook.delivered() < 2 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(hook.delivered(), 2u);
    EXPECT_EQ(hook.failures(), 2u);
    EXPECT_EQ(hook.dropped(), 0u);
  }
  io.stop();
  io_thread.join();
  std::lock_guard lock(mu);
  ASSERT_EQ(bodies.size(), 2u);
  const auto first = proto::decode_alert(bodies[0]);
  ASSERT_TRUE(first.ok()) << bodies[0];
  EXPECT_EQ(first.value->alert_id, 1u);
}

TEST(Webhook, GivesUpAfterMaxAttemptsAndCountsTheDrop) {
  // Nothing listens on this port: every attempt fails fast.
  boost::asio::io_context io;
  http_server probe(io, "127.0.0.1", 0, 1024, [](const http_request&) { return http_response{}; });
  const auto port = probe.port();
  probe.stop();
  webhook_notifier hook("http://127.0.0.1:" + std::to_string(port) + "/", 3, 10ms, 100);
  hook.on_transition(sample_alert(7));
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (hook.dropped() < 1 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(hook.dropped(), 1u);
  EXPECT_EQ(hook.failures(), 3u);
  EXPECT_EQ(hook.delivered(), 0u);
}

TEST(Webhook, RejectsUrlsItCannotServe) {
  EXPECT_THROW(webhook_notifier("https://example.org/x", 1, 10ms, 1), std::invalid_argument);
  EXPECT_THROW(webhook_notifier("http:///x", 1, 10ms, 1), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::gateway
