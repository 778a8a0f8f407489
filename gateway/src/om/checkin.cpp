// Check-in judgement (om/checkin.hpp).
#include "sewage/gateway/om/checkin.hpp"

#include <GeographicLib/Geodesic.hpp>

#include <cmath>
#include <cstdio>

namespace sewage::gateway::om {

double geodesic_distance_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) noexcept {
  double s12 = 0;
  GeographicLib::Geodesic::WGS84().Inverse(lat1_deg, lon1_deg, lat2_deg, lon2_deg, s12);
  return s12;
}

checkin judge_checkin(const checkin_request& r, const site_ref& site, const site_key& key, const settings& s) {
  if (r.token.empty()) throw om_error(400, "bad_token", "token: missing (scan the site's QR code)");
  const auto named = verify_site_token(key, r.token);
  if (!named) throw om_error(400, "bad_token", "token: not a valid site token (forged, damaged or of another gateway)");
  if (*named != r.site_id)
    throw om_error(400, "bad_token", "token: belongs to site '" + named->substr(0, 64) + "', not to site_id '" +
                                         r.site_id.substr(0, 64) + "'");
  if (!r.lat || !r.lon) throw om_error(400, "bad_field", "lat/lon: the phone's position is required (allow location access)");
  if (!(std::isfinite(*r.lat) && *r.lat >= -90 && *r.lat <= 90)) throw om_error(400, "bad_field", "lat: must be -90..90 degrees");
  if (!(std::isfinite(*r.lon) && *r.lon >= -180 && *r.lon <= 180)) throw om_error(400, "bad_field", "lon: must be -180..180 degrees");
  if (r.accuracy_m && !(*r.accuracy_m >= 0 && *r.accuracy_m <= s.checkin_max_accuracy_m)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "accuracy_m: the position is only good to %.0f m (at most %.0f m accepted); wait for a better fix",
                  *r.accuracy_m, s.checkin_max_accuracy_m);
    throw om_error(400, "bad_accuracy", buf);
  }
  const double d = geodesic_distance_m(*r.lat, *r.lon, site.latitude_deg, site.longitude_deg);
  if (!(d <= s.checkin_radius_m)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "position: %.0f m from site '%s', more than om.checkin_radius_m = %.0f m", d,
                  site.id.substr(0, 64).c_str(), s.checkin_radius_m);
    throw om_error(400, "too_far", buf);
  }
  checkin c;
  c.site_id = r.site_id;
  c.order_id = r.order_id;
  c.inspection_id = r.inspection_id;
  c.lat = *r.lat;
  c.lon = *r.lon;
  c.accuracy_m = r.accuracy_m;
  c.distance_m = d;
  return c;
}

}  // namespace sewage::gateway::om
