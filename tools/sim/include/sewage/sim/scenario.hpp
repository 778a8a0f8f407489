#pragma once
/// \file
/// A simulation scenario: when the simulated county starts, how long it runs, its weather, and
/// the scripted faults with their ground truth.
///
///   start = 2026-11-29T00:00:00Z    # simulated UTC start (TOML offset date-time)
///   duration_h = 24.0
///   weather = "dry"                 # dry | rain | storm
///   weather_start_h = 6.0
///   [[fault]]
///   type = "blockage"               # see fault_kind
///   terminal = "HY-WY-002"
///   start_h = 3.0                   # hours after start
///   end_h = 6.0
///   # optional per type: factor (turbidity_excursion), skew_s (clock_skew), raw (sentinel)

#include "sewage/sim/influent.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::sim {

/// Scripted faults. Each is detected by the gateway as one alert type (expected_alert), except
/// meter_reset, which must raise nothing and leave the daily volume right.
enum class fault_kind {
  blockage,              ///< outlet blocked: flow zero                      -> no_flow
  pump_failure,          ///< lift pump stopped: flow zero                   -> no_flow
  turbidity_excursion,   ///< treatment upset: turbidity x factor            -> turbidity_high
  stuck_turbidity,       ///< probe repeats its last value                   -> sensor_fault
  sentinel,              ///< probe returns the no-value raw word            -> sensor_fault
  device_not_answering,  ///< turbidity probe silent on the bus              -> sensor_fault
  meter_reset,           ///< flowmeter totalizer reset to 0 at start        -> (none)
  sludge_cleanout,       ///< sludge rises to clean-out level; emptied at end -> cleanout_required
  power_loss,            ///< agent killed at start, restarted at end        -> offline
  link_outage,           ///< agent's broker connection cut                  -> offline
  clock_skew,            ///< agent's clock off by skew_s                    -> clock_skew
};

std::string_view to_string(fault_kind k) noexcept;
std::optional<fault_kind> parse_fault_kind(std::string_view name) noexcept;
/// The gateway alert type expected for a fault ("" for meter_reset).
std::string_view expected_alert(fault_kind k) noexcept;

struct scripted_fault {
  fault_kind kind{fault_kind::blockage};
  std::string terminal;
  double start_h{0.0};
  double end_h{0.0};
  double factor{6.0};         ///< turbidity_excursion: multiplier on effluent turbidity
  double skew_s{900.0};       ///< clock_skew: agent clock offset, s
  std::uint16_t raw{0xFFFF};  ///< sentinel: raw register word returned
};

struct scenario {
  std::chrono::sys_seconds start{};
  double duration_h{24.0};
  weather_kind weather{weather_kind::dry};
  double weather_start_h{0.0};
  std::vector<scripted_fault> faults;
};

/// Reads a scenario file. `known_terminals`, when not empty, is the registry's id list: a fault
/// naming another terminal is an error. Throws std::runtime_error naming the file, the fault index
/// and the key for a missing or wrong key, a fault whose end is not after its start or that ends
/// after the scenario, or an unknown fault type.
scenario load_scenario(const std::filesystem::path& file,
                       const std::vector<std::string>& known_terminals = {});

}  // namespace sewage::sim
