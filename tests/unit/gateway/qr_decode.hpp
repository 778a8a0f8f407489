#pragma once
// Test helper: renders the gateway's QR SVG (om/qr.hpp: a white square and one path of
// "M x y h w v h h -w z" rectangles) into a grey image and decodes it with ZXing (libzxing-dev 1.4).
#define ZX_USE_UTF8 1  // ZXing 1.4: Result::text() as UTF-8 std::string
#include <ZXing/ReadBarcode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace sewage::gateway::test {

/// The value of the attribute that starts with `key` (e.g. `viewBox="`), up to its closing quote;
/// empty with a test failure when absent. (No std::regex: GCC 12 with ASan and -Werror trips on it.)
inline std::string svg_attribute(const std::string& svg, const std::string& key) {
  const auto at = svg.find(key);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << key << " in the SVG";
    return {};
  }
  const auto from = at + key.size();
  const auto end = svg.find('"', from);
  return svg.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

/// Renders our SVG (a white square and one path of "M x y h w v h h -w z" rectangles, absolute M,
/// relative h/v) into an 8-bit grey image, `scale` pixels per user unit.
inline std::vector<std::uint8_t> render_svg(const std::string& svg, int& side) {
  std::istringstream box(svg_attribute(svg, "viewBox=\""));
  int x0 = -1, y0 = -1, height = 0;
  side = 0;
  box >> x0 >> y0 >> side >> height;
  EXPECT_TRUE(x0 == 0 && y0 == 0 && side > 0 && height == side) << "viewBox of the SVG";
  if (side <= 0) side = 1;
  std::vector<std::uint8_t> img(static_cast<std::size_t>(side * side), 255);
  const std::string d = svg_attribute(svg, " d=\"");
  std::size_t i = 0;
  int x = 0, y = 0, sx = 0, sy = 0, minx = 0, maxx = 0, miny = 0, maxy = 0;
  const auto number = [&] {
    std::size_t used = 0;
    const int v = std::stoi(d.substr(i), &used);
    i += used;
    while (i < d.size() && d[i] == ' ') ++i;
    return v;
  };
  while (i < d.size()) {
    const char cmd = d[i++];
    if (cmd == 'M') {
      x = sx = minx = maxx = number();
      y = sy = miny = maxy = number();
    } else if (cmd == 'h') {
      x += number();
    } else if (cmd == 'v') {
      y += number();
    } else if (cmd == 'z') {
      for (int yy = miny; yy < maxy; ++yy)
        for (int xx = minx; xx < maxx; ++xx) img[static_cast<std::size_t>(yy * side + xx)] = 0;
      x = sx;
      y = sy;
      continue;
    } else {
      ADD_FAILURE() << "unexpected path command " << cmd;
      break;
    }
    minx = std::min(minx, x), maxx = std::max(maxx, x), miny = std::min(miny, y), maxy = std::max(maxy, y);
  }
  return img;
}

inline std::string decode_qr_svg(const std::string& svg) {
  int side = 0;
  const auto img = render_svg(svg, side);
  const auto r = ZXing::ReadBarcode(ZXing::ImageView(img.data(), side, side, ZXing::ImageFormat::Lum),
                                    ZXing::DecodeHints().setFormats(ZXing::BarcodeFormat::QRCode));
  EXPECT_TRUE(r.isValid());
  return r.text();
}

}  // namespace sewage::gateway::test
