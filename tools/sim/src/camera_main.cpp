// sewage-sim-camera: writes one generated JPEG of a simulated terminal to stdout - the terminal id
// and the simulated local time on a simple scene (SIMULATION ONLY). sewage-sim sets it as each
// agent's `image.command`, so every simulated terminal has a picture source.
#include "sewage/proto/timestamp.hpp"
#include "sewage/sim/camera.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sewage-sim-camera: one generated JPEG of a simulated terminal on stdout (SIMULATION ONLY)"};
  std::string terminal;
  std::string at;
  std::string sim_origin;
  std::string time_origin;
  double speed = 1.0;
  int quality = 80;
  app.add_option("--terminal", terminal, "terminal id written on the picture")->required();
  app.add_option("--time", at, "simulated UTC time of the snapshot (ISO 8601); default: from the origins below");
  app.add_option("--sim-origin", sim_origin, "simulated UTC time at --time-origin (ISO 8601)");
  app.add_option("--time-origin", time_origin, "real UTC time at which the simulated clock read --sim-origin");
  app.add_option("--speed", speed, "simulated seconds per real second")->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  app.add_option("--quality", quality, "JPEG quality")->capture_default_str()->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  auto parse = [](const std::string& name, const std::string& text) {
    const auto t = sewage::proto::parse_timestamp(text);
    if (!t) {
      std::cerr << "sewage-sim-camera: " << name << ": must be ISO 8601 UTC, e.g. 2026-11-29T08:00:00.000Z, got '"
                << text << "'\n";
      std::exit(2);
    }
    return std::chrono::system_clock::time_point(*t);
  };
  std::chrono::system_clock::time_point when;
  if (!at.empty()) {
    when = parse("--time", at);
  } else if (!sim_origin.empty() && !time_origin.empty()) {
    // The same mapping as the agents' and the gateway's --time-scale clocks.
    const std::chrono::duration<double> elapsed = std::chrono::system_clock::now() - parse("--time-origin", time_origin);
    when = parse("--sim-origin", sim_origin) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed * speed);
  } else if (sim_origin.empty() && time_origin.empty()) {
    when = std::chrono::system_clock::now();
  } else {
    std::cerr << "sewage-sim-camera: --sim-origin and --time-origin go together\n";
    return 2;
  }
  try {
    const std::string jpeg = sewage::sim::encode_jpeg(sewage::sim::render_snapshot(terminal, when), quality);
    if (std::fwrite(jpeg.data(), 1, jpeg.size(), stdout) != jpeg.size() || std::fflush(stdout) != 0) {
      std::perror("sewage-sim-camera: writing stdout");
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "sewage-sim-camera: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
