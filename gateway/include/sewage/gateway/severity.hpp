#pragma once
/// \file
/// How urgent an alert is and which single display class a terminal is in: the gateway's own
/// judgement for operators (map colours and shapes, list order), NOT part of the wire contract
/// (alert messages on MQTT carry no severity). Documented in gateway/README.md ("Severity and
/// state class").

#include <sewage/proto/alert.hpp>

#include <optional>
#include <string_view>

namespace sewage::gateway {

/// Alert severity, in increasing urgency (so std::max picks the most urgent).
enum class severity { info = 0, warning = 1, critical = 2 };

/// "info", "warning", "critical". Never throws.
std::string_view to_string(severity s) noexcept;

/// Severity of an alert type. critical: the effluent may be out of compliance or nothing is known
/// any more (turbidity_high, no_flow, offline); warning: the terminal needs a visit but the
/// effluent is not known to be bad (flow_high, cleanout_required, sensor_fault, queue_overflow);
/// info: a data-quality matter (clock_skew). Source: issue 10 contract, agreed with operations.
/// Never throws.
severity alert_severity(proto::alert_type type) noexcept;

/// The one class a terminal is shown in, in precedence order (the first that applies wins).
enum class state_class { offline, alert_critical, alert_warning, alert_info, stale, unknown, normal };

/// "offline", "alert_critical", "alert_warning", "alert_info", "stale", "unknown", "normal".
std::string_view to_string(state_class c) noexcept;
/// Parses the names above; std::nullopt otherwise. Never throws.
std::optional<state_class> parse_state_class(std::string_view s) noexcept;

/// The facts state_class is judged from.
struct terminal_condition {
  bool offline{false};                 ///< an offline episode is open (engine::presence::offline)
  std::optional<severity> worst_open;  ///< the most severe open alert, if any
  bool stale{false};                   ///< its latest live record is older than 2 x its report interval
  bool unknown{false};                 ///< engine::presence::unknown (never reported, or judgement waits)
};

/// offline > alert_critical > alert_warning > alert_info > stale > unknown > normal. An offline
/// terminal is `offline` even though its offline alert is critical; a terminal that is both stale
/// and unknown (silent past its limit while offline judgement waits) is `stale`. Never throws.
state_class classify(const terminal_condition& c) noexcept;

/// Sort rank for the "attention" order of /api/terminals: offline 0, alert_critical 1,
/// alert_warning 2, alert_info 3, stale and unknown 4, normal 5 (smaller first). Never throws.
int attention_rank(state_class c) noexcept;

}  // namespace sewage::gateway
