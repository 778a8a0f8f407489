#include "pump_station_config.hpp"

#include <sewage/proto/limits.hpp>

#include <string>

namespace sewage::gateway::detail {

void check_wet_well_levels(const toml_reader& r, const thresholds& t, std::string_view key) {
  // The low rule clears at low + h and the high rule at high - h: the two bands must not meet,
  // or one level would clear one alert and hold the other.
  if (t.wet_well_low_m + t.wet_well_hysteresis_m >= t.wet_well_high_m - t.wet_well_hysteresis_m)
    r.fail(key, "wet_well_low_m + wet_well_hysteresis_m (" + std::to_string(t.wet_well_low_m + t.wet_well_hysteresis_m) +
                    " m) must be below wet_well_high_m - wet_well_hysteresis_m (" +
                    std::to_string(t.wet_well_high_m - t.wet_well_hysteresis_m) + " m)");
}

void read_pump_station_thresholds(toml_reader& r, thresholds& t) {
  constexpr double max_m = proto::limits::max_wet_well_level_m;
  constexpr std::int64_t max_s = 7 * 86400;
  r.read("wet_well_high_m", t.wet_well_high_m, 0.0, max_m);
  r.read("wet_well_low_m", t.wet_well_low_m, 0.0, max_m);
  r.read("wet_well_hysteresis_m", t.wet_well_hysteresis_m, 0.0, max_m);
  r.read_int("wet_well_debounce_s", t.wet_well_debounce_s, 0, max_s);
  r.read_int("pump_fault_debounce_s", t.pump_fault_debounce_s, 0, max_s);
  r.read_int("power_lost_debounce_s", t.power_lost_debounce_s, 0, max_s);
  r.read("pump_running_fraction", t.pump_running_fraction, 0.01, 1.0);
  r.read_int("pump_no_level_drop_intervals", t.pump_no_level_drop_intervals, 1, 10000);
  r.read("pump_no_level_drop_m", t.pump_no_level_drop_m, 0.001, max_m);
  r.read("pump_runtime_low_ratio", t.pump_runtime_low_ratio, 0.0, 1.0);
  r.read("pump_runtime_high_ratio", t.pump_runtime_high_ratio, 1.0, 100.0);
  r.read("pump_runtime_clear_low_ratio", t.pump_runtime_clear_low_ratio, 0.0, 1.0);
  r.read("pump_runtime_clear_high_ratio", t.pump_runtime_clear_high_ratio, 1.0, 100.0);
  r.read_int("pump_runtime_min_days", t.pump_runtime_min_days, 1, 7);
  r.read("pump_runtime_min_normal_h", t.pump_runtime_min_normal_h, 0.0, 24.0 * proto::limits::max_pumps);
  r.read_int("pump_runtime_debounce_s", t.pump_runtime_debounce_s, 0, max_s);
  check_wet_well_levels(r, t, "wet_well_low_m");
  if (t.pump_runtime_clear_low_ratio < t.pump_runtime_low_ratio)
    r.fail("pump_runtime_clear_low_ratio", "must not be below pump_runtime_low_ratio (hysteresis)");
  if (t.pump_runtime_clear_high_ratio > t.pump_runtime_high_ratio)
    r.fail("pump_runtime_clear_high_ratio", "must not be above pump_runtime_high_ratio (hysteresis)");
}

void read_pump_station_table(toml_reader& r, pump_station_info& info, thresholds& t) {
  constexpr double max_m = proto::limits::max_wet_well_level_m;
  r.read("wet_well_high_m", t.wet_well_high_m, 0.0, max_m);
  r.read("wet_well_low_m", t.wet_well_low_m, 0.0, max_m);
  r.read_int("pumps", info.pumps, 1, static_cast<std::int64_t>(proto::limits::max_pumps));
  double rated = 0;
  r.read("pump_rated_current_a", rated, 0.1, proto::limits::max_station_current_a);
  if (rated > 0) info.pump_rated_current_a = rated;
  r.reject_unknown();
  check_wet_well_levels(r, t, "wet_well_low_m");
}

}  // namespace sewage::gateway::detail
