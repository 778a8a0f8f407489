#pragma once
/// \file
/// The simulated county: for every registered terminal, the physics (terminal_model), three
/// emulated Modbus TCP instruments, a link proxy and a real `sewage-agent` process; plus the
/// scripted faults and the ground truth they produce.

#include "sewage/sim/scenario.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sewage::sim {

struct county_options {
  std::filesystem::path registry;       ///< terminal registry (TOML, gateway format)
  std::filesystem::path scenario;       ///< scenario file
  std::filesystem::path workdir;        ///< agent configs, queues and logs; truth files
  std::filesystem::path agent_binary;   ///< path of sewage-agent
  std::filesystem::path influent;       ///< BSM1 dry-weather csv
  std::string broker_host{"127.0.0.1"};
  int broker_port{1883};
  double speed{60.0};                   ///< simulated seconds per real second
  double poll_interval_s{30.0};         ///< agents' polling period, simulated s
  std::uint32_t report_interval_s{60};  ///< agents' report interval, simulated s
  double lead_h{0.5};                   ///< simulated warm-up before the scenario start
  /// Real UTC time at which the simulated clock reads scenario.start - lead_h. Processes that
  /// share it (agents, gateway) share one simulated clock.
  std::chrono::system_clock::time_point real_origin{};
  bool quiet{false};                    ///< no live status line
};

/// Simulated UTC time for a real instant, given the origin pair and the speed.
std::chrono::system_clock::time_point simulated_time(std::chrono::system_clock::time_point real,
                                                     std::chrono::system_clock::time_point real_origin,
                                                     std::chrono::system_clock::time_point sim_origin,
                                                     double speed);

class county {
 public:
  /// Loads registry, scenario and influent, starts the instruments and proxies, and writes the
  /// ground truth file. Throws std::runtime_error naming the file and key on bad input.
  explicit county(county_options options);
  ~county();
  county(const county&) = delete;
  county& operator=(const county&) = delete;

  /// Starts the agents and runs until the scenario ends (plus two report intervals for the last
  /// records to arrive) or `stop` becomes true; then stops the agents with SIGTERM and writes
  /// the true daily volumes. Returns 0, or 1 if an agent could not be started.
  int run(const std::atomic<bool>& stop);

  /// Files written in the work dir.
  [[nodiscard]] std::filesystem::path ground_truth_file() const;
  [[nodiscard]] std::filesystem::path true_volumes_file() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sewage::sim
