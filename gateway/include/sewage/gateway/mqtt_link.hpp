#pragma once
/// \file
/// The gateway's MQTT side (Paho MQTT C++ 1.2, async client): persistent session (MQTT 3.1.1 set
/// explicitly in create and connect options, clean session off, fixed client id), automatic
/// reconnect, subscription to telemetry, status, image and cmd/result of all terminals on every
/// connect (so a broker without our session gets them again), and to the alert topics (so the
/// engine can remove stale retained alert states); retained gateway birth and last will.
/// Paho callbacks are noexcept and only post to the gateway's io_context: nothing blocks in them.

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/durable_inbox.hpp"
#include "sewage/gateway/engine.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>

namespace sewage::gateway {

class mqtt_link final : public publisher {
 public:
  /// `on_message` and `on_connected` run on `io` (never on a Paho thread). With a `journal`, every
  /// message is appended to it on the Paho thread before the callback returns (that is when Paho
  /// acknowledges it to the broker); see durable_inbox.hpp. Throws mqtt::exception if the client
  /// cannot be created (bad URI).
  mqtt_link(const config& cfg, const clock_source& clock, boost::asio::io_context& io,
            std::function<void(inbound_message)> on_message, std::function<void()> on_connected,
            durable_inbox* journal = nullptr);
  ~mqtt_link() override;
  mqtt_link(const mqtt_link&) = delete;
  mqtt_link& operator=(const mqtt_link&) = delete;

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

  [[nodiscard]] bool connected() const noexcept;
  [[nodiscard]] std::uint64_t publish_failures() const noexcept { return publish_failures_.load(); }
  [[nodiscard]] std::uint64_t connects() const noexcept { return connects_.load(); }
  /// Journal id of the last message handed to `on_message` (0 = none yet). Read it on `io` after
  /// a committed flush to release the journal up to there.
  [[nodiscard]] std::uint64_t last_delivered_journal_id() const noexcept { return last_delivered_.load(); }
  /// Messages the journal could not store (disk full); they were still processed. Thread-safe.
  [[nodiscard]] std::uint64_t journal_failures() const noexcept { return journal_failures_.load(); }

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  std::atomic<std::uint64_t> publish_failures_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> last_delivered_{0};
  std::atomic<std::uint64_t> journal_failures_{0};
};

}  // namespace sewage::gateway
