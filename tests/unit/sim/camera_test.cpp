#include "sewage/sim/camera.hpp"

#include "sewage/proto/image.hpp"
#include "sewage/proto/timestamp.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sewage::sim {
namespace {

std::chrono::system_clock::time_point at(const char* iso) { return *proto::parse_timestamp(iso); }

/// Mean absolute difference per channel between two images of the same size.
double difference(const rgb_image& a, const rgb_image& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / static_cast<double>(a.pixels.size());
}

TEST(SimCamera, SnapshotIsADecodableJpegTheGatewayAccepts) {
  const auto img = render_snapshot("HY-WY-001", at("2026-11-29T02:00:00.000Z"));
  ASSERT_EQ(img.width, camera_width);
  ASSERT_EQ(img.height, camera_height);
  const std::string jpeg = encode_jpeg(img, 80);
  std::string why;
  EXPECT_TRUE(proto::is_acceptable_jpeg(jpeg, &why)) << why;
  EXPECT_LT(jpeg.size(), 64U * 1024U);  // far below the agent's default max_bytes (512 KiB)
  const auto back = decode_jpeg(jpeg);
  EXPECT_EQ(back.width, camera_width);
  EXPECT_EQ(back.height, camera_height);
  // Lossy, but close to what was drawn.
  EXPECT_LT(difference(img, back), 6.0);
}

TEST(SimCamera, TheTimeAndTheTerminalAreOnThePicture) {
  // At night (00:00 and 00:01 at UTC+8) the light is the same: one minute later only the time
  // band (bottom 40 rows) changes.
  const auto base = render_snapshot("HY-WY-001", at("2026-11-28T16:00:00.000Z"));
  const auto later = render_snapshot("HY-WY-001", at("2026-11-28T16:01:00.000Z"));
  std::size_t changed_top = 0;
  std::size_t changed_bottom = 0;
  for (int y = 0; y < camera_height; ++y) {
    for (int x = 0; x < camera_width; ++x) {
      const auto i = (static_cast<std::size_t>(y) * camera_width + static_cast<std::size_t>(x)) * 3;
      if (base.pixels[i] != later.pixels[i]) (y >= camera_height - 40 ? changed_bottom : changed_top)++;
    }
  }
  EXPECT_GT(changed_bottom, 0U);
  EXPECT_EQ(changed_top, 0U);
  // Another terminal: the id band (top 34 rows) differs.
  const auto other = render_snapshot("HY-QS-002", at("2026-11-28T16:00:00.000Z"));
  std::size_t changed_id = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(34 * camera_width * 3); ++i) {
    changed_id += base.pixels[i] != other.pixels[i] ? 1 : 0;
  }
  EXPECT_GT(changed_id, 100U);
}

TEST(SimCamera, NightIsDarkerThanNoon) {
  auto brightness = [](const rgb_image& img) {
    double s = 0;
    for (int y = 40; y < 120; ++y) {  // sky, below the text band
      for (int x = 0; x < img.width; ++x) s += img.pixels[(static_cast<std::size_t>(y) * img.width + x) * 3 + 2];
    }
    return s;
  };
  // 04:00 UTC = 12:00 at UTC+8; 16:00 UTC = midnight.
  EXPECT_GT(brightness(render_snapshot("HY-WY-001", at("2026-11-29T04:00:00.000Z"))),
            2 * brightness(render_snapshot("HY-WY-001", at("2026-11-29T16:00:00.000Z"))));
}

TEST(SimCamera, BadInputIsRefusedWithTheReason) {
  rgb_image wrong{10, 10, std::vector<std::uint8_t>(10)};
  EXPECT_THROW((void)encode_jpeg(wrong, 80), std::invalid_argument);
  const auto ok = render_snapshot("X", at("2026-11-29T04:00:00.000Z"));
  EXPECT_THROW((void)encode_jpeg(ok, 0), std::invalid_argument);
  EXPECT_THROW((void)encode_jpeg(ok, 101), std::invalid_argument);
  EXPECT_THROW((void)decode_jpeg("not a jpeg"), std::runtime_error);
  std::string truncated = encode_jpeg(ok, 80);
  truncated.resize(truncated.size() / 2);
  EXPECT_THROW((void)decode_jpeg(truncated), std::runtime_error);
}

/// The id band: the top 34 rows.
std::vector<std::uint8_t> id_band(const rgb_image& img) {
  return {img.pixels.begin(), img.pixels.begin() + 34 * img.width * 3};
}

TEST(SimCamera, UnknownCharactersAreDrawnNotSkipped) {
  // Lower case draws as upper case; characters without a glyph draw a '?', never nothing.
  const auto t = at("2026-11-29T04:00:00.000Z");
  EXPECT_EQ(id_band(render_snapshot("hy-wy-001", t)), id_band(render_snapshot("HY-WY-001", t)));
  EXPECT_NE(id_band(render_snapshot("HY_WY", t)), id_band(render_snapshot("HY WY", t)));
}

}  // namespace
}  // namespace sewage::sim
