#include "sewage/agent/stats.hpp"

#include <algorithm>
#include <cmath>

namespace sewage::agent {

using proto::quantity_status;

void window_stats::add(const sample& s) {
  switch (s.status) {
    case quantity_status::ok:
      if (good_ == 0) {
        min_ = max_ = s.value;
      } else {
        min_ = std::min(min_, s.value);
        max_ = std::max(max_, s.value);
      }
      ++good_;
      sum_ += s.value;
      last_ = s.value;
      return;
    case quantity_status::stale: ++stale_; break;
    case quantity_status::fault: ++fault_; break;
    case quantity_status::out_of_range: ++out_of_range_; break;
  }
  last_reason_ = s.reason;
}

quantity_status window_stats::status() const noexcept {
  const std::uint32_t failed = stale_ + fault_ + out_of_range_;
  if (good_ > 0 && good_ >= failed) return quantity_status::ok;
  if (failed == 0) return quantity_status::stale;
  if (stale_ >= fault_ + out_of_range_) return quantity_status::stale;
  if (out_of_range_ > fault_) return quantity_status::out_of_range;
  return quantity_status::fault;
}

std::optional<double> window_stats::mean() const noexcept {
  if (good_ == 0) return std::nullopt;
  return sum_ / good_;
}
std::optional<double> window_stats::min() const noexcept {
  if (good_ == 0) return std::nullopt;
  return min_;
}
std::optional<double> window_stats::max() const noexcept {
  if (good_ == 0) return std::nullopt;
  return max_;
}
std::optional<double> window_stats::last() const noexcept {
  if (good_ == 0) return std::nullopt;
  return last_;
}

void window_stats::reset() noexcept {
  good_ = stale_ = fault_ = out_of_range_ = 0;
  sum_ = min_ = max_ = last_ = 0;
  last_reason_.clear();
}

totalizer::step totalizer::update(double reading_m3) noexcept {
  step s;
  if (!std::isfinite(reading_m3) || reading_m3 < 0 || reading_m3 >= range_m3) {
    s.what = event::implausible;
    return s;
  }
  if (!last_) {
    last_ = reading_m3;
    s.what = event::first;
    return s;
  }
  const double prev = *last_;
  last_ = reading_m3;
  if (reading_m3 >= prev) {
    const double d = reading_m3 - prev;
    if (d > max_step_m3_) {
      s.what = event::implausible;
      return s;
    }
    s.volume_m3 = d;
    s.what = event::normal;
    return s;
  }
  if (prev >= 0.9 * range_m3 && reading_m3 < 0.1 * range_m3) {
    const double d = (range_m3 - prev) + reading_m3;
    if (d > max_step_m3_) {
      s.what = event::implausible;
      return s;
    }
    s.volume_m3 = d;
    s.what = event::wrap;
    return s;
  }
  s.what = event::reset;
  return s;
}

std::optional<double> combine_totalizer(double integer_part, double fraction) noexcept {
  if (!std::isfinite(integer_part) || !std::isfinite(fraction)) return std::nullopt;
  if (integer_part < 0 || fraction < 0 || fraction >= 1.0) return std::nullopt;
  return std::floor(integer_part) + fraction;
}

bool stuck_detector::update(double value) noexcept {
  if (last_ && *last_ == value) {
    ++run_;
  } else {
    last_ = value;
    run_ = 0;
  }
  return polls_ > 0 && run_ >= polls_;
}

bool cleanout_detector::update(double level_m, proto::timestamp now) noexcept {
  if (level_m < clear_m_) {
    flag_ = false;
    above_since_.reset();
    return flag_;
  }
  if (level_m > raise_m_) {
    if (!above_since_) above_since_ = now;
    if (now - *above_since_ >= std::chrono::seconds(hold_s_)) flag_ = true;
  } else {
    above_since_.reset();  // between clear and raise: keep the flag, restart the hold
  }
  return flag_;
}

}  // namespace sewage::agent
