// Daily aggregates: volume from totalizer deltas across meter reset, 32-bit wrap and gaps; the
// operating-day boundary at 16:00 UTC (Asia/Shanghai, UTC+8).
#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace sewage::gateway {
namespace {

using test::at;
using test::record;
using test::with_flow;
constexpr std::chrono::minutes shanghai{480};

double volume_of(const std::vector<daily_delta>& v) {
  double s = 0;
  for (const auto& d : v) s += d.volume_m3;
  return s;
}

TEST(OperatingDay, BoundaryIsSixteenHundredUtc) {
  const auto before = operating_day(at("2026-11-29T15:59:59.999Z"), shanghai);
  const auto after = operating_day(at("2026-11-29T16:00:00Z"), shanghai);
  EXPECT_EQ(format_day(before), "2026-11-29");
  EXPECT_EQ(format_day(after), "2026-11-30");
  EXPECT_EQ(operating_day_start(after, shanghai), at("2026-11-29T16:00:00Z"));
  EXPECT_EQ(parse_day("2026-11-30"), after);
  EXPECT_FALSE(parse_day("2026-02-30").has_value());
  EXPECT_FALSE(parse_day("2026-1-30").has_value());
}

TEST(OperatingDay, RecordEndingExactlyAtBoundaryBelongsToTheEndingDay) {
  totalizer_cursor c;
  const auto d1 = record_deltas(record("T", 1, at("2026-11-29T16:00:00Z")), c, 10, shanghai);
  const auto d2 = record_deltas(record("T", 2, at("2026-11-29T16:01:00Z")), c, 10, shanghai);
  EXPECT_EQ(format_day(d1.front().day), "2026-11-29");
  EXPECT_EQ(format_day(d2.front().day), "2026-11-30");
}

TEST(DailyVolume, TotalizerDeltasAreSummed) {
  totalizer_cursor c;
  volume_source src{};
  auto d = record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 0.6, 100.0), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::rate_fallback);  // first reading: no delta yet
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_NEAR(d.front().volume_estimated_m3, 0.01, 1e-12);
  d = record_deltas(with_flow(record("T", 2, at("2026-11-29T01:01:00Z")), 0.6, 100.5), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::totalizer);
  EXPECT_DOUBLE_EQ(volume_of(d), 0.5);
  EXPECT_DOUBLE_EQ(d.front().volume_estimated_m3, 0.0);
}

TEST(DailyVolume, MeterResetFallsBackToRateAndMarksIt) {
  totalizer_cursor c;
  record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 0.6, 5000.0), c, 10, shanghai);
  volume_source src{};
  auto d = record_deltas(with_flow(record("T", 2, at("2026-11-29T01:01:00Z")), 0.6, 0.3), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::reset);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_NEAR(d.front().volume_estimated_m3, 0.01, 1e-12);
  d = record_deltas(with_flow(record("T", 3, at("2026-11-29T01:02:00Z")), 0.6, 0.8), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::totalizer);  // counting resumes from the new base
  EXPECT_NEAR(volume_of(d), 0.5, 1e-9);
}

TEST(DailyVolume, ThirtyTwoBitWrapIsMeasuredNotReset) {
  totalizer_cursor c;
  record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 6, 4294967295.0), c, 10, shanghai);
  volume_source src{};
  const auto d = record_deltas(with_flow(record("T", 2, at("2026-11-29T01:10:00Z")), 6, 0.5), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::wrap);
  EXPECT_NEAR(volume_of(d), 1.5, 1e-6);
}

TEST(DailyVolume, GapAcrossDayBoundaryIsSplitByTime) {
  totalizer_cursor c;
  record_deltas(with_flow(record("T", 1, at("2026-11-29T14:00:00Z")), 1, 1000.0), c, 10, shanghai);
  // 4 h gap (agent offline), 12 m3 counted by the meter meanwhile: 2 h before 16:00 UTC, 2 h after.
  const auto d = record_deltas(with_flow(record("T", 2, at("2026-11-29T18:00:00Z")), 3, 1012.0), c, 10, shanghai);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(format_day(d[0].day), "2026-11-30");
  EXPECT_NEAR(d[0].volume_m3, 6.0, 1e-9);
  EXPECT_EQ(format_day(d[1].day), "2026-11-29");
  EXPECT_NEAR(d[1].volume_m3, 6.0, 1e-9);
  EXPECT_EQ(d[1].records, 0u);
}

TEST(DailyVolume, ImplausibleJumpAndLateRecordsDoNotInflateVolume) {
  totalizer_cursor c;
  record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 1, 10.0), c, 10, shanghai);
  volume_source src{};
  auto d = record_deltas(with_flow(record("T", 3, at("2026-11-29T01:02:00Z")), 1, 1e6), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::jump);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  d = record_deltas(with_flow(record("T", 2, at("2026-11-29T01:01:00Z")), 1, 10.5), c, 10, shanghai, &src);
  EXPECT_EQ(src, volume_source::late);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_EQ(d.front().records, 1u);
}

TEST(DailyVolume, NoTotalizerUsesRateAsMarkedFallback) {
  totalizer_cursor c;
  volume_source src{};
  const auto d = record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 3.0, std::nullopt), c, 10,
                               shanghai, &src);
  EXPECT_EQ(src, volume_source::rate_fallback);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_DOUBLE_EQ(d.front().volume_estimated_m3, 0.05);
}

TEST(DailyTurbidity, MeanMaxAndCompliance) {
  totalizer_cursor c;
  daily_delta day;
  for (double ntu : {4.0, 12.0, 10.0}) {
    auto d = record_deltas(test::with_turbidity(record("T", 1, at("2026-11-29T01:00:00Z")), ntu), c, 10, shanghai);
    day.add(d.front());
  }
  EXPECT_EQ(day.turbidity_count, 3u);
  EXPECT_DOUBLE_EQ(day.turbidity_sum_ntu / day.turbidity_count, 26.0 / 3);
  EXPECT_DOUBLE_EQ(day.turbidity_max_ntu, 12.0);
  EXPECT_EQ(day.compliant_count, 2u);  // at or below the limit
}

}  // namespace
}  // namespace sewage::gateway
