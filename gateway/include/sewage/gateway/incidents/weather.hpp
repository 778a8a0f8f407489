#pragma once
/// \file
/// Weather events (issue 14 item 2, gateway/README.md "Weather events"): rain or a storm lifts the
/// effluent flow and, in its first flush, the turbidity of many terminals at once. Each of those
/// terminals raises its own `flow_high` / `turbidity_high`; the incident correlator
/// (correlator.hpp) groups them into ONE incident of kind `weather` once `min_terminals` different
/// terminals raised one within `window` of each other: the alert that completes the group is
/// notified as the event ("Incident #N: Weather event ..."), the ones before it were notified on
/// their own (nothing said then that others would follow). A raise also completes the group when
/// its own terminal's flow runs above `running_high_factor` x its learned normal and enough other
/// terminals' do (engine::terminals_running_high, settings.hpp): the flows show a county-wide rise hours
/// before most terminals cross their alert level, so the first raise is the event's one
/// notification. A raise that does neither is held for `hold` (correlator::tick) before it is
/// notified on its own: a storm's first flush raises turbidity_high at many terminals within
/// minutes, before the flows rise; the ones held when the group completes are its members, never
/// notified alone. Every later one joins the event
/// without a notification of its own while the event lasts (it is active, or it resolved less
/// than `reopen` ago: then it opens again). A terminal whose flow or turbidity rises alone still
/// alerts on its own. The figures an operator needs - each affected terminal's peak flow and
/// turbidity and the hours its effluent was over its compliance limit - come from the stored
/// history when the incident is read (weather_figures).
///
/// Plain values and a pure function of the store's history; thread-safety: see each function.

#include "sewage/gateway/incidents/incident.hpp"
#include "sewage/gateway/incidents/settings.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/store.hpp"

#include <sewage/proto/alert.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway::incidents {

/// The alert types weather drives at a terminal: flow_high and turbidity_high. Never throws.
[[nodiscard]] bool weather_driven(proto::alert_type t) noexcept;

/// One affected terminal of a weather event, from its stored history over the event.
struct weather_terminal {
  std::string site_id;
  std::string town;
  std::optional<double> peak_flow_m3h;       ///< highest interval mean flow rate, m3/h (none: no ok flow)
  std::optional<double> peak_turbidity_ntu;  ///< highest turbidity (interval max where sent, else mean), NTU
  /// Hours of ok turbidity readings whose interval mean was above the terminal's compliance
  /// limit (terminal_limits::turbidity_limit_ntu, the daily compliance's own test).
  double compliance_hours_lost{0};
  std::size_t records{0};                    ///< records read
};

/// What GET /api/incidents/{id} adds to a weather incident.
struct weather_summary {
  proto::timestamp from{};  ///< the first member's raise
  proto::timestamp to{};    ///< the last member's clear, or `now` while one is open
  std::vector<weather_terminal> terminals;  ///< one per affected terminal, in affected_terminals order
  double compliance_hours_lost{0};          ///< their sum
};

/// Reads each of `i.affected_terminals`' history from the first member's raise to the last
/// member's clear (or `now`) from `db` (at most `max_records` per terminal, oldest first) and
/// sums it up; terminals no longer in `reg` get their figures without a town or limit (the
/// default 10 NTU). Throws what the store throws (std::runtime_error). Thread-safety: as `db`'s
/// history() (the engine thread, or a reader connection).
[[nodiscard]] weather_summary weather_figures(const incident& i, store& db, const registry& reg, proto::timestamp now,
                                              std::size_t max_records = 20000);

}  // namespace sewage::gateway::incidents
