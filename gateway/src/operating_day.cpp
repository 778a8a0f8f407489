#include "sewage/gateway/operating_day.hpp"

#include <charconv>
#include <cstdio>

namespace sewage::gateway {

std::int32_t operating_day(proto::timestamp ts, std::chrono::minutes utc_offset) noexcept {
  const auto local = ts + utc_offset;
  return static_cast<std::int32_t>(std::chrono::floor<std::chrono::days>(local).time_since_epoch().count());
}

proto::timestamp operating_day_start(std::int32_t day, std::chrono::minutes utc_offset) noexcept {
  return proto::timestamp(std::chrono::days(day)) - utc_offset;
}

std::string format_day(std::int32_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(day))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::int32_t> parse_day(std::string_view text) noexcept {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  auto num = [&](std::size_t pos, std::size_t len, auto& out) {
    const auto* b = text.data() + pos;
    const auto r = std::from_chars(b, b + len, out);
    return r.ec == std::errc() && r.ptr == b + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<std::int32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

}  // namespace sewage::gateway
