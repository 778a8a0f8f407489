#include "sewage/sim/sludge_truth.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace sewage::sim {

treated_volume_history::treated_volume_history(double window_days, double resolution_days)
    : window_days_(window_days), resolution_days_(resolution_days) {
  if (!(window_days > 0.0)) throw std::invalid_argument("window_days: must be > 0");
  if (!(resolution_days > 0.0)) throw std::invalid_argument("resolution_days: must be > 0");
}

void treated_volume_history::add(double t_days, double volume_m3) {
  // (less a rounding margin, so that samples exactly one resolution apart are all kept)
  if (!samples_.empty() && t_days < samples_.back().first + resolution_days_ * (1.0 - 1e-9)) return;
  samples_.emplace_back(t_days, volume_m3);
  // Keep one sample at or before the window's start, for the interpolation there.
  while (samples_.size() >= 2 && samples_[1].first <= t_days - window_days_) samples_.pop_front();
}

treated_span treated_volume_history::until(double t_days, double volume_m3) const {
  if (samples_.empty() || !(samples_.front().first < t_days)) return {};
  const double start = std::max(t_days - window_days_, samples_.front().first);
  // The cumulative volume at `start`: between the samples around it, or between the last
  // sample and now.
  double at_start = samples_.front().second;
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    const auto [t0, v0] = samples_[i];
    if (t0 > start) break;
    const auto [t1, v1] = i + 1 < samples_.size() && samples_[i + 1].first <= t_days
                              ? samples_[i + 1]
                              : std::pair<double, double>{t_days, volume_m3};
    at_start = t1 > t0 ? v0 + (v1 - v0) * (start - t0) / (t1 - t0) : v0;
  }
  return {volume_m3 - at_start, t_days - start};
}

void add_history_before_start(treated_volume_history& history, const influent_profile& profile,
                              terminal_params live, double days) {
  live.phase_days -= days;  // its t = 0 lies `days` before the live model's
  terminal_model past(profile, live);
  const double step = 0.25 / 24.0;
  std::vector<std::pair<double, double>> samples{{0.0, 0.0}};
  const auto steps = static_cast<long>(std::ceil(days / step));
  for (long i = 1; i <= steps; ++i) {
    const double t = std::min(days, static_cast<double>(i) * step);
    past.advance_to(t, weather_kind::dry, 0.0, {});
    samples.emplace_back(t, past.volume_m3());
  }
  const double total = past.volume_m3();
  for (const auto& [t, v] : samples) history.add(t - days, v - total);
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
