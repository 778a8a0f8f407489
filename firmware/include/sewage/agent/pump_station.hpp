#pragma once
/// \file
/// The pump-station profile of the agent (issue 13 item 2): the `[pump_station]` table of the
/// config and the record's `pump_station` section (proto/telemetry.hpp) built from its samples.
///
/// Config (firmware/pump-station.example.toml shows every key):
/// ```
/// [pump_station]
/// device = "station_io"          # [[device]] (driver "modbus") the points are read from
/// level = {function = "input", address = 0, type = "u16", scale = 0.001, min = 0.0, max = 6.0}
/// mains_power = {function = "discrete_input", address = 16}          # optional
/// [[pump_station.pump]]                                              # 1..8 pumps
/// id = "P1"
/// running = {function = "discrete_input", address = 0}
/// fault = {function = "holding", address = 0x10, bit = 1}           # a bit of a status word
/// current = {function = "input", address = 1, scale = 0.1}           # optional, A
/// ```
/// Every point table may name its own `device` (e.g. the level transmitter on another slave of
/// the same RS-485 line). Digital points (running, fault, mains_power) are a coil, a discrete
/// input, or `bit` 0..15 of a u16 holding/input register, with `invert = true` when 1 means off
/// (a "mains failure" alarm input). Analog points (level, current) take the keys of a
/// [[device.point]] (type, word_order, scale, offset, min, max, sentinels).
/// parse_config appends these points to the named devices' points, so the modbus driver reads
/// them in the same poll as the device's other points, on the shared bus.
///
/// Window algorithm (pump_station_window):
/// - level: status by the rules of every quantity (window_stats: ok when good samples are at least
///   as many as failed ones, else the dominant failure); readings outside [0, 20] m (the wire
///   contract) or the point's min/max are out_of_range. `wet_well_level_m` is the LAST good sample
///   of the window, min/max over the good samples. No stuck detection: a well with no inflow and
///   idle pumps legitimately holds a constant level (a blockage upstream is exactly that case).
/// - every digital input is held between readings (zero-order hold on the monotonic clock): a
///   reading's state lasts until the next reading, the last reading's until the end of the
///   window, the previous window's last state from the window's start. run_s = time the run
///   feedback was on, power_lost_s = time mains was off, both rounded to whole seconds and capped
///   at interval_s; starts = off -> on transitions between consecutive readings (the first
///   reading after agent start is no transition). running / fault / mains_power = the last
///   reading of the window.
/// - current_a = mean of the pump's good current readings taken while its run feedback read on
///   (absent when the pump did not run or no current reading was good).
/// - A failed read of ANY pump's run or fault input in the window (exception, timeout, no
///   connection), or no reading at all, omits the whole `pumps` list for that window (never
///   reported as "not running" or "no fault") and the reason says so, e.g. "pump inputs not
///   reported: P1 running: unit 1: no answer: ...". A failed mains read omits `mains_power` and
///   `power_lost_s` likewise. After a failure the state is unknown until the next good reading,
///   which is held back to the failure (or the window's start).
#include "sewage/agent/config.hpp"
#include "sewage/agent/sensor_driver.hpp"
#include "sewage/agent/stats.hpp"
#include "sewage/proto/telemetry.hpp"

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sewage::agent {

/// Parses `[pump_station]` of `root` (std::nullopt when absent) and appends its points to the
/// [[device]] tables they name, as [[device.point]] entries with the pump-station quantities and
/// the keys `pump` and `from`. Also refuses pump-station quantities (or the `pump`/`from` keys)
/// written directly as [[device.point]]. Throws config_error naming the key and the reason, e.g.
/// "pump_station.pump[1].id: duplicate pump id 'P1'", "pump_station.pump[0].fault: is required
/// (the pump's trip input)", "pump_station.level.device: no [[device]] named 'io'". Thread-safe.
std::optional<pump_station_config> parse_pump_station(const toml::table& root, std::vector<device_config>& devices);

/// One digital input over the windows (run feedback, fault, mains). Not thread-safe.
class digital_track {
 public:
  /// A good reading `on` taken at monotonic `t` in the window that started at `window_start`.
  void reading(bool on, std::chrono::milliseconds t, std::chrono::milliseconds window_start) noexcept;
  /// A failed read at `t`: the state is unknown from the previous reading on.
  void failure(std::string reason, std::chrono::milliseconds t, std::chrono::milliseconds window_start);
  /// Closes the window at `end`: accounts the held state up to `end`. Call before the getters.
  void close(std::chrono::milliseconds end, std::chrono::milliseconds window_start) noexcept;
  /// Clears the per-window counts (after the getters), keeping the held state.
  void next_window() noexcept;
  [[nodiscard]] std::optional<bool> state() const noexcept { return state_; }
  [[nodiscard]] std::chrono::milliseconds on() const noexcept { return on_; }
  [[nodiscard]] std::chrono::milliseconds off() const noexcept { return off_; }
  [[nodiscard]] std::uint64_t rises() const noexcept { return rises_; }
  [[nodiscard]] std::uint32_t readings() const noexcept { return readings_; }
  [[nodiscard]] std::uint32_t failures() const noexcept { return failures_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  void hold(std::chrono::milliseconds until, std::chrono::milliseconds window_start, bool on) noexcept;
  std::optional<bool> state_;       ///< latest good reading; unset after a failure until the next
  std::optional<bool> last_known_;  ///< latest good reading ever (for transitions across a gap)
  std::chrono::milliseconds since_{0};  ///< time from which the state (or the unknown) is held
  std::chrono::milliseconds on_{0}, off_{0};
  std::uint64_t rises_{0};
  std::uint32_t readings_{0}, failures_{0};
  std::string reason_;
};

/// Accumulates the pump-station samples of one window and builds the section. Used from the
/// agent's executor only (not thread-safe).
class pump_station_window {
 public:
  explicit pump_station_window(pump_station_config config);
  /// Adds the pump-station samples of one poll taken at monotonic `now` (samples of other
  /// quantities are ignored; a pump index outside the config is ignored). Never throws except
  /// bad_alloc.
  void add(const std::vector<sample>& samples, std::chrono::milliseconds now);
  /// Closes the window ending at monotonic `end` (interval_s long, the record's) and starts the
  /// next one. The result validates against the wire contract. Never throws except bad_alloc.
  proto::pump_station_reading close(std::chrono::milliseconds end, std::uint32_t interval_s);

 private:
  struct pump_state {
    digital_track running, fault;
    double current_sum{0};
    std::uint32_t current_n{0};
    std::string current_reason;
  };
  std::chrono::milliseconds start(std::chrono::milliseconds now) noexcept;
  pump_station_config config_;
  std::optional<std::chrono::milliseconds> window_start_;  ///< unset until the first sample
  window_stats level_;
  std::vector<pump_state> pumps_;
  digital_track mains_;
};

}  // namespace sewage::agent
