#pragma once
// The PostgreSQL connection of a room that keeps its state in the shared database (identities,
// alarm discipline): opened lazily with the client bounds of bounded_postgresql_uri and a
// statement_timeout, opened again after it broke, every failure named, writes fenced on request. Not thread-safe (the
// room calls it under its own lock).

#include "sewage/gateway/postgresql_store.hpp"
#include "sewage/gateway/store.hpp"
#include "detail/pg_fence.hpp"

#include <pqxx/pqxx>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace sewage::gateway::detail {

class pg_room_connection {
 public:
  /// `uri` may hold a password (never in a message); `what` names the room ("identity store"),
  /// `statement_timeout_ms` bounds each statement. Connects at the first conn(). `read_only`:
  /// every transaction of the session is read only (`default_transaction_read_only = on`), so a
  /// write the reader should never make fails in the server ("cannot execute INSERT in a
  /// read-only transaction") instead of changing the leader's rows.
  pg_room_connection(std::string uri, const std::string& what, int statement_timeout_ms, bool read_only = false)
      : uri_(std::move(uri)), where_(what + " on postgresql " + redact_postgresql_uri(uri_)),
        statement_timeout_ms_(statement_timeout_ms), read_only_(read_only) {}

  /// The connection, opened again after one broke (the server restarted or ended it).
  pqxx::connection& conn() {
    if (!conn_) {
      auto c = std::make_unique<pqxx::connection>(bounded_postgresql_uri(uri_));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      c->inhibit_reactivation(true);  // this class opens a new one itself
#pragma GCC diagnostic pop
      c->set_variable("client_min_messages", "warning");
      c->set_variable("statement_timeout", std::to_string(statement_timeout_ms_));
      if (read_only_) c->set_variable("default_transaction_read_only", "on");
      conn_ = std::move(c);
    }
    return *conn_;
  }

  /// Runs `f`; every failure becomes std::runtime_error naming the room, the database (without its
  /// password) and `op`, except store_fenced, which passes as itself.
  template <class F>
  auto guard(const char* op, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const store_fenced&) {
      throw;  // already names the store; callers tell it from other failures
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();  // the next call opens a new one
      throw std::runtime_error(where_ + ": " + op + ": connection lost: " + e.what());
    } catch (const pqxx::in_doubt_error& e) {  // the connection broke during COMMIT
      conn_.reset();
      throw std::runtime_error(where_ + ": " + op + ": connection lost during COMMIT (written or not, unknown): " +
                               e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error(where_ + ": " + op + ": " + e.what());
    }
  }

  /// Runs the write `f(t)` under guard(op) in one transaction: every statement of `f` is written
  /// or none (an exception rolls it back). With a fence its last statement is the fence check
  /// (detail/pg_fence.hpp), so that after a takeover it rolls back and throws store_fenced,
  /// nothing of it written. (Until 2026-12-05 an unfenced write ran in autocommit: the two
  /// statements of a password change and the end of the account's sessions were not one.)
  template <class F>
  auto write(const char* op, const std::optional<commit_fence>& fence, F&& f)
      -> decltype(f(std::declval<pqxx::transaction_base&>())) {
    return guard(op, [&] {
      pqxx::work t(conn());
      if constexpr (std::is_void_v<decltype(f(t))>) {
        f(t);
        if (fence) check_commit_fence(t, *fence, where_);
        t.commit();
      } else {
        auto out = f(t);
        if (fence) check_commit_fence(t, *fence, where_);
        t.commit();
        return out;
      }
    });
  }

  /// "<room> on postgresql <uri without password>", for messages.
  [[nodiscard]] const std::string& where() const noexcept { return where_; }

 private:
  std::string uri_;  // may hold a password: never in a message (where_ is redacted)
  std::string where_;
  int statement_timeout_ms_;
  bool read_only_{false};
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace sewage::gateway::detail
