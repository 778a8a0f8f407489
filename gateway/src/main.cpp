// sewage-gateway: wires config, store, engine, MQTT, HTTP and timers together. No logic here.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/auth/cli.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/om/work_order_db.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/http/security.hpp"
#include "sewage/gateway/http_server.hpp"
#include "sewage/gateway/mqtt_link.hpp"
#include "sewage/gateway/read_service.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/store_factory.hpp"
#include "sewage/gateway/alarms/discipline.hpp"
#include "sewage/gateway/alarms/discipline_db.hpp"
#include "sewage/gateway/notify/notifier.hpp"
#include "sewage/gateway/om/archive.hpp"
#include "sewage/gateway/om/lab.hpp"
#include "sewage/gateway/network/cli.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/network/check.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/history/cli.hpp"
#include "sewage/gateway/standby/leader_lease.hpp"
#include "sewage/gateway/standby/standby_http.hpp"
#include "sewage/gateway/standby/standby_reads.hpp"
#include "sewage/service/systemd_notify.hpp"

#include <sewage/proto/broker_uri.hpp>
#include <sewage/proto/timestamp.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

namespace {

using namespace sewage::gateway;

/// Runs `fn` every `period` on `io` until cancel().
class periodic {
 public:
  periodic(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void()> fn)
      : timer_(io), period_(period), fn_(std::move(fn)) {
    arm();
  }
  void cancel() {
    cancelled_ = true;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_after(period_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || cancelled_) return;
      try {
        fn_();
      } catch (const std::exception& e) {  // one failed run must not stop the timer or the process
        spdlog::error("periodic task failed: {}", e.what());
      }
      arm();
    });
  }
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<void()> fn_;
  bool cancelled_{false};
};

/// Runs an io_context on its own thread until stop() or destruction (stopped and joined, CP.25).
class io_thread {
 public:
  explicit io_thread(boost::asio::io_context& io)
      : io_(io), work_(boost::asio::make_work_guard(io)), thread_([this] { loop(); }) {}
  ~io_thread() { stop(); }
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    for (;;) {  // as the engine's loop: a handler that throws is logged, the loop resumes
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("unhandled exception in the HTTP loop (recovered): {}", e.what());
      } catch (...) {
        spdlog::error("unhandled non-standard exception in the HTTP loop (recovered)");
      }
    }
  }
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

/// Flush early when this many writes wait (bounds memory under a burst).
constexpr std::size_t max_pending_writes = 5000;

/// Network load options with the registry's site ids: terminal nodes must be registry terminals,
/// pump_station nodes registry pump stations (network/check.hpp).
network::load_options network_options(const registry& reg) { return network::options_for(reg); }

/// The session and login limits of the configuration (auth/service.hpp).
auth::settings auth_settings(const config& cfg) {
  auth::settings as;
  as.session_idle_timeout = cfg.http_session_idle_timeout;
  as.session_max_age = cfg.http_session_max_age;
  as.login_max_failures = cfg.http_login_max_failures;
  as.login_window = cfg.http_login_window;
  return as;
}

/// Waits as the standby (standby.enabled): answers the read routes from the shared store
/// (standby_reads.hpp, identities of the shared identity store, the registry `reg`, the incidents'
/// GeoJSON on `pipes`, times of `clock`), everything else with standby_answer, and tries to take the lease every
/// standby.check_interval, feeding systemd's watchdog meanwhile. Returns true once the lease is
/// taken (the HTTP listener is closed again, for run() to open; reads still running have
/// finished; `taken_at` is when the lease was taken), false on SIGINT/SIGTERM (SIGHUP reads the
/// registry again for the reads and into `reg`, and the network file into `pipes`; a failed
/// reload keeps the current one, logged).
/// Throws what http_server throws.
bool stand_by(const config& cfg, standby::leader_lease& lease, registry& reg, network::holder& pipes,
              const clock_source& clock, std::chrono::steady_clock::time_point& taken_at) {
  boost::asio::io_context io;
  standby::standby_reads::options ro;
  ro.pool.threads = cfg.http_reader_threads;
  ro.pool.queue_max = cfg.http_reader_queue_max;
  ro.pool.job_cpu_limit = cfg.http_read_cpu_limit;
  standby::standby_reads reads(cfg, std::make_shared<const registry>(reg), auth_settings(cfg), clock, ro, &pipes);
  standby::standby_state st;
  st.node = cfg.standby_node;
  st.waiting_since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const bool https = !cfg.http_tls_cert_file.empty();
  http_server http(io, cfg.http_address, cfg.http_port,
                   http_server_options{cfg.http_max_body_bytes, http_security::security_headers(cfg.http_tile_url, https),
                                       cfg.http_tls_cert_file, cfg.http_tls_key_file},
                   [&st, &reads](http_request r, http_server::responder respond) {
                     reads.serve(std::move(r), respond, [&st, &reads](const http_request& q) {
                       st.reads_served = reads.reads_served();
                       return standby::standby_answer(q, st);
                     });
                   });
  bool taken = false;
  // systemd's watchdog (WatchdogSec=) is fed while standing by too.
  sewage::service::watchdog_keepalive keepalive(io);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                              int sig) {
    if (ec) return;
    if (sig == SIGHUP) {  // systemctl reload: the registry again for the reads (and at takeover)
      sewage::service::notify_reloading();
      try {
        auto loaded = load_registry(cfg.registry_path, cfg.defaults);
        const auto n = loaded.size();
        reads.set_registry(std::make_shared<const registry>(loaded));
        reg = std::move(loaded);  // a takeover whose own reload fails leads with this one
        spdlog::info("standby: registry {} read again: {} terminals", cfg.registry_path.string(), n);
      } catch (const std::exception& e) {
        spdlog::error("standby: registry reload failed, keeping the current one: {}", e.what());
      }
      // The pipe network of the incidents' GeoJSON (and of the engine at takeover), as the leader
      // reads it again: a bad file keeps the previous model, every problem logged.
      if (!cfg.network_file.empty()) (void)pipes.reload(cfg.network_file, network_options(reg));
      sewage::service::notify_ready("standby: waiting for the lease");
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("signal {}: the standby stops", sig);
    sewage::service::notify_stopping();
    keepalive.cancel();
    http.stop();
    io.stop();
  };
  signals.async_wait(on_signal);
  boost::asio::steady_timer poll(io);
  std::string last_leader;
  std::thread closer;
  struct join_at_exit {
    std::thread& t;
    ~join_at_exit() {
      if (t.joinable()) t.join();
    }
  } join_closer{closer};
  std::function<void()> attempt = [&] {
    ++st.attempts;
    if (lease.try_acquire()) {
      taken = true;
      taken_at = std::chrono::steady_clock::now();
      signals.cancel();
      http.stop();
      // Reads still running finish (each statement bounded) on another thread while this loop
      // goes on feeding systemd's watchdog; then the loop ends.
      closer = std::thread([&reads, &io] {
        reads.close();
        io.stop();  // thread-safe
      });
      return;
    }
    const auto failures_before = st.connect_failures;
    st.connect_failures = lease.connect_failures();
    st.leader = lease.leader();
    // The read routes once the shared store is reachable and its schema this build's (the
    // leader migrates it), opened on a thread of their own.
    if (!reads.ready() && st.connect_failures == failures_before) reads.open_in_background();
    if (st.leader && st.leader->node != last_leader) {
      last_leader = st.leader->node;
      spdlog::info("standby: {} leads (HTTP {}); this gateway waits", last_leader,
                   st.leader->http_url.empty() ? std::string("not advertised") : st.leader->http_url);
    }
    poll.expires_after(cfg.standby_check_interval);
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) attempt();
    });
  };
  http.start();
  spdlog::info("standby: node {} waits for the lease (key {}) on {}; HTTP {}:{} answers as the standby", cfg.standby_node,
               cfg.standby_lease_key, describe_store(cfg), cfg.http_address, http.port());
  sewage::service::notify_ready("standby: waiting for the lease");
  boost::asio::post(io, attempt);
  io.run();
  return taken;
}

int run(const config& cfg, registry reg, const clock_source& clock, network::holder& pipes,
        standby::leader_lease* lease, const std::function<void()>& on_loop_started) {
  // HTTP connections have their own thread (http_io), so a blocked or busy engine never stops
  // the server from taking requests; declared first so it outlives the engine's io, whose queued
  // handlers may hold HTTP sessions.
  boost::asio::io_context http_io;
  boost::asio::io_context io;  // the engine's thread: ingest, rules, timers, engine routes
  // The store backend of store.backend (store_factory.hpp); identities and the alarm discipline
  // use the same backend, the other rooms below the SQLite file.
  const auto db_owner = open_store(cfg, store_access::read_write);
  store& db = *db_owner;
  // A leader's commits carry its term (standby/leader_lease.hpp): after a takeover they are refused.
  if (lease != nullptr && lease->term()) {
    db.set_commit_fence({cfg.standby_lease_key, *lease->term()});
    spdlog::info("standby: leading with term {}; each commit checks that gateway_leader still holds it", *lease->term());
  }
  // Notifications: rows are stored by the engine with their transitions; the notifier's delivery
  // thread sends them on its own store connection (notify/notifier.hpp).
  std::unique_ptr<notifier> hook;
  if (!cfg.notify.targets.empty()) {
    auto queue = open_notification_store(cfg);
    if (lease != nullptr && lease->term()) queue->set_commit_fence({cfg.standby_lease_key, *lease->term()});
    hook = std::make_unique<notifier>(cfg.notify, cfg.zone, std::move(queue));
  }
  // Alarm discipline (alarms/discipline.hpp): between the engine and the notifier, it holds back
  // what maintenance windows suppress and repeats it groups, and escalates unacknowledged alerts;
  // it runs on the engine's clock.
  // The configured backend's tables: with PostgreSQL shared by a standby pair (issue 16).
  auto discipline_db = alarms::open_discipline_db(cfg);
  if (lease != nullptr && lease->term()) discipline_db->set_commit_fence({cfg.standby_lease_key, *lease->term()});
  alarms::discipline alarm_discipline(std::move(discipline_db), cfg.alarms, cfg.zone, clock, hook.get(), hook.get());
  // Incidents (incidents/correlator.hpp): between the engine and the discipline, it groups network
  // alerts into incidents on the current pipe network and forwards one notification per incident.
  // The configured backend's tables: with PostgreSQL shared by a standby pair, so a takeover
  // resumes the incidents and the held raises of the gateway that led (issue 16).
  auto incident_db = incidents::open_incident_db(cfg);
  if (lease != nullptr && lease->term()) incident_db->set_commit_fence({cfg.standby_lease_key, *lease->term()});
  incidents::correlator incident_room(std::move(incident_db), pipes, clock, &alarm_discipline);
  alarm_discipline.set_held_back([&incident_room](std::uint64_t id) { return incident_room.held_back(id); });
  // Every received message is journaled before Paho acknowledges it, and released once the batch
  // holding its effects is committed (durable_inbox.hpp).
  durable_inbox journal(cfg.store_path.string() + "-inbox.d");
  engine* eng_ptr = nullptr;
  auto commit = [&eng_ptr] { eng_ptr->flush(); };
  mqtt_link link(
      cfg, clock, io,
      [&eng_ptr, &commit](inbound_message m) {
        eng_ptr->handle(m);
        if (eng_ptr->pending_writes() >= max_pending_writes) commit();
      },
      [&eng_ptr] { eng_ptr->republish_open_alerts(); }, &journal);
  engine eng(cfg, std::move(reg), db, clock, link, default_rules(), &incident_room);
  eng_ptr = &eng;
  incident_room.set_weather(cfg.weather);
  incident_room.set_site_health(
      [&eng](const std::string& site, network::node_kind kind) { return incidents::engine_health(eng, site, kind); });
  incident_room.set_running_high(
      [&eng](double factor, sewage::proto::timestamp at) { return eng.terminals_running_high(factor, at); });
  // The learned normals leave out the days of the weather events (engine/flow_normal.hpp).
  eng.set_weather_spans([&incident_room](std::int64_t from_ms, std::int64_t to_ms) {
    return incident_room.weather_spans(from_ms, to_ms);
  });
  if (const auto n = incident_room.reconcile(eng.open_alerts(),
                                             [&db](std::uint64_t id) { return db.alert(id).has_value(); });
      n > 0)
    spdlog::info("incidents: {} incident(s) resolved at start (their alerts cleared meanwhile)", n);
  // Weather-driven raises held for an event (weather_settings::hold) are passed on by the ticker;
  // their notification rows are stored here, outside the engine's batch.
  incident_room.set_release([&hook](const std::vector<notification_row>& rows, const std::string& once_key) {
    if (hook) hook->enqueue_rows(rows, once_key);
  });
  // Lock order: this takes the discipline's lock under the correlator's, and discipline::tick
  // asks correlator::held_back under its own: both run on the engine's thread only. Readers on
  // other threads (held_until, state_of) take one of the two locks, never one under the other.
  incident_room.set_in_window([&alarm_discipline](const std::string& site, sewage::proto::timestamp at) {
    return alarm_discipline.window_at(site, at).has_value();
  });
  // A raise held when an operator shelved it waits for its shelf (correlator::set_shelf).
  incident_room.set_shelf([&alarm_discipline](std::uint64_t id) -> std::optional<sewage::proto::timestamp> {
    const auto s = alarm_discipline.state_of(id);
    if (s && s->shelved()) return s->shelved_until;
    return std::nullopt;
  });
  // The held raises: the incident room's table (shared by a standby pair on PostgreSQL), checked
  // against the engine's store and the discipline's, so a takeover holds what the gateway that
  // led had held and drops what it passed on.
  incidents::correlator::rehold_checks held_checks;
  held_checks.stored = [&db](std::uint64_t id) { return db.alert(id).has_value(); };
  held_checks.passed_on = [&alarm_discipline](std::uint64_t id) {
    const auto s = alarm_discipline.state_of(id);
    return s && (s->group_id || s->window_id);
  };
  (void)incident_room.rehold(eng.open_alerts(), eng.terminals(), held_checks);
  // The gateway's own broker outage is not the terminals' fault: offline judgement waits while the
  // link is down and until the backlog after a reconnect has drained (engine::tick).
  eng.link_down();
  link.on_link_event([&eng](link_event e) {
    switch (e) {
      case link_event::down: eng.link_down(); break;
      case link_event::up: eng.link_up(); break;
      case link_event::backlog_drained: eng.backlog_drained(); break;
    }
  });
  // A stalled broker (paused, overloaded) keeps the link up but delivers nothing: the loopback
  // probe shows how far the path is proven, and the judgement waits for it (engine.hpp).
  link.on_probe_echo([&eng](sewage::proto::timestamp sent_at, std::chrono::nanoseconds round_trip) {
    eng.broker_path_proven(sent_at, round_trip);
  });
  link.on_probe_lost([&eng] { eng.broker_path_unproven(); });
  // What was received but not committed before the last stop (SIGKILL, power cut): replay it in
  // arrival order with its original arrival time; de-duplication drops what was committed.
  if (auto left = journal.pending(); !left.empty()) {
    for (const auto& [id, m] : left) eng.handle(m);
    if (eng.flush(true)) journal.release_through(left.back().first);
    spdlog::warn("replayed {} received messages that were not committed before the last stop", left.size());
  }
  // Every commit, whoever asks for it (the flush timer, an API call, a burst): release the journal
  // up to the last message handed to the engine.
  eng.set_commit_listener([&link, &journal] {
    try {
      if (const auto id = link.last_delivered_journal_id(); id != 0) journal.release_through(id);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());  // kept; released at the next commit or replayed at start
    }
  });

  link_status ls;
  ls.connected = [&link] { return link.connected(); };
  ls.publish_failures = [&link] { return link.publish_failures(); };
  ls.journal_failures = [&link] { return link.journal_failures(); };
  ls.connect_failures = [&link] { return link.connect_failures(); };
  ls.probes_sent = [&link] { return link.probes_sent(); };
  ls.probes_echoed = [&link] { return link.probes_echoed(); };
  ls.session_resets = [&link] { return link.session_resets(); };
  ls.receipts_waiting = [&link] { return link.paced_waiting(); };
  ls.receipts_dropped = [&link] { return link.paced_dropped(); };
  ls.handover_waiting = [&link] { return link.handover_waiting(); };
  ls.handover_peak = [&link] { return link.handover_peak(); };
  if (lease != nullptr) ls.lease_held = [lease] { return !lease->lost(); };
  ls.notify = [&hook] { return hook ? hook->counts() : notify_counts{}; };
  read_service* reads_ptr = nullptr;  // set below; the metric reads it on the engine's thread
  ls.read_queue_depth = [&reads_ptr] { return reads_ptr != nullptr ? reads_ptr->queued() : std::size_t{0}; };
  const http_server* http_ptr = nullptr;  // set below, once the listener exists
  if (!cfg.network_file.empty()) ls.network_reload_failures = [&pipes] { return pipes.failures(); };
  ls.tls_refused = [&http_ptr] { return http_ptr != nullptr ? http_ptr->tls_refused() : std::uint64_t{0}; };
  // Users, tokens, sessions and the audit log (auth/service.hpp): real time, never the simulated clock.
  const system_clock_source wall_clock;
  const auth::settings as = auth_settings(cfg);
  // The configured backend's identity tables: with PostgreSQL shared by a standby pair (issue 16).
  auth::service ids(auth::open_identity_store(cfg), as, wall_clock);
  // A frozen former leader that wakes after a takeover writes no session, account or audit row.
  if (lease != nullptr && lease->term()) ids.set_commit_fence({cfg.standby_lease_key, *lease->term()});
  if (cfg.http_public_read) spdlog::warn("http.public_read = true: every GET read is open without login");
  // Inspections, site QR codes and the contractor assessment (om/inspections.hpp): times from the
  // engine's clock (a simulated one in the demo), a connection of their own.
  om::inspections insp(cfg.store_path, cfg.om_inspections);
  // Lab results and the site archive (issue 12, om/lab.hpp, om/archive.hpp): own connections.
  om::lab lab_room(cfg.store_path, *cfg.om_lab.limits, wall_clock);
  om::archive archive_room(cfg.store_path);
  api routes(eng, ls, &ids, om_rooms{&lab_room, &archive_room, &insp});
  routes.set_alarms(&alarm_discipline);
  routes.set_incidents(&incident_room, &pipes);
  alarm_discipline.set_audit([&ids](const std::string& action, const std::string& target, const std::string& detail) {
    auth::principal system;
    system.kind = auth::actor_kind::system;
    system.name = "gateway";
    system.address = "-";
    ids.audit(system, action, target, detail);
  });
  // Work orders, check-ins, photos (issue 12, om/work_orders.hpp): their own store connection;
  // sites from the engine's registry (read on the engine's thread, where the routes run).
  // The configured backend's tables: with PostgreSQL shared by a standby pair, so a takeover lists
  // the former leader's orders and opens no second order for an alert it offered (issue 16).
  const auto site_key = om::load_or_create_site_key(cfg.om.site_key_file);
  std::filesystem::create_directories(cfg.om.photo_dir);
  auto order_db = om::open_work_order_db(cfg);
  if (lease != nullptr && lease->term()) order_db->set_commit_fence({cfg.standby_lease_key, *lease->term()});
  om::work_orders orders(std::move(order_db), cfg.om, clock,  // the gateway clock, as the alerts'
                         [&eng](const std::string& id) -> std::optional<om::site_ref> {
                           const auto idx = eng.terminals().find(id);
                           if (!idx) return std::nullopt;
                           const auto& t = eng.terminals().terminals()[*idx];
                           return om::site_ref{t.id, t.town, t.latitude_deg, t.longitude_deg};
                         },
                         &ids);
  routes.set_om(&orders, &site_key);
  // With PostgreSQL the check-ins are the shared tables' (above), not the SQLite file's that the
  // inspections room keeps: an inspection starts from a check-in found there.
  if (cfg.backend == store_backend::postgresql) insp.set_checkins(om::checkins_in(orders));
  // The alerts that may open orders by policy: those committed in the store of store.backend (with
  // PostgreSQL the SQLite file below the rooms holds none), read on the engine's thread, where
  // judge() runs (order_judge below) and where `db` is used.
  orders.set_alert_source([&db] { return om::committed_open_alerts(db); });
  // Overdue escalation (om/work_orders.hpp judge): to the town officers' and then the county's
  // notification targets (notify level "town" / "county"), queued durably, once per order and level.
  const om::escalation_sink escalate = [&hook](const om::order_escalation& e) {
    spdlog::warn("work order escalation to the {} level (site {}, town {}): {}", e.level, e.site_id, e.town, e.text_en);
    if (!hook) return;
    escalation_message m;
    m.subject_kind = "work_order";
    m.subject_id = static_cast<std::uint64_t>(e.order_id);
    m.site_name = e.site_id;
    m.what_en = e.text_en;
    m.what_zh = e.text_zh;
    m.since = sewage::proto::timestamp(std::chrono::milliseconds(e.due_ms));
    m.once_key = "work_order:" + std::to_string(e.order_id) + ":" + e.level;
    hook->enqueue_escalation(e.level == "county" ? notify_level::county : notify_level::town, e.site_id, e.town, m);
  };
  // Read routes on reader threads with read-only connections; the rest on the engine's thread
  // (read_service.hpp, gateway/README.md "Reads and the engine thread").
  read_service::options ro;
  ro.pool.threads = cfg.http_reader_threads;
  ro.pool.queue_max = cfg.http_reader_queue_max;
  ro.pool.job_cpu_limit = cfg.http_read_cpu_limit;
  read_service reads(routes, eng, io.get_executor(),
                     [&cfg] { return open_store(cfg, store_access::read_only); },
                     ro);
  reads_ptr = &reads;
  const bool https = !cfg.http_tls_cert_file.empty();
  http_server http(http_io, cfg.http_address, cfg.http_port,
                   http_server_options{std::max(cfg.http_max_body_bytes, cfg.om.photo_max_bytes), http_security::security_headers(cfg.http_tile_url, https),
                                       cfg.http_tls_cert_file, cfg.http_tls_key_file},
                   [&reads](http_request r, http_server::responder respond) { reads.serve(std::move(r), std::move(respond)); });
  http_ptr = &http;
  http.start();
  io_thread http_thread(http_io);
  if (const auto net = pipes.current())
    spdlog::info("pipe network {}: {} nodes, {} segments, {:.3f} km", cfg.network_file.string(), net->nodes().size(),
                 net->segments().size(), net->total_length_m() / 1000.0);
  spdlog::info("HTTP API on {}://{}:{}/ ; store {} ; {} terminals registered ; {} reader threads", https ? "https" : "http",
               cfg.http_address,
               http.port(), describe_store(cfg), eng.terminals().size(), reads.reader_threads());

  periodic flusher(io, cfg.flush_interval, [&commit, &reads] {
    commit();
    reads.refresh_view();
  });
  // A tick that comes much later than its period means the gateway itself did not run (SIGSTOP, a
  // frozen VM, an overloaded machine): the terminals' silence meanwhile was not theirs.
  auto last_tick = std::chrono::steady_clock::now();
  periodic ticker(io, cfg.tick_interval, [&eng, &alarm_discipline, &incident_room, &last_tick, period = cfg.tick_interval] {
    const auto now = std::chrono::steady_clock::now();
    if (const auto late = now - last_tick - period; late > engine::own_stall_threshold)
      eng.own_stall(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_tick));
    last_tick = now;
    eng.tick();
    incident_room.tick(eng.terminals());
    alarm_discipline.tick(eng);
  });
  periodic order_judge(io, std::chrono::seconds(cfg.om.work_orders.check_interval_s), [&orders, &escalate] {
    try {
      orders.judge(escalate);
    } catch (const std::exception& e) {
      spdlog::error("work orders: {}", e.what());
    }
  });
  // Raw records and the audit log are kept store.retention_days.
  const auto purge = [&eng, &ids, &wall_clock, &cfg] {
    eng.purge();
    const auto before = wall_clock.now() - std::chrono::days(cfg.retention_days);
    try {
      if (const auto n = ids.purge_audit(before.time_since_epoch().count()); n > 0)
        spdlog::info("retention: {} audit rows older than {} days deleted", n, cfg.retention_days);
    } catch (const std::exception& e) {  // retried at the next hour's purge
      spdlog::error("retention: audit rows not purged: {}", e.what());
    }
  };
  // A rollup backlog (the first start after an upgrade, or after rollup_after_days was lowered)
  // is worked off a day per second, between the engine's other work.
  boost::asio::steady_timer rollup_catch_up(io);
  std::function<void()> purge_and_catch_up = [&] {
    purge();
    if (!eng.rollup_behind()) return;
    rollup_catch_up.expires_after(std::chrono::seconds(1));
    rollup_catch_up.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) purge_and_catch_up();
    });
  };
  periodic retention(io, std::chrono::hours(1), [&] { purge_and_catch_up(); });
  purge_and_catch_up();

  // systemd's watchdog (WatchdogSec=): keep-alives from this, the engine's loop; a hung engine
  // thread stops them and systemd restarts the gateway. No-op outside systemd.
  sewage::service::watchdog_keepalive keepalive(io);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      // SIGHUP (systemctl reload) re-reads the registry and the pipe network, not the config file.
      sewage::service::notify_reloading();
      // An audit row that cannot be written (the identity store unreachable, or fenced after a
      // takeover) is logged; the handler still re-arms and tells systemd the reload ended.
      const auto audit = [&ids](const std::string& action, const std::string& target, const std::string& detail) {
        try {
          ids.audit(auth::principal{auth::actor_kind::system, "SIGHUP", auth::role::admin, {}, false, {}, {}, {}, {}, {}},
                    action, target, detail);
        } catch (const std::exception& e) {
          spdlog::error("audit row {} not written: {}", action, e.what());
        }
      };
      try {
        eng.reload_registry(load_registry(cfg.registry_path, cfg.defaults));
        audit("registry.reload", cfg.registry_path.string(), R"({"ok":true})");
      } catch (const config_error& e) {
        spdlog::error("registry reload failed, keeping the current one: {}", e.what());
      }
      // The pipe network (network/holder.hpp): a bad file keeps the previous model, every problem logged.
      if (!cfg.network_file.empty()) {
        const auto r = pipes.reload(cfg.network_file, network_options(eng.terminals()));
        audit("network.reload", cfg.network_file.string(),
              r.ok ? std::string(R"({"ok":true})") : R"({"ok":false,"problems":)" + std::to_string(r.problems.size()) + "}");
      }
      sewage::service::notify_ready();
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("signal {}: shutting down", sig);
    sewage::service::notify_stopping();
    keepalive.cancel();
    boost::asio::post(http_io, [&http] { http.stop(); });
    flusher.cancel();
    ticker.cancel();
    order_judge.cancel();
    retention.cancel();
    rollup_catch_up.cancel();
    eng.flush(true);
    io.stop();
  };
  signals.async_wait(on_signal);

  link.start();
  if (on_loop_started) boost::asio::post(io, on_loop_started);
  // Ready for systemd (Type=notify): store open, journal replayed, HTTP listening; the broker link
  // connects on its own (a lost broker is a state, not a failed start).
  sewage::service::notify_ready("HTTP on " + cfg.http_address + ":" + std::to_string(http.port()) + ", " +
                                std::to_string(eng.terminals().size()) + " sites");
  // Last resort: a handler that throws makes io_context::run() throw; the exception is logged and
  // the loop resumes (the context stays valid; handlers already queued still run). Only
  // io.stop() (the signal handler) ends it.
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      spdlog::error("unhandled exception in the event loop (recovered): {}", e.what());
    } catch (...) {
      spdlog::error("unhandled non-standard exception in the event loop (recovered)");
    }
  }
  // HTTP first: no new request reaches the readers or the engine; then the readers (their
  // waiting jobs are dropped and close their connections).
  http_thread.stop();
  link.stop();
  if (!eng.flush(true)) spdlog::error("last commit failed; the received-message journal keeps what it holds for the next start");
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sewage-gateway: the county gateway for sewage treatment terminal telemetry"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "gateway configuration file (TOML), see gateway.example.toml");
  app.add_flag("--check-config", check_only, "validate the configuration and the registry, then exit");
  app.set_version_flag("--version", std::string("sewage-gateway ") + SEWAGE_GATEWAY_VERSION);
  double time_scale = 1.0;
  std::string start_time;
  std::string time_origin;
  app.add_option("--time-scale", time_scale, "SIMULATION ONLY: run the clock N times faster")
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--start-time", start_time, "SIMULATION ONLY: the clock reads this UTC time (ISO 8601) ...");
  app.add_option("--time-origin", time_origin,
                 "SIMULATION ONLY: ... at this real UTC time (default: when the gateway starts)");
  sewage::gateway::auth::cli accounts(app);
  sewage::gateway::network::cli network_cli(app);
  sewage::gateway::history::cli history_cli(app);
  CLI11_PARSE(app, argc, argv);
  if (network_cli.requested()) return network_cli.run();  // needs no --config

  auto logger = spdlog::stderr_color_mt("gateway");
  spdlog::set_default_logger(logger);
  if (config_path.empty()) {
    std::cerr << "sewage-gateway: --config FILE is required (see --help)\n";
    return 2;
  }
  if (accounts.requested()) return accounts.run(config_path);
  config cfg;
  registry reg;
  network::holder pipes;  // the pipe network, when [network] file is set (null otherwise)
  try {
    cfg = load_config(config_path);
    reg = load_registry(cfg.registry_path, cfg.defaults);
    if (!cfg.network_file.empty())
      pipes.set(std::make_shared<const network::network_model>(network::load_network(cfg.network_file, network_options(reg))));
  } catch (const config_error& e) {
    std::cerr << "sewage-gateway: " << e.what() << '\n';
    return 2;
  } catch (const network::network_error& e) {  // a bad network file refuses to start, every problem printed
    std::cerr << "sewage-gateway: network: " << e.what() << '\n';
    return 2;
  }
  const char* env_level = std::getenv("SEWAGE_LOG_LEVEL");
  spdlog::set_level(spdlog::level::from_str(env_level != nullptr ? env_level : cfg.log_level));
  if (history_cli.requested()) return history_cli.run(cfg, std::move(reg), pipes);
  if (check_only) {
    std::cout << config_path << ": ok (" << reg.size() << " terminals in " << cfg.registry_path.string() << ")\n";
    if (const auto net = pipes.current())
      std::cout << cfg.network_file.string() << ": ok\n" << network::summary(*net);
    if (!sewage::proto::broker_uri_uses_tls(cfg.mqtt_uri))
      std::cout << "warning: " << sewage::proto::broker_uri_plaintext_warning(cfg.mqtt_uri) << '\n';
    else if (cfg.mqtt_ca_file.empty())
      std::cout << "note: mqtt.ca_file is not set: the broker's certificate is checked against the system CA store\n";
    return 0;
  }
  std::unique_ptr<clock_source> clock = std::make_unique<system_clock_source>();
  if (!start_time.empty() || time_scale != 1.0) {
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    const auto start = start_time.empty() ? std::optional(now) : sewage::proto::parse_timestamp(start_time);
    const auto origin = time_origin.empty() ? std::optional(now) : sewage::proto::parse_timestamp(time_origin);
    if (!start || !origin) {
      std::cerr << "sewage-gateway: --start-time and --time-origin must be ISO 8601 UTC, e.g. 2026-11-29T08:00:00Z\n";
      return 2;
    }
    clock = std::make_unique<simulated_clock_source>(*start, time_scale, *origin);
    spdlog::warn("SIMULATION clock: x{} from {}; never use on a real county", time_scale,
                 sewage::proto::format_timestamp(clock->now()));
  }
  std::unique_ptr<standby::leader_lease> lease;
  // After a takeover: systemd's watchdog is already armed (the standby said READY), so it is fed
  // from a thread of its own until the new leader's event loop runs and feeds it itself.
  boost::asio::io_context handover_io;
  std::optional<sewage::service::watchdog_keepalive> handover_keepalive;
  std::thread handover_thread;
  std::function<void()> end_handover;
  if (cfg.standby_enabled) {
    lease = std::make_unique<standby::leader_lease>(standby::lease_options{
        cfg.postgresql_uri, cfg.standby_lease_key, cfg.standby_node, cfg.standby_http_url, cfg.standby_check_interval});
    const auto waited_from = std::chrono::steady_clock::now();
    auto taken_at = waited_from;
    try {
      if (!stand_by(cfg, *lease, reg, pipes, *clock, taken_at)) return 0;
      // stand_by's signal set is gone and Asio put SIGHUP back to its default action, which ends
      // the process: a `systemctl reload` during the takeover wait would kill the new leader.
      // Ignored until run()'s signal set takes it over (the registry is read again below anyway).
      std::signal(SIGHUP, SIG_IGN);
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
    handover_keepalive.emplace(handover_io);
    handover_thread = std::thread([&handover_io] {
      const auto guard = boost::asio::make_work_guard(handover_io);
      handover_io.run();
    });
    end_handover = [&handover_io] { handover_io.stop(); };  // thread-safe (io_context::stop)
    // Fencing (standby/leader_lease.hpp): a leader that cannot confirm its lease stops at once,
    // from the lease's own thread, with no commit (the standby may lead already); its journal and
    // the terminals' queues keep what it received but did not commit.
    lease->keep([] {
      spdlog::critical("standby: the lease is lost; this gateway stops leading now (exit 3)");
      spdlog::default_logger()->flush();
      std::_Exit(3);
    });
    const auto delay = standby::takeover_delay(cfg.standby_check_interval);
    spdlog::warn("standby: node {} took the lease after {:.1f} s; leads in {} ms (a former leader still alive stops "
                 "by then)",
                 cfg.standby_node, std::chrono::duration<double>(taken_at - waited_from).count(), delay.count());
    std::this_thread::sleep_until(taken_at + delay);  // the standby's last reads finished within it, as a rule
    // The registry may have changed while this gateway waited: lead with the current one.
    try {
      reg = load_registry(cfg.registry_path, cfg.defaults);
    } catch (const config_error& e) {
      spdlog::error("registry reload at takeover failed, leading with the one read last (at start or at a SIGHUP): {}",
                    e.what());
    }
  }
  struct join_at_exit {  // the handover thread ends with run() or with main's early returns
    std::thread& t;
    std::function<void()>& end;
    ~join_at_exit() {
      if (end) end();
      if (t.joinable()) t.join();
    }
  } joined{handover_thread, end_handover};
  try {
    return run(cfg, std::move(reg), *clock, pipes, lease.get(), end_handover);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
