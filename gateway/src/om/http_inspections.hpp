#pragma once
// Internal: the HTTP routes of inspections, site QR codes and the contractor assessment (issue 12
// items 2 and 8), called by api.cpp's route table after it has checked the bytes, matched the
// route, authenticated the caller and checked the route's role. Refusals are thrown as
// auth::auth_error (status + message naming the field), answered as JSON errors by api.cpp.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/store.hpp"

#include <map>
#include <string>
#include <vector>

namespace sewage::gateway::om {

/// What one inspections route gets.
struct inspections_call {
  inspections& insp;
  const auth::principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;  ///< path captures
  const county_view& view;               ///< registry, registration times, configuration, now
  store& db;                             ///< the engine's store (the monthly report's availability)
  auth::service* ids;                    ///< audit log (null: none)
  const clock_source& clock;             ///< the gateway clock (work orders opened by findings)
  /// The work orders room (findings' orders, the assessment's orders); null: a connection of
  /// their own on the SQLite file (db_path), as before the room could be shared.
  work_orders* orders{nullptr};
};

http_response checklists_get(const inspections_call& c);   ///< GET /api/inspections/checklists
http_response plan_get(const inspections_call& c);         ///< GET /api/inspections/plan?town=
http_response figures_get(const inspections_call& c);      ///< GET /api/inspections/figures?from=&to=&by=
http_response inspections_get(const inspections_call& c);  ///< GET /api/inspections?site=&limit=
http_response inspection_get(const inspections_call& c);   ///< GET /api/inspections/{id}
http_response inspection_start(const inspections_call& c);     ///< POST /api/inspections
http_response inspection_complete(const inspections_call& c);  ///< POST /api/inspections/{id}/complete
http_response assessment_get(const inspections_call& c);   ///< GET /api/assessment?month=&by=&format=
/// GET /api/sites/{id}/qr.svg: the site's check-in URL with its signed token as a QR code (SVG).
http_response site_qr_get(const inspections_call& c);

/// The sites of the view a caller sees (registry terminals of its towns, or of its contractor for
/// role contractor; each with its contractor, om::contractor_of). A site's plan starts at its registration, or at
/// `plan_started_ms` for one registered before registration times were kept.
std::vector<plan_site> visible_sites(const county_view& view, const auth::principal& who, std::int64_t plan_started_ms);

}  // namespace sewage::gateway::om
