// The simulated county's true exceedances (tools/sim/include/sewage/sim/exceedance_truth.hpp).
#include "sewage/sim/exceedance_truth.hpp"

#include "sewage/gateway/config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sewage::sim {
namespace {

// The turbidity rule of the gateway's defaults, agents reporting every 60 s: raise above 10 NTU,
// clear at or below 8 NTU, 900 s each; required: above 10.5 NTU for 900 + 120 s.
exceedance_rule turbidity() { return exceedance_limits{}.turbidity_rule(60.0); }

/// Feeds `value` every `step_s` from `from_s` (inclusive) to `to_s` (exclusive).
void feed(exceedance_tracker& t, double from_s, double to_s, double value, double step_s = 20.0) {
  for (double s = from_s; s < to_s; s += step_s) t.observe(s, value);
}

TEST(SimExceedanceTruth, DefaultsAreTheGatewaysDefaults) {
  const exceedance_limits l;
  const gateway::thresholds g;
  EXPECT_DOUBLE_EQ(l.turbidity_raise_ntu, g.turbidity_raise_ntu);
  EXPECT_DOUBLE_EQ(l.turbidity_clear_ntu, g.turbidity_clear_ntu);
  EXPECT_DOUBLE_EQ(l.turbidity_debounce_s, g.turbidity_debounce_s);
  EXPECT_DOUBLE_EQ(l.flow_high_raise_factor, g.flow_high_raise_factor);
  EXPECT_DOUBLE_EQ(l.flow_high_clear_factor, g.flow_high_clear_factor);
  EXPECT_DOUBLE_EQ(l.flow_high_debounce_s, g.flow_high_debounce_s);
  // flow_high on a 24 m3/d terminal: 2.5 and 2.0 m3/h.
  const auto f = l.flow_rule(24.0, 60.0);
  EXPECT_DOUBLE_EQ(f.raise, 2.5);
  EXPECT_DOUBLE_EQ(f.clear, 2.0);
  EXPECT_DOUBLE_EQ(f.debounce_s, 3600.0);
  EXPECT_DOUBLE_EQ(f.required_extra_s, 120.0);
  EXPECT_EQ(to_string(exceedance_type::turbidity_high), "turbidity_high");
  EXPECT_EQ(to_string(exceedance_type::flow_high), "flow_high");
}

TEST(SimExceedanceTruth, ClearExceedanceIsRequiredAndEndsAfterTheClearDebounce) {
  exceedance_tracker t(turbidity());
  feed(t, 0, 3600, 5.0);      // dry weather: nothing
  EXPECT_TRUE(t.episodes().empty());
  feed(t, 3600, 7200, 14.0);  // an hour at 14 NTU
  t.observe(7200, 16.0);
  feed(t, 7220, 9000, 9.0);   // in the hysteresis band: still on
  ASSERT_EQ(t.episodes().size(), 1U);
  EXPECT_FALSE(t.episodes()[0].end_s.has_value());
  feed(t, 9000, 11000, 6.0);  // back at or below 8 from 9000 s: ends at 9900 s
  ASSERT_EQ(t.episodes().size(), 1U);
  const auto& e = t.episodes()[0];
  EXPECT_DOUBLE_EQ(e.start_s, 3600.0);
  ASSERT_TRUE(e.end_s.has_value());
  EXPECT_DOUBLE_EQ(*e.end_s, 9900.0);
  EXPECT_DOUBLE_EQ(e.peak, 16.0);
  EXPECT_DOUBLE_EQ(e.above_s, 3600.0);
  ASSERT_TRUE(e.raised_s.has_value());
  EXPECT_DOUBLE_EQ(*e.raised_s, 4500.0);  // the gateway's rule raises 900 s in
  EXPECT_TRUE(e.required);
}

TEST(SimExceedanceTruth, ShortOrHairlineExceedanceIsMarginal) {
  exceedance_tracker shorter(turbidity());
  feed(shorter, 0, 960, 14.0);  // above for 940 s: the rule raises, but not debounce + 2 intervals
  feed(shorter, 960, 2000, 5.0);
  ASSERT_EQ(shorter.episodes().size(), 1U);
  EXPECT_TRUE(shorter.episodes()[0].raised_s.has_value());
  EXPECT_FALSE(shorter.episodes()[0].required);
  EXPECT_TRUE(shorter.episodes()[0].end_s.has_value());

  exceedance_tracker hair(turbidity());
  feed(hair, 0, 7200, 10.2);  // two hours 2 % above: within the probe's noise
  ASSERT_EQ(hair.episodes().size(), 1U);
  EXPECT_DOUBLE_EQ(hair.episodes()[0].above_s, 7180.0);
  EXPECT_DOUBLE_EQ(hair.episodes()[0].margin_above_s, 0.0);
  EXPECT_FALSE(hair.episodes()[0].required);
}

TEST(SimExceedanceTruth, RequiredOnceTheMarginRunIsLongEnough) {
  exceedance_tracker t(turbidity());
  feed(t, 0, 1000, 11.0);  // 980 s above 10.5: not yet
  EXPECT_FALSE(t.episodes()[0].required);
  feed(t, 1000, 1100, 11.0);  // 1080 s >= 1020 s
  EXPECT_TRUE(t.episodes()[0].required);
}

TEST(SimExceedanceTruth, DipBelowRaiseRestartsTheRunButNotTheEpisode) {
  exceedance_tracker t(turbidity());
  feed(t, 0, 600, 12.0);
  t.observe(600, 9.5);  // one sample in the band: the run restarts, the episode goes on
  feed(t, 620, 1400, 12.0);
  ASSERT_EQ(t.episodes().size(), 1U);
  const auto& e = t.episodes()[0];
  EXPECT_DOUBLE_EQ(e.above_s, 760.0);
  EXPECT_FALSE(e.raised_s.has_value());
  feed(t, 1400, 1800, 12.0);
  EXPECT_DOUBLE_EQ(*t.episodes()[0].raised_s, 1520.0);
}

TEST(SimExceedanceTruth, AShortClearDoesNotEndItAndANewRiseAfterTheEndIsANewEpisode) {
  exceedance_tracker t(turbidity());
  feed(t, 0, 1200, 12.0);
  feed(t, 1200, 1800, 5.0);  // 580 s at or below 8: not the debounce
  feed(t, 1800, 2400, 12.0);
  ASSERT_EQ(t.episodes().size(), 1U);
  EXPECT_FALSE(t.episodes()[0].end_s.has_value());
  feed(t, 2400, 3400, 5.0);  // 900 s at or below 8 at 3300 s
  feed(t, 3400, 3600, 13.0);
  ASSERT_EQ(t.episodes().size(), 2U);
  EXPECT_DOUBLE_EQ(*t.episodes()[0].end_s, 3300.0);
  EXPECT_DOUBLE_EQ(t.episodes()[1].start_s, 3400.0);
  EXPECT_FALSE(t.episodes()[1].end_s.has_value());
}

TEST(SimExceedanceTruth, EarlierSampleIsIgnoredAndBadRulesAreRefused) {
  exceedance_tracker t(turbidity());
  t.observe(100, 12.0);
  t.observe(50, 5.0);
  t.observe(100, 12.0);
  ASSERT_EQ(t.episodes().size(), 1U);
  EXPECT_DOUBLE_EQ(t.episodes()[0].peak, 12.0);
  EXPECT_THROW(exceedance_tracker({8.0, 10.0, 900.0, 0.05, 120.0}), std::invalid_argument);
  EXPECT_THROW(exceedance_tracker({10.0, 8.0, -1.0, 0.05, 120.0}), std::invalid_argument);
  EXPECT_THROW(exceedance_tracker({10.0, 8.0, 900.0, -1.0, 120.0}), std::invalid_argument);
  EXPECT_THROW(exceedance_tracker({10.0, 8.0, 900.0, 0.05, -1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::sim
