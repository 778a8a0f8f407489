// Weather events (incidents/weather.hpp, issue 14 item 2b): flow_high / turbidity_high at many
// terminals at once become one incident of kind weather with one notification of its own, while a
// terminal that rises alone still alerts on its own; later terminals join without a notification;
// an event that resolved opens again inside the window, not after it; restarts; the [incidents]
// settings; and the event's figures (peak flow, peak turbidity, compliance hours lost) through
// GET /api/incidents/{id}, with the engine raising the alerts from records.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/incidents/weather.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "incidents_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <map>

namespace sewage::gateway::incidents {
namespace {

using namespace std::chrono_literals;
using test::at;

class WeatherEvents : public ::testing::Test {
 protected:
  WeatherEvents() : dir_("weather"), db_(dir_.path() / "g.db", 100), clock_(at("2026-12-01T08:00:00Z")) {
    // Ten terminals: T0..T4 in town A, T5..T9 in town B; one pump station.
    for (int k = 0; k < 10; ++k) {
      auto t = test::terminal("T" + std::to_string(k));
      t.town = k < 5 ? "A" : "B";
      t.village = "V" + std::to_string(k);
      sites_.push_back(t);
    }
    auto ps = test::terminal("PS1");
    ps.kind = site_kind::pump_station;
    ps.town = "A";
    sites_.push_back(ps);
    start();
  }
  /// The tests written before the hold (weather_settings::hold) pass `hold` 0: every raise not in
  /// an event is passed on at once; the hold's own tests give it.
  void start(weather_settings s = {}, std::chrono::seconds hold = 0s) {
    s.hold = hold;
    corr_.reset();
    corr_ = std::make_unique<correlator>(dir_.path() / "g.db", pipes_, clock_, &next_);
    corr_->set_weather(s);
  }
  const terminal_info* site(const std::string& id) const {
    for (const auto& s : sites_)
      if (s.id == id) return &s;
    return nullptr;
  }
  proto::alert_message raise(const std::string& id, proto::alert_type type = proto::alert_type::flow_high) {
    proto::alert_message a;
    a.terminal_id = id;
    a.type = type;
    a.alert_id = ++alert_id_;
    a.raised_at = clock_.now();
    a.message = std::string(proto::to_string(type)) + " at " + id;
    std::vector<notification_row> rows;
    corr_->on_transition(a, site(id), rows);
    return a;
  }
  void clear(proto::alert_message a) {
    a.state = proto::alert_state::cleared;
    a.cleared_at = clock_.now();
    std::vector<notification_row> rows;
    corr_->on_transition(a, site(a.terminal_id), rows);
  }
  /// Makes the correlator store released rows here: the once-keys, after `failures` refusals.
  std::vector<std::string>& capture_releases(int failures = 0) {
    release_failures_ = failures;
    released_keys_.clear();
    corr_->set_release([this](const std::vector<notification_row>& rows, const std::string& key) {
      if (release_failures_-- > 0) throw std::runtime_error("disk full");
      released_keys_.push_back(key);
      released_rows_ += rows.size();
    });
    return released_keys_;
  }
  /// Makes every alert's shelf (correlator::set_shelf) end at `end` (read at each call), as the
  /// discipline's would until its tick marks a shelf ended.
  void shelve_all_until(const proto::timestamp& end) {
    corr_->set_shelf([&end](std::uint64_t) -> std::optional<proto::timestamp> { return end; });
  }
  std::size_t forwarded_clears() const {
    std::size_t n = 0;
    for (const auto& a : next_.seen) n += a.state == proto::alert_state::cleared ? 1 : 0;
    return n;
  }

  testing::temp_dir dir_;
  sqlite_store db_;
  manual_clock clock_;
  network::holder pipes_;  // no network: weather events need none
  test::capture next_;
  std::vector<terminal_info> sites_;
  std::unique_ptr<correlator> corr_;
  std::uint64_t alert_id_{0};
  std::vector<std::string> released_keys_;
  std::size_t released_rows_{0};
  int release_failures_{0};
};

TEST_F(WeatherEvents, ManyTerminalsAtOnceAreOneEventWithOneNotificationOfItsOwn) {
  const auto a0 = raise("T0");
  clock_.advance(20min);
  const auto a5 = raise("T5", proto::alert_type::turbidity_high);
  EXPECT_TRUE(corr_->active().empty());
  ASSERT_EQ(next_.raises(), 2u);  // alone so far: each on its own, unchanged
  EXPECT_EQ(next_.seen[0].message, "flow_high at T0");
  EXPECT_EQ(next_.seen[1].message, "turbidity_high at T5");
  clock_.advance(40min);
  const auto a1 = raise("T1");
  // The third terminal within the window makes the event: its raise is the event's notification.
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  const auto& i = v.front();
  EXPECT_EQ(i.kind, incident_kind::weather);
  EXPECT_EQ(i.affected_terminals, (std::vector<std::string>{"T0", "T1", "T5"}));
  EXPECT_EQ(i.towns, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(i.villages, (std::vector<std::string>{"V0", "V1", "V5"}));
  EXPECT_EQ(i.title, "Weather event: 3 terminals in 2 towns");
  EXPECT_EQ(i.opened_at, a1.raised_at);
  ASSERT_EQ(i.alerts.size(), 3u);
  for (const auto& m : i.alerts) {
    EXPECT_EQ(m.role, alert_role::weather);
    EXPECT_TRUE(m.forwarded);
    EXPECT_TRUE(m.open);
  }
  ASSERT_EQ(next_.raises(), 3u);
  EXPECT_EQ(next_.seen[2].alert_id, a1.alert_id);
  EXPECT_EQ(next_.seen[2].message.rfind("Incident #" + std::to_string(i.id) + ": Weather event: flow_high and turbidity_high at 3 terminals within 3 h (T0, T1, T5); towns: A, B.", 0), 0u)
      << next_.seen[2].message;
  EXPECT_NE(next_.seen[2].message.find("Latest: T1: flow_high at T1"), std::string::npos) << next_.seen[2].message;
  // Seven more terminals over the next hours: members, no notification, held back from escalation.
  std::vector<proto::alert_message> later;
  for (const char* id : {"T2", "T3", "T4", "T6", "T7", "T8", "T9"}) {
    clock_.advance(30min);
    later.push_back(raise(id, id[1] % 2 == 0 ? proto::alert_type::turbidity_high : proto::alert_type::flow_high));
  }
  EXPECT_EQ(next_.raises(), 3u);
  const auto after = corr_->find(i.id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->affected_terminals.size(), 10u);
  EXPECT_EQ(after->title, "Weather event: 10 terminals in 2 towns");
  for (const auto& a : later) {
    EXPECT_TRUE(corr_->held_back(a.alert_id));
    EXPECT_EQ(corr_->incident_of(a.alert_id), i.id);
  }
  EXPECT_FALSE(corr_->held_back(a0.alert_id));  // notified on its own: its escalation is its own
  // Clears: those notified on their own are forwarded, the members that were not are not.
  for (const auto& a : later) clear(a);
  EXPECT_EQ(forwarded_clears(), 0u);
  clear(a0);
  clear(a5);
  EXPECT_EQ(forwarded_clears(), 2u);
  EXPECT_EQ(corr_->active().size(), 1u);
  clock_.advance(10min);
  clear(a1);
  EXPECT_EQ(forwarded_clears(), 3u);
  EXPECT_TRUE(corr_->active().empty());
  const auto done = corr_->find(i.id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, incident_state::resolved);
  EXPECT_EQ(done->resolved_at, clock_.now());
  EXPECT_EQ(corr_->counters().opened, 1u);
  EXPECT_EQ(corr_->counters().consequences, 0u);
}

TEST_F(WeatherEvents, ATerminalThatRisesAloneAlertsOnItsOwn) {
  // Three terminals, but never three within 3 h of each other: no event, every raise notified.
  raise("T0");
  clock_.advance(2h);
  raise("T1", proto::alert_type::turbidity_high);
  clock_.advance(2h);  // T0's raise is now 4 h old
  raise("T2");
  clock_.advance(3h + 1min);
  raise("T3");
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_TRUE(corr_->list(std::nullopt, 10).empty());
  ASSERT_EQ(next_.raises(), 4u);
  for (const auto& a : next_.seen) EXPECT_EQ(a.message.find("Incident #"), std::string::npos) << a.message;
  // The same terminal three times is one terminal, not three.
  clock_.advance(1h);
  for (int k = 0; k < 3; ++k) {
    auto a = raise("T9");
    clock_.advance(10min);
    clear(a);
  }
  EXPECT_TRUE(corr_->active().empty());
}

TEST_F(WeatherEvents, OtherTypesAndPumpStationsAreNoWeather) {
  raise("T0", proto::alert_type::no_flow);
  raise("T1", proto::alert_type::offline);
  raise("PS1", proto::alert_type::flow_high);  // not a terminal: never a weather member
  raise("T2", proto::alert_type::sensor_fault);
  raise("T3", proto::alert_type::flow_high);
  raise("T4", proto::alert_type::turbidity_high);
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(next_.raises(), 6u);
  raise("T5", proto::alert_type::flow_high);
  EXPECT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(corr_->active().front().affected_terminals, (std::vector<std::string>{"T3", "T4", "T5"}));
}

TEST_F(WeatherEvents, AnAlertThatClearedBeforeTheEventIsAClosedMember) {
  const auto a0 = raise("T0");
  clock_.advance(30min);
  clear(a0);
  clock_.advance(30min);
  raise("T1");
  clock_.advance(30min);
  raise("T2");
  const auto i = corr_->active().at(0);
  ASSERT_EQ(i.alerts.size(), 3u);
  EXPECT_EQ(i.alerts[0].alert_id, a0.alert_id);
  EXPECT_FALSE(i.alerts[0].open);
  EXPECT_EQ(i.alerts[0].cleared_at, a0.raised_at + 30min);
  EXPECT_TRUE(i.alerts[1].open);
}

TEST_F(WeatherEvents, AResolvedEventOpensAgainWithinTheReopenTimeNotAfter) {
  std::vector<proto::alert_message> first;
  for (const char* id : {"T0", "T1", "T2"}) first.push_back(raise(id));
  const auto id = corr_->active().at(0).id;
  clock_.advance(1h);
  for (const auto& a : first) clear(a);
  EXPECT_TRUE(corr_->active().empty());
  // 2 h later the rain comes back at another terminal: the same event, open again, no notification.
  clock_.advance(2h);
  const auto again = raise("T7", proto::alert_type::turbidity_high);
  ASSERT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(corr_->active().front().id, id);
  EXPECT_EQ(corr_->active().front().state, incident_state::open);
  EXPECT_FALSE(corr_->active().front().resolved_at.has_value());
  EXPECT_EQ(next_.raises(), 3u);
  clock_.advance(20min);
  clear(again);
  EXPECT_TRUE(corr_->active().empty());
  // 20 h later (a storm's flood after its first flush): still the same event.
  clock_.advance(20h);
  const auto flood = raise("T9");
  EXPECT_EQ(corr_->incident_of(flood.alert_id), id);
  EXPECT_EQ(next_.raises(), 3u);
  clock_.advance(1h);
  clear(flood);
  EXPECT_TRUE(corr_->active().empty());
  // More than weather_reopen_s (24 h) after it resolved: a terminal alone again, notified on its own.
  clock_.advance(24h + 1min);
  raise("T8");
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(next_.raises(), 4u);
  EXPECT_EQ(next_.seen.back().message, "flow_high at T8");
}

TEST_F(WeatherEvents, AnEventSurvivesARestartAndLaterTerminalsStillJoinIt) {
  std::vector<proto::alert_message> v;
  for (const char* id : {"T0", "T5", "T6"}) v.push_back(raise(id));
  const auto id = corr_->active().at(0).id;
  start();
  clock_.advance(1h);
  const auto late = raise("T7");
  EXPECT_EQ(corr_->incident_of(late.alert_id), id);
  EXPECT_EQ(next_.raises(), 3u);
  // At start, members no longer open in the engine count as cleared; none left open resolves it.
  start();
  EXPECT_EQ(corr_->reconcile({}), 1u);
  EXPECT_EQ(corr_->find(id)->state, incident_state::resolved);
}

TEST_F(WeatherEvents, SettingsChangeTheWindowAndTheCountOrTurnThemOff) {
  start(weather_settings{std::chrono::hours(1), std::chrono::hours(24), 2});
  raise("T0");
  clock_.advance(61min);
  raise("T1");  // the first is outside 1 h
  EXPECT_TRUE(corr_->active().empty());
  clock_.advance(30min);
  raise("T2");
  ASSERT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(corr_->active().front().affected_terminals, (std::vector<std::string>{"T1", "T2"}));
  start(weather_settings{std::chrono::hours(3), std::chrono::hours(24), 0});
  clock_.advance(5h);
  for (const char* id : {"T5", "T6", "T7", "T8"}) raise(id);
  EXPECT_EQ(corr_->active().size(), 1u);  // the old one, still open; no new event
  EXPECT_EQ(next_.raises(), 3u + 4u);  // T0, T1 on their own, T2 as the event; then each on its own
}

TEST_F(WeatherEvents, ARiseSeenInTheFlowsMakesTheFirstRaiseTheEventsOneNotification) {
  // The engine's answer: which terminals' flow runs above the factor x their normal now, of how
  // many judged. Twelve judged: a quarter is 3 (weather_min_terminals too): the raiser and 3 more.
  engine::running_high seen;
  seen.judged = 12;
  std::vector<double> asked;
  corr_->set_running_high([&](double factor, proto::timestamp) {
    asked.push_back(factor);
    return seen;
  });
  // A terminal that rises alone (nobody else runs high): on its own, as before.
  seen.high = {"T9"};
  const auto alone = raise("T9");
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_EQ(next_.seen[0].message, "flow_high at T9");
  EXPECT_TRUE(corr_->active().empty());
  ASSERT_EQ(asked, (std::vector<double>{2.0}));
  clear(alone);
  clock_.advance(4h);  // T9's raise is out of the window
  // A wet day, but T9's own flow is as usual: its turbidity is a treatment upset of its own.
  seen.high = {"T1", "T2", "T3", "T4", "T5", "T6"};
  const auto upset = raise("T9", proto::alert_type::turbidity_high);
  ASSERT_EQ(next_.raises(), 2u);
  EXPECT_EQ(next_.seen.back().message, "turbidity_high at T9");
  EXPECT_TRUE(corr_->active().empty());
  clear(upset);
  clock_.advance(4h);
  // Rain: five terminals run high; the first raise opens the event and is its only notification.
  seen.high = {"T0", "T1", "T2", "T6", "T7"};
  const auto first = raise("T0");
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.front().kind, incident_kind::weather);
  EXPECT_EQ(v.front().affected_terminals, (std::vector<std::string>{"T0"}));
  ASSERT_EQ(next_.raises(), 3u);
  EXPECT_EQ(next_.seen.back().alert_id, first.alert_id);
  EXPECT_EQ(next_.seen.back().message.rfind("Incident #" + std::to_string(v.front().id) +
                                                ": Weather event: flow_high at 1 terminal (T0) while the flow of 5 "
                                                "terminals runs above 2 x their normal; towns: A.",
                                            0),
            0u)
      << next_.seen.back().message;
  // The others join without a notification of their own.
  for (const char* id : {"T1", "T2", "T6", "T7"}) {
    clock_.advance(20min);
    raise(id, id[1] == '6' ? proto::alert_type::turbidity_high : proto::alert_type::flow_high);
  }
  EXPECT_EQ(next_.raises(), 3u) << "one notification for the event";
  EXPECT_EQ(corr_->find(v.front().id)->affected_terminals.size(), 5u);
  EXPECT_EQ(asked.size(), 3u) << "asked only while no event is active";
}

TEST_F(WeatherEvents, RunningHighNeedsAShareOfTheCountyAndIsOffAtFactorZero) {
  std::size_t calls = 0;
  engine::running_high seen;
  const auto answer = [&](double, proto::timestamp) {
    ++calls;
    return seen;
  };
  // Off: the flows are not asked; one raise is no event however many run high.
  weather_settings off;
  off.running_high_factor = 0;
  start(off);
  corr_->set_running_high(answer);
  seen.judged = 10;
  seen.high = {"T0", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9"};
  raise("T3");
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(calls, 0u);
  // On (the defaults). Two judged, both high: fewer than weather_min_terminals (3).
  start();
  corr_->set_running_high(answer);
  clock_.advance(4h);
  seen.judged = 2;
  seen.high = {"T5", "T6"};
  raise("T5");
  EXPECT_TRUE(corr_->active().empty());
  // The county (38 judged, a quarter is 10): the raiser and eight others are a few pump batches.
  clock_.advance(4h);
  seen.judged = 38;
  seen.high = {"T0", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"};
  raise("T0");
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(next_.raises(), 3u) << "each on its own";
  // The raiser and nine others are not either; the raiser and ten others are.
  clock_.advance(4h);
  seen.high.push_back("T9");
  raise("T1");
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(next_.raises(), 4u) << "each on its own";
  clock_.advance(4h);
  seen.high.push_back("U0");  // a terminal of the county with no raise
  raise("T2");
  ASSERT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(next_.raises(), 5u);
  EXPECT_NE(next_.seen.back().message.find("while the flow of 11 terminals runs above 2 x"), std::string::npos)
      << next_.seen.back().message;
  EXPECT_EQ(calls, 4u);
}

// The storms of the 30-day soak (tools/soak --days 30 --seed 1): their first flush raised
// turbidity_high at three terminals within 3 to 6 minutes while the flows had not risen; each
// storm cost 3 notifications. With the hold, the first two wait and become the event's members.
TEST_F(WeatherEvents, AFirstFlushsRaisesWithinTheHoldAreOneNotification) {
  start({}, 15min);
  std::vector<std::string> keys;
  corr_->set_release([&](const std::vector<notification_row>&, const std::string& key) { keys.push_back(key); });
  const auto a0 = raise("T0", proto::alert_type::turbidity_high);
  clock_.advance(1min);
  const auto a5 = raise("T5", proto::alert_type::turbidity_high);
  EXPECT_EQ(next_.raises(), 0u) << "held: nothing passed on yet";
  EXPECT_TRUE(corr_->held_back(a0.alert_id)) << "not escalated while held";
  EXPECT_TRUE(corr_->held_back(a5.alert_id));
  EXPECT_TRUE(corr_->active().empty());
  clock_.advance(2min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(next_.raises(), 0u);
  const auto a1 = raise("T1", proto::alert_type::turbidity_high);
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.front().affected_terminals, (std::vector<std::string>{"T0", "T1", "T5"}));
  ASSERT_EQ(next_.raises(), 1u) << "the event's one notification";
  EXPECT_EQ(next_.seen[0].alert_id, a1.alert_id);
  EXPECT_EQ(next_.seen[0].message.rfind("Incident #" + std::to_string(v.front().id) +
                                            ": Weather event: turbidity_high at 3 terminals within 3 h (T0, T1, T5)",
                                        0),
            0u)
      << next_.seen[0].message;
  for (const auto& m : v.front().alerts) EXPECT_EQ(m.forwarded, m.alert_id == a1.alert_id) << m.alert_id;
  // Their holds run out: they are members now, never notified on their own; nor are their clears.
  clock_.advance(30min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(next_.raises(), 1u);
  EXPECT_TRUE(keys.empty());
  EXPECT_TRUE(corr_->held_back(a0.alert_id)) << "a member not notified: the event carries it";
  clear(a0);
  clear(a5);
  EXPECT_EQ(forwarded_clears(), 0u);
  clear(a1);
  EXPECT_EQ(forwarded_clears(), 1u);
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(corr_->counters().held, 2u);
  EXPECT_EQ(corr_->counters().released, 0u);
}

TEST_F(WeatherEvents, ALoneRaiseIsNotifiedWhenItsHoldRunsOutWithWhatFollowedMeanwhile) {
  start({}, 15min);
  std::vector<std::string> keys;
  corr_->set_release([&](const std::vector<notification_row>&, const std::string& key) { keys.push_back(key); });
  const auto a = raise("T3", proto::alert_type::turbidity_high);
  clock_.advance(5min);
  auto acked = a;
  acked.state = proto::alert_state::acknowledged;
  std::vector<notification_row> rows;
  corr_->on_transition(acked, site("T3"), rows);
  clock_.advance(5min);
  clear(a);  // a short excursion, cleared inside the hold: still a compliance excursion to report
  clock_.advance(4min);
  corr_->tick(registry(sites_));
  EXPECT_TRUE(next_.seen.empty()) << "14 min: still held";
  clock_.advance(1min);
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.seen.size(), 3u) << "its raise, ack and clear, in order";
  EXPECT_EQ(next_.seen[0].state, proto::alert_state::raised);
  EXPECT_EQ(next_.seen[0].message, "turbidity_high at T3") << "notified as it was, not as an incident";
  EXPECT_EQ(next_.seen[1].state, proto::alert_state::acknowledged);
  EXPECT_EQ(next_.seen[2].state, proto::alert_state::cleared);
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}));
  EXPECT_FALSE(corr_->held_back(a.alert_id));
  EXPECT_TRUE(corr_->active().empty());
  // Later transitions of a passed-on raise go on at once; the next tick passes nothing twice.
  const auto b = raise("T4");
  clock_.advance(16min);
  corr_->tick(registry(sites_));
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.raises(), 2u);
  clear(b);
  EXPECT_EQ(forwarded_clears(), 2u);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(corr_->counters().held, 2u);
  EXPECT_EQ(corr_->counters().released, 2u);
  // Hold 0: at once, as before.
  start({}, 0s);
  raise("T5");
  EXPECT_EQ(next_.raises(), 3u);
}

// A site in a maintenance window: its raise goes to the discipline at once (which suppresses it
// and the alerts page shows it so), never held (found by web_alarm_maintenance_page).
TEST_F(WeatherEvents, ARaiseAtASiteInAMaintenanceWindowIsNeverHeld) {
  start({}, 15min);
  std::vector<std::string> asked;
  corr_->set_in_window([&](const std::string& site, proto::timestamp) {
    asked.push_back(site);
    return site == "T3";
  });
  raise("T3", proto::alert_type::turbidity_high);
  EXPECT_EQ(next_.raises(), 1u) << "passed on at once";
  raise("T4", proto::alert_type::turbidity_high);
  EXPECT_EQ(next_.raises(), 1u) << "held";
  EXPECT_EQ(asked, (std::vector<std::string>{"T3", "T4"}));
}

TEST_F(WeatherEvents, AHeldRaiseWhoseNotificationWasNotStoredIsTriedAgainAndPassedOnOnce) {
  start({}, 15min);
  auto& keys = capture_releases(1);
  const auto a = raise("T2");
  clock_.advance(15min);
  corr_->tick(registry(sites_));
  EXPECT_TRUE(keys.empty());
  EXPECT_EQ(corr_->counters().failures, 1u);
  EXPECT_EQ(next_.raises(), 1u) << "the discipline saw it once";
  EXPECT_FALSE(corr_->held_back(a.alert_id)) << "passed on: its escalation is its own";
  clear(a);  // passed on at once now: the next listener saw its raise
  EXPECT_EQ(forwarded_clears(), 1u);
  clock_.advance(30s);
  corr_->tick(registry(sites_));
  EXPECT_TRUE(keys.empty()) << "retried a minute later";
  clock_.advance(30s);
  corr_->tick(registry(sites_));
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}));
  EXPECT_EQ(next_.raises(), 1u) << "not passed on twice";
  EXPECT_EQ(corr_->counters().released, 1u);
}

TEST_F(WeatherEvents, RaisesHeldWhenTheGatewayStoppedAreHeldAgainAndStillMakeTheEvent) {
  start({}, 15min);
  const auto a0 = raise("T0", proto::alert_type::turbidity_high);
  clock_.advance(2min);
  const auto a5 = raise("T5", proto::alert_type::turbidity_high);
  // A restart 1 min later: the engine still has both open. Only what the correlator held is held
  // again: an alert notified long before (id 900) or at a pump station (901) is not.
  clock_.advance(1min);
  start({}, 15min);
  std::vector<std::string> keys;
  const auto sink = [&](const std::vector<notification_row>&, const std::string& key) { keys.push_back(key); };
  corr_->set_release(sink);
  proto::alert_message old_raise = a0;
  old_raise.alert_id = 900;
  old_raise.raised_at = clock_.now() - 10min;
  proto::alert_message at_station = a0;
  at_station.alert_id = 901;
  at_station.terminal_id = "PS1";
  const std::unordered_map<std::uint64_t, proto::alert_message> open{
      {a0.alert_id, a0}, {a5.alert_id, a5}, {old_raise.alert_id, old_raise}, {at_station.alert_id, at_station}};
  EXPECT_EQ(corr_->rehold(open, registry(sites_)), 2u);
  EXPECT_TRUE(corr_->held_back(a0.alert_id));
  EXPECT_FALSE(corr_->held_back(old_raise.alert_id));
  clock_.advance(1min);
  raise("T6", proto::alert_type::turbidity_high);
  ASSERT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(corr_->active().front().affected_terminals, (std::vector<std::string>{"T0", "T5", "T6"}));
  EXPECT_EQ(next_.raises(), 1u) << "the event only";
  clock_.advance(1h);
  corr_->tick(registry(sites_));
  EXPECT_TRUE(keys.empty());
  // Members of the event are no longer held: a restart holds nothing.
  start({}, 15min);
  EXPECT_EQ(corr_->rehold(open, registry(sites_)), 0u);
  const auto members = corr_->active().front().alerts;
  for (const auto& m : members) {
    proto::alert_message c = a0;
    c.alert_id = m.alert_id;
    c.terminal_id = m.site_id;
    clear(c);
  }
  EXPECT_TRUE(corr_->active().empty());
  clock_.advance(25h);  // past the event's reopen time

  // A lone raise acknowledged during its hold, and the gateway down past the hold: at the first
  // tick its raise (as raised) and its ack are passed on, in order, under its once-key.
  const auto lone = raise("T9");
  clock_.advance(5min);
  auto acked = lone;
  acked.state = proto::alert_state::acknowledged;
  acked.acked_at = clock_.now();
  acked.acked_by = "wang";
  std::vector<notification_row> rows;
  corr_->on_transition(acked, site("T9"), rows);
  clock_.advance(1h);
  start({}, 15min);
  corr_->set_release(sink);
  const auto seen_before = next_.seen.size();
  EXPECT_EQ(corr_->rehold({{lone.alert_id, acked}}, registry(sites_)), 1u);
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.seen.size(), seen_before + 2);
  EXPECT_EQ(next_.seen[seen_before].state, proto::alert_state::raised);
  EXPECT_EQ(next_.seen[seen_before + 1].state, proto::alert_state::acknowledged);
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(lone.alert_id) + ":weather-hold"}));
  // Passed on: a later restart holds it no more (the engine still has it open).
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{lone.alert_id, acked}}, registry(sites_)), 0u);

  // A raise that cleared during its hold is reported after a restart though no longer open; a
  // replayed clear is not passed on twice; one the engine never committed is forgotten.
  clock_.advance(4h);
  const auto brief = raise("T7", proto::alert_type::turbidity_high);
  clock_.advance(3min);
  clear(brief);
  const auto lost = raise("T8");
  start({}, 0s);  // held rows are passed on whatever the hold is now
  corr_->set_release(sink);
  EXPECT_EQ(corr_->rehold({}, registry(sites_)), 1u);
  clear(brief);  // the journal's replay of the same clear
  const auto n = next_.seen.size();
  clock_.advance(15min);
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.seen.size(), n + 2) << "raise and one clear";
  EXPECT_EQ(next_.seen[n].alert_id, brief.alert_id);
  EXPECT_EQ(next_.seen[n + 1].state, proto::alert_state::cleared);
  EXPECT_FALSE(corr_->held_back(lost.alert_id));
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{lost.alert_id, lost}}, registry(sites_)), 0u) << "its row was dropped";
}

// A restart (or a standby's takeover) in a storm's first hours: the raises before it still count
// towards the event, the one notified alone when its hold ran out too (until 2026-12-06 only the
// held ones did: the count started again).
TEST_F(WeatherEvents, RaisesNotifiedAloneBeforeARestartStillCountTowardsTheNextEvent) {
  start({}, 15min);
  auto& keys = capture_releases();
  const auto a0 = raise("T0", proto::alert_type::turbidity_high);
  clock_.advance(16min);
  corr_->tick(registry(sites_));
  ASSERT_EQ(keys.size(), 1u) << "its hold ran out: notified alone";
  ASSERT_EQ(next_.raises(), 1u);
  const auto a5 = raise("T5", proto::alert_type::turbidity_high);  // held
  clock_.advance(1min);
  // Open too: one raised before the window (not counted) and one at a pump station (no weather).
  proto::alert_message old_raise = a0;
  old_raise.alert_id = 900;
  old_raise.terminal_id = "T1";
  old_raise.raised_at = clock_.now() - 4h;
  proto::alert_message at_station = a0;
  at_station.alert_id = 901;
  at_station.terminal_id = "PS1";
  start({}, 15min);
  const std::unordered_map<std::uint64_t, proto::alert_message> open{
      {a0.alert_id, a0}, {a5.alert_id, a5}, {old_raise.alert_id, old_raise}, {at_station.alert_id, at_station}};
  EXPECT_EQ(corr_->rehold(open, registry(sites_)), 1u) << "only the held one is held again";
  EXPECT_FALSE(corr_->held_back(a0.alert_id));
  clock_.advance(1min);
  raise("T6", proto::alert_type::turbidity_high);
  ASSERT_EQ(corr_->active().size(), 1u) << "the third terminal within the window: one event";
  EXPECT_EQ(corr_->active().front().affected_terminals, (std::vector<std::string>{"T0", "T5", "T6"}));
  EXPECT_EQ(next_.raises(), 2u) << "T0 alone before, then the event";
  const auto active = corr_->active();
  for (const auto& m : active.front().alerts) {
    if (m.alert_id == a0.alert_id) {
      EXPECT_TRUE(m.forwarded) << "notified before: its ack and clear go on";
    } else if (m.alert_id == a5.alert_id) {
      EXPECT_FALSE(m.forwarded) << "still held: the event is its notification";
    }
  }
  EXPECT_TRUE(corr_->held_back(a5.alert_id)) << "an un-notified member: never escalated";
}

// A gateway that died after the correlator stored an event's member and before the engine
// committed that alert (a standby takes over with the shared tables, or the same host restarts):
// at start the member the engine's store never had is taken out of the event (its id is given out
// again), its terminal too when no other member is there. It was the raise whose notification was
// the event's: lost with its batch, so the next raise that joins is notified as the event. Without
// the store's answer it stays a closed member, as before.
TEST_F(WeatherEvents, AMemberTheEnginesStoreNeverCommittedIsTakenOutOfItsEventAtStart) {
  const auto a0 = raise("T0");
  const auto a5 = raise("T5");
  const auto a6 = raise("T6");  // makes the event: its notification
  ASSERT_EQ(corr_->active().size(), 1u);
  const auto event = corr_->active().front().id;
  EXPECT_EQ(corr_->active().front().notified_with, a6.alert_id);
  ASSERT_EQ(next_.raises(), 3u) << "T0 and T5 alone (no hold), then the event";
  start();
  const std::unordered_map<std::uint64_t, proto::alert_message> open{{a0.alert_id, a0}, {a5.alert_id, a5}};
  EXPECT_EQ(corr_->reconcile(open, [&](std::uint64_t id) { return id != a6.alert_id; }), 0u);
  ASSERT_EQ(corr_->active().size(), 1u);
  auto i = corr_->active().front();
  ASSERT_EQ(i.alerts.size(), 2u);
  EXPECT_EQ(i.affected_terminals, (std::vector<std::string>{"T0", "T5"}));
  EXPECT_EQ(i.title, "Weather event: 2 terminals in 2 towns");
  EXPECT_TRUE(i.notification_lost);
  EXPECT_FALSE(corr_->incident_of(a6.alert_id).has_value()) << "its member row is gone: the id is free";
  EXPECT_EQ(corr_->incident_of(a5.alert_id), event);
  start();  // as stored
  EXPECT_EQ(corr_->active().front().alerts.size(), 2u);
  EXPECT_TRUE(corr_->active().front().notification_lost);
  // The terminal's records arrive again: the engine raises it again (the same id), it joins the
  // event and is notified as the event's, once.
  alert_id_ = a6.alert_id - 1;
  const auto again = raise("T6");
  ASSERT_EQ(next_.raises(), 4u);
  EXPECT_NE(next_.seen.back().message.find("Incident #" + std::to_string(event) + ": Weather event"), std::string::npos)
      << next_.seen.back().message;
  i = corr_->active().front();
  EXPECT_FALSE(i.notification_lost);
  EXPECT_EQ(i.notified_with, again.alert_id);
  raise("T7");
  EXPECT_EQ(next_.raises(), 4u) << "the next one joins silently";
  start();
  EXPECT_FALSE(corr_->active().front().notification_lost);
  // Without the store's answer: a closed member.
  const auto b8 = raise("T8");
  start();
  EXPECT_EQ(corr_->reconcile(open), 0u);
  EXPECT_EQ(corr_->incident_of(b8.alert_id), event);
  EXPECT_EQ(corr_->active().front().alerts.size(), 5u);
}

TEST_F(WeatherEvents, AHeldRaiseWaitingForItsStoreRetryThatJoinsAnEventWasNotified) {
  start({}, 15min);
  auto& keys = capture_releases(1);
  const auto a = raise("T0", proto::alert_type::turbidity_high);
  clock_.advance(15min);
  corr_->tick(registry(sites_));  // passed on, its rows not stored
  ASSERT_EQ(next_.raises(), 1u);
  raise("T1", proto::alert_type::turbidity_high);
  raise("T2", proto::alert_type::turbidity_high);  // the event: T0 is a member, notified already
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  for (const auto& m : v.front().alerts) {
    if (m.alert_id == a.alert_id) {
      EXPECT_TRUE(m.forwarded) << "its raise went on: so do its ack and clear";
    }
  }
  clock_.advance(1min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}))
      << "its notification is still stored";
  clear(a);
  EXPECT_EQ(forwarded_clears(), 1u);
}

TEST_F(WeatherEvents, WeatherSpansAreTheEventsFromOpeningToResolutionForTheDryWeatherNormal) {
  const auto ms_of = [](proto::timestamp t) { return t.time_since_epoch().count(); };
  const auto t0 = clock_.now();
  EXPECT_TRUE(corr_->weather_spans(ms_of(t0 - 48h), ms_of(t0 + 48h)).empty());
  std::vector<proto::alert_message> a;
  for (const char* id : {"T0", "T1", "T2"}) a.push_back(raise(id));
  clock_.advance(3h);
  auto spans = corr_->weather_spans(ms_of(t0 - 48h), ms_of(t0 + 48h));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].from_ms, ms_of(t0));
  EXPECT_EQ(spans[0].to_ms, ms_of(clock_.now())) << "still active: to now";
  for (const auto& x : a) clear(x);
  clock_.advance(5h);
  spans = corr_->weather_spans(ms_of(t0 - 48h), ms_of(t0 + 48h));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].to_ms, ms_of(t0 + 3h)) << "resolved at its last clear";
  EXPECT_TRUE(corr_->weather_spans(ms_of(t0 + 4h), ms_of(t0 + 48h)).empty()) << "outside the asked range";
  EXPECT_TRUE(corr_->weather_spans(ms_of(t0 - 48h), ms_of(t0)).empty());
  // A pump station's incident is no weather.
  raise("PS1", proto::alert_type::pump_fault);
  EXPECT_EQ(corr_->weather_spans(ms_of(t0 - 48h), ms_of(clock_.now() + 48h)).size(), 1u);
  // An event whose last member lingers (a stuck probe) counts as rain up to two days after its
  // last member's raise, not for as long as it stays open.
  clock_.advance(30h);  // past the reopen time
  const auto t1 = clock_.now();
  const auto b3 = raise("T3");
  clock_.advance(1h);
  const auto b4 = raise("T4");
  raise("T5", proto::alert_type::turbidity_high);
  clear(b3);
  clear(b4);
  clock_.advance(5 * 24h);
  spans = corr_->weather_spans(ms_of(t1), ms_of(clock_.now()));
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].from_ms, ms_of(t1 + 1h)) << "from its opening (the third terminal)";
  EXPECT_EQ(spans[0].to_ms, ms_of(t1 + 1h + 48h)) << "still open: to its last raise + 48 h";
  EXPECT_TRUE(corr_->weather_spans(ms_of(t1 + 50h), ms_of(clock_.now())).empty());
}

// The second reviewer's findings on the hold (2026-12-05), each a test.

TEST_F(WeatherEvents, AHeldRaiseShelvedMeanwhileWaitsForItsShelfAndIsNotifiedWhenItEnds) {
  start({}, 15min);
  next_.notify = true;
  auto& keys = capture_releases();
  std::map<std::uint64_t, proto::timestamp> shelves;  // the discipline's shelves, by alert id
  std::vector<std::uint64_t> asked;
  corr_->set_shelf([&](std::uint64_t id) -> std::optional<proto::timestamp> {
    asked.push_back(id);
    const auto s = shelves.find(id);
    if (s == shelves.end()) return std::nullopt;
    return s->second;
  });
  const auto a = raise("T4", proto::alert_type::turbidity_high);
  clock_.advance(5min);
  shelves[a.alert_id] = clock_.now() + 1h;  // an operator shelves it for an hour, 5 min in
  clock_.advance(10min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(asked, (std::vector<std::uint64_t>{a.alert_id}));
  EXPECT_EQ(next_.raises(), 0u) << "on its shelf: not passed on when its hold runs out";
  EXPECT_TRUE(keys.empty());
  EXPECT_TRUE(corr_->held_back(a.alert_id)) << "not escalated either";
  EXPECT_EQ(corr_->held_until(a.alert_id), shelves[a.alert_id]) << "the alerts page shows the shelf's end";
  // Still held after a restart, to the shelf's end.
  start({}, 15min);
  next_.notify = true;
  corr_->set_release([&](const std::vector<notification_row>& rows, const std::string& key) {
    keys.push_back(key);
    released_rows_ += rows.size();
  });
  corr_->set_shelf([&](std::uint64_t id) -> std::optional<proto::timestamp> {
    const auto s = shelves.find(id);
    if (s == shelves.end()) return std::nullopt;
    return s->second;
  });
  EXPECT_EQ(corr_->rehold({{a.alert_id, a}}, registry(sites_)), 1u);
  clock_.advance(30min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(next_.raises(), 0u);
  shelves.erase(a.alert_id);  // the shelf ran out with the alert still open: told now
  clock_.advance(20min);
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}));
  EXPECT_EQ(released_rows_, 1u);
  EXPECT_FALSE(corr_->held_back(a.alert_id));
}

TEST_F(WeatherEvents, AShelfThatEndedBeforeTheHoldDidIsNoShelf) {
  start({}, 15min);
  next_.notify = true;
  auto& keys = capture_releases();
  proto::timestamp shelf_end{};
  // The discipline still says shelved until its next tick marks the shelf ended.
  shelve_all_until(shelf_end);
  const auto a = raise("T4", proto::alert_type::turbidity_high);
  shelf_end = clock_.now() + 10min;
  clock_.advance(12min);
  clear(a);  // after its shelf ended
  clock_.advance(3min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(released_rows_, 2u) << "raise and clear notified: it was not on a shelf when it cleared";
  // Shelf ended, still open: passed on at once, not held to a shelf end in the past.
  const auto b = raise("T5", proto::alert_type::turbidity_high);
  shelf_end = clock_.now() + 5min;
  clock_.advance(15min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_FALSE(corr_->held_until(b.alert_id).has_value());
}

TEST_F(WeatherEvents, AHeldRaiseThatClearedOnItsShelfIsPassedOnWithNothingNotified) {
  start({}, 15min);
  next_.notify = true;
  auto& keys = capture_releases();
  proto::timestamp shelf_end{};
  shelve_all_until(shelf_end);
  const auto a = raise("T4", proto::alert_type::turbidity_high);
  clock_.advance(2min);
  shelf_end = clock_.now() + 2h;
  clock_.advance(5min);
  EXPECT_EQ(corr_->held_until(a.alert_id), shelf_end) << "open on a shelf that ends after the hold: held to its end";
  clear(a);
  EXPECT_FALSE(corr_->held_until(a.alert_id).has_value())
      << "cleared on its shelf: nothing of it will be notified, so the alerts page says nothing held";
  clock_.advance(10min);
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.seen.size(), 2u) << "the discipline sees its raise and clear (its groups, its shelf)";
  EXPECT_EQ(next_.seen[1].state, proto::alert_state::cleared);
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(released_rows_, 0u) << "nothing notified: it came and went on an operator's shelf";
  EXPECT_FALSE(corr_->held_back(a.alert_id));
  // The same without a shelf: raise and clear notified.
  shelf_end = {};
  corr_->set_shelf({});
  const auto b = raise("T8", proto::alert_type::turbidity_high);
  clock_.advance(5min);
  clear(b);
  EXPECT_EQ(corr_->held_until(b.alert_id), b.raised_at + 15min) << "cleared on no shelf: raise and clear told then";
  clock_.advance(10min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(released_rows_, 2u);
  // Its hold ran out on the shelf, then it cleared on the shelf: silent at the tick after the
  // shelf's end too (the discipline never marks a cleared alert's shelf ended).
  clock_.advance(4h);  // past the weather window: no event from these three
  shelve_all_until(shelf_end);
  const auto c = raise("T6", proto::alert_type::turbidity_high);
  clock_.advance(5min);
  shelf_end = clock_.now() + 1h;
  clock_.advance(10min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(corr_->held_until(c.alert_id), shelf_end) << "held to its shelf's end";
  clock_.advance(15min);
  clear(c);
  EXPECT_FALSE(corr_->held_until(c.alert_id).has_value()) << "cleared on its shelf, held to its end: nothing to tell";
  clock_.advance(35min);
  corr_->tick(registry(sites_));
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(released_rows_, 2u) << "it came and went on its shelf: nothing more notified";
  EXPECT_FALSE(corr_->held_until(c.alert_id).has_value());
}

TEST_F(WeatherEvents, AStandbyThatTakesOverHoldsWhatTheGatewayThatLedHeld) {
  start({}, 15min);
  const auto a0 = raise("T0", proto::alert_type::turbidity_high);  // held by the leader
  clock_.advance(4min);
  // The leader dies. The standby has a database of its own (no weather_held rows), the engine's
  // store and the discipline's tables are shared: a0 is open and the discipline never saw it; a
  // notified alert (the discipline has its group) and one at a pump station are not held.
  testing::temp_dir standby_dir("weather-standby");
  sqlite_store standby_db(standby_dir.path() / "g.db", 100);
  corr_ = std::make_unique<correlator>(standby_dir.path() / "g.db", pipes_, clock_, &next_);
  weather_settings s;
  s.hold = 15min;
  corr_->set_weather(s);
  auto& keys = capture_releases();
  proto::alert_message notified = a0;
  notified.alert_id = 900;
  notified.terminal_id = "T3";
  notified.state = proto::alert_state::acknowledged;
  notified.acked_at = clock_.now();
  proto::alert_message at_station = a0;
  at_station.alert_id = 901;
  at_station.terminal_id = "PS1";
  correlator::rehold_checks checks;
  checks.stored = [](std::uint64_t) { return true; };
  checks.passed_on = [](std::uint64_t id) { return id == 900; };
  const std::unordered_map<std::uint64_t, proto::alert_message> open{
      {a0.alert_id, a0}, {notified.alert_id, notified}, {at_station.alert_id, at_station}};
  EXPECT_EQ(corr_->rehold(open, registry(sites_), checks), 1u);
  EXPECT_TRUE(corr_->held_back(a0.alert_id));
  EXPECT_FALSE(corr_->held_back(notified.alert_id));
  // Both count towards an event (the notified one is open, raised within the window): one more
  // terminal makes it, and the next joins it.
  clock_.advance(2min);
  raise("T1", proto::alert_type::turbidity_high);
  ASSERT_EQ(corr_->active().size(), 1u);
  raise("T2", proto::alert_type::turbidity_high);
  ASSERT_EQ(corr_->active().size(), 1u);
  EXPECT_EQ(corr_->active().front().affected_terminals, (std::vector<std::string>{"T0", "T1", "T2", "T3"}));
  EXPECT_EQ(corr_->incident_of(a0.alert_id), corr_->active().front().id);
  const auto event = corr_->active().front();
  for (const auto& m : event.alerts) {
    if (m.alert_id == a0.alert_id) {
      EXPECT_FALSE(m.forwarded) << "never notified alone";
    }
  }
  clock_.advance(1h);
  corr_->tick(registry(sites_));
  EXPECT_TRUE(keys.empty());
}

TEST_F(WeatherEvents, ALoneRaiseTheStandbyHeldAgainIsNotifiedAtItsRaisePlusTheHold) {
  start({}, 15min);
  testing::temp_dir standby_dir("weather-standby");
  sqlite_store standby_db(standby_dir.path() / "g.db", 100);
  const auto a = raise("T7", proto::alert_type::flow_high);
  auto acked = a;
  acked.state = proto::alert_state::acknowledged;
  acked.acked_at = clock_.now() + 1min;
  acked.acked_by = "li";
  clock_.advance(20min);  // the standby took over 20 min after the raise: its hold ran out
  corr_ = std::make_unique<correlator>(standby_dir.path() / "g.db", pipes_, clock_, &next_);
  weather_settings s;
  s.hold = 15min;
  corr_->set_weather(s);
  auto& keys = capture_releases();
  correlator::rehold_checks checks;
  checks.stored = [](std::uint64_t) { return true; };
  checks.passed_on = [](std::uint64_t) { return false; };
  // One raised longer ago than twice the hold was no held raise of the leader's (a member of its
  // event, whose incidents the standby does not have): not held, not notified alone.
  proto::alert_message old_member = a;
  old_member.alert_id = 950;
  old_member.raised_at = clock_.now() - 31min;
  EXPECT_EQ(corr_->rehold({{a.alert_id, acked}, {old_member.alert_id, old_member}}, registry(sites_), checks), 1u);
  EXPECT_FALSE(corr_->held_back(old_member.alert_id));
  corr_->tick(registry(sites_));
  ASSERT_EQ(next_.seen.size(), 2u);
  EXPECT_EQ(next_.seen[0].state, proto::alert_state::raised);
  EXPECT_FALSE(next_.seen[0].acked_at.has_value()) << "its raise, as raised";
  EXPECT_EQ(next_.seen[1].state, proto::alert_state::acknowledged);
  EXPECT_EQ(keys, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}));
  // The old leader, leading again, has its stale row: the discipline saw the raise, so it is dropped.
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{a.alert_id, acked}}, registry(sites_), checks), 1u) << "without the check: held again";
  start({}, 15min);
  checks.passed_on = [&](std::uint64_t id) { return id == a.alert_id; };
  EXPECT_EQ(corr_->rehold({{a.alert_id, acked}}, registry(sites_), checks), 0u);
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{a.alert_id, acked}}, registry(sites_)), 0u) << "its row was dropped";
}

TEST_F(WeatherEvents, RowsNotStoredWhenTheGatewayStoppedAreStoredAtTheNextStartWithoutPassingItOnTwice) {
  start({}, 15min);
  next_.notify = true;
  auto& keys = capture_releases(1);
  const auto a = raise("T2", proto::alert_type::turbidity_high);
  clock_.advance(15min);
  corr_->tick(registry(sites_));  // passed on to the discipline; its rows not stored (disk full)
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_TRUE(keys.empty());
  start({}, 15min);  // the gateway stops before the retry
  next_.notify = true;
  capture_releases();
  correlator::rehold_checks checks;
  checks.stored = [](std::uint64_t) { return true; };
  checks.passed_on = [](std::uint64_t) { return true; };  // the discipline saw it
  EXPECT_EQ(corr_->rehold({{a.alert_id, a}}, registry(sites_), checks), 1u);
  EXPECT_FALSE(corr_->held_back(a.alert_id)) << "passed on: its escalation is its own";
  corr_->tick(registry(sites_));
  EXPECT_EQ(released_keys_, (std::vector<std::string>{"alert:" + std::to_string(a.alert_id) + ":weather-hold"}));
  EXPECT_EQ(released_rows_, 1u);
  EXPECT_EQ(next_.raises(), 1u) << "not passed on again";
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{a.alert_id, a}}, registry(sites_), checks), 0u) << "stored: its row is gone";
}

TEST_F(WeatherEvents, ARaiseAndItsClearHeldInABatchTheEngineNeverCommittedAreForgotten) {
  start({}, 15min);
  const auto a = raise("T6", proto::alert_type::turbidity_high);
  clock_.advance(3min);
  clear(a);
  // The gateway dies before the engine commits the batch with both: its store has no such alert.
  start({}, 15min);
  correlator::rehold_checks checks;
  checks.stored = [](std::uint64_t) { return false; };
  EXPECT_EQ(corr_->rehold({}, registry(sites_), checks), 0u);
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({}, registry(sites_)), 0u) << "its row was dropped";
}

TEST_F(WeatherEvents, AFailedWriteAsAnEventOpensLeavesTheMemoryAsTheTablesAre) {
  start({}, 15min);
  const auto a0 = raise("T0", proto::alert_type::turbidity_high);
  const auto a1 = raise("T1", proto::alert_type::turbidity_high);
  ASSERT_TRUE(corr_->held_back(a0.alert_id));
  // The next write to the incidents table fails (as a full disk would), inside the transaction.
  const auto exec = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "g.db").string().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    const std::string why = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
  };
  exec("CREATE TRIGGER full_disk BEFORE INSERT ON incidents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  const auto a2 = raise("T2", proto::alert_type::turbidity_high);
  EXPECT_EQ(next_.raises(), 1u) << "passed on unchanged";
  EXPECT_TRUE(corr_->active().empty()) << "no incident the tables do not have";
  EXPECT_FALSE(corr_->incident_of(a2.alert_id).has_value());
  EXPECT_TRUE(corr_->held_back(a0.alert_id)) << "still held: its row was not dropped";
  EXPECT_TRUE(corr_->held_back(a1.alert_id));
  EXPECT_EQ(corr_->counters().failures, 1u);
  exec("DROP TRIGGER full_disk");
  const auto a3 = raise("T3", proto::alert_type::turbidity_high);
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.front().affected_terminals, (std::vector<std::string>{"T0", "T1", "T2", "T3"}));
  for (const auto& m : v.front().alerts) {
    if (m.alert_id == a0.alert_id || m.alert_id == a1.alert_id) {
      EXPECT_FALSE(m.forwarded) << m.alert_id;
    } else {
      EXPECT_TRUE(m.forwarded) << m.alert_id;
    }
  }
  EXPECT_EQ(corr_->incident_of(a0.alert_id), v.front().id);
  EXPECT_EQ(v.front().id, 1) << "the failed incident's id was not used";
  start({}, 15min);
  EXPECT_EQ(corr_->rehold({{a0.alert_id, a0}, {a1.alert_id, a1}}, registry(sites_)), 0u) << "members, not held";
}

TEST(WeatherSettings, ReadFromTheIncidentsTableWithErrorsNamingTheKey) {
  testing::temp_dir dir("weather-config");
  const auto c = [&](const std::string& body) { return test::config_error_of(dir.path(), body); };
  EXPECT_NE(c("[incidents]\nweather_window_s = 60\n").find("incidents.weather_window_s"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_min_terminals = -1\n").find("incidents.weather_min_terminals"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_min_terminals = \"3\"\n").find("must be an integer"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather = 1\n").find("incidents.weather"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_reopen_s = 599\n").find("incidents.weather_reopen_s"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_running_high_factor = 1.1\n").find("incidents.weather_running_high_factor: must be 0 (off) or at least 1.2"),
            std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_running_high_factor = 11\n").find("incidents.weather_running_high_factor"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_running_high_share = 1.5\n").find("incidents.weather_running_high_share: must be in"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_running_high_share = 0\n").find("incidents.weather_running_high_share: must be in"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_hold_s = 3601\n").find("incidents.weather_hold_s"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_hold_s = -1\n").find("incidents.weather_hold_s"), std::string::npos);
  EXPECT_NE(c("[incidents]\nweather_window_s = 600\nweather_hold_s = 900\n").find("incidents.weather_hold_s: must be at most weather_window_s"),
            std::string::npos);
  EXPECT_NE(c("[alarms]\nescalate_after_min = [10, 60]\n[incidents]\nweather_hold_s = 900\n")
                .find("incidents.weather_hold_s (900 s): must be below the town escalation of alarms.escalate_after_min (10 min)"),
            std::string::npos);
  // The default hold (900 s) with no [incidents] table at all is checked all the same.
  EXPECT_NE(c("[alarms]\nescalate_after_min = [10, 60]\n")
                .find("incidents.weather_hold_s (900 s, the default): must be below the town escalation of "
                      "alarms.escalate_after_min (10 min)"),
            std::string::npos);
  EXPECT_EQ(c("[alarms]\nescalate_after_min = [10, 60]\n[incidents]\nweather_hold_s = 0\n"), "no error");
  std::ofstream(dir.path() / "ok.toml")
      << "[incidents]\nweather_window_s = 7200\nweather_min_terminals = 5\nweather_reopen_s = 43200\nweather_running_high_factor = 0\nweather_running_high_share = 0.5\nweather_hold_s = 0\n";
  const auto cfg = load_config(dir.path() / "ok.toml");
  EXPECT_EQ(cfg.weather.window, std::chrono::hours(2));
  EXPECT_EQ(cfg.weather.min_terminals, 5u);
  EXPECT_EQ(cfg.weather.reopen, std::chrono::hours(12));
  EXPECT_EQ(cfg.weather.running_high_factor, 0.0);
  EXPECT_EQ(cfg.weather.running_high_share, 0.5);
  EXPECT_EQ(cfg.weather.hold, std::chrono::seconds(0));
  std::ofstream(dir.path() / "none.toml") << "";
  const auto d = load_config(dir.path() / "none.toml");
  EXPECT_EQ(d.weather.window, std::chrono::hours(3));
  EXPECT_EQ(d.weather.min_terminals, 3u);
  EXPECT_EQ(d.weather.reopen, std::chrono::hours(24));
  EXPECT_EQ(d.weather.running_high_factor, 2.0);
  EXPECT_EQ(d.weather.running_high_share, 0.25);
  EXPECT_EQ(d.weather.hold, std::chrono::minutes(15));
}

}  // namespace
}  // namespace sewage::gateway::incidents

namespace sewage::gateway {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::at;

// The engine raises flow_high / turbidity_high from records (debounces 0); the API sums the event up.
class WeatherEventsApi : public ::testing::Test {
 protected:
  WeatherEventsApi() : dir_("weather-api"), clock_(at("2026-12-01T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.startup_grace = 0s;
    cfg_.defaults.flow_high_debounce_s = 0;
    cfg_.defaults.turbidity_debounce_s = 0;
    std::vector<terminal_info> sites;
    for (const auto& [id, town] : {std::pair{"T1", "A"}, {"T2", "A"}, {"T3", "B"}, {"T4", "B"}}) {
      sites.push_back(test::terminal(id, cfg_.defaults));
      sites.back().town = town;
    }
    sites[3].limits.turbidity_limit_ntu = 20.0;  // a terminal with a laxer limit
    ids_ = std::make_unique<auth::service>(dir_.path() / "g.db", auth::settings{}, clock_);
    corr_ = std::make_unique<incidents::correlator>(dir_.path() / "g.db", pipes_, clock_, &next_);
    eng_ = std::make_unique<engine>(cfg_, registry(sites), db_, clock_, pub_, default_rules(), corr_.get());
    api_ = std::make_unique<api>(*eng_, link_status{}, ids_.get());
    api_->set_incidents(corr_.get(), &pipes_);
    viewer_ = "Bearer " + ids_->add_token("viewer", auth::role::viewer, {});
    town_a_ = "Bearer " + ids_->add_token("town-a", auth::role::viewer, {"A"});
  }
  void report(const char* id, double rate, double ntu) {
    auto r = test::with_turbidity(test::with_flow(test::record(id, ++seq_[id], clock_.now()), rate, std::nullopt), ntu);
    eng_->handle({proto::telemetry_topic(id), proto::encode(r), false, clock_.now()});
  }
  json get(const std::string& target, const std::string& who) {
    const auto r = api_->handle(http_request{"GET", target, who, ""});
    if (r.status != 200) ADD_FAILURE() << target << ": " << r.status << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  sqlite_store db_;
  network::holder pipes_;
  config cfg_;
  test::capture next_;
  test::fake_publisher pub_;
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<incidents::correlator> corr_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::string viewer_, town_a_;
  std::map<std::string, std::uint64_t> seq_;
};

TEST_F(WeatherEventsApi, TheEventsFiguresArePeaksAndComplianceHoursFromTheHistory) {
  // Design 24 m3/d: flow_high above 2.5 m3/h, clear at 2.0; turbidity_high above 10 NTU, clear at 8.
  for (int k = 0; k < 3; ++k) {
    for (const char* id : {"T1", "T2", "T3", "T4"}) report(id, 1.0, 3.0);
    clock_.advance(60s);
  }
  // The storm: 30 minutes of high flow everywhere, turbidity above the limit at T1 for 12 min and
  // at T4 (limit 20 NTU) at 15 NTU: an alert (raise level 10) but compliant against its own limit.
  for (int m = 0; m < 30; ++m) {
    report("T1", 3.0 + m * 0.01, m < 12 ? 14.0 + m : 6.0);
    report("T2", 2.8, 5.0);
    report("T3", 3.5, 4.0);
    report("T4", 2.9, 15.0);
    clock_.advance(60s);
  }
  for (int k = 0; k < 3; ++k) {
    for (const char* id : {"T1", "T2", "T3", "T4"}) report(id, 1.0, 3.0);
    clock_.advance(60s);
  }
  ASSERT_TRUE(eng_->flush());
  const auto list = get("/api/incidents?state=all", viewer_)["incidents"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["kind"], "weather");
  EXPECT_EQ(list[0]["state"], "resolved");
  EXPECT_EQ(list[0]["towns"], json::array({"A", "B"}));
  EXPECT_EQ(list[0]["affected_terminals"], json::array({"T1", "T2", "T3", "T4"}));
  EXPECT_FALSE(list[0].contains("weather"));  // the list stays cheap
  // Notifications (the default hold, 15 min): T1's two raises (turbidity and flow at once: one
  // terminal) and T2's are held, T3's is the event (the third terminal) and its only
  // notification; T4's two and everything after: none.
  EXPECT_EQ(next_.raises(), 1u);
  EXPECT_EQ(next_.seen[0].terminal_id, "T3");
  EXPECT_EQ(next_.seen[0].message.rfind("Incident #1: Weather event: flow_high and turbidity_high at 3 terminals", 0), 0u)
      << next_.seen[0].message;
  const auto i = get("/api/incidents/" + list[0]["id"].dump(), viewer_);
  const auto& w = i["weather"];
  ASSERT_TRUE(w.is_object()) << i.dump();
  ASSERT_EQ(w["terminals"].size(), 4u);
  const auto& t1 = w["terminals"][0];
  EXPECT_EQ(t1["site_id"], "T1");
  EXPECT_EQ(t1["town"], "A");
  EXPECT_DOUBLE_EQ(t1["peak_flow_m3h"].get<double>(), 3.29);
  EXPECT_DOUBLE_EQ(t1["peak_turbidity_ntu"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(t1["compliance_hours_lost"].get<double>(), 0.2);  // 12 records of 60 s
  EXPECT_DOUBLE_EQ(w["terminals"][2]["peak_flow_m3h"].get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(w["terminals"][2]["compliance_hours_lost"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(w["terminals"][3]["peak_turbidity_ntu"].get<double>(), 15.0);
  EXPECT_DOUBLE_EQ(w["terminals"][3]["compliance_hours_lost"].get<double>(), 0.0);  // its limit is 20
  EXPECT_DOUBLE_EQ(w["compliance_hours_lost"].get<double>(), 0.2);
  EXPECT_EQ(w["towns"], json::array({"A", "B"}));
  // A town-limited user sees the event (it touches their town).
  EXPECT_EQ(get("/api/incidents/" + list[0]["id"].dump(), town_a_)["kind"], "weather");
}

}  // namespace
}  // namespace sewage::gateway
