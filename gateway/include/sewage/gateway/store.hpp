#pragma once
/// \file
/// The store extension point: everything the gateway keeps (history, daily aggregates, alert
/// episodes and transitions, dead letters, images, and the per-terminal resume state) behind one
/// interface. SQLite is the embedded default (sqlite_store.hpp); a PostgreSQL store for sharded
/// deployments would implement the same interface.

#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/alert_rule.hpp"
#include "sewage/gateway/dedup.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/status.hpp>
#include <sewage/proto/telemetry.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sewage::gateway {

/// Raised by a store when the database cannot be opened, migrated or written. what() names the
/// operation and the database's message.
class store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A statement interrupted because its thread used up the CPU time given to store::set_cpu_limit
/// (a read connection's per-request bound). Nothing was changed by it.
class store_timeout : public store_error {
 public:
  using store_error::store_error;
};

/// One accepted telemetry record with its arrival time.
struct record_row {
  proto::telemetry_record record;  ///< as the agent sent it: `record.ts` is the agent's stamp
  proto::timestamp arrival{};
  /// The payload as received (already validated by proto); stored as is. Empty = encode `record`.
  std::string payload;
  /// The stamp was inside the trust window around arrival (DESIGN.md "Trust in numbers"). The
  /// record's EFFECTIVE time (what history ranges and retention use) is `record.ts` when true,
  /// `arrival` when false. history() derives it back from the stored effective time.
  bool ts_trusted{true};

  /// `record.ts` when trusted, else `arrival`.
  [[nodiscard]] proto::timestamp effective_ts() const noexcept { return ts_trusted ? record.ts : arrival; }
};

/// A rejected message kept for operators (bounded table).
struct dead_letter_row {
  std::int64_t id{0};               ///< assigned by the store
  proto::timestamp arrival{};
  std::string topic;
  std::string code;                 ///< proto::to_string(problem_code) of the first problem
  std::string reason;               ///< every problem, "path: reason; ..."
  std::string payload;              ///< first 4 KiB of the payload (bytes)
};

/// Per (terminal, day) daily aggregate.
struct daily_row {
  std::string terminal_id;
  daily_delta totals;
  /// Records never received (seq holes) attributed to this day; in a write_batch an increment
  /// (negative when a late record fills a hole). Attribution: see engine.hpp ("missing records").
  std::int64_t missing_records{0};
};

/// A stored alert transition (every raise, ack and clear).
struct alert_transition {
  std::uint64_t alert_id{0};
  proto::alert_state state{proto::alert_state::raised};
  proto::timestamp at{};
  std::string by;    ///< operator name for acknowledgements
  std::string note;
};

/// Everything the gateway needs to resume one terminal after a restart or SIGKILL.
struct terminal_snapshot {
  std::string terminal_id;
  std::string epoch;                 ///< current queue epoch
  seq_set seen;                      ///< accepted seqs of that epoch (exact de-dup, dedup.hpp)
  std::int64_t max_seq_ts_ms{0};     ///< effective time of the record with seen.max_seq() (gap days)
  std::optional<proto::telemetry_record> latest;
  /// `latest` as received, when the writer has it (saves re-encoding); empty = encode `latest`.
  std::string latest_json;
  proto::timestamp latest_arrival{};
  std::optional<proto::status_message> status;
  proto::timestamp status_arrival{};
  totalizer_cursor cursor;
  std::array<rule_state, proto::all_alert_types.size()> rules{};
  std::int64_t rule_clock_ms{0};     ///< event time of the last record fed to the rules
  std::int64_t last_alive_ms{0};     ///< arrival of the last live record
  std::int64_t grace_until_ms{0};    ///< clean agent shutdown grace
  bool will{false};                  ///< last will received after last_alive

  // Clock tracking (not persisted: rebuilt from the next records after a restart).
  std::int64_t prev_offset_ms{0};    ///< arrival - stamp of the previous accepted record
  std::int64_t prev_arrival_ms{0};   ///< its arrival, 0 = none
  std::uint32_t steady_run{0};       ///< consecutive records arriving at the report rate with a stable offset
  bool stamp_untrusted{false};       ///< the last record's stamp was outside the trust window (log once)
};

/// One atomic unit of writes (one transaction).
struct write_batch {
  std::vector<record_row> records;
  std::vector<daily_row> daily;                 ///< increments (see daily_delta)
  std::vector<terminal_snapshot> terminals;     ///< upserts (with the current epoch's seq set)
  /// The seq set of an epoch a terminal has just left, kept in case the terminal returns to it.
  struct epoch_set { std::string terminal_id; std::string epoch; seq_set seen; };
  std::vector<epoch_set> retired_sets;
  /// Ranges a seq set moved out of memory (dedup.hpp, "memory bound"); kept for ever with the set.
  struct spilled_range { std::string terminal_id; std::string epoch; seq_range range; };
  std::vector<spilled_range> spilled;
  std::vector<proto::alert_message> alerts;     ///< upserts of episodes (full state)
  std::vector<alert_transition> transitions;
  std::vector<dead_letter_row> dead_letters;
  struct image { std::string terminal_id; std::string jpeg; proto::timestamp arrival; };
  std::vector<image> images;                    ///< latest JPEG per terminal (upsert)

  [[nodiscard]] bool empty() const noexcept {
    return records.empty() && daily.empty() && terminals.empty() && retired_sets.empty() && spilled.empty() &&
           alerts.empty() &&
           transitions.empty() && dead_letters.empty() && images.empty();
  }
  void clear() noexcept { *this = write_batch{}; }
};

/// Counts for the county summary.
struct fault_stats {
  std::uint64_t raised{0};          ///< episodes raised since `from`
  std::uint64_t resolved{0};        ///< episodes cleared since `from`
  double mean_time_to_resolve_s{0}; ///< over the resolved ones, 0 when none
};

/// The store. An instance is used from one thread at a time (the engine's, or one reader thread
/// with its own read connection: read_pool.hpp); it need not be thread-safe. Every method throws
/// store_error on a database failure.
class store {
 public:
  virtual ~store() = default;
  /// Bounds the work of the statements that follow: once the calling thread has used `limit` of
  /// CPU time since this call, the running statement is interrupted and throws store_timeout;
  /// std::nullopt removes the bound. CPU time, not wall time: a reader starved of CPU by a busy
  /// host is not cut, a runaway query is. Used by read connections per request. The default
  /// ignores it (a store without the means to interrupt).
  virtual void set_cpu_limit(std::optional<std::chrono::nanoseconds> limit) { (void)limit; }
  /// Applies all writes atomically. The dead-letter table is trimmed to its bound in the same transaction.
  virtual void apply(const write_batch& batch) = 0;
  /// Resume state of every known terminal.
  virtual std::vector<terminal_snapshot> load_terminals() = 0;
  /// Seq set of an epoch of a terminal (the current one or an earlier one), if that epoch was seen.
  virtual std::optional<seq_set> load_dedup(const std::string& terminal_id, const std::string& epoch) = 0;
  /// True when `seq` is in a range spilled from that epoch's seq set (dedup.hpp).
  virtual bool spilled_contains(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq) = 0;
  /// Records never received in every epoch that is NOT a terminal's current one (sum of
  /// max_seq - accepted over the left epochs); with the current epochs' counts this is the total.
  virtual std::uint64_t missing_in_left_epochs() = 0;
  /// Alert episodes, newest first. `open_only`: not cleared. `terminal_id` filters when set.
  virtual std::vector<proto::alert_message> alerts(bool open_only, const std::optional<std::string>& terminal_id,
                                                   std::size_t limit) = 0;
  virtual std::optional<proto::alert_message> alert(std::uint64_t alert_id) = 0;
  virtual std::vector<alert_transition> transitions(std::uint64_t alert_id) = 0;
  /// Highest episode id ever used (0 when none).
  virtual std::uint64_t max_alert_id() = 0;
  /// Records of a terminal whose EFFECTIVE time (record_row::effective_ts) is in [from, to),
  /// oldest first, at most `limit`; each with ts_trusted set.
  virtual std::vector<record_row> history(const std::string& terminal_id, proto::timestamp from,
                                          proto::timestamp to, std::size_t limit) = 0;
  /// Daily rows with from_day <= day <= to_day; all terminals when terminal_id is empty.
  virtual std::vector<daily_row> daily(const std::optional<std::string>& terminal_id, std::int32_t from_day,
                                       std::int32_t to_day) = 0;
  /// Latest JPEG of a terminal and when it arrived.
  virtual std::optional<std::pair<std::string, proto::timestamp>> image(const std::string& terminal_id) = 0;
  /// Newest dead letters first.
  virtual std::vector<dead_letter_row> dead_letters(std::size_t limit) = 0;
  /// Episodes raised and cleared since `from`.
  virtual fault_stats faults_since(proto::timestamp from) = 0;
  /// Deletes raw records whose effective time AND arrival are before `before` (a recent record is
  /// never deleted for an old stamp); daily rows are kept. Returns the count deleted.
  virtual std::size_t purge_records_before(proto::timestamp before) = 0;
};

}  // namespace sewage::gateway
