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
