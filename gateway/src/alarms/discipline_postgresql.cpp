// The alarm discipline's tables in the shared PostgreSQL database (alarms/discipline_db.hpp;
// schema v5 of postgresql_store), through libpqxx on a connection of its own; and
// open_discipline_db, which picks the backend of the configuration.
#include "sewage/gateway/alarms/discipline_db.hpp"

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/postgresql_store.hpp"

#include "detail/pg_room.hpp"

#include "detail/alert_rows.hpp"
#include "detail/pg_fence.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <filesystem>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace sewage::gateway::alarms {
namespace {

/// Bound of each statement (ms): each is a lookup or change of one row by its key, or the list of
/// windows (a few hundred rows): milliseconds on a healthy server, so 5 s means a stuck server.
constexpr int discipline_statement_timeout_ms = 5000;

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
proto::timestamp at_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }
std::optional<std::int64_t> opt(const std::optional<proto::timestamp>& t) {
  return t ? std::optional<std::int64_t>(ms(*t)) : std::nullopt;
}
std::optional<proto::timestamp> opt_ts(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<proto::timestamp>(at_ms(f.as<std::int64_t>()));
}
std::optional<std::int64_t> opt_i64(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::int64_t>(f.as<std::int64_t>());
}
std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

constexpr const char* group_columns = "id, site_id, type, head_alert, last_alert, repeats, first_ms, last_ms, last_clear_ms";

alert_group group_of(const pqxx::row& r) {
  alert_group g;
  g.id = r[0].as<std::int64_t>();
  g.site_id = r[1].as<std::string>();
  g.type = detail::alert_type_of_row(r[2].as<std::string>(), "alert_groups", r[0].as<long long>());
  g.head_alert = r[3].as<std::uint64_t>();
  g.last_alert = r[4].as<std::uint64_t>();
  g.repeats = r[5].as<std::uint32_t>();
  g.first = at_ms(r[6].as<std::int64_t>());
  g.last = at_ms(r[7].as<std::int64_t>());
  g.last_clear = opt_ts(r[8]);
  return g;
}

constexpr const char* window_columns =
    "id, site_id, recurrence, start_ms, end_ms, local_start_s, weekdays, duration_s, reason, created_by, created_ms,"
    " ended_ms, ended_by";

maintenance_window window_of(const pqxx::row& r) {
  maintenance_window w;
  w.id = r[0].as<std::int64_t>();
  w.site_id = r[1].as<std::string>();
  w.kind = parse_recurrence(r[2].as<std::string>()).value_or(recurrence::once);
  w.start = at_ms(r[3].as<std::int64_t>());
  w.end = opt_ts(r[4]);
  w.local_start = std::chrono::seconds(opt_i64(r[5]).value_or(0));
  w.weekdays = static_cast<std::uint8_t>(r[6].as<int>());
  w.duration = std::chrono::seconds(r[7].as<std::int64_t>());
  w.reason = r[8].as<std::string>();
  w.created_by = r[9].as<std::string>();
  w.created = at_ms(r[10].as<std::int64_t>());
  w.ended = opt_ts(r[11]);
  w.ended_by = text(r[12]);
  return w;
}

constexpr const char* state_columns =
    "alert_id, site_id, type, suppressed_window, released_ms, shelved_until_ms, shelved_by, shelve_note,"
    " unshelved_ms, escalated_level, escalated_ms, group_id, repeat_of";

alert_state state_of(const pqxx::row& x) {
  alert_state s;
  s.alert_id = x[0].as<std::uint64_t>();
  s.site_id = x[1].as<std::string>();
  s.type = detail::alert_type_of_row(x[2].as<std::string>(), "alert_discipline", x[0].as<long long>());
  s.window_id = opt_i64(x[3]);
  s.released = opt_ts(x[4]);
  s.shelved_until = opt_ts(x[5]);
  s.shelved_by = text(x[6]);
  s.shelve_note = text(x[7]);
  s.unshelved = opt_ts(x[8]);
  const auto level = text(x[9]);
  if (!level.empty()) s.escalated = parse_notify_level(level);
  s.escalated_at = opt_ts(x[10]);
  s.group_id = opt_i64(x[11]);
  if (const auto rep = opt_i64(x[12])) s.repeat_of = static_cast<std::uint64_t>(*rep);
  return s;
}

/// The upsert of one episode's state ($1..$13 in state_columns' order).
constexpr const char* save_sql =
    "INSERT INTO alert_discipline(alert_id, site_id, type, suppressed_window, released_ms, shelved_until_ms,"
    " shelved_by, shelve_note, unshelved_ms, escalated_level, escalated_ms, group_id, repeat_of)"
    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (alert_id) DO UPDATE SET"
    " site_id = EXCLUDED.site_id, type = EXCLUDED.type, suppressed_window = EXCLUDED.suppressed_window,"
    " released_ms = EXCLUDED.released_ms, shelved_until_ms = EXCLUDED.shelved_until_ms,"
    " shelved_by = EXCLUDED.shelved_by, shelve_note = EXCLUDED.shelve_note, unshelved_ms = EXCLUDED.unshelved_ms,"
    " escalated_level = EXCLUDED.escalated_level, escalated_ms = EXCLUDED.escalated_ms,"
    " group_id = EXCLUDED.group_id, repeat_of = EXCLUDED.repeat_of";

void exec_save(pqxx::transaction_base& t, const alert_state& s) {
  t.exec_params(save_sql, static_cast<std::int64_t>(s.alert_id), s.site_id, std::string(proto::to_string(s.type)),
                s.window_id, opt(s.released), opt(s.shelved_until), s.shelved_by, s.shelve_note, opt(s.unshelved),
                s.escalated ? std::optional<std::string>(std::string(to_string(*s.escalated))) : std::nullopt,
                opt(s.escalated_at), s.group_id,
                s.repeat_of ? std::optional<std::int64_t>(static_cast<std::int64_t>(*s.repeat_of)) : std::nullopt);
}

/// Moves the group ids' sequence past the largest group id and every escalation key already used
/// ("alarm-group:<id>:<level>" in notify_once), so a new group never finds its escalation "sent".
constexpr const char* group_sequence_sql =
    "SELECT setval(pg_get_serial_sequence('alert_groups', 'id'),"
    " GREATEST((SELECT coalesce(max(id), 0) FROM alert_groups),"
    " (SELECT coalesce(max(substring(key FROM '^alarm-group:([0-9]+):')::bigint), 0) FROM notify_once"
    " WHERE key ~ '^alarm-group:[0-9]+:')) + 1, false)";

class postgresql_discipline_db final : public discipline_db {
 public:
  explicit postgresql_discipline_db(std::string uri)
      : pg_(std::move(uri), "alarm discipline store", discipline_statement_timeout_ms) {
    pg_.guard("open", [&] {
      pqxx::nontransaction t(pg_.conn());
      if (t.exec("SELECT to_regclass('maintenance_windows') IS NOT NULL AND to_regclass('alert_discipline') IS NOT "
                 "NULL AND to_regclass('alert_groups') IS NOT NULL")[0][0]
              .as<bool>())
        return;
      throw std::runtime_error("no alarm discipline tables: open the store with postgresql_store first (schema v5 or later)");
    });
  }

  std::vector<maintenance_window> windows() override {
    return pg_.guard("windows", [&] {
      std::vector<maintenance_window> out;
      pqxx::nontransaction t(pg_.conn());
      for (const auto& r : t.exec(std::string("SELECT ") + window_columns + " FROM maintenance_windows ORDER BY id"))
        out.push_back(window_of(r));
      return out;
    });
  }

  std::int64_t insert_window(const maintenance_window& w) override {
    return write("insert_window", [&](pqxx::transaction_base& t) {
      const bool rec = w.kind != recurrence::once;
      return t
          .exec_params1("INSERT INTO maintenance_windows(site_id, recurrence, start_ms, end_ms, local_start_s, weekdays,"
                        " duration_s, reason, created_by, created_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id",
                        w.site_id, std::string(to_string(w.kind)), ms(w.start), opt(w.end),
                        rec ? std::optional<std::int64_t>(w.local_start.count()) : std::nullopt,
                        static_cast<int>(w.weekdays), static_cast<std::int64_t>(w.duration.count()), w.reason,
                        w.created_by, ms(w.created))[0]
          .as<std::int64_t>();
    });
  }

  void end_window(std::int64_t id, std::int64_t ended_ms, const std::string& by) override {
    write("end_window", [&](pqxx::transaction_base& t) {
      t.exec_params("UPDATE maintenance_windows SET ended_ms = $1, ended_by = $2 WHERE id = $3", ended_ms, by, id);
    });
  }

  void delete_window(std::int64_t id) override {
    write("delete_window", [&](pqxx::transaction_base& t) {
      t.exec_params("DELETE FROM maintenance_windows WHERE id = $1", id);
    });
  }

  std::optional<alert_state> state(std::uint64_t id) override {
    return pg_.guard("state", [&]() -> std::optional<alert_state> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(std::string("SELECT ") + state_columns + " FROM alert_discipline WHERE alert_id = $1",
                                   static_cast<std::int64_t>(id));
      if (r.empty()) return std::nullopt;
      return state_of(r[0]);
    });
  }

  void save(const alert_state& s) override {
    write("save", [&](pqxx::transaction_base& t) { exec_save(t, s); });
  }

  std::optional<alert_group> group(std::int64_t id) override {
    return pg_.guard("group", [&]() -> std::optional<alert_group> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(std::string("SELECT ") + group_columns + " FROM alert_groups WHERE id = $1", id);
      if (r.empty()) return std::nullopt;
      return group_of(r[0]);
    });
  }

  std::optional<alert_group> recent_group(const std::string& site_id, const std::string& type,
                                          std::int64_t active_since_ms, std::uint64_t alert_id) override {
    return pg_.guard("recent_group", [&]() -> std::optional<alert_group> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params(
          std::string("SELECT ") + group_columns +
              " FROM alert_groups WHERE site_id = $1 AND type = $2 AND GREATEST(last_ms, coalesce(last_clear_ms, 0)) >= $3"
              " AND last_alert <> $4 AND EXISTS (SELECT 1 FROM alerts WHERE alerts.id = alert_groups.last_alert)"
              " ORDER BY last_ms DESC, id DESC LIMIT 1",
          site_id, type, active_since_ms, static_cast<std::int64_t>(alert_id));
      if (r.empty()) return std::nullopt;
      return group_of(r[0]);
    });
  }

  std::int64_t insert_group(const std::string& site_id, const std::string& type, std::uint64_t alert_id,
                            std::int64_t raised_ms) override {
    return write("insert_group", [&](pqxx::transaction_base& t) {
      return t
          .exec_params1("INSERT INTO alert_groups(site_id, type, head_alert, last_alert, repeats, first_ms, last_ms)"
                        " VALUES($1,$2,$3,$3,0,$4,$4) RETURNING id",
                        site_id, type, static_cast<std::int64_t>(alert_id), raised_ms)[0]
          .as<std::int64_t>();
    });
  }

  void add_repeat(std::int64_t id, std::uint64_t alert_id, std::int64_t raised_ms) override {
    write("add_repeat", [&](pqxx::transaction_base& t) {
      t.exec_params("UPDATE alert_groups SET repeats = repeats + 1, last_alert = $1, last_ms = GREATEST(last_ms, $2)"
                    " WHERE id = $3",
                    static_cast<std::int64_t>(alert_id), raised_ms, id);
    });
  }

  void group_cleared(std::int64_t id, std::int64_t cleared_ms) override {
    write("group_cleared", [&](pqxx::transaction_base& t) {
      t.exec_params("UPDATE alert_groups SET last_clear_ms = GREATEST(coalesce(last_clear_ms, 0), $1) WHERE id = $2",
                    cleared_ms, id);
    });
  }

  discipline_rows all() override {
    return pg_.guard("all", [&] {
      discipline_rows out;
      pqxx::nontransaction t(pg_.conn());
      for (const auto& r : t.exec(std::string("SELECT ") + window_columns + " FROM maintenance_windows ORDER BY id"))
        out.windows.push_back(window_of(r));
      for (const auto& r : t.exec(std::string("SELECT ") + state_columns + " FROM alert_discipline ORDER BY alert_id"))
        out.states.push_back(state_of(r));
      for (const auto& r : t.exec(std::string("SELECT ") + group_columns + " FROM alert_groups ORDER BY id"))
        out.groups.push_back(group_of(r));
      return out;
    });
  }

  bool adopt(const discipline_rows& rows) override {
    return pg_.guard("adopt", [&] {
      pqxx::work t(pg_.conn());
      // Long enough for a county's history of episodes, one statement each.
      t.exec("SET LOCAL statement_timeout = 60000");
      t.exec("LOCK TABLE maintenance_windows, alert_discipline, alert_groups IN EXCLUSIVE MODE");
      if (t.exec("SELECT EXISTS (SELECT 1 FROM maintenance_windows) OR EXISTS (SELECT 1 FROM alert_discipline) OR "
                 "EXISTS (SELECT 1 FROM alert_groups)")[0][0]
              .as<bool>())
        return false;
      for (const auto& w : rows.windows)
        t.exec_params("INSERT INTO maintenance_windows(id, site_id, recurrence, start_ms, end_ms, local_start_s, weekdays,"
                      " duration_s, reason, created_by, created_ms, ended_ms, ended_by)"
                      " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                      w.id, w.site_id, std::string(to_string(w.kind)), ms(w.start), opt(w.end),
                      w.kind != recurrence::once ? std::optional<std::int64_t>(w.local_start.count()) : std::nullopt,
                      static_cast<int>(w.weekdays), static_cast<std::int64_t>(w.duration.count()), w.reason,
                      w.created_by, ms(w.created), opt(w.ended),
                      w.ended ? std::optional<std::string>(w.ended_by) : std::nullopt);
      for (const auto& st : rows.states) exec_save(t, st);
      for (const auto& g : rows.groups)
        t.exec_params("INSERT INTO alert_groups(id, site_id, type, head_alert, last_alert, repeats, first_ms, last_ms,"
                      " last_clear_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                      g.id, g.site_id, std::string(proto::to_string(g.type)), static_cast<std::int64_t>(g.head_alert),
                      static_cast<std::int64_t>(g.last_alert), static_cast<std::int64_t>(g.repeats), ms(g.first),
                      ms(g.last), opt(g.last_clear));
      t.exec("SELECT setval(pg_get_serial_sequence('maintenance_windows', 'id'),"
             " (SELECT coalesce(max(id), 0) FROM maintenance_windows) + 1, false)");
      t.exec(group_sequence_sql);
      if (fence_) detail::check_commit_fence(t, *fence_, pg_.where());
      t.commit();
      return true;
    });
  }

  void set_commit_fence(const commit_fence& fence) override { fence_ = fence; }

 private:
  /// Runs the write `f(t)`, fenced once set_commit_fence was called (detail/pg_room.hpp write).
  template <class F>
  auto write(const char* op, F&& f) -> decltype(f(std::declval<pqxx::transaction_base&>())) {
    return pg_.write(op, fence_, std::forward<F>(f));
  }

  gateway::detail::pg_room_connection pg_;
  std::optional<commit_fence> fence_;  // set_commit_fence
};

}  // namespace

std::unique_ptr<discipline_db> open_postgresql_discipline_db(const std::string& uri) {
  return std::make_unique<postgresql_discipline_db>(uri);
}

std::unique_ptr<discipline_db> open_discipline_db(const config& cfg) {
  if (cfg.backend != store_backend::postgresql) return open_sqlite_discipline_db(cfg.store_path);
  auto shared = open_postgresql_discipline_db(cfg.postgresql_uri);
  // The SQLite file of a gateway that ran on PostgreSQL before the discipline moved there (open_store
  // creates and migrates it with the PostgreSQL store: it exists whenever the gateway ran).
  std::error_code ec;
  if (std::filesystem::exists(cfg.store_path, ec)) {
    const auto file = open_sqlite_discipline_db(cfg.store_path);
    discipline_rows local;
    try {
      local = file->all();
    } catch (const std::runtime_error& e) {
      // A row this build cannot read (a newer build's alert type, detail/alert_rows.hpp): nothing
      // of the file is adopted (nothing read as another type, the file left as it is); the gateway
      // starts on the shared rows rather than not at all.
      spdlog::error("alarm discipline: the rows of {} are not moved to the shared database: {}",
                    cfg.store_path.string(), e.what());
      return shared;
    }
    if (!local.empty() && shared->adopt(local))
      spdlog::warn("alarm discipline: {} maintenance windows, {} alert episode states and {} groups moved from {} to "
                   "the shared database",
                   local.windows.size(), local.states.size(), local.groups.size(), cfg.store_path.string());
  }
  return shared;
}

}  // namespace sewage::gateway::alarms
