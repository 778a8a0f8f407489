// The identity store on the shared PostgreSQL database (identity_store.hpp): tables of PostgreSQL
// schema v4 (store/postgresql_schema.cpp), through libpqxx on a connection of its own; and
// open_identity_store, which picks the backend of the configuration.
#include "sewage/gateway/auth/identity_store.hpp"

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/postgresql_store.hpp"

#include "detail/pg_room.hpp"

#include <pqxx/pqxx>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sewage::gateway::auth {
namespace {

/// Bound of each identity statement (ms): lookups and changes of one row by its key, the lists of
/// users and tokens (tens of rows), a batch of the audit purge: milliseconds on a healthy server,
/// so 5 s means a stuck one.
constexpr int identity_statement_timeout_ms = 5000;
/// Bound of a page of the audit log (ms): filtered by actor or action it may scan much of the log.
constexpr int audit_page_timeout_ms = 30000;

actor_kind kind_of(const std::string& k) {
  return k == "user" ? actor_kind::user : k == "token" ? actor_kind::token : k == "anonymous" ? actor_kind::anonymous
                                                                                           : actor_kind::system;
}

user_row user_of(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
          r[4].as<bool>(),        r[5].as<std::int64_t>(), r[6].as<std::int64_t>(), r[7].as<std::string>()};
}

token_row token_of(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::int64_t>(),
          r[4].is_null() ? std::nullopt : std::optional<std::int64_t>(r[4].as<std::int64_t>()), r[5].as<std::string>()};
}

class postgresql_identity_store final : public identity_store {
 public:
  explicit postgresql_identity_store(std::string uri)
      : pg_(std::move(uri), "identity store", identity_statement_timeout_ms) {
    pg_.guard("open", [&] {
      auto& c = pg_.conn();
      pqxx::nontransaction t(c);
      if (t.exec("SELECT to_regclass('users') IS NOT NULL AND to_regclass('sessions') IS NOT NULL AND "
                 "to_regclass('api_tokens') IS NOT NULL AND to_regclass('audit') IS NOT NULL")[0][0]
              .as<bool>())
        return;
      throw std::runtime_error("no identity tables: open the store with postgresql_store first (schema v4 or later)");
    });
  }

  std::optional<user_row> user(const std::string& name) override {
    return pg_.guard("user", [&]() -> std::optional<user_row> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(
          "SELECT name, role, towns, hash, disabled, created_ms, changed_ms, contractor FROM users WHERE name = $1", name);
      if (r.empty()) return std::nullopt;
      return user_of(r[0]);
    });
  }
  void insert_user(const user_row& u) override {
    pg_.write("insert_user", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("INSERT INTO users(name, role, towns, hash, disabled, created_ms, changed_ms, contractor) "
                    "VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
                    u.name, u.role, u.towns_json, u.hash, u.disabled, u.created_ms, u.changed_ms, u.contractor);
    });
  }
  void update_user(const std::string& name, const user_patch& p, bool end_sessions) override {
    pg_.write("update_user", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("UPDATE users SET role = coalesce($2, role), towns = coalesce($3, towns), hash = coalesce($4, hash), "
                    "disabled = coalesce($5, disabled), contractor = coalesce($6, contractor), changed_ms = $7 "
                    "WHERE name = $1",
                    name, p.role, p.towns_json, p.hash, p.disabled, p.contractor, p.changed_ms);
      if (end_sessions) t.exec_params("DELETE FROM sessions WHERE user_name = $1", name);
    });
  }
  std::vector<user_row> users() override {
    return pg_.guard("users", [&] {
      pqxx::nontransaction t(pg_.conn());
      std::vector<user_row> out;
      for (const auto& r : t.exec("SELECT name, role, towns, hash, disabled, created_ms, changed_ms, contractor "
                                  "FROM users ORDER BY name"))
        out.push_back(user_of(r));
      return out;
    });
  }

  bool token_exists(const std::string& name) override {
    return pg_.guard("token_exists", [&] {
      pqxx::nontransaction t(pg_.conn());
      return !t.exec_params("SELECT 1 FROM api_tokens WHERE name = $1", name).empty();
    });
  }
  void insert_token(const token_row& tk, const std::string& hash_hex) override {
    pg_.write("insert_token", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("INSERT INTO api_tokens(name, hash, role, towns, created_ms, revoked_ms, contractor) "
                    "VALUES($1,$2,$3,$4,$5,$6,$7)",
                    tk.name, hash_hex, tk.role, tk.towns_json, tk.created_ms, tk.revoked_ms, tk.contractor);
    });
  }
  bool revoke_token(const std::string& name, std::int64_t now_ms) override {
    return pg_.write("revoke_token", fence_, [&](pqxx::transaction_base& t) {
      return t.exec_params("UPDATE api_tokens SET revoked_ms = $2 WHERE name = $1 AND revoked_ms IS NULL", name, now_ms)
                 .affected_rows() != 0;
    });
  }
  std::vector<token_row> tokens() override {
    return pg_.guard("tokens", [&] {
      pqxx::nontransaction t(pg_.conn());
      std::vector<token_row> out;
      for (const auto& r :
           t.exec("SELECT name, role, towns, created_ms, revoked_ms, contractor FROM api_tokens ORDER BY name"))
        out.push_back(token_of(r));
      return out;
    });
  }
  std::optional<token_row> active_token(const std::string& hash_hex) override {
    return pg_.guard("active_token", [&]() -> std::optional<token_row> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(
          "SELECT name, role, towns, created_ms, revoked_ms, contractor FROM api_tokens WHERE hash = $1 AND "
          "revoked_ms IS NULL",
          hash_hex);
      if (r.empty()) return std::nullopt;
      return token_of(r[0]);
    });
  }

  void insert_session(const std::string& key, const std::string& user, const std::string& csrf, std::int64_t now_ms,
                      const audit_row& audit) override {
    pg_.write("insert_session", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("INSERT INTO sessions(key, user_name, csrf, created_ms, last_seen_ms) VALUES($1,$2,$3,$4,$4)", key,
                    user, csrf, now_ms);
      append_audit(t, audit);
    });
  }
  std::optional<session_row> session(const std::string& key) override {
    return pg_.guard("session", [&]() -> std::optional<session_row> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(
          "SELECT s.user_name, s.csrf, s.created_ms, s.last_seen_ms, u.role, u.towns, u.disabled, u.contractor"
          " FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.key = $1",
          key);
      if (r.empty()) return std::nullopt;
      const auto& x = r[0];
      return session_row{x[0].as<std::string>(), x[1].as<std::string>(), x[2].as<std::int64_t>(),
                         x[3].as<std::int64_t>(), x[4].as<std::string>(), x[5].as<std::string>(),
                         x[6].as<bool>(),        x[7].as<std::string>()};
    });
  }
  void touch_session(const std::string& key, std::int64_t now_ms) override {
    pg_.write("touch_session", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("UPDATE sessions SET last_seen_ms = $2 WHERE key = $1", key, now_ms);
    });
  }
  void delete_session(const std::string& key) override {
    pg_.write("delete_session", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("DELETE FROM sessions WHERE key = $1", key);
    });
  }
  void delete_sessions_of(const std::string& user) override {
    pg_.write("delete_sessions_of", fence_, [&](pqxx::transaction_base& t) {
      t.exec_params("DELETE FROM sessions WHERE user_name = $1", user);
    });
  }

  void insert_audit(const audit_row& a) override {
    pg_.write("insert_audit", fence_, [&](pqxx::transaction_base& t) { append_audit(t, a); });
  }
  static void append_audit(pqxx::transaction_base& t, const audit_row& a) {
    t.exec_params("INSERT INTO audit(ts_ms, actor, actor_kind, address, action, target, detail) VALUES($1,$2,$3,$4,$5,$6,$7)",
                  a.ts_ms, a.actor, std::string(to_string(a.kind)), a.address, a.action, a.target, a.detail_json);
  }
  std::vector<audit_row> audit_rows(const audit_query& q) override {
    return pg_.guard("audit_rows", [&] {
      // A page filtered by actor or action may scan much of the log: a longer bound than a lookup.
      pqxx::work t(pg_.conn());
      t.exec("SET LOCAL statement_timeout = " + std::to_string(audit_page_timeout_ms));
      const std::optional<std::int64_t> before =
          q.before_id ? std::optional<std::int64_t>(static_cast<std::int64_t>(*q.before_id)) : std::nullopt;
      std::vector<audit_row> out;
      for (const auto& r : t.exec_params(
               "SELECT id, ts_ms, actor, actor_kind, address, action, target, detail FROM audit"
               " WHERE ($1::bigint IS NULL OR ts_ms >= $1) AND ($2::bigint IS NULL OR ts_ms < $2)"
               " AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4)"
               " AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
               q.from_ms, q.to_ms, q.actor, q.action, before, static_cast<std::int64_t>(q.limit)))
        out.push_back({r[0].as<std::uint64_t>(), r[1].as<std::int64_t>(), r[2].as<std::string>(),
                       kind_of(r[3].as<std::string>()), r[4].as<std::string>(), r[5].as<std::string>(),
                       r[6].as<std::string>(), r[7].as<std::string>()});
      t.commit();
      return out;
    });
  }
  std::size_t purge_audit(std::int64_t before_ms) override {
    // In batches by the time index, each one statement well inside the statement bound: a
    // backlog (retention_days lowered) is worked off rather than cancelled as a whole.
    constexpr std::int64_t batch = 10'000;
    std::size_t deleted = 0;
    for (;;) {
      const auto n = pg_.write("purge_audit", fence_, [&](pqxx::transaction_base& t) {
        return t
            .exec_params("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts_ms < $1 ORDER BY ts_ms LIMIT $2)",
                         before_ms, batch)
            .affected_rows();
      });
      deleted += static_cast<std::size_t>(n);
      if (static_cast<std::int64_t>(n) < batch) return deleted;
    }
  }
  void set_commit_fence(const commit_fence& fence) override { fence_ = fence; }

 private:
  gateway::detail::pg_room_connection pg_;
  std::optional<commit_fence> fence_;  // set_commit_fence
};

}  // namespace

std::unique_ptr<identity_store> open_postgresql_identity_store(const std::string& uri) {
  return std::make_unique<postgresql_identity_store>(uri);
}

std::unique_ptr<identity_store> open_identity_store(const config& cfg) {
  if (cfg.backend == store_backend::postgresql) return open_postgresql_identity_store(cfg.postgresql_uri);
  return open_sqlite_identity_store(cfg.store_path);
}

}  // namespace sewage::gateway::auth
