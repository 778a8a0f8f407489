// Energy (issue 12 item 5): daily kWh and kWh/m3 from the kWh meter on fixed data (glitches,
// resets, rollover never booked), the power_without_flow / flow_without_power rules raising and
// clearing on a simulated clock, no energy alert for a terminal without a meter, and the store
// keeping the meter cursor and the daily energy.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/energy.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace sewage::gateway {
namespace {

using std::chrono::minutes;
using test::at;
using test::record;

county_zone shanghai() { return county_zone::locate("Asia/Shanghai").value_or(county_zone{}); }

proto::telemetry_record with_energy(proto::telemetry_record r, std::optional<double> kwh, std::optional<double> kw,
                                    std::optional<double> amps = std::nullopt,
                                    proto::quantity_status st = proto::quantity_status::ok) {
  r.energy = proto::energy_reading{st, kwh, kw, amps, std::nullopt};
  return r;
}

/// Folds the energy and volume deltas of `recs` into one daily row per day.
std::map<std::int32_t, daily_delta> fold(const std::vector<proto::telemetry_record>& recs,
                                         std::vector<energy_source>* sources = nullptr) {
  std::map<std::int32_t, daily_delta> days;
  energy_cursor ec;
  totalizer_cursor tc;
  const aggregate_params ap{10.0, 24, shanghai()};
  const energy_params ep{10.0, shanghai()};
  for (const auto& r : recs) {
    for (const auto& d : record_deltas(r, tc, ap)) days[d.day].day = d.day, days[d.day].add(d);
    energy_source src{};
    for (const auto& d : energy_deltas(r, ec, ep, &src)) days[d.day].day = d.day, days[d.day].add(d);
    if (sources != nullptr) sources->push_back(src);
  }
  return days;
}

/// One operating day of Asia/Shanghai (2026-11-29 local = 2026-11-28T16:00Z .. 2026-11-29T16:00Z)
/// of 15-minute records: 1 m3/h (0.25 m3 per record) at 0.8 kW (0.2 kWh per record).
std::vector<proto::telemetry_record> fixed_day() {
  std::vector<proto::telemetry_record> recs;
  auto ts = at("2026-11-28T16:15:00Z");
  for (int i = 0; i < 96; ++i) {
    auto r = test::with_flow(record("T", i + 1, ts), 1.0, 1000.0 + 0.25 * i);
    r.interval_s = 900;
    recs.push_back(with_energy(r, 5000.0 + 0.2 * i, 0.8));
    ts += minutes(15);
  }
  return recs;
}

TEST(EnergyDaily, KwhPerM3OfAFixedDay) {
  const auto days = fold(fixed_day());
  ASSERT_EQ(days.size(), 1u);
  const auto& d = days.begin()->second;
  EXPECT_EQ(d.day, operating_day(at("2026-11-29T04:00:00Z"), shanghai()));
  // 95 meter increments of 0.2 kWh measured; the first record's window estimated as 0.8 kW x 0.25 h.
  EXPECT_NEAR(d.energy_kwh, 19.0, 1e-9);
  EXPECT_NEAR(d.energy_estimated_kwh, 0.2, 1e-9);
  EXPECT_EQ(d.energy_records, 96u);
  EXPECT_NEAR(d.volume_m3 + d.volume_estimated_m3, 24.0, 1e-9);
  ASSERT_TRUE(energy_per_m3(d).has_value());
  EXPECT_NEAR(*energy_per_m3(d), 0.8, 1e-9);  // 19.2 kWh / 24 m3
  EXPECT_EQ(d.energy_glitches, 0u);
}

TEST(EnergyDaily, ASpikeIsNeverBooked) {
  auto recs = fixed_day();
  recs[40].energy->kwh_total = 9999.0;  // one garbled reading
  std::vector<energy_source> src;
  const auto d = fold(recs, &src).begin()->second;
  EXPECT_EQ(src[40], energy_source::suspect);
  EXPECT_EQ(src[41], energy_source::resolved);
  EXPECT_NEAR(d.energy_kwh, 19.0, 1e-9);  // the increment across the spike still counts
  EXPECT_EQ(d.energy_glitches, 1u);
}

TEST(EnergyDaily, ADipIsNeverBooked) {
  auto recs = fixed_day();
  recs[10].energy->kwh_total = 0.0;  // a zero read, then back
  const auto d = fold(recs).begin()->second;
  EXPECT_NEAR(d.energy_kwh, 19.0, 1e-9);
  EXPECT_EQ(d.energy_glitches, 1u);
}

TEST(EnergyDaily, AResetStartsANewBaselineAndEstimatesTheGap) {
  auto recs = fixed_day();
  for (std::size_t i = 50; i < recs.size(); ++i) recs[i].energy->kwh_total = 0.2 * static_cast<double>(i - 50);
  std::vector<energy_source> src;
  const auto d = fold(recs, &src).begin()->second;
  EXPECT_EQ(src[50], energy_source::suspect);
  EXPECT_EQ(src[51], energy_source::reset);
  // 49 increments before, 45 after (from reading 50 on), the reset's own window (49 -> 50)
  // estimated from the power, plus the first record's window.
  EXPECT_NEAR(d.energy_kwh, 0.2 * 49 + 0.2 * 45, 1e-9);
  EXPECT_NEAR(d.energy_estimated_kwh, 0.2 + 0.2, 1e-9);
  EXPECT_EQ(d.energy_glitches, 1u);
}

TEST(EnergyDaily, A32BitRolloverIsNotAHugeIncrement) {
  // A meter keeping 0.01 kWh in a u32 rolls over at 42949672.96 kWh.
  auto recs = fixed_day();
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const double v = 42949672.0 + 0.2 * static_cast<double>(i);
    recs[i].energy->kwh_total = v >= 42949672.96 ? v - 42949672.96 : v;
  }
  const auto d = fold(recs).begin()->second;
  EXPECT_NEAR(d.energy_kwh + d.energy_estimated_kwh, 19.2, 0.05);
  EXPECT_LT(d.energy_kwh, 20.0);
}

TEST(EnergyDaily, SmallBackwardsStepIsJitterAndLateRecordsAddNothing) {
  auto recs = fixed_day();
  recs[20].energy->kwh_total = *recs[19].energy->kwh_total - 0.01;
  std::vector<energy_source> src;
  auto days = fold(recs, &src);
  EXPECT_EQ(src[20], energy_source::jitter);
  EXPECT_NEAR(days.begin()->second.energy_kwh, 19.0, 1e-9);
  energy_cursor c{100.0, at("2026-11-29T01:00:00Z").time_since_epoch().count(), true};
  energy_source s{};
  const auto late = energy_deltas(with_energy(record("T", 1, at("2026-11-29T00:59:00Z")), 90.0, 0.5), c,
                                  energy_params{10.0, shanghai()}, &s);
  EXPECT_EQ(s, energy_source::late);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].energy_kwh, 0.0);
}

TEST(EnergyDaily, NoMeterNoEnergyAndNoKwhPerM3) {
  auto recs = fixed_day();
  for (auto& r : recs) r.energy.reset();
  const auto d = fold(recs).begin()->second;
  EXPECT_EQ(d.energy_records, 0u);
  EXPECT_FALSE(energy_per_m3(d).has_value());
  // A faulty meter's total is not used either.
  energy_cursor c;
  const auto f = energy_deltas(with_energy(record("T", 1, at("2026-11-29T01:00:00Z")), 5.0, std::nullopt, std::nullopt,
                                           proto::quantity_status::fault),
                               c, energy_params{10.0, shanghai()});
  EXPECT_FALSE(c.valid);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].energy_records, 0u);
}

TEST(EnergyDaily, PowerOnlyIsAnEstimate) {
  auto recs = fixed_day();
  for (auto& r : recs) r.energy->kwh_total.reset();
  const auto d = fold(recs).begin()->second;
  EXPECT_EQ(d.energy_kwh, 0.0);
  EXPECT_NEAR(d.energy_estimated_kwh, 19.2, 1e-9);
  EXPECT_NEAR(*energy_per_m3(d), 0.8, 1e-9);
}

TEST(EnergyDaily, AGapAcrossMidnightIsSplitByTime) {
  energy_cursor c;
  const energy_params p{10.0, shanghai()};
  (void)energy_deltas(with_energy(record("T", 1, at("2026-11-29T15:00:00Z")), 100.0, 1.0), c, p);
  const auto d = energy_deltas(with_energy(record("T", 2, at("2026-11-29T17:00:00Z")), 102.0, 1.0), c, p);
  ASSERT_EQ(d.size(), 2u);  // 23:00-00:00 local on one day, 00:00-01:00 on the next
  EXPECT_NEAR(d[0].energy_kwh, 1.0, 1e-9);
  EXPECT_NEAR(d[1].energy_kwh, 1.0, 1e-9);
  EXPECT_EQ(d[1].day + 1, d[0].day);
}

// ---- rules on a simulated clock (event time) ---------------------------------------------------

struct outcome {
  int raises{0};
  int clears{0};
  std::vector<proto::timestamp> when;
};

outcome run(const alert_rule& rule, const terminal_info& t, const std::vector<proto::telemetry_record>& recs,
            rule_state& s) {
  outcome o;
  for (const auto& r : recs) {
    const auto v = rule.observe(observation{r, r.ts, true}, t, s);
    if (v.act == verdict::action::raise) ++o.raises;
    if (v.act == verdict::action::clear) ++o.clears;
    if (v.any()) o.when.push_back(v.at);
  }
  return o;
}

/// `n` one-minute records from `from` with the given flow and energy.
std::vector<proto::telemetry_record> minutes_of(proto::timestamp from, int n, double flow_m3h,
                                                std::optional<double> kw, std::optional<double> amps = std::nullopt) {
  std::vector<proto::telemetry_record> recs;
  for (int i = 0; i < n; ++i) {
    auto r = test::with_flow(record("T", i + 1, from + minutes(i + 1)), flow_m3h, std::nullopt);
    if (kw || amps) r = with_energy(r, std::nullopt, kw, amps);
    recs.push_back(r);
  }
  return recs;
}

TEST(PowerWithoutFlowRule, RaisesAfterTheDebounceAndClearsWhenFlowReturns) {
  const auto rule = make_power_without_flow_rule();
  const auto t = test::terminal("T");  // defaults: >= 0.6 kW with <= 0.05 m3/h for 1800 s
  rule_state s;
  const auto t0 = at("2026-11-29T02:00:00Z");
  // A dry-running pump: 1.1 kW, no flow. 29 min: not yet; the 30th minute raises.
  auto o = run(*rule, t, minutes_of(t0, 29, 0.0, 1.1), s);
  EXPECT_EQ(o.raises, 0);
  o = run(*rule, t, minutes_of(t0 + minutes(29), 5, 0.0, 1.1), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(31));  // first bad record at t0+1 min, + 30 min
  // Inside the hysteresis band (0.55 kW, 0.07 m3/h): neither raise nor clear.
  o = run(*rule, t, minutes_of(t0 + minutes(40), 60, 0.07, 0.55), s);
  EXPECT_EQ(o.clears, 0);
  // Flow back: clears after the debounce.
  o = run(*rule, t, minutes_of(t0 + minutes(100), 40, 0.8, 1.1), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(131));
}

TEST(PowerWithoutFlowRule, BlowerAloneIsNotAPumpRunning) {
  const auto rule = make_power_without_flow_rule();
  rule_state s;
  // 0.37 kW blower all night without outflow: normal.
  EXPECT_EQ(run(*rule, test::terminal("T"), minutes_of(at("2026-11-29T16:00:00Z"), 600, 0.0, 0.37), s).raises, 0);
}

TEST(PowerWithoutFlowRule, UsesThePumpCurrentWhenMeasured) {
  const auto rule = make_power_without_flow_rule();
  const auto t = test::terminal("T");
  rule_state s;
  const auto t0 = at("2026-11-29T02:00:00Z");
  // Power high (blower + something) but the pump's own current is 0: not the pump: no alert.
  EXPECT_EQ(run(*rule, t, minutes_of(t0, 60, 0.0, 1.2, 0.0), s).raises, 0);
  // Pump current 2.1 A without flow for 30 min: raise; current down to 0.2 A: clear.
  auto o = run(*rule, t, minutes_of(t0 + minutes(60), 40, 0.0, std::nullopt, 2.1), s);
  EXPECT_EQ(o.raises, 1);
  o = run(*rule, t, minutes_of(t0 + minutes(100), 40, 0.0, std::nullopt, 0.2), s);
  EXPECT_EQ(o.clears, 1);
}

TEST(FlowWithoutPowerRule, RaisesAfterTheDebounceAndClearsWhenPowerReturns) {
  const auto rule = make_flow_without_power_rule();
  const auto t = test::terminal("T");  // >= 0.1 m3/h with <= 0.05 kW for 1800 s
  rule_state s;
  const auto t0 = at("2026-11-29T02:00:00Z");
  auto o = run(*rule, t, minutes_of(t0, 29, 0.9, 0.0), s);
  EXPECT_EQ(o.raises, 0);
  o = run(*rule, t, minutes_of(t0 + minutes(29), 3, 0.9, 0.0), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(31));
  // 0.08 kW is inside the band: stays raised.
  EXPECT_EQ(run(*rule, t, minutes_of(t0 + minutes(40), 60, 0.9, 0.08), s).clears, 0);
  o = run(*rule, t, minutes_of(t0 + minutes(100), 40, 0.9, 0.45), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(131));
}

TEST(FlowWithoutPowerRule, AShortInterruptionDoesNotRaise) {
  const auto rule = make_flow_without_power_rule();
  rule_state s;
  auto recs = minutes_of(at("2026-11-29T02:00:00Z"), 120, 0.9, 0.0);
  for (std::size_t i = 20; i < recs.size(); i += 20) recs[i].energy->power_kw = 0.5;  // power back every 20 min
  EXPECT_EQ(run(*rule, test::terminal("T"), recs, s).raises, 0);
}

TEST(EnergyRules, NoAlertWhenTheSiteHasNoMeter) {
  const auto rules = default_rules();
  const auto t = test::terminal("T");
  for (const auto type : {proto::alert_type::power_without_flow, proto::alert_type::flow_without_power}) {
    const auto* rule = rules.find(type);
    ASSERT_NE(rule, nullptr);
    rule_state s;
    // A day of flow with no energy section, and a day of no flow: never judged.
    EXPECT_EQ(run(*rule, t, minutes_of(at("2026-11-29T00:00:00Z"), 1440, 0.9, std::nullopt), s).raises, 0);
    EXPECT_EQ(run(*rule, t, minutes_of(at("2026-11-30T00:00:00Z"), 1440, 0.0, std::nullopt), s).raises, 0);
    EXPECT_FALSE(s.pending);
    EXPECT_FALSE(s.active);
  }
}

TEST(EnergyRules, AFaultyMeterIsSensorFaultsBusiness) {
  const auto rules = default_rules();
  rule_state pwf, fwp, sf;
  auto recs = minutes_of(at("2026-11-29T00:00:00Z"), 120, 0.9, 0.0);
  for (auto& r : recs) r.energy->status = proto::quantity_status::stale, r.energy->power_kw.reset();
  const auto t = test::terminal("T");
  EXPECT_EQ(run(*rules.find(proto::alert_type::flow_without_power), t, recs, fwp).raises, 0);
  EXPECT_EQ(run(*rules.find(proto::alert_type::power_without_flow), t, recs, pwf).raises, 0);
  EXPECT_EQ(run(*rules.find(proto::alert_type::sensor_fault), t, recs, sf).raises, 1);
}

// ---- config ------------------------------------------------------------------------------------

std::string config_error_of(const testing::temp_dir& d, const std::string& name, const std::string& text) {
  const auto p = d.path() / name;
  std::ofstream(p) << text;
  try {
    (void)load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(EnergyConfig, ThresholdsAreReadAndBadValuesNameTheKey) {
  testing::temp_dir dir("gw-energy-config");
  const auto p = dir.path() / "ok.toml";
  std::ofstream(p) << "[alerts]\npower_without_flow_raise_kw = 0.9\npower_without_flow_clear_kw = 0.7\n"
                      "flow_without_power_debounce_s = 600\npump_running_a = 1.5\n";
  const auto c = load_config(p);
  EXPECT_EQ(c.defaults.power_without_flow_raise_kw, 0.9);
  EXPECT_EQ(c.defaults.power_without_flow_clear_kw, 0.7);
  EXPECT_EQ(c.defaults.flow_without_power_debounce_s, 600u);
  EXPECT_EQ(c.defaults.pump_running_a, 1.5);
  EXPECT_EQ(thresholds{}.power_without_flow_debounce_s, 1800u);  // the documented default
  auto e = config_error_of(dir, "a.toml", "[alerts]\npower_without_flow_raise_kw = \"high\"\n");
  EXPECT_NE(e.find("alerts.power_without_flow_raise_kw: must be a number"), std::string::npos) << e;
  e = config_error_of(dir, "b.toml", "[alerts]\nflow_without_power_raise_kw = 0.2\nflow_without_power_clear_kw = 0.1\n");
  EXPECT_NE(e.find("alerts.flow_without_power_clear_kw: must not be below"), std::string::npos) << e;
  e = config_error_of(dir, "c.toml", "[alerts]\nenergy_peak_kw = 1000\n");
  EXPECT_NE(e.find("alerts.energy_peak_kw: must be in"), std::string::npos) << e;
}

// ---- store -------------------------------------------------------------------------------------

}  // namespace
}  // namespace sewage::gateway
