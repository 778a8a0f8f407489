#pragma once
/// \file
/// The agent's configuration: a hand-edited TOML file parsed once into an immutable struct.
/// Every key, its default and its meaning is shown in firmware/agent.example.toml.
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::agent {

/// A configuration problem. `what()` is "<key>: <reason>", e.g. "mqtt.keep_alive_s: must be an
/// integer in [5, 3600], got 1". `key()` is the dotted key path ("device[1].point[0].address").
class config_error : public std::runtime_error {
 public:
  config_error(std::string key, const std::string& reason);
  [[nodiscard]] const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

/// MQTT connection settings ([mqtt] table).
struct mqtt_config {
  std::vector<std::string> uris;  ///< uri first, then fallback_uris; ssl:// or mqtts:// (tcp:// only with allow_plaintext)
  /// Opt-in for plain tcp:// / mqtt:// URIs (default false: such a URI is a config error naming
  /// its key). When true, start logs one warning per plain URI (proto::broker_uri_plaintext_warning).
  bool allow_plaintext{false};
  std::string username;           ///< empty: no user name
  std::string password;           ///< secret: never logged, never in get_config
  std::string ca_file;            ///< PEM CA file; enables TLS server verification when set
  std::string cert_file;          ///< client certificate (mutual TLS), PEM
  std::string key_file;           ///< client private key (mutual TLS), PEM; secret path only
  std::uint32_t keep_alive_s{30};
  std::uint32_t reconnect_min_s{1};   ///< first automatic reconnect delay (Paho: whole seconds)
  std::uint32_t reconnect_max_s{60};  ///< cap of the doubling reconnect delay (Paho adds jitter)
  std::uint32_t max_inflight{20};     ///< QoS 1 messages awaiting PUBACK; DEPENDENCIES.md 2.7
  std::uint32_t replay_per_s{500};    ///< cap on queued records published per second
  std::size_t max_packet_bytes{262144};  ///< broker's max_packet_size; larger records are set aside
};

/// Durable queue settings ([queue] table).
struct queue_config {
  std::filesystem::path path{"/var/lib/sewage-agent/queue.db"};
  std::uint64_t max_records{100000};          ///< ~70 days at 60 s
  std::uint64_t max_bytes{64ULL * 1024 * 1024};  ///< payload bytes
  /// Acknowledged records leave the queue in batches (issue 15 item 5, writes to the SD card):
  /// once this many are delivered, `delete_after_s` after the first of them, on a reconnect and
  /// at shutdown. Every delete is a WAL commit with its fsync: one per record was half of the
  /// bytes written (34 KiB per 60 s report, 48 MiB/day, agent_resources_bench). A delivered record
  /// is never sent again while the agent runs; after a crash the undeleted ones are, and the
  /// gateway drops them as duplicates (same epoch and seq). 1 = delete each at once.
  std::uint32_t delete_batch{32};
  std::uint32_t delete_after_s{1800};  ///< s; bounds how long a delivered record stays in the file
};

/// Where the clean-out flag comes from ([cleanout] table).
enum class cleanout_source { none, level, digital_input };

/// Clean-out flag settings: raise when the sludge level stays above `raise_m` for `hold_s`,
/// clear when it falls below `clear_m` (hysteresis); or follow a float switch.
struct cleanout_config {
  cleanout_source source{cleanout_source::none};
  double raise_m{1.5};
  double clear_m{1.2};
  std::uint32_t hold_s{1800};
};

/// Optional picture source ([image] table).
struct image_config {
  std::string command;          ///< run with /bin/sh -c; its stdout must be one JPEG
  std::filesystem::path file;   ///< or read this file (command wins when both are set)
  std::uint32_t period_s{3600};
  std::size_t max_bytes{512 * 1024};  ///< proto::limits::max_image_bytes
  std::uint32_t timeout_s{30};  ///< a slower command is killed
  [[nodiscard]] bool enabled() const noexcept { return !command.empty() || !file.empty(); }
};

/// One instrument connection ([[device]] array entry). The driver named in `driver` reads its own
/// keys from `table` (see driver_registry), so a new driver needs no change here.
struct device_config {
  std::string name;    ///< unique, for logs
  std::string driver;  ///< "modbus", "simulated", ...
  std::string key;     ///< key path of this table, e.g. "device[1]", for error messages
  toml::table table;   ///< the whole [[device]] table
};

/// Settings of one serial line shared by several [[device]] entries ([[serial_line]] array entry).
/// The character format (baud, parity, data and stop bits) stays in each [[device]]; devices on
/// one line must agree on it (modbus_bus_registry refuses otherwise).
struct serial_line_config {
  std::string serial_device;        ///< the line, as written in the devices' serial_device
  std::uint32_t extra_delay_ms{0};  ///< added to the RTU silent interval before every request
  std::string key;                  ///< "serial_line[0]", for error messages
};

/// The [pump_station] table (pump_station.hpp): what parse_pump_station found; its points went
/// into the [[device]] tables they name.
struct pump_station_config {
  std::vector<std::string> pump_ids;  ///< in config order; a sample's `index` is the position here
  std::vector<bool> pump_current;     ///< per pump: a current point is configured
  bool mains_monitored{false};        ///< a mains_power point is configured
};

/// The whole configuration. Immutable after `load_config` / `parse_config`.
struct agent_config {
  std::string terminal_id;
  std::string log_level{"info"};     ///< trace, debug, info, warn, error, critical, off
  double poll_interval_s{5.0};       ///< per-device polling period
  std::uint32_t report_interval_s{60};
  std::uint32_t stuck_after_polls{120};  ///< identical readings that mean "stuck"; 0 = off
  mqtt_config mqtt;
  queue_config queue;
  cleanout_config cleanout;
  image_config image;
  std::vector<device_config> devices;
  std::vector<serial_line_config> serial_lines;
  /// Absent = not a pump station (no [pump_station] table).
  std::optional<pump_station_config> pump_station;
  std::string digest;  ///< SHA-like hex digest of the file content (for the birth message)
};

/// Parses TOML text. `origin` names the source in errors. Throws config_error naming the key and
/// reason (a TOML syntax error names "<origin>:<line>:<column>"). Thread-safe.
agent_config parse_config(std::string_view text, std::string_view origin = "config");

/// Reads and parses a file. Throws config_error (key = the path) if it cannot be read.
agent_config load_config(const std::filesystem::path& path);

/// Checks combinations that parse but could never work on a terminal: no [[device]], a poll
/// interval longer than the report interval, a clean-out source without the point it reads, a
/// [[serial_line]] that no [[device]] uses.
/// Called by sewage-agent (also for --check-config) after load_config; unit tests that build
/// partial configs skip it. Throws config_error naming the key. Thread-safe.
void check_deployable(const agent_config& config);

/// The running configuration as a JSON object for `get_config`: every key, with the password
/// replaced by "<redacted>" when set and key file paths omitted. Never throws except bad_alloc.
nlohmann::json describe_config(const agent_config& config);

namespace detail {
/// Reads helpers shared by drivers: they throw config_error naming `key`.
std::string get_string(const toml::table& t, std::string_view key, const std::string& path,
                       std::optional<std::string> fallback);
double get_double(const toml::table& t, std::string_view key, const std::string& path,
                  std::optional<double> fallback, double lo, double hi);
std::int64_t get_int(const toml::table& t, std::string_view key, const std::string& path,
                     std::optional<std::int64_t> fallback, std::int64_t lo, std::int64_t hi);
bool get_bool(const toml::table& t, std::string_view key, const std::string& path,
              std::optional<bool> fallback);
/// Rejects keys of `t` not in `allowed` (catches typos), naming the first unknown key.
void reject_unknown(const toml::table& t, const std::vector<std::string_view>& allowed,
                    const std::string& path);
}  // namespace detail

}  // namespace sewage::agent
