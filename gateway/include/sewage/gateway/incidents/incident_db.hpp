#pragma once
/// \file
/// Where the incidents room (correlator.hpp) keeps its incidents, their member alerts and the
/// weather-driven raises it holds (weather_settings::hold). Two implementations: the gateway's
/// SQLite file (tables of sqlite_store schema v14 and v20) and the shared PostgreSQL database
/// (tables of postgresql_store schema v6), so that a standby that takes over
/// (standby/leader_lease.hpp) resumes the incidents the former leader opened, adds later alerts
/// to them, and holds (or passes on) the raises it held, instead of opening them again and
/// notifying each weather-driven raise alone (issue 16).
///
/// Rows are kept as the correlator writes them: an incident is its JSON document (codec.hpp, the
/// API's shape plus what the correlator needs to resume) beside the columns lists filter and sort
/// on; a held raise is its JSON document ({"raise": alert, "later": [...], "rows": [...]}). This
/// interface never parses them, so moving rows from one store to another never rewrites one.
///
/// Writes: write() applies everything one transition changed in one transaction (all or none); a
/// fenced store (set_commit_fence) checks the fence as that transaction's last statement. Errors
/// throw std::runtime_error naming the store (PostgreSQL: and the operation; never a password),
/// store_fenced when a fence refuses a write. Not thread-safe: the correlator calls it under its
/// lock.

#include "sewage/gateway/store.hpp"
#include "sewage/gateway/store_factory.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway {
struct config;
}

namespace sewage::gateway::incidents {

/// One member alert of an incident (table incident_alerts): its role's name (incident.hpp
/// to_string(alert_role)).
struct incident_member_row {
  std::uint64_t alert_id{0};
  std::int64_t incident_id{0};
  std::string role;
  friend bool operator==(const incident_member_row&, const incident_member_row&) = default;
};

/// One incident (table incidents): state and kind by name, ms since the Unix epoch, its JSON
/// document; `members` are written with it (none for an incident merged into another: its
/// alerts belong to that one).
struct incident_row {
  std::int64_t id{0};
  std::string state;
  std::string kind;
  std::int64_t opened_ms{0};
  std::optional<std::int64_t> resolved_ms;
  std::string doc;
  std::vector<incident_member_row> members;
  friend bool operator==(const incident_row&, const incident_row&) = default;
};

/// One held weather-driven raise (table weather_held): held until `until_ms` (ms since the Unix
/// epoch); `doc` its JSON document.
struct held_row {
  std::uint64_t alert_id{0};
  std::int64_t until_ms{0};
  std::string doc;
  friend bool operator==(const held_row&, const held_row&) = default;
};

/// Everything one transition changed, written in one transaction in this order: the incidents
/// (each replacing the row of its id, its members replacing the rows of their alert ids), the
/// member rows taken out (alert_id and incident_id both match; role ignored), the held raises
/// (each replacing the row of its alert id), then the held raises forgotten. (So a held raise
/// stored and forgotten in one write is forgotten.)
struct incident_writes {
  std::vector<incident_row> incidents;
  std::vector<held_row> held;
  std::vector<std::uint64_t> unheld;
  std::vector<incident_member_row> members_dropped;
  [[nodiscard]] bool empty() const noexcept {
    return incidents.empty() && held.empty() && unheld.empty() && members_dropped.empty();
  }
};

/// Everything an incident_db holds (moving it to another store): `incidents` by id with their
/// member rows as stored (an incident's members may include alerts of an incident merged into
/// it), `held` by alert id.
struct incident_tables {
  std::vector<incident_row> incidents;
  std::vector<held_row> held;
  [[nodiscard]] bool empty() const noexcept { return incidents.empty() && held.empty(); }
};

class incident_db {
 public:
  virtual ~incident_db() = default;

  /// The largest incident id (0: none), and the largest of kind "weather" (0: none).
  [[nodiscard]] virtual std::int64_t max_id() = 0;
  [[nodiscard]] virtual std::int64_t max_weather_id() = 0;
  /// The documents of the incidents not resolved, by id.
  [[nodiscard]] virtual std::vector<std::string> unresolved() = 0;
  /// Incident `id`'s document, or nullopt.
  [[nodiscard]] virtual std::optional<std::string> find(std::int64_t id) = 0;
  /// Up to `limit` documents, newest (largest id) first; only those in `state` (a state's name)
  /// when given.
  [[nodiscard]] virtual std::vector<std::string> list(const std::optional<std::string>& state, std::size_t limit) = 0;
  /// The weather incidents opened before `to_ms` and not resolved before `from_ms` (ms since the
  /// Unix epoch), oldest opened first (incident_row without members).
  [[nodiscard]] virtual std::vector<incident_row> weather(std::int64_t from_ms, std::int64_t to_ms) = 0;
  /// The incident alert `alert_id` is a member of, or nullopt.
  [[nodiscard]] virtual std::optional<std::int64_t> incident_of(std::uint64_t alert_id) = 0;
  /// Every held raise, by alert id.
  [[nodiscard]] virtual std::vector<held_row> held() = 0;

  /// Applies `w` in one transaction (nothing when it is empty).
  virtual void write(const incident_writes& w) = 0;

  /// Every row (incidents by id with their members, held raises by alert id).
  [[nodiscard]] virtual incident_tables all() = 0;
  /// Stores `rows` as they are, in one transaction, when this store holds no incident and no held
  /// raise of its own; false (nothing written) when it holds any. PostgreSQL only (the first start
  /// on the shared database adopts what the SQLite file held): the SQLite implementation throws
  /// std::logic_error.
  virtual bool adopt(const incident_tables& rows) = 0;
  /// Fences every later write (store.hpp commit_fence, standby/leader_lease.hpp): each runs in a
  /// transaction whose last statement checks that gateway_leader still holds `fence.term`, else
  /// it rolls back and throws store_fenced, nothing written. PostgreSQL only: the SQLite
  /// implementation throws std::logic_error (one host's file has nothing to fence).
  virtual void set_commit_fence(const commit_fence& fence) = 0;
};

/// The tables in the SQLite file `path` (migrated to schema v20 or later: open it with
/// sqlite_store first), on a connection of its own (synchronous=NORMAL, as the store's). Throws
/// std::runtime_error naming the path.
std::unique_ptr<incident_db> open_sqlite_incident_db(const std::filesystem::path& path);
/// The tables in the PostgreSQL database `uri` (migrated to schema v6 or later: open it with
/// postgresql_store first), on a connection of its own bounded as bounded_postgresql_uri, with
/// a 5 s statement_timeout. `mode` read_only (a standby's reader, incident_reader.hpp): every
/// transaction of its session is read only, so each write (write, adopt, a fenced write) throws
/// std::runtime_error from the server ("read-only transaction") with nothing written. Throws
/// std::runtime_error naming the database without its password.
std::unique_ptr<incident_db> open_postgresql_incident_db(const std::string& uri,
                                                         store_access mode = store_access::read_write);
/// The configured backend's (config store.backend): SQLite at store.path or PostgreSQL. On
/// PostgreSQL, when the shared tables hold nothing yet and the SQLite file at store.path holds
/// incidents or held raises (a gateway that ran on PostgreSQL before the incidents moved there),
/// they are adopted first, with their ids (logged). Throws std::runtime_error.
std::unique_ptr<incident_db> open_incident_db(const config& cfg);

}  // namespace sewage::gateway::incidents
