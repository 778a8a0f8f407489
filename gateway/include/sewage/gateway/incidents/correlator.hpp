#pragma once
/// \file
/// The incident correlator (issue 13 item 3, gateway/README.md "Incidents"): the engine's
/// alert_listener, placed between the engine and the alarm discipline (engine -> correlator ->
/// discipline -> notifier). It groups network alerts into incidents (incident.hpp) on the
/// current pipe network (network::holder; none = every alert passes through unchanged) and
/// forwards one notification per incident: the first alert of a new incident, its message
/// prefixed "Incident #N: " with the affected terminals and households appended. Alerts that
/// join an incident later (consequences, further causes) are stored but not forwarded: neither
/// their raise nor their ack/clear. Alerts not at a network node, and types the correlation does
/// not use (locate.hpp classify), pass through unchanged.
///
/// Weather events (weather.hpp, issue 14 item 2) need no network: `flow_high` / `turbidity_high`
/// at `min_terminals` terminals within `window` become one incident of kind `weather`, or the
/// first such raise does when a share of the county's flows runs high with its own
/// (set_running_high, weather_settings::running_high_factor). A raise that does neither is held
/// for weather_settings::hold (tick) before it is passed on alone: a storm's first flush raises
/// turbidity_high at many terminals within minutes, before their flows rise.
///
/// Incidents and held raises live in an incident_db (incident_db.hpp): the gateway's SQLite file
/// (tables `incidents`, `incident_alerts`, `weather_held`) or, with store.backend = "postgresql",
/// the database a standby pair shares; open ones are also held in memory. Each transition's
/// changes are written in one transaction.
///
/// Thread-safety: every public member is thread-safe (one internal mutex). The engine calls
/// on_transition / on_committed on its thread.

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/incidents/incident.hpp"
#include "sewage/gateway/incidents/incident_db.hpp"
#include "sewage/gateway/incidents/incident_reader.hpp"
#include "sewage/gateway/incidents/locate.hpp"
#include "sewage/gateway/incidents/settings.hpp"
#include "sewage/gateway/network/holder.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sewage::gateway::incidents {

/// How long after a rootless incident opened a cause at a station upstream of its section may
/// still explain it (re-root it). A flow loss reaches a terminal hours after its cause (the
/// terminal's tank lags, and the loss must last its debounce), so its cause is normally raised
/// first; a cause raised up to this long afterwards is one whose own detection was slower (an
/// offline judged after a grace). A station that fails later than that started after the loss
/// was already there: it gets an incident of its own (found in network_end_to_end: every station
/// going offline at the simulation's end re-rooted an open blockage hours old).
inline constexpr std::chrono::minutes late_cause_window{60};

/// How long after its last member's raise a weather event still counts as rain for the learned
/// normal (correlator::weather_spans). Two days: BSM1's rain lifts the flow for 2.04 d and its
/// storm for 2.71 d from their rise (tools/sim influent.hpp apply_weather), and the members' raises
/// come in their first hours; the day after the span is left out as well (wet_days_of).
inline constexpr std::chrono::hours weather_span_after_last_raise{48};

/// Counters for /metrics.
struct counts {
  std::uint64_t open{0};          ///< gauge: incidents open or acknowledged
  std::uint64_t opened{0};        ///< incidents opened since start (sewage_gateway_incidents_total)
  std::uint64_t consequences{0};  ///< alerts that became consequences since start
  std::uint64_t failures{0};      ///< database writes that failed (logged; the alert was passed on)
  /// Weather-driven raises held back (weather_settings::hold) since start; of them, `released`
  /// were passed on alone when their hold ran out, the others joined an event un-notified.
  std::uint64_t held{0};
  std::uint64_t released{0};
};

class correlator final : public alert_listener, public incident_reader {
 public:
  /// Opens `db_path` (migrated to schema v20 or later: open it with sqlite_store first) on a
  /// connection of its own and loads the open incidents. `pipes` and `clock` (the engine's) must
  /// outlive it; `next` receives what is forwarded (the alarm discipline; may be null). Throws
  /// std::runtime_error naming the path.
  correlator(const std::filesystem::path& db_path, const network::holder& pipes, const clock_source& clock,
             alert_listener* next);
  /// The same on `db` (incident_db.hpp open_incident_db: the configured backend's; not null).
  /// Throws std::runtime_error naming the store when the open incidents cannot be loaded.
  correlator(std::unique_ptr<incident_db> db, const network::holder& pipes, const clock_source& clock,
             alert_listener* next);
  ~correlator() override;
  correlator(const correlator&) = delete;
  correlator& operator=(const correlator&) = delete;

  /// How monitored sites look (main: engine_health over the engine). Without it every
  /// instrumented node is `unknown` (searched past). Call before the first transition.
  void set_site_health(health_fn f);
  /// Weather events (weather.hpp); the defaults of weather_settings until called. Call before the
  /// first transition.
  void set_weather(const weather_settings& s);
  /// The terminals whose flow runs above `factor` x their learned normal at `at`, and how many
  /// were judged (main: engine::terminals_running_high), asked when a weather-driven raise is not
  /// yet in an event (weather_settings::running_high_factor, running_high_share). Called on the
  /// engine's thread with the correlator's lock held; must not block or call the correlator.
  /// Without it only the count of raises makes an event. Call before the first transition.
  using running_high_fn = std::function<engine::running_high(double factor, proto::timestamp at)>;
  void set_running_high(running_high_fn f);
  /// Where tick() stores the notification rows of a held raise it passes on (main:
  /// notifier::enqueue_rows): durably, queuing nothing when `once_key` was used before. Throws on
  /// a store failure (std::exception): the raise stays held and its rows are stored at a later
  /// tick. Without it the rows are dropped (the next listener still sees the transitions). Called
  /// on the engine's thread without the correlator's lock. Call before the first transition.
  using release_fn = std::function<void(const std::vector<notification_row>& rows, const std::string& once_key)>;
  void set_release(release_fn f);
  /// Whether site `site_id` is inside a maintenance window at `at` (main: alarms::discipline::
  /// window_at). A raise there is never held (weather_settings::hold): the discipline suppresses
  /// it at once and the operators see it so. Called on the engine's thread with the correlator's
  /// lock held; must not call the correlator. Without it every such raise may be held. Call
  /// before the first transition.
  using in_window_fn = std::function<bool(const std::string& site_id, proto::timestamp at)>;
  void set_in_window(in_window_fn f);
  /// When open alert `alert_id` is on an operator's shelf now: the shelf's end; std::nullopt when
  /// it is on none (main: alarms::discipline::state_of, shelved()). tick() asks it of a held raise
  /// whose hold ran out: one on a shelf stays held until the shelf ends (then passed on, and
  /// notified, if still open: nobody was told of it yet); one that cleared while on its shelf is
  /// passed on with nothing notified (the operator knew of it). Called by tick() without the
  /// correlator's lock; may throw std::exception (the raise is then passed on). Without it no
  /// raise is on a shelf. Call before the first tick.
  using shelf_fn = std::function<std::optional<proto::timestamp>(std::uint64_t alert_id)>;
  void set_shelf(shelf_fn f);

  // ---- alert_listener (engine thread) ----
  /// raise: correlation rules 1-3 (gateway/README.md "Incidents"); ack / clear: forwarded when the
  /// raise was (or the alert is no member of an incident), and a clear that leaves no member
  /// alert open resolves the incident. Never throws: a database failure is logged, counted and
  /// the transition passed on unchanged (notifying too much beats too little).
  void on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                     std::vector<notification_row>& queue) noexcept override;
  void on_committed() noexcept override;

  /// Engine thread, on every tick: passes on the weather-driven raises whose hold ran out
  /// (weather_settings::hold) without joining an event: the raise and the acks / clears it had
  /// meanwhile go to the next listener now, in order, and the notification rows it appended are
  /// stored through set_release's function under the once-key `alert:<id>:weather-hold`. `reg`
  /// (the engine's registry) gives the terminal of a raise held again at start (rehold). Never
  /// throws: a failed store is logged, counted (failures) and retried a minute later.
  void tick(const registry& reg) noexcept;
  /// At start, after reconcile and before the first transition: the weather-driven raises held
  /// when the gateway stopped (table weather_held, incident_db.hpp: a row per held raise from
  /// its hold until it is passed on or joins an event) are held again, with the acks and clears
  /// they had meanwhile, until their stored end (a hold that ran out while the gateway was down
  /// is passed on at the first tick); those raised within `window` count towards the next event,
  /// and so do the other open weather-driven alerts at terminals raised within `window` that no
  /// event has (passed on alone before the stop).
  /// `open` (engine::open_alerts()) is the truth: a held raise that is no open alert of the engine
  /// and did not clear while held (the gateway died before the engine committed it) is forgotten.
  /// `reg` gives their terminals. Returns the number held again. Throws std::runtime_error on a
  /// database failure; an unreadable row is logged, counted (failures) and left.
  ///
  /// `checks` (main: the engine's store and the alarm discipline, which a standby pair shares on
  /// PostgreSQL with this table) make it hold the same raises after a standby took over: a row whose raise the next listener already saw (another gateway passed it on) is
  /// dropped; an open weather-driven alert at a terminal that no row holds, no incident has as a
  /// member and the next listener never saw (held by the gateway that led before, or its row lost)
  /// is held again until its raise + the hold; a row that cleared while held is kept only when the
  /// engine's store has the alert (a raise and its clear in a batch never committed are no alert).
  /// The checks are called without the correlator's lock and may throw (rehold then throws).
  struct rehold_checks {
    /// Whether the engine's store has alert episode `id` in any state (store::alert). Empty: a
    /// row whose alert cleared while held is trusted.
    std::function<bool(std::uint64_t id)> stored;
    /// Whether the next listener saw the raise of alert `id` (the discipline recorded its group
    /// or its maintenance window). Empty: rows are not checked and no alert without a row is held.
    std::function<bool(std::uint64_t id)> passed_on;
  };
  std::size_t rehold(const std::unordered_map<std::uint64_t, proto::alert_message>& open, const registry& reg,
                     const rehold_checks& checks = {});

  /// At start, once the engine is built: member alerts of open incidents that are no longer open
  /// (`open`: engine::open_alerts()) count as cleared now, and incidents left with no open member
  /// are resolved now. With `stored` (main: whether the engine's store has alert episode `id`,
  /// store::alert), such a member the store does not have (raised by a gateway that died before
  /// its engine committed the batch; the engine gives its id out again) is taken out of its
  /// incident and its member row removed. Returns the number resolved. Throws std::runtime_error
  /// on a database failure, and what `stored` throws.
  std::size_t reconcile(const std::unordered_map<std::uint64_t, proto::alert_message>& open,
                        const std::function<bool(std::uint64_t id)>& stored = {});

  enum class ack_result { acknowledged, not_found, already_acknowledged, already_resolved };
  /// Acknowledges incident `id` by `by` with `note` (stored at once). `out` receives the incident
  /// as it is after the call (when found). Throws std::runtime_error on a database failure.
  ack_result acknowledge(std::int64_t id, const std::string& by, const std::string& note, incident* out);

  /// Incident `id`, if it exists (an open one as held in memory). incident_reader.
  [[nodiscard]] std::optional<incident> find(std::int64_t id) const override;
  /// Incidents in `state` (all when std::nullopt), newest first, at most `limit`. incident_reader.
  [[nodiscard]] std::vector<incident> list(std::optional<incident_state> state, std::size_t limit) const override;
  /// The open and acknowledged incidents, oldest first.
  [[nodiscard]] std::vector<incident> active() const;
  /// The weather events (kind weather) that overlap [`from_ms`, `to_ms`) (ms since the epoch),
  /// each from its opening to its resolution (one still active: to now) but at most
  /// weather_span_after_last_raise after its last member's raise (one lingering alert keeps an
  /// event open for days: a stuck probe is no rain), oldest first; for the engine's dry-weather
  /// normal (engine::set_weather_spans). Throws std::runtime_error on a database failure.
  [[nodiscard]] std::vector<weather_span> weather_spans(std::int64_t from_ms, std::int64_t to_ms) const;
  /// True when open alert `alert_id` is a member of an active incident whose raise was not
  /// forwarded (a consequence, or a further cause), or a weather-driven raise held (not passed on
  /// yet): the discipline must not escalate it (alarms::discipline::set_held_back). Never throws.
  [[nodiscard]] bool held_back(std::uint64_t alert_id) const noexcept;
  /// When weather-driven raise `alert_id` is passed on (and notified) if no weather event takes it
  /// first: the end of its hold, or of an operator's shelf that ends later (tick holds it until
  /// then); std::nullopt when it is not held
  /// (never was, passed on, or a member of an event) and when nothing of it will be notified (it
  /// cleared while on an operator's shelf: tick passes it on silently). For the alerts page. Asks
  /// the shelf hook (set_shelf) after this room's lock is released, never under it. Never throws
  /// (a shelf not known: the hold's end, as tick would pass it on).
  [[nodiscard]] std::optional<proto::timestamp> held_until(std::uint64_t alert_id) const noexcept;
  /// The incident alert `alert_id` belongs to, if any.
  [[nodiscard]] std::optional<std::int64_t> incident_of(std::uint64_t alert_id) const;
  [[nodiscard]] counts counters() const;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

/// The health of site `site_id` as the engine sees it (locate.hpp site_health): offline / unknown
/// from engine::presence_of; online with an open alert that classify() calls cause or flow_loss =
/// loss; online otherwise = ok; a site not in the registry = unknown. Engine thread only.
[[nodiscard]] site_health engine_health(const engine& eng, const std::string& site_id, network::node_kind kind);

}  // namespace sewage::gateway::incidents
