#pragma once
/// \file
/// HTTP/1.1 server (Boost.Beast) that hands each request to a handler on the given io_context.
/// Limits: request header 8 KiB, body `max_body_bytes` (413 beyond), 30 s per read/write, so a
/// slow or hostile client cannot hold the gateway. Responses are closed on errors; keep-alive is
/// honoured otherwise.

#include "sewage/gateway/api.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sewage::gateway {

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
  /// The same with an asynchronous handler.
  http_server(boost::asio::io_context& io, const std::string& address, std::uint16_t port, std::size_t max_body_bytes,
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

  class impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace sewage::gateway
