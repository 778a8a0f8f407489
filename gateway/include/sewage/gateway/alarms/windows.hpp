#pragma once
/// \file
/// Alarm discipline (issue 12 item 6): maintenance windows of a site and when they are in force.
/// Pure functions, no I/O; thread-safe. gateway/README.md "Alarm discipline" explains the rules.
///
/// A window is planned work at a site during which its alerts are suppressed: kept and shown as
/// suppressed with the window, never notified, not counted as needing acknowledgement, never
/// opening work orders (alarms::discipline). It is either
/// - `once`: from `start` to `end` (UTC instants), or
/// - `daily` / `weekly`: every local day (weekly: on the ISO weekdays of `weekdays`) at wall time
///   `local_start` in the county's time zone (county.time_zone, daylight saving included) for
///   `duration` (an absolute length: a window over a clock change still lasts `duration`); only
///   occurrences starting at or after `start` and, when `end` is set, before `end` count. A wall
///   time a clock change skips starts at the transition (county_zone::local_to_utc).
/// Ending a window early (`ended`) cuts an occurrence in progress at that instant and ends the
/// series: no occurrence starts at or after it.

#include "sewage/gateway/operating_day.hpp"

#include <sewage/proto/timestamp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::gateway::alarms {

enum class recurrence { once, daily, weekly };
/// "once", "daily", "weekly". Never throws.
std::string_view to_string(recurrence r) noexcept;
/// Inverse of to_string; std::nullopt for another name. Never throws.
std::optional<recurrence> parse_recurrence(std::string_view s) noexcept;

/// The longest occurrence of a recurring window, and the longest one-off window (source: our
/// choice — planned maintenance of a rural terminal takes hours to days; a longer silence is an
/// outage to be seen, not suppressed).
inline constexpr std::chrono::seconds max_recurring_duration{std::chrono::days(7)};
inline constexpr std::chrono::seconds max_once_duration{std::chrono::days(31)};

struct maintenance_window {
  std::int64_t id{0};
  std::string site_id;
  recurrence kind{recurrence::once};
  proto::timestamp start{};                ///< once: the start; recurring: occurrences from here on
  std::optional<proto::timestamp> end;     ///< once: the end (required); recurring: until (optional)
  std::chrono::seconds local_start{0};     ///< recurring: wall time after local midnight, [0, 24 h)
  /// weekly: bit (d - 1) set for ISO weekday d (1 = Monday .. 7 = Sunday); daily: unused.
  std::uint8_t weekdays{0};
  std::chrono::seconds duration{0};        ///< recurring: length of each occurrence (> 0)
  std::string reason;
  std::string created_by;
  proto::timestamp created{};
  std::optional<proto::timestamp> ended;   ///< ended early at
  std::string ended_by;
};

/// One stretch of time a window is in force: [start, end).
struct occurrence {
  proto::timestamp start{};
  proto::timestamp end{};
  friend bool operator==(const occurrence&, const occurrence&) = default;
};

/// The occurrence of `w` in force at `t` in `zone` (start <= t < end), if any. Never throws.
std::optional<occurrence> occurrence_at(const maintenance_window& w, proto::timestamp t, const county_zone& zone) noexcept;

/// The first occurrence of `w` that ends after `t` (the one in force at `t`, else the next one
/// within 8 days for a recurring window), if any. Never throws.
std::optional<occurrence> next_occurrence(const maintenance_window& w, proto::timestamp t, const county_zone& zone) noexcept;

/// Why `w` is not a valid window (naming the field: "end: must be after start"), or std::nullopt.
/// Never throws except bad_alloc.
std::optional<std::string> window_problem(const maintenance_window& w);

}  // namespace sewage::gateway::alarms
