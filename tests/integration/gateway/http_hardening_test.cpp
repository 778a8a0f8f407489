// Issue 11 item 5: HTTP hardening. The gateway's Beast listener in-process (plain and HTTPS with a
// throw-away certificate made by the openssl command at test time) and sewage-gateway as a process
// on HTTPS: security headers on every kind of response, HSTS only on HTTPS, plain HTTP to the
// HTTPS port refused cleanly, a client that does not trust the certificate refused, and the
// listener alive after each refusal.
#include "sewage/gateway/http/security.hpp"
#include "sewage/gateway/http_server.hpp"

#include <sewage/testing/process.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

namespace sewage::gateway {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// One answer seen by a test client: status 0 = no HTTP answer (refused, closed, handshake failed).
struct reply {
  int status{0};
  std::string body;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string error;                           ///< why status is 0
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// Reads one response from `stream` into a reply (header names lower-cased).
template <class Stream>
reply read_reply(Stream& stream) {
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  reply r{static_cast<int>(res.result_int()), res.body(), {}, {}};
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  return r;
}

template <class Stream>
reply exchange(Stream& stream, const std::string& method, const std::string& target, const std::string& body) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  return read_reply(stream);
}

/// Plain HTTP (or raw bytes when `raw` is set) to 127.0.0.1:port.
reply plain_call(int port, const std::string& method, const std::string& target, const std::string& body = {},
                 const std::string& raw = {}) {
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(10s);
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    if (raw.empty()) return exchange(stream, method, target, body);
    net::write(stream, net::buffer(raw));
    // Nothing more will come (a cut TLS ClientHello must end in the server's refusal, not in its
    // 30 s timeout; Beast's timeouts apply to asynchronous operations only).
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_send);
    return read_reply(stream);
  } catch (const std::exception& e) {
    return reply{0, {}, {}, e.what()};
  }
}

/// HTTPS to 127.0.0.1:port, trusting only `ca_file` and checking that the certificate names
/// `host` (RFC 2818: an IP address must be in an IP SAN).
reply tls_call(int port, const std::filesystem::path& ca_file, const std::string& target, const std::string& host = "127.0.0.1",
               const std::string& method = "GET", const std::string& body = {}) {
  try {
    net::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(ca_file.string());
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    stream.set_verify_callback(ssl::host_name_verification(host));
    beast::get_lowest_layer(stream).expires_after(10s);
    beast::get_lowest_layer(stream).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    stream.handshake(ssl::stream_base::client);
    auto r = exchange(stream, method, target, body);
    beast::error_code ignored;
    stream.shutdown(ignored);
    return r;
  } catch (const std::exception& e) {
    return reply{0, {}, {}, e.what()};
  }
}

/// A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it, plus a second
/// key that belongs to nothing; made with the openssl command (DEPENDENCIES.md section 4 recipe).
struct throwaway_pki {
  explicit throwaway_pki(const std::filesystem::path& dir) : dir_(dir) {
    std::ofstream(dir / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                         "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
    run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test County CA",
         "-keyout", s("ca.key"), "-out", s("ca.crt")});
    run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", s("server.key"),
         "-out", s("server.csr")});
    run({"openssl", "x509", "-req", "-in", s("server.csr"), "-CA", s("ca.crt"), "-CAkey", s("ca.key"),
         "-CAcreateserial", "-days", "2", "-extfile", s("server.ext"), "-out", s("server.crt")});
    run({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", s("other.key")});
    // A second CA the server's certificate is not signed by (a client that trusts only it must refuse).
    run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Other CA",
         "-keyout", s("other-ca.key"), "-out", s("other-ca.crt")});
  }
  [[nodiscard]] std::filesystem::path file(const std::string& name) const { return dir_ / name; }

 private:
  [[nodiscard]] std::string s(const std::string& name) const { return (dir_ / name).string(); }
  void run(std::vector<std::string> argv) const {
    testing::child_process p(std::move(argv), dir_ / "openssl.log");
    const auto st = p.wait_for_exit(60s);
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) throw std::runtime_error("openssl failed: " + slurp(dir_ / "openssl.log"));
  }
  std::filesystem::path dir_;
};

/// A listener on its own io thread answering: /api/json -> 200 JSON, /api/weak -> 200 with the
/// handler trying to replace the CSP, anything else -> the API's JSON 404. Records the last
/// request's tls flag.
class listener {
 public:
  explicit listener(http_server_options o) {
    server_ = std::make_unique<http_server>(io_, "127.0.0.1", 0, std::move(o), [this](http_request req, http_server::responder respond) {
      last_tls_ = req.tls;
      http_response r;
      if (req.target == "/api/json") {
        r.body = R"({"ok":true})";
      } else if (req.target == "/api/weak") {
        r.body = R"({"ok":true})";
        r.headers.emplace_back("Content-Security-Policy", "default-src *");
      } else {
        r.status = 404;
        r.body = R"({"error":{"status":404,"message":"no such route"}})";
      }
      respond(std::move(r));
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~listener() {
    net::post(io_, [this] { server_->stop(); });
    io_.stop();
    thread_.join();
  }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  [[nodiscard]] int port() const { return server_->port(); }
  [[nodiscard]] http_server& server() { return *server_; }
  std::atomic<bool> last_tls_{false};

 private:
  net::io_context io_;
  std::unique_ptr<http_server> server_;
  std::thread thread_;
};

void expect_security_headers(const reply& r, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_NE(r.status, 0) << r.error;
  const auto csp = r.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.header("referrer-policy"), "same-origin");
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
}

class HttpHardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::temp_dir("http-hardening");
    pki_ = new throwaway_pki(dir_->path());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  static http_server_options tls_options() {
    http_server_options o;
    o.headers = http_security::security_headers("https://{s}.tiles.example.org/{z}/{x}/{y}.png", true);
    o.tls_cert_file = pki_->file("server.crt");
    o.tls_key_file = pki_->file("server.key");
    return o;
  }
  static inline testing::temp_dir* dir_ = nullptr;
  static inline throwaway_pki* pki_ = nullptr;
};

TEST_F(HttpHardening, PlainListenerSendsTheSecurityHeadersOnEveryResponse) {
  http_server_options o;
  o.max_body_bytes = 1024;
  o.headers = http_security::security_headers("https://{s}.tiles.example.org/{z}/{x}/{y}.png", false);
  listener l(std::move(o));
  const auto ok = plain_call(l.port(), "GET", "/api/json");
  EXPECT_EQ(ok.status, 200);
  expect_security_headers(ok, "API JSON 200");
  EXPECT_NE(ok.header("content-security-policy").find("img-src 'self' data: blob: https://*.tiles.example.org;"), std::string::npos)
      << ok.header("content-security-policy");
  EXPECT_EQ(ok.header("strict-transport-security"), "") << "HSTS only on HTTPS";
  EXPECT_FALSE(l.last_tls_.load());
  const auto nf = plain_call(l.port(), "GET", "/api/nothing");
  EXPECT_EQ(nf.status, 404);
  expect_security_headers(nf, "API 404");
  // The handler cannot weaken the policy.
  const auto weak = plain_call(l.port(), "GET", "/api/weak");
  expect_security_headers(weak, "handler's own CSP");
  EXPECT_EQ(weak.header("content-security-policy").find("default-src *"), std::string::npos);
  // Answers the server makes itself: a malformed request (400), a body over the limit (413).
  const auto bad = plain_call(l.port(), "", "", "", std::string("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(bad.status, 400);
  expect_security_headers(bad, "server-made 400");
  const auto big = plain_call(l.port(), "POST", "/api/json", std::string(4096, 'x'));
  EXPECT_EQ(big.status, 413);
  expect_security_headers(big, "server-made 413");
  // The old constructors send the same headers (without a tile host).
  net::io_context io;
  http_server old(io, "127.0.0.1", 0, 1024, [](const http_request&) { return http_response{}; });
  old.start();
  std::thread t([&] { io.run_for(5s); });
  const auto o2 = plain_call(old.port(), "GET", "/");
  io.stop();
  t.join();
  expect_security_headers(o2, "old constructor");
  EXPECT_FALSE(old.https());
}

TEST_F(HttpHardening, HttpsListenerServesAVerifiedCertificateWithHstsAndRefusesPlainHttpCleanly) {
  listener l(tls_options());
  EXPECT_TRUE(l.server().https());
  // A client that trusts the county CA and checks the name (IP SAN and DNS SAN).
  auto ok = tls_call(l.port(), pki_->file("ca.crt"), "/api/json");
  ASSERT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(ok.body, R"({"ok":true})");
  EXPECT_TRUE(l.last_tls_.load()) << "http_request::tls must be true on the HTTPS listener";
  expect_security_headers(ok, "HTTPS 200");
  EXPECT_EQ(ok.header("strict-transport-security"), "max-age=31536000");
  EXPECT_EQ(tls_call(l.port(), pki_->file("ca.crt"), "/api/json", "localhost").status, 200);
  const auto nf = tls_call(l.port(), pki_->file("ca.crt"), "/nothing");
  EXPECT_EQ(nf.status, 404);
  expect_security_headers(nf, "HTTPS 404");
  EXPECT_EQ(nf.header("strict-transport-security"), "max-age=31536000");
  EXPECT_EQ(l.server().tls_refused(), 0u);

  // Plain HTTP to the HTTPS port: one plain 400 naming HTTPS, the connection closed.
  const auto plain = plain_call(l.port(), "GET", "/api/json");
  EXPECT_EQ(plain.status, 400) << plain.error;
  EXPECT_NE(plain.body.find("HTTPS"), std::string::npos) << plain.body;
  EXPECT_EQ(plain.header("connection"), "close");
  expect_security_headers(plain, "plain HTTP on the HTTPS port");
  EXPECT_EQ(l.server().tls_refused(), 1u);
  // A client that does not trust the certificate, one that expects another name, and a TLS
  // ClientHello cut off: each refused, counted on the server when it sees a failed handshake.
  const auto untrusted = tls_call(l.port(), pki_->file("other-ca.crt"), "/api/json");
  EXPECT_EQ(untrusted.status, 0);
  EXPECT_NE(untrusted.error.find("certificate verify failed"), std::string::npos) << untrusted.error;
  EXPECT_EQ(tls_call(l.port(), pki_->file("ca.crt"), "/api/json", "gateway.other.example").status, 0);
  const auto cut = plain_call(l.port(), "", "", "", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  EXPECT_EQ(cut.status, 0);
  for (int i = 0; i < 50 && l.server().tls_refused() < 4; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_GE(l.server().tls_refused(), 4u) << "plain HTTP + 2 refused handshakes + the cut hello";
  // The listener lives on.
  ok = tls_call(l.port(), pki_->file("ca.crt"), "/api/json");
  EXPECT_EQ(ok.status, 200) << ok.error;
}

TEST_F(HttpHardening, AKeyThatIsNotTheCertificatesIsRefusedAtConstructionNamingTheFile) {
  auto o = tls_options();
  o.tls_key_file = pki_->file("other.key");
  net::io_context io;
  try {
    http_server s(io, "127.0.0.1", 0, std::move(o), [](http_request, http_server::responder r) { r({}); });
    FAIL() << "a mismatched key must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("other.key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not belong"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(http_security::tls_files_problem(pki_->file("server.crt"), pki_->file("server.key")).has_value());
  EXPECT_TRUE(http_security::tls_files_problem(pki_->file("missing.crt"), pki_->file("server.key")).has_value());
  // The key's content never appears in the message.
  const auto why = http_security::tls_files_problem(pki_->file("server.key"), pki_->file("server.key"));
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->find("PRIVATE KEY"), std::string::npos) << *why;
}

// sewage-gateway itself on HTTPS: the web application's page, an API answer and a 404 carry the
// headers and HSTS; plain HTTP is refused and the process lives on; --check-config names the key
// of a broken pair. The broker is unreachable on purpose (HTTP serves without it).
TEST_F(HttpHardening, TheGatewayProcessServesHttpsFromItsConfigAndCheckConfigVerifiesThePair) {
  const auto dir = dir_->path() / "gw";
  std::filesystem::create_directories(dir);
  const int port = testing::free_loopback_port();
  std::ofstream(dir / "registry.toml")
      << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
         "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n";
  auto write_config = [&](const std::string& file, const std::string& tls_lines) {
    std::ofstream(dir / file) << "[mqtt]\nuri = \"ssl://127.0.0.1:" << testing::free_loopback_port() << "\"\nca_file = \""
                              << pki_->file("ca.crt").string() << "\"\nclient_id = \"gw-https\"\n"
                              << "[store]\npath = \"gateway.db\"\n"
                              << "[http]\nlisten = \"127.0.0.1:" << port << "\"\npublic_read = true\n" << tls_lines
                              << "[registry]\npath = \"registry.toml\"\n";
  };
  const std::string cert = "tls_cert_file = \"" + pki_->file("server.crt").string() + "\"\n";
  const std::string key = "tls_key_file = \"" + pki_->file("server.key").string() + "\"\n";
  write_config("gateway.toml", cert + key);
  write_config("only-cert.toml", cert);
  write_config("wrong-key.toml", cert + "tls_key_file = \"" + pki_->file("other.key").string() + "\"\n");
  write_config("missing-cert.toml", "tls_cert_file = \"nope.crt\"\n" + key);
  auto check = [&](const std::string& file) {
    std::filesystem::remove(dir / "check.log");
    testing::child_process p({SEWAGE_GATEWAY_BINARY, "--config", (dir / file).string(), "--check-config"}, dir / "check.log");
    const auto st = p.wait_for_exit(20s);
    return std::make_pair(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, slurp(dir / "check.log"));
  };
  auto [rc, out] = check("gateway.toml");
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = check("only-cert.toml");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("http.tls_key_file: must be set together with http.tls_cert_file"), std::string::npos) << out;
  std::tie(rc, out) = check("wrong-key.toml");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("http.tls_key_file"), std::string::npos) << out;
  EXPECT_NE(out.find("does not belong"), std::string::npos) << out;
  std::tie(rc, out) = check("missing-cert.toml");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("http.tls_cert_file"), std::string::npos) << out;
  EXPECT_NE(out.find("nope.crt"), std::string::npos) << out;

  {  // a user made with the CLI (password on stdin), to log in over HTTPS below
    testing::child_process add({"sh", "-c", "printf 'alice-pass-1\\n' | \"$0\" --config \"$1\" users add alice --role viewer",
                                SEWAGE_GATEWAY_BINARY, (dir / "gateway.toml").string()},
                               dir / "cli.log");
    const auto st = add.wait_for_exit(30s);
    ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir / "cli.log");
  }
  testing::child_process gw({SEWAGE_GATEWAY_BINARY, "--config", (dir / "gateway.toml").string()}, dir / "gateway.log");
  ASSERT_TRUE(testing::wait_for_port(port, 30s)) << slurp(dir / "gateway.log");
  const auto page = tls_call(port, pki_->file("ca.crt"), "/");
  ASSERT_EQ(page.status, 200) << page.error << slurp(dir / "gateway.log");
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script type=\"module\" src=\"/web/js/app.js\">"), std::string::npos);
  expect_security_headers(page, "index.html over HTTPS");
  EXPECT_EQ(page.header("strict-transport-security"), "max-age=31536000");
  const auto js = tls_call(port, pki_->file("ca.crt"), "/web/js/app.js");
  EXPECT_EQ(js.status, 200);
  expect_security_headers(js, "a static script");
  const auto api = tls_call(port, pki_->file("ca.crt"), "/api/ui-config");
  EXPECT_EQ(api.status, 200) << api.body;
  expect_security_headers(api, "API JSON");
  const auto nf = tls_call(port, pki_->file("ca.crt"), "/api/no-such-route");
  EXPECT_EQ(nf.status, 404);
  expect_security_headers(nf, "API 404");
  // The session cookie of a login over HTTPS is Secure (http_request::tls reaches the API).
  const auto login = tls_call(port, pki_->file("ca.crt"), "/api/session", "127.0.0.1", "POST",
                              R"({"user":"alice","password":"alice-pass-1"})");
  EXPECT_EQ(login.status, 200) << login.body;
  const auto cookie = login.header("set-cookie");
  EXPECT_EQ(cookie.rfind("sewage_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  expect_security_headers(login, "login answer");
  const auto plain = plain_call(port, "GET", "/");
  EXPECT_EQ(plain.status, 400);
  EXPECT_NE(plain.body.find("HTTPS"), std::string::npos);
  EXPECT_TRUE(gw.running());
  const auto metrics = tls_call(port, pki_->file("ca.crt"), "/metrics");
  EXPECT_NE(metrics.body.find("\nsewage_gateway_http_tls_refused_total 1\n"), std::string::npos) << metrics.body;
  const auto health = tls_call(port, pki_->file("ca.crt"), "/healthz");
  EXPECT_EQ(health.status, 503) << "no broker on purpose: " << health.body;
  EXPECT_NE(health.body.find("\"mqtt_connected\":false"), std::string::npos) << health.body;
  const auto log = slurp(dir / "gateway.log");
  EXPECT_NE(log.find("HTTP API on https://127.0.0.1:"), std::string::npos) << log;
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos);
  gw.stop(5s);
}

}  // namespace
}  // namespace sewage::gateway
