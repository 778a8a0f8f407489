// The simulated county's true clean-out outlook (tools/sim/include/sewage/sim/sludge_truth.hpp).
#include "sewage/sim/sludge_truth.hpp"

#include "sewage/proto/timestamp.hpp"

#include <gtest/gtest.h>

#include <filesystem>

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

TEST(SimSludgeTruth, WindowInterpolatesItsStartAndForgetsOlderSamples) {
  treated_volume_history h(7.0, 0.25);
  EXPECT_EQ(h.until(1.0, 5.0).days, 0.0);  // nothing known yet
  // 10 m3/d for 10 days, then 20 m3/d, sampled every 6 h.
  for (int i = 0; i <= 40; ++i) h.add(i * 0.25, 10.0 * i * 0.25);
  for (int i = 41; i <= 48; ++i) h.add(i * 0.25, 100.0 + 20.0 * (i * 0.25 - 10.0));
  EXPECT_LE(h.samples(), 30U);  // 7 days at 6 h, plus one at or before the start
  // At day 12.1 (volume 142): the window starts at 5.1 (51 m3, between samples at 5.0 and 5.25).
  const auto span = h.until(12.1, 142.0);
  EXPECT_NEAR(span.days, 7.0, 1e-12);
  EXPECT_NEAR(span.volume_m3, 91.0, 1e-9);
  // A sample closer than the resolution is not kept.
  const auto n = h.samples();
  h.add(12.1, 142.0);
  EXPECT_EQ(h.samples(), n);
}

TEST(SimSludgeTruth, ShortHistoryAveragesWhatIsKnown) {
  treated_volume_history h(7.0, 0.25);
  h.add(0.0, 0.0);
  h.add(0.25, 3.0);
  // After one day: the window is the day since the first sample.
  const auto span = h.until(1.0, 12.0);
  EXPECT_DOUBLE_EQ(span.days, 1.0);
  EXPECT_DOUBLE_EQ(span.volume_m3, 12.0);
}

TEST(SimSludgeTruth, HistoryBeforeStartIsTheVillagesDryWeatherWeek) {
  const auto profile = influent_profile::load_bsm1_csv(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv");
  const terminal_params live = village_params(30.0, 3);
  treated_volume_history h;
  add_history_before_start(h, profile, live, 7.0);
  // At the live start (t = 0, cumulative 0) the window holds 7 days: the volume the same
  // village treats over the 7 days before it (dry weather, 30 m3/d x its load factor on average).
  const auto span = h.until(0.0 + 1e-9, 0.0);
  EXPECT_NEAR(span.days, 7.0, 1e-6);
  terminal_params past = live;
  past.phase_days -= 7.0;
  terminal_model m(profile, past);
  m.advance_to(7.0, weather_kind::dry, 0.0, {});
  EXPECT_NEAR(span.volume_m3, m.volume_m3(), 1e-6 * m.volume_m3());
  EXPECT_NEAR(span.volume_m3 / 7.0, 30.0 * live.load_factor, 0.1 * 30.0 * live.load_factor);
}

}  // namespace
}  // namespace sewage::sim
