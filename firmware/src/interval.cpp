#include "sewage/agent/interval.hpp"

#include "sewage/proto/limits.hpp"

#include <spdlog/spdlog.h>

#include <sstream>

namespace sewage::agent {

using proto::quantity_status;

interval_builder::interval_builder(const agent_config& config, std::set<quantity> fitted)
    : fitted_(std::move(fitted)),
      cleanout_source_(config.cleanout.source),
      stuck_flow_(config.stuck_after_polls),
      stuck_turbidity_(config.stuck_after_polls),
      stuck_level_(config.stuck_after_polls),
      cleanout_(config.cleanout.raise_m, config.cleanout.clear_m, config.cleanout.hold_s) {
  if (config.pump_station) station_.emplace(*config.pump_station);
}

sample interval_builder::check(sample s) {
  if (s.status != quantity_status::ok) return s;
  double lo = 0;
  double hi = 0;
  switch (s.what) {
    case quantity::flow_rate: hi = proto::limits::max_flow_m3h; break;
    case quantity::flow_total:
    case quantity::flow_total_int: hi = proto::limits::max_total_m3 - 1; break;
    case quantity::flow_total_frac: hi = 1.0; break;
    case quantity::turbidity: hi = proto::limits::max_turbidity_ntu; break;
    case quantity::sludge_level: hi = proto::limits::max_sludge_level_m; break;
    case quantity::cleanout_switch: hi = 1.0; break;
    case quantity::energy_total: hi = proto::limits::max_energy_kwh; break;
    case quantity::power: hi = proto::limits::max_power_kw; break;
    case quantity::pump_current: hi = proto::limits::max_current_a; break;
    case quantity::wet_well_level:
    case quantity::pump_running:
    case quantity::pump_fault:
    case quantity::station_pump_current:
    case quantity::mains_power: return s;  // checked by pump_station_window
  }
  if (s.value < lo || s.value > hi) {
    std::ostringstream os;
    os << s.value << " outside the physical range [" << lo << ", " << hi << "]";
    s.status = quantity_status::out_of_range;
    s.reason = os.str();
  }
  return s;
}

void interval_builder::add(const std::vector<sample>& samples, proto::timestamp now) {
  std::optional<double> total_int;
  std::optional<double> total_frac;
  bool total_failed = false;
  std::string total_reason;
  for (const sample& raw : samples) {
    sample s = check(raw);
    auto stuck = [&](stuck_detector& d, bool zero_ok) {
      if (s.status != quantity_status::ok) {
        d.interrupt();
        return;
      }
      if (zero_ok && s.value == 0.0) {
        d.interrupt();
        return;
      }
      if (d.update(s.value)) {
        s.status = quantity_status::fault;
        s.reason = "stuck: same reading for too many polls";
      }
    };
    switch (s.what) {
      case quantity::flow_rate:
        stuck(stuck_flow_, true);
        flow_rate_.add(s);
        break;
      case quantity::flow_total:
        if (s.status == quantity_status::ok) {
          total_int = std::floor(s.value);
          total_frac = s.value - std::floor(s.value);
        } else {
          total_failed = true;
          total_reason = s.reason;
        }
        break;
      case quantity::flow_total_int:
        if (s.status == quantity_status::ok) total_int = s.value; else { total_failed = true; total_reason = s.reason; }
        break;
      case quantity::flow_total_frac:
        if (s.status == quantity_status::ok) total_frac = s.value; else { total_failed = true; total_reason = s.reason; }
        break;
      case quantity::turbidity:
        stuck(stuck_turbidity_, false);
        turbidity_.add(s);
        break;
      case quantity::sludge_level:
        stuck(stuck_level_, false);
        level_.add(s);
        if (s.status == quantity_status::ok && cleanout_source_ == cleanout_source::level) {
          cleanout_.update(s.value, now);
        }
        break;
      case quantity::cleanout_switch:
        switch_.add(s);
        if (s.status == quantity_status::ok) switch_state_ = s.value >= 0.5;
        break;
      case quantity::power:
        power_.add(s);
        break;
      case quantity::pump_current:
        current_.add(s);
        break;
      case quantity::energy_total:
        energy_total_.add(s);
        if (s.status == quantity_status::ok) add_energy_reading(s.value);
        break;
      case quantity::wet_well_level:
      case quantity::pump_running:
      case quantity::pump_fault:
      case quantity::station_pump_current:
      case quantity::mains_power: break;  // below
    }
  }
  if (station_) station_->add(samples, now.time_since_epoch());
  const bool has_total = fitted_.count(quantity::flow_total) + fitted_.count(quantity::flow_total_int) > 0;
  if (!has_total) return;
  sample ts{quantity::flow_total, quantity_status::fault, 0.0, total_reason};
  if (!total_failed && total_int) {
    const auto combined = combine_totalizer(*total_int, total_frac.value_or(0.0));
    if (combined) {
      ts.status = quantity_status::ok;
      ts.value = *combined;
      const auto step = totalizer_.update(*combined);
      volume_m3_ += step.volume_m3;
      if (step.what == totalizer::event::reset) spdlog::warn("flowmeter totalizer reset detected (now {} m3)", *combined);
      if (step.what == totalizer::event::wrap) spdlog::info("flowmeter totalizer wrapped past 2^32 m3");
      if (step.what == totalizer::event::implausible) spdlog::warn("flowmeter totalizer jump to {} m3 ignored as implausible", *combined);
      latest_total_m3_ = *combined;
    } else {
      ts.reason = "totalizer fraction outside [0, 1)";
    }
  } else if (!total_failed) {
    ts.reason = "totalizer integer part missing";
  }
  flow_total_.add(ts);
}

void interval_builder::add_energy_reading(double kwh) {
  const auto step = energy_meter_.update(kwh);
  if (step.what == totalizer::event::reset) spdlog::warn("kWh meter reset or rollover detected (now {} kWh)", kwh);
  if (step.what == totalizer::event::implausible) spdlog::warn("kWh meter jump to {} kWh ignored as implausible", kwh);
  if (step.what != totalizer::event::first) ++energy_steps_;
  energy_kwh_ += step.volume_m3;  // the totalizer's increment, here in kWh
  latest_kwh_ = kwh;
}

void interval_builder::close_energy(proto::telemetry_record& r, std::uint32_t interval_s) {
  const bool has_power = fitted_.count(quantity::power) > 0;
  const bool has_current = fitted_.count(quantity::pump_current) > 0;
  const bool has_meter = fitted_.count(quantity::energy_total) > 0;
  if (has_power || has_current || has_meter) {
    proto::energy_reading e;
    const window_stats& main = has_power ? power_ : has_current ? current_ : energy_total_;
    e.status = main.status();
    if (e.status == quantity_status::ok) {
      if (has_power) {
        e.power_kw = power_.mean();
      } else if (has_meter && energy_steps_ > 0 && interval_s > 0) {
        // Power from the meter's increments over the window (no power point fitted).
        e.power_kw = std::min(energy_kwh_ * 3600.0 / interval_s, proto::limits::max_power_kw);
      }
      if (has_current && current_.status() == quantity_status::ok) e.pump_current_a = current_.mean();
      if (has_meter && energy_total_.good() > 0) e.kwh_total = latest_kwh_;
      if (!e.power_kw && !e.pump_current_a) {
        e.status = quantity_status::stale;
        e.reason = "power needs two meter readings (first window after start)";
      }
    } else if (!main.last_reason().empty()) {
      e.reason = main.last_reason();
    }
    r.energy = e;
  }
  power_.reset();
  current_.reset();
  energy_total_.reset();
  energy_kwh_ = 0;
  energy_steps_ = 0;
}

proto::telemetry_record interval_builder::close(proto::timestamp end, std::uint32_t interval_s,
                                                std::optional<proto::timestamp> monotonic_end) {
  proto::telemetry_record r;
  if (station_) r.pump_station = station_->close(monotonic_end.value_or(end).time_since_epoch(), interval_s);
  r.ts = end;
  r.interval_s = interval_s;
  const bool has_rate = fitted_.count(quantity::flow_rate) > 0;
  const bool has_total = fitted_.count(quantity::flow_total) + fitted_.count(quantity::flow_total_int) > 0;
  last_volume_m3_ = volume_m3_;
  if (has_rate || has_total) {
    proto::flow_reading f;
    if (has_rate) {
      f.status = flow_rate_.status();
      if (f.status == quantity_status::ok) {
        f.rate_m3h = flow_rate_.mean();
      } else {
        f.reason = flow_rate_.last_reason();
      }
    } else {
      // Rate from the totalizer: volume over the window.
      f.status = flow_total_.status();
      if (f.status == quantity_status::ok) {
        f.rate_m3h = std::min(volume_m3_ * 3600.0 / interval_s, proto::limits::max_flow_m3h);
      } else {
        f.reason = flow_total_.last_reason();
      }
    }
    if (has_total && flow_total_.good() > 0) f.total_m3 = latest_total_m3_;
    if (f.reason && f.reason->empty()) f.reason.reset();
    r.flow = f;
  }
  if (fitted_.count(quantity::turbidity) > 0) {
    proto::turbidity_reading t;
    t.status = turbidity_.status();
    if (t.status == quantity_status::ok) {
      t.ntu = turbidity_.mean();
      t.min_ntu = turbidity_.min();
      t.max_ntu = turbidity_.max();
    } else if (!turbidity_.last_reason().empty()) {
      t.reason = turbidity_.last_reason();
    }
    r.turbidity = t;
  }
  const bool has_level = fitted_.count(quantity::sludge_level) > 0;
  const bool has_switch = fitted_.count(quantity::cleanout_switch) > 0;
  if (has_level || has_switch) {
    proto::sludge_reading s;
    const window_stats& main = has_level ? level_ : switch_;
    s.status = main.status();
    if (s.status == quantity_status::ok) {
      if (has_level) s.level_m = level_.mean();
    } else if (!main.last_reason().empty()) {
      s.reason = main.last_reason();
    }
    if (cleanout_source_ == cleanout_source::level && has_level && s.status == quantity_status::ok) {
      s.cleanout_required = cleanout_.flag();
    } else if (cleanout_source_ == cleanout_source::digital_input && has_switch && switch_state_ &&
               switch_.good() > 0) {
      s.cleanout_required = *switch_state_;
      if (!has_level) s.status = quantity_status::ok;
    }
    if (s.status == quantity_status::ok && !s.level_m && !s.cleanout_required) {
      s.status = quantity_status::stale;
      s.reason = "no level and no clean-out flag";
    }
    if (s.status == quantity_status::ok) s.reason.reset();
    r.sludge = s;
  }
  close_energy(r, interval_s);
  flow_rate_.reset();
  flow_total_.reset();
  turbidity_.reset();
  level_.reset();
  switch_.reset();
  volume_m3_ = 0;
  return r;
}

}  // namespace sewage::agent
