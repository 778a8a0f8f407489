// Users, tokens, sessions, login rate limit, audit (auth/service.hpp). SQL through the SQLite C API
// on a connection of its own; nlohmann for the towns lists and audit details.
#include "sewage/gateway/auth/service.hpp"

#include "sewage/gateway/auth/secrets.hpp"
#include "detail/sqlite_stmt.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>

namespace sewage::gateway::auth {

using nlohmann::json;

namespace {

/// A prepared statement of the identity store's connection.
class stmt : public gateway::detail::sqlite_stmt {
 public:
  stmt(sqlite3* db, const char* sql) : gateway::detail::sqlite_stmt(db, sql, "identity store") {}
};

std::string towns_json(const std::vector<std::string>& towns) { return json(towns).dump(); }
std::vector<std::string> parse_towns(const std::string& s) {
  const auto j = json::parse(s, nullptr, false);
  if (!j.is_array()) return {};
  std::vector<std::string> out;
  for (const auto& t : j)
    if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}
role role_of(const std::string& s) { return parse_role(s).value_or(role::viewer); }

void check_name(const std::string& what, const std::string& name) {
  if (auto p = name_problem(name)) throw auth_error(400, what + ": " + *p);
}

/// Role contractor needs a contractor name; other roles have none.
void check_contractor(role r, const std::string& contractor) {
  if (r == role::contractor && contractor.empty())
    throw auth_error(400, "contractor: role contractor needs the [[om.contractor]] name it works for");
  if (r != role::contractor && !contractor.empty())
    throw auth_error(400, "contractor: only accounts of role contractor name a contractor");
  if (!contractor.empty()) check_name("contractor", contractor);
}

/// Minimum password length, bytes (NIST SP 800-63B 5.1.1.2: at least 8 characters).
constexpr std::size_t min_password_bytes = 8;
/// The most bytes of a password hashed (a bound on the work a request can cause).
constexpr std::size_t max_password_bytes = 1024;

void check_password(const std::string& pw) {
  if (pw.size() < min_password_bytes || pw.size() > max_password_bytes)
    throw auth_error(400, "password: must be " + std::to_string(min_password_bytes) + ".." +
                              std::to_string(max_password_bytes) + " bytes");
}

/// How often a session's last use is written (idle expiry may be this late).
constexpr std::int64_t last_seen_write_ms = 60'000;
/// Failure lists kept in memory for at most this many distinct users or addresses; beyond it,
/// lists with nothing inside the window are dropped.
constexpr std::size_t max_tracked = 10'000;

}  // namespace

class service::impl {
 public:
  impl(const std::filesystem::path& path, const settings& s, const clock_source& clock)
      : settings_(s),
        clock_(clock),
        db_(gateway::detail::open_room(path.string(), "'users','api_tokens','sessions','audit'", 4, "identity")) {}
  ~impl() { sqlite3_close(db_); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  std::int64_t now_ms() const { return clock_.now().time_since_epoch().count(); }

  void audit(const principal& who, const std::string& action, const std::string& target, const std::string& detail) {
    stmt s(db_, "INSERT INTO audit(ts_ms, actor, actor_kind, address, action, target, detail) VALUES(?1,?2,?3,?4,?5,?6,?7)");
    s.bind(1, now_ms())
        .bind(2, who.kind == actor_kind::system && who.name.empty() ? std::string("sewage-gateway") : who.name)
        .bind(3, std::string(to_string(who.kind)))
        .bind(4, who.address)
        .bind(5, action)
        .bind(6, target)
        .bind(7, detail.empty() ? std::string("{}") : detail)
        .run();
  }

  void end_sessions_of(const std::string& user) { stmt(db_, "DELETE FROM sessions WHERE user = ?1").bind(1, user).run(); }

  /// Failures inside the window, oldest first, per key; pruned on every look.
  std::deque<std::int64_t>& failures(std::map<std::string, std::deque<std::int64_t>>& m, const std::string& key,
                                     std::int64_t now) {
    if (m.size() > max_tracked) {
      for (auto it = m.begin(); it != m.end();)
        it = (it->second.empty() || it->second.back() <= now - window_ms()) ? m.erase(it) : std::next(it);
    }
    auto& d = m[key];
    while (!d.empty() && d.front() <= now - window_ms()) d.pop_front();
    return d;
  }
  std::int64_t window_ms() const { return static_cast<std::int64_t>(settings_.login_window.count()) * 1000; }

  settings settings_;
  const clock_source& clock_;
  sqlite3* db_{nullptr};
  std::mutex mutex_;
  std::map<std::string, std::deque<std::int64_t>> failures_by_user_;
  std::map<std::string, std::deque<std::int64_t>> failures_by_address_;
  /// A real Argon2id hash checked when the user does not exist, so both cost the same time.
  std::string dummy_hash_{hash_password(random_token(16))};
};

service::service(const std::filesystem::path& db_path, settings s, const clock_source& clock)
    : impl_(std::make_unique<impl>(db_path, s, clock)), settings_(s) {}
service::~service() = default;

void service::add_user(const std::string& name, const std::string& password, role r, const std::vector<std::string>& towns,
                       const std::string& contractor) {
  check_name("name", name);
  check_contractor(r, contractor);
  check_password(password);
  const auto hash = hash_password(password);  // outside the lock: ~0.1 s of work
  const std::lock_guard lock(impl_->mutex_);
  stmt exists(impl_->db_, "SELECT 1 FROM users WHERE name = ?1");
  if (exists.bind(1, name).step()) throw auth_error(409, "user '" + name + "' exists");
  const auto now = impl_->now_ms();
  stmt(impl_->db_, "INSERT INTO users(name, role, towns, hash, disabled, created_ms, changed_ms, contractor) "
                   "VALUES(?1,?2,?3,?4,0,?5,?5,?6)")
      .bind(1, name)
      .bind(2, std::string(to_string(r)))
      .bind(3, towns_json(towns))
      .bind(4, hash)
      .bind(5, now)
      .bind(6, contractor)
      .run();
}

void service::change_user(const std::string& name, const user_change& c) {
  std::optional<std::string> hash;
  if (c.password) {
    check_password(*c.password);
    hash = hash_password(*c.password);
  }
  const std::lock_guard lock(impl_->mutex_);
  stmt exists(impl_->db_, "SELECT role, contractor FROM users WHERE name = ?1");
  if (!exists.bind(1, name).step()) throw auth_error(404, "no user '" + name + "'");
  if (c.role || c.contractor)
    check_contractor(c.role.value_or(role_of(exists.text(0))), c.contractor.value_or(c.role && *c.role != role::contractor ? std::string() : exists.text(1)));
  const auto now = impl_->now_ms();
  if (c.contractor || c.role)
    stmt(impl_->db_, "UPDATE users SET contractor = ?2 WHERE name = ?1")
        .bind(1, name)
        .bind(2, c.contractor.value_or(c.role && *c.role != role::contractor ? std::string() : exists.text(1)))
        .run();
  if (hash) stmt(impl_->db_, "UPDATE users SET hash = ?2 WHERE name = ?1").bind(1, name).bind(2, *hash).run();
  if (c.role) stmt(impl_->db_, "UPDATE users SET role = ?2 WHERE name = ?1").bind(1, name).bind(2, std::string(to_string(*c.role))).run();
  if (c.towns) stmt(impl_->db_, "UPDATE users SET towns = ?2 WHERE name = ?1").bind(1, name).bind(2, towns_json(*c.towns)).run();
  if (c.disabled)
    stmt(impl_->db_, "UPDATE users SET disabled = ?2 WHERE name = ?1").bind(1, name).bind(2, std::int64_t{*c.disabled ? 1 : 0}).run();
  stmt(impl_->db_, "UPDATE users SET changed_ms = ?2 WHERE name = ?1").bind(1, name).bind(2, now).run();
  // A new password or a lost right ends every session of the user (a stolen cookie stops working).
  if (hash || c.role || c.towns || c.contractor || c.disabled.value_or(false)) impl_->end_sessions_of(name);
}

std::vector<user_info> service::users() {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, "SELECT name, role, towns, disabled, created_ms, changed_ms, contractor FROM users ORDER BY name");
  std::vector<user_info> out;
  while (s.step())
    out.push_back({s.text(0), role_of(s.text(1)), parse_towns(s.text(2)), s.i64(3) != 0, s.i64(4), s.i64(5), s.text(6)});
  return out;
}

std::string service::add_token(const std::string& name, role r, const std::vector<std::string>& towns,
                               const std::string& contractor) {
  check_name("name", name);
  check_contractor(r, contractor);
  const std::lock_guard lock(impl_->mutex_);
  stmt exists(impl_->db_, "SELECT 1 FROM api_tokens WHERE name = ?1");
  if (exists.bind(1, name).step()) throw auth_error(409, "token '" + name + "' exists (names are not reused, even revoked)");
  auto token = "sgw_" + random_token(32);
  stmt(impl_->db_, "INSERT INTO api_tokens(name, hash, role, towns, created_ms, contractor) VALUES(?1,?2,?3,?4,?5,?6)")
      .bind(1, name)
      .bind(2, sha256_hex(token))
      .bind(3, std::string(to_string(r)))
      .bind(4, towns_json(towns))
      .bind(5, impl_->now_ms())
      .bind(6, contractor)
      .run();
  return token;
}

void service::revoke_token(const std::string& name) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, "UPDATE api_tokens SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL");
  s.bind(1, name).bind(2, impl_->now_ms()).run();
  if (sqlite3_changes(impl_->db_) == 0) throw auth_error(404, "no active token '" + name + "'");
}

std::vector<token_info> service::tokens() {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, "SELECT name, role, towns, created_ms, revoked_ms, contractor FROM api_tokens ORDER BY name");
  std::vector<token_info> out;
  while (s.step())
    out.push_back({s.text(0), role_of(s.text(1)), parse_towns(s.text(2)), s.i64(3),
                   s.null(4) ? std::nullopt : std::optional<std::int64_t>(s.i64(4)), s.text(5)});
  return out;
}

login_result service::login(const std::string& user, const std::string& password, const std::string& address) {
  login_result out;
  principal attempt;
  attempt.kind = actor_kind::user;
  attempt.name = user;
  attempt.address = address;
  const auto now = impl_->now_ms();
  const auto max = static_cast<std::size_t>(settings_.login_max_failures);
  {
    const std::lock_guard lock(impl_->mutex_);
    auto& by_user = impl_->failures(impl_->failures_by_user_, user, now);
    auto& by_addr = impl_->failures(impl_->failures_by_address_, address, now);
    if (by_user.size() >= max || by_addr.size() >= max) {
      // Allowed again when the oldest failure that keeps the count at the limit leaves the window.
      std::int64_t until = 0;
      if (by_user.size() >= max) until = std::max(until, by_user[by_user.size() - max] + impl_->window_ms());
      if (by_addr.size() >= max) until = std::max(until, by_addr[by_addr.size() - max] + impl_->window_ms());
      out.result = login_result::outcome::rate_limited;
      out.retry_after_s = static_cast<std::uint32_t>(std::max<std::int64_t>(1, (until - now + 999) / 1000));
      impl_->audit(attempt, "login.failed", user, json{{"reason", "rate_limited"}}.dump());
      return out;
    }
  }
  std::string hash;
  bool usable = false;
  principal who = attempt;
  {
    const std::lock_guard lock(impl_->mutex_);
    stmt s(impl_->db_, "SELECT hash, disabled, role, towns, contractor FROM users WHERE name = ?1");
    if (s.bind(1, user).step()) {
      hash = s.text(0);
      usable = s.i64(1) == 0;
      who.role = role_of(s.text(2));
      who.towns = parse_towns(s.text(3));
      who.contractor = s.text(4);
    }
  }
  // Argon2id outside the lock (~0.1 s); an unknown user checks the dummy hash: same time, same answer.
  const bool matches = verify_password(hash.empty() ? impl_->dummy_hash_ : hash, password) && !hash.empty();
  const std::lock_guard lock(impl_->mutex_);
  if (!matches || !usable) {
    impl_->failures(impl_->failures_by_user_, user, now).push_back(now);
    impl_->failures(impl_->failures_by_address_, address, now).push_back(now);
    const char* reason = hash.empty() ? "unknown_user" : !matches ? "wrong_password" : "disabled";
    impl_->audit(attempt, "login.failed", user, json{{"reason", reason}}.dump());
    out.result = login_result::outcome::failed;
    return out;
  }
  impl_->failures_by_user_.erase(user);  // the address keeps its failures (one good account does not reset them)
  out.cookie = random_token(32);
  who.via_cookie = true;
  who.csrf_token = random_token(32);
  who.session_key = sha256_hex(out.cookie);
  stmt(impl_->db_, "INSERT INTO sessions(key, user, csrf, created_ms, last_seen_ms) VALUES(?1,?2,?3,?4,?4)")
      .bind(1, who.session_key)
      .bind(2, user)
      .bind(3, who.csrf_token)
      .bind(4, now)
      .run();
  impl_->audit(who, "login.ok", user, {});
  out.who = std::move(who);
  out.result = login_result::outcome::ok;
  return out;
}

std::optional<principal> service::session(const std::string& cookie, const std::string& address) {
  if (cookie.empty() || cookie.size() > 128) return std::nullopt;
  const auto key = sha256_hex(cookie);
  const auto now = impl_->now_ms();
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_,
         "SELECT s.user, s.csrf, s.created_ms, s.last_seen_ms, u.role, u.towns, u.disabled, u.contractor"
         " FROM sessions s JOIN users u ON u.name = s.user WHERE s.key = ?1");
  if (!s.bind(1, key).step()) return std::nullopt;
  const auto created = s.i64(2);
  const auto last_seen = s.i64(3);
  const bool expired = now - last_seen > static_cast<std::int64_t>(settings_.session_idle_timeout.count()) * 1000 ||
                       now - created > static_cast<std::int64_t>(settings_.session_max_age.count()) * 1000 || s.i64(6) != 0;
  if (expired) {
    stmt(impl_->db_, "DELETE FROM sessions WHERE key = ?1").bind(1, key).run();
    return std::nullopt;
  }
  principal p;
  p.kind = actor_kind::user;
  p.name = s.text(0);
  p.csrf_token = s.text(1);
  p.role = role_of(s.text(4));
  p.towns = parse_towns(s.text(5));
  p.contractor = s.text(7);
  p.via_cookie = true;
  p.session_key = key;
  p.address = address;
  if (now - last_seen >= last_seen_write_ms)
    stmt(impl_->db_, "UPDATE sessions SET last_seen_ms = ?2 WHERE key = ?1").bind(1, key).bind(2, now).run();
  return p;
}

std::optional<principal> service::bearer(const std::string& token, const std::string& address) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  const auto hash = sha256_hex(token);
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, "SELECT name, role, towns, contractor FROM api_tokens WHERE hash = ?1 AND revoked_ms IS NULL");
  if (!s.bind(1, hash).step()) return std::nullopt;
  principal p;
  p.kind = actor_kind::token;
  p.name = s.text(0);
  p.role = role_of(s.text(1));
  p.towns = parse_towns(s.text(2));
  p.contractor = s.text(3);
  p.address = address;
  return p;
}

void service::logout(const principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  stmt(impl_->db_, "DELETE FROM sessions WHERE key = ?1").bind(1, who.session_key).run();
  impl_->audit(who, "logout", who.name, {});
}

void service::audit(const principal& who, const std::string& action, const std::string& target, const std::string& detail_json) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->audit(who, action, target, detail_json);
}

std::vector<audit_row> service::audit_rows(const audit_query& q) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_,
         "SELECT id, ts_ms, actor, actor_kind, address, action, target, detail FROM audit"
         " WHERE (?1 IS NULL OR ts_ms >= ?1) AND (?2 IS NULL OR ts_ms < ?2) AND (?3 IS NULL OR actor = ?3)"
         " AND (?4 IS NULL OR action = ?4) AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6");
  if (q.from_ms) s.bind(1, *q.from_ms); else s.bind_null(1);
  if (q.to_ms) s.bind(2, *q.to_ms); else s.bind_null(2);
  if (q.actor) s.bind(3, *q.actor); else s.bind_null(3);
  if (q.action) s.bind(4, *q.action); else s.bind_null(4);
  if (q.before_id) s.bind(5, static_cast<std::int64_t>(*q.before_id)); else s.bind_null(5);
  s.bind(6, static_cast<std::int64_t>(q.limit));
  std::vector<audit_row> out;
  while (s.step()) {
    audit_row r;
    r.id = static_cast<std::uint64_t>(s.i64(0));
    r.ts_ms = s.i64(1);
    r.actor = s.text(2);
    const auto k = s.text(3);
    r.kind = k == "user" ? actor_kind::user : k == "token" ? actor_kind::token : k == "anonymous" ? actor_kind::anonymous
                                                                                                : actor_kind::system;
    r.address = s.text(4);
    r.action = s.text(5);
    r.target = s.text(6);
    r.detail_json = s.text(7);
    out.push_back(std::move(r));
  }
  return out;
}

std::size_t service::purge_audit(std::int64_t before_ms) {
  const std::lock_guard lock(impl_->mutex_);
  stmt(impl_->db_, "DELETE FROM audit WHERE ts_ms < ?1").bind(1, before_ms).run();
  return static_cast<std::size_t>(sqlite3_changes(impl_->db_));
}

}  // namespace sewage::gateway::auth
