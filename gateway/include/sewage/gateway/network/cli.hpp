#pragma once
/// \file
/// The `network` subcommand of sewage-gateway (network/check.hpp does the work). Needs no
/// --config: `sewage-gateway network check haiyan-network.geojson --registry registry.toml`.

#include <CLI/CLI.hpp>

#include <string>

namespace sewage::gateway::network {

/// `network check <file> [--registry <file>]`, added to `app`; after parsing, run() does it.
class cli {
 public:
  explicit cli(CLI::App& app);
  /// True when `network check` was given.
  [[nodiscard]] bool requested() const;
  /// Runs the check; prints to stdout/stderr; returns the exit code (0 good, 1 problems,
  /// 2 registry unreadable).
  [[nodiscard]] int run() const;

 private:
  CLI::App* network_{nullptr};
  CLI::App* check_{nullptr};
  std::string file_;
  std::string registry_;
};

}  // namespace sewage::gateway::network
