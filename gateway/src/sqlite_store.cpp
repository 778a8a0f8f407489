#include "sewage/gateway/sqlite_store.hpp"

#include "detail/alert_rows.hpp"
#include "store/rule_blob.hpp"

#include <sewage/proto/status.hpp>
#include <sewage/proto/telemetry.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <unordered_map>

namespace sewage::gateway {
namespace {

constexpr const char* schema_v1 = R"sql(
CREATE TABLE records(
  terminal TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL, arrival_ms INTEGER NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY(terminal, epoch, seq)) WITHOUT ROWID;
CREATE INDEX records_by_ts ON records(terminal, ts_ms);
CREATE TABLE daily(
  terminal TEXT NOT NULL, day INTEGER NOT NULL, volume_m3 REAL NOT NULL DEFAULT 0,
  turbidity_sum_ntu REAL NOT NULL DEFAULT 0, turbidity_count INTEGER NOT NULL DEFAULT 0,
  turbidity_max_ntu REAL NOT NULL DEFAULT -1, compliant_count INTEGER NOT NULL DEFAULT 0,
  records INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(terminal, day)) WITHOUT ROWID;
CREATE TABLE dedup(
  terminal TEXT NOT NULL, epoch TEXT NOT NULL, max_seq INTEGER NOT NULL, below INTEGER NOT NULL,
  PRIMARY KEY(terminal, epoch)) WITHOUT ROWID;
CREATE TABLE terminal_state(
  terminal TEXT PRIMARY KEY, epoch TEXT NOT NULL, latest TEXT, latest_arrival_ms INTEGER NOT NULL,
  status TEXT, status_arrival_ms INTEGER NOT NULL, total_m3 REAL NOT NULL, total_ts_ms INTEGER NOT NULL,
  total_valid INTEGER NOT NULL, rules TEXT NOT NULL, rule_clock_ms INTEGER NOT NULL,
  last_alive_ms INTEGER NOT NULL, grace_until_ms INTEGER NOT NULL, will INTEGER NOT NULL);
CREATE TABLE alerts(
  id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,
  raised_ms INTEGER NOT NULL, acked_ms INTEGER, acked_by TEXT, ack_note TEXT, cleared_ms INTEGER,
  value REAL, threshold REAL, message TEXT NOT NULL);
CREATE INDEX alerts_by_state ON alerts(state);
CREATE TABLE alert_transitions(
  alert_id INTEGER NOT NULL, state TEXT NOT NULL, at_ms INTEGER NOT NULL, by TEXT, note TEXT);
CREATE INDEX transitions_by_alert ON alert_transitions(alert_id);
CREATE TABLE dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, arrival_ms INTEGER NOT NULL, topic TEXT NOT NULL,
  code TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE images(terminal TEXT PRIMARY KEY, jpeg BLOB NOT NULL, arrival_ms INTEGER NOT NULL);
)sql";

// Version 2: the daily volume from rate integration (fallback) is kept apart from the measured
// totalizer volume; alert, daily and retention lookups get indexes.
constexpr const char* migration_v2 = R"sql(
ALTER TABLE daily ADD COLUMN volume_estimated_m3 REAL NOT NULL DEFAULT 0;
CREATE INDEX alerts_by_terminal ON alerts(terminal, id);
CREATE INDEX daily_by_day ON daily(day);
CREATE INDEX records_by_time ON records(ts_ms);
)sql";

// Version 3: the de-dup window of a terminal's current epoch lives in its terminal_state row
// (updated with it, one statement per terminal and batch instead of two); the dedup table keeps
// the windows of epochs a terminal has left, written when it leaves them.
constexpr const char* migration_v3 = R"sql(
ALTER TABLE terminal_state ADD COLUMN dedup_max_seq INTEGER;
ALTER TABLE terminal_state ADD COLUMN dedup_below INTEGER;
UPDATE terminal_state SET (dedup_max_seq, dedup_below) =
  (SELECT max_seq, below FROM dedup d WHERE d.terminal = terminal_state.terminal AND d.epoch = terminal_state.epoch);
)sql";

// Version 4 (volume and compliance, issue 9 sections 3 and 7): daily rows get the time covered
// by good turbidity readings and its compliant part (compliance weighted by time) and the count of
// totalizer glitches; terminal_state gets the totalizer's suspect series (aggregates.hpp
// totalizer_cursor) so a restart in the middle of a glitch continues it. Rows written before
// have no times: they are estimated as 60 s (the default report interval) per record, which
// keeps their compliance rate (the old record share) and approximates their coverage.
constexpr const char* migration_v4_volume = R"sql(
ALTER TABLE daily ADD COLUMN turbidity_ok_s REAL NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN compliant_s REAL NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN totalizer_glitches INTEGER NOT NULL DEFAULT 0;
UPDATE daily SET turbidity_ok_s = 60.0 * turbidity_count, compliant_s = 60.0 * compliant_count;
ALTER TABLE terminal_state ADD COLUMN suspect_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN suspect_first_m3 REAL NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN suspect_first_ts_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN suspect_last_m3 REAL NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN suspect_last_ts_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN suspect_estimate_m3 REAL NOT NULL DEFAULT 0;
)sql";

// Version 5 (issue 9, exact de-dup and visible loss): the 64-bit de-dup window becomes the exact
// set of accepted seqs as ranges (dedup.hpp): a blob of (lo, hi) pairs, the count accepted and the
// spill floor, in terminal_state (current epoch) and dedup (left epochs); ranges spilled past the
// memory bound go to dedup_spill. Daily rows count the records never received
// (missing_records). terminal_state keeps the effective time of the highest seq (gap days).
// The old windows are converted in C++ after this SQL (convert_windows_v5): max_seq and the
// window's bits become ranges, and every seq more than 64 below max_seq counts as accepted (the
// window refused those as too old, so nothing changes for them).
constexpr const char* migration_v5_dedup = R"sql(
ALTER TABLE terminal_state ADD COLUMN dedup_ranges BLOB;
ALTER TABLE terminal_state ADD COLUMN dedup_accepted INTEGER;
ALTER TABLE terminal_state ADD COLUMN dedup_floor INTEGER;
ALTER TABLE terminal_state ADD COLUMN max_seq_ts_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dedup ADD COLUMN ranges BLOB;
ALTER TABLE dedup ADD COLUMN accepted INTEGER;
ALTER TABLE dedup ADD COLUMN floor INTEGER;
CREATE TABLE dedup_spill(
  terminal TEXT NOT NULL, epoch TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
  PRIMARY KEY(terminal, epoch, lo)) WITHOUT ROWID;
ALTER TABLE daily ADD COLUMN missing_records INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 6: commands sent to terminals and what became of them (issue 10).
constexpr const char* migration_v6_commands = R"sql(
CREATE TABLE commands(
  id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL, by TEXT NOT NULL,
  state TEXT NOT NULL, sent_ms INTEGER NOT NULL, answered_ms INTEGER, result TEXT, error TEXT);
CREATE INDEX commands_by_terminal ON commands(terminal, id);
CREATE INDEX commands_by_state ON commands(state, id);
)sql";

// Version 7: identities (issue 11, auth/service.hpp): API users (Argon2id hashes), bearer tokens
// and sessions (SHA-256 of the secret only), and the audit log.
constexpr const char* migration_v7_identity = R"sql(
CREATE TABLE users(
  name TEXT PRIMARY KEY, role TEXT NOT NULL, towns TEXT NOT NULL, hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, changed_ms INTEGER NOT NULL);
CREATE TABLE api_tokens(
  name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, towns TEXT NOT NULL,
  created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE sessions(
  key TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, created_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);
CREATE INDEX sessions_by_user ON sessions(user);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL, actor_kind TEXT NOT NULL, address TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_by_ts ON audit(ts_ms);
)sql";

// Version 8: the durable notification queue (issue 11, gateway/README.md "Notifications"); one
// row per (subject, target). AUTOINCREMENT: ids are never reused, so id order is enqueue order.
constexpr const char* migration_v8_notifications = R"sql(
CREATE TABLE notify_queue(
  id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, subject_kind TEXT NOT NULL,
  subject_id INTEGER NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX notify_queue_by_target ON notify_queue(target, id);
)sql";

// Version 9: work orders (issue 12, om/work_orders.hpp; gateway/README.md "Work orders"): orders,
// their state changes, check-ins at sites, photos (files beside the store, metadata here), the
// escalations and auto-creations already made (exactly once), and the contractor of accounts of
// role "contractor".
constexpr const char* migration_v9_work_orders = R"sql(
CREATE TABLE work_orders(
  id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, source TEXT NOT NULL, source_ref TEXT NOT NULL DEFAULT '',
  fault_type TEXT NOT NULL, severity TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  contractor TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, created_ms INTEGER NOT NULL, dispatched_ms INTEGER,
  on_site_ms INTEGER, fixed_ms INTEGER, verified_ms INTEGER, due_ms INTEGER NOT NULL, reopen_count INTEGER NOT NULL DEFAULT 0,
  cause TEXT NOT NULL DEFAULT '', parts_used TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL,
  reporter_phone TEXT NOT NULL DEFAULT '', town TEXT NOT NULL DEFAULT '', escalated_level INTEGER NOT NULL DEFAULT 0);
CREATE INDEX work_orders_by_state ON work_orders(state, due_ms);
CREATE INDEX work_orders_by_site ON work_orders(site_id, id);
CREATE UNIQUE INDEX work_orders_auto ON work_orders(source, source_ref) WHERE source = 'alert' AND source_ref <> '';
CREATE TABLE work_order_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  from_state TEXT NOT NULL, to_state TEXT NOT NULL, lat REAL, lon REAL, note TEXT NOT NULL DEFAULT '');
CREATE INDEX work_order_events_by_order ON work_order_events(order_id, id);
CREATE TABLE checkins(
  id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, order_id INTEGER, inspection_id INTEGER,
  actor TEXT NOT NULL, contractor TEXT NOT NULL DEFAULT '', ts_ms INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
  accuracy_m REAL, distance_m REAL NOT NULL);
CREATE INDEX checkins_by_site ON checkins(site_id, ts_ms);
CREATE TABLE photos(
  id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER, inspection_id INTEGER, site_id TEXT NOT NULL, path TEXT NOT NULL,
  sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, content_type TEXT NOT NULL, taken_ms INTEGER NOT NULL,
  taken_source TEXT NOT NULL, uploaded_ms INTEGER NOT NULL, lat REAL, lon REAL, position_source TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL);
CREATE INDEX photos_by_order ON photos(order_id, id);
CREATE TABLE work_order_alert_seen(alert_id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, type TEXT NOT NULL,
  severity TEXT NOT NULL, raised_ms INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);
ALTER TABLE users ADD COLUMN contractor TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN contractor TEXT NOT NULL DEFAULT '';
)sql";

// Version 10: inspections (issue 12 item 2, om/inspections.hpp): one row per inspection (started by
// a check-in, completed with its checklist answers), one row per answered checklist item. At most
// one started inspection per site, a check-in starts at most one inspection. inspection_plan holds
// when the plan began (this migration, wall clock): the first due date of a site registered before.
constexpr const char* migration_v10_inspections = R"sql(
CREATE TABLE inspections(
  id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, kind TEXT NOT NULL, town TEXT NOT NULL,
  contractor TEXT NOT NULL, state TEXT NOT NULL CHECK(state IN ('started','completed')), checkin_id INTEGER,
  due_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, completed_ms INTEGER, started_by TEXT NOT NULL,
  completed_by TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '');
CREATE INDEX inspections_by_site ON inspections(site_id, state, completed_ms);
CREATE UNIQUE INDEX inspections_one_started ON inspections(site_id) WHERE state = 'started';
CREATE UNIQUE INDEX inspections_by_checkin ON inspections(checkin_id) WHERE checkin_id IS NOT NULL;
CREATE TABLE inspection_items(
  inspection_id INTEGER NOT NULL REFERENCES inspections(id), position INTEGER NOT NULL, item TEXT NOT NULL,
  label TEXT NOT NULL, result TEXT NOT NULL CHECK(result IN ('ok','not_ok','na')), note TEXT NOT NULL DEFAULT '',
  work_order_id INTEGER, PRIMARY KEY(inspection_id, item));
CREATE TABLE inspection_plan(started_ms INTEGER NOT NULL);
INSERT INTO inspection_plan(started_ms) VALUES(CAST(strftime('%s', 'now') AS INTEGER) * 1000);
)sql";

// Version 11 (issue 12, lab room; chained from 8 in this branch, versions 9 and 10 belong to the
// work-order and inspection rooms): lab results judged against the site's discharge grade
// (om/lab.hpp), and the site archive: its own fields, equipment and clean-outs (om/archive.hpp).
constexpr const char* migration_v11_archive_lab = R"sql(
CREATE TABLE lab_results(
  id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, sampled_ms INTEGER NOT NULL, sampled_by TEXT NOT NULL, lab TEXT NOT NULL,
  parameter TEXT NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, limit_low REAL, limit_high REAL, grade TEXT NOT NULL,
  compliant INTEGER, provisional INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL, imported_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX lab_results_by_site ON lab_results(site_id, sampled_ms);
CREATE TABLE site_archive(
  site_id TEXT PRIMARY KEY, process TEXT NOT NULL DEFAULT '', households INTEGER, villages TEXT NOT NULL DEFAULT '[]',
  notes TEXT NOT NULL DEFAULT '', changed_ms INTEGER NOT NULL, changed_by TEXT NOT NULL);
CREATE TABLE site_equipment(
  id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, kind TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL,
  installed_date TEXT NOT NULL, added_ms INTEGER NOT NULL, added_by TEXT NOT NULL);
CREATE INDEX site_equipment_by_site ON site_equipment(site_id);
CREATE TABLE site_cleanouts(
  id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, cleaned_date TEXT NOT NULL, volume_m3 REAL NOT NULL,
  sludge_destination TEXT NOT NULL, done_by TEXT NOT NULL, note TEXT NOT NULL, created_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL);
CREATE INDEX site_cleanouts_by_site ON site_cleanouts(site_id, cleaned_date);
)sql";

// Version 12 (issue 12 item 6, alarm discipline; versions 9..11 belong to the other parts of
// issue 12 and are chained in at the merge): once-keys of escalations (notification_enqueue),
// maintenance windows, the per-episode discipline state (suppressed / shelved / escalated /
// grouped) and the groups of repeated episodes. gateway/README.md "Alarm discipline".
constexpr const char* migration_v12_alarm_discipline = R"sql(
CREATE TABLE notify_once(key TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
CREATE TABLE maintenance_windows(
  id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, recurrence TEXT NOT NULL,
  start_ms INTEGER NOT NULL, end_ms INTEGER, local_start TEXT, weekdays INTEGER NOT NULL DEFAULT 0,
  duration_s INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL, created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL, ended_ms INTEGER, ended_by TEXT);
CREATE INDEX maintenance_windows_by_site ON maintenance_windows(site_id);
CREATE TABLE alert_discipline(
  alert_id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, type TEXT NOT NULL,
  suppressed_window INTEGER, suppressed_until_ms INTEGER, released_ms INTEGER,
  shelved_until_ms INTEGER, shelved_by TEXT, shelve_note TEXT, unshelved_ms INTEGER,
  escalated_level TEXT, escalated_ms INTEGER, group_id INTEGER, repeat_of INTEGER);
CREATE TABLE alert_groups(
  id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, type TEXT NOT NULL, head_alert INTEGER NOT NULL,
  last_alert INTEGER NOT NULL, repeats INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  last_clear_ms INTEGER);
CREATE INDEX alert_groups_by_site ON alert_groups(site_id, type, last_ms);
)sql";

// Version 13 (issue 12 item 5, energy): daily energy from the kWh
// meter (gateway/README.md "Energy") and the meter cursor of each terminal (energy.hpp).
constexpr const char* migration_v13_energy = R"sql(
ALTER TABLE daily ADD COLUMN energy_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN energy_estimated_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN energy_records INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN energy_glitches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_ts_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_valid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_suspect INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_suspect_kwh REAL NOT NULL DEFAULT 0;
ALTER TABLE terminal_state ADD COLUMN energy_suspect_ts_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 14 (issue 13 item 3, incidents): incidents correlated on the pipe network (the
// incidents room, incidents/correlator.hpp, gateway/README.md "Incidents"). `doc` is the
// incident as JSON (the API's shape plus what the correlator needs to resume); the columns beside
// it are what lists filter and sort on. incident_alerts maps each member alert to its incident.
constexpr const char* migration_v14_incidents = R"sql(
CREATE TABLE incidents(
  id INTEGER PRIMARY KEY, state TEXT NOT NULL, kind TEXT NOT NULL, opened_ms INTEGER NOT NULL,
  resolved_ms INTEGER, doc TEXT NOT NULL);
CREATE INDEX incidents_by_state ON incidents(state, id);
CREATE TABLE incident_alerts(
  alert_id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, role TEXT NOT NULL);
CREATE INDEX incident_alerts_by_incident ON incident_alerts(incident_id);
)sql";

// Version 15 (issue 13 item 2, pump stations): each station's pump run time per UTC hour
// (pump_runtime.hpp), about 9 days of it, for pump_runtime_abnormal's normal.
constexpr const char* migration_v15_pump_run_hours = R"sql(
CREATE TABLE pump_run_hours (site_id TEXT NOT NULL, hour_ms INTEGER NOT NULL, run_s REAL NOT NULL,
  covered_s REAL NOT NULL, PRIMARY KEY (site_id, hour_ms)) WITHOUT ROWID;
)sql";

// Version 16 (issue 14 item 1, learned normal per site, engine/flow_normal.hpp): each site's flow
// per UTC hour (volume from the interval mean rates and the time covered), about 29 days of it,
// and its learned normal: 2 day types x 24 hours (median, low quantile, days, still the prior).
constexpr const char* migration_v16_flow_normals = R"sql(
CREATE TABLE flow_hours (site_id TEXT NOT NULL, hour_ms INTEGER NOT NULL, volume_m3 REAL NOT NULL,
  covered_s REAL NOT NULL, PRIMARY KEY (site_id, hour_ms)) WITHOUT ROWID;
CREATE TABLE flow_normals (site_id TEXT NOT NULL, day_type INTEGER NOT NULL, hour INTEGER NOT NULL,
  median_m3h REAL NOT NULL, low_m3h REAL NOT NULL, days INTEGER NOT NULL, prior INTEGER NOT NULL,
  computed_day INTEGER NOT NULL, PRIMARY KEY (site_id, day_type, hour)) WITHOUT ROWID;
)sql";

// Version 17 (issue 14 item 3, clean-out forecast, forecast/cleanout.hpp): each day's sludge
// level x time and the time covered by good sludge readings (its time-weighted mean level).
constexpr const char* migration_v17_daily_sludge = R"sql(
ALTER TABLE daily ADD COLUMN sludge_level_s REAL NOT NULL DEFAULT 0;
ALTER TABLE daily ADD COLUMN sludge_ok_s REAL NOT NULL DEFAULT 0;
)sql";

// Version 18 (issue 16 item 5, compact history): raw records older than store.rollup_after_days
// become one row per terminal and UTC hour (store.hpp hourly_row): counts, sums and extremes of
// the good flow, turbidity and sludge readings. NULL extremes where a quantity had no good reading.
constexpr const char* migration_v18_hourly = R"sql(
CREATE TABLE hourly(
  terminal TEXT NOT NULL, hour_ms INTEGER NOT NULL, records INTEGER NOT NULL,
  flow_n INTEGER NOT NULL, flow_sum REAL NOT NULL, flow_min REAL, flow_max REAL,
  turbidity_n INTEGER NOT NULL, turbidity_sum REAL NOT NULL, turbidity_min REAL, turbidity_max REAL,
  sludge_n INTEGER NOT NULL, sludge_sum REAL NOT NULL, sludge_min REAL, sludge_max REAL,
  PRIMARY KEY (terminal, hour_ms)) WITHOUT ROWID;
CREATE INDEX hourly_by_hour ON hourly(hour_ms);
)sql";

// Version 19 (issue 16 items 4 and 6): a site's flow normal is one row, its 48 cells in one blob
// (store/rule_blob.hpp flow_normal_to_blob), written whole: 48 rows per site made a site's first
// record and its first record of each operating day cost 48 upserts, ~3/4 of the store's time in
// the first round at 100,000 terminals. convert_flow_normals_v19 carries every site with all 48
// rows over; a site without them is left to be learned again at its next operating day.
constexpr const char* migration_v19_flow_normal_sites = R"sql(
CREATE TABLE flow_normal_sites (site_id TEXT PRIMARY KEY, computed_day INTEGER NOT NULL, cells BLOB NOT NULL)
  WITHOUT ROWID;
)sql";

// Version 20 (issue 14 item 2, incidents/correlator.hpp): the weather-driven raises the incident
// correlator holds before they are notified alone (weather_settings::hold), so that a restart
// neither loses nor repeats them: the raise and its acks / clears meanwhile (doc: {"raise": alert,
// "later": [alert, ...]} in the wire contract's alert encoding) and when the hold runs out.
constexpr const char* migration_v20_weather_held = R"sql(
CREATE TABLE weather_held (alert_id INTEGER PRIMARY KEY, until_ms INTEGER NOT NULL, doc TEXT NOT NULL);
)sql";

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
proto::timestamp from_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }

}  // namespace

class sqlite_store::impl {
 public:
  // RAII prepared statement, reset after each use.
  class stmt {
   public:
    stmt(sqlite3* db, const char* sql) : db_(db) {
      if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
        throw store_error(std::string("prepare failed: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
    ~stmt() { sqlite3_finalize(s_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    stmt& reset() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
      return *this;
    }
    stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
    stmt& bind(int i, std::uint64_t v) { return bind(i, std::bit_cast<std::int64_t>(v)); }
    stmt& bind(int i, std::uint32_t v) { return bind(i, static_cast<std::int64_t>(v)); }
    stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
    stmt& bind(int i, const std::string& v) {
      return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    stmt& bind_blob(int i, std::string_view v) {
      return check(sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    template <class T>
    stmt& bind(int i, const std::optional<T>& v) {
      if (!v) return check(sqlite3_bind_null(s_, i));
      return bind(i, *v);
    }
    /// true = a row is available
    bool step() {
      const int rc = sqlite3_step(s_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      if (rc == SQLITE_INTERRUPT) throw store_timeout("statement interrupted: the request used up its CPU time limit");
      throw store_error(std::string("step failed: ") + sqlite3_errmsg(db_));
    }
    void run() {
      step();
      reset();
    }
    bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    double dbl(int c) const { return sqlite3_column_double(s_, c); }
    std::string text(int c) const {
      const auto* p = sqlite3_column_blob(s_, c);
      const int n = sqlite3_column_bytes(s_, c);
      return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
    }

   private:
    stmt& check(int rc) {
      if (rc != SQLITE_OK) throw store_error(std::string("bind failed: ") + sqlite3_errmsg(db_));
      return *this;
    }
    sqlite3* db_;
    sqlite3_stmt* s_{nullptr};
  };

  impl(const std::filesystem::path& path, std::size_t dl_max, access mode)
      : path_(path), dead_letter_max_(dl_max), read_only_(mode == access::read_only) {
    const int flags = read_only_ ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw store_error(path.string() + ": cannot open database" + (read_only_ ? " read-only: " : ": ") + msg);
    }
    try {
      if (read_only_) {
        open_reader();
        return;
      }
      sqlite3_busy_timeout(db_, 5000);
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      // A batch of 5000 records from distinct terminals dirties ~6 MB of pages (records, their
      // indexes, terminal_state, dedup, daily); with SQLite's default 2 MB cache the batch spills
      // pages to the WAL mid-transaction and re-reads them. 16 MiB keeps a batch in memory
      // (measured with tools/bench/gateway ingest_bench). It is a cap, not an allocation.
      exec("PRAGMA cache_size=-16384");
      // Checkpoint every 8192 WAL pages (32 MiB) instead of SQLite's 1000: pages rewritten by
      // consecutive batches (terminal_state, daily, index interiors) are copied back once, not
      // once per batch; the checkpoint ran on the ingest thread and took ~10 % of its time.
      exec("PRAGMA wal_autocheckpoint=8192");
      exec("PRAGMA foreign_keys=ON");
      migrate();
    } catch (const store_error& e) {
      sqlite3_close(db_);
      throw store_error(path.string() + ": " + e.what());
    }
  }

  // A reader connection: never writes, never migrates; the schema must be this build's.
  void open_reader() {
    // A reader waits for a lock only in WAL recovery or a restart of the WAL by the writer:
    // moments, never a whole batch.
    sqlite3_busy_timeout(db_, 1000);
    exec("PRAGMA query_only=ON");
    exec("PRAGMA cache_size=-8192");  // 8 MiB cap per reader: a 7-day history touches ~3 MB of pages
    {
      stmt s(db_, "PRAGMA journal_mode");
      if (!s.step() || s.text(0) != "wal")
        throw store_error("not in WAL mode (journal_mode " + s.text(0) + "): readers would block the writer");
    }
    const int v = user_version();
    if (v != sqlite_schema_version)
      throw store_error("database schema version " + std::to_string(v) + ", this gateway reads version " +
                        std::to_string(sqlite_schema_version) + " (a read-only connection never migrates)");
  }

  // CPU time used by the calling thread (CLOCK_THREAD_CPUTIME_ID), ns.
  static std::int64_t thread_cpu_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  // sqlite3_progress_handler callback, on the thread running the statement: non-zero interrupts it.
  static int past_cpu_limit(void* self) {
    const auto* d = static_cast<const impl*>(self);
    return d->cpu_limit_ns_ > 0 && thread_cpu_ns() - d->cpu_start_ns_ >= d->cpu_limit_ns_ ? 1 : 0;
  }

  void refuse_write(const char* what) const {
    if (read_only_) throw store_error(path_.string() + ": read-only connection: " + what + " refused");
  }

  ~impl() {
    cache_.clear();
    sqlite3_close(db_);
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      throw store_error(msg);
    }
  }

  // One row of the durable notification queue (inside the caller's transaction).
  void insert_notification(const notification_row& n) {
    q("INSERT INTO notify_queue(target, subject_kind, subject_id, event, body, created_ms, attempts,"
      " next_attempt_ms, last_error) VALUES(?,?,?,?,?,?,?,?,?)")
        .bind(1, n.target)
        .bind(2, n.subject_kind)
        .bind(3, n.subject_id)
        .bind(4, n.event)
        .bind(5, n.body)
        .bind(6, n.created_ms)
        .bind(7, n.attempts)
        .bind(8, n.next_attempt_ms)
        .bind(9, n.last_error)
        .run();
  }

  int user_version() {
    stmt s(db_, "PRAGMA user_version");
    s.step();
    return static_cast<int>(s.i64(0));
  }

  void migrate() {
    int v = user_version();
    if (v > sqlite_schema_version)
      throw store_error("database schema version " + std::to_string(v) + " is newer than this gateway's (" +
                        std::to_string(sqlite_schema_version) + ")");
    while (v < sqlite_schema_version) {
      exec("BEGIN IMMEDIATE");
      try {
        if (v == 0) exec(schema_v1);
        if (v == 1) exec(migration_v2);
        if (v == 2) exec(migration_v3);
        if (v == 3) exec(migration_v4_volume);
        if (v == 4) {
          exec(migration_v5_dedup);
          convert_windows_v5();
        }
        if (v == 5) exec(migration_v6_commands);
        if (v == 6) exec(migration_v7_identity);
        if (v == 7) exec(migration_v8_notifications);
        if (v == 8) exec(migration_v9_work_orders);
        if (v == 9) exec(migration_v10_inspections);
        if (v == 10) exec(migration_v11_archive_lab);
        if (v == 11) exec(migration_v12_alarm_discipline);
        if (v == 12) exec(migration_v13_energy);
        if (v == 13) exec(migration_v14_incidents);
        if (v == 14) exec(migration_v15_pump_run_hours);
        if (v == 15) exec(migration_v16_flow_normals);
        if (v == 16) exec(migration_v17_daily_sludge);
        if (v == 17) exec(migration_v18_hourly);
        if (v == 18) {
          exec(migration_v19_flow_normal_sites);
          convert_flow_normals_v19();
        }
        if (v == 19) exec(migration_v20_weather_held);
        ++v;
        exec(("PRAGMA user_version=" + std::to_string(v)).c_str());
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
  }

  // Migration step 4, data part: each 64-bit window becomes its seq set (seq_set::from_window).
  void convert_windows_v5() {
    struct row { std::string terminal, epoch; std::int64_t max_seq, below; };
    const auto convert = [&](const char* select, const char* update) {
      std::vector<row> rows;
      {
        stmt s(db_, select);
        while (s.step()) rows.push_back({s.text(0), s.text(1), s.i64(2), s.i64(3)});
      }
      stmt u(db_, update);
      for (const auto& r : rows) {
        const auto set =
            seq_set::from_window(std::bit_cast<std::uint64_t>(r.max_seq), std::bit_cast<std::uint64_t>(r.below));
        u.bind_blob(1, seq_set::to_blob(set.ranges()))
            .bind(2, set.accepted())
            .bind(3, set.spill_floor())
            .bind(4, r.terminal)
            .bind(5, r.epoch)
            .run();
      }
    };
    convert("SELECT terminal, epoch, dedup_max_seq, dedup_below FROM terminal_state WHERE dedup_max_seq IS NOT NULL",
            "UPDATE terminal_state SET dedup_ranges = ?1, dedup_accepted = ?2, dedup_floor = ?3"
            " WHERE terminal = ?4 AND epoch = ?5");
    convert("SELECT terminal, epoch, max_seq, below FROM dedup",
            "UPDATE dedup SET ranges = ?1, accepted = ?2, floor = ?3 WHERE terminal = ?4 AND epoch = ?5");
  }

  // Migration step 18, data part: each site's 48 rows of flow_normals become one row of
  // flow_normal_sites; a site with fewer (or out-of-range) rows is not carried over.
  void convert_flow_normals_v19() {
    stmt u(db_, "INSERT INTO flow_normal_sites(site_id, computed_day, cells) VALUES(?,?,?)");
    std::string site;
    flow_normal n;
    std::array<bool, flow_normal{}.cells.size()> seen{};
    const auto finish = [&] {
      if (site.empty()) return;
      if (std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }))
        u.bind(1, site).bind(2, std::int64_t{n.computed_day}).bind_blob(3, detail::flow_normal_to_blob(n)).run();
      else
        spdlog::warn("schema 19: site {} had not all 48 flow normal rows; it learns its normal again", site);
    };
    {
      stmt s(db_, "SELECT site_id, day_type, hour, median_m3h, low_m3h, days, prior, computed_day FROM flow_normals"
                  " ORDER BY site_id");
      while (s.step()) {
        auto id = s.text(0);
        if (id != site) {
          finish();
          site = std::move(id);
          n = flow_normal{};
          seen.fill(false);
        }
        const auto t = s.i64(1), h = s.i64(2);
        if (t < 0 || t > 1 || h < 0 || h > 23) continue;
        const auto i = static_cast<std::size_t>(t * 24 + h);
        n.cells[i] = {s.dbl(3), s.dbl(4), static_cast<std::uint32_t>(s.i64(5)), s.i64(6) != 0};
        n.computed_day = std::max(n.computed_day, static_cast<std::int32_t>(s.i64(7)));
        seen[i] = true;
      }
      finish();
    }
    exec("DROP TABLE flow_normals");
  }

  stmt& q(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<stmt>(db_, sql)).first;
    return it->second->reset();
  }

  sqlite3* db_{nullptr};
  std::filesystem::path path_;
  std::size_t dead_letter_max_;
  bool read_only_{false};
  std::int64_t cpu_start_ns_{0};  // thread CPU time at set_cpu_limit
  std::int64_t cpu_limit_ns_{0};  // 0 = no limit
  std::unordered_map<const char*, std::unique_ptr<stmt>> cache_;
};

const char* sqlite_schema_v1_sql() noexcept { return schema_v1; }

sqlite_store::sqlite_store(const std::filesystem::path& path, std::size_t dead_letter_max_rows, access mode)
    : impl_(std::make_unique<impl>(path, dead_letter_max_rows, mode)) {}

void sqlite_store::set_commit_fence(const commit_fence& fence) {
  (void)fence;
  throw store_error("sqlite " + impl_->path_.string() +
                    ": a SQLite store has no leader table to fence commits with (standby needs postgresql)");
}

void sqlite_store::set_cpu_limit(std::optional<std::chrono::nanoseconds> limit) {
  impl_->cpu_start_ns_ = impl::thread_cpu_ns();
  impl_->cpu_limit_ns_ = limit ? std::max<std::int64_t>(1, limit->count()) : 0;
  if (limit)
    sqlite3_progress_handler(impl_->db_, 1000, &impl::past_cpu_limit, impl_.get());
  else
    sqlite3_progress_handler(impl_->db_, 0, nullptr, nullptr);
}
sqlite_store::~sqlite_store() = default;

int sqlite_store::schema_version() { return impl_->user_version(); }

using detail::rules_from_blob;
using detail::rules_to_blob;

void sqlite_store::apply(const write_batch& b) {
  auto& d = *impl_;
  d.refuse_write("apply");
  d.exec("BEGIN IMMEDIATE");
  try {
    for (const auto& r : b.records) {
      d.q("INSERT OR IGNORE INTO records(terminal, epoch, seq, ts_ms, arrival_ms, record) VALUES(?,?,?,?,?,?)")
          .bind(1, r.record.terminal_id)
          .bind(2, r.record.epoch)
          .bind(3, r.record.seq)
          .bind(4, ms(r.effective_ts()))
          .bind(5, ms(r.arrival))
          .bind(6, r.payload.empty() ? proto::encode(r.record) : r.payload)
          .run();
    }
    for (const auto& r : b.daily) {
      const auto& t = r.totals;
      d.q("INSERT INTO daily(terminal, day, volume_m3, volume_estimated_m3, turbidity_sum_ntu, turbidity_count,"
          " turbidity_max_ntu, compliant_count, records, turbidity_ok_s, compliant_s, totalizer_glitches, missing_records,"
          " energy_kwh, energy_estimated_kwh, energy_records, energy_glitches, sludge_level_s, sludge_ok_s)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,max(0, ?13),?14,?15,?16,?17,?18,?19)"
          " ON CONFLICT(terminal, day) DO UPDATE SET volume_m3 = volume_m3 + excluded.volume_m3,"
          " missing_records = max(0, missing_records + ?13),"  // ?13: an increment, may be negative
          " volume_estimated_m3 = volume_estimated_m3 + excluded.volume_estimated_m3,"
          " turbidity_sum_ntu = turbidity_sum_ntu + excluded.turbidity_sum_ntu,"
          " turbidity_count = turbidity_count + excluded.turbidity_count,"
          " turbidity_max_ntu = max(turbidity_max_ntu, excluded.turbidity_max_ntu),"
          " compliant_count = compliant_count + excluded.compliant_count,"
          " records = records + excluded.records,"
          " turbidity_ok_s = turbidity_ok_s + excluded.turbidity_ok_s,"
          " compliant_s = compliant_s + excluded.compliant_s,"
          " totalizer_glitches = totalizer_glitches + excluded.totalizer_glitches,"
          " energy_kwh = energy_kwh + excluded.energy_kwh,"
          " energy_estimated_kwh = energy_estimated_kwh + excluded.energy_estimated_kwh,"
          " energy_records = energy_records + excluded.energy_records,"
          " energy_glitches = energy_glitches + excluded.energy_glitches,"
          " sludge_level_s = sludge_level_s + excluded.sludge_level_s,"
          " sludge_ok_s = sludge_ok_s + excluded.sludge_ok_s")
          .bind(1, r.terminal_id)
          .bind(2, static_cast<std::int64_t>(t.day))
          .bind(3, t.volume_m3)
          .bind(4, t.volume_estimated_m3)
          .bind(5, t.turbidity_sum_ntu)
          .bind(6, t.turbidity_count)
          .bind(7, t.turbidity_max_ntu)
          .bind(8, t.compliant_count)
          .bind(9, t.records)
          .bind(10, t.turbidity_ok_s)
          .bind(11, t.compliant_s)
          .bind(12, t.totalizer_glitches)
          .bind(13, r.missing_records)
          .bind(14, t.energy_kwh)
          .bind(15, t.energy_estimated_kwh)
          .bind(16, t.energy_records)
          .bind(17, t.energy_glitches)
          .bind(18, t.sludge_level_s)
          .bind(19, t.sludge_ok_s)
          .run();
    }
    for (const auto& t : b.terminals) {
      d.q("INSERT INTO terminal_state(terminal, epoch, latest, latest_arrival_ms, status, status_arrival_ms,"
          " total_m3, total_ts_ms, total_valid, rules, rule_clock_ms, last_alive_ms, grace_until_ms, will,"
          " dedup_max_seq, dedup_below, dedup_ranges, dedup_accepted, dedup_floor, max_seq_ts_ms, suspect_count,"
          " suspect_first_m3, suspect_first_ts_ms, suspect_last_m3, suspect_last_ts_ms, suspect_estimate_m3,"
          " energy_kwh, energy_ts_ms, energy_valid, energy_suspect, energy_suspect_kwh, energy_suspect_ts_ms)"
          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(terminal) DO UPDATE SET epoch=excluded.epoch,"
          " latest=excluded.latest, latest_arrival_ms=excluded.latest_arrival_ms, status=excluded.status,"
          " status_arrival_ms=excluded.status_arrival_ms, total_m3=excluded.total_m3,"
          " total_ts_ms=excluded.total_ts_ms, total_valid=excluded.total_valid, rules=excluded.rules,"
          " rule_clock_ms=excluded.rule_clock_ms, last_alive_ms=excluded.last_alive_ms,"
          " grace_until_ms=excluded.grace_until_ms, will=excluded.will, dedup_max_seq=excluded.dedup_max_seq,"
          " dedup_below=0, dedup_ranges=excluded.dedup_ranges, dedup_accepted=excluded.dedup_accepted,"
          " dedup_floor=excluded.dedup_floor, max_seq_ts_ms=excluded.max_seq_ts_ms, suspect_count=excluded.suspect_count,"
          " suspect_first_m3=excluded.suspect_first_m3, suspect_first_ts_ms=excluded.suspect_first_ts_ms,"
          " suspect_last_m3=excluded.suspect_last_m3, suspect_last_ts_ms=excluded.suspect_last_ts_ms,"
          " suspect_estimate_m3=excluded.suspect_estimate_m3, energy_kwh=excluded.energy_kwh,"
          " energy_ts_ms=excluded.energy_ts_ms, energy_valid=excluded.energy_valid, energy_suspect=excluded.energy_suspect,"
          " energy_suspect_kwh=excluded.energy_suspect_kwh, energy_suspect_ts_ms=excluded.energy_suspect_ts_ms")
          .bind(1, t.terminal_id)
          .bind(2, t.epoch)
          .bind(3, !t.latest_json.empty() ? std::optional<std::string>(t.latest_json)
                   : t.latest       ? std::optional<std::string>(proto::encode(*t.latest))
                                    : std::nullopt)
          .bind(4, ms(t.latest_arrival))
          .bind(5, t.status ? std::optional<std::string>(proto::encode(*t.status)) : std::nullopt)
          .bind(6, ms(t.status_arrival))
          .bind(7, t.cursor.total_m3)
          .bind(8, t.cursor.ts_ms)
          .bind(9, t.cursor.valid ? 1 : 0)
          .bind_blob(10, rules_to_blob(t))
          .bind(11, t.rule_clock_ms)
          .bind(12, t.last_alive_ms)
          .bind(13, t.grace_until_ms)
          .bind(14, t.will ? 1 : 0)
          .bind(15, t.seen.max_seq())
          .bind_blob(16, seq_set::to_blob(t.seen.ranges()))
          .bind(17, t.seen.accepted())
          .bind(18, t.seen.spill_floor())
          .bind(19, t.max_seq_ts_ms)
          .bind(20, t.cursor.suspect_count)
          .bind(21, t.cursor.suspect_first_m3)
          .bind(22, t.cursor.suspect_first_ts_ms)
          .bind(23, t.cursor.suspect_last_m3)
          .bind(24, t.cursor.suspect_last_ts_ms)
          .bind(25, t.cursor.suspect_estimate_m3)
          .bind(26, t.energy.kwh)
          .bind(27, t.energy.ts_ms)
          .bind(28, t.energy.valid ? 1 : 0)
          .bind(29, t.energy.suspect ? 1 : 0)
          .bind(30, t.energy.suspect_kwh)
          .bind(31, t.energy.suspect_ts_ms)
          .run();
    }
    for (const auto& w : b.retired_sets) {
      d.q("INSERT INTO dedup(terminal, epoch, max_seq, below, ranges, accepted, floor) VALUES(?,?,?,0,?,?,?)"
          " ON CONFLICT(terminal, epoch) DO UPDATE SET max_seq=excluded.max_seq, below=0, ranges=excluded.ranges,"
          " accepted=excluded.accepted, floor=excluded.floor")
          .bind(1, w.terminal_id)
          .bind(2, w.epoch)
          .bind(3, w.seen.max_seq())
          .bind_blob(4, seq_set::to_blob(w.seen.ranges()))
          .bind(5, w.seen.accepted())
          .bind(6, w.seen.spill_floor())
          .run();
    }
    for (const auto& sp : b.spilled) {
      d.q("INSERT INTO dedup_spill(terminal, epoch, lo, hi) VALUES(?,?,?,?) ON CONFLICT(terminal, epoch, lo)"
          " DO UPDATE SET hi = max(hi, excluded.hi)")
          .bind(1, sp.terminal_id)
          .bind(2, sp.epoch)
          .bind(3, sp.range.lo)
          .bind(4, sp.range.hi)
          .run();
    }
    for (const auto& a : b.alerts) {
      auto opt_ms = [](const std::optional<proto::timestamp>& t) {
        return t ? std::optional<std::int64_t>(ms(*t)) : std::nullopt;
      };
      d.q("INSERT INTO alerts(id, terminal, type, state, raised_ms, acked_ms, acked_by, ack_note, cleared_ms,"
          " value, threshold, message) VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
          " state=excluded.state, acked_ms=excluded.acked_ms, acked_by=excluded.acked_by,"
          " ack_note=excluded.ack_note, cleared_ms=excluded.cleared_ms, message=excluded.message")
          .bind(1, a.alert_id)
          .bind(2, a.terminal_id)
          .bind(3, std::string(proto::to_string(a.type)))
          .bind(4, std::string(proto::to_string(a.state)))
          .bind(5, ms(a.raised_at))
          .bind(6, opt_ms(a.acked_at))
          .bind(7, a.acked_by)
          .bind(8, a.ack_note)
          .bind(9, opt_ms(a.cleared_at))
          .bind(10, a.value)
          .bind(11, a.threshold)
          .bind(12, a.message)
          .run();
    }
    for (const auto& t : b.transitions) {
      d.q("INSERT INTO alert_transitions(alert_id, state, at_ms, by, note) VALUES(?,?,?,?,?)")
          .bind(1, t.alert_id)
          .bind(2, std::string(proto::to_string(t.state)))
          .bind(3, ms(t.at))
          .bind(4, t.by)
          .bind(5, t.note)
          .run();
    }
    for (const auto& l : b.dead_letters) {
      d.q("INSERT INTO dead_letters(arrival_ms, topic, code, reason, payload) VALUES(?,?,?,?,?)")
          .bind(1, ms(l.arrival))
          .bind(2, l.topic)
          .bind(3, l.code)
          .bind(4, l.reason)
          .bind_blob(5, std::string_view(l.payload).substr(0, 4096))
          .run();
    }
    if (!b.dead_letters.empty()) {
      d.q("DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?")
          .bind(1, static_cast<std::int64_t>(d.dead_letter_max_))
          .run();
    }
    for (const auto& c : b.commands) {
      d.q("INSERT INTO commands(id, terminal, name, args, by, state, sent_ms, answered_ms, result, error)"
          " VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state=excluded.state,"
          " answered_ms=excluded.answered_ms, result=excluded.result, error=excluded.error")
          .bind(1, c.id)
          .bind(2, c.terminal_id)
          .bind(3, c.name)
          .bind(4, c.args_json)
          .bind(5, c.by)
          .bind(6, std::string(to_string(c.state)))
          .bind(7, ms(c.sent_at))
          .bind(8, c.answered_at ? std::optional<std::int64_t>(ms(*c.answered_at)) : std::nullopt)
          .bind(9, c.result_json)
          .bind(10, c.error)
          .run();
    }
    for (const auto& n : b.notifications) d.insert_notification(n);
    for (const auto& h : b.pump_run_hours) {
      d.q("INSERT INTO pump_run_hours(site_id, hour_ms, run_s, covered_s) VALUES(?,?,?,?) ON CONFLICT(site_id, hour_ms)"
          " DO UPDATE SET run_s=excluded.run_s, covered_s=excluded.covered_s")
          .bind(1, h.site_id)
          .bind(2, h.hour_ms)
          .bind(3, h.run_s)
          .bind(4, h.covered_s)
          .run();
    }
    for (const auto& c : b.pump_run_cuts)
      d.q("DELETE FROM pump_run_hours WHERE site_id = ? AND hour_ms < ?").bind(1, c.first).bind(2, c.second).run();
    for (const auto& h : b.flow_hours) {
      d.q("INSERT INTO flow_hours(site_id, hour_ms, volume_m3, covered_s) VALUES(?,?,?,?) ON CONFLICT(site_id, hour_ms)"
          " DO UPDATE SET volume_m3=volume_m3+excluded.volume_m3, covered_s=covered_s+excluded.covered_s")
          .bind(1, h.site_id)
          .bind(2, h.hour_ms)
          .bind(3, h.volume_m3)
          .bind(4, h.covered_s)
          .run();
    }
    for (const auto& c : b.flow_hour_cuts)
      d.q("DELETE FROM flow_hours WHERE site_id = ? AND hour_ms < ?").bind(1, c.first).bind(2, c.second).run();
    for (const auto& n : b.flow_normals) {
      d.q("INSERT INTO flow_normal_sites(site_id, computed_day, cells) VALUES(?,?,?) ON CONFLICT(site_id)"
          " DO UPDATE SET computed_day=excluded.computed_day, cells=excluded.cells")
          .bind(1, n.site_id)
          .bind(2, std::int64_t{n.normal.computed_day})
          .bind_blob(3, detail::flow_normal_to_blob(n.normal))
          .run();
    }
    for (const auto& im : b.images) {
      d.q("INSERT INTO images(terminal, jpeg, arrival_ms) VALUES(?,?,?) ON CONFLICT(terminal) DO UPDATE SET"
          " jpeg=excluded.jpeg, arrival_ms=excluded.arrival_ms")
          .bind(1, im.terminal_id)
          .bind_blob(2, im.jpeg)
          .bind(3, ms(im.arrival))
          .run();
    }
    d.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(d.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<terminal_snapshot> sqlite_store::load_terminals() {
  auto& s = impl_->q(
      "SELECT t.terminal, t.epoch, t.latest, t.latest_arrival_ms, t.status, t.status_arrival_ms, t.total_m3,"
      " t.total_ts_ms, t.total_valid, t.rules, t.rule_clock_ms, t.last_alive_ms, t.grace_until_ms, t.will,"
      " t.dedup_ranges, t.dedup_accepted, t.dedup_floor, t.max_seq_ts_ms, t.suspect_count, t.suspect_first_m3,"
      " t.suspect_first_ts_ms, t.suspect_last_m3, t.suspect_last_ts_ms, t.suspect_estimate_m3, t.energy_kwh,"
      " t.energy_ts_ms, t.energy_valid, t.energy_suspect, t.energy_suspect_kwh, t.energy_suspect_ts_ms FROM terminal_state t");
  std::vector<terminal_snapshot> out;
  while (s.step()) {
    terminal_snapshot t;
    t.terminal_id = s.text(0);
    t.epoch = s.text(1);
    if (!s.is_null(2)) {
      auto r = proto::decode_telemetry(s.text(2), t.terminal_id);
      if (r.ok()) t.latest = std::move(*r.value);
    }
    t.latest_arrival = from_ms(s.i64(3));
    if (!s.is_null(4)) {
      auto st = proto::decode_status(s.text(4), t.terminal_id);
      if (st.ok()) t.status = std::move(*st.value);
    }
    t.status_arrival = from_ms(s.i64(5));
    t.cursor.total_m3 = s.dbl(6);
    t.cursor.ts_ms = s.i64(7);
    t.cursor.valid = s.i64(8) != 0;
    t.cursor.suspect_count = static_cast<std::uint32_t>(s.i64(18));
    t.cursor.suspect_first_m3 = s.dbl(19);
    t.cursor.suspect_first_ts_ms = s.i64(20);
    t.cursor.suspect_last_m3 = s.dbl(21);
    t.cursor.suspect_last_ts_ms = s.i64(22);
    t.cursor.suspect_estimate_m3 = s.dbl(23);
    t.energy.kwh = s.dbl(24);
    t.energy.ts_ms = s.i64(25);
    t.energy.valid = s.i64(26) != 0;
    t.energy.suspect = s.i64(27) != 0;
    t.energy.suspect_kwh = s.dbl(28);
    t.energy.suspect_ts_ms = s.i64(29);
    rules_from_blob(s.text(9), t);
    t.rule_clock_ms = s.i64(10);
    t.last_alive_ms = s.i64(11);
    t.grace_until_ms = s.i64(12);
    t.will = s.i64(13) != 0;
    if (!s.is_null(15))
      t.seen = seq_set(seq_set::from_blob(s.text(14)), std::bit_cast<std::uint64_t>(s.i64(15)),
                       std::bit_cast<std::uint64_t>(s.i64(16)));
    t.max_seq_ts_ms = s.i64(17);
    out.push_back(std::move(t));
  }
  s.reset();
  return out;
}

std::optional<seq_set> sqlite_store::load_dedup(const std::string& terminal_id, const std::string& epoch) {
  // The current epoch's set is in terminal_state, earlier epochs' in dedup.
  auto& s = impl_->q(
                     "SELECT dedup_ranges, dedup_accepted, dedup_floor FROM terminal_state WHERE terminal = ?1"
                     " AND epoch = ?2 AND dedup_accepted IS NOT NULL UNION ALL SELECT ranges, accepted, floor"
                     " FROM dedup WHERE terminal = ?1 AND epoch = ?2 AND accepted IS NOT NULL LIMIT 1")
                .bind(1, terminal_id)
                .bind(2, epoch);
  std::optional<seq_set> out;
  if (s.step())
    out = seq_set(seq_set::from_blob(s.text(0)), std::bit_cast<std::uint64_t>(s.i64(1)),
                  std::bit_cast<std::uint64_t>(s.i64(2)));
  s.reset();
  return out;
}

bool sqlite_store::spilled_contains(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq) {
  auto& s = impl_->q("SELECT hi FROM dedup_spill WHERE terminal = ? AND epoch = ? AND lo <= ? ORDER BY lo DESC LIMIT 1")
                .bind(1, terminal_id)
                .bind(2, epoch)
                .bind(3, seq);
  const bool found = s.step() && std::bit_cast<std::uint64_t>(s.i64(0)) >= seq;
  s.reset();
  return found;
}

std::uint64_t sqlite_store::missing_in_left_epochs() {
  auto& s = impl_->q(
      "SELECT coalesce(sum(max_seq - accepted), 0) FROM dedup d WHERE accepted IS NOT NULL AND NOT EXISTS"
      " (SELECT 1 FROM terminal_state t WHERE t.terminal = d.terminal AND t.epoch = d.epoch)");
  s.step();
  const auto v = s.i64(0);
  s.reset();
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

namespace {

proto::alert_message read_alert(const sqlite_store::impl::stmt& s) {
  proto::alert_message a;
  a.alert_id = static_cast<std::uint64_t>(s.i64(0));
  a.terminal_id = s.text(1);
  a.type = detail::alert_type_of_row(s.text(2), "alerts", s.i64(0));  // the queries keep known types only
  a.state = proto::parse_alert_state(s.text(3)).value_or(proto::alert_state::raised);
  a.raised_at = from_ms(s.i64(4));
  if (!s.is_null(5)) a.acked_at = from_ms(s.i64(5));
  if (!s.is_null(6)) a.acked_by = s.text(6);
  if (!s.is_null(7)) a.ack_note = s.text(7);
  if (!s.is_null(8)) a.cleared_at = from_ms(s.i64(8));
  if (!s.is_null(9)) a.value = s.dbl(9);
  if (!s.is_null(10)) a.threshold = s.dbl(10);
  a.message = s.text(11);
  return a;
}

constexpr const char* alert_cols =
    "id, terminal, type, state, raised_ms, acked_ms, acked_by, ack_note, cleared_ms, value, threshold, message";

}  // namespace

std::vector<proto::alert_message> sqlite_store::alerts(bool open_only, const std::optional<std::string>& terminal_id,
                                                       std::size_t limit) {
  static const std::string sql_all = std::string("SELECT ") + alert_cols +
                                     " FROM alerts WHERE (?1 = 0 OR state != 'cleared') AND (?2 IS NULL OR terminal = ?2) AND " +
                                     detail::known_alert_rows_sql() +
                                     " ORDER BY id DESC LIMIT ?3";
  auto& s = impl_->q(sql_all.c_str())
                .bind(1, open_only ? 1 : 0)
                .bind(2, terminal_id)
                .bind(3, static_cast<std::int64_t>(limit));
  std::vector<proto::alert_message> out;
  while (s.step()) out.push_back(read_alert(s));
  s.reset();
  return out;
}

namespace {

const char* state_filter_sql(alert_query::state_filter f) {
  switch (f) {
    case alert_query::state_filter::open: return "open";
    case alert_query::state_filter::raised: return "raised";
    case alert_query::state_filter::acknowledged: return "acknowledged";
    case alert_query::state_filter::cleared: return "cleared";
    case alert_query::state_filter::all: return "all";
  }
  return "all";
}

/// A list of ids as one bound JSON array (read back with json_each): any number of ids, one parameter.
std::string json_id_list(const std::vector<std::string>& ids) { return nlohmann::json(ids).dump(); }

}  // namespace

std::vector<proto::alert_message> sqlite_store::find_alerts(const alert_query& q) {
  // Every filter is a bound parameter that is NULL (or 'all') when unused. Newest first by id, the
  // primary key, so a cursor (?6: ids below it) pages without gaps or repeats.
  static const std::string sql = std::string("SELECT ") + alert_cols +
                                 " FROM alerts WHERE (?1 = 'all' OR (?1 = 'open' AND state != 'cleared') OR state = ?1)"
                                 " AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR terminal = ?3)"
                                 " AND (?4 IS NULL OR terminal IN (SELECT value FROM json_each(?4)))"
                                 " AND (?5 IS NULL OR id < ?5) AND " + detail::known_alert_rows_sql() +
                                 " ORDER BY id DESC LIMIT ?6";
  auto& s = impl_->q(sql.c_str())
                .bind(1, std::string(state_filter_sql(q.state)))
                .bind(2, q.type ? std::optional<std::string>(std::string(proto::to_string(*q.type))) : std::nullopt)
                .bind(3, q.terminal_id)
                .bind(4, q.terminal_ids ? std::optional<std::string>(json_id_list(*q.terminal_ids)) : std::nullopt)
                .bind(5, q.before_id ? std::optional<std::int64_t>(std::bit_cast<std::int64_t>(*q.before_id)) : std::nullopt)
                .bind(6, static_cast<std::int64_t>(std::min<std::size_t>(q.limit, std::size_t{1} << 40)));
  std::vector<proto::alert_message> out;
  while (s.step()) out.push_back(read_alert(s));
  s.reset();
  return out;
}

std::optional<proto::alert_message> sqlite_store::alert(std::uint64_t alert_id) {
  static const std::string sql = std::string("SELECT ") + alert_cols + " FROM alerts WHERE id = ? AND " + detail::known_alert_rows_sql();
  auto& s = impl_->q(sql.c_str()).bind(1, alert_id);
  std::optional<proto::alert_message> out;
  if (s.step()) out = read_alert(s);
  s.reset();
  return out;
}

std::vector<alert_transition> sqlite_store::transitions(std::uint64_t alert_id) {
  auto& s = impl_->q("SELECT state, at_ms, by, note FROM alert_transitions WHERE alert_id = ? ORDER BY rowid")
                .bind(1, alert_id);
  std::vector<alert_transition> out;
  while (s.step()) {
    const auto state = proto::parse_alert_state(s.text(0));
    if (!state) continue;  // a step of a newer build's state (detail/alert_rows.hpp): never shown as another
    out.push_back({alert_id, *state, from_ms(s.i64(1)), s.text(2), s.text(3)});
  }
  s.reset();
  return out;
}

std::uint64_t sqlite_store::max_alert_id() {
  auto& s = impl_->q("SELECT coalesce(max(id), 0) FROM alerts");
  s.step();
  const auto v = static_cast<std::uint64_t>(s.i64(0));
  s.reset();
  return v;
}

std::vector<record_row> sqlite_store::history(const std::string& terminal_id, proto::timestamp from,
                                              proto::timestamp to, std::size_t limit) {
  auto& s = impl_->q(
                     "SELECT record, arrival_ms, ts_ms FROM records WHERE terminal = ? AND ts_ms >= ? AND ts_ms < ?"
                     " ORDER BY ts_ms, seq LIMIT ?")
                .bind(1, terminal_id)
                .bind(2, ms(from))
                .bind(3, ms(to))
                .bind(4, static_cast<std::int64_t>(limit));
  std::vector<record_row> out;
  while (s.step()) {
    auto r = proto::decode_telemetry(s.text(0), terminal_id);
    if (!r.ok()) continue;
    // ts_ms holds the effective time: the stamp when trusted, else the arrival (store.hpp).
    const bool trusted = ms(r.value->ts) == s.i64(2);
    out.push_back({std::move(*r.value), from_ms(s.i64(1)), std::string(), trusted});
  }
  s.reset();
  return out;
}

std::vector<daily_row> sqlite_store::daily(const std::optional<std::string>& terminal_id, std::int32_t from_day,
                                           std::int32_t to_day) {
  // Two statements, not "(?1 IS NULL OR terminal = ?1)": SQLite plans a statement once, and that
  // OR keeps it from using the (terminal, day) key, so one terminal's days would scan every
  // terminal's rows of the range (84-166 ms at 1,000 terminals).
  auto& s = terminal_id
                ? impl_->q("SELECT terminal, day, volume_m3, volume_estimated_m3, turbidity_sum_ntu, turbidity_count,"
                           " turbidity_max_ntu, compliant_count, records, turbidity_ok_s, compliant_s, totalizer_glitches,"
                           " missing_records, energy_kwh, energy_estimated_kwh, energy_records, energy_glitches,"
                           " sludge_level_s, sludge_ok_s FROM daily"
                           " WHERE terminal = ?1 AND day >= ?2 AND day <= ?3 ORDER BY terminal, day")
                      .bind(1, terminal_id)
                : impl_->q("SELECT terminal, day, volume_m3, volume_estimated_m3, turbidity_sum_ntu, turbidity_count,"
                           " turbidity_max_ntu, compliant_count, records, turbidity_ok_s, compliant_s, totalizer_glitches,"
                           " missing_records, energy_kwh, energy_estimated_kwh, energy_records, energy_glitches,"
                           " sludge_level_s, sludge_ok_s FROM daily"
                           " WHERE day >= ?2 AND day <= ?3 ORDER BY terminal, day");
  s.bind(2, static_cast<std::int64_t>(from_day)).bind(3, static_cast<std::int64_t>(to_day));
  std::vector<daily_row> out;
  while (s.step()) {
    daily_row r;
    r.terminal_id = s.text(0);
    r.totals.day = static_cast<std::int32_t>(s.i64(1));
    r.totals.volume_m3 = s.dbl(2);
    r.totals.volume_estimated_m3 = s.dbl(3);
    r.totals.turbidity_sum_ntu = s.dbl(4);
    r.totals.turbidity_count = static_cast<std::uint32_t>(s.i64(5));
    r.totals.turbidity_max_ntu = s.dbl(6);
    r.totals.compliant_count = static_cast<std::uint32_t>(s.i64(7));
    r.totals.records = static_cast<std::uint32_t>(s.i64(8));
    r.totals.turbidity_ok_s = s.dbl(9);
    r.totals.compliant_s = s.dbl(10);
    r.totals.totalizer_glitches = static_cast<std::uint32_t>(s.i64(11));
    r.missing_records = s.i64(12);
    r.totals.energy_kwh = s.dbl(13);
    r.totals.energy_estimated_kwh = s.dbl(14);
    r.totals.energy_records = static_cast<std::uint32_t>(s.i64(15));
    r.totals.energy_glitches = static_cast<std::uint32_t>(s.i64(16));
    r.totals.sludge_level_s = s.dbl(17);
    r.totals.sludge_ok_s = s.dbl(18);
    out.push_back(std::move(r));
  }
  s.reset();
  return out;
}

std::vector<daily_total_row> sqlite_store::daily_totals(const std::vector<std::string>& terminal_ids,
                                                        std::int32_t from_day, std::int32_t to_day) {
  auto& s = impl_->q(
                     "SELECT day, sum(volume_m3), sum(volume_estimated_m3), sum(turbidity_ok_s), sum(compliant_s),"
                     " sum(records), sum(missing_records), sum(records > 0),"
                     " sum(CASE WHEN energy_records > 0 THEN energy_kwh + energy_estimated_kwh ELSE 0 END),"
                     " sum(CASE WHEN energy_records > 0 THEN energy_estimated_kwh ELSE 0 END),"
                     " sum(CASE WHEN energy_records > 0 THEN volume_m3 + volume_estimated_m3 ELSE 0 END),"
                     " sum(energy_records > 0) FROM daily"
                     " WHERE day >= ?2 AND day <= ?3 AND terminal IN (SELECT value FROM json_each(?1))"
                     " GROUP BY day ORDER BY day")
                .bind(1, json_id_list(terminal_ids))
                .bind(2, static_cast<std::int64_t>(from_day))
                .bind(3, static_cast<std::int64_t>(to_day));
  std::vector<daily_total_row> out;
  while (s.step()) {
    daily_total_row r;
    r.day = static_cast<std::int32_t>(s.i64(0));
    r.volume_m3 = s.dbl(1);
    r.volume_estimated_m3 = s.dbl(2);
    r.turbidity_ok_s = s.dbl(3);
    r.compliant_s = s.dbl(4);
    r.records = s.i64(5);
    r.missing_records = s.i64(6);
    r.terminals_reporting = s.i64(7);
    r.energy_kwh = s.dbl(8);
    r.energy_estimated_kwh = s.dbl(9);
    r.metered_volume_m3 = s.dbl(10);
    r.terminals_metered = s.i64(11);
    out.push_back(r);
  }
  s.reset();
  return out;
}

namespace {

constexpr const char* command_cols = "id, terminal, name, args, by, state, sent_ms, answered_ms, result, error";

command_row read_command(const sqlite_store::impl::stmt& s) {
  command_row c;
  c.id = std::bit_cast<std::uint64_t>(s.i64(0));
  c.terminal_id = s.text(1);
  c.name = s.text(2);
  c.args_json = s.text(3);
  c.by = s.text(4);
  const auto st = s.text(5);
  for (const auto x : all_command_states)
    if (st == to_string(x)) c.state = x;
  c.sent_at = from_ms(s.i64(6));
  if (!s.is_null(7)) c.answered_at = from_ms(s.i64(7));
  if (!s.is_null(8)) c.result_json = s.text(8);
  if (!s.is_null(9)) c.error = s.text(9);
  return c;
}

}  // namespace

std::vector<command_row> sqlite_store::commands(const std::optional<std::string>& terminal_id,
                                                std::optional<command_state> state, std::size_t limit) {
  static const std::string sql = std::string("SELECT ") + command_cols +
                                 " FROM commands WHERE (?1 IS NULL OR terminal = ?1) AND (?2 IS NULL OR state = ?2)"
                                 " ORDER BY id DESC LIMIT ?3";
  auto& s = impl_->q(sql.c_str())
                .bind(1, terminal_id)
                .bind(2, state ? std::optional<std::string>(to_string(*state)) : std::nullopt)
                .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, std::size_t{1} << 40)));
  std::vector<command_row> out;
  while (s.step()) out.push_back(read_command(s));
  s.reset();
  return out;
}

std::optional<command_row> sqlite_store::command(std::uint64_t id) {
  static const std::string sql = std::string("SELECT ") + command_cols + " FROM commands WHERE id = ?";
  auto& s = impl_->q(sql.c_str()).bind(1, id);
  std::optional<command_row> out;
  if (s.step()) out = read_command(s);
  s.reset();
  return out;
}

std::vector<pump_run_hour> sqlite_store::load_pump_run_hours() {
  auto& s = impl_->q("SELECT site_id, hour_ms, run_s, covered_s FROM pump_run_hours ORDER BY site_id, hour_ms");
  std::vector<pump_run_hour> out;
  while (s.step()) out.push_back({s.text(0), s.i64(1), s.dbl(2), s.dbl(3)});
  s.reset();
  return out;
}

std::vector<flow_hour> sqlite_store::flow_hours(const std::string& site_id, std::int64_t from_ms, std::int64_t to_ms) {
  auto& s = impl_->q("SELECT hour_ms, volume_m3, covered_s FROM flow_hours WHERE site_id = ? AND hour_ms >= ? AND hour_ms < ?"
                     " ORDER BY hour_ms")
                .bind(1, site_id)
                .bind(2, from_ms)
                .bind(3, to_ms);
  std::vector<flow_hour> out;
  while (s.step()) out.push_back({site_id, s.i64(0), s.dbl(1), s.dbl(2)});
  s.reset();
  return out;
}

std::vector<site_flow_normal> sqlite_store::load_flow_normals() {
  auto& s = impl_->q("SELECT site_id, computed_day, cells FROM flow_normal_sites ORDER BY site_id");
  std::vector<site_flow_normal> out;
  while (s.step()) {
    site_flow_normal n{s.text(0), flow_normal{}};
    if (!detail::flow_normal_from_blob(s.text(2), n.normal)) {
      // Only a hand edit makes one; the engine learns that site's normal again at its next day.
      spdlog::warn("flow_normal_sites: site {} has not a 48-cell blob; its normal is not loaded", n.site_id);
      continue;
    }
    n.normal.computed_day = static_cast<std::int32_t>(s.i64(1));
    out.push_back(std::move(n));
  }
  s.reset();
  return out;
}

std::uint64_t sqlite_store::max_command_id() {
  auto& s = impl_->q("SELECT coalesce(max(id), 0) FROM commands");
  s.step();
  const auto v = static_cast<std::uint64_t>(s.i64(0));
  s.reset();
  return v;
}

std::optional<std::pair<std::string, proto::timestamp>> sqlite_store::image(const std::string& terminal_id) {
  auto& s = impl_->q("SELECT jpeg, arrival_ms FROM images WHERE terminal = ?").bind(1, terminal_id);
  std::optional<std::pair<std::string, proto::timestamp>> out;
  if (s.step()) out.emplace(s.text(0), from_ms(s.i64(1)));
  s.reset();
  return out;
}

std::optional<proto::timestamp> sqlite_store::image_arrival(const std::string& terminal_id) {
  auto& s = impl_->q("SELECT arrival_ms FROM images WHERE terminal = ?").bind(1, terminal_id);
  std::optional<proto::timestamp> out;
  if (s.step()) out = from_ms(s.i64(0));
  s.reset();
  return out;
}

std::vector<dead_letter_row> sqlite_store::dead_letters(std::size_t limit) {
  auto& s = impl_->q("SELECT id, arrival_ms, topic, code, reason, payload FROM dead_letters ORDER BY id DESC LIMIT ?")
                .bind(1, static_cast<std::int64_t>(limit));
  std::vector<dead_letter_row> out;
  while (s.step()) out.push_back({s.i64(0), from_ms(s.i64(1)), s.text(2), s.text(3), s.text(4), s.text(5)});
  s.reset();
  return out;
}

fault_stats sqlite_store::faults_since(proto::timestamp from) {
  fault_stats f;
  {
    static const std::string raised_sql =
        "SELECT count(*) FROM alerts WHERE raised_ms >= ? AND " + detail::known_alert_rows_sql();
    auto& s = impl_->q(raised_sql.c_str()).bind(1, ms(from));
    s.step();
    f.raised = static_cast<std::uint64_t>(s.i64(0));
    s.reset();
  }
  static const std::string resolved_sql =
      "SELECT count(*), coalesce(avg(cleared_ms - raised_ms), 0) FROM alerts"
      " WHERE cleared_ms IS NOT NULL AND cleared_ms >= ? AND " + detail::known_alert_rows_sql();
  auto& s = impl_->q(resolved_sql.c_str()).bind(1, ms(from));
  s.step();
  f.resolved = static_cast<std::uint64_t>(s.i64(0));
  f.mean_time_to_resolve_s = s.dbl(1) / 1000.0;
  s.reset();
  return f;
}

// --- monthly report (issue 10 item 6): fault counts per terminal and type over a range ---------
std::vector<fault_counts> sqlite_store::fault_counts_between(proto::timestamp from, proto::timestamp to) {
  // ?1 = from, ?2 = to (ms). One aggregate row per (terminal, type): the work is bounded by the
  // episodes touching the range, the answer by terminals x types.
  auto& s = impl_->q(
                     "SELECT terminal, type,"
                     " sum(raised_ms >= ?1 AND raised_ms < ?2),"
                     " sum(cleared_ms IS NOT NULL AND cleared_ms >= ?1 AND cleared_ms < ?2),"
                     " sum(CASE WHEN cleared_ms >= ?1 AND cleared_ms < ?2 THEN cleared_ms - raised_ms ELSE 0 END),"
                     " sum(raised_ms < ?2 AND (cleared_ms IS NULL OR cleared_ms >= ?2))"
                     " FROM alerts"
                     " WHERE (raised_ms >= ?1 AND raised_ms < ?2) OR (cleared_ms >= ?1 AND cleared_ms < ?2)"
                     "  OR (raised_ms < ?2 AND (cleared_ms IS NULL OR cleared_ms >= ?2))"
                     " GROUP BY terminal, type ORDER BY terminal, type")
                .bind(1, ms(from))
                .bind(2, ms(to));
  std::vector<fault_counts> out;
  while (s.step()) {
    const auto type = proto::parse_alert_type(s.text(1));
    if (!type) continue;  // a type this build does not know (written by a newer gateway)
    out.push_back({s.text(0), *type, static_cast<std::uint64_t>(s.i64(2)), static_cast<std::uint64_t>(s.i64(3)),
                   s.i64(4), static_cast<std::uint64_t>(s.i64(5))});
  }
  s.reset();
  return out;
}
// --- end monthly report ---------------------------------------------------------------------

std::size_t sqlite_store::purge_records_before(proto::timestamp before) {
  // ts_ms is the effective time of new rows; rows written before schema 4 carry the stamp there,
  // so the arrival condition keeps a recent record with an old (e.g. 1970) stamp.
  impl_->refuse_write("purge");
  auto& s = impl_->q("DELETE FROM records WHERE ts_ms < ?1 AND arrival_ms < ?1").bind(1, ms(before));
  s.run();
  const auto n = static_cast<std::size_t>(sqlite3_changes(impl_->db_));
  impl_->q("DELETE FROM hourly WHERE hour_ms + 3600000 <= ?1").bind(1, ms(before)).run();
  return n;
}

namespace {
// Columns 2.. of an hourly row (records, then n, sum, min, max of each quantity).
void read_hourly_stat(const auto& s, int c, hourly_stat& h) {
  h.n = static_cast<std::uint32_t>(s.i64(c));
  h.sum = s.dbl(c + 1);
  h.min = s.is_null(c + 2) ? 0.0 : s.dbl(c + 2);
  h.max = s.is_null(c + 3) ? 0.0 : s.dbl(c + 3);
}
}  // namespace

rollup_result sqlite_store::roll_up_records_before(proto::timestamp before, std::size_t max_days) {
  impl_->refuse_write("roll_up");
  auto& d = *impl_;
  constexpr std::int64_t day = 86'400'000;
  rollup_result out;
  std::int64_t from = std::numeric_limits<std::int64_t>::min();
  while (max_days == 0 || out.days < max_days) {
    // The next effective time with a record to roll up (records_by_time): empty days cost nothing.
    std::int64_t lo = 0;
    {
      auto& s = d.q("SELECT min(ts_ms) FROM records WHERE ts_ms >= ?1 AND ts_ms < ?2 AND arrival_ms < ?2")
                    .bind(1, from)
                    .bind(2, ms(before));
      const bool any = s.step() && !s.is_null(0);
      lo = any ? s.i64(0) : 0;
      s.reset();
      if (!any) break;
    }
    // One UTC day of effective time per transaction: lock time and memory stay bounded by one
    // day of the county, whatever the backlog (the first rollup after an upgrade).
    const auto start = lo - (((lo % day) + day) % day);
    const auto cut = std::min(start + day, ms(before));
    from = cut;
    d.exec("BEGIN IMMEDIATE");
    try {
      std::map<std::pair<std::string, std::int64_t>, hourly_row> rows;
      {
        auto& s = d.q("SELECT terminal, ts_ms, record FROM records WHERE ts_ms >= ?1 AND ts_ms < ?2 AND arrival_ms < ?3")
                      .bind(1, start)
                      .bind(2, cut)
                      .bind(3, ms(before));
        while (s.step()) {
          auto terminal = s.text(0);
          auto& h = rows[{terminal, ms(hour_start(from_ms(s.i64(1))))}];
          const auto r = proto::decode_telemetry(s.text(2), terminal);
          if (r.ok()) {
            h.add(*r.value);
          } else {
            ++h.records;
          }
        }
        s.reset();
      }
      {
        auto& s = d.q("SELECT terminal, hour_ms, records, flow_n, flow_sum, flow_min, flow_max, turbidity_n,"
                      " turbidity_sum, turbidity_min, turbidity_max, sludge_n, sludge_sum, sludge_min, sludge_max"
                      " FROM hourly WHERE hour_ms >= ?1 AND hour_ms < ?2")
                      .bind(1, start)
                      .bind(2, cut);
        while (s.step()) {
          const auto it = rows.find({s.text(0), s.i64(1)});
          if (it == rows.end()) continue;
          hourly_row old;
          old.records = static_cast<std::uint32_t>(s.i64(2));
          read_hourly_stat(s, 3, old.flow_rate_m3h);
          read_hourly_stat(s, 7, old.turbidity_ntu);
          read_hourly_stat(s, 11, old.sludge_level_m);
          it->second.merge(old);
        }
        s.reset();
      }
      for (const auto& [key, h] : rows) {
        auto& s = d.q("INSERT OR REPLACE INTO hourly(terminal, hour_ms, records, flow_n, flow_sum, flow_min, flow_max,"
                      " turbidity_n, turbidity_sum, turbidity_min, turbidity_max, sludge_n, sludge_sum, sludge_min,"
                      " sludge_max) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        s.bind(1, key.first).bind(2, key.second).bind(3, h.records);
        int c = 4;
        for (const auto* st : {&h.flow_rate_m3h, &h.turbidity_ntu, &h.sludge_level_m}) {
          s.bind(c, st->n).bind(c + 1, st->sum);
          s.bind(c + 2, st->n > 0 ? std::optional<double>(st->min) : std::nullopt);
          s.bind(c + 3, st->n > 0 ? std::optional<double>(st->max) : std::nullopt);
          c += 4;
        }
        s.run();
      }
      d.q("DELETE FROM records WHERE ts_ms >= ?1 AND ts_ms < ?2 AND arrival_ms < ?3")
          .bind(1, start)
          .bind(2, cut)
          .bind(3, ms(before))
          .run();
      out.records += static_cast<std::size_t>(sqlite3_changes(d.db_));
      d.exec("COMMIT");
      ++out.days;
    } catch (...) {
      sqlite3_exec(d.db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  return out;
}

std::vector<hourly_row> sqlite_store::hourly(const std::string& terminal_id, proto::timestamp from,
                                             proto::timestamp to, std::size_t limit) {
  auto& s = impl_->q("SELECT terminal, hour_ms, records, flow_n, flow_sum, flow_min, flow_max, turbidity_n,"
                     " turbidity_sum, turbidity_min, turbidity_max, sludge_n, sludge_sum, sludge_min, sludge_max"
                     " FROM hourly WHERE terminal = ?1 AND hour_ms >= ?2 AND hour_ms < ?3 ORDER BY hour_ms LIMIT ?4")
                .bind(1, terminal_id)
                .bind(2, ms(from))
                .bind(3, ms(to))
                .bind(4, static_cast<std::int64_t>(limit));
  std::vector<hourly_row> out;
  while (s.step()) {
    hourly_row h;
    h.terminal_id = s.text(0);
    h.hour = from_ms(s.i64(1));
    h.records = static_cast<std::uint32_t>(s.i64(2));
    read_hourly_stat(s, 3, h.flow_rate_m3h);
    read_hourly_stat(s, 7, h.turbidity_ntu);
    read_hourly_stat(s, 11, h.sludge_level_m);
    out.push_back(std::move(h));
  }
  s.reset();
  return out;
}

std::vector<notification_row> sqlite_store::notification_heads(std::size_t limit) {
  auto& s = impl_->q(
      "SELECT q.id, q.target, q.subject_kind, q.subject_id, q.event, q.body, q.created_ms, q.attempts,"
      " q.next_attempt_ms, q.last_error FROM notify_queue q"
      " JOIN (SELECT min(id) AS id FROM notify_queue GROUP BY target) h ON q.id = h.id ORDER BY q.id LIMIT ?");
  s.bind(1, static_cast<std::int64_t>(limit));
  std::vector<notification_row> out;
  while (s.step()) {
    notification_row r;
    r.id = s.i64(0);
    r.target = s.text(1);
    r.subject_kind = s.text(2);
    r.subject_id = std::bit_cast<std::uint64_t>(s.i64(3));
    r.event = s.text(4);
    r.body = s.text(5);
    r.created_ms = s.i64(6);
    r.attempts = static_cast<std::uint32_t>(s.i64(7));
    r.next_attempt_ms = s.i64(8);
    r.last_error = s.text(9);
    out.push_back(std::move(r));
  }
  s.reset();
  return out;
}

void sqlite_store::notification_remove(std::int64_t id) {
  impl_->refuse_write("notification_remove");
  impl_->q("DELETE FROM notify_queue WHERE id = ?").bind(1, id).run();
}

void sqlite_store::notification_retry(std::int64_t id, std::uint32_t attempts, std::int64_t next_attempt_ms,
                                      const std::string& error) {
  impl_->refuse_write("notification_retry");
  impl_->q("UPDATE notify_queue SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE id = ?1")
      .bind(1, id)
      .bind(2, attempts)
      .bind(3, next_attempt_ms)
      .bind(4, error)
      .run();
}

std::uint64_t sqlite_store::notification_trim(std::size_t max_rows) {
  impl_->refuse_write("notification_trim");
  impl_->q("DELETE FROM notify_queue WHERE id IN (SELECT id FROM notify_queue ORDER BY id"
           " LIMIT max(0, (SELECT count(*) FROM notify_queue) - ?1))")
      .bind(1, static_cast<std::int64_t>(max_rows))
      .run();
  return static_cast<std::uint64_t>(sqlite3_changes(impl_->db_));
}

std::uint64_t sqlite_store::notification_count() {
  auto& s = impl_->q("SELECT count(*) FROM notify_queue");
  s.step();
  const auto n = static_cast<std::uint64_t>(s.i64(0));
  s.reset();
  return n;
}

bool sqlite_store::notification_enqueue(const std::vector<notification_row>& rows, const std::string& once_key) {
  impl_->refuse_write("notification_enqueue");
  impl_->exec("BEGIN IMMEDIATE");
  try {
    if (!once_key.empty()) {
      impl_->q("INSERT OR IGNORE INTO notify_once(key, created_ms) VALUES(?, ?)")
          .bind(1, once_key)
          .bind(2, rows.empty() ? std::int64_t{0} : rows.front().created_ms)
          .run();
      if (sqlite3_changes(impl_->db_) == 0) {
        impl_->exec("ROLLBACK");
        return false;
      }
    }
    for (const auto& n : rows) impl_->insert_notification(n);
    impl_->exec("COMMIT");
  } catch (...) {
    sqlite3_exec(impl_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return true;
}

}  // namespace sewage::gateway
