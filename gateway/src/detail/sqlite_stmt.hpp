#pragma once
// Internal: one prepared SQLite statement (finalised on destruction), for the rooms that keep a
// connection of their own (identity, work orders, inspections, lab, archive, alarm discipline).
// Binds by 1-based index, reads columns by 0-based index; every SQLite failure (prepare, bind,
// step) throws std::runtime_error prefixed with the room's name and carrying sqlite3_errmsg.
// Not thread-safe: used on the thread that owns the connection, like the connection itself.
#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace sewage::gateway::detail {

class sqlite_stmt {
 public:
  sqlite_stmt(sqlite3* db, const char* sql, const char* room) : db_(db), room_(room) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail();
  }
  ~sqlite_stmt() { sqlite3_finalize(s_); }
  sqlite_stmt(const sqlite_stmt&) = delete;
  sqlite_stmt& operator=(const sqlite_stmt&) = delete;
  sqlite_stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  template <std::integral T>
  sqlite_stmt& bind(int i, T v) {
    return check(sqlite3_bind_int64(s_, i, static_cast<std::int64_t>(v)));
  }
  sqlite_stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
  sqlite_stmt& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
  /// Binds the value, or NULL when empty.
  template <class T>
  sqlite_stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail();
  }
  void run() {
    while (step()) {
    }
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                        : std::string();
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double f64(int c) { return sqlite3_column_double(s_, c); }
  bool null(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::optional<double> opt_f64(int c) { return null(c) ? std::nullopt : std::optional<double>(f64(c)); }
  std::optional<std::int64_t> opt_i64(int c) { return null(c) ? std::nullopt : std::optional<std::int64_t>(i64(c)); }
  int columns() { return sqlite3_column_count(s_); }
  int type(int c) { return sqlite3_column_type(s_, c); }
  std::string name(int c) { return sqlite3_column_name(s_, c); }

 private:
  [[noreturn]] void fail() { throw std::runtime_error(std::string(room_) + ": " + sqlite3_errmsg(db_)); }
  sqlite_stmt& check(int rc) {
    if (rc != SQLITE_OK) fail();
    return *this;
  }
  sqlite3* db_;
  const char* room_;
  sqlite3_stmt* s_{nullptr};
};

/// Opens `path` read-write for a room (busy timeout 5 s); checks that `tables` exist (comma-separated
/// quoted names, `count` of them: the store's migrations create them). Returns the connection (the
/// caller closes it). Throws std::runtime_error naming the path and the room.
inline sqlite3* open_room(const std::string& path, const char* tables_sql_list, int count, const char* room) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error(path + ": cannot open the " + room + " tables: " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  try {
    const std::string sql = std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN (") + tables_sql_list + ")";
    sqlite_stmt check(db, sql.c_str(), room);
    if (!check.step() || check.i64(0) != count)
      throw std::runtime_error(std::string("no ") + room + " tables: open the store with sqlite_store first");
  } catch (const std::runtime_error& e) {
    sqlite3_close(db);
    throw std::runtime_error(path + ": " + e.what());
  }
  return db;
}

}  // namespace sewage::gateway::detail
