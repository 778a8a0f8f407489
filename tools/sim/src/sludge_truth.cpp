#include "sewage/sim/sludge_truth.hpp"

#include <chrono>

namespace sewage::sim {

treated_span dry_weather_treated(const terminal_params& params) noexcept {
  return {params.design_capacity_m3d * params.load_factor, 1.0};
}

sludge_outlook true_sludge_outlook(double level_m, double sludge_m_per_m3, treated_span treated,
                                   double extra_m_per_h, double raise_m,
                                   std::chrono::system_clock::time_point now) noexcept {
  sludge_outlook o;
  o.rise_m_per_day = (treated.days > 0.0 ? sludge_m_per_m3 * treated.volume_m3 / treated.days : 0.0) +
                     extra_m_per_h * 24.0;
  if (level_m >= raise_m) {
    o.due_at = now;
    return o;
  }
  if (!(o.rise_m_per_day > 0.0)) return o;
  constexpr double horizon_days = 36525.0;  // 100 years: beyond it, no date (and no overflow)
  const double days = (raise_m - level_m) / o.rise_m_per_day;
  if (!(days <= horizon_days)) return o;
  o.due_at = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       std::chrono::duration<double>(days * 86400.0));
  return o;
}

}  // namespace sewage::sim
