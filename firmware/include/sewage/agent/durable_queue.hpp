#pragma once
/// \file
/// The agent's power-loss-safe outbox: SQLite in WAL mode with synchronous=FULL, so a record is
/// on disk (fsync'd) when `append` returns, and leaves only through `remove` after the broker's
/// PUBACK. It is the only store of unsent records: Paho file persistence is not used
/// (DEPENDENCIES.md §2.7).
///
/// Layout: table `outbox(seq INTEGER PRIMARY KEY, payload BLOB)`, table `set_aside` for records
/// larger than the broker's packet limit, and `meta(key, value)` holding `epoch` and `next_seq`.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
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

class durable_queue {
 public:
  struct options {
    std::filesystem::path path;
    std::uint64_t max_records{100000};
    std::uint64_t max_bytes{64ULL * 1024 * 1024};  ///< sum of payload sizes
    std::size_t max_record_bytes{262144};          ///< larger records are set aside
  };

  /// Opens `path`, creating it (and a new random epoch) if missing. A file that SQLite cannot
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
  /// Records dropped (oldest first) to keep the bounds since this object was created.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
  /// Records set aside as too large since this object was created.
  [[nodiscard]] std::uint64_t set_aside() const noexcept { return set_aside_; }
  /// The seq the next append will use (>= 1).
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return next_seq_; }
  /// Where a corrupt file was moved, when that happened at open.
  [[nodiscard]] const std::optional<std::filesystem::path>& moved_aside() const noexcept { return moved_aside_; }

  struct appended {
    std::uint64_t seq{0};
    bool set_aside{false};   ///< too large: kept in `set_aside`, never published
    std::uint64_t dropped{0};  ///< oldest records dropped by this append
  };
  /// Takes the next seq, builds the payload with `make_payload(seq)`, drops the oldest records
  /// while the bounds would be exceeded, and commits everything in one transaction (fsync'd
  /// before returning). Throws queue_error if the write fails (nothing is committed then).
  appended append(const std::function<std::string(std::uint64_t seq)>& make_payload);

  struct entry {
    std::uint64_t seq{0};
    std::string payload;
  };
  /// Up to `limit` records with seq > `after_seq`, in seq order. Throws queue_error on I/O error.
  [[nodiscard]] std::vector<entry> peek_after(std::uint64_t after_seq, std::size_t limit);
  /// Removes records (after their PUBACKs) in one transaction. Returns how many were there
  /// (a seq already dropped or removed is skipped). Throws queue_error on I/O error.
  std::size_t remove(const std::vector<std::uint64_t>& seqs);

 private:
  void open_or_recover();
  bool try_open(std::string& why);
  void close() noexcept;
  void exec(const char* sql);

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
  std::optional<std::filesystem::path> moved_aside_;
};

}  // namespace sewage::agent
