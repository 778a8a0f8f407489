#pragma once
/// \file
/// HTTP/1.1 server (Boost.Beast) that hands each request to a handler on the given io_context.
/// Limits: request header 8 KiB, body `max_body_bytes` (413 beyond), 30 s per read/write, so a
/// slow or hostile client cannot hold the gateway. Responses are closed on errors; keep-alive is
/// honoured otherwise.
///
/// Every response (the handler's, the server's own 400/413/431/500, a 304) carries the options'
/// `headers` (http/security.hpp: CSP, nosniff, Referrer-Policy, X-Frame-Options), set after the
/// handler's own headers so a handler cannot weaken them.
///
/// HTTPS (options.tls_cert_file/tls_key_file set): the listener speaks only TLS (1.2 or newer);
/// requests reach the handler with http_request::tls = true and every response also carries
/// Strict-Transport-Security. A client speaking plain HTTP to that port gets one plain-text 400
/// ("this port speaks HTTPS") and the connection is closed; a failed TLS handshake closes the
/// connection. Both are counted (tls_refused()) and logged at debug level (a port scanner must
/// not flood the log).

#include "sewage/gateway/api.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sewage::gateway {

/// How the listener behaves besides its address.
struct http_server_options {
  /// Largest request body, bytes (413 beyond).
  std::size_t max_body_bytes{16384};
  /// Set on every response (http_security::security_headers(); Strict-Transport-Security is
  /// added by the server itself on HTTPS when missing here).
  std::vector<std::pair<std::string, std::string>> headers{};
  /// PEM certificate chain and PEM private key; both non-empty = HTTPS only. Loaded in the
  /// constructor (throws std::runtime_error naming the file when they do not load).
  std::filesystem::path tls_cert_file{};
  std::filesystem::path tls_key_file{};
};

class http_server {
 public:
  using handler = std::function<http_response(const http_request&)>;
  /// Delivers the answer to one request; callable once, from any thread (the write is carried
  /// to `io`'s thread). Never called = the connection is closed when the last copy is destroyed.
  using responder = std::function<void(http_response)>;
  /// Takes a request on `io`'s thread and answers it through the responder, there or later from
  /// another thread (read_service.hpp: reader threads, the engine's thread).
  using async_handler = std::function<void(http_request, responder)>;

  /// Binds and listens on address:port (port 0 = any free port, see port()). `h` runs on `io`'s
  /// thread. Throws boost::system::system_error naming the address if it cannot bind.
  http_server(boost::asio::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
              handler h);
  /// The same with an asynchronous handler. Both forms send http_security::security_headers("", false).
  http_server(boost::asio::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
              async_handler h);
  /// The same with every option (security headers, HTTPS). Throws boost::system::system_error
  /// when it cannot bind, std::runtime_error when the certificate or key do not load.
  http_server(boost::asio::io_context& io, const std::string& address, std::uint16_t port, http_server_options options,
              async_handler h);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Starts accepting. Never throws.
  void start();
  /// Stops accepting (open connections end with their current request). Call on io's thread.
  void stop();
  /// The bound port.
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// True when the listener speaks HTTPS.
  [[nodiscard]] bool https() const noexcept;
  /// Connections refused on the HTTPS listener so far: plain HTTP sent to it, or a failed TLS
  /// handshake (wrong protocol version, a client that does not trust the certificate and aborts).
  /// Any thread.
  [[nodiscard]] std::uint64_t tls_refused() const noexcept;

  class impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace sewage::gateway
