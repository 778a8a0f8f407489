// Notifications against a real receiver on a loopback port (tests/integration/gateway/
// notify_receiver.py: Python's http.server, wrapped in TLS with a throw-away CA and server
// certificate made by openssl at test time): certificate and host name checks, plain http only by
// opt-in, WeCom and DingTalk bodies, DingTalk's signature recomputed by the receiver, errcode
// retries, the bounded queue, and the secret in no log line. The last test runs the real gateway
// process, SIGKILLs it while the target is down and restarts it: the notification arrives after.
#include "http_client.hpp"

#include "sewage/gateway/notify/http_post.hpp"
#include "sewage/gateway/notify/notifier.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

namespace sewage::gateway::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Secrets of the tests' targets: none may appear in a log line, /metrics or an API answer.
const std::string wecom_key = "WECOM-KEY-7f3a9c";
const std::string dingtalk_token = "DT-TOKEN-51be";
const std::string dingtalk_secret = "SEC-dingtalk-secret-0e4d2b";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

void run(const std::string& cmd) {
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

/// The receiver script as a child process on `port`.
class receiver {
 public:
  receiver(const std::filesystem::path& dir, int port, const std::string& answers, bool tls,
           const std::string& secret = {})
      : log_(dir / ("received-" + std::to_string(port) + ".jsonl")) {
    std::filesystem::remove(log_);
    std::vector<std::string> argv{"python3", SEWAGE_NOTIFY_RECEIVER, "--port", std::to_string(port), "--log",
                                  log_.string(), "--answers", answers};
    if (tls) {
      argv.insert(argv.end(), {"--cert", (dir / "server.crt").string(), "--key", (dir / "server.key").string()});
    }
    if (!secret.empty()) argv.insert(argv.end(), {"--dingtalk-secret", secret});
    proc_ = std::make_unique<testing::child_process>(argv, dir / ("receiver-" + std::to_string(port) + ".log"));
    if (!testing::wait_for_port(port, 10s)) throw std::runtime_error("receiver did not start: " + proc_->log());
  }
  ~receiver() { proc_->stop(2s); }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  [[nodiscard]] std::vector<json> records() const {
    std::vector<json> out;
    std::istringstream in(slurp(log_));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }

 private:
  std::filesystem::path log_;
  std::unique_ptr<testing::child_process> proc_;
};

terminal_info terminal_t1() {
  terminal_info t;
  t.id = "HY-WY-001";
  t.name = "武原一号";
  t.town = "武原街道";
  return t;
}

proto::alert_message turbidity_alert(std::uint64_t id) {
  proto::alert_message a;
  a.terminal_id = "HY-WY-001";
  a.type = proto::alert_type::turbidity_high;
  a.alert_id = id;
  a.raised_at = *proto::parse_timestamp("2026-11-29T16:00:00Z");
  a.value = 15.25;
  a.threshold = 10.0;
  a.message = "Turbidity above limit.";
  return a;
}

class Notify : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::temp_dir("notify-it");
    const auto d = dir_->path().string();
    // A throw-away CA, a server certificate for IP 127.0.0.1 only (no DNS name: "localhost" must
    // fail the host name check), and a second CA that did not sign it.
    run("cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Test Notify CA' "
        "-keyout ca.key -out ca.crt 2>/dev/null && "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Other CA' -keyout other.key -out other.crt "
        "2>/dev/null && "
        "openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout server.key -out server.csr 2>/dev/null && "
        "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\n"
        "extendedKeyUsage=serverAuth\\n' > server.ext && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext "
        "-out server.crt 2>/dev/null");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    log_ = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*log_);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("notify-test", sink));
    spdlog::set_level(spdlog::level::debug);
    db_path_ = dir_->path() / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".db");
    std::filesystem::remove(db_path_);
    db_ = std::make_unique<sqlite_store>(db_path_, 100);
  }

  void TearDown() override {
    notifier_.reset();
    const std::string logged = log_->str();
    EXPECT_EQ(logged.find(wecom_key), std::string::npos) << "the WeCom key was logged";
    EXPECT_EQ(logged.find(dingtalk_token), std::string::npos) << "the DingTalk token was logged";
    EXPECT_EQ(logged.find(dingtalk_secret), std::string::npos) << "the DingTalk secret was logged";
    if (HasFailure()) std::cerr << "---- log ----\n" << logged;
    spdlog::set_default_logger(previous_);
  }

  notify_target wecom(int port) const {
    notify_target t;
    t.name = "county-wecom";
    t.kind = notify_kind::wecom;
    t.url = "https://127.0.0.1:" + std::to_string(port) + "/cgi-bin/webhook/send?key=" + wecom_key;
    t.ca_file = (dir_->path() / "ca.crt").string();
    return t;
  }

  void start(std::vector<notify_target> targets, std::uint32_t queue_max = 100, std::uint32_t max_attempts = 10) {
    notify_settings s;
    s.targets = std::move(targets);
    s.initial_backoff = 50ms;
    s.max_backoff = 200ms;
    s.timeout = 3s;
    s.queue_max = queue_max;
    s.max_attempts = max_attempts;
    notifier_ = std::make_unique<notifier>(s, *county_zone::locate("Asia/Shanghai"),
                                           std::make_unique<sqlite_store>(db_path_, 100));
  }

  /// What the engine does: the rows join the transition's transaction, then the notifier is woken.
  void transition(const proto::alert_message& a) {
    const auto t = terminal_t1();
    write_batch b;
    notifier_->on_transition(a, &t, b.notifications);
    db_->apply(b);
    notifier_->on_committed();
  }

  notify_target_counts counts(std::size_t i = 0) const { return notifier_->counts().targets.at(i); }
  std::string logged() const { return log_->str(); }

  static testing::temp_dir* dir_;
  std::filesystem::path db_path_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<notifier> notifier_;
  std::shared_ptr<std::ostringstream> log_;
  std::shared_ptr<spdlog::logger> previous_;
};
testing::temp_dir* Notify::dir_ = nullptr;

TEST_F(Notify, WeComOverHttpsGetsTheChineseMarkdownOfTheAlert) {
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[200, "{\"errcode\":0,\"errmsg\":\"ok\"}"]])", true);
  start({wecom(port)});
  transition(turbidity_alert(7));
  ASSERT_TRUE(eventually([&] { return counts().sent == 1; }, 10s));
  const auto recs = rx.records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["path"], "/cgi-bin/webhook/send");
  EXPECT_EQ(recs[0]["query"]["key"], wecom_key);
  EXPECT_EQ(recs[0]["content_type"], "application/json");
  const json expected = {
      {"msgtype", "markdown"},
      {"markdown",
       {{"content",
         "### 【严重】出水浊度超标 告警 HY-WY-001\n"
         "- 终端：HY-WY-001 武原一号\n"
         "- 镇/街道：武原街道\n"
         "- 告警类型：出水浊度超标\n"
         "- 级别：严重\n"
         "- 数值：15.25 NTU\n"
         "- 阈值：10 NTU\n"
         "- 时间：2026-11-30 00:00:00 (Asia/Shanghai, UTC+08:00)\n"
         "- 告警编号：7"}}}};
  EXPECT_EQ(json::parse(recs[0]["body"].get<std::string>()), expected);
  EXPECT_EQ(counts().failures, 0u);
  EXPECT_EQ(notifier_->counts().queue_depth, 0u);
}

TEST_F(Notify, AnEscalationReachesOnlyTheTownOfficersTargetOverHttpsOnce) {
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[200, "{\"errcode\":0,\"errmsg\":\"ok\"}"]])", true);
  auto duty = wecom(port);  // the operators: alert transitions only
  auto officer = wecom(port);
  officer.name = "wuyuan-officer";
  officer.level = notify_level::town;
  officer.towns = {"武原街道"};
  officer.url += "&who=officer";
  start({duty, officer});
  escalation_message m;
  m.subject_kind = "alert";
  m.subject_id = 7;
  m.site_name = "武原一号";
  m.what_zh = "出水浊度超标，30 分钟未确认也未恢复";
  m.what_en = "Effluent turbidity high, neither acknowledged nor cleared for 30 min";
  m.since = *proto::parse_timestamp("2026-11-29T16:00:00Z");
  m.once_key = "alert:7:town";
  EXPECT_EQ(notifier_->enqueue_escalation(notify_level::town, "HY-WY-001", "武原街道", m), 1u);
  EXPECT_EQ(notifier_->enqueue_escalation(notify_level::town, "HY-WY-001", "武原街道", m), 0u) << "once";
  ASSERT_TRUE(eventually([&] { return counts(1).sent == 1; }, 10s)) << logged();
  std::this_thread::sleep_for(300ms);
  const auto recs = rx.records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["query"]["who"], "officer");
  EXPECT_EQ(json::parse(recs[0]["body"].get<std::string>())["markdown"]["content"],
            "### 【升级·镇级】出水浊度超标，30 分钟未确认也未恢复 HY-WY-001\n"
            "- 站点：HY-WY-001 武原一号\n"
            "- 镇/街道：武原街道\n"
            "- 事项：出水浊度超标，30 分钟未确认也未恢复\n"
            "- 起始时间：2026-11-30 00:00:00 (Asia/Shanghai, UTC+08:00)\n"
            "- 升级级别：镇级\n"
            "- 编号：alert 7");
  EXPECT_EQ(counts(0).sent, 0u);
  EXPECT_EQ(notifier_->counts().escalations_queued, 1u);
}

TEST_F(Notify, DingTalkUrlIsSignedAndTheEnglishBodyIsMarkdown) {
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[200, "{\"errcode\":0,\"errmsg\":\"ok\"}"]])", true, dingtalk_secret);
  notify_target t;
  t.name = "town-dingtalk";
  t.kind = notify_kind::dingtalk;
  t.url = "https://127.0.0.1:" + std::to_string(port) + "/robot/send?access_token=" + dingtalk_token;
  t.secret = dingtalk_secret;
  t.language = notify_language::en;
  t.ca_file = (dir_->path() / "ca.crt").string();
  start({t});
  auto a = turbidity_alert(8);
  a.state = proto::alert_state::acknowledged;
  a.acked_at = *proto::parse_timestamp("2026-11-29T16:30:00Z");
  a.acked_by = "wang";
  const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  transition(a);
  ASSERT_TRUE(eventually([&] { return counts().sent == 1; }, 10s));
  const auto recs = rx.records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["query"]["access_token"], dingtalk_token);
  EXPECT_TRUE(recs[0]["sign_ok"].get<bool>()) << recs[0].dump();
  const auto ts = std::stoll(recs[0]["query"]["timestamp"].get<std::string>());
  EXPECT_GE(ts, before_ms);
  EXPECT_LT(ts, before_ms + 10000);
  const json expected = {
      {"msgtype", "markdown"},
      {"markdown",
       {{"title", "[Critical] Effluent turbidity high acknowledged HY-WY-001"},
        {"text",
         "### [Critical] Effluent turbidity high acknowledged HY-WY-001\n\n"
         "- Terminal: HY-WY-001 武原一号\n\n"
         "- Town: 武原街道\n\n"
         "- Alert: Effluent turbidity high\n\n"
         "- Severity: Critical\n\n"
         "- Value: 15.25 NTU\n\n"
         "- Threshold: 10 NTU\n\n"
         "- Time: 2026-11-30 00:30:00 (Asia/Shanghai, UTC+08:00)\n\n"
         "- Acknowledged by: wang\n\n"
         "- Alert id: 8"}}}};
  EXPECT_EQ(json::parse(recs[0]["body"].get<std::string>()), expected);
}

TEST_F(Notify, AServerCertificateOfAnotherCaIsRefusedCountedAndLogged) {
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[200, "{\"errcode\":0}"]])", true);
  auto t = wecom(port);
  t.ca_file = (dir_->path() / "other.crt").string();
  start({t});
  transition(turbidity_alert(9));
  ASSERT_TRUE(eventually([&] { return counts().tls_failures >= 2; }, 10s)) << logged();
  EXPECT_EQ(counts().sent, 0u);
  EXPECT_TRUE(rx.records().empty()) << "nothing may reach a receiver that was not verified";
  const auto log = logged();
  EXPECT_NE(log.find("notify: target county-wecom (https://127.0.0.1:" + std::to_string(port) +
                     "/cgi-bin/webhook/send?…): alert 9 raise attempt 1 of 10 failed (TLS: certificate or host name "
                     "check)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("certificate"), std::string::npos) << log;
  EXPECT_EQ(notifier_->counts().queue_depth, 1u) << "kept for a retry";
}

TEST_F(Notify, TheHostNameIsChecked) {
  // The certificate names IP 127.0.0.1 only; "localhost" reaches the same server but is not in it.
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[200, "{\"errcode\":0}"]])", true);
  auto t = wecom(port);
  t.url = "https://localhost:" + std::to_string(port) + "/cgi-bin/webhook/send?key=" + wecom_key;
  start({t});
  transition(turbidity_alert(10));
  ASSERT_TRUE(eventually([&] { return counts().tls_failures >= 1; }, 10s)) << logged();
  EXPECT_EQ(counts().sent, 0u);
  EXPECT_TRUE(rx.records().empty());
  // The failure is counted before its warning is written: wait for the line, do not race it.
  EXPECT_TRUE(eventually([&] { return logged().find("host name 'localhost'") != std::string::npos; }, 10s)) << logged();
  // The same server under the name its certificate carries is accepted (the check is the name).
  const auto ok = http_post_json("https://127.0.0.1:" + std::to_string(port) + "/x", "{}",
                                 post_options{false, (dir_->path() / "ca.crt").string(), 3s, nullptr});
  EXPECT_EQ(ok.status, 200) << ok.error;
}

TEST_F(Notify, PlainHttpIsRefusedUnlessTheTargetAllowsIt) {
  const int port = testing::free_loopback_port();
  receiver rx(dir_->path(), port, R"([[204, ""]])", false);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  // libcurl itself refuses http:// without the opt-in (a second line of defence after the config).
  const auto refused = http_post_json(url, "{}", post_options{false, "", 3s, nullptr});
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("plain http:// refused (allow_plaintext is false)"), std::string::npos) << refused.error;
  EXPECT_TRUE(rx.records().empty());
  notify_target t;
  t.name = "plain";
  t.kind = notify_kind::webhook;
  t.url = url;
  EXPECT_THROW(start({t}), std::invalid_argument);
  // With the opt-in: a generic webhook receives the alert message JSON, as before issue 11.
  t.allow_plaintext = true;
  start({t});
  transition(turbidity_alert(11));
  ASSERT_TRUE(eventually([&] { return counts().sent == 1; }, 10s)) << logged();
  EXPECT_NE(logged().find("notify: target plain: plaintext connection to http://127.0.0.1:" + std::to_string(port) +
                          "/hook (allow_plaintext = true)"),
            std::string::npos)
      << logged();
  const auto recs = rx.records();
  ASSERT_EQ(recs.size(), 1u);
  const auto decoded = proto::decode_alert(recs[0]["body"].get<std::string>());
  ASSERT_TRUE(decoded.ok()) << recs[0].dump();
  EXPECT_EQ(*decoded.value, turbidity_alert(11));
}

TEST_F(Notify, ANonZeroErrcodeIsRetriedAndAPermanentOneGivenUp) {
  const int port = testing::free_loopback_port();
  // Too many messages (45009) twice, then accepted.
  receiver rx(dir_->path(), port,
              R"([[200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}"],
                  [200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}"],
                  [200, "{\"errcode\":0,\"errmsg\":\"ok\"}"]])",
              true);
  start({wecom(port)});
  transition(turbidity_alert(12));
  ASSERT_TRUE(eventually([&] { return counts().sent == 1; }, 10s)) << logged();
  EXPECT_EQ(counts().failures, 2u);
  EXPECT_EQ(rx.records().size(), 3u);
  EXPECT_NE(logged().find("errcode 45009: api freq out of limit"), std::string::npos);
  notifier_.reset();

  // An invalid key (93000) cannot be cured by retrying: given up at once, counted, logged.
  const int port2 = testing::free_loopback_port();
  receiver rx2(dir_->path(), port2, R"([[200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}"]])", true);
  start({wecom(port2)});
  transition(turbidity_alert(13));
  ASSERT_TRUE(eventually([&] { return notifier_->counts().dropped_permanent == 1; }, 10s)) << logged();
  EXPECT_EQ(rx2.records().size(), 1u);
  EXPECT_EQ(counts().sent, 0u);
  EXPECT_NE(logged().find("refused for good"), std::string::npos);
}

TEST_F(Notify, GivesUpAfterMaxAttemptsAndKeepsOrderPerTarget) {
  // Nothing listens: every attempt fails fast. Three attempts, then the row is given up, and the
  // next row of the same target is only tried after it (first-in first-out per target).
  const int port = testing::free_loopback_port();
  start({wecom(port)}, 100, 3);
  transition(turbidity_alert(14));
  transition(turbidity_alert(15));
  ASSERT_TRUE(eventually([&] { return notifier_->counts().dropped_gave_up == 2; }, 20s)) << logged();
  EXPECT_EQ(counts().failures, 6u);
  const auto log = logged();
  const auto first = log.find("alert 14 raise given up after 3 attempt(s)");
  const auto second_try = log.find("alert 15 raise attempt 1 of 3 failed");
  ASSERT_NE(first, std::string::npos) << log;
  ASSERT_NE(second_try, std::string::npos) << log;
  EXPECT_LT(first, second_try);
}

TEST_F(Notify, AFullQueueDropsTheOldestAndCountsThem) {
  const int port = testing::free_loopback_port();  // down
  start({wecom(port)}, 2, 1000);
  for (std::uint64_t id = 20; id < 25; ++id) transition(turbidity_alert(id));
  ASSERT_TRUE(eventually([&] { return notifier_->counts().dropped_queue_full == 3; }, 10s)) << logged();
  ASSERT_TRUE(eventually([&] { return notifier_->counts().queue_depth == 2; }, 10s));
  // The newest two are the ones kept.
  const auto heads = db_->notification_heads(10);
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].subject_id, 23u);
}

// ---- the gateway process: SIGKILL while the target is down, restart, the notification arrives ----

TEST(NotifyProcess, AQueuedNotificationSurvivesASigkillAndArrivesAfterTheRestart) {
  testing::temp_dir dir("notify-proc");
  const auto d = dir.path();
  run("cd " + d.string() + " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=CA' -keyout ca.key "
      "-out ca.crt 2>/dev/null && openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout server.key "
      "-out server.csr 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext && openssl x509 -req "
      "-in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null");
  std::filesystem::create_directories(d / "broker");
  testing::mosquitto_broker broker(d / "broker");
  const int http_port = testing::free_loopback_port();
  const int rx_port = testing::free_loopback_port();
  std::ofstream(d / "registry.toml")
      << "[[terminal]]\nid = \"T1\"\nname = \"One\"\ntown = \"A\"\nvillage = \"B\"\nlatitude = 30.5\n"
         "longitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n"
         "[terminal.thresholds]\nturbidity_raise_ntu = 10.0\nturbidity_clear_ntu = 8.0\nturbidity_debounce_s = 0\n";
  std::ofstream(d / "gateway.toml")
      << "[mqtt]\nuri = \"" << broker.uri() << "\"\nclient_id = \"gw-notify\"\nkeep_alive_s = 5\nallow_plaintext = true\n"
      << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
      << "[http]\npublic_read = true\nlisten = \"127.0.0.1:" << http_port << "\"\n"
      << "[registry]\npath = \"registry.toml\"\n"
      << "[alerts]\nstartup_grace_s = 1\ntick_ms = 100\n"
      // One terminal's turbidity_high is notified at once, not held for a weather event.
      << "[incidents]\nweather_hold_s = 0\n"
      << "[notify]\ninitial_backoff_ms = 100\nmax_backoff_ms = 300\n"
      << "[[notify.target]]\nname = \"county\"\nkind = \"wecom\"\nlanguage = \"en\"\nca_file = \"ca.crt\"\n"
      << "url = \"https://127.0.0.1:" << rx_port << "/cgi-bin/webhook/send?key=" << wecom_key << "\"\n"
      << "[[notify.target]]\nname = \"town\"\nkind = \"dingtalk\"\nca_file = \"ca.crt\"\nsecret = \""
      << dingtalk_secret << "\"\nurl = \"https://127.0.0.1:" << rx_port << "/robot/send?access_token=" << dingtalk_token
      << "\"\n"
      << "[log]\nlevel = \"debug\"\n";
  const auto start_gateway = [&] {
    auto gw = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BINARY, "--config", (d / "gateway.toml").string()}, d / "gateway.log");
    EXPECT_TRUE(testing::wait_for_port(http_port, 30s)) << slurp(d / "gateway.log");
    return gw;
  };
  const auto metric = [&](const std::string& name) {
    const auto r = http_call(http_port, "GET", "/metrics");
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    return -1.0;
  };
  auto gw = start_gateway();
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_mqtt_connected") == 1; }, 20s));
  proto::telemetry_record r;
  r.terminal_id = "T1";
  r.epoch = "ep1";
  r.seq = 1;
  r.ts = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  r.interval_s = 60;
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, 50.0, std::nullopt, std::nullopt, std::nullopt};
  testing::child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q", "1", "-t",
                              proto::telemetry_topic("T1"), "-m", proto::encode(r)},
                             d / "pub.log");
  ASSERT_TRUE(pub.wait_for_exit(10s).has_value());
  // The target is down: the notification is queued and its first attempts fail.
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_notify_failures_total{target=\"county\"}") >= 2; }, 20s))
      << slurp(d / "gateway.log");
  EXPECT_EQ(metric("sewage_gateway_notify_queue"), 2);  // one row per target
  gw->kill_now();
  gw = start_gateway();
  receiver rx(d, rx_port, R"([[200, "{\"errcode\":0,\"errmsg\":\"ok\"}"]])", true);
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_notify_sent_total{target=\"county\"}") == 1; }, 20s))
      << slurp(d / "gateway.log");
  ASSERT_TRUE(eventually([&] { return metric("sewage_gateway_notify_sent_total{target=\"town\"}") == 1; }, 20s))
      << slurp(d / "gateway.log");
  std::this_thread::sleep_for(500ms);  // nothing more may follow (no duplicate after the restart)
  auto recs = rx.records();
  ASSERT_EQ(recs.size(), 2u);
  if (recs[0]["path"] != "/cgi-bin/webhook/send") std::swap(recs[0], recs[1]);
  EXPECT_EQ(recs[1]["path"], "/robot/send");
  EXPECT_EQ(recs[1]["query"]["access_token"], dingtalk_token);
  EXPECT_FALSE(recs[1]["query"]["sign"].get<std::string>().empty());
  const auto body = json::parse(recs[0]["body"].get<std::string>());
  EXPECT_EQ(body["msgtype"], "markdown");
  const std::string content = body["markdown"]["content"];
  EXPECT_NE(content.find("- Terminal: T1 One\n- Town: A\n- Alert: Effluent turbidity high\n- Severity: Critical\n"
                         "- Value: 50 NTU\n- Threshold: 10 NTU\n"),
            std::string::npos)
      << content;
  EXPECT_EQ(metric("sewage_gateway_notify_queue"), 0);
  // The key is in no log line and no API answer.
  const std::string all_out = slurp(d / "gateway.log") + http_call(http_port, "GET", "/metrics").body +
                              http_call(http_port, "GET", "/api/ui-config").body +
                              http_call(http_port, "GET", "/healthz").body;
  EXPECT_EQ(all_out.find(wecom_key), std::string::npos);
  EXPECT_EQ(all_out.find(dingtalk_token), std::string::npos);
  EXPECT_EQ(all_out.find(dingtalk_secret), std::string::npos);
  EXPECT_NE(all_out.find("sewage_gateway_notify_sent_total{target=\"town\"} 1"), std::string::npos);
  gw->stop(5s);
}

}  // namespace
}  // namespace sewage::gateway::test
