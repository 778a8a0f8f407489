#include "sewage/agent/sensor_driver.hpp"

#include <stdexcept>

namespace sewage::agent {

std::optional<quantity> parse_quantity(std::string_view s) noexcept {
  if (s == "flow_rate") return quantity::flow_rate;
  if (s == "flow_total") return quantity::flow_total;
  if (s == "flow_total_int") return quantity::flow_total_int;
  if (s == "flow_total_frac") return quantity::flow_total_frac;
  if (s == "turbidity") return quantity::turbidity;
  if (s == "sludge_level") return quantity::sludge_level;
  if (s == "cleanout_switch") return quantity::cleanout_switch;
  if (s == "energy_total") return quantity::energy_total;
  if (s == "power") return quantity::power;
  if (s == "pump_current") return quantity::pump_current;
  if (s == "wet_well_level") return quantity::wet_well_level;
  if (s == "pump_running") return quantity::pump_running;
  if (s == "pump_fault") return quantity::pump_fault;
  if (s == "station_pump_current") return quantity::station_pump_current;
  if (s == "mains_power") return quantity::mains_power;
  return std::nullopt;
}

std::string_view to_string(quantity q) noexcept {
  switch (q) {
    case quantity::flow_rate: return "flow_rate";
    case quantity::flow_total: return "flow_total";
    case quantity::flow_total_int: return "flow_total_int";
    case quantity::flow_total_frac: return "flow_total_frac";
    case quantity::turbidity: return "turbidity";
    case quantity::sludge_level: return "sludge_level";
    case quantity::cleanout_switch: return "cleanout_switch";
    case quantity::energy_total: return "energy_total";
    case quantity::power: return "power";
    case quantity::pump_current: return "pump_current";
    case quantity::wet_well_level: return "wet_well_level";
    case quantity::pump_running: return "pump_running";
    case quantity::pump_fault: return "pump_fault";
    case quantity::station_pump_current: return "station_pump_current";
    case quantity::mains_power: return "mains_power";
  }
  return "unknown";
}

bool is_pump_station_quantity(quantity q) noexcept {
  switch (q) {
    case quantity::wet_well_level:
    case quantity::pump_running:
    case quantity::pump_fault:
    case quantity::station_pump_current:
    case quantity::mains_power: return true;
    default: return false;
  }
}

void driver_registry::add(std::string driver, driver_factory factory) {
  if (factories_.count(driver) != 0) throw std::logic_error("driver registered twice: " + driver);
  factories_.emplace(std::move(driver), std::move(factory));
}

std::unique_ptr<sensor_driver> driver_registry::create(const device_config& device) const {
  const auto it = factories_.find(device.driver);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [k, v] : factories_) known += (known.empty() ? "" : ", ") + k;
    throw config_error(device.key + ".driver", "unknown driver '" + device.driver + "' (known: " + known + ")");
  }
  return it->second(device);
}

std::vector<std::string> driver_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : factories_) out.push_back(k);
  return out;
}

}  // namespace sewage::agent
