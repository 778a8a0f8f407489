#pragma once
/// \file
/// Pieces shared by the gateway benchmarks that drive a real sewage-gateway process: a keep-alive
/// HTTP/1.1 client for its API (Boost.Beast), a free loopback port, a value from its /metrics
/// text, percentiles and a process's resident memory. Header-only; not thread-safe per object.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sewage::gateway::bench {

/// A keep-alive HTTP/1.1 client to 127.0.0.1:`port` (reconnects after an error).
class http_conn {
 public:
  explicit http_conn(std::uint16_t port) : port_(port) {}
  /// GET `target` with optional extra header `auth` ("Bearer ..."); returns the status (0 on a
  /// transport error) and the body (at most 256 MB). Never throws.
  std::pair<unsigned, std::string> get(const std::string& target, const std::string& auth = {}) {
    namespace http = boost::beast::http;
    try {
      if (!stream_) {
        stream_ = std::make_unique<boost::beast::tcp_stream>(io_);
        stream_->connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
      }
      http::request<http::empty_body> req{http::verb::get, target, 11};
      req.set(http::field::host, "127.0.0.1");
      if (!auth.empty()) req.set(http::field::authorization, auth);
      req.keep_alive(true);
      http::write(*stream_, req);
      boost::beast::flat_buffer buf;
      http::response_parser<http::string_body> p;
      p.body_limit(256 * 1024 * 1024);
      http::read(*stream_, buf, p);
      auto res = p.release();
      if (!res.keep_alive()) stream_.reset();
      return {res.result_int(), std::move(res.body())};
    } catch (const std::exception&) {
      stream_.reset();
      return {0, {}};
    }
  }

 private:
  boost::asio::io_context io_;
  std::uint16_t port_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
};

/// A TCP port free on 127.0.0.1 now (bound to port 0 and released). Throws on failure.
inline std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

/// The value of the unlabelled sample `name` in Prometheus text `text`; -1 when absent.
inline double metric(const std::string& text, const std::string& name) {
  const auto pos = text.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::strtod(text.c_str() + pos + name.size() + 2, nullptr);
}

/// The `p`-th percentile (0-100, nearest rank) of `v`; 0 when empty.
inline double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// Resident memory of process `pid` in MiB (VmRSS of /proc/<pid>/status); -1 when unreadable.
inline double rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return -1;
}

}  // namespace sewage::gateway::bench
