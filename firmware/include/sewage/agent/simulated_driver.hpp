#pragma once
/// \file
/// The `simulated` sensor driver, for tests and the county simulator. Each [[device.point]] has a
/// `quantity` and a `profile`:
///  - "sine":   base + amplitude*sin(2*pi*t/period_s) + uniform noise in [-noise, +noise]
///  - "series": `values` stepped every `step_s` seconds, repeating
///  - "ramp":   start + per_hour * hours since the first read (totalizers)
/// The time is the agent clock's (so --time-scale speeds profiles up). Noise is seeded from the
/// device name, so runs are reproducible.
#include "sewage/agent/sensor_driver.hpp"

#include <random>

namespace sewage::agent {

struct simulated_point {
  quantity what{quantity::flow_rate};
  enum class shape { sine, series, ramp } profile{shape::sine};
  double base{0}, amplitude{0}, period_s{86400}, noise{0};
  std::vector<double> values;
  double step_s{60};
  double start{0}, per_hour{0};
};

class simulated_driver final : public sensor_driver {
 public:
  /// Throws config_error on bad config.
  explicit simulated_driver(const device_config& device);
  [[nodiscard]] const std::string& name() const noexcept override { return name_; }
  /// Evaluates every profile at `now`. Never fails.
  std::vector<sample> read(proto::timestamp now) override;
  static std::unique_ptr<sensor_driver> create(const device_config& device);

 private:
  std::string name_;
  std::vector<simulated_point> points_;
  std::mt19937_64 rng_;
  std::optional<proto::timestamp> first_;
};

}  // namespace sewage::agent
