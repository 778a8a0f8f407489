#pragma once
/// \file
/// PostgreSQL implementation of `store` (issue 16 item 1), through libpqxx 6.4: versioned schema
/// migrations (table schema_version), history partitioned by day on the record's effective time
/// (declarative partitioning; retention drops whole partitions), records written per batch with
/// one multi-row INSERT, every other statement prepared at connect, values only as bound
/// parameters. Semantics are the SQLite store's (sqlite_store.hpp) except where noted below.
///
/// Differences from the SQLite store, by design of partitioned tables:
/// - the history key is (terminal, epoch, seq, effective time): a record offered twice with the
///   same effective time is stored once (as in SQLite); the same (terminal, epoch, seq) with two
///   different effective times (an untrusted stamp delivered twice, arriving at different times)
///   would be kept twice. The engine's exact de-duplication (dedup.hpp) never offers that.
/// - set_cpu_limit bounds each statement with PostgreSQL's statement_timeout: wall time on the
///   server, not the calling thread's CPU time.

#include "sewage/gateway/store.hpp"

#include <memory>
#include <string>

namespace sewage::gateway {

/// Schema version this build writes (table schema_version). Migrations from every earlier version
/// run at open, under a transaction-scoped advisory lock (two gateways never migrate at once).
inline constexpr int postgresql_schema_version = 7;

class postgresql_store final : public store, public notification_store {
 public:
  enum class access {
    read_write,  ///< the engine's connection: creates, migrates, writes
    /// A reader's connection (read_pool.hpp): default_transaction_read_only, never migrates; the
    /// schema must be exactly postgresql_schema_version.
    read_only,
  };
  /// Connects with the libpq connection string `uri` (keyword form "host=... dbname=..." or a
  /// postgresql:// URI), migrates the schema to postgresql_schema_version (read_write) and
  /// prepares every statement. `dead_letter_max_rows` bounds the dead-letter table. Throws
  /// store_error when the server cannot be reached, the schema is newer than this build's (or, for
  /// read_only, not exactly this build's), or a migration fails; what() never contains the
  /// password (redact_postgresql_uri).
  postgresql_store(const std::string& uri, std::size_t dead_letter_max_rows, access mode = access::read_write);
  ~postgresql_store() override;
  postgresql_store(const postgresql_store&) = delete;
  postgresql_store& operator=(const postgresql_store&) = delete;

  /// Schema version of the database (after migration). Throws store_error.
  [[nodiscard]] int schema_version();
  /// Names of the history partitions now attached (records_YYYYMMDD), oldest first. Throws store_error.
  [[nodiscard]] std::vector<std::string> record_partitions();

  /// Sets statement_timeout to `limit` (rounded up to whole ms) for the statements that follow;
  /// a statement cancelled by it throws store_timeout. std::nullopt removes the bound.
  void set_cpu_limit(std::optional<std::chrono::nanoseconds> limit) override;
  /// See store::set_commit_fence (and notification_store's): fences apply(), purge_records_before(),
  /// roll_up_records_before() and notification_enqueue() of this connection; the notifier's
  /// delivery bookkeeping (remove, retry, trim) is not fenced. Not thread-safe
  /// (like every call of this connection). Never throws.
  void set_commit_fence(const commit_fence& fence) override;
  void apply(const write_batch& batch) override;
  std::vector<terminal_snapshot> load_terminals() override;
  std::optional<seq_set> load_dedup(const std::string& terminal_id, const std::string& epoch) override;
  bool spilled_contains(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq) override;
  std::uint64_t missing_in_left_epochs() override;
  std::vector<proto::alert_message> alerts(bool open_only, const std::optional<std::string>& terminal_id,
                                           std::size_t limit) override;
  std::vector<proto::alert_message> find_alerts(const alert_query& q) override;
  std::optional<proto::alert_message> alert(std::uint64_t alert_id) override;
  std::vector<alert_transition> transitions(std::uint64_t alert_id) override;
  std::uint64_t max_alert_id() override;
  std::vector<record_row> history(const std::string& terminal_id, proto::timestamp from, proto::timestamp to,
                                  std::size_t limit) override;
  std::vector<daily_row> daily(const std::optional<std::string>& terminal_id, std::int32_t from_day,
                               std::int32_t to_day) override;
  std::vector<daily_total_row> daily_totals(const std::vector<std::string>& terminal_ids, std::int32_t from_day,
                                            std::int32_t to_day) override;
  std::vector<command_row> commands(const std::optional<std::string>& terminal_id, std::optional<command_state> state,
                                    std::size_t limit) override;
  std::optional<command_row> command(std::uint64_t id) override;
  std::uint64_t max_command_id() override;
  std::vector<pump_run_hour> load_pump_run_hours() override;
  std::vector<flow_hour> flow_hours(const std::string& site_id, std::int64_t from_ms, std::int64_t to_ms) override;
  std::vector<site_flow_normal> load_flow_normals() override;
  std::optional<std::pair<std::string, proto::timestamp>> image(const std::string& terminal_id) override;
  std::optional<proto::timestamp> image_arrival(const std::string& terminal_id) override;
  std::vector<dead_letter_row> dead_letters(std::size_t limit) override;
  fault_stats faults_since(proto::timestamp from) override;
  std::vector<fault_counts> fault_counts_between(proto::timestamp from, proto::timestamp to) override;
  /// Drops every daily partition that lies wholly before `before` and whose records all arrived
  /// before it (counting its rows first), then deletes the remaining rows that qualify (the
  /// partition holding `before`, and late arrivals in older ones) like the SQLite store.
  std::size_t purge_records_before(proto::timestamp before) override;
  /// Also drops the day partitions left empty before `before` (their records are all in hours).
  rollup_result roll_up_records_before(proto::timestamp before, std::size_t max_days) override;
  std::vector<hourly_row> hourly(const std::string& terminal_id, proto::timestamp from, proto::timestamp to,
                                 std::size_t limit) override;

  std::vector<notification_row> notification_heads(std::size_t limit) override;
  void notification_remove(std::int64_t id) override;
  void notification_retry(std::int64_t id, std::uint32_t attempts, std::int64_t next_attempt_ms,
                          const std::string& error) override;
  std::uint64_t notification_trim(std::size_t max_rows) override;
  std::uint64_t notification_count() override;
  bool notification_enqueue(const std::vector<notification_row>& rows, const std::string& once_key) override;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

/// `uri` with its password replaced by "***": the userinfo password of a postgresql:// or
/// postgres:// URI, a `password=` query parameter, and a `password=` keyword (quoted or not) of
/// the keyword form. Everything else is unchanged. For logs and error messages. Never throws
/// (except std::bad_alloc).
std::string redact_postgresql_uri(const std::string& uri);

/// `uri` (keyword form or postgresql:// / postgres:// URI) with client-side bounds appended, so
/// that no call on a connection opened with it hangs on a dead server or a partitioned network:
/// connect_timeout=5 (s), keepalives=1, keepalives_idle=5 (s), keepalives_interval=2 (s),
/// keepalives_count=2, tcp_user_timeout=10000 (ms) (libpq 15 manual 34.1.2 "Parameter Key
/// Words"). A key the caller's string sets already is left as the caller set it; a URI's
/// trailing '?' or '&' is dropped first (libpq refuses "?&key=..."). Used by the standby's lease
/// and reader connections and the identity store's (every sign-in waits on it). Never throws
/// (except std::bad_alloc).
std::string bounded_postgresql_uri(const std::string& uri);

}  // namespace sewage::gateway
