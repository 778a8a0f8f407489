// One prepared SQLite statement of a room's own connection (internal to the gateway's sources).
// The rooms that keep their own connection (auth, work orders, inspections, alarm discipline) share
// this one wrapper instead of a copy each.
#pragma once

#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace sewage::gateway::db {

/// A prepared statement, finalised on destruction. Binds by 1-based index, reads columns by
/// 0-based index. Every SQLite failure (prepare, bind, step) throws std::runtime_error whose
/// message starts with `what` (e.g. "work orders store") and carries sqlite3_errmsg.
/// Not thread-safe: use it on the thread that owns the connection, like the connection itself.
class statement {
 public:
  /// Prepares `sql` on `db`. `what` must outlive the statement (a string literal).
  statement(sqlite3* db, const char* sql, const char* what) : db_(db), what_(what) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("");
  }
  ~statement() { sqlite3_finalize(s_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  template <std::integral T>
  statement& bind(int i, T v) {
    return check(sqlite3_bind_int64(s_, i, static_cast<std::int64_t>(v)));
  }
  statement& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
  statement& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
  /// Binds the value, or NULL when empty.
  template <class T>
  statement& bind_opt(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  /// Steps once: true with a row to read, false when done.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("");
  }
  /// Steps until done (a statement without rows, or whose rows are not needed).
  void run() {
    while (step()) {
    }
  }

  [[nodiscard]] std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                        : std::string();
  }
  [[nodiscard]] std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  [[nodiscard]] double f64(int c) { return sqlite3_column_double(s_, c); }
  [[nodiscard]] bool null(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  [[nodiscard]] std::optional<std::int64_t> oi64(int c) { return null(c) ? std::nullopt : std::optional<std::int64_t>(i64(c)); }
  [[nodiscard]] std::optional<double> of64(int c) { return null(c) ? std::nullopt : std::optional<double>(f64(c)); }

 private:
  statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind failed: ");
    return *this;
  }
  [[noreturn]] void fail(const char* stage) {
    throw std::runtime_error(std::string(what_) + ": " + stage + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  const char* what_;
  sqlite3_stmt* s_{nullptr};
};

}  // namespace sewage::gateway::db
