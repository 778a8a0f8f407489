#include "sewage/agent/durable_queue.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
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

/// The WAL's working size: wal_autocheckpoint (8 pages) plus one transaction, 4 KiB pages with
/// their 24-byte frame headers, rounded up.
constexpr std::uint64_t kWalWorkingBytes = 12 * (4096 + 24) + 32;

struct stmt_reset {
  sqlite3_stmt* s;
  ~stmt_reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

}  // namespace

durable_queue::durable_queue(options opts) : opts_(std::move(opts)) {
  reserve_path_ = opts_.path.string() + ".reserve";
  acquire_lock();
  try {
    open_or_recover();
  } catch (...) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
  std::error_code ec;
  if (std::filesystem::exists(reserve_path_, ec) &&
      std::filesystem::file_size(reserve_path_, ec) >= opts_.reserve_bytes && !ec) {
    reserve_present_ = true;
  } else if (!allocate_reserve()) {
    fault_ = "no space for the " + std::to_string(opts_.reserve_bytes / 1024) + " KiB storage reserve";
    spdlog::error("queue {}: {}; the queue works but a full disk may stop it", opts_.path.string(), *fault_);
  }
}

durable_queue::~durable_queue() {
  close();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void durable_queue::acquire_lock() {
  if (const auto dir = opts_.path.parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // e.g. /var/lib/sewage-agent on first start
  }
  const std::string lock_path = opts_.path.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw queue_error("cannot open the queue lock " + lock_path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) throw queue_error("cannot lock " + lock_path + ": " + std::strerror(err));
    long pid = 0;
    std::ifstream(lock_path) >> pid;
    throw queue_locked("queue " + opts_.path.string() + " is in use by another process (PID " +
                           (pid > 0 ? std::to_string(pid) : std::string("unknown")) + ", lock " + lock_path +
                           "): only one agent may use a queue; is a second agent running on the same config?",
                       pid);
  }
  // The holder's PID for the message above. Failing to write it (full disk) does not matter:
  // the lock is the flock, not the content.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)n;
  }
  lock_fd_ = fd;
}

bool durable_queue::allocate_reserve() noexcept {
  if (opts_.reserve_bytes == 0) {
    reserve_present_ = true;
    return true;
  }
  const int fd = ::open(reserve_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(opts_.reserve_bytes));
  ::close(fd);
  if (rc != 0) {
    ::unlink(reserve_path_.c_str());
    return false;
  }
  reserve_present_ = true;
  return true;
}

void durable_queue::release_space() noexcept {
  if (reserve_present_ && opts_.reserve_bytes > 0) {
    ::unlink(reserve_path_.c_str());
    reserve_present_ = false;
    spdlog::warn("queue {}: storage refuses writes; released the {} KiB reserve to delete and checkpoint",
                 opts_.path.string(), opts_.reserve_bytes / 1024);
  }
  // Copy the WAL into the database and truncate it: gives the WAL's space back.
  sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
}

void durable_queue::note_fault(const std::string& why) {
  if (!fault_) fault_failures_ = 0;
  fault_ = why.substr(0, 256);
  ++fault_failures_;
  if (const auto n = fault_log_.note()) {
    spdlog::error("queue {}: storage refuses writes ({}): {} failed writes since the last report, {} records "
                  "waiting, {} dropped since start; oldest records are dropped to make room and what cannot be "
                  "stored is published from memory",
                  opts_.path.string(), *fault_, n, depth_, dropped_);
  }
}

void durable_queue::maybe_restore_reserve() noexcept {
  if (write_failed_ || (reserve_present_ && !capacity_bytes_)) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_reserve_try_ < std::chrono::seconds(5)) return;
  last_reserve_try_ = now;
  if (!reserve_present_) {
    // Enough space for the reserve, for the WAL to grow back to its working size, and 4 pages of
    // headroom? Free pages inside the queue count only when it is empty: while records wait they
    // are the ring's working space, and lifting the cap would only fill the disk again.
    struct statvfs vfs {};
    std::uint64_t free_pages = 0;
    {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db_, "PRAGMA freelist_count", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        free_pages = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      sqlite3_finalize(s);
    }
    const std::string dir = opts_.path.parent_path().empty() ? "." : opts_.path.parent_path().string();
    if (::statvfs(dir.c_str(), &vfs) != 0) return;
    const std::uint64_t avail = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    std::error_code ec;
    const auto wal_size = std::filesystem::file_size(opts_.path.string() + "-wal", ec);
    const std::uint64_t wal_now = ec ? 0 : static_cast<std::uint64_t>(wal_size);
    const std::uint64_t wal_regrow = wal_now < kWalWorkingBytes ? kWalWorkingBytes - wal_now : 0;
    const std::uint64_t usable = avail + (depth_ == 0 ? free_pages * 4096 : 0);
    if (usable < opts_.reserve_bytes + wal_regrow + 4 * 4096) return;
    if (depth_ == 0 && free_pages > 0) {
      sqlite3_exec(db_, "PRAGMA incremental_vacuum", nullptr, nullptr, nullptr);
      sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    }
    if (!allocate_reserve()) return;
  }
  capacity_bytes_.reset();  // space is back: the configured bounds apply again
}

void durable_queue::after_good_write() noexcept {
  write_failed_ = false;
  maybe_restore_reserve();
  clear_fault_if_healthy();
}

void durable_queue::clear_fault_if_healthy() noexcept {
  if (!fault_ || !reserve_present_) return;
  spdlog::info("queue {}: storage writable again, reserve restored; {} failed writes during the fault ({}), {} "
               "records dropped since start",
               opts_.path.string(), fault_failures_, *fault_, dropped_);
  fault_.reset();
  fault_failures_ = 0;
  fault_log_.reset();
}

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

namespace {

/// Lookaside of each connection: off. SQLite's default (100 slots of 1,200 bytes, 117 KiB of heap
/// per connection, sqlite3.org/malloc.html §2.2) speeds up many small allocations in busy
/// databases; the queue runs a few statements a minute.
constexpr int lookaside_slot_bytes = 0;
constexpr int lookaside_slots = 0;

/// Process-wide, before SQLite initialises (the first sqlite3_open): no bulk page-cache
/// allocation per connection (SQLITE_CONFIG_PAGECACHE with no buffer and N = 0; SQLite 3.40
/// otherwise allocates 20 pages, ~87 KiB, at a connection's first read). Pages are then allocated
/// one at a time, at most `page_cache_kib` of them. Does nothing (SQLITE_MISUSE, ignored) when
/// SQLite was initialised before, e.g. by another library in a test process.
void configure_sqlite_once() noexcept {
  static const int rc = sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
  (void)rc;
}

}  // namespace

bool durable_queue::try_open(std::string& why) {
  configure_sqlite_once();
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
    // Before the first statement (it cannot change while lookaside memory is in use).
    (void)sqlite3_db_config(db_, SQLITE_DBCONFIG_LOOKASIDE, nullptr, lookaside_slot_bytes, lookaside_slots);
    {
      const std::string cache = "PRAGMA cache_size=-" + std::to_string(opts_.page_cache_kib);
      exec(cache.c_str());
    }
    // Before any table exists (no effect on an older queue): lets incremental_vacuum give the
    // space of deleted records back to the file system after a full disk.
    exec("PRAGMA auto_vacuum=INCREMENTAL");
    // The queue's lock file makes this process the only user: exclusive locking keeps the WAL
    // index in memory instead of a 32 KiB -shm file (space that matters on a full card).
    exec("PRAGMA locking_mode=EXCLUSIVE");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    // A small WAL: a checkpoint then never needs more new space than the reserve holds.
    exec("PRAGMA wal_autocheckpoint=8");
    exec("PRAGMA journal_size_limit=131072");
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

bool durable_queue::write_record(std::uint64_t seq, const std::string& payload, appended& out, std::string& why) {
  std::uint64_t depth = depth_;
  std::uint64_t bytes = bytes_;
  std::uint64_t dropped = 0;
  std::vector<std::uint64_t> evicted_delivered;  // pushed out, but delivered: not a loss
  std::uint64_t evicted_through = evicted_through_;
  bool aside = false;
  try {
    exec("BEGIN IMMEDIATE");
    try {
      if (payload.size() > opts_.max_record_bytes) {
        stmt_reset r{insert_aside_};
        sqlite3_bind_int64(insert_aside_, 1, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_blob(insert_aside_, 2, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
        if (sqlite3_step(insert_aside_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
        aside = true;
      } else {
        // After the storage filled up, the queue stays within the pages it has (capacity_bytes_).
        const std::uint64_t max_bytes = std::min(opts_.max_bytes, capacity_bytes_.value_or(opts_.max_bytes));
        while (depth > 0 && (depth + 1 > opts_.max_records || bytes + payload.size() > max_bytes)) {
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
          if (delivered_.count(old_seq) != 0)
            evicted_delivered.push_back(old_seq);
          else
            ++dropped;
          evicted_through = old_seq;
        }
        stmt_reset r{insert_};
        sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_blob(insert_, 2, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
        if (sqlite3_step(insert_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
        ++depth;
        bytes += payload.size();
      }
      // The next seq is the outbox's highest + 1 at open, so an insert there need not store it
      // (one b-tree page less per commit: issue 15 item 5, writes to the SD card); deletes store
      // it (store_next_seq), and so does a set-aside record, which the open does not look at.
      if (aside) store_next_seq(seq + 1);
      exec("COMMIT");
    } catch (...) {
      last_rc_ = sqlite3_extended_errcode(db_);  // before ROLLBACK resets it
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
  depth_ = depth;
  bytes_ = bytes;
  dropped_ += dropped;
  out.dropped += dropped;
  out.set_aside = aside;
  for (const auto seq : evicted_delivered) delivered_.erase(seq);
  evicted_through_ = evicted_through;
  return true;
}

void durable_queue::delivered(std::uint64_t seq) {
  if (seq == 0 || seq >= next_seq_ || seq <= evicted_through_) return;
  delivered_.insert(seq);
}

void durable_queue::store_next_seq(std::uint64_t next) {
  stmt_reset r{set_next_};
  const std::string text = std::to_string(next);
  sqlite3_bind_text(set_next_, 1, text.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(set_next_) != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
}

bool durable_queue::drop_oldest(std::uint64_t n, appended& out, std::string& why) {
  try {
    exec("BEGIN IMMEDIATE");
    try {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db_,
                             "SELECT COUNT(*), COALESCE(SUM(length(payload)),0), COALESCE(MAX(seq),0) FROM "
                             "(SELECT seq, payload FROM outbox ORDER BY seq LIMIT ?1)",
                             -1, &s, nullptr) != SQLITE_OK)
        throw queue_error(sqlite3_errmsg(db_));
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(n));
      if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        throw queue_error(sqlite3_errmsg(db_));
      }
      const auto count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      const auto len = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
      const auto max_seq = sqlite3_column_int64(s, 2);
      sqlite3_finalize(s);
      s = nullptr;
      if (sqlite3_prepare_v2(db_, "DELETE FROM outbox WHERE seq <= ?1", -1, &s, nullptr) != SQLITE_OK)
        throw queue_error(sqlite3_errmsg(db_));
      sqlite3_bind_int64(s, 1, max_seq);
      const int rc = sqlite3_step(s);
      sqlite3_finalize(s);
      if (rc != SQLITE_DONE) throw queue_error(sqlite3_errmsg(db_));
      store_next_seq(next_seq_);  // the outbox may be empty now: its highest seq no longer tells
      exec("COMMIT");
      depth_ -= count;
      bytes_ -= len;
      // Delivered records among those pushed out are not lost (delivered()).
      const auto last = delivered_.upper_bound(static_cast<std::uint64_t>(max_seq));
      const auto were_delivered = static_cast<std::uint64_t>(std::distance(delivered_.begin(), last));
      delivered_.erase(delivered_.begin(), last);
      evicted_through_ = std::max(evicted_through_, static_cast<std::uint64_t>(max_seq));
      const std::uint64_t lost = count > were_delivered ? count - were_delivered : 0;
      dropped_ += lost;
      out.dropped += lost;
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
  return true;
}

durable_queue::appended durable_queue::append(const std::function<std::string(std::uint64_t)>& make_payload) {
  appended out;
  out.seq = next_seq_;
  const std::string payload = make_payload(out.seq);
  std::string why;
  if (write_record(out.seq, payload, out, why)) {
    after_good_write();
  } else {
    // The storage refused the write: free space (reserve, WAL), then drop the oldest records in
    // small batches until the record fits. A few attempts only: on a read-only card or an I/O
    // error deletes fail too, and the queue must not be wiped for nothing.
    note_fault(why);
    release_space();
    // From now on the queue must not need new pages: keep its payload within 3/4 of what it
    // holds now, so the oldest records are dropped in the same transaction as each insert and
    // their pages are reused (the WAL keeps its size, journal_size_limit). Lifted when the
    // reserve can be allocated again.
    // Only for "no space" (SQLITE_FULL): on a read-only or failing card a cap would only drop
    // records once writes work again.
    const bool no_space = (last_rc_ & 0xff) == SQLITE_FULL;
    if (no_space && (!capacity_bytes_ || *capacity_bytes_ > bytes_ - bytes_ / 4)) {
      capacity_bytes_ = bytes_ - bytes_ / 4;
      spdlog::warn("queue {}: storage full; the queue now keeps at most {} bytes of records ({} waiting), dropping "
                   "the oldest",
                   opts_.path.string(), *capacity_bytes_, depth_);
    }
    int attempts = 0;
    while (!write_record(out.seq, payload, out, why)) {
      note_fault(why);
      std::string drop_why;
      const std::uint64_t batch = std::max<std::uint64_t>(16, depth_ / 100);
      if (depth_ == 0 || (last_rc_ & 0xff) != SQLITE_FULL || attempts++ >= 3 || !drop_oldest(batch, out, drop_why)) {
        write_failed_ = true;
        if (out.dropped > 0) spdlog::warn("queue {}: dropped {} oldest records to make room ({} since start)",
                                          opts_.path.string(), out.dropped, dropped_);
        throw queue_error("storage refuses writes: " + why);
      }
    }
    after_good_write();
  }
  next_seq_ = out.seq + 1;
  if (out.set_aside) {
    ++set_aside_;
    spdlog::error("record seq {} is {} bytes, above the broker packet limit {}; set aside, not published",
                  out.seq, payload.size(), opts_.max_record_bytes);
  }
  if (out.dropped > 0) {
    drops_unlogged_ += out.dropped;
    if (drop_log_.note() > 0) {
      spdlog::warn("queue full: dropped {} oldest records since the last report ({} since start){}", drops_unlogged_,
                   dropped_, fault_ ? " to make room on a full storage" : "");
      drops_unlogged_ = 0;
    }
  }
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

bool durable_queue::try_remove(const std::vector<std::uint64_t>& seqs, std::size_t& removed, std::string& why) {
  removed = 0;
  std::uint64_t freed = 0;
  try {
    exec("BEGIN IMMEDIATE");
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
      if (removed > 0) store_next_seq(next_seq_);  // the outbox may be empty now
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const std::exception& e) {
    why = e.what();
    removed = 0;
    return false;
  }
  depth_ -= removed;
  bytes_ -= freed;
  return true;
}

std::size_t durable_queue::remove(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return 0;
  std::size_t removed = 0;
  std::string why;
  if (try_remove(seqs, removed, why)) {
    for (const auto seq : seqs) delivered_.erase(seq);
    if (fault_) after_good_write();
    return removed;
  }
  // Deleting needs WAL space: release the reserve and checkpoint, then try once more.
  note_fault(why);
  release_space();
  if (try_remove(seqs, removed, why)) {
    for (const auto seq : seqs) delivered_.erase(seq);
    after_good_write();
    return removed;
  }
  write_failed_ = true;
  note_fault(why);
  throw queue_error(why);
}

}  // namespace sewage::agent
