#include "sewage/gateway/mqtt_link.hpp"

#include "ingest/broker_probe.hpp"

#include <sewage/proto/broker_uri.hpp>
#include <sewage/proto/gateway_probe.hpp>
#include <sewage/proto/status.hpp>
#include <sewage/proto/topic.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sewage::gateway {

namespace {
/// Every publish's listener. Counts failures; a failure with MQTTASYNC_FAILURE is Paho's
/// SOCKET_ERROR branch of MQTTAsync_processCommand, after which its session holds a copy made of
/// freed memory (mqtt_link.hpp). Other failure codes (a session cleaned, the client destroyed:
/// MQTTASYNC_OPERATION_INCOMPLETE) leave nothing behind. Runs on a Paho thread; atomics only.
class publish_listener final : public mqtt::iaction_listener {
 public:
  publish_listener(std::atomic<bool>& session_suspect, std::atomic<std::uint64_t>& failures)
      : session_suspect_(session_suspect), failures_(failures) {}
  void on_success(const mqtt::token&) override {}
  void on_failure(const mqtt::token& tok) override {
    failures_.fetch_add(1);
    if (tok.get_return_code() == MQTTASYNC_FAILURE) session_suspect_ = true;
  }

 private:
  std::atomic<bool>& session_suspect_;
  std::atomic<std::uint64_t>& failures_;
};
/// For paced publishes (mqtt_link::publish_paced): does what publish_listener does, then tells
/// the link that one more is acknowledged (or failed), so that the next may go.
class paced_listener final : public mqtt::iaction_listener {
 public:
  paced_listener(publish_listener& inner, std::function<void()> done) : inner_(inner), done_(std::move(done)) {}
  void on_success(const mqtt::token& tok) override {
    inner_.on_success(tok);
    done_();
  }
  void on_failure(const mqtt::token& tok) override {
    inner_.on_failure(tok);
    done_();
  }

 private:
  publish_listener& inner_;
  std::function<void()> done_;
};
}  // namespace

class mqtt_link::impl final : public mqtt::callback, public mqtt::iaction_listener {
 public:
  impl(mqtt_link& owner, const config& cfg, const clock_source& clock, boost::asio::io_context& io,
       std::function<void(inbound_message)> on_message, std::function<void()> on_connected, durable_inbox* journal)
      : owner_(owner),
        journal_(journal),
        cfg_(cfg),
        clock_(clock),
        io_(io),
        on_message_(std::move(on_message)),
        on_connected_(std::move(on_connected)),
        retry_(io),
        client_(cfg.mqtt_uri, cfg.mqtt_client_id,
                mqtt::create_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .send_while_disconnected(true, true)
                    .max_buffered_messages(100000)
                    .delete_oldest_messages(false)
                    .finalize()) {
    client_.set_callback(*this);
  }

  // ---- Paho callbacks: noexcept, post only ----
  void connected(const std::string& cause) noexcept override {
    try {
      owner_.connects_.fetch_add(1);
      if (connecting_clean_.exchange(false)) {
        session_suspect_ = false;  // Paho dropped its copies at this connect
        owner_.session_resets_.fetch_add(1);
      }
      // Paced publishes of the last connection: Paho resends them (their acknowledgements still
      // count down, never below zero) or dropped them; either way the new connection starts free.
      paced_in_flight_ = 0;
      boost::asio::post(io_, [this, cause] {
        if (stopping_) return;
        retry_.cancel();
        if (outage_failures_ > 0) {
          const auto down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - outage_since_).count();
          spdlog::info("MQTT connected to {} ({}) after {} failed attempts, {:.1f} s after the link went down",
                       cfg_.mqtt_uri, cause, outage_failures_, down_s);
        } else {
          spdlog::info("MQTT connected to {} ({})", cfg_.mqtt_uri, cause);
        }
        outage_ = false;
        outage_failures_ = 0;
        owner_.after_connect();
        if (on_connected_) on_connected_();
        emit(link_event::up);
        watch_drain(std::chrono::milliseconds(200));
        probes_.clear();  // those of the last connection will not be answered in order
        probe_lost_logged_ = false;
        arm_probe(std::chrono::milliseconds(0));
      });
    } catch (...) {  // bad_alloc: nothing sensible to do on a Paho thread
    }
  }
  void connection_lost(const std::string& cause) noexcept override {
    try {
      boost::asio::post(io_, [this, cause] {
        if (stopping_) return;
        spdlog::warn("MQTT connection to {} lost{}{}; reconnecting at once, then every {} ms", cfg_.mqtt_uri,
                     cause.empty() ? "" : ": ", cause, mqtt_link::reconnect_interval.count());
        begin_outage();
        drop_paced();
        drain_watch_.cancel();
        probe_timer_.cancel();
        emit(link_event::down);
        schedule_connect(std::chrono::milliseconds(0));
      });
    } catch (...) {
    }
  }
  void emit(link_event e) {
    if (on_link_event_) on_link_event_(e);
  }
  void begin_outage() {
    if (outage_) return;
    outage_ = true;
    outage_failures_ = 0;
    outage_since_ = std::chrono::steady_clock::now();
    last_failure_log_ = {};
  }
  /// After a connect: reports backlog_drained once the receive queue is found empty (everything
  /// Paho has handed over is processed), checking every 100 ms.
  void watch_drain(std::chrono::milliseconds after) {
    drain_watch_.expires_after(after);
    drain_watch_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      bool empty = false;
      {
        std::lock_guard lock(inbox_mutex_);
        empty = inbox_.empty() && !drain_pending_;
      }
      if (!empty) return watch_drain(std::chrono::milliseconds(100));
      emit(link_event::backlog_drained);
    });
  }
  // Messages are handed over in batches: the Paho thread appends under a short lock and posts a
  // drain only when none is pending. After a drain that found messages, the next one runs
  // `drain_linger` later instead of at once: under load the io thread then wakes about once per
  // millisecond for a batch, not once per message (each wake-up costs a futex call on the Paho
  // thread and a context switch of the io thread). A message that arrives after a quiet spell is
  // handled at once, so alert latency is unchanged at low load (gateway_bench_ingest: p50 2.3 ms).
  //
  // A drain takes at most mqtt_link::drain_chunk messages and, if more wait, posts the next drain
  // behind what else is queued on io (HTTP reads of the engine, commits, timers), so a backlog
  // never holds them for longer than one chunk. The hand-over is not bounded: see mqtt_link.hpp
  // handover_waiting for why the callback cannot wait for room.
  void message_arrived(mqtt::const_message_ptr msg) noexcept override {
    try {
      if (!msg) return;
      inbound_message m{msg->get_topic(), msg->get_payload_str(), msg->is_retained(), clock_.now()};
      std::uint64_t id = 0;
      const bool probe = m.topic == probe_topic_;  // the gateway's own: nothing to keep
      if (journal_ != nullptr && !probe) {
        // Paho has just sent the PUBACK; make the message durable before anything else.
        try {
          id = journal_->append(m);
        } catch (const std::exception& e) {
          const auto total = owner_.journal_failures_.fetch_add(1) + 1;
          const auto now = std::chrono::steady_clock::now();
          if (journal_failures_logged_ == 0 || now - last_journal_log_ >= mqtt_link::failure_log_interval) {
            spdlog::error("{}; {} received messages processed without journal so far (they are in memory until "
                          "committed; a crash before that loses them); next summary in {} s at most",
                          e.what(), total, mqtt_link::failure_log_interval.count());
            last_journal_log_ = now;
            journal_failures_logged_ = total;
          }
        }
      }
      bool post = false;
      {
        std::lock_guard lock(inbox_mutex_);
        inbox_.push_back({id, probe, std::move(m)});
        post = !drain_pending_;
        drain_pending_ = true;
        owner_.handover_waiting_.store(inbox_.size());
        if (inbox_.size() > owner_.handover_peak_.load()) owner_.handover_peak_.store(inbox_.size());
      }
      if (post) boost::asio::post(io_, [this] { drain(); });
    } catch (...) {
    }
  }
  void drain() {
    std::vector<received> batch;
    bool more = false;
    {
      std::lock_guard lock(inbox_mutex_);
      if (inbox_.empty()) {
        drain_pending_ = false;  // quiet: the next message posts a drain itself
        return;
      }
      const auto n = static_cast<std::ptrdiff_t>(std::min(inbox_.size(), mqtt_link::drain_chunk));
      batch.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.begin() + n));
      inbox_.erase(inbox_.begin(), inbox_.begin() + n);
      more = !inbox_.empty();
      owner_.handover_waiting_.store(inbox_.size());
    }
    for (auto& [id, probe, m] : batch) {
      if (probe) {
        probe_came_back(m.payload);
        continue;
      }
      on_message_(std::move(m));
      if (id != 0) owner_.last_delivered_.store(id);
    }
    if (stopping_) {
      std::lock_guard lock(inbox_mutex_);
      drain_pending_ = false;
      return;
    }
    if (more) {
      boost::asio::post(io_, [this] { drain(); });  // behind what was queued meanwhile
      return;
    }
    linger_.expires_after(drain_linger);
    linger_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        drain();
      } else {
        std::lock_guard lock(inbox_mutex_);
        drain_pending_ = false;
      }
    });
  }
  // ---- loopback probe (proto/gateway_probe.hpp), io thread ----
  void arm_probe(std::chrono::milliseconds after) {
    probe_timer_.expires_after(after);
    probe_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || outage_) return;
      send_probe();
      arm_probe(mqtt_link::probe_interval);
    });
  }
  void send_probe() {
    const auto now = std::chrono::steady_clock::now();
    if (!probes_.empty() && now - probes_.front().steady > owner_.probe_lost_after()) {
      probes_.clear();
      if (!probe_lost_logged_)
        spdlog::warn("no loopback probe came back through the broker in {} s on a connection that stays up: does the "
                     "broker ACL grant the gateway write on '{}'? (sewage-provision writes it) Offline is judged on "
                     "link events alone meanwhile, so a stalled broker would be taken for silent terminals",
                     owner_.probe_lost_after().count(), probe_topic_);
      probe_lost_logged_ = true;
      if (on_probe_lost_) on_probe_lost_();
    }
    if (probes_.size() >= mqtt_link::max_probes_in_flight) return;  // a stalled path: wait for echoes
    const auto seq = next_probe_seq_++;
    try {
      publish_qos1(probe_topic_, std::to_string(seq), false);
    } catch (const std::exception&) {
      return;  // disconnected meanwhile: connection_lost follows
    }
    owner_.probes_sent_.fetch_add(1);
    probes_.push_back({seq, clock_.now(), now});
  }
  /// An echo: older probes still in flight were lost (not answered in order) and are dropped; an
  /// unknown sequence number (a previous connection's, or a foreign publisher's) is ignored.
  void probe_came_back(const std::string& payload) {
    std::uint64_t seq = 0;
    const auto* end = payload.data() + payload.size();
    if (auto [p, ec] = std::from_chars(payload.data(), end, seq); ec != std::errc{} || p != end) return;
    while (!probes_.empty() && probes_.front().seq < seq) probes_.pop_front();
    if (probes_.empty() || probes_.front().seq != seq) return;
    const auto round_trip = std::chrono::steady_clock::now() - probes_.front().steady;
    const auto sent_at = probes_.front().at;
    probes_.pop_front();
    owner_.probes_echoed_.fetch_add(1);
    if (on_probe_echo_) on_probe_echo_(sent_at, std::chrono::duration_cast<std::chrono::nanoseconds>(round_trip));
  }

  void delivery_complete(mqtt::delivery_token_ptr tok) noexcept override {
    try {
      if (tok && tok->get_return_code() != 0) owner_.publish_failures_.fetch_add(1);
    } catch (...) {
    }
  }

  // ---- connect attempts (the first one and every reconnect; see mqtt_link.hpp) ----
  void on_success(const mqtt::token&) noexcept override {}
  void on_failure(const mqtt::token& tok) noexcept override {
    try {
      const int rc = tok.get_return_code();
      owner_.connect_failures_.fetch_add(1);
      boost::asio::post(io_, [this, rc] {
        if (stopping_) return;
        attempt_failed(rc, {});
      });
    } catch (...) {
    }
  }
  /// One failed attempt: logged (first of an outage at once, then a summary every
  /// failure_log_interval) with its cause, and the next attempt scheduled.
  void attempt_failed(int rc, const std::string& error) {
    begin_outage();
    ++outage_failures_;
    const auto now = std::chrono::steady_clock::now();
    const bool due = outage_failures_ == 1 || now - last_failure_log_ >= mqtt_link::failure_log_interval;
    if (due) {
      last_failure_log_ = now;
      const std::string what = !error.empty() ? error : detail::describe_connect_rc(rc);
      if (rc == -1 && error.empty()) {
        probe_and_log(rc, outage_failures_);  // the cause needs a network probe: off the io thread
      } else {
        log_failure(rc, outage_failures_, what);
      }
    }
    schedule_connect(mqtt_link::reconnect_interval);
  }
  void log_failure(int rc, std::uint64_t attempts, const std::string& cause) {
    const auto down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - outage_since_).count();
    if (attempts <= 1)
      spdlog::warn("MQTT connect to {} failed (rc {}): {}; retrying every {} ms", cfg_.mqtt_uri, rc, cause,
                   mqtt_link::reconnect_interval.count());
    else
      spdlog::warn("MQTT still cannot connect to {}: {} failed attempts in {:.0f} s; last (rc {}): {}", cfg_.mqtt_uri,
                   attempts, down_s, rc, cause);
  }
  void probe_and_log(int rc, std::uint64_t attempts) {
    if (probing_.exchange(true)) return;  // one probe at a time; the running one logs
    if (probe_thread_.joinable()) probe_thread_.join();
    const detail::probe_tls tls{cfg_.mqtt_ca_file, cfg_.mqtt_cert_file, cfg_.mqtt_key_file};
    probe_thread_ = std::thread([this, rc, attempts, tls, uri = cfg_.mqtt_uri] {
      std::string cause;
      try {
        cause = "TCP/TLS connect failure: " + detail::probe_broker(uri, tls, std::chrono::milliseconds(2000));
      } catch (...) {
        cause = "TCP/TLS connect failure";
      }
      try {
        boost::asio::post(io_, [this, rc, attempts, cause] {
          probing_ = false;
          if (!stopping_) log_failure(rc, attempts, cause);
        });
      } catch (...) {
        probing_ = false;
      }
    });
  }
  void schedule_connect(std::chrono::milliseconds after) {
    retry_.expires_after(after);
    retry_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) connect();
    });
  }
  void connect() noexcept {
    try {
      const bool clean = session_suspect_.load();
      if (clean && !clean_logged_) {
        spdlog::warn("a publish failed as the connection to {} broke: reconnecting with a clean session, so that Paho "
                     "drops its copy of that message (Paho C 1.3.12 has freed it; see mqtt_link.hpp). The broker "
                     "forgets what it queued for the gateway; the agents send again what has no receipt",
                     cfg_.mqtt_uri);
      }
      clean_logged_ = clean;
      connecting_clean_ = clean;
      client_.connect(connect_options(clean), nullptr, *this);
    } catch (const std::exception& e) {
      // e.g. a connect already in progress: try again later rather than give up.
      try {
        attempt_failed(-1, std::string("connect call refused: ") + e.what());
      } catch (...) {
      }
    }
  }

  // ---- paced publishes (mqtt_link::publish_paced) ----
  struct paced_message {
    std::string topic;
    std::string payload;
  };
  /// On io: queues one paced publish (the oldest waiting goes when the queue is full) and sends
  /// what the in-flight bound allows.
  void publish_paced(const std::string& topic, const std::string& payload) {
    if (paced_.size() >= mqtt_link::max_paced_waiting) {
      paced_.pop_front();
      owner_.paced_dropped_.fetch_add(1);
    }
    paced_.push_back({topic, payload});
    pump_paced();
  }
  /// On io: hands waiting paced publishes to Paho while fewer than max_paced_in_flight are
  /// unacknowledged.
  void pump_paced() {
    for (;;) {
      while (!paced_.empty() && paced_in_flight_.load() < mqtt_link::max_paced_in_flight) {
        const auto& m = paced_.front();
        paced_in_flight_.fetch_add(1);
        try {
          client_.publish(m.topic, m.payload.data(), m.payload.size(), 1, false, nullptr, paced_listener_);
        } catch (const std::exception& e) {
          paced_acknowledged();  // never handed over: no acknowledgement comes
          owner_.publish_failures_.fetch_add(1);
          spdlog::error("MQTT publish to '{}' failed: {}", m.topic, e.what());
        }
        paced_.pop_front();
      }
      owner_.paced_waiting_ = paced_.size();
      // Acknowledgements that came while paced_waiting_ still read 0 woke nobody: look again.
      // Those that come from now on see it and wake the pump (paced_acknowledged).
      if (paced_.empty() || paced_in_flight_.load() >= mqtt_link::max_paced_in_flight) return;
    }
  }
  /// On io at a connection loss: what waits is dropped (the agents send again what has no
  /// receipt after the gateway's next birth, and those copies are receipted).
  void drop_paced() {
    owner_.paced_dropped_.fetch_add(paced_.size());
    paced_.clear();
    owner_.paced_waiting_ = 0;
  }
  /// On a Paho thread (or io): one paced publish fewer in flight; wakes the pump on io once half
  /// the in-flight room is free and some wait.
  void paced_acknowledged() noexcept {
    std::size_t v = paced_in_flight_.load();
    while (v > 0 && !paced_in_flight_.compare_exchange_weak(v, v - 1)) {
    }
    if (owner_.paced_waiting_.load() == 0 || v > mqtt_link::max_paced_in_flight / 2 + 1) return;
    if (paced_pump_posted_.exchange(true)) return;
    try {
      boost::asio::post(io_, [this] {
        paced_pump_posted_ = false;
        if (!stopping_) pump_paced();
      });
    } catch (...) {
      paced_pump_posted_ = false;  // bad_alloc: the next publish_paced pumps
    }
  }

  /// QoS 1 publish with the listener that watches for Paho's freed-session failure. Throws
  /// mqtt::exception like async_client::publish (e.g. too many buffered).
  mqtt::delivery_token_ptr publish_qos1(const std::string& topic, const std::string& payload, bool retained) {
    return client_.publish(topic, payload.data(), payload.size(), 1, retained, nullptr, publish_listener_);
  }

  /// `clean`: a clean session (after a publish's write failed, see mqtt_link.hpp); else persistent.
  mqtt::connect_options connect_options(bool clean) const {
    proto::gateway_status_message will;
    will.state = proto::presence::offline;
    will.reason = proto::offline_reason::connection_lost;
    auto b = mqtt::connect_options_builder()
                 .mqtt_version(MQTTVERSION_3_1_1)
                 .clean_session(clean)
                 .keep_alive_interval(cfg_.mqtt_keep_alive)
                 .connect_timeout(std::chrono::seconds(5))
                 // no automatic_reconnect: the link's own loop (mqtt_link.hpp) is faster and logs
                 .will(mqtt::message(proto::gateway_status_topic(), proto::encode(will), 1, true));
    if (!cfg_.mqtt_username.empty()) b.user_name(cfg_.mqtt_username).password(cfg_.mqtt_password);
    if (proto::broker_uri_uses_tls(cfg_.mqtt_uri)) {
      auto s = mqtt::ssl_options_builder();
      if (!cfg_.mqtt_ca_file.empty()) s.trust_store(cfg_.mqtt_ca_file);
      if (!cfg_.mqtt_cert_file.empty()) s.key_store(cfg_.mqtt_cert_file);
      if (!cfg_.mqtt_key_file.empty()) s.private_key(cfg_.mqtt_key_file);
      s.enable_server_cert_auth(true).verify(true);
      b.ssl(s.finalize());
    }
    return b.finalize();
  }

  mqtt_link& owner_;
  durable_inbox* journal_;
  const config& cfg_;
  const clock_source& clock_;
  boost::asio::io_context& io_;
  std::function<void(inbound_message)> on_message_;
  std::function<void()> on_connected_;
  std::function<void(link_event)> on_link_event_;
  std::function<void(proto::timestamp, std::chrono::nanoseconds)> on_probe_echo_;
  std::function<void()> on_probe_lost_;
  // Loopback probes, io thread only.
  struct probe_in_flight {
    std::uint64_t seq;
    proto::timestamp at;                         // the gateway's clock (simulated in a simulation)
    std::chrono::steady_clock::time_point steady;  // real time, for the round trip
  };
  const std::string probe_topic_{proto::gateway_probe_topic()};
  std::deque<probe_in_flight> probes_;
  std::uint64_t next_probe_seq_{1};
  bool probe_lost_logged_{false};
  boost::asio::steady_timer probe_timer_{io_};
  boost::asio::steady_timer retry_;
  boost::asio::steady_timer drain_watch_{io_};
  // Outage bookkeeping, io thread only.
  bool outage_{true};  // not connected yet at start
  std::uint64_t outage_failures_{0};
  std::chrono::steady_clock::time_point outage_since_{std::chrono::steady_clock::now()};
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::atomic<bool> probing_{false};
  std::thread probe_thread_;
  // Journal failures (disk full), Paho thread: one line for the first, then a summary per 30 s.
  std::chrono::steady_clock::time_point last_journal_log_{};
  std::uint64_t journal_failures_logged_{0};
  static constexpr std::chrono::milliseconds drain_linger{1};
  boost::asio::steady_timer linger_{io_};
  bool drain_pending_{false};  // a drain is posted or scheduled; guarded by inbox_mutex_
  std::mutex inbox_mutex_;
  struct received {
    std::uint64_t journal_id;  // 0: not journaled
    bool probe;                // our loopback probe, handled by the link itself
    inbound_message message;
  };
  std::deque<received> inbox_;  // guarded by inbox_mutex_
  // Paho's session holds a copy of a publish made of freed memory (mqtt_link.hpp): set by
  // publish_listener_ on a Paho thread, read by connect() on the io thread. Declared before
  // client_: Paho may call the listener until client_ is destroyed.
  std::atomic<bool> session_suspect_{false};
  std::atomic<bool> connecting_clean_{false};  // the connect in progress asked for a clean session
  bool clean_logged_{false};                   // io thread: one warning per clean reconnect
  publish_listener publish_listener_{session_suspect_, owner_.publish_failures_};
  std::deque<paced_message> paced_;              // io only
  std::atomic<std::size_t> paced_in_flight_{0};  // handed to Paho, not yet acknowledged
  std::atomic<bool> paced_pump_posted_{false};
  paced_listener paced_listener_{publish_listener_, [this] { paced_acknowledged(); }};
  mqtt::async_client client_;
  std::atomic<bool> stopping_{false};
};

namespace {
/// TLS by default: a plain URI only with the opt-in (then one warning line at start).
void refuse_plaintext(const config& cfg) {
  if (const auto why = proto::broker_uri_plaintext_refusal(cfg.mqtt_uri, cfg.mqtt_allow_plaintext))
    throw std::invalid_argument("mqtt.uri: " + *why);
  if (!proto::broker_uri_uses_tls(cfg.mqtt_uri)) spdlog::warn("{}", proto::broker_uri_plaintext_warning(cfg.mqtt_uri));
}
}  // namespace

mqtt_link::mqtt_link(const config& cfg, const clock_source& clock, boost::asio::io_context& io,
                     std::function<void(inbound_message)> on_message, std::function<void()> on_connected,
                     durable_inbox* journal)
    : impl_((refuse_plaintext(cfg), std::make_unique<impl>(*this, cfg, clock, io, std::move(on_message),
                                                          std::move(on_connected), journal))) {}

mqtt_link::~mqtt_link() { stop(); }

void mqtt_link::on_link_event(std::function<void(link_event)> fn) { impl_->on_link_event_ = std::move(fn); }
void mqtt_link::on_probe_echo(std::function<void(proto::timestamp, std::chrono::nanoseconds)> fn) {
  impl_->on_probe_echo_ = std::move(fn);
}
void mqtt_link::on_probe_lost(std::function<void()> fn) { impl_->on_probe_lost_ = std::move(fn); }
std::chrono::seconds mqtt_link::probe_lost_after() const noexcept {
  return std::max(std::chrono::seconds(60), 3 * impl_->cfg_.mqtt_keep_alive);
}

void mqtt_link::start() noexcept { impl_->connect(); }

void mqtt_link::after_connect() noexcept {
  try {
    const std::vector<std::string> filters{proto::subscription_filter(proto::topic_kind::telemetry),
                                           proto::subscription_filter(proto::topic_kind::status),
                                           proto::subscription_filter(proto::topic_kind::image),
                                           proto::subscription_filter(proto::topic_kind::command_result),
                                           // our own retained alert states: stale ones are removed
                                           proto::subscription_filter(proto::topic_kind::alert),
                                           // our loopback probe (proto/gateway_probe.hpp)
                                           proto::gateway_probe_topic()};
    impl_->client_.subscribe(mqtt::string_collection::create(filters), mqtt::iasync_client::qos_collection(filters.size(), 1));
    proto::gateway_status_message birth;
    birth.state = proto::presence::online;
    birth.ts = impl_->clock_.now();
    birth.version = SEWAGE_GATEWAY_VERSION;
    birth.receipts = true;  // the engine sends delivery receipts after each commit (proto/receipt.hpp)
    impl_->publish_qos1(proto::gateway_status_topic(), proto::encode(birth), true);
  } catch (const std::exception& e) {
    spdlog::error("MQTT subscribe after connect failed: {}", e.what());
  }
}

void mqtt_link::stop() noexcept {
  if (impl_ == nullptr || impl_->stopping_.exchange(true)) return;
  try {
    impl_->retry_.cancel();
    impl_->drain_watch_.cancel();
    impl_->probe_timer_.cancel();
    if (impl_->probe_thread_.joinable()) impl_->probe_thread_.join();
    if (impl_->client_.is_connected()) {
      proto::gateway_status_message bye;
      bye.state = proto::presence::offline;
      bye.reason = proto::offline_reason::shutdown;
      bye.ts = impl_->clock_.now();
      impl_->publish_qos1(proto::gateway_status_topic(), proto::encode(bye), true)->wait_for(std::chrono::seconds(2));
    }
    impl_->client_.disconnect(std::chrono::seconds(5))->wait_for(std::chrono::seconds(6));
  } catch (const std::exception& e) {
    spdlog::warn("MQTT disconnect: {}", e.what());
  }
}

void mqtt_link::publish(const std::string& topic, const std::string& payload, bool retained) noexcept {
  try {
    impl_->publish_qos1(topic, payload, retained);
  } catch (const std::exception& e) {
    publish_failures_.fetch_add(1);
    spdlog::error("MQTT publish to '{}' failed: {}", topic, e.what());
  }
}

void mqtt_link::publish_paced(const std::string& topic, const std::string& payload) noexcept {
  try {
    impl_->publish_paced(topic, payload);
  } catch (const std::exception& e) {
    publish_failures_.fetch_add(1);
    spdlog::error("MQTT publish to '{}' failed: {}", topic, e.what());
  }
}

bool mqtt_link::connected() const noexcept {
  try {
    return impl_->client_.is_connected();
  } catch (...) {
    return false;
  }
}

}  // namespace sewage::gateway
