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
};

}  // namespace sewage::gateway::incidents
