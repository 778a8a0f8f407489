// Interval records from samples: statuses, means, the totalizer and the clean-out flag.
#include "sewage/agent/interval.hpp"
#include "sewage/agent/simulated_driver.hpp"

#include <gtest/gtest.h>

namespace sewage::agent {
namespace {

using proto::quantity_status;

agent_config config_with(const std::string& extra = "") {
  return parse_config("terminal_id = \"T1\"\nstuck_after_polls = 5\n" + extra + "[mqtt]\nuri = \"ssl://h:1\"\n");
}

sample ok(quantity q, double v) { return sample{q, quantity_status::ok, v, {}}; }

TEST(IntervalBuilder, MeansAndStatusesPerQuantity) {
  interval_builder b(config_with(), {quantity::flow_rate, quantity::flow_total_int, quantity::flow_total_frac,
                                     quantity::turbidity, quantity::sludge_level});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  b.add({ok(quantity::flow_rate, 1.0), ok(quantity::flow_total_int, 100), ok(quantity::flow_total_frac, 0.25),
         ok(quantity::turbidity, 3.0), ok(quantity::sludge_level, 0.8)},
        t0);
  b.add({ok(quantity::flow_rate, 3.0), ok(quantity::flow_total_int, 101), ok(quantity::flow_total_frac, 0.5),
         sample{quantity::turbidity, quantity_status::stale, 0, "no answer"}, ok(quantity::sludge_level, 0.8)},
        t0 + std::chrono::seconds(5));
  b.add({ok(quantity::flow_rate, 2.0), ok(quantity::flow_total_int, 101), ok(quantity::flow_total_frac, 0.75),
         ok(quantity::turbidity, 5.0), ok(quantity::sludge_level, 0.9)},
        t0 + std::chrono::seconds(10));
  auto r = b.close(t0 + std::chrono::seconds(15), 15);
  r.terminal_id = "T1";
  r.epoch = "0123456789abcdef";
  r.seq = 1;
  EXPECT_TRUE(proto::validate(r).empty());
  ASSERT_TRUE(r.flow && r.turbidity && r.sludge);
  EXPECT_EQ(r.flow->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.flow->rate_m3h, 2.0);
  EXPECT_DOUBLE_EQ(*r.flow->total_m3, 101.75);
  EXPECT_DOUBLE_EQ(b.last_window_volume_m3(), 1.5);
  EXPECT_EQ(r.turbidity->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.turbidity->ntu, 4.0);
  EXPECT_DOUBLE_EQ(*r.turbidity->min_ntu, 3.0);
  EXPECT_DOUBLE_EQ(*r.turbidity->max_ntu, 5.0);
  EXPECT_NEAR(*r.sludge->level_m, 0.8333333, 1e-6);
  EXPECT_FALSE(r.sludge->cleanout_required.has_value());  // cleanout source none
}

TEST(IntervalBuilder, FailedWindowCarriesStatusAndReasonButNoNumbers) {
  interval_builder b(config_with(), {quantity::turbidity, quantity::flow_rate});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  for (int i = 0; i < 3; ++i) {
    b.add({sample{quantity::turbidity, quantity_status::stale, 0, "no answer: Connection timed out"},
           sample{quantity::flow_rate, quantity_status::fault, 0, "exception response: Slave device or server failure"}},
          t0);
  }
  auto r = b.close(t0, 60);
  EXPECT_EQ(r.turbidity->status, quantity_status::stale);
  EXPECT_FALSE(r.turbidity->ntu.has_value());
  EXPECT_EQ(*r.turbidity->reason, "no answer: Connection timed out");
  EXPECT_EQ(r.flow->status, quantity_status::fault);
  EXPECT_FALSE(r.flow->rate_m3h.has_value());
  // The next window starts empty: without samples the quantity is stale.
  auto empty = b.close(t0, 60);
  EXPECT_EQ(empty.turbidity->status, quantity_status::stale);
}

TEST(IntervalBuilder, ValuesBeyondTheWireBoundsAreOutOfRange) {
  interval_builder b(config_with(), {quantity::turbidity});
  b.add({ok(quantity::turbidity, 5000.0)}, {});
  b.add({ok(quantity::turbidity, -1.0)}, {});
  const auto r = b.close({}, 60);
  EXPECT_EQ(r.turbidity->status, quantity_status::out_of_range);
}

TEST(IntervalBuilder, StuckSensorIsReportedAsFault) {
  interval_builder b(config_with(), {quantity::turbidity});
  for (int i = 0; i < 20; ++i) b.add({ok(quantity::turbidity, 4.25)}, {});
  const auto r = b.close({}, 60);
  EXPECT_EQ(r.turbidity->status, quantity_status::fault);
  EXPECT_NE(r.turbidity->reason->find("stuck"), std::string::npos);
}

TEST(IntervalBuilder, ZeroFlowAtNightIsNotStuck) {
  interval_builder b(config_with(), {quantity::flow_rate});
  for (int i = 0; i < 20; ++i) b.add({ok(quantity::flow_rate, 0.0)}, {});
  const auto r = b.close({}, 60);
  EXPECT_EQ(r.flow->status, quantity_status::ok);
  EXPECT_EQ(*r.flow->rate_m3h, 0.0);
}

TEST(IntervalBuilder, TotalizerResetKeepsTheReadingAndNeverANegativeVolume) {
  interval_builder b(config_with(), {quantity::flow_total});
  b.add({ok(quantity::flow_total, 5000.5)}, {});
  b.close({}, 60);
  b.add({ok(quantity::flow_total, 3.0)}, {});  // meter reset
  const auto r = b.close({}, 60);
  EXPECT_EQ(b.last_window_volume_m3(), 0.0);
  EXPECT_EQ(r.flow->status, quantity_status::ok);
  EXPECT_EQ(*r.flow->total_m3, 3.0);
  EXPECT_EQ(*r.flow->rate_m3h, 0.0);  // rate from the totalizer when no rate point is fitted
  b.add({ok(quantity::flow_total, 4.0)}, {});
  const auto r2 = b.close({}, 3600);
  EXPECT_DOUBLE_EQ(*r2.flow->rate_m3h, 1.0);
}

TEST(IntervalBuilder, BadTotalizerFractionIsAFault) {
  interval_builder b(config_with(), {quantity::flow_total_int, quantity::flow_total_frac});
  b.add({ok(quantity::flow_total_int, 10), ok(quantity::flow_total_frac, 1.0)}, {});
  const auto r = b.close({}, 60);
  EXPECT_NE(r.flow->status, quantity_status::ok);
}

TEST(IntervalBuilder, CleanoutFromLevelWithHoldAndFromAFloatSwitch) {
  const auto cfg = config_with("[cleanout]\nsource = \"level\"\nraise_m = 1.5\nclear_m = 1.2\nhold_s = 60\n");
  interval_builder b(cfg, {quantity::sludge_level});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  b.add({ok(quantity::sludge_level, 1.6)}, t0);
  EXPECT_FALSE(*b.close(t0, 60).sludge->cleanout_required);
  b.add({ok(quantity::sludge_level, 1.61)}, t0 + std::chrono::seconds(61));
  EXPECT_TRUE(*b.close(t0, 60).sludge->cleanout_required);
  b.add({ok(quantity::sludge_level, 1.1)}, t0 + std::chrono::seconds(120));
  EXPECT_FALSE(*b.close(t0, 60).sludge->cleanout_required);

  interval_builder s(config_with("[cleanout]\nsource = \"digital_input\"\n"), {quantity::cleanout_switch});
  s.add({ok(quantity::cleanout_switch, 1.0)}, t0);
  const auto r = s.close(t0, 60);
  EXPECT_EQ(r.sludge->status, quantity_status::ok);
  EXPECT_TRUE(*r.sludge->cleanout_required);
  EXPECT_FALSE(r.sludge->level_m.has_value());
}

TEST(SimulatedDriver, ProfilesFollowTheClock) {
  const auto cfg = parse_config(R"(
terminal_id = "T1"
[mqtt]
uri = "ssl://h:1"
[[device]]
name = "sim"
driver = "simulated"
[[device.point]]
quantity = "flow_rate"
profile = "series"
values = [1.0, 2.0, 3.0]
step_s = 10
[[device.point]]
quantity = "flow_total"
profile = "ramp"
start = 100
per_hour = 36
[[device.point]]
quantity = "turbidity"
profile = "sine"
base = 5
amplitude = 1
period_s = 100
noise = 0.1
)");
  simulated_driver d(cfg.devices.at(0));
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  const auto a = d.read(t0);
  const auto b = d.read(t0 + std::chrono::seconds(15));
  ASSERT_EQ(a.size(), 3U);
  EXPECT_EQ(a[0].value, 1.0);
  EXPECT_EQ(b[0].value, 2.0);
  EXPECT_EQ(a[1].value, 100.0);
  EXPECT_DOUBLE_EQ(b[1].value, 100.15);
  EXPECT_GE(a[2].value, 3.9);
  EXPECT_LE(a[2].value, 6.1);
  EXPECT_EQ(a[2].status, quantity_status::ok);
}

TEST(DriverRegistry, UnknownDriverNamesTheKey) {
  driver_registry r;
  r.add("simulated", &simulated_driver::create);
  EXPECT_THROW(r.add("simulated", &simulated_driver::create), std::logic_error);
  const auto cfg = parse_config("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n[[device]]\nname = \"x\"\ndriver = \"can\"\n");
  try {
    (void)r.create(cfg.devices.at(0));
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), "device[0].driver");
  }
}

// ---- energy (issue 12 item 5) ----

proto::telemetry_record closed(interval_builder& b, proto::timestamp end, std::uint32_t interval_s) {
  auto r = b.close(end, interval_s);
  r.terminal_id = "T1";
  r.epoch = "0123456789abcdef";
  r.seq = 1;
  EXPECT_TRUE(proto::validate(r).empty());
  return r;
}

TEST(IntervalEnergy, MeterOnlyGivesPowerFromItsIncrementsAndNeverCountsAReset) {
  interval_builder b(config_with(), {quantity::energy_total});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  // First window: one reading, no increment yet: no power, stale with a reason; total kept.
  b.add({ok(quantity::energy_total, 100.0)}, t0);
  auto r = closed(b, t0 + std::chrono::seconds(60), 60);
  ASSERT_TRUE(r.energy.has_value());
  EXPECT_EQ(r.energy->status, quantity_status::stale);
  EXPECT_DOUBLE_EQ(*r.energy->kwh_total, 100.0);
  // 0.0125 kWh per 60 s = 0.75 kW.
  b.add({ok(quantity::energy_total, 100.0125)}, t0 + std::chrono::seconds(120));
  r = closed(b, t0 + std::chrono::seconds(120), 60);
  EXPECT_EQ(r.energy->status, quantity_status::ok);
  EXPECT_NEAR(*r.energy->power_kw, 0.75, 1e-9);
  // The meter is reset to 0: that step adds nothing (never a negative or huge power).
  b.add({ok(quantity::energy_total, 0.0)}, t0 + std::chrono::seconds(180));
  r = closed(b, t0 + std::chrono::seconds(180), 60);
  EXPECT_EQ(r.energy->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.energy->power_kw, 0.0);
  // An implausible jump (a garbled reading) adds nothing either.
  b.add({ok(quantity::energy_total, 5'000'000.0)}, t0 + std::chrono::seconds(240));
  r = closed(b, t0 + std::chrono::seconds(240), 60);
  EXPECT_DOUBLE_EQ(*r.energy->power_kw, 0.0);
}

TEST(IntervalEnergy, PowerAndPumpCurrentMeansAndPhysicalRange) {
  interval_builder b(config_with(), {quantity::power, quantity::pump_current});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  b.add({ok(quantity::power, 0.4), ok(quantity::pump_current, 0.0)}, t0);
  b.add({ok(quantity::power, 1.2), ok(quantity::pump_current, 2.0)}, t0 + std::chrono::seconds(5));
  auto r = closed(b, t0 + std::chrono::seconds(10), 10);
  ASSERT_TRUE(r.energy.has_value());
  EXPECT_DOUBLE_EQ(*r.energy->power_kw, 0.8);
  EXPECT_DOUBLE_EQ(*r.energy->pump_current_a, 1.0);
  EXPECT_FALSE(r.energy->kwh_total.has_value());
  // A negative power (a meter wired backwards) is out of range, named in the reason.
  b.add({ok(quantity::power, -0.5), ok(quantity::pump_current, 1.0)}, t0 + std::chrono::seconds(15));
  r = closed(b, t0 + std::chrono::seconds(20), 10);
  EXPECT_EQ(r.energy->status, quantity_status::out_of_range);
  ASSERT_TRUE(r.energy->reason.has_value());
  EXPECT_NE(r.energy->reason->find("outside the physical range"), std::string::npos);
}

TEST(IntervalEnergy, NoMeterNoEnergySection) {
  interval_builder b(config_with(), {quantity::flow_rate});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  b.add({ok(quantity::flow_rate, 1.0)}, t0);
  EXPECT_FALSE(closed(b, t0 + std::chrono::seconds(10), 10).energy.has_value());
}

}  // namespace
}  // namespace sewage::agent
