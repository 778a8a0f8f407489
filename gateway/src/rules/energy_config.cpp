#include "energy_config.hpp"

#include <sewage/proto/limits.hpp>

namespace sewage::gateway::detail {

void read_energy_thresholds(toml_reader& r, thresholds& t) {
  constexpr double max_kw = proto::limits::max_power_kw;
  constexpr double max_a = proto::limits::max_current_a;
  constexpr double max_m3h = proto::limits::max_flow_m3h;
  constexpr std::int64_t max_s = 7 * 86400;
  r.read("energy_peak_kw", t.energy_peak_kw, 0.1, max_kw);
  r.read("power_without_flow_raise_kw", t.power_without_flow_raise_kw, 0.0, max_kw);
  r.read("power_without_flow_clear_kw", t.power_without_flow_clear_kw, 0.0, max_kw);
  r.read("pump_running_a", t.pump_running_a, 0.0, max_a);
  r.read("pump_stopped_a", t.pump_stopped_a, 0.0, max_a);
  r.read("power_without_flow_flow_m3h", t.power_without_flow_flow_m3h, 0.0, max_m3h);
  r.read("power_without_flow_flow_clear_m3h", t.power_without_flow_flow_clear_m3h, 0.0, max_m3h);
  r.read_int("power_without_flow_debounce_s", t.power_without_flow_debounce_s, 0, max_s);
  r.read("flow_without_power_flow_m3h", t.flow_without_power_flow_m3h, 0.0, max_m3h);
  r.read("flow_without_power_flow_clear_m3h", t.flow_without_power_flow_clear_m3h, 0.0, max_m3h);
  r.read("flow_without_power_raise_kw", t.flow_without_power_raise_kw, 0.0, max_kw);
  r.read("flow_without_power_clear_kw", t.flow_without_power_clear_kw, 0.0, max_kw);
  r.read_int("flow_without_power_debounce_s", t.flow_without_power_debounce_s, 0, max_s);
  if (t.power_without_flow_clear_kw > t.power_without_flow_raise_kw)
    r.fail("power_without_flow_clear_kw", "must not be above power_without_flow_raise_kw (hysteresis)");
  if (t.pump_stopped_a > t.pump_running_a) r.fail("pump_stopped_a", "must not be above pump_running_a (hysteresis)");
  if (t.power_without_flow_flow_clear_m3h < t.power_without_flow_flow_m3h)
    r.fail("power_without_flow_flow_clear_m3h", "must not be below power_without_flow_flow_m3h (hysteresis)");
  if (t.flow_without_power_flow_clear_m3h > t.flow_without_power_flow_m3h)
    r.fail("flow_without_power_flow_clear_m3h", "must not be above flow_without_power_flow_m3h (hysteresis)");
  if (t.flow_without_power_clear_kw < t.flow_without_power_raise_kw)
    r.fail("flow_without_power_clear_kw", "must not be below flow_without_power_raise_kw (hysteresis)");
}

}  // namespace sewage::gateway::detail
