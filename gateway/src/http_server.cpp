// Boost.Beast lives here only (slow to compile; DEPENDENCIES.md section 5).
#include "sewage/gateway/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace sewage::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, std::size_t max_body, std::shared_ptr<const http_server::async_handler> h)
      : stream_(std::move(socket)), max_body_(max_body), handler_(std::move(h)) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(max_body_);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) return close();
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
      { beast::error_code e; const auto ep = stream_.socket().remote_endpoint(e); if (!e) in.remote_address = ep.address().to_string(); }
      for (const auto& f : req) in.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (const auto it = req.find(http::field::authorization); it != req.end()) in.authorization = std::string(it->value());
      in.body = std::move(req.body());
      // The answer may come from another thread (a reader, the engine): carried back to this
      // session's executor; answered inline when already there.
      const bool keep_alive = req.keep_alive();
      const bool head = req.method() == http::verb::head;
      (*handler_)(std::move(in), [self = shared_from_this(), keep_alive, head](http_response out) {
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
    res->keep_alive(keep_alive);
    if (head) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->close();
      self->read();
    });
  }

  void close() noexcept {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::size_t max_body_;
  std::shared_ptr<const http_server::async_handler> handler_;
};

}  // namespace

class http_server::impl : public std::enable_shared_from_this<http_server::impl> {
 public:
  impl(net::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body, async_handler h)
      : io_(io), acceptor_(io), max_body_(max_body), handler_(std::make_shared<const async_handler>(std::move(h))) {
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
    acceptor_.async_accept(io_, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (!ec) {
        try {
          std::make_shared<session>(std::move(socket), self->max_body_, self->handler_)->run();
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
  std::size_t max_body_;
  std::shared_ptr<const async_handler> handler_;
};

http_server::http_server(net::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
                         handler h)
    : http_server(io, address, port, max_body_bytes,
                  async_handler([h = std::move(h)](http_request req, responder respond) { respond(h(req)); })) {}
http_server::http_server(net::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
                         async_handler h)
    : impl_(std::make_shared<impl>(io, address, port, max_body_bytes, std::move(h))) {}
http_server::~http_server() = default;
void http_server::start() { impl_->accept(); }
void http_server::stop() { impl_->stop(); }
std::uint16_t http_server::port() const noexcept {
  beast::error_code ec;
  return impl_->acceptor_.local_endpoint(ec).port();
}

}  // namespace sewage::gateway
