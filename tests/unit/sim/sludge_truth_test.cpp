// The simulated county's true clean-out outlook (tools/sim/include/sewage/sim/sludge_truth.hpp).
#include "sewage/sim/sludge_truth.hpp"

#include "sewage/proto/timestamp.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <span>

namespace sewage::sim {
namespace {

using sys_clock = std::chrono::system_clock;

sys_clock::time_point at(const char* iso) {
  const auto t = proto::parse_timestamp(iso);
  EXPECT_TRUE(t.has_value()) << iso;
  return *t;
}

std::string iso(sys_clock::time_point t) {
  return proto::format_timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

TEST(SimSludgeTruth, RiseIsVolumePerDayTimesSludgePerCubicMetre) {
  // 70 m3 over 7 days = 10 m3/d x 0.00005 m/m3 = 0.0005 m/day; 1.5 - 0.5 = 1.0 m: 2,000 days.
  const auto now = at("2026-11-28T16:00:00.000Z");
  const auto o = true_sludge_outlook(0.5, 0.00005, {70.0, 7.0}, 0.0, 1.5, now);
  EXPECT_DOUBLE_EQ(o.rise_m_per_day, 0.0005);
  ASSERT_TRUE(o.due_at.has_value());
  EXPECT_EQ(iso(*o.due_at), "2032-05-20T16:00:00Z");
}

TEST(SimSludgeTruth, ForcedRiseAddsPerDay) {
  // A scripted sludge_cleanout: 0.01 m/h forced = 0.24 m/day, plus 0.0005 from the volume; 0.485 m
  // to go = 2.0 days.
  const auto now = at("2026-11-29T04:00:00.000Z");
  const auto o = true_sludge_outlook(1.015, 0.00005, {35.0, 3.5}, 0.01, 1.5, now);
  EXPECT_NEAR(o.rise_m_per_day, 0.2405, 1e-12);
  ASSERT_TRUE(o.due_at.has_value());
  EXPECT_NEAR(std::chrono::duration<double>(*o.due_at - now).count() / 86400.0, 0.485 / 0.2405, 1e-9);
}

TEST(SimSludgeTruth, ReachedIsNowAndNoRiseIsNoDate) {
  const auto now = at("2026-11-29T04:00:00.000Z");
  const auto reached = true_sludge_outlook(1.5, 0.00005, {0.0, 7.0}, 0.0, 1.5, now);
  ASSERT_TRUE(reached.due_at.has_value());
  EXPECT_EQ(*reached.due_at, now);
  const auto flat = true_sludge_outlook(0.5, 0.00005, {0.0, 7.0}, 0.0, 1.5, now);
  EXPECT_EQ(flat.rise_m_per_day, 0.0);
  EXPECT_FALSE(flat.due_at.has_value());
  const auto unknown = true_sludge_outlook(0.5, 0.00005, {}, 0.0, 1.5, now);  // no span: no rate
  EXPECT_FALSE(unknown.due_at.has_value());
  // A trickle: more than 100 years ahead is no date (and no overflow of the clock).
  const auto trickle = true_sludge_outlook(0.5, 0.00005, {1e-6, 7.0}, 0.0, 1.5, now);
  EXPECT_GT(trickle.rise_m_per_day, 0.0);
  EXPECT_FALSE(trickle.due_at.has_value());
}

TEST(SimSludgeTruth, DryWeatherRateIsTheModelsOwnWeeklyMeanAndARainyWeekDoesNotChangeIt) {
  const auto profile = influent_profile::load_bsm1_csv(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv");
  const terminal_params p = village_params(30.0, 3);
  const auto rate = dry_weather_treated(p);
  EXPECT_DOUBLE_EQ(rate.days, 1.0);
  EXPECT_DOUBLE_EQ(rate.volume_m3, 30.0 * p.load_factor);
  // Any whole dry week the model runs treats 7 x that (its profile is scaled to it and repeats
  // weekly), from whichever phase it starts.
  for (const double phase : {0.0, 2.5, 5.0}) {
    terminal_params q = p;
    q.phase_days += phase;
    terminal_model m(profile, q);
    m.advance_to(7.0, weather_kind::dry, 0.0, {});
    EXPECT_NEAR(m.volume_m3() / 7.0, rate.volume_m3, 0.005 * rate.volume_m3) << "phase " << phase;
  }
  // A week with rain treats more, but the truth's rate (the years ahead) stays the dry one: the
  // rain's extra sludge is in the model's level, not in its future rate.
  terminal_model wet(profile, p);
  wet.advance_to(7.0, weather_kind::rain, 1.0, {});
  EXPECT_GT(wet.volume_m3() / 7.0, 1.1 * rate.volume_m3);
  EXPECT_DOUBLE_EQ(dry_weather_treated(wet.params()).volume_m3, rate.volume_m3);
}

TEST(SimSludgeTruth, AStartLevelForADueDayReachesTheRaiseLevelThenWhateverTheWeather) {
  const auto profile = influent_profile::load_bsm1_csv(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv");
  const terminal_params village = village_params(30.0, 5);
  const double rate_m_per_day = village.sludge_m_per_m3 * 30.0 * village.load_factor;
  // Due 7 days after the scenario start, which is 2.5 h after the simulation origin.
  const double due_days = 2.5 / 24.0 + 7.0;
  const weather_event rain{weather_kind::rain, 2.5 / 24.0 + 2.0};  // a rain on day 2
  for (const bool wet : {false, true}) {
    SCOPED_TRACE(wet ? "a rain on day 2" : "dry");
    const auto weather = wet ? std::span<const weather_event>(&rain, 1) : std::span<const weather_event>();
    terminal_params p = village;
    p.sludge_level_start_m = sludge_start_level_m(profile, p, 7.0, 2.5, weather);
    if (!wet) {
      // In dry weather: the dry rate (the weekly profile's phase moves it by less than a day).
      EXPECT_NEAR(p.sludge_level_start_m, cleanout_raise_m - rate_m_per_day * due_days, 0.15 * rate_m_per_day);
    } else {
      // The rain treats ~2 days' more: the level starts that much lower.
      EXPECT_LT(p.sludge_level_start_m, cleanout_raise_m - rate_m_per_day * (due_days + 1.5));
    }
    terminal_model m(profile, p);
    m.advance_to(due_days - 0.01, weather, {});
    EXPECT_LT(m.sludge_level_m(), cleanout_raise_m);
    m.advance_to(due_days + 0.01, weather, {});
    EXPECT_GE(m.sludge_level_m(), cleanout_raise_m);
  }
  // A due day the village cannot fill up to from the tank floor, and nonsense, are refused.
  auto error_of = [&](double due_in_days, double lead_h) -> std::string {
    try {
      (void)sludge_start_level_m(profile, village, due_in_days, lead_h, {});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of(1.5 / rate_m_per_day + 10.0, 0.0).rfind("due_in_days: ", 0), 0u);
  EXPECT_EQ(error_of(0.0, 0.0), "due_in_days: must be > 0");
  EXPECT_EQ(error_of(3.0, -1.0), "lead_h: must be >= 0");
}

}  // namespace
}  // namespace sewage::sim
