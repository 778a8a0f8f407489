// users/tokens subcommands of sewage-gateway (auth/cli.hpp).
#include "sewage/gateway/auth/cli.hpp"

#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/store_factory.hpp"

#include <nlohmann/json.hpp>
#include <sewage/proto/timestamp.hpp>

#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace sewage::gateway::auth {

namespace {

/// One line from stdin; with a terminal, without echo.
std::string read_line(const char* prompt, bool tty) {
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << '\n';
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

/// The new password: from stdin when it is not a terminal (tests and scripts pipe it), else
/// prompted twice. Throws auth_error when the two differ or nothing was given.
std::string read_password() {
  const bool tty = isatty(STDIN_FILENO) != 0;
  auto pw = read_line("new password: ", tty);
  if (tty && read_line("again: ", tty) != pw) throw auth_error(400, "the two passwords differ");
  if (pw.empty()) throw auth_error(400, "password: none given on stdin");
  return pw;
}

std::string iso_ms(std::int64_t ms) { return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms))); }

std::string towns_text(const std::vector<std::string>& t) { return t.empty() ? "(whole county)" : nlohmann::json(t).dump(); }

/// Who the audit names for a CLI action: the operating-system user.
principal cli_actor() {
  principal p;
  p.kind = actor_kind::system;
  const passwd* pw = getpwuid(geteuid());
  const char* u = std::getenv("USER");
  p.name = std::string("cli:") + (pw != nullptr ? pw->pw_name : u != nullptr ? u : std::to_string(geteuid()).c_str());
  p.address = "cli";
  return p;
}

}  // namespace

cli::cli(CLI::App& app) {
  users_ = app.add_subcommand("users", "manage API users (login accounts) in the store of --config");
  tokens_ = app.add_subcommand("tokens", "manage API bearer tokens (machines) in the store of --config");
  users_->require_subcommand(1);
  tokens_->require_subcommand(1);
  const auto role_opt = [this](CLI::App* c) {
    c->add_option("--role", role_, "viewer, contractor, operator or admin")
        ->required()
        ->check(CLI::IsMember({"viewer", "contractor", "operator", "admin"}));
    c->add_option("--contractor", contractor_, "role contractor: the [[om.contractor]] name it works for");
    c->add_option("--town", towns_, "limit to this town of the registry (repeat for more; none = whole county)");
  };
  auto* add = users_->add_subcommand("add", "add a user; the password is read from stdin (or prompted)");
  add->add_option("name", name_, "user name")->required();
  role_opt(add);
  struct simple {
    CLI::App* parent;
    const char* name;
    const char* help;
  };
  for (const auto& s : {simple{users_, "passwd", "set a user's password (read from stdin or prompted); ends their sessions"},
                        simple{users_, "disable", "disable a user (ends their sessions)"},
                        simple{users_, "enable", "enable a disabled user"},
                        simple{tokens_, "revoke", "revoke a token at once"}}) {
    auto* c = s.parent->add_subcommand(s.name, s.help);
    c->add_option("name", name_, "user or token name")->required();
  }
  auto* tadd = tokens_->add_subcommand("add", "make a bearer token; printed once, only its SHA-256 is kept");
  tadd->add_option("name", name_, "token name (who or what uses it)")->required();
  role_opt(tadd);
  users_->add_subcommand("list", "list users (no password hashes)");
  tokens_->add_subcommand("list", "list tokens (never the tokens themselves)");
}

bool cli::requested() const { return users_->parsed() || tokens_->parsed(); }

int cli::run(const std::string& config_path) {
  config cfg;
  registry reg;
  try {
    cfg = load_config(config_path);
    reg = load_registry(cfg.registry_path, cfg.defaults);
  } catch (const config_error& e) {
    std::cerr << "sewage-gateway: " << e.what() << '\n';
    return 2;
  }
  try {
    for (const auto& t : towns_)
      if (std::none_of(reg.terminals().begin(), reg.terminals().end(), [&](const auto& ti) { return ti.town == t; }))
        throw auth_error(400, "--town '" + t + "' is not a town of the registry " + cfg.registry_path.string());
    if (!cfg.store_path.parent_path().empty()) std::filesystem::create_directories(cfg.store_path.parent_path());
    { const auto migrate = open_store(cfg, store_access::read_write); }  // creates or migrates the tables
    const system_clock_source clock;
    service ids(open_identity_store(cfg), settings{}, clock);  // the gateway's backend (identity_store.hpp)
    const auto who = cli_actor();
    const auto r = parse_role(role_).value_or(role::viewer);
    const auto sub = [](CLI::App* a, const char* n) { return a->get_subcommand(n)->parsed(); };
    if (sub(users_, "add")) {
      if (!contractor_.empty() && std::none_of(cfg.om.contractors.begin(), cfg.om.contractors.end(),
                                               [&](const auto& k) { return k.name == contractor_; }))
        throw auth_error(400, "--contractor '" + contractor_ + "' is not an [[om.contractor]] of " + cfg.source.string());
      ids.add_user(name_, read_password(), r, towns_, contractor_);
      ids.audit(who, "user.add", name_, nlohmann::json{{"role", role_}, {"towns", towns_}}.dump());
      std::cout << "user " << name_ << " added: " << role_ << ", " << towns_text(towns_) << '\n';
    } else if (sub(users_, "passwd")) {
      ids.change_user(name_, user_change{read_password(), std::nullopt, std::nullopt, std::nullopt, std::nullopt});
      ids.audit(who, "user.change", name_, R"({"password":"changed"})");
      std::cout << "password of " << name_ << " changed; their sessions ended\n";
    } else if (sub(users_, "disable") || sub(users_, "enable")) {
      const bool off = sub(users_, "disable");
      ids.change_user(name_, user_change{std::nullopt, std::nullopt, std::nullopt, off, std::nullopt});
      ids.audit(who, off ? "user.disable" : "user.change", name_, off ? R"({"disabled":true})" : R"({"disabled":false})");
      std::cout << "user " << name_ << (off ? " disabled" : " enabled") << '\n';
    } else if (sub(users_, "list")) {
      for (const auto& u : ids.users())
        std::cout << u.name << '\t' << to_string(u.role) << '\t' << towns_text(u.towns) << '\t'
                  << (u.disabled ? "disabled" : "enabled") << "\tchanged " << iso_ms(u.changed_ms) << '\n';
    } else if (sub(tokens_, "add")) {
      const auto token = ids.add_token(name_, r, towns_, contractor_);
      ids.audit(who, "token.add", name_, nlohmann::json{{"role", role_}, {"towns", towns_}}.dump());
      std::cout << token << '\n';  // the only time it is shown
      std::cerr << "token " << name_ << " made (" << role_ << ", " << towns_text(towns_)
                << "): keep it now, it cannot be shown again\n";
    } else if (sub(tokens_, "revoke")) {
      ids.revoke_token(name_);
      ids.audit(who, "token.revoke", name_, {});
      std::cout << "token " << name_ << " revoked\n";
    } else if (sub(tokens_, "list")) {
      for (const auto& t : ids.tokens())
        std::cout << t.name << '\t' << to_string(t.role) << '\t' << towns_text(t.towns) << '\t'
                  << (t.revoked_ms ? "revoked " + iso_ms(*t.revoked_ms) : std::string("active")) << '\n';
    }
    return 0;
  } catch (const auth_error& e) {
    std::cerr << "sewage-gateway: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sewage-gateway: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace sewage::gateway::auth
