#include "sewage/sim/tcp_proxy.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/select.h>
#include <unistd.h>

#include <array>

namespace sewage::sim {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
/// Moves an open Asio socket or acceptor to a descriptor >= FD_SETSIZE (close-on-exec), keeping
/// the numbers below for the emulated devices' connections, which libmodbus waits on with
/// select() (instruments/modbus_device.hpp): a county of 139 proxies whose agents reconnect under
/// load would otherwise take them. Leaves it where it is when the soft RLIMIT_NOFILE has no room.
template <class Socket>
void lift_above_select_range(Socket& s) {
  const int fd = s.native_handle();
  if (fd < 0 || fd >= FD_SETSIZE) return;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
  if (high < 0) return;
  boost::system::error_code ec;
  s.close(ec);  // the duplicate keeps the socket (and its connection or listen queue) open
  s.assign(tcp::v4(), high, ec);
  if (ec) ::close(high);
}
}  // namespace

/// One proxied connection: two sockets and a pump in each direction.
struct tcp_proxy::session : std::enable_shared_from_this<session> {
  /// `alive`: the proxy's; false once it is destroyed, when `up` (its member) is gone too.
  session(tcp::socket client, net::io_context& io, std::shared_ptr<bool> alive)
      : client_(std::move(client)), upstream_(io), alive_(std::move(alive)) {}

  void start(const std::string& host, std::uint16_t port, const bool& up) {
    auto self = shared_from_this();
    tcp::resolver resolver(upstream_.get_executor());
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec || endpoints.empty()) {
      close();
      return;
    }
    const tcp::endpoint target = *endpoints.begin();
    upstream_.open(target.protocol(), ec);
    if (ec) {
      close();
      return;
    }
    lift_above_select_range(upstream_);
    // The member async_connect keeps the open (lifted) socket; the free function would reopen it.
    upstream_.async_connect(target,
                       [self, &up](boost::system::error_code e) {
                         if (!*self->alive_) return;
                         if (e) {
                           self->close();
                           return;
                         }
                         self->pump(self->client_, self->upstream_, self->to_upstream_, up);
                         self->pump(self->upstream_, self->client_, self->to_client_, up);
                       });
  }

  /// Reads from `from` and writes to `to`; while the link is down (blackhole) data is dropped.
  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf, const bool& up) {
    auto self = shared_from_this();
    from.async_read_some(net::buffer(buf), [self, &from, &to, &buf, &up](boost::system::error_code e,
                                                                         std::size_t n) {
      // The proxy destroyed (its destructor closed us): `up` is gone with it.
      if (!*self->alive_ || e == net::error::operation_aborted) return;
      if (e) {
        // Blackhole: the far end's close (the broker dropping the silent client) must not reach
        // the client either, or the client learns of the outage from a FIN instead of its own
        // keep-alive. The client side stays open until the link is restored.
        if (!up && &from == &self->upstream_) {
          self->upstream_dead_ = true;
          return;
        }
        self->close();
        return;
      }
      if (!up) {  // blackhole: swallow and keep reading
        self->pump(from, to, buf, up);
        return;
      }
      net::async_write(to, net::buffer(buf.data(), n),
                       [self, &from, &to, &buf, &up](boost::system::error_code we, std::size_t) {
                         if (!*self->alive_) return;
                         if (we) {
                           self->close();
                           return;
                         }
                         self->pump(from, to, buf, up);
                       });
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_both, ignored);
    client_.close(ignored);
    upstream_.shutdown(tcp::socket::shutdown_both, ignored);
    upstream_.close(ignored);
  }

  [[nodiscard]] bool open() const { return client_.is_open(); }
  bool upstream_dead_{false};

  tcp::socket client_;
  tcp::socket upstream_;
  std::shared_ptr<bool> alive_;
  std::array<char, 16384> to_upstream_{};
  std::array<char, 16384> to_client_{};
};

tcp_proxy::tcp_proxy(net::io_context& io, std::uint16_t listen_port, std::string upstream_host,
                     std::uint16_t upstream_port)
    : io_(io),
      acceptor_(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), listen_port)),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      alive_(std::make_shared<bool>(true)) {
  port_ = acceptor_.local_endpoint().port();
  lift_above_select_range(acceptor_);
  accept();
}

tcp_proxy::~tcp_proxy() {
  *alive_ = false;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& w : sessions_) {
    if (auto s = w.lock()) s->close();
  }
}

void tcp_proxy::accept() {
  acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, tcp::socket socket) {
    if (!*alive || ec == net::error::operation_aborted) return;
    if (!ec) {
      if (!up_ && mode_ == outage_mode::reset) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        lift_above_select_range(socket);
        auto s = std::make_shared<session>(std::move(socket), io_, alive_);
        sessions_.remove_if([](const std::weak_ptr<session>& w) { return w.expired(); });
        sessions_.push_back(s);
        s->start(upstream_host_, upstream_port_, up_);
      }
    }
    accept();
  });
}

void tcp_proxy::set_link(bool up, outage_mode mode) {
  net::post(io_, [this, alive = alive_, up, mode] {
    if (*alive) apply_link(up, mode);
  });
}

void tcp_proxy::apply_link(bool up, outage_mode mode) {
  up_ = up;
  mode_ = mode;
  if (up) {
    // Connections whose far end closed during a blackhole are dead: close them now.
    for (auto& w : sessions_) {
      if (auto s = w.lock(); s && s->upstream_dead_) s->close();
    }
  }
  if (!up && mode == outage_mode::reset) {
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->close();
    }
  }
}

std::size_t tcp_proxy::connections() const noexcept {
  std::size_t n = 0;
  for (const auto& w : sessions_) {
    if (auto s = w.lock(); s && s->open()) ++n;
  }
  return n;
}

}  // namespace sewage::sim
