#pragma once
/// \file
/// The store extension point: everything the gateway keeps (history, daily aggregates, alert
/// episodes and transitions, dead letters, images, and the per-terminal resume state) behind one
/// interface. SQLite is the embedded default (sqlite_store.hpp); PostgreSQL is the second backend
/// (postgresql_store.hpp); store_factory.hpp picks one from store.backend.

#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/energy.hpp"
#include "sewage/gateway/alert_rule.hpp"
#include "sewage/gateway/dedup.hpp"
#include "sewage/gateway/engine/flow_normal.hpp"
#include "sewage/gateway/pump_runtime.hpp"

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

/// A write refused because another gateway leads (set_commit_fence): the table gateway_leader names
/// a newer term than this gateway's. Nothing of the refused transaction was written.
class store_fenced : public store_error {
 public:
  using store_error::store_error;
};

/// A leader's fencing token (standby/leader_lease.hpp): the lease key and the term this gateway
/// wrote into gateway_leader when it took the lease.
struct commit_fence {
  std::int64_t lease_key{0};
  std::int64_t term{0};
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

/// Good readings of one quantity in one hour: how many, their sum (mean = sum / n), smallest and
/// largest. n == 0: no good reading (sum 0, min and max meaningless).
struct hourly_stat {
  std::uint32_t n{0};
  double sum{0};
  double min{0};
  double max{0};

  /// Adds one good reading.
  void add(double v) noexcept;
  /// Adds one good reading `v` whose own window spanned [lo, hi] (a record's min/max samples).
  void add(double v, double lo, double hi) noexcept;
  /// Adds another hour's values of the same quantity (a record that arrived after its hour was
  /// rolled up): counts and sums add, extremes widen.
  void merge(const hourly_stat& o) noexcept;
  friend bool operator==(const hourly_stat&, const hourly_stat&) = default;
};

/// One terminal's hour of raw records rolled up (store.rollup_after_days, issue 16 item 5): what
/// the history chart and operators read from old history. Counts and sums rather than means, so a
/// record arriving after its hour was rolled up merges by addition. Readings whose status is not
/// "ok" count in `records` only.
struct hourly_row {
  std::string terminal_id;
  proto::timestamp hour{};        ///< start of the UTC hour of the records' EFFECTIVE time
  std::uint32_t records{0};       ///< raw records rolled into this hour
  hourly_stat flow_rate_m3h;      ///< flow.rate_m3h of records with flow.status "ok"
  hourly_stat turbidity_ntu;      ///< turbidity.ntu with status "ok"; extremes from min_ntu/max_ntu
  hourly_stat sludge_level_m;     ///< sludge.level_m with sludge.status "ok" (when the gauge gives one)

  /// Adds one raw record (decoded) to this hour. The caller picks the hour.
  void add(const proto::telemetry_record& r) noexcept;
  /// Adds another row of the same terminal and hour.
  void merge(const hourly_row& o) noexcept;
  friend bool operator==(const hourly_row&, const hourly_row&) = default;
};

/// What store::roll_up_records_before did.
struct rollup_result {
  std::size_t records{0};  ///< raw records rolled up (and deleted)
  std::size_t days{0};     ///< UTC days (transactions) that held records to roll up
};

/// Start of the UTC hour holding `t` (floor; negative times round down too).
proto::timestamp hour_start(proto::timestamp t) noexcept;

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

/// What became of a command sent to a terminal: pending until its result arrives on
/// `.../cmd/result` (ok or error) or until commands.timeout_s passes without one (timed_out).
enum class command_state { pending = 0, ok = 1, error = 2, timed_out = 3 };
inline constexpr std::array<command_state, 4> all_command_states{command_state::pending, command_state::ok,
                                                                 command_state::error, command_state::timed_out};
/// "pending", "ok", "error", "timed_out". Never throws.
constexpr const char* to_string(command_state s) noexcept {
  switch (s) {
    case command_state::pending: return "pending";
    case command_state::ok: return "ok";
    case command_state::error: return "error";
    case command_state::timed_out: return "timed_out";
  }
  return "pending";
}

/// A command the gateway sent to a terminal (stored in full on every change).
struct command_row {
  std::uint64_t id{0};           ///< n of its wire id "gw-<n>" (command_wire_id), from 1, never reused
  std::string terminal_id;
  std::string name;              ///< proto::to_string(command_name)
  std::string args_json{"{}"};   ///< the command's args as a JSON object, e.g. {"interval_s":300}
  std::string by;                ///< the operator who sent it
  command_state state{command_state::pending};
  proto::timestamp sent_at{};
  std::optional<proto::timestamp> answered_at;  ///< arrival of its result (ok / error)
  std::optional<std::string> result_json;       ///< the result object (ok), JSON text
  std::optional<std::string> error;             ///< the agent's error, or why it timed out
};

/// One notification in the durable queue (gateway/README.md "Notifications"): one row per
/// (subject, target), its request body rendered when it was enqueued (terminal names, times and
/// language as they were then), signed (DingTalk) only when sent.
///
/// Subject: today an alert transition (subject_kind "alert", subject_id the episode id, event
/// "raise" | "ack" | "clear"). Issue 13's incidents will enqueue subject_kind "incident" with the
/// incident id and their own events; delivery, retry and bounds never look at the subject, so
/// nothing else changes when they arrive.
struct notification_row {
  std::int64_t id{0};            ///< assigned by the store (never reused, increasing); 0 in a write_batch
  std::string target;            ///< notify.target name
  std::string subject_kind{"alert"};
  std::uint64_t subject_id{0};
  std::string event;             ///< "raise" | "ack" | "clear"
  std::string body;              ///< the request body (JSON), ready to POST
  std::int64_t created_ms{0};    ///< when it was enqueued (gateway clock, ms since the epoch)
  std::uint32_t attempts{0};     ///< failed attempts so far
  std::int64_t next_attempt_ms{0};  ///< not before this (steady retry schedule, wall clock ms)
  std::string last_error;        ///< why the last attempt failed (never holds a secret)
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
  energy_cursor energy;              ///< the kWh meter's cursor (energy.hpp)
  std::array<rule_state, proto::all_alert_types.size()> rules{};
  std::int64_t rule_clock_ms{0};     ///< event time of the last record fed to the rules
  std::int64_t last_alive_ms{0};     ///< arrival of the last live record
  std::int64_t grace_until_ms{0};    ///< clean agent shutdown grace
  bool will{false};                  ///< last will received after last_alive

  // Clock tracking (not persisted: rebuilt from the next records after a restart).
  std::int64_t prev_offset_ms{0};    ///< arrival - stamp of the previous accepted record
  std::int64_t prev_arrival_ms{0};   ///< its arrival, 0 = none
  std::uint32_t steady_run{0};       ///< consecutive records arriving at the report rate with a stable offset
  std::uint64_t prev_seq{0};         ///< seq of the previous accepted record (this epoch), 0 = none
  bool prev_alive{false};            ///< the previous accepted record proved the terminal alive (engine.hpp)
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
  std::vector<command_row> commands;            ///< upserts (full state)
  /// Notifications to enqueue (inserted; ids assigned by the store), in the same transaction as
  /// the transitions they tell of.
  std::vector<notification_row> notifications;
  /// Pump stations' hourly run log (pump_runtime.hpp): upserts of whole hours (absolute values).
  std::vector<pump_run_hour> pump_run_hours;
  /// (site id, hour_ms): that station's stored hours before hour_ms are deleted (pump_run_log::prune).
  std::vector<std::pair<std::string, std::int64_t>> pump_run_cuts;
  /// Sites' hourly flow (engine/flow_normal.hpp): INCREMENTS added to the stored hour.
  std::vector<flow_hour> flow_hours;
  /// (site id, hour_ms): that site's stored flow hours before hour_ms are deleted.
  std::vector<std::pair<std::string, std::int64_t>> flow_hour_cuts;
  /// Learned normals: each replaces the site's stored one.
  std::vector<site_flow_normal> flow_normals;

  [[nodiscard]] bool empty() const noexcept {
    return records.empty() && daily.empty() && terminals.empty() && retired_sets.empty() && spilled.empty() &&
           alerts.empty() &&
           transitions.empty() && dead_letters.empty() && images.empty() && commands.empty() &&
           notifications.empty() && pump_run_hours.empty() && pump_run_cuts.empty() && flow_hours.empty() &&
           flow_hour_cuts.empty() && flow_normals.empty();
  }
  void clear() noexcept { *this = write_batch{}; }
};

/// Counts for the county summary.
struct fault_stats {
  std::uint64_t raised{0};          ///< episodes raised since `from`
  std::uint64_t resolved{0};        ///< episodes cleared since `from`
  double mean_time_to_resolve_s{0}; ///< over the resolved ones, 0 when none
};

/// Which alert episodes store::find_alerts lists (every filter is optional; all must hold).
struct alert_query {
  /// open = raised or acknowledged (not cleared); all = every state.
  enum class state_filter { open, raised, acknowledged, cleared, all };
  state_filter state{state_filter::open};
  std::optional<proto::alert_type> type;
  std::optional<std::string> terminal_id;
  /// When set, only episodes of these terminals (e.g. the registered terminals of one town).
  std::optional<std::vector<std::string>> terminal_ids;
  /// Paging cursor: only episodes with an id below it (the last id of the previous page).
  std::optional<std::uint64_t> before_id;
  std::size_t limit{100};
};

/// County-wide (or a set of terminals') totals of one operating day (store::daily_totals).
struct daily_total_row {
  std::int32_t day{0};
  double volume_m3{0};            ///< measured totalizer volume
  double volume_estimated_m3{0};  ///< rate-integrated fallback volume
  double turbidity_ok_s{0};       ///< seconds with good turbidity readings
  double compliant_s{0};          ///< of which compliant
  std::int64_t records{0};
  std::int64_t missing_records{0};
  std::int64_t terminals_reporting{0};  ///< terminals with at least one record that day
  /// Energy of the terminals with a meter record that day (measured + estimated), kWh, and the
  /// volume (measured + estimated) of those terminals only, m3: the county's kWh/m3 divides these,
  /// so terminals without a meter do not dilute it.
  double energy_kwh{0};
  double energy_estimated_kwh{0};
  double metered_volume_m3{0};
  std::int64_t terminals_metered{0};  ///< terminals with at least one energy record that day
};

/// Alert episodes of one (terminal, type) counted over a time range [from, to) (monthly report,
/// gateway/README.md "Monthly report").
struct fault_counts {
  std::string terminal_id;
  proto::alert_type type{proto::alert_type::offline};
  std::uint64_t found{0};        ///< episodes raised in the range
  std::uint64_t resolved{0};     ///< episodes cleared in the range (whenever they were raised)
  /// Sum over the resolved ones of (cleared - raised), ms; divide by `resolved` for the mean.
  std::int64_t resolve_ms_sum{0};
  std::uint64_t open_at_end{0};  ///< episodes raised before `to` and not cleared before `to`
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
  /// From now on, every write transaction of this connection checks, as its last statement before
  /// COMMIT, that table gateway_leader still holds `fence.term` for `fence.lease_key`; when it
  /// holds another term (a standby took the lease since), or no row, the transaction is rolled
  /// back and store_fenced is thrown. Closes the gap in which a leader frozen (SIGSTOP, a paused
  /// VM) past its lease wakes and commits before its fence thread stops it. The default throws
  /// store_error: only a store shared by two gateways (PostgreSQL) has a leader table.
  virtual void set_commit_fence(const commit_fence& fence) {
    (void)fence;
    throw store_error("this store backend has no leader table to fence commits with (standby needs postgresql)");
  }
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
  /// The alert reads below (alerts, find_alerts, alert, transitions) and the fault counts leave
  /// out rows of an alert type or state this build does not know (written by a newer gateway on
  /// the same database): never read as another type (gateway/src/detail/alert_rows.hpp).
  /// max_alert_id counts them, so no episode takes their id.
  /// Alert episodes, newest first. `open_only`: not cleared. `terminal_id` filters when set.
  virtual std::vector<proto::alert_message> alerts(bool open_only, const std::optional<std::string>& terminal_id,
                                                   std::size_t limit) = 0;
  /// Alert episodes matching `q`, newest (highest id) first, at most q.limit. Paging with
  /// q.before_id = the last id of a page is stable: episodes raised meanwhile have higher ids and
  /// never shift later pages.
  virtual std::vector<proto::alert_message> find_alerts(const alert_query& q) = 0;
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
  /// Daily rows of `terminal_ids` summed per day, from_day <= day <= to_day, ascending; days
  /// without any row are absent.
  virtual std::vector<daily_total_row> daily_totals(const std::vector<std::string>& terminal_ids, std::int32_t from_day,
                                                    std::int32_t to_day) = 0;
  /// Commands, newest (highest id) first, at most `limit`; only one terminal's and only those in
  /// one state when given.
  virtual std::vector<command_row> commands(const std::optional<std::string>& terminal_id,
                                            std::optional<command_state> state, std::size_t limit) = 0;
  virtual std::optional<command_row> command(std::uint64_t id) = 0;
  /// Highest command id ever used (0 when none).
  virtual std::uint64_t max_command_id() = 0;
  /// Every stored pump-station run hour (pump_runtime.hpp), by site and hour. Default: none (a
  /// store without the table: pump_runtime_abnormal then rebuilds its history from live records).
  virtual std::vector<pump_run_hour> load_pump_run_hours() { return {}; }
  /// Site `site_id`'s stored flow hours with from_ms <= hour_ms < to_ms, by hour (learned normal,
  /// engine/flow_normal.hpp). Default: none (a store without the table: every normal is the prior).
  virtual std::vector<flow_hour> flow_hours(const std::string& site_id, std::int64_t from_ms, std::int64_t to_ms) {
    (void)site_id, (void)from_ms, (void)to_ms;
    return {};
  }
  /// Every stored learned normal (loaded at start). Default: none.
  virtual std::vector<site_flow_normal> load_flow_normals() { return {}; }
  /// Latest JPEG of a terminal and when it arrived.
  virtual std::optional<std::pair<std::string, proto::timestamp>> image(const std::string& terminal_id) = 0;
  /// When the latest JPEG of a terminal arrived (without reading the picture), if there is one.
  virtual std::optional<proto::timestamp> image_arrival(const std::string& terminal_id) = 0;
  /// Newest dead letters first.
  virtual std::vector<dead_letter_row> dead_letters(std::size_t limit) = 0;
  /// Episodes raised and cleared since `from`.
  virtual fault_stats faults_since(proto::timestamp from) = 0;
  /// Per (terminal, type) with at least one episode raised in [from, to), cleared in it, or open
  /// at `to`: the counts of fault_counts. Sorted by terminal, then type name. At most
  /// terminals x alert types rows, whatever the number of episodes.
  virtual std::vector<fault_counts> fault_counts_between(proto::timestamp from, proto::timestamp to) = 0;
  /// Deletes raw records whose effective time AND arrival are before `before` (a recent record is
  /// never deleted for an old stamp), and hourly rows whose whole hour is before it; daily rows are
  /// kept. Returns the count of raw records deleted.
  virtual std::size_t purge_records_before(proto::timestamp before) = 0;
  /// Rolls raw records whose effective time AND arrival are before `before` up into hourly rows
  /// (hourly_row: added to a row already there) and deletes them, one UTC day of effective time
  /// per transaction (a crash leaves every record either raw or in its hour, never both or
  /// neither), oldest day first, at most `max_days` days holding such records (0 = all). A stored
  /// record the decoder refuses (written by another build) is counted in its hour's `records`
  /// only. Returns the count of raw records rolled up and the days done; days == max_days means
  /// more may remain. Throws store_error (nothing of the failing day changed). Default: none
  /// rolled up (a store without hourly rows).
  virtual rollup_result roll_up_records_before(proto::timestamp before, std::size_t max_days) {
    (void)before, (void)max_days;
    return {};
  }
  /// Hourly rows of a terminal with from <= hour < to, oldest first, at most `limit`. Default: none.
  virtual std::vector<hourly_row> hourly(const std::string& terminal_id, proto::timestamp from, proto::timestamp to,
                                         std::size_t limit) {
    (void)terminal_id, (void)from, (void)to, (void)limit;
    return {};
  }
};

/// The durable notification queue (rows enter through write_batch::notifications). Used by the
/// notifier's delivery thread on its own connection; every method throws store_error on a
/// database failure. Separate from `store` so stores without a queue need not implement it.
class notification_store {
 public:
  virtual ~notification_store() = default;
  /// As store::set_commit_fence, for this connection's notification_enqueue (the notifier's own
  /// connection queues escalations and alert notifications). The default throws store_error.
  virtual void set_commit_fence(const commit_fence& fence) {
    (void)fence;
    throw store_error("this store backend has no leader table to fence commits with (standby needs postgresql)");
  }
  /// The oldest row of each target (delivery is first-in first-out per target), by id, at most `limit`.
  virtual std::vector<notification_row> notification_heads(std::size_t limit) = 0;
  /// Removes a row (delivered, or given up). No-op when it is gone.
  virtual void notification_remove(std::int64_t id) = 0;
  /// Records a failed attempt: attempts, the next attempt's time (ms since the epoch) and why.
  virtual void notification_retry(std::int64_t id, std::uint32_t attempts, std::int64_t next_attempt_ms,
                                  const std::string& error) = 0;
  /// Deletes the oldest rows beyond `max_rows`; returns how many were deleted.
  virtual std::uint64_t notification_trim(std::size_t max_rows) = 0;
  /// Rows waiting.
  virtual std::uint64_t notification_count() = 0;
  /// Inserts `rows` (ids assigned) in one transaction. With a non-empty `once_key`, the key is
  /// recorded in the same transaction and a key already recorded inserts nothing and returns false
  /// (an escalation is queued at most once, whatever restarts happen between its checks). Keys are
  /// kept for ever (a few bytes per escalation).
  virtual bool notification_enqueue(const std::vector<notification_row>& rows, const std::string& once_key) = 0;
};

}  // namespace sewage::gateway
