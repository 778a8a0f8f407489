#pragma once
/// \file
/// `sewage-gateway --config FILE users ...` and `tokens ...` (issue 11; gateway/README.md "Users,
/// roles and town scope"): the subcommands, added to the gateway's CLI11 application, that manage
/// accounts in the store named by the configuration. Passwords are read from stdin (one line)
/// when it is not a terminal, else prompted twice without echo; never from an argument.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace sewage::gateway::auth {

/// The subcommands, added to `app`; after parsing, `run()` does what was asked.
class cli {
 public:
  explicit cli(CLI::App& app);
  /// True when a users/tokens subcommand was given.
  [[nodiscard]] bool requested() const;
  /// Runs it against the configuration file (its store and registry); prints to stdout/stderr;
  /// returns the exit code (0 ok, 1 refused, 2 configuration error).
  int run(const std::string& config_path);

 private:
  CLI::App* users_{nullptr};
  CLI::App* tokens_{nullptr};
  std::string name_;
  std::string role_{"viewer"};
  std::vector<std::string> towns_;
  std::string contractor_;  ///< --contractor (role contractor)
};

}  // namespace sewage::gateway::auth
