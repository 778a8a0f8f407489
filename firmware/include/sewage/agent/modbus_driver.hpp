#pragma once
/// \file
/// The `modbus` sensor driver: Modbus TCP or RTU through libmodbus 3.1.6.
///
/// [[device]] keys (defaults in brackets): transport ("tcp" | "rtu"), host, port [502],
/// unit_id [1] (TCP); serial_device, baud [9600], parity ["N"|"E"|"O"], data_bits [8],
/// stop_bits [1], slave_id [1] (RTU); response_timeout_ms [500]; retries [1]; and
/// [[device.point]] tables: quantity, function ["holding"], address, type ["u16"],
/// word_order ["ABCD"], scale [1], offset [0], unit [""], min, max, sentinels [[]], alarm [false].
///
/// Error handling per point and request: an exception response → `fault` (the link is fine);
/// a timeout or broken frame → the connection is flushed and closed, so a late reply to this
/// request can never be read as the answer to a later one (DEPENDENCIES.md §4), and the next
/// attempt reconnects; after `retries` further attempts → `stale`. Sentinels → `fault`, values
/// outside [min, max] → `out_of_range` (see point.hpp).
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
};

/// Parsed [[device]] table of a modbus device.
struct modbus_device_config {
  std::string name;
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
  std::vector<modbus_point> points;
};

/// Parses and validates a [[device]] table; throws config_error naming the key. Thread-safe.
modbus_device_config parse_modbus_device(const device_config& device);

class modbus_driver final : public sensor_driver {
 public:
  /// Does not connect; the first read() does. Throws config_error on bad config.
  explicit modbus_driver(modbus_device_config config);
  ~modbus_driver() override;
  modbus_driver(const modbus_driver&) = delete;
  modbus_driver& operator=(const modbus_driver&) = delete;

  [[nodiscard]] const std::string& name() const noexcept override { return config_.name; }
  /// Reads every point. Points of one register table whose addresses touch or overlap are read in
  /// one request (see read_groups()), so values that belong together come from one moment of the
  /// device. Not thread-safe: one polling thread per driver.
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

  /// Factory for the registry.
  static std::unique_ptr<sensor_driver> create(const device_config& device);

 private:
  struct context;
  struct block_result {
    proto::quantity_status status{proto::quantity_status::stale};
    std::string reason;
  };
  block_result read_block(register_kind kind, std::uint16_t address, int count, std::uint16_t* regs);
  bool ensure_connected(std::string& why);
  void drop_connection() noexcept;

  modbus_device_config config_;
  std::unique_ptr<context> ctx_;
  std::vector<read_group> groups_;
};

}  // namespace sewage::agent
