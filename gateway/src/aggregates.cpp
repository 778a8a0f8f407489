#include "sewage/gateway/aggregates.hpp"

#include "sewage/gateway/operating_day.hpp"

#include <sewage/proto/limits.hpp>

#include <algorithm>

namespace sewage::gateway {

void daily_delta::add(const daily_delta& o) noexcept {
  volume_m3 += o.volume_m3;
  volume_estimated_m3 += o.volume_estimated_m3;
  turbidity_sum_ntu += o.turbidity_sum_ntu;
  turbidity_count += o.turbidity_count;
  turbidity_max_ntu = std::max(turbidity_max_ntu, o.turbidity_max_ntu);
  compliant_count += o.compliant_count;
  records += o.records;
}

namespace {

constexpr double wrap_m3 = proto::limits::max_total_m3;  // 2^32

double rate_volume(const proto::telemetry_record& r) {
  if (!r.flow || r.flow->status != proto::quantity_status::ok || !r.flow->rate_m3h) return 0;
  return *r.flow->rate_m3h * static_cast<double>(r.interval_s) / 3600.0;
}

}  // namespace

std::vector<daily_delta> record_deltas(const proto::telemetry_record& r, totalizer_cursor& cursor,
                                       double limit_ntu, std::chrono::minutes utc_offset,
                                       volume_source* source) {
  using std::chrono::milliseconds;
  const std::int32_t day = operating_day(r.ts - milliseconds(1), utc_offset);
  std::vector<daily_delta> out;
  daily_delta own;
  own.day = day;
  own.records = 1;
  if (r.turbidity && r.turbidity->status == proto::quantity_status::ok && r.turbidity->ntu) {
    const double ntu = *r.turbidity->ntu;
    own.turbidity_sum_ntu = ntu;
    own.turbidity_count = 1;
    own.turbidity_max_ntu = r.turbidity->max_ntu.value_or(ntu);
    own.compliant_count = ntu <= limit_ntu ? 1 : 0;
  }
  volume_source src = volume_source::none;
  const std::int64_t ts_ms = r.ts.time_since_epoch().count();
  const bool has_total = r.flow && r.flow->total_m3.has_value() &&
                         r.flow->status != proto::quantity_status::fault &&
                         r.flow->status != proto::quantity_status::stale;
  if (has_total) {
    const double total = *r.flow->total_m3;
    if (!cursor.valid) {
      own.volume_estimated_m3 = rate_volume(r);
      src = own.volume_estimated_m3 > 0 ? volume_source::rate_fallback : volume_source::none;
      cursor = {total, ts_ms, true};
    } else if (ts_ms <= cursor.ts_ms) {
      src = volume_source::late;
    } else {
      const double elapsed_h = static_cast<double>(ts_ms - cursor.ts_ms) / 3'600'000.0;
      const double plausible = proto::limits::max_flow_m3h * elapsed_h;
      double delta = total - cursor.total_m3;
      src = volume_source::totalizer;
      if (delta < 0) {
        const double wrapped = delta + wrap_m3;
        if (cursor.total_m3 >= 0.9 * wrap_m3 && wrapped <= plausible) {
          delta = wrapped;
          src = volume_source::wrap;
        } else {
          src = volume_source::reset;
        }
      } else if (delta > plausible) {
        src = volume_source::jump;
      }
      if (src == volume_source::reset || src == volume_source::jump) {
        own.volume_estimated_m3 = rate_volume(r);
      } else {
        // Spread over the operating days of (cursor.ts, ts] in proportion to time.
        const std::int64_t from = cursor.ts_ms;
        std::int32_t first_day = operating_day(proto::timestamp(milliseconds(from)), utc_offset);
        if (first_day == day || delta == 0) {
          own.volume_m3 = delta;
        } else {
          const double span = static_cast<double>(ts_ms - from);
          for (std::int32_t d = first_day; d <= day; ++d) {
            const std::int64_t a = std::max<std::int64_t>(
                from, operating_day_start(d, utc_offset).time_since_epoch().count());
            const std::int64_t b = std::min<std::int64_t>(
                ts_ms, operating_day_start(d + 1, utc_offset).time_since_epoch().count());
            if (b <= a) continue;
            const double share = delta * static_cast<double>(b - a) / span;
            if (d == day) {
              own.volume_m3 += share;
            } else {
              daily_delta extra;
              extra.day = d;
              extra.volume_m3 = share;
              out.push_back(extra);
            }
          }
        }
      }
      cursor = {total, ts_ms, true};
    }
  } else {
    own.volume_estimated_m3 = rate_volume(r);
    if (own.volume_estimated_m3 > 0) src = volume_source::rate_fallback;
  }
  if (source != nullptr) *source = src;
  out.insert(out.begin(), own);
  return out;
}

}  // namespace sewage::gateway
