#include "sewage/gateway/standby/leader_lease.hpp"

#include "sewage/gateway/postgresql_store.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace sewage::gateway::standby {

struct leader_lease::session {
  explicit session(const std::string& uri) : c(uri) {}
  pqxx::connection c;
};

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

leader_lease::leader_lease(lease_options o) : opt_(std::move(o)) {}

leader_lease::~leader_lease() {
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  if (fence_.joinable()) fence_.join();
  conn_.reset();  // closes the session: the server releases the lock
}

bool leader_lease::connect() {
  if (conn_ && conn_->c.is_open()) return true;
  try {
    auto s = std::make_unique<session>(bounded_postgresql_uri(opt_.postgresql_uri));
    auto* c = &s->c;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    c->inhibit_reactivation(true);  // a re-opened session would not hold the lock: never silently
#pragma GCC diagnostic pop
    c->set_variable("client_min_messages", "warning");
    // The server gives up on a dead peer's connection (a leader whose host died) after about
    // 6 + 2 x 3 = 12 s, releasing its lock (leader_lease.hpp).
    c->set_variable("tcp_keepalives_idle", "6");
    c->set_variable("tcp_keepalives_interval", "2");
    c->set_variable("tcp_keepalives_count", "3");
    c->set_variable("statement_timeout", std::to_string(3 * opt_.check_interval.count()));
    conn_ = std::move(s);
    if (unreachable_logged_) spdlog::info("standby: the lease's PostgreSQL server is reachable again");
    unreachable_logged_ = false;
    return true;
  } catch (const std::exception& e) {
    ++connect_failures_;
    conn_.reset();
    if (!unreachable_logged_)
      spdlog::warn("standby: cannot reach postgresql {} for the lease: {}", redact_postgresql_uri(opt_.postgresql_uri),
                   e.what());
    unreachable_logged_ = true;
    return false;
  }
}

bool leader_lease::try_acquire() {
  if (!connect()) return false;
  bool taken = false;
  try {
    pqxx::nontransaction t(conn_->c);
    if (!t.exec_params1("SELECT pg_try_advisory_lock($1::bigint)", opt_.key)[0].as<bool>()) return false;
    taken = true;
  } catch (const std::exception& e) {
    spdlog::warn("standby: lease attempt failed: {}", e.what());
    conn_.reset();  // a broken session holds nothing; the next attempt opens a new one
    return false;
  }
  // Who leads (for the standby's answers) and the term, the leader's fencing token: a leader
  // without it could not fence its commits, so a failure lets the lock go again.
  try {
    pqxx::nontransaction t(conn_->c);
    // Held: only the holder writes the table (one writer at a time, so CREATE cannot race).
    t.exec0(
        "CREATE TABLE IF NOT EXISTS gateway_leader (lease_key BIGINT PRIMARY KEY, node TEXT NOT NULL, "
        "http_url TEXT NOT NULL, since_ms BIGINT NOT NULL, term BIGINT NOT NULL DEFAULT 0)");
    // A table of before the term (2026-12-04) gets the column. Only then: ALTER TABLE takes an
    // ACCESS EXCLUSIVE lock, which would wait for any transaction that read the table (a former
    // leader's commit checks its term in it, store::set_commit_fence).
    if (t.exec("SELECT 1 FROM information_schema.columns WHERE table_name = 'gateway_leader' AND column_name = 'term' "
               "AND table_schema = current_schema()")
            .empty())
      t.exec0("ALTER TABLE gateway_leader ADD COLUMN IF NOT EXISTS term BIGINT NOT NULL DEFAULT 0");
    term_ = t.exec_params1(
                 "INSERT INTO gateway_leader (lease_key, node, http_url, since_ms, term) VALUES ($1, $2, $3, "
                 "(extract(epoch from clock_timestamp()) * 1000)::bigint, 1) ON CONFLICT (lease_key) DO UPDATE SET "
                 "node = excluded.node, http_url = excluded.http_url, since_ms = excluded.since_ms, "
                 "term = gateway_leader.term + 1 RETURNING term",
                 opt_.key, opt_.node, opt_.http_url)[0]
                 .as<std::int64_t>();
  } catch (const std::exception& e) {
    spdlog::warn("standby: took the lock but could not write this gateway's term into gateway_leader ({}); "
                 "letting the lock go, trying again", e.what());
    term_.reset();
    conn_.reset();  // ends the session: the server releases the lock
    return false;
  }
  return taken;
}

std::optional<leader_record> leader_lease::leader() {
  if (!conn_) return std::nullopt;  // try_acquire could not connect: not again in the same round
  try {
    pqxx::nontransaction t(conn_->c);
    if (t.exec("SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'gateway_leader'").empty()) return std::nullopt;
    const auto r = t.exec_params("SELECT node, http_url, since_ms FROM gateway_leader WHERE lease_key = $1::bigint", opt_.key);
    if (r.empty()) return std::nullopt;
    return leader_record{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::int64_t>()};
  } catch (const std::exception& e) {
    spdlog::debug("standby: reading the leader: {}", e.what());
    conn_.reset();
    return std::nullopt;
  }
}

void leader_lease::keep(std::function<void()> on_lost) {
  last_ok_ns_ = steady_ns();
  keeping_ = true;
  keeper_ = std::thread([this] { check_loop(); });
  // The fence runs on a thread of its own: neither a stuck check nor a busy engine delays it.
  fence_ = std::thread([this, on_lost = std::move(on_lost)] {
    std::unique_lock lock(stop_mutex_);
    while (!stopping_) {
      if (lost()) {
        lock.unlock();
        on_lost();
        return;
      }
      stop_cv_.wait_for(lock, fence_period());
    }
  });
}

std::chrono::milliseconds leader_lease::fence_period() const {
  return std::max(std::chrono::milliseconds(20), opt_.check_interval / 4);
}

bool leader_lease::lost() const {
  if (broken_.load()) return true;
  if (!keeping_.load()) return false;
  const auto silent = std::chrono::nanoseconds(steady_ns() - last_ok_ns_.load());
  return silent > 3 * opt_.check_interval;
}

void leader_lease::check_loop() {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_ && !broken_.load()) {
    lock.unlock();
    try {
      pqxx::nontransaction t(conn_->c);
      // The lock itself, not only the connection: a session that somehow lost it is no leader.
      const bool held = t.exec_params1(
                             "SELECT count(*) > 0 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted "
                             "AND pid = pg_backend_pid() AND classid = ($1::bigint >> 32)::int::oid "
                             "AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1",
                             opt_.key)[0]
                             .as<bool>();
      if (!held) {
        spdlog::critical("standby: this gateway's session no longer holds the lease");
        broken_ = true;
      } else {
        ++checks_;
        last_ok_ns_ = steady_ns();
      }
    } catch (const pqxx::broken_connection& e) {
      spdlog::critical("standby: the lease connection failed: {}", e.what());
      broken_ = true;
    } catch (const std::exception& e) {
      // A slow or cancelled check proves nothing either way: the silence rule (3 intervals) decides.
      spdlog::warn("standby: lease check failed: {}", e.what());
    }
    lock.lock();
    stop_cv_.wait_for(lock, opt_.check_interval, [this] { return stopping_; });
  }
}

}  // namespace sewage::gateway::standby
