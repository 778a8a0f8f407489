#pragma once
/// \file
/// The agent's power-loss-safe outbox: SQLite in WAL mode with synchronous=FULL, so a record is
/// on disk (fsync'd) when `append` returns, and leaves only through `remove` after the broker's
/// PUBACK. It is the only store of unsent records: Paho file persistence is not used
/// (DEPENDENCIES.md §2.7).
///
/// Layout: table `outbox(seq INTEGER PRIMARY KEY, payload BLOB)`, table `set_aside` for records
/// larger than the broker's packet limit, and `meta(key, value)` holding `epoch` and `next_seq`.
///
/// One process per queue: the constructor takes an exclusive flock(2) on "<path>.lock" (beside
/// the queue) for the object's lifetime and writes its PID there; a second agent on the same
/// queue gets queue_locked naming the holder's PID (two agents on one queue published different
/// records under one (epoch, seq) and lost one to "UNIQUE constraint failed: outbox.seq").
///
/// Storage that refuses writes (no space left, quota, I/O errors, read-only): the queue keeps a
/// reserve file "<path>.reserve" (`reserve_bytes`, allocated with posix_fallocate) that it can
/// delete to get the space a delete and a checkpoint need, keeps its WAL small
/// (wal_autocheckpoint = 8 pages, so a checkpoint never needs more than ~32 KiB of new space),
/// uses locking_mode = EXCLUSIVE (no -shm file; the lock file already excludes other users)
/// and uses auto_vacuum = INCREMENTAL so space freed by deletes can be given back. When a write
/// fails, `append` releases the reserve, checkpoints (TRUNCATE), caps the queue at 3/4 of the
/// payload it holds (so that each insert reuses the pages of the oldest records it drops in the
/// same transaction and the file never needs to grow while the disk is full), drops the oldest
/// records (counted in `dropped`) to make room and retries; only if that does not help (nothing left to
/// drop, or deletes fail too) it throws, and the caller publishes the record from memory with
/// a seq from `skip_seq`. `storage_fault` says why while the fault lasts; it clears when a write
/// succeeded and the reserve could be allocated again (which also lifts the cap): when the file
/// system has room for the reserve and the WAL's working size, counting the queue's free pages
/// only when it is empty (checked at most every 5 s, after giving
/// free pages back with incremental_vacuum). Error lines are rate-limited (rate_limit.hpp).
#include "sewage/agent/rate_limit.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sewage::agent {

/// The queue cannot be used at all (even a fresh file cannot be created), or a write failed.
class queue_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Another process holds the queue's lock. `holder_pid` is the PID written in the lock file (0 if
/// unreadable).
class queue_locked : public queue_error {
 public:
  queue_locked(const std::string& what, long holder_pid) : queue_error(what), holder_pid_(holder_pid) {}
  [[nodiscard]] long holder_pid() const noexcept { return holder_pid_; }

 private:
  long holder_pid_;
};

class durable_queue {
 public:
  struct options {
    std::filesystem::path path;
    std::uint64_t max_records{100000};
    std::uint64_t max_bytes{64ULL * 1024 * 1024};  ///< sum of payload sizes
    std::size_t max_record_bytes{262144};          ///< larger records are set aside
    /// Size of the reserve file deleted when the storage is full, so that deletes and a
    /// checkpoint can still run: 8 WAL pages of 4 KiB (the autocheckpoint limit) = 32 KiB.
    std::uint64_t reserve_bytes{32 * 1024};
    /// Bound of SQLite's page cache for this connection (PRAGMA cache_size = -page_cache_kib),
    /// KiB of heap. SQLite's default, 2,000 KiB, is kept once filled: `PRAGMA quick_check` at
    /// open reads every page, so an agent that started with a backlog of a few MiB kept ~2 MiB of
    /// cached pages in its heap for good (issue 15 item 6: <= 10 MB RSS). 128 KiB holds the
    /// b-tree's inner pages and the pages of a batch; everything else is one read from the OS
    /// page cache away, at one record a minute.
    std::uint32_t page_cache_kib{128};
  };

  /// Takes the queue's lock (throws queue_locked if another process holds it, queue_error if the
  /// lock file cannot be created), then opens `path`, creating it (and a new random epoch) if missing. A file that SQLite cannot
  /// read or whose `PRAGMA quick_check` fails is renamed to "<path>.corrupt-<unix seconds>"
  /// (with its -wal/-shm), an error is logged, and a fresh queue with a new epoch is created.
  /// Throws queue_error only if no usable queue can be created (e.g. directory not writable).
  explicit durable_queue(options opts);
  ~durable_queue();
  durable_queue(const durable_queue&) = delete;
  durable_queue& operator=(const durable_queue&) = delete;

  /// 16 lower-case hex digits (64 random bits) created with the queue. Never throws.
  [[nodiscard]] const std::string& epoch() const noexcept { return epoch_; }
  /// Records waiting in the outbox.
  [[nodiscard]] std::uint64_t depth() const noexcept { return depth_; }
  /// Payload bytes waiting in the outbox.
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  /// Records dropped (oldest first) to keep the bounds since this object was created: records
  /// lost, never delivered (a delivered record pushed out is not counted, see `delivered`).
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
  /// Records set aside as too large since this object was created.
  [[nodiscard]] std::uint64_t set_aside() const noexcept { return set_aside_; }
  /// The seq the next append will use (>= 1).
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return next_seq_; }
  /// Why the storage refuses writes, while it does (see the file comment); nullopt when healthy.
  [[nodiscard]] const std::optional<std::string>& storage_fault() const noexcept { return fault_; }
  /// True while the reserve file is allocated.
  [[nodiscard]] bool reserve_present() const noexcept { return reserve_present_; }
  /// Takes the next seq for a record that could not be committed (`append` threw), in memory
  /// only: the next successful append persists a higher next_seq, so no seq is used twice while
  /// the process lives. (If the process dies before any write succeeds again, the persisted
  /// next_seq is behind; documented in firmware/README.md.)
  std::uint64_t skip_seq() noexcept { return next_seq_++; }
  /// Where a corrupt file was moved, when that happened at open.
  [[nodiscard]] const std::optional<std::filesystem::path>& moved_aside() const noexcept { return moved_aside_; }

  struct appended {
    std::uint64_t seq{0};
    bool set_aside{false};   ///< too large: kept in `set_aside`, never published
    std::uint64_t dropped{0};  ///< oldest records dropped by this append
  };
  /// Takes the next seq, builds the payload with `make_payload(seq)`, drops the oldest records
  /// while the bounds would be exceeded, and commits everything in one transaction (fsync'd
  /// before returning). When the storage refuses the write, frees space as the file comment
  /// says (dropping oldest records, counted in `dropped` and in the result) and retries. Throws
  /// queue_error if the record still cannot be written (it is not committed then; the seq is not
  /// consumed).
  appended append(const std::function<std::string(std::uint64_t seq)>& make_payload);

  struct entry {
    std::uint64_t seq{0};
    std::string payload;
  };
  /// Up to `limit` records with seq > `after_seq`, in seq order. Throws queue_error on I/O error.
  [[nodiscard]] std::vector<entry> peek_after(std::uint64_t after_seq, std::size_t limit);
  /// Removes records (after their PUBACKs) in one transaction. Returns how many were there
  /// (a seq already dropped or removed is skipped). On a write failure releases the reserve,
  /// checkpoints and retries once; throws queue_error if that fails too.
  std::size_t remove(const std::vector<std::uint64_t>& seqs);
  /// Marks record `seq` delivered (its PUBACK came) while it stays in the file until a batched
  /// `remove`. When the bounds push such a record out, nothing is lost: it is not counted in
  /// `dropped` (nor in `appended::dropped`). Kept in memory only: after a restart every record in
  /// the file counts as undelivered again (and is published again). A seq never handed out
  /// (>= next_seq) or already pushed out (its PUBACK came after; it was counted in `dropped`
  /// then) is ignored; one removed meanwhile is forgotten with the next `remove` naming it. Never throws (std::bad_alloc aside). Not thread-safe, like the rest of the class.
  void delivered(std::uint64_t seq);
  /// Records marked `delivered` and still in the file, as far as this object knows.
  [[nodiscard]] std::size_t delivered_count() const noexcept { return delivered_.size(); }

 private:
  void acquire_lock();
  void open_or_recover();
  bool try_open(std::string& why);
  void close() noexcept;
  void exec(const char* sql);
  bool write_record(std::uint64_t seq, const std::string& payload, appended& out, std::string& why);
  bool drop_oldest(std::uint64_t n, appended& out, std::string& why);
  bool try_remove(const std::vector<std::uint64_t>& seqs, std::size_t& removed, std::string& why);
  void note_fault(const std::string& why);
  void release_space() noexcept;
  void maybe_restore_reserve() noexcept;
  void clear_fault_if_healthy() noexcept;
  void after_good_write() noexcept;
  bool allocate_reserve() noexcept;

  options opts_;
  sqlite3* db_{nullptr};
  sqlite3_stmt* insert_{nullptr};
  sqlite3_stmt* insert_aside_{nullptr};
  sqlite3_stmt* delete_{nullptr};
  sqlite3_stmt* oldest_{nullptr};
  sqlite3_stmt* peek_{nullptr};
  sqlite3_stmt* set_next_{nullptr};
  std::string epoch_;
  std::uint64_t depth_{0}, bytes_{0}, dropped_{0}, set_aside_{0}, next_seq_{1};
  std::set<std::uint64_t> delivered_;  // delivered, still in the file (see delivered())
  std::uint64_t evicted_through_{0};   // the bounds pushed out every seq up to this (oldest first)
  /// Writes meta next_seq = `next` inside the caller's transaction; throws queue_error.
  void store_next_seq(std::uint64_t next);
  std::optional<std::filesystem::path> moved_aside_;
  int lock_fd_{-1};
  std::filesystem::path reserve_path_;
  bool reserve_present_{false};
  std::optional<std::string> fault_;
  std::optional<std::uint64_t> capacity_bytes_;  ///< payload bound while the storage is full
  int last_rc_{0};                               ///< SQLite extended code of the last failed write
  bool write_failed_{false};                     ///< the last write (append or remove) failed
  std::uint64_t fault_failures_{0};  ///< write failures since the fault began
  std::chrono::steady_clock::time_point last_reserve_try_{};
  rate_limit fault_log_{std::chrono::seconds(60)};
  rate_limit drop_log_{std::chrono::seconds(60)};
  std::uint64_t drops_unlogged_{0};
};

}  // namespace sewage::agent
