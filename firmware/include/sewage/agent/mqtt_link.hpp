#pragma once
/// \file
/// The agent's MQTT connection: Paho MQTT C++ 1.2 async client, MQTT 3.1.1 (set explicitly in
/// both create and connect options, DEPENDENCIES.md §2.2), clean_session(true), no Paho
/// persistence (the durable_queue is the only store, §2.7), automatic reconnect with capped
/// exponential backoff and Paho's ±20 % jitter, keep-alive, optional TLS and user/password, and a
/// retained last will. Reconnects are mqtt_link's own (not Paho's automatic reconnect, whose
/// failed attempts reach no callback): after a loss or a failed attempt it connects again after
/// reconnect_min_s, doubling up to reconnect_max_s, ±20 % jitter.
///
/// One resend path (issue 9 §5): with a persistent session (clean_session(false)) Paho resends
/// its unacknowledged publishes after a reconnect AND the agent replays them from its queue, so
/// after a long half-open link every in-flight record went out twice, out of order. Here the
/// session is clean: when the link drops Paho fails every unacknowledged publish (rc -11) and
/// forgets it; the agent's durable queue is the only store and replays in seq order after each
/// reconnect (agent.cpp). Paho file persistence was the alternative and is rejected: restored
/// messages get no token, so the queue could never learn they were acknowledged (DEPENDENCIES.md
/// §2.1, §2.7). Cost: the broker keeps no session for the agent, so a command sent while the
/// terminal is offline is not queued for it (the gateway sees no result; commands are for a
/// connected terminal). The command subscription is renewed on every connect.
///
/// The clean session is also what keeps the agent safe from a Paho C 1.3.12 defect (unchanged up
/// to 1.3.15): when the first write of a QoS 1 PUBLISH fails because the connection broke under
/// it, Paho frees the message's topic and payload while its session copy still points at them.
/// A persistent session would re-send that copy from freed memory after the reconnect (the
/// gateway's crash in the second 168 h chaos run; gateway mqtt_link.hpp). With a clean session
/// Paho drops the copy at the disconnect (the second free is ignored by Paho's own allocator) and
/// reports the publish failed (rc -1), so the record stays queued. Test
/// `agent.AgentMqttLinkWriteFailure.*` fails PUBLISH writes on purpose; with clean_session(false)
/// it aborts with that heap-use-after-free.
///
/// Connect failures are logged with their cause (rc meaning plus Paho's TLS trace: certificate
/// not signed by ca_file, host name mismatch), the first one at once, then at most one summary
/// line per minute (or when the cause changes), for the first connection and for automatic
/// reconnects alike.
///
/// Memory: Paho C 1.3.11 (libpaho-mqtt3as) by default initialises OpenSSL completely when the first
/// client of the process is created (SSL_library_init, all error strings, all algorithms and the
/// config file), which made ~1.5 MiB of libcrypto resident in an agent that may never use TLS.
/// `global_init()` turns that off; OpenSSL 3 initialises itself on demand when TLS is actually used
/// (SSL_CTX_new, OPENSSL_init_ssl(3)), so TLS connections still work (tests/integration/agent).
///
/// Threading: every Paho callback only posts a handler to the agent's io_context and never
/// throws; all `handlers` run on that io_context. `publish`/`subscribe` never block. Only
/// `shutdown` blocks and must not be called from a Paho callback.
#include "sewage/agent/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sewage::agent {

class mqtt_link {
 public:
  struct handlers {
    /// The connection is up (first connect or automatic reconnect).
    std::function<void()> on_connected;
    std::function<void()> on_connection_lost;
    /// A publish with a non-zero `tag` completed: ok = PUBACK with rc 0 and reason < 0x80.
    std::function<void(std::uint64_t tag, bool ok, int rc)> on_delivery;
    std::function<void(std::string topic, std::string payload)> on_message;
  };

  /// Process-wide Paho set-up: MQTTAsync_global_init() with `do_openssl_init = 0`, so Paho leaves
  /// OpenSSL initialisation to OpenSSL itself (see the file comment). Paho's rule: call it once,
  /// at program start, before any Paho client (ours or anyone's) exists in the process, and on
  /// the main thread; later calls here do nothing. Not calling it is also correct, it only costs
  /// memory. Never throws.
  static void global_init() noexcept;

  /// Creates the client (no network activity yet). `will_topic`/`will_payload` form the retained
  /// QoS 1 last will. Throws mqtt::exception / std::runtime_error on invalid URIs or options,
  /// config_error("mqtt.uri") for a plain URI without mqtt.allow_plaintext; logs the plaintext
  /// warning (proto::broker_uri_plaintext_warning) once per plain URI when the opt-in is used.
  mqtt_link(const agent_config& config, boost::asio::io_context& io, handlers h,
            std::string will_topic, std::string will_payload);
  ~mqtt_link();
  mqtt_link(const mqtt_link&) = delete;
  mqtt_link& operator=(const mqtt_link&) = delete;

  /// Starts connecting. After a failed attempt or a lost connection it connects again with
  /// doubling delay reconnect_min_s..max_s plus ±20 % jitter. Call on the io_context thread.
  void start();
  /// True between on_connected and on_connection_lost (io_context thread view).
  [[nodiscard]] bool connected() const noexcept { return connected_; }
  /// QoS 1 publish. Returns false when Paho refuses it at once (disconnected -3, buffer full -12);
  /// the caller keeps the record and retries later. Never throws.
  bool publish(const std::string& topic, const std::string& payload, bool retained, std::uint64_t tag) noexcept;
  /// QoS 1 subscription; failures are logged. Never throws.
  void subscribe(const std::string& topic) noexcept;
  /// Publishes `payload` retained on `topic`, waits up to `timeout` for its PUBACK, then
  /// disconnects cleanly. Blocking: call from the main thread after the io_context stopped.
  /// Never throws.
  void shutdown(const std::string& topic, const std::string& payload, std::chrono::milliseconds timeout) noexcept;

 private:
  class impl;
  void schedule_connect();
  void do_connect();
  void note_connect_failure(int rc, const std::string& cause);

  boost::asio::io_context& io_;
  std::unique_ptr<impl> impl_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::seconds retry_delay_;
  std::chrono::seconds retry_min_;
  std::chrono::seconds retry_max_;
  bool connected_{false};
  bool connecting_{false};
  bool ever_connected_{false};
  bool stopping_{false};
  // Connect failure log rate limit (io_context thread only).
  std::uint64_t failures_{0};         ///< failed attempts since the last successful connect
  std::uint64_t failures_logged_{0};  ///< value of failures_ at the last log line
  std::string last_cause_;
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::chrono::seconds failure_log_period_{60};
};

}  // namespace sewage::agent
