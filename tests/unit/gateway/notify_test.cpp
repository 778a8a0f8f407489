// Notifications without sockets: the DingTalk signature, loggable URLs, answer judgement, the
// backoff schedule, the [notify] configuration (and the refusal of the former [notifier] form),
// routing of transitions to targets, the durable queue in the store, and that the engine stores a
// transition's notifications in the same commit.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/notify/message.hpp"
#include "sewage/gateway/notify/notifier.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

namespace sewage::gateway {
namespace {

using namespace std::chrono_literals;

std::string config_error_of(const testing::temp_dir& d, const std::string& text) {
  const auto p = d.path() / "g.toml";
  std::ofstream(p) << text;
  try {
    load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(NotifySign, DingTalkSignatureMatchesAnIndependentComputation) {
  // Python: base64(hmac.new(secret, "1700000000000\n" + secret, sha256)), urllib.parse.quote(safe="").
  EXPECT_EQ(dingtalk_signature("SEC0123456789abcdef", 1700000000000), "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
  EXPECT_EQ(dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SEC0123456789abcdef",
                                1700000000000),
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000"
            "&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
  EXPECT_EQ(dingtalk_signed_url("https://h/p", "s", 1).find("https://h/p?timestamp=1&sign="), 0u);
  EXPECT_NE(dingtalk_signature("SEC0123456789abcdef", 1700000000001), dingtalk_signature("SEC0123456789abcdef", 1700000000000));
}

TEST(NotifyUrl, LoggableUrlsKeepNoQueryAndNoUserInfo) {
  EXPECT_EQ(loggable_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…");
  EXPECT_EQ(loggable_url("https://user:pw@host:8443/hook#frag"), "https://host:8443/hook?…");
  EXPECT_EQ(loggable_url("http://127.0.0.1:9000/hook"), "http://127.0.0.1:9000/hook");
  EXPECT_EQ(loggable_url("https://h?access_token=x"), "https://h?…");
}

TEST(NotifyAnswer, TwoHundredWithErrcodeZeroIsDeliveredOtherwiseRetriedOrGivenUp) {
  struct row {
    notify_kind kind;
    long status;
    std::string body;
    bool delivered, permanent;
  };
  const std::vector<row> rows{
      {notify_kind::webhook, 204, "", true, false},
      {notify_kind::webhook, 503, "", false, false},
      {notify_kind::webhook, 429, "", false, false},
      {notify_kind::webhook, 408, "", false, false},
      {notify_kind::webhook, 404, "", false, true},
      {notify_kind::wecom, 200, R"({"errcode":0,"errmsg":"ok"})", true, false},
      {notify_kind::wecom, 200, R"({"errcode":45009,"errmsg":"api freq out of limit"})", false, false},
      {notify_kind::wecom, 200, R"({"errcode":93000,"errmsg":"invalid webhook url"})", false, true},
      {notify_kind::wecom, 200, "not json", false, false},
      {notify_kind::wecom, 200, R"({"errmsg":"ok"})", false, false},
      {notify_kind::wecom, 502, R"({"errcode":0})", false, false},
      {notify_kind::dingtalk, 200, R"({"errcode":0,"errmsg":"ok"})", true, false},
      {notify_kind::dingtalk, 200, R"({"errcode":130101,"errmsg":"send too fast"})", false, false},
      {notify_kind::dingtalk, 200, R"({"errcode":310000,"errmsg":"sign not match"})", false, true},
      {notify_kind::dingtalk, 200, R"({"errcode":300001,"errmsg":"token is not exist"})", false, true},
  };
  for (const auto& r : rows) {
    const auto v = judge_answer(r.kind, r.status, r.body);
    EXPECT_EQ(v.delivered, r.delivered) << to_string(r.kind) << " " << r.status << " " << r.body;
    EXPECT_EQ(v.permanent, r.permanent) << to_string(r.kind) << " " << r.status << " " << r.body;
    EXPECT_EQ(v.error.empty(), r.delivered) << v.error;
  }
  EXPECT_EQ(judge_answer(notify_kind::wecom, 200, R"({"errcode":45009,"errmsg":"api freq out of limit"})").error,
            "errcode 45009: api freq out of limit");
}

TEST(NotifyBackoff, DoublesFromTheInitialDelayUpToTheCapWithEqualJitter) {
  EXPECT_EQ(notify_backoff(1, 1000ms, 300000ms, 1.0), 1000ms);
  EXPECT_EQ(notify_backoff(1, 1000ms, 300000ms, 0.0), 500ms);
  EXPECT_EQ(notify_backoff(2, 1000ms, 300000ms, 1.0), 2000ms);
  EXPECT_EQ(notify_backoff(5, 1000ms, 300000ms, 1.0), 16000ms);
  EXPECT_EQ(notify_backoff(5, 1000ms, 300000ms, 0.5), 12000ms);
  EXPECT_EQ(notify_backoff(10, 1000ms, 300000ms, 1.0), 300000ms);
  EXPECT_EQ(notify_backoff(10000, 1000ms, 300000ms, 0.0), 150000ms);  // no overflow far past the cap
  EXPECT_EQ(notify_backoff(0, 1000ms, 300000ms, 1.0), 1000ms);
  EXPECT_EQ(notify_backoff(3, 1000ms, 300000ms, 7.0), 4000ms);  // jitter clamped to [0, 1]
}

TEST(NotifyConfig, TargetsAreReadWithTheirDefaultsAndRelativeCaFile) {
  testing::temp_dir d("notify-cfg");
  std::ofstream(d.path() / "ca.pem") << "x";
  std::ofstream(d.path() / "g.toml")
      << "[notify]\nqueue_max = 50\nmax_attempts = 4\ninitial_backoff_ms = 200\nmax_backoff_ms = 1000\ntimeout_ms = 3000\n"
         "[[notify.target]]\nname = \"county\"\nkind = \"wecom\"\nurl = \"https://qyapi.weixin.qq.com/x?key=k\"\n"
         "[[notify.target]]\nname = \"town-a\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=t\"\n"
         "secret = \"SECx\"\nlanguage = \"en\"\nevents = [\"raise\", \"clear\"]\nmin_severity = \"critical\"\n"
         "towns = [\"A\", \"B\"]\nca_file = \"ca.pem\"\n"
         "[[notify.target]]\nname = \"lab\"\nkind = \"webhook\"\nurl = \"http://10.0.0.5/hook\"\nallow_plaintext = true\n";
  const auto c = load_config(d.path() / "g.toml");
  ASSERT_EQ(c.notify.targets.size(), 3u);
  EXPECT_EQ(c.notify.queue_max, 50u);
  EXPECT_EQ(c.notify.max_attempts, 4u);
  EXPECT_EQ(c.notify.initial_backoff, 200ms);
  EXPECT_EQ(c.notify.max_backoff, 1000ms);
  EXPECT_EQ(c.notify.timeout, 3000ms);
  const auto& w = c.notify.targets[0];
  EXPECT_EQ(w.kind, notify_kind::wecom);
  EXPECT_EQ(w.language, notify_language::zh_cn);
  EXPECT_EQ(w.events, (std::vector<std::string>{"raise", "ack", "clear"}));
  EXPECT_EQ(w.min_severity, severity::info);
  EXPECT_TRUE(w.towns.empty());
  EXPECT_FALSE(w.allow_plaintext);
  const auto& t = c.notify.targets[1];
  EXPECT_EQ(t.kind, notify_kind::dingtalk);
  EXPECT_EQ(t.secret, "SECx");
  EXPECT_EQ(t.language, notify_language::en);
  EXPECT_EQ(t.events, (std::vector<std::string>{"raise", "clear"}));
  EXPECT_EQ(t.min_severity, severity::critical);
  EXPECT_EQ(t.towns, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(t.ca_file, (d.path() / "ca.pem").lexically_normal().string());
  EXPECT_TRUE(c.notify.targets[2].allow_plaintext);
}

TEST(NotifyConfig, ErrorsNameTheKeyAndNeverEchoTheUrlOrSecret) {
  testing::temp_dir d("notify-cfg-err");
  const std::string head = "[[notify.target]]\nname = \"n\"\n";
  struct row {
    std::string toml, expected;
  };
  const std::vector<row> rows{
      {"[notifier]\nwebhook_url = \"http://h/x\"\n",
       "notifier: was replaced by [[notify.target]] tables: for the former webhook_url write [[notify.target]] with "
       "name = \"webhook\", kind = \"webhook\", url = \"https://...\""},
      {head + "kind = \"wecom\"\nurl = \"http://h/x?key=TOPSECRET\"\n",
       "notify.target[0].url: is plaintext http://: set allow_plaintext = true in this target to accept that"},
      {head + "kind = \"slack\"\nurl = \"https://h\"\n", "notify.target[0].kind: must be \"webhook\", \"wecom\" or \"dingtalk\""},
      {head + "kind = \"wecom\"\nurl = \"ftp://h/x?key=TOPSECRET\"\n", "notify.target[0].url: must start with https://"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nsecret = \"TOPSECRET\"\n",
       "notify.target[0].secret: is only used by kind = \"dingtalk\""},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nlanguage = \"fr\"\n", "notify.target[0].language: must be \"zh-CN\" or \"en\""},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nevents = [\"raised\"]\n", "notify.target[0].events: \"raised\" is not one of"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nevents = []\n", "notify.target[0].events: must name at least one"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nmin_severity = \"high\"\n", "notify.target[0].min_severity: must be"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nca_file = \"nope.pem\"\n", "notify.target[0].ca_file: no such file"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nallow_plaintext = \"yes\"\n",
       "notify.target[0].allow_plaintext: must be true or false"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\nurll = \"x\"\n", "notify.target[0].urll: unknown key"},
      {"[[notify.target]]\nname = \"bad name\"\nkind = \"wecom\"\nurl = \"https://h\"\n", "notify.target[0].name: must be 1..64"},
      {head + "kind = \"wecom\"\nurl = \"https://h\"\n" + head + "kind = \"wecom\"\nurl = \"https://h\"\n",
       "notify.target[1].name: \"n\" is used by an earlier target"},
      {"[notify]\ninitial_backoff_ms = 5000\nmax_backoff_ms = 1000\n", "notify.max_backoff_ms: must not be below initial_backoff_ms"},
      {"[notify]\ntarget = 3\n", "notify.target: must be [[notify.target]] tables"},
  };
  for (const auto& r : rows) {
    const auto e = config_error_of(d, r.toml);
    EXPECT_NE(e.find(r.expected), std::string::npos) << "config:\n" << r.toml << "error: " << e;
    EXPECT_EQ(e.find("TOPSECRET"), std::string::npos) << e;
  }
}

// ---- routing and the queue ----

class NotifyQueue : public ::testing::Test {
 protected:
  NotifyQueue() : dir_("notify-queue"), db_(dir_.path() / "g.db", 100) {}

  std::unique_ptr<notifier> make(std::vector<notify_target> targets) {
    notify_settings s;
    s.targets = std::move(targets);
    return std::make_unique<notifier>(s, county_zone{}, std::make_unique<sqlite_store>(dir_.path() / "g.db", 100));
  }
  static notify_target target(std::string name) {
    notify_target t;
    t.name = std::move(name);
    t.kind = notify_kind::wecom;
    t.url = "https://127.0.0.1:1/x";  // never reached: these tests look at the rows only
    return t;
  }
  static proto::alert_message alert(proto::alert_type type, proto::alert_state state) {
    proto::alert_message a;
    a.terminal_id = "T1";
    a.type = type;
    a.state = state;
    a.alert_id = 5;
    a.raised_at = test::at("2026-11-29T08:00:00Z");
    return a;
  }

  testing::temp_dir dir_;
  sqlite_store db_;
};

TEST_F(NotifyQueue, TransitionsAreRoutedByEventSeverityAndTown) {
  auto all = target("all");
  auto clears_only = target("clears");
  clears_only.events = {"clear"};
  auto critical = target("critical");
  critical.min_severity = severity::critical;
  auto town_b = target("town-b");
  town_b.towns = {"B"};
  auto n = make({all, clears_only, critical, town_b});
  terminal_info t1 = test::terminal("T1");
  t1.town = "A";
  const auto names = [&](proto::alert_type type, proto::alert_state state, const terminal_info* t) {
    std::vector<notification_row> rows;
    n->on_transition(alert(type, state), t, rows);
    std::vector<std::string> out;
    for (const auto& r : rows) {
      EXPECT_EQ(r.subject_kind, "alert");
      EXPECT_EQ(r.subject_id, 5u);
      EXPECT_EQ(r.event, std::string(notify_event(state)));
      EXPECT_FALSE(r.body.empty());
      out.push_back(r.target);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(proto::alert_type::turbidity_high, proto::alert_state::raised, &t1), (V{"all", "critical"}));
  EXPECT_EQ(names(proto::alert_type::flow_high, proto::alert_state::raised, &t1), (V{"all"}));  // warning
  EXPECT_EQ(names(proto::alert_type::no_flow, proto::alert_state::cleared, &t1), (V{"all", "clears", "critical"}));
  EXPECT_EQ(names(proto::alert_type::clock_skew, proto::alert_state::acknowledged, &t1), (V{"all"}));
  t1.town = "B";
  EXPECT_EQ(names(proto::alert_type::clock_skew, proto::alert_state::raised, &t1), (V{"all", "town-b"}));
  // A terminal no longer registered: no town, so no town-filtered target; the text says "-".
  EXPECT_EQ(names(proto::alert_type::offline, proto::alert_state::raised, nullptr), (V{"all", "critical"}));
}

TEST_F(NotifyQueue, QueueIsFirstInFirstOutPerTargetBoundedAndSurvivesReopening) {
  write_batch b;
  for (int i = 0; i < 6; ++i) {
    notification_row r;
    r.target = i % 2 == 0 ? "a" : "b";
    r.subject_id = static_cast<std::uint64_t>(i + 1);
    r.event = "raise";
    r.body = "{}";
    r.created_ms = 1000 + i;
    r.next_attempt_ms = 1000 + i;
    b.notifications.push_back(r);
  }
  db_.apply(b);
  auto heads = db_.notification_heads(10);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].target, "a");
  EXPECT_EQ(heads[0].subject_id, 1u);
  EXPECT_EQ(heads[1].subject_id, 2u);
  db_.notification_retry(heads[0].id, 3, 99999, "HTTP 503");
  {
    sqlite_store reopened(dir_.path() / "g.db", 100);  // another connection: a restart
    EXPECT_EQ(reopened.notification_count(), 6u);
    heads = reopened.notification_heads(10);
    EXPECT_EQ(heads[0].attempts, 3u);
    EXPECT_EQ(heads[0].next_attempt_ms, 99999);
    EXPECT_EQ(heads[0].last_error, "HTTP 503");
    reopened.notification_remove(heads[0].id);
  }
  heads = db_.notification_heads(10);
  EXPECT_EQ(heads[0].subject_id, 2u);  // b's head
  EXPECT_EQ(heads[1].subject_id, 3u);  // a's next
  EXPECT_EQ(db_.notification_trim(3), 2u);  // 5 left -> the 2 oldest go
  EXPECT_EQ(db_.notification_count(), 3u);
  heads = db_.notification_heads(10);
  EXPECT_EQ(heads[0].subject_id, 4u);
  EXPECT_EQ(heads[1].subject_id, 5u);
  EXPECT_EQ(db_.notification_trim(3), 0u);
  sqlite_store reader(dir_.path() / "g.db", 100, sqlite_store::access::read_only);
  EXPECT_THROW(reader.notification_remove(heads[0].id), store_error);
}

TEST_F(NotifyQueue, ADatabaseOfTheFirstSchemaMigratesToTheQueue) {
  const auto path = dir_.path() / "v1.db";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, sqlite_schema_v1_sql(), nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=1", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  sqlite_store s(path, 100);
  EXPECT_EQ(s.schema_version(), sqlite_schema_version);
  EXPECT_EQ(s.notification_count(), 0u);
}

/// Records what the engine hands over; rows get a fixed target.
class recording_listener final : public alert_listener {
 public:
  void on_transition(const proto::alert_message& a, const terminal_info* t,
                     std::vector<notification_row>& queue) noexcept override {
    seen.push_back(a);
    towns.push_back(t != nullptr ? t->town : "<none>");
    notification_row r;
    r.target = "x";
    r.subject_id = a.alert_id;
    r.event = std::string(notify_event(a.state));
    r.body = "{}";
    queue.push_back(r);
  }
  void on_committed() noexcept override { ++commits; }
  std::vector<proto::alert_message> seen;
  std::vector<std::string> towns;
  int commits{0};
};

TEST_F(NotifyQueue, TheEngineStoresNotificationsInTheCommitOfTheirTransition) {
  config cfg;
  cfg.startup_grace = 0s;
  cfg.defaults.turbidity_debounce_s = 0;
  auto t1 = test::terminal("T1", cfg.defaults);
  t1.town = "A";
  manual_clock clock(test::at("2026-11-29T08:00:00Z"));
  test::fake_publisher pub;
  recording_listener listener;
  engine eng(cfg, registry({t1}), db_, clock, pub, default_rules(), &listener);
  const auto r = test::with_turbidity(test::record("T1", 1, test::at("2026-11-29T07:59:00Z")), 50.0);
  eng.handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock.now()});
  ASSERT_EQ(listener.seen.size(), 1u);
  EXPECT_EQ(listener.towns[0], "A");
  EXPECT_EQ(db_.notification_count(), 0u) << "nothing before the commit";
  EXPECT_EQ(listener.commits, 0);
  ASSERT_TRUE(eng.flush());
  EXPECT_EQ(db_.notification_count(), 1u);
  EXPECT_EQ(listener.commits, 1);
  ASSERT_TRUE(db_.alert(listener.seen[0].alert_id).has_value()) << "the transition is in the same commit";
  // An acknowledgement's notification is committed with it, too.
  EXPECT_EQ(eng.acknowledge(listener.seen[0].alert_id, "wang", "", nullptr), engine::ack_result::acknowledged);
  EXPECT_EQ(db_.notification_count(), 2u);
  EXPECT_EQ(db_.notification_heads(1).at(0).subject_id, listener.seen[0].alert_id);
  EXPECT_EQ(listener.commits, 2);
  // A flush without new rows does not wake the notifier.
  ASSERT_TRUE(eng.flush());
  EXPECT_EQ(listener.commits, 2);
}

}  // namespace
}  // namespace sewage::gateway
