#pragma once
/// \file
/// The county's operating day: a calendar day in the county's time zone (an IANA name such as
/// "Asia/Shanghai"), daylight saving included, so a day is 23, 24 or 25 hours long. Zone rules
/// come from the system time-zone database (Debian's `tzdata`, /usr/share/zoneinfo) read through
/// Howard Hinnant's date library (libhowardhinnant-date-dev, built with USE_OS_TZDB).
///
/// Limit of that library version (3.0.1): it uses the explicit transitions of the zoneinfo files,
/// which Debian writes up to 2037; after the last one the last offset stays in force.
///
/// Only this header's implementation includes <date/tz.h>: that header's operator<< for
/// std::chrono::duration is ambiguous with libstdc++ 12's in C++20, so it must not spread.

#include <sewage/proto/timestamp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace sewage::gateway {

/// A time zone of the system database. A small value type (a pointer into the process-wide
/// database, which lives until exit); copying and every const member are thread-safe.
class county_zone {
 public:
  /// The default zone, Asia/Shanghai. When the system database lacks it (no `tzdata` installed)
  /// the zone falls back to its fixed offset UTC+8, which is exact for Asia/Shanghai since 1991;
  /// load_config() refuses that situation, so the fallback only serves programmatic configs.
  county_zone() noexcept;

  /// Looks up an IANA zone name ("Europe/Berlin", "UTC", "Etc/GMT-8"). std::nullopt when the name
  /// is not in the system database (or the database cannot be read). Never throws except bad_alloc.
  static std::optional<county_zone> locate(std::string_view name);

  /// The zone's IANA name.
  [[nodiscard]] std::string name() const;

  /// UTC offset in force at `ts` (standard + daylight saving). Never throws.
  [[nodiscard]] std::chrono::minutes offset_at(proto::timestamp ts) const noexcept;

  /// UTC instant of the start of local calendar day `day` (days since 1970-01-01): local
  /// midnight, or where the clocks jump over midnight, the transition instant. Never throws.
  [[nodiscard]] proto::timestamp local_midnight(std::int32_t day) const noexcept;

  /// UTC instant of local wall time `since_midnight` (0 .. 24 h) on local calendar day `day`
  /// (issue 12: recurring maintenance windows). A wall time skipped by a daylight-saving jump
  /// gives the transition instant (02:30 on a spring-forward night starts at 03:00 local); one
  /// that occurs twice gives its first occurrence. Never throws.
  [[nodiscard]] proto::timestamp local_to_utc(std::int32_t day, std::chrono::seconds since_midnight) const noexcept;

  friend bool operator==(const county_zone& a, const county_zone& b) noexcept { return a.tz_ == b.tz_; }

 private:
  explicit county_zone(const date::time_zone* tz) noexcept : tz_(tz) {}
  const date::time_zone* tz_{nullptr};  ///< nullptr: the fixed UTC+8 fallback (see default ctor)
};

/// Days since 1970-01-01 of the local calendar date of `ts` in `zone`. Never throws.
std::int32_t operating_day(proto::timestamp ts, const county_zone& zone) noexcept;

/// UTC instant at which local day `day` starts in `zone` (local midnight; where a zone skips
/// midnight, the first local instant of that day). Never throws.
proto::timestamp operating_day_start(std::int32_t day, const county_zone& zone) noexcept;

/// "YYYY-MM-DD" of a day number. Never throws except bad_alloc.
std::string format_day(std::int32_t day);

/// Parses "YYYY-MM-DD" (a real calendar date) into a day number; std::nullopt otherwise.
std::optional<std::int32_t> parse_day(std::string_view text) noexcept;

}  // namespace sewage::gateway
