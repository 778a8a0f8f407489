// The received-message journal: appends survive reopening, come back in order with their
// arrival time, and are forgotten once released.
#include "sewage/gateway/durable_inbox.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

namespace sewage::gateway {
namespace {

TEST(DurableInbox, AppendReopenReplayRelease) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "g.db-inbox";
  const proto::timestamp t0{std::chrono::milliseconds(1'796'000'000'000)};
  {
    durable_inbox j(path);
    EXPECT_EQ(j.append({"sewage/v1/T1/telemetry", "{\"a\":1}", false, t0}), 1u);
    EXPECT_EQ(j.append({"sewage/v1/T1/status", std::string("x\0y", 3), true, t0 + std::chrono::seconds(1)}), 2u);
    EXPECT_EQ(j.append({"sewage/v1/T2/telemetry", "{}", false, t0 + std::chrono::seconds(2)}), 3u);
    j.release_through(1);
  }  // closed as a killed process would leave it: committed appends stay
  durable_inbox j(path);
  const auto left = j.pending();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].first, 2u);
  EXPECT_EQ(left[0].second.topic, "sewage/v1/T1/status");
  EXPECT_EQ(left[0].second.payload, std::string("x\0y", 3));
  EXPECT_TRUE(left[0].second.retained);
  EXPECT_EQ(left[0].second.arrival, t0 + std::chrono::seconds(1));
  EXPECT_EQ(left[1].second.payload, "{}");
  EXPECT_EQ(j.append({"t", "p", false, t0}), 4u);  // ids keep increasing after a release
  j.release_through(4);
  EXPECT_EQ(j.size(), 0u);
}

TEST(DurableInbox, UnwritableLocationNamesTheFile) {
  try {
    durable_inbox j("/nonexistent-dir/g.db-inbox");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/g.db-inbox"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sewage::gateway
