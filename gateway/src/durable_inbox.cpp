#include "sewage/gateway/durable_inbox.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace sewage::gateway {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error("inbox journal: " + what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, sql);
}

}  // namespace

durable_inbox::durable_inbox(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string msg = "cannot open " + path.string();
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("inbox journal: " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec(db_, "PRAGMA journal_mode=WAL");
    // NORMAL: a commit survives the process being killed (the WAL is in the page cache); only a
    // power cut may lose the last commits, and then the broker has lost its session too.
    exec(db_, "PRAGMA synchronous=NORMAL");
    exec(db_,
         "CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
         " payload BLOB NOT NULL, retained INTEGER NOT NULL, arrival_ms INTEGER NOT NULL)");
    if (sqlite3_prepare_v2(db_, "INSERT INTO inbox (topic, payload, retained, arrival_ms) VALUES (?, ?, ?, ?)", -1,
                           &insert_, nullptr) != SQLITE_OK)
      fail(db_, "prepare insert");
    if (sqlite3_prepare_v2(db_, "DELETE FROM inbox WHERE id <= ?", -1, &release_, nullptr) != SQLITE_OK)
      fail(db_, "prepare release");
  } catch (...) {
    sqlite3_finalize(insert_);
    sqlite3_finalize(release_);
    sqlite3_close(db_);
    throw;
  }
}

durable_inbox::~durable_inbox() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(release_);
  sqlite3_close(db_);
}

std::uint64_t durable_inbox::append(const inbound_message& m) {
  std::lock_guard lock(mutex_);
  sqlite3_reset(insert_);
  sqlite3_bind_text(insert_, 1, m.topic.data(), static_cast<int>(m.topic.size()), SQLITE_STATIC);
  sqlite3_bind_blob(insert_, 2, m.payload.data(), static_cast<int>(m.payload.size()), SQLITE_STATIC);
  sqlite3_bind_int(insert_, 3, m.retained ? 1 : 0);
  sqlite3_bind_int64(insert_, 4, m.arrival.time_since_epoch().count());
  const int rc = sqlite3_step(insert_);
  sqlite3_clear_bindings(insert_);
  if (rc != SQLITE_DONE) fail(db_, "append");
  return static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_));
}

std::vector<std::pair<std::uint64_t, inbound_message>> durable_inbox::pending() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint64_t, inbound_message>> out;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT id, topic, payload, retained, arrival_ms FROM inbox ORDER BY id", -1, &s,
                         nullptr) != SQLITE_OK)
    fail(db_, "prepare pending");
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    inbound_message m;
    m.topic.assign(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)),
                   static_cast<std::size_t>(sqlite3_column_bytes(s, 1)));
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(s, 2));
    m.payload.assign(blob != nullptr ? blob : "", static_cast<std::size_t>(sqlite3_column_bytes(s, 2)));
    m.retained = sqlite3_column_int(s, 3) != 0;
    m.arrival = proto::timestamp(std::chrono::milliseconds(sqlite3_column_int64(s, 4)));
    out.emplace_back(static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), std::move(m));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) fail(db_, "read pending");
  return out;
}

void durable_inbox::release_through(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sqlite3_reset(release_);
  sqlite3_bind_int64(release_, 1, static_cast<sqlite3_int64>(id));
  if (sqlite3_step(release_) != SQLITE_DONE) fail(db_, "release");
}

std::uint64_t durable_inbox::size() {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM inbox", -1, &s, nullptr) != SQLITE_OK) fail(db_, "prepare size");
  const std::uint64_t n = sqlite3_step(s) == SQLITE_ROW ? static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)) : 0;
  sqlite3_finalize(s);
  return n;
}

}  // namespace sewage::gateway
