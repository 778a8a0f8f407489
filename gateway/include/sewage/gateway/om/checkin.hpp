#pragma once
/// \file
/// Check-in at a site (issue 12; gateway/README.md "Site tokens and check-in"): a phone that
/// scanned the site's QR code sends the signed token and its position; the check-in is accepted
/// when the token is authentic and names that site and the phone is within `[om] checkin_radius_m`
/// of the site's registry position (geodesic distance on WGS84, GeographicLib). Pure functions,
/// thread-safe.

#include "sewage/gateway/om/settings.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/om/work_orders.hpp"

#include <optional>
#include <string>

namespace sewage::gateway::om {

/// Geodesic distance between two WGS84 points, metres (GeographicLib::Geodesic::WGS84().Inverse,
/// accurate to nanometres). Never throws.
double geodesic_distance_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) noexcept;

/// What the phone sent (POST /api/checkins).
struct checkin_request {
  std::string site_id;
  std::string token;
  std::optional<double> lat, lon, accuracy_m;
  std::optional<std::int64_t> order_id, inspection_id;
};

/// Judges `r` against `site` (the registry's position of r.site_id): returns the check-in to store
/// (distance filled in), or throws om_error 400 naming the field: `token` (missing, malformed,
/// forged, of another site), `lat`/`lon` (missing, out of range), `accuracy_m` (worse than
/// checkin_max_accuracy_m), `position` (farther than checkin_radius_m, with the distance).
checkin judge_checkin(const checkin_request& r, const site_ref& site, const site_key& key, const settings& s);

}  // namespace sewage::gateway::om
