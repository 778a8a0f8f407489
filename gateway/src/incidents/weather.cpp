// Weather events (incidents/weather.hpp): the alert types weather drives and an event's figures
// from the stored history.
#include "sewage/gateway/incidents/weather.hpp"

#include <algorithm>

namespace sewage::gateway::incidents {

bool weather_driven(proto::alert_type t) noexcept {
  return t == proto::alert_type::flow_high || t == proto::alert_type::turbidity_high;
}

weather_summary weather_figures(const incident& i, store& db, const registry& reg, proto::timestamp now,
                                std::size_t max_records) {
  weather_summary out;
  out.from = i.opened_at;
  out.to = i.opened_at;
  bool any_open = false;
  for (const auto& a : i.alerts) {
    out.from = std::min(out.from, a.raised_at);
    if (a.open) any_open = true;
    else if (a.cleared_at) out.to = std::max(out.to, *a.cleared_at);
  }
  if (any_open || i.alerts.empty()) out.to = std::max(out.to, now);
  for (const auto& site : i.affected_terminals) {
    weather_terminal w;
    w.site_id = site;
    double limit_ntu = thresholds{}.turbidity_limit_ntu;
    if (const auto idx = reg.find(site)) {
      const auto& t = reg.terminals()[*idx];
      w.town = t.town;
      limit_ntu = t.limits.turbidity_limit_ntu;
    }
    // [from, to]: the record that ends at `to` (a window closing on the clear) counts.
    const auto rows = db.history(site, out.from, out.to + std::chrono::milliseconds(1), max_records);
    w.records = rows.size();
    double over_s = 0;
    for (const auto& row : rows) {
      const auto& r = row.record;
      if (r.flow && r.flow->status == proto::quantity_status::ok && r.flow->rate_m3h)
        w.peak_flow_m3h = std::max(w.peak_flow_m3h.value_or(*r.flow->rate_m3h), *r.flow->rate_m3h);
      if (r.turbidity && r.turbidity->status == proto::quantity_status::ok && r.turbidity->ntu) {
        const double peak = r.turbidity->max_ntu.value_or(*r.turbidity->ntu);
        w.peak_turbidity_ntu = std::max(w.peak_turbidity_ntu.value_or(peak), peak);
        if (*r.turbidity->ntu > limit_ntu) over_s += r.interval_s;
      }
    }
    w.compliance_hours_lost = over_s / 3600.0;
    out.compliance_hours_lost += w.compliance_hours_lost;
    out.terminals.push_back(std::move(w));
  }
  return out;
}

}  // namespace sewage::gateway::incidents
