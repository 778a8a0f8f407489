#include "sewage/agent/simulated_driver.hpp"

#include <cmath>
#include <functional>
#include <numbers>

namespace sewage::agent {

simulated_driver::simulated_driver(const device_config& device)
    : name_(device.name), rng_(std::hash<std::string>{}(device.name)) {
  const toml::table& t = device.table;
  detail::reject_unknown(t, {"name", "driver", "point"}, device.key);
  const toml::node* pts = t.get("point");
  const toml::array* arr = pts != nullptr ? pts->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) throw config_error(device.key + ".point", "at least one [[device.point]] is required");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string key = device.key + ".point[" + std::to_string(i) + "]";
    const auto* pt = (*arr)[i].as_table();
    if (pt == nullptr) throw config_error(key, "must be a table");
    detail::reject_unknown(*pt, {"quantity", "profile", "base", "amplitude", "period_s", "noise", "values",
                                 "step_s", "start", "per_hour"},
                           key);
    simulated_point p;
    const std::string q = detail::get_string(*pt, "quantity", key, std::nullopt);
    const auto qq = parse_quantity(q);
    if (!qq) throw config_error(key + ".quantity", "unknown quantity '" + q + "'");
    p.what = *qq;
    const std::string prof = detail::get_string(*pt, "profile", key, "sine");
    if (prof == "sine") {
      p.profile = simulated_point::shape::sine;
      p.base = detail::get_double(*pt, "base", key, 0.0, -1e9, 1e9);
      p.amplitude = detail::get_double(*pt, "amplitude", key, 0.0, 0.0, 1e9);
      p.period_s = detail::get_double(*pt, "period_s", key, 86400.0, 1.0, 1e9);
      p.noise = detail::get_double(*pt, "noise", key, 0.0, 0.0, 1e9);
    } else if (prof == "series") {
      p.profile = simulated_point::shape::series;
      const toml::node* v = pt->get("values");
      const toml::array* va = v != nullptr ? v->as_array() : nullptr;
      if (va == nullptr || va->empty()) throw config_error(key + ".values", "must be a non-empty array of numbers");
      for (std::size_t j = 0; j < va->size(); ++j) {
        const auto d = (*va)[j].value<double>();
        if (!d || !std::isfinite(*d)) throw config_error(key + ".values[" + std::to_string(j) + "]", "must be a number");
        p.values.push_back(*d);
      }
      p.step_s = detail::get_double(*pt, "step_s", key, 60.0, 0.001, 1e9);
    } else if (prof == "ramp") {
      p.profile = simulated_point::shape::ramp;
      p.start = detail::get_double(*pt, "start", key, 0.0, 0.0, 4294967295.0);
      p.per_hour = detail::get_double(*pt, "per_hour", key, 0.0, 0.0, 1e6);
    } else {
      throw config_error(key + ".profile", "must be sine, series or ramp, got '" + prof + "'");
    }
    points_.push_back(std::move(p));
  }
}

std::unique_ptr<sensor_driver> simulated_driver::create(const device_config& device) {
  return std::make_unique<simulated_driver>(device);
}

std::vector<sample> simulated_driver::read(proto::timestamp now) {
  if (!first_) first_ = now;
  const double t_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double since_s = std::chrono::duration<double>(now - *first_).count();
  std::vector<sample> out;
  out.reserve(points_.size());
  for (const auto& p : points_) {
    double v = 0;
    switch (p.profile) {
      case simulated_point::shape::sine: {
        v = p.base + p.amplitude * std::sin(2 * std::numbers::pi * std::fmod(t_s, p.period_s) / p.period_s);
        if (p.noise > 0) v += std::uniform_real_distribution<double>(-p.noise, p.noise)(rng_);
        break;
      }
      case simulated_point::shape::series: {
        const auto idx = static_cast<std::size_t>(std::floor(since_s / p.step_s)) % p.values.size();
        v = p.values[idx];
        break;
      }
      case simulated_point::shape::ramp: v = p.start + p.per_hour * since_s / 3600.0; break;
    }
    if (p.what != quantity::sludge_level && p.what != quantity::flow_total_frac) v = std::max(v, 0.0);
    out.push_back(sample{p.what, proto::quantity_status::ok, v, {}});
  }
  return out;
}

}  // namespace sewage::agent
