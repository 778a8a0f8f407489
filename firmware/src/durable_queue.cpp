#include "sewage/agent/durable_queue.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace sewage::agent {

namespace {

std::string random_epoch() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct stmt_reset {
  sqlite3_stmt* s;
  ~stmt_reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

}  // namespace

durable_queue::durable_queue(options opts) : opts_(std::move(opts)) { open_or_recover(); }

durable_queue::~durable_queue() { close(); }

void durable_queue::close() noexcept {
  for (sqlite3_stmt** s : {&insert_, &insert_aside_, &delete_, &oldest_, &peek_, &set_next_}) {
    sqlite3_finalize(*s);
    *s = nullptr;
  }
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void durable_queue::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw queue_error(std::string(sql).substr(0, 40) + ": " + msg);
  }
}

bool durable_queue::try_open(std::string& why) {
  try {
    if (const auto dir = opts_.path.parent_path(); !dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);  // e.g. /var/lib/sewage-agent on first start
      if (ec) {
        why = "cannot create directory " + dir.string() + ": " + ec.message();
        return false;
      }
    }
    if (sqlite3_open_v2(opts_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      why = db_ != nullptr ? sqlite3_errmsg(db_) : "cannot open";
      return false;
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    // quick_check reads every page: it finds truncation and most corruption at start-up.
    {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &s, nullptr) != SQLITE_OK) {
        why = sqlite3_errmsg(db_);
        return false;
      }
      const int rc = sqlite3_step(s);
      const std::string res = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : sqlite3_errmsg(db_);
      sqlite3_finalize(s);
      if (res != "ok") {
        why = "quick_check: " + res;
        return false;
      }
    }
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
         "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
         "CREATE TABLE IF NOT EXISTS set_aside(seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
    // Epoch and next seq.
    {
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db_, "SELECT key, value FROM meta", -1, &s, nullptr);
      while (sqlite3_step(s) == SQLITE_ROW) {
        const std::string k = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        const std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
        if (k == "epoch") epoch_ = v;
        if (k == "next_seq") next_seq_ = std::stoull(v);
      }
      sqlite3_finalize(s);
    }
    {
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db_, "SELECT COUNT(*), COALESCE(SUM(length(payload)),0), COALESCE(MAX(seq),0) FROM outbox", -1, &s, nullptr);
      if (sqlite3_step(s) != SQLITE_ROW) {
        why = sqlite3_errmsg(db_);
        sqlite3_finalize(s);
        return false;
      }
      depth_ = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      bytes_ = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
      const auto max_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
      sqlite3_finalize(s);
      if (epoch_.empty() && depth_ > 0) {
        why = "records without an epoch";
        return false;
      }
      if (max_seq >= next_seq_) next_seq_ = max_seq + 1;  // never reuse a seq
    }
    if (epoch_.empty()) {
      epoch_ = random_epoch();
      next_seq_ = 1;
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('epoch', ?1), ('next_seq', '1')", -1, &s, nullptr);
      sqlite3_bind_text(s, 1, epoch_.c_str(), -1, SQLITE_TRANSIENT);
      const int rc = sqlite3_step(s);
      sqlite3_finalize(s);
      if (rc != SQLITE_DONE) {
        why = sqlite3_errmsg(db_);
        return false;
      }
    }
    auto prep = [&](const char* sql, sqlite3_stmt** out) {
      if (sqlite3_prepare_v2(db_, sql, -1, out, nullptr) != SQLITE_OK) throw queue_error(sqlite3_errmsg(db_));
    };
    prep("INSERT INTO outbox(seq, payload) VALUES(?1, ?2)", &insert_);
    prep("INSERT INTO set_aside(seq, payload) VALUES(?1, ?2)", &insert_aside_);
    prep("DELETE FROM outbox WHERE seq = ?1 RETURNING length(payload)", &delete_);
    prep("SELECT seq, length(payload) FROM outbox ORDER BY seq LIMIT 1", &oldest_);
    prep("SELECT seq, payload FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2", &peek_);
    prep("INSERT OR REPLACE INTO meta(key, value) VALUES('next_seq', ?1)", &set_next_);
    return true;
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
}

void durable_queue::open_or_recover() {
  std::string why;
  if (try_open(why)) {
    spdlog::info("queue {}: epoch {}, {} records waiting, next seq {}", opts_.path.string(), epoch_, depth_, next_seq_);
    return;
  }
  close();
  epoch_.clear();
  next_seq_ = 1;
  depth_ = bytes_ = 0;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  const std::filesystem::path aside = opts_.path.string() + ".corrupt-" + std::to_string(secs);
  std::error_code ec;
  if (std::filesystem::exists(opts_.path, ec)) {
    std::filesystem::rename(opts_.path, aside, ec);
    if (ec) throw queue_error("queue " + opts_.path.string() + " is unusable (" + why + ") and cannot be moved aside: " + ec.message());
    for (const char* suffix : {"-wal", "-shm"}) {
      std::error_code ec2;
      const std::filesystem::path side = opts_.path.string() + suffix;
      if (std::filesystem::exists(side, ec2)) std::filesystem::rename(side, aside.string() + suffix, ec2);
    }
    moved_aside_ = aside;
    spdlog::error("queue {} is corrupt ({}); moved aside to {}; starting a fresh queue with a new epoch",
                  opts_.path.string(), why, aside.string());
  }
  if (!try_open(why)) {
    close();
    throw queue_error("cannot create queue " + opts_.path.string() + ": " + why);
  }
  spdlog::info("queue {}: new epoch {}", opts_.path.string(), epoch_);
}

durable_queue::appended durable_queue::append(const std::function<std::string(std::uint64_t)>& make_payload) {
  appended out;
  out.seq = next_seq_;
  const std::string payload = make_payload(out.seq);
  exec("BEGIN IMMEDIATE");
  std::uint64_t depth = depth_;
  std::uint64_t bytes = bytes_;
  try {
    if (payload.size() > opts_.max_record_bytes) {
      stmt_reset r{insert_aside_};
      sqlite3_bind_int64(insert_aside_, 1, static_cast<sqlite3_int64>(out.seq));
      sqlite3_bind_blob(insert_aside_, 2, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(insert_aside_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
      out.set_aside = true;
    } else {
      while (depth > 0 && (depth + 1 > opts_.max_records || bytes + payload.size() > opts_.max_bytes)) {
        std::uint64_t old_seq = 0;
        std::uint64_t old_len = 0;
        {
          stmt_reset r{oldest_};
          if (sqlite3_step(oldest_) != SQLITE_ROW) throw queue_error(sqlite3_errmsg(db_));
          old_seq = static_cast<std::uint64_t>(sqlite3_column_int64(oldest_, 0));
          old_len = static_cast<std::uint64_t>(sqlite3_column_int64(oldest_, 1));
        }
        stmt_reset r{delete_};
        sqlite3_bind_int64(delete_, 1, static_cast<sqlite3_int64>(old_seq));
        int rc = sqlite3_step(delete_);
        if (rc == SQLITE_ROW) rc = sqlite3_step(delete_);
        if (rc != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
        --depth;
        bytes -= old_len;
        ++out.dropped;
      }
      stmt_reset r{insert_};
      sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(out.seq));
      sqlite3_bind_blob(insert_, 2, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(insert_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
      ++depth;
      bytes += payload.size();
    }
    {
      stmt_reset r{set_next_};
      const std::string next = std::to_string(out.seq + 1);
      sqlite3_bind_text(set_next_, 1, next.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(set_next_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  next_seq_ = out.seq + 1;
  depth_ = depth;
  bytes_ = bytes;
  dropped_ += out.dropped;
  if (out.set_aside) {
    ++set_aside_;
    spdlog::error("record seq {} is {} bytes, above the broker packet limit {}; set aside, not published",
                  out.seq, payload.size(), opts_.max_record_bytes);
  }
  if (out.dropped > 0) spdlog::warn("queue full: dropped {} oldest records ({} since start)", out.dropped, dropped_);
  return out;
}

std::vector<durable_queue::entry> durable_queue::peek_after(std::uint64_t after_seq, std::size_t limit) {
  std::vector<entry> out;
  stmt_reset r{peek_};
  sqlite3_bind_int64(peek_, 1, static_cast<sqlite3_int64>(after_seq));
  sqlite3_bind_int64(peek_, 2, static_cast<sqlite3_int64>(limit));
  int rc = 0;
  while ((rc = sqlite3_step(peek_)) == SQLITE_ROW) {
    entry e;
    e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(peek_, 0));
    const auto* p = static_cast<const char*>(sqlite3_column_blob(peek_, 1));
    e.payload.assign(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(peek_, 1)));
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) throw queue_error(std::string("peek: ") + sqlite3_errmsg(db_));
  return out;
}

std::size_t durable_queue::remove(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return 0;
  exec("BEGIN IMMEDIATE");
  std::size_t removed = 0;
  std::uint64_t freed = 0;
  try {
    for (const std::uint64_t seq : seqs) {
      stmt_reset r{delete_};
      sqlite3_bind_int64(delete_, 1, static_cast<sqlite3_int64>(seq));
      int rc = sqlite3_step(delete_);
      if (rc == SQLITE_ROW) {
        freed += static_cast<std::uint64_t>(sqlite3_column_int64(delete_, 0));
        ++removed;
        rc = sqlite3_step(delete_);
      }
      if (rc != SQLITE_DONE) throw queue_error(std::string("remove: ") + sqlite3_errmsg(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  depth_ -= removed;
  bytes_ -= freed;
  return removed;
}

}  // namespace sewage::agent
