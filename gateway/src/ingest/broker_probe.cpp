// ingest/: why a connection to the broker fails (see broker_probe.hpp).
#include "broker_probe.hpp"

#include "detail/openssl_errors.hpp"

#include <sewage/proto/broker_uri.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace sewage::gateway::detail {
namespace {

struct endpoint {
  std::string host;
  std::string port;
};

endpoint split(const std::string& uri, bool tls) {
  const auto scheme_end = uri.find("://");
  std::string rest = scheme_end == std::string::npos ? uri : uri.substr(scheme_end + 3);
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  endpoint e{rest, tls ? "8883" : "1883"};
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const auto close = rest.find(']');
    e.host = rest.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < rest.size() && rest[close + 1] == ':') e.port = rest.substr(close + 2);
    return e;
  }
  if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  }
  return e;
}

struct fd_guard {
  int fd{-1};
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

/// Connects with a timeout; returns "" on success (fd set) or the reason.
std::string tcp_connect(const endpoint& e, std::chrono::milliseconds timeout, fd_guard& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &res); rc != 0)
    return "cannot resolve host \"" + e.host + "\": " + ::gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  std::string why;
  for (auto* a = res; a != nullptr; a = a->ai_next) {
    fd_guard s{::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol)};
    if (s.fd < 0) {
      why = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{s.fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (n == 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof err;
          ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err != 0) {
      why = std::string(std::strerror(err)) + " (TCP connect to " + e.host + ":" + e.port + ")";
      continue;
    }
    const int flags = ::fcntl(s.fd, F_GETFL);
    ::fcntl(s.fd, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    out.fd = s.fd;
    s.fd = -1;
    return "";
  }
  return why;
}


std::string tls_handshake(int fd, const endpoint& e, const probe_tls& tls) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&::SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &::SSL_CTX_free);
  if (!ctx) return "TLS: " + openssl_errors();
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1)
      return "TLS: cannot load ca_file " + tls.ca_file + ": " + openssl_errors();
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return "TLS: cannot load the system's trust store: " + openssl_errors();
  }
  if (!tls.cert_file.empty() && SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1)
    return "TLS: cannot load cert_file " + tls.cert_file + ": " + openssl_errors();
  if (!tls.key_file.empty() && SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return "TLS: cannot load key_file " + tls.key_file + ": " + openssl_errors();
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&::SSL_free)> ssl(SSL_new(ctx.get()), &::SSL_free);
  if (!ssl) return "TLS: " + openssl_errors();
  SSL_set_fd(ssl.get(), fd);
  in6_addr probe_addr{};
  const bool is_ip = ::inet_pton(AF_INET, e.host.c_str(), &probe_addr) == 1 || ::inet_pton(AF_INET6, e.host.c_str(), &probe_addr) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), e.host.c_str());
    X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), 0);
  }
  const int rc = SSL_connect(ssl.get());
  const long verify = SSL_get_verify_result(ssl.get());
  if (rc == 1 && verify == X509_V_OK) {
    SSL_shutdown(ssl.get());
    return "";
  }
  if (verify != X509_V_OK) {
    std::string why = std::string("TLS: certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      why += " (the server's certificate is not valid for \"" + e.host + "\", the host of mqtt.uri)";
    else
      why += tls.ca_file.empty() ? " (system trust store; set mqtt.ca_file?)" : " (mqtt.ca_file " + tls.ca_file + ")";
    return why;
  }
  const int ssl_error = SSL_get_error(ssl.get(), rc);
  std::string errors = openssl_errors();
  if (ssl_error == SSL_ERROR_SYSCALL && errors == "no OpenSSL error reported")
    errors = "the server closed the connection during the handshake";
  // A plaintext listener answers a ClientHello with MQTT bytes or by closing the connection.
  if (errors.find("wrong version number") != std::string::npos || errors.find("unexpected eof") != std::string::npos ||
      errors.find("packet length too long") != std::string::npos ||
      errors.find("closed the connection during the handshake") != std::string::npos)
    errors += " (does the broker speak TLS on " + e.host + ":" + e.port + "? a plaintext listener answers like this)";
  return "TLS handshake failed: " + errors;
}

}  // namespace

std::string probe_broker(const std::string& uri, const probe_tls& tls, std::chrono::milliseconds timeout) {
  const bool use_tls = proto::broker_uri_uses_tls(uri);
  const endpoint e = split(uri, use_tls);
  fd_guard fd;
  if (auto why = tcp_connect(e, timeout, fd); !why.empty()) return why;
  if (!use_tls) return "a TCP connection to " + e.host + ":" + e.port + " works; the broker ended the MQTT session";
  if (auto why = tls_handshake(fd.fd, e, tls); !why.empty()) return why;
  return "TCP and the TLS handshake with " + e.host + ":" + e.port + " work; the broker ended the MQTT session";
}

std::string describe_connect_rc(int rc) {
  switch (rc) {
    case 1: return "the broker refused the connection: unacceptable protocol version (CONNACK 1)";
    case 2: return "the broker refused the connection: client id rejected (CONNACK 2; mqtt.client_id)";
    case 3: return "the broker refused the connection: server unavailable (CONNACK 3)";
    case 4: return "the broker refused the connection: bad user name or password (CONNACK 4; mqtt.username, mqtt.password)";
    case 5:
      // mosquitto answers a wrong password and an unknown or revoked account alike with 5 (v3.1.1).
      return "the broker refused the connection: not authorised (CONNACK 5: wrong mqtt.password, or mqtt.username is "
             "revoked, unknown or empty)";
    case -1: return "TCP/TLS connect failure";
    case -3: return "disconnected";
    case -9: return "timed out";
    default: return "Paho return code " + std::to_string(rc);
  }
}

}  // namespace sewage::gateway::detail
