#include "sewage/agent/mqtt_link.hpp"

#include <sewage/proto/broker_uri.hpp>

#include <boost/asio/post.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstring>
#include <strings.h>
#include <mutex>
#include <random>

namespace sewage::agent {

namespace {

/// The cause of the last failed TCP/TLS connect, as Paho C traces it. Paho reports every TLS
/// failure (unknown CA, host name mismatch, handshake alert) to the failure callback as rc -1
/// without a message; the detail exists only in its trace (SSLSocket.c: "X509_check_host for
/// hostname ... failed", OpenSSL's error queue via SSLSocket_error, "SSL alert ..."). Paho's trace
/// callback is process-wide and takes no context pointer, so this is the one piece of
/// process-wide state here; it is written by Paho's threads and read on the io thread under a
/// mutex.
class trace_capture {
 public:
  static trace_capture& instance() {
    static trace_capture t;
    return t;
  }
  /// Installs the Paho trace callback at PROTOCOL level once per process. Never throws.
  void install() noexcept {
    std::call_once(once_, [] {
      MQTTAsync_setTraceCallback(&trace_capture::on_trace);
      MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_PROTOCOL);
    });
  }
  /// The last TLS/socket failure traced since the previous call (then forgotten), or "".
  std::string take() {
    std::lock_guard lock(mutex_);
    std::string out;
    out.swap(last_);
    rank_ = 0;
    return out;
  }

 private:
  static void on_trace(enum MQTTASYNC_TRACE_LEVELS level, char* message) noexcept {
    if (message == nullptr) return;
    // PROTOCOL level also traces every packet and every TLS state: keep only failure lines.
    const int rank = failure_rank(level, message);
    if (rank == 0) return;
    try {
      std::string m(message);
      // Paho prefixes its own time stamp ("20261130 165037.361 "): drop it, the log has ours.
      if (m.size() > 20 && std::isdigit(static_cast<unsigned char>(m[0])) != 0 && m[8] == ' ' && m[19] == ' ') m.erase(0, 20);
      while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
      auto& self = instance();
      std::lock_guard lock(self.mutex_);
      // The most telling line of an attempt wins (host name check > TLS alert > socket error).
      if (rank > self.rank_) {
        self.last_ = std::move(m);
        self.rank_ = rank;
      }
    } catch (...) {
      // Never throw into Paho.
    }
  }
  /// 0 = not a failure line; higher = more specific. Case-insensitive substring matches on the
  /// trace texts of Paho C 1.3 SSLSocket.c / Socket.c.
  static int failure_rank(enum MQTTASYNC_TRACE_LEVELS level, const char* message) noexcept {
    const auto has = [message](const char* needle) { return ::strcasestr(message, needle) != nullptr; };
    if (has("X509_check_host for hostname") && has("failed")) return 5;
    if (has("SSL alert") && has("fatal")) return 4;
    if (has("certificate verify failed") || has("handshake failure")) return 3;
    if (has("SSLSocket error")) return 2;
    if (level >= MQTTASYNC_TRACE_ERROR) return 1;
    return 0;
  }
  std::once_flag once_;
  std::mutex mutex_;
  std::string last_;
  int rank_{0};
};

/// Readable cause of a failed connect: the return code's meaning plus what the trace said.
/// `username` is the configured mqtt.username (the terminal id when provisioned; not a secret).
std::string connect_failure_cause(int rc, const std::string& traced, const std::string& username) {
  std::string why;
  // mosquitto answers a wrong password, an unknown or revoked account and a missing user name
  // all with CONNACK 5 (v3.1.1), so the line names every possibility and the keys to check.
  const std::string account = username.empty() ? std::string("no mqtt.username set (anonymous)")
                                                : "mqtt.username \"" + username + "\"";
  switch (rc) {
    case 1: why = "broker refused the protocol version"; break;
    case 2: why = "broker rejected the client id"; break;
    case 3: why = "broker unavailable"; break;
    case 4:
    case 5:
      why = "not authorised: the broker refused " + account +
            " (wrong mqtt.password, or the account was revoked or never provisioned; CONNACK " + std::to_string(rc) +
            ")";
      break;
    default: {
      const char* s = MQTTAsync_strerror(rc);
      why = s != nullptr ? s : "connect failure";
      if (rc == MQTTASYNC_FAILURE) why = "TCP/TLS connect failure";
    }
  }
  // The trace explains transport failures only; a broker refusal (rc 1..5) came after a good
  // TLS handshake whose informational lines must not be shown as the cause.
  if (rc == MQTTASYNC_FAILURE && !traced.empty()) {
    const auto has = [&traced](const char* needle) { return ::strcasestr(traced.c_str(), needle) != nullptr; };
    if (has("X509_check_host")) {
      why += ": the server certificate does not match the host name in mqtt.uri (" + traced + ")";
    } else if (has("unknown CA") || has("certificate verify failed")) {
      why += ": the server certificate is not signed by mqtt.ca_file (" + traced + ")";
    } else if (has("bad certificate") || has("certificate required") || has("certificate unknown")) {
      why += ": the broker refused the client certificate (mqtt.cert_file) (" + traced + ")";
    } else {
      why += ": " + traced;
    }
  }
  return why;
}

/// TLS by default: a plain URI only with mqtt.allow_plaintext (then one warning line per URI).
void refuse_plaintext(const agent_config& config) {
  for (const auto& uri : config.mqtt.uris) {
    if (const auto why = proto::broker_uri_plaintext_refusal(uri, config.mqtt.allow_plaintext))
      throw config_error("mqtt.uri", *why);
    if (!proto::broker_uri_uses_tls(uri)) spdlog::warn("{}", proto::broker_uri_plaintext_warning(uri));
  }
}

}  // namespace

/// Paho objects and the callback adapters. Every callback posts to the io_context.
class mqtt_link::impl : public mqtt::callback, public mqtt::iaction_listener {
 public:
  impl(mqtt_link& owner, const agent_config& config, handlers h, std::string will_topic, std::string will_payload)
      : owner_(owner),
        username_(config.mqtt.username),
        h_(std::move(h)),
        client_(config.mqtt.uris.front(), config.terminal_id,
                mqtt::create_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .send_while_disconnected(false)
                    .max_buffered_messages(static_cast<int>(config.mqtt.max_inflight) * 4 + 100)
                    .delete_oldest_messages(false)
                    .finalize()) {
    auto b = mqtt::connect_options_builder()
                 .mqtt_version(MQTTVERSION_3_1_1)
                 // Clean session: Paho fails every unacknowledged publish (-11) when the link
                 // drops and never resends it; the durable queue replays in seq order after the
                 // reconnect. One resend path (issue 9 §5), see mqtt_link.hpp. It also keeps Paho
                 // C 1.3.12 from re-sending a publish whose first write failed from freed memory
                 // (mqtt_link.hpp; test AgentMqttLinkWriteFailure fails with a persistent session).
                 .clean_session(true)
                 .keep_alive_interval(std::chrono::seconds(config.mqtt.keep_alive_s))
                 .connect_timeout(std::chrono::seconds(10))
                 // No Paho automatic reconnect: its failed attempts reach no callback, so they
                 // could not be logged; mqtt_link reconnects itself (schedule_connect) with the
                 // same backoff and jitter, and every attempt's failure is logged with its cause.
                 .will(mqtt::message(will_topic, will_payload, 1, true));
    if (!config.mqtt.username.empty()) b.user_name(config.mqtt.username);
    if (!config.mqtt.password.empty()) b.password(config.mqtt.password);
    bool tls = !config.mqtt.ca_file.empty();
    for (const auto& u : config.mqtt.uris) tls = tls || proto::broker_uri_uses_tls(u);
    if (tls) {
      auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
      if (!config.mqtt.ca_file.empty()) ssl.trust_store(config.mqtt.ca_file);
      if (!config.mqtt.cert_file.empty()) {
        ssl.key_store(config.mqtt.cert_file);
        ssl.private_key(config.mqtt.key_file);
      }
      b.ssl(ssl.finalize());
    }
    if (config.mqtt.uris.size() > 1) {
      b.servers(std::make_shared<mqtt::string_collection>(config.mqtt.uris));
    }
    opts_ = b.finalize();
    trace_capture::instance().install();
    client_.set_callback(*this);
  }

  // mqtt::callback
  void connected(const std::string& /*cause*/) override {
    post([this] {
      owner_.connected_ = true;
      owner_.ever_connected_ = true;
      owner_.connecting_ = false;
      owner_.retry_delay_ = owner_.retry_min_;
      if (owner_.failures_ > 0) {
        spdlog::info("mqtt: connected to {} after {} failed attempts", client_.get_server_uri(), owner_.failures_);
      } else {
        spdlog::info("mqtt: connected to {}", client_.get_server_uri());
      }
      owner_.failures_ = 0;
      owner_.failures_logged_ = 0;
      owner_.last_cause_.clear();
      (void)trace_capture::instance().take();
      if (h_.on_connected) h_.on_connected();
    });
  }
  void connection_lost(const std::string& cause) override {
    std::string c;
    try {
      c = cause;
    } catch (...) {
      // bad_alloc: log without the cause; never throw into Paho.
    }
    post([this, c = std::move(c)] {
      owner_.connected_ = false;
      owner_.connecting_ = false;
      spdlog::warn("mqtt: connection lost{}{}; reconnecting in about {} s", c.empty() ? "" : ": ", c,
                   owner_.retry_delay_.count());
      if (h_.on_connection_lost) h_.on_connection_lost();
      owner_.schedule_connect();
    });
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    if (!msg) return;
    try {
      std::string topic = msg->get_topic();
      std::string payload = msg->to_string();
      post([this, topic = std::move(topic), payload = std::move(payload)]() mutable {
        if (h_.on_message) h_.on_message(std::move(topic), std::move(payload));
      });
    } catch (...) {
      // bad_alloc: drop the message; never throw into Paho.
    }
  }
  void delivery_complete(mqtt::delivery_token_ptr) override {}

  // iaction_listener for publishes (context = tag) and connects (context = nullptr)
  void on_success(const mqtt::token& tok) override {
    const auto tag = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    if (tok.get_type() == mqtt::token::Type::CONNECT) return;  // `connected` handles it
    const bool ok = tok.get_return_code() == 0 && tok.get_reason_code() < 0x80;
    const int rc = tok.get_return_code();
    if (tag == 0) return;
    post([this, tag, ok, rc] {
      if (h_.on_delivery) h_.on_delivery(tag, ok, rc);
    });
  }
  void on_failure(const mqtt::token& tok) override {
    const auto tag = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    const int rc = tok.get_return_code();
    if (tok.get_type() == mqtt::token::Type::CONNECT) {
      post([this, rc] {
        owner_.connecting_ = false;
        if (owner_.connected_) return;
        const std::string cause = connect_failure_cause(rc, trace_capture::instance().take(), username_);
        // Every failed attempt (first connection or reconnect) is logged, rate-limited.
        owner_.note_connect_failure(rc, cause);
        owner_.schedule_connect();
      });
      return;
    }
    if (tag == 0) return;
    post([this, tag, rc] {
      if (h_.on_delivery) h_.on_delivery(tag, false, rc);
    });
  }

  template <class F>
  void post(F&& f) noexcept {
    try {
      boost::asio::post(owner_.io_, std::forward<F>(f));
    } catch (...) {
      // Only bad_alloc is possible; never throw into Paho.
    }
  }

  mqtt_link& owner_;
  std::string username_;  ///< for failure lines (a terminal id, never the password)
  handlers h_;
  mqtt::async_client client_;
  mqtt::connect_options opts_;
};

void mqtt_link::global_init() noexcept {
  // A function-local static: MQTTAsync_global_init also (re)initialises Paho's global mutexes,
  // so it must not run a second time once clients exist.
  static const bool done = [] {
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    MQTTAsync_global_init(&init);
    return true;
  }();
  (void)done;
}

mqtt_link::mqtt_link(const agent_config& config, boost::asio::io_context& io, handlers h, std::string will_topic,
                     std::string will_payload)
    : io_(io),
      impl_((refuse_plaintext(config), std::make_unique<impl>(*this, config, std::move(h), std::move(will_topic), std::move(will_payload)))),
      retry_timer_(io),
      retry_delay_(config.mqtt.reconnect_min_s),
      retry_min_(config.mqtt.reconnect_min_s),
      retry_max_(config.mqtt.reconnect_max_s) {}

mqtt_link::~mqtt_link() {
  stopping_ = true;
  retry_timer_.cancel();
  try {
    if (impl_->client_.is_connected()) impl_->client_.disconnect(std::chrono::seconds(2))->wait_for(std::chrono::seconds(3));
  } catch (...) {
  }
}

void mqtt_link::start() { do_connect(); }

void mqtt_link::note_connect_failure(int rc, const std::string& cause) {
  ++failures_;
  const auto now = std::chrono::steady_clock::now();
  // The first failure, any change of cause, and then one summary line per failure_log_period_.
  const bool log = failures_ == 1 || cause != last_cause_ || now - last_failure_log_ >= failure_log_period_;
  if (!log) return;
  const std::uint64_t since = failures_ - failures_logged_;
  const std::string retry = "retrying in about " + std::to_string(retry_delay_.count()) + " s";
  if (since > 1) {
    spdlog::warn("mqtt: connect failed (rc {}): {}; {} attempts failed since the last report ({} in all); {}", rc,
                 cause, since, failures_, retry);
  } else {
    spdlog::warn("mqtt: connect failed (rc {}): {}; {}", rc, cause, retry);
  }
  last_cause_ = cause;
  last_failure_log_ = now;
  failures_logged_ = failures_;
}

void mqtt_link::do_connect() {
  if (stopping_ || connected_ || connecting_) return;
  connecting_ = true;
  try {
    impl_->client_.connect(impl_->opts_, nullptr, *impl_);
  } catch (const mqtt::exception& e) {
    connecting_ = false;
    spdlog::warn("mqtt: connect error: {}", e.what());
    schedule_connect();
  }
}

void mqtt_link::schedule_connect() {
  if (stopping_) return;
  static thread_local std::mt19937 rng{std::random_device{}()};
  const double jitter = std::uniform_real_distribution<double>(0.8, 1.2)(rng);
  const auto delay = std::chrono::milliseconds(static_cast<long>(retry_delay_.count() * 1000 * jitter));
  retry_delay_ = std::min(retry_delay_ * 2, retry_max_);
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) do_connect();
  });
}

bool mqtt_link::publish(const std::string& topic, const std::string& payload, bool retained, std::uint64_t tag) noexcept {
  if (!connected_) return false;
  try {
    auto msg = mqtt::make_message(topic, payload, 1, retained);
    impl_->client_.publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag)), *impl_);
    return true;
  } catch (const mqtt::exception& e) {
    spdlog::debug("mqtt: publish refused (rc {}): {}", e.get_return_code(), e.what());
    return false;
  } catch (...) {
    return false;
  }
}

void mqtt_link::subscribe(const std::string& topic) noexcept {
  try {
    impl_->client_.subscribe(topic, 1);
  } catch (const std::exception& e) {
    spdlog::warn("mqtt: subscribe {} failed: {}", topic, e.what());
  }
}

void mqtt_link::shutdown(const std::string& topic, const std::string& payload, std::chrono::milliseconds timeout) noexcept {
  stopping_ = true;
  retry_timer_.cancel();
  try {
    if (impl_->client_.is_connected()) {
      auto tok = impl_->client_.publish(mqtt::make_message(topic, payload, 1, true));
      if (!tok->wait_for(timeout)) spdlog::warn("mqtt: shutdown status not acknowledged in time");
      impl_->client_.disconnect(std::chrono::seconds(2))->wait_for(std::chrono::seconds(3));
    } else {
      spdlog::warn("mqtt: not connected at shutdown; the broker keeps the last retained status");
    }
  } catch (const std::exception& e) {
    spdlog::warn("mqtt: shutdown: {}", e.what());
  }
}

}  // namespace sewage::agent
