#pragma once
/// \file
/// Per-terminal MQTT identities (issue 11): from the gateway's terminal registry, one broker
/// account per terminal (username = terminal id, a random password) plus the gateway's own
/// account, the mosquitto files that enforce them (password_file hashed by `mosquitto_passwd`,
/// acl_file, a TLS listener config) and each agent's [mqtt] snippet. Revoking one terminal removes
/// its account from the password file; a SIGHUP to mosquitto then reloads the file and
/// disconnects that client (mosquitto 2.0 re-checks every connected client on reload; verified on
/// 2.0.11), leaving every other connection untouched.
///
/// Layout of the output (`out`, secrets; `broker_dir`, what mosquitto reads):
///
///   out/agents/<ID>.toml   terminal_id + [mqtt] (uri, username = ID, password, ca_file); 0600
///   out/gateway.toml       the gateway's [mqtt] (uri, client_id, username, password, ca_file); 0600
///   out/revoked.txt        "<ID>\t<UTC time>" per revoked terminal (never issued again unless reinstated)
///   broker_dir/passwd      mosquitto password file (PBKDF2-SHA512 hashes by mosquitto_passwd -U)
///   broker_dir/acl         mosquitto acl_file (pattern lines: a terminal writes only its own topics)
///   broker_dir/sewage.conf mosquitto config: TLS listener, no anonymous access, password_file,
///                          acl_file, use_username_as_clientid (a terminal cannot take another's client id)
///
/// Functions here are not thread-safe against each other on one `out` (each takes an exclusive
/// lock file `out/.lock` for its duration, so two processes serialise).

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::provision {

/// The gateway's broker account: its username and (the broker forces it) its client id. A
/// terminal of this id is refused by provision().
inline constexpr std::string_view gateway_account = "sewage-gateway";

/// A provisioning problem: bad option, unreadable registry, a file that cannot be written, a
/// failed mosquitto_passwd. `what()` names the option or file and the reason.
class provision_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct options {
  std::filesystem::path registry;    ///< the gateway's terminal registry (TOML), read with gateway::load_registry
  std::filesystem::path out;         ///< secrets and state (see the file comment); created 0700
  std::filesystem::path broker_dir;  ///< mosquitto's files; empty = out/broker
  /// The broker as terminals and the gateway reach it, e.g. "ssl://mqtt.county.example:8883".
  /// The host name must be in the broker certificate's subjectAltName (agents check it).
  std::string uri;
  /// Accept a tcp:// / mqtt:// `uri` (the snippets then carry mqtt.allow_plaintext = true and the
  /// broker config gets a plain listener). Default false: a plain uri is refused.
  bool allow_plaintext{false};
  /// CA certificate path as installed on the terminals and the gateway host (written into the
  /// snippets as mqtt.ca_file); empty = they use the system CA store.
  std::string ca_file;
  /// Broker side: listener port and (optional) bind address; certificate and key files of the
  /// broker (paths on the broker host, readable by user mosquitto). Required with TLS.
  int listener_port{8883};
  std::string listener_address;
  std::string broker_cert_file;
  std::string broker_key_file;
  /// Revoked terminals to issue a new credential to (removed from revoked.txt).
  std::vector<std::string> reinstate;
  /// `mosquitto_passwd` executable (PATH lookup when no slash).
  std::string mosquitto_passwd{"mosquitto_passwd"};
};

struct provision_result {
  std::size_t terminals{0};  ///< in the registry
  std::size_t issued{0};     ///< new credentials generated this run
  std::size_t kept{0};       ///< existing credentials kept (their agents need no change)
  std::vector<std::string> revoked_skipped;   ///< registered but revoked: no account
  std::vector<std::string> unregistered;      ///< have a snippet but are no longer registered: no account
  std::filesystem::path broker_dir;
};

/// Writes or updates everything for the registry (idempotent: an existing terminal keeps its
/// password, so re-running after adding terminals touches no installed agent). Every file is
/// written to a temporary name and renamed. Throws provision_error (or gateway::config_error
/// for the registry, naming file, terminal and key).
provision_result provision(const options& o);

struct revoke_result {
  bool had_account{false};  ///< an account was removed from the password file
  bool already_revoked{false};
};

/// Revokes terminal `id`: removes its account from broker_dir/passwd (atomically), deletes
/// out/agents/<id>.toml (the password in it is dead), records it in out/revoked.txt so provision()
/// never issues it again unless reinstated. Other accounts are untouched. Does not signal the
/// broker (see reload_broker). Throws provision_error for an invalid id or unwritable files.
revoke_result revoke(const std::filesystem::path& out, const std::filesystem::path& broker_dir, const std::string& id);

/// Sends SIGHUP to the broker whose PID is in `pid_file` (mosquitto's `pid_file`; Debian:
/// /run/mosquitto/mosquitto.pid) or `pid` (> 0 wins): mosquitto reloads password and ACL files
/// and disconnects clients whose account is gone. Throws provision_error naming the file or PID
/// and the reason (missing, not a number, no such process, not permitted).
void reload_broker(const std::filesystem::path& pid_file, int pid);

/// The acl_file text (same for every county: pattern lines with %u = username = terminal id, and
/// the gateway's user block). Topics come from sewage::proto. Never throws except bad_alloc.
std::string acl_text();

/// A random password: 24 bytes from getrandom(2) as 32 base64url characters (192 bits). Throws
/// provision_error if the kernel's generator fails.
std::string random_password();

}  // namespace sewage::provision
