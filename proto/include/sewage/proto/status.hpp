#pragma once
/// \file
/// Presence messages: a terminal's `sewage/v1/{terminal}/status` (retained birth on every connect,
/// retained last will "offline", and an explicit "offline" with reason "shutdown" on a clean stop),
/// and the gateway's `sewage/v1/gateway/status`.
///
/// Birth:    {"terminal_id":"HY-WY-001","state":"online","ts":"...","agent_version":"0.1.0",
///            "config_digest":"3fa2...","epoch":"9f1c...","report_interval_s":60}
/// Will:     {"terminal_id":"HY-WY-001","state":"offline","reason":"connection_lost"}
/// Shutdown: {"terminal_id":"HY-WY-001","state":"offline","reason":"shutdown","ts":"..."}

#include "sewage/proto/problem.hpp"
#include "sewage/proto/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::proto {

enum class presence { online, offline };
std::string_view to_string(presence p) noexcept;

/// Why a process went offline.
enum class offline_reason {
  connection_lost,  ///< the broker published the last will
  shutdown,         ///< clean stop (SIGTERM); the agent is expected back
};
std::string_view to_string(offline_reason r) noexcept;

/// A terminal agent's presence message.
struct status_message {
  std::string terminal_id;
  presence state{presence::online};
  std::optional<timestamp> ts;                  ///< required except on the last will
  std::optional<offline_reason> reason;         ///< required when offline, absent when online
  std::optional<std::string> agent_version;     ///< required when online
  std::optional<std::string> config_digest;     ///< required when online (hex digest)
  std::optional<std::string> epoch;             ///< queue epoch, when online
  std::optional<std::uint32_t> report_interval_s;  ///< when online; the gateway's offline timer uses it

  friend bool operator==(const status_message&, const status_message&) = default;
};

/// Encodes as JSON; absent optionals are omitted. Does not validate. Never throws except bad_alloc.
std::string encode(const status_message& m);

/// Decodes and validates strictly; `topic_terminal_id` must match when given. Thread-safe.
decoded<status_message> decode_status(std::string_view payload,
                                      std::optional<std::string_view> topic_terminal_id = std::nullopt);

/// The gateway's own presence on `sewage/v1/gateway/status`.
struct gateway_status_message {
  presence state{presence::online};
  std::optional<timestamp> ts;           ///< required except on the last will
  std::optional<offline_reason> reason;  ///< required when offline
  std::optional<std::string> version;    ///< required when online
  /// Online only, optional: true when the gateway sends delivery receipts (receipt.hpp); an agent
  /// then keeps each record until its receipt. Absent (an older gateway) means false.
  std::optional<bool> receipts;

  friend bool operator==(const gateway_status_message&, const gateway_status_message&) = default;
};
std::string encode(const gateway_status_message& m);
decoded<gateway_status_message> decode_gateway_status(std::string_view payload);

}  // namespace sewage::proto
