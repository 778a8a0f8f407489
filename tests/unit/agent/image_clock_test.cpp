// Image capture (command or file, size and JPEG checks, timeout) and the simulation clock.
#include "sewage/agent/clock.hpp"
#include "sewage/agent/image_source.hpp"

#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace sewage::agent {
namespace {

using namespace std::chrono_literals;

// Smallest byte string the proto check accepts: SOI + a segment marker ... EOI.
const std::string kJpeg = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'j') + std::string("\xFF\xD9", 2);

TEST(ImageCapture, CommandStdoutIsTheImage) {
  testing::temp_dir dir("image");
  const auto file = dir.path() / "snap.jpg";
  std::ofstream(file, std::ios::binary) << kJpeg;
  image_config c;
  c.command = "cat " + file.string();
  std::string why;
  const auto img = capture_image(c, why);
  ASSERT_TRUE(img.has_value()) << why;
  EXPECT_EQ(*img, kJpeg);
}

TEST(ImageCapture, FileSourceAndRejections) {
  testing::temp_dir dir("image");
  const auto file = dir.path() / "snap.jpg";
  std::ofstream(file, std::ios::binary) << kJpeg;
  image_config c;
  c.file = file;
  std::string why;
  EXPECT_TRUE(capture_image(c, why).has_value()) << why;

  c.max_bytes = 50;
  EXPECT_FALSE(capture_image(c, why).has_value());
  EXPECT_NE(why.find("larger"), std::string::npos) << why;

  c.max_bytes = 512 * 1024;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "<html>503 Service Unavailable</html>";
  EXPECT_FALSE(capture_image(c, why).has_value());
  EXPECT_NE(why.find("JPEG"), std::string::npos) << why;

  c.file = dir.path() / "missing.jpg";
  EXPECT_FALSE(capture_image(c, why).has_value());
  EXPECT_NE(why.find("cannot read"), std::string::npos) << why;
}

TEST(ImageCapture, FailingAndSlowCommandsAreReportedNotWaitedFor) {
  image_config c;
  c.command = "exit 3";
  std::string why;
  EXPECT_FALSE(capture_image(c, why).has_value());
  EXPECT_NE(why.find("status 3"), std::string::npos) << why;

  c.command = "sleep 30";
  c.timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(capture_image(c, why).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_NE(why.find("timed out"), std::string::npos) << why;
}

TEST(ImageSource, TakesAPictureAtStartAndOnTrigger) {
  testing::temp_dir dir("image");
  const auto file = dir.path() / "snap.jpg";
  std::ofstream(file, std::ios::binary) << kJpeg;
  image_config c;
  c.file = file;
  c.period_s = 3600;
  agent_clock clock;
  std::mutex m;
  int got = 0;
  {
    image_source src(c, clock, [&](std::string img) {
      std::lock_guard lock(m);
      EXPECT_EQ(img, kJpeg);
      ++got;
    });
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard lock(m);
        if (got >= 1) break;
      }
      std::this_thread::sleep_for(20ms);
    }
    src.trigger();
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard lock(m);
        if (got >= 2) break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_EQ(got, 2);
}

TEST(AgentClock, SimulatedClockStartsAtTheGivenTimeAndRunsScaled) {
  const proto::timestamp start{std::chrono::seconds(1'800'000'000)};
  agent_clock c(start, 100.0);
  EXPECT_TRUE(c.simulated());
  std::this_thread::sleep_for(100ms);
  const auto elapsed = c.now() - start;
  EXPECT_GE(elapsed, 9s);
  EXPECT_LT(elapsed, 60s);
  EXPECT_EQ(c.real(std::chrono::seconds(60)), std::chrono::milliseconds(600));
  EXPECT_THROW(agent_clock(std::nullopt, 0.0), std::invalid_argument);
  agent_clock real;
  EXPECT_FALSE(real.simulated());
  EXPECT_LT(std::chrono::abs(real.now() - std::chrono::system_clock::now()), 1s);
}

}  // namespace
}  // namespace sewage::agent

namespace sewage::agent {
namespace {

using namespace std::chrono_literals;

/// A wall clock and a monotonic clock the test moves by hand.
struct fake_time {
  std::chrono::system_clock::time_point wall{std::chrono::system_clock::time_point{} + 10s};  // 1970-01-01T00:00:10Z
  std::chrono::steady_clock::time_point mono{std::chrono::steady_clock::time_point{} + 1000s};
  void advance(std::chrono::milliseconds d) {
    wall += d;
    mono += d;
  }
  time_sources sources() {
    return time_sources{[this] { return wall; }, [this] { return mono; }};
  }
};

// Issue 9 §2: an SBC without RTC starts at 1970 and is stepped to the right time; the first record
// after the step carried interval_s = 86400 (the clamp of a 56-year wall difference).
TEST(SamplingWindow, WallClockStepsNeverChangeTheIntervalOnlyTheStamp) {
  fake_time t;
  const agent_clock clock(std::nullopt, 1.0, std::nullopt, t.sources());
  sampling_window window(clock);

  // +56 years in the middle of a 60 s window.
  t.advance(25s);
  const auto stepped_to = *proto::parse_timestamp("2026-11-30T08:00:00Z");
  t.wall = stepped_to;
  t.advance(35s);
  const auto a = window.close();
  EXPECT_DOUBLE_EQ(a.interval_s, 60.0);
  EXPECT_EQ(a.end, stepped_to + 35s);  // ts stays the wall clock at the end of the window

  // -1 h (an NTP correction back) in the next window.
  t.advance(10s);
  t.wall -= 1h;
  t.advance(50s);
  const auto b = window.close();
  EXPECT_DOUBLE_EQ(b.interval_s, 60.0);
  EXPECT_EQ(b.end, stepped_to + 35s + 60s - 1h);

  // A step back larger than the window itself, and a window with no step at all.
  t.advance(1s);
  t.wall -= std::chrono::hours(24 * 365);
  t.advance(4500ms);
  EXPECT_DOUBLE_EQ(window.close().interval_s, 5.5);
  t.advance(60s);
  EXPECT_DOUBLE_EQ(window.close().interval_s, 60.0);
}

TEST(SamplingWindow, ElapsedFollowsTheMonotonicClockAndTheSimulationScale) {
  fake_time t;
  const agent_clock real(std::nullopt, 1.0, std::nullopt, t.sources());
  const agent_clock sim(*proto::parse_timestamp("2030-01-01T00:00:00Z"), 60.0, std::nullopt, t.sources());
  t.advance(2s);
  t.wall += std::chrono::hours(24 * 365 * 56);
  EXPECT_EQ(real.elapsed(), 2s);
  EXPECT_EQ(sim.elapsed(), 120s);
  // The simulated wall clock is derived from the monotonic clock: the real wall step does not move it.
  EXPECT_EQ(sim.now(), *proto::parse_timestamp("2030-01-01T00:02:00Z"));
  sampling_window w(sim);
  t.mono += 1s;
  EXPECT_DOUBLE_EQ(w.close().interval_s, 60.0);
  EXPECT_THROW(agent_clock(std::nullopt, 1.0, std::nullopt, time_sources{}), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::agent
