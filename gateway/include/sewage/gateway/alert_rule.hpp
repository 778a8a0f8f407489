#pragma once
/// \file
/// The alert rule extension point: a small pure interface. A rule is stateless and shared by all
/// terminals; each terminal's memory of a rule is a `rule_state` owned by the engine and persisted
/// by the store. A rule observes records (on EVENT time, the record's ts) and clock ticks, and says
/// raise or clear. Adding a rule = one new file in src/rules/ + one line in rules.cpp.

#include "sewage/gateway/registry.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/telemetry.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace sewage::gateway {

/// A rule's memory for one terminal (24 bytes; 8 per terminal).
struct rule_state {
  std::int64_t since_ms{0};  ///< event time (ms since epoch) the pending condition started
  double aux{0};             ///< rule-specific (e.g. last `dropped` counter)
  bool active{false};        ///< an episode is open
  bool pending{false};       ///< the raise (or clear) condition holds, waiting for the debounce
  friend bool operator==(const rule_state&, const rule_state&) = default;
};

/// One accepted, de-duplicated record as a rule sees it.
struct observation {
  const proto::telemetry_record& record;
  proto::timestamp arrival;  ///< gateway clock when it arrived
  bool live{false};          ///< arrived in real time: not a backlog or a replay (see engine.hpp)
  /// Set when the agent's stamp was outside the trust window around arrival (config.hpp,
  /// clock_trust_*): `record.ts` is then the arrival (the effective time) and this is the stamp.
  std::optional<proto::timestamp> untrusted_stamp{};
};

/// Arrival-time view of a terminal's presence, for clock ticks (offline rule).
struct presence_view {
  proto::timestamp now;
  proto::timestamp last_alive;   ///< arrival of the last live record (or gateway start)
  proto::timestamp grace_until;  ///< no offline raise before this (gateway start, clean agent restart)
  bool will{false};              ///< a last will arrived after last_alive
  double interval_s{60};         ///< expected report interval
};

/// What a rule decided.
struct verdict {
  enum class action { none, raise, clear };
  action act{action::none};
  proto::timestamp at{};   ///< when (event time for record rules, arrival time for offline)
  double value{0};         ///< observed value, in the rule's unit
  double threshold{0};     ///< the raise level, same unit
  std::string message;     ///< one sentence for operators

  [[nodiscard]] bool any() const noexcept { return act != action::none; }
};

/// An alert rule. Implementations are immutable and thread-safe; state lives in rule_state.
class alert_rule {
 public:
  virtual ~alert_rule() = default;
  /// The alert type this rule raises (one rule per type).
  [[nodiscard]] virtual proto::alert_type type() const noexcept = 0;
  /// Observes one record in event-time order. Must not throw except bad_alloc.
  virtual verdict observe(const observation& obs, const terminal_info& terminal, rule_state& state) const = 0;
  /// Observes a clock tick (arrival time). Default: nothing.
  virtual verdict tick(const presence_view& /*presence*/, const terminal_info& /*terminal*/,
                       rule_state& /*state*/) const {
    return {};
  }
};

}  // namespace sewage::gateway
