// The incidents room's tables in the gateway's SQLite file (incidents/incident_db.hpp; schema v14
// and v20 of sqlite_store), through the SQLite C API on a connection of its own.
#include "sewage/gateway/incidents/incident_db.hpp"

#include "detail/sqlite_stmt.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <unordered_map>

namespace sewage::gateway::incidents {
namespace {

constexpr const char* room = "incidents";

using gateway::detail::sqlite_stmt;

incident_row read_incident(sqlite_stmt& q) {  // id, state, kind, opened_ms, resolved_ms, doc
  incident_row r;
  r.id = q.i64(0);
  r.state = q.text(1);
  r.kind = q.text(2);
  r.opened_ms = q.i64(3);
  r.resolved_ms = q.opt_i64(4);
  r.doc = q.text(5);
  return r;
}

class sqlite_incident_db final : public incident_db {
 public:
  explicit sqlite_incident_db(const std::filesystem::path& path)
      : db_(gateway::detail::open_room(path.string(), "'incidents','incident_alerts','weather_held'", 3, room)) {
    // As the store's own connection: a commit survives a process kill (WAL), not necessarily a
    // power cut; what the engine committed is reconciled at the next start either way.
    sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  }
  ~sqlite_incident_db() override { sqlite3_close(db_); }
  sqlite_incident_db(const sqlite_incident_db&) = delete;
  sqlite_incident_db& operator=(const sqlite_incident_db&) = delete;

  std::int64_t max_id() override { return scalar("SELECT coalesce(max(id), 0) FROM incidents"); }
  std::int64_t max_weather_id() override {
    return scalar("SELECT coalesce(max(id), 0) FROM incidents WHERE kind = 'weather'");
  }

  std::vector<std::string> unresolved() override {
    sqlite_stmt q(db_, "SELECT doc FROM incidents WHERE state != 'resolved' ORDER BY id", room);
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  std::optional<std::string> find(std::int64_t id) override {
    sqlite_stmt q(db_, "SELECT doc FROM incidents WHERE id = ?", room);
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }

  std::vector<std::string> list(const std::optional<std::string>& state, std::size_t limit) override {
    sqlite_stmt q(db_,
                  state ? "SELECT doc FROM incidents WHERE state = ? ORDER BY id DESC LIMIT ?"
                        : "SELECT doc FROM incidents ORDER BY id DESC LIMIT ?",
                  room);
    int at = 1;
    if (state) q.bind(at++, *state);
    q.bind(at, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  std::vector<incident_row> weather(std::int64_t from_ms, std::int64_t to_ms) override {
    sqlite_stmt q(db_,
                  "SELECT id, state, kind, opened_ms, resolved_ms, doc FROM incidents WHERE kind = 'weather' AND "
                  "opened_ms < ? AND (resolved_ms IS NULL OR resolved_ms >= ?) ORDER BY opened_ms, id",
                  room);
    q.bind(1, to_ms).bind(2, from_ms);
    std::vector<incident_row> out;
    while (q.step()) out.push_back(read_incident(q));
    return out;
  }

  std::optional<std::int64_t> incident_of(std::uint64_t alert_id) override {
    sqlite_stmt q(db_, "SELECT incident_id FROM incident_alerts WHERE alert_id = ?", room);
    q.bind(1, static_cast<std::int64_t>(alert_id));
    if (!q.step()) return std::nullopt;
    return q.i64(0);
  }

  std::vector<held_row> held() override {
    sqlite_stmt q(db_, "SELECT alert_id, until_ms, doc FROM weather_held ORDER BY alert_id", room);
    std::vector<held_row> out;
    while (q.step()) out.push_back({static_cast<std::uint64_t>(q.i64(0)), q.i64(1), q.text(2)});
    return out;
  }

  void write(const incident_writes& w) override {
    if (w.empty()) return;
    exec("BEGIN IMMEDIATE");
    try {
      sqlite_stmt up(db_,
                     "INSERT OR REPLACE INTO incidents(id, state, kind, opened_ms, resolved_ms, doc) VALUES (?, ?, ?, ?, ?, ?)",
                     room);
      sqlite_stmt m(db_, "INSERT OR REPLACE INTO incident_alerts(alert_id, incident_id, role) VALUES (?, ?, ?)", room);
      for (const auto& i : w.incidents) {
        up.reset();
        up.bind(1, i.id).bind(2, i.state).bind(3, i.kind).bind(4, i.opened_ms);
        if (i.resolved_ms) up.bind(5, *i.resolved_ms);
        else up.bind_null(5);
        up.bind(6, i.doc).run();
        for (const auto& a : i.members) {
          m.reset();
          m.bind(1, static_cast<std::int64_t>(a.alert_id)).bind(2, a.incident_id).bind(3, a.role).run();
        }
      }
      sqlite_stmt drop(db_, "DELETE FROM incident_alerts WHERE alert_id = ? AND incident_id = ?", room);
      for (const auto& m : w.members_dropped) {
        drop.reset();
        drop.bind(1, static_cast<std::int64_t>(m.alert_id)).bind(2, m.incident_id).run();
      }
      sqlite_stmt h(db_, "INSERT OR REPLACE INTO weather_held(alert_id, until_ms, doc) VALUES (?, ?, ?)", room);
      for (const auto& r : w.held) {
        h.reset();
        h.bind(1, static_cast<std::int64_t>(r.alert_id)).bind(2, r.until_ms).bind(3, r.doc).run();
      }
      sqlite_stmt del(db_, "DELETE FROM weather_held WHERE alert_id = ?", room);
      for (const auto id : w.unheld) {
        del.reset();
        del.bind(1, static_cast<std::int64_t>(id)).run();
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  incident_tables all() override {
    incident_tables out;
    std::unordered_map<std::int64_t, std::size_t> at;
    {
      sqlite_stmt q(db_, "SELECT id, state, kind, opened_ms, resolved_ms, doc FROM incidents ORDER BY id", room);
      while (q.step()) {
        at[q.i64(0)] = out.incidents.size();
        out.incidents.push_back(read_incident(q));
      }
    }
    {
      sqlite_stmt q(db_, "SELECT alert_id, incident_id, role FROM incident_alerts ORDER BY alert_id", room);
      while (q.step()) {
        incident_member_row m{static_cast<std::uint64_t>(q.i64(0)), q.i64(1), q.text(2)};
        // A member row of an incident without its row (none is written so): kept apart, on the
        // first incident, would change what it is; it is left out, as it means nothing.
        if (const auto it = at.find(m.incident_id); it != at.end())
          out.incidents[it->second].members.push_back(std::move(m));
      }
    }
    out.held = held();
    return out;
  }

  bool adopt(const incident_tables&) override {
    throw std::logic_error("incident_db::adopt: the SQLite file is the source of an adoption, never its target");
  }
  void set_commit_fence(const commit_fence&) override {
    throw std::logic_error("incident_db::set_commit_fence: one host's SQLite file has nothing to fence");
  }

 private:
  std::int64_t scalar(const char* sql) {
    sqlite_stmt q(db_, sql, room);
    return q.step() ? q.i64(0) : 0;
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string why = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(std::string(room) + ": " + why);
    }
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<incident_db> open_sqlite_incident_db(const std::filesystem::path& path) {
  return std::make_unique<sqlite_incident_db>(path);
}

}  // namespace sewage::gateway::incidents
