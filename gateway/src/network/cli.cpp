// `sewage-gateway network check <file> [--registry <file>]` (network/cli.hpp).
#include "sewage/gateway/network/cli.hpp"

#include "sewage/gateway/network/check.hpp"

#include <iostream>

namespace sewage::gateway::network {

cli::cli(CLI::App& app) {
  network_ = app.add_subcommand("network", "pipe network file tools (gateway/README.md \"Pipe network\")");
  check_ = network_->add_subcommand("check", "check a network GeoJSON file: prints a summary or every problem; exit 0/1");
  check_->add_option("file", file_, "the network file (GeoJSON)")->required();
  check_->add_option("--registry", registry_, "registry.toml: terminal nodes must be its terminals");
  network_->require_subcommand(1);
}

bool cli::requested() const { return check_->parsed(); }

int cli::run() const { return check_command(file_, registry_, std::cout, std::cerr); }

}  // namespace sewage::gateway::network
