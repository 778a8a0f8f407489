// Durable queue: seq and epoch survive reopening, order, bounds with drop-oldest, set-aside of
// oversize records, and a corrupt file moved aside.
#include "sewage/agent/durable_queue.hpp"

#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::agent {
namespace {

durable_queue::options opts(const std::filesystem::path& p, std::uint64_t records = 1000, std::uint64_t bytes = 1 << 20) {
  return durable_queue::options{p, records, bytes, 1024};
}

std::string payload(std::uint64_t seq) { return "record-" + std::to_string(seq); }

TEST(DurableQueue, SeqAndEpochSurviveReopeningAndOrderIsKept) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  std::string epoch;
  {
    durable_queue q(opts(path));
    epoch = q.epoch();
    EXPECT_EQ(epoch.size(), 16U);
    EXPECT_EQ(epoch.find_first_not_of("0123456789abcdef"), std::string::npos);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(q.append(payload).seq, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(q.remove({1, 2}), 2U);
  }
  durable_queue q(opts(path));
  EXPECT_EQ(q.epoch(), epoch);
  EXPECT_EQ(q.depth(), 3U);
  EXPECT_EQ(q.next_seq(), 6U);
  const auto all = q.peek_after(0, 100);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].seq, 3U);
  EXPECT_EQ(all[0].payload, "record-3");
  EXPECT_EQ(all[2].seq, 5U);
  EXPECT_EQ(q.peek_after(3, 1).at(0).seq, 4U);
  // Emptying the queue does not reset seq.
  EXPECT_EQ(q.remove({3, 4, 5, 99}), 3U);
  EXPECT_EQ(q.depth(), 0U);
  EXPECT_EQ(q.bytes(), 0U);
  EXPECT_EQ(q.append(payload).seq, 6U);
}

TEST(DurableQueue, FullQueueDropsTheOldestAndCountsIt) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db", 3));
  for (int i = 0; i < 5; ++i) q.append(payload);
  EXPECT_EQ(q.depth(), 3U);
  EXPECT_EQ(q.dropped(), 2U);
  const auto all = q.peek_after(0, 10);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].seq, 3U);
  EXPECT_EQ(all[2].seq, 5U);
}

TEST(DurableQueue, ByteBoundDropsTheOldest) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db", 1000, 4096));
  const std::string big(1000, 'x');
  for (int i = 0; i < 6; ++i) q.append([&](std::uint64_t) { return big; });
  EXPECT_LE(q.bytes(), 4096U);
  EXPECT_EQ(q.depth(), 4U);
  EXPECT_EQ(q.dropped(), 2U);
}

TEST(DurableQueue, OversizeRecordIsSetAsideNotQueued) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db"));
  q.append(payload);
  const auto a = q.append([](std::uint64_t) { return std::string(2000, 'y'); });
  EXPECT_TRUE(a.set_aside);
  EXPECT_EQ(a.seq, 2U);
  EXPECT_EQ(q.depth(), 1U);
  EXPECT_EQ(q.set_aside(), 1U);
  EXPECT_EQ(q.append(payload).seq, 3U);  // the seq is used, so the gap is visible and explained
}

TEST(DurableQueue, CorruptFileIsMovedAsideAndAFreshEpochStarts) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  std::string epoch;
  {
    durable_queue q(opts(path));
    epoch = q.epoch();
    for (int i = 0; i < 50; ++i) q.append(payload);
  }
  {
    // Overwrite the middle of the file with garbage.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  durable_queue q(opts(path));
  ASSERT_TRUE(q.moved_aside().has_value());
  EXPECT_TRUE(std::filesystem::exists(*q.moved_aside()));
  EXPECT_NE(q.epoch(), epoch);
  EXPECT_EQ(q.depth(), 0U);
  EXPECT_EQ(q.append(payload).seq, 1U);
}

TEST(DurableQueue, TruncatedFileIsMovedAside) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  {
    durable_queue q(opts(path));
    for (int i = 0; i < 200; ++i) q.append(payload);
  }
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::resize_file(path, 1500);
  durable_queue q(opts(path));
  EXPECT_TRUE(q.moved_aside().has_value());
  EXPECT_EQ(q.append(payload).seq, 1U);
}

TEST(DurableQueue, UnwritableLocationThrows) {
  EXPECT_THROW(durable_queue(opts("/proc/definitely/not/here.db")), queue_error);
}

}  // namespace
}  // namespace sewage::agent
