#pragma once
/// \file
/// The `import-history` subcommand of sewage-gateway (history/import.hpp does the work):
/// `sewage-gateway --config gateway.toml import-history records.jsonl`.

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/registry.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace sewage::gateway::history {

/// `import-history <file>` (needs --config), added to `app`.
class cli {
 public:
  explicit cli(CLI::App& app);
  /// True when `import-history` was given.
  [[nodiscard]] bool requested() const;
  /// Refuses (exit 1, naming the port) when something listens on the configured HTTP port (the
  /// gateway is running on this store: stop it first); otherwise imports the file, prints the
  /// summary and the first refusals, and returns 0, or 1 when nothing was accepted and something
  /// was refused, or 2 when the file or the store cannot be read.
  [[nodiscard]] int run(const config& cfg, registry reg, const network::holder& pipes) const;

 private:
  CLI::App* command_{nullptr};
  std::string file_;
};

}  // namespace sewage::gateway::history
