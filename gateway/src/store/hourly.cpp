// Hourly rollup values (store.hpp hourly_row): shared by both store backends.
#include "sewage/gateway/store.hpp"

#include <algorithm>

namespace sewage::gateway {

void hourly_stat::add(double v) noexcept { add(v, v, v); }

void hourly_stat::add(double v, double lo, double hi) noexcept {
  min = n == 0 ? lo : std::min(min, lo);
  max = n == 0 ? hi : std::max(max, hi);
  sum += v;
  ++n;
}

void hourly_stat::merge(const hourly_stat& o) noexcept {
  if (o.n == 0) return;
  min = n == 0 ? o.min : std::min(min, o.min);
  max = n == 0 ? o.max : std::max(max, o.max);
  sum += o.sum;
  n += o.n;
}

void hourly_row::add(const proto::telemetry_record& r) noexcept {
  ++records;
  if (r.flow && r.flow->status == proto::quantity_status::ok && r.flow->rate_m3h) flow_rate_m3h.add(*r.flow->rate_m3h);
  if (r.turbidity && r.turbidity->status == proto::quantity_status::ok && r.turbidity->ntu) {
    const double v = *r.turbidity->ntu;  // the window's own extremes when the agent sent them
    turbidity_ntu.add(v, std::min(v, r.turbidity->min_ntu.value_or(v)), std::max(v, r.turbidity->max_ntu.value_or(v)));
  }
  if (r.sludge && r.sludge->status == proto::quantity_status::ok && r.sludge->level_m)
    sludge_level_m.add(*r.sludge->level_m);
}

void hourly_row::merge(const hourly_row& o) noexcept {
  records += o.records;
  flow_rate_m3h.merge(o.flow_rate_m3h);
  turbidity_ntu.merge(o.turbidity_ntu);
  sludge_level_m.merge(o.sludge_level_m);
}

proto::timestamp hour_start(proto::timestamp t) noexcept {
  return std::chrono::floor<std::chrono::hours>(t);
}

}  // namespace sewage::gateway
