#pragma once
/// \file
/// The county's operating day: a calendar day in the county's time zone. The zone is a fixed UTC
/// offset (g++ 12 has no chrono tzdb); Asia/Shanghai is UTC+8 without DST since 1991, so a day runs
/// from 16:00 UTC to 16:00 UTC the next day.

#include <sewage/proto/timestamp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::gateway {

/// Days since 1970-01-01 of the local calendar date of `ts` at `utc_offset`. Never throws.
std::int32_t operating_day(proto::timestamp ts, std::chrono::minutes utc_offset) noexcept;

/// UTC instant at which local day `day` starts. Never throws.
proto::timestamp operating_day_start(std::int32_t day, std::chrono::minutes utc_offset) noexcept;

/// "YYYY-MM-DD" of a day number. Never throws except bad_alloc.
std::string format_day(std::int32_t day);

/// Parses "YYYY-MM-DD" (a real calendar date) into a day number; std::nullopt otherwise.
std::optional<std::int32_t> parse_day(std::string_view text) noexcept;

}  // namespace sewage::gateway
