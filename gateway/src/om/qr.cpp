// Site QR codes (om/qr.hpp): libqrencode's module matrix written as one SVG path.
#include "sewage/gateway/om/qr.hpp"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <stdexcept>

namespace sewage::gateway::om {

namespace {

/// ISO/IEC 18004: the quiet zone around a QR code is 4 modules wide.
constexpr int quiet_modules = 4;

void percent_encode(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
                            u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
}

}  // namespace

std::string checkin_url(std::string_view public_url, std::string_view site_id, std::string_view token) {
  while (!public_url.empty() && public_url.back() == '/') public_url.remove_suffix(1);
  std::string out(public_url);
  out += "/#/checkin?site=";
  percent_encode(out, site_id);
  out += "&t=";
  percent_encode(out, token);
  return out;
}

std::string qr_svg(std::string_view text, unsigned module_px) {
  if (text.empty()) throw std::invalid_argument("QR text must not be empty");
  if (module_px == 0 || module_px > 64) throw std::invalid_argument("QR module size must be 1..64");
  const std::string data(text);
  errno = 0;
  // Version 0 = the smallest that fits; case-sensitive 8-bit data (the URL holds lower case).
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(QRcode_encodeString8bit(data.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (!code) {
    if (errno == ERANGE) throw std::invalid_argument("QR text too long for a QR code (" + std::to_string(text.size()) + " bytes)");
    throw std::runtime_error("libqrencode failed to encode the QR text");
  }
  const int w = code->width;
  const int side = (w + 2 * quiet_modules) * static_cast<int>(module_px);
  std::string svg;
  svg.reserve(static_cast<std::size_t>(w * w) * 12 + 300);
  svg += R"(<?xml version="1.0" encoding="UTF-8"?>)";
  svg += "\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 " + std::to_string(side) + " " +
         std::to_string(side) + "\" width=\"" + std::to_string(side) + "\" height=\"" + std::to_string(side) +
         "\" shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"";
  // One "M x y h n v 1 h -n z" run per horizontal run of dark modules (bit 0 of each byte).
  const auto px = static_cast<int>(module_px);
  for (int y = 0; y < w; ++y) {
    int x = 0;
    while (x < w) {
      if ((code->data[y * w + x] & 1) == 0) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < w && (code->data[y * w + x + run] & 1) != 0) ++run;
      svg += "M" + std::to_string((x + quiet_modules) * px) + " " + std::to_string((y + quiet_modules) * px) + "h" +
             std::to_string(run * px) + "v" + std::to_string(px) + "h-" + std::to_string(run * px) + "z";
      x += run;
    }
  }
  svg += "\"/>\n</svg>\n";
  return svg;
}

}  // namespace sewage::gateway::om
