// Alarm discipline (issue 12 item 6): maintenance windows and their recurrence in the county's
// zone (Asia/Shanghai and a daylight-saving zone), suppression and release on the engine's
// simulated clock, shelving, escalation of unacknowledged alerts (restart-safe), grouping of
// repeats, the [alarms] configuration.
#include "sewage/gateway/alarms/discipline.hpp"
#include "sewage/gateway/alarms/windows.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/engine.hpp"
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
using alarms::maintenance_window;
using alarms::occurrence;
using alarms::recurrence;
using test::at;

maintenance_window daily(const char* from, std::chrono::seconds local_start, std::chrono::seconds duration) {
  maintenance_window w;
  w.id = 1;
  w.site_id = "T1";
  w.kind = recurrence::daily;
  w.start = at(from);
  w.local_start = local_start;
  w.duration = duration;
  w.reason = "pump overhaul";
  return w;
}

TEST(AlarmWindows, DailyWindowOverMidnightInShanghai) {
  const county_zone zone;  // Asia/Shanghai, UTC+8, no daylight saving
  const auto w = daily("2026-11-01T00:00:00Z", 23h, 2h);  // 23:00 .. 01:00 local
  const occurrence night{at("2026-11-29T15:00:00Z"), at("2026-11-29T17:00:00Z")};
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-11-29T15:00:00Z"), zone), night);  // 23:00 local, first instant
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-11-29T15:30:00Z"), zone), night);  // 23:30 local
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-11-29T16:30:00Z"), zone), night);  // 00:30 the next local day
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-11-29T17:00:00Z"), zone));      // 01:00 local: over
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-11-29T14:59:59Z"), zone));
  // Before the window's start no occurrence counts; the first is on its first local day.
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-10-31T15:30:00Z"), zone));
  EXPECT_EQ(alarms::next_occurrence(w, at("2026-10-20T00:00:00Z"), zone),
            (occurrence{at("2026-11-01T15:00:00Z"), at("2026-11-01T17:00:00Z")}));
  // Until: occurrences starting at or after `end` do not count.
  auto until = w;
  until.end = at("2026-11-29T15:00:00Z");
  EXPECT_FALSE(alarms::occurrence_at(until, at("2026-11-29T15:30:00Z"), zone));
  EXPECT_TRUE(alarms::occurrence_at(until, at("2026-11-28T16:30:00Z"), zone));
  // Ended early: the occurrence in progress is cut, none starts later.
  auto ended = w;
  ended.ended = at("2026-11-29T15:45:00Z");
  EXPECT_EQ(alarms::occurrence_at(ended, at("2026-11-29T15:30:00Z"), zone),
            (occurrence{at("2026-11-29T15:00:00Z"), at("2026-11-29T15:45:00Z")}));
  EXPECT_FALSE(alarms::occurrence_at(ended, at("2026-11-29T15:50:00Z"), zone));
  EXPECT_FALSE(alarms::occurrence_at(ended, at("2026-11-30T15:30:00Z"), zone));
}

TEST(AlarmWindows, WeeklyWindowOnlyOnItsWeekdays) {
  const county_zone zone;
  auto w = daily("2026-11-01T00:00:00Z", 8h, 1h);
  w.kind = recurrence::weekly;
  w.weekdays = 1u << 0;  // Monday
  // 2026-11-30 is a Monday: 08:00 local = 00:00 UTC.
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-11-30T00:30:00Z"), zone),
            (occurrence{at("2026-11-30T00:00:00Z"), at("2026-11-30T01:00:00Z")}));
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-12-01T00:30:00Z"), zone));  // Tuesday
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-11-29T00:30:00Z"), zone));  // Sunday
  w.weekdays = static_cast<std::uint8_t>(w.weekdays | (1u << 6));           // and Sunday
  EXPECT_TRUE(alarms::occurrence_at(w, at("2026-11-29T00:30:00Z"), zone));
}

TEST(AlarmWindows, RecurrenceFollowsDaylightSavingInTheCountyZone) {
  const auto berlin = county_zone::locate("Europe/Berlin");
  ASSERT_TRUE(berlin.has_value());
  const auto w = daily("2026-03-01T00:00:00Z", 2h + 30min, 1h);  // 02:30 local for one hour
  // The day before the spring-forward night: 02:30 CET = 01:30 UTC.
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-03-28T01:45:00Z"), *berlin),
            (occurrence{at("2026-03-28T01:30:00Z"), at("2026-03-28T02:30:00Z")}));
  // 2026-03-29: 02:00 CET jumps to 03:00 CEST, 02:30 does not exist: the window starts at the
  // transition (01:00 UTC) and lasts its hour.
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-03-29T01:10:00Z"), *berlin),
            (occurrence{at("2026-03-29T01:00:00Z"), at("2026-03-29T02:00:00Z")}));
  EXPECT_FALSE(alarms::occurrence_at(w, at("2026-03-29T00:45:00Z"), *berlin));
  // The day after: 02:30 CEST = 00:30 UTC.
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-03-30T00:45:00Z"), *berlin),
            (occurrence{at("2026-03-30T00:30:00Z"), at("2026-03-30T01:30:00Z")}));
  // 2026-10-25: 02:30 happens twice; the first (CEST, 00:30 UTC) is the one.
  EXPECT_EQ(alarms::occurrence_at(w, at("2026-10-25T00:40:00Z"), *berlin),
            (occurrence{at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z")}));
}

TEST(AlarmWindows, ProblemsNameTheField) {
  maintenance_window once;
  once.site_id = "T1";
  once.reason = "r";
  once.start = at("2026-11-29T00:00:00Z");
  EXPECT_EQ(alarms::window_problem(once).value_or(""), "end: required for a one-off window");
  once.end = once.start;
  EXPECT_EQ(alarms::window_problem(once).value_or(""), "end: must be after start");
  once.end = once.start + std::chrono::days(32);
  EXPECT_EQ(alarms::window_problem(once).value_or("").find("end: a one-off window lasts at most 31 days"), 0u);
  once.end = once.start + 1h;
  EXPECT_FALSE(alarms::window_problem(once));
  once.reason.clear();
  EXPECT_EQ(alarms::window_problem(once).value_or("").find("reason: required"), 0u);
  auto w = daily("2026-11-01T00:00:00Z", 24h, 1h);
  EXPECT_EQ(alarms::window_problem(w).value_or("").find("local_start:"), 0u);
  w = daily("2026-11-01T00:00:00Z", 1h, 0s);
  EXPECT_EQ(alarms::window_problem(w).value_or("").find("duration_s:"), 0u);
  w = daily("2026-11-01T00:00:00Z", 1h, std::chrono::days(8));
  EXPECT_EQ(alarms::window_problem(w).value_or("").find("duration_s:"), 0u);
  w = daily("2026-11-01T00:00:00Z", 1h, 1h);
  w.kind = recurrence::weekly;
  EXPECT_EQ(alarms::window_problem(w).value_or("").find("weekdays:"), 0u);
}

TEST(AlarmConfig, AlarmsTableIsReadWithDefaultsAndErrorsNameTheKey) {
  testing::temp_dir d("alarms-cfg");
  std::ofstream(d.path() / "g.toml") << "[alarms]\nmax_shelve_s = 7200\nescalate_after_min = [15, 60]\ngroup_window_s = 900\n[incidents]\nweather_hold_s = 600\n";
  const auto c = load_config(d.path() / "g.toml");
  EXPECT_EQ(c.alarms.max_shelve_s, 7200);
  EXPECT_EQ(c.alarms.escalate_town_after_min, 15);
  EXPECT_EQ(c.alarms.escalate_county_after_min, 60);
  EXPECT_EQ(c.alarms.group_window_s, 900);
  const alarms::settings defaults;
  EXPECT_EQ(defaults.escalate_town_after_min, 30);
  EXPECT_EQ(defaults.escalate_county_after_min, 120);
  const std::vector<std::pair<std::string, std::string>> rows{
      {"[alarms]\nescalate_after_min = [120, 30]\n", "alarms.escalate_after_min: the county level's minutes must be above"},
      {"[alarms]\nescalate_after_min = [30]\n", "alarms.escalate_after_min: must be two whole numbers"},
      {"[alarms]\nescalate_after_min = [0, 30]\n", "alarms.escalate_after_min: the town level's minutes must be in"},
      {"[alarms]\nmax_shelve_s = 10\n", "alarms.max_shelve_s: must be in [60, 2592000]"},
      {"[alarms]\ngroup_window_s = -1\n", "alarms.group_window_s: must be in"},
      {"[alarms]\nshelve_max = 1\n", "alarms.shelve_max: unknown key"},
  };
  for (const auto& [toml, expected] : rows) {
    const auto e = test::config_error_of(d.path(), toml);
    EXPECT_NE(e.find(expected), std::string::npos) << toml << " -> " << e;
  }
}

// ---- the discipline on the engine's simulated clock ----

class AlarmDiscipline : public ::testing::Test {
 protected:
  AlarmDiscipline() : dir_("alarm-discipline"), db_(dir_.path() / "g.db", 100), clock_(at("2026-11-29T08:00:00Z")) {
    cfg_.startup_grace = 0s;
    cfg_.defaults.turbidity_debounce_s = 0;
    t1_ = test::terminal("T1", cfg_.defaults);
    t1_.town = "A";
    t1_.name = "North";
    notify_settings ns;
    for (const auto& [name, level] : {std::pair{"duty", notify_level::operator_}, std::pair{"town-a", notify_level::town},
                                      std::pair{"county", notify_level::county}}) {
      notify_target t;
      t.name = name;
      t.kind = notify_kind::webhook;
      t.level = level;
      t.url = "https://127.0.0.1:1/x";  // refused at once; retried an hour later: the rows stay
      ns.targets.push_back(t);
    }
    ns.initial_backoff = std::chrono::hours(1);
    ns.max_backoff = std::chrono::hours(1);
    ns.max_attempts = 1000;
    notifier_ = std::make_unique<notifier>(ns, county_zone{}, std::make_unique<sqlite_store>(dir_.path() / "g.db", 100));
    settings_.group_window_s = 600;
    start();
  }
  /// (Re)starts discipline and engine on the same database: a gateway restart.
  void start() {
    eng_.reset();
    discipline_.reset();
    discipline_ = std::make_unique<alarms::discipline>(dir_.path() / "g.db", settings_, county_zone{}, clock_,
                                                       notifier_.get(), notifier_.get());
    eng_ = std::make_unique<engine>(cfg_, registry({t1_}), db_, clock_, pub_, default_rules(), discipline_.get());
  }
  /// A turbidity reading now (50 NTU raises, 1 NTU clears).
  void turbidity(double ntu) {
    const auto r = test::with_turbidity(test::record("T1", ++seq_, clock_.now()), ntu);
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
    ASSERT_TRUE(eng_->flush());
  }
  std::uint64_t open_id() {
    for (const auto& [id, a] : eng_->open_alerts())
      if (a.type == proto::alert_type::turbidity_high) return id;
    return 0;
  }
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    discipline_->tick(*eng_);
  }
  /// Queue rows of `target` with event `event`.
  int rows(const std::string& target, const std::string& event) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_.path() / "g.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw, "SELECT count(*) FROM notify_queue WHERE target = ? AND event = ?", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, target.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, event.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    const int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(raw);
    return n;
  }
  maintenance_window once(proto::timestamp from, proto::timestamp to) {
    maintenance_window w;
    w.site_id = "T1";
    w.kind = recurrence::once;
    w.start = from;
    w.end = to;
    w.reason = "desludging";
    w.created_by = "wang";
    return discipline_->create_window(w);
  }

  testing::temp_dir dir_;
  sqlite_store db_;
  manual_clock clock_;
  config cfg_;
  terminal_info t1_;
  alarms::settings settings_;
  test::fake_publisher pub_;
  std::unique_ptr<notifier> notifier_;
  std::unique_ptr<alarms::discipline> discipline_;
  std::unique_ptr<engine> eng_;
  std::uint64_t seq_{0};
};

TEST_F(AlarmDiscipline, AnUnacknowledgedAlertEscalatesToTownThenCountyOnceEachAcrossRestarts) {
  turbidity(50);
  const auto id = open_id();
  ASSERT_NE(id, 0u);
  EXPECT_EQ(rows("duty", "raise"), 1);
  advance(29min + 59s);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0);
  advance(1s);  // 30 min after the raise
  EXPECT_EQ(rows("town-a", "escalate_town"), 1);
  EXPECT_EQ(rows("county", "escalate_county"), 0);
  EXPECT_EQ(discipline_->state_of(id)->escalated, notify_level::town);
  advance(10min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 1) << "once per level";
  start();  // restart before the county level is due
  advance(80min);  // 120 min after the raise
  EXPECT_EQ(rows("town-a", "escalate_town"), 1) << "not again after the restart";
  EXPECT_EQ(rows("county", "escalate_county"), 1);
  EXPECT_EQ(discipline_->state_of(id)->escalated, notify_level::county);
  start();
  advance(5h);
  EXPECT_EQ(rows("county", "escalate_county"), 1);
  EXPECT_EQ(rows("duty", "escalate_town") + rows("duty", "escalate_county"), 0) << "operator targets get no escalations";
  EXPECT_EQ(discipline_->counters().escalated_town, 0u) << "the restarted discipline had nothing left to do";
}

TEST_F(AlarmDiscipline, AnAcknowledgedAlertDoesNotEscalate) {
  turbidity(50);
  advance(10min);
  ASSERT_EQ(eng_->acknowledge(open_id(), "wang", "", nullptr), engine::ack_result::acknowledged);
  advance(3h);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0);
  EXPECT_FALSE(discipline_->state_of(open_id())->escalated.has_value());
}

TEST_F(AlarmDiscipline, AMaintenanceWindowSuppressesUntilItEndsThenTheAlertIsNormal) {
  const auto w = once(clock_.now() - 1min, clock_.now() + 60min);
  turbidity(50);
  const auto id = open_id();
  ASSERT_NE(id, 0u);
  EXPECT_EQ(rows("duty", "raise"), 0) << "suppressed: not notified";
  auto s = discipline_->state_of(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->suppressed());
  EXPECT_EQ(s->window_id, w.id);
  EXPECT_TRUE(discipline_->quiet(id));
  EXPECT_TRUE(discipline_->suppressed(id)) << "the hook work orders check";
  advance(45min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0) << "a suppressed alert does not escalate";
  advance(16min);  // the window is over, the turbidity still high
  s = discipline_->state_of(id);
  EXPECT_FALSE(s->suppressed());
  ASSERT_TRUE(s->released.has_value());
  EXPECT_EQ(*s->released, clock_.now());
  EXPECT_FALSE(discipline_->quiet(id));
  EXPECT_EQ(rows("duty", "raise"), 1) << "notified when it became a normal active alert";
  advance(29min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0) << "escalation counts from the release";
  advance(1min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 1);
  start();
  advance(1s);
  EXPECT_EQ(rows("duty", "raise"), 1) << "the release is notified once, restarts included";
}

TEST_F(AlarmDiscipline, AnAlertClearedInsideItsWindowIsNeverNotified) {
  const auto w = once(clock_.now(), clock_.now() + 2h);
  turbidity(50);
  advance(10min);
  turbidity(1);
  EXPECT_EQ(open_id(), 0u);
  advance(3h);
  EXPECT_EQ(rows("duty", "raise") + rows("duty", "clear"), 0);
  EXPECT_EQ(discipline_->counters().suppressed, 1u);
  // Ending early and deleting: refused twice, audited by the API.
  EXPECT_THROW(discipline_->end_window(w.id, "wang"), alarms::discipline_error);  // over already
  discipline_->delete_window(w.id);
  EXPECT_FALSE(discipline_->window(w.id).has_value());
}

TEST_F(AlarmDiscipline, ARecurringNightWindowOverMidnightOnTheEngineClock) {
  // 23:00 .. 01:00 local (Asia/Shanghai) every day; the clock at 00:30 local of 2026-11-30.
  clock_.set(at("2026-11-29T16:30:00Z"));
  maintenance_window w;
  w.site_id = "T1";
  w.kind = recurrence::daily;
  w.start = at("2026-11-01T00:00:00Z");
  w.local_start = 23h;
  w.duration = 2h;
  w.reason = "night pump test";
  w.created_by = "wang";
  discipline_->create_window(w);
  turbidity(50);
  const auto id = open_id();
  EXPECT_TRUE(discipline_->suppressed(id));
  advance(29min);  // 00:59 local
  EXPECT_TRUE(discipline_->suppressed(id));
  advance(1min);  // 01:00 local: over
  EXPECT_FALSE(discipline_->suppressed(id));
  EXPECT_EQ(rows("duty", "raise"), 1);
}

TEST_F(AlarmDiscipline, AShelvedAlertReturnsUnacknowledgedWhenItsTimeRunsOut) {
  turbidity(50);
  const auto id = open_id();
  const auto a = eng_->open_alerts().at(id);
  EXPECT_THROW(discipline_->shelve(a, 0, "", "wang"), alarms::discipline_error);
  try {
    discipline_->shelve(a, settings_.max_shelve_s + 1, "", "wang");
    ADD_FAILURE() << "no refusal";
  } catch (const alarms::discipline_error& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(std::string(e.what()).find("duration_s: must be 1 .. 86400"), 0u) << e.what();
  }
  const auto s = discipline_->shelve(a, 3600, "sensor being cleaned", "wang");
  EXPECT_TRUE(s.shelved());
  EXPECT_EQ(*s.shelved_until, clock_.now() + 1h);
  EXPECT_TRUE(discipline_->quiet(id));
  try {
    discipline_->shelve(a, 60, "", "li");
    ADD_FAILURE() << "shelved twice";
  } catch (const alarms::discipline_error& e) {
    EXPECT_EQ(e.status(), 409);
  }
  advance(45min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0) << "a shelved alert does not escalate";
  EXPECT_TRUE(discipline_->state_of(id)->shelved());
  advance(15min);  // the hour is over
  const auto back = discipline_->state_of(id);
  EXPECT_FALSE(back->shelved());
  EXPECT_EQ(*back->unshelved, *s.shelved_until);
  EXPECT_FALSE(discipline_->quiet(id));
  EXPECT_EQ(eng_->open_alerts().at(id).state, proto::alert_state::raised) << "back unacknowledged";
  advance(29min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 0) << "escalation counts from the return";
  advance(1min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 1);
  // A cleared alert cannot be shelved.
  turbidity(1);
  auto cleared = a;
  cleared.state = proto::alert_state::cleared;
  EXPECT_THROW(discipline_->shelve(cleared, 60, "", "wang"), alarms::discipline_error);
}

// The incident correlator holds a weather-driven raise up to weather_hold_s before the discipline
// sees it (incidents/weather.hpp); an operator may shelve it meanwhile from the alerts page.
TEST_F(AlarmDiscipline, AShelfPutOnAnAlertBeforeItsRaiseReachedTheDisciplineIsKept) {
  proto::alert_message a;
  a.alert_id = 77;
  a.terminal_id = "T1";
  a.type = proto::alert_type::turbidity_high;
  a.raised_at = clock_.now();
  a.message = "turbidity_high at T1";
  const auto s = discipline_->shelve(a, 3600, "first flush, known", "wang");
  clock_.advance(15min);
  std::vector<notification_row> queue;
  discipline_->on_transition(a, &t1_, queue);
  const auto after = discipline_->state_of(77);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->shelved());
  EXPECT_EQ(after->shelved_until, s.shelved_until);
  EXPECT_EQ(after->shelved_by, "wang");
  EXPECT_EQ(after->shelve_note, "first flush, known");
  EXPECT_TRUE(after->group_id.has_value()) << "and the raise is recorded as usual";
}

TEST_F(AlarmDiscipline, RepeatsWithinTheGroupWindowAreOneEpisodeWithACount) {
  const auto first_raise = clock_.now();
  turbidity(50);
  const auto head = open_id();
  advance(2min);
  turbidity(1);
  advance(3min);
  turbidity(50);  // 3 min after the clear: a repeat
  const auto second = open_id();
  ASSERT_NE(second, head);
  advance(1min);
  turbidity(1);
  advance(9min);
  const auto last_raise = clock_.now();
  turbidity(50);  // 9 min after the last clear (window 10 min): a repeat
  const auto third = open_id();
  auto s = discipline_->state_of(third);
  ASSERT_TRUE(s && s->group);
  EXPECT_EQ(s->repeat_of, head);
  EXPECT_EQ(s->group->head_alert, head);
  EXPECT_EQ(s->group->repeats, 2u);
  EXPECT_EQ(s->group->first, first_raise);
  EXPECT_EQ(s->group->last, last_raise);
  EXPECT_EQ(discipline_->state_of(second)->repeat_of, head);
  EXPECT_EQ(rows("duty", "raise"), 1) << "no notification per repeat";
  EXPECT_EQ(rows("duty", "clear"), 1);
  EXPECT_EQ(discipline_->counters().grouped, 2u);
  // The group escalates once: the repeat's escalation is the group's.
  advance(30min);
  EXPECT_EQ(rows("town-a", "escalate_town"), 1);
  // Beyond the group window after the last clear: a new episode, notified.
  turbidity(1);
  advance(11min);
  turbidity(50);
  const auto fresh = discipline_->state_of(open_id());
  ASSERT_TRUE(fresh && fresh->group);
  EXPECT_FALSE(fresh->repeat_of.has_value());
  EXPECT_EQ(fresh->group->repeats, 0u);
  EXPECT_EQ(rows("duty", "raise"), 2);
}

}  // namespace
}  // namespace sewage::gateway
