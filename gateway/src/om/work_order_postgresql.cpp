// The work orders room's tables in the shared PostgreSQL database (om/work_order_db.hpp; schema v7
// of postgresql_store), through libpqxx on a connection of its own; and open_work_order_db, which
// picks the backend of the configuration.
#include "sewage/gateway/om/work_order_db.hpp"

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/postgresql_store.hpp"

#include "detail/pg_fence.hpp"
#include "detail/pg_room.hpp"
#include "om/work_order_rows.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace sewage::gateway::om {
namespace {

/// Bound of each statement (ms): each reads or writes rows by their key, or a page of at most
/// 500 orders: milliseconds on a healthy server, so 5 s means a stuck server.
constexpr int work_order_statement_timeout_ms = 5000;
/// Orders read per statement by orders() (its caller usually stops after one page).
constexpr std::int64_t order_page = 500;

/// A result row with the column getters of detail/sqlite_stmt.hpp, for work_order_rows.hpp.
class pg_cols {
 public:
  explicit pg_cols(const pqxx::row& r) : r_(r) {}
  std::string text(int c) const { return r_[c].is_null() ? std::string() : r_[c].as<std::string>(); }
  std::int64_t i64(int c) const { return r_[c].as<std::int64_t>(); }
  double f64(int c) const { return r_[c].as<double>(); }
  std::optional<std::int64_t> opt_i64(int c) const {
    return r_[c].is_null() ? std::nullopt : std::optional<std::int64_t>(i64(c));
  }
  std::optional<double> opt_f64(int c) const { return r_[c].is_null() ? std::nullopt : std::optional<double>(f64(c)); }

 private:
  const pqxx::row& r_;
};

/// Every row of `r` read by `read` (a work_order_rows.hpp reader).
template <class T, class Read>
std::vector<T> rows_of(const pqxx::result& r, Read read) {
  std::vector<T> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    pg_cols c(row);
    out.push_back(read(c));
  }
  return out;
}
std::vector<work_order> orders_of(const pqxx::result& r) { return rows_of<work_order>(r, detail::read_order<pg_cols>); }
std::vector<checkin> checkins_of_rows(const pqxx::result& r) {
  return rows_of<checkin>(r, detail::read_checkin<pg_cols>);
}
std::vector<photo> photos_of_rows(const pqxx::result& r) { return rows_of<photo>(r, detail::read_photo<pg_cols>); }
std::vector<order_event> events_of_rows(const pqxx::result& r) {
  return rows_of<order_event>(r, detail::read_event<pg_cols>);
}

std::string select_sql(const char* columns, const char* rest) { return std::string("SELECT ") + columns + " " + rest; }

// Inserts with the row's id, or the table's next one when the id is null (COALESCE evaluates
// nextval only then): one statement for a new row and for an adopted one.
constexpr const char* order_insert_sql =
    "INSERT INTO work_orders(id, site_id, town, source, source_ref, fault_type, severity, title, description, contractor,"
    " state, created_ms, dispatched_ms, on_site_ms, fixed_ms, verified_ms, due_ms, reopen_count, cause, parts_used,"
    " created_by, reporter_phone, escalated_level) VALUES(COALESCE($1::bigint, nextval(pg_get_serial_sequence("
    "'work_orders', 'id'))), $2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23) RETURNING id";
constexpr const char* event_insert_sql =
    "INSERT INTO work_order_events(id, order_id, ts_ms, actor, from_state, to_state, lat, lon, note)"
    " VALUES(COALESCE($1::bigint, nextval(pg_get_serial_sequence('work_order_events', 'id'))), $2,$3,$4,$5,$6,$7,$8,$9)"
    " RETURNING id";
constexpr const char* checkin_insert_sql =
    "INSERT INTO checkins(id, site_id, order_id, inspection_id, actor, contractor, ts_ms, lat, lon, accuracy_m, distance_m)"
    " VALUES(COALESCE($1::bigint, nextval(pg_get_serial_sequence('checkins', 'id'))), $2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
    " RETURNING id";
constexpr const char* photo_insert_sql =
    "INSERT INTO photos(id, order_id, inspection_id, site_id, path, sha256, bytes, content_type, taken_ms, taken_source,"
    " uploaded_ms, lat, lon, position_source, actor) VALUES(COALESCE($1::bigint, nextval(pg_get_serial_sequence("
    "'photos', 'id'))), $2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id";
constexpr const char* alert_insert_sql =
    "INSERT INTO work_order_alert_seen(alert_id, site_id, type, severity, raised_ms, done) VALUES($1,$2,$3,$4,$5,$6)"
    " ON CONFLICT (alert_id) DO NOTHING";

using id_or_next = std::optional<std::int64_t>;  // null: the table's next id

std::int64_t put_order(pqxx::transaction_base& t, const work_order& o, id_or_next id) {
  return t.exec_params1(order_insert_sql, id, o.site_id, o.town, o.source, o.source_ref, o.fault_type,
                        std::string(to_string(o.sev)), o.title, o.description, o.contractor,
                        std::string(to_string(o.state)), o.created_ms, o.dispatched_ms, o.on_site_ms, o.fixed_ms,
                        o.verified_ms, o.due_ms, o.reopen_count, o.cause, o.parts_used, o.created_by, o.reporter_phone,
                        o.escalated_level)[0]
      .as<std::int64_t>();
}
std::int64_t put_event(pqxx::transaction_base& t, const order_event& e, id_or_next id) {
  return t.exec_params1(event_insert_sql, id, e.order_id, e.ts_ms, e.actor, e.from_state, e.to_state, e.lat, e.lon,
                        e.note)[0]
      .as<std::int64_t>();
}
std::int64_t put_checkin(pqxx::transaction_base& t, const checkin& c, id_or_next id) {
  return t.exec_params1(checkin_insert_sql, id, c.site_id, c.order_id, c.inspection_id, c.actor, c.contractor, c.ts_ms,
                        c.lat, c.lon, c.accuracy_m, c.distance_m)[0]
      .as<std::int64_t>();
}
std::int64_t put_photo(pqxx::transaction_base& t, const photo& p, id_or_next id) {
  return t.exec_params1(photo_insert_sql, id, p.order_id, p.inspection_id, p.site_id, p.path, p.sha256, p.bytes,
                        p.content_type, p.taken_ms, p.taken_source, p.uploaded_ms, p.lat, p.lon, p.position_source,
                        p.actor)[0]
      .as<std::int64_t>();
}
void put_alert(pqxx::transaction_base& t, const alert_seen& a, bool done) {
  t.exec_params(alert_insert_sql, a.alert_id, a.site_id, a.type, std::string(to_string(a.sev)), a.raised_ms, done);
}

std::optional<work_order> order_in(pqxx::transaction_base& t, std::int64_t id) {
  auto r = orders_of(t.exec_params(select_sql(detail::order_columns, "FROM work_orders WHERE id = $1"), id));
  if (r.empty()) return std::nullopt;
  return std::move(r.front());
}

/// The statements of one write transaction.
class pg_tx final : public work_order_tx {
 public:
  explicit pg_tx(pqxx::transaction_base& t) : t_(t) {}

  std::optional<work_order> order(std::int64_t id) override { return order_in(t_, id); }
  std::int64_t insert_order(const work_order& o) override { return put_order(t_, o, std::nullopt); }
  void update_order(const work_order& o) override {
    t_.exec_params(
        "UPDATE work_orders SET state=$2, contractor=$3, dispatched_ms=$4, on_site_ms=$5, fixed_ms=$6, verified_ms=$7,"
        " reopen_count=$8, cause=$9, parts_used=$10, escalated_level=$11 WHERE id=$1",
        o.id, std::string(to_string(o.state)), o.contractor, o.dispatched_ms, o.on_site_ms, o.fixed_ms, o.verified_ms,
        o.reopen_count, o.cause, o.parts_used, o.escalated_level);
  }
  void set_escalated_level(std::int64_t id, int level) override {
    t_.exec_params("UPDATE work_orders SET escalated_level=$2 WHERE id=$1", id, level);
  }
  std::int64_t insert_event(const order_event& e) override { return put_event(t_, e, std::nullopt); }
  std::int64_t insert_checkin(const checkin& c) override { return put_checkin(t_, c, std::nullopt); }
  std::int64_t insert_photo(const photo& p) override { return put_photo(t_, p, std::nullopt); }
  void link_inspection(std::int64_t checkin_id, std::int64_t inspection_id) override {
    t_.exec_params("UPDATE checkins SET inspection_id = $1 WHERE id = $2", inspection_id, checkin_id);
  }
  std::optional<checkin> latest_checkin(const std::string& site_id, const std::string& contractor, std::int64_t since_ms,
                                        std::int64_t order_id) override {
    auto r = checkins_of_rows(t_.exec_params(
        select_sql(detail::checkin_columns,
               "FROM checkins WHERE site_id=$1 AND contractor=$2 AND ts_ms>=$3 AND (order_id IS NULL OR order_id=$4)"
               " ORDER BY ts_ms DESC, id DESC LIMIT 1"),
        site_id, contractor, since_ms, order_id));
    if (r.empty()) return std::nullopt;
    return std::move(r.front());
  }
  std::int64_t photos_since(std::int64_t order_id, std::int64_t since_ms) override {
    return t_.exec_params1("SELECT count(*) FROM photos WHERE order_id=$1 AND taken_ms>=$2", order_id, since_ms)[0]
        .as<std::int64_t>();
  }
  bool alert_has_order(std::int64_t alert_id) override {
    return !t_.exec_params("SELECT 1 FROM work_orders WHERE source='alert' AND source_ref=$1", std::to_string(alert_id))
                .empty();
  }
  void remember_alert(const alert_seen& a) override { put_alert(t_, a, false); }
  void alert_done(std::int64_t alert_id) override {
    t_.exec_params("UPDATE work_order_alert_seen SET done=true WHERE alert_id=$1", alert_id);
  }

 private:
  pqxx::transaction_base& t_;
};

/// What write()'s function threw itself (not the database): carried past the room connection's
/// guard, which would rename it, after the transaction rolled back.
struct thrown_by_caller {};

class postgresql_work_order_db final : public work_order_db {
 public:
  explicit postgresql_work_order_db(std::string uri)
      : pg_(std::move(uri), "work order store", work_order_statement_timeout_ms) {
    pg_.guard("open", [&] {
      pqxx::nontransaction t(pg_.conn());
      if (t.exec("SELECT to_regclass('work_orders') IS NOT NULL AND to_regclass('work_order_events') IS NOT NULL AND "
                 "to_regclass('checkins') IS NOT NULL AND to_regclass('photos') IS NOT NULL AND "
                 "to_regclass('work_order_alert_seen') IS NOT NULL")[0][0]
              .as<bool>())
        return;
      throw std::runtime_error("no work order tables: open the store with postgresql_store first (schema v7 or later)");
    });
  }

  std::optional<work_order> order(std::int64_t id) override {
    return pg_.guard("order", [&] {
      pqxx::nontransaction t(pg_.conn());
      return order_in(t, id);
    });
  }

  void orders(const order_query& q, const std::function<bool(const work_order&)>& each) override {
    std::optional<std::string> state;
    if (q.state) state = std::string(to_string(*q.state));
    auto before = q.before_id;
    for (;;) {
      const auto page = pg_.guard("orders", [&] {
        pqxx::nontransaction t(pg_.conn());
        return orders_of(t.exec_params(
            select_sql(detail::order_columns,
                   "FROM work_orders WHERE ($1::text IS NULL OR state=$1) AND ($2::text IS NULL OR site_id=$2) AND"
                   " ($3::text IS NULL OR contractor=$3) AND ($4::text IS NULL OR town=$4) AND"
                   " ($5::bigint IS NULL OR id<$5) ORDER BY id DESC LIMIT $6"),
            state, q.site, q.contractor, q.town, before, order_page));
      });
      for (const auto& o : page)
        if (!each(o)) return;
      if (static_cast<std::int64_t>(page.size()) < order_page) return;
      before = page.back().id;
    }
  }

  std::vector<order_event> events(std::int64_t order_id) override {
    return pg_.guard("events", [&] {
      pqxx::nontransaction t(pg_.conn());
      return events_of_rows(
          t.exec_params(select_sql(detail::event_columns, "FROM work_order_events WHERE order_id=$1 ORDER BY id"), order_id));
    });
  }

  std::vector<checkin> checkins_of(const work_order& o) override {
    return pg_.guard("checkins_of", [&] {
      pqxx::nontransaction t(pg_.conn());
      return checkins_of_rows(t.exec_params(
          select_sql(detail::checkin_columns,
                 "FROM checkins WHERE order_id=$1 OR (order_id IS NULL AND site_id=$2 AND contractor=$3 AND ts_ms>=$4)"
                 " ORDER BY ts_ms, id"),
          o.id, o.site_id, o.contractor, o.dispatched_ms.value_or(INT64_MAX)));
    });
  }

  std::optional<checkin> checkin_by_id(std::int64_t id) override {
    return pg_.guard("checkin_by_id", [&]() -> std::optional<checkin> {
      pqxx::nontransaction t(pg_.conn());
      auto r = checkins_of_rows(t.exec_params(select_sql(detail::checkin_columns, "FROM checkins WHERE id=$1"), id));
      if (r.empty()) return std::nullopt;
      return std::move(r.front());
    });
  }

  std::vector<photo> photos_of(std::int64_t order_id) override {
    return pg_.guard("photos_of", [&] {
      pqxx::nontransaction t(pg_.conn());
      return photos_of_rows(t.exec_params(select_sql(detail::photo_columns, "FROM photos WHERE order_id=$1 ORDER BY id"), order_id));
    });
  }

  std::optional<photo> photo_by_id(std::int64_t id) override {
    return pg_.guard("photo_by_id", [&]() -> std::optional<photo> {
      pqxx::nontransaction t(pg_.conn());
      auto r = photos_of_rows(t.exec_params(select_sql(detail::photo_columns, "FROM photos WHERE id=$1"), id));
      if (r.empty()) return std::nullopt;
      return std::move(r.front());
    });
  }

  std::vector<order_figure_row> figure_rows(std::int64_t from_ms, std::int64_t to_ms) override {
    return pg_.guard("figure_rows", [&] {
      pqxx::nontransaction t(pg_.conn());
      std::vector<order_figure_row> out;
      for (const auto& row : t.exec_params(
               "SELECT o.contractor, o.town, o.fault_type, o.state, o.created_ms, o.due_ms, o.reopen_count,"
               " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='dispatched'),"
               " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='fixed')"
               " FROM work_orders o WHERE o.created_ms>=$1 AND o.created_ms<$2 ORDER BY o.id",
               from_ms, to_ms)) {
        const pg_cols c(row);
        out.push_back({c.text(0), c.text(1), c.text(2), c.text(3), c.i64(4), c.i64(5), c.i64(6), c.opt_i64(7), c.opt_i64(8)});
      }
      return out;
    });
  }

  std::vector<alert_seen> pending_alerts() override {
    return pg_.guard("pending_alerts", [&] {
      pqxx::nontransaction t(pg_.conn());
      return rows_of<alert_seen>(
          t.exec(select_sql(detail::alert_seen_columns, "FROM work_order_alert_seen WHERE NOT done ORDER BY alert_id")),
          detail::read_alert_seen<pg_cols>);
    });
  }

  std::vector<work_order> overdue(std::int64_t now_ms) override {
    return pg_.guard("overdue", [&] {
      pqxx::nontransaction t(pg_.conn());
      return orders_of(t.exec_params(select_sql(detail::order_columns,
                                            "FROM work_orders WHERE state IN ('open','dispatched','on_site','reopened') AND"
                                            " due_ms<$1 AND escalated_level<2 ORDER BY id"),
                                     now_ms));
    });
  }

  std::vector<work_order> orders_due(std::int64_t from_ms, std::int64_t to_ms) override {
    return pg_.guard("orders_due", [&] {
      pqxx::nontransaction t(pg_.conn());
      return orders_of(t.exec_params(
          select_sql(detail::order_columns, "FROM work_orders WHERE due_ms>=$1 AND due_ms<$2 ORDER BY id"), from_ms, to_ms));
    });
  }

  void write(const char* op, const std::function<void(work_order_tx&)>& f) override {
    std::exception_ptr own;  // an om_error `f` threw (a refusal), passed on unchanged
    try {
      pg_.write(op, fence_, [&](pqxx::transaction_base& t) {
        pg_tx x(t);
        try {
          f(x);
        } catch (const om_error&) {
          own = std::current_exception();
          throw thrown_by_caller{};  // not a std::exception: the guard lets it pass; the transaction rolls back
        }
        // Everything else (libpqxx's failures, and its conversion and usage errors, which
        // libpqxx 6.4 derives from std::logic_error and not from pqxx_exception) reaches the
        // guard and is named with the store and `op`.
      });
    } catch (const thrown_by_caller&) {
      std::rethrow_exception(own);
    }
  }

  work_order_tables all() override {
    return pg_.guard("all", [&] {
      work_order_tables out;
      // One snapshot of the five tables.
      pqxx::transaction<pqxx::isolation_level::repeatable_read> t(pg_.conn());
      out.orders = orders_of(t.exec(select_sql(detail::order_columns, "FROM work_orders ORDER BY id")));
      out.events = events_of_rows(t.exec(select_sql(detail::event_columns, "FROM work_order_events ORDER BY id")));
      out.checkins = checkins_of_rows(t.exec(select_sql(detail::checkin_columns, "FROM checkins ORDER BY id")));
      out.photos = photos_of_rows(t.exec(select_sql(detail::photo_columns, "FROM photos ORDER BY id")));
      for (const auto& row : t.exec(select_sql(detail::alert_seen_columns, ", done FROM work_order_alert_seen ORDER BY alert_id"))) {
        pg_cols c(row);
        out.alerts.push_back({detail::read_alert_seen(c), row[5].as<bool>()});
      }
      t.commit();
      return out;
    });
  }

  /// True when none of the five tables holds a row.
  bool holds_nothing() {
    return pg_.guard("holds_nothing", [&] {
      pqxx::nontransaction t(pg_.conn());
      return !t.exec(any_row_sql)[0][0].as<bool>();
    });
  }

  bool adopt(const work_order_tables& rows) override {
    return pg_.guard("adopt", [&] {
      pqxx::work t(pg_.conn());
      // Long enough for a county's years of orders, one statement each.
      t.exec("SET LOCAL statement_timeout = 60000");
      t.exec("LOCK TABLE work_orders, work_order_events, checkins, photos, work_order_alert_seen IN EXCLUSIVE MODE");
      if (t.exec(any_row_sql)[0][0].as<bool>()) return false;
      for (const auto& o : rows.orders) put_order(t, o, o.id);
      for (const auto& e : rows.events) put_event(t, e, e.id);
      for (const auto& c : rows.checkins) put_checkin(t, c, c.id);
      for (const auto& p : rows.photos) put_photo(t, p, p.id);
      for (const auto& a : rows.alerts) put_alert(t, a.alert, a.done);
      // Later rows continue past the adopted ids.
      for (const char* table : {"work_orders", "work_order_events", "checkins", "photos"})
        t.exec_params("SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce((SELECT max(id) FROM " +
                          std::string(table) + "), 0) + 1, false)",
                      std::string(table));
      if (fence_) gateway::detail::check_commit_fence(t, *fence_, pg_.where());
      t.commit();
      return true;
    });
  }

  void set_commit_fence(const commit_fence& fence) override { fence_ = fence; }

 private:
  static constexpr const char* any_row_sql =
      "SELECT EXISTS (SELECT 1 FROM work_orders) OR EXISTS (SELECT 1 FROM work_order_events) OR "
      "EXISTS (SELECT 1 FROM checkins) OR EXISTS (SELECT 1 FROM photos) OR EXISTS (SELECT 1 FROM work_order_alert_seen)";

  gateway::detail::pg_room_connection pg_;
  std::optional<commit_fence> fence_;  // set_commit_fence
};

}  // namespace

std::unique_ptr<work_order_db> open_postgresql_work_order_db(const std::string& uri) {
  return std::make_unique<postgresql_work_order_db>(uri);
}

std::unique_ptr<work_order_db> open_work_order_db(const config& cfg) {
  if (cfg.backend != store_backend::postgresql) return open_sqlite_work_order_db(cfg.store_path);
  auto shared = std::make_unique<postgresql_work_order_db>(cfg.postgresql_uri);
  // The SQLite file of a gateway that ran on PostgreSQL before the work orders moved there
  // (open_store creates and migrates it with the PostgreSQL store: it exists whenever the gateway
  // ran). Read only while the shared tables are empty (adopt checks again, under its lock).
  std::error_code ec;
  if (std::filesystem::exists(cfg.store_path, ec) && shared->holds_nothing()) {
    const auto local = open_sqlite_work_order_db(cfg.store_path)->all();
    if (!local.empty() && shared->adopt(local))
      spdlog::warn("work orders: {} orders ({} events), {} check-ins, {} photos and {} alerts offered to the policies "
                   "moved from {} to the shared database",
                   local.orders.size(), local.events.size(), local.checkins.size(), local.photos.size(),
                   local.alerts.size(), cfg.store_path.string());
  }
  return shared;
}

}  // namespace sewage::gateway::om
