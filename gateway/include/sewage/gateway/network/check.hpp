#pragma once
/// \file
/// `sewage-gateway network check <file> [--registry <file>]` (gateway/README.md "Pipe network"):
/// loads and checks a network file, prints a summary or every problem.

#include "sewage/gateway/network/model.hpp"
#include "sewage/gateway/registry.hpp"

#include <filesystem>
#include <iosfwd>
#include <string>

namespace sewage::gateway::network {

/// The summary lines printed for a good file: nodes per kind, segments per flow, total length in
/// km (gravity / pressure), households and villages served, and "ILLUSTRATIVE" when the file says so.
[[nodiscard]] std::string summary(const network_model& m);

/// Load options checking a network against `reg`: terminal nodes' site_ids must be registry
/// entries of kind terminal, pump_station nodes' entries of kind pump_station. Throws only bad_alloc.
[[nodiscard]] load_options options_for(const registry& reg);

/// Checks `file`; with a non-empty `registry_file` (registry.toml) every terminal node's site_id
/// must be a registry terminal and every pump_station node's a registry pump station. Prints "<file>: ok" and summary() to `out`, or every problem
/// ("<feature>: <reason>", one per line) to `err`. Returns 0 (good), 1 (problems in the network
/// file) or 2 (the registry file cannot be read). Never throws.
int check_command(const std::filesystem::path& file, const std::filesystem::path& registry_file, std::ostream& out,
                  std::ostream& err) noexcept;

}  // namespace sewage::gateway::network
