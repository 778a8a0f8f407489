// Alarm discipline: when a maintenance window is in force (alarms/windows.hpp).
#include "sewage/gateway/alarms/windows.hpp"

#include <algorithm>

namespace sewage::gateway::alarms {
namespace {

// ISO weekday (1 = Monday .. 7 = Sunday) of day number `day`.
unsigned iso_weekday(std::int32_t day) {
  return std::chrono::weekday(std::chrono::sys_days(std::chrono::days(day))).iso_encoding();
}

// The occurrence of a recurring window that starts on local day `day`, if the window has one then.
std::optional<occurrence> on_day(const maintenance_window& w, std::int32_t day, const county_zone& zone) {
  if (w.kind == recurrence::weekly && (w.weekdays & (1u << (iso_weekday(day) - 1))) == 0) return std::nullopt;
  occurrence o;
  o.start = zone.local_to_utc(day, w.local_start);
  o.end = o.start + w.duration;
  if (o.start < w.start) return std::nullopt;
  if (w.end && o.start >= *w.end) return std::nullopt;
  if (w.ended) {
    if (o.start >= *w.ended) return std::nullopt;
    o.end = std::min(o.end, *w.ended);
  }
  return o;
}

}  // namespace

std::string_view to_string(recurrence r) noexcept {
  switch (r) {
    case recurrence::once: return "once";
    case recurrence::daily: return "daily";
    case recurrence::weekly: return "weekly";
  }
  return "once";
}

std::optional<recurrence> parse_recurrence(std::string_view s) noexcept {
  for (auto r : {recurrence::once, recurrence::daily, recurrence::weekly})
    if (to_string(r) == s) return r;
  return std::nullopt;
}

std::optional<occurrence> occurrence_at(const maintenance_window& w, proto::timestamp t, const county_zone& zone) noexcept {
  if (w.kind == recurrence::once) {
    if (!w.end) return std::nullopt;
    occurrence o{w.start, *w.end};
    if (w.ended) o.end = std::min(o.end, *w.ended);
    if (o.start <= t && t < o.end) return o;
    return std::nullopt;
  }
  // An occurrence in force at t started on t's local day or on one of the days before it that
  // its duration reaches over (at most 7 days, max_recurring_duration, plus one for clock changes).
  const auto today = operating_day(t, zone);
  const auto back = static_cast<std::int32_t>(w.duration / std::chrono::days(1)) + 1;
  for (std::int32_t d = today; d >= today - back; --d) {
    const auto o = on_day(w, d, zone);
    if (o && o->start <= t && t < o->end) return o;
  }
  return std::nullopt;
}

std::optional<occurrence> next_occurrence(const maintenance_window& w, proto::timestamp t, const county_zone& zone) noexcept {
  if (const auto now = occurrence_at(w, t, zone)) return now;
  if (w.kind == recurrence::once) {
    if (!w.end) return std::nullopt;
    occurrence o{w.start, *w.end};
    if (w.ended) o.end = std::min(o.end, *w.ended);
    if (o.start > t && o.end > o.start) return o;
    return std::nullopt;
  }
  const auto first = std::max(operating_day(t, zone), operating_day(w.start, zone));
  for (std::int32_t d = first; d <= first + 8; ++d) {
    const auto o = on_day(w, d, zone);
    if (o && o->start > t && o->end > o->start) return o;
  }
  return std::nullopt;
}

std::optional<std::string> window_problem(const maintenance_window& w) {
  if (w.site_id.empty()) return "site_id: required";
  if (w.reason.empty()) return "reason: required (why the alerts of this site are suppressed)";
  if (w.kind == recurrence::once) {
    if (!w.end) return "end: required for a one-off window";
    if (*w.end <= w.start) return "end: must be after start";
    if (*w.end - w.start > max_once_duration) return "end: a one-off window lasts at most 31 days";
    return std::nullopt;
  }
  if (w.local_start < std::chrono::seconds(0) || w.local_start >= std::chrono::days(1))
    return "local_start: must be a wall time HH:MM (00:00 .. 23:59)";
  if (w.duration <= std::chrono::seconds(0) || w.duration > max_recurring_duration)
    return "duration_s: must be 1 .. 604800 (7 days)";
  if (w.kind == recurrence::weekly && (w.weekdays == 0 || w.weekdays > 0x7f))
    return "weekdays: a weekly window needs at least one ISO weekday 1 (Monday) .. 7 (Sunday)";
  if (w.end && *w.end <= w.start) return "end: must be after start";
  return std::nullopt;
}

}  // namespace sewage::gateway::alarms
