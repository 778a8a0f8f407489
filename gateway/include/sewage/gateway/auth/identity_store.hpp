#pragma once
/// \file
/// Where auth::service (service.hpp) keeps users, bearer tokens, sessions and the audit log:
/// - the SQLite file `store.path` (tables of schema v7, made by sqlite_store), the default;
/// - with store.backend = "postgresql", the shared PostgreSQL database (tables of PostgreSQL schema
///   v4, made by postgresql_store): two gateways of a standby pair (standby/leader_lease.hpp) then
///   know the same accounts, tokens and sessions, so operators sign in on the new leader with their
///   accounts, and a session cookie outlives the takeover.
/// Rows only: every rule (names, passwords, rate limits, expiry, which change ends sessions) is
/// the service's. Secrets are stored as the service hands them over (Argon2id hashes, SHA-256
/// digests), never in clear.
///
/// Errors: every database failure throws std::runtime_error naming the store ("identity store")
/// and the operation, never a password of the connection string. A PostgreSQL connection that
/// broke is opened again by the next call.
/// Thread-safety: none; auth::service serialises all calls under its mutex.

#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway {
struct config;
}

namespace sewage::gateway::auth {

struct audit_row {
  std::uint64_t id{0};
  std::int64_t ts_ms{0};
  std::string actor;       ///< user or token name; "" for anonymous, "sewage-gateway" for system
  actor_kind kind{actor_kind::system};
  std::string address;     ///< the peer's address; "" for the CLI and the gateway itself ("cli" for the CLI)
  std::string action;      ///< login.ok, login.failed, logout, alert.ack, command.send, user.add, ... (README)
  std::string target;      ///< what it acted on: a user, token, alert id, terminal id; "" when none
  std::string detail_json; ///< a JSON object with more facts (never a secret)
};

struct audit_query {
  std::optional<std::int64_t> from_ms;  ///< inclusive
  std::optional<std::int64_t> to_ms;    ///< exclusive
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::uint64_t> before_id;  ///< paging: rows with a smaller id (newest first)
  std::size_t limit{100};
};

/// One account as stored. `role` and `towns_json` (a JSON array of town names) as the service
/// wrote them.
struct user_row {
  std::string name;
  std::string role;
  std::string towns_json;
  std::string hash;  ///< Argon2id encoded hash (secrets.hpp)
  bool disabled{false};
  std::int64_t created_ms{0};
  std::int64_t changed_ms{0};
  std::string contractor;
};

/// The columns a change of an account sets; absent = kept as stored (so that two writers changing
/// different columns, e.g. the CLI resetting a password while the API changes the towns, never undo
/// each other's change).
struct user_patch {
  std::optional<std::string> role;
  std::optional<std::string> towns_json;
  std::optional<std::string> hash;
  std::optional<bool> disabled;
  std::optional<std::string> contractor;
  std::int64_t changed_ms{0};
};

/// One bearer token as stored (its secret only as the SHA-256 hex digest, written by insert_token).
struct token_row {
  std::string name;
  std::string role;
  std::string towns_json;
  std::int64_t created_ms{0};
  std::optional<std::int64_t> revoked_ms;
  std::string contractor;
};

/// A session with its user's current role, towns, contractor and disabled flag.
struct session_row {
  std::string user;
  std::string csrf;
  std::int64_t created_ms{0};
  std::int64_t last_seen_ms{0};
  std::string role;
  std::string towns_json;
  bool disabled{false};
  std::string contractor;
};

class identity_store {
 public:
  virtual ~identity_store() = default;
  [[nodiscard]] virtual std::optional<user_row> user(const std::string& name) = 0;
  /// Inserts a new account (the caller checked that the name is free).
  virtual void insert_user(const user_row& u) = 0;
  /// Sets the columns `p` holds (and changed_ms) of the account `name`, in one statement (no row:
  /// nothing happens). `end_sessions`: also deletes every session of the account, in the same
  /// transaction (a new password or a lost right never stands while an old session still works,
  /// not even after a crash between the two).
  virtual void update_user(const std::string& name, const user_patch& p, bool end_sessions) = 0;
  /// All accounts, by name.
  [[nodiscard]] virtual std::vector<user_row> users() = 0;
  [[nodiscard]] virtual bool token_exists(const std::string& name) = 0;
  virtual void insert_token(const token_row& t, const std::string& hash_hex) = 0;
  /// Marks the active token `name` revoked at now_ms; false when there was none.
  virtual bool revoke_token(const std::string& name, std::int64_t now_ms) = 0;
  /// All tokens, by name.
  [[nodiscard]] virtual std::vector<token_row> tokens() = 0;
  /// The token with this digest, when not revoked.
  [[nodiscard]] virtual std::optional<token_row> active_token(const std::string& hash_hex) = 0;
  /// Inserts the new session `key` of `user` and appends `audit` (its login row, audit.id ignored)
  /// in one transaction: no session without its login in the audit log.
  virtual void insert_session(const std::string& key, const std::string& user, const std::string& csrf,
                              std::int64_t now_ms, const audit_row& audit) = 0;
  [[nodiscard]] virtual std::optional<session_row> session(const std::string& key) = 0;
  virtual void touch_session(const std::string& key, std::int64_t now_ms) = 0;
  virtual void delete_session(const std::string& key) = 0;
  virtual void delete_sessions_of(const std::string& user) = 0;
  /// Appends r (r.id is ignored: the store numbers rows in order).
  virtual void insert_audit(const audit_row& r) = 0;
  /// Rows newest first, filtered and paged by q.
  [[nodiscard]] virtual std::vector<audit_row> audit_rows(const audit_query& q) = 0;
  /// Deletes rows older than before_ms; returns how many.
  virtual std::size_t purge_audit(std::int64_t before_ms) = 0;
  /// Fences every later write (store.hpp commit_fence, standby/leader_lease.hpp): each runs in a
  /// transaction whose last statement checks that gateway_leader still holds `fence.term`, else it
  /// rolls back and throws store_fenced, nothing written (a frozen former leader that wakes after a
  /// takeover writes no session, account, token or audit row). PostgreSQL only: the SQLite
  /// implementation throws std::logic_error (one host's file has nothing to fence).
  virtual void set_commit_fence(const commit_fence& fence) = 0;
};

/// The SQLite file at `db_path` (it must exist and be migrated to schema v7 or later: open it with
/// sqlite_store first). Throws std::runtime_error naming the path.
std::unique_ptr<identity_store> open_sqlite_identity_store(const std::filesystem::path& db_path);
/// The PostgreSQL database at libpq connection string `uri` (migrated to schema v4 or later: open
/// it with postgresql_store first). Throws std::runtime_error (never with the password).
std::unique_ptr<identity_store> open_postgresql_identity_store(const std::string& uri);
/// The identity store of cfg.backend (store_factory.hpp). Throws as the two above.
std::unique_ptr<identity_store> open_identity_store(const config& cfg);

}  // namespace sewage::gateway::auth
