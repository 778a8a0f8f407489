#pragma once
/// \file
/// A loopback TCP proxy that the simulator puts between an agent and the broker, so a scripted
/// link outage can cut one terminal's connection without touching the others.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <string>

namespace sewage::sim {

/// How a cut link behaves.
enum class outage_mode {
  reset,      ///< connections are closed at once and new ones are closed on accept (a dead modem)
  blackhole,  ///< connections stay open but nothing passes either way (a half-open cellular link,
              ///< found only by MQTT keep-alive)
};

class tcp_proxy {
 public:
  /// Listens on 127.0.0.1:`listen_port` (0 picks a free port) and forwards each connection to
  /// `upstream_host`:`upstream_port`. All work runs on `io`, which the caller runs (one thread).
  /// Its acceptor and both sockets of each connection live at descriptors >= FD_SETSIZE when the
  /// soft RLIMIT_NOFILE allows (the numbers below are the emulated devices': libmodbus' select()).
  /// Throws boost::system::system_error if it cannot listen.
  tcp_proxy(boost::asio::io_context& io, std::uint16_t listen_port, std::string upstream_host,
            std::uint16_t upstream_port);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// The port it listens on.
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  /// Cuts the link (`up` = false) in the given mode, or restores it. Thread-safe: posts to `io`.
  void set_link(bool up, outage_mode mode = outage_mode::reset);

  /// Connections currently open through the proxy. Call on the io thread (or when io is idle).
  [[nodiscard]] std::size_t connections() const noexcept;

 private:
  struct session;
  void accept();
  void apply_link(bool up, outage_mode mode);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string upstream_host_;
  std::uint16_t upstream_port_;
  std::uint16_t port_{0};
  bool up_{true};
  outage_mode mode_{outage_mode::reset};
  std::list<std::weak_ptr<session>> sessions_;
  std::shared_ptr<bool> alive_;
};

}  // namespace sewage::sim
