// Issue 9, the gateway's side of sections 4, 6 and 10, with the real sewage-gateway process:
// - a mosquitto restart (persistence on) longer than offline_after_intervals x interval while a
//   test publisher keeps 30 terminals reporting: no offline episode for them, exactly one for a
//   terminal dead through the outage; the gateway reconnects within 2 s of the broker's return;
// - TLS failures (unknown CA, host name mismatch) logged with their cause, against a mosquitto
//   TLS listener made with openssl in a temp dir; reconnect attempts logged;
// - a relative store path with the config in the current folder; ca_file with tcp:// refused;
// - a store that runs out of space (RLIMIT_FSIZE, no root needed): 503 store_failing, reads
//   answered, a rate-limited log, recovery by itself when the limit is raised.
// SEWAGE_TEST_GATEWAY_BINARY overrides the binary under test (to measure an older build).
#include "http_client.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include <sys/wait.h>

namespace sewage::gateway::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string gateway_binary() {
  const char* env = std::getenv("SEWAGE_TEST_GATEWAY_BINARY");
  return env != nullptr && *env != '\0' ? env : SEWAGE_GATEWAY_BINARY;
}

proto::timestamp now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()); }

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 100ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(step);
  }
  return cond();
}

std::string terminal_toml(const std::string& id, int interval_s) {
  return "[[terminal]]\nid = \"" + id + "\"\nname = \"" + id + "\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n" +
         "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = " +
         std::to_string(interval_s) + "\n";
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

class GatewayLink : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::temp_dir>("gw-link");
    http_port_ = testing::free_loopback_port();
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- gateway log ----\n" << slurp(dir_->path() / "gateway.log") << '\n';
      if (broker_) std::cerr << "---- broker log ----\n" << broker_->log() << '\n';
    }
    if (gateway_) gateway_->stop(5s);
    gateway_.reset();
    broker_.reset();
  }
  void start_broker(testing::broker_options o = {}) {
    std::filesystem::create_directories(dir_->path() / "broker");
    broker_ = std::make_unique<testing::mosquitto_broker>(dir_->path() / "broker", o);
  }
  void write_config(const std::string& mqtt_table, const std::string& registry, const std::string& extra = {}) {
    std::ofstream(dir_->path() / "registry.toml") << registry;
    std::ofstream(dir_->path() / "gateway.toml")
        << "[mqtt]\n" << mqtt_table
        << (mqtt_table.find("allow_plaintext") == std::string::npos ? "allow_plaintext = true\n" : "")
        << "client_id = \"gw-link\"\nkeep_alive_s = 5\n"
        << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
        << "[http]\nlisten = \"127.0.0.1:" << http_port_ << "\"\npublic_read = true\n"
        << "[registry]\npath = \"registry.toml\"\n"
        << "[alerts]\nstartup_grace_s = 1\ntick_ms = 100\n" << extra;
  }
  void start_gateway(std::vector<std::string> argv = {}) {
    if (argv.empty()) argv = {gateway_binary(), "--config", (dir_->path() / "gateway.toml").string()};
    gateway_ = std::make_unique<testing::child_process>(argv, dir_->path() / "gateway.log");
    ASSERT_TRUE(testing::wait_for_port(http_port_, 30s)) << slurp(dir_->path() / "gateway.log");
  }
  json get(const std::string& target) {
    const auto r = http_call(http_port_, "GET", target);
    return r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
  }
  double metric(const std::string& name_labels) {
    const auto r = http_call(http_port_, "GET", "/metrics");
    const auto pos = r.body.find("\n" + name_labels + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(r.body.substr(pos + name_labels.size() + 2));
  }
  std::string log() const { return slurp(dir_->path() / "gateway.log"); }

  std::unique_ptr<testing::temp_dir> dir_;
  std::unique_ptr<testing::mosquitto_broker> broker_;
  std::unique_ptr<testing::child_process> gateway_;
  int http_port_{0};
};

/// Publishes one record per second for each of `ids` (QoS 1) on one connection, like agents with a
/// queue: what is produced while the broker is away is buffered and sent after the reconnect. The
/// publisher reconnects itself every 200 ms (it plays the terminals, which must not be the slow
/// side in this test).
class terminal_publisher {
 public:
  terminal_publisher(const std::string& uri, std::vector<std::string> ids)
      : ids_(std::move(ids)),
        client_(uri, "test-terminals-" + ids_.front(),  // one client id per publisher: two may run at once
                mqtt::create_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .send_while_disconnected(true, true)
                    .max_buffered_messages(100000)
                    .finalize()) {
    thread_ = std::thread([this] { run(); });
  }
  ~terminal_publisher() {
    stop_ = true;
    thread_.join();
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }
  std::atomic<int> published{0};

 private:
  void run() {
    std::uint64_t seq = 0;
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      if (!client_.is_connected()) {
        try {
          client_.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(false).finalize())
              ->wait_for(1s);
        } catch (...) {
        }
      }
      if (std::chrono::steady_clock::now() >= next) {
        ++seq;
        for (const auto& id : ids_) {
          proto::telemetry_record r;
          r.terminal_id = id;
          r.epoch = "ep-" + id;
          r.seq = seq;
          r.ts = now();
          r.interval_s = 1;
          r.flow = proto::flow_reading{proto::quantity_status::ok, 0.6, 100.0 + 0.0002 * static_cast<double>(seq), std::nullopt};
          try {
            client_.publish(proto::telemetry_topic(id), proto::encode(r), 1, false);
            ++published;
          } catch (...) {
          }
        }
        next += 1s;
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  std::vector<std::string> ids_;
  mqtt::async_client client_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::vector<std::string> live_ids() {
  std::vector<std::string> ids;
  for (int i = 1; i <= 30; ++i) ids.push_back((i < 10 ? "L0" : "L") + std::to_string(i));
  return ids;
}

// The example (section 4): mosquitto restarted (persistence on) for 8 s, longer than
// offline_after_intervals x interval = 3 x 1 s. Before: all 30 healthy terminals got a false
// offline episode and the gateway came back up to 17 s after the broker (Paho's doubling
// backoff). Now: none, one for the dead terminal, and the gateway retries every second through
// the outage, so it is back within about a second of the broker (2.0 s was the bound here until
// a loaded CI machine measured 2.014 s, 2026-12-04: the behaviour is the retry cadence, checked
// from the gateway's own count of attempts; the time is a figure with a bound a backoff misses).
TEST_F(GatewayLink, BrokerRestartRaisesNoFalseOfflineAndTheGatewayRetriesEverySecondThroughIt) {
  start_broker();
  std::string reg;
  for (const auto& id : live_ids()) reg += terminal_toml(id, 1);
  reg += terminal_toml("DEAD", 1);
  write_config("uri = \"" + broker_->uri() + "\"\n", reg);
  auto ids = live_ids();
  auto with_dead = ids;
  with_dead.push_back("DEAD");
  // The live terminals report from before the gateway starts: the gateway counts every registered
  // terminal from its link-up, and a publisher started seconds later (after DEAD's run below) was
  // judged offline on a loaded machine before the outage this test is about had even begun.
  terminal_publisher terminals(broker_->uri(), ids);
  start_gateway();
  ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));
  {
    // DEAD reports for a few seconds, then dies for good before the outage.
    terminal_publisher dead(broker_->uri(), {"DEAD"});
    std::this_thread::sleep_for(2500ms);
  }
  ASSERT_TRUE(eventually([&] { return get("/api/summary").value("online", 0) == 30; }, 20s)) << get("/api/summary").dump();
  // DEAD: one episode before the outage already (it stopped 3 s after its last record).
  ASSERT_TRUE(eventually([&] { return get("/api/alerts?state=all&terminal=DEAD")["alerts"].size() == 1; }, 10s));
  // DEAD's episode stays open through the outage; what matters is that no second one opens.
  std::this_thread::sleep_for(2s);
  broker_->stop();
  std::this_thread::sleep_for(8s);
  broker_->start();
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 30s, 20ms));
  const double reconnect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
  std::cout << "[ figure ] gateway reconnect after the broker returned: " << reconnect_s << " s\n";
  EXPECT_LE(reconnect_s, 5.0);  // a doubling backoff would be 8-16 s late after 8 s away
  // Let the drain, the grace (3 s) and some more pass with the terminals reporting.
  std::this_thread::sleep_for(8s);
  std::size_t false_offline = 0;
  const auto all = get("/api/alerts?state=all");
  for (const auto& a : all.value("alerts", json::array()))
    if (a.value("type", "") == "offline" && a.value("terminal_id", "") != "DEAD") ++false_offline;
  std::size_t logged = 0;  // the same from the gateway's log (independent of the API)
  for (const auto& id : ids) logged += count(log(), "raised: " + id + " offline");
  std::cout << "[ figure ] false offline episodes of live terminals: " << false_offline << " (API), " << logged
            << " (log)\n";
  EXPECT_EQ(false_offline, 0u) << all.dump();
  EXPECT_EQ(logged, 0u);
  const auto dead = get("/api/alerts?state=all&terminal=DEAD")["alerts"];
  EXPECT_EQ(dead.size(), 1u) << dead.dump();
  EXPECT_EQ(get("/api/summary").value("online", 0), 30) << get("/api/summary").dump();
  // The outage is in the log: the loss, the failed attempts with their cause, the reconnect.
  const auto text = log();
  EXPECT_NE(text.find("MQTT connection to " + broker_->uri() + " lost"), std::string::npos);
  EXPECT_NE(text.find("failed (rc -1): TCP/TLS connect failure: Connection refused"), std::string::npos) << text;
  EXPECT_NE(text.find("failed attempts"), std::string::npos);
  EXPECT_LE(count(text, "failed (rc -1)"), 2u);  // rate-limited: the first, not one per attempt
  // "MQTT connected to ... after N failed attempts, X s after the link went down": one attempt a
  // second through the 8 s outage (a backoff of 1, 2, 4 s makes 3 or 4; a loaded machine may
  // delay a retry or two).
  const auto at = text.find(" failed attempts, ");
  ASSERT_NE(at, std::string::npos) << text;
  const auto from = text.rfind("after ", at);
  ASSERT_NE(from, std::string::npos);
  const int attempts = std::stoi(text.substr(from + 6, at - from - 6));
  EXPECT_GE(attempts, 5) << text.substr(from, 80);  // 8-10 seen; a backoff makes at most 4
}

// A terminal truly dead through an outage (it reported until the broker stopped) gets exactly one
// episode, after the backlog and its limit.
TEST_F(GatewayLink, ATerminalDeadThroughTheOutageGetsExactlyOneEpisodeAfterTheGrace) {
  start_broker();
  std::string reg = terminal_toml("LIVE", 1) + terminal_toml("GONE", 1);
  write_config("uri = \"" + broker_->uri() + "\"\n", reg);
  start_gateway();
  ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s));
  auto live = std::make_unique<terminal_publisher>(broker_->uri(), std::vector<std::string>{"LIVE"});
  {
    terminal_publisher gone(broker_->uri(), {"GONE"});
    ASSERT_TRUE(eventually([&] { return get("/api/summary").value("online", 0) == 2; }, 20s));
    broker_->stop();
  }
  std::this_thread::sleep_for(6s);
  EXPECT_EQ(get("/api/alerts?state=all")["alerts"].size(), 0u);  // nothing while the gateway is cut off
  broker_->start();
  ASSERT_TRUE(eventually([&] { return get("/api/alerts?state=all&terminal=GONE")["alerts"].size() == 1; }, 20s));
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(get("/api/alerts?state=all&terminal=GONE")["alerts"].size(), 1u);
  EXPECT_EQ(get("/api/alerts?state=all&terminal=LIVE")["alerts"].size(), 0u);
}

/// Offline episodes of the live terminals (not DEAD) in the API and in the gateway's log.
std::pair<std::size_t, std::size_t> false_offline_of(const json& all, const std::string& log_text,
                                                     const std::vector<std::string>& ids) {
  std::size_t api = 0, logged = 0;
  for (const auto& a : all.value("alerts", json::array()))
    if (a.value("type", "") == "offline" && a.value("terminal_id", "") != "DEAD") ++api;
  for (const auto& id : ids) logged += count(log_text, "raised: " + id + " offline");
  return {api, logged};
}

// Issue 17 (chaos, defect 2), the class "silence the gateway could not have heard", example 1: the
// broker paused (SIGSTOP) for 4 s, longer than 3 x 1 s but shorter than the keep-alive that would
// end the connection. Before: all 30 live terminals raised offline (the link stayed up, nobody was
// heard). Now: the gateway's loopback probe does not come back, the judgement waits, and the late
// echo restarts every terminal's count: no episode.
TEST_F(GatewayLink, ABrokerPausedLongerThanTheLimitRaisesNoFalseOffline) {
  start_broker();
  std::string reg;
  for (const auto& id : live_ids()) reg += terminal_toml(id, 1);
  write_config("uri = \"" + broker_->uri() + "\"\n", reg);
  terminal_publisher terminals(broker_->uri(), live_ids());
  start_gateway();
  ASSERT_TRUE(eventually([&] { return get("/api/summary").value("online", 0) == 30; }, 20s)) << get("/api/summary").dump();
  ASSERT_TRUE(eventually([&] { return log().find("broker path proven") != std::string::npos; }, 10s)) << log();
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(::kill(broker_->pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(::kill(broker_->pid(), SIGCONT), 0);
  std::this_thread::sleep_for(6s);
  const auto [api, logged] = false_offline_of(get("/api/alerts?state=all"), log(), live_ids());
  std::cout << "[ figure ] false offline episodes after a 4 s broker pause: " << api << " (API), " << logged << " (log)\n";
  EXPECT_EQ(api, 0u) << get("/api/alerts?state=all").dump();
  EXPECT_EQ(logged, 0u);
  EXPECT_NE(log().find("broker path stalled"), std::string::npos) << log();
  EXPECT_EQ(get("/api/summary").value("online", 0), 30) << get("/api/summary").dump();
}

// Example 2 of the class: the gateway itself paused (SIGSTOP) for 5 s. Before: on SIGCONT every
// terminal had been silent past its limit and all 30 raised offline. Now: none; a terminal truly
// dead is still raised, once, after the pause plus its limit.
TEST_F(GatewayLink, AGatewayPausedLongerThanTheLimitRaisesNoFalseOfflineButStillFindsTheDead) {
  start_broker();
  std::string reg;
  for (const auto& id : live_ids()) reg += terminal_toml(id, 1);
  reg += terminal_toml("DEAD", 1);
  write_config("uri = \"" + broker_->uri() + "\"\n", reg);
  terminal_publisher terminals(broker_->uri(), live_ids());
  start_gateway();
  ASSERT_TRUE(eventually([&] { return get("/api/summary").value("online", 0) == 30; }, 20s)) << get("/api/summary").dump();
  {
    terminal_publisher dead(broker_->uri(), {"DEAD"});
    ASSERT_TRUE(eventually([&] { return get("/api/summary").value("online", 0) == 31; }, 20s));
  }
  gateway_->signal(SIGSTOP);
  std::this_thread::sleep_for(5s);
  gateway_->signal(SIGCONT);
  ASSERT_TRUE(eventually([&] { return get("/api/alerts?state=all&terminal=DEAD")["alerts"].size() == 1; }, 20s))
      << get("/api/alerts?state=all").dump() << log();
  std::this_thread::sleep_for(3s);
  const auto [api, logged] = false_offline_of(get("/api/alerts?state=all"), log(), live_ids());
  std::cout << "[ figure ] false offline episodes after a 5 s gateway pause: " << api << " (API), " << logged << " (log)\n";
  EXPECT_EQ(api, 0u) << get("/api/alerts?state=all").dump();
  EXPECT_EQ(logged, 0u);
  EXPECT_EQ(get("/api/alerts?state=all&terminal=DEAD")["alerts"].size(), 1u);
}

// ---- TLS (section 6): the cause of a failed handshake is named ----

void openssl(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::child_process p(argv, dir / "openssl.log");
  const auto st = p.wait_for_exit(60s);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir / "openssl.log");
}

/// A CA (ca.crt), a server certificate for `san` signed by it, and an unrelated CA (other-ca.crt).
void make_pki(const std::filesystem::path& d, const std::string& san) {
  const auto p = [&](const char* f) { return (d / f).string(); };
  openssl(d, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=Test CA", "-keyout", p("ca.key"),
              "-out", p("ca.crt")});
  openssl(d, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=Other CA", "-keyout",
              p("other-ca.key"), "-out", p("other-ca.crt")});
  openssl(d, {"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker", "-keyout", p("server.key"), "-out",
              p("server.csr")});
  std::ofstream(d / "server.ext") << "subjectAltName=" << san
                                  << "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                                     "extendedKeyUsage=serverAuth\n";
  openssl(d, {"x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
              "-days", "30", "-extfile", p("server.ext"), "-out", p("server.crt")});
}

class GatewayTls : public GatewayLink {
 protected:
  /// A broker with a TLS listener whose certificate names only `san`.
  void start_tls_broker(const std::string& san) {
    pki_ = dir_->path() / "pki";
    std::filesystem::create_directories(pki_);
    make_pki(pki_, san);
    tls_port_ = testing::free_loopback_port();
    testing::broker_options o;
    o.extra_config = "listener " + std::to_string(tls_port_) + " 127.0.0.1\ncafile " + (pki_ / "ca.crt").string() +
                     "\ncertfile " + (pki_ / "server.crt").string() + "\nkeyfile " + (pki_ / "server.key").string() + "\n";
    start_broker(o);
    ASSERT_TRUE(testing::wait_for_port(tls_port_, 10s)) << broker_->log();
  }
  void expect_cause(const std::string& uri, const std::string& ca, const std::string& cause) {
    write_config("uri = \"" + uri + "\"\nca_file = \"" + (pki_ / ca).string() + "\"\n", terminal_toml("T1", 60));
    start_gateway();
    ASSERT_TRUE(eventually([&] { return log().find(cause) != std::string::npos; }, 20s)) << log();
    EXPECT_FALSE(get("/healthz").value("mqtt_connected", true));
    gateway_->stop(5s);
    gateway_.reset();
  }
  std::filesystem::path pki_;
  int tls_port_{0};
};

TEST_F(GatewayTls, AnUnknownCaIsNamedAsTheCause) {
  start_tls_broker("DNS:localhost,IP:127.0.0.1");
  expect_cause("ssl://127.0.0.1:" + std::to_string(tls_port_), "other-ca.crt",
               // OpenSSL's own words for a chain this CA does not sign; the key it came from.
               "TLS: certificate verify failed: self-signed certificate in certificate chain (mqtt.ca_file " +
                   (pki_ / "other-ca.crt").string() + ")");
  // With the right CA the same gateway connects: the probe's verdict is not a false alarm.
  write_config("uri = \"ssl://127.0.0.1:" + std::to_string(tls_port_) + "\"\nca_file = \"" + (pki_ / "ca.crt").string() +
                   "\"\n",
               terminal_toml("T1", 60));
  start_gateway();
  EXPECT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s)) << log();
}

TEST_F(GatewayTls, AHostNameMismatchIsNamedAsTheCause) {
  start_tls_broker("DNS:broker.example");
  expect_cause("ssl://127.0.0.1:" + std::to_string(tls_port_), "ca.crt",
               "TLS: certificate verify failed: IP address mismatch (the server's certificate is not valid for "
               "\"127.0.0.1\"");
  expect_cause("ssl://localhost:" + std::to_string(tls_port_), "ca.crt",
               "TLS: certificate verify failed: hostname mismatch (the server's certificate is not valid for "
               "\"localhost\"");
}

// ---- configuration (section 6) ----

TEST_F(GatewayLink, ARelativeStorePathWithTheConfigInTheCurrentFolderStarts) {
  start_broker();
  write_config("uri = \"" + broker_->uri() + "\"\n", terminal_toml("T1", 60));
  std::ofstream(dir_->path() / "g.toml") << slurp(dir_->path() / "gateway.toml") << "";
  // store.path = "gateway.db" is relative; the gateway is started in the config's folder with a
  // relative --config (before: exit 1, "cannot create directories: Invalid argument []").
  start_gateway({"/bin/sh", "-c", "cd '" + dir_->path().string() + "' && exec '" + gateway_binary() + "' --config g.toml"});
  EXPECT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s)) << log();
  EXPECT_TRUE(std::filesystem::exists(dir_->path() / "gateway.db"));
  EXPECT_TRUE(gateway_->running());
}

TEST_F(GatewayLink, CaFileWithAPlaintextUriIsRefusedByTheCheckAndAtStart) {
  std::ofstream(dir_->path() / "ca.crt") << "x";
  write_config("uri = \"tcp://127.0.0.1:1883\"\nca_file = \"ca.crt\"\npassword = \"secret\"\nusername = \"gw\"\n",
               terminal_toml("T1", 60));
  for (const bool check : {true, false}) {
    std::vector<std::string> argv{gateway_binary(), "--config", (dir_->path() / "gateway.toml").string()};
    if (check) argv.emplace_back("--check-config");
    std::filesystem::remove(dir_->path() / "cli.log");
    testing::child_process p(argv, dir_->path() / "cli.log");
    const auto st = p.wait_for_exit(20s);
    ASSERT_TRUE(st && WIFEXITED(*st));
    EXPECT_EQ(WEXITSTATUS(*st), 2);
    const auto out = slurp(dir_->path() / "cli.log");
    EXPECT_NE(out.find("mqtt.uri: mqtt.ca_file is set but \"tcp://127.0.0.1:1883\" is a plaintext URI"), std::string::npos)
        << out;
  }
}

// ---- storage full (section 10, gateway) ----
// The gateway runs with SIGXFSZ ignored (inherited through exec); once it has started, its file
// size limit (RLIMIT_FSIZE) is lowered to 64 KiB with `prlimit --pid`, so SQLite's next write past
// that offset fails with EFBIG just as a full disk fails with ENOSPC: no root, no mount needed.
// Raising the limit again is space returning.
TEST_F(GatewayLink, AStoreOutOfSpaceSays503KeepsAnsweringAndRecoversByItself) {
  start_broker();
  write_config("uri = \"" + broker_->uri() + "\"\n", terminal_toml("T1", 1));
  start_gateway({"/bin/sh", "-c",
                 "trap '' XFSZ; exec '" + gateway_binary() + "' --config '" + (dir_->path() / "gateway.toml").string() + "'"});
  ASSERT_TRUE(eventually([&] { return get("/healthz").value("mqtt_connected", false); }, 20s)) << log();
  // 22,000 messages (~5 MB) need a second 4 MiB journal segment, which cannot be allocated either.
  constexpr int n = 22000;
  constexpr int before_full = 100;
  const auto t0 = now() - std::chrono::seconds(n + 60);
  const auto publish_range = [&](int from, int to) {
    {
      std::ofstream lines(dir_->path() / "records.txt");
      for (int i = from; i <= to; ++i) {
        proto::telemetry_record r;
        r.terminal_id = "T1";
        r.epoch = "ep1";
        r.seq = static_cast<std::uint64_t>(i);
        r.ts = t0 + std::chrono::seconds(i);
        r.interval_s = 1;
        r.flow = proto::flow_reading{proto::quantity_status::ok, 0.6, 100.0 + 0.0001 * i, std::nullopt};
        r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, 3.0, std::nullopt, std::nullopt, std::nullopt};
        lines << proto::encode(r) << '\n';
      }
    }
    testing::child_process pub({"/bin/sh", "-c",
                                "exec mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker_->port()) + " -q 1 -t " +
                                    proto::telemetry_topic("T1") + " -l < '" + (dir_->path() / "records.txt").string() + "'"},
                               dir_->path() / "pub.log");
    const auto st = pub.wait_for_exit(60s);
    ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir_->path() / "pub.log");
  };
  const auto set_fsize = [&](const std::string& limit) {
    testing::child_process p({"prlimit", "--pid", std::to_string(gateway_->pid()), "--fsize=" + limit},
                             dir_->path() / "prlimit.log");
    const auto st = p.wait_for_exit(10s);
    ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << slurp(dir_->path() / "prlimit.log");
  };
  const auto released_path = dir_->path() / "gateway.db-inbox.d" / "released";
  const auto released = [&] {
    std::ifstream in(released_path, std::ios::binary);
    std::uint64_t id = 0;
    in.read(reinterpret_cast<char*>(&id), sizeof id);
    return id;
  };
  publish_range(1, before_full);
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_records_accepted_total") == before_full; }, 20s));
  std::this_thread::sleep_for(300ms);  // committed
  set_fsize("65536:unlimited");         // the disk is full
  publish_range(before_full + 1, n);
  ASSERT_TRUE(eventually([&] { return http_call(http_port_, "GET", "/healthz").status == 503; }, 30s)) << log();
  const auto health = get("/healthz");
  EXPECT_EQ(health.value("status", ""), "store_failing") << health.dump();
  EXPECT_FALSE(health.value("store_ok", true));
  EXPECT_GT(metric("sewage_gateway_store_failures_total"), 0);
  // Reads are still answered.
  EXPECT_EQ(http_call(http_port_, "GET", "/api/terminals").status, 200);
  EXPECT_EQ(http_call(http_port_, "GET", "/api/summary").status, 200);
  const auto released_at_503 = released();
  std::this_thread::sleep_for(3s);  // several retries
  const auto during = log();
  // A rate-limited summary, not a line per commit: one line at the first failure, then one per 30 s.
  EXPECT_EQ(count(during, "store commit failed"), 1u) << during;
  EXPECT_GE(metric("sewage_gateway_store_failures_total"), 2);
  EXPECT_LT(10 * count(during, "store still failing"), metric("sewage_gateway_store_failures_total") + 10);
  EXPECT_EQ(released(), released_at_503);  // nothing uncommitted is released
  const auto released_while_full = released();
  // Ingest keeps up while the store fails (failed attempts are spaced by their own duration).
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_records_accepted_total") == n; }, 60s)) << log();
  set_fsize("unlimited:unlimited");  // space returns
  ASSERT_TRUE(eventually([&] { return http_call(http_port_, "GET", "/healthz").status == 200; }, 30s)) << log();
  EXPECT_EQ(metric("sewage_gateway_records_accepted_total"), n);
  // The journal could not take every message (its second segment did not fit): counted, logged once.
  EXPECT_GT(metric("sewage_gateway_journal_failures_total"), 0);
  EXPECT_GE(count(log(), "processed without journal so far"), 1u);
  EXPECT_LE(count(log(), "processed without journal so far"), 3u);  // first, then one per 30 s
  // Everything journaled is released once committed: the journal's active segment is the only file.
  EXPECT_TRUE(eventually([&] { return released() > released_while_full; }, 10s)) << released();
  std::size_t segments = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_->path() / "gateway.db-inbox.d"))
    segments += e.path().extension() == ".seg" ? 1 : 0;
  EXPECT_EQ(segments, 1u);
  const auto hist = get("/api/terminals/T1/history?from=" + proto::format_timestamp(now() - std::chrono::hours(5)) +
                        "&to=" + proto::format_timestamp(now()) + "");
  std::size_t stored = hist.value("records", json::array()).size();
  EXPECT_GT(stored, 0u);
  EXPECT_NE(log().find("store commits work again after"), std::string::npos);
}

}  // namespace
}  // namespace sewage::gateway::test
