#pragma once
/// \file
/// Notifications room (gateway/src/notify/): the `[notify]` settings and `[[notify.target]]`
/// tables of the gateway's configuration, and the counters the notifier exports on /metrics.
/// gateway/README.md "Notifications" explains every key.

#include "sewage/gateway/severity.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// What a target's receiver expects.
enum class notify_kind {
  webhook,   ///< any HTTP(S) endpoint: the alert message JSON (proto::encode) as body, 2xx = delivered
  wecom,     ///< WeCom (企业微信) group robot: markdown message, answer {"errcode":0}
  dingtalk,  ///< DingTalk (钉钉) group robot: markdown message, optional signed URL, answer {"errcode":0}
};
/// "webhook", "wecom", "dingtalk". Never throws.
std::string_view to_string(notify_kind k) noexcept;
/// Inverse of to_string; std::nullopt for another name. Never throws.
std::optional<notify_kind> parse_notify_kind(std::string_view s) noexcept;

/// Language of a target's texts.
enum class notify_language { zh_cn, en };
/// "zh-CN", "en". Never throws.
std::string_view to_string(notify_language l) noexcept;
/// Inverse of to_string; std::nullopt for another name. Never throws.
std::optional<notify_language> parse_notify_language(std::string_view s) noexcept;

/// Who a target reaches (issue 12 "escalation"): the operators on duty get every alert transition;
/// the town officer and the county get only escalations (notifier::enqueue_escalation): alerts
/// neither acknowledged nor cleared in time, overdue work orders.
enum class notify_level {
  operator_,  ///< "operator" (default): alert transitions (raise / ack / clear)
  town,       ///< "town": escalations of the first level (town officer)
  county,     ///< "county": escalations of the second level (county)
};
/// "operator", "town", "county". Never throws.
std::string_view to_string(notify_level l) noexcept;
/// Inverse of to_string; std::nullopt for another name. Never throws.
std::optional<notify_level> parse_notify_level(std::string_view s) noexcept;

/// One `[[notify.target]]` table.
struct notify_target {
  /// Unique, `[A-Za-z0-9_-]{1,64}`: names the target in logs, metrics labels and queue rows.
  std::string name;
  notify_kind kind{notify_kind::webhook};
  /// https://... (http://... only with allow_plaintext). Its query string may hold a credential
  /// (WeCom `key=`, DingTalk `access_token=`): it is never logged (logs show scheme, host, port, path).
  std::string url;
  /// DingTalk signing secret ("SEC..."); empty = unsigned. Never logged, never shown.
  std::string secret;
  notify_language language{notify_language::zh_cn};
  /// Events sent: any of "raise", "ack", "clear" (default all three).
  std::vector<std::string> events{"raise", "ack", "clear"};
  /// Only alerts at least this severe (severity.hpp).
  severity min_severity{severity::info};
  /// Only terminals (sites) of these towns (registry `town`); empty = the whole county. Applies to
  /// alert transitions and escalations alike.
  std::vector<std::string> towns;
  /// Who the target reaches: operator targets get alert transitions (events, min_severity), town
  /// and county targets get only escalations of their level (events and min_severity do not apply).
  notify_level level{notify_level::operator_};
  /// Accept an http:// URL (data and the URL's credential travel unencrypted). Default false.
  bool allow_plaintext{false};
  /// PEM CA bundle to verify the receiver with; empty = the system store (ca-certificates).
  std::string ca_file;
};

/// The `[notify]` table.
struct notify_settings {
  std::vector<notify_target> targets;
  /// Rows the durable queue holds at most (all targets); beyond it the oldest are dropped, counted.
  std::uint32_t queue_max{10000};
  /// Attempts per notification before it is given up (dropped, counted, logged).
  std::uint32_t max_attempts{30};
  /// Backoff before the second attempt; doubles per failure up to max_backoff, with jitter.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{300000};
  /// Whole-request limit of one attempt (connect + TLS + answer).
  std::chrono::milliseconds timeout{10000};
};

/// Counters of one target (monotonic).
struct notify_target_counts {
  std::string target;
  std::uint64_t sent{0};          ///< notifications delivered
  std::uint64_t failures{0};      ///< failed attempts (each retry counts)
  std::uint64_t tls_failures{0};  ///< of which: certificate or host name check failed, TLS handshake
};

/// What the notifier exports on /metrics.
struct notify_counts {
  std::vector<notify_target_counts> targets;
  std::uint64_t dropped_queue_full{0};      ///< oldest rows dropped from a full queue
  std::uint64_t dropped_gave_up{0};         ///< given up after max_attempts
  std::uint64_t dropped_permanent{0};       ///< refused for good by the receiver (see README)
  std::uint64_t dropped_unknown_target{0};  ///< rows of a target no longer configured (at start)
  std::uint64_t escalations_queued{0};      ///< escalation rows queued (one per target reached)
  std::uint64_t escalations_unrouted{0};    ///< escalations no target of their level and town takes
  std::uint64_t queue_depth{0};             ///< gauge: rows waiting
};

}  // namespace sewage::gateway
