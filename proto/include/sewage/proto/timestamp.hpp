#pragma once
/// \file
/// UTC timestamps on the wire: ISO 8601, e.g. "2026-11-29T08:15:00Z" or "2026-11-29T08:15:00.250Z".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::proto {

/// A UTC instant with millisecond resolution.
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// Formats `ts` as ISO 8601 UTC: "YYYY-MM-DDTHH:MM:SSZ" when the milliseconds are zero,
/// "YYYY-MM-DDTHH:MM:SS.mmmZ" otherwise. Years outside 0000-9999 are clamped into that range.
/// Never throws except std::bad_alloc. Thread-safe.
std::string format_timestamp(timestamp ts);

/// Parses an ISO 8601 UTC date-time: "YYYY-MM-DDTHH:MM:SS", an optional fraction of 1-9 digits
/// (truncated to milliseconds), then "Z" or "+00:00". Lower-case "t"/"z" are refused; so are local
/// offsets, leap seconds (":60"), impossible dates (Feb 30) and years before 1970.
/// Returns std::nullopt on any deviation. Never throws. Thread-safe.
std::optional<timestamp> parse_timestamp(std::string_view text) noexcept;

}  // namespace sewage::proto
