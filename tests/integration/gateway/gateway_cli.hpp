#pragma once
// Runs `sewage-gateway --config FILE <args>` (the users/tokens subcommands of issue 11) with
// `stdin_text` piped in; returns its exit code and stdout. Never throws.
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace sewage::gateway::test {

struct cli_result {
  int exit_code{-1};
  std::string out;
};

/// Single quotes for the shell.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline cli_result gateway_cli(const std::string& binary, const std::string& config, const std::string& args,
                              const std::string& stdin_text = {}) {
  const std::string cmd = "printf '%s\\n' " + shell_quote(stdin_text) + " | " + shell_quote(binary) + " --config " +
                          shell_quote(config) + " " + args + " 2>&1";
  cli_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Makes a whole-county operator token named "it-operator" in the store of `config` (before or
/// while the gateway runs); "" when the CLI failed.
inline std::string operator_token(const std::string& config) {
  const auto r = gateway_cli(SEWAGE_GATEWAY_BINARY, config, "tokens add it-operator --role operator");
  const auto at = r.out.find("sgw_");
  return r.exit_code == 0 && at != std::string::npos ? r.out.substr(at, r.out.find('\n', at) - at) : std::string();
}

}  // namespace sewage::gateway::test
