#pragma once
/// \file
/// The sensor driver extension point: a small pure interface, plus a registry filled in main().
/// Adding a driver = one new source file + one `registry.add(...)` line.
#include "sewage/agent/config.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/timestamp.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::agent {

/// What a point measures. The sampler turns these into the record's quantities.
enum class quantity {
  flow_rate,        ///< instantaneous flow, m3/h
  flow_total,       ///< whole totalizer reading, m3
  flow_total_int,   ///< integer part of the totalizer, m3 (MFE600H 0x1018, u32)
  flow_total_frac,  ///< fractional part of the totalizer, m3, in [0, 1) (MFE600H 0x101A)
  turbidity,        ///< NTU
  sludge_level,     ///< m above tank floor
  cleanout_switch,  ///< float switch: 1 = sludge high, 0 = normal
  energy_total,     ///< kWh meter: total active energy, kWh (e.g. DTSU666 0x401E, float32)
  power,            ///< active power, kW (e.g. DTSU666 0x2012; scale W to kW in the point)
  pump_current,     ///< pump motor current, A (a meter phase current or a 4-20 mA transducer)
  // Pump-station profile (pump_station.hpp): declared in [pump_station], never as device points.
  wet_well_level,        ///< wet-well level, m above the wet-well floor
  pump_running,          ///< run feedback of pump `sample::index`: 1 = running
  pump_fault,            ///< fault (trip) input of pump `sample::index`: 1 = tripped
  station_pump_current,  ///< motor current of pump `sample::index`, A
  mains_power,           ///< mains present at the station: 1 = present
};

/// True for the quantities of the pump-station profile (declared in [pump_station]).
bool is_pump_station_quantity(quantity q) noexcept;

/// Config spelling ("flow_rate", ...) → quantity; std::nullopt when unknown.
std::optional<quantity> parse_quantity(std::string_view s) noexcept;
std::string_view to_string(quantity q) noexcept;

/// Quantities that some `[[device.point]]` of `config` names (unknown names are skipped: the
/// driver reports them). Never throws except bad_alloc.
std::set<quantity> fitted_quantities(const agent_config& config);

/// One reading of one point: a value with status ok, or a failure status with a reason.
struct sample {
  quantity what{quantity::flow_rate};
  proto::quantity_status status{proto::quantity_status::ok};
  double value{0.0};   ///< unit of `what`; meaningful only when ok
  std::string reason;  ///< set when not ok
  std::uint8_t index{0};  ///< pump index (order of [[pump_station.pump]]) for per-pump quantities
};

/// A device that can be polled. `read` is called from the device's own polling thread only (a
/// driver need not be thread-safe); it may block up to its configured timeout × retries, and
/// never throws except std::bad_alloc: every failure becomes a sample status.
class sensor_driver {
 public:
  virtual ~sensor_driver() = default;
  /// Device name from the config, for logs.
  [[nodiscard]] virtual const std::string& name() const noexcept = 0;
  /// Reads every point once. `now` is the agent clock's time (simulated drivers use it).
  virtual std::vector<sample> read(proto::timestamp now) = 0;
};

/// Builds a driver from its [[device]] table. Throws config_error naming the key on bad config;
/// must not open connections (so --check-config works offline).
using driver_factory = std::function<std::unique_ptr<sensor_driver>(const device_config&)>;

/// Driver type name → factory. Filled once in main(); not thread-safe while being filled.
class driver_registry {
 public:
  /// Registers `factory` for `driver` names; throws std::logic_error on a duplicate name.
  void add(std::string driver, driver_factory factory);
  /// Creates the driver named by `device.driver`. Throws config_error("<key>.driver") when unknown,
  /// or whatever the factory throws.
  [[nodiscard]] std::unique_ptr<sensor_driver> create(const device_config& device) const;
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  std::map<std::string, driver_factory, std::less<>> factories_;
};

}  // namespace sewage::agent
