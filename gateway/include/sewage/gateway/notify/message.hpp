#pragma once
/// \file
/// Notifications room: what is sent (the request bodies of each target kind, in the target's
/// language), the DingTalk URL signature, how a receiver's answer is judged, and the loggable form
/// of a URL. Pure functions, no I/O; thread-safe.

#include "sewage/gateway/notify/settings.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/registry.hpp"

#include <sewage/proto/alert.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::gateway {

/// The event name of an alert's state: raised "raise", acknowledged "ack", cleared "clear".
/// Never throws.
std::string_view notify_event(proto::alert_state s) noexcept;

/// The request body (JSON text) telling `target` about `alert`:
/// - webhook: proto::encode(alert) (unchanged from the former notifier);
/// - wecom: {"msgtype":"markdown","markdown":{"content":TEXT}};
/// - dingtalk: {"msgtype":"markdown","markdown":{"title":TITLE,"text":TEXT}}.
/// TEXT names the terminal id and name, its town, the alert type in words, severity, value and
/// threshold with their units, the event's time in `zone` (the county's) and the episode id, in
/// the target's language (gateway/README.md "Notifications" shows both). `terminal` may be null (a
/// terminal no longer registered: name and town are then "-"). Never throws except bad_alloc.
std::string render_notification(const notify_target& target, const proto::alert_message& alert,
                                const terminal_info* terminal, const county_zone& zone);

/// What an escalation tells (notifier::enqueue_escalation): something at a site waited too long for
/// the people of the level below (an alert neither acknowledged nor cleared, an overdue work
/// order). Both languages are given: each target is sent its own.
struct escalation_message {
  /// The queue row's subject: "alert" (subject_id = episode id) or "work_order" (its id).
  std::string subject_kind{"alert"};
  std::uint64_t subject_id{0};
  std::string site_name;   ///< the site's display name; empty shows "-"
  std::string what_zh;     ///< one line, zh-CN, e.g. "出水浊度超标，30 分钟未确认"
  std::string what_en;     ///< one line, en, e.g. "Effluent turbidity high, not acknowledged for 30 min"
  proto::timestamp since{};  ///< since when it waits (alert raised, order due); shown in the county's zone
  /// Non-empty: queued at most once with this key, ever (restart-safe), e.g. "alert:17:town".
  std::string once_key;
};

/// The alert type in words ("出水浊度超标" / "Effluent turbidity high"). Never throws.
std::string_view alert_type_words(proto::alert_type t, notify_language l) noexcept;

/// "镇级" / "town", "县级" / "county", "值班" / "operator". Never throws.
std::string_view level_words(notify_level level, notify_language l) noexcept;

/// The request body (JSON text) telling `target` that `msg` is escalated to `level`:
/// - webhook: {"kind":"escalation","level":..,"site_id":..,"site_name":..,"town":..,
///   "subject_kind":..,"subject_id":..,"what":<in the target's language>,"since":<ISO 8601 UTC>};
/// - wecom: markdown {"msgtype":"markdown","markdown":{"content":TEXT}};
/// - dingtalk: {"msgtype":"markdown","markdown":{"title":TITLE,"text":TEXT}}.
/// TITLE "【升级·镇级】<what> <site_id>" / "[Escalated: town] <what> <site_id>"; TEXT lists the
/// site (id and name), town, what, since (county's zone) and subject (gateway/README.md
/// "Notifications", escalation). Never throws except bad_alloc.
std::string render_escalation(const notify_target& target, notify_level level, const std::string& site_id,
                              const std::string& town, const escalation_message& msg, const county_zone& zone);

/// DingTalk's signature of `timestamp_ms` (ms since the epoch): HMAC-SHA256 with key `secret` over
/// "<timestamp_ms>\n<secret>", base64 (RFC 4648, with padding), then URL-encoded (RFC 3986
/// unreserved characters kept). Source: DingTalk open platform, "custom robot security settings
/// (加签)". Never throws except bad_alloc.
std::string dingtalk_signature(std::string_view secret, std::int64_t timestamp_ms);

/// `url` with "timestamp=<ms>&sign=<dingtalk_signature>" appended ('&' or '?'). Never throws
/// except bad_alloc.
std::string dingtalk_signed_url(const std::string& url, std::string_view secret, std::int64_t timestamp_ms);

/// `url` as it may appear in a log line: scheme, host, port and path only (the query, where WeCom
/// and DingTalk carry their key or token, and any user:password@ are cut). Never throws except bad_alloc.
std::string loggable_url(std::string_view url);

/// How a receiver's answer is judged.
struct answer_verdict {
  bool delivered{false};
  /// Retrying cannot help (the request itself is refused: an invalid key, a sign or keyword
  /// mismatch, HTTP 4xx other than 408 and 429): given up at once, counted, logged.
  bool permanent{false};
  std::string error;  ///< why not delivered ("HTTP 503", "errcode 45009: api freq out of limit")
};

/// Judges an answer of status `http_status` and body `body` for a target of kind `kind`:
/// delivered = 2xx, and for wecom/dingtalk also a JSON body with errcode 0. Permanent errcodes
/// (gateway/README.md "Notifications"): WeCom 93000 (invalid webhook URL or key); DingTalk 300001
/// (access token does not exist) and 310000 (security settings: keyword, signature or IP
/// mismatch). Every other errcode is retried (e.g. WeCom 45009 and DingTalk 130101: too many
/// messages). Never throws except bad_alloc.
answer_verdict judge_answer(notify_kind kind, long http_status, std::string_view body);

}  // namespace sewage::gateway
