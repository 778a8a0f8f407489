#pragma once
/// \file
/// Where the alarm discipline (discipline.hpp) keeps its state: maintenance windows, the state of
/// each alert episode (suppressed, shelved, escalated, grouped) and the groups of repeated
/// episodes. Two implementations: the gateway's SQLite file (tables of sqlite_store schema v12)
/// and the shared PostgreSQL database (tables of postgresql_store schema v5), so that a standby
/// that takes over (standby/leader_lease.hpp) keeps the windows, the shelves and the escalations
/// the former leader recorded (issue 16).
///
/// Every write is one statement in a transaction of its own (a fenced write: with the fence check
/// as its last statement). A row whose alert type this build does not know is never read as
/// another type: the readers throw naming table, row and type (detail/alert_rows.hpp); the first
/// start on PostgreSQL then leaves the SQLite file's rows where they are (logged). Errors throw std::runtime_error naming the store (PostgreSQL: and the operation;
/// never a password), store_fenced when a fence refuses a write. Not thread-safe: the discipline
/// calls it under its lock.

#include "sewage/gateway/alarms/discipline.hpp"
#include "sewage/gateway/alarms/windows.hpp"
#include "sewage/gateway/store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway {
struct config;
}

namespace sewage::gateway::alarms {

/// Everything a discipline_db holds, with its ids (moving it to another store).
struct discipline_rows {
  std::vector<maintenance_window> windows;
  std::vector<alert_state> states;  ///< `group` members unset
  std::vector<alert_group> groups;
  [[nodiscard]] bool empty() const noexcept { return windows.empty() && states.empty() && groups.empty(); }
};

class discipline_db {
 public:
  virtual ~discipline_db() = default;

  /// Every maintenance window, ended ones too, by id.
  [[nodiscard]] virtual std::vector<maintenance_window> windows() = 0;
  /// Stores `w` (its id is ignored) and returns the new window's id (> 0).
  virtual std::int64_t insert_window(const maintenance_window& w) = 0;
  /// Marks window `id` ended at `ended_ms` (ms since the Unix epoch) by `by`.
  virtual void end_window(std::int64_t id, std::int64_t ended_ms, const std::string& by) = 0;
  /// Deletes window `id` (nothing when there is none).
  virtual void delete_window(std::int64_t id) = 0;

  /// The recorded state of alert episode `alert_id` (its `group` member unset), or nullopt.
  [[nodiscard]] virtual std::optional<alert_state> state(std::uint64_t alert_id) = 0;
  /// Records `s` in place of what was recorded for s.alert_id.
  virtual void save(const alert_state& s) = 0;

  /// Group `id`, or nullopt.
  [[nodiscard]] virtual std::optional<alert_group> group(std::int64_t id) = 0;
  /// The group of `site_id` and `type` (proto alert type name) last active (its latest raise or
  /// clear) at or after `active_since_ms` whose latest episode is not `alert_id` and is committed
  /// (a row of the store's table `alerts`: a group left by episodes a gateway raised but never
  /// committed before it died, whose ids the next leader gives out again, groups nothing); the
  /// most recently raised one when several are.
  [[nodiscard]] virtual std::optional<alert_group> recent_group(const std::string& site_id, const std::string& type,
                                                                std::int64_t active_since_ms,
                                                                std::uint64_t alert_id) = 0;
  /// A new group whose first (and latest) episode is `alert_id`, raised at `raised_ms`; its id.
  virtual std::int64_t insert_group(const std::string& site_id, const std::string& type, std::uint64_t alert_id,
                                    std::int64_t raised_ms) = 0;
  /// Episode `alert_id` raised at `raised_ms` repeats group `id`: one repeat more, its latest.
  virtual void add_repeat(std::int64_t id, std::uint64_t alert_id, std::int64_t raised_ms) = 0;
  /// An episode of group `id` cleared at `cleared_ms` (the group keeps the latest clear).
  virtual void group_cleared(std::int64_t id, std::int64_t cleared_ms) = 0;

  /// Every row, by id.
  [[nodiscard]] virtual discipline_rows all() = 0;
  /// Stores `rows` with their ids, in one transaction, when this store holds no row of its own,
  /// and moves its id sequences past them; false (nothing written) when it holds any. PostgreSQL
  /// only (the first start on the shared database adopts what the SQLite file held): the SQLite
  /// implementation throws std::logic_error.
  virtual bool adopt(const discipline_rows& rows) = 0;

  /// Fences every later write (store.hpp commit_fence, standby/leader_lease.hpp): each runs in a
  /// transaction whose last statement checks that gateway_leader still holds `fence.term`, else
  /// it rolls back and throws store_fenced, nothing written (a frozen former leader that wakes
  /// after a takeover cannot change the new leader's windows, shelves or groups). PostgreSQL only:
  /// the SQLite implementation throws std::logic_error (one host's file has nothing to fence).
  virtual void set_commit_fence(const commit_fence& fence) = 0;
};

/// The tables in the SQLite file `path` (migrated to schema v12 or later: open it with
/// sqlite_store first), on a connection of its own. Throws std::runtime_error naming the path.
std::unique_ptr<discipline_db> open_sqlite_discipline_db(const std::filesystem::path& path);
/// The tables in the PostgreSQL database `uri` (migrated to schema v5 or later: open it with
/// postgresql_store first), on a connection of its own bounded as bounded_postgresql_uri, with
/// a 5 s statement_timeout. Throws std::runtime_error naming the database without its password.
std::unique_ptr<discipline_db> open_postgresql_discipline_db(const std::string& uri);
/// The configured backend's (config store.backend): SQLite at store.path or PostgreSQL. On
/// PostgreSQL, when the shared tables hold nothing yet and the SQLite file at store.path holds
/// discipline rows (a gateway that ran on PostgreSQL before the discipline moved there: its
/// windows, shelves, escalations and groups), they are adopted first, with their ids (logged).
std::unique_ptr<discipline_db> open_discipline_db(const config& cfg);

}  // namespace sewage::gateway::alarms
