// The link-outage proxy on loopback: forwards, cuts (reset and blackhole) and restores.
#include "sewage/sim/tcp_proxy.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <filesystem>

#include <thread>

namespace sewage::sim {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// An echo server on loopback, run on the shared io_context.
class echo_server {
 public:
  explicit echo_server(net::io_context& io)
      : acceptor_(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct conn : std::enable_shared_from_this<conn> {
    explicit conn(tcp::socket s) : socket(std::move(s)) {}
    void read() {
      socket.async_read_some(net::buffer(buf), [self = shared_from_this()](auto ec, std::size_t n) {
        if (ec) return;
        net::async_write(self->socket, net::buffer(self->buf.data(), n),
                         [self](auto wec, std::size_t) {
                           if (!wec) self->read();
                         });
      });
    }
    tcp::socket socket;
    std::array<char, 1024> buf{};
  };
  void accept() {
    acceptor_.async_accept([this](auto ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<conn>(std::move(s))->read();
      accept();
    });
  }
  tcp::acceptor acceptor_;
};

/// Sends `msg` and reads up to its length back within 500 ms; returns what came back. Uses the
/// plain socket calls: Asio's blocking read polls without a timeout.
std::string round_trip(tcp::socket& s, const std::string& msg) {
  const int fd = s.native_handle();
  timeval tv{0, 500000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return "";
  }
  std::string got;
  char buf[256];
  while (got.size() < msg.size()) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // closed, reset or timed out
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_ = std::make_unique<echo_server>(io_);
    proxy_ = std::make_unique<tcp_proxy>(io_, 0, "127.0.0.1", echo_->port());
    runner_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    net::post(io_, [this] {
      proxy_.reset();
      io_.stop();
    });
    runner_.join();
  }
  tcp::socket connect() {
    tcp::socket s(client_io_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), proxy_->port()));
    return s;
  }
  void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_{io_.get_executor()};
  net::io_context client_io_;
  std::unique_ptr<echo_server> echo_;
  std::unique_ptr<tcp_proxy> proxy_;
  std::thread runner_;
};

TEST_F(ProxyTest, ForwardsBothWays) {
  auto s = connect();
  EXPECT_EQ(round_trip(s, "ping"), "ping");
  EXPECT_EQ(round_trip(s, "sewage/v1"), "sewage/v1");
}

/// Open descriptors of this process below FD_SETSIZE.
std::size_t low_descriptors() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    if (std::stoi(e.path().filename().string()) < FD_SETSIZE) ++n;
  return n;
}

// The simulator hosts 139 proxies beside 253 emulated Modbus devices, whose connections libmodbus
// waits on with select() (< FD_SETSIZE only): the proxy's acceptor and both sockets of each of its
// connections live above that range, so agents reconnecting under load never use those numbers up.
TEST_F(ProxyTest, ItsSocketsLiveAboveTheSelectRange) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 4096 && lim.rlim_max >= 4096) {
    lim.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  ASSERT_GE(lim.rlim_cur, 4096U) << "this test needs RLIMIT_NOFILE hard limit >= 4096 (ulimit -Hn)";
  tcp::socket s(client_io_);
  s.open(tcp::v4());  // the client's socket (and its io_context's reactor descriptors) first
  const std::size_t before = low_descriptors();
  std::unique_ptr<tcp_proxy> second;
  net::post(io_, [&] { second = std::make_unique<tcp_proxy>(io_, 0, "127.0.0.1", echo_->port()); });
  settle();
  ASSERT_TRUE(second);
  EXPECT_EQ(low_descriptors(), before) << "the acceptor";
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), second->port()));
  ASSERT_EQ(round_trip(s, "lift"), "lift");
  // Low: the echo server's side of the connection only; the proxy's two sockets are above.
  EXPECT_EQ(low_descriptors(), before + 1);
  EXPECT_EQ(second->connections(), 1U);
  net::post(io_, [&] { second.reset(); });
  settle();
}

TEST_F(ProxyTest, ResetClosesAndRefusesUntilRestored) {
  auto s = connect();
  ASSERT_EQ(round_trip(s, "a"), "a");
  proxy_->set_link(false, outage_mode::reset);
  settle();
  EXPECT_EQ(round_trip(s, "b"), "");  // closed by the proxy
  auto refused = connect();           // accepted by the kernel, closed by the proxy
  EXPECT_EQ(round_trip(refused, "c"), "");
  proxy_->set_link(true);
  settle();
  auto again = connect();
  EXPECT_EQ(round_trip(again, "d"), "d");
}

TEST_F(ProxyTest, BlackholeKeepsConnectionsButPassesNothing) {
  auto s = connect();
  ASSERT_EQ(round_trip(s, "a"), "a");
  proxy_->set_link(false, outage_mode::blackhole);
  settle();
  EXPECT_EQ(round_trip(s, "lost"), "");  // swallowed, nothing comes back
  proxy_->set_link(true);
  settle();
  EXPECT_EQ(round_trip(s, "back"), "back");  // same connection works again
}

}  // namespace
}  // namespace sewage::sim
