#pragma once
/// \file
/// The incidents room (issue 13 item 3, gateway/README.md "Incidents"): what one incident is. An
/// incident groups the alerts that one cause explains on the pipe network (network/model.hpp):
/// a root-cause node (a pump station) or, when no instrumented cause is known, a suspected section
/// of pipe segments; the nodes, terminals, villages and households it affects; a lifecycle
/// open -> acknowledged (by a user) -> resolved (automatic, when every member alert cleared).
///
/// Plain values; no thread-safety concerns of their own.

#include <sewage/proto/timestamp.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::incidents {

/// Lifecycle state. Spelled "open", "acknowledged", "resolved" (to_string / parse_state).
enum class incident_state { open, acknowledged, resolved };
/// "pump_station_fault": rooted at a pump station's cause alert; "flow_loss": located to a
/// suspected section because no instrumented cause explains the loss; "weather": a rise of
/// flow_high / turbidity_high at many terminals at once (rain or a storm, issue 14 item 2;
/// weather.hpp), one incident instead of one notification per terminal.
enum class incident_kind { pump_station_fault, flow_loss, weather };
/// What a member alert is to its incident: the root cause's own alert ("cause"), a flow loss the
/// cause or section explains ("consequence"), or a flow loss that located a rootless incident's
/// section ("symptom"), or a weather-driven alert of a weather event ("weather").
enum class alert_role { cause, consequence, symptom, weather };

[[nodiscard]] std::string_view to_string(incident_state s) noexcept;
[[nodiscard]] std::string_view to_string(incident_kind k) noexcept;
[[nodiscard]] std::string_view to_string(alert_role r) noexcept;
/// Inverse of to_string(incident_state); std::nullopt for anything else. Never throws.
[[nodiscard]] std::optional<incident_state> parse_state(std::string_view s) noexcept;
[[nodiscard]] std::optional<incident_kind> parse_kind(std::string_view s) noexcept;
[[nodiscard]] std::optional<alert_role> parse_role(std::string_view s) noexcept;

/// One alert episode of an incident.
struct member_alert {
  std::uint64_t alert_id{0};
  std::string site_id;
  std::string type;            ///< wire name (proto::to_string(alert_type))
  alert_role role{alert_role::consequence};
  bool forwarded{false};       ///< its raise went on to the notifier (then its ack/clear do too)
  bool open{true};             ///< not cleared yet
  proto::timestamp raised_at{};
  std::optional<proto::timestamp> cleared_at;
};

/// The node an incident is rooted at.
struct root_cause {
  std::string node;     ///< network node id
  std::string site_id;  ///< its registry site id
  std::string kind;     ///< node kind ("pump_station")
  std::string name;     ///< node name ("" when the file gives none)
};

struct incident {
  std::int64_t id{0};  ///< > 0, increasing, never reused
  incident_state state{incident_state::open};
  incident_kind kind{incident_kind::flow_loss};
  std::optional<root_cause> root;
  std::vector<std::string> suspected_segments;  ///< segment ids (flow_loss), in search order
  double suspected_length_m{0};                 ///< sum of their geodesic lengths, m
  /// flow_loss: the node where the first flow loss was seen, and the node(s) the section drains
  /// to after walking up past instrumented nodes that show loss themselves.
  std::string origin;
  std::vector<std::string> loci;
  std::vector<std::string> affected_nodes;      ///< node ids from the root (or the section) down to the terminal
  std::vector<std::string> affected_terminals;  ///< site ids of the terminal nodes among them
  std::vector<std::string> villages;            ///< villages upstream of the root (or of the section), sorted
  std::vector<std::string> towns;               ///< weather: the towns of its terminals, sorted
  std::int64_t households{0};                   ///< their households
  std::vector<member_alert> alerts;
  proto::timestamp opened_at{};
  std::optional<proto::timestamp> acked_at;
  std::string acked_by;
  std::string ack_note;
  std::optional<proto::timestamp> resolved_at;
  std::optional<std::int64_t> merged_into;  ///< resolved by merging into that incident (its alerts moved)
  std::string title;                        ///< one English sentence
  /// The alert whose forwarded raise carried the incident's one notification (unset in documents
  /// written before 2026-12-06).
  std::optional<std::uint64_t> notified_with;
  /// That alert was never committed by the engine (a gateway died before its batch; correlator
  /// reconcile): its notification is lost, and the next raise that joins is notified as the
  /// incident's.
  bool notification_lost{false};

  /// resolved_at - opened_at in seconds (ms resolution); std::nullopt while not resolved.
  [[nodiscard]] std::optional<double> time_to_resolve_s() const noexcept;
  /// Open or acknowledged.
  [[nodiscard]] bool active() const noexcept { return state != incident_state::resolved; }
};

}  // namespace sewage::gateway::incidents
