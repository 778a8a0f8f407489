// The simulator's clock runs on the monotonic clock (sim_clock.hpp): a step of the machine's wall
// clock neither stops nor jumps simulated time. Before, the simulator read the wall clock; the
// short soak on CI met a step and every agent read its instruments as stuck (2026-12-03).
#include "sewage/sim/sim_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

namespace sewage::sim {
namespace {

using namespace std::chrono_literals;
using sys = std::chrono::system_clock;
using steady = std::chrono::steady_clock;

struct fake_clocks {
  sys::time_point wall = sys::time_point(1'796'000'000s);  // 2026-11-30
  steady::time_point mono = steady::time_point(5'000s);
  sim_clock make(sys::time_point real_origin, sys::time_point sim_origin, double speed) {
    return sim_clock(real_origin, sim_origin, speed, [this] { return wall; }, [this] { return mono; });
  }
};

TEST(SimClock, ReadsTheSharedSimulatedTimeFromAnOriginInThePast) {
  fake_clocks c;
  const auto sim_origin = sys::time_point(1'790'000'000s);
  // Started 10 real s after the origin (the agents' and the gateway's mapping): 10 x 240 s later.
  const auto clock = c.make(c.wall - 10s, sim_origin, 240.0);
  EXPECT_EQ(clock.now(), sim_origin + 2400s);
  c.wall += 1s;
  c.mono += 1s;
  EXPECT_EQ(clock.now(), sim_origin + 2640s);
  EXPECT_EQ(clock.wall_offset(), sys::duration::zero());
}

TEST(SimClock, AWallClockStepBackNeitherStopsNorMovesSimulatedTime) {
  fake_clocks c;
  const auto sim_origin = sys::time_point(1'790'000'000s);
  const auto clock = c.make(c.wall, sim_origin, 240.0);
  c.wall -= 60s;  // stepped back a minute: on the wall clock, 4 simulated hours would stand still
  c.mono += 2s;
  c.wall += 2s;
  EXPECT_EQ(clock.now(), sim_origin + 480s);
  EXPECT_EQ(clock.wall_offset(), -60s);
}

TEST(SimClock, AWallClockStepForwardDoesNotJumpSimulatedTime) {
  fake_clocks c;
  const auto sim_origin = sys::time_point(1'790'000'000s);
  const auto clock = c.make(c.wall, sim_origin, 240.0);
  c.wall += 3600s;
  c.mono += 1s;
  c.wall += 1s;
  EXPECT_EQ(clock.now(), sim_origin + 240s);
  EXPECT_EQ(clock.wall_offset(), 3600s);
}

TEST(SimClock, RefusesABadSpeedOrAnEmptySource) {
  const auto t = sys::time_point(1'790'000'000s);
  EXPECT_THROW(sim_clock(t, t, 0.0), std::invalid_argument);
  EXPECT_THROW(sim_clock(t, t, -1.0), std::invalid_argument);
  EXPECT_THROW(sim_clock(t, t, 2e6), std::invalid_argument);
  EXPECT_THROW(sim_clock(t, t, 1.0, sim_clock::wall_source{}), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::sim
