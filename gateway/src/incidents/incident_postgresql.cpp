// The incidents room's tables in the shared PostgreSQL database (incidents/incident_db.hpp; schema
// v6 of postgresql_store), through libpqxx on a connection of its own; and open_incident_db,
// which picks the backend of the configuration.
#include "sewage/gateway/incidents/incident_db.hpp"

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/postgresql_store.hpp"

#include "detail/pg_fence.hpp"
#include "detail/pg_room.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace sewage::gateway::incidents {
namespace {

/// Bound of each statement (ms): each reads or writes rows by their key, or a page of at most
/// 1,000 incidents: milliseconds on a healthy server, so 5 s means a stuck server.
constexpr int incident_statement_timeout_ms = 5000;

std::int64_t as_i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

incident_row incident_of_row(const pqxx::row& r) {  // id, state, kind, opened_ms, resolved_ms, doc
  incident_row i;
  i.id = r[0].as<std::int64_t>();
  i.state = r[1].as<std::string>();
  i.kind = r[2].as<std::string>();
  i.opened_ms = r[3].as<std::int64_t>();
  if (!r[4].is_null()) i.resolved_ms = r[4].as<std::int64_t>();
  i.doc = r[5].as<std::string>();
  return i;
}

constexpr const char* incident_upsert_sql =
    "INSERT INTO incidents(id, state, kind, opened_ms, resolved_ms, doc) VALUES($1,$2,$3,$4,$5,$6)"
    " ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, kind = EXCLUDED.kind, opened_ms = EXCLUDED.opened_ms,"
    " resolved_ms = EXCLUDED.resolved_ms, doc = EXCLUDED.doc";
constexpr const char* member_upsert_sql =
    "INSERT INTO incident_alerts(alert_id, incident_id, role) VALUES($1,$2,$3)"
    " ON CONFLICT (alert_id) DO UPDATE SET incident_id = EXCLUDED.incident_id, role = EXCLUDED.role";
constexpr const char* held_upsert_sql =
    "INSERT INTO weather_held(alert_id, until_ms, doc) VALUES($1,$2,$3)"
    " ON CONFLICT (alert_id) DO UPDATE SET until_ms = EXCLUDED.until_ms, doc = EXCLUDED.doc";

void put(pqxx::transaction_base& t, const incident_row& i) {
  t.exec_params(incident_upsert_sql, i.id, i.state, i.kind, i.opened_ms, i.resolved_ms, i.doc);
  for (const auto& m : i.members) t.exec_params(member_upsert_sql, as_i64(m.alert_id), m.incident_id, m.role);
}

class postgresql_incident_db final : public incident_db {
 public:
  postgresql_incident_db(std::string uri, store_access mode)
      : pg_(std::move(uri), mode == store_access::read_only ? "incident store (read only)" : "incident store",
            incident_statement_timeout_ms, mode == store_access::read_only) {
    pg_.guard("open", [&] {
      pqxx::nontransaction t(pg_.conn());
      if (t.exec("SELECT to_regclass('incidents') IS NOT NULL AND to_regclass('incident_alerts') IS NOT NULL AND "
                 "to_regclass('weather_held') IS NOT NULL")[0][0]
              .as<bool>())
        return;
      throw std::runtime_error("no incident tables: open the store with postgresql_store first (schema v6 or later)");
    });
  }

  std::int64_t max_id() override { return scalar("max_id", "SELECT coalesce(max(id), 0) FROM incidents"); }
  std::int64_t max_weather_id() override {
    return scalar("max_weather_id", "SELECT coalesce(max(id), 0) FROM incidents WHERE kind = 'weather'");
  }

  std::vector<std::string> unresolved() override {
    return pg_.guard("unresolved", [&] {
      std::vector<std::string> out;
      pqxx::nontransaction t(pg_.conn());
      for (const auto& r : t.exec("SELECT doc FROM incidents WHERE state <> 'resolved' ORDER BY id"))
        out.push_back(r[0].as<std::string>());
      return out;
    });
  }

  std::optional<std::string> find(std::int64_t id) override {
    return pg_.guard("find", [&]() -> std::optional<std::string> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params("SELECT doc FROM incidents WHERE id = $1", id);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  std::vector<std::string> list(const std::optional<std::string>& state, std::size_t limit) override {
    return pg_.guard("list", [&] {
      std::vector<std::string> out;
      pqxx::nontransaction t(pg_.conn());
      const auto n = static_cast<std::int64_t>(limit);
      const auto r = state ? t.exec_params("SELECT doc FROM incidents WHERE state = $1 ORDER BY id DESC LIMIT $2", *state, n)
                           : t.exec_params("SELECT doc FROM incidents ORDER BY id DESC LIMIT $1", n);
      for (const auto& row : r) out.push_back(row[0].as<std::string>());
      return out;
    });
  }

  std::vector<incident_row> weather(std::int64_t from_ms, std::int64_t to_ms) override {
    return pg_.guard("weather", [&] {
      std::vector<incident_row> out;
      pqxx::nontransaction t(pg_.conn());
      for (const auto& r :
           t.exec_params("SELECT id, state, kind, opened_ms, resolved_ms, doc FROM incidents WHERE kind = 'weather' AND"
                         " opened_ms < $1 AND (resolved_ms IS NULL OR resolved_ms >= $2) ORDER BY opened_ms, id",
                         to_ms, from_ms))
        out.push_back(incident_of_row(r));
      return out;
    });
  }

  std::optional<std::int64_t> incident_of(std::uint64_t alert_id) override {
    return pg_.guard("incident_of", [&]() -> std::optional<std::int64_t> {
      pqxx::nontransaction t(pg_.conn());
      const auto r = t.exec_params("SELECT incident_id FROM incident_alerts WHERE alert_id = $1", as_i64(alert_id));
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::int64_t>();
    });
  }

  std::vector<held_row> held() override {
    return pg_.guard("held", [&] {
      pqxx::nontransaction t(pg_.conn());
      return held_rows(t);
    });
  }

  void write(const incident_writes& w) override {
    if (w.empty()) return;
    pg_.write("write", fence_, [&](pqxx::transaction_base& t) {
      for (const auto& i : w.incidents) put(t, i);
      for (const auto& m : w.members_dropped)
        t.exec_params("DELETE FROM incident_alerts WHERE alert_id = $1 AND incident_id = $2", as_i64(m.alert_id),
                      m.incident_id);
      for (const auto& h : w.held) t.exec_params(held_upsert_sql, as_i64(h.alert_id), h.until_ms, h.doc);
      for (const auto id : w.unheld) t.exec_params("DELETE FROM weather_held WHERE alert_id = $1", as_i64(id));
    });
  }

  incident_tables all() override {
    return pg_.guard("all", [&] {
      incident_tables out;
      // One snapshot: the members of the incidents read.
      pqxx::transaction<pqxx::isolation_level::repeatable_read> t(pg_.conn());
      std::unordered_map<std::int64_t, std::size_t> at;
      for (const auto& r : t.exec("SELECT id, state, kind, opened_ms, resolved_ms, doc FROM incidents ORDER BY id")) {
        at[r[0].as<std::int64_t>()] = out.incidents.size();
        out.incidents.push_back(incident_of_row(r));
      }
      for (const auto& r : t.exec("SELECT alert_id, incident_id, role FROM incident_alerts ORDER BY alert_id")) {
        incident_member_row m{static_cast<std::uint64_t>(r[0].as<std::int64_t>()), r[1].as<std::int64_t>(),
                              r[2].as<std::string>()};
        if (const auto it = at.find(m.incident_id); it != at.end()) out.incidents[it->second].members.push_back(std::move(m));
      }
      out.held = held_rows(t);
      t.commit();
      return out;
    });
  }

  bool adopt(const incident_tables& rows) override {
    return pg_.guard("adopt", [&] {
      pqxx::work t(pg_.conn());
      // Long enough for a county's years of incidents, one statement each.
      t.exec("SET LOCAL statement_timeout = 60000");
      t.exec("LOCK TABLE incidents, incident_alerts, weather_held IN EXCLUSIVE MODE");
      if (t.exec("SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM incident_alerts) OR "
                 "EXISTS (SELECT 1 FROM weather_held)")[0][0]
              .as<bool>())
        return false;
      for (const auto& i : rows.incidents) put(t, i);
      for (const auto& h : rows.held) t.exec_params(held_upsert_sql, as_i64(h.alert_id), h.until_ms, h.doc);
      if (fence_) gateway::detail::check_commit_fence(t, *fence_, pg_.where());
      t.commit();
      return true;
    });
  }

  void set_commit_fence(const commit_fence& fence) override { fence_ = fence; }

 private:
  std::int64_t scalar(const char* op, const char* sql) {
    return pg_.guard(op, [&] {
      pqxx::nontransaction t(pg_.conn());
      return t.exec(sql)[0][0].as<std::int64_t>();
    });
  }
  static std::vector<held_row> held_rows(pqxx::transaction_base& t) {
    std::vector<held_row> out;
    for (const auto& r : t.exec("SELECT alert_id, until_ms, doc FROM weather_held ORDER BY alert_id"))
      out.push_back({static_cast<std::uint64_t>(r[0].as<std::int64_t>()), r[1].as<std::int64_t>(), r[2].as<std::string>()});
    return out;
  }

  gateway::detail::pg_room_connection pg_;
  std::optional<commit_fence> fence_;  // set_commit_fence
};

}  // namespace

std::unique_ptr<incident_db> open_postgresql_incident_db(const std::string& uri, store_access mode) {
  return std::make_unique<postgresql_incident_db>(uri, mode);
}

std::unique_ptr<incident_db> open_incident_db(const config& cfg) {
  if (cfg.backend != store_backend::postgresql) return open_sqlite_incident_db(cfg.store_path);
  auto shared = open_postgresql_incident_db(cfg.postgresql_uri);
  // The SQLite file of a gateway that ran on PostgreSQL before the incidents moved there (open_store
  // creates and migrates it with the PostgreSQL store: it exists whenever the gateway ran).
  std::error_code ec;
  // Read the file only while the shared tables are empty (adopt checks again, under its lock).
  if (std::filesystem::exists(cfg.store_path, ec) && shared->max_id() == 0 && shared->held().empty()) {
    const auto local = open_sqlite_incident_db(cfg.store_path)->all();
    if (!local.empty() && shared->adopt(local))
      spdlog::warn("incidents: {} incidents and {} held weather raises moved from {} to the shared database",
                   local.incidents.size(), local.held.size(), cfg.store_path.string());
  }
  return shared;
}

}  // namespace sewage::gateway::incidents
