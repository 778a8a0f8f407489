#pragma once
/// \file
/// The `modbus` sensor driver: Modbus TCP or RTU through libmodbus 3.1.6.
///
/// [[device]] keys (defaults in brackets): transport ("tcp" | "rtu"), host, port [502],
/// unit_id [1] (TCP); serial_device, baud [9600], parity ["N"|"E"|"O"], data_bits [8],
/// stop_bits [1], slave_id [1], extra_delay_ms [0] (RTU); response_timeout_ms [500]; retries [1]; and
/// [[device.point]] tables: quantity, function ["holding"], address, type ["u16"],
/// word_order ["ABCD"], scale [1], offset [0], unit [""], min, max, sentinels [[]], alarm [false],
/// bit (0..15: a digital signal in a u16 status word), invert [false] (digital points).
/// The pump-station points of [pump_station] (pump_station.hpp) are appended to their device's
/// points by parse_config, with the keys `pump` (pump index) and `from` (their config key, used
/// in error messages).
///
/// Devices on the same serial line (or the same Modbus TCP host:port) share one `modbus_bus`
/// (modbus_bus.hpp): one libmodbus context, one device poll at a time, the RTU silent interval
/// kept between frames, the line flushed after a timeout. Devices on one line must agree on baud,
/// parity, data_bits and stop_bits (refused by --check-config otherwise).
///
/// Error handling per point and request: an exception response → `fault` (the link is fine);
/// a timeout or broken frame → the bus recovers the line (modbus_bus.hpp) so a late reply to this
/// request can never be read as the answer to a later one (DEPENDENCIES.md §4); after `retries`
/// further attempts → `stale`. Sentinels → `fault`, values outside [min, max] → `out_of_range`
/// (see point.hpp). Reasons of link failures name the slave and its error counters, e.g.
/// "slave 2: no answer: Connection timed out (3 timeouts)".
#include "sewage/agent/modbus_bus.hpp"
#include "sewage/agent/point.hpp"
#include "sewage/agent/sensor_driver.hpp"

#include <memory>

namespace sewage::agent {

/// One configured point of a Modbus device.
struct modbus_point {
  quantity what{quantity::flow_rate};
  point_spec spec;
  std::string unit;
  /// An alarm point (key `alarm = true`): it is not a measurement; a non-zero value turns every
  /// good sample of the same quantity from this device into `fault` for that poll (e.g. the
  /// MFE600H empty-pipe alarm 0x1024, the Y511 error code at 0x2604).
  bool alarm{false};
  std::uint8_t pump{0};  ///< pump index of a per-pump pump-station point (sample::index)
};

/// Parses the register part of a point table (function, address, type, word_order, scale, offset,
/// min, max, sentinels, bit, invert; other keys are left to the caller). Throws config_error
/// naming `key`.<field> and the reason. Thread-safe.
point_spec parse_point_spec(const toml::table& t, const std::string& key);

/// Parsed [[device]] table of a modbus device.
struct modbus_device_config {
  std::string name;
  std::string key;  ///< "device[1]", for errors
  bool rtu{false};
  std::string host;
  int port{502};
  int unit_id{1};
  std::string serial_device;
  int baud{9600};
  char parity{'N'};
  int data_bits{8};
  int stop_bits{1};
  int response_timeout_ms{500};
  int retries{1};
  int extra_delay_ms{0};  ///< RTU: quiet time added before every request to this slave
  std::vector<modbus_point> points;
  /// The link this device talks on (extra_delay of the line is left 0: see modbus_bus_registry).
  [[nodiscard]] bus_endpoint endpoint() const;
};

/// Parses and validates a [[device]] table; throws config_error naming the key. Thread-safe.
modbus_device_config parse_modbus_device(const device_config& device);

class modbus_driver final : public sensor_driver {
 public:
  /// Talks on `bus` (shared with the other devices of the same line). Does not connect; the
  /// first read() does.
  modbus_driver(modbus_device_config config, std::shared_ptr<modbus_bus> bus);
  /// A device alone on its own link (tests, tools).
  explicit modbus_driver(modbus_device_config config);
  ~modbus_driver() override;
  modbus_driver(const modbus_driver&) = delete;
  modbus_driver& operator=(const modbus_driver&) = delete;

  [[nodiscard]] const std::string& name() const noexcept override { return config_.name; }
  /// Reads every point. Points of one register table whose addresses touch or overlap are read in
  /// one request (see read_groups()), so values that belong together come from one moment of the
  /// device. The whole poll holds the shared bus (other devices on the line wait their turn). Not
  /// thread-safe: one polling thread per driver (drivers sharing a bus may poll concurrently).
  std::vector<sample> read(proto::timestamp now) override;

  /// One Modbus request and the points (indexes into the config's points) it serves.
  struct read_group {
    register_kind kind{register_kind::holding};
    std::uint16_t address{0};
    int count{0};
    std::vector<std::size_t> points;
  };
  /// The requests a poll makes, in address order per table. Never throws except bad_alloc.
  static std::vector<read_group> plan_reads(const std::vector<modbus_point>& points);
  /// Most registers in one read request (Modbus application protocol v1.1b3, 6.3: 125).
  static constexpr int max_registers_per_read = 125;

  /// Factory for the driver registry: devices get their bus from `buses`, which must outlive
  /// every driver made. The factory throws config_error for bad keys and for a serial line
  /// opened with two different settings (modbus_bus_registry::acquire).
  static driver_factory factory(modbus_bus_registry& buses);

  /// The shared link (tests).
  [[nodiscard]] const std::shared_ptr<modbus_bus>& bus() const noexcept { return bus_; }

 private:
  struct block_result {
    proto::quantity_status status{proto::quantity_status::stale};
    std::string reason;
  };
  block_result read_block(modbus_bus::session& s, register_kind kind, std::uint16_t address, int count,
                          std::uint16_t* regs);
  std::string slave_reason(const std::string& what) const;

  modbus_device_config config_;
  std::shared_ptr<modbus_bus> bus_;
  std::vector<read_group> groups_;
};

}  // namespace sewage::agent
