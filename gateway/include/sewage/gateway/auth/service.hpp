#pragma once
/// \file
/// Users, bearer tokens, sessions, login rate limit and the audit log (issue 11; gateway/README.md
/// "Users, roles and town scope"). Kept in the gateway's store (identity_store.hpp: the SQLite
/// file's tables of schema v7, or with store.backend = "postgresql" the shared database's, so a
/// standby that takes over knows the same accounts and sessions) through a connection of its own,
/// so the CLI (`sewage-gateway users ...`) and a running gateway see the same accounts: a user
/// disabled with the CLI is refused at their next request, no restart.
///
/// Secrets at rest: passwords as Argon2id hashes (secrets.hpp), session ids and bearer tokens as
/// SHA-256 digests. No function logs or returns a password, a session id or a token, except the
/// one return value that hands a new one to its owner (login(), add_token()).
///
/// Thread-safety: every member is safe to call from any thread (one mutex around the connection;
/// each call is one or a few indexed statements).

#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/auth/identity_store.hpp"
#include "sewage/gateway/clock.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sewage::gateway::auth {

/// A refused change (bad name, unknown user, duplicate): `status` is the HTTP status the API
/// answers with (400, 404, 409); the message names the field and never holds a secret.
class auth_error : public std::runtime_error {
 public:
  auth_error(unsigned status, const std::string& what) : std::runtime_error(what), status_(status) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }

 private:
  unsigned status_;
};

/// The [http] keys of issue 11 (config.hpp carries them; defaults there and in gateway.example.toml).
struct settings {
  std::chrono::seconds session_idle_timeout{1800};  ///< a session unused this long ends
  std::chrono::seconds session_max_age{43200};      ///< a session ends this long after login, used or not
  std::uint32_t login_max_failures{5};              ///< failures per user and per address within the window ...
  std::chrono::seconds login_window{900};           ///< ... after which logins are refused 429 until the window slides
};

struct user_info {
  std::string name;
  auth::role role{auth::role::viewer};
  std::vector<std::string> towns;
  bool disabled{false};
  std::int64_t created_ms{0};
  std::int64_t changed_ms{0};
  std::string contractor;  ///< role contractor: its [[om.contractor]] name
};

struct token_info {
  std::string name;
  auth::role role{auth::role::viewer};
  std::vector<std::string> towns;
  std::int64_t created_ms{0};
  std::optional<std::int64_t> revoked_ms;
  std::string contractor;  ///< role contractor: its [[om.contractor]] name
};

/// A change to a user (PATCH /api/users/{name}, CLI passwd/disable/enable); absent = unchanged.
struct user_change {
  std::optional<std::string> password;
  std::optional<auth::role> role;
  std::optional<std::vector<std::string>> towns;
  std::optional<bool> disabled;
  std::optional<std::string> contractor;  ///< with role contractor (required then), "" otherwise
};

struct login_result {
  enum class outcome { ok, failed, rate_limited } result{outcome::failed};
  principal who;               ///< ok: the user, with the new session's CSRF token
  std::string cookie;          ///< ok: the session id for the cookie (256-bit random, base64url); never stored
  std::uint32_t retry_after_s{0};  ///< rate_limited: seconds until one more attempt is allowed
};

class service {
 public:
  /// Opens `db_path` (read-write; the database must exist and be migrated to schema v7 or later:
  /// open it with sqlite_store first). `clock` gives session, rate-limit and audit times (the real
  /// clock in the gateway, never a simulated one). Throws std::runtime_error naming the path.
  service(const std::filesystem::path& db_path, settings s, const clock_source& clock);
  /// The same on any identity store (open_identity_store: the configured backend). Throws
  /// std::invalid_argument for a null store.
  service(std::unique_ptr<identity_store> db, settings s, const clock_source& clock);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // --- users (CLI and admin API) --------------------------------------------------------------
  /// Adds a user. Errors (auth_error): bad name (400), password shorter than 8 bytes (400),
  /// a user of that name exists (409), role contractor without `contractor` or another role with
  /// one (400, naming `contractor`). The contractor name is not checked against the configuration here.
  void add_user(const std::string& name, const std::string& password, role r, const std::vector<std::string>& towns,
                const std::string& contractor = {});
  /// Changes a user; a new password, disabling or a changed role/scope ends the user's sessions
  /// (the new role applies at once anyway). Unknown user: auth_error 404.
  void change_user(const std::string& name, const user_change& c);
  [[nodiscard]] std::vector<user_info> users();

  // --- bearer tokens ----------------------------------------------------------------------------
  /// Makes a token; returns it ("sgw_" + 43 base64url characters). Only its SHA-256 is kept: shown
  /// once. Errors: bad name (400), a token of that name exists, revoked or not (409).
  /// `contractor` as for add_user.
  std::string add_token(const std::string& name, role r, const std::vector<std::string>& towns,
                        const std::string& contractor = {});
  /// Revokes a token at once. Unknown or already revoked: auth_error 404.
  void revoke_token(const std::string& name);
  [[nodiscard]] std::vector<token_info> tokens();

  // --- authentication -----------------------------------------------------------------------
  /// Checks a login. Rate limit first (more than login_max_failures failures for this user name
  /// or this address within login_window: rate_limited, the password is not even checked), then
  /// the password (an unknown or disabled user costs the same Argon2id work as a known one).
  /// Writes login.ok / login.failed to the audit log (detail: reason).
  login_result login(const std::string& user, const std::string& password, const std::string& address);
  /// The session of a cookie value, when it exists, the user is enabled and it has neither idled
  /// (session_idle_timeout) nor aged (session_max_age) out; an ended session is deleted. Marks it
  /// used (stored at most once a minute, so idle expiry may come up to 60 s late).
  std::optional<principal> session(const std::string& cookie, const std::string& address);
  /// The token's principal when it exists and is not revoked.
  std::optional<principal> bearer(const std::string& token, const std::string& address);
  /// Ends a session (logout); audit `logout`.
  void logout(const principal& who);

  // --- audit ------------------------------------------------------------------------------------
  /// Appends one row (ts = now). `detail_json` must be a JSON object text (or empty = {}).
  void audit(const principal& who, const std::string& action, const std::string& target,
             const std::string& detail_json = {});
  /// Rows newest first.
  [[nodiscard]] std::vector<audit_row> audit_rows(const audit_query& q);
  /// Deletes rows older than `before_ms` (store.retention_days); returns how many.
  std::size_t purge_audit(std::int64_t before_ms);
  /// Fences every later write of the identity store (identity_store::set_commit_fence): the
  /// leader of a standby pair calls it with its term. Throws std::logic_error on SQLite.
  void set_commit_fence(const commit_fence& fence);

  [[nodiscard]] const settings& config() const noexcept { return settings_; }

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  settings settings_;
};

}  // namespace sewage::gateway::auth
