#include "sewage/sim/camera.hpp"

#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numbers>
#include <stdexcept>

namespace sewage::sim {

namespace {

struct rgb {
  std::uint8_t r, g, b;
};

/// 5x7 pixel glyphs, one byte per row (bit 4 = leftmost column), in the classic HD44780 shapes.
struct glyph {
  char c;
  std::array<std::uint8_t, 7> rows;
};
constexpr std::array<glyph, 42> font{{
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}}, {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
}};
constexpr std::array<std::uint8_t, 7> unknown_glyph{0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04};

const std::array<std::uint8_t, 7>& glyph_rows(char c) {
  const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& g : font) {
    if (g.c == u) return g.rows;
  }
  return unknown_glyph;
}

class canvas {
 public:
  explicit canvas(rgb_image& img) : img_(img) {}

  void pixel(int x, int y, rgb c) {
    if (x < 0 || y < 0 || x >= img_.width || y >= img_.height) return;
    auto* p = &img_.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(img_.width) +
                            static_cast<std::size_t>(x)) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }

  void rect(int x0, int y0, int x1, int y1, rgb c) {
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) pixel(x, y, c);
    }
  }

  /// Darkens a band so text on it stays readable on any background.
  void shade(int y0, int y1) {
    for (int y = std::max(0, y0); y < std::min(img_.height, y1); ++y) {
      for (int x = 0; x < img_.width; ++x) {
        auto* p = &img_.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(img_.width) +
                                static_cast<std::size_t>(x)) * 3];
        for (int k = 0; k < 3; ++k) p[k] = static_cast<std::uint8_t>(p[k] / 3);
      }
    }
  }

  /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale`.
  void text(int x, int y, const std::string& s, int scale, rgb c) {
    for (const char ch : s) {
      const auto& rows = glyph_rows(ch);
      for (int row = 0; row < 7; ++row) {
        for (int col = 0; col < 5; ++col) {
          if ((rows[static_cast<std::size_t>(row)] >> (4 - col)) & 1) {
            rect(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, c);
          }
        }
      }
      x += 6 * scale;
    }
  }

 private:
  rgb_image& img_;
};

std::uint8_t mix(std::uint8_t a, std::uint8_t b, double t) {
  return static_cast<std::uint8_t>(std::lround(a + (b - a) * std::clamp(t, 0.0, 1.0)));
}

rgb mix(rgb a, rgb b, double t) { return {mix(a.r, b.r, t), mix(a.g, b.g, t), mix(a.b, b.b, t)}; }

using tj_ptr = std::unique_ptr<void, int (*)(tjhandle)>;

}  // namespace

rgb_image render_snapshot(const std::string& terminal_id, std::chrono::system_clock::time_point t) {
  rgb_image img{camera_width, camera_height,
                std::vector<std::uint8_t>(static_cast<std::size_t>(camera_width * camera_height * 3))};
  canvas cv(img);
  // Local time at UTC+8: the county's zone (see county.cpp, operating_day_offset).
  const auto local = std::chrono::floor<std::chrono::minutes>(t + std::chrono::hours(8));
  const auto day = std::chrono::floor<std::chrono::days>(local);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{local - day};
  const double hour = static_cast<double>(hms.hours().count()) + hms.minutes().count() / 60.0;
  // Daylight from 06:00 to 18:00, brightest at noon.
  const double daylight = std::max(0.0, std::sin((hour - 6.0) / 12.0 * std::numbers::pi));
  const rgb sky_night{18, 22, 52};
  const rgb sky_day{120, 172, 230};
  const int horizon = 130;
  for (int y = 0; y < horizon; ++y) {
    cv.rect(0, y, camera_width, y + 1, mix(mix(sky_night, sky_day, daylight), rgb{230, 235, 240}, y / 400.0 * daylight));
  }
  const double lit = 0.35 + 0.65 * daylight;
  auto dim = [lit](rgb c) { return mix(rgb{0, 0, 0}, c, lit); };
  // Terminals differ a little: a hill and a tank position from the id.
  const std::size_t h = std::hash<std::string>{}(terminal_id);
  const int hill_x = 40 + static_cast<int>(h % 200);
  for (int x = 0; x < camera_width; ++x) {
    const double dx = (x - hill_x) / 70.0;
    const int top = horizon - static_cast<int>(28.0 * std::exp(-dx * dx));
    cv.rect(x, top, x + 1, horizon, dim(rgb{64, 104, 70}));
  }
  cv.rect(0, horizon, camera_width, camera_height, dim(rgb{88, 128, 56}));
  // The treatment tank (concrete, buried to half its height) with its inspection covers.
  const int tank_x = 30 + static_cast<int>((h >> 8) % 40);
  cv.rect(tank_x, 150, tank_x + 170, 200, dim(rgb{158, 156, 150}));
  cv.rect(tank_x, 150, tank_x + 170, 154, dim(rgb{120, 118, 112}));
  for (int k = 0; k < 3; ++k) cv.rect(tank_x + 20 + k * 50, 140, tank_x + 50 + k * 50, 150, dim(rgb{70, 70, 72}));
  // The control cabinet with its status light.
  cv.rect(240, 120, 290, 200, dim(rgb{222, 222, 214}));
  cv.rect(244, 124, 286, 196, dim(rgb{200, 200, 192}));
  cv.rect(275, 130, 281, 136, rgb{40, 220, 60});
  // Text: the terminal id, the simulated local time, and what this is.
  cv.shade(0, 34);
  cv.text(8, 6, terminal_id, 3, rgb{255, 255, 255});
  char when[40];
  std::snprintf(when, sizeof when, "%04d-%02u-%02u %02d:%02d UTC+8", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()));
  cv.shade(camera_height - 40, camera_height);
  cv.text(8, camera_height - 36, when, 2, rgb{255, 255, 255});
  cv.text(8, camera_height - 15, "SIMULATED CAMERA", 1, rgb{255, 200, 60});
  return img;
}

std::string encode_jpeg(const rgb_image& image, int quality) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3) {
    throw std::invalid_argument("encode_jpeg: pixels do not match width x height x 3");
  }
  if (quality < 1 || quality > 100) throw std::invalid_argument("encode_jpeg: quality must be 1..100");
  const tj_ptr tj(tjInitCompress(), tjDestroy);
  if (!tj) throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(nullptr));
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj.get(), image.pixels.data(), image.width, image.width * 3, image.height,
                             TJPF_RGB, &out, &size, TJSAMP_420, quality, 0);
  const std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(out, tjFree);
  if (rc != 0) throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj.get()));
  return std::string(reinterpret_cast<const char*>(out), size);
}

rgb_image decode_jpeg(const std::string& jpeg) {
  const tj_ptr tj(tjInitDecompress(), tjDestroy);
  if (!tj) throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(nullptr));
  const auto* data = reinterpret_cast<const unsigned char*>(jpeg.data());
  int w = 0;
  int h = 0;
  int subsamp = 0;
  int colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, jpeg.size(), &w, &h, &subsamp, &colorspace) != 0) {
    throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj.get()));
  }
  rgb_image img{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3)};
  if (tjDecompress2(tj.get(), data, jpeg.size(), img.pixels.data(), w, w * 3, h, TJPF_RGB, 0) != 0) {
    throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj.get()));
  }
  return img;
}

}  // namespace sewage::sim
