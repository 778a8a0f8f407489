#include "sewage/gateway/severity.hpp"

namespace sewage::gateway {

std::string_view to_string(severity s) noexcept {
  switch (s) {
    case severity::info: return "info";
    case severity::warning: return "warning";
    case severity::critical: return "critical";
  }
  return "info";
}

severity alert_severity(proto::alert_type type) noexcept {
  switch (type) {
    case proto::alert_type::turbidity_high:
    case proto::alert_type::no_flow:
    case proto::alert_type::offline: return severity::critical;
    case proto::alert_type::flow_high:
    case proto::alert_type::cleanout_required:
    case proto::alert_type::sensor_fault:
    case proto::alert_type::queue_overflow: return severity::warning;
    case proto::alert_type::clock_skew: return severity::info;
    case proto::alert_type::power_without_flow:
    case proto::alert_type::flow_without_power: return severity::warning;
    // Pump stations (issue 13): a stopped or unpowered station overflows its wet well within hours.
    case proto::alert_type::pump_fault:
    case proto::alert_type::power_lost:
    case proto::alert_type::wet_well_high: return severity::critical;
    case proto::alert_type::wet_well_low:
    case proto::alert_type::pump_no_level_drop: return severity::warning;
    case proto::alert_type::pump_runtime_abnormal: return severity::info;
    // Issue 14: far less flow than this hour normally brings: a blockage or burst upstream, not yet
    // an overflow (no_flow, the total loss, stays critical).
    case proto::alert_type::low_flow: return severity::warning;
    // Issue 14 item 3: a date to plan a suction tanker for, not a fault.
    case proto::alert_type::cleanout_due_soon: return severity::info;
  }
  return severity::warning;  // a type added later without a decision: shown, not ignored
}

std::string_view to_string(state_class c) noexcept {
  switch (c) {
    case state_class::offline: return "offline";
    case state_class::alert_critical: return "alert_critical";
    case state_class::alert_warning: return "alert_warning";
    case state_class::alert_info: return "alert_info";
    case state_class::stale: return "stale";
    case state_class::unknown: return "unknown";
    case state_class::normal: return "normal";
  }
  return "unknown";
}

std::optional<state_class> parse_state_class(std::string_view s) noexcept {
  for (const auto c : {state_class::offline, state_class::alert_critical, state_class::alert_warning,
                       state_class::alert_info, state_class::stale, state_class::unknown, state_class::normal})
    if (to_string(c) == s) return c;
  return std::nullopt;
}

state_class classify(const terminal_condition& c) noexcept {
  if (c.offline) return state_class::offline;
  if (c.worst_open) {
    switch (*c.worst_open) {
      case severity::critical: return state_class::alert_critical;
      case severity::warning: return state_class::alert_warning;
      case severity::info: return state_class::alert_info;
    }
  }
  if (c.stale) return state_class::stale;
  if (c.unknown) return state_class::unknown;
  return state_class::normal;
}

int attention_rank(state_class c) noexcept {
  switch (c) {
    case state_class::offline: return 0;
    case state_class::alert_critical: return 1;
    case state_class::alert_warning: return 2;
    case state_class::alert_info: return 3;
    case state_class::stale:
    case state_class::unknown: return 4;
    case state_class::normal: return 5;
  }
  return 5;
}

}  // namespace sewage::gateway
