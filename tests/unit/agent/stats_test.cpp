// Window statistics, totalizer reset/wrap, stuck detection, clean-out hysteresis.
#include "sewage/agent/stats.hpp"

#include <gtest/gtest.h>

namespace sewage::agent {
namespace {

using proto::quantity_status;

sample good(double v) { return sample{quantity::turbidity, quantity_status::ok, v, {}}; }
sample bad(quantity_status s, const char* why = "x") { return sample{quantity::turbidity, s, 0.0, why}; }

TEST(WindowStats, MeanMinMaxOverGoodSamplesOnly) {
  window_stats w;
  w.add(good(4.0));
  w.add(bad(quantity_status::stale));
  w.add(good(2.0));
  w.add(good(6.0));
  EXPECT_EQ(w.status(), quantity_status::ok);
  EXPECT_DOUBLE_EQ(*w.mean(), 4.0);
  EXPECT_DOUBLE_EQ(*w.min(), 2.0);
  EXPECT_DOUBLE_EQ(*w.max(), 6.0);
  EXPECT_EQ(w.samples(), 4U);
  w.reset();
  EXPECT_EQ(w.samples(), 0U);
  EXPECT_FALSE(w.mean().has_value());
}

TEST(WindowStats, MostSamplesFailedGivesTheDominantFailure) {
  window_stats empty;
  EXPECT_EQ(empty.status(), quantity_status::stale);

  window_stats w;
  w.add(good(1.0));
  w.add(bad(quantity_status::fault, "sentinel 0xFFFF"));
  w.add(bad(quantity_status::fault, "sentinel 0xFFFF"));
  EXPECT_EQ(w.status(), quantity_status::fault);
  EXPECT_EQ(w.last_reason(), "sentinel 0xFFFF");

  window_stats t;
  t.add(bad(quantity_status::stale));
  t.add(bad(quantity_status::stale));
  t.add(bad(quantity_status::fault));
  EXPECT_EQ(t.status(), quantity_status::stale);

  window_stats r;
  r.add(bad(quantity_status::out_of_range));
  r.add(bad(quantity_status::out_of_range));
  r.add(bad(quantity_status::fault));
  EXPECT_EQ(r.status(), quantity_status::out_of_range);

  window_stats half;  // a tie keeps the good half
  half.add(good(3.0));
  half.add(bad(quantity_status::stale));
  EXPECT_EQ(half.status(), quantity_status::ok);
}

TEST(Totalizer, NormalStepsAddVolume) {
  totalizer t;
  EXPECT_EQ(t.update(100.25).what, totalizer::event::first);
  const auto s = t.update(101.75);
  EXPECT_EQ(s.what, totalizer::event::normal);
  EXPECT_DOUBLE_EQ(s.volume_m3, 1.5);
}

TEST(Totalizer, MeterResetNeverGivesNegativeVolume) {
  totalizer t;
  t.update(18234.75);
  const auto s = t.update(0.5);
  EXPECT_EQ(s.what, totalizer::event::reset);
  EXPECT_EQ(s.volume_m3, 0.0);
  const auto after = t.update(2.5);  // counting resumes from the new reading
  EXPECT_DOUBLE_EQ(after.volume_m3, 2.0);
}

TEST(Totalizer, ThirtyTwoBitWrapCountsAcrossTheWrap) {
  totalizer t;
  t.update(4294967290.0);  // 2^32 - 6
  const auto s = t.update(4.0);
  EXPECT_EQ(s.what, totalizer::event::wrap);
  EXPECT_DOUBLE_EQ(s.volume_m3, 10.0);
}

TEST(Totalizer, ImplausibleJumpsAndBadReadingsGiveNoVolume) {
  totalizer t(100.0);
  t.update(10.0);
  const auto jump = t.update(5000.0);
  EXPECT_EQ(jump.what, totalizer::event::implausible);
  EXPECT_EQ(jump.volume_m3, 0.0);
  EXPECT_EQ(t.update(-1.0).what, totalizer::event::implausible);
  EXPECT_EQ(t.update(std::nan("")).volume_m3, 0.0);
  EXPECT_EQ(t.update(4294967296.0).what, totalizer::event::implausible);
  // A wrap that would mean a huge volume is refused too.
  totalizer w(100.0);
  w.update(0.95 * totalizer::range_m3);
  EXPECT_EQ(w.update(1000.0).what, totalizer::event::implausible);
}

TEST(Totalizer, CombineIntegerAndFraction) {
  EXPECT_DOUBLE_EQ(*combine_totalizer(18234.0, 0.75), 18234.75);
  EXPECT_FALSE(combine_totalizer(18234.0, 1.0).has_value());
  EXPECT_FALSE(combine_totalizer(18234.0, -0.1).has_value());
  EXPECT_FALSE(combine_totalizer(-1.0, 0.5).has_value());
}

TEST(StuckDetector, IdenticalForNPollsIsStuckAndAChangeClearsIt) {
  stuck_detector d(3);
  EXPECT_FALSE(d.update(4.2));
  EXPECT_FALSE(d.update(4.2));
  EXPECT_FALSE(d.update(4.2));
  EXPECT_TRUE(d.update(4.2));  // identical to the last 3
  EXPECT_TRUE(d.update(4.2));
  EXPECT_FALSE(d.update(4.3));
  EXPECT_FALSE(d.update(4.3));
  d.interrupt();
  EXPECT_FALSE(d.update(4.3));
  stuck_detector off(0);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.update(1.0));
}

TEST(Cleanout, RaiseAfterHoldClearBelowClearLevel) {
  using namespace std::chrono;
  cleanout_detector c(1.5, 1.2, 600);
  const proto::timestamp t0{};
  EXPECT_FALSE(c.update(1.6, t0));
  EXPECT_FALSE(c.update(1.6, t0 + seconds(599)));
  EXPECT_TRUE(c.update(1.6, t0 + seconds(600)));
  EXPECT_TRUE(c.update(1.3, t0 + seconds(700)));  // between clear and raise: stays raised
  EXPECT_FALSE(c.update(1.1, t0 + seconds(800)));
  // A dip below raise restarts the hold.
  EXPECT_FALSE(c.update(1.6, t0 + seconds(900)));
  EXPECT_FALSE(c.update(1.4, t0 + seconds(1200)));
  EXPECT_FALSE(c.update(1.6, t0 + seconds(1300)));
  EXPECT_FALSE(c.update(1.6, t0 + seconds(1800)));
  EXPECT_TRUE(c.update(1.6, t0 + seconds(1900)));
}

}  // namespace
}  // namespace sewage::agent
