// Daily aggregates: volume from real totalizer increments (dips, spikes, jitter, float32 steps,
// resets, 32-bit wraps, gaps and their spread bound); operating days in the county's time zone
// (Asia/Shanghai unchanged, Europe/Berlin's 23 h and 25 h days); compliance weighted by the time
// covered by good turbidity readings.
#include "sewage/gateway/aggregates.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace sewage::gateway {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::at;
using test::record;
using test::with_flow;

county_zone zone(const char* name) {
  const auto z = county_zone::locate(name);
  EXPECT_TRUE(z.has_value()) << name;
  return z.value_or(county_zone{});
}

/// A terminal of design capacity `design_m3d` in Asia/Shanghai with a 10 NTU limit.
aggregate_params params(double design_m3d = 24, const char* tz = "Asia/Shanghai") {
  return aggregate_params{10.0, design_m3d, zone(tz)};
}

struct totals {
  double measured{0};
  double estimated{0};
  std::uint32_t glitches{0};
  std::size_t rows{0};
};

totals sum(const std::vector<daily_delta>& v) {
  totals t;
  for (const auto& d : v) {
    t.measured += d.volume_m3;
    t.estimated += d.volume_estimated_m3;
    t.glitches += d.totalizer_glitches;
  }
  t.rows = v.size();
  return t;
}

/// Feeds one reading a minute from `t0` (rate in m3/h, totals in m3) and sums what they add.
struct feeder {
  explicit feeder(aggregate_params params) : p(std::move(params)) {}
  aggregate_params p;
  totalizer_cursor cursor;
  totals sum_all;
  std::vector<volume_outcome> outcomes;
  std::uint64_t seq{0};

  std::vector<daily_delta> feed(proto::timestamp ts, std::optional<double> rate, std::optional<double> total) {
    auto r = with_flow(record("T", ++seq, ts), 0, total);
    r.flow->rate_m3h = rate;
    volume_outcome o;
    auto d = record_deltas(r, cursor, p, &o);
    outcomes.push_back(o);
    const auto s = sum(d);
    sum_all.measured += s.measured;
    sum_all.estimated += s.estimated;
    sum_all.glitches += s.glitches;
    return d;
  }
  void series(proto::timestamp t0, std::optional<double> rate, std::initializer_list<double> readings) {
    int i = 0;
    for (const double v : readings) feed(t0 + minutes(i++), rate, v);
  }
};

// ---- operating days ----

TEST(OperatingDay, BoundaryIsSixteenHundredUtcInShanghai) {
  const auto shanghai = zone("Asia/Shanghai");
  const auto before = operating_day(at("2026-11-29T15:59:59.999Z"), shanghai);
  const auto after = operating_day(at("2026-11-29T16:00:00Z"), shanghai);
  EXPECT_EQ(format_day(before), "2026-11-29");
  EXPECT_EQ(format_day(after), "2026-11-30");
  EXPECT_EQ(operating_day_start(after, shanghai), at("2026-11-29T16:00:00Z"));
  EXPECT_EQ(parse_day("2026-11-30"), after);
  EXPECT_FALSE(parse_day("2026-02-30").has_value());
  EXPECT_FALSE(parse_day("2026-1-30").has_value());
}

TEST(OperatingDay, ShanghaiGivesTheSameDaysAsTheOldFixedOffset) {
  // The gateway used a fixed UTC+8 before; for Asia/Shanghai (no DST since 1991) nothing changes.
  const auto shanghai = zone("Asia/Shanghai");
  EXPECT_EQ(shanghai, county_zone{});  // the default zone
  for (auto t = at("1992-01-01T00:00:00Z"); t < at("2037-12-31T00:00:00Z"); t += hours(7 * 24 + 5)) {
    const auto fixed = static_cast<std::int32_t>(std::chrono::floor<std::chrono::days>(t + hours(8)).time_since_epoch().count());
    ASSERT_EQ(operating_day(t, shanghai), fixed) << proto::format_timestamp(t);
    ASSERT_EQ(operating_day_start(fixed, shanghai), proto::timestamp(std::chrono::days(fixed)) - hours(8));
  }
}

TEST(OperatingDay, UnknownZonesAreNotFound) {
  EXPECT_FALSE(county_zone::locate("Not/AZone").has_value());
  EXPECT_FALSE(county_zone::locate("").has_value());
  EXPECT_FALSE(county_zone::locate("../../../etc/passwd").has_value());
  EXPECT_TRUE(county_zone::locate("Europe/Berlin").has_value());
  EXPECT_EQ(zone("Etc/GMT-8").offset_at(at("2026-07-01T00:00:00Z")), minutes(480));
}

TEST(OperatingDay, BerlinSpringForwardDayIs23HoursAndAutumnDay25) {
  const auto berlin = zone("Europe/Berlin");
  const auto length = [&](const char* day) {
    const auto d = *parse_day(day);
    return std::chrono::duration_cast<hours>(operating_day_start(d + 1, berlin) - operating_day_start(d, berlin));
  };
  EXPECT_EQ(length("2026-03-29"), hours(23));
  EXPECT_EQ(length("2026-10-25"), hours(25));
  EXPECT_EQ(length("2026-11-29"), hours(24));
  EXPECT_EQ(operating_day_start(*parse_day("2026-03-29"), berlin), at("2026-03-28T23:00:00Z"));  // CET midnight
  EXPECT_EQ(operating_day_start(*parse_day("2026-03-30"), berlin), at("2026-03-29T22:00:00Z"));  // CEST midnight
  EXPECT_EQ(format_day(operating_day(at("2026-03-29T22:30:00Z"), berlin)), "2026-03-30");
  EXPECT_EQ(format_day(operating_day(at("2026-10-25T22:30:00Z"), berlin)), "2026-10-25");  // 23:30 CET
}

TEST(OperatingDay, BerlinGapVolumeIsSplitAtLocalMidnightOverTheShortAndLongDays) {
  const auto by_day = [](const std::vector<daily_delta>& v, const char* day) {
    for (const auto& d : v)
      if (d.day == *parse_day(day)) return d.volume_m3;
    return -1.0;
  };
  {
    // 46 h at 1 m3/h: 11 h of March 28 (from 13:00 CET), the whole 23 h of March 29, 12 h of March 30.
    feeder f{params(24, "Europe/Berlin")};
    f.feed(at("2026-03-28T12:00:00Z"), 1, 100.0);
    const auto d = f.feed(at("2026-03-30T10:00:00Z"), 1, 146.0);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_NEAR(by_day(d, "2026-03-28"), 11.0, 1e-9);
    EXPECT_NEAR(by_day(d, "2026-03-29"), 23.0, 1e-9);
    EXPECT_NEAR(by_day(d, "2026-03-30"), 12.0, 1e-9);
  }
  {
    // 47 h at 1 m3/h: 10 h of October 24 (from 14:00 CEST), all 25 h of October 25, 12 h of October 26.
    feeder f{params(24, "Europe/Berlin")};
    f.feed(at("2026-10-24T12:00:00Z"), 1, 100.0);
    const auto d = f.feed(at("2026-10-26T11:00:00Z"), 1, 147.0);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_NEAR(by_day(d, "2026-10-24"), 10.0, 1e-9);
    EXPECT_NEAR(by_day(d, "2026-10-25"), 25.0, 1e-9);
    EXPECT_NEAR(by_day(d, "2026-10-26"), 12.0, 1e-9);
  }
}

TEST(OperatingDay, RecordEndingExactlyAtBoundaryBelongsToTheEndingDay) {
  totalizer_cursor c;
  const auto d1 = record_deltas(record("T", 1, at("2026-11-29T16:00:00Z")), c, params());
  const auto d2 = record_deltas(record("T", 2, at("2026-11-29T16:01:00Z")), c, params());
  EXPECT_EQ(format_day(d1.front().day), "2026-11-29");
  EXPECT_EQ(format_day(d2.front().day), "2026-11-30");
}

// ---- volume ----

TEST(DailyVolume, TotalizerDeltasAreSummed) {
  totalizer_cursor c;
  volume_outcome o;
  auto d = record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 0.6, 100.0), c, params(), &o);
  EXPECT_EQ(o.source, volume_source::rate_fallback);  // first reading: no delta yet
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_NEAR(d.front().volume_estimated_m3, 0.01, 1e-12);
  d = record_deltas(with_flow(record("T", 2, at("2026-11-29T01:01:00Z")), 0.6, 100.01), c, params(), &o);
  EXPECT_EQ(o.source, volume_source::totalizer);
  EXPECT_NEAR(sum(d).measured, 0.01, 1e-9);
  EXPECT_DOUBLE_EQ(d.front().volume_estimated_m3, 0.0);
  EXPECT_EQ(o.glitch, totalizer_glitch::none);
}

TEST(DailyVolume, IssueExampleDipToZeroIsAGlitchNotElevenCubicMetres) {
  // Issue 9 section 3: interval 60 s, totals 10.0, 10.5, 0.0, 11.0, 11.5 at 30 m3/h on a terminal
  // of 30 m3/day. Before: 12.0 m3 measured (an 11 m3 phantom) + 1.0 estimated.
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {10.0, 10.5, 0.0, 11.0, 11.5});
  EXPECT_NEAR(f.sum_all.measured, 1.5, 0.001);        // the real increments, 10.0 -> 11.5
  EXPECT_NEAR(f.sum_all.estimated, 0.5, 1e-9);        // the first window only (no baseline yet)
  EXPECT_EQ(f.sum_all.glitches, 1u);
  EXPECT_EQ(f.outcomes[2].source, volume_source::suspect);
  EXPECT_EQ(f.outcomes[3].source, volume_source::resolved);
  EXPECT_EQ(f.outcomes[3].glitch, totalizer_glitch::dip);
  EXPECT_EQ(f.outcomes[3].glitch_readings, 1u);
  EXPECT_DOUBLE_EQ(f.outcomes[3].glitch_reading_m3, 0.0);
  EXPECT_DOUBLE_EQ(f.outcomes[3].baseline_m3, 10.5);
  EXPECT_EQ(f.cursor.suspect_count, 0u);
}

TEST(DailyVolume, ADipLastingSeveralFrozenReadingsIsStillADip) {
  // A converter that reads 0.0 for four minutes: not rising, so never a reset.
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {10.0, 10.5, 0.0, 0.0, 0.0, 0.0, 12.5, 13.0});
  EXPECT_NEAR(f.sum_all.measured, 3.0, 0.001);
  EXPECT_EQ(f.sum_all.glitches, 1u);
  EXPECT_EQ(f.outcomes[6].glitch, totalizer_glitch::dip);
  EXPECT_EQ(f.outcomes[6].glitch_readings, 4u);
}

TEST(DailyVolume, SmallBackwardsJitterAddsNothingAndIsNotRecountedOnTheWayUp) {
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {100.0, 100.5, 100.45, 101.0, 100.98, 101.5});
  EXPECT_NEAR(f.sum_all.measured, 1.5, 0.001);
  EXPECT_EQ(f.sum_all.glitches, 2u);
  EXPECT_EQ(f.outcomes[2].source, volume_source::jitter);
  EXPECT_EQ(f.outcomes[2].glitch, totalizer_glitch::jitter);
  EXPECT_EQ(f.outcomes[3].source, volume_source::totalizer);
  EXPECT_DOUBLE_EQ(f.cursor.total_m3, 101.5);
}

TEST(DailyVolume, BackflowBelowTheJitterBoundThatReturnsIsADipNotAReset) {
  // A net totalizer running 0.5 m3 backwards (pump stopped, backflow) and forwards again: the
  // series rises for three readings but from just below the baseline, so it is held until it
  // passes the baseline: only the net 0.2 m3 counts.
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 6.0, {100.0, 99.5, 99.6, 99.7, 99.8, 100.2});
  EXPECT_EQ(f.outcomes[4].source, volume_source::suspect);  // rising for 4 readings, still held
  EXPECT_NEAR(f.sum_all.measured, 0.2, 0.001);
  EXPECT_NEAR(f.sum_all.estimated, 0.1, 1e-9);  // the first window only
  EXPECT_EQ(f.outcomes[5].glitch, totalizer_glitch::dip);
  EXPECT_EQ(f.outcomes[5].glitch_readings, 4u);
}

TEST(DailyVolume, Float32TotalizerStepsAtLargeTotalsAreRealIncrements) {
  // A float32 totalizer near 2e7 m3 resolves 2 m3: at 0.5 m3/min it reads the same value for
  // four minutes, then steps by 2 m3 -- four times one interval's flow, and real.
  feeder f{params(30)};
  const double start = 20'000'001.0;
  const auto t0 = at("2026-11-29T01:00:00Z");
  for (int i = 0; i <= 40; ++i) {
    const double real = start + 0.5 * i;
    f.feed(t0 + minutes(i), 30.0, static_cast<double>(static_cast<float>(real)));
  }
  const double shown_first = static_cast<float>(start);
  const double shown_last = static_cast<float>(start + 20.0);
  EXPECT_DOUBLE_EQ(f.sum_all.measured, shown_last - shown_first);  // every step counted
  EXPECT_NEAR(f.sum_all.measured, 20.0, 2.0);                       // the real 20 m3 within one resolution
  EXPECT_EQ(f.sum_all.glitches, 0u);
  for (std::size_t i = 1; i < f.outcomes.size(); ++i) EXPECT_EQ(f.outcomes[i].source, volume_source::totalizer) << i;
}

TEST(DailyVolume, GenuineResetStartsANewBaselineAndEstimatesTheResetInterval) {
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {5000.0, 5000.5, 0.2, 0.7, 1.2, 1.7});
  EXPECT_EQ(f.outcomes[2].source, volume_source::suspect);
  EXPECT_EQ(f.outcomes[3].source, volume_source::suspect);
  EXPECT_EQ(f.outcomes[4].source, volume_source::reset);
  EXPECT_EQ(f.outcomes[4].glitch, totalizer_glitch::reset);
  EXPECT_EQ(f.outcomes[4].glitch_readings, 3u);
  EXPECT_EQ(f.outcomes[5].source, volume_source::totalizer);
  EXPECT_NEAR(f.sum_all.measured, 0.5 + 1.0 + 0.5, 1e-9);  // 5000 -> 5000.5, then 0.2 -> 1.7
  EXPECT_NEAR(f.sum_all.estimated, 0.5 + 0.5, 1e-9);       // first window; the reset minute from the rate
  EXPECT_EQ(f.sum_all.glitches, 1u);
  EXPECT_DOUBLE_EQ(f.cursor.total_m3, 1.7);
}

TEST(DailyVolume, ThirtyTwoBitWrapIsMeasuredNotReset) {
  feeder f{params(24)};
  f.feed(at("2026-11-29T01:00:00Z"), 6, 4294967295.0);
  const auto d = f.feed(at("2026-11-29T01:10:00Z"), 6, 0.5);
  EXPECT_EQ(f.outcomes[1].source, volume_source::wrap);
  EXPECT_NEAR(sum(d).measured, 1.5, 1e-6);
  EXPECT_EQ(f.sum_all.glitches, 0u);
}

TEST(DailyVolume, AJumpSpikeThatReturnsIsAGlitch) {
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {10.0, 10.5, 1e6, 11.0, 11.5});
  EXPECT_NEAR(f.sum_all.measured, 1.5, 0.001);
  EXPECT_EQ(f.outcomes[3].glitch, totalizer_glitch::spike);
  EXPECT_EQ(f.sum_all.glitches, 1u);
  // A climb back that the pipe could carry (12 m3 in a minute < 1200 m3/h) but this terminal
  // cannot (30 m3/day, 30 m3/h reported) is not accepted either.
  feeder g{params(30)};
  g.series(at("2026-11-29T01:00:00Z"), 30.0, {10.0, 10.5, 22.5, 11.0});
  EXPECT_NEAR(g.sum_all.measured, 1.0, 0.001);
  EXPECT_EQ(g.outcomes[3].glitch, totalizer_glitch::spike);
}

TEST(DailyVolume, AJumpThatPersistsForAnHourBecomesTheNewBaseline) {
  // The meter was replaced by one reading 5000 m3: held while it might be a glitch, taken after an hour.
  feeder f{params(30)};
  const auto t0 = at("2026-11-29T01:00:00Z");
  f.feed(t0, 30.0, 100.0);
  f.feed(t0 + minutes(1), 30.0, 100.5);
  for (int i = 0; i <= 60; ++i) f.feed(t0 + minutes(2 + i), 30.0, 5000.0 + 0.5 * i);
  EXPECT_EQ(f.outcomes[10].source, volume_source::suspect);
  EXPECT_EQ(f.outcomes.back().source, volume_source::rebase);
  EXPECT_EQ(f.outcomes.back().glitch, totalizer_glitch::rebase);
  EXPECT_NEAR(f.sum_all.measured, 0.5 + 30.0, 1e-6);  // 100 -> 100.5, then 5000 -> 5030
  EXPECT_NEAR(f.sum_all.estimated, 0.5 + 0.5, 1e-9);  // first window; the swap minute
  EXPECT_EQ(f.sum_all.glitches, 1u);
}

TEST(DailyVolume, ABrokenSuspectSeriesIsCountedAndANewOneStarts) {
  feeder f{params(30)};
  f.series(at("2026-11-29T01:00:00Z"), 30.0, {10.0, 10.5, 500.0, 0.0, 11.5});
  EXPECT_NEAR(f.sum_all.measured, 1.5, 0.001);
  EXPECT_EQ(f.outcomes[3].glitch, totalizer_glitch::spike);  // 500 -> 0.0 broke the first series
  EXPECT_EQ(f.outcomes[4].glitch, totalizer_glitch::dip);
  EXPECT_EQ(f.sum_all.glitches, 2u);
}

TEST(DailyVolume, GapAcrossDayBoundaryIsSplitByTime) {
  feeder f{params(24)};
  f.feed(at("2026-11-29T14:00:00Z"), 1, 1000.0);
  // 4 h gap (agent offline), 12 m3 counted by the meter meanwhile: 2 h before 16:00 UTC, 2 h after.
  const auto d = f.feed(at("2026-11-29T18:00:00Z"), 3, 1012.0);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(format_day(d[0].day), "2026-11-30");
  EXPECT_NEAR(d[0].volume_m3, 6.0, 1e-9);
  EXPECT_EQ(format_day(d[1].day), "2026-11-29");
  EXPECT_NEAR(d[1].volume_m3, 6.0, 1e-9);
  EXPECT_EQ(d[1].records, 0u);
}

TEST(DailyVolume, AReadingStampedIn1970NeverSpreadsOverFiftySixYears) {
  // Issue 9 section 2: an agent without RTC stamps 1970, then its clock is stepped. The next
  // increment goes onto the record's own day: one daily row, not 20,788.
  feeder f{params(24)};
  f.feed(at("1970-01-01T00:00:05Z"), 1, 10.0);
  const auto d = f.feed(at("2026-11-29T01:00:00Z"), 1, 12.0);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(format_day(d[0].day), "2026-11-29");
  EXPECT_DOUBLE_EQ(d[0].volume_m3, 2.0);
  EXPECT_TRUE(f.outcomes[1].gap_not_spread);
  // A gap within the bound (3 days) is still spread over the 4 days it spans.
  feeder g{params(24)};
  g.feed(at("2026-11-26T04:00:00Z"), 1, 10.0);
  const auto e = g.feed(at("2026-11-29T04:00:00Z"), 1, 82.0);
  EXPECT_EQ(e.size(), 4u);
  EXPECT_NEAR(sum(e).measured, 72.0, 1e-9);
  EXPECT_FALSE(g.outcomes[1].gap_not_spread);
  // Beyond the bound (10 days), one row.
  feeder h{params(24)};
  h.feed(at("2026-11-19T04:00:00Z"), 1, 10.0);
  EXPECT_EQ(h.feed(at("2026-11-29T04:00:00Z"), 1, 250.0).size(), 1u);
}

TEST(DailyVolume, LateRecordsAddNoVolume) {
  feeder f{params(24)};
  f.feed(at("2026-11-29T01:00:00Z"), 1, 10.0);
  f.feed(at("2026-11-29T01:02:00Z"), 1, 10.03);
  const auto d = f.feed(at("2026-11-29T01:01:00Z"), 1, 10.015);
  EXPECT_EQ(f.outcomes[2].source, volume_source::late);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_EQ(d.front().records, 1u);
  EXPECT_NEAR(f.sum_all.measured, 0.03, 1e-9);
}

TEST(DailyVolume, NoTotalizerUsesRateAsMarkedFallback) {
  totalizer_cursor c;
  volume_outcome o;
  const auto d = record_deltas(with_flow(record("T", 1, at("2026-11-29T01:00:00Z")), 3.0, std::nullopt), c, params(), &o);
  EXPECT_EQ(o.source, volume_source::rate_fallback);
  EXPECT_DOUBLE_EQ(d.front().volume_m3, 0.0);
  EXPECT_DOUBLE_EQ(d.front().volume_estimated_m3, 0.05);
}

// ---- turbidity and compliance ----

TEST(DailyTurbidity, MeanMaxAndCompliance) {
  totalizer_cursor c;
  daily_delta day;
  for (double ntu : {4.0, 12.0, 10.0}) {
    auto d = record_deltas(test::with_turbidity(record("T", 1, at("2026-11-29T01:00:00Z")), ntu), c, params());
    day.add(d.front());
  }
  EXPECT_EQ(day.turbidity_count, 3u);
  EXPECT_DOUBLE_EQ(day.turbidity_sum_ntu / day.turbidity_count, 26.0 / 3);
  EXPECT_DOUBLE_EQ(day.turbidity_max_ntu, 12.0);
  EXPECT_EQ(day.compliant_count, 2u);  // at or below the limit
  EXPECT_DOUBLE_EQ(day.turbidity_ok_s, 180.0);
  EXPECT_DOUBLE_EQ(day.compliant_s, 120.0);
}

TEST(DailyCompliance, FourStaleHoursCountNoTimeAndShowAsMissingCoverage) {
  // Issue 9 section 7: 4 h of good, compliant readings, then turbidity stale for 4 h. Before, the
  // day showed compliance 1.000 and nothing else. Now: rate 1.0 over 4 h of good time, which
  // covers half of the 8 h elapsed.
  totalizer_cursor c;
  daily_delta day;
  const auto start = at("2026-11-28T16:00:00Z");  // 2026-11-29 00:00 in Shanghai
  for (int i = 1; i <= 480; ++i) {
    auto r = test::with_turbidity(record("T", i, start + minutes(i)), 4.0);
    if (i > 240) r.turbidity->status = proto::quantity_status::stale;
    for (const auto& d : record_deltas(r, c, params())) {
      ASSERT_EQ(format_day(d.day), "2026-11-29");
      day.add(d);
    }
  }
  EXPECT_DOUBLE_EQ(day.turbidity_ok_s, 4 * 3600.0);
  EXPECT_DOUBLE_EQ(day.compliant_s, 4 * 3600.0);
  const double elapsed_s = 8 * 3600.0;
  EXPECT_DOUBLE_EQ(day.compliant_s / day.turbidity_ok_s, 1.0);  // compliance_rate
  EXPECT_DOUBLE_EQ(day.turbidity_ok_s / elapsed_s, 0.5);        // compliance_coverage
}

TEST(DailyCompliance, WeightedByIntervalAndSplitAtMidnight) {
  totalizer_cursor c;
  // 600 s compliant, 300 s above the limit, 900 s faulty (not counted anywhere).
  auto a = test::with_turbidity(record("T", 1, at("2026-11-29T01:00:00Z")), 4.0);
  a.interval_s = 600;
  auto b = test::with_turbidity(record("T", 2, at("2026-11-29T01:05:00Z")), 14.0);
  b.interval_s = 300;
  auto f = test::with_turbidity(record("T", 3, at("2026-11-29T01:20:00Z")), 4.0);
  f.interval_s = 900;
  f.turbidity->status = proto::quantity_status::fault;
  daily_delta day;
  for (const auto& r : {a, b, f}) day.add(record_deltas(r, c, params()).front());
  EXPECT_DOUBLE_EQ(day.turbidity_ok_s, 900.0);
  EXPECT_DOUBLE_EQ(day.compliant_s, 600.0);
  // A window ending 30 s after local midnight: 30 s on each day.
  const auto d = record_deltas(test::with_turbidity(record("T", 4, at("2026-11-29T16:00:30Z")), 4.0), c, params());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(format_day(d[0].day), "2026-11-30");
  EXPECT_DOUBLE_EQ(d[0].turbidity_ok_s, 30.0);
  EXPECT_EQ(d[0].records, 1u);
  EXPECT_EQ(format_day(d[1].day), "2026-11-29");
  EXPECT_DOUBLE_EQ(d[1].turbidity_ok_s, 30.0);
  EXPECT_DOUBLE_EQ(d[1].compliant_s, 30.0);
  EXPECT_EQ(d[1].records, 0u);
}

TEST(GlitchLog, IsRateLimitedAndReportsWhatItSuppressed) {
  log_limiter lim(2, seconds(60));
  const auto t0 = at("2026-11-29T01:00:00Z");
  std::uint64_t suppressed = 99;
  EXPECT_TRUE(lim.allow(t0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(lim.allow(t0 + seconds(1), suppressed));
  for (int i = 0; i < 500; ++i) EXPECT_FALSE(lim.allow(t0 + seconds(2), suppressed));
  EXPECT_TRUE(lim.allow(t0 + seconds(61), suppressed));
  EXPECT_EQ(suppressed, 500u);
}

}  // namespace
}  // namespace sewage::gateway
