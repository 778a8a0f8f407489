#include "sewage/sim/pump_station.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace sewage::sim {
namespace {
constexpr double max_sub_step_s = 5.0;
constexpr std::size_t max_pumps = 8;  // proto limits.hpp: pumps 1..8
}  // namespace

pump_station_model::pump_station_model(pump_station_params params) : params_(std::move(params)) {
  const auto& p = params_;
  if (p.pumps.empty()) throw std::invalid_argument("pumps: a station needs at least one pump");
  if (p.pumps.size() > max_pumps) throw std::invalid_argument("pumps: at most 8 per station");
  std::set<std::string> ids;
  for (const auto& pump : p.pumps) {
    if (pump.id.empty() || pump.id.size() > 16) throw std::invalid_argument("pumps.id: 1..16 characters");
    if (!ids.insert(pump.id).second) throw std::invalid_argument("pumps.id: duplicate \"" + pump.id + "\"");
    if (!(pump.rated_flow_m3h > 0)) throw std::invalid_argument("pumps.rated_flow_m3h: must be > 0");
    if (!(pump.rated_current_a >= 0)) throw std::invalid_argument("pumps.rated_current_a: must be >= 0");
  }
  if (!(p.wet_well_area_m2 > 0)) throw std::invalid_argument("wet_well_area_m2: must be > 0");
  if (!(p.duty_off_m >= 0 && p.duty_off_m < p.duty_on_m && p.duty_on_m <= p.standby_on_m &&
        p.standby_on_m < p.overflow_m && p.overflow_m <= p.depth_m))
    throw std::invalid_argument("levels: need 0 <= duty_off_m < duty_on_m <= standby_on_m < overflow_m <= depth_m");
  io_.wet_well_level_m = std::clamp(p.level_start_m, 0.0, p.overflow_m);
  for (const auto& pump : p.pumps) io_.pumps.push_back(pump_io{pump.id, false, false, 0.0});
  starts_.assign(p.pumps.size(), 0);
}

bool pump_station_model::is_tripped(std::size_t i, const station_faults& f) const noexcept {
  if (f.all_tripped) return true;
  return std::find(f.tripped.begin(), f.tripped.end(), params_.pumps[i].id) != f.tripped.end();
}

double pump_station_model::capacity_m3h(const station_faults& f) const noexcept {
  double c = 0;
  for (std::size_t i = 0; i < params_.pumps.size(); ++i)
    if (!is_tripped(i, f)) c += params_.pumps[i].rated_flow_m3h;
  return c;
}

void pump_station_model::advance(double dt_s, double inflow_m3h, const station_faults& faults) {
  if (!(dt_s > 0)) return;
  double q_in = std::isfinite(inflow_m3h) ? std::max(0.0, inflow_m3h) : 0.0;
  if (faults.overload_factor > 0) q_in = faults.overload_factor * capacity_m3h(faults);
  io_.mains_power = !faults.mains_lost;
  double done = 0;
  while (done < dt_s) {
    const double step = std::min(max_sub_step_s, dt_s - done);
    sub_step(step, q_in, faults);
    done += step;
  }
  io_.inflow_m3h = q_in;
}

void pump_station_model::sub_step(double dt_s, double q_in, const station_faults& faults) {
  const auto& p = params_;
  const std::size_t n = p.pumps.size();
  // 1. Trips and power: a tripped pump shows its fault input and stops; without mains nothing
  //    runs and no fault input is lit (the trip relays are on the mains side).
  for (std::size_t i = 0; i < n; ++i) {
    auto& pump = io_.pumps[i];
    pump.fault = !faults.mains_lost && is_tripped(i, faults);
    if (pump.fault || faults.mains_lost) pump.running = false;
  }
  // 2. Level control on the level at the start of the sub-step.
  const double level = io_.wet_well_level_m;
  auto running_count = [&] {
    return static_cast<std::size_t>(std::count_if(io_.pumps.begin(), io_.pumps.end(), [](const pump_io& x) { return x.running; }));
  };
  auto start_next = [&] {
    // The lead rotates at every start over the pumps not tripped and not running.
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (lead_ + k) % n;
      if (io_.pumps[i].running || io_.pumps[i].fault || faults.mains_lost) continue;
      io_.pumps[i].running = true;
      ++starts_[i];
      lead_ = (i + 1) % n;
      return;
    }
  };
  if (level <= p.duty_off_m) {
    for (auto& pump : io_.pumps) pump.running = false;
  } else {
    if (level >= p.duty_on_m && running_count() == 0) start_next();
    if (level >= p.standby_on_m && running_count() == 1) start_next();
  }
  // 3. Mass balance: pumps cannot take the well below duty_off within the sub-step.
  double q_out = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (io_.pumps[i].running) q_out += p.pumps[i].rated_flow_m3h;
  const double area = p.wet_well_area_m2;
  double volume_in = q_in * dt_s / 3600.0;
  double volume_out = q_out * dt_s / 3600.0;
  const double available = (level - p.duty_off_m) * area + volume_in;
  if (volume_out > available) volume_out = std::max(0.0, available);
  double new_level = level + (volume_in - volume_out) / area;
  double spill = 0;
  if (new_level > p.overflow_m) {
    spill = (new_level - p.overflow_m) * area;
    new_level = p.overflow_m;
  }
  io_.wet_well_level_m = std::max(0.0, new_level);
  pumped_m3_ += volume_out;
  spilled_m3_ += spill;
  pumped_total_m3_ += volume_out;
  spilled_total_m3_ += spill;
  io_.outflow_m3h = volume_out * 3600.0 / dt_s;
  io_.spill_m3h = spill * 3600.0 / dt_s;
  for (std::size_t i = 0; i < n; ++i)
    io_.pumps[i].current_a = io_.pumps[i].running ? p.pumps[i].rated_current_a : 0.0;
}

pump_station_model::volumes pump_station_model::take_volumes() noexcept {
  volumes v{pumped_m3_, spilled_m3_};
  pumped_m3_ = 0;
  spilled_m3_ = 0;
  return v;
}

pump_station_params size_station(double mean_inflow_m3h, int pump_count, double level_start_m) {
  if (!std::isfinite(mean_inflow_m3h) || mean_inflow_m3h < 0)
    throw std::invalid_argument("mean_inflow_m3h: must be a finite number >= 0");
  if (pump_count < 1 || pump_count > static_cast<int>(max_pumps))
    throw std::invalid_argument("pumps: must be 1..8");
  pump_station_params p;
  const double rate = std::round(std::clamp(6.0 * mean_inflow_m3h, 3.0, 60.0) * 2.0) / 2.0;
  p.pumps.clear();
  for (int i = 1; i <= pump_count; ++i)
    p.pumps.push_back(pump_params{"P" + std::to_string(i), rate, 1.5 + 0.25 * rate});
  const double active_m3 = mean_inflow_m3h * 1.0;
  p.wet_well_area_m2 = std::clamp(active_m3 / (p.duty_on_m - p.duty_off_m), 0.8, 6.0);
  p.level_start_m = std::clamp(level_start_m, 0.0, p.overflow_m - 1e-6);
  return p;
}

}  // namespace sewage::sim
