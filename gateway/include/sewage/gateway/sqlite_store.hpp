#pragma once
/// \file
/// SQLite implementation of `store`: WAL journal, synchronous=NORMAL (a commit survives a process
/// kill; on power loss at most the last commits are lost, never corrupted), versioned schema
/// migrations (PRAGMA user_version), SQL only with bound parameters.

#include "sewage/gateway/store.hpp"

#include <filesystem>
#include <memory>

struct sqlite3;

namespace sewage::gateway {

/// Schema version this build writes. Migrations from every earlier version run at open.
/// 14 is the incidents room's (issue 13 item 3); 15 the pump stations' run log (item 2); 19 keeps
/// a site's flow normal in one row (issue 16); 20 the weather-driven raises held for an event.
inline constexpr int sqlite_schema_version = 20;

class sqlite_store final : public store, public notification_store {
 public:
  enum class access {
    read_write,  ///< the engine's connection: creates, migrates, writes
    /// A reader thread's connection (read_pool.hpp): SQLITE_OPEN_READONLY plus PRAGMA
    /// query_only, so it can never write; never creates or migrates. WAL lets it read while the
    /// engine's connection writes; it sees what was committed when its statement began.
    read_only,
  };
  /// Opens (creating if needed) the database at `path` and migrates it to sqlite_schema_version.
  /// `dead_letter_max_rows` bounds the dead-letter table. Throws store_error naming the path on
  /// failure, and when the file has a newer schema than this build knows.
  ///
  /// With access::read_only: opens an existing database without changing it; throws store_error
  /// naming the path when it cannot be opened, is not in WAL mode, or its schema is not exactly
  /// sqlite_schema_version (open it read-write first: that migrates it). apply() and
  /// purge_records_before() then throw store_error ("read-only connection").
  sqlite_store(const std::filesystem::path& path, std::size_t dead_letter_max_rows, access mode = access::read_write);
  /// Interrupts a statement once the calling thread has used `limit` of CPU time since this call
  /// (CLOCK_THREAD_CPUTIME_ID, checked by sqlite3_progress_handler every 1000 virtual machine
  /// steps, a few microseconds); it throws store_timeout. Call from the thread that then runs
  /// the statements.
  void set_cpu_limit(std::optional<std::chrono::nanoseconds> limit) override;
  /// Always throws store_error: a SQLite file is never shared by a standby pair, it has no leader
  /// table to fence with (store::set_commit_fence).
  void set_commit_fence(const commit_fence& fence) override;
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  /// Schema version of the open database (after migration).
  [[nodiscard]] int schema_version();

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
  std::size_t purge_records_before(proto::timestamp before) override;
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

/// The SQL of schema version 1 (the first release), for migration tests: a test creates a
/// version-1 database with it, then opens it with sqlite_store. Never throws.
const char* sqlite_schema_v1_sql() noexcept;

}  // namespace sewage::gateway
