// sewage-sim: drives a county of simulated terminals - emulated Modbus instruments fed by BSM1
// influent physics, one real sewage-agent per terminal, scripted faults - and writes the ground
// truth (faults and true daily volumes) for tools/score.
#include "sewage/proto/timestamp.hpp"
#include "sewage/sim/county.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <unistd.h>

namespace {
std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) { stop_requested.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sewage-sim: a simulated county of sewage treatment terminals (SIMULATION ONLY)"};
  sewage::sim::county_options o;
  std::string origin;
  app.add_option("--registry", o.registry, "terminal registry (TOML)")->required()->check(CLI::ExistingFile);
  app.add_option("--scenario", o.scenario, "scenario with scripted faults (TOML)")->required()->check(CLI::ExistingFile);
  app.add_option("--workdir", o.workdir, "agent configs, queues, logs and the truth files")->required();
  app.add_option("--broker-port", o.broker_port, "the broker's TCP port on 127.0.0.1")->required();
  app.add_option("--identities", o.identities,
                 "sewage-provision's --out folder: each agent uses its own broker account and TLS settings "
                 "(default: anonymous plaintext)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--agent", o.agent_binary, "path of sewage-agent")->required()->check(CLI::ExistingFile);
  o.influent = std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv";
  app.add_option("--influent", o.influent, "BSM1 dry-weather influent csv")->capture_default_str();
  app.add_option("--speed", o.speed, "simulated seconds per real second")->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  app.add_option("--poll-interval-s", o.poll_interval_s, "agents' polling period, simulated s")->capture_default_str();
  app.add_option("--report-interval-s", o.report_interval_s, "agents' report interval, simulated s")->capture_default_str();
  app.add_option("--camera", o.camera_binary,
                 "sewage-sim-camera: every agent takes its pictures with it (default: none)")
      ->check(CLI::ExistingFile);
  app.add_option("--image-period-s", o.image_period_s, "agents' picture period, simulated s")
      ->capture_default_str()
      ->check(CLI::Range(1, 7 * 86400));
  app.add_option("--lead-h", o.lead_h, "simulated warm-up before the scenario start, h")->capture_default_str();
  app.add_option("--time-origin", origin,
                 "real UTC time at which the simulated clock reads (scenario start - lead); "
                 "give the gateway the same value. Default: now");
  app.add_flag("--quiet", o.quiet, "no periodic status lines");
  app.add_option("--repair-dir", o.repair_dir,
                 "repair control folder: a field crew drops <name>.toml (terminal = \"ID\", fault = \"TYPE\", "
                 "order = N, by = \"NAME\") to end that terminal's active faults now (tools/sim/README.md, \"Repairs\")");
  app.add_option("--network", o.network,
                 "the pipe network (GeoJSON, e.g. tools/sim/county/haiyan-network.geojson): pump stations are "
                 "simulated and terminals receive what the network delivers; network faults need it")
      ->check(CLI::ExistingFile);
  app.add_flag("--station-agents", o.station_agents,
               "with --network, each pump station behind an emulated I/O device and a sewage-agent with the "
               "pump-station profile (default off: the stations' physics only, and they never report)");
  app.add_option("--history-days", o.network_run_before_days,
                 "with --network: days the network has run before the start (its pump stations mid-cycle); "
                 "give sewage-sim-history's --days when its history was imported into the gateway")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ sim %l %v", spdlog::pattern_time_type::utc);
  if (origin.empty()) {
    o.real_origin = std::chrono::system_clock::now();
  } else {
    const auto t = sewage::proto::parse_timestamp(origin);
    if (!t) {
      std::cerr << "--time-origin: must be ISO 8601 UTC, e.g. 2026-11-29T08:00:00.000Z\n";
      return 2;
    }
    o.real_origin = *t;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    sewage::sim::county c(o);
    return c.run(stop_requested);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 2;
  }
}
