#pragma once
// Internal: the HTTP routes of the lab room (lab results, limits, compliance, sampling schedule)
// and of the site archive, called by api.cpp's route table after it has checked the bytes, matched
// the route, authenticated the caller and checked the route's role. Refusals are thrown as
// lab_error (status + message + optional list of field errors), answered as JSON errors.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/om/archive.hpp"
#include "sewage/gateway/om/lab.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/report.hpp"
#include "sewage/gateway/store.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sewage::gateway::om {

/// A refused request; `errors` (a JSON array of {line, column, reason} or {field, reason}) is added
/// to the error answer as "errors" when not null.
class lab_error : public auth::auth_error {
 public:
  lab_error(unsigned status, const std::string& what, nlohmann::json errors = nullptr)
      : auth::auth_error(status, what), errors_(std::move(errors)) {}
  [[nodiscard]] const nlohmann::json& errors() const noexcept { return errors_; }

 private:
  nlohmann::json errors_;
};

/// What one lab or archive route gets.
struct call {
  lab* lab_room;          ///< null: no lab room (503)
  archive* archive_room;  ///< null: no archive room (503)
  auth::service* ids;     ///< audit log (null: none)
  const auth::principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;  ///< path captures
  const registry& reg;
  const config& cfg;
  std::int64_t now_ms;                                     ///< the gateway clock
  std::function<std::int64_t(std::size_t)> registered_ms;  ///< when registry terminal i was first seen, ms
  store& db;                                               ///< daily rows (turbidity beside lab compliance)
  work_orders* orders{nullptr};  ///< the work orders room (a site's order history); null: the SQLite file's table
};

http_response lab_results_get(const call& c);     ///< GET /api/lab-results?site=&town=&from=&to=&limit=
http_response lab_results_post(const call& c);    ///< POST /api/lab-results (one sample, several parameters)
http_response lab_results_import(const call& c);  ///< POST /api/lab-results/import (text/csv)
http_response lab_compliance_get(const call& c);  ///< GET /api/lab-results/compliance?from=&to=&town=
http_response lab_schedule_get(const call& c);    ///< GET /api/lab-results/schedule?town=&overdue=
http_response effluent_limits_get(const call& c); ///< GET /api/effluent-limits
http_response archive_get(const call& c);         ///< GET /api/sites/{id}/archive
http_response archive_put(const call& c);         ///< PUT /api/sites/{id}/archive
http_response cleanouts_post(const call& c);      ///< POST /api/sites/{id}/cleanouts
http_response equipment_post(const call& c);      ///< POST /api/sites/{id}/equipment
http_response equipment_delete(const call& c);    ///< DELETE /api/sites/{id}/equipment/{eid}

/// The monthly report's JSON (`report_json` of `rep`) with the lab compliance of the month added
/// beside the turbidity figures, never in their place: "lab_compliance" on every terminal, town and
/// the totals (compliance_figures as in /api/lab-results/compliance). Thread-safe (lab is).
std::string report_with_lab(const std::string& report_json_text, const monthly_report& rep, lab& l);

// Shared by the two handler files (http_lab.cpp).
std::string iso_ms(std::int64_t ms);
/// The registry index of site `id`: 404 unknown, 403 outside the caller's towns.
std::size_t visible_site(const call& c, const std::string& id);
/// The body as a JSON object whose keys are all in `allowed`; else lab_error 400 naming the field.
nlohmann::json body_object(const call& c, std::initializer_list<std::string_view> allowed);
/// A string field (absent = "", `required` = refused when absent or empty), at most `max` bytes.
std::string text_field(const nlohmann::json& b, const char* key, bool required, std::size_t max = 200);
void audit(const call& c, const std::string& action, const std::string& target, const nlohmann::json& detail);

}  // namespace sewage::gateway::om
