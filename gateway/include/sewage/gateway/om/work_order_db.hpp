#pragma once
/// \file
/// Where the work orders room (work_orders.hpp) keeps its orders, their events (history), the
/// check-ins at sites, the photos' metadata and the alerts offered to the auto-creation policies.
/// Two implementations: the gateway's SQLite file (tables of sqlite_store schema v9) and the
/// shared PostgreSQL database (tables of postgresql_store schema v7), so that a standby that takes
/// over (standby/leader_lease.hpp) lists the orders the former leader opened, continues their
/// state machine, and opens no second order for an alert the former leader already offered to the
/// policies (issue 16). The photo files themselves stay beside each host's store (om photo_dir).
///
/// This interface stores and finds rows; it never judges them (who may do what, evidence, due
/// times, figures: work_orders.cpp, the same code on both backends).
///
/// Writes: write() runs its function in one transaction (all or none); a fenced store
/// (set_commit_fence) checks the fence as that transaction's last statement. Errors throw
/// std::runtime_error naming the store (PostgreSQL: and the operation; never a password),
/// store_fenced when a fence refuses a write; an exception thrown by write()'s function itself
/// rolls the transaction back and passes unchanged (an om_error keeps its status). Not
/// thread-safe: work_orders calls it under its lock.

#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway {
struct config;
}

namespace sewage::gateway::om {

/// One alert offered to the policies (table work_order_alert_seen): `done` once its order was
/// opened or it cleared.
struct alert_seen_row {
  alert_seen alert;
  bool done{false};
  friend bool operator==(const alert_seen_row&, const alert_seen_row&) = default;
};

/// What work_orders::figures needs of one order: its columns and the times (ms since the Unix
/// epoch) of its first event into dispatched and into fixed (nullopt: none yet).
struct order_figure_row {
  std::string contractor, town, fault_type, state;
  std::int64_t created_ms{0}, due_ms{0}, reopen_count{0};
  std::optional<std::int64_t> first_dispatched_ms, first_fixed_ms;
};

/// Everything a work_order_db holds (moving it to another store), each table by id (alerts by
/// alert id).
struct work_order_tables {
  std::vector<work_order> orders;
  std::vector<order_event> events;
  std::vector<checkin> checkins;
  std::vector<photo> photos;
  std::vector<alert_seen_row> alerts;
  [[nodiscard]] bool empty() const noexcept {
    return orders.empty() && events.empty() && checkins.empty() && photos.empty() && alerts.empty();
  }
};

/// The reads and writes of one write transaction (work_order_db::write); valid only inside it.
/// Times are ms since the Unix epoch. Errors as work_order_db's.
class work_order_tx {
 public:
  virtual ~work_order_tx() = default;
  /// Order `id` as this transaction sees it, or nullopt.
  [[nodiscard]] virtual std::optional<work_order> order(std::int64_t id) = 0;
  /// Inserts `o` (its `id` ignored) and returns the id the store gave it: larger than every id
  /// given before, also across restarts (never reused).
  virtual std::int64_t insert_order(const work_order& o) = 0;
  /// Writes order `o.id`'s changing columns as `o` holds them: state, contractor, the dispatched,
  /// on-site, fixed and verified times, reopen_count, cause, parts_used and escalated_level.
  virtual void update_order(const work_order& o) = 0;
  /// Sets only order `id`'s escalated_level (0 none, 1 town, 2 county).
  virtual void set_escalated_level(std::int64_t id, int level) = 0;
  /// Appends an event row (its `id` ignored); returns its id.
  virtual std::int64_t insert_event(const order_event& e) = 0;
  /// Stores a check-in (its `id` ignored); returns its id.
  virtual std::int64_t insert_checkin(const checkin& c) = 0;
  /// Stores a photo's metadata (its `id` ignored); returns its id.
  virtual std::int64_t insert_photo(const photo& p) = 0;
  /// Sets check-in `checkin_id`'s inspection (the inspection it started); nothing when unknown.
  virtual void link_inspection(std::int64_t checkin_id, std::int64_t inspection_id) = 0;
  /// The latest check-in at `site_id` by `contractor` made at or after `since_ms` that belongs to
  /// no other order (its order_id null or `order_id`), or nullopt.
  [[nodiscard]] virtual std::optional<checkin> latest_checkin(const std::string& site_id, const std::string& contractor,
                                                              std::int64_t since_ms, std::int64_t order_id) = 0;
  /// How many photos of order `order_id` were taken at or after `since_ms`.
  [[nodiscard]] virtual std::int64_t photos_since(std::int64_t order_id, std::int64_t since_ms) = 0;
  /// True when an order of source "alert" names alert `alert_id` (its source_ref).
  [[nodiscard]] virtual bool alert_has_order(std::int64_t alert_id) = 0;
  /// Remembers `a` as offered to the policies, not done; nothing when it is remembered already
  /// (the first row stays, done or not).
  virtual void remember_alert(const alert_seen& a) = 0;
  /// Marks alert `alert_id` done; nothing when it is not remembered.
  virtual void alert_done(std::int64_t alert_id) = 0;
};

class work_order_db {
 public:
  virtual ~work_order_db() = default;

  /// Order `id`, or nullopt.
  [[nodiscard]] virtual std::optional<work_order> order(std::int64_t id) = 0;
  /// Calls `each` with the orders matching `q`'s state, site, contractor, town and before_id (each
  /// optional; q.limit is not used), newest (largest id) first, until it returns false. Reads in
  /// pages: `each` may stop early without the rest being read.
  virtual void orders(const order_query& q, const std::function<bool(const work_order&)>& each) = 0;
  /// Order `order_id`'s events, oldest first.
  [[nodiscard]] virtual std::vector<order_event> events(std::int64_t order_id) = 0;
  /// The check-ins of order `o`: its own, and those at its site by its contractor, of no order,
  /// made at or after its dispatch (none such when it was never dispatched); oldest first.
  [[nodiscard]] virtual std::vector<checkin> checkins_of(const work_order& o) = 0;
  /// Check-in `id`, or nullopt.
  [[nodiscard]] virtual std::optional<checkin> checkin_by_id(std::int64_t id) = 0;
  /// Order `order_id`'s photos, by id.
  [[nodiscard]] virtual std::vector<photo> photos_of(std::int64_t order_id) = 0;
  /// Photo `id`, or nullopt.
  [[nodiscard]] virtual std::optional<photo> photo_by_id(std::int64_t id) = 0;
  /// The orders created in [from_ms, to_ms), with their first dispatch and first fix, by id.
  [[nodiscard]] virtual std::vector<order_figure_row> figure_rows(std::int64_t from_ms, std::int64_t to_ms) = 0;
  /// The alerts offered to the policies and not done, by alert id.
  [[nodiscard]] virtual std::vector<alert_seen> pending_alerts() = 0;
  /// The orders not yet fixed (open, dispatched, on_site, reopened) due before `now_ms` whose
  /// escalated_level is below 2, by id.
  [[nodiscard]] virtual std::vector<work_order> overdue(std::int64_t now_ms) = 0;
  /// The orders due in [from_ms, to_ms), by id (the contractors' assessment: assessment.hpp).
  /// Filtered by the database, not read whole and filtered here.
  [[nodiscard]] virtual std::vector<work_order> orders_due(std::int64_t from_ms, std::int64_t to_ms) = 0;

  /// Runs `f` in one write transaction: everything it wrote, or nothing when it (or the commit)
  /// throws. `op` names the operation in errors ("create", "transition", ...).
  virtual void write(const char* op, const std::function<void(work_order_tx&)>& f) = 0;

  /// Every row (each table by id).
  [[nodiscard]] virtual work_order_tables all() = 0;
  /// Stores `rows` as they are, with their ids, in one transaction, when this store holds no row
  /// of its own in any of the five tables; false (nothing written) when it holds any. Later ids
  /// continue past the largest adopted. PostgreSQL only (the first start on the shared database
  /// adopts what the SQLite file held): the SQLite implementation throws std::logic_error.
  virtual bool adopt(const work_order_tables& rows) = 0;
  /// Fences every later write (store.hpp commit_fence, standby/leader_lease.hpp): each runs in a
  /// transaction whose last statement checks that gateway_leader still holds `fence.term`, else
  /// it rolls back and throws store_fenced, nothing written. PostgreSQL only: the SQLite
  /// implementation throws std::logic_error (one host's file has nothing to fence).
  virtual void set_commit_fence(const commit_fence& fence) = 0;
};

/// The tables in the SQLite file `path` (migrated to schema v9 or later: open it with
/// sqlite_store first), on a connection of its own. Throws std::runtime_error naming the path.
std::unique_ptr<work_order_db> open_sqlite_work_order_db(const std::filesystem::path& path);
/// The tables in the PostgreSQL database `uri` (migrated to schema v7 or later: open it with
/// postgresql_store first), on a connection of its own bounded as bounded_postgresql_uri, with
/// a 5 s statement_timeout. Throws std::runtime_error naming the database without its password.
std::unique_ptr<work_order_db> open_postgresql_work_order_db(const std::string& uri);
/// The configured backend's (config store.backend): SQLite at store.path or PostgreSQL. On
/// PostgreSQL, when the shared tables hold nothing yet and the SQLite file at store.path holds
/// work-order rows (a gateway that ran on PostgreSQL before the work orders moved there), they
/// are adopted first, with their ids (one warning line). Throws std::runtime_error.
std::unique_ptr<work_order_db> open_work_order_db(const config& cfg);

}  // namespace sewage::gateway::om
