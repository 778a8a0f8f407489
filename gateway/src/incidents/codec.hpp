#pragma once
// Internal: an incident as JSON, the one shape of the API (GET /api/incidents...) and of the
// database's `doc` column (gateway/README.md "Incidents"). Lengths at 0.1 m, times ISO 8601 UTC
// with milliseconds, time_to_resolve_s at 1 ms.
#include "sewage/gateway/incidents/incident.hpp"

#include <nlohmann/json.hpp>

namespace sewage::gateway::incidents {

/// {id, state, kind, root_cause: {node, site_id, kind, name} | null, suspected_segments,
/// suspected_length_m, origin, loci, affected_nodes, affected_terminals, villages, households,
/// alerts: [{alert_id, site_id, type, role, open, forwarded, raised_at, cleared_at}], opened_at,
/// acked_at, acked_by, ack_note, resolved_at, time_to_resolve_s, merged_into, title}
/// (null where there is none). Throws only bad_alloc.
nlohmann::json to_json(const incident& i);
/// Inverse of to_json. Throws nlohmann::json::exception or std::runtime_error on a bad document.
incident from_json(const nlohmann::json& j);

}  // namespace sewage::gateway::incidents
