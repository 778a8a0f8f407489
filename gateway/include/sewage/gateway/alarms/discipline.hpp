#pragma once
/// \file
/// Alarm discipline (issue 12 item 6, gateway/README.md "Alarm discipline"): maintenance windows
/// that suppress a site's alerts, shelving, escalation of alerts neither acknowledged nor cleared,
/// and grouping of repeats. It sits between the engine and the notifier as the engine's
/// alert_listener: a transition it holds back (suppressed, a repeat) reaches no notification
/// target. State lives in the store's database (tables of migration_v12_alarm_discipline) on a
/// connection of its own, so it survives restarts; escalations are queued with once-keys
/// (notifier::enqueue_escalation) and so are sent once per level per episode, restarts included.
///
/// Thread-safety: every public member is thread-safe (one internal mutex). The engine calls
/// on_transition / on_committed and tick on its thread; read routes ask state_of / quiet from
/// reader threads.

#include "sewage/gateway/alarms/settings.hpp"
#include "sewage/gateway/alarms/windows.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/notify/settings.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway {
class notifier;
}

namespace sewage::gateway::alarms {

/// A group of repeated episodes of one alert type at one site (grouping, settings::group_window_s).
struct alert_group {
  std::int64_t id{0};
  std::string site_id;
  proto::alert_type type{proto::alert_type::offline};
  std::uint64_t head_alert{0};   ///< the first episode
  std::uint64_t last_alert{0};   ///< the latest episode
  std::uint32_t repeats{0};      ///< episodes after the first
  proto::timestamp first{};      ///< the first episode's raise
  proto::timestamp last{};       ///< the latest episode's raise
  std::optional<proto::timestamp> last_clear;  ///< the latest clear of one of its episodes
};

/// What the discipline knows of one alert episode.
struct alert_state {
  std::uint64_t alert_id{0};
  std::string site_id;
  proto::alert_type type{proto::alert_type::offline};
  // Suppression: raised inside window `window_id` (suppressed until released).
  std::optional<std::int64_t> window_id;
  std::optional<proto::timestamp> released;   ///< the window ended with the alert still open
  // Shelving.
  std::optional<proto::timestamp> shelved_until;
  std::string shelved_by, shelve_note;
  std::optional<proto::timestamp> unshelved;  ///< the shelf ran out (or the alert cleared on it)
  // Escalation: the highest level reached.
  std::optional<notify_level> escalated;
  std::optional<proto::timestamp> escalated_at;
  // Grouping.
  std::optional<std::int64_t> group_id;
  std::optional<std::uint64_t> repeat_of;     ///< the group's first episode, when this is a repeat
  std::optional<alert_group> group;           ///< filled by state_of

  /// Raised in a maintenance window that is still in force (not released).
  [[nodiscard]] bool suppressed() const noexcept { return window_id.has_value() && !released.has_value(); }
  /// On a shelf now.
  [[nodiscard]] bool shelved() const noexcept { return shelved_until.has_value() && !unshelved.has_value(); }
};

/// Refusals of the API-facing calls: `status` is the HTTP status to answer, `what()` names the
/// field and the reason.
class discipline_error : public std::runtime_error {
 public:
  discipline_error(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  [[nodiscard]] int status() const noexcept { return status_; }

 private:
  int status_;
};

/// An audit sink: (action, target, detail JSON object text). Called for the changes the
/// discipline makes by itself (a shelf running out, a window releasing an alert, an escalation).
using audit_sink = std::function<void(const std::string& action, const std::string& target, const std::string& detail)>;

class discipline_db;

class discipline final : public alert_listener {
 public:
  /// Opens `db_path` (migrated to schema v12 or later: open it with sqlite_store first) on a
  /// connection of its own and loads the windows. `next` receives the transitions not held back
  /// (the notifier; may be null), `notify` takes escalations and released alerts (may be null:
  /// then escalations are recorded, shown and counted, but sent nowhere). `clock` is the engine's
  /// (simulated in tests and the demo). Throws std::runtime_error naming the path.
  discipline(const std::filesystem::path& db_path, settings s, county_zone zone, const clock_source& clock,
             alert_listener* next, notifier* notify);
  /// The same on any store of the discipline's state (discipline_db.hpp: open_discipline_db picks
  /// the configured backend; the shared PostgreSQL one keeps windows, shelves and escalations
  /// across a standby's takeover). Throws std::invalid_argument for a null `db`, and what
  /// db->windows() throws.
  discipline(std::unique_ptr<discipline_db> db, settings s, county_zone zone, const clock_source& clock,
             alert_listener* next, notifier* notify);
  ~discipline() override;
  discipline(const discipline&) = delete;
  discipline& operator=(const discipline&) = delete;

  /// Where self-made changes are audited (main: the identity store's audit log). Call before use.
  void set_audit(audit_sink sink);
  /// Alerts held back before they reached the discipline (main: the incident correlator's
  /// consequences, incidents/correlator.hpp held_back): never escalated, whatever their age. The
  /// function is called on the engine's thread during tick(), with the discipline's lock held;
  /// it must not call back into the discipline. Call before use.
  void set_held_back(std::function<bool(std::uint64_t alert_id)> held_back);

  // ---- alert_listener (engine thread) ----
  /// raise: inside a window of the site → suppressed, held back; else a repeat of a group within
  /// group_window_s → grouped, held back; else passed on. ack / clear: held back for suppressed
  /// episodes and repeats, passed on otherwise; a clear ends a shelf. Never throws (a database
  /// failure is logged and the transition passed on: notifying too much beats too little).
  void on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                     std::vector<notification_row>& queue) noexcept override;
  void on_committed() noexcept override;

  /// Engine thread, on every tick: releases suppressed alerts whose window is no longer in force
  /// (they become normal active alerts and are notified now), takes alerts off shelves that ran
  /// out (they return unacknowledged), and escalates open unacknowledged alerts due for it (see
  /// settings). `eng` gives the open alerts and the registry (towns). Never throws.
  void tick(const engine& eng) noexcept;

  // ---- maintenance windows (API) ----
  /// Stores a new window (checked with window_problem: discipline_error 400 naming the field).
  /// Returns it with its id.
  maintenance_window create_window(maintenance_window w);
  /// Windows of `sites` (all when empty), newest first; ended ones too when `include_ended`.
  [[nodiscard]] std::vector<maintenance_window> windows(const std::vector<std::string>& sites, bool include_ended) const;
  [[nodiscard]] std::optional<maintenance_window> window(std::int64_t id) const;
  /// Ends window `id` now (by `by`). 404 unknown, 409 already ended or over.
  maintenance_window end_window(std::int64_t id, const std::string& by);
  /// Deletes window `id`; its suppressed alerts are released at the next tick. 404 unknown.
  void delete_window(std::int64_t id);
  /// The window of `site_id` in force at `t` and its occurrence, if any.
  [[nodiscard]] std::optional<std::pair<maintenance_window, occurrence>> window_at(const std::string& site_id,
                                                                                   proto::timestamp t) const;

  // ---- shelving (API, engine thread) ----
  /// Shelves open alert `a` for `duration_s` (1 .. max_shelve_s: 400 naming duration_s) with `note`
  /// by `by`. 409 when it is cleared or already shelved. Returns the new state.
  alert_state shelve(const proto::alert_message& a, std::int64_t duration_s, const std::string& note,
                     const std::string& by);

  // ---- state (any thread) ----
  /// The discipline state of `alert_id` with its group, if it has any.
  [[nodiscard]] std::optional<alert_state> state_of(std::uint64_t alert_id) const;
  /// The hook for other parts (work orders, counts): true when `alert_id` is suppressed by a
  /// maintenance window or on a shelf now — it must not be counted as needing acknowledgement
  /// and must not open a work order.
  [[nodiscard]] bool quiet(std::uint64_t alert_id) const;
  /// True when `alert_id` is suppressed by a maintenance window now (never opens a work order).
  [[nodiscard]] bool suppressed(std::uint64_t alert_id) const;

  [[nodiscard]] const settings& config() const noexcept { return settings_; }
  /// The engine's clock, now.
  [[nodiscard]] proto::timestamp now() const noexcept;
  [[nodiscard]] const county_zone& zone() const noexcept { return zone_; }

  /// Counters for /metrics (monotonic).
  struct counts {
    std::uint64_t suppressed{0}, released{0}, shelved{0}, unshelved{0}, escalated_town{0}, escalated_county{0},
        grouped{0}, failures{0};
  };
  [[nodiscard]] counts counters() const;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  settings settings_;
  county_zone zone_;
};

}  // namespace sewage::gateway::alarms
