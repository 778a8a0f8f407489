// The PostgreSQL store (postgresql_store.hpp): statements and the mapping of rows; the schema and
// its migrations are in postgresql_schema.cpp.
#include "sewage/gateway/postgresql_store.hpp"

#include "detail/alert_rows.hpp"
#include "detail/pg_fence.hpp"
#include "store/postgresql_schema.hpp"
#include "store/rule_blob.hpp"

#include <sewage/proto/status.hpp>
#include <sewage/proto/telemetry.hpp>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace sewage::gateway {
namespace {

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
proto::timestamp from_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }
std::int64_t i64(std::uint64_t v) { return std::bit_cast<std::int64_t>(v); }
std::uint64_t u64(const pqxx::field& f) { return std::bit_cast<std::uint64_t>(f.as<std::int64_t>()); }
std::int64_t limit_param(std::size_t n) { return static_cast<std::int64_t>(std::min<std::size_t>(n, std::size_t{1} << 40)); }
std::optional<std::int64_t> opt_ms(const std::optional<proto::timestamp>& t) {
  return t ? std::optional<std::int64_t>(ms(*t)) : std::nullopt;
}

/// A double for a multi-row statement's JSON: a number, or for NaN and the infinities (JSON has
/// none) the text that PostgreSQL's float8 input reads ("NaN", "Infinity", "-Infinity"):
/// jsonb_to_recordset passes a JSON string's text to the column type's input function.
nlohmann::json num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

/// The elements of a one-dimensional array column, each converted by libpqxx (from_string: "NaN",
/// "Infinity" too). Throws store_error for a NULL element, pqxx errors for a malformed value.
template <class T>
std::vector<T> pg_array(const pqxx::field& f) {
  std::vector<T> out;
  auto parser = f.as_array();
  for (auto [what, text] = parser.get_next(); what != pqxx::array_parser::done; std::tie(what, text) = parser.get_next()) {
    if (what == pqxx::array_parser::null_value) throw store_error(std::string("NULL in array column ") + f.name());
    if (what == pqxx::array_parser::string_value) {
      T v{};
      pqxx::from_string(text, v);
      out.push_back(v);
    }
  }
  return out;
}

/// A blob as bytea's text input form (hex escape, by libpq's PQescapeByteaConn).
std::string bytea_text(pqxx::work& t, const std::string& blob) {
  return t.esc_raw(reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
}

/// Rows for one multi-row statement ($1: a JSON array of row objects). ON CONFLICT DO UPDATE may
/// not touch one row twice in a statement, so a repeated key flushes the rows gathered so far
/// first: the rows apply in the batch's order. Not thread-safe (one per transaction).
class row_rounds {
 public:
  row_rounds(pqxx::work& t, const char* statement) : t_(t), statement_(statement) {}
  /// Adds a row under `key`; `after` (or nullptr) is a statement run with the same rows after
  /// this round's statement.
  void add(std::string key, nlohmann::json row, const char* after = nullptr) {
    if (keys_.count(key) != 0) flush();
    keys_.insert(std::move(key));
    rows_.push_back(std::move(row));
    if (after) after_ = after;
  }
  /// Runs the statement on the rows gathered (none: nothing). Throws what pqxx throws.
  void flush() {
    if (rows_.empty()) return;
    const std::string text = rows_.dump();
    t_.exec_prepared(statement_, text);
    if (after_) t_.exec_prepared(after_, text);
    rows_ = nlohmann::json::array();
    keys_.clear();
    after_ = nullptr;
  }

 private:
  pqxx::work& t_;
  const char* statement_;
  nlohmann::json rows_ = nlohmann::json::array();
  std::set<std::string> keys_;
  const char* after_{nullptr};
};
std::string bytes(const pqxx::field& f) { return f.is_null() ? std::string() : pqxx::binarystring(f).str(); }
std::optional<std::string> opt_text(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::string>(f.as<std::string>());
}
/// A list of ids as one bound JSON array (read back with jsonb_array_elements_text).
std::string json_id_list(const std::vector<std::string>& ids) { return nlohmann::json(ids).dump(); }

constexpr std::int64_t day_ms = 86'400'000;
/// UTC day number of a time in ms (floor).
std::int64_t day_of(std::int64_t t_ms) { return t_ms >= 0 ? t_ms / day_ms : -((-t_ms + day_ms - 1) / day_ms); }
/// records_YYYYMMDD of a day number.
std::string partition_name(std::int64_t day) {
  const std::chrono::year_month_day d{std::chrono::sys_days{std::chrono::days{day}}};
  const int y = static_cast<int>(d.year());
  const unsigned m = static_cast<unsigned>(d.month()), dd = static_cast<unsigned>(d.day());
  const auto two = [](unsigned v) { return std::string(v < 10 ? "0" : "") + std::to_string(v); };
  return "records_" + (y < 0 ? "m" + std::to_string(-y) : std::to_string(y)) + two(m) + two(dd);
}

// Statement names and texts, prepared at connect (a reader prepares only what it may run).
struct statement {
  const char* name;
  const char* sql;
  bool writes;
};

constexpr const char* alert_cols =
    "id, terminal, type, state, raised_ms, acked_ms, acked_by, ack_note, cleared_ms, value, threshold, message";
constexpr const char* command_cols = "id, terminal, name, args, sent_by, state, sent_ms, answered_ms, result, error";
constexpr const char* daily_cols =
    "terminal, day, volume_m3, volume_estimated_m3, turbidity_sum_ntu, turbidity_count, turbidity_max_ntu,"
    " compliant_count, records, turbidity_ok_s, compliant_s, totalizer_glitches, missing_records, energy_kwh,"
    " energy_estimated_kwh, energy_records, energy_glitches, sludge_level_s, sludge_ok_s";

const std::vector<statement>& statements() {
  static const std::vector<statement> all = [] {
    const std::string a = alert_cols, c = command_cols, d = daily_cols;
    static std::vector<std::string> texts;  // owns the composed texts for the program's life
    std::vector<statement> v;
    const auto add = [&v](const char* name, std::string sql, bool writes) {
      texts.push_back(std::move(sql));
      v.push_back({name, nullptr, writes});
    };
    // --- writes (apply) ---
    add("insert_records",
        "INSERT INTO records(terminal, epoch, seq, ts_ms, arrival_ms, record)"
        " SELECT terminal, epoch, seq, ts_ms, arrival_ms, record FROM jsonb_to_recordset($1::jsonb)"
        " AS x(terminal text, epoch text, seq bigint, ts_ms bigint, arrival_ms bigint, record text)"
        " ON CONFLICT DO NOTHING",
        true);
    add("note_partition",
        "INSERT INTO record_partitions(name, from_ms, to_ms) VALUES($1, $2, $3) ON CONFLICT DO NOTHING", true);
    // The sums a daily upsert adds to an existing row (missing_records apart: see the statement).
    const std::string daily_sums =
            " volume_estimated_m3 = daily.volume_estimated_m3 + excluded.volume_estimated_m3,"
            " turbidity_sum_ntu = daily.turbidity_sum_ntu + excluded.turbidity_sum_ntu,"
            " turbidity_count = daily.turbidity_count + excluded.turbidity_count,"
            " turbidity_max_ntu = greatest(daily.turbidity_max_ntu, excluded.turbidity_max_ntu),"
            " compliant_count = daily.compliant_count + excluded.compliant_count,"
            " records = daily.records + excluded.records,"
            " turbidity_ok_s = daily.turbidity_ok_s + excluded.turbidity_ok_s,"
            " compliant_s = daily.compliant_s + excluded.compliant_s,"
            " totalizer_glitches = daily.totalizer_glitches + excluded.totalizer_glitches,"
            " energy_kwh = daily.energy_kwh + excluded.energy_kwh,"
            " energy_estimated_kwh = daily.energy_estimated_kwh + excluded.energy_estimated_kwh,"
            " energy_records = daily.energy_records + excluded.energy_records,"
            " energy_glitches = daily.energy_glitches + excluded.energy_glitches,"
            " sludge_level_s = daily.sludge_level_s + excluded.sludge_level_s,"
            " sludge_ok_s = daily.sludge_ok_s + excluded.sludge_ok_s";
    // A batch's daily rows in one statement: $1 a JSON array of objects named as the columns, one
    // per (terminal, day). missing_records is an increment that may be negative: added as it is,
    // then clamp_daily_missing sets the rows that went below 0 back to 0 (greatest(0, old + inc);
    // ON CONFLICT cannot see the raw increment in excluded).
    add("upsert_daily_rows",
        "INSERT INTO daily(" + d + ") SELECT " + d + " FROM jsonb_to_recordset($1::jsonb) AS x(terminal text,"
            " day integer, volume_m3 float8, volume_estimated_m3 float8, turbidity_sum_ntu float8, turbidity_count"
            " bigint, turbidity_max_ntu float8, compliant_count bigint, records bigint, turbidity_ok_s float8,"
            " compliant_s float8, totalizer_glitches bigint, missing_records bigint, energy_kwh float8,"
            " energy_estimated_kwh float8, energy_records bigint, energy_glitches bigint, sludge_level_s float8,"
            " sludge_ok_s float8)"
            " ON CONFLICT(terminal, day) DO UPDATE SET volume_m3 = daily.volume_m3 + excluded.volume_m3,"
            " missing_records = daily.missing_records + excluded.missing_records," + daily_sums,
        true);
    add("clamp_daily_missing",
        "UPDATE daily SET missing_records = 0 WHERE missing_records < 0 AND (terminal, day) IN"
        " (SELECT terminal, day FROM jsonb_to_recordset($1::jsonb) AS x(terminal text, day integer))",
        true);
    // terminal_state: its columns and what an upsert replaces (all but the key).
    const std::string terminal_cols =
        "terminal, epoch, latest, latest_arrival_ms, status, status_arrival_ms,"
        " total_m3, total_ts_ms, total_valid, rules, rule_clock_ms, last_alive_ms, grace_until_ms, will,"
        " dedup_max_seq, dedup_ranges, dedup_accepted, dedup_floor, max_seq_ts_ms, suspect_count,"
        " suspect_first_m3, suspect_first_ts_ms, suspect_last_m3, suspect_last_ts_ms, suspect_estimate_m3,"
        " energy_kwh, energy_ts_ms, energy_valid, energy_suspect, energy_suspect_kwh, energy_suspect_ts_ms";
    const std::string terminal_updates =
        " ON CONFLICT(terminal) DO UPDATE SET epoch=excluded.epoch,"
        " latest=excluded.latest, latest_arrival_ms=excluded.latest_arrival_ms, status=excluded.status,"
        " status_arrival_ms=excluded.status_arrival_ms, total_m3=excluded.total_m3,"
        " total_ts_ms=excluded.total_ts_ms, total_valid=excluded.total_valid, rules=excluded.rules,"
        " rule_clock_ms=excluded.rule_clock_ms, last_alive_ms=excluded.last_alive_ms,"
        " grace_until_ms=excluded.grace_until_ms, will=excluded.will, dedup_max_seq=excluded.dedup_max_seq,"
        " dedup_ranges=excluded.dedup_ranges, dedup_accepted=excluded.dedup_accepted,"
        " dedup_floor=excluded.dedup_floor, max_seq_ts_ms=excluded.max_seq_ts_ms, suspect_count=excluded.suspect_count,"
        " suspect_first_m3=excluded.suspect_first_m3, suspect_first_ts_ms=excluded.suspect_first_ts_ms,"
        " suspect_last_m3=excluded.suspect_last_m3, suspect_last_ts_ms=excluded.suspect_last_ts_ms,"
        " suspect_estimate_m3=excluded.suspect_estimate_m3, energy_kwh=excluded.energy_kwh,"
        " energy_ts_ms=excluded.energy_ts_ms, energy_valid=excluded.energy_valid, energy_suspect=excluded.energy_suspect,"
        " energy_suspect_kwh=excluded.energy_suspect_kwh, energy_suspect_ts_ms=excluded.energy_suspect_ts_ms";
    // A batch's terminal rows in one statement: $1 a JSON array of objects named as the columns, one
    // per terminal; the blobs (rules, dedup_ranges) as bytea's text form (\\x + hex, esc_raw).
    add("upsert_terminal_rows",
        "INSERT INTO terminal_state(" + terminal_cols + ") SELECT " + terminal_cols +
            " FROM jsonb_to_recordset($1::jsonb) AS x(terminal text, epoch text, latest text, latest_arrival_ms bigint,"
            " status text, status_arrival_ms bigint, total_m3 float8, total_ts_ms bigint, total_valid boolean,"
            " rules bytea, rule_clock_ms bigint, last_alive_ms bigint, grace_until_ms bigint, will boolean,"
            " dedup_max_seq bigint, dedup_ranges bytea, dedup_accepted bigint, dedup_floor bigint, max_seq_ts_ms"
            " bigint, suspect_count bigint, suspect_first_m3 float8, suspect_first_ts_ms bigint, suspect_last_m3"
            " float8, suspect_last_ts_ms bigint, suspect_estimate_m3 float8, energy_kwh float8, energy_ts_ms bigint,"
            " energy_valid boolean, energy_suspect boolean, energy_suspect_kwh float8, energy_suspect_ts_ms bigint)" +
            terminal_updates,
        true);
    add("upsert_dedup",
        "INSERT INTO dedup(terminal, epoch, max_seq, ranges, accepted, floor) VALUES($1,$2,$3,$4,$5,$6)"
        " ON CONFLICT(terminal, epoch) DO UPDATE SET max_seq=excluded.max_seq, ranges=excluded.ranges,"
        " accepted=excluded.accepted, floor=excluded.floor",
        true);
    add("upsert_spill",
        "INSERT INTO dedup_spill(terminal, epoch, lo, hi) VALUES($1,$2,$3,$4) ON CONFLICT(terminal, epoch, lo)"
        " DO UPDATE SET hi = greatest(dedup_spill.hi, excluded.hi)",
        true);
    add("upsert_alert",
        "INSERT INTO alerts(" + a +
            ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT(id) DO UPDATE SET"
            " state=excluded.state, acked_ms=excluded.acked_ms, acked_by=excluded.acked_by,"
            " ack_note=excluded.ack_note, cleared_ms=excluded.cleared_ms, message=excluded.message",
        true);
    add("insert_transition",
        "INSERT INTO alert_transitions(alert_id, state, at_ms, by_name, note) VALUES($1,$2,$3,$4,$5)", true);
    add("insert_dead_letter",
        "INSERT INTO dead_letters(arrival_ms, topic, code, reason, payload) VALUES($1,$2,$3,$4,$5)", true);
    // Keeps the newest $1 rows (ids may have gaps: a rolled-back insert uses up its sequence value).
    add("trim_dead_letters",
        "DELETE FROM dead_letters WHERE id <= (SELECT id FROM dead_letters ORDER BY id DESC OFFSET $1 LIMIT 1)",
        true);
    add("upsert_command",
        "INSERT INTO commands(" + c +
            ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT(id) DO UPDATE SET state=excluded.state,"
            " answered_ms=excluded.answered_ms, result=excluded.result, error=excluded.error",
        true);
    add("insert_notification",
        "INSERT INTO notify_queue(target, subject_kind, subject_id, event, body, created_ms, attempts,"
        " next_attempt_ms, last_error) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        true);
    add("upsert_pump_hour",
        "INSERT INTO pump_run_hours(site_id, hour_ms, run_s, covered_s) VALUES($1,$2,$3,$4)"
        " ON CONFLICT(site_id, hour_ms) DO UPDATE SET run_s=excluded.run_s, covered_s=excluded.covered_s",
        true);
    add("cut_pump_hours", "DELETE FROM pump_run_hours WHERE site_id = $1 AND hour_ms < $2", true);
    add("add_flow_hour_rows",
        "INSERT INTO flow_hours(site_id, hour_ms, volume_m3, covered_s) SELECT site_id, hour_ms, volume_m3, covered_s"
        " FROM jsonb_to_recordset($1::jsonb) AS x(site_id text, hour_ms bigint, volume_m3 float8, covered_s float8)"
        " ON CONFLICT(site_id, hour_ms)"
        " DO UPDATE SET volume_m3=flow_hours.volume_m3+excluded.volume_m3, covered_s=flow_hours.covered_s+excluded.covered_s",
        true);
    add("cut_flow_hours_rows",
        "DELETE FROM flow_hours f USING jsonb_to_recordset($1::jsonb) AS x(site_id text, before_ms bigint)"
        " WHERE f.site_id = x.site_id AND f.hour_ms < x.before_ms",
        true);
    // A site's normal in one row (schema 3): cell i = day_type x 24 + hour (flow_normal.hpp).
    add("upsert_flow_normal_rows",
        "INSERT INTO flow_normal_sites(site_id, computed_day, median_m3h, low_m3h, days, prior)"
        " SELECT site_id, computed_day, median_m3h, low_m3h, days, prior FROM jsonb_to_recordset($1::jsonb)"
        " AS x(site_id text, computed_day integer, median_m3h float8[], low_m3h float8[], days bigint[],"
        " prior boolean[]) ON CONFLICT(site_id) DO UPDATE SET computed_day=excluded.computed_day,"
        " median_m3h=excluded.median_m3h, low_m3h=excluded.low_m3h, days=excluded.days, prior=excluded.prior",
        true);
    add("upsert_image",
        "INSERT INTO images(terminal, jpeg, arrival_ms) VALUES($1,$2,$3) ON CONFLICT(terminal) DO UPDATE SET"
        " jpeg=excluded.jpeg, arrival_ms=excluded.arrival_ms",
        true);
    // --- retention ---
    add("old_partitions", "SELECT name FROM record_partitions WHERE to_ms <= $1 ORDER BY from_ms", true);
    add("forget_partition", "DELETE FROM record_partitions WHERE name = $1", true);
    add("purge_records", "DELETE FROM records WHERE ts_ms < $1 AND arrival_ms < $1", true);
    add("purge_hourly", "DELETE FROM hourly WHERE hour_ms + 3600000 <= $1", true);
    // --- hourly rollup (issue 16 item 5) ---
    const std::string hc =
        "terminal, hour_ms, records, flow_n, flow_sum, flow_min, flow_max, turbidity_n, turbidity_sum,"
        " turbidity_min, turbidity_max, sludge_n, sludge_sum, sludge_min, sludge_max";
    add("partitions_before", "SELECT from_ms FROM record_partitions WHERE from_ms < $1 ORDER BY from_ms", true);
    add("rollup_records",
        "SELECT terminal, ts_ms, record FROM records WHERE ts_ms >= $1 AND ts_ms < $2 AND arrival_ms < $3", true);
    add("rollup_hourly", "SELECT " + hc + " FROM hourly WHERE hour_ms >= $1 AND hour_ms < $2", true);
    add("put_hourly",
        "INSERT INTO hourly(" + hc +
            ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) ON CONFLICT(terminal, hour_ms) DO UPDATE SET"
            " records=excluded.records, flow_n=excluded.flow_n, flow_sum=excluded.flow_sum, flow_min=excluded.flow_min,"
            " flow_max=excluded.flow_max, turbidity_n=excluded.turbidity_n, turbidity_sum=excluded.turbidity_sum,"
            " turbidity_min=excluded.turbidity_min, turbidity_max=excluded.turbidity_max, sludge_n=excluded.sludge_n,"
            " sludge_sum=excluded.sludge_sum, sludge_min=excluded.sludge_min, sludge_max=excluded.sludge_max",
        true);
    add("rollup_delete", "DELETE FROM records WHERE ts_ms >= $1 AND ts_ms < $2 AND arrival_ms < $3", true);
    add("hourly", "SELECT " + hc + " FROM hourly WHERE terminal = $1 AND hour_ms >= $2 AND hour_ms < $3"
        " ORDER BY hour_ms LIMIT $4", false);
    // --- notification queue ---
    add("notification_remove", "DELETE FROM notify_queue WHERE id = $1", true);
    add("notification_retry", "UPDATE notify_queue SET attempts = $2, next_attempt_ms = $3, last_error = $4 WHERE id = $1",
        true);
    add("notification_trim",
        "DELETE FROM notify_queue WHERE id IN (SELECT id FROM notify_queue ORDER BY id"
        " LIMIT greatest(0, (SELECT count(*) FROM notify_queue) - $1))",
        true);
    add("notify_once", "INSERT INTO notify_once(key, created_ms) VALUES($1, $2) ON CONFLICT DO NOTHING", true);
    // --- reads ---
    add("partitions", "SELECT name FROM record_partitions ORDER BY from_ms", false);
    add("partitions_from", "SELECT from_ms FROM record_partitions", true);
    add("load_terminals",
        "SELECT terminal, epoch, latest, latest_arrival_ms, status, status_arrival_ms, total_m3,"
        " total_ts_ms, total_valid, rules, rule_clock_ms, last_alive_ms, grace_until_ms, will,"
        " dedup_ranges, dedup_accepted, dedup_floor, max_seq_ts_ms, suspect_count, suspect_first_m3,"
        " suspect_first_ts_ms, suspect_last_m3, suspect_last_ts_ms, suspect_estimate_m3, energy_kwh,"
        " energy_ts_ms, energy_valid, energy_suspect, energy_suspect_kwh, energy_suspect_ts_ms FROM terminal_state",
        false);
    add("load_dedup",
        "(SELECT dedup_ranges, dedup_accepted, dedup_floor FROM terminal_state WHERE terminal = $1"
        " AND epoch = $2 AND dedup_accepted IS NOT NULL) UNION ALL (SELECT ranges, accepted, floor"
        " FROM dedup WHERE terminal = $1 AND epoch = $2 AND accepted IS NOT NULL) LIMIT 1",
        false);
    add("spilled",
        "SELECT hi FROM dedup_spill WHERE terminal = $1 AND epoch = $2 AND lo <= $3 ORDER BY lo DESC LIMIT 1", false);
    add("missing_left",
        "SELECT coalesce(sum(max_seq - accepted), 0)::bigint FROM dedup d WHERE accepted IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM terminal_state t WHERE t.terminal = d.terminal AND t.epoch = d.epoch)",
        false);
    add("alerts",
        "SELECT " + a +
            " FROM alerts WHERE ($1 = 0 OR state <> 'cleared') AND ($2::text IS NULL OR terminal = $2) AND " +
            detail::known_alert_rows_sql() + " ORDER BY id DESC LIMIT $3",
        false);
    add("find_alerts",
        "SELECT " + a +
            " FROM alerts WHERE ($1 = 'all' OR ($1 = 'open' AND state <> 'cleared') OR state = $1)"
            " AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR terminal = $3)"
            " AND ($4::jsonb IS NULL OR terminal IN (SELECT jsonb_array_elements_text($4::jsonb)))"
            " AND ($5::bigint IS NULL OR id < $5) AND " + detail::known_alert_rows_sql() +
            " ORDER BY id DESC LIMIT $6",
        false);
    add("alert", "SELECT " + a + " FROM alerts WHERE id = $1 AND " + detail::known_alert_rows_sql(), false);
    add("transitions", "SELECT state, at_ms, by_name, note FROM alert_transitions WHERE alert_id = $1 ORDER BY id",
        false);
    add("max_alert_id", "SELECT coalesce(max(id), 0) FROM alerts", false);
    add("history",
        "SELECT record, arrival_ms, ts_ms FROM records WHERE terminal = $1 AND ts_ms >= $2 AND ts_ms < $3"
        " ORDER BY ts_ms, seq LIMIT $4",
        false);
    add("daily_one",
        "SELECT " + d + " FROM daily WHERE terminal = $1 AND day >= $2 AND day <= $3 ORDER BY terminal COLLATE \"C\", day",
        false);
    add("daily_all", "SELECT " + d + " FROM daily WHERE day >= $1 AND day <= $2 ORDER BY terminal COLLATE \"C\", day",
        false);
    add("daily_totals",
        "SELECT day, sum(volume_m3), sum(volume_estimated_m3), sum(turbidity_ok_s), sum(compliant_s),"
        " sum(records)::bigint, sum(missing_records)::bigint, count(*) FILTER (WHERE records > 0),"
        " coalesce(sum(energy_kwh + energy_estimated_kwh) FILTER (WHERE energy_records > 0), 0),"
        " coalesce(sum(energy_estimated_kwh) FILTER (WHERE energy_records > 0), 0),"
        " coalesce(sum(volume_m3 + volume_estimated_m3) FILTER (WHERE energy_records > 0), 0),"
        " count(*) FILTER (WHERE energy_records > 0) FROM daily"
        " WHERE day >= $2 AND day <= $3 AND terminal IN (SELECT jsonb_array_elements_text($1::jsonb))"
        " GROUP BY day ORDER BY day",
        false);
    add("commands",
        "SELECT " + c +
            " FROM commands WHERE ($1::text IS NULL OR terminal = $1) AND ($2::text IS NULL OR state = $2)"
            " ORDER BY id DESC LIMIT $3",
        false);
    add("command", "SELECT " + c + " FROM commands WHERE id = $1", false);
    add("max_command_id", "SELECT coalesce(max(id), 0) FROM commands", false);
    add("pump_run_hours",
        "SELECT site_id, hour_ms, run_s, covered_s FROM pump_run_hours ORDER BY site_id COLLATE \"C\", hour_ms", false);
    add("flow_hours",
        "SELECT hour_ms, volume_m3, covered_s FROM flow_hours WHERE site_id = $1 AND hour_ms >= $2 AND hour_ms < $3"
        " ORDER BY hour_ms",
        false);
    add("flow_normals",
        "SELECT site_id, computed_day, median_m3h, low_m3h, days, prior FROM flow_normal_sites"
        " ORDER BY site_id COLLATE \"C\"",
        false);
    add("image", "SELECT jpeg, arrival_ms FROM images WHERE terminal = $1", false);
    add("image_arrival", "SELECT arrival_ms FROM images WHERE terminal = $1", false);
    add("dead_letters", "SELECT id, arrival_ms, topic, code, reason, payload FROM dead_letters ORDER BY id DESC LIMIT $1",
        false);
    add("raised_since", "SELECT count(*) FROM alerts WHERE raised_ms >= $1 AND " + detail::known_alert_rows_sql(), false);
    add("resolved_since",
        "SELECT count(*), coalesce(avg(cleared_ms - raised_ms), 0)::double precision FROM alerts"
        " WHERE cleared_ms IS NOT NULL AND cleared_ms >= $1 AND " + detail::known_alert_rows_sql(),
        false);
    add("fault_counts",
        "SELECT terminal, type,"
        " count(*) FILTER (WHERE raised_ms >= $1 AND raised_ms < $2),"
        " count(*) FILTER (WHERE cleared_ms IS NOT NULL AND cleared_ms >= $1 AND cleared_ms < $2),"
        " coalesce(sum(cleared_ms - raised_ms) FILTER (WHERE cleared_ms >= $1 AND cleared_ms < $2), 0)::bigint,"
        " count(*) FILTER (WHERE raised_ms < $2 AND (cleared_ms IS NULL OR cleared_ms >= $2))"
        " FROM alerts"
        " WHERE (raised_ms >= $1 AND raised_ms < $2) OR (cleared_ms >= $1 AND cleared_ms < $2)"
        "  OR (raised_ms < $2 AND (cleared_ms IS NULL OR cleared_ms >= $2))"
        " GROUP BY terminal, type ORDER BY terminal COLLATE \"C\", type COLLATE \"C\"",
        false);
    add("notification_heads",
        "SELECT q.id, q.target, q.subject_kind, q.subject_id, q.event, q.body, q.created_ms, q.attempts,"
        " q.next_attempt_ms, q.last_error FROM notify_queue q"
        " JOIN (SELECT min(id) AS id FROM notify_queue GROUP BY target) h ON q.id = h.id ORDER BY q.id LIMIT $1",
        false);
    add("notification_count", "SELECT count(*) FROM notify_queue", false);
    for (std::size_t i = 0; i < v.size(); ++i) v[i].sql = texts[i].c_str();
    return v;
  }();
  return all;
}

proto::alert_message read_alert(const pqxx::row& r) {
  proto::alert_message a;
  a.alert_id = u64(r[0]);
  a.terminal_id = r[1].as<std::string>();
  a.type = detail::alert_type_of_row(r[2].as<std::string>(), "alerts", r[0].as<long long>());  // queries keep known types
  a.state = proto::parse_alert_state(r[3].as<std::string>()).value_or(proto::alert_state::raised);
  a.raised_at = from_ms(r[4].as<std::int64_t>());
  if (!r[5].is_null()) a.acked_at = from_ms(r[5].as<std::int64_t>());
  if (!r[6].is_null()) a.acked_by = r[6].as<std::string>();
  if (!r[7].is_null()) a.ack_note = r[7].as<std::string>();
  if (!r[8].is_null()) a.cleared_at = from_ms(r[8].as<std::int64_t>());
  if (!r[9].is_null()) a.value = r[9].as<double>();
  if (!r[10].is_null()) a.threshold = r[10].as<double>();
  a.message = r[11].as<std::string>();
  return a;
}

command_row read_command(const pqxx::row& r) {
  command_row c;
  c.id = u64(r[0]);
  c.terminal_id = r[1].as<std::string>();
  c.name = r[2].as<std::string>();
  c.args_json = r[3].as<std::string>();
  c.by = r[4].as<std::string>();
  const auto st = r[5].as<std::string>();
  for (const auto x : all_command_states)
    if (st == to_string(x)) c.state = x;
  c.sent_at = from_ms(r[6].as<std::int64_t>());
  if (!r[7].is_null()) c.answered_at = from_ms(r[7].as<std::int64_t>());
  c.result_json = opt_text(r[8]);
  c.error = opt_text(r[9]);
  return c;
}

daily_row read_daily(const pqxx::row& r) {
  daily_row d;
  d.terminal_id = r[0].as<std::string>();
  auto& t = d.totals;
  t.day = r[1].as<std::int32_t>();
  t.volume_m3 = r[2].as<double>();
  t.volume_estimated_m3 = r[3].as<double>();
  t.turbidity_sum_ntu = r[4].as<double>();
  t.turbidity_count = static_cast<std::uint32_t>(r[5].as<std::int64_t>());
  t.turbidity_max_ntu = r[6].as<double>();
  t.compliant_count = static_cast<std::uint32_t>(r[7].as<std::int64_t>());
  t.records = static_cast<std::uint32_t>(r[8].as<std::int64_t>());
  t.turbidity_ok_s = r[9].as<double>();
  t.compliant_s = r[10].as<double>();
  t.totalizer_glitches = static_cast<std::uint32_t>(r[11].as<std::int64_t>());
  d.missing_records = r[12].as<std::int64_t>();
  t.energy_kwh = r[13].as<double>();
  t.energy_estimated_kwh = r[14].as<double>();
  t.energy_records = static_cast<std::uint32_t>(r[15].as<std::int64_t>());
  t.energy_glitches = static_cast<std::uint32_t>(r[16].as<std::int64_t>());
  t.sludge_level_s = r[17].as<double>();
  t.sludge_ok_s = r[18].as<double>();
  return d;
}

}  // namespace

class postgresql_store::impl {
 public:
  impl(const std::string& uri, std::size_t dl_max, access mode)
      : uri_(uri),
        where_("postgresql " + redact_postgresql_uri(uri)),
        dead_letter_max_(dl_max),
        read_only_(mode == access::read_only) {
    guard("open", [&] { connect(true); });
  }

  /// Opens the connection: session settings, the schema (migrated at the first open of a
  /// read_write store; checked by a reader), prepared statements, the known partitions.
  void connect(bool first) {
    auto c = std::make_unique<pqxx::connection>(uri_);
    // libpqxx 6.4 would re-open a broken connection by itself inside the failing call (without
    // this store's session settings and partitions); this store opens a new one itself (conn()).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    // Notices ("relation ... already exists, skipping") would go to stderr through libpqxx.
    c->set_variable("client_min_messages", "warning");
    if (timeout_ms_ > 0) c->set_variable("statement_timeout", std::to_string(timeout_ms_));
    if (read_only_) {
      c->set_variable("default_transaction_read_only", "on");
      const int v = detail::pg_schema_version(*c);
      if (v != postgresql_schema_version)
        throw store_error("database schema version " + std::to_string(v) + ", this gateway reads version " +
                          std::to_string(postgresql_schema_version) + " (a read-only connection never migrates)");
    } else if (first) {
      detail::pg_migrate(*c, postgresql_schema_version);
    }
    // Registered with the server now, not at first use: a statement that does not parse fails the
    // open, and a first use on a broken connection cannot hit libpqxx 6.4's register_prepared,
    // which leaks the libpq result of a failed PQprepare (LeakSanitizer).
    for (const auto& s : statements()) {
      if (s.writes && read_only_) continue;
      c->prepare(s.name, s.sql);
      c->prepare_now(s.name);
    }
    known_.clear();
    if (!read_only_) {
      pqxx::nontransaction t(*c);
      for (const auto& r : t.exec_prepared("partitions_from")) known_.insert(day_of(r[0].as<std::int64_t>()));
    }
    conn_ = std::move(c);
  }

  /// The connection, opened again when the last one broke (the server restarted or ended it).
  pqxx::connection& conn() {
    if (!conn_) connect(false);
    return *conn_;
  }

  /// Runs `f`, turning every database failure into store_error (store_timeout for a statement
  /// cancelled by statement_timeout) that names the operation and the database (no password).
  template <class F>
  auto guard(const char* op, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const store_error&) {
      throw;
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();  // the next call opens a new one
      throw store_error(where_ + ": " + op + ": connection lost: " + e.what());
    } catch (const pqxx::in_doubt_error& e) {
      conn_.reset();
      throw store_error(where_ + ": " + op + ": connection lost during commit (outcome unknown): " + e.what());
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "57014")
        throw store_timeout(std::string(op) + ": statement cancelled: the request used up its time limit");
      throw store_error(where_ + ": " + op + ": " + e.what());
    } catch (const std::exception& e) {
      throw store_error(where_ + ": " + op + ": " + e.what());
    }
  }

  /// The fencing check (store::set_commit_fence), the last statement of a write transaction
  /// before its COMMIT. Not prepared: gateway_leader is the lease's table and may not exist when
  /// this connection opens. Throws store_fenced (the caller's transaction is then rolled back).
  void check_fence(pqxx::work& t) {
    if (fence_) detail::check_commit_fence(t, *fence_, where_);
  }

  void refuse_write(const char* what) const {
    if (read_only_) throw store_error(where_ + ": read-only connection: " + what + " refused");
  }

  /// One read statement in autocommit mode.
  template <class... A>
  pqxx::result read(const char* name, A&&... args) {
    pqxx::nontransaction t(conn());
    return t.exec_prepared(name, std::forward<A>(args)...);
  }

  /// Creates the day partitions that `days` need and `known_` lacks, inside `t`. DDL takes no
  /// parameters: the name and bounds are computed from the day numbers, never from input text.
  void ensure_partitions(pqxx::work& t, const std::set<std::int64_t>& days, std::set<std::int64_t>& created) {
    for (const auto day : days) {
      if (known_.count(day) != 0) continue;
      const auto name = partition_name(day);
      const std::int64_t from = day * day_ms, to = from + day_ms;
      t.exec("CREATE TABLE IF NOT EXISTS " + t.quote_name(name) + " PARTITION OF records FOR VALUES FROM (" +
             std::to_string(from) + ") TO (" + std::to_string(to) + ")");
      t.exec_prepared("note_partition", name, from, to);
      created.insert(day);
    }
  }

  std::string uri_;  // holds the password: never in a message (where_ is redacted)
  std::string where_;
  std::size_t dead_letter_max_;
  bool read_only_{false};
  std::int64_t timeout_ms_{0};  // statement_timeout, ms; 0 = none
  std::unique_ptr<pqxx::connection> conn_;  // null after a lost connection (conn() opens a new one)
  std::set<std::int64_t> known_;  // day partitions known to exist (created or seen by this connection)
  std::optional<commit_fence> fence_;  // set_commit_fence
};

postgresql_store::postgresql_store(const std::string& uri, std::size_t dead_letter_max_rows, access mode)
    : impl_(std::make_unique<impl>(uri, dead_letter_max_rows, mode)) {}
postgresql_store::~postgresql_store() = default;

int postgresql_store::schema_version() {
  return impl_->guard("schema_version", [&] { return detail::pg_schema_version(impl_->conn()); });
}

std::vector<std::string> postgresql_store::record_partitions() {
  return impl_->guard("record_partitions", [&] {
    std::vector<std::string> out;
    for (const auto& r : impl_->read("partitions")) out.push_back(r[0].as<std::string>());
    return out;
  });
}

void postgresql_store::set_cpu_limit(std::optional<std::chrono::nanoseconds> limit) {
  impl_->guard("set_cpu_limit", [&] {
    const std::int64_t ms_limit = limit ? std::max<std::int64_t>(1, (limit->count() + 999'999) / 1'000'000) : 0;
    impl_->timeout_ms_ = ms_limit;
    impl_->conn().set_variable("statement_timeout", std::to_string(ms_limit));  // a computed integer
  });
}

void postgresql_store::set_commit_fence(const commit_fence& fence) { impl_->fence_ = fence; }

void postgresql_store::apply(const write_batch& b) {
  auto& d = *impl_;
  d.refuse_write("apply");
  std::set<std::int64_t> created;
  d.guard("apply", [&] {
    created.clear();
    pqxx::work t(d.conn());
    if (!b.records.empty()) {
      std::set<std::int64_t> days;
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : b.records) {
        const auto ts = ms(r.effective_ts());
        days.insert(day_of(ts));
        rows.push_back({{"terminal", r.record.terminal_id},
                        {"epoch", r.record.epoch},
                        {"seq", i64(r.record.seq)},
                        {"ts_ms", ts},
                        {"arrival_ms", ms(r.arrival)},
                        {"record", r.payload.empty() ? proto::encode(r.record) : r.payload}});
      }
      d.ensure_partitions(t, days, created);
      t.exec_prepared("insert_records", rows.dump());
    }
    // daily and terminal_state in one statement each (a round trip per row cost the PostgreSQL
    // backend 97 % of its ingest rate at 100,000 terminals, issue 16 item 4); rounds keep the
    // batch's order when a key repeats.
    {
      row_rounds daily_rows(t, "upsert_daily_rows");
      for (const auto& r : b.daily) {
        const auto& x = r.totals;
        daily_rows.add(r.terminal_id + '\x1f' + std::to_string(x.day),
                       {{"terminal", r.terminal_id},
                        {"day", static_cast<std::int64_t>(x.day)},
                        {"volume_m3", num(x.volume_m3)},
                        {"volume_estimated_m3", num(x.volume_estimated_m3)},
                        {"turbidity_sum_ntu", num(x.turbidity_sum_ntu)},
                        {"turbidity_count", std::int64_t{x.turbidity_count}},
                        {"turbidity_max_ntu", num(x.turbidity_max_ntu)},
                        {"compliant_count", std::int64_t{x.compliant_count}},
                        {"records", std::int64_t{x.records}},
                        {"turbidity_ok_s", num(x.turbidity_ok_s)},
                        {"compliant_s", num(x.compliant_s)},
                        {"totalizer_glitches", std::int64_t{x.totalizer_glitches}},
                        {"missing_records", r.missing_records},
                        {"energy_kwh", num(x.energy_kwh)},
                        {"energy_estimated_kwh", num(x.energy_estimated_kwh)},
                        {"energy_records", std::int64_t{x.energy_records}},
                        {"energy_glitches", std::int64_t{x.energy_glitches}},
                        {"sludge_level_s", num(x.sludge_level_s)},
                        {"sludge_ok_s", num(x.sludge_ok_s)}},
                       r.missing_records < 0 ? "clamp_daily_missing" : nullptr);
      }
      daily_rows.flush();
    }
    {
      row_rounds terminal_rows(t, "upsert_terminal_rows");
      for (const auto& s : b.terminals) {
        const nlohmann::json latest = !s.latest_json.empty() ? nlohmann::json(s.latest_json)
                                      : s.latest             ? nlohmann::json(proto::encode(*s.latest))
                                                             : nlohmann::json(nullptr);
        const nlohmann::json status = s.status ? nlohmann::json(proto::encode(*s.status)) : nlohmann::json(nullptr);
        terminal_rows.add(s.terminal_id,
                          {{"terminal", s.terminal_id},
                           {"epoch", s.epoch},
                           {"latest", latest},
                           {"latest_arrival_ms", ms(s.latest_arrival)},
                           {"status", status},
                           {"status_arrival_ms", ms(s.status_arrival)},
                           {"total_m3", num(s.cursor.total_m3)},
                           {"total_ts_ms", s.cursor.ts_ms},
                           {"total_valid", s.cursor.valid},
                           {"rules", bytea_text(t, detail::rules_to_blob(s))},
                           {"rule_clock_ms", s.rule_clock_ms},
                           {"last_alive_ms", s.last_alive_ms},
                           {"grace_until_ms", s.grace_until_ms},
                           {"will", s.will},
                           {"dedup_max_seq", i64(s.seen.max_seq())},
                           {"dedup_ranges", bytea_text(t, seq_set::to_blob(s.seen.ranges()))},
                           {"dedup_accepted", i64(s.seen.accepted())},
                           {"dedup_floor", i64(s.seen.spill_floor())},
                           {"max_seq_ts_ms", s.max_seq_ts_ms},
                           {"suspect_count", std::int64_t{s.cursor.suspect_count}},
                           {"suspect_first_m3", num(s.cursor.suspect_first_m3)},
                           {"suspect_first_ts_ms", s.cursor.suspect_first_ts_ms},
                           {"suspect_last_m3", num(s.cursor.suspect_last_m3)},
                           {"suspect_last_ts_ms", s.cursor.suspect_last_ts_ms},
                           {"suspect_estimate_m3", num(s.cursor.suspect_estimate_m3)},
                           {"energy_kwh", num(s.energy.kwh)},
                           {"energy_ts_ms", s.energy.ts_ms},
                           {"energy_valid", s.energy.valid},
                           {"energy_suspect", s.energy.suspect},
                           {"energy_suspect_kwh", num(s.energy.suspect_kwh)},
                           {"energy_suspect_ts_ms", s.energy.suspect_ts_ms}});
      }
      terminal_rows.flush();
    }
    for (const auto& w : b.retired_sets)
      t.exec_prepared("upsert_dedup", w.terminal_id, w.epoch, i64(w.seen.max_seq()),
                      pqxx::binarystring(seq_set::to_blob(w.seen.ranges())), i64(w.seen.accepted()),
                      i64(w.seen.spill_floor()));
    for (const auto& sp : b.spilled)
      t.exec_prepared("upsert_spill", sp.terminal_id, sp.epoch, i64(sp.range.lo), i64(sp.range.hi));
    for (const auto& a : b.alerts)
      t.exec_prepared("upsert_alert", i64(a.alert_id), a.terminal_id, std::string(proto::to_string(a.type)),
                      std::string(proto::to_string(a.state)), ms(a.raised_at), opt_ms(a.acked_at), a.acked_by,
                      a.ack_note, opt_ms(a.cleared_at), a.value, a.threshold, a.message);
    for (const auto& x : b.transitions)
      t.exec_prepared("insert_transition", i64(x.alert_id), std::string(proto::to_string(x.state)), ms(x.at), x.by,
                      x.note);
    for (const auto& l : b.dead_letters)
      t.exec_prepared("insert_dead_letter", ms(l.arrival), l.topic, l.code, l.reason,
                      pqxx::binarystring(l.payload.data(), std::min<std::size_t>(l.payload.size(), 4096)));
    if (!b.dead_letters.empty())
      t.exec_prepared("trim_dead_letters", static_cast<std::int64_t>(d.dead_letter_max_));
    for (const auto& c : b.commands)
      t.exec_prepared("upsert_command", i64(c.id), c.terminal_id, c.name, c.args_json, c.by,
                      std::string(to_string(c.state)), ms(c.sent_at), opt_ms(c.answered_at), c.result_json, c.error);
    for (const auto& n : b.notifications)
      t.exec_prepared("insert_notification", n.target, n.subject_kind, i64(n.subject_id), n.event, n.body,
                      n.created_ms, std::int64_t{n.attempts}, n.next_attempt_ms, n.last_error);
    for (const auto& h : b.pump_run_hours)
      t.exec_prepared("upsert_pump_hour", h.site_id, h.hour_ms, h.run_s, h.covered_s);
    for (const auto& c : b.pump_run_cuts) t.exec_prepared("cut_pump_hours", c.first, c.second);
    {
      row_rounds flow_rows(t, "add_flow_hour_rows");
      for (const auto& h : b.flow_hours)
        flow_rows.add(h.site_id + '\x1f' + std::to_string(h.hour_ms),
                      {{"site_id", h.site_id}, {"hour_ms", h.hour_ms}, {"volume_m3", num(h.volume_m3)},
                       {"covered_s", num(h.covered_s)}});
      flow_rows.flush();
    }
    if (!b.flow_hour_cuts.empty()) {
      nlohmann::json cuts = nlohmann::json::array();
      for (const auto& c : b.flow_hour_cuts) cuts.push_back({{"site_id", c.first}, {"before_ms", c.second}});
      t.exec_prepared("cut_flow_hours_rows", cuts.dump());
    }
    {
      // A site's normal is one row: its 48 cells (2 day types x 24 hours) as arrays.
      row_rounds normal_rows(t, "upsert_flow_normal_rows");
      for (const auto& n : b.flow_normals) {
        nlohmann::json median = nlohmann::json::array(), low = nlohmann::json::array(), days = nlohmann::json::array(),
                       prior = nlohmann::json::array();
        for (const auto dt : {day_type::weekday, day_type::weekend})
          for (int h = 0; h < 24; ++h) {
            const auto& c = n.normal.at(dt, h);
            median.push_back(num(c.median_m3h));
            low.push_back(num(c.low_m3h));
            days.push_back(std::int64_t{c.days});
            prior.push_back(c.prior);
          }
        normal_rows.add(n.site_id, {{"site_id", n.site_id},
                                    {"computed_day", n.normal.computed_day},
                                    {"median_m3h", std::move(median)},
                                    {"low_m3h", std::move(low)},
                                    {"days", std::move(days)},
                                    {"prior", std::move(prior)}});
      }
      normal_rows.flush();
    }
    for (const auto& im : b.images)
      t.exec_prepared("upsert_image", im.terminal_id, pqxx::binarystring(im.jpeg), ms(im.arrival));
    d.check_fence(t);
    t.commit();
  });
  d.known_.insert(created.begin(), created.end());
}

std::vector<terminal_snapshot> postgresql_store::load_terminals() {
  return impl_->guard("load_terminals", [&] {
    std::vector<terminal_snapshot> out;
    for (const auto& r : impl_->read("load_terminals")) {
      terminal_snapshot t;
      t.terminal_id = r[0].as<std::string>();
      t.epoch = r[1].as<std::string>();
      if (!r[2].is_null()) {
        auto rec = proto::decode_telemetry(r[2].as<std::string>(), t.terminal_id);
        if (rec.ok()) t.latest = std::move(*rec.value);
      }
      t.latest_arrival = from_ms(r[3].as<std::int64_t>());
      if (!r[4].is_null()) {
        auto st = proto::decode_status(r[4].as<std::string>(), t.terminal_id);
        if (st.ok()) t.status = std::move(*st.value);
      }
      t.status_arrival = from_ms(r[5].as<std::int64_t>());
      t.cursor.total_m3 = r[6].as<double>();
      t.cursor.ts_ms = r[7].as<std::int64_t>();
      t.cursor.valid = r[8].as<bool>();
      detail::rules_from_blob(bytes(r[9]), t);
      t.rule_clock_ms = r[10].as<std::int64_t>();
      t.last_alive_ms = r[11].as<std::int64_t>();
      t.grace_until_ms = r[12].as<std::int64_t>();
      t.will = r[13].as<bool>();
      if (!r[15].is_null()) t.seen = seq_set(seq_set::from_blob(bytes(r[14])), u64(r[15]), u64(r[16]));
      t.max_seq_ts_ms = r[17].as<std::int64_t>();
      t.cursor.suspect_count = static_cast<std::uint32_t>(r[18].as<std::int64_t>());
      t.cursor.suspect_first_m3 = r[19].as<double>();
      t.cursor.suspect_first_ts_ms = r[20].as<std::int64_t>();
      t.cursor.suspect_last_m3 = r[21].as<double>();
      t.cursor.suspect_last_ts_ms = r[22].as<std::int64_t>();
      t.cursor.suspect_estimate_m3 = r[23].as<double>();
      t.energy.kwh = r[24].as<double>();
      t.energy.ts_ms = r[25].as<std::int64_t>();
      t.energy.valid = r[26].as<bool>();
      t.energy.suspect = r[27].as<bool>();
      t.energy.suspect_kwh = r[28].as<double>();
      t.energy.suspect_ts_ms = r[29].as<std::int64_t>();
      out.push_back(std::move(t));
    }
    return out;
  });
}

std::optional<seq_set> postgresql_store::load_dedup(const std::string& terminal_id, const std::string& epoch) {
  return impl_->guard("load_dedup", [&] {
    std::optional<seq_set> out;
    const auto r = impl_->read("load_dedup", terminal_id, epoch);
    if (!r.empty()) out = seq_set(seq_set::from_blob(bytes(r[0][0])), u64(r[0][1]), u64(r[0][2]));
    return out;
  });
}

bool postgresql_store::spilled_contains(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq) {
  return impl_->guard("spilled_contains", [&] {
    const auto r = impl_->read("spilled", terminal_id, epoch, i64(seq));
    return !r.empty() && u64(r[0][0]) >= seq;
  });
}

std::uint64_t postgresql_store::missing_in_left_epochs() {
  return impl_->guard("missing_in_left_epochs", [&] {
    const auto v = impl_->read("missing_left")[0][0].as<std::int64_t>();
    return v > 0 ? static_cast<std::uint64_t>(v) : std::uint64_t{0};
  });
}

std::vector<proto::alert_message> postgresql_store::alerts(bool open_only, const std::optional<std::string>& terminal_id,
                                                           std::size_t limit) {
  return impl_->guard("alerts", [&] {
    std::vector<proto::alert_message> out;
    for (const auto& r : impl_->read("alerts", open_only ? 1 : 0, terminal_id, limit_param(limit)))
      out.push_back(read_alert(r));
    return out;
  });
}

std::vector<proto::alert_message> postgresql_store::find_alerts(const alert_query& q) {
  const char* state = "all";
  switch (q.state) {
    case alert_query::state_filter::open: state = "open"; break;
    case alert_query::state_filter::raised: state = "raised"; break;
    case alert_query::state_filter::acknowledged: state = "acknowledged"; break;
    case alert_query::state_filter::cleared: state = "cleared"; break;
    case alert_query::state_filter::all: state = "all"; break;
  }
  return impl_->guard("find_alerts", [&] {
    std::vector<proto::alert_message> out;
    const auto r = impl_->read(
        "find_alerts", std::string(state),
        q.type ? std::optional<std::string>(std::string(proto::to_string(*q.type))) : std::nullopt, q.terminal_id,
        q.terminal_ids ? std::optional<std::string>(json_id_list(*q.terminal_ids)) : std::nullopt,
        q.before_id ? std::optional<std::int64_t>(i64(*q.before_id)) : std::nullopt, limit_param(q.limit));
    for (const auto& row : r) out.push_back(read_alert(row));
    return out;
  });
}

std::optional<proto::alert_message> postgresql_store::alert(std::uint64_t alert_id) {
  return impl_->guard("alert", [&] {
    std::optional<proto::alert_message> out;
    const auto r = impl_->read("alert", i64(alert_id));
    if (!r.empty()) out = read_alert(r[0]);
    return out;
  });
}

std::vector<alert_transition> postgresql_store::transitions(std::uint64_t alert_id) {
  return impl_->guard("transitions", [&] {
    std::vector<alert_transition> out;
    for (const auto& r : impl_->read("transitions", i64(alert_id))) {
      const auto state = proto::parse_alert_state(r[0].as<std::string>());
      if (!state) continue;  // a step of a newer build's state (detail/alert_rows.hpp): never shown as another
      out.push_back({alert_id, *state, from_ms(r[1].as<std::int64_t>()), opt_text(r[2]).value_or(""),
                     opt_text(r[3]).value_or("")});
    }
    return out;
  });
}

std::uint64_t postgresql_store::max_alert_id() {
  return impl_->guard("max_alert_id", [&] { return u64(impl_->read("max_alert_id")[0][0]); });
}

std::vector<record_row> postgresql_store::history(const std::string& terminal_id, proto::timestamp from,
                                                  proto::timestamp to, std::size_t limit) {
  return impl_->guard("history", [&] {
    std::vector<record_row> out;
    for (const auto& r : impl_->read("history", terminal_id, ms(from), ms(to), limit_param(limit))) {
      auto rec = proto::decode_telemetry(r[0].as<std::string>(), terminal_id);
      if (!rec.ok()) continue;
      // ts_ms holds the effective time: the stamp when trusted, else the arrival (store.hpp).
      const bool trusted = ms(rec.value->ts) == r[2].as<std::int64_t>();
      out.push_back({std::move(*rec.value), from_ms(r[1].as<std::int64_t>()), std::string(), trusted});
    }
    return out;
  });
}

std::vector<daily_row> postgresql_store::daily(const std::optional<std::string>& terminal_id, std::int32_t from_day,
                                               std::int32_t to_day) {
  return impl_->guard("daily", [&] {
    std::vector<daily_row> out;
    const auto r = terminal_id ? impl_->read("daily_one", *terminal_id, from_day, to_day)
                               : impl_->read("daily_all", from_day, to_day);
    for (const auto& row : r) out.push_back(read_daily(row));
    return out;
  });
}

std::vector<daily_total_row> postgresql_store::daily_totals(const std::vector<std::string>& terminal_ids,
                                                            std::int32_t from_day, std::int32_t to_day) {
  return impl_->guard("daily_totals", [&] {
    std::vector<daily_total_row> out;
    for (const auto& r : impl_->read("daily_totals", json_id_list(terminal_ids), from_day, to_day)) {
      daily_total_row x;
      x.day = r[0].as<std::int32_t>();
      x.volume_m3 = r[1].as<double>();
      x.volume_estimated_m3 = r[2].as<double>();
      x.turbidity_ok_s = r[3].as<double>();
      x.compliant_s = r[4].as<double>();
      x.records = r[5].as<std::int64_t>();
      x.missing_records = r[6].as<std::int64_t>();
      x.terminals_reporting = r[7].as<std::int64_t>();
      x.energy_kwh = r[8].as<double>();
      x.energy_estimated_kwh = r[9].as<double>();
      x.metered_volume_m3 = r[10].as<double>();
      x.terminals_metered = r[11].as<std::int64_t>();
      out.push_back(x);
    }
    return out;
  });
}

std::vector<command_row> postgresql_store::commands(const std::optional<std::string>& terminal_id,
                                                    std::optional<command_state> state, std::size_t limit) {
  return impl_->guard("commands", [&] {
    std::vector<command_row> out;
    const auto r = impl_->read("commands", terminal_id,
                               state ? std::optional<std::string>(to_string(*state)) : std::nullopt,
                               limit_param(limit));
    for (const auto& row : r) out.push_back(read_command(row));
    return out;
  });
}

std::optional<command_row> postgresql_store::command(std::uint64_t id) {
  return impl_->guard("command", [&] {
    std::optional<command_row> out;
    const auto r = impl_->read("command", i64(id));
    if (!r.empty()) out = read_command(r[0]);
    return out;
  });
}

std::uint64_t postgresql_store::max_command_id() {
  return impl_->guard("max_command_id", [&] { return u64(impl_->read("max_command_id")[0][0]); });
}

std::vector<pump_run_hour> postgresql_store::load_pump_run_hours() {
  return impl_->guard("load_pump_run_hours", [&] {
    std::vector<pump_run_hour> out;
    for (const auto& r : impl_->read("pump_run_hours"))
      out.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<double>(), r[3].as<double>()});
    return out;
  });
}

std::vector<flow_hour> postgresql_store::flow_hours(const std::string& site_id, std::int64_t from_ms,
                                                    std::int64_t to_ms) {
  return impl_->guard("flow_hours", [&] {
    std::vector<flow_hour> out;
    for (const auto& r : impl_->read("flow_hours", site_id, from_ms, to_ms))
      out.push_back({site_id, r[0].as<std::int64_t>(), r[1].as<double>(), r[2].as<double>()});
    return out;
  });
}

std::vector<site_flow_normal> postgresql_store::load_flow_normals() {
  return impl_->guard("load_flow_normals", [&] {
    std::vector<site_flow_normal> out;
    for (const auto& r : impl_->read("flow_normals")) {
      const auto median = pg_array<double>(r[2]), low = pg_array<double>(r[3]);
      const auto days = pg_array<std::int64_t>(r[4]);
      const auto prior = pg_array<bool>(r[5]);
      constexpr std::size_t cells = 48;
      if (median.size() != cells || low.size() != cells || days.size() != cells || prior.size() != cells) {
        // Only a hand edit makes one; the engine learns that site's normal again at its next day.
        spdlog::warn("flow_normal_sites: site {} has not 48 cells in every array; its normal is not loaded",
                     r[0].as<std::string>());
        continue;
      }
      site_flow_normal n{r[0].as<std::string>(), flow_normal{}};
      n.normal.computed_day = r[1].as<std::int32_t>();
      for (std::size_t i = 0; i < cells; ++i)
        n.normal.at(i < 24 ? day_type::weekday : day_type::weekend, static_cast<int>(i % 24)) = {
            median[i], low[i], static_cast<std::uint32_t>(days[i]), prior[i]};
      out.push_back(std::move(n));
    }
    return out;
  });
}

std::optional<std::pair<std::string, proto::timestamp>> postgresql_store::image(const std::string& terminal_id) {
  return impl_->guard("image", [&] {
    std::optional<std::pair<std::string, proto::timestamp>> out;
    const auto r = impl_->read("image", terminal_id);
    if (!r.empty()) out.emplace(bytes(r[0][0]), from_ms(r[0][1].as<std::int64_t>()));
    return out;
  });
}

std::optional<proto::timestamp> postgresql_store::image_arrival(const std::string& terminal_id) {
  return impl_->guard("image_arrival", [&] {
    std::optional<proto::timestamp> out;
    const auto r = impl_->read("image_arrival", terminal_id);
    if (!r.empty()) out = from_ms(r[0][0].as<std::int64_t>());
    return out;
  });
}

std::vector<dead_letter_row> postgresql_store::dead_letters(std::size_t limit) {
  return impl_->guard("dead_letters", [&] {
    std::vector<dead_letter_row> out;
    for (const auto& r : impl_->read("dead_letters", limit_param(limit)))
      out.push_back({r[0].as<std::int64_t>(), from_ms(r[1].as<std::int64_t>()), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), bytes(r[5])});
    return out;
  });
}

fault_stats postgresql_store::faults_since(proto::timestamp from) {
  return impl_->guard("faults_since", [&] {
    fault_stats f;
    f.raised = u64(impl_->read("raised_since", ms(from))[0][0]);
    const auto r = impl_->read("resolved_since", ms(from));
    f.resolved = u64(r[0][0]);
    f.mean_time_to_resolve_s = r[0][1].as<double>() / 1000.0;
    return f;
  });
}

std::vector<fault_counts> postgresql_store::fault_counts_between(proto::timestamp from, proto::timestamp to) {
  return impl_->guard("fault_counts_between", [&] {
    std::vector<fault_counts> out;
    for (const auto& r : impl_->read("fault_counts", ms(from), ms(to))) {
      const auto type = proto::parse_alert_type(r[1].as<std::string>());
      if (!type) continue;  // a type this build does not know (written by a newer gateway)
      out.push_back({r[0].as<std::string>(), *type, u64(r[2]), u64(r[3]), r[4].as<std::int64_t>(), u64(r[5])});
    }
    return out;
  });
}

std::size_t postgresql_store::purge_records_before(proto::timestamp before) {
  impl_->refuse_write("purge");
  auto& d = *impl_;
  const auto n = d.guard("purge_records_before", [&] {
    std::size_t count = 0;
    pqxx::work t(d.conn());
    // Whole days before `before`: dropped when every record in them also arrived before it (a
    // recent record is never deleted for an old stamp); otherwise the DELETE below takes the rest.
    for (const auto& p : t.exec_prepared("old_partitions", ms(before))) {
      const auto name = p[0].as<std::string>();
      const auto table = t.quote_name(name);
      const auto r = t.exec("SELECT count(*), coalesce(max(arrival_ms), 0) FROM " + table);
      if (r[0][1].as<std::int64_t>() >= ms(before)) continue;
      count += r[0][0].as<std::size_t>();
      t.exec("DROP TABLE " + table);
      t.exec_prepared("forget_partition", name);
    }
    count += t.exec_prepared("purge_records", ms(before)).affected_rows();
    t.exec_prepared("purge_hourly", ms(before));
    d.check_fence(t);
    t.commit();
    return count;
  });
  // Dropped partitions are created again if a record for their day comes.
  for (auto it = d.known_.begin(); it != d.known_.end();)
    it = (*it + 1) * day_ms <= ms(before) ? d.known_.erase(it) : std::next(it);
  return n;
}

namespace {
// Columns c.. c+3 of an hourly row: n, sum, min, max of one quantity.
void read_hourly_stat(const pqxx::row& r, int c, hourly_stat& h) {
  h.n = static_cast<std::uint32_t>(r[c].as<std::int64_t>());
  h.sum = r[c + 1].as<double>();
  h.min = r[c + 2].is_null() ? 0.0 : r[c + 2].as<double>();
  h.max = r[c + 3].is_null() ? 0.0 : r[c + 3].as<double>();
}
hourly_row read_hourly(const pqxx::row& r) {
  hourly_row h;
  h.terminal_id = r[0].as<std::string>();
  h.hour = from_ms(r[1].as<std::int64_t>());
  h.records = static_cast<std::uint32_t>(r[2].as<std::int64_t>());
  read_hourly_stat(r, 3, h.flow_rate_m3h);
  read_hourly_stat(r, 7, h.turbidity_ntu);
  read_hourly_stat(r, 11, h.sludge_level_m);
  return h;
}
std::optional<double> extreme(const hourly_stat& s, double v) { return s.n > 0 ? std::optional<double>(v) : std::nullopt; }
}  // namespace

rollup_result postgresql_store::roll_up_records_before(proto::timestamp before, std::size_t max_days) {
  impl_->refuse_write("roll_up");
  auto& d = *impl_;
  // The day partitions that start before `before` (record_partitions), oldest first: one UTC day
  // of effective time per transaction, each read within its own partition.
  const auto days = d.guard("roll_up", [&] {
    std::vector<std::int64_t> out;
    for (const auto& r : d.read("partitions_before", ms(before))) out.push_back(r[0].as<std::int64_t>());
    return out;
  });
  rollup_result out;
  for (const auto start : days) {
    if (max_days != 0 && out.days >= max_days) break;
    const auto cut = std::min(start + day_ms, ms(before));
    const auto n = d.guard("roll_up", [&] {
      pqxx::work t(d.conn());
      std::map<std::pair<std::string, std::int64_t>, hourly_row> rows;
      for (const auto& r : t.exec_prepared("rollup_records", start, cut, ms(before))) {
        auto terminal = r[0].as<std::string>();
        auto& h = rows[{terminal, ms(hour_start(from_ms(r[1].as<std::int64_t>())))}];
        const auto rec = proto::decode_telemetry(r[2].as<std::string>(), terminal);
        if (rec.ok()) {
          h.add(*rec.value);
        } else {
          ++h.records;
        }
      }
      if (rows.empty()) return std::size_t{0};
      for (const auto& r : t.exec_prepared("rollup_hourly", start, cut)) {
        const auto it = rows.find({r[0].as<std::string>(), r[1].as<std::int64_t>()});
        if (it != rows.end()) it->second.merge(read_hourly(r));
      }
      for (const auto& [key, h] : rows) {
        const auto &f = h.flow_rate_m3h, &tb = h.turbidity_ntu, &sl = h.sludge_level_m;
        t.exec_prepared("put_hourly", key.first, key.second, static_cast<std::int64_t>(h.records),
                        static_cast<std::int64_t>(f.n), f.sum, extreme(f, f.min), extreme(f, f.max),
                        static_cast<std::int64_t>(tb.n), tb.sum, extreme(tb, tb.min), extreme(tb, tb.max),
                        static_cast<std::int64_t>(sl.n), sl.sum, extreme(sl, sl.min), extreme(sl, sl.max));
      }
      const auto deleted = t.exec_prepared("rollup_delete", start, cut, ms(before)).affected_rows();
      d.check_fence(t);
      t.commit();
      return static_cast<std::size_t>(deleted);
    });
    if (n > 0) ++out.days;
    out.records += n;
  }
  // Day partitions wholly before `before` and now empty are dropped (created again if a record for
  // their day comes).
  d.guard("roll_up", [&] {
    pqxx::work t(d.conn());
    for (const auto& p : t.exec_prepared("old_partitions", ms(before))) {
      const auto name = p[0].as<std::string>();
      const auto table = t.quote_name(name);
      if (!t.exec("SELECT 1 FROM " + table + " LIMIT 1").empty()) continue;
      t.exec("DROP TABLE " + table);
      t.exec_prepared("forget_partition", name);
    }
    d.check_fence(t);
    t.commit();
  });
  for (auto it = d.known_.begin(); it != d.known_.end();)
    it = (*it + 1) * day_ms <= ms(before) ? d.known_.erase(it) : std::next(it);
  return out;
}

std::vector<hourly_row> postgresql_store::hourly(const std::string& terminal_id, proto::timestamp from,
                                                 proto::timestamp to, std::size_t limit) {
  return impl_->guard("hourly", [&] {
    std::vector<hourly_row> out;
    for (const auto& r : impl_->read("hourly", terminal_id, ms(from), ms(to), limit_param(limit)))
      out.push_back(read_hourly(r));
    return out;
  });
}

std::vector<notification_row> postgresql_store::notification_heads(std::size_t limit) {
  return impl_->guard("notification_heads", [&] {
    std::vector<notification_row> out;
    for (const auto& r : impl_->read("notification_heads", limit_param(limit))) {
      notification_row n;
      n.id = r[0].as<std::int64_t>();
      n.target = r[1].as<std::string>();
      n.subject_kind = r[2].as<std::string>();
      n.subject_id = u64(r[3]);
      n.event = r[4].as<std::string>();
      n.body = r[5].as<std::string>();
      n.created_ms = r[6].as<std::int64_t>();
      n.attempts = static_cast<std::uint32_t>(r[7].as<std::int64_t>());
      n.next_attempt_ms = r[8].as<std::int64_t>();
      n.last_error = r[9].as<std::string>();
      out.push_back(std::move(n));
    }
    return out;
  });
}

void postgresql_store::notification_remove(std::int64_t id) {
  impl_->refuse_write("notification_remove");
  impl_->guard("notification_remove", [&] { impl_->read("notification_remove", id); });
}

void postgresql_store::notification_retry(std::int64_t id, std::uint32_t attempts, std::int64_t next_attempt_ms,
                                          const std::string& error) {
  impl_->refuse_write("notification_retry");
  impl_->guard("notification_retry",
               [&] { impl_->read("notification_retry", id, std::int64_t{attempts}, next_attempt_ms, error); });
}

std::uint64_t postgresql_store::notification_trim(std::size_t max_rows) {
  impl_->refuse_write("notification_trim");
  return impl_->guard("notification_trim", [&] {
    return static_cast<std::uint64_t>(impl_->read("notification_trim", limit_param(max_rows)).affected_rows());
  });
}

std::uint64_t postgresql_store::notification_count() {
  return impl_->guard("notification_count", [&] { return u64(impl_->read("notification_count")[0][0]); });
}

bool postgresql_store::notification_enqueue(const std::vector<notification_row>& rows, const std::string& once_key) {
  impl_->refuse_write("notification_enqueue");
  return impl_->guard("notification_enqueue", [&] {
    pqxx::work t(impl_->conn());
    if (!once_key.empty()) {
      const auto r = t.exec_prepared("notify_once", once_key, rows.empty() ? std::int64_t{0} : rows.front().created_ms);
      if (r.affected_rows() == 0) return false;  // the work's destructor rolls back
    }
    for (const auto& n : rows)
      t.exec_prepared("insert_notification", n.target, n.subject_kind, i64(n.subject_id), n.event, n.body,
                      n.created_ms, std::int64_t{n.attempts}, n.next_attempt_ms, n.last_error);
    impl_->check_fence(t);
    t.commit();
    return true;
  });
}

std::string bounded_postgresql_uri(const std::string& uri) {
  static constexpr std::pair<const char*, const char*> params[] = {
      {"connect_timeout", "5"},     {"keepalives", "1"},       {"keepalives_idle", "5"},
      {"keepalives_interval", "2"}, {"keepalives_count", "2"}, {"tcp_user_timeout", "10000"}};
  const bool url = uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
  std::string out = uri;
  if (url) {
    while (!out.empty() && (out.back() == '&' || out.back() == '?')) out.pop_back();  // "db?" "db?a=1&"
  } else {
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  }
  // A key the caller set is the caller's: "<key>=" after '?', '&' (URI) or at a word start (keywords).
  const auto has = [&](std::string_view key) {
    for (std::size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
      const char before = at == 0 ? ' ' : out[at - 1];
      auto after = at + key.size();
      if (!url)
        while (after < out.size() && (out[after] == ' ' || out[after] == '\t')) ++after;
      const bool starts = url ? (before == '?' || before == '&') : (before == ' ' || before == '\t');
      if (starts && after < out.size() && out[after] == '=') return true;
    }
    return false;
  };
  char sep = url ? (out.find('?') == std::string::npos ? '?' : '&') : ' ';
  for (const auto& [key, val] : params) {
    if (has(key)) continue;
    if (!out.empty() || url) out += sep;
    out += key;
    out += '=';
    out += val;
    if (url) sep = '&';
  }
  return out;
}

std::string redact_postgresql_uri(const std::string& uri) {
  std::string s = uri;
  const auto starts = [&s](const char* p) { return s.rfind(p, 0) == 0; };
  if (starts("postgresql://") || starts("postgres://")) {
    const auto auth_begin = s.find("://") + 3;
    const auto auth_end = std::min(s.find_first_of("/?", auth_begin), s.size());
    const auto at = s.rfind('@', auth_end == s.size() ? std::string::npos : auth_end);
    if (at != std::string::npos && at >= auth_begin) {
      const auto colon = s.find(':', auth_begin);
      if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    }
    // A password given as a query parameter.
    for (auto q = s.find('?'); q != std::string::npos;) {
      const auto key = q + 1;
      const auto amp = s.find('&', key);
      const auto end = amp == std::string::npos ? s.size() : amp;
      if (s.compare(key, 9, "password=") == 0) s.replace(key + 9, end - key - 9, "***");
      q = s.find('&', key);
    }
    return s;
  }
  // Keyword form: password = value | password='quoted \' value'
  for (std::size_t pos = 0; (pos = s.find("password", pos)) != std::string::npos;) {
    const bool word_start = pos == 0 || s[pos - 1] == ' ' || s[pos - 1] == '\t';
    auto i = pos + 8;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (!word_start || i >= s.size() || s[i] != '=') {
      pos += 8;
      continue;
    }
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    auto end = i;
    if (end < s.size() && s[end] == '\'') {
      for (++end; end < s.size() && s[end] != '\''; ++end)
        if (s[end] == '\\') ++end;
      end = std::min(end + 1, s.size());
    } else {
      while (end < s.size() && s[end] != ' ' && s[end] != '\t') ++end;
    }
    s.replace(i, end - i, "***");
    pos = i + 3;
  }
  return s;
}

}  // namespace sewage::gateway
