#include "sewage/gateway/operating_day.hpp"

// The only translation unit that includes the date library (see the note in operating_day.hpp).
#include <date/tz.h>

#include <array>
#include <charconv>
#include <cstdio>

namespace sewage::gateway {
namespace {

// Asia/Shanghai: UTC+8, no daylight saving since 1991 (IANA tzdata, zone Asia/Shanghai).
constexpr std::chrono::minutes shanghai_offset{480};

const date::time_zone* find_zone(std::string_view name) noexcept {
  try {
    const auto* tz = date::locate_zone(name);
    // Loads the zone's file now (it is read lazily), so a damaged file is found here and later
    // lookups cannot fail.
    (void)tz->get_info(date::sys_seconds{});
    return tz;
  } catch (const std::exception&) {
    return nullptr;  // unknown name, or no readable database
  }
}

}  // namespace

county_zone::county_zone() noexcept : tz_(find_zone("Asia/Shanghai")) {}

std::optional<county_zone> county_zone::locate(std::string_view name) {
  if (name.empty()) return std::nullopt;
  const auto* tz = find_zone(name);
  if (tz == nullptr) return std::nullopt;
  return county_zone(tz);
}

std::string county_zone::name() const { return tz_ != nullptr ? tz_->name() : std::string("Asia/Shanghai"); }

// A zone lookup in the date library costs ~0.5 us; a record needs several. The offset is constant
// between two transitions (for Asia/Shanghai since 1991), so each thread remembers the last
// interval it looked up, and the last few day starts. Exact: only the library's answers are reused.
namespace {
struct offset_cache {
  const date::time_zone* tz{nullptr};
  date::sys_seconds begin{}, end{};
  std::chrono::minutes offset{};
};
struct midnight_cache {
  const date::time_zone* tz{nullptr};
  std::int32_t day{0};
  proto::timestamp start{};
};
thread_local offset_cache last_offset;
thread_local std::array<midnight_cache, 8> last_midnights;
}  // namespace

std::chrono::minutes county_zone::offset_at(proto::timestamp ts) const noexcept {
  if (tz_ == nullptr) return shanghai_offset;
  const date::sys_seconds s{std::chrono::floor<std::chrono::seconds>(ts.time_since_epoch())};
  auto& c = last_offset;
  if (c.tz == tz_ && s >= c.begin && s < c.end) return c.offset;
  try {
    const auto info = tz_->get_info(s);
    c = {tz_, info.begin, info.end, std::chrono::duration_cast<std::chrono::minutes>(info.offset)};
    return c.offset;
  } catch (const std::exception&) {
    return shanghai_offset;  // not reached: the zone's data were loaded by locate()
  }
}

proto::timestamp county_zone::local_midnight(std::int32_t day) const noexcept {
  const proto::timestamp naive{std::chrono::days(day)};
  if (tz_ != nullptr) {
    auto& c = last_midnights[static_cast<std::uint32_t>(day) % last_midnights.size()];
    if (c.tz == tz_ && c.day == day) return c.start;
    try {
      // choose::earliest: an ambiguous midnight (clocks set back over it) is its first occurrence;
      // a skipped one (clocks jumped over it) gives the transition instant, the day's first.
      const auto t = tz_->to_sys(date::local_days{date::days{day}}, date::choose::earliest);
      c = {tz_, day, proto::timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()))};
      return c.start;
    } catch (const std::exception&) {
      // not reached: the zone's data were loaded by locate()
    }
  }
  return naive - shanghai_offset;
}

proto::timestamp county_zone::local_to_utc(std::int32_t day, std::chrono::seconds since_midnight) const noexcept {
  const auto naive = proto::timestamp{std::chrono::days(day)} + since_midnight;
  if (tz_ != nullptr) {
    try {
      // choose::earliest: an ambiguous time is its first occurrence; a skipped one gives the
      // transition instant (both choices agree there).
      const auto t = tz_->to_sys(date::local_seconds{date::days{day}} + since_midnight, date::choose::earliest);
      return proto::timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()));
    } catch (const std::exception&) {
      // not reached: the zone's data were loaded by locate()
    }
  }
  return naive - shanghai_offset;
}

std::int32_t operating_day(proto::timestamp ts, const county_zone& zone) noexcept {
  const auto local = ts + zone.offset_at(ts);
  return static_cast<std::int32_t>(std::chrono::floor<std::chrono::days>(local).time_since_epoch().count());
}

proto::timestamp operating_day_start(std::int32_t day, const county_zone& zone) noexcept {
  return zone.local_midnight(day);
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
