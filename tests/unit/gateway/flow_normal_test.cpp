// Learned normal flow per site and low_flow (issue 14 item 1): quantiles, the prior from the
// design capacity, learning per hour and day type after flow_min_days, the low_flow and no_flow
// rules against the normal (night with normally no flow: nothing; a daytime drop to 5 % or 50 %:
// low_flow; a site at its own low level: nothing; flow absent when it normally flows: no_flow
// after the short debounce), through the engine with SQLite (persisted, reloaded, migrated) and
// the API's /api/terminals/{id}/normal.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/engine/flow_normal.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/severity.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::at;

county_zone shanghai() { return county_zone::locate("Asia/Shanghai").value_or(county_zone{}); }
std::int64_t ms_of(proto::timestamp t) { return t.time_since_epoch().count(); }

/// A wet month before operating day `today`: at 10:00 local 2.0 m3/h on dry days, 6.0 on the 16
/// wet ones (Mon-Wed of each week and the whole last week: 14 of the 20 weekdays wet, so the
/// median of all days is wet), put in `wet`; at 11:00 1.0 m3/h on the last `eleven_days` days only.
std::vector<flow_hour> wet_month(std::int32_t today, const county_zone& z, std::vector<std::int32_t>& wet,
                                 std::int32_t eleven_days = 0) {
  std::vector<flow_hour> hours;
  for (std::int32_t d = today - 28; d < today; ++d) {
    const bool is_wet = (d - (today - 28)) % 7 < 3 || d >= today - 7;
    if (is_wet) wet.push_back(d);
    const std::int64_t midnight = ms_of(operating_day_start(d, z));
    hours.push_back({"T", midnight + 10 * 3'600'000, is_wet ? 6.0 : 2.0, 3600});
    if (d >= today - eleven_days) hours.push_back({"T", midnight + 11 * 3'600'000, 1.0, 3600});
  }
  return hours;
}

TEST(LowFlowWire, NameUnitSeverityAndRule) {
  EXPECT_EQ(proto::to_string(proto::alert_type::low_flow), "low_flow");
  EXPECT_EQ(proto::parse_alert_type("low_flow"), proto::alert_type::low_flow);
  EXPECT_EQ(proto::value_unit(proto::alert_type::low_flow), proto::unit::m3_per_h);
  EXPECT_EQ(proto::all_alert_types[16], proto::alert_type::low_flow);  // appended: stored rule states keep their slots
  EXPECT_EQ(alert_severity(proto::alert_type::low_flow), severity::warning);
  const auto rules = default_rules();
  ASSERT_NE(rules.find(proto::alert_type::low_flow), nullptr);
  EXPECT_TRUE(rules.find(proto::alert_type::low_flow)->applies_to(site_kind::terminal));
  EXPECT_FALSE(rules.find(proto::alert_type::low_flow)->applies_to(site_kind::pump_station));
}

TEST(FlowNormal, QuantilesInterpolateBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.1), 1.9);
  EXPECT_DOUBLE_EQ(quantile({7}, 0.1), 7.0);
  EXPECT_DOUBLE_EQ(quantile({}, 0.5), 0.0);
}

TEST(FlowNormal, DayTypesAndLocalHours) {
  const auto z = shanghai();
  // 2026-11-02 is a Monday (day 20759), 2026-11-07 a Saturday.
  EXPECT_EQ(day_type_of(20759), day_type::weekday);
  EXPECT_EQ(day_type_of(20759 + 4), day_type::weekday);
  EXPECT_EQ(day_type_of(20759 + 5), day_type::weekend);
  EXPECT_EQ(day_type_of(20759 + 6), day_type::weekend);
  const auto lh = local_hour_of(ms_of(at("2026-11-01T16:30:00Z")), z);  // 00:30 on the 2nd, local
  EXPECT_EQ(lh.day, 20759);
  EXPECT_EQ(lh.hour, 0);
  EXPECT_EQ(local_hour_of(ms_of(at("2026-11-02T02:59:59Z")), z).hour, 10);
}

TEST(FlowNormal, PriorIsTheDesignCapacityWithTheAssumedShapeAndNoSpread) {
  EXPECT_NEAR(std::accumulate(flow_prior_shape.begin(), flow_prior_shape.end(), 0.0) / 24.0, 1.0, 1e-9);
  const auto p = prior_flow_normal(24.0, 0.6);  // 0.6 m3/h mean
  EXPECT_EQ(p.computed_day, flow_normal::never_computed);
  EXPECT_NEAR(p.at(day_type::weekday, 8).median_m3h, 0.6 * 1.65, 1e-9);
  EXPECT_NEAR(p.at(day_type::weekend, 3).median_m3h, 0.6 * 0.30, 1e-9);
  for (const auto& c : p.cells) {
    EXPECT_TRUE(c.prior);
    EXPECT_EQ(c.low_m3h, 0.0);
    EXPECT_EQ(c.days, 0u);
  }
}

TEST(FlowNormal, LearnsEachHourAndDayTypeOnceItHasMinDaysOfCoveredHistory) {
  const auto z = shanghai();
  const std::int32_t today = 20759 + 28;  // Monday 2026-11-30
  std::vector<flow_hour> hours;
  for (std::int32_t d = today - 28; d < today; ++d) {
    const std::int64_t midnight = ms_of(operating_day_start(d, z));
    const bool weekend = day_type_of(d) == day_type::weekend;
    // 10:00 local: weekdays 2.0 + 0.1 x (day % 5), weekends 1.0 m3/h; fully covered.
    const double q = weekend ? 1.0 : 2.0 + 0.1 * (d % 5);
    hours.push_back({"T", midnight + 10 * 3'600'000, q, 3600});
    // 11:00 local: covered on 4 days only; 12:00: only 50 % covered (not history).
    if (d >= today - 4) hours.push_back({"T", midnight + 11 * 3'600'000, 1.0, 3600});
    hours.push_back({"T", midnight + 12 * 3'600'000, 0.5, 1800});
  }
  hours.push_back({"T", ms_of(operating_day_start(today, z)) + 10 * 3'600'000, 99.0, 3600});  // today: ignored
  const auto n = learn_flow_normal(hours, today, z, 24.0, 0.6, 5);
  EXPECT_EQ(n.computed_day, today);
  const auto& wd = n.at(day_type::weekday, 10);
  EXPECT_FALSE(wd.prior);
  EXPECT_EQ(wd.days, 20u);
  EXPECT_NEAR(wd.median_m3h, 2.2, 1e-9);  // four of each of 2.0 .. 2.4
  EXPECT_NEAR(wd.low_m3h, 2.0, 1e-9);
  const auto& we = n.at(day_type::weekend, 10);
  EXPECT_FALSE(we.prior);
  EXPECT_EQ(we.days, 8u);
  EXPECT_NEAR(we.median_m3h, 1.0, 1e-9);
  // Four days: still the prior (with the days shown); a half-covered hour is no history.
  EXPECT_TRUE(n.at(day_type::weekday, 11).prior);
  EXPECT_EQ(n.at(day_type::weekday, 11).days, 2u);  // Thu, Fri (Sat, Sun are weekend)
  EXPECT_NEAR(n.at(day_type::weekday, 11).median_m3h, 0.6 * flow_prior_shape[11], 1e-9);
  EXPECT_TRUE(n.at(day_type::weekday, 12).prior);
  EXPECT_EQ(n.at(day_type::weekday, 12).days, 0u);
}

TEST(FlowNormal, WetDaysAreLeftOutWhileEnoughDryDaysRemain) {
  const auto z = shanghai();
  const std::int32_t today = 20759 + 28;  // Monday 2026-11-30
  std::vector<std::int32_t> wet;
  const auto hours = wet_month(today, z, wet);
  const auto all = learn_flow_normal(hours, today, z, 24.0, 0.6, 5);
  EXPECT_NEAR(all.at(day_type::weekday, 10).median_m3h, 6.0, 1e-9) << "without the wet days known";
  const auto dry = learn_flow_normal(hours, today, z, 24.0, 0.6, 5, wet);
  const auto& c = dry.at(day_type::weekday, 10);
  EXPECT_NEAR(c.median_m3h, 2.0, 1e-9);
  EXPECT_NEAR(c.low_m3h, 2.0, 1e-9);
  EXPECT_EQ(c.days, 20u - static_cast<std::uint32_t>(std::count_if(wet.begin(), wet.end(), [](std::int32_t d) {
                      return day_type_of(d) == day_type::weekday;
                    })));
  EXPECT_FALSE(c.prior);
  EXPECT_EQ(c.days, 6u);
  EXPECT_EQ(dry.at(day_type::weekend, 10).days, 6u);  // the last weekend was wet
  // Fewer than min_days dry ones left (7 here): every day counts (a rainy season's flow is its
  // normal).
  const auto seven = learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet);
  EXPECT_EQ(seven.at(day_type::weekend, 10).days, 8u);
  EXPECT_EQ(seven.at(day_type::weekday, 10).days, 20u);
  EXPECT_NEAR(seven.at(day_type::weekday, 10).median_m3h, 6.0, 1e-9);
  EXPECT_FALSE(seven.at(day_type::weekday, 10).prior);
  // Every day wet: the same as knowing none.
  std::vector<std::int32_t> every;
  for (std::int32_t d = today - 28; d < today; ++d) every.push_back(d);
  EXPECT_EQ(learn_flow_normal(hours, today, z, 24.0, 0.6, 5, every), all);
}

TEST(FlowNormal, ACellWithTooFewDryDaysKeepsItsLastLearnedValueNotTheWetMedian) {
  const auto z = shanghai();
  const std::int32_t today = 20759 + 28;  // Monday 2026-11-30
  std::vector<std::int32_t> wet;
  const auto hours = wet_month(today, z, wet, 3);  // 11:00 on 3 days only: too few in all
  // Yesterday's normal, learned from enough dry days (min 5): 2.0 at 10:00 on both day types.
  const auto yesterday = learn_flow_normal(hours, today, z, 24.0, 0.6, 5, wet);
  ASSERT_FALSE(yesterday.at(day_type::weekday, 10).prior);
  ASSERT_NEAR(yesterday.at(day_type::weekend, 10).median_m3h, 2.0, 1e-9);
  // Today fewer than min_days (7) dry days remain: the cells keep yesterday's dry value, days too.
  const auto kept = learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet, &yesterday);
  EXPECT_EQ(kept.computed_day, today);
  for (const auto t : {day_type::weekday, day_type::weekend}) {
    const auto& c = kept.at(t, 10);
    EXPECT_FALSE(c.prior) << to_string(t);
    EXPECT_NEAR(c.median_m3h, 2.0, 1e-9) << to_string(t);
    EXPECT_NEAR(c.low_m3h, 2.0, 1e-9) << to_string(t);
    EXPECT_EQ(c.days, 6u) << to_string(t);
  }
  // And the day after, from the kept one: still the dry value (kept until dry days return).
  const auto next = learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet, &kept);
  EXPECT_NEAR(next.at(day_type::weekday, 10).median_m3h, 2.0, 1e-9);
  // Enough dry days again: learned from them, not kept (6 dry weekdays with min 5).
  auto higher = yesterday;
  higher.at(day_type::weekday, 10).median_m3h = 9.0;
  EXPECT_NEAR(learn_flow_normal(hours, today, z, 24.0, 0.6, 5, wet, &higher).at(day_type::weekday, 10).median_m3h,
              2.0, 1e-9);
  // Too few days in all (11:00 has 3): the prior, not a kept value.
  auto learned11 = yesterday;
  learned11.at(day_type::weekday, 11) = {5.0, 4.0, 9, false};
  const auto without11 = learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet, &learned11);
  const auto& c11 = without11.at(day_type::weekday, 11);
  EXPECT_TRUE(c11.prior);
  EXPECT_NEAR(c11.median_m3h, 0.6 * flow_prior_shape[11], 1e-9);
  // A previous cell that is the prior (a new site in a wet month): every day counts, as without.
  const auto prior = prior_flow_normal(24.0, 0.6);
  const auto from_prior = learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet, &prior);
  EXPECT_EQ(from_prior, learn_flow_normal(hours, today, z, 24.0, 0.6, 7, wet));
  EXPECT_NEAR(from_prior.at(day_type::weekday, 10).median_m3h, 6.0, 1e-9);
  EXPECT_EQ(from_prior.at(day_type::weekday, 10).days, 20u);
}

TEST(FlowNormal, WetDaysOfSpansAreTheirDaysAndTheDayAfter) {
  const auto z = shanghai();
  // 2026-11-30 22:00 local to 2026-12-01 03:00 local (a night's rain), and one within 2026-12-05.
  const auto night = weather_span{ms_of(at("2026-11-30T14:00:00Z")), ms_of(at("2026-11-30T19:00:00Z"))};
  const auto sat = weather_span{ms_of(at("2026-12-05T02:00:00Z")), ms_of(at("2026-12-05T04:00:00Z"))};
  const std::int32_t nov30 = 20787;
  EXPECT_EQ(format_day(nov30), "2026-11-30");
  EXPECT_EQ(wet_days_of({sat, night}, z), (std::vector<std::int32_t>{nov30, nov30 + 1, nov30 + 2, nov30 + 5, nov30 + 6}));
  EXPECT_TRUE(wet_days_of({}, z).empty());
  // A span whose end is before its start counts as its start.
  EXPECT_EQ(wet_days_of({{sat.to_ms, sat.from_ms - 86'400'000}}, z), (std::vector<std::int32_t>{nov30 + 5, nov30 + 6}));
}

// ---- the rules against a view ------------------------------------------------------------

struct outcome {
  int raises{0};
  int clears{0};
  std::vector<proto::timestamp> when;
};

/// Feeds `n` one-minute records of flow `rate` from `from` to `rule` with view `v`.
outcome feed(const alert_rule& rule, const terminal_info& t, rule_state& s, proto::timestamp from, int n, double rate,
             const flow_normal_view& v) {
  outcome o;
  for (int i = 1; i <= n; ++i) {
    const auto r = test::with_flow(test::record(t.id, static_cast<std::uint64_t>(i), from + minutes(i)), rate, std::nullopt);
    observation obs{r, r.ts, true};
    obs.flow_normal = &v;
    const auto got = rule.observe(obs, t, s);
    if (got.act == verdict::action::raise) ++o.raises;
    if (got.act == verdict::action::clear) ++o.clears;
    if (got.any()) o.when.push_back(got.at);
  }
  return o;
}

flow_normal_view view(double mean, double normal, double low, bool learned = true) {
  flow_normal_view v;
  v.window_s = 7200;
  v.window_covered_s = 7200;
  v.window_mean_m3h = mean;
  v.normal_m3h = normal;
  v.normal_low_m3h = low;
  v.normal_low_mean_m3h = low;
  v.learned = learned;
  v.hour_low_m3h = low;
  v.hour_learned = learned;
  return v;
}

const auto t0 = at("2026-11-30T02:00:00Z");  // 10:00 local

TEST(LowFlowRule, ADaytimeDropTo5PercentRaisesAfterTheDebounceAndClearsWithHysteresis) {
  const auto rule = make_low_flow_rule();
  const auto t = test::terminal("T");
  rule_state s;
  auto o = feed(*rule, t, s, t0, 29, 0.05, view(0.05, 1.0, 0.8));
  EXPECT_EQ(o.raises, 0) << "within the 30 min debounce";
  o = feed(*rule, t, s, t0 + minutes(30), 1, 0.05, view(0.05, 1.0, 0.8));
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(31));  // the condition started at t0 + 1 min
  // 0.7 x normal: inside the hysteresis band, stays raised; 0.85: clears after the debounce.
  o = feed(*rule, t, s, t0 + hours(1), 60, 0.7, view(0.7, 1.0, 0.8));
  EXPECT_EQ(o.raises + o.clears, 0);
  o = feed(*rule, t, s, t0 + hours(2), 31, 0.85, view(0.85, 1.0, 0.8));
  EXPECT_EQ(o.clears, 1);
}

TEST(LowFlowRule, AStableSiteRaisesWellBelowItsLowQuantileNotOnAFiftyPercentLoss) {
  const auto rule = make_low_flow_rule();
  const auto t = test::terminal("T");
  {
    // p10 0.85 x median: 0.3 is below 0.4 x 0.85 = 0.34.
    rule_state s;
    EXPECT_EQ(feed(*rule, t, s, t0, 40, 0.3, view(0.3, 1.0, 0.85)).raises, 1);
  }
  {
    // Half the flow is above 0.34: scatter of this size is what station-fed sites show on
    // ordinary days (config.hpp low_flow_low_band_ratio); not raised.
    rule_state s;
    EXPECT_EQ(feed(*rule, t, s, t0, 120, 0.5, view(0.5, 1.0, 0.85)).raises, 0);
  }
}

TEST(LowFlowRule, APulsySiteIsJudgedAgainstItsOwnLowBand) {
  const auto rule = make_low_flow_rule();
  const auto t = test::terminal("T");
  // A terminal fed by a pump station that cycles for hours: its p10 is 0.3 x its median. A
  // window at 0.2 x median is an ordinary lull (above 0.4 x 0.3 = 0.12); at 0.1 it is not.
  rule_state s;
  EXPECT_EQ(feed(*rule, t, s, t0, 120, 0.2, view(0.2, 1.0, 0.3)).raises, 0);
  EXPECT_EQ(feed(*rule, t, s, t0 + hours(2), 40, 0.1, view(0.1, 1.0, 0.3)).raises, 1);
}

TEST(LowFlowRule, NoAlertAtNightWhenNightFlowIsNormallyAbsentOnThePriorOrAtTheSitesOwnLevel) {
  const auto rule = make_low_flow_rule();
  const auto t = test::terminal("T");
  rule_state s;
  // Night: the learned normal is near zero (its low quantile 0): never judged.
  EXPECT_EQ(feed(*rule, t, s, t0, 600, 0.0, view(0.0, 0.02, 0.0)).raises, 0);
  // The prior (not learned): no spread known, not judged even far below it.
  EXPECT_EQ(feed(*rule, t, s, t0, 600, 0.0, view(0.0, 1.0, 0.0, false)).raises, 0);
  // A terminal that runs at its own low level: that level is its normal.
  EXPECT_EQ(feed(*rule, t, s, t0, 600, 0.2, view(0.2, 0.2, 0.16)).raises, 0);
  // A site whose ordinary days scatter widely: 50 % of its median is above its p10: not raised.
  EXPECT_EQ(feed(*rule, t, s, t0, 600, 0.5, view(0.5, 1.0, 0.4)).raises, 0);
  // A window mostly without readings is not judged.
  auto gap = view(0.0, 1.0, 0.8);
  gap.window_covered_s = 3600;
  EXPECT_EQ(feed(*rule, t, s, t0, 600, 0.0, gap).raises, 0);
  EXPECT_FALSE(s.active);
}

TEST(NoFlowRule, AbsentWhenItNormallyFlowsRaisesAfterTheShortDebounceAtNightAfterTheLongOne) {
  const auto rule = make_no_flow_rule();
  const auto t = test::terminal("T");
  rule_state s;
  // This hour normally flows (learned p10 0.8 m3/h): 50 min.
  auto o = feed(*rule, t, s, t0, 50, 0.0, view(0.0, 1.0, 0.8));
  EXPECT_EQ(o.raises, 0);
  o = feed(*rule, t, s, t0 + minutes(50), 2, 0.0, view(0.0, 1.0, 0.8));
  EXPECT_EQ(o.raises, 1);
  // Night flow normally absent (p10 0), or the prior: the county's 6 h.
  for (const auto& v : {view(0.0, 0.02, 0.0), view(0.0, 1.0, 0.0, false)}) {
    rule_state n;
    EXPECT_EQ(feed(*rule, t, n, t0, 6 * 60 - 2, 0.0, v).raises, 0);
    EXPECT_EQ(feed(*rule, t, n, t0 + minutes(6 * 60 - 2), 3, 0.0, v).raises, 1);
  }
}

TEST(FlowNormalConfig, KeysAreReadAndErrorsNameTheKey) {
  testing::temp_dir dir("gw-flow-config");
  auto e = test::config_error_of(dir.path(), "[alerts]\nlow_flow_raise_ratio = 0.7\nlow_flow_clear_ratio = 0.65\n");
  EXPECT_NE(e.find("alerts.low_flow_clear_ratio: must not be below low_flow_raise_ratio"), std::string::npos) << e;
  e = test::config_error_of(dir.path(), "[alerts]\nflow_min_days = 0\n");
  EXPECT_NE(e.find("alerts.flow_min_days: must be in [1, 28], got 0"), std::string::npos) << e;
  e = test::config_error_of(dir.path(), "[alerts]\nlow_flow_window_s = 60\n");
  EXPECT_NE(e.find("alerts.low_flow_window_s: must be in [600, 86400], got 60"), std::string::npos) << e;
  const thresholds d;
  EXPECT_EQ(d.low_flow_window_s, 7200u);
  EXPECT_EQ(d.low_flow_raise_ratio, 0.6);
  EXPECT_EQ(d.low_flow_low_band_ratio, 0.4);
  EXPECT_EQ(d.low_flow_clear_ratio, 0.8);
  EXPECT_EQ(d.low_flow_debounce_s, 1800u);
  EXPECT_EQ(d.no_flow_flowing_debounce_s, 3000u);
  EXPECT_EQ(d.flow_min_days, 5u);
}

// ---- store ---------------------------------------------------------------------------------

TEST(FlowNormalStore, Version15MigratesToTheCurrentSchema) {
  testing::temp_dir dir("gw-flow-migrate");
  const auto path = dir.path() / "g.db";
  { sqlite_store db(path, 100); }
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "DROP TABLE flow_hours; DROP TABLE flow_normal_sites; ALTER TABLE daily DROP COLUMN sludge_level_s;"
                           " ALTER TABLE daily DROP COLUMN sludge_ok_s; DROP TABLE hourly; DROP TABLE weather_held; PRAGMA user_version=15;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  sqlite_store db(path, 100);
  EXPECT_EQ(db.schema_version(), sqlite_schema_version);
  EXPECT_TRUE(db.flow_hours("T", 0, 1).empty());
  EXPECT_TRUE(db.load_flow_normals().empty());
}

// Schema 19 keeps a site's normal in one row (48 cells in a blob); the migration carries every
// site with all 48 rows of schema 18 over and leaves an incomplete one to be learned again.
TEST(FlowNormalStore, Version18CarriesCompleteNormalsIntoOneRowPerSite) {
  testing::temp_dir dir("gw-flow-v19");
  const auto path = dir.path() / "g.db";
  { sqlite_store db(path, 100); }
  const auto exec = [&](const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(raw);
  };
  // Back to schema 18: its table, site A complete (cell value = day_type x 24 + hour), site B
  // with 3 rows, site C with 48 rows of which one has an hour out of range.
  std::string sql =
      "DROP TABLE flow_normal_sites; DROP TABLE weather_held;"
      "CREATE TABLE flow_normals (site_id TEXT NOT NULL, day_type INTEGER NOT NULL, hour INTEGER NOT NULL,"
      " median_m3h REAL NOT NULL, low_m3h REAL NOT NULL, days INTEGER NOT NULL, prior INTEGER NOT NULL,"
      " computed_day INTEGER NOT NULL, PRIMARY KEY (site_id, day_type, hour)) WITHOUT ROWID;"
      "INSERT INTO flow_normals VALUES ('B', 0, 0, 1, 1, 1, 0, 20000), ('B', 0, 1, 1, 1, 1, 0, 20000),"
      " ('B', 1, 5, 1, 1, 1, 0, 20000);";
  for (int d = 0; d < 2; ++d)
    for (int h = 0; h < 24; ++h) {
      const auto cell = std::to_string(d * 24 + h);
      sql += "INSERT INTO flow_normals VALUES ('A', " + std::to_string(d) + ", " + std::to_string(h) + ", " + cell +
             ", " + cell + " / 2.0, " + std::to_string(h) + ", " + std::to_string(d) + ", 20000);";
      sql += "INSERT INTO flow_normals VALUES ('C', " + std::to_string(d) + ", " + std::to_string(d == 1 && h == 23 ? 24 : h) +
             ", 1, 1, 1, 0, 20000);";
    }
  sql += "PRAGMA user_version=18;";
  exec(sql);
  {
    sqlite_store db(path, 100);
    EXPECT_EQ(db.schema_version(), sqlite_schema_version);
    const auto normals = db.load_flow_normals();
    ASSERT_EQ(normals.size(), 1u);
    EXPECT_EQ(normals[0].site_id, "A");
    flow_normal expected;
    expected.computed_day = 20000;
    for (std::size_t i = 0; i < expected.cells.size(); ++i)
      expected.cells[i] = {double(i), double(i) / 2.0, static_cast<std::uint32_t>(i % 24), i >= 24};
    EXPECT_EQ(normals[0].normal, expected);
    // Written whole, one row per site, numbers a REAL column could not hold bit for bit included.
    write_batch b;
    site_flow_normal n = normals[0];
    n.normal.at(day_type::weekend, 3).low_m3h = std::numeric_limits<double>::infinity();
    n.normal.at(day_type::weekday, 7).median_m3h = 0.1 + 0.2;
    n.normal.at(day_type::weekday, 9).days = 4'000'000'000u;
    n.normal.computed_day = 20001;
    b.flow_normals.push_back(n);
    db.apply(b);
    const auto again = db.load_flow_normals();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].normal, n.normal);
  }
  // A blob cut short by hand is skipped (its site learns again), never a failed start.
  exec("UPDATE flow_normal_sites SET cells = substr(cells, 1, 1000)");
  sqlite_store db(path, 100);
  EXPECT_TRUE(db.load_flow_normals().empty());
}

// ---- through the engine and the API --------------------------------------------------------

/// Local 2026-11-02 00:00 (Monday).
const auto day0 = at("2026-11-01T16:00:00Z");

/// What a terminal brings at local hour `h` of day `d` (days from day0): nothing 00-05, 0.3 m3/h
/// 05-06 and 22-24, `day_m3h` in the day, scattered +-10 % from day to day.
double pattern(int d, int h, double day_m3h) {
  if (h < 5) return 0.0;
  if (h < 6 || h >= 22) return 0.3;
  return day_m3h * (1.0 + 0.05 * ((d % 5) - 2));
}

class FlowNormalEngine : public ::testing::Test {
 protected:
  FlowNormalEngine() : dir_("gw-flow-engine"), clock_(day0) {
    cfg_.http_public_read = true;
    cfg_.startup_grace = seconds(0);
    std::vector<terminal_info> ts;
    for (const auto* id : {"T1", "T2", "T3", "T4"}) {
      auto t = test::terminal(id, cfg_.defaults);
      t.report_interval_s = 600;
      ts.push_back(t);
    }
    reg_ = registry(ts);
    open();
  }
  void open() {
    api_.reset();
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 100);
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  void send(const std::string& id, proto::timestamp ts, double rate) {
    auto r = test::with_flow(test::record(id, ++seq_[id], ts), rate, std::nullopt);
    r.interval_s = 600;
    clock_.set(std::max(clock_.now(), ts));
    eng_->handle({proto::telemetry_topic(id), proto::encode(r), false, clock_.now()});
  }
  /// Ten-minute records of every terminal from day0 + `from_min` minutes up to `to_min`; `rate`
  /// gives each terminal's flow from (terminal index, day, local hour, minute of the day).
  template <class F>
  void run(int from_min, int to_min, F rate) {
    for (int m = from_min + 10; m <= to_min; m += 10) {
      const int d = (m - 1) / 1440;
      const int h = ((m - 1) % 1440) / 60;
      for (int i = 0; i < 4; ++i) send("T" + std::to_string(i + 1), day0 + minutes(m), rate(i, d, h, m));
      if (m % 1440 == 0) eng_->flush();
    }
    eng_->flush();
  }
  /// The usual flow: T1, T3, T4 1.0 m3/h in the day; T2 its own low 0.2 m3/h.
  static double usual(int i, int d, int h, int) { return pattern(d, h, i == 1 ? 0.2 : 1.0); }
  std::optional<proto::alert_message> open_alert(const std::string& id, proto::alert_type type) {
    for (const auto& [aid, a] : eng_->open_alerts())
      if (a.terminal_id == id && a.type == type) return a;
    return std::nullopt;
  }
  json get_json(const std::string& target, unsigned status = 200) {
    const auto r = api_->handle({"GET", target, "", ""});
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return json::parse(r.body);
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::map<std::string, std::uint64_t> seq_;
};

TEST_F(FlowNormalEngine, PriorFirstThenLearnedPersistedAcrossARestartAndShownByTheApi) {
  run(0, 10, usual);
  const auto* first = eng_->learned_normal("T1");
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(std::all_of(first->cells.begin(), first->cells.end(), [](const auto& c) { return c.prior; }));
  auto j = get_json("/api/terminals/T1/normal");
  EXPECT_EQ(j["computed_day"], "2026-11-02");
  EXPECT_EQ(j["day_types"]["weekday"][8]["median_m3h"], 0.99);  // 24 m3/d x 0.6 / 24 x 1.65
  EXPECT_EQ(j["day_types"]["weekday"][8]["low_m3h"], 0.0);
  EXPECT_EQ(j["day_types"]["weekday"][8]["prior"], true);
  EXPECT_EQ(j["history_days"], 28);
  EXPECT_EQ(j["time_zone"], "Asia/Shanghai");
  // A week (Mon-Sun) and the first record of the next Monday: weekday hours have 5 days of history.
  run(10, 7 * 1440 + 10, usual);
  const auto* n = eng_->learned_normal("T1");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(format_day(n->computed_day), "2026-11-09");
  const auto& noon = n->at(day_type::weekday, 12);
  EXPECT_FALSE(noon.prior);
  EXPECT_EQ(noon.days, 5u);
  EXPECT_NEAR(noon.median_m3h, 1.0, 1e-9);  // days 0..4: 0.9, 0.95, 1.0, 1.05, 1.1
  EXPECT_NEAR(noon.low_m3h, 0.92, 1e-9);
  EXPECT_FALSE(n->at(day_type::weekday, 2).prior);
  EXPECT_EQ(n->at(day_type::weekday, 2).median_m3h, 0.0);  // night: normally nothing
  EXPECT_TRUE(n->at(day_type::weekend, 12).prior);  // two weekend days
  EXPECT_EQ(n->at(day_type::weekend, 12).days, 2u);
  j = get_json("/api/terminals/T1/normal");
  EXPECT_EQ(j["computed_day"], "2026-11-09");
  EXPECT_EQ(j["day_types"]["weekday"][12]["median_m3h"], 1.0);
  EXPECT_EQ(j["day_types"]["weekday"][12]["low_m3h"], 0.92);
  EXPECT_EQ(j["day_types"]["weekday"][12]["days"], 5);
  EXPECT_EQ(j["day_types"]["weekday"][12]["prior"], false);
  EXPECT_EQ(j["day_types"]["weekend"][12]["prior"], true);
  EXPECT_EQ(j["day_types"]["weekday"].size(), 24u);
  EXPECT_EQ(get_json("/api/terminals/NOPE/normal", 404)["error"]["status"], 404);
  // A restart reloads it.
  const flow_normal before = *n;
  open();
  ASSERT_NE(eng_->learned_normal("T1"), nullptr);
  EXPECT_EQ(*eng_->learned_normal("T1"), before);
  // The thresholds of the terminal show the new keys.
  const auto t = get_json("/api/terminals/T1");
  EXPECT_EQ(t["thresholds"]["low_flow_raise_ratio"], 0.6);
  EXPECT_EQ(t["thresholds"]["no_flow_flowing_debounce_s"], 3000);
}

TEST_F(FlowNormalEngine, DaysOfWeatherEventsAreLeftOutOfTheNormalAndASecondRainStillRunsHigh) {
  // Days 3-7 rain (3 x the usual flow all day): a weather event from day 3 06:00 to day 7 20:00
  // local; day 8 is the day after. Asked once per operating day, for the history's days.
  std::vector<std::pair<std::int64_t, std::int64_t>> asked;
  eng_->set_weather_spans([&](std::int64_t from_ms, std::int64_t to_ms) {
    asked.emplace_back(from_ms, to_ms);
    return std::vector<weather_span>{{ms_of(day0 + hours(3 * 24 + 6)), ms_of(day0 + hours(7 * 24 + 20))}};
  });
  const auto wet = [](int i, int d, int h, int m) { return (d >= 3 && d <= 7 ? 3.0 : 1.0) * usual(i, d, h, m); };
  run(0, 14 * 1440 + 10, wet);
  const auto* n = eng_->learned_normal("T1");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(format_day(n->computed_day), "2026-11-16");
  // Weekdays of days 0..13 left: 0, 1, 2 (Mon-Wed) and 9, 10, 11 (Tue-Thu): 0.9, 0.95, 1.0, 1.1, 0.9, 0.95.
  const auto& noon = n->at(day_type::weekday, 12);
  EXPECT_FALSE(noon.prior);
  EXPECT_EQ(noon.days, 6u);
  EXPECT_NEAR(noon.median_m3h, 0.95, 1e-9);
  ASSERT_EQ(asked.size(), 15u) << "once per operating day, not per terminal";
  // From a day before the 28 days: the day after an event that ended then is in them.
  EXPECT_EQ(asked.back().first, ms_of(operating_day_start(20773 - 29, shanghai())));
  EXPECT_EQ(asked.back().second, ms_of(day0 + hours(14 * 24)));
  // Without them the next day's normal takes the wet days in: weekdays 0-4, 7-11 and 14, of them
  // days 3, 4 and 7 at 3 x: 0.9 0.9 0.95 0.95 1.0 1.05 1.1 1.1 3.0 3.15 3.3, median 1.05 (with the
  // wet days left out it would be 0.95, as above).
  eng_->set_weather_spans({});
  run(14 * 1440 + 10, 15 * 1440 + 10, wet);
  const auto& without = eng_->learned_normal("T1")->at(day_type::weekday, 12);
  EXPECT_EQ(without.days, 11u);
  EXPECT_NEAR(without.median_m3h, 1.05, 1e-9);
  // The weather events cannot be read: each site keeps the normal it has that day (learned from
  // every day it would take a wet median, and keep it), and the read is tried again the next day.
  int failed = 0;
  eng_->set_weather_spans([&](std::int64_t, std::int64_t) -> std::vector<weather_span> {
    ++failed;
    throw std::runtime_error("incident store unreachable");
  });
  const auto before = *eng_->learned_normal("T1");
  run(15 * 1440 + 10, 16 * 1440 + 10, wet);
  const auto* kept = eng_->learned_normal("T1");
  EXPECT_EQ(kept->computed_day, before.computed_day + 1);
  EXPECT_EQ(kept->cells, before.cells);
  EXPECT_EQ(failed, 1) << "once per operating day, not per terminal";
  run(16 * 1440 + 10, 17 * 1440 + 10, wet);
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(eng_->learned_normal("T1")->computed_day, before.computed_day + 2);
}

TEST_F(FlowNormalEngine, TerminalsRunningHighAreThoseAboveAFactorOfTheirOwnNormal) {
  // Four weeks of the usual flow (learned), then day 28 up to 10:00 local: nobody runs high, also
  // not T2 at its own low level; a day's scatter (+-10 %) is far from 2 x.
  const int ten = 28 * 1440 + 600;
  run(0, ten, usual);
  const auto before = eng_->terminals_running_high(2.0, day0 + minutes(ten));
  EXPECT_TRUE(before.high.empty());
  EXPECT_EQ(before.judged, 4u);
  EXPECT_TRUE(eng_->terminals_running_high(1.2, day0 + minutes(ten)).high.empty());
  // Rain: T1 2.5 x, T2 3 x (of its own 0.2 m3/h), T3 2.2 x; T4 as usual.
  const auto rain = [](int i, int d, int h, int m) {
    const double q = usual(i, d, h, m);
    return i == 0 ? 2.5 * q : i == 1 ? 3.0 * q : i == 2 ? 2.2 * q : q;
  };
  // An hour into the rain the 2 h window holds an hour of each: (1 + 2.5) / 2 = 1.75 x for T1,
  // (1 + 3) / 2 = 2 x for T2 (and day 28 is 5 % above its median).
  run(ten, ten + 60, rain);
  EXPECT_EQ(eng_->terminals_running_high(2.0, day0 + minutes(ten + 60)).high, (std::vector<std::string>{"T2"}));
  EXPECT_EQ(eng_->terminals_running_high(1.5, day0 + minutes(ten + 60)).high, (std::vector<std::string>{"T1", "T2", "T3"}));
  run(ten + 60, ten + 120, rain);
  const auto now = day0 + minutes(ten + 120);
  EXPECT_EQ(eng_->terminals_running_high(2.0, now).high, (std::vector<std::string>{"T1", "T2", "T3"}));
  EXPECT_EQ(eng_->terminals_running_high(2.0, now).judged, 4u);
  EXPECT_EQ(eng_->terminals_running_high(2.8, now).high, (std::vector<std::string>{"T2"}));
  // Silent for the last 30 min: 75 % of the window covered, not judged (the covered part's mean
  // against the whole window's normal says too little).
  EXPECT_EQ(eng_->terminals_running_high(2.0, now + minutes(30)).judged, 0u);
  EXPECT_EQ(eng_->terminals_running_high(2.0, now + minutes(20)).judged, 4u);
  // A window with no records (every terminal silent for 2 h) is not judged.
  EXPECT_TRUE(eng_->terminals_running_high(2.0, now + hours(3)).high.empty());
  EXPECT_EQ(eng_->terminals_running_high(2.0, now + hours(3)).judged, 0u);
}

TEST_F(FlowNormalEngine, FourWeeksOfNightsRaiseNothingThenABlockageABurstAndALostFlowAreCaught) {
  // 28 days of the usual flow (five hours of no flow every night): no alert at all, also while
  // the normal is still the prior (T2 runs at 0.2 m3/h, a third of its prior).
  run(0, 28 * 1440, usual);
  EXPECT_TRUE(eng_->open_alerts().empty());
  // Day 28 (Monday 2026-11-30): a normal night and morning, then from 10:00 local T1 loses 95 %
  // (a blockage upstream), T3 70 % (a burst; half of it would stay above 0.4 x its p10:
  // LowFlowRule.AStableSiteRaisesWellBelowItsLowQuantileNotOnAFiftyPercentLoss), T4 everything;
  // T2 keeps its own low level.
  const int ten = 28 * 1440 + 600;
  run(28 * 1440, ten, usual);
  EXPECT_TRUE(eng_->open_alerts().empty()) << "the night and the morning of day 28";
  const auto dropped = [](int i, int d, int h, int m) {
    const double q = usual(i, d, h, m);
    return i == 0 ? 0.05 * q : i == 2 ? 0.3 * q : i == 3 ? 0.0 : q;
  };
  // Records every 10 min: the first without flow at ten + 10.
  run(ten, ten + 50, dropped);
  EXPECT_FALSE(open_alert("T1", proto::alert_type::low_flow)) << "the 2 h window still holds the morning";
  EXPECT_FALSE(open_alert("T4", proto::alert_type::no_flow)) << "40 min without flow: within the debounce";
  run(ten + 50, ten + 60, dropped);
  EXPECT_TRUE(open_alert("T4", proto::alert_type::no_flow)) << "50 min in hours when it normally flows";
  EXPECT_FALSE(open_alert("T1", proto::alert_type::low_flow)) << "the 2 h window still holds the morning";
  run(ten + 60, ten + 80, dropped);
  EXPECT_TRUE(open_alert("T4", proto::alert_type::no_flow)) << "50 min in hours when it normally flows";
  run(ten + 80, ten + 150, dropped);
  const auto blocked = open_alert("T1", proto::alert_type::low_flow);
  ASSERT_TRUE(blocked);
  EXPECT_LT(*blocked->value, 0.6 * *blocked->threshold);
  EXPECT_NEAR(*blocked->threshold, 1.0, 0.06);  // the normal for 10-12 h local
  EXPECT_TRUE(open_alert("T3", proto::alert_type::low_flow));
  EXPECT_FALSE(open_alert("T2", proto::alert_type::low_flow));
  EXPECT_FALSE(open_alert("T2", proto::alert_type::no_flow));
  // Flow back: low_flow clears once the 2 h window is back above 0.8 x normal, after the debounce.
  run(ten + 150, ten + 360, usual);
  EXPECT_FALSE(open_alert("T1", proto::alert_type::low_flow));
  EXPECT_FALSE(open_alert("T3", proto::alert_type::low_flow));
  EXPECT_FALSE(open_alert("T4", proto::alert_type::no_flow));
}

}  // namespace
}  // namespace sewage::gateway
