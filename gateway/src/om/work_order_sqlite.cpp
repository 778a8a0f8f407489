// The work orders room's tables in the gateway's SQLite file (om/work_order_db.hpp; schema v9 of
// sqlite_store), through the SQLite C API on a connection of its own.
#include "sewage/gateway/om/work_order_db.hpp"

#include "detail/sqlite_stmt.hpp"
#include "om/work_order_rows.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sewage::gateway::om {
namespace {

constexpr const char* room = "work orders store";

/// A prepared statement of the work orders' connection.
class stmt : public gateway::detail::sqlite_stmt {
 public:
  stmt(sqlite3* db, const char* sql) : gateway::detail::sqlite_stmt(db, sql, room) {}
  stmt(sqlite3* db, const std::string& sql) : stmt(db, sql.c_str()) {}
};

using detail::alert_seen_columns;
using detail::checkin_columns;
using detail::event_columns;
using detail::order_columns;
using detail::photo_columns;
using detail::read_alert_seen;
using detail::read_checkin;
using detail::read_event;
using detail::read_order;
using detail::read_photo;

std::optional<work_order> order_of(sqlite3* db, std::int64_t id) {
  stmt s(db, std::string("SELECT ") + order_columns + " FROM work_orders WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_order(s);
}

/// Binds order `o`'s columns but its id as ?1..?22, in the order of the INSERT's column list
/// (an UPDATE names the ones it sets by number).
stmt& bind_order(stmt& s, const work_order& o) {
  s.bind(1, o.site_id)
      .bind(2, o.town)
      .bind(3, o.source)
      .bind(4, o.source_ref)
      .bind(5, o.fault_type)
      .bind(6, std::string(to_string(o.sev)))
      .bind(7, o.title)
      .bind(8, o.description)
      .bind(9, o.contractor)
      .bind(10, std::string(to_string(o.state)))
      .bind(11, o.created_ms)
      .bind(12, o.dispatched_ms)
      .bind(13, o.on_site_ms)
      .bind(14, o.fixed_ms)
      .bind(15, o.verified_ms)
      .bind(16, o.due_ms)
      .bind(17, o.reopen_count)
      .bind(18, o.cause)
      .bind(19, o.parts_used)
      .bind(20, o.created_by)
      .bind(21, o.reporter_phone)
      .bind(22, std::int64_t{o.escalated_level});
  return s;
}

/// The transaction's statements on the connection (BEGIN IMMEDIATE .. COMMIT around them).
class sqlite_tx final : public work_order_tx {
 public:
  explicit sqlite_tx(sqlite3* db) : db_(db) {}

  std::optional<work_order> order(std::int64_t id) override { return order_of(db_, id); }

  std::int64_t insert_order(const work_order& o) override {
    stmt s(db_,
           "INSERT INTO work_orders(site_id, town, source, source_ref, fault_type, severity, title, description, "
           "contractor, state, created_ms, dispatched_ms, on_site_ms, fixed_ms, verified_ms, due_ms, reopen_count, cause, "
           "parts_used, created_by, reporter_phone, escalated_level) "
           "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)");
    bind_order(s, o).run();
    return sqlite3_last_insert_rowid(db_);
  }

  void update_order(const work_order& o) override {
    stmt s(db_,
           "UPDATE work_orders SET state=?10, contractor=?9, dispatched_ms=?12, on_site_ms=?13, fixed_ms=?14, "
           "verified_ms=?15, reopen_count=?17, cause=?18, parts_used=?19, escalated_level=?22 WHERE id=?23");
    bind_order(s, o).bind(23, o.id).run();
  }

  void set_escalated_level(std::int64_t id, int level) override {
    stmt(db_, "UPDATE work_orders SET escalated_level=?2 WHERE id=?1").bind(1, id).bind(2, std::int64_t{level}).run();
  }

  std::int64_t insert_event(const order_event& e) override {
    stmt(db_, "INSERT INTO work_order_events(order_id, ts_ms, actor, from_state, to_state, lat, lon, note) "
              "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")
        .bind(1, e.order_id)
        .bind(2, e.ts_ms)
        .bind(3, e.actor)
        .bind(4, e.from_state)
        .bind(5, e.to_state)
        .bind(6, e.lat)
        .bind(7, e.lon)
        .bind(8, e.note)
        .run();
    return sqlite3_last_insert_rowid(db_);
  }

  std::int64_t insert_checkin(const checkin& c) override {
    stmt(db_, "INSERT INTO checkins(site_id, order_id, inspection_id, actor, contractor, ts_ms, lat, lon, accuracy_m, "
              "distance_m) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)")
        .bind(1, c.site_id)
        .bind(2, c.order_id)
        .bind(3, c.inspection_id)
        .bind(4, c.actor)
        .bind(5, c.contractor)
        .bind(6, c.ts_ms)
        .bind(7, c.lat)
        .bind(8, c.lon)
        .bind(9, c.accuracy_m)
        .bind(10, c.distance_m)
        .run();
    return sqlite3_last_insert_rowid(db_);
  }

  std::int64_t insert_photo(const photo& p) override {
    stmt(db_, "INSERT INTO photos(order_id, inspection_id, site_id, path, sha256, bytes, content_type, taken_ms, "
              "taken_source, uploaded_ms, lat, lon, position_source, actor) "
              "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)")
        .bind(1, p.order_id)
        .bind(2, p.inspection_id)
        .bind(3, p.site_id)
        .bind(4, p.path)
        .bind(5, p.sha256)
        .bind(6, p.bytes)
        .bind(7, p.content_type)
        .bind(8, p.taken_ms)
        .bind(9, p.taken_source)
        .bind(10, p.uploaded_ms)
        .bind(11, p.lat)
        .bind(12, p.lon)
        .bind(13, p.position_source)
        .bind(14, p.actor)
        .run();
    return sqlite3_last_insert_rowid(db_);
  }

  void link_inspection(std::int64_t checkin_id, std::int64_t inspection_id) override {
    stmt(db_, "UPDATE checkins SET inspection_id = ?1 WHERE id = ?2").bind(1, inspection_id).bind(2, checkin_id).run();
  }

  std::optional<checkin> latest_checkin(const std::string& site_id, const std::string& contractor, std::int64_t since_ms,
                                        std::int64_t order_id) override {
    stmt s(db_, std::string("SELECT ") + checkin_columns +
                    " FROM checkins WHERE site_id=?1 AND contractor=?2 AND ts_ms>=?3 AND (order_id IS NULL OR order_id=?4) "
                    "ORDER BY ts_ms DESC, id DESC LIMIT 1");
    s.bind(1, site_id).bind(2, contractor).bind(3, since_ms).bind(4, order_id);
    if (!s.step()) return std::nullopt;
    return read_checkin(s);
  }

  std::int64_t photos_since(std::int64_t order_id, std::int64_t since_ms) override {
    stmt p(db_, "SELECT count(*) FROM photos WHERE order_id=?1 AND taken_ms>=?2");
    p.bind(1, order_id).bind(2, since_ms);
    return p.step() ? p.i64(0) : 0;
  }

  bool alert_has_order(std::int64_t alert_id) override {
    stmt e(db_, "SELECT 1 FROM work_orders WHERE source='alert' AND source_ref=?1");
    e.bind(1, std::to_string(alert_id));
    return e.step();
  }

  void remember_alert(const alert_seen& a) override {
    stmt(db_, "INSERT OR IGNORE INTO work_order_alert_seen(alert_id, site_id, type, severity, raised_ms) VALUES(?1,?2,?3,?4,?5)")
        .bind(1, a.alert_id)
        .bind(2, a.site_id)
        .bind(3, a.type)
        .bind(4, std::string(to_string(a.sev)))
        .bind(5, a.raised_ms)
        .run();
  }

  void alert_done(std::int64_t alert_id) override {
    stmt(db_, "UPDATE work_order_alert_seen SET done=1 WHERE alert_id=?1").bind(1, alert_id).run();
  }

 private:
  sqlite3* db_;
};

class sqlite_work_order_db final : public work_order_db {
 public:
  explicit sqlite_work_order_db(const std::filesystem::path& path)
      : db_(gateway::detail::open_room(path.string(), "'work_orders','work_order_events','checkins','photos'", 4,
                                       "work order")) {}
  ~sqlite_work_order_db() override { sqlite3_close(db_); }
  sqlite_work_order_db(const sqlite_work_order_db&) = delete;
  sqlite_work_order_db& operator=(const sqlite_work_order_db&) = delete;

  std::optional<work_order> order(std::int64_t id) override { return order_of(db_, id); }

  void orders(const order_query& q, const std::function<bool(const work_order&)>& each) override {
    stmt s(db_, std::string("SELECT ") + order_columns +
                    " FROM work_orders WHERE (?1 IS NULL OR state=?1) AND (?2 IS NULL OR site_id=?2) AND "
                    "(?3 IS NULL OR contractor=?3) AND (?4 IS NULL OR town=?4) AND (?5 IS NULL OR id<?5) ORDER BY id DESC");
    if (q.state) s.bind(1, std::string(to_string(*q.state)));
    else s.bind_null(1);
    s.bind(2, q.site).bind(3, q.contractor).bind(4, q.town).bind(5, q.before_id);
    while (s.step())
      if (!each(read_order(s))) return;
  }

  std::vector<order_event> events(std::int64_t order_id) override {
    stmt s(db_, std::string("SELECT ") + event_columns + " FROM work_order_events WHERE order_id=?1 ORDER BY id");
    s.bind(1, order_id);
    std::vector<order_event> out;
    while (s.step()) out.push_back(read_event(s));
    return out;
  }

  std::vector<checkin> checkins_of(const work_order& o) override {
    stmt s(db_, std::string("SELECT ") + checkin_columns +
                    " FROM checkins WHERE order_id=?1 OR (order_id IS NULL AND site_id=?2 AND contractor=?3 AND ts_ms>=?4) "
                    "ORDER BY ts_ms");
    s.bind(1, o.id).bind(2, o.site_id).bind(3, o.contractor).bind(4, o.dispatched_ms.value_or(INT64_MAX));
    std::vector<checkin> out;
    while (s.step()) out.push_back(read_checkin(s));
    return out;
  }

  std::optional<checkin> checkin_by_id(std::int64_t id) override {
    stmt s(db_, std::string("SELECT ") + checkin_columns + " FROM checkins WHERE id=?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_checkin(s);
  }

  std::vector<photo> photos_of(std::int64_t order_id) override {
    stmt s(db_, std::string("SELECT ") + photo_columns + " FROM photos WHERE order_id=?1 ORDER BY id");
    s.bind(1, order_id);
    std::vector<photo> out;
    while (s.step()) out.push_back(read_photo(s));
    return out;
  }

  std::optional<photo> photo_by_id(std::int64_t id) override {
    stmt s(db_, std::string("SELECT ") + photo_columns + " FROM photos WHERE id=?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_photo(s);
  }

  std::vector<order_figure_row> figure_rows(std::int64_t from_ms, std::int64_t to_ms) override {
    stmt s(db_,
           "SELECT o.contractor, o.town, o.fault_type, o.state, o.created_ms, o.due_ms, o.reopen_count, "
           " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='dispatched'),"
           " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='fixed') "
           "FROM work_orders o WHERE o.created_ms>=?1 AND o.created_ms<?2 ORDER BY o.id");
    s.bind(1, from_ms).bind(2, to_ms);
    std::vector<order_figure_row> out;
    while (s.step())
      out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.i64(4), s.i64(5), s.i64(6), s.opt_i64(7), s.opt_i64(8)});
    return out;
  }

  std::vector<alert_seen> pending_alerts() override {
    stmt s(db_, std::string("SELECT ") + alert_seen_columns + " FROM work_order_alert_seen WHERE done=0 ORDER BY alert_id");
    std::vector<alert_seen> out;
    while (s.step()) out.push_back(read_alert_seen(s));
    return out;
  }

  std::vector<work_order> overdue(std::int64_t now_ms) override {
    stmt s(db_, std::string("SELECT ") + order_columns +
                    " FROM work_orders WHERE state IN ('open','dispatched','on_site','reopened') AND due_ms<?1 AND "
                    "escalated_level<2 ORDER BY id");
    s.bind(1, now_ms);
    std::vector<work_order> out;
    while (s.step()) out.push_back(read_order(s));
    return out;
  }

  std::vector<work_order> orders_due(std::int64_t from_ms, std::int64_t to_ms) override {
    stmt s(db_, std::string("SELECT ") + order_columns + " FROM work_orders WHERE due_ms>=?1 AND due_ms<?2 ORDER BY id");
    s.bind(1, from_ms);
    s.bind(2, to_ms);
    std::vector<work_order> out;
    while (s.step()) out.push_back(read_order(s));
    return out;
  }

  void write(const char*, const std::function<void(work_order_tx&)>& f) override {
    exec("BEGIN IMMEDIATE");
    try {
      sqlite_tx t(db_);
      f(t);
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  work_order_tables all() override {
    work_order_tables out;
    {
      stmt s(db_, std::string("SELECT ") + order_columns + " FROM work_orders ORDER BY id");
      while (s.step()) out.orders.push_back(read_order(s));
    }
    {
      stmt s(db_, std::string("SELECT ") + event_columns + " FROM work_order_events ORDER BY id");
      while (s.step()) out.events.push_back(read_event(s));
    }
    {
      stmt s(db_, std::string("SELECT ") + checkin_columns + " FROM checkins ORDER BY id");
      while (s.step()) out.checkins.push_back(read_checkin(s));
    }
    {
      stmt s(db_, std::string("SELECT ") + photo_columns + " FROM photos ORDER BY id");
      while (s.step()) out.photos.push_back(read_photo(s));
    }
    {
      stmt s(db_, std::string("SELECT ") + alert_seen_columns + ", done FROM work_order_alert_seen ORDER BY alert_id");
      while (s.step()) out.alerts.push_back({read_alert_seen(s), s.i64(5) != 0});
    }
    return out;
  }

  bool adopt(const work_order_tables&) override {
    throw std::logic_error("work_order_db::adopt: the SQLite file is the source of an adoption, never its target");
  }
  void set_commit_fence(const commit_fence&) override {
    throw std::logic_error("work_order_db::set_commit_fence: one host's SQLite file has nothing to fence");
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string m = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(std::string(room) + ": " + m);
    }
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<work_order_db> open_sqlite_work_order_db(const std::filesystem::path& path) {
  return std::make_unique<sqlite_work_order_db>(path);
}

}  // namespace sewage::gateway::om
