// Boost.Beast lives here only (slow to compile; DEPENDENCIES.md section 5).
#include "sewage/gateway/http_server.hpp"

#include "sewage/gateway/http/security.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace sewage::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

/// What every connection of one listener shares.
struct listener_state {
  std::size_t max_body;
  http_security::header_list headers;
  http_server::async_handler handler;
  std::optional<ssl::context> tls;  ///< set = HTTPS
  std::atomic<std::uint64_t> tls_refused{0};
};

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// Sets the listener's headers (after the handler's, so they win) and the framing.
void finish(http::response<http::string_body>& res, const listener_state& st) {
  for (const auto& [k, v] : st.headers) res.set(k, v);
}

/// One connection: reads requests, hands them to the handler, writes the answers. `Stream` is
/// beast::tcp_stream (plain HTTP) or tls_stream (handshake done before run()).
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
 public:
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

  session(Stream stream, beast::flat_buffer buffer, std::shared_ptr<listener_state> st)
      : stream_(std::move(stream)), buffer_(std::move(buffer)), st_(std::move(st)) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(st_->max_body);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) return close();
    if constexpr (is_tls) {
      if (ec == ssl::error::stream_truncated) return close();  // the client went away without close_notify
    }
    if (ec) {
      const unsigned status = ec == http::error::body_limit ? 413 : ec == http::error::header_limit ? 431 : 400;
      http_response r;
      r.status = status;
      r.body = nlohmann::json{{"error", {{"status", status}, {"message", ec.message()}}}}.dump();
      return write(r, false, false);
    }
    // Last resort: nothing a request causes may escape into io_context::run(). api::handle
    // already answers every failure itself; this catches what would slip past it (bad_alloc).
    try {
      auto req = parser_->release();
      http_request in;
      in.method = std::string(req.method_string());
      in.target = std::string(req.target());
      in.tls = is_tls;
      {
        beast::error_code e;
        const auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(e);
        if (!e) in.remote_address = ep.address().to_string();
      }
      for (const auto& f : req) in.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (const auto it = req.find(http::field::authorization); it != req.end()) in.authorization = std::string(it->value());
      in.body = std::move(req.body());
      // The answer may come from another thread (a reader, the engine): carried back to this
      // session's executor; answered inline when already there.
      const bool keep_alive = req.keep_alive();
      const bool head = req.method() == http::verb::head;
      st_->handler(std::move(in), [self = this->shared_from_this(), keep_alive, head](http_response out) {
        auto exec = self->stream_.get_executor();
        net::dispatch(exec, [self, out = std::move(out), keep_alive, head]() mutable {
          try {
            self->write(std::move(out), keep_alive, head);
          } catch (const std::exception& e) {
            spdlog::error("HTTP response failed: {}", e.what());
            self->close();
          }
        });
      });
    } catch (const std::exception& e) {
      spdlog::error("HTTP request failed outside the API: {}", e.what());
      write_internal_error();
    } catch (...) {
      spdlog::error("HTTP request failed outside the API: unknown exception");
      write_internal_error();
    }
  }

  void write_internal_error() noexcept {
    try {
      http_response r;
      r.status = 500;
      r.body = R"({"error":{"status":500,"message":"internal error"}})";
      write(r, false, false);
    } catch (...) {
      close();
    }
  }

  void write(http_response r, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "sewage-gateway");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    finish(*res, *st_);
    res->keep_alive(keep_alive);
    if (head) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->close();
      self->read();
    });
  }

  void close() noexcept {
    if constexpr (is_tls) {
      // close_notify, bounded in time; then the socket closes with the last reference.
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<listener_state> st_;
};

/// The first bytes on the HTTPS listener: a TLS ClientHello goes on to the handshake and a
/// session; anything else (plain HTTP) gets one plain 400 and the connection is closed.
class tls_detector : public std::enable_shared_from_this<tls_detector> {
 public:
  tls_detector(tcp::socket socket, std::shared_ptr<listener_state> st) : stream_(std::move(socket)), st_(std::move(st)) {}

  void run() {
    stream_.expires_after(std::chrono::seconds(30));
    beast::async_detect_ssl(stream_, buffer_, [self = shared_from_this()](beast::error_code ec, bool tls) {
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout) {
        // Connected and closed (or stayed silent) without a byte: a port probe, not a refusal.
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      if (ec) return self->refuse("no TLS ClientHello: " + ec.message());
      if (tls) return self->handshake();
      self->plain_http();
    });
  }

 private:
  void handshake() {
    auto s = std::make_shared<tls_stream>(std::move(stream_), *st_->tls);
    s->async_handshake(ssl::stream_base::server, buffer_.data(),
                       [self = shared_from_this(), s](beast::error_code ec, std::size_t used) {
                         if (ec) return self->refuse("TLS handshake failed: " + ec.message(), s.get());
                         self->buffer_.consume(used);
                         std::make_shared<session<tls_stream>>(std::move(*s), std::move(self->buffer_), self->st_)->run();
                       });
  }

  void plain_http() {
    st_->tls_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("HTTP: plain HTTP on the HTTPS listener from {}: answered 400", peer());
    auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, 11);
    res->set(http::field::server, "sewage-gateway");
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    res->set(http::field::cache_control, "no-store");
    finish(*res, *st_);
    res->keep_alive(false);
    res->body() = "This port speaks HTTPS only: use https://\n";
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void refuse(const std::string& why, tls_stream* s = nullptr) {
    st_->tls_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("HTTP: connection from {} refused on the HTTPS listener: {}", peer(s), why);
    beast::error_code ignored;
    auto& sock = s != nullptr ? beast::get_lowest_layer(*s).socket() : stream_.socket();
    sock.shutdown(tcp::socket::shutdown_both, ignored);
  }

  std::string peer(tls_stream* s = nullptr) {
    beast::error_code ec;
    auto& sock = s != nullptr ? beast::get_lowest_layer(*s).socket() : stream_.socket();
    const auto ep = sock.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<listener_state> st_;
};

ssl::context make_tls_context(const std::filesystem::path& cert, const std::filesystem::path& key) {
  if (const auto why = http_security::tls_files_problem(cert, key)) throw std::runtime_error("http: " + *why);
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  ctx.use_certificate_chain_file(cert.string());
  ctx.use_private_key_file(key.string(), ssl::context::pem);
  return ctx;
}

}  // namespace

class http_server::impl : public std::enable_shared_from_this<http_server::impl> {
 public:
  impl(net::io_context& io, const std::string& address, std::uint16_t port, http_server_options o, async_handler h)
      : io_(io), acceptor_(io), st_(std::make_shared<listener_state>()) {
    st_->max_body = o.max_body_bytes;
    st_->headers = std::move(o.headers);
    st_->handler = std::move(h);
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      st_->tls.emplace(make_tls_context(o.tls_cert_file, o.tls_key_file));
      const bool has_hsts = std::any_of(st_->headers.begin(), st_->headers.end(), [](const auto& kv) {
        return beast::iequals(kv.first, "Strict-Transport-Security");
      });
      if (!has_hsts) st_->headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
    }
    beast::error_code ec;
    const auto addr = net::ip::make_address(address, ec);
    if (ec) throw beast::system_error(ec, "http.listen address '" + address + "'");
    const tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw beast::system_error(ec, "cannot bind HTTP listener to " + address + ":" + std::to_string(port));
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (!ec) {
        try {
          if (self->st_->tls)
            std::make_shared<tls_detector>(std::move(socket), self->st_)->run();
          else
            std::make_shared<session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), beast::flat_buffer{}, self->st_)
                ->run();
        } catch (const std::exception& e) {
          spdlog::error("HTTP connection dropped: {}", e.what());
        }
      }
      self->accept();
    });
  }
  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }
  net::io_context& io_;
  tcp::acceptor acceptor_;
  std::shared_ptr<listener_state> st_;
};

http_server::http_server(net::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
                         handler h)
    : http_server(io, address, port, max_body_bytes,
                  async_handler([h = std::move(h)](http_request req, responder respond) { respond(h(req)); })) {}
http_server::http_server(net::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
                         async_handler h)
    : http_server(io, address, port,
                  http_server_options{max_body_bytes, http_security::security_headers("", false), {}, {}}, std::move(h)) {}
http_server::http_server(net::io_context& io, const std::string& address, std::uint16_t port, http_server_options options,
                         async_handler h)
    : impl_(std::make_shared<impl>(io, address, port, std::move(options), std::move(h))) {}
http_server::~http_server() = default;
void http_server::start() { impl_->accept(); }
void http_server::stop() { impl_->stop(); }
std::uint16_t http_server::port() const noexcept {
  beast::error_code ec;
  return impl_->acceptor_.local_endpoint(ec).port();
}
bool http_server::https() const noexcept { return impl_->st_->tls.has_value(); }
std::uint64_t http_server::tls_refused() const noexcept { return impl_->st_->tls_refused.load(std::memory_order_relaxed); }

}  // namespace sewage::gateway
