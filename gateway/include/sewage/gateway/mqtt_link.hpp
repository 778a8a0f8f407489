#pragma once
/// \file
/// The gateway's MQTT side (Paho MQTT C++ 1.2, async client): persistent session (MQTT 3.1.1 set
/// explicitly in create and connect options, clean session off, fixed client id), its own
/// reconnect loop (see below), subscription to telemetry, status, image and cmd/result of all terminals on every
/// connect (so a broker without our session gets them again), and to the alert topics (so the
/// engine can remove stale retained alert states); retained gateway birth and last will.
/// Paho callbacks are noexcept and only post to the gateway's io_context: nothing blocks in them
/// (Paho C holds its client's mutex while it calls them: see handover_waiting).
///
/// Reconnect: Paho C 1.3.12's automatic reconnect checks its retry timer only every 3 s
/// (MQTTAsync_checkTimeouts) and doubles the interval up to its maximum, so a returned broker was
/// found up to 17 s late, and its failed attempts call no callback (nothing could be logged). The
/// link therefore reconnects itself on the io_context: at once after a loss, then every
/// `reconnect_interval` (1 s) until connected, so a broker that is back is reached within about
/// 1 s plus the handshake. The first failure of an outage is logged with its cause (CONNACK code
/// in words, or for a TCP/TLS failure the socket's or OpenSSL's reason from a probe, see
/// src/ingest/broker_probe.hpp), later ones as one summary line per `failure_log_interval` (30 s).
///
/// A publish whose first write fails (the connection broke under it): Paho C 1.3.12 (Debian 12's
/// libpaho-mqtt3as; unchanged up to 1.3.15) then frees the topic and payload of that QoS 1 PUBLISH
/// (MQTTAsync_processCommand, its SOCKET_ERROR branch calls MQTTAsync_freeCommand) while the copy
/// it keeps in the session for re-sending still points at them. Reconnecting to that session
/// re-sends the copy from freed memory (MQTTProtocol_retries): a crash, or garbage on the wire. The
/// second 168 h chaos run died of it (README "The county under infrastructure faults"). Every
/// publish therefore carries a listener; when one fails with MQTTASYNC_FAILURE (the code only that
/// branch gives) the next connect asks for a clean session, so Paho drops its copies instead of
/// re-sending them (freeing the freed pointers again is harmless: Paho's own allocator, Heap.c,
/// ignores pointers it no longer tracks). The broker then forgets the gateway's queue; the agents
/// send again what has no receipt after the gateway's birth (proto/README.md "Delivery receipts"),
/// as after a broker restarted without persistence. The connect after that one is persistent again.
/// Logged at warn and counted (`session_resets`); test `MqttLinkWriteFailure.*` fails publishes'
/// writes on purpose.

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/durable_inbox.hpp"
#include "sewage/gateway/engine.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>

#include <atomic>
#include <functional>
#include <memory>

namespace sewage::gateway {

/// What the link tells the engine about itself (on `io`), so that the gateway's own outage is not
/// taken for the terminals' silence (engine::link_down / link_up / backlog_drained).
enum class link_event {
  down,             ///< the connection is lost (or the first connect has not succeeded yet)
  up,               ///< connected and subscribed again; the broker now delivers the backlog
  backlog_drained,  ///< after `up`: the receive queue was found empty (everything handed over)
};

class mqtt_link final : public publisher {
 public:
  /// Retry period of the reconnect loop (the bound for finding a returned broker is 2 s).
  static constexpr std::chrono::milliseconds reconnect_interval{1000};
  /// At most one "still cannot connect" line per this period while the broker stays away.
  static constexpr std::chrono::seconds failure_log_interval{30};
  /// Loopback probe period while connected. At a simulated clock's x240 one period is one minute
  /// of simulated time, which is how far the offline judgement can lag behind the clock.
  static constexpr std::chrono::milliseconds probe_interval{250};
  /// Probes in flight at most: a stalled broker path holds these and no more (4 s of probes).
  static constexpr std::size_t max_probes_in_flight{16};
  /// No echo for this long on a connection that stays up is a path without probes (an ACL without
  /// the topic), not a stall: a dead or paused broker ends the connection within 2 x keep-alive
  /// (MQTT 3.1.1 section 3.1.2.10), so this is max(60 s, 3 x mqtt.keep_alive_s).
  [[nodiscard]] std::chrono::seconds probe_lost_after() const noexcept;

  /// `on_message` and `on_connected` run on `io` (never on a Paho thread). With a `journal`, every
  /// message is appended to it on the Paho thread before the callback returns (that is when Paho
  /// acknowledges it to the broker); see durable_inbox.hpp. Throws mqtt::exception if the client
  /// cannot be created (bad URI), std::invalid_argument for a plain URI without
  /// `cfg.mqtt_allow_plaintext` (the same refusal as load_config, for configs built in code); logs
  /// the plaintext warning once when the opt-in is used.
  mqtt_link(const config& cfg, const clock_source& clock, boost::asio::io_context& io,
            std::function<void(inbound_message)> on_message, std::function<void()> on_connected,
            durable_inbox* journal = nullptr);
  ~mqtt_link() override;
  mqtt_link(const mqtt_link&) = delete;
  mqtt_link& operator=(const mqtt_link&) = delete;

  /// Receives link state changes on `io`. Set before start(). Not thread-safe.
  void on_link_event(std::function<void(link_event)> fn);
  /// Receives, on `io` and in order with `on_message`, each loopback probe that came back (see
  /// proto/gateway_probe.hpp): `sent_at` is when it was published (the gateway's clock),
  /// `round_trip` the real time it took. Set before start(). Not thread-safe.
  void on_probe_echo(std::function<void(proto::timestamp sent_at, std::chrono::nanoseconds round_trip)> fn);
  /// Called on `io` when probes stop coming back on a connection that stays up, for
  /// `probe_lost_after` (the broker ACL may not grant the probe topic); logged once per connection.
  /// Set before start(). Not thread-safe.
  void on_probe_lost(std::function<void()> fn);
  /// Starts connecting (returns at once; retries until stop()). Never throws.
  void start() noexcept;
  /// Publishes the retained "offline, shutdown" status and disconnects, waiting up to ~5 s.
  /// Call from a thread that is not a Paho callback (main). Never throws.
  void stop() noexcept;
  /// Subscribes to every terminal topic the gateway consumes and publishes the retained birth.
  /// Called on the io_context after each connect. Never throws.
  void after_connect() noexcept;
  /// QoS 1 publish; never blocks. A failure (e.g. too many buffered) is counted and logged.
  void publish(const std::string& topic, const std::string& payload, bool retained) noexcept override;
  /// QoS 1, not retained, paced (the delivery receipts, one per terminal and commit): at most
  /// `max_paced_in_flight` of these are in the MQTT client unacknowledged at once; the others
  /// wait in the link, in order, and go as PUBACKs come back. Paho C looks for a free message id
  /// through every message it holds, so 5,000 receipts handed over at once cost it ~250,000
  /// instructions each (callgrind, 2026-12-04): 43 % of the engine thread. At most
  /// `max_paced_waiting` wait; beyond, the oldest is dropped and counted (`paced_dropped`), as are
  /// those waiting when the connection is lost (the agents send again what has no receipt after
  /// the gateway's next birth; their copies are receipted then). Call on `io`. Never throws.
  void publish_paced(const std::string& topic, const std::string& payload) noexcept override;
  /// Paced publishes waiting in the link now. Thread-safe.
  [[nodiscard]] std::size_t paced_waiting() const noexcept { return paced_waiting_.load(); }
  /// Paced publishes dropped (over `max_paced_waiting`, or waiting at a connection loss). Thread-safe.
  [[nodiscard]] std::uint64_t paced_dropped() const noexcept { return paced_dropped_.load(); }
  /// Paced publishes unacknowledged in the MQTT client at once, at most. Large enough for
  /// 20,000 receipts/s at a 10 ms loopback round trip; small enough that Paho's message id search
  /// stays cheap and an alert state published meanwhile waits behind at most this many.
  static constexpr std::size_t max_paced_in_flight = 256;
  /// Paced publishes waiting in the link, at most: a minute of receipts of 100,000 terminals at
  /// one record a minute (~200 B each: ~20 MB).
  static constexpr std::size_t max_paced_waiting = 100'000;

  /// Messages one drain hands to `on_message` before it lets other work queued on `io` run (HTTP
  /// reads of the engine, commits, timers): 256 x ~80 us (first contact, gateway_bench_engine) is
  /// ~20 ms at most. Before, one drain took every message waiting: behind a backlog of 1.2 million
  /// (1,000,000 terminals, gateway_bench_province, 2026-12-04) a GET /metrics waited over two
  /// minutes and the engine's tick did not run for 131 s.
  static constexpr std::size_t drain_chunk = 256;
  /// Received messages waiting for the io thread now, and the most ever. Thread-safe.
  ///
  /// Not bounded: a backlog the engine cannot keep up with is held here (in memory; with the
  /// journal also on disk), not in the broker. Making Paho's receiving thread wait for room in
  /// the callback was tried (2026-12-04) and cannot work with Paho C 1.3: it holds the client's
  /// mutex while it calls message_arrived, so the io thread's next publish or is_connected()
  /// waited with it (seen in gdb), and ingest fell from ~6,000 to ~40 records/s. Bounding it
  /// needs MQTT 5 flow control or acknowledging outside the callback (issue 16 item 4).
  [[nodiscard]] std::size_t handover_waiting() const noexcept { return handover_waiting_.load(); }
  [[nodiscard]] std::size_t handover_peak() const noexcept { return handover_peak_.load(); }

  [[nodiscard]] bool connected() const noexcept;
  [[nodiscard]] std::uint64_t publish_failures() const noexcept { return publish_failures_.load(); }
  [[nodiscard]] std::uint64_t connects() const noexcept { return connects_.load(); }
  /// Failed connect attempts since start (each retry counts). Thread-safe.
  [[nodiscard]] std::uint64_t connect_failures() const noexcept { return connect_failures_.load(); }
  /// Journal id of the last message handed to `on_message` (0 = none yet). Read it on `io` after
  /// a committed flush to release the journal up to there.
  [[nodiscard]] std::uint64_t last_delivered_journal_id() const noexcept { return last_delivered_.load(); }
  /// Messages the journal could not store (disk full); they were still processed. Thread-safe.
  [[nodiscard]] std::uint64_t journal_failures() const noexcept { return journal_failures_.load(); }
  /// Loopback probes published and come back since start. Thread-safe.
  [[nodiscard]] std::uint64_t probes_sent() const noexcept { return probes_sent_.load(); }
  [[nodiscard]] std::uint64_t probes_echoed() const noexcept { return probes_echoed_.load(); }
  /// Connects made with a clean session because a publish's write had failed (see the file
  /// comment). Thread-safe.
  [[nodiscard]] std::uint64_t session_resets() const noexcept { return session_resets_.load(); }

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  std::atomic<std::uint64_t> publish_failures_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> connect_failures_{0};
  std::atomic<std::uint64_t> last_delivered_{0};
  std::atomic<std::uint64_t> journal_failures_{0};
  std::atomic<std::uint64_t> probes_sent_{0};
  std::atomic<std::uint64_t> probes_echoed_{0};
  std::atomic<std::uint64_t> session_resets_{0};
  std::atomic<std::size_t> paced_waiting_{0};
  std::atomic<std::uint64_t> paced_dropped_{0};
  std::atomic<std::size_t> handover_waiting_{0};
  std::atomic<std::size_t> handover_peak_{0};
};

}  // namespace sewage::gateway
