#pragma once
/// \file
/// The alert rule extension point: a small pure interface. A rule is stateless and shared by all
/// terminals; each terminal's memory of a rule is a `rule_state` owned by the engine and persisted
/// by the store. A rule observes records (on EVENT time, the record's ts) and clock ticks, and says
/// raise or clear. Adding a rule = one new file in src/rules/ + one line in rules.cpp.

#include "sewage/gateway/registry.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/telemetry.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace sewage::gateway {

struct cleanout_forecast;  // forecast/cleanout.hpp

/// A rule's memory for one terminal (24 bytes; 8 per terminal).
struct rule_state {
  std::int64_t since_ms{0};  ///< event time (ms since epoch) the pending condition started
  double aux{0};             ///< rule-specific (e.g. last `dropped` counter)
  bool active{false};        ///< an episode is open
  bool pending{false};       ///< the raise (or clear) condition holds, waiting for the debounce
  friend bool operator==(const rule_state&, const rule_state&) = default;
};

/// A pump station's run time as pump_runtime_abnormal sees it (pump_runtime.hpp computes it from
/// the station's hourly run log, on event time). Hours are pump hours summed over the pumps.
struct pump_runtime_view {
  double last_24h_run_h{0};      ///< run hours in the current hour and the 23 before it
  double last_24h_covered_s{0};  ///< seconds of those hours covered by records with pump data
  std::uint32_t history_days{0};  ///< complete days (>= 80 % covered) among the previous 7 operating days
  std::optional<double> normal_h;  ///< median run hours of those days; set when history_days >= the minimum
};

/// A terminal's flow against its learned normal, as low_flow and no_flow see it (engine/flow_normal.hpp
/// computes it on event time from the terminal's recent records and its normal).
struct flow_normal_view {
  double window_s{0};             ///< the window judged (thresholds::low_flow_window_s), s
  double window_mean_m3h{0};      ///< mean flow over it (covered time weighted), m3/h
  double window_covered_s{0};     ///< seconds of it covered by records with good flow
  double normal_m3h{0};           ///< the normal (median) for its hours, time-weighted, m3/h
  double normal_low_m3h{0};       ///< the lowest low quantile among its hours, m3/h
  double normal_low_mean_m3h{0};  ///< the low quantiles for its hours, time-weighted, m3/h
  bool learned{false};            ///< every hour of the window has a learned (not prior) normal
  double hour_low_m3h{0};         ///< low quantile of the record's own hour, m3/h
  bool hour_learned{false};       ///< that hour's normal is learned
};

/// One accepted, de-duplicated record as a rule sees it.
struct observation {
  const proto::telemetry_record& record;
  proto::timestamp arrival;  ///< gateway clock when it arrived
  bool live{false};          ///< arrived in real time: not a backlog or a replay (see engine.hpp)
  /// Set when the agent's stamp was outside the trust window around arrival (config.hpp,
  /// clock_trust_*): `record.ts` is then the arrival (the effective time) and this is the stamp.
  std::optional<proto::timestamp> untrusted_stamp{};
  /// How long the broker path to the gateway takes now (gateway clock): the latest loopback
  /// probe's time from publish to echo (engine::broker_path_proven). A record stamped in the past
  /// by no more than this was delayed on the way, not by its clock (clock_skew rule).
  std::chrono::milliseconds path_delay{0};
  /// Pump stations only (nullptr otherwise): the station's run time up to this record.
  const pump_runtime_view* pump_runtime{nullptr};
  /// Terminals only (nullptr otherwise or for a record without good flow): flow vs. normal.
  const flow_normal_view* flow_normal{nullptr};
  /// Terminals only (nullptr otherwise): the clean-out forecast of the record's operating day
  /// (forecast/cleanout.hpp; made once per operating day from the days before it).
  const cleanout_forecast* cleanout{nullptr};
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
  /// Whether the rule judges sites of this kind (registry.hpp site_kind). The engine never shows a
  /// rule records or ticks of a site it does not apply to. Default: both kinds (offline,
  /// sensor_fault, queue_overflow, clock_skew); effluent rules are terminal-only, the pump-station
  /// rules pump-station-only. Never throws.
  [[nodiscard]] virtual bool applies_to(site_kind /*kind*/) const noexcept { return true; }
  /// Observes one record in event-time order. Must not throw except bad_alloc.
  virtual verdict observe(const observation& obs, const terminal_info& terminal, rule_state& state) const = 0;
  /// Observes a clock tick (arrival time). Default: nothing.
  virtual verdict tick(const presence_view& /*presence*/, const terminal_info& /*terminal*/,
                       rule_state& /*state*/) const {
    return {};
  }
};

}  // namespace sewage::gateway
