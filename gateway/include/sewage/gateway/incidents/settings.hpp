#pragma once
/// \file
/// The `[incidents]` table of the gateway config (config.hpp `incidents`): the weather events of
/// the incident correlator (weather.hpp, gateway/README.md "Weather events"). Plain values.

#include <chrono>
#include <cstdint>

namespace sewage::gateway::incidents {

/// The `[incidents]` table of the gateway config.
struct weather_settings {
  /// Raises of weather-driven alerts at different terminals this close together belong to one
  /// event. 3 h: the BSM1 rain and storm inflow
  /// (tools/sim influent.hpp) reaches the county's terminals within hours of each other, its
  /// flood lasts days; two storms 3 h apart are one event to an operator. 600..604800 s.
  std::chrono::seconds window{std::chrono::hours(3)};
  /// A resolved event opens again when a weather-driven alert is raised at most this long after
  /// it resolved (the same weather, not a new event). 24 h: a storm's first flush lifts the
  /// turbidity in its first hours and its flood the flow up to a day later (the storm week of
  /// tools/sim/scenarios/storm-week.toml: 11.7 h between the first flush's event resolving and the
  /// flood's first flow_high; with 3 h they were two events). 600..2592000 s.
  std::chrono::seconds reopen{std::chrono::hours(24)};
  /// Different terminals that make a weather event; 0 = no weather events (every alert is
  /// notified on its own). 3: in a county of dozens of terminals, three unrelated faults of the
  /// same two types within 3 h are rare, while any rain reaches many more. 0..1000.
  std::uint32_t min_terminals{3};
  /// A county-wide rise is also seen before its alerts: when a weather-driven alert is raised at
  /// a terminal whose own recent flow runs above this factor x its learned normal, while at least
  /// max(`min_terminals`, `running_high_share` x the terminals judged) other terminals do
  /// (engine::terminals_running_high), the raise opens the event at once: its one notification
  /// is the event's, and the later ones join without their own. 2.0: in the soak's rain
  /// (tools/soak --days 2 --seed 1) 29 of 37 learned terminals ran above 2 x their normal when
  /// the first flow_high (2.5 x design) was raised; in 14 dry days of the county with its pump
  /// stations at most 2 at once did (a station's batch at night). 0 = off (the count of raises
  /// alone makes an event). 0 or 1.2..10.
  double running_high_factor{2.0};
  /// The share of the terminals judged (a learned normal, a covered window) that must run high
  /// for running_high_factor to open an event: a county-wide rise, not a few terminals' pump
  /// batches. 0.25: 10 of the county's 38 (dry: at most 2; the rain: 29). 0.05..1.
  double running_high_share{0.25};
  /// A weather-driven raise that neither joins nor opens an event waits this long before it is
  /// passed on (notified) on its own (correlator::tick): when enough other terminals raise one
  /// meanwhile, it is a member of the event and never notified on its own. 15 min: a storm's
  /// first flush lifts the turbidity of the county's terminals within minutes of each other
  /// (3 raises within 3, 6 and 3 min in the three storms of the 30-day soak, tools/soak --days 30
  /// --seed 1), while the flows have not risen yet (BSM1's storm flow is 1.07 x dry at the first
  /// flush's peak, tools/sim influent.cpp): with no hold each storm cost 3 notifications. A
  /// terminal that rises alone is notified 15 min later than its raise. 0 = off (notified at once).
  /// 0..3600 s.
  std::chrono::seconds hold{std::chrono::minutes(15)};
};

}  // namespace sewage::gateway::incidents
