// The pump-station physics of the simulator (tools/sim/include/sewage/sim/pump_station.hpp): level
// control with duty/standby pumps, mass balance, and each station fault class with its effect.
#include "sewage/sim/pump_station.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sewage::sim {
namespace {

// Runs `m` for `hours` at `inflow_m3h` in 10 s steps; returns the largest level seen.
double run(pump_station_model& m, double hours, double inflow_m3h, const station_faults& f = {}) {
  double max_level = 0;
  for (int i = 0; i < static_cast<int>(hours * 360); ++i) {
    m.advance(10.0, inflow_m3h, f);
    max_level = std::max(max_level, m.level_m());
  }
  return max_level;
}

TEST(SimPumpStation, SizingFollowsTheMeanInflow) {
  const auto p = size_station(0.6);
  ASSERT_EQ(p.pumps.size(), 2U);
  EXPECT_EQ(p.pumps[0].id, "P1");
  EXPECT_EQ(p.pumps[1].id, "P2");
  EXPECT_DOUBLE_EQ(p.pumps[0].rated_flow_m3h, 3.5);  // 6 x 0.6 = 3.6, rounded to 0.5
  EXPECT_DOUBLE_EQ(p.pumps[0].rated_current_a, 1.5 + 0.25 * 3.5);
  EXPECT_DOUBLE_EQ(p.wet_well_area_m2, 1.0);  // one hour of mean inflow over the 0.6 m duty band
  EXPECT_DOUBLE_EQ(size_station(0.01).pumps[0].rated_flow_m3h, 3.0) << "smallest pump";
  EXPECT_DOUBLE_EQ(size_station(100).pumps[0].rated_flow_m3h, 60.0) << "largest pump";
  EXPECT_DOUBLE_EQ(size_station(0.01).wet_well_area_m2, 0.8);
  EXPECT_EQ(size_station(1.0, 3).pumps.size(), 3U);
  EXPECT_THROW((void)size_station(-1.0), std::invalid_argument);
  EXPECT_THROW((void)size_station(1.0, 0), std::invalid_argument);
  EXPECT_THROW((void)size_station(1.0, 9), std::invalid_argument);
}

TEST(SimPumpStation, BadParametersAreRefusedNamingThem) {
  auto p = size_station(0.6);
  p.duty_on_m = 0.4;  // below duty_off
  try {
    pump_station_model m(p);
    FAIL() << "accepted unordered levels";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("levels"), std::string::npos) << e.what();
  }
  p = size_station(0.6);
  p.pumps[1].id = "P1";
  EXPECT_THROW(pump_station_model{p}, std::invalid_argument);
  p = size_station(0.6);
  p.pumps.clear();
  EXPECT_THROW(pump_station_model{p}, std::invalid_argument);
  p = size_station(0.6);
  p.wet_well_area_m2 = 0;
  EXPECT_THROW(pump_station_model{p}, std::invalid_argument);
}

TEST(SimPumpStation, CyclesBetweenItsLevelsAndPassesWhatArrives) {
  pump_station_model m(size_station(0.6));
  const double max_level = run(m, 12.0, 0.6);
  EXPECT_LT(max_level, m.params().standby_on_m) << "one pump copes with the mean inflow";
  EXPECT_GE(m.level_m(), m.params().duty_off_m - 1e-9);
  EXPECT_EQ(m.spilled_total_m3(), 0.0);
  // Mass balance: 12 h x 0.6 m3/h = 7.2 m3 in = pumped + stored change (start 0.8 m, area 1 m2).
  EXPECT_NEAR(m.pumped_total_m3() + (m.level_m() - 0.8) * 1.0, 7.2, 1e-6);
  // The lead rotates: both pumps started, about equally (one hour of inflow per cycle).
  EXPECT_GE(m.starts()[0], 4U);
  EXPECT_GE(m.starts()[1], 4U);
  EXPECT_LE(m.starts()[0] > m.starts()[1] ? m.starts()[0] - m.starts()[1] : m.starts()[1] - m.starts()[0], 1U);
  EXPECT_TRUE(m.io().mains_power);
}

TEST(SimPumpStation, ARunningPumpShowsRunFeedbackAndItsCurrent) {
  pump_station_model m(size_station(0.6, 2, 1.09));
  m.advance(30.0, 2.0, {});  // 2 m3/h x 30 s on 1 m2 lifts 17 mm: past duty_on (1.1 m)
  m.advance(10.0, 0.6, {});
  const auto& io = m.io();
  ASSERT_EQ(io.pumps.size(), 2U);
  EXPECT_TRUE(io.pumps[0].running);
  EXPECT_DOUBLE_EQ(io.pumps[0].current_a, 1.5 + 0.25 * 3.5);
  EXPECT_FALSE(io.pumps[1].running);
  EXPECT_DOUBLE_EQ(io.pumps[1].current_a, 0.0);
  EXPECT_FALSE(io.pumps[0].fault);
  EXPECT_GT(m.take_volumes().pumped_m3, 0.0);
  EXPECT_EQ(m.take_volumes().pumped_m3, 0.0) << "take_volumes resets";
}

TEST(SimPumpStation, EveryPumpTrippedStopsTheStationAndTheWellSpills) {
  pump_station_model m(size_station(0.6));
  station_faults f;
  f.all_tripped = true;
  run(m, 6.0, 0.6, f);
  for (const auto& p : m.io().pumps) {
    EXPECT_TRUE(p.fault) << p.id;
    EXPECT_FALSE(p.running) << p.id;
    EXPECT_EQ(p.current_a, 0.0) << p.id;
  }
  EXPECT_EQ(m.pumped_total_m3(), 0.0);
  EXPECT_DOUBLE_EQ(m.level_m(), m.params().overflow_m);
  // 3.6 m3 arrived; 1.2 m3 filled the well from 0.8 m to the overflow at 2.0 m; the rest spilled.
  EXPECT_NEAR(m.spilled_total_m3(), 3.6 - 1.2, 1e-6);
  // Repaired: it pumps the well down again.
  run(m, 2.0, 0.6);
  EXPECT_LT(m.level_m(), m.params().duty_on_m);
  EXPECT_GT(m.pumped_total_m3(), 1.0);
}

TEST(SimPumpStation, OnePumpTrippedTheStandbyTakesOver) {
  pump_station_model m(size_station(0.6));
  station_faults f;
  f.tripped = {"P1"};
  const auto p1_starts = m.starts()[0];
  run(m, 12.0, 0.6, f);
  EXPECT_TRUE(m.io().pumps[0].fault);
  EXPECT_FALSE(m.io().pumps[0].running);
  EXPECT_FALSE(m.io().pumps[1].fault);
  EXPECT_EQ(m.starts()[0], p1_starts);
  EXPECT_GE(m.starts()[1], 8U);
  EXPECT_EQ(m.spilled_total_m3(), 0.0) << "the standby copes alone";
}

TEST(SimPumpStation, PowerLossStopsEveryPumpWithoutTripsAndTheWellSpills) {
  pump_station_model m(size_station(0.6));
  station_faults f;
  f.mains_lost = true;
  run(m, 6.0, 0.6, f);
  EXPECT_FALSE(m.io().mains_power);
  for (const auto& p : m.io().pumps) {
    EXPECT_FALSE(p.running);
    EXPECT_FALSE(p.fault) << "trip relays are dark without mains";
  }
  EXPECT_EQ(m.pumped_total_m3(), 0.0);
  EXPECT_GT(m.spilled_total_m3(), 2.0);
  run(m, 0.1, 0.6);
  EXPECT_TRUE(m.io().mains_power);
  EXPECT_TRUE(m.io().pumps[0].running || m.io().pumps[1].running) << "mains back: pumping the full well";
}

TEST(SimPumpStation, OverloadRunsBothPumpsAndSpillsTheExcess) {
  pump_station_model m(size_station(0.6));
  station_faults f;
  f.overload_factor = 1.5;  // inflow 1.5 x (3.5 + 3.5) = 10.5 m3/h
  run(m, 2.0, 0.6, f);
  EXPECT_TRUE(m.io().pumps[0].running);
  EXPECT_TRUE(m.io().pumps[1].running);
  EXPECT_DOUBLE_EQ(m.level_m(), m.params().overflow_m);
  EXPECT_DOUBLE_EQ(m.io().inflow_m3h, 10.5);
  EXPECT_NEAR(m.io().spill_m3h, 3.5, 1e-6);
  EXPECT_NEAR(m.io().outflow_m3h, 7.0, 1e-6);
}

}  // namespace
}  // namespace sewage::sim
