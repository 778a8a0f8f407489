#include "sewage/sim/sludge_truth.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

namespace sewage::sim {

treated_span dry_weather_treated(const terminal_params& params) noexcept {
  return {params.design_capacity_m3d * params.load_factor, 1.0};
}

double sludge_start_level_m(const influent_profile& profile, const terminal_params& params, double due_in_days,
                            double lead_h, std::span<const weather_event> weather, double raise_m) {
  if (!(due_in_days > 0.0)) throw std::invalid_argument("due_in_days: must be > 0");
  if (!(lead_h >= 0.0)) throw std::invalid_argument("lead_h: must be >= 0");
  terminal_model m(profile, params);
  const double end_days = lead_h / 24.0 + due_in_days;
  // A day at a time, so that a due day beyond the tank's reach is refused before years are run.
  for (double t = std::min(1.0, end_days);; t = std::min(t + 1.0, end_days)) {
    m.advance_to(t, weather, {});
    if (!(raise_m - params.sludge_m_per_m3 * m.volume_m3() >= 0.0))
      throw std::invalid_argument("due_in_days: " + std::to_string(due_in_days) + " days of this village's " +
                                  std::to_string(m.volume_m3() / t) +
                                  " m3/day would start the sludge below the tank floor");
    if (t >= end_days) break;
  }
  return raise_m - params.sludge_m_per_m3 * m.volume_m3();
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
