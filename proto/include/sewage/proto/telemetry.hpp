#pragma once
/// \file
/// Telemetry interval records on `sewage/v1/{terminal}/telemetry` (DESIGN.md, "Wire contract").
///
/// JSON shape (names carry units; an absent quantity means the sensor is not fitted):
/// {
///   "terminal_id": "HY-WY-001", "epoch": "9f1c2a7b44e0d3a1", "seq": 1042,
///   "ts": "2026-11-29T08:15:00Z", "interval_s": 60,
///   "flow":      {"status": "ok", "rate_m3h": 0.62, "total_m3": 18234.75},
///   "turbidity": {"status": "ok", "ntu": 4.1, "min_ntu": 3.8, "max_ntu": 4.6},
///   "sludge":    {"status": "ok", "level_m": 0.82, "cleanout_required": false},
///   "energy":    {"status": "ok", "kwh_total": 10234.57, "power_kw": 0.412, "pump_current_a": 1.85},
///   "pump_station": {"status": "ok", "wet_well_level_m": 1.42, "min_level_m": 0.61, "max_level_m": 1.93,
///                    "mains_power": true, "power_lost_s": 0,
///                    "pumps": [{"id": "P1", "running": true, "fault": false, "run_s": 420,
///                               "starts": 2, "current_a": 11.8}]},
///   "queue_depth": 0, "dropped": 0
/// }
/// A quantity whose status is not "ok" may omit its values, and may carry a "reason" text.

#include "sewage/proto/problem.hpp"
#include "sewage/proto/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::proto {

/// Per-quantity status of an interval.
enum class quantity_status {
  ok,            ///< enough good samples in the window
  fault,         ///< most samples failed (exception response, sentinel, stuck value)
  out_of_range,  ///< readings outside the point's valid range
  stale,         ///< no answer from the instrument (timeout)
};
std::string_view to_string(quantity_status s) noexcept;
std::optional<quantity_status> parse_quantity_status(std::string_view name) noexcept;

/// Effluent flow at the outlet well.
struct flow_reading {
  quantity_status status{quantity_status::ok};
  std::optional<double> rate_m3h;  ///< mean flow rate over the window, m3/h; required when ok
  std::optional<double> total_m3;  ///< latest flowmeter totalizer reading, m3
  std::optional<std::string> reason;
  friend bool operator==(const flow_reading&, const flow_reading&) = default;
};

/// Effluent turbidity over good samples of the window.
struct turbidity_reading {
  quantity_status status{quantity_status::ok};
  std::optional<double> ntu;  ///< mean, NTU; required when ok
  std::optional<double> min_ntu;
  std::optional<double> max_ntu;
  std::optional<std::string> reason;
  friend bool operator==(const turbidity_reading&, const turbidity_reading&) = default;
};

/// Sludge level in the tank and the derived clean-out flag.
struct sludge_reading {
  quantity_status status{quantity_status::ok};
  std::optional<double> level_m;           ///< m above tank floor
  std::optional<bool> cleanout_required;   ///< one of level_m / cleanout_required required when ok
  std::optional<std::string> reason;
  friend bool operator==(const sludge_reading&, const sludge_reading&) = default;
};

/// Electricity of the terminal (optional section, issue 12 item 5): the "is it running" signal. From
/// a kWh meter on the terminal's supply (blower + pumps) and/or the pump motor's current.
struct energy_reading {
  quantity_status status{quantity_status::ok};
  std::optional<double> kwh_total;       ///< latest meter reading (total active energy), kWh
  std::optional<double> power_kw;        ///< mean active power over the window, kW
  std::optional<double> pump_current_a;  ///< mean pump motor current over the window, A
  std::optional<std::string> reason;
  friend bool operator==(const energy_reading&, const energy_reading&) = default;
};

/// One pump of a pump station over the window (digital inputs of the pump's control panel).
struct pump_reading {
  std::string id;                     ///< `[A-Za-z0-9_-]{1,16}`, unique within the station, e.g. "P1"
  bool running{false};                ///< run feedback (contactor auxiliary contact) at the end of the window
  bool fault{false};                  ///< fault input (thermal / overload trip) active at the end of the window
  std::uint32_t run_s{0};             ///< seconds the run feedback was on in the window, 0..interval_s
  std::optional<std::uint64_t> starts;  ///< off -> on edges in the window, 0..limits::max_pump_starts
  std::optional<double> current_a;    ///< mean motor current while running, A (0..limits::max_station_current_a)
  friend bool operator==(const pump_reading&, const pump_reading&) = default;
};

/// A sewage pump station (optional section, issue 13 item 2): the wet well, its pumps and the
/// station's mains supply. The section's `status` is that of the wet-well level transmitter; the
/// pumps and mains_power are digital inputs reported whatever the level's status.
struct pump_station_reading {
  quantity_status status{quantity_status::ok};
  std::optional<double> wet_well_level_m;  ///< at the end of the window, m above the wet-well floor; required when ok
  std::optional<double> min_level_m;       ///< lowest good sample of the window, m
  std::optional<double> max_level_m;       ///< highest good sample of the window, m
  std::optional<bool> mains_power;         ///< mains present at the end of the window (absent = not monitored)
  std::optional<std::uint32_t> power_lost_s;  ///< seconds of the window without mains, 0..interval_s
  std::vector<pump_reading> pumps;         ///< 0..limits::max_pumps pumps (empty = no pump I/O fitted)
  std::optional<std::string> reason;
  friend bool operator==(const pump_station_reading&, const pump_station_reading&) = default;
};

/// One interval record as produced by the agent.
struct telemetry_record {
  std::string terminal_id;
  std::string epoch;      ///< id of the agent's durable queue, `[A-Za-z0-9_-]{1,64}`
  std::uint64_t seq{0};   ///< strictly increasing within an epoch, starts at 1
  timestamp ts{};         ///< end of the sampling window, UTC
  std::uint32_t interval_s{60};
  std::optional<flow_reading> flow;
  std::optional<turbidity_reading> turbidity;
  std::optional<sludge_reading> sludge;
  /// Optional (absent = no meter and no pump current fitted). When ok it carries power_kw or
  /// pump_current_a (the running signal); kwh_total is optional.
  std::optional<energy_reading> energy;
  /// Optional (absent = the site is not a pump station, or an agent before issue 13). An old
  /// gateway ignores it (unknown fields are ignored).
  std::optional<pump_station_reading> pump_station;
  std::uint64_t queue_depth{0};  ///< records waiting in the agent's queue when this was made
  std::uint64_t dropped{0};      ///< records lost to a full queue since the agent started
  /// Optional (absent = true): false when the agent could not commit this record to its durable
  /// queue (storage refusing writes) and published it straight from memory; it is lost if the
  /// agent restarts before the broker acknowledges it.
  std::optional<bool> durable;
  /// Optional: why the agent's queue storage is faulty (e.g. "database or disk is full"), up to
  /// 256 bytes; present while the fault lasts (records are dropped or not durable), absent when
  /// the storage is healthy.
  std::optional<std::string> queue_fault;

  friend bool operator==(const telemetry_record&, const telemetry_record&) = default;
};

/// Encodes as a compact JSON object; absent optionals are omitted. Does not validate: call
/// `validate` first for data that did not come from `decode_telemetry`. Numbers keep full double
/// precision, so decode(encode(r)) == r for every valid record. Never throws except bad_alloc.
std::string encode(const telemetry_record& r);

/// Decodes and validates a telemetry payload strictly (see payload.hpp for the pre-checks, and
/// limits.hpp for bounds). When `topic_terminal_id` is given, a payload naming another terminal is
/// rejected (code id_mismatch). All field problems are collected, each with its JSON Pointer path.
/// Unknown fields are ignored. Never throws except bad_alloc. Thread-safe.
decoded<telemetry_record> decode_telemetry(
    std::string_view payload, std::optional<std::string_view> topic_terminal_id = std::nullopt);

/// Validates a record built in memory by encoding and decoding it. Returns its problems (empty
/// when valid). Never throws except bad_alloc.
std::vector<problem> validate(const telemetry_record& r);

}  // namespace sewage::proto
