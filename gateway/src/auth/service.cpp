// Users, tokens, sessions, login rate limit, audit (auth/service.hpp). Rows through an
// identity_store (identity_store.hpp: SQLite or PostgreSQL) of its own; nlohmann for the towns
// lists and audit details.
#include "sewage/gateway/auth/service.hpp"

#include "sewage/gateway/auth/secrets.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sewage::gateway::auth {

using nlohmann::json;

namespace {

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
  impl(std::unique_ptr<identity_store> db, const settings& s, const clock_source& clock)
      : settings_(s), clock_(clock), db_(std::move(db)) {
    if (!db_) throw std::invalid_argument("auth::service: no identity store");
  }

  std::int64_t now_ms() const { return clock_.now().time_since_epoch().count(); }

  void audit(const principal& who, const std::string& action, const std::string& target, const std::string& detail) {
    db_->insert_audit(audit_row_of(who, action, target, detail));
  }

  audit_row audit_row_of(const principal& who, const std::string& action, const std::string& target,
                         const std::string& detail) const {
    audit_row r;
    r.ts_ms = now_ms();
    r.actor = who.kind == actor_kind::system && who.name.empty() ? std::string("sewage-gateway") : who.name;
    r.kind = who.kind;
    r.address = who.address;
    r.action = action;
    r.target = target;
    r.detail_json = detail.empty() ? std::string("{}") : detail;
    return r;
  }

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
  std::unique_ptr<identity_store> db_;
  std::mutex mutex_;
  std::map<std::string, std::deque<std::int64_t>> failures_by_user_;
  std::map<std::string, std::deque<std::int64_t>> failures_by_address_;
  /// A real Argon2id hash checked when the user does not exist, so both cost the same time.
  std::string dummy_hash_{hash_password(random_token(16))};
};

service::service(const std::filesystem::path& db_path, settings s, const clock_source& clock)
    : service(open_sqlite_identity_store(db_path), s, clock) {}
service::service(std::unique_ptr<identity_store> db, settings s, const clock_source& clock)
    : impl_(std::make_unique<impl>(std::move(db), s, clock)), settings_(s) {}
service::~service() = default;

void service::add_user(const std::string& name, const std::string& password, role r, const std::vector<std::string>& towns,
                       const std::string& contractor) {
  check_name("name", name);
  check_contractor(r, contractor);
  check_password(password);
  const auto hash = hash_password(password);  // outside the lock: ~0.1 s of work
  const std::lock_guard lock(impl_->mutex_);
  if (impl_->db_->user(name)) throw auth_error(409, "user '" + name + "' exists");
  const auto now = impl_->now_ms();
  impl_->db_->insert_user({name, std::string(to_string(r)), towns_json(towns), hash, false, now, now, contractor});
}

void service::change_user(const std::string& name, const user_change& c) {
  std::optional<std::string> hash;
  if (c.password) {
    check_password(*c.password);
    hash = hash_password(*c.password);
  }
  const std::lock_guard lock(impl_->mutex_);
  const auto u = impl_->db_->user(name);
  if (!u) throw auth_error(404, "no user '" + name + "'");
  user_patch p;
  if (c.role || c.contractor) {
    const std::string contractor =
        c.contractor.value_or(c.role && *c.role != role::contractor ? std::string() : u->contractor);
    check_contractor(c.role.value_or(role_of(u->role)), contractor);
    p.contractor = contractor;
  }
  p.hash = hash;
  if (c.role) p.role = std::string(to_string(*c.role));
  if (c.towns) p.towns_json = towns_json(*c.towns);
  p.disabled = c.disabled;
  p.changed_ms = impl_->now_ms();
  // Only what changed: a concurrent change of another column stays. A new password or a lost right
  // ends every session of the user (a stolen cookie stops working), in the same transaction.
  const bool end_sessions = hash || c.role || c.towns || c.contractor || c.disabled.value_or(false);
  impl_->db_->update_user(name, p, end_sessions);
}

std::vector<user_info> service::users() {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<user_info> out;
  for (const auto& u : impl_->db_->users())
    out.push_back({u.name, role_of(u.role), parse_towns(u.towns_json), u.disabled, u.created_ms, u.changed_ms, u.contractor});
  return out;
}

std::string service::add_token(const std::string& name, role r, const std::vector<std::string>& towns,
                               const std::string& contractor) {
  check_name("name", name);
  check_contractor(r, contractor);
  const std::lock_guard lock(impl_->mutex_);
  if (impl_->db_->token_exists(name)) throw auth_error(409, "token '" + name + "' exists (names are not reused, even revoked)");
  auto token = "sgw_" + random_token(32);
  impl_->db_->insert_token({name, std::string(to_string(r)), towns_json(towns), impl_->now_ms(), std::nullopt, contractor},
                           sha256_hex(token));
  return token;
}

void service::revoke_token(const std::string& name) {
  const std::lock_guard lock(impl_->mutex_);
  if (!impl_->db_->revoke_token(name, impl_->now_ms())) throw auth_error(404, "no active token '" + name + "'");
}

std::vector<token_info> service::tokens() {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<token_info> out;
  for (const auto& t : impl_->db_->tokens())
    out.push_back({t.name, role_of(t.role), parse_towns(t.towns_json), t.created_ms, t.revoked_ms, t.contractor});
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
    if (const auto u = impl_->db_->user(user)) {
      hash = u->hash;
      usable = !u->disabled;
      who.role = role_of(u->role);
      who.towns = parse_towns(u->towns_json);
      who.contractor = u->contractor;
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
  impl_->db_->insert_session(who.session_key, user, who.csrf_token, now, impl_->audit_row_of(who, "login.ok", user, {}));
  out.who = std::move(who);
  out.result = login_result::outcome::ok;
  return out;
}

std::optional<principal> service::session(const std::string& cookie, const std::string& address) {
  if (cookie.empty() || cookie.size() > 128) return std::nullopt;
  const auto key = sha256_hex(cookie);
  const auto now = impl_->now_ms();
  const std::lock_guard lock(impl_->mutex_);
  const auto s = impl_->db_->session(key);
  if (!s) return std::nullopt;
  const bool expired = now - s->last_seen_ms > static_cast<std::int64_t>(settings_.session_idle_timeout.count()) * 1000 ||
                       now - s->created_ms > static_cast<std::int64_t>(settings_.session_max_age.count()) * 1000 ||
                       s->disabled;
  if (expired) {
    impl_->db_->delete_session(key);
    return std::nullopt;
  }
  principal p;
  p.kind = actor_kind::user;
  p.name = s->user;
  p.csrf_token = s->csrf;
  p.role = role_of(s->role);
  p.towns = parse_towns(s->towns_json);
  p.contractor = s->contractor;
  p.via_cookie = true;
  p.session_key = key;
  p.address = address;
  if (now - s->last_seen_ms >= last_seen_write_ms) impl_->db_->touch_session(key, now);
  return p;
}

std::optional<principal> service::bearer(const std::string& token, const std::string& address) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  const auto hash = sha256_hex(token);
  const std::lock_guard lock(impl_->mutex_);
  const auto t = impl_->db_->active_token(hash);
  if (!t) return std::nullopt;
  principal p;
  p.kind = actor_kind::token;
  p.name = t->name;
  p.role = role_of(t->role);
  p.towns = parse_towns(t->towns_json);
  p.contractor = t->contractor;
  p.address = address;
  return p;
}

void service::logout(const principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->db_->delete_session(who.session_key);
  impl_->audit(who, "logout", who.name, {});
}

void service::audit(const principal& who, const std::string& action, const std::string& target, const std::string& detail_json) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->audit(who, action, target, detail_json);
}

std::vector<audit_row> service::audit_rows(const audit_query& q) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->audit_rows(q);
}

std::size_t service::purge_audit(std::int64_t before_ms) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->purge_audit(before_ms);
}

void service::set_commit_fence(const commit_fence& fence) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->db_->set_commit_fence(fence);
}

}  // namespace sewage::gateway::auth
