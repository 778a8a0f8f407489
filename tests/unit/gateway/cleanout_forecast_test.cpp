// Clean-out forecast (issue 14 item 3): the daily mean sludge level (aggregates, store), the
// Theil-Sen trend and its interval, a clean-out starting the trend again, the statuses, the
// cleanout_due_soon notice (rule and wire name), and through the engine with SQLite and the
// API's /api/terminals/{id}.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/forecast/cleanout.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/severity.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
using test::at;

county_zone shanghai() { return county_zone::locate("Asia/Shanghai").value_or(county_zone{}); }

/// Days `from`..`to` - 1 before `today` (= 100) with level(day offset) .
template <class F>
std::vector<daily_sludge> series(int from, int to, F level) {
  std::vector<daily_sludge> out;
  for (int d = from; d < to; ++d) out.push_back({100 + d, level(d)});
  return out;
}

// ---- the trend ------------------------------------------------------------------------------

TEST(CleanoutForecast, AStraightRiseGivesItsSlopeLevelAndDate) {
  // 14 days before day 100 at 0.5 m + 10 mm/day: today's trend level is 0.64 m, 86 days to 1.5 m.
  const auto f = forecast_cleanout(series(-14, 0, [](int d) { return 0.64 + 0.01 * d; }), 100, 1.5);
  EXPECT_EQ(f.status, cleanout_status::forecast);
  EXPECT_EQ(f.days_used, 14u);
  EXPECT_EQ(f.first_day, 86);
  ASSERT_TRUE(f.rise_m_per_day && f.level_m && f.due_day);
  EXPECT_NEAR(*f.rise_m_per_day, 0.01, 1e-12);
  EXPECT_NEAR(*f.level_m, 0.64, 1e-12);
  EXPECT_EQ(*f.due_day, 186);
  // No scatter: the interval is the date itself.
  EXPECT_EQ(f.due_early_day, 186);
  EXPECT_EQ(f.due_late_day, 186);
  EXPECT_FALSE(f.last_cleanout_day);
}

TEST(CleanoutForecast, DaysOfBadReadingsDoNotMoveTheMedianSlope) {
  // 5 mm/day with +-3 mm of day-to-day scatter from 1.0 m: day 201 (90 %: 197-204).
  const auto level = [](int d) { return 1.0 + 0.005 * d + 0.003 * std::sin(d * 1.7); };
  const auto clean = forecast_cleanout(series(-20, 0, level), 100, 1.5);
  ASSERT_EQ(clean.status, cleanout_status::forecast);
  EXPECT_NEAR(*clean.rise_m_per_day, 0.005, 0.00001);
  EXPECT_EQ(clean.due_day, 201);
  EXPECT_EQ(clean.due_early_day, 197);
  EXPECT_EQ(clean.due_late_day, 204);
  // Foam on the ultrasonic sensor reads 0.3-0.4 m high on 4 days of 20: the median barely moves
  // (a least-squares line would rise 10 mm/day from 1.12 m and say day 138).
  auto days = series(-20, 0, level);
  days[5].level_m += 0.4;
  days[12].level_m += 0.4;
  days[16].level_m += 0.3;
  days[17].level_m += 0.3;
  const auto f = forecast_cleanout(days, 100, 1.5);
  ASSERT_EQ(f.status, cleanout_status::forecast);
  EXPECT_EQ(f.days_used, 20u);
  EXPECT_NEAR(*f.rise_m_per_day, 0.00505, 0.00001);
  EXPECT_NEAR(*f.level_m, 1.0016, 0.0001);
  EXPECT_EQ(f.due_day, 199);
  EXPECT_EQ(f.due_early_day, 192);  // wider: the outliers' slopes spread the order statistics
  EXPECT_EQ(f.due_late_day, 204);
}

TEST(CleanoutForecast, AFallStartsTheTrendAgainAfterTheCleanOut) {
  // Rising to 1.45 m, emptied on day 92 to 0.1 m, then rising 20 mm/day for 8 days.
  std::vector<daily_sludge> days = series(-20, -8, [](int d) { return 1.45 + 0.01 * (d + 9); });
  const auto after = series(-8, 0, [](int d) { return 0.1 + 0.02 * (d + 8); });
  days.insert(days.end(), after.begin(), after.end());
  const auto f = forecast_cleanout(days, 100, 1.5);
  EXPECT_EQ(f.last_cleanout_day, 92);
  EXPECT_EQ(f.first_day, 92);
  EXPECT_EQ(f.days_used, 8u);
  ASSERT_EQ(f.status, cleanout_status::forecast);
  EXPECT_NEAR(*f.rise_m_per_day, 0.02, 1e-12);
  EXPECT_NEAR(*f.level_m, 0.26, 1e-12);
  EXPECT_EQ(*f.due_day, 162);  // (1.5 - 0.26) / 0.02 = 62 days
  // A day later than 6 days after the clean-out: not enough to say.
  const auto early = forecast_cleanout(days, 98, 1.5);
  EXPECT_EQ(early.status, cleanout_status::insufficient_history);
  EXPECT_EQ(early.days_used, 6u);
  EXPECT_FALSE(early.level_m);
  EXPECT_FALSE(early.due_day);
}

TEST(CleanoutForecast, SmallDipsAreNoCleanOut) {
  // 0.15 m down (under cleanout_fall_m) and 25 % down from 0.4 m (under cleanout_fall_ratio).
  auto days = series(-10, 0, [](int d) { return 1.0 + 0.01 * d; });
  days[4].level_m -= 0.15;
  EXPECT_FALSE(forecast_cleanout(days, 100, 1.5).last_cleanout_day);
  auto low = series(-10, 0, [](int) { return 0.8; });
  low[3].level_m = 0.55;  // 0.25 m but only 31 % -> a clean-out
  EXPECT_EQ(forecast_cleanout(low, 100, 1.5).last_cleanout_day, 93);
  low[3].level_m = 0.61;  // 0.19 m: not
  EXPECT_FALSE(forecast_cleanout(low, 100, 1.5).last_cleanout_day);
}

TEST(CleanoutForecast, StatusesAtTheEdges) {
  // Flat: not rising (and no date).
  auto f = forecast_cleanout(series(-10, 0, [](int d) { return 0.6 + (d % 2 == 0 ? 0.001 : -0.001); }), 100, 1.5);
  EXPECT_EQ(f.status, cleanout_status::not_rising);
  EXPECT_FALSE(f.due_day);
  EXPECT_NEAR(*f.level_m, 0.6, 0.002);
  // Falling (a tank being drawn down): not rising.
  EXPECT_EQ(forecast_cleanout(series(-10, 0, [](int d) { return 0.6 - 0.001 * d; }), 100, 1.5).status,
            cleanout_status::not_rising);
  // At the level: reached today.
  f = forecast_cleanout(series(-10, 0, [](int d) { return 1.52 + 0.002 * d; }), 100, 1.5);
  EXPECT_EQ(f.status, cleanout_status::reached);
  EXPECT_EQ(f.due_day, 100);
  // 0.2 mm/day from 0.2 m: 6,500 days - beyond the 10-year horizon.
  f = forecast_cleanout(series(-28, 0, [](int d) { return 0.2 + 0.0002 * d; }), 100, 1.5);
  EXPECT_EQ(f.status, cleanout_status::beyond_horizon);
  EXPECT_FALSE(f.due_day);
  EXPECT_NEAR(*f.rise_m_per_day, 0.0002, 1e-12);
  // The simulated county's 0.55 mm/day from 0.6 m: 1,637 days, a date.
  f = forecast_cleanout(series(-28, 0, [](int d) { return 0.6 + 0.00055 * d; }), 100, 1.5);
  EXPECT_EQ(f.status, cleanout_status::forecast);
  EXPECT_EQ(f.due_day, 100 + 1637);
  // Nothing: insufficient.
  EXPECT_EQ(forecast_cleanout({}, 100, 1.5).status, cleanout_status::insufficient_history);
  EXPECT_EQ(forecast_cleanout({}, 100, 1.5).days_used, 0u);
}

TEST(CleanoutForecast, OnlyTheHistoryDaysBeforeTodayCount) {
  // Day 100 itself (partial) and days before day 72 are not used.
  auto days = series(-40, 1, [](int d) { return 0.5 + 0.01 * d; });
  days.back().level_m = 5.0;  // today's partial day
  days.front().level_m = 5.0;
  const auto f = forecast_cleanout(days, 100, 1.5);
  EXPECT_EQ(f.days_used, 28u);
  EXPECT_EQ(f.first_day, 72);
  EXPECT_NEAR(*f.rise_m_per_day, 0.01, 1e-12);
  EXPECT_NEAR(*f.level_m, 0.5, 1e-12);
  EXPECT_EQ(f.due_day, 200);
}

TEST(CleanoutForecast, DailyLevelsAreTimeWeightedAndNeedSixHours) {
  std::vector<daily_row> rows(4);
  rows[0].terminal_id = rows[1].terminal_id = rows[2].terminal_id = rows[3].terminal_id = "T";
  rows[0].totals.day = 10;  // two increments of day 10: 4 h at 1.0 m and 4 h at 1.3 m
  rows[0].totals.sludge_level_s = 1.0 * 4 * 3600;
  rows[0].totals.sludge_ok_s = 4 * 3600;
  rows[1].totals.day = 10;
  rows[1].totals.sludge_level_s = 1.3 * 4 * 3600;
  rows[1].totals.sludge_ok_s = 4 * 3600;
  rows[2].totals.day = 9;  // 5 h 59 min: not counted
  rows[2].totals.sludge_level_s = 0.9 * 21540;
  rows[2].totals.sludge_ok_s = 21540;
  rows[3].totals.day = 8;  // no sludge readings at all
  const auto d = daily_sludge_levels(rows);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].day, 10);
  EXPECT_NEAR(d[0].level_m, 1.15, 1e-12);
}

TEST(CleanoutForecast, RecordsBookTheirSludgeLevelOnTheirDay) {
  totalizer_cursor c;
  auto r = test::record("T", 1, at("2026-11-29T04:00:00Z"));
  r.interval_s = 900;
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.8, false, std::nullopt};
  auto d = record_deltas(r, c, {10.0, 24.0, shanghai()});
  ASSERT_FALSE(d.empty());
  EXPECT_DOUBLE_EQ(d[0].sludge_level_s, 720.0);
  EXPECT_DOUBLE_EQ(d[0].sludge_ok_s, 900.0);
  r.sludge->status = proto::quantity_status::fault;  // a faulty level counts nothing
  d = record_deltas(r, c, {10.0, 24.0, shanghai()});
  EXPECT_DOUBLE_EQ(d[0].sludge_ok_s, 0.0);
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, std::nullopt, true, std::nullopt};  // float switch only
  d = record_deltas(r, c, {10.0, 24.0, shanghai()});
  EXPECT_DOUBLE_EQ(d[0].sludge_ok_s, 0.0);
}

TEST(CleanoutForecast, TheStoreAddsUpAndKeepsTheDailySludge) {
  testing::temp_dir dir("gw-cleanout-store");
  sqlite_store db(dir.path() / "g.db", 100);
  EXPECT_EQ(db.schema_version(), sqlite_schema_version);
  for (int i = 0; i < 2; ++i) {
    write_batch b;
    daily_row row{"T", {}};
    row.totals.day = 20500;
    row.totals.sludge_level_s = 0.5 * 3600;
    row.totals.sludge_ok_s = 3600;
    b.daily.push_back(row);
    db.apply(b);
  }
  const auto rows = db.daily(std::string("T"), 20500, 20500);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].totals.sludge_level_s, 3600.0);
  EXPECT_DOUBLE_EQ(rows[0].totals.sludge_ok_s, 7200.0);
}

// ---- the notice -----------------------------------------------------------------------------

TEST(CleanoutDueSoon, WireNameUnitSeverityAndRegistration) {
  EXPECT_EQ(proto::to_string(proto::alert_type::cleanout_due_soon), "cleanout_due_soon");
  EXPECT_EQ(proto::parse_alert_type("cleanout_due_soon"), proto::alert_type::cleanout_due_soon);
  EXPECT_EQ(proto::value_unit(proto::alert_type::cleanout_due_soon), proto::unit::m);
  EXPECT_EQ(proto::all_alert_types.back(), proto::alert_type::cleanout_due_soon);  // appended
  EXPECT_EQ(alert_severity(proto::alert_type::cleanout_due_soon), severity::info);
  const auto rules = default_rules();
  const auto* rule = rules.find(proto::alert_type::cleanout_due_soon);
  ASSERT_NE(rule, nullptr);
  EXPECT_TRUE(rule->applies_to(site_kind::terminal));
  EXPECT_FALSE(rule->applies_to(site_kind::pump_station));
}

class CleanoutDueSoonRule : public ::testing::Test {
 protected:
  verdict observe(const cleanout_forecast* f) {
    ++seq_;
    const auto r = test::record("T", seq_, at("2026-11-29T04:00:00Z") + minutes(seq_));
    observation o{r, r.ts, true};
    o.cleanout = f;
    return rules_.find(proto::alert_type::cleanout_due_soon)->observe(o, info_, state_);
  }
  static cleanout_forecast due_in(int days) {
    cleanout_forecast f;
    f.status = cleanout_status::forecast;
    f.today = 20000;
    f.cleanout_level_m = 1.5;
    f.level_m = 1.5 - 0.01 * days;
    f.rise_m_per_day = 0.01;
    f.due_day = 20000 + days;
    f.due_early_day = 20000 + days - 2;
    f.due_late_day = 20000 + days + 3;
    return f;
  }
  rule_set rules_ = default_rules();
  terminal_info info_ = test::terminal("T");
  rule_state state_;
  std::uint64_t seq_{0};
};

TEST_F(CleanoutDueSoonRule, RaisedWithinTheNoticeDaysAndClearedWhenNoLongerDue) {
  const auto far = due_in(15);
  EXPECT_FALSE(observe(&far).any());  // 15 > 14 days
  EXPECT_FALSE(observe(nullptr).any());
  const auto soon = due_in(14);
  const auto v = observe(&soon);
  ASSERT_EQ(v.act, verdict::action::raise);
  EXPECT_NEAR(v.value, 1.36, 1e-9);
  EXPECT_DOUBLE_EQ(v.threshold, 1.5);
  EXPECT_NE(v.message.find("in 14 days"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find(format_day(20014)), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("between " + format_day(20012) + " and " + format_day(20017)), std::string::npos) << v.message;
  EXPECT_FALSE(observe(&soon).any());  // open: nothing new
  // The trend reaches the level: cleanout_required speaks, the notice stays open.
  cleanout_forecast reached = soon;
  reached.status = cleanout_status::reached;
  reached.due_day = 20000;
  EXPECT_FALSE(observe(&reached).any());
  // Emptied: the history starts again, too short to say - cleared.
  cleanout_forecast after;
  after.today = 20001;
  after.cleanout_level_m = 1.5;
  const auto c = observe(&after);
  EXPECT_EQ(c.act, verdict::action::clear);
  EXPECT_NE(c.message.find("insufficient_history"), std::string::npos) << c.message;
}

TEST_F(CleanoutDueSoonRule, NeverRaisedWithNoticeDaysZero) {
  info_.limits.cleanout_due_soon_days = 0;
  const auto soon = due_in(1);
  EXPECT_FALSE(observe(&soon).any());
}

// ---- through the engine and the API ---------------------------------------------------------

class CleanoutEngine : public ::testing::Test {
 protected:
  CleanoutEngine() : dir_("gw-cleanout-engine"), clock_(day0_) {
    cfg_.http_public_read = true;
    cfg_.startup_grace = seconds(0);
    auto t = test::terminal("T1", cfg_.defaults);
    t.report_interval_s = 3600;
    reg_ = registry({t});
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 100);
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  /// Hourly records of day `d` (days from day0_) at sludge `level_m`.
  void day(int d, double level_m) {
    for (int h = 1; h <= 24; ++h) {
      const auto ts = day0_ + std::chrono::hours(24 * d + h);
      auto r = test::with_flow(test::record("T1", ++seq_, ts), 1.0, std::nullopt);
      r.interval_s = 3600;
      r.sludge = proto::sludge_reading{proto::quantity_status::ok, level_m, level_m >= 1.5, std::nullopt};
      clock_.set(ts);
      eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
    }
    eng_->flush();
  }
  std::optional<proto::alert_message> open_alert(proto::alert_type type) {
    for (const auto& [id, a] : eng_->open_alerts())
      if (a.terminal_id == "T1" && a.type == type) return a;
    return std::nullopt;
  }
  json terminal() {
    const auto r = api_->handle({"GET", "/api/terminals/T1", "", ""});
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body);
  }

  /// Local 2026-11-02 00:00.
  const proto::timestamp day0_ = at("2026-11-01T16:00:00Z");
  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::uint64_t seq_{0};
};

TEST_F(CleanoutEngine, TheForecastFollowsTheDailyLevelsRaisesTheNoticeAndIsShown) {
  // A week at 1.0 m + 20 mm/day: on day 7 the trend is at 1.14 m, 18 days from 1.5 m.
  for (int d = 0; d < 7; ++d) day(d, 1.0 + 0.02 * d);
  auto j = terminal()["cleanout_forecast"];
  EXPECT_EQ(j["status"], "forecast") << j.dump();
  EXPECT_EQ(j["computed_date"], "2026-11-09");  // the clock is at the end of day 6 = 00:00 of day 7
  EXPECT_EQ(j["days_used"], 7);
  EXPECT_EQ(j["first_date"], "2026-11-02");
  EXPECT_EQ(j["level_m"], 1.14);
  EXPECT_EQ(j["rise_m_per_day"], 0.02);
  EXPECT_EQ(j["due_date"], "2026-11-27");
  EXPECT_EQ(j["cleanout_level_m"], 1.5);
  EXPECT_EQ(terminal()["thresholds"]["cleanout_due_soon_days"], 14);
  EXPECT_FALSE(open_alert(proto::alert_type::cleanout_due_soon));  // 18 days > 14
  // Four days more: on day 11 the trend is at 1.22 m, 14 days away - the notice.
  for (int d = 7; d < 11; ++d) day(d, 1.0 + 0.02 * d);
  day(11, 1.22);
  const auto a = open_alert(proto::alert_type::cleanout_due_soon);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->raised_at, day0_ + std::chrono::hours(24 * 11 + 1));  // the first record of day 11
  EXPECT_NEAR(*a->value, 1.22, 1e-9);
  EXPECT_NE(a->message.find("2026-11-27"), std::string::npos) << a->message;
  // Emptied on day 12: the next day the trend starts again and the notice clears.
  day(12, 0.1);
  day(13, 0.12);
  EXPECT_FALSE(open_alert(proto::alert_type::cleanout_due_soon));
  j = terminal()["cleanout_forecast"];
  EXPECT_EQ(j["status"], "insufficient_history");
  EXPECT_EQ(j["last_cleanout_date"], "2026-11-14");
  EXPECT_EQ(j["days_used"], 2);
  EXPECT_EQ(j["due_date"], nullptr);
}

}  // namespace
}  // namespace sewage::gateway
