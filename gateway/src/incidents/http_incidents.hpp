#pragma once
// Internal: the HTTP routes of incidents and of the pipe network's live state (gateway/README.md
// "Incidents"), called by api.cpp's route table after it matched the route, authenticated the
// caller and checked the route's role. The list, an incident and its GeoJSON are read routes (a
// reader thread, or a standby's); the acknowledgement and the network's routes are engine routes
// (engine thread). Refusals are thrown as
// incidents::incident_error (status, reason, message naming the field), which api.cpp answers as
// JSON errors like every other refusal.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/incidents/incident_reader.hpp"
#include "sewage/gateway/network/holder.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sewage::gateway::incidents {

/// A refused request: `status` is the HTTP status, `reason` the counter label (api_counters
/// rejected: bad_parameter, bad_target, bad_body, not_found, forbidden, conflict, unavailable),
/// what() names the field and the reason.
class incident_error : public std::runtime_error {
 public:
  incident_error(unsigned status, std::string reason, const std::string& what)
      : std::runtime_error(what), status_(status), reason_(std::move(reason)) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  unsigned status_;
  std::string reason_;
};

/// What one route gets.
struct call {
  /// The incidents read (list, show, GeoJSON): the correlator on the leader, the shared database
  /// on a standby (incident_reader.hpp); null: no incident store (503).
  const incident_reader* reads;
  correlator* corr;               ///< acknowledgement and the live network state; null on a read route or a standby
  const network::holder* pipes;   ///< null or empty: no network configured (503 on network routes)
  engine* eng;                    ///< network routes: presence and open alerts (live state); null on a read route
  const registry& reg;            ///< the sites' towns (who may see an incident)
  store& db;                      ///< a weather event's figures (the history of its terminals)
  proto::timestamp now;           ///< the gateway clock (an event still active ends now)
  const auth::principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;  ///< path captures
  /// The name an action is recorded under (api.cpp acting_name).
  std::function<std::string(const nlohmann::json& body)> acting_name;
  /// Appends an audit row for the caller (action, target, detail object).
  std::function<void(const std::string&, const std::string&, const nlohmann::json&)> audit;
};

/// Read routes (api.cpp route_info::read_route: a reader thread, or the standby's): they use
/// reads, pipes, reg, db and now only.
http_response incidents_get(const call& c);     ///< GET /api/incidents?state=&limit=
http_response incident_get(const call& c);      ///< GET /api/incidents/{id}
http_response incident_geojson(const call& c);  ///< GET /api/incidents/{id}/geojson
/// Engine routes: corr (ack) and eng (network_get) are set.
http_response incident_ack(const call& c);      ///< POST /api/incidents/{id}/ack {note}
http_response network_get(const call& c);       ///< GET /api/network (live state)
http_response network_trace(const call& c);     ///< GET /api/network/trace?id=

}  // namespace sewage::gateway::incidents
