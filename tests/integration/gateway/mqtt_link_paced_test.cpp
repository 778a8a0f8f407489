// Issue 16 item 4: the delivery receipts go out paced (mqtt_link::publish_paced). Callgrind showed
// 43 % of the engine thread in Paho C's search for a free message id when a commit handed it
// 5,000 receipts at once (it walks every message it holds, per publish). Now at most
// max_paced_in_flight of them are in Paho unacknowledged; the rest wait in the link, in order.
// Class of fault tested: many paced publishes at once must all arrive, not overtake an alert
// state published after them, and be dropped (counted) at a connection loss, never left stuck.
//
// Loopback only: a real mosquitto on a free port (tests/support), stopped by PID.

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/mqtt_link.hpp"

#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>
#include <sewage/testing/topic_reader.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <memory>
#include <string>
#include <thread>

namespace sewage::gateway {
namespace {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class PacedPublish : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.emplace("sewage-link-paced");
    broker_ = std::make_unique<sewage::testing::mosquitto_broker>(dir_->path() / "broker");
    cfg_.mqtt_uri = broker_->uri();
    cfg_.mqtt_allow_plaintext = true;
    cfg_.mqtt_client_id = "test-gateway-paced";
    io_thread_ = std::thread([this] { io_.run(); });
    link_ = std::make_unique<mqtt_link>(cfg_, clock_, io_, [](inbound_message) {}, [] {});
    link_->start();
    ASSERT_TRUE(eventually([&] { return link_->connected(); }, std::chrono::seconds(10)));
  }
  void TearDown() override {
    link_->stop();
    guard_.reset();
    io_.stop();
    io_thread_.join();
    link_.reset();  // after the io thread: no handler of it can run afterwards
    broker_.reset();
  }
  /// Runs `fn` on the link's io thread and waits for it; returns its result.
  template <class Fn>
  auto on_io(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  std::optional<sewage::testing::temp_dir> dir_;
  std::unique_ptr<sewage::testing::mosquitto_broker> broker_;
  config cfg_;
  system_clock_source clock_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  std::unique_ptr<mqtt_link> link_;
};

TEST_F(PacedPublish, ManyAtOnceAllArriveAndWaitInTheLinkNotInTheClient) {
  const std::string topic = "sewage/v1/HY-T-001/receipt";
  sewage::testing::topic_reader reader(broker_->uri(), topic, "test-paced-reader");
  constexpr int n = 20'000;  // one commit's receipts at province scale
  const auto waiting_after_burst = on_io([&] {
    for (int i = 0; i < n; ++i) link_->publish_paced(topic, "r" + std::to_string(i));
    return link_->paced_waiting();
  });
  // Paho got at most max_paced_in_flight; the others wait in the link (some may have gone on
  // already as the first acknowledgements came back while the burst was being queued).
  EXPECT_GT(waiting_after_burst, 0u);
  EXPECT_LE(waiting_after_burst, n - mqtt_link::max_paced_in_flight);
  ASSERT_TRUE(eventually([&] { return reader.seen().size() == static_cast<std::size_t>(n); }, std::chrono::seconds(60)))
      << reader.seen().size() << " of " << n << " arrived; waiting " << link_->paced_waiting();
  EXPECT_EQ(link_->paced_waiting(), 0u);
  EXPECT_EQ(link_->paced_dropped(), 0u);
  EXPECT_EQ(link_->publish_failures(), 0u);
  EXPECT_TRUE(reader.has("r0"));
  EXPECT_TRUE(reader.has("r" + std::to_string(n - 1)));
}

TEST_F(PacedPublish, AnAlertStatePublishedAfterThemDoesNotWaitBehindThem) {
  const std::string receipts = "sewage/v1/HY-T-001/receipt";
  const std::string alert = "sewage/v1/alerts/HY-T-002/turbidity_high";
  sewage::testing::topic_reader receipt_reader(broker_->uri(), receipts, "test-paced-receipts");
  sewage::testing::topic_reader alert_reader(broker_->uri(), alert, "test-paced-alert");
  constexpr int n = 20'000;
  on_io([&] {
    for (int i = 0; i < n; ++i) link_->publish_paced(receipts, "r" + std::to_string(i));
    link_->publish(alert, "raised", false);
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return alert_reader.has("raised"); }, std::chrono::seconds(30)));
  const auto receipts_by_then = receipt_reader.seen().size();
  EXPECT_LT(receipts_by_then, static_cast<std::size_t>(n)) << "the alert state came after every receipt";
  ASSERT_TRUE(eventually([&] { return receipt_reader.seen().size() == static_cast<std::size_t>(n); },
                         std::chrono::seconds(60)));
}

TEST_F(PacedPublish, WhatWaitsAtAConnectionLossIsDroppedAndCountedAndTheLinkGoesOn) {
  const std::string topic = "sewage/v1/HY-T-001/receipt";
  constexpr int n = 50'000;
  // The broker stops answering first: nothing is acknowledged, so what the burst queues waits.
  ::kill(broker_->pid(), SIGSTOP);
  const auto waiting = on_io([&] {
    for (int i = 0; i < n; ++i) link_->publish_paced(topic, "r" + std::to_string(i));
    return link_->paced_waiting();
  });
  EXPECT_EQ(waiting, n - mqtt_link::max_paced_in_flight);
  ::kill(broker_->pid(), SIGCONT);
  broker_->kill();
  ASSERT_TRUE(eventually([&] { return link_->paced_waiting() == 0; }, std::chrono::seconds(20)));
  EXPECT_GE(link_->paced_dropped(), static_cast<std::uint64_t>(n - mqtt_link::max_paced_in_flight));
  // After the broker is back the link connects again and paced publishes flow (not stuck behind
  // the in-flight count of the lost connection).
  broker_->start();
  ASSERT_TRUE(eventually([&] { return link_->connected(); }, std::chrono::seconds(20)));
  sewage::testing::topic_reader reader(broker_->uri(), topic, "test-paced-after");
  on_io([&] {
    for (int i = 0; i < 1000; ++i) link_->publish_paced(topic, "again" + std::to_string(i));
    return 0;
  });
  EXPECT_TRUE(eventually([&] { return reader.seen().size() >= 1000; }, std::chrono::seconds(30)))
      << reader.seen().size() << " of 1000 after the reconnect; waiting " << link_->paced_waiting();
  EXPECT_EQ(link_->paced_waiting(), 0u);
}

}  // namespace
}  // namespace sewage::gateway
