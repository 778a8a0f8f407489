#pragma once
/// \file
/// MQTT topics of the v1 wire contract (DESIGN.md, "Wire contract"). Only this component knows
/// topic strings.
///
///   sewage/v1/{terminal}/telemetry      agent -> gateway, QoS 1
///   sewage/v1/{terminal}/status         agent -> all, QoS 1, retained (birth / last will)
///   sewage/v1/{terminal}/image          agent -> gateway, QoS 1, retained (JPEG)
///   sewage/v1/{terminal}/cmd            gateway -> agent, QoS 1
///   sewage/v1/{terminal}/cmd/result     agent -> gateway, QoS 1
///   sewage/v1/alerts/{terminal}/{type}  gateway -> all, QoS 1, retained while active
///   sewage/v1/gateway/status            gateway -> all, QoS 1, retained

#include "sewage/proto/alert.hpp"
#include "sewage/proto/problem.hpp"

#include <string>
#include <string_view>

namespace sewage::proto {

/// Topic root including the contract version.
inline constexpr std::string_view topic_root = "sewage/v1";

/// What a topic carries.
enum class topic_kind { telemetry, status, image, command, command_result, alert, gateway_status };

/// Stable name of a topic kind ("telemetry", "status", "image", "cmd", "cmd/result", "alert",
/// "gateway_status"). Never throws.
std::string_view to_string(topic_kind kind) noexcept;

/// A parsed topic. `terminal_id` is empty for `gateway_status`; `alert` is set only for `alert`.
struct topic {
  topic_kind kind{topic_kind::telemetry};
  std::string terminal_id;
  alert_type alert{alert_type::offline};

  friend bool operator==(const topic&, const topic&) = default;
};

/// True when `id` is a valid terminal id: `[A-Za-z0-9_-]{1,32}`, and not one of the reserved
/// second-level names "alerts" and "gateway" (they would make topics ambiguous). Never throws.
bool is_valid_terminal_id(std::string_view id) noexcept;

/// Builds the topic string. Throws std::invalid_argument naming the id if `t.terminal_id` is not
/// valid for the kind. Thread-safe.
std::string make_topic(const topic& t);

/// Convenience builders; each throws std::invalid_argument for an invalid terminal id.
std::string telemetry_topic(std::string_view terminal_id);
std::string status_topic(std::string_view terminal_id);
std::string image_topic(std::string_view terminal_id);
std::string command_topic(std::string_view terminal_id);
std::string command_result_topic(std::string_view terminal_id);
std::string alert_topic(std::string_view terminal_id, alert_type type);
std::string gateway_status_topic();

/// Subscription filter covering one kind for all terminals, e.g. "sewage/v1/+/telemetry",
/// "sewage/v1/alerts/#". The only place where wildcards are produced. Never throws except bad_alloc.
std::string subscription_filter(topic_kind kind);

/// Parses a concrete topic (as received on a message, never a filter). Rejects wildcards (`+`,
/// `#`), `$`-topics, a wrong root or version, invalid or reserved terminal ids, unknown kinds,
/// unknown alert types, and extra, missing or empty levels. On failure the single problem has
/// code `bad_topic` and an empty path. Never throws except bad_alloc. Thread-safe.
decoded<topic> parse_topic(std::string_view text);

}  // namespace sewage::proto
