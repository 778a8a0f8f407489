#pragma once
/// \file
/// Alert state messages on `sewage/v1/alerts/{terminal}/{type}` (retained while active; an empty
/// retained payload clears the topic).

#include "sewage/proto/problem.hpp"
#include "sewage/proto/timestamp.hpp"

#include "sewage/proto/resolution.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::proto {

/// Alert types of DESIGN.md ("Alerts").
enum class alert_type {
  offline,            ///< no birth / last will or no record for too long (arrival time)
  turbidity_high,     ///< effluent turbidity above the terminal's limit
  no_flow,            ///< blockage or pump failure
  flow_high,          ///< over design capacity
  cleanout_required,  ///< sludge level reached clean-out level
  sensor_fault,       ///< fault status, out of range, stale or stuck value
  queue_overflow,     ///< the agent dropped records from a full queue
  clock_skew,         ///< the agent's clock disagrees with the gateway's
  power_without_flow, ///< a pump draws power but no effluent flows (runs dry, outlet blocked)
  flow_without_power, ///< effluent flows but the meter sees no power (meter/supply fault, bypass)
  // Pump stations (issue 13 item 2; raised only for sites of kind pump_station):
  pump_fault,            ///< a pump's fault input (thermal or overload trip) is active
  wet_well_high,         ///< wet-well level above the high level: overflow risk
  wet_well_low,          ///< wet-well level below the low level: dry-run risk, or inflow lost
  pump_no_level_drop,    ///< a pump runs but the level does not fall (blocked main, worn or air-locked pump)
  power_lost,            ///< the station's mains supply is gone
  pump_runtime_abnormal, ///< run hours of the last 24 h far from the station's own recent normal
  // Learned normal per site (issue 14 item 1):
  low_flow,  ///< flow over the last window far below what these hours normally bring at this site
  // Clean-out forecast (issue 14 item 3):
  cleanout_due_soon,  ///< notice: the sludge trend reaches the clean-out level within the configured days
};

/// Every alert type, in declaration order.
inline constexpr std::array<alert_type, 18> all_alert_types{
    alert_type::offline,           alert_type::turbidity_high, alert_type::no_flow,
    alert_type::flow_high,         alert_type::cleanout_required, alert_type::sensor_fault,
    alert_type::queue_overflow,    alert_type::clock_skew,     alert_type::power_without_flow,
    alert_type::flow_without_power, alert_type::pump_fault,    alert_type::wet_well_high,
    alert_type::wet_well_low,      alert_type::pump_no_level_drop, alert_type::power_lost,
    alert_type::pump_runtime_abnormal, alert_type::low_flow, alert_type::cleanout_due_soon};

/// Wire name, e.g. "turbidity_high". Never throws.
std::string_view to_string(alert_type type) noexcept;
/// The unit of an alert's `value` and `threshold`, which sets their resolution (resolution.hpp):
/// turbidity_high NTU, no_flow and flow_high m3/h, cleanout_required m, offline and clock_skew s,
/// sensor_fault and queue_overflow counts, power_without_flow and flow_without_power kW; pump_fault
/// count (faulted pumps), wet_well_high/wet_well_low m (level), pump_no_level_drop m (level change
/// over the run), power_lost s (time without mains), pump_runtime_abnormal h (run hours); low_flow
/// m3/h (the window's mean flow; threshold: the site's normal for those hours); cleanout_due_soon m
/// (the sludge trend's level today; threshold: the clean-out level). Never throws.
unit value_unit(alert_type type) noexcept;
/// Inverse of to_string; std::nullopt for an unknown name. Never throws.
std::optional<alert_type> parse_alert_type(std::string_view name) noexcept;

/// Lifecycle state of one alert episode.
enum class alert_state { raised, acknowledged, cleared };
std::string_view to_string(alert_state state) noexcept;
std::optional<alert_state> parse_alert_state(std::string_view name) noexcept;

/// One alert episode as published by the gateway.
struct alert_message {
  std::string terminal_id;
  alert_type type{alert_type::offline};
  alert_state state{alert_state::raised};
  std::uint64_t alert_id{0};          ///< gateway-wide episode id, > 0
  timestamp raised_at{};
  std::optional<timestamp> acked_at;  ///< required when acknowledged
  std::optional<std::string> acked_by;
  std::optional<std::string> ack_note;
  std::optional<timestamp> cleared_at;  ///< required when cleared
  std::optional<double> value;          ///< the observed value that triggered the rule, if any
  std::optional<double> threshold;      ///< the raise level of the rule, if any
  std::string message;                  ///< one human-readable sentence

  friend bool operator==(const alert_message&, const alert_message&) = default;
};

/// Encodes as a JSON object; optional fields that are empty are omitted. Does not validate.
/// Never throws except bad_alloc.
std::string encode(const alert_message& m);

/// Decodes and validates an alert payload (strict, see payload.hpp). `topic_terminal_id` and
/// `topic_type`, when given, must match the payload. Never throws except bad_alloc. Thread-safe.
decoded<alert_message> decode_alert(std::string_view payload,
                                    std::optional<std::string_view> topic_terminal_id = std::nullopt,
                                    std::optional<alert_type> topic_type = std::nullopt);

}  // namespace sewage::proto
