// low_flow on event time (issue 14 item 1): a terminal's flow over the last window far below what
// those hours normally bring at this site (its learned normal, engine/flow_normal.hpp).
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

class low_flow final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::low_flow; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // effluent
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto* v = o.flow_normal;
    const auto& th = t.limits;
    // A window mostly without good flow readings says nothing (offline / sensor_fault judge that).
    if (v == nullptr || v->normal_m3h <= 0 || v->window_covered_s < low_flow_min_covered * v->window_s) return {};
    const double ratio = v->window_mean_m3h / v->normal_m3h;
    // Raised only where every hour of the window has a learned normal that clearly flows (never at
    // night where night flow is normally near zero, never on the prior); a terminal at its own
    // lower level has that level as its normal. The flow must also be well below the site's own low
    // quantile for those hours (low_flow_low_band_ratio x what it brings on 9 days out of 10): a
    // site whose flow scatters widely (a terminal fed by pump stations that cycle for hours) is not
    // alarmed by an ordinary low spell. Cleared wherever the flow is back near normal.
    const bool judged = v->learned && v->normal_low_m3h >= th.low_flow_min_normal_m3h;
    const bool bad = judged && ratio < th.low_flow_raise_ratio &&
                     v->window_mean_m3h < th.low_flow_low_band_ratio * v->normal_low_mean_m3h;
    const bool good = ratio >= th.low_flow_clear_ratio;
    const auto act = debounce_step(s, o.record.ts, bad, good, th.low_flow_debounce_s);
    if (act == verdict::action::none) return {};
    const double q = v->window_mean_m3h;
    if (act == verdict::action::raise)
      return make(act, o.record.ts, q, v->normal_m3h,
                  fmt("Effluent flow %.3f m3/h over the last %.0f min,", q, v->window_s / 60.0) +
                      fmt(" %.0f %% of this site's normal %.3f m3/h for these hours", ratio * 100.0, v->normal_m3h) +
                      fmt(" (raise below %.0f %%): blockage or burst upstream?", th.low_flow_raise_ratio * 100.0));
    return make(act, o.record.ts, q, v->normal_m3h,
                fmt("Effluent flow back to %.3f m3/h, %.0f %% of this site's normal.", q, ratio * 100.0));
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_low_flow_rule() { return std::make_unique<low_flow>(); }

}  // namespace sewage::gateway
