#pragma once
// Internal: the HTTP routes of work orders, check-ins and photos (gateway/README.md "Work orders"),
// called by api.cpp's route table after it matched the route, authenticated the caller and
// checked the route's access. Refusals are thrown as om::om_error (status + code + message naming
// the field), answered by api.cpp as JSON errors like every other refusal.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/registry.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace sewage::gateway::om {

struct order_call {
  work_orders& orders;
  const site_key& key;
  const auth::principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;
  const registry& reg;
};

/// The sites a contractor serves (om::contractor_of over the registry). Never throws.
std::vector<std::string> sites_of_contractor(const settings& s, const registry& reg, const std::string& contractor);

http_response orders_get(const order_call& c);        ///< GET /api/work-orders
http_response orders_post(const order_call& c);       ///< POST /api/work-orders
http_response figures_get(const order_call& c);       ///< GET /api/work-orders/figures
http_response order_get(const order_call& c);         ///< GET /api/work-orders/{id}
http_response order_action_post(const order_call& c); ///< POST /api/work-orders/{id}/{action}
http_response photos_post(const order_call& c);       ///< POST /api/work-orders/{id}/photos (raw JPEG/PNG body)
http_response photo_get(const order_call& c);         ///< GET /api/photos/{id}
http_response checkins_post(const order_call& c);     ///< POST /api/checkins

/// The fields of order `o` that every listing of it shows as stored (id, site, town, source and its
/// reference, fault type, severity, title, description, contractor, state, reopen count, cause,
/// parts used, creator, reporter's phone), without its times (each listing gives them its way).
nlohmann::json order_fields_json(const work_order& o);

}  // namespace sewage::gateway::om
