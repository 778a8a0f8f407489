// sewage-sim-history: the simulated county's past weeks as JSON Lines for
// `sewage-gateway import-history` (sewage/sim/history.hpp). SIMULATION ONLY.
#include "sewage/proto/timestamp.hpp"
#include "sewage/sim/history.hpp"
#include "sewage/sim/scenario.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sewage-sim-history: weeks of a simulated county's records before its scenario starts, "
               "for sewage-gateway import-history (SIMULATION ONLY)"};
  sewage::sim::history_options o;
  std::filesystem::path scenario_file;
  std::filesystem::path out_file;
  double lead_h = 0.5;
  app.add_option("--registry", o.registry, "terminal registry (TOML)")->required()->check(CLI::ExistingFile);
  app.add_option("--scenario", scenario_file, "the scenario the county will run: its start ends the history")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--lead-h", lead_h, "the county's warm-up before the scenario start, h (sewage-sim --lead-h)")
      ->capture_default_str();
  o.influent = std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv";
  app.add_option("--influent", o.influent, "BSM1 dry-weather influent csv")->capture_default_str();
  app.add_option("--days", o.days, "simulated days of history")->capture_default_str();
  app.add_option("--interval-s", o.interval_s, "one record per terminal every this many seconds")->capture_default_str();
  app.add_option("--network", o.network,
                 "the pipe network (as sewage-sim --network): terminals receive what its pump stations deliver")
      ->check(CLI::ExistingFile);
  app.add_option("--out", out_file, "the JSON Lines file to write")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    // The start, the terminals' tank lag and sludge; the faults are checked by sewage-sim.
    const auto scen = sewage::sim::load_scenario_start(scenario_file);
    o.tank_lag_h = sewage::sim::load_scenario_tank_lag_h(scenario_file);
    // Terminals the scenario starts near the clean-out level: their history leads there.
    o.sludge = sewage::sim::load_scenario_sludge(scenario_file);
    if (!o.sludge.empty()) o.weather = sewage::sim::load_scenario_weather(scenario_file);
    o.lead_h = lead_h;
    o.end = std::chrono::system_clock::time_point(scen) -
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(lead_h * 3600.0));
    const auto tmp = out_file.string() + ".tmp";
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error(tmp + ": cannot write");
    const auto sum = sewage::sim::write_history(o, out);
    out.close();
    if (!out) throw std::runtime_error(tmp + ": writing failed");
    std::filesystem::rename(tmp, out_file);
    std::cout << out_file.string() << ": " << sum.records << " records of " << sum.terminals << " terminals, "
              << o.days << " days to " << sewage::proto::format_timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(o.end))
              << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sewage-sim-history: " << e.what() << '\n';
    return 2;
  }
}
