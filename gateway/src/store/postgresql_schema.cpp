// The PostgreSQL store's schema and its migrations (gateway/README.md "PostgreSQL store").
#include "store/postgresql_schema.hpp"

#include "sewage/gateway/store.hpp"

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include <string>

namespace sewage::gateway::detail {
namespace {

// Version 1: the store's tables as SQLite's schema 17 holds them (sqlite_store.cpp), in
// PostgreSQL types: times as bigint ms since the epoch, uint64 seqs and ids as their int64 bit
// patterns (like SQLite), blobs as bytea. Only the store's tables: users, audit, work orders,
// inspections, lab, archive, alarm discipline and incidents stayed in the SQLite file (their rooms
// used SQLite directly; versions 4 to 7 move some of them here).
//
// records is partitioned by RANGE on the effective time (ts_ms), one partition per UTC day,
// created by the store when a batch needs it (record_partitions lists them with their bounds);
// retention drops partitions. A partitioned table's unique key must hold the partition key, so
// the key is (terminal, epoch, seq, ts_ms).
constexpr const char* schema_v1 = R"sql(
CREATE TABLE records(
  terminal text NOT NULL, epoch text NOT NULL, seq bigint NOT NULL, ts_ms bigint NOT NULL,
  arrival_ms bigint NOT NULL, record text NOT NULL,
  PRIMARY KEY (terminal, epoch, seq, ts_ms)) PARTITION BY RANGE (ts_ms);
CREATE INDEX records_by_ts ON records(terminal, ts_ms);
CREATE TABLE record_partitions(name text PRIMARY KEY, from_ms bigint NOT NULL, to_ms bigint NOT NULL);
CREATE TABLE daily(
  terminal text NOT NULL, day integer NOT NULL, volume_m3 double precision NOT NULL DEFAULT 0,
  volume_estimated_m3 double precision NOT NULL DEFAULT 0, turbidity_sum_ntu double precision NOT NULL DEFAULT 0,
  turbidity_count bigint NOT NULL DEFAULT 0, turbidity_max_ntu double precision NOT NULL DEFAULT -1,
  compliant_count bigint NOT NULL DEFAULT 0, records bigint NOT NULL DEFAULT 0,
  turbidity_ok_s double precision NOT NULL DEFAULT 0, compliant_s double precision NOT NULL DEFAULT 0,
  totalizer_glitches bigint NOT NULL DEFAULT 0, missing_records bigint NOT NULL DEFAULT 0,
  energy_kwh double precision NOT NULL DEFAULT 0, energy_estimated_kwh double precision NOT NULL DEFAULT 0,
  energy_records bigint NOT NULL DEFAULT 0, energy_glitches bigint NOT NULL DEFAULT 0,
  sludge_level_s double precision NOT NULL DEFAULT 0, sludge_ok_s double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (terminal, day));
CREATE INDEX daily_by_day ON daily(day);
CREATE TABLE dedup(
  terminal text NOT NULL, epoch text NOT NULL, max_seq bigint NOT NULL, ranges bytea, accepted bigint,
  floor bigint, PRIMARY KEY (terminal, epoch));
CREATE TABLE dedup_spill(
  terminal text NOT NULL, epoch text NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL,
  PRIMARY KEY (terminal, epoch, lo));
CREATE TABLE terminal_state(
  terminal text PRIMARY KEY, epoch text NOT NULL, latest text, latest_arrival_ms bigint NOT NULL,
  status text, status_arrival_ms bigint NOT NULL, total_m3 double precision NOT NULL, total_ts_ms bigint NOT NULL,
  total_valid boolean NOT NULL, rules bytea NOT NULL, rule_clock_ms bigint NOT NULL,
  last_alive_ms bigint NOT NULL, grace_until_ms bigint NOT NULL, will boolean NOT NULL,
  dedup_max_seq bigint, dedup_ranges bytea, dedup_accepted bigint, dedup_floor bigint,
  max_seq_ts_ms bigint NOT NULL DEFAULT 0, suspect_count bigint NOT NULL DEFAULT 0,
  suspect_first_m3 double precision NOT NULL DEFAULT 0, suspect_first_ts_ms bigint NOT NULL DEFAULT 0,
  suspect_last_m3 double precision NOT NULL DEFAULT 0, suspect_last_ts_ms bigint NOT NULL DEFAULT 0,
  suspect_estimate_m3 double precision NOT NULL DEFAULT 0, energy_kwh double precision NOT NULL DEFAULT 0,
  energy_ts_ms bigint NOT NULL DEFAULT 0, energy_valid boolean NOT NULL DEFAULT false,
  energy_suspect boolean NOT NULL DEFAULT false, energy_suspect_kwh double precision NOT NULL DEFAULT 0,
  energy_suspect_ts_ms bigint NOT NULL DEFAULT 0);
CREATE TABLE alerts(
  id bigint PRIMARY KEY, terminal text NOT NULL, type text NOT NULL, state text NOT NULL,
  raised_ms bigint NOT NULL, acked_ms bigint, acked_by text, ack_note text, cleared_ms bigint,
  value double precision, threshold double precision, message text NOT NULL);
CREATE INDEX alerts_by_state ON alerts(state);
CREATE INDEX alerts_by_terminal ON alerts(terminal, id);
CREATE TABLE alert_transitions(
  id bigserial PRIMARY KEY, alert_id bigint NOT NULL, state text NOT NULL, at_ms bigint NOT NULL,
  by_name text, note text);
CREATE INDEX transitions_by_alert ON alert_transitions(alert_id, id);
CREATE TABLE dead_letters(
  id bigserial PRIMARY KEY, arrival_ms bigint NOT NULL, topic text NOT NULL, code text NOT NULL,
  reason text NOT NULL, payload bytea NOT NULL);
CREATE TABLE images(terminal text PRIMARY KEY, jpeg bytea NOT NULL, arrival_ms bigint NOT NULL);
CREATE TABLE commands(
  id bigint PRIMARY KEY, terminal text NOT NULL, name text NOT NULL, args text NOT NULL, sent_by text NOT NULL,
  state text NOT NULL, sent_ms bigint NOT NULL, answered_ms bigint, result text, error text);
CREATE INDEX commands_by_terminal ON commands(terminal, id);
CREATE INDEX commands_by_state ON commands(state, id);
CREATE TABLE notify_queue(
  id bigserial PRIMARY KEY, target text NOT NULL, subject_kind text NOT NULL, subject_id bigint NOT NULL,
  event text NOT NULL, body text NOT NULL, created_ms bigint NOT NULL, attempts bigint NOT NULL DEFAULT 0,
  next_attempt_ms bigint NOT NULL, last_error text NOT NULL DEFAULT '');
CREATE INDEX notify_queue_by_target ON notify_queue(target, id);
CREATE TABLE notify_once(key text PRIMARY KEY, created_ms bigint NOT NULL);
CREATE TABLE pump_run_hours(site_id text NOT NULL, hour_ms bigint NOT NULL, run_s double precision NOT NULL,
  covered_s double precision NOT NULL, PRIMARY KEY (site_id, hour_ms));
CREATE TABLE flow_hours(site_id text NOT NULL, hour_ms bigint NOT NULL, volume_m3 double precision NOT NULL,
  covered_s double precision NOT NULL, PRIMARY KEY (site_id, hour_ms));
CREATE TABLE flow_normals(site_id text NOT NULL, day_type integer NOT NULL, hour integer NOT NULL,
  median_m3h double precision NOT NULL, low_m3h double precision NOT NULL, days bigint NOT NULL,
  prior boolean NOT NULL, computed_day integer NOT NULL, PRIMARY KEY (site_id, day_type, hour));
)sql";

// Version 2 (issue 16 item 5, compact history): raw records older than store.rollup_after_days
// become one row per terminal and UTC hour (store.hpp hourly_row), like SQLite's schema 18.
constexpr const char* migration_v2_hourly = R"sql(
CREATE TABLE hourly(
  terminal text NOT NULL, hour_ms bigint NOT NULL, records integer NOT NULL,
  flow_n integer NOT NULL, flow_sum double precision NOT NULL, flow_min double precision, flow_max double precision,
  turbidity_n integer NOT NULL, turbidity_sum double precision NOT NULL, turbidity_min double precision,
  turbidity_max double precision, sludge_n integer NOT NULL, sludge_sum double precision NOT NULL,
  sludge_min double precision, sludge_max double precision, PRIMARY KEY (terminal, hour_ms));
CREATE INDEX hourly_by_hour ON hourly(hour_ms);
)sql";

// Version 3 (issue 16 item 4): a site's flow normal is one row with its 48 cells (2 day types x
// 24 hours, cell = day_type x 24 + hour) as arrays, written whole once per operating day: 48 rows
// per site made the normals 70 % of the PostgreSQL ingest time at 100,000 terminals. A site
// without all 48 rows is not carried over (the engine learns its normal again at its next day).
constexpr const char* migration_v3_flow_normal_sites = R"sql(
CREATE TABLE flow_normal_sites(
  site_id text PRIMARY KEY, computed_day integer NOT NULL, median_m3h double precision[] NOT NULL,
  low_m3h double precision[] NOT NULL, days bigint[] NOT NULL, prior boolean[] NOT NULL);
INSERT INTO flow_normal_sites(site_id, computed_day, median_m3h, low_m3h, days, prior)
  SELECT site_id, max(computed_day), array_agg(median_m3h ORDER BY day_type, hour),
         array_agg(low_m3h ORDER BY day_type, hour), array_agg(days ORDER BY day_type, hour),
         array_agg(prior ORDER BY day_type, hour)
  FROM flow_normals GROUP BY site_id
  HAVING count(*) = 48 AND count(DISTINCT day_type * 24 + hour) = 48 AND min(hour) = 0 AND max(hour) = 23
     AND min(day_type) = 0 AND max(day_type) = 1;
DROP TABLE flow_normals;
)sql";

// Version 4 (issue 16 item 2): identities (auth/identity_store.hpp) in the shared database, so
// that the two gateways of a standby pair know the same accounts, tokens and sessions; SQLite's
// schema v7 tables (with their later contractor columns), `sessions.user` as `user_name` (USER is
// reserved in PostgreSQL).
constexpr const char* migration_v4_identity = R"sql(
CREATE TABLE users(
  name text PRIMARY KEY, role text NOT NULL, towns text NOT NULL, hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false, created_ms bigint NOT NULL, changed_ms bigint NOT NULL,
  contractor text NOT NULL DEFAULT '');
CREATE TABLE api_tokens(
  name text PRIMARY KEY, hash text NOT NULL UNIQUE, role text NOT NULL, towns text NOT NULL,
  created_ms bigint NOT NULL, revoked_ms bigint, contractor text NOT NULL DEFAULT '');
CREATE TABLE sessions(
  key text PRIMARY KEY, user_name text NOT NULL, csrf text NOT NULL, created_ms bigint NOT NULL,
  last_seen_ms bigint NOT NULL);
CREATE INDEX sessions_by_user ON sessions(user_name);
CREATE TABLE audit(
  id bigserial PRIMARY KEY, ts_ms bigint NOT NULL, actor text NOT NULL, actor_kind text NOT NULL,
  address text NOT NULL, action text NOT NULL, target text NOT NULL, detail text NOT NULL);
CREATE INDEX audit_by_ts ON audit(ts_ms);
)sql";

// Version 5 (issue 16 item 2): the alarm discipline (alarms/discipline_db.hpp) in the shared
// database, so that a standby that takes over keeps the maintenance windows, shelves, escalations
// and groups of repeated episodes; SQLite's schema v12 tables, `local_start` as `local_start_s`
// (seconds after local midnight, an integer; SQLite declared it TEXT) and without the unused
// `suppressed_until_ms`. Group ids start past those of the escalation keys already in
// `notify_once` ("alarm-group:<id>:<level>", written while the groups lived in each gateway's
// SQLite file): a new group never finds its escalation already "sent".
constexpr const char* migration_v5_alarm_discipline = R"sql(
CREATE TABLE maintenance_windows(
  id bigserial PRIMARY KEY, site_id text NOT NULL, recurrence text NOT NULL, start_ms bigint NOT NULL,
  end_ms bigint, local_start_s bigint, weekdays integer NOT NULL DEFAULT 0, duration_s bigint NOT NULL DEFAULT 0,
  reason text NOT NULL, created_by text NOT NULL, created_ms bigint NOT NULL, ended_ms bigint, ended_by text);
CREATE INDEX maintenance_windows_by_site ON maintenance_windows(site_id);
CREATE TABLE alert_discipline(
  alert_id bigint PRIMARY KEY, site_id text NOT NULL, type text NOT NULL, suppressed_window bigint,
  released_ms bigint, shelved_until_ms bigint, shelved_by text, shelve_note text, unshelved_ms bigint,
  escalated_level text, escalated_ms bigint, group_id bigint, repeat_of bigint);
CREATE TABLE alert_groups(
  id bigserial PRIMARY KEY, site_id text NOT NULL, type text NOT NULL, head_alert bigint NOT NULL,
  last_alert bigint NOT NULL, repeats integer NOT NULL, first_ms bigint NOT NULL, last_ms bigint NOT NULL,
  last_clear_ms bigint);
CREATE INDEX alert_groups_by_site ON alert_groups(site_id, type, last_ms);
SELECT setval(pg_get_serial_sequence('alert_groups', 'id'),
              coalesce((SELECT max(substring(key FROM '^alarm-group:([0-9]+):')::bigint) FROM notify_once
                        WHERE key ~ '^alarm-group:[0-9]+:'), 0) + 1, false);
)sql";

// Version 6 (issue 16 item 2): the incidents room (incidents/incident_db.hpp), shared by a
// standby pair as the alarm discipline is: SQLite's schema v14 and v20 tables. Ids are the
// correlator's (the leader's: max + 1), not a sequence; `doc` stays text (the correlator's JSON
// as written, never rewritten by a move between stores). incidents_by_kind serves the weather
// spans of the learned normal (correlator::weather_spans).
constexpr const char* migration_v6_incidents = R"sql(
CREATE TABLE incidents(
  id bigint PRIMARY KEY, state text NOT NULL, kind text NOT NULL, opened_ms bigint NOT NULL,
  resolved_ms bigint, doc text NOT NULL);
CREATE INDEX incidents_by_state ON incidents(state, id);
CREATE INDEX incidents_by_kind ON incidents(kind, opened_ms);
CREATE TABLE incident_alerts(alert_id bigint PRIMARY KEY, incident_id bigint NOT NULL, role text NOT NULL);
CREATE INDEX incident_alerts_by_incident ON incident_alerts(incident_id);
CREATE TABLE weather_held(alert_id bigint PRIMARY KEY, until_ms bigint NOT NULL, doc text NOT NULL);
)sql";

// Version 7 (issue 16 item 2): the work orders room (om/work_order_db.hpp), shared by a standby
// pair as the incidents are: SQLite's schema v9 tables (orders, their events, check-ins, the
// photos' metadata, the alerts offered to the policies), `done` as a boolean. Ids are sequences
// (never reused; a rolled-back insert leaves a gap); the first start on this version adopts the
// SQLite file's rows with their ids and moves the sequences past them. The unique index on
// (source, source_ref) of the alert orders keeps "one order per alert" across both gateways.
constexpr const char* migration_v7_work_orders = R"sql(
CREATE TABLE work_orders(
  id bigserial PRIMARY KEY, site_id text NOT NULL, source text NOT NULL, source_ref text NOT NULL DEFAULT '',
  fault_type text NOT NULL, severity text NOT NULL, title text NOT NULL, description text NOT NULL DEFAULT '',
  contractor text NOT NULL DEFAULT '', state text NOT NULL, created_ms bigint NOT NULL, dispatched_ms bigint,
  on_site_ms bigint, fixed_ms bigint, verified_ms bigint, due_ms bigint NOT NULL, reopen_count bigint NOT NULL DEFAULT 0,
  cause text NOT NULL DEFAULT '', parts_used text NOT NULL DEFAULT '', created_by text NOT NULL,
  reporter_phone text NOT NULL DEFAULT '', town text NOT NULL DEFAULT '', escalated_level integer NOT NULL DEFAULT 0);
CREATE INDEX work_orders_by_state ON work_orders(state, due_ms);
CREATE INDEX work_orders_by_site ON work_orders(site_id, id);
CREATE UNIQUE INDEX work_orders_auto ON work_orders(source, source_ref) WHERE source = 'alert' AND source_ref <> '';
CREATE TABLE work_order_events(
  id bigserial PRIMARY KEY, order_id bigint NOT NULL, ts_ms bigint NOT NULL, actor text NOT NULL,
  from_state text NOT NULL, to_state text NOT NULL, lat double precision, lon double precision,
  note text NOT NULL DEFAULT '');
CREATE INDEX work_order_events_by_order ON work_order_events(order_id, id);
CREATE TABLE checkins(
  id bigserial PRIMARY KEY, site_id text NOT NULL, order_id bigint, inspection_id bigint, actor text NOT NULL,
  contractor text NOT NULL DEFAULT '', ts_ms bigint NOT NULL, lat double precision NOT NULL,
  lon double precision NOT NULL, accuracy_m double precision, distance_m double precision NOT NULL);
CREATE INDEX checkins_by_site ON checkins(site_id, ts_ms);
CREATE TABLE photos(
  id bigserial PRIMARY KEY, order_id bigint, inspection_id bigint, site_id text NOT NULL, path text NOT NULL,
  sha256 text NOT NULL, bytes bigint NOT NULL, content_type text NOT NULL, taken_ms bigint NOT NULL,
  taken_source text NOT NULL, uploaded_ms bigint NOT NULL, lat double precision, lon double precision,
  position_source text NOT NULL DEFAULT '', actor text NOT NULL);
CREATE INDEX photos_by_order ON photos(order_id, id);
CREATE TABLE work_order_alert_seen(
  alert_id bigint PRIMARY KEY, site_id text NOT NULL, type text NOT NULL, severity text NOT NULL,
  raised_ms bigint NOT NULL, done boolean NOT NULL DEFAULT false);
)sql";

// Migration steps: steps[v] takes version v to v + 1.
constexpr const char* steps[] = {schema_v1,
                                 migration_v2_hourly,
                                 migration_v3_flow_normal_sites,
                                 migration_v4_identity,
                                 migration_v5_alarm_discipline,
                                 migration_v6_incidents,
                                 migration_v7_work_orders};

// pg_advisory_xact_lock key of migrations: "sewage-m" as 8 bytes.
constexpr long long migration_lock_key = 0x736577616765'2d6d;

}  // namespace

int pg_schema_version(pqxx::connection& c) {
  pqxx::nontransaction t(c);
  const auto exists = t.exec_params1("SELECT to_regclass('schema_version') IS NOT NULL")[0].as<bool>();
  if (!exists) return 0;
  const auto r = t.exec("SELECT version FROM schema_version");
  return r.empty() ? 0 : r[0][0].as<int>();
}

int pg_migrate(pqxx::connection& c, int target) {
  static_assert(sizeof(steps) / sizeof(steps[0]) >= 1);
  for (;;) {
    pqxx::work t(c);
    t.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
    t.exec("CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)");
    const auto r = t.exec("SELECT version FROM schema_version");
    const int v = r.empty() ? 0 : r[0][0].as<int>();
    if (v > target)
      throw store_error("database schema version " + std::to_string(v) + " is newer than this gateway's (" +
                        std::to_string(target) + ")");
    if (v == target) {
      t.commit();
      return v;
    }
    if (v >= static_cast<int>(sizeof(steps) / sizeof(steps[0])))
      throw store_error("no migration from schema version " + std::to_string(v));
    t.exec(steps[v]);
    if (r.empty())
      t.exec_params("INSERT INTO schema_version(version) VALUES($1)", v + 1);
    else
      t.exec_params("UPDATE schema_version SET version = $1", v + 1);
    t.commit();
  }
}

}  // namespace sewage::gateway::detail
