#include "sewage/proto/resolution.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

namespace sewage::proto {

std::string_view symbol(unit u) noexcept {
  switch (u) {
    case unit::m3: return "m3";
    case unit::m3_per_h: return "m3/h";
    case unit::ntu: return "NTU";
    case unit::m: return "m";
    case unit::seconds: return "s";
    case unit::ratio: return "ratio";
    case unit::count: return "count";
    case unit::kwh: return "kWh";
    case unit::kw: return "kW";
    case unit::ampere: return "A";
    case unit::kwh_per_m3: return "kWh/m3";
    case unit::hours: return "h";
  }
  return "?";
}

double round_to_decimals(double v, int places) noexcept {
  if (!std::isfinite(v) || std::fabs(v) >= 1e15) return v;
  if (places < 0) places = 0;
  if (places > 9) places = 9;
  // 1e15 with 9 decimals and a sign: at most 26 characters.
  char buf[64];
  const auto w = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, places);
  if (w.ec != std::errc()) return v;
  double out = v;
  const auto r = std::from_chars(buf, w.ptr, out);
  if (r.ec != std::errc()) return v;
  return out == 0.0 ? 0.0 : out;  // no "-0.0" in the output
}

double widen_float32(float f) noexcept {
  if (!std::isfinite(f)) return static_cast<double>(f);
  char buf[64];
  const auto w = std::to_chars(buf, buf + sizeof buf, f);  // shortest form that reads back as f
  double out = static_cast<double>(f);
  if (w.ec != std::errc()) return out;
  (void)std::from_chars(buf, w.ptr, out);
  return out;
}

}  // namespace sewage::proto
