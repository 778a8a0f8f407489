// The simulated county's history for the gateway's import (history.hpp).
#include "sewage/sim/history.hpp"

#include "sewage/gateway/network/model.hpp"
#include "sewage/sim/influent.hpp"
#include "sewage/sim/network_flow.hpp"
#include "sewage/sim/registry_sites.hpp"
#include "sewage/sim/sludge_truth.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <sewage/proto/telemetry.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sewage::sim {
namespace {

// The clean-out flag is raised and cleared as the county's agents do it (sludge_truth.hpp
// cleanout_raise_m and cleanout_clear_m, county.cpp write_agent_config); the hold time is left
// out at this resolution.

/// One village's history model and its window being built.
struct village {
  std::string id;
  terminal_params live;           ///< the live county's parameters (its start values)
  std::unique_ptr<terminal_model> live_model;     ///< at t = 0: for the network's influent
  std::unique_ptr<terminal_model> model;          ///< the history's: t = 0 is `days` before the start
  int flow_index{-1};             ///< into network_flow::terminals(), -1 = not on the network
  std::uint64_t seq{0};
  double v0{0}, e0{0}, ntu_sum{0}, ntu_min{0}, ntu_max{0};
  int samples{0};
  bool cleanout{false};
};

struct pass_totals {
  std::vector<double> volume_m3, sludge_rise_m, energy_kwh;
};

/// One run over the history. `emit` receives every record (none on the first pass).
pass_totals run_pass(const influent_profile& profile, std::vector<village>& villages, const history_options& o,
                     const gateway::network::network_model* net, const std::vector<registry_site>& reg,
                     const std::function<void(const proto::telemetry_record&)>& emit) {
  const auto steps = static_cast<std::int64_t>(std::llround(o.days * 86400.0 / network_run_step_s));
  const auto start = o.end - std::chrono::seconds(static_cast<std::int64_t>(steps * network_run_step_s));
  const int per_window = static_cast<int>(o.interval_s / network_run_step_s);
  for (auto& v : villages) {
    v.model = std::make_unique<terminal_model>(profile, v.live);
    v.seq = 0;
    v.v0 = v.model->volume_m3();
    v.e0 = v.model->energy_kwh();
    v.ntu_sum = v.samples = 0;
    v.ntu_min = std::numeric_limits<double>::infinity();
    v.ntu_max = 0;
    v.cleanout = v.live.sludge_level_start_m >= cleanout_raise_m;
  }
  std::vector<double> sludge0;
  for (const auto& v : villages) sludge0.push_back(v.model->sludge_level_m());
  std::int64_t step = 0;
  auto on_step = [&](double t_days, const std::vector<double>& shares) {
    ++step;
    for (auto& v : villages) {
      physical_faults f;
      if (v.flow_index >= 0) f.inflow_share = shares.at(static_cast<std::size_t>(v.flow_index));
      v.model->advance_to(t_days + o.days, weather_kind::dry, 0.0, f);
      v.ntu_sum += v.model->turbidity_ntu();
      v.ntu_min = std::min(v.ntu_min, v.model->turbidity_ntu());
      v.ntu_max = std::max(v.ntu_max, v.model->turbidity_ntu());
      ++v.samples;
      if (v.samples < per_window) continue;
      const double level = v.model->sludge_level_m();
      v.cleanout = v.cleanout ? level >= cleanout_clear_m : level >= cleanout_raise_m;
      if (emit) {
        proto::telemetry_record r;
        r.terminal_id = v.id;
        r.epoch = "history";
        r.seq = ++v.seq;
        r.ts = std::chrono::time_point_cast<std::chrono::milliseconds>(
            start + std::chrono::seconds(static_cast<std::int64_t>(static_cast<double>(step) * network_run_step_s)));
        r.interval_s = o.interval_s;
        r.flow = proto::flow_reading{};
        r.flow->status = proto::quantity_status::ok;
        r.flow->rate_m3h = std::max(0.0, (v.model->volume_m3() - v.v0) / o.interval_s * 3600.0);
        r.flow->total_m3 = v.model->totalizer_m3();
        r.turbidity = proto::turbidity_reading{};
        r.turbidity->status = proto::quantity_status::ok;
        r.turbidity->ntu = v.ntu_sum / v.samples;
        r.turbidity->min_ntu = v.ntu_min;
        r.turbidity->max_ntu = v.ntu_max;
        r.sludge = proto::sludge_reading{};
        r.sludge->status = proto::quantity_status::ok;
        r.sludge->level_m = level;
        r.sludge->cleanout_required = v.cleanout;
        r.energy = proto::energy_reading{};
        r.energy->status = proto::quantity_status::ok;
        r.energy->kwh_total = v.model->energy_kwh();
        r.energy->power_kw = (v.model->energy_kwh() - v.e0) / o.interval_s * 3600.0;
        emit(r);
      }
      v.v0 = v.model->volume_m3();
      v.e0 = v.model->energy_kwh();
      v.ntu_sum = v.samples = 0;
      v.ntu_min = std::numeric_limits<double>::infinity();
      v.ntu_max = 0;
    }
  };
  if (net != nullptr) {
    // The network as the county runs it before its start (network_run_before): the same stations,
    // the same steps, so the history ends in the state the county starts in.
    network_flow flow(*net, o.tank_lag_h * 3600.0);
    std::vector<terminal_params> tparams;
    std::vector<const terminal_model*> live_models;
    for (const auto& t : flow.terminals()) {
      const auto it = std::find_if(villages.begin(), villages.end(), [&](const village& v) { return v.id == t.site_id; });
      if (it == villages.end())
        throw std::runtime_error("terminal node " + t.node + ": site_id \"" + t.site_id +
                                 "\" is not a terminal of the registry");
      it->flow_index = static_cast<int>(tparams.size());
      tparams.push_back(it->live);
      live_models.push_back(it->live_model.get());
    }
    auto stations = make_station_models(flow, reg, tparams);
    network_run_before(flow, stations, live_models, o.days, on_step);
  } else {
    const std::vector<double> none;
    for (std::int64_t i = 1; i <= steps; ++i)
      on_step(static_cast<double>(i - steps) * network_run_step_s / 86400.0, none);
  }
  pass_totals t;
  for (std::size_t i = 0; i < villages.size(); ++i) {
    t.volume_m3.push_back(villages[i].model->volume_m3());
    t.sludge_rise_m.push_back(villages[i].model->sludge_level_m() - sludge0[i]);
    t.energy_kwh.push_back(villages[i].model->energy_kwh() - villages[i].live.meter_start_kwh);
  }
  return t;
}

}  // namespace

history_summary write_history(const history_options& o, std::ostream& out) {
  if (!(o.days > 0.0 && o.days <= 60.0)) throw std::invalid_argument("days: must be in (0, 60]");
  const auto step = static_cast<std::uint32_t>(network_run_step_s);
  if (o.interval_s < 60 || o.interval_s > 3600 || 86400 % o.interval_s != 0 || o.interval_s % step != 0)
    throw std::invalid_argument("interval_s: must be 60..3600 s, a multiple of 30 s that divides a day");
  if (std::fmod(o.days * 86400.0, o.interval_s) != 0.0)
    throw std::invalid_argument("days: must be a whole number of report intervals");
  if (!(o.tank_lag_h >= 0.05 && o.tank_lag_h <= 24.0)) throw std::invalid_argument("tank_lag_h: must be in [0.05, 24] h");
  const auto profile = influent_profile::load_bsm1_csv(o.influent);
  const auto reg = read_registry_sites(o.registry);
  std::optional<gateway::network::network_model> net;
  if (!o.network.empty()) net = gateway::network::load_network(o.network);
  std::vector<village> villages;
  std::uint64_t n = 0;  // terminals in registry order, as county.cpp numbers its villages
  for (const auto& site : reg) {
    if (site.pump_station) continue;
    village v;
    v.id = site.id;
    v.live = village_params(site.design_capacity_m3d, n++);
    for (const auto& e : o.sludge) {
      if (e.terminal != site.id) continue;
      try {
        v.live.sludge_level_start_m = sludge_start_level_m(profile, v.live, e.due_in_days, o.lead_h,
                                                           weather_events_days(o.weather, o.lead_h));
      } catch (const std::invalid_argument& x) {
        throw std::invalid_argument("sludge: [[sludge]] of " + site.id + ": " + x.what());
      }
    }
    v.live_model = std::make_unique<terminal_model>(profile, v.live);
    // The history's model: its t = 0 is `days` before the live start.
    v.live.phase_days -= o.days;
    villages.push_back(std::move(v));
  }
  // First pass: what the meters count over the history, so that it ends on the live model's
  // starting readings.
  const auto counted = run_pass(profile, villages, o, net ? &*net : nullptr, reg, {});
  for (std::size_t i = 0; i < villages.size(); ++i) {
    auto& p = villages[i].live;
    const double totalizer = p.totalizer_start_m3, kwh = p.meter_start_kwh;
    p.totalizer_start_m3 -= counted.volume_m3[i];
    p.sludge_level_start_m -= counted.sludge_rise_m[i];
    p.meter_start_kwh -= counted.energy_kwh[i];
    const bool near_level = std::any_of(o.sludge.begin(), o.sludge.end(),
                                        [&](const scenario_sludge& e) { return e.terminal == villages[i].id; });
    if (p.sludge_level_start_m < 0.0 && near_level)
      throw std::runtime_error("terminal " + villages[i].id + ": its [[sludge]] start level leaves no room for " +
                               std::to_string(o.days) + " days of history above the tank floor: fewer days, or a "
                               "nearer due_in_days");
    if (p.totalizer_start_m3 < 0.0 || p.meter_start_kwh < 0.0 || p.sludge_level_start_m < 0.0)
      throw std::runtime_error("terminal " + villages[i].id + ": " + std::to_string(o.days) +
                               " days of history need more than its meters read at the start (flowmeter " +
                               std::to_string(totalizer) + " m3, kWh meter " + std::to_string(kwh) + "): fewer days");
  }
  history_summary sum;
  sum.terminals = villages.size();
  run_pass(profile, villages, o, net ? &*net : nullptr, reg, [&](const proto::telemetry_record& r) {
    if (const auto problems = proto::validate(r); !problems.empty())
      throw std::logic_error("terminal " + r.terminal_id + ": history record " + std::to_string(r.seq) +
                             " is not a valid payload: " + problems.front().to_string());
    out << proto::encode(r) << '\n';
    ++sum.records;
  });
  if (!out) throw std::runtime_error("history: writing failed");
  return sum;
}

}  // namespace sewage::sim
