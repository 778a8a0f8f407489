#pragma once
// Internal: the HTTP routes of alarm discipline (maintenance windows, shelving), called by
// api.cpp's route table after it has matched the route, authenticated the caller and checked the
// route's role. Refusals are thrown as alarms::discipline_error (status + message naming the
// field), which api.cpp answers as JSON errors. gateway/README.md "Alarm discipline".
#include "sewage/gateway/alarms/discipline.hpp"
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/identity.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sewage::gateway::alarms {

/// What one alarm route gets.
struct call {
  discipline& d;
  const auth::principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;  ///< path captures
  const registry& reg;                   ///< sites and their towns (scope)
  engine* eng;                           ///< engine routes only (shelve); null on reader threads
  /// The name an action is recorded under (api.cpp acting_name: a user's own name; a token's body "by").
  std::function<std::string(const nlohmann::json& body)> acting_name;
  /// Appends an audit row for the caller (action, target, detail object).
  std::function<void(const std::string&, const std::string&, const nlohmann::json&)> audit;
};

/// The discipline object of alert `alert_id` as the alert JSON carries it under "discipline":
/// {"suppressed","window":{"id","reason","until"}|null,"released_at","shelved","shelved_until",
/// "shelved_by","shelve_note","escalated":"town"|"county"|null,"escalated_at",
/// "group":{"id","head_alert","repeats","first_at","last_at"}|null,"repeat_of"}.
nlohmann::json discipline_json(const discipline& d, std::uint64_t alert_id);

http_response windows_get(const call& c);    ///< GET /api/maintenance-windows?site=&town=&ended=
http_response windows_post(const call& c);   ///< POST /api/maintenance-windows
http_response window_end(const call& c);     ///< POST /api/maintenance-windows/{id}/end
http_response window_delete(const call& c);  ///< DELETE /api/maintenance-windows/{id}
http_response alert_shelve(const call& c);   ///< POST /api/alerts/{id}/shelve {duration_s, note}

}  // namespace sewage::gateway::alarms
