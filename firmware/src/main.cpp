// sewage-agent: wires the configuration, the driver registry and the agent together.
#include "sewage/agent/agent.hpp"
#include "sewage/agent/config.hpp"
#include "sewage/agent/durable_queue.hpp"
#include "sewage/agent/mqtt_link.hpp"
#include "sewage/agent/modbus_driver.hpp"
#include "sewage/agent/simulated_driver.hpp"
#include "sewage/proto/broker_uri.hpp"
#include "sewage/proto/timestamp.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

int main(int argc, char** argv) {
  using namespace sewage::agent;
  limit_malloc_arenas();  // before any thread (agent.hpp)
  CLI::App app{"sewage-agent: terminal agent for rural sewage treatment telemetry"};
  std::string config_path;
  bool check_only = false;
  bool show_version = false;
  double time_scale = 1.0;
  std::string start_time;
  app.add_option("-c,--config", config_path, "configuration file (TOML), see agent.example.toml");
  app.add_flag("--check-config", check_only, "validate the configuration and exit (0 = valid)");
  app.add_flag("--version", show_version, "print the version and exit");
  app.add_option("--time-scale", time_scale, "SIMULATION ONLY: run the clock N times faster")
      ->check(CLI::PositiveNumber);
  app.add_option("--start-time", start_time, "SIMULATION ONLY: start the clock at this UTC time (ISO 8601)");
  std::string time_origin;
  app.add_option("--time-origin", time_origin,
                 "SIMULATION ONLY: real UTC time at which the simulated clock read --start-time "
                 "(default: when the agent starts); lets several processes share one clock");
  CLI11_PARSE(app, argc, argv);

  if (show_version) {
    std::cout << "sewage-agent " << agent_version() << "\n";
    return 0;
  }
  mqtt_link::global_init();  // before any Paho client exists: saves ~1.5 MiB (mqtt_link.hpp)
  spdlog::set_default_logger(spdlog::stderr_logger_mt("sewage-agent"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  if (config_path.empty()) {
    std::cerr << "--config is required\n" << app.help();
    return 2;
  }

  agent_options options;
  options.time_scale = time_scale;
  if (!start_time.empty()) {
    const auto t = sewage::proto::parse_timestamp(start_time);
    if (!t) {
      std::cerr << "--start-time: must be ISO 8601 UTC, e.g. 2026-11-29T08:00:00Z\n";
      return 2;
    }
    options.start_time = *t;
  }
  if (!time_origin.empty()) {
    const auto t = sewage::proto::parse_timestamp(time_origin);
    if (!t || start_time.empty()) {
      std::cerr << "--time-origin: needs --start-time and an ISO 8601 UTC time\n";
      return 2;
    }
    options.time_origin = *t;
  }
  try {
    const agent_config config = load_config(config_path);
    check_deployable(config);
    // One bus per serial line / Modbus TCP endpoint, shared by the devices on it; it must outlive
    // the agent's drivers. Creating every driver validates its keys and the shared lines.
    modbus_bus_registry buses(config.serial_lines);
    driver_registry drivers;
    drivers.add("modbus", modbus_driver::factory(buses));
    drivers.add("simulated", &simulated_driver::create);
    for (const auto& d : config.devices) (void)drivers.create(d);
    std::vector<std::string> plaintext_warnings;
    for (const auto& uri : config.mqtt.uris)
      if (!sewage::proto::broker_uri_uses_tls(uri)) plaintext_warnings.push_back(sewage::proto::broker_uri_plaintext_warning(uri));
    if (check_only) {
      std::cout << config_path << ": ok\n";
      for (const auto& w : plaintext_warnings) std::cout << "warning: " << w << "\n";
      if (config.mqtt.ca_file.empty() && plaintext_warnings.size() < config.mqtt.uris.size())
        std::cout << "note: mqtt.ca_file is not set: the broker's certificate is checked against the system CA store\n";
      return 0;
    }
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug overrides log_level
    if (options.start_time || time_scale != 1.0) {
      spdlog::warn("SIMULATION clock: time scale {}, start {}; never use on a real terminal", time_scale,
                   start_time.empty() ? "now" : start_time);
    }
    spdlog::info("sewage-agent {} starting for terminal {} (config {})", agent_version(), config.terminal_id,
                 config.digest);
    agent a(config, drivers, options);
    return a.run();
  } catch (const queue_locked& e) {
    // A second agent on the same queue (same config started twice): exit 1 with the holder's PID.
    spdlog::critical("{}", e.what());
    return 1;
  } catch (const config_error& e) {
    if (check_only) {
      std::cerr << config_path << ": " << e.what() << "\n";  // plain, for the installer
    } else {
      spdlog::critical("config error: {}", e.what());  // one line in the journal
    }
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  }
}
