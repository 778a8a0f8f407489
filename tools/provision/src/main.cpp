// sewage-provision: per-terminal MQTT identities for the county broker (see provision.hpp and
// gateway/README.md, "Terminal identities"). Never prints a password.
#include "sewage/provision/provision.hpp"

#include <sewage/gateway/config.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>

namespace {

/// Debian's mosquitto.conf: pid_file /run/mosquitto/mosquitto.pid.
constexpr const char* kDefaultPidFile = "/run/mosquitto/mosquitto.pid";

struct reload_options {
  std::string pid_file{kDefaultPidFile};
  int pid{0};
  bool no_reload{false};
};

void add_reload_options(CLI::App* cmd, reload_options& r) {
  cmd->add_option("--broker-pid-file", r.pid_file, "mosquitto's pid_file: SIGHUP reloads passwd and acl")
      ->capture_default_str();
  cmd->add_option("--broker-pid", r.pid, "the broker's PID (instead of --broker-pid-file)");
  cmd->add_flag("--no-reload", r.no_reload, "do not signal the broker (reload it yourself: systemctl reload mosquitto)");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  namespace p = sewage::provision;
  CLI::App app{"sewage-provision: per-terminal MQTT identities (broker accounts, ACL, agent config snippets)"};
  app.require_subcommand(1);

  p::options o;
  reload_options pr;
  auto* prov = app.add_subcommand("provision", "create or update every terminal's credential from the registry "
                                               "(existing ones are kept), the gateway's account and the broker's files");
  prov->add_option("--registry", o.registry, "terminal registry (TOML, the gateway's)")->required()->check(CLI::ExistingFile);
  prov->add_option("--out", o.out, "folder for the agents' and gateway's snippets (secrets) and the state")->required();
  prov->add_option("--broker-dir", o.broker_dir, "folder for mosquitto's passwd, acl and sewage.conf (default OUT/broker)");
  prov->add_option("--uri", o.uri, "the broker as terminals reach it, e.g. ssl://mqtt.county.example:8883")->required();
  prov->add_flag("--allow-plaintext", o.allow_plaintext, "accept a tcp:// --uri (NOT recommended: passwords in clear)");
  prov->add_option("--ca-file", o.ca_file, "CA certificate path on the terminals and gateway host (empty: system store)");
  prov->add_option("--broker-cert", o.broker_cert_file, "broker certificate (PEM) path on the broker host");
  prov->add_option("--broker-key", o.broker_key_file, "broker private key (PEM) path on the broker host");
  prov->add_option("--listener-port", o.listener_port, "the broker's listener port")->capture_default_str();
  prov->add_option("--listener-address", o.listener_address, "bind address of the listener (default: all)");
  prov->add_option("--reinstate", o.reinstate, "a revoked terminal to issue a new credential to (repeatable)");
  add_reload_options(prov, pr);

  std::filesystem::path out;
  std::filesystem::path broker_dir;
  std::string id;
  reload_options rr;
  auto* rev = app.add_subcommand("revoke", "revoke one terminal (stolen SBC): remove its account and reload the broker, "
                                           "which disconnects it; other terminals are untouched");
  rev->add_option("--out", out, "the folder given to provision")->required();
  rev->add_option("--broker-dir", broker_dir, "as given to provision (default OUT/broker)");
  rev->add_option("terminal", id, "terminal id")->required();
  add_reload_options(rev, rr);

  auto* acl = app.add_subcommand("acl", "print the broker's acl_file");
  CLI11_PARSE(app, argc, argv);

  try {
    if (acl->parsed()) {
      std::cout << p::acl_text();
      return 0;
    }
    if (prov->parsed()) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = p::provision(o);
      std::cout << "sewage-provision: " << r.terminals << " terminals: " << r.issued << " new credentials, " << r.kept
                << " kept, " << r.revoked_skipped.size() << " revoked (no account) in " << seconds_since(t0) << " s\n"
                << "  agents' snippets: " << (o.out / "agents").string() << "/<ID>.toml; gateway: "
                << (o.out / "gateway.toml").string() << "\n"
                << "  broker: " << (r.broker_dir / "sewage.conf").string() << " (with passwd, acl)\n";
      for (const auto& id_ : r.revoked_skipped) std::cout << "  revoked, not issued: " << id_ << "\n";
      if (!r.unregistered.empty()) {
        std::cout << "  no longer in the registry, account removed:";
        for (const auto& id_ : r.unregistered) std::cout << ' ' << id_;
        std::cout << "\n";
      }
      const bool asked = pr.pid > 0 || pr.pid_file != kDefaultPidFile;
      if (pr.no_reload || (!asked && !std::filesystem::exists(pr.pid_file))) {
        std::cout << "  broker not reloaded: start it, or reload it (systemctl reload mosquitto) to apply\n";
      } else {
        p::reload_broker(pr.pid_file, pr.pid);
        std::cout << "  broker reloaded (SIGHUP)\n";
      }
      return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = p::revoke(out, broker_dir, id);
    std::cout << "sewage-provision: " << id << (r.had_account ? ": account removed" : ": had no account")
              << (r.already_revoked ? " (already revoked)" : "") << "; recorded in " << (out / "revoked.txt").string()
              << "\n";
    if (rr.no_reload) {
      std::cout << "  broker not reloaded (--no-reload): until it is (systemctl reload mosquitto), a connected " << id
                << " stays connected\n";
      return 0;
    }
    try {
      p::reload_broker(rr.pid_file, rr.pid);
    } catch (const p::provision_error& e) {
      std::cerr << "sewage-provision: " << id << " is revoked in the files but the broker was NOT reloaded: " << e.what()
                << "; reload it now (systemctl reload mosquitto): until then a connected " << id << " stays connected\n";
      return 1;
    }
    std::cout << "  broker reloaded (SIGHUP sent): it disconnects " << id << " and refuses it from now on ("
              << seconds_since(t0) << " s)\n";
    return 0;
  } catch (const p::provision_error& e) {
    std::cerr << "sewage-provision: " << e.what() << "\n";
    return 1;
  } catch (const sewage::gateway::config_error& e) {
    std::cerr << "sewage-provision: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sewage-provision: " << e.what() << "\n";
    return 1;
  }
}
