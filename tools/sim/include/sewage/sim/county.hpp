#pragma once
/// \file
/// The simulated county: for every registered terminal, the physics (terminal_model), three
/// emulated Modbus TCP instruments, a link proxy and a real `sewage-agent` process; plus the
/// scripted faults and the ground truth they produce. With a pipe network (issue 13), every
/// registry pump station is simulated too (pump_station_model fed by network_flow), and each
/// terminal receives only the share of its influent that the network delivers.

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
  /// sewage-sim-camera; when set, every agent's `image.command` runs it (a generated JPEG with
  /// the terminal id and the simulated time), every `image_period_s`. Empty: no pictures.
  std::filesystem::path camera_binary;
  std::uint32_t image_period_s{3600};   ///< agents' picture period, simulated s
  /// sewage-provision's output folder (its --out): each agent takes the [mqtt] table of
  /// `identities/agents/<ID>.toml` (scheme, username, password, ca_file), pointed at its link
  /// proxy on 127.0.0.1 (the broker certificate must name 127.0.0.1). Empty: anonymous plain
  /// tcp:// with mqtt.allow_plaintext = true (a broker without accounts). A terminal of the
  /// registry without a snippet there is an error naming the file.
  std::filesystem::path identities;
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
  /// Repair control channel (repair.hpp): when set, the county scans this folder about once a
  /// second (real time) for `*.toml` repair files, ends the named terminal's active faults at
  /// the current simulated time, records it in ground_truth.csv and repairs.csv, and moves the
  /// file to `done/` (or `refused/`, with the reason logged, for a bad file). Created if absent.
  std::filesystem::path repair_dir;
  /// The pipe network (GeoJSON, the gateway's format; checked by the gateway's loader). Empty: no
  /// network: terminals get their whole influent and the registry's pump stations are not
  /// simulated (logged). With it: every pump station of the network must be a registry pump
  /// station and every terminal of the network a registry terminal (else an error naming both).
  std::filesystem::path network;
  /// Pump stations as sites behind emulated I/O devices and real agents (with a network). False:
  /// the stations' physics run (they shape the terminals' inflow and the truth) but no device,
  /// proxy or agent is started for them (sewage-sim --station-agents turns them on). Off by
  /// default: with all 101 stations the process holds more than 1024 descriptors and libmodbus'
  /// select() in the emulated devices aborts (FD_SETSIZE); fine for a registry of a few stations.
  bool station_agents{false};
  /// With a network: simulated days the network runs before the start (network_flow.hpp
  /// network_run_before), so that its stations are mid-cycle as in a network that has run for
  /// weeks. Give the days of the history imported into the gateway (sewage-sim-history --days):
  /// the history then ends in exactly the state the county starts in. 0..60.
  double network_run_before_days{2.0};
};

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
  ///
  /// While it runs it rewrites (atomically, every ~5 s real time) `true_volumes.csv`
  /// (terminal,operating_day,volume_m3,status; status `complete` once the whole operating day
  /// lies inside the scenario and has ended at least five report intervals ago (the settle time
  /// for its last records; at the end of the run every day inside the scenario is complete),
  /// `in_progress` for a scenario day not complete yet, `outside` for a day that is not wholly
  /// inside the scenario) and `progress.csv` (simulated_now,scenario_h,duration_h,state with
  /// state `running`, `finished` (the scenario end was reached) or `stopped` (stopped early)), so tools/score judges only what has happened.
  int run(const std::atomic<bool>& stop);

  /// Files written in the work dir.
  [[nodiscard]] std::filesystem::path ground_truth_file() const;
  [[nodiscard]] std::filesystem::path true_volumes_file() const;
  [[nodiscard]] std::filesystem::path progress_file() const;
  /// `sludge_truth.csv` in the work dir, written (atomically) at the same moments as
  /// true_volumes.csv: one row per terminal, `terminal,ts,level_m,rise_m_per_day,raise_level_m,
  /// due_date,reached_at`: the model's true sludge level (m) at the simulated instant `ts` (ISO 8601 UTC),
  /// its true rate of rise (m/day: sludge_truth.hpp true_sludge_outlook: sludge_m_per_m3 x the
  /// village's long-run dry-weather treated volume per day, dry_weather_treated, plus a scripted
  /// forced rise in force x 24), the agents' clean-out raise level (sludge_truth.hpp
  /// cleanout_raise_m, 1.5 m) and the operating day (UTC+8, as true_volumes.csv names days) on
  /// which level + rise x days reaches it: `ts`'s own day when it already has, empty when the rise
  /// is <= 0 (or the day lies more than 100 years ahead); reached_at (ISO 8601 UTC): when the true
  /// level first reached the raise level between the simulation origin and the scenario end, at
  /// the simulator's step (empty while it has not; a scenario's `[[sludge]]` starts a terminal
  /// near it). For scoring the gateway's clean-out forecast and the clean-out flag (tools/score,
  /// tools/soak).
  [[nodiscard]] std::filesystem::path sludge_truth_file() const;
  /// `exceedance_truth.csv` in the work dir, written (atomically) at the start, at the same
  /// moments as true_volumes.csv and at the end: the TRUE EXCEEDANCES of every terminal's
  /// effluent (exceedance_truth.hpp), one row per episode: `terminal,type,start,end,peak,
  /// threshold,clear_level,debounce_s,above_s,margin_above_s,true_raise,required`. type is
  /// `turbidity_high` (the model's true turbidity, NTU) or `flow_high` (true flow, m3/h), sampled
  /// at every step of the simulator's loop from the warm-up to the scenario end; start: the first
  /// sample above `threshold` (the raise level: the scenario's [truth] limits, by default the
  /// gateway's defaults); end: when the value had been at or below `clear_level` for `debounce_s`
  /// (empty while ongoing, or when the scenario ended first); peak: the highest true value;
  /// above_s and margin_above_s: the longest continuous time above the raise level and above it
  /// by the margin (5 % turbidity, 3 % flow); true_raise: when the gateway's rule would raise on
  /// the true values (empty: never); required: `true` when margin_above_s >= debounce_s + 2
  /// report intervals (the gateway must report it), `false` for a marginal episode (an alert
  /// matching it is neither false nor required). The physics only: a scripted fault's excursion
  /// is recorded too (tools/score handles the overlap). ISO 8601 UTC times.
  [[nodiscard]] std::filesystem::path exceedance_truth_file() const;
  /// `repairs.csv` in the work dir: one row per repair file handled
  /// (simulated_at,terminal,fault,order,by,ended,result; result `repaired`, `nothing_active` or
  /// `refused: <reason>`).
  [[nodiscard]] std::filesystem::path repairs_file() const;
  /// `stations.csv` in the work dir (with a network; rewritten atomically every ~5 s real time):
  /// one row per simulated pump station: simulated_now, site, node, terminal, share (of the
  /// terminal's households), wet_well_level_m, mains_power, pumps_running and pumps_faulted (pump
  /// ids, space-separated), inflow_m3h, pumped_m3 and spilled_m3 (totals since the start) and
  /// terminal_inflow_share (the share of its influent the terminal receives now). Truth for
  /// checking the physics and the incidents by eye; tools/score does not read it.
  [[nodiscard]] std::filesystem::path stations_file() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sewage::sim
