// The identity store on the gateway's SQLite file (identity_store.hpp): tables of schema v7 and
// later (sqlite_store.cpp migration_v7_identity), through the SQLite C API on a connection of its own.
#include "sewage/gateway/auth/identity_store.hpp"

#include "detail/sqlite_stmt.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace sewage::gateway::auth {
namespace {

/// A prepared statement of the identity store's connection.
class stmt : public gateway::detail::sqlite_stmt {
 public:
  stmt(sqlite3* db, const char* sql) : gateway::detail::sqlite_stmt(db, sql, "identity store") {}
};

actor_kind kind_of(const std::string& k) {
  return k == "user" ? actor_kind::user : k == "token" ? actor_kind::token : k == "anonymous" ? actor_kind::anonymous
                                                                                           : actor_kind::system;
}

class sqlite_identity_store final : public identity_store {
 public:
  explicit sqlite_identity_store(const std::filesystem::path& path)
      : db_(gateway::detail::open_room(path.string(), "'users','api_tokens','sessions','audit'", 4, "identity")) {}
  ~sqlite_identity_store() override { sqlite3_close(db_); }
  sqlite_identity_store(const sqlite_identity_store&) = delete;
  sqlite_identity_store& operator=(const sqlite_identity_store&) = delete;

  std::optional<user_row> user(const std::string& name) override {
    stmt s(db_, "SELECT name, role, towns, hash, disabled, created_ms, changed_ms, contractor FROM users WHERE name = ?1");
    if (!s.bind(1, name).step()) return std::nullopt;
    return row_of(s);
  }
  void insert_user(const user_row& u) override {
    stmt(db_, "INSERT INTO users(name, role, towns, hash, disabled, created_ms, changed_ms, contractor) "
              "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")
        .bind(1, u.name)
        .bind(2, u.role)
        .bind(3, u.towns_json)
        .bind(4, u.hash)
        .bind(5, std::int64_t{u.disabled ? 1 : 0})
        .bind(6, u.created_ms)
        .bind(7, u.changed_ms)
        .bind(8, u.contractor)
        .run();
  }
  void update_user(const std::string& name, const user_patch& p, bool end_sessions) override {
    in_transaction([&] {
      update_user_row(name, p);
      if (end_sessions) delete_sessions_of(name);
    });
  }
  void update_user_row(const std::string& name, const user_patch& p) {
    stmt(db_, "UPDATE users SET role = coalesce(?2, role), towns = coalesce(?3, towns), hash = coalesce(?4, hash), "
              "disabled = coalesce(?5, disabled), contractor = coalesce(?6, contractor), changed_ms = ?7 WHERE name = ?1")
        .bind(1, name)
        .bind(2, p.role)
        .bind(3, p.towns_json)
        .bind(4, p.hash)
        .bind(5, p.disabled ? std::optional<std::int64_t>(*p.disabled ? 1 : 0) : std::nullopt)
        .bind(6, p.contractor)
        .bind(7, p.changed_ms)
        .run();
  }
  std::vector<user_row> users() override {
    stmt s(db_, "SELECT name, role, towns, hash, disabled, created_ms, changed_ms, contractor FROM users ORDER BY name");
    std::vector<user_row> out;
    while (s.step()) out.push_back(row_of(s));
    return out;
  }

  bool token_exists(const std::string& name) override {
    stmt s(db_, "SELECT 1 FROM api_tokens WHERE name = ?1");
    return s.bind(1, name).step();
  }
  void insert_token(const token_row& t, const std::string& hash_hex) override {
    stmt(db_, "INSERT INTO api_tokens(name, hash, role, towns, created_ms, revoked_ms, contractor) VALUES(?1,?2,?3,?4,?5,?6,?7)")
        .bind(1, t.name)
        .bind(2, hash_hex)
        .bind(3, t.role)
        .bind(4, t.towns_json)
        .bind(5, t.created_ms)
        .bind(6, t.revoked_ms)
        .bind(7, t.contractor)
        .run();
  }
  bool revoke_token(const std::string& name, std::int64_t now_ms) override {
    stmt(db_, "UPDATE api_tokens SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL").bind(1, name).bind(2, now_ms).run();
    return sqlite3_changes(db_) != 0;
  }
  std::vector<token_row> tokens() override {
    stmt s(db_, "SELECT name, role, towns, created_ms, revoked_ms, contractor FROM api_tokens ORDER BY name");
    std::vector<token_row> out;
    while (s.step()) out.push_back(token_of(s));
    return out;
  }
  std::optional<token_row> active_token(const std::string& hash_hex) override {
    stmt s(db_, "SELECT name, role, towns, created_ms, revoked_ms, contractor FROM api_tokens WHERE hash = ?1 AND revoked_ms IS NULL");
    if (!s.bind(1, hash_hex).step()) return std::nullopt;
    return token_of(s);
  }

  void insert_session(const std::string& key, const std::string& user, const std::string& csrf, std::int64_t now_ms,
                      const audit_row& audit) override {
    in_transaction([&] {
      stmt(db_, "INSERT INTO sessions(key, user, csrf, created_ms, last_seen_ms) VALUES(?1,?2,?3,?4,?4)")
          .bind(1, key)
          .bind(2, user)
          .bind(3, csrf)
          .bind(4, now_ms)
          .run();
      insert_audit(audit);
    });
  }
  std::optional<session_row> session(const std::string& key) override {
    stmt s(db_,
           "SELECT s.user, s.csrf, s.created_ms, s.last_seen_ms, u.role, u.towns, u.disabled, u.contractor"
           " FROM sessions s JOIN users u ON u.name = s.user WHERE s.key = ?1");
    if (!s.bind(1, key).step()) return std::nullopt;
    return session_row{s.text(0), s.text(1), s.i64(2), s.i64(3), s.text(4), s.text(5), s.i64(6) != 0, s.text(7)};
  }
  void touch_session(const std::string& key, std::int64_t now_ms) override {
    stmt(db_, "UPDATE sessions SET last_seen_ms = ?2 WHERE key = ?1").bind(1, key).bind(2, now_ms).run();
  }
  void delete_session(const std::string& key) override { stmt(db_, "DELETE FROM sessions WHERE key = ?1").bind(1, key).run(); }
  void delete_sessions_of(const std::string& user) override {
    stmt(db_, "DELETE FROM sessions WHERE user = ?1").bind(1, user).run();
  }

  void insert_audit(const audit_row& r) override {
    stmt(db_, "INSERT INTO audit(ts_ms, actor, actor_kind, address, action, target, detail) VALUES(?1,?2,?3,?4,?5,?6,?7)")
        .bind(1, r.ts_ms)
        .bind(2, r.actor)
        .bind(3, std::string(to_string(r.kind)))
        .bind(4, r.address)
        .bind(5, r.action)
        .bind(6, r.target)
        .bind(7, r.detail_json)
        .run();
  }
  std::vector<audit_row> audit_rows(const audit_query& q) override {
    stmt s(db_,
           "SELECT id, ts_ms, actor, actor_kind, address, action, target, detail FROM audit"
           " WHERE (?1 IS NULL OR ts_ms >= ?1) AND (?2 IS NULL OR ts_ms < ?2) AND (?3 IS NULL OR actor = ?3)"
           " AND (?4 IS NULL OR action = ?4) AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6");
    s.bind(1, q.from_ms).bind(2, q.to_ms).bind(3, q.actor).bind(4, q.action);
    if (q.before_id) s.bind(5, static_cast<std::int64_t>(*q.before_id)); else s.bind_null(5);
    s.bind(6, static_cast<std::int64_t>(q.limit));
    std::vector<audit_row> out;
    while (s.step())
      out.push_back({static_cast<std::uint64_t>(s.i64(0)), s.i64(1), s.text(2), kind_of(s.text(3)), s.text(4), s.text(5),
                     s.text(6), s.text(7)});
    return out;
  }
  std::size_t purge_audit(std::int64_t before_ms) override {
    stmt(db_, "DELETE FROM audit WHERE ts_ms < ?1").bind(1, before_ms).run();
    return static_cast<std::size_t>(sqlite3_changes(db_));
  }
  void set_commit_fence(const commit_fence&) override {
    throw std::logic_error("identity store: a SQLite file cannot be fenced (store.backend = \"postgresql\" only)");
  }

 private:
  /// BEGIN IMMEDIATE .. COMMIT around `f`; rolled back (and rethrown) on any exception.
  template <class F>
  void in_transaction(F&& f) {
    stmt(db_, "BEGIN IMMEDIATE").run();
    try {
      f();
      stmt(db_, "COMMIT").run();
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  static user_row row_of(stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.i64(4) != 0, s.i64(5), s.i64(6), s.text(7)};
  }
  static token_row token_of(stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.i64(3), s.null(4) ? std::nullopt : std::optional<std::int64_t>(s.i64(4)),
            s.text(5)};
  }

  sqlite3* db_{nullptr};
};

}  // namespace

std::unique_ptr<identity_store> open_sqlite_identity_store(const std::filesystem::path& db_path) {
  return std::make_unique<sqlite_identity_store>(db_path);
}

}  // namespace sewage::gateway::auth
