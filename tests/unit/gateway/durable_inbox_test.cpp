// The received-message journal: appends survive reopening, come back in order with their
// arrival time, are forgotten once released; segments rotate and are deleted when released; a
// torn tail or a corrupt `released` file never loses an intact message.
#include "sewage/gateway/durable_inbox.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::gateway {
namespace {

const proto::timestamp t0{std::chrono::milliseconds(1'796'000'000'000)};

std::vector<std::filesystem::path> segments(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Bytes of one frame of append_three: header 8, fixed body 21, topic, payload.
constexpr std::size_t three_frame_bytes = 8 + 21 + std::string_view("sewage/v1/T1/telemetry").size() + 7;

/// Appends {"n":0}, {"n":1}, {"n":2} (frames of three_frame_bytes each) and closes the journal.
void append_three(const std::filesystem::path& path) {
  durable_inbox j(path);
  for (int i = 0; i < 3; ++i) j.append({"sewage/v1/T1/telemetry", "{\"n\":" + std::to_string(i) + "}", false, t0});
}

/// Overwrites `bytes` at `offset` of the file at `p` in place.
void overwrite(const std::filesystem::path& p, std::size_t offset, const std::string& bytes) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(DurableInbox, AppendReopenReplayRelease) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "g.db-inbox.d";
  {
    durable_inbox j(path);
    EXPECT_EQ(j.append({"sewage/v1/T1/telemetry", "{\"a\":1}", false, t0}), 1u);
    EXPECT_EQ(j.append({"sewage/v1/T1/status", std::string("x\0y", 3), true, t0 + std::chrono::seconds(1)}), 2u);
    EXPECT_EQ(j.append({"sewage/v1/T2/telemetry", "{}", false, t0 + std::chrono::seconds(2)}), 3u);
    j.release_through(1);
    EXPECT_EQ(j.size(), 2u);
  }  // closed as a killed process would leave it: appends stay
  durable_inbox j(path);
  const auto left = j.pending();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].first, 2u);
  EXPECT_EQ(left[0].second.topic, "sewage/v1/T1/status");
  EXPECT_EQ(left[0].second.payload, std::string("x\0y", 3));
  EXPECT_TRUE(left[0].second.retained);
  EXPECT_EQ(left[0].second.arrival, t0 + std::chrono::seconds(1));
  EXPECT_EQ(left[1].first, 3u);
  EXPECT_FALSE(left[1].second.retained);
  EXPECT_EQ(left[1].second.payload, "{}");
  EXPECT_EQ(j.append({"t", "p", false, t0}), 4u);  // ids keep increasing after a restart
  j.release_through(4);
  EXPECT_EQ(j.size(), 0u);
  EXPECT_TRUE(j.pending().empty());
}

TEST(DurableInbox, IdsKeepIncreasingWhenEverythingWasReleased) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  {
    durable_inbox j(path);
    for (int i = 0; i < 5; ++i) j.append({"t", "p", false, t0});
    j.release_through(5);
  }
  durable_inbox j(path);
  EXPECT_TRUE(j.pending().empty());
  EXPECT_EQ(j.append({"t", "p", false, t0}), 6u);
}

TEST(DurableInbox, SegmentsRotateAndReleasedOnesAreDeleted) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  const std::string payload(100, 'x');
  {
    durable_inbox j(path, 1000);  // 6 frames of 151 bytes per 1000-byte segment
    for (int i = 0; i < 40; ++i) j.append({"sewage/v1/T1/telemetry", payload, false, t0});
    // segments 1-6, 7-12, 13-18, 19-24, 25-30, 31-36, 37-40
    EXPECT_EQ(segments(path).size(), 7u);
    j.release_through(20);
    EXPECT_EQ(segments(path).size(), 4u);  // 19-24 still holds unreleased 21-24
  }
  durable_inbox j(path, 1000);
  const auto left = j.pending();
  ASSERT_EQ(left.size(), 20u);
  for (std::size_t i = 0; i < left.size(); ++i) EXPECT_EQ(left[i].first, 21 + i);
  j.release_through(40);
  j.append({"t", "p", false, t0});
  j.release_through(41);
  EXPECT_EQ(segments(path).size(), 1u);  // only the active one
  EXPECT_TRUE(j.pending().empty());
}

TEST(DurableInbox, TornTailKeepsEveryIntactMessage) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  append_three(path);
  // power cut while the last frame was written back: its end never reached the disk
  overwrite(segments(path).front(), 3 * three_frame_bytes - 3, std::string(3, '\0'));
  {
    durable_inbox j(path);
    const auto left = j.pending();
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[1].second.payload, "{\"n\":1}");
    EXPECT_EQ(j.append({"t", "after", false, t0}), 3u);  // in a new segment, readable
  }
  durable_inbox j(path);
  const auto left = j.pending();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[2].second.payload, "after");
}

TEST(DurableInbox, FlippedByteStopsTheSegmentAtThatFrame) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  append_three(path);
  overwrite(segments(path).front(), 2 * three_frame_bytes - 2, "#");  // inside the second frame's payload
  durable_inbox j(path);
  const auto left = j.pending();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second.payload, "{\"n\":0}");
}

TEST(DurableInbox, CorruptReleasedFileReplaysEverything) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  {
    durable_inbox j(path);
    for (int i = 0; i < 3; ++i) j.append({"t", "p", false, t0});
    j.release_through(2);
  }
  std::ofstream(path / "released", std::ios::binary | std::ios::trunc) << "garbage-garbage";
  durable_inbox j(path);
  EXPECT_EQ(j.pending().size(), 3u);  // de-duplication makes the extra replay harmless
}

TEST(DurableInbox, UnwritableLocationNamesThePath) {
  try {
    durable_inbox j("/nonexistent-dir/g.db-inbox.d");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/g.db-inbox.d"), std::string::npos) << e.what();
  }
}

TEST(DurableInbox, ARegularFileInTheWayIsNamed) {
  testing::temp_dir dir("gw-inbox");
  const auto path = dir.path() / "j";
  std::ofstream(path) << "old";
  try {
    durable_inbox j(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sewage::gateway
