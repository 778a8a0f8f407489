#pragma once
/// \file
/// The gateway's core: decode -> de-duplicate -> terminal state -> daily aggregates -> alert rules
/// -> store, plus offline judgement on clock ticks and alert acknowledgement. Independent of MQTT
/// and HTTP: messages come in as `inbound_message`, alerts go out through `publisher` and
/// `alert_listener`, so unit tests drive it directly with a manual clock.
///
/// Thread-safety: none. Every call must come from one thread (the gateway's executor; main.cpp
/// posts MQTT callbacks, timers and HTTP requests to one io_context run by one thread).

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/engine/flow_normal.hpp"
#include "sewage/gateway/forecast/cleanout.hpp"
#include "sewage/gateway/pump_runtime.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/store.hpp"

#include <sewage/proto/command.hpp>
#include <sewage/proto/problem.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace sewage::gateway {

namespace ingest {
class receipt_book;
}

/// One MQTT message as received.
struct inbound_message {
  std::string topic;
  std::string payload;
  bool retained{false};       ///< the broker's retained flag (a retained status is old news)
  proto::timestamp arrival{};  ///< gateway clock at receipt
};

/// Where alert states are published (MQTT in production, a fake in tests). Must not block.
class publisher {
 public:
  virtual ~publisher() = default;
  /// Publishes QoS 1. An empty payload with retained=true deletes the retained message.
  virtual void publish(const std::string& topic, const std::string& payload, bool retained) noexcept = 0;
  /// Publishes QoS 1, not retained, at the publisher's pace: for many messages at once that may
  /// wait (delivery receipts), never ahead of publish()'s. The default publishes at once.
  virtual void publish_paced(const std::string& topic, const std::string& payload) noexcept {
    publish(topic, payload, false);
  }
};

/// Told about every alert transition as the engine adds it to its write batch (the notifier,
/// notify/notifier.hpp), on the engine's thread. Must not block.
class alert_listener {
 public:
  virtual ~alert_listener() = default;
  /// `terminal`: the registered terminal (nullptr when it is no longer registered). Rows appended
  /// to `queue` are stored in the same transaction as the transition (the durable notification
  /// queue): a notification exists exactly when its transition was committed.
  virtual void on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                             std::vector<notification_row>& queue) noexcept = 0;
  /// After every successful commit that stored notification rows.
  virtual void on_committed() noexcept {}
};

/// Counters exported on /metrics. Monotonic unless stated.
struct engine_metrics {
  std::uint64_t messages_in{0};
  std::uint64_t records_accepted{0};
  std::uint64_t duplicates{0};           ///< redelivered / replayed records (including too old)
  std::uint64_t receipts_published{0};   ///< delivery receipts sent after commits (proto/receipt.hpp)
  /// Commits whose receipts were not sent because the broker link was down (the agents send those
  /// records again on the gateway's birth, and the copies get their receipts).
  std::uint64_t receipts_skipped{0};
  std::uint64_t late_records{0};         ///< accepted but older than the rules' event clock
  /// Gauge: records never received (seq holes below each epoch's highest seq), every terminal and
  /// epoch known to the store; goes down when a late record fills a hole.
  std::uint64_t missing_records{0};
  std::uint64_t untrusted_stamps{0};     ///< records whose ts was outside the trust window
  std::array<std::uint64_t, 16> rejects_by_code{};  ///< index = proto::problem_code
  std::uint64_t unknown_terminal_messages{0};
  std::uint64_t statuses{0};
  std::uint64_t images{0};
  std::uint64_t command_results{0};
  /// Commands by the state they entered, index = command_state: pending = sent, then ok, error,
  /// timed_out (each command counts once as pending and at most once in one of the others).
  std::array<std::uint64_t, 4> commands{};
  std::uint64_t volume_fallbacks{0};     ///< records whose volume came from rate integration
  /// Totalizer glitches recognised, index = aggregates.hpp totalizer_glitch (jitter, dip, spike,
  /// reset, rebase); never counted as flow.
  std::array<std::uint64_t, 6> totalizer_glitches{};
  std::uint64_t alerts_raised{0};
  std::uint64_t alerts_cleared{0};
  std::uint64_t store_commits{0};
  std::uint64_t store_failures{0};
  bool last_commit_ok{true};             ///< gauge: the last commit succeeded
  double store_commit_seconds_sum{0};
  double store_commit_seconds_max{0};    ///< since start
  std::array<std::uint64_t, 8> store_commit_buckets{};  ///< <=1,5,10,50,100,500,1000 ms, +Inf
};

/// A terminal not in the registry that sent something.
struct unknown_terminal {
  std::uint64_t messages{0};
  proto::timestamp last_seen{};
};

/// A record is live (arrived in real time) when stamped within offline_after_intervals report
/// intervals of its arrival, or as the third record in a row of a steady stream (each one arriving
/// at least half an interval, or 1 s if less, after the previous, with arrival - stamp moving by at
/// most half an interval): a clock running behind or stuck at 1970 is still a live terminal. A backlog drains
/// in a burst (arrival barely moves while stamps advance an interval per record), so it never
/// forms a steady stream. Two steady steps = three records, because one step could be a pause.
/// Presence (offline judgement) also counts as alive the next record (seq + 1, same queue epoch)
/// after one that proved the terminal alive, when it arrives within the live window of that one,
/// whatever its stamp: a clock stepped back keeps its terminal online (the rules still judge
/// its stamp as above).
inline constexpr std::uint32_t steady_records_for_live = 2;

/// The effective (event) time of a record judged alone: its stamp when inside the trust window
/// around its arrival (thresholds::clock_trust_behind_s / clock_trust_ahead_s), else its arrival.
/// The engine also uses the arrival for a record of a steady stream (live) stamped more than
/// clock_skew_raise_s off its arrival: that needs the terminal's history, which this lacks.
/// Never throws.
proto::timestamp effective_ts(proto::timestamp stamp, proto::timestamp arrival, const thresholds& limits) noexcept;

/// One terminal's committed totals of one operating day (engine::committed_today): the figures of
/// its stored daily row (aggregates.hpp daily_delta) that /api/summary adds up over the county.
struct day_totals {
  std::int32_t day{std::numeric_limits<std::int32_t>::min()};  ///< operating day (days since 1970-01-01 local)
  double volume_m3{0};            ///< measured effluent volume, m3
  double volume_estimated_m3{0};  ///< volume estimated over gaps, m3
  double compliant_s{0};          ///< time with turbidity within the limit, s
  double turbidity_ok_s{0};       ///< time with a good turbidity reading, s
};

/// Live state of one registered terminal.
struct terminal_runtime {
  terminal_snapshot snap;
  std::array<std::uint64_t, proto::all_alert_types.size()> open_alert{};  ///< episode id per type, 0 = none
  std::string latest_payload;  ///< payload of `snap.latest` until the next flush (then freed)
  bool dirty{false};
  /// Arrival of the last will in `snap.will` (0: loaded from the store). A will is acted on once a
  /// probe sent after it came back (engine::tick), and dropped when a stall is found first.
  proto::timestamp will_at{};
  /// Until then (real time) the terminal is reconnecting after the broker dropped its session in
  /// its own stall (a will not acted on, engine::reconnect_after_stall): its silence is not counted.
  std::chrono::steady_clock::time_point reconnect_until{};
  /// The last tick (engine clock) inside `reconnect_until`: its silence is counted from here.
  proto::timestamp reconnect_floor{};
  /// Effective time of `snap.latest`, ms since the epoch (in memory; 0 after a load: then derived
  /// from the stored record with effective_ts, which cannot know it was a live record off its clock).
  std::int64_t latest_effective_ms{0};
};

class engine {
 public:
  /// Loads the resume state from `db` (terminals, open episodes, next alert id). The references
  /// must outlive the engine. Throws store_error if the store cannot be read.
  engine(const config& cfg, registry reg, store& db, const clock_source& clock, publisher& pub, rule_set rules,
         alert_listener* listener = nullptr);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Processes one message. Bad input is counted, logged with topic and reason, and kept in the
  /// dead-letter table; never throws except bad_alloc and store_error (from an epoch lookup).
  /// A telemetry record (stored or a duplicate) gets its delivery receipt (proto/receipt.hpp) on
  /// `publisher` after the next successful commit, unless the link was down then (link_down).
  void handle(const inbound_message& msg);
  /// Judges offline on arrival time (clock.now()); run every config::tick_interval.
  ///
  /// Silence that may be the gateway's own is never a terminal's fault: while the gateway's broker
  /// link is down (link_down) and until the backlog it receives after reconnecting has drained
  /// (link_up, then backlog_drained), no offline episode is raised, and afterwards each terminal
  /// is given offline_after_intervals x its interval from the moment the backlog drained to show a
  /// live record (its silence is counted from then: the "presence floor"). The same floor is the
  /// gateway's start (plus startup_grace) and a terminal's registration (SIGHUP). A terminal truly
  /// dead through an outage therefore gets exactly one episode, after that grace.
  void tick();
  /// The gateway's MQTT link is down (lost, or not connected yet at start). Call on the engine's thread.
  void link_down();
  /// The link is up again; the broker now delivers what was queued. Call on the engine's thread.
  void link_up();
  /// After link_up: everything received has been handed to handle(). Call on the engine's thread.
  void backlog_drained();
  /// The broker path is proven up to `sent_at`: the gateway's loopback probe published at
  /// `sent_at` (this engine's clock) came back through the broker after `round_trip` (real time),
  /// so every message the broker received before then has been handed to handle(). From the first
  /// such echo after a link_up, tick() judges silence only up to the latest proven instant (a
  /// stalled broker freezes the judgement). A round trip longer than `probe_stall` means the path
  /// stalled: each terminal's silence is counted from now (the broker may forward the terminals'
  /// held messages after the probe), and the last wills that arrived after `sent_at` are dropped
  /// (the broker published them because it was not listening; see will_after_stall). A last will
  /// is acted on by tick() only once a probe sent after it has come back. Call on the engine's
  /// thread, in order with handle().
  void broker_path_proven(proto::timestamp sent_at, std::chrono::nanoseconds round_trip);
  /// The probes stopped coming back while the link stays up (an ACL without the probe topic, see
  /// proto/gateway_probe.hpp): judge on link events alone again until the next echo. Logged.
  void broker_path_unproven();
  /// The gateway's own timers ran `gap` (real time) late: the process was paused (SIGSTOP, a VM
  /// freeze) or the machine overloaded, so nothing was received meanwhile. Each terminal's silence
  /// is counted from now. Call on the engine's thread when a periodic timer finds itself late by
  /// more than `own_stall_threshold`.
  void own_stall(std::chrono::nanoseconds gap);
  /// A probe round trip longer than this is a stalled broker path (loopback probes take ~1 ms).
  static constexpr std::chrono::milliseconds probe_stall{2000};
  /// A last will that arrives this long (real time) after a stalled probe came back is the broker's
  /// misjudgement: resumed from a pause, it expires the keep-alives of clients whose PINGREQs it
  /// has not read yet and publishes their wills (chaos broker_pause, 2026-12-02: 5 false offline
  /// 0.3 s after a 6.5 s stall). Such a will is not acted on; silence judges the terminal.
  static constexpr std::chrono::seconds will_after_stall{5};
  /// A terminal whose will was not acted on because of a stall (above) really lost its session:
  /// the broker closed it. Its agent reconnects on its own backoff, in real time: the first retry
  /// after mqtt.reconnect_min_s (1 s by default, firmware/README.md), then the TLS handshake, then
  /// its next report. Its silence is counted from this long (real time) after the will. In the
  /// field that is far inside the offline limit (3 x 60 s); at a simulation's x120 it is not
  /// (chaos 168 h, 2026-12-02: at 4 of 10 broker pauses the broker dropped all 38 sessions, and
  /// the agents' ~2.4 real s to reconnect are ~290 simulated s: 148 false offline).
  static constexpr std::chrono::seconds reconnect_after_stall{10};
  /// A timer late by more than this is a stall of the gateway itself.
  static constexpr std::chrono::milliseconds own_stall_threshold{3000};
  /// True between link_down and backlog_drained (offline judgement suspended).
  [[nodiscard]] bool link_grace() const noexcept { return !link_up_ || draining_; }
  /// Commits pending writes in one transaction. On store failure (disk full, I/O error) the writes
  /// stay pending in memory (retried), the failure is counted (store_failures, last_commit_ok =
  /// false: /healthz says store_failing), nothing is released from the received-message journal
  /// (the commit listener runs only after a successful commit), and false is returned. While the
  /// store fails, a flush sooner than the retry delay after the last failed attempt returns false
  /// without trying (a burst must not turn into one failing transaction per message) unless
  /// `retry_now`; the delay is 10x the failed attempt's duration, within [store_retry_interval,
  /// store_retry_max], so failing attempts on a growing batch never starve ingest. Logging is one line at the first failure, then one summary per
  /// `store_failure_log_interval`, and one line when a commit succeeds again.
  bool flush(bool retry_now = false);
  static constexpr std::chrono::milliseconds store_retry_interval{1000};
  static constexpr std::chrono::milliseconds store_retry_max{10000};
  static constexpr std::chrono::seconds store_failure_log_interval{30};
  /// Called (on the engine's thread) after every successful flush: everything handled so far is
  /// in the store. main uses it to release the received-message journal (durable_inbox.hpp).
  void set_commit_listener(std::function<void()> listener) { on_committed_ = std::move(listener); }
  /// The weather spans (rain or storm over the county) between `from_ms` and `to_ms` (ms since the
  /// epoch; main: the incident room's weather events). Asked once per operating day when the
  /// terminals' normals are learned again: their days (wet_days_of) are left out of the learned
  /// normal (learn_flow_normal). Called on the engine's thread; may throw std::exception (logged;
  /// the normal is then learned from every day). Without it every day counts. Call before the
  /// first record.
  using weather_spans_fn = std::function<std::vector<weather_span>(std::int64_t from_ms, std::int64_t to_ms)>;
  void set_weather_spans(weather_spans_fn f) {
    weather_spans_ = std::move(f);
    wet_today_ = flow_normal::never_computed;  // asked again (or none) at the next learning
    wet_days_.clear();
    wet_unknown_ = false;
  }
  /// Rolls raw records older than store.rollup_after_days up into hourly values (store.hpp
  /// roll_up_records_before, one day of records per call; skipped when 0 or not below
  /// retention_days), then deletes history older than store.retention_days (daily rows stay). A
  /// store failure is logged and counted (retried at the next call). Returns raw records deleted
  /// by retention.
  std::size_t purge();
  /// True when the last purge() rolled up a whole day and more may remain: call it again soon
  /// (main does, a second later) rather than at the next hourly period.
  [[nodiscard]] bool rollup_behind() const noexcept { return rollup_behind_; }
  /// Re-publishes every open episode retained (after a (re)connect: the broker may have lost them).
  void republish_open_alerts();
  /// Replaces the registry (SIGHUP). State of terminals that remain is kept; state of removed ones
  /// stays in the store and comes back if they are re-added.
  void reload_registry(registry reg);

  enum class ack_result { acknowledged, not_found, already_cleared, already_acknowledged };
  /// Acknowledges open episode `alert_id` (stored and published at once). `out` receives the new state.
  ack_result acknowledge(std::uint64_t alert_id, const std::string& by, const std::string& note,
                         proto::alert_message* out);

  /// Sends command `name` (with `interval_s` for set_report_interval) to terminal `index` as
  /// proto::command_message with id "gw-<n>" on `sewage/v1/{id}/cmd` (QoS 1, not retained),
  /// stores it (pending) first and tracks it: its result on `.../cmd/result` with that id makes it
  /// ok or error; none within config::command_timeout makes it timed_out (tick()). Arguments must
  /// be valid for the command (the API checks them; proto::decode_command's rules). Returns the
  /// stored row. Pending commands survive a restart (reloaded from the store).
  command_row send_command(std::size_t index, proto::command_name name, std::optional<std::uint32_t> interval_s,
                           const std::string& by);
  /// Commands waiting for their result (id -> row).
  [[nodiscard]] const std::map<std::uint64_t, command_row>& pending_commands() const noexcept { return pending_cmds_; }

  // ---- read access (for the HTTP API) ----
  [[nodiscard]] const registry& terminals() const noexcept { return registry_; }
  [[nodiscard]] const terminal_runtime& runtime(std::size_t index) const { return states_.at(index); }
  /// What operators are shown for a terminal: `offline` while an offline episode is open; `online`
  /// when its last live record arrived within offline_after_intervals x its interval; otherwise
  /// `unknown` (never reported, or silent past its limit while offline judgement waits: start-up
  /// grace, the gateway's own link outage, a new registration).
  enum class presence { online, offline, unknown };
  [[nodiscard]] presence presence_of(std::size_t index) const;
  [[nodiscard]] static const char* to_string(presence p) noexcept;
  /// presence_of(index) == presence::online.
  [[nodiscard]] bool online(std::size_t index) const;
  /// When the terminal entered the registry of this gateway (first start with it, or the SIGHUP
  /// that added it); the epoch (0) for a terminal known from before this was recorded. Stored in
  /// the offline rule's state (its `since_ms`: since when the terminal is watched).
  [[nodiscard]] proto::timestamp registered_at(std::size_t index) const;
  /// The daily totals of terminal `index` (registry index) for operating day `day` as committed to
  /// the store (what store::daily returns for it after a flush), or nullptr when nothing of that
  /// day is committed. Kept in memory so that a county-wide figure (/api/summary) is a walk over
  /// the terminals, not a read of every daily row: loaded from the store's rows of the current
  /// day at construction and registry reload, then updated by every successful commit (a failed
  /// one changes nothing until its retry commits). Only the newest day a terminal reported is kept.
  /// Engine's thread.
  [[nodiscard]] const day_totals* committed_today(std::size_t index, std::int32_t day) const;
  [[nodiscard]] const std::unordered_map<std::uint64_t, proto::alert_message>& open_alerts() const noexcept {
    return open_;
  }
  [[nodiscard]] const std::map<std::string, unknown_terminal>& unknown_terminals() const noexcept { return unknown_; }
  [[nodiscard]] const engine_metrics& metrics() const noexcept { return metrics_; }
  [[nodiscard]] store& db() noexcept { return db_; }
  [[nodiscard]] const config& cfg() const noexcept { return cfg_; }
  [[nodiscard]] const clock_source& clock() const noexcept { return clock_; }
  [[nodiscard]] proto::timestamp started_at() const noexcept { return started_; }
  /// Writes waiting for the next flush (records + dead letters); main flushes early above a bound.
  [[nodiscard]] std::size_t pending_writes() const noexcept {
    return batch_.records.size() + batch_.dead_letters.size() + batch_.images.size();
  }
  /// Expected report interval of a terminal: its birth message's, else the registry's, s.
  [[nodiscard]] double report_interval_s(std::size_t index) const;
  /// The hourly run log of pump station `site_id` (pump_runtime.hpp), or nullptr when it has none.
  [[nodiscard]] const pump_run_log* pump_runtime_log(const std::string& site_id) const;
  /// The learned normal flow of site `site_id` (engine/flow_normal.hpp), or nullptr before it was
  /// first computed (its first record with good flow, or loaded at start): the API then shows the prior.
  [[nodiscard]] const flow_normal* learned_normal(const std::string& site_id) const;
  /// Which terminals' flow runs high now (terminals_running_high).
  struct running_high {
    std::vector<std::string> high;  ///< those above the factor, sorted by id
    std::size_t judged{0};          ///< terminals judged: learned, covered (the share's base)
  };
  /// The terminals whose flow runs high now: the mean flow of their recent window (thresholds::
  /// low_flow_window_s, at least 80 % of it covered by records with good flow, ending at `now`
  /// on the records' event time; a window that ended before the latest record is not kept)
  /// above `factor` x their learned normal for those hours (every hour of the window learned, not
  /// the prior; normal >= low_flow_min_normal_m3h). Registered terminals only. A county-wide rise
  /// (rain, a storm, a festival's visitors) lifts many at once (incidents/weather.hpp).
  /// O(terminals with a learned normal). Engine thread (reads the engine's state without a lock);
  /// never throws except bad_alloc.
  [[nodiscard]] running_high terminals_running_high(double factor, proto::timestamp now) const;
  /// Changes whenever what a county_view holds changes (the registry, a terminal's registration,
  /// a report interval): read_service republishes its view when it differs from the last one.
  [[nodiscard]] std::uint64_t county_generation() const noexcept { return county_generation_; }

 private:
  std::function<void()> on_committed_;
  void reject(const inbound_message& msg, const std::vector<proto::problem>& problems);
  void on_telemetry(std::size_t idx, const inbound_message& msg, proto::telemetry_record rec);
  /// De-duplication: true when `seq` is fresh in the terminal's current epoch (and records it).
  bool accept_seq(std::size_t idx, std::uint64_t seq);
  /// Counts the records never received on their operating days after `seq` (effective time
  /// ts_ms) was accepted; max_before = the epoch's highest seq before it.
  void note_missing(std::size_t idx, std::uint64_t seq, std::uint64_t max_before, std::int64_t ts_ms);
  void on_status(std::size_t idx, const inbound_message& msg, proto::status_message st);
  void apply_verdict(std::size_t idx, proto::alert_type type, const verdict& v);
  void on_command_result(const std::string& terminal_id, const inbound_message& msg,
                         proto::command_result_message result);
  void expire_commands(proto::timestamp now);
  void mark_dirty(std::size_t idx);
  void keep_for_retry();
  /// After a successful commit: publishes the receipts of the records handled up to it.
  void publish_receipts();
  /// Tells the alert listener (if any) about a transition just added to the batch.
  void notify_listener(const proto::alert_message& m);
  void attach_states();

  const config& cfg_;
  registry registry_;
  store& db_;
  const clock_source& clock_;
  publisher& pub_;
  rule_set rules_;
  alert_listener* listener_;
  proto::timestamp started_;
  bool link_up_{true};            // engine alone (tests, benchmarks): no link to wait for
  std::unique_ptr<ingest::receipt_book> receipts_;  // records handled since the last commit
  bool draining_{false};
  proto::timestamp presence_floor_{};  // silence is counted from here at the earliest (see tick)
  proto::timestamp regrace_until_{};   // no offline raise before this: startup_grace after a link outage
  bool path_probed_{false};            // probes come back on this connection: judge up to path_proven_at_
  proto::timestamp path_proven_at_{};  // send time of the latest probe that came back
  bool path_stalled_{false};           // the latest echo was late (one log line per stall)
  // The latest probe's publish-to-echo time on this connection (gateway clock; 0 before the first
  // echo and after a link loss): subtracted from a live record's stamp offset before it is called
  // a wrong clock, so a broker path lagging behind steadily is not taken for every terminal's clock.
  std::int64_t path_delay_ms_{0};
  std::chrono::steady_clock::time_point stall_seen_{};  // when the latest late echo came (real time)

  std::uint64_t county_generation_{1};
  std::vector<terminal_runtime> states_;                       // parallel to registry_.terminals()
  std::vector<day_totals> committed_day_;                      // parallel: committed_today()
  void load_committed_day();
  void add_committed_days(const std::vector<daily_row>& rows);
  std::unordered_map<std::string, terminal_snapshot> parked_;  // known to the store, not in the registry
  std::unordered_map<std::uint64_t, proto::alert_message> open_;
  std::uint64_t next_alert_id_{1};
  std::map<std::string, unknown_terminal> unknown_;
  std::map<std::uint64_t, command_row> pending_cmds_;
  std::uint64_t next_command_id_{1};
  std::vector<std::uint32_t> dirty_;
  std::map<std::pair<std::uint32_t, std::int32_t>, daily_delta> pending_daily_;
  std::map<std::pair<std::uint32_t, std::int32_t>, std::int64_t> pending_missing_;
  std::vector<seq_range> spill_buf_;
  // Pump stations' hourly run logs (by site id: they survive registry reloads), the hours changed
  // since the last flush and the cuts of pruned history (pump_runtime.hpp).
  std::unordered_map<std::string, pump_run_log> pump_logs_;
  std::set<std::pair<std::string, std::int64_t>> pump_dirty_;
  std::map<std::string, std::int64_t> pump_cuts_;
  // Learned normal flow per terminal (by site id, engine/flow_normal.hpp): its recent window and
  // normal, and the hourly flow increments not yet flushed.
  struct flow_site {
    flow_window window;
    flow_normal normal;
  };
  std::unordered_map<std::string, flow_site> flow_sites_;
  weather_spans_fn weather_spans_;
  /// The wet days (wet_days_of) of the history of operating day `wet_today_`: asked once a day.
  std::int32_t wet_today_{flow_normal::never_computed};
  std::vector<std::int32_t> wet_days_;
  bool wet_unknown_{false};  ///< the weather events of `wet_today_` could not be read
  /// The wet days for operating day `today`, or null when the weather events could not be read
  /// (then each site keeps the normal it has that day: learned from every day, a normal would
  /// take the wet median and keep it). Asked once per operating day.
  const std::vector<std::int32_t>* wet_days_for(std::int32_t today, std::int64_t from_ms, std::int64_t to_ms);
  /// Each terminal's clean-out forecast (forecast/cleanout.hpp), made on the first in-order record
  /// of each operating day from the stored daily rows of the days before (plus what is not
  /// committed yet). In memory only: made again after a restart.
  std::unordered_map<std::string, cleanout_forecast> cleanout_forecasts_;
  /// The forecast for a terminal's in-order record at `ts_ms`; nullptr for a pump station.
  const cleanout_forecast* observe_cleanout(const terminal_info& info, std::size_t idx, std::int64_t ts_ms);
  std::map<std::pair<std::string, std::int64_t>, flow_hour> flow_pending_;
  /// Books a terminal's record with good flow, relearns its normal when its operating day moved
  /// on (in-order records only) and returns the rules' view, or nullptr.
  const flow_normal_view* observe_flow(const terminal_info& info, const proto::telemetry_record& rec, std::int64_t ts_ms,
                                       bool in_order, flow_normal_view& out);
  write_batch batch_;
  engine_metrics metrics_;
  /// Days of raw records purge() rolls up per call (about a second of the engine's thread for a
  /// county of 38 terminals at one record a minute).
  static constexpr std::size_t rollup_days_per_call = 1;
  bool rollup_behind_{false};  // the last purge() hit rollup_days_per_call
  log_limiter glitch_log_{10, std::chrono::minutes(1)};  // totalizer glitch lines: 10 a minute, then a count
  // Store failure bookkeeping (steady clock: log pacing and retry spacing are not domain time).
  std::uint64_t failed_commits_in_row_{0};
  std::chrono::steady_clock::time_point store_failing_since_{};
  std::chrono::steady_clock::time_point last_failed_attempt_{};
  std::chrono::milliseconds retry_after_{store_retry_interval};
  std::chrono::steady_clock::time_point last_failure_log_{};
};

/// The wire id of command `n`: "gw-<n>". Never throws except bad_alloc.
std::string command_wire_id(std::uint64_t n);
/// n of a wire id "gw-<n>" (n >= 1, decimal, no sign or leading zeros); std::nullopt otherwise.
std::optional<std::uint64_t> parse_command_wire_id(std::string_view id) noexcept;

/// Bound on the list of unknown terminals kept in memory.
inline constexpr std::size_t max_unknown_terminals = 10000;

}  // namespace sewage::gateway
