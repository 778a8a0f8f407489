// Escalation levels of the notify room (issue 12): the `level` key of [[notify.target]], routing of
// notifier::enqueue_escalation by level and town, the once-key that makes it restart-safe, and the
// escalation texts of each target kind in zh-CN and en.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/notify/message.hpp"
#include "sewage/gateway/notify/notifier.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace sewage::gateway {
namespace {

using nlohmann::json;

TEST(NotifyEscalationConfig, LevelDefaultsToOperatorAndIsReadOrRefusedByName) {
  testing::temp_dir d("notify-level");
  std::ofstream(d.path() / "g.toml")
      << "[[notify.target]]\nname = \"duty\"\nkind = \"wecom\"\nurl = \"https://h/x?key=k\"\n"
         "[[notify.target]]\nname = \"town-a\"\nkind = \"dingtalk\"\nurl = \"https://h/y\"\nlevel = \"town\"\n"
         "towns = [\"A\"]\n"
         "[[notify.target]]\nname = \"county\"\nkind = \"webhook\"\nurl = \"https://h/z\"\nlevel = \"county\"\n";
  const auto c = load_config(d.path() / "g.toml");
  ASSERT_EQ(c.notify.targets.size(), 3u);
  EXPECT_EQ(c.notify.targets[0].level, notify_level::operator_);
  EXPECT_EQ(c.notify.targets[1].level, notify_level::town);
  EXPECT_EQ(c.notify.targets[1].towns, (std::vector<std::string>{"A"}));
  EXPECT_EQ(c.notify.targets[2].level, notify_level::county);
  for (const auto* bad : {"\"province\"", "\"Town\"", "3"}) {
    const auto e = test::config_error_of(
        d.path(), std::string("[[notify.target]]\nname = \"n\"\nkind = \"wecom\"\nurl = \"https://h\"\nlevel = ") + bad + "\n");
    EXPECT_NE(e.find("notify.target[0].level: must be"), std::string::npos) << bad << ": " << e;
  }
  for (const auto l : {notify_level::operator_, notify_level::town, notify_level::county})
    EXPECT_EQ(parse_notify_level(to_string(l)), l);
  EXPECT_FALSE(parse_notify_level("").has_value());
}

class NotifyEscalation : public ::testing::Test {
 protected:
  NotifyEscalation() : dir_("notify-escalation"), db_(dir_.path() / "g.db", 100) {}

  std::unique_ptr<notifier> make(std::vector<notify_target> targets) {
    notify_settings s;
    s.targets = std::move(targets);
    s.initial_backoff = std::chrono::hours(1);  // the unreachable URL is tried once, then waits
    s.max_backoff = std::chrono::hours(1);
    return std::make_unique<notifier>(s, county_zone{}, std::make_unique<sqlite_store>(dir_.path() / "g.db", 100));
  }
  static notify_target target(std::string name, notify_level level, std::vector<std::string> towns = {},
                              notify_kind kind = notify_kind::wecom) {
    notify_target t;
    t.name = std::move(name);
    t.kind = kind;
    t.level = level;
    t.towns = std::move(towns);
    t.url = "https://127.0.0.1:1/x";  // never reached: these tests look at the rows only
    return t;
  }
  static escalation_message message(std::uint64_t id, std::string key = {}) {
    escalation_message m;
    m.subject_kind = "alert";
    m.subject_id = id;
    m.site_name = "Haiyan North";
    m.what_zh = "出水浊度超标，30 分钟未确认";
    m.what_en = "Effluent turbidity high, not acknowledged for 30 min";
    m.since = test::at("2026-11-29T08:00:00Z");
    m.once_key = std::move(key);
    return m;
  }
  std::vector<std::string> queued_targets() {
    std::vector<std::string> out;
    for (auto h = db_.notification_heads(100); const auto& r : h) out.push_back(r.target);
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::temp_dir dir_;
  sqlite_store db_;
};

TEST_F(NotifyEscalation, EscalationsReachTheTargetsOfTheirLevelWhoseTownsIncludeTheSite) {
  auto n = make({target("duty", notify_level::operator_), target("town-a", notify_level::town, {"A"}),
                 target("town-b", notify_level::town, {"B"}), target("towns-all", notify_level::town),
                 target("county", notify_level::county)});
  using V = std::vector<std::string>;
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(7)), 2u);
  EXPECT_EQ(queued_targets(), (V{"town-a", "towns-all"}));
  const auto heads = db_.notification_heads(100);
  for (const auto& r : heads) {
    EXPECT_EQ(r.subject_kind, "alert");
    EXPECT_EQ(r.subject_id, 7u);
    EXPECT_EQ(r.event, "escalate_town");
  }
  EXPECT_EQ(n->enqueue_escalation(notify_level::county, "T1", "A", message(7)), 1u);
  EXPECT_EQ(db_.notification_count(), 3u);
  // A town no town target names: only the one without towns.
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T9", "C", message(8)), 1u);
  EXPECT_EQ(n->counts().escalations_queued, 4u);
  EXPECT_EQ(n->counts().escalations_unrouted, 0u);
}

TEST_F(NotifyEscalation, TownAndCountyTargetsGetNoAlertTransitionsAndAnUnroutedEscalationIsCounted) {
  auto n = make({target("duty", notify_level::operator_), target("town-a", notify_level::town, {"A"})});
  proto::alert_message a;
  a.terminal_id = "T1";
  a.type = proto::alert_type::no_flow;
  a.state = proto::alert_state::raised;
  a.alert_id = 3;
  a.raised_at = test::at("2026-11-29T08:00:00Z");
  auto t1 = test::terminal("T1");
  t1.town = "A";
  std::vector<notification_row> rows;
  n->on_transition(a, &t1, rows);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].target, "duty");
  // No county target at all: nothing queued, counted.
  EXPECT_EQ(n->enqueue_escalation(notify_level::county, "T1", "A", message(3)), 0u);
  EXPECT_EQ(n->counts().escalations_unrouted, 1u);
  EXPECT_EQ(db_.notification_count(), 0u);
}

TEST_F(NotifyEscalation, AOnceKeyQueuesAtMostOnceAcrossRestarts) {
  {
    auto n = make({target("town-a", notify_level::town, {"A"})});
    EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5, "alert:5:town")), 1u);
    EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5, "alert:5:town")), 0u);
  }
  // A restart: a new notifier on a new connection still knows the key.
  auto n = make({target("town-a", notify_level::town, {"A"})});
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5, "alert:5:town")), 0u);
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5, "alert:5:county")), 1u);
  EXPECT_EQ(db_.notification_count(), 2u);
  // Without a key every call queues.
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5)), 1u);
  EXPECT_EQ(n->enqueue_escalation(notify_level::town, "T1", "A", message(5)), 1u);
  EXPECT_EQ(db_.notification_count(), 4u);
  // The key store alone (notification_store): a used key inserts nothing.
  notification_row r;
  r.target = "x";
  r.body = "{}";
  EXPECT_TRUE(db_.notification_enqueue({r}, "k1"));
  EXPECT_FALSE(db_.notification_enqueue({r, r}, "k1"));
  EXPECT_EQ(db_.notification_count(), 5u);
}

TEST(NotifyEscalationText, TemplatesOfEachKindAndLanguage) {
  const county_zone zone;  // Asia/Shanghai
  escalation_message m;
  m.subject_kind = "work_order";
  m.subject_id = 42;
  m.site_name = "Haiyan North";
  m.what_zh = "工单逾期";
  m.what_en = "Work order overdue";
  m.since = test::at("2026-11-29T08:00:00Z");
  notify_target t;
  t.name = "x";
  t.url = "https://h";

  t.kind = notify_kind::webhook;
  t.language = notify_language::en;
  const auto w = json::parse(render_escalation(t, notify_level::county, "T1", "A", m, zone));
  EXPECT_EQ(w["kind"], "escalation");
  EXPECT_EQ(w["level"], "county");
  EXPECT_EQ(w["site_id"], "T1");
  EXPECT_EQ(w["site_name"], "Haiyan North");
  EXPECT_EQ(w["town"], "A");
  EXPECT_EQ(w["subject_kind"], "work_order");
  EXPECT_EQ(w["subject_id"], 42);
  EXPECT_EQ(w["what"], "Work order overdue");
  EXPECT_EQ(w["since"], "2026-11-29T08:00:00Z");
  t.language = notify_language::zh_cn;
  EXPECT_EQ(json::parse(render_escalation(t, notify_level::county, "T1", "A", m, zone))["what"], "工单逾期");

  t.kind = notify_kind::wecom;
  const auto wz = json::parse(render_escalation(t, notify_level::town, "T1", "A", m, zone));
  EXPECT_EQ(wz["msgtype"], "markdown");
  EXPECT_EQ(wz["markdown"]["content"],
            "### 【升级·镇级】工单逾期 T1\n- 站点：T1 Haiyan North\n- 镇/街道：A\n- 事项：工单逾期\n"
            "- 起始时间：2026-11-29 16:00:00 (Asia/Shanghai, UTC+08:00)\n- 升级级别：镇级\n- 编号：work_order 42");

  t.kind = notify_kind::dingtalk;
  t.language = notify_language::en;
  const auto de = json::parse(render_escalation(t, notify_level::county, "T1", "", m, zone));
  EXPECT_EQ(de["markdown"]["title"], "[Escalated: county] Work order overdue T1");
  EXPECT_EQ(de["markdown"]["text"],
            "### [Escalated: county] Work order overdue T1\n\n- Site: T1 Haiyan North\n\n- Town: -\n\n"
            "- What: Work order overdue\n\n- Since: 2026-11-29 16:00:00 (Asia/Shanghai, UTC+08:00)\n\n"
            "- Level: county\n\n- Reference: work_order 42");
  t.language = notify_language::zh_cn;
  EXPECT_EQ(json::parse(render_escalation(t, notify_level::county, "T1", "A", m, zone))["markdown"]["title"],
            "【升级·县级】工单逾期 T1");
}

}  // namespace
}  // namespace sewage::gateway
