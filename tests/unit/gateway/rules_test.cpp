// Each alert rule: hysteresis (4.9/5.1 around raise 5.0 / clear 4.5), debounce, event time,
// arrival-time offline with grace, queue overflow, clock skew, sensor fault.
#include "sewage/gateway/rules.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace sewage::gateway {
namespace {

using test::at;
using test::record;
using std::chrono::minutes;
using std::chrono::seconds;

struct outcome {
  int raises{0};
  int clears{0};
  std::vector<proto::timestamp> when;
};

outcome run(const alert_rule& rule, const terminal_info& t, const std::vector<proto::telemetry_record>& recs,
            rule_state& s, std::optional<proto::timestamp> arrival = std::nullopt) {
  outcome o;
  for (const auto& r : recs) {
    const auto v = rule.observe(observation{r, arrival.value_or(r.ts), true}, t, s);
    if (v.act == verdict::action::raise) ++o.raises;
    if (v.act == verdict::action::clear) ++o.clears;
    if (v.any()) o.when.push_back(v.at);
  }
  return o;
}

thresholds turbidity(double raise, double clear, std::uint32_t debounce_s) {
  thresholds t;
  t.turbidity_raise_ntu = raise;
  t.turbidity_clear_ntu = clear;
  t.turbidity_debounce_s = debounce_s;
  return t;
}

TEST(TurbidityRule, AlternatingAroundRaiseLevelGivesOneRaiseAndNoChatter) {
  const auto rule = make_turbidity_high_rule();
  const auto t = test::terminal("T", turbidity(5.0, 4.5, 0));
  std::vector<proto::telemetry_record> recs;
  auto ts = at("2026-11-29T00:00:00Z");
  for (int i = 0; i < 200; ++i) {
    recs.push_back(test::with_turbidity(record("T", i + 1, ts), i % 2 == 0 ? 4.9 : 5.1));
    ts += minutes(1);
  }
  rule_state s;
  const auto o = run(*rule, t, recs, s);
  EXPECT_EQ(o.raises, 1);
  EXPECT_LE(o.clears, 1);
  EXPECT_EQ(o.clears, 0);  // 4.9 never reaches the clear level 4.5
  // one value at the clear level ends the episode exactly once
  const auto end = run(*rule, t, {test::with_turbidity(record("T", 999, ts), 4.5)}, s);
  EXPECT_EQ(end.clears, 1);
}

TEST(TurbidityRule, DebounceNeedsTheConditionForTheWholeDuration) {
  const auto rule = make_turbidity_high_rule();
  const auto t = test::terminal("T", turbidity(10, 8, 900));
  rule_state s;
  auto ts = at("2026-11-29T00:00:00Z");
  std::vector<proto::telemetry_record> spike;
  for (int i = 0; i < 10; ++i, ts += minutes(1)) spike.push_back(test::with_turbidity(record("T", i, ts), 30));
  spike.push_back(test::with_turbidity(record("T", 10, ts), 9));  // dips inside the band: resets
  EXPECT_EQ(run(*rule, t, spike, s).raises, 0);
  std::vector<proto::telemetry_record> sustained;
  const auto start = ts + minutes(1);
  for (int i = 0; i <= 15; ++i) sustained.push_back(test::with_turbidity(record("T", 20 + i, start + minutes(i)), 30));
  const auto o = run(*rule, t, sustained, s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when.front(), start + minutes(15));  // raised exactly when 900 s had passed
}

TEST(TurbidityRule, DecidesOnEventTimeNotArrival) {
  const auto rule = make_turbidity_high_rule();
  const auto t = test::terminal("T", turbidity(10, 8, 600));
  std::vector<proto::telemetry_record> recs;
  const auto start = at("2026-11-29T00:00:00Z");
  for (int i = 0; i <= 10; ++i) recs.push_back(test::with_turbidity(record("T", i + 1, start + minutes(i)), 20));
  rule_state live, backlog;
  const auto a = run(*rule, t, recs, live);
  // The same records delivered all at once a day later (a replayed backlog).
  const auto b = run(*rule, t, recs, backlog, start + std::chrono::hours(24));
  EXPECT_EQ(a.when, b.when);
  ASSERT_EQ(a.raises, 1);
  EXPECT_EQ(a.when.front(), start + minutes(10));
}

TEST(NoFlowRule, RaisesAfterSustainedZeroFlowAndClearsAboveClearLevel) {
  const auto rule = make_no_flow_rule();
  thresholds th;
  th.no_flow_debounce_s = 3600;
  const auto t = test::terminal("T", th);
  rule_state s;
  const auto start = at("2026-11-29T00:00:00Z");
  std::vector<proto::telemetry_record> recs;
  for (int i = 0; i <= 60; ++i) recs.push_back(test::with_flow(record("T", i + 1, start + minutes(i)), 0.0, std::nullopt));
  EXPECT_EQ(run(*rule, t, recs, s).raises, 1);
  std::vector<proto::telemetry_record> back;
  for (int i = 0; i <= 60; ++i)
    back.push_back(test::with_flow(record("T", 100 + i, start + minutes(61 + i)), i % 2 ? 0.03 : 0.2, std::nullopt));
  EXPECT_EQ(run(*rule, t, back, s).clears, 0);  // 0.03 is inside the band: the clear debounce restarts
  std::vector<proto::telemetry_record> steady;
  for (int i = 0; i <= 60; ++i)
    steady.push_back(test::with_flow(record("T", 200 + i, start + minutes(130 + i)), 0.2, std::nullopt));
  EXPECT_EQ(run(*rule, t, steady, s).clears, 1);
}

TEST(FlowHighRule, UsesDesignCapacity) {
  const auto rule = make_flow_high_rule();
  thresholds th;
  th.flow_high_debounce_s = 0;
  auto t = test::terminal("T", th);
  t.design_capacity_m3d = 48;  // 2 m3/h mean; raise above 5 m3/h, clear at or below 4 m3/h
  rule_state s;
  const auto start = at("2026-11-29T00:00:00Z");
  auto o = run(*rule, t,
               {test::with_flow(record("T", 1, start), 5.0, std::nullopt),
                test::with_flow(record("T", 2, start + minutes(1)), 5.1, std::nullopt),
                test::with_flow(record("T", 3, start + minutes(2)), 4.5, std::nullopt),
                test::with_flow(record("T", 4, start + minutes(3)), 4.0, std::nullopt)},
               s);
  EXPECT_EQ(o.raises, 1);
  EXPECT_EQ(o.clears, 1);
}

TEST(CleanoutRule, FollowsTheAgentsFlagWithDebounce) {
  const auto rule = make_cleanout_required_rule();
  thresholds th;
  th.cleanout_debounce_s = 120;
  const auto t = test::terminal("T", th);
  rule_state s;
  const auto start = at("2026-11-29T00:00:00Z");
  auto rec = [&](int i, bool flag) {
    auto r = record("T", i, start + minutes(i));
    r.sludge = proto::sludge_reading{proto::quantity_status::ok, 1.2, flag, std::nullopt};
    return r;
  };
  auto o = run(*rule, t, {rec(1, true), rec(2, true), rec(3, true), rec(4, false), rec(5, false), rec(6, false)}, s);
  EXPECT_EQ(o.raises, 1);
  EXPECT_EQ(o.clears, 1);
}

TEST(SensorFaultRule, NonOkStatusIncludingStuckRaises) {
  const auto rule = make_sensor_fault_rule();
  thresholds th;
  th.sensor_fault_debounce_s = 0;
  const auto t = test::terminal("T", th);
  rule_state s;
  auto r = record("T", 1, at("2026-11-29T00:00:00Z"));
  r.turbidity = proto::turbidity_reading{proto::quantity_status::fault, std::nullopt, std::nullopt, std::nullopt,
                                         std::string("stuck: identical for 12 polls")};
  const auto v = rule->observe(observation{r, r.ts, true}, t, s);
  ASSERT_EQ(v.act, verdict::action::raise);
  EXPECT_NE(v.message.find("stuck"), std::string::npos);
  auto ok = test::with_turbidity(record("T", 2, r.ts + minutes(1)), 3);
  EXPECT_EQ(rule->observe(observation{ok, ok.ts, true}, t, s).act, verdict::action::clear);
}

TEST(QueueOverflowRule, RaisesOnIncreaseAndClearsAfterQuietPeriod) {
  const auto rule = make_queue_overflow_rule();
  thresholds th;
  th.queue_overflow_clear_s = 600;
  const auto t = test::terminal("T", th);
  rule_state s;
  const auto start = at("2026-11-29T00:00:00Z");
  auto rec = [&](int i, std::uint64_t dropped) {
    auto r = record("T", i, start + minutes(i));
    r.dropped = dropped;
    return r;
  };
  auto o = run(*rule, t, {rec(1, 0), rec(2, 5), rec(3, 7), rec(8, 7), rec(13, 7)}, s);
  EXPECT_EQ(o.raises, 1);
  EXPECT_EQ(o.clears, 1);
  EXPECT_EQ(o.when.back(), start + minutes(13));
}

TEST(ClockSkewRule, FutureStampsAlwaysCountPastStampsOnlyWhenLive) {
  const auto rule = make_clock_skew_rule();
  const auto t = test::terminal("T");
  rule_state s;
  const auto now = at("2026-11-29T00:00:00Z");
  auto old = record("T", 1, now - std::chrono::hours(2));
  EXPECT_FALSE(rule->observe(observation{old, now, false}, t, s).any());  // backlog: legitimately old
  auto future = record("T", 2, now + minutes(10));
  EXPECT_EQ(rule->observe(observation{future, now, true}, t, s).act, verdict::action::raise);
  auto good = record("T", 3, now + seconds(30));
  EXPECT_EQ(rule->observe(observation{good, now + seconds(31), true}, t, s).act, verdict::action::clear);
}

TEST(ClockSkewRule, AnUntrustedStampIsJudgedInEitherDirectionEvenWhenNotLive) {
  // The engine passes the effective record (ts = arrival) and the agent's stamp apart.
  const auto rule = make_clock_skew_rule();
  const auto t = test::terminal("T");
  rule_state s;
  const auto now = at("2026-11-29T00:00:00Z");
  auto r1970 = record("T", 1, now);  // effective time = arrival
  const auto v = rule->observe(observation{r1970, now, false, at("1970-01-01T00:00:05Z")}, t, s);
  EXPECT_EQ(v.act, verdict::action::raise);
  EXPECT_LT(v.value, -1.7e9);  // the stamp is ~56 years behind
  auto fine = record("T", 2, now + seconds(5));
  EXPECT_EQ(rule->observe(observation{fine, now + seconds(6), true}, t, s).act, verdict::action::clear);
  rule_state s2;
  auto r2099 = record("T", 3, now);
  EXPECT_EQ(rule->observe(observation{r2099, now, true, at("2099-01-01T00:00:00Z")}, t, s2).act,
            verdict::action::raise);
}

TEST(OfflineRule, ArrivalTimeWithGraceAndWill) {
  const auto rule = make_offline_rule();
  const auto t = test::terminal("T");  // 60 s interval, 3 intervals
  rule_state s;
  const auto t0 = at("2026-11-29T00:00:00Z");
  presence_view p{t0 + seconds(170), t0, t0, false, 60};
  EXPECT_FALSE(rule->tick(p, t, s).any());
  p.now = t0 + seconds(181);
  p.grace_until = t0 + seconds(300);
  EXPECT_FALSE(rule->tick(p, t, s).any()) << "grace period";
  p.grace_until = t0;
  const auto v = rule->tick(p, t, s);
  ASSERT_EQ(v.act, verdict::action::raise);
  EXPECT_DOUBLE_EQ(v.threshold, 180);
  EXPECT_FALSE(rule->tick(p, t, s).any()) << "one episode";
  auto r = record("T", 1, p.now);
  EXPECT_FALSE(rule->observe(observation{r, p.now, false}, t, s).any()) << "a backlog record is no proof";
  EXPECT_EQ(rule->observe(observation{r, p.now, true}, t, s).act, verdict::action::clear);
  rule_state w;
  presence_view will{t0 + seconds(5), t0, t0, true, 60};
  EXPECT_EQ(rule->tick(will, t, w).act, verdict::action::raise) << "last will raises at once";
}

TEST(RuleSet, OneRulePerTypeAllTypesRegistered) {
  const auto rules = default_rules();
  for (const auto type : proto::all_alert_types) EXPECT_NE(rules.find(type), nullptr) << proto::to_string(type);
  rule_set dup;
  dup.add(make_offline_rule());
  EXPECT_THROW(dup.add(make_offline_rule()), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::gateway
