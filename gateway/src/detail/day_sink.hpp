#pragma once
// Internal: the daily deltas of one record, for the totalizer (aggregates.cpp) and the kWh meter
// (energy.cpp), which book an amount measured over a span on the county days it covers.
#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace sewage::gateway::detail {

/// Collects the deltas of one record, the record's own day first. Not thread-safe (one per call).
class day_sink {
 public:
  /// `zone` must outlive the sink.
  day_sink(std::int32_t own_day, const county_zone& zone) : zone_(zone) { out_.push_back(daily_delta{own_day}); }
  daily_delta& own() { return out_.front(); }
  daily_delta& at(std::int32_t day) {
    for (auto& d : out_)
      if (d.day == day) return d;
    out_.push_back(daily_delta{day});
    return out_.back();
  }
  /// Spreads `amount` measured over (from_ms, to_ms] into `field` (e.g. &daily_delta::volume_m3)
  /// of the county days it spans, in proportion to time. Returns false (and books it all on the
  /// record's day) when the span starts more than `bound_days` days before the record's day.
  bool spread(double amount, std::int64_t from_ms, std::int64_t to_ms, double daily_delta::*field, std::int32_t bound_days) {
    using std::chrono::milliseconds;
    const std::int32_t last = operating_day(proto::timestamp(milliseconds(to_ms - 1)), zone_);
    const std::int32_t first = operating_day(proto::timestamp(milliseconds(from_ms)), zone_);
    if (amount == 0 || first >= last || to_ms <= from_ms) {
      at(last).*field += amount;
      return true;
    }
    if (first < own().day - bound_days) {
      own().*field += amount;
      return false;
    }
    const double span = static_cast<double>(to_ms - from_ms);
    for (std::int32_t d = first; d <= last; ++d) {
      const std::int64_t a = std::max<std::int64_t>(from_ms, zone_.local_midnight(d).time_since_epoch().count());
      const std::int64_t b = std::min<std::int64_t>(to_ms, zone_.local_midnight(d + 1).time_since_epoch().count());
      if (b > a) at(d).*field += amount * static_cast<double>(b - a) / span;
    }
    return true;
  }
  std::vector<daily_delta> take() { return std::move(out_); }

 private:
  const county_zone& zone_;
  std::vector<daily_delta> out_;
};

}  // namespace sewage::gateway::detail
