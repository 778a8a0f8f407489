// Notifications room (gateway/src/notify/): the webhook notifier. Boost.Beast client (its own translation unit: slow to compile).
#include "sewage/gateway/notify/webhook.hpp"

#include <sewage/proto/alert.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sewage::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

webhook_notifier::webhook_notifier(const std::string& url, std::uint32_t max_attempts,
                                   std::chrono::milliseconds initial_backoff, std::size_t queue_max)
    : max_attempts_(max_attempts), initial_backoff_(initial_backoff), queue_max_(queue_max) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("webhook URL must start with http://: " + url);
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  path_ = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  host_ = authority.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (host_.empty() || port_.empty()) throw std::invalid_argument("webhook URL has no host or port: " + url);
  worker_ = std::thread([this] { run(); });
}

webhook_notifier::~webhook_notifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void webhook_notifier::on_transition(const proto::alert_message& alert) noexcept {
  try {
    std::string body = proto::encode(alert);
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= queue_max_) {
        queue_.pop_front();
        dropped_.fetch_add(1);
      }
      queue_.push_back(std::move(body));
    }
    cv_.notify_one();
  } catch (...) {
    dropped_.fetch_add(1);
  }
}

bool webhook_notifier::post_once(const std::string& body, std::string& error) {
  try {
    net::io_context io;
    net::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> req{http::verb::post, path_, 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "sewage-gateway");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(std::chrono::seconds(5));
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    if (res.result_int() >= 200 && res.result_int() < 300) return true;
    error = "HTTP " + std::to_string(res.result_int());
    return false;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

void webhook_notifier::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const std::string body = queue_.front();
    auto backoff = initial_backoff_;
    bool done = false;
    for (std::uint32_t attempt = 1; attempt <= max_attempts_ && !done; ++attempt) {
      lock.unlock();
      std::string error;
      done = post_once(body, error);
      lock.lock();
      if (stop_) return;
      if (done) break;
      failures_.fetch_add(1);
      spdlog::warn("webhook POST to {}:{}{} failed (attempt {} of {}): {}", host_, port_, path_, attempt, max_attempts_, error);
      if (attempt == max_attempts_) break;
      if (cv_.wait_for(lock, backoff, [this] { return stop_; })) return;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::minutes(5));
    }
    if (done) {
      delivered_.fetch_add(1);
    } else {
      dropped_.fetch_add(1);
    }
    // The front may have been dropped meanwhile by a full queue; remove ours only if still there.
    if (!queue_.empty() && queue_.front() == body) queue_.pop_front();
  }
}

}  // namespace sewage::gateway
