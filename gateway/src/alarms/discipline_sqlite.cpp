// The alarm discipline's tables in the gateway's SQLite file (alarms/discipline_db.hpp; schema
// v12 of sqlite_store), through the SQLite C API on a connection of its own.
#include "sewage/gateway/alarms/discipline_db.hpp"

#include "detail/alert_rows.hpp"
#include "detail/sqlite_stmt.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <variant>

namespace sewage::gateway::alarms {
namespace {

using value = std::variant<std::monostate, std::int64_t, std::string>;

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
proto::timestamp at_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }
value opt(const std::optional<proto::timestamp>& t) { return t ? value(ms(*t)) : value(); }
value opt(const std::optional<std::int64_t>& v) { return v ? value(*v) : value(); }

/// One query of the discipline's connection: binds `args` by position. Throws runtime_error.
class query : public gateway::detail::sqlite_stmt {
 public:
  query(sqlite3* db, const char* sql, const std::vector<value>& args)
      : gateway::detail::sqlite_stmt(db, sql, "alarm discipline store") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const int at = static_cast<int>(i + 1);
      if (const auto* n = std::get_if<std::int64_t>(&args[i])) bind(at, *n);
      else if (const auto* t = std::get_if<std::string>(&args[i])) bind(at, *t);
      else bind_null(at);
    }
  }
  std::optional<proto::timestamp> opt_ts(int c) {
    const auto v = opt_i64(c);
    return v ? std::optional<proto::timestamp>(at_ms(*v)) : std::nullopt;
  }
};

void run(sqlite3* db, const char* sql, const std::vector<value>& args = {}) {
  query q(db, sql, args);
  while (q.step()) {
  }
}

constexpr const char* group_columns = "id, site_id, type, head_alert, last_alert, repeats, first_ms, last_ms, last_clear_ms";

constexpr const char* state_columns =
    "alert_id, site_id, type, suppressed_window, released_ms, shelved_until_ms, shelved_by, shelve_note,"
    " unshelved_ms, escalated_level, escalated_ms, group_id, repeat_of";

alert_state read_state(query& q) {
  alert_state s;
  s.alert_id = static_cast<std::uint64_t>(q.i64(0));
  s.site_id = q.text(1);
  s.type = detail::alert_type_of_row(q.text(2), "alert_discipline", q.i64(0));
  s.window_id = q.opt_i64(3);
  s.released = q.opt_ts(4);
  s.shelved_until = q.opt_ts(5);
  s.shelved_by = q.text(6);
  s.shelve_note = q.text(7);
  s.unshelved = q.opt_ts(8);
  const auto level = q.text(9);
  if (!level.empty()) s.escalated = parse_notify_level(level);
  s.escalated_at = q.opt_ts(10);
  s.group_id = q.opt_i64(11);
  if (const auto r = q.opt_i64(12)) s.repeat_of = static_cast<std::uint64_t>(*r);
  return s;
}

alert_group read_group(query& q) {
  alert_group g;
  g.id = q.i64(0);
  g.site_id = q.text(1);
  g.type = detail::alert_type_of_row(q.text(2), "alert_groups", q.i64(0));
  g.head_alert = static_cast<std::uint64_t>(q.i64(3));
  g.last_alert = static_cast<std::uint64_t>(q.i64(4));
  g.repeats = static_cast<std::uint32_t>(q.i64(5));
  g.first = at_ms(q.i64(6));
  g.last = at_ms(q.i64(7));
  g.last_clear = q.opt_ts(8);
  return g;
}

class sqlite_discipline_db final : public discipline_db {
 public:
  explicit sqlite_discipline_db(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("alarm discipline: cannot open " + path.string() + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    try {
      query v(db_, "PRAGMA user_version", {});
      if (!v.step() || v.i64(0) < 12)
        throw std::runtime_error("alarm discipline: " + path.string() +
                                 " is not migrated to schema v12 (open it with the store first)");
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~sqlite_discipline_db() override { sqlite3_close(db_); }
  sqlite_discipline_db(const sqlite_discipline_db&) = delete;
  sqlite_discipline_db& operator=(const sqlite_discipline_db&) = delete;

  std::vector<maintenance_window> windows() override {
    std::vector<maintenance_window> out;
    query q(db_,
            "SELECT id, site_id, recurrence, start_ms, end_ms, local_start, weekdays, duration_s, reason, created_by,"
            " created_ms, ended_ms, ended_by FROM maintenance_windows ORDER BY id",
            {});
    while (q.step()) {
      maintenance_window w;
      w.id = q.i64(0);
      w.site_id = q.text(1);
      w.kind = parse_recurrence(q.text(2)).value_or(recurrence::once);
      w.start = at_ms(q.i64(3));
      w.end = q.opt_ts(4);
      w.local_start = std::chrono::seconds(q.opt_i64(5).value_or(0));
      w.weekdays = static_cast<std::uint8_t>(q.i64(6));
      w.duration = std::chrono::seconds(q.i64(7));
      w.reason = q.text(8);
      w.created_by = q.text(9);
      w.created = at_ms(q.i64(10));
      w.ended = q.opt_ts(11);
      w.ended_by = q.text(12);
      out.push_back(std::move(w));
    }
    return out;
  }

  std::int64_t insert_window(const maintenance_window& w) override {
    const bool rec = w.kind != recurrence::once;
    run(db_,
        "INSERT INTO maintenance_windows(site_id, recurrence, start_ms, end_ms, local_start, weekdays, duration_s,"
        " reason, created_by, created_ms) VALUES(?,?,?,?,?,?,?,?,?,?)",
        {w.site_id, std::string(to_string(w.kind)), ms(w.start), opt(w.end),
         rec ? value(static_cast<std::int64_t>(w.local_start.count())) : value(), static_cast<std::int64_t>(w.weekdays),
         static_cast<std::int64_t>(w.duration.count()), w.reason, w.created_by, ms(w.created)});
    return sqlite3_last_insert_rowid(db_);
  }

  void end_window(std::int64_t id, std::int64_t ended_ms, const std::string& by) override {
    run(db_, "UPDATE maintenance_windows SET ended_ms = ?, ended_by = ? WHERE id = ?", {ended_ms, by, id});
  }

  void delete_window(std::int64_t id) override { run(db_, "DELETE FROM maintenance_windows WHERE id = ?", {id}); }

  std::optional<alert_state> state(std::uint64_t id) override {
    query q(db_, (std::string("SELECT ") + state_columns + " FROM alert_discipline WHERE alert_id = ?").c_str(),
            {static_cast<std::int64_t>(id)});
    if (!q.step()) return std::nullopt;
    return read_state(q);
  }

  void save(const alert_state& s) override {
    run(db_,
        "INSERT OR REPLACE INTO alert_discipline(alert_id, site_id, type, suppressed_window, suppressed_until_ms,"
        " released_ms, shelved_until_ms, shelved_by, shelve_note, unshelved_ms, escalated_level, escalated_ms,"
        " group_id, repeat_of) VALUES(?,?,?,?,NULL,?,?,?,?,?,?,?,?,?)",
        {static_cast<std::int64_t>(s.alert_id), s.site_id, std::string(proto::to_string(s.type)), opt(s.window_id),
         opt(s.released), opt(s.shelved_until), s.shelved_by, s.shelve_note, opt(s.unshelved),
         s.escalated ? value(std::string(to_string(*s.escalated))) : value(), opt(s.escalated_at), opt(s.group_id),
         s.repeat_of ? value(static_cast<std::int64_t>(*s.repeat_of)) : value()});
  }

  std::optional<alert_group> group(std::int64_t id) override {
    query q(db_, (std::string("SELECT ") + group_columns + " FROM alert_groups WHERE id = ?").c_str(), {id});
    if (!q.step()) return std::nullopt;
    return read_group(q);
  }

  std::optional<alert_group> recent_group(const std::string& site_id, const std::string& type,
                                          std::int64_t active_since_ms, std::uint64_t alert_id) override {
    query q(db_,
            (std::string("SELECT ") + group_columns +
             " FROM alert_groups WHERE site_id = ? AND type = ? AND max(last_ms, coalesce(last_clear_ms, 0)) >= ?"
             " AND last_alert <> ? AND EXISTS (SELECT 1 FROM alerts WHERE alerts.id = alert_groups.last_alert)"
             " ORDER BY last_ms DESC, id DESC LIMIT 1")
                .c_str(),
            {site_id, type, active_since_ms, static_cast<std::int64_t>(alert_id)});
    if (!q.step()) return std::nullopt;
    return read_group(q);
  }

  std::int64_t insert_group(const std::string& site_id, const std::string& type, std::uint64_t alert_id,
                            std::int64_t raised_ms) override {
    run(db_,
        "INSERT INTO alert_groups(site_id, type, head_alert, last_alert, repeats, first_ms, last_ms)"
        " VALUES(?,?,?,?,0,?,?)",
        {site_id, type, static_cast<std::int64_t>(alert_id), static_cast<std::int64_t>(alert_id), raised_ms, raised_ms});
    return sqlite3_last_insert_rowid(db_);
  }

  void add_repeat(std::int64_t id, std::uint64_t alert_id, std::int64_t raised_ms) override {
    run(db_, "UPDATE alert_groups SET repeats = repeats + 1, last_alert = ?, last_ms = max(last_ms, ?) WHERE id = ?",
        {static_cast<std::int64_t>(alert_id), raised_ms, id});
  }

  void group_cleared(std::int64_t id, std::int64_t cleared_ms) override {
    run(db_, "UPDATE alert_groups SET last_clear_ms = max(coalesce(last_clear_ms, 0), ?) WHERE id = ?",
        {cleared_ms, id});
  }

  discipline_rows all() override {
    discipline_rows out;
    out.windows = windows();
    query states(db_, (std::string("SELECT ") + state_columns + " FROM alert_discipline ORDER BY alert_id").c_str(), {});
    while (states.step()) out.states.push_back(read_state(states));
    query groups(db_, (std::string("SELECT ") + group_columns + " FROM alert_groups ORDER BY id").c_str(), {});
    while (groups.step()) out.groups.push_back(read_group(groups));
    return out;
  }

  bool adopt(const discipline_rows& /*rows*/) override {
    throw std::logic_error("alarm discipline: the SQLite file adopts nothing (rows move to PostgreSQL only)");
  }

  void set_commit_fence(const commit_fence& /*fence*/) override {
    throw std::logic_error("alarm discipline: a SQLite file cannot be fenced (standby needs store.backend = postgresql)");
  }

 private:
  sqlite3* db_{nullptr};
};

}  // namespace

std::unique_ptr<discipline_db> open_sqlite_discipline_db(const std::filesystem::path& path) {
  return std::make_unique<sqlite_discipline_db>(path);
}

}  // namespace sewage::gateway::alarms
