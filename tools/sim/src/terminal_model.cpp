#include "sewage/sim/terminal_model.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace sewage::sim {
namespace {
constexpr double max_step_days = 30.0 / 86400.0;
constexpr double max_sludge_level_m = 3.0;  // a terminal tank is full before this
}  // namespace

terminal_params village_params(double design_capacity_m3d, std::uint64_t index) {
  terminal_params params;
  params.design_capacity_m3d = design_capacity_m3d;
  std::mt19937_64 g(1000 + index);
  params.phase_days = std::uniform_real_distribution<double>(0.0, 14.0)(g);
  params.load_factor = std::uniform_real_distribution<double>(0.45, 0.75)(g);
  params.sludge_level_start_m = std::uniform_real_distribution<double>(0.2, 0.8)(g);
  // Meters that have run for years: their readings leave room for weeks of history before the
  // start (history.hpp) without going below zero.
  params.totalizer_start_m3 = std::floor(std::uniform_real_distribution<double>(5000.0, 60000.0)(g));
  params.meter_start_kwh = 20000.0;
  return params;
}

terminal_model::terminal_model(const influent_profile& profile, terminal_params params)
    : profile_(profile),
      params_(params),
      scale_(0.0),
      totalizer_m3_(params.totalizer_start_m3),
      sludge_level_m_(params.sludge_level_start_m),
      energy_kwh_(params.meter_start_kwh) {
  if (!(params_.design_capacity_m3d > 0.0)) {
    throw std::invalid_argument("design_capacity_m3d must be > 0");
  }
  scale_ = params_.design_capacity_m3d * params_.load_factor / profile_.mean_q_m3d();
  sample(0.0, std::span<const weather_event>{}, {});
}

void terminal_model::sample(double t_days, std::span<const weather_event> weather,
                            const physical_faults& faults) {
  const auto dry = profile_.at(t_days + params_.phase_days);
  const auto in = apply_weather(dry, weather, t_days);
  flow_m3h_ = faults.no_flow ? 0.0 : in.q_m3d * scale_ / 24.0 * std::clamp(faults.inflow_share, 0.0, 3.0);
  const double effluent_tss = in.tss_gm3 * (1.0 - params_.tss_removal);
  turbidity_ntu_ = effluent_tss / params_.tss_per_ntu * faults.turbidity_factor;
  const double pump_rate_m3h = params_.design_capacity_m3d / 24.0 * params_.pump_rate_factor;
  const double duty = faults.pump_dry_run ? 1.0 : std::clamp(flow_m3h_ / pump_rate_m3h, 0.0, 1.0);
  power_kw_ = params_.blower_kw + params_.pump_kw * duty;
}

double terminal_model::influent_m3h(double t_days, std::span<const weather_event> weather) const noexcept {
  const auto dry = profile_.at(t_days + params_.phase_days);
  return apply_weather(dry, weather, t_days).q_m3d * scale_ / 24.0;
}

void terminal_model::advance_to(double t_days, std::span<const weather_event> weather,
                                const physical_faults& faults) {
  while (t_days_ < t_days) {
    const double step = std::min(max_step_days, t_days - t_days_);
    const double before_m3h = flow_m3h_;
    const double before_kw = power_kw_;
    sample(t_days_ + step, weather, faults);
    // Trapezoid over the step; flow in m3/h, step in days.
    const double dv = 0.5 * (before_m3h + flow_m3h_) * step * 24.0;
    volume_m3_ += dv;
    energy_kwh_ += 0.5 * (before_kw + power_kw_) * step * 24.0;
    totalizer_m3_ += dv;
    sludge_level_m_ = std::min(max_sludge_level_m,
                               sludge_level_m_ + dv * params_.sludge_m_per_m3 +
                                   faults.sludge_extra_m_per_h * step * 24.0);
    t_days_ += step;
  }
}

}  // namespace sewage::sim
