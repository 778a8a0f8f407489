// Pump stations as monitored sites (issue 13 item 2): the registry's site kinds and their errors,
// the six pump-station rules raising and clearing with hysteresis and debounce on event time, no
// rule on the wrong kind, the run-time normal (median of the previous 7 complete days, >= 3 days)
// kept across a restart, effluent figures counting terminals only, and the API's kind.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/pump_runtime.hpp"
#include "sewage/gateway/registry.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::at;

county_zone shanghai() { return county_zone::locate("Asia/Shanghai").value_or(county_zone{}); }

terminal_info station(std::string id, thresholds t = {}) {
  auto s = test::terminal(std::move(id), t);
  s.kind = site_kind::pump_station;
  s.design_capacity_m3d = 0;
  s.discharge_grade.clear();
  return s;
}

/// A pump-station record: level (status ok when given), pumps as (running, fault, run_s), mains.
proto::telemetry_record ps_record(const std::string& id, std::uint64_t seq, proto::timestamp ts,
                                  std::optional<double> level_m, std::vector<std::tuple<bool, bool, std::uint32_t>> pumps,
                                  std::optional<bool> mains = true, std::uint32_t interval_s = 60) {
  auto r = test::record(id, seq, ts);
  r.interval_s = interval_s;
  proto::pump_station_reading ps;
  ps.status = level_m ? proto::quantity_status::ok : proto::quantity_status::stale;
  ps.wet_well_level_m = level_m;
  ps.mains_power = mains;
  if (mains) ps.power_lost_s = *mains ? 0 : interval_s;
  int n = 0;
  for (const auto& [running, fault, run_s] : pumps) {
    proto::pump_reading p;
    p.id = "P" + std::to_string(++n);
    p.running = running;
    p.fault = fault;
    p.run_s = run_s;
    ps.pumps.push_back(p);
  }
  r.pump_station = ps;
  return r;
}

struct outcome {
  int raises{0};
  int clears{0};
  std::vector<proto::timestamp> when;
  std::vector<double> values;
};

outcome run(const alert_rule& rule, const terminal_info& t, const std::vector<proto::telemetry_record>& recs,
            rule_state& s, const pump_runtime_view* view = nullptr) {
  outcome o;
  for (const auto& r : recs) {
    observation obs{r, r.ts, true};
    obs.pump_runtime = view;
    const auto v = rule.observe(obs, t, s);
    if (v.act == verdict::action::raise) ++o.raises;
    if (v.act == verdict::action::clear) ++o.clears;
    if (v.any()) o.when.push_back(v.at), o.values.push_back(v.value);
  }
  return o;
}

/// `n` one-minute records from `from` (the first stamped from + 1 min), built by `make(i, ts)`.
template <class F>
std::vector<proto::telemetry_record> minutes_of(proto::timestamp from, int n, F make) {
  std::vector<proto::telemetry_record> recs;
  for (int i = 0; i < n; ++i) recs.push_back(make(i, from + minutes(i + 1)));
  return recs;
}

std::vector<proto::telemetry_record> levels(proto::timestamp from, int n, double level) {
  return minutes_of(from, n, [&](int i, proto::timestamp ts) {
    return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, level, {{false, false, 0}});
  });
}

const auto t0 = at("2026-11-29T02:00:00Z");

// ---- the rules -----------------------------------------------------------------------------

TEST(PumpFaultRule, RaisesAfterTheDebounceIgnoresABounceAndClears) {
  const auto rule = make_pump_fault_rule();
  const auto ps = station("PS");  // pump_fault_debounce_s = 120
  rule_state s;
  const auto fault = [](bool f) {
    return [f](int i, proto::timestamp ts) {
      return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, 1.0, {{false, f, 0}, {true, false, 60}});
    };
  };
  // One interval with the fault input on (a bouncing contact): nothing.
  EXPECT_EQ(run(*rule, ps, minutes_of(t0, 1, fault(true)), s).raises, 0);
  EXPECT_EQ(run(*rule, ps, minutes_of(t0 + minutes(1), 3, fault(false)), s).raises, 0);
  // Latched trip: raised 2 min after the first faulted record, value = faulted pumps.
  auto o = run(*rule, ps, minutes_of(t0 + minutes(10), 5, fault(true)), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(13));
  EXPECT_EQ(o.values[0], 1.0);
  // Reset: clears after the same debounce.
  o = run(*rule, ps, minutes_of(t0 + minutes(20), 5, fault(false)), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(23));
}

TEST(WetWellHighRule, HysteresisAndDebounce) {
  const auto rule = make_wet_well_high_rule();
  const auto ps = station("PS");  // high 2.5 m, hysteresis 0.1 m, debounce 120 s
  rule_state s;
  EXPECT_EQ(run(*rule, ps, levels(t0, 60, 2.5), s).raises, 0);  // at the level: not above
  auto surge = levels(t0 + minutes(60), 10, 2.4);
  surge[3].pump_station->wet_well_level_m = 2.7;  // one interval above: a surge
  EXPECT_EQ(run(*rule, ps, surge, s).raises, 0);
  auto o = run(*rule, ps, levels(t0 + minutes(80), 5, 2.6), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(83));
  EXPECT_DOUBLE_EQ(o.values[0], 2.6);
  EXPECT_EQ(run(*rule, ps, levels(t0 + minutes(90), 30, 2.45), s).clears, 0);  // inside the band
  o = run(*rule, ps, levels(t0 + minutes(120), 5, 2.4), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(123));
}

TEST(WetWellLowRule, HysteresisDebounceAndAStationsOwnLevel) {
  const auto rule = make_wet_well_low_rule();
  rule_state s;
  auto o = run(*rule, station("PS"), levels(t0, 5, 0.2), s);  // low 0.3 m
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(3));
  EXPECT_EQ(run(*rule, station("PS"), levels(t0 + minutes(10), 30, 0.35), s).clears, 0);  // < 0.3 + 0.1
  o = run(*rule, station("PS"), levels(t0 + minutes(40), 5, 0.4), s);
  ASSERT_EQ(o.clears, 1);
  // A station whose low level is 0.6 m ([terminal.pump_station] wet_well_low_m).
  thresholds own;
  own.wet_well_low_m = 0.6;
  rule_state s2;
  EXPECT_EQ(run(*rule, station("PS", own), levels(t0, 5, 0.5), s2).raises, 1);
  // A stale level transmitter is not a low level.
  rule_state s3;
  EXPECT_EQ(run(*rule, station("PS"), minutes_of(t0, 30, [](int i, proto::timestamp ts) {
                  return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, std::nullopt, {{false, false, 0}});
                }), s3).raises, 0);
}

/// A run of `n` minutes of P1 running `run_s` a minute with the level going `from_m` + step x i.
std::vector<proto::telemetry_record> pumping(proto::timestamp from, int n, double from_m, double step_m,
                                             std::uint32_t run_s = 60) {
  return minutes_of(from, n, [&](int i, proto::timestamp ts) {
    return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, from_m + step_m * i, {{run_s > 0, false, run_s}, {false, false, 0}});
  });
}

TEST(PumpNoLevelDropRule, ARunWithoutLevelDropRaisesAfterNIntervalsAndAWorkingRunClears) {
  const auto rule = make_pump_no_level_drop_rule();
  const auto ps = station("PS");  // >= 80 % of 10 intervals, needs a 0.05 m drop
  rule_state s;
  // A healthy pump: 0.1 m a minute down from 1.5 m, then stops; again later. Never raised.
  EXPECT_EQ(run(*rule, ps, pumping(t0, 9, 1.5, -0.1), s).raises, 0);
  EXPECT_EQ(run(*rule, ps, pumping(t0 + minutes(20), 30, 1.5, 0.0, 0), s).raises, 0);
  // Running 50 % of each interval (short cycling) with a flat level: not "running" for the rule.
  EXPECT_EQ(run(*rule, ps, pumping(t0 + minutes(60), 30, 1.5, 0.0, 30), s).raises, 0);
  // Running all the time, level falling only 0.02 m over 10 min: raised at the 10th interval.
  auto o = run(*rule, ps, pumping(t0 + minutes(100), 15, 1.5, -0.002), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(110));
  EXPECT_NEAR(o.values[0], 0.018, 1e-9);  // the drop over the run (1.5 -> 1.482)
  // Stopped, then a run that lowers the level by 0.05 m: cleared.
  EXPECT_EQ(run(*rule, ps, pumping(t0 + minutes(120), 5, 1.6, 0.0, 0), s).clears, 0);
  o = run(*rule, ps, pumping(t0 + minutes(130), 5, 1.6, -0.03, 40), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(133));  // 1.6 -> 1.54
}

TEST(PumpNoLevelDropRule, APumpThatEmptiesTheWellAndThenStallsIsCaught) {
  const auto rule = make_pump_no_level_drop_rule();
  rule_state s;
  // 5 min of a working pump (down 0.1 m/min), then the level stands still at 1.0 m for 15 min
  // while the pump keeps running: the rule judges from where the level last fell.
  auto recs = pumping(t0, 5, 1.5, -0.1);
  for (auto& r : pumping(t0 + minutes(5), 15, 1.0, 0.0)) recs.push_back(r);
  const auto o = run(*rule, station("PS"), recs, s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(16));  // 10 min after the last fall (1.1 -> 1.0 m, record at +6 min)
}

TEST(PowerLostRule, MainsOffForTheDebounceRaisesWithTheSecondsWithoutMains) {
  const auto rule = make_power_lost_rule();
  const auto ps = station("PS");  // power_lost_debounce_s = 120
  rule_state s;
  const auto mains = [](bool on) {
    return [on](int i, proto::timestamp ts) {
      return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, 1.0, {{false, false, 0}}, on);
    };
  };
  // A one-minute dip (auto-recloser): nothing.
  EXPECT_EQ(run(*rule, ps, minutes_of(t0, 1, mains(false)), s).raises, 0);
  EXPECT_EQ(run(*rule, ps, minutes_of(t0 + minutes(1), 5, mains(true)), s).raises, 0);
  auto o = run(*rule, ps, minutes_of(t0 + minutes(10), 10, mains(false)), s);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(13));
  EXPECT_DOUBLE_EQ(o.values[0], 180.0);  // three records of 60 s without mains
  o = run(*rule, ps, minutes_of(t0 + minutes(20), 5, mains(true)), s);
  ASSERT_EQ(o.clears, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(23));
  EXPECT_DOUBLE_EQ(o.values[0], 600.0);  // the outage's ten minutes
  // Mains not monitored: never judged.
  rule_state s2;
  EXPECT_EQ(run(*rule, ps, minutes_of(t0, 30, [](int i, proto::timestamp ts) {
                  return ps_record("PS", static_cast<std::uint64_t>(i + 1), ts, 1.0, {{false, false, 0}}, std::nullopt);
                }), s2).raises, 0);
}

TEST(PumpRuntimeAbnormalRule, LowAndHighAgainstTheNormalWithHysteresisAndDebounce) {
  const auto rule = make_pump_runtime_abnormal_rule();
  const auto ps = station("PS");  // low 0.5, high 2.0, clear 0.6 / 1.7, debounce 3600 s
  const auto recs = [](proto::timestamp from, int n) { return levels(from, n, 1.0); };
  pump_runtime_view v;
  v.normal_h = 4.0;
  v.history_days = 7;
  v.last_24h_covered_s = 86400;
  v.last_24h_run_h = 1.5;  // 0.375 x normal
  rule_state s;
  auto o = run(*rule, ps, recs(t0, 59), s, &v);
  EXPECT_EQ(o.raises, 0);
  o = run(*rule, ps, recs(t0 + minutes(59), 5), s, &v);
  ASSERT_EQ(o.raises, 1);
  EXPECT_EQ(o.when[0], t0 + minutes(61));
  EXPECT_DOUBLE_EQ(o.values[0], 1.5);
  v.last_24h_run_h = 2.2;  // 0.55: inside the band
  EXPECT_EQ(run(*rule, ps, recs(t0 + minutes(70), 120), s, &v).clears, 0);
  v.last_24h_run_h = 3.0;
  EXPECT_EQ(run(*rule, ps, recs(t0 + minutes(200), 70), s, &v).clears, 1);
  // High: 9 h against a normal of 4 h.
  v.last_24h_run_h = 9.0;
  EXPECT_EQ(run(*rule, ps, recs(t0 + minutes(300), 70), s, &v).raises, 1);
}

TEST(PumpRuntimeAbnormalRule, NoJudgementWithoutANormalOrWithAGapInTheLast24h) {
  const auto rule = make_pump_runtime_abnormal_rule();
  rule_state s;
  const auto recs = levels(t0, 120, 1.0);
  pump_runtime_view v;  // fewer than 3 days of history: no normal
  v.history_days = 2;
  v.last_24h_covered_s = 86400;
  EXPECT_EQ(run(*rule, station("PS"), recs, s, &v).raises, 0);
  v.normal_h = 4.0;
  v.last_24h_covered_s = 0.5 * 86400;  // half the day silent: offline's business
  EXPECT_EQ(run(*rule, station("PS"), recs, s, &v).raises, 0);
  v.last_24h_covered_s = 86400;
  v.normal_h = 0.2;  // a station that hardly runs: ratios say nothing
  EXPECT_EQ(run(*rule, station("PS"), recs, s, &v).raises, 0);
  EXPECT_EQ(run(*rule, station("PS"), recs, s, nullptr).raises, 0);
  EXPECT_FALSE(s.pending);
}

TEST(PumpStationRules, RulesApplyToTheirKindOnly) {
  const auto rules = default_rules();
  using proto::alert_type;
  for (const auto type : {alert_type::pump_fault, alert_type::wet_well_high, alert_type::wet_well_low,
                          alert_type::pump_no_level_drop, alert_type::power_lost, alert_type::pump_runtime_abnormal}) {
    ASSERT_NE(rules.find(type), nullptr) << proto::to_string(type);
    EXPECT_TRUE(rules.find(type)->applies_to(site_kind::pump_station));
    EXPECT_FALSE(rules.find(type)->applies_to(site_kind::terminal)) << proto::to_string(type);
  }
  for (const auto type : {alert_type::turbidity_high, alert_type::no_flow, alert_type::flow_high,
                          alert_type::cleanout_required, alert_type::power_without_flow, alert_type::flow_without_power}) {
    EXPECT_TRUE(rules.find(type)->applies_to(site_kind::terminal));
    EXPECT_FALSE(rules.find(type)->applies_to(site_kind::pump_station)) << proto::to_string(type);
  }
  for (const auto type : {alert_type::offline, alert_type::sensor_fault, alert_type::queue_overflow, alert_type::clock_skew}) {
    EXPECT_TRUE(rules.find(type)->applies_to(site_kind::terminal));
    EXPECT_TRUE(rules.find(type)->applies_to(site_kind::pump_station));
  }
  // sensor_fault sees a station's level transmitter (and nothing of the sections it lacks).
  rule_state s;
  auto stale = levels(t0, 20, 1.0);
  EXPECT_EQ(run(*rules.find(alert_type::sensor_fault), station("PS"), stale, s).raises, 0);
  for (auto& r : stale) r.pump_station->status = proto::quantity_status::stale, r.pump_station->wet_well_level_m.reset();
  EXPECT_EQ(run(*rules.find(alert_type::sensor_fault), station("PS"), stale, s).raises, 1);
}

// ---- the run log ---------------------------------------------------------------------------

/// Books `days` operating days (Asia/Shanghai) ending before `day_end` with `h_per_day` pump hours
/// each, as 10-minute records spread evenly.
void book_days(pump_run_log& log, proto::timestamp day_end, const std::vector<double>& h_per_day) {
  auto ts = day_end - hours(24) * static_cast<int>(h_per_day.size());
  for (const double h : h_per_day)
    for (int i = 0; i < 144; ++i) {
      ts += minutes(10);
      log.add(ts.time_since_epoch().count(), h * 3600.0 / 144.0, 600);
    }
}

TEST(PumpRunLog, NormalIsTheMedianOfCompleteDaysAndNeedsThree) {
  const auto z = shanghai();
  const auto midnight = at("2026-11-29T16:00:00Z");  // 2026-11-30 00:00 local
  const auto now = (midnight + hours(12)).time_since_epoch().count();
  pump_run_log two;
  book_days(two, midnight, {4, 5});
  auto v = two.view(now, z, 3);
  EXPECT_EQ(v.history_days, 2u);
  EXPECT_FALSE(v.normal_h.has_value());
  pump_run_log log;
  book_days(log, midnight, {3, 9, 4, 5, 4.5, 20, 4});  // median of 7 = 4.5
  v = log.view(now, z, 3);
  EXPECT_EQ(v.history_days, 7u);
  ASSERT_TRUE(v.normal_h.has_value());
  EXPECT_NEAR(*v.normal_h, 4.5, 1e-9);
  // The last 24 h: the second half of the last day (2 h) and nothing of today yet.
  EXPECT_NEAR(v.last_24h_run_h, 2.0, 1e-9);
  EXPECT_NEAR(v.last_24h_covered_s, 12 * 3600.0, 1e-6);
  // A day with half its records missing is not history.
  pump_run_log gappy;
  book_days(gappy, midnight, {4, 6, 8});
  auto damaged = gappy;
  pump_run_log partial;
  for (const auto& [h, b] : gappy.hours())
    if (h < (midnight - hours(12)).time_since_epoch().count() || h >= midnight.time_since_epoch().count())
      partial.restore(h, b.run_s, b.covered_s);
  EXPECT_EQ(partial.view(now, z, 3).history_days, 2u);
  EXPECT_NEAR(*damaged.view(now, z, 3).normal_h, 6.0, 1e-9);
  // Pruning keeps the previous 7 days and today.
  pump_run_log old;
  book_days(old, midnight, std::vector<double>(12, 1.0));
  old.prune(now, z);
  EXPECT_EQ(old.hours().begin()->first, (midnight - hours(24 * 8)).time_since_epoch().count());
  EXPECT_EQ(old.view(now, z, 3).history_days, 7u);
}

// ---- registry ------------------------------------------------------------------------------

std::string registry_error(const testing::temp_dir& d, const std::string& text) {
  const auto p = d.path() / "registry.toml";
  std::ofstream(p) << text;
  try {
    (void)load_registry(p, thresholds{});
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

constexpr const char* terminal_entry = R"([[terminal]]
id = "HY-WY-001"
name = "Wuyuan 1"
town = "Wuyuan"
village = "Wuyuan"
latitude = 30.52
longitude = 120.94
design_capacity_m3d = 30.0
discharge_grade = "grade_1"
)";

constexpr const char* station_entry = R"([[terminal]]
id = "HY-PS-001"
kind = "pump_station"
name = "Wuyuan pump station 1"
town = "Wuyuan"
latitude = 30.55
longitude = 120.97
report_interval_s = 60
)";

TEST(RegistryKinds, AStationNeedsNoCapacityGradeOrVillageAndTakesItsOwnLevels) {
  testing::temp_dir dir("gw-ps-registry");
  const auto p = dir.path() / "registry.toml";
  std::ofstream(p) << terminal_entry << station_entry
                   << "[terminal.pump_station]\nwet_well_high_m = 3.2\nwet_well_low_m = 0.5\npumps = 2\n"
                      "pump_rated_current_a = 11.5\n[terminal.thresholds]\npower_lost_debounce_s = 300\n";
  thresholds county;
  county.wet_well_high_m = 2.8;
  const auto reg = load_registry(p, county);
  ASSERT_EQ(reg.size(), 2u);
  EXPECT_EQ(reg.terminals()[0].kind, site_kind::terminal);  // the default
  const auto& s = reg.terminals()[1];
  EXPECT_EQ(s.kind, site_kind::pump_station);
  EXPECT_EQ(to_string(s.kind), "pump_station");
  EXPECT_EQ(s.limits.wet_well_high_m, 3.2);
  EXPECT_EQ(s.limits.wet_well_low_m, 0.5);
  EXPECT_EQ(s.limits.power_lost_debounce_s, 300u);
  EXPECT_EQ(s.station.pumps, 2u);
  EXPECT_EQ(s.station.pump_rated_current_a, 11.5);
  EXPECT_EQ(reg.terminals()[0].limits.wet_well_high_m, 2.8);  // county default
  // The example registry's station.
  const auto ex = load_registry(SEWAGE_GATEWAY_EXAMPLE_REGISTRY, thresholds{});
  const auto ex_ps = ex.find("HY-PS-001");
  ASSERT_TRUE(ex_ps.has_value());
  EXPECT_EQ(ex.terminals()[*ex_ps].kind, site_kind::pump_station);
  EXPECT_EQ(ex.terminals()[*ex_ps].limits.wet_well_high_m, 2.8);
  // The county example registry file of the simulator loads (101 stations).
  const auto county_file = std::filesystem::path(SEWAGE_GATEWAY_EXAMPLE_REGISTRY).parent_path().parent_path() /
                           "tools/sim/county/haiyan-pump-stations.toml";
  if (std::filesystem::exists(county_file)) {
    const auto stations = load_registry(county_file, thresholds{});
    EXPECT_EQ(stations.size(), 101u);
    for (const auto& t : stations.terminals()) EXPECT_EQ(t.kind, site_kind::pump_station) << t.id;
  }
}

TEST(RegistryKinds, ErrorsNameTheFileTheEntryAndTheKey) {
  testing::temp_dir dir("gw-ps-registry-bad");
  const auto has = [](const std::string& e, const std::string& what) {
    return e.find(what) != std::string::npos && e.find("registry.toml: ") != std::string::npos;
  };
  std::string s = station_entry;
  // Missing key of a station (report_interval_s is required for a station, optional for a terminal).
  auto e = registry_error(dir, s.substr(0, s.find("report_interval_s")));
  EXPECT_TRUE(has(e, "terminal[0] (HY-PS-001).report_interval_s: is required for a pump station")) << e;
  e = registry_error(dir, "[[terminal]]\nid = \"HY-PS-002\"\nkind = \"pump_station\"\ntown = \"W\"\nlatitude = 30.5\n"
                          "longitude = 120.9\nreport_interval_s = 60\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-PS-002).name: is required")) << e;
  // Unknown kind.
  e = registry_error(dir, std::string(station_entry).replace(s.find("pump_station"), 12, "pumping_station"));
  EXPECT_TRUE(has(e, "terminal[0] (HY-PS-001).kind: must be \"terminal\" or \"pump_station\", got \"pumping_station\"")) << e;
  e = registry_error(dir, std::string(terminal_entry) + "kind = 3\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-WY-001).kind: must be a string")) << e;
  // Bad thresholds: out of range, low band above the high band, a table for the wrong kind, a typo.
  e = registry_error(dir, s + "[terminal.pump_station]\nwet_well_high_m = -1.0\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-PS-001).pump_station.wet_well_high_m: must be in")) << e;
  e = registry_error(dir, s + "[terminal.pump_station]\nwet_well_high_m = 1.0\nwet_well_low_m = 0.9\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-PS-001).pump_station.wet_well_low_m: wet_well_low_m + wet_well_hysteresis_m")) << e;
  e = registry_error(dir, s + "[terminal.pump_station]\npumps = 9\n");
  EXPECT_TRUE(has(e, "pump_station.pumps: must be in [1, 8], got 9")) << e;
  e = registry_error(dir, s + "[terminal.pump_station]\nwet_well_hi_m = 3.0\n");
  EXPECT_TRUE(has(e, "pump_station.wet_well_hi_m: unknown key")) << e;
  e = registry_error(dir, std::string(terminal_entry) + "[terminal.pump_station]\npumps = 2\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-WY-001).pump_station: is only for an entry with kind = \"pump_station\"")) << e;
  e = registry_error(dir, s + "[terminal.thresholds]\npump_runtime_low_ratio = 0.7\n");
  EXPECT_TRUE(has(e, "thresholds.pump_runtime_clear_low_ratio: must not be below pump_runtime_low_ratio")) << e;
  // A terminal still needs its capacity.
  std::string t = terminal_entry;
  e = registry_error(dir, t.substr(0, t.find("design_capacity_m3d")) + "discharge_grade = \"grade_1\"\n");
  EXPECT_TRUE(has(e, "terminal[0] (HY-WY-001).design_capacity_m3d: is required")) << e;
}

TEST(RegistryKinds, CountyDefaultsAreReadFromAlertsAndCheckedTogether) {
  testing::temp_dir dir("gw-ps-config");
  auto e = test::config_error_of(dir.path(), "[alerts]\nwet_well_high_m = 1.0\nwet_well_low_m = 0.95\n");
  EXPECT_NE(e.find("alerts.wet_well_low_m: wet_well_low_m + wet_well_hysteresis_m"), std::string::npos) << e;
  e = test::config_error_of(dir.path(), "[alerts]\npump_runtime_min_days = 0\n");
  EXPECT_NE(e.find("alerts.pump_runtime_min_days: must be in [1, 7], got 0"), std::string::npos) << e;
  e = test::config_error_of(dir.path(), "[alerts]\npump_running_fraction = \"most\"\n");
  EXPECT_NE(e.find("alerts.pump_running_fraction: must be a number"), std::string::npos) << e;
  const auto p = dir.path() / "ok.toml";
  std::ofstream(p) << "[alerts]\nwet_well_high_m = 3.0\npump_runtime_debounce_s = 600\n";
  const auto c = load_config(p);
  EXPECT_EQ(c.defaults.wet_well_high_m, 3.0);
  EXPECT_EQ(c.defaults.pump_runtime_debounce_s, 600u);
  // The example config's keys are the defaults.
  EXPECT_EQ(load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG).defaults, thresholds{});
}

// ---- through the engine and the API --------------------------------------------------------

class PumpStationEngine : public ::testing::Test {
 protected:
  PumpStationEngine() : dir_("gw-ps-engine"), clock_(at("2026-11-20T16:00:00Z")) {
    cfg_.http_public_read = true;
    cfg_.startup_grace = seconds(0);
    cfg_.defaults.turbidity_debounce_s = 0;
    auto t = test::terminal("T1", cfg_.defaults);
    t.town = "Wuyuan";
    auto ps = station("PS1", cfg_.defaults);
    ps.town = "Wuyuan";
    ps.report_interval_s = 600;
    reg_ = registry({t, ps});
    open();
  }
  void open() {
    api_.reset();
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 100);
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  void send(const proto::telemetry_record& r) {
    clock_.set(std::max(clock_.now(), r.ts));
    eng_->handle({proto::telemetry_topic(r.terminal_id), proto::encode(r), false, clock_.now()});
  }
  /// Ten-minute station records from `from` for `n` records, pumps running `run_s` per record.
  void station_run(proto::timestamp from, int n, std::uint32_t run_s) {
    for (int i = 0; i < n; ++i)
      send(ps_record("PS1", ++seq_, from + minutes(10) * (i + 1), 1.0, {{run_s > 0, false, run_s}}, true, 600));
  }
  bool open_alert(const std::string& id, proto::alert_type type) {
    for (const auto& [aid, a] : eng_->open_alerts())
      if (a.terminal_id == id && a.type == type) return true;
    return false;
  }
  json get_json(const std::string& target, unsigned status = 200) {
    const auto r = api_->handle({"GET", target, "", ""});
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return json::parse(r.body);
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::uint64_t seq_{0};
};

TEST_F(PumpStationEngine, RuntimeNormalNeedsThreeDaysSurvivesARestartAndCatchesLowAndHigh) {
  const auto day0 = at("2026-11-20T16:00:00Z");  // 2026-11-21 00:00 local
  // Two days of 4 h a day (100 s of each 600 s record): no normal yet, then a day of nothing:
  // still no alert (fewer than 3 complete days before it).
  station_run(day0, 144 * 2, 100);
  station_run(day0 + hours(48), 144, 0);
  EXPECT_FALSE(open_alert("PS1", proto::alert_type::pump_runtime_abnormal));
  // Two more normal days: 4 complete days before the next one, median 4 h.
  station_run(day0 + hours(72), 144 * 2, 100);
  EXPECT_FALSE(open_alert("PS1", proto::alert_type::pump_runtime_abnormal));
  eng_->flush();
  // A restart keeps the hourly log.
  const auto before = eng_->pump_runtime_log("PS1")->hours();
  open();
  ASSERT_NE(eng_->pump_runtime_log("PS1"), nullptr);
  EXPECT_EQ(eng_->pump_runtime_log("PS1")->hours().size(), before.size());
  // Low: the pumps stop (inflow lost upstream). The last 24 h fall below 0.5 x 4 h = 2 h after
  // ~12 h, then an hour's debounce.
  station_run(day0 + hours(120), 144, 0);
  ASSERT_TRUE(open_alert("PS1", proto::alert_type::pump_runtime_abnormal));
  const auto detail = get_json("/api/terminals/PS1");
  EXPECT_EQ(detail["kind"], "pump_station");
  EXPECT_EQ(detail["pump_runtime"]["normal_h"], 4.0);
  EXPECT_EQ(detail["pump_runtime"]["history_days"], 5);
  for (const auto& a : eng_->open_alerts()) {
    if (a.second.type != proto::alert_type::pump_runtime_abnormal) continue;
    EXPECT_LT(*a.second.value, *a.second.threshold);  // below normal: a flow-loss signal
    EXPECT_EQ(*a.second.threshold, 4.0);
  }
  // Back to normal, then high (20 h a day: 500 s of each 600 s).
  station_run(day0 + hours(144), 144, 100);
  EXPECT_FALSE(open_alert("PS1", proto::alert_type::pump_runtime_abnormal));
  station_run(day0 + hours(168), 144, 500);
  EXPECT_TRUE(open_alert("PS1", proto::alert_type::pump_runtime_abnormal));
}

TEST_F(PumpStationEngine, TerminalRulesNeverJudgeAStationAndStationRulesNeverATerminal) {
  const auto t1 = at("2026-11-21T02:00:00Z");
  // A station record carrying a zero flow, a high turbidity (a misconfigured agent) and a high wet
  // well; a terminal record carrying a pump_station section with a tripped pump.
  for (int i = 0; i < 60; ++i) {
    auto r = ps_record("PS1", ++seq_, t1 + minutes(10) * (i + 1), 2.9, {{false, true, 0}}, false, 600);
    r = test::with_turbidity(test::with_flow(r, 0.0, 10.0), 50);
    send(r);
    auto t = ps_record("T1", static_cast<std::uint64_t>(i + 1), t1 + minutes(10) * (i + 1), 2.9, {{false, true, 0}}, false, 600);
    send(test::with_flow(t, 1.0, 100.0 + 0.1 * i));
  }
  using proto::alert_type;
  for (const auto type : {alert_type::no_flow, alert_type::turbidity_high, alert_type::flow_high, alert_type::sensor_fault})
    EXPECT_FALSE(open_alert("PS1", type)) << proto::to_string(type);
  for (const auto type : {alert_type::pump_fault, alert_type::wet_well_high, alert_type::power_lost}) {
    EXPECT_TRUE(open_alert("PS1", type)) << proto::to_string(type);
    EXPECT_FALSE(open_alert("T1", type)) << proto::to_string(type);
  }
  // Offline judges both kinds.
  clock_.advance(hours(2));
  eng_->tick();
  EXPECT_TRUE(open_alert("PS1", alert_type::offline));
  EXPECT_TRUE(open_alert("T1", alert_type::offline));
}

TEST_F(PumpStationEngine, EffluentFiguresCountTerminalsOnlyAndTheApiCarriesTheKind) {
  const auto t1 = at("2026-11-21T02:00:00Z");
  clock_.set(t1);
  for (int i = 0; i < 6; ++i) {
    // 1 m3 per 10 min at the terminal; the station's (misconfigured) flowmeter says 5 m3.
    send(test::with_flow(test::record("T1", static_cast<std::uint64_t>(i + 1), t1 + minutes(10) * (i + 1)), 6.0, 100.0 + i));
    auto r = ps_record("PS1", ++seq_, t1 + minutes(10) * (i + 1), 1.2, {{true, false, 300}}, true, 600);
    send(test::with_turbidity(test::with_flow(r, 30.0, 1000.0 + 5.0 * i), 40));
  }
  const auto summary = get_json("/api/summary");
  EXPECT_EQ(summary["terminals"], 1);
  EXPECT_EQ(summary["pump_stations"]["count"], 1);
  EXPECT_EQ(summary["pump_stations"]["online"], 1);
  // 5 measured increments of 1 m3 + the first record's window (60 s at 6 m3/h) estimated.
  EXPECT_EQ(summary["volume_today_m3"], 5.1);
  EXPECT_EQ(summary["compliance_rate_today"], nullptr);  // the station's turbidity is not effluent
  const auto daily = get_json("/api/daily?from=2026-11-21&to=2026-11-21");
  EXPECT_EQ(daily["terminals"], 1);
  ASSERT_EQ(daily["days"].size(), 1u);
  EXPECT_EQ(daily["days"][0]["terminals_reporting"], 1);
  EXPECT_EQ(daily["days"][0]["records"], 6);
  EXPECT_EQ(daily["days"][0]["volume_m3"], 5.1);
  // /api/terminals: the kind of each, the filter, a bad kind named.
  const auto all = get_json("/api/terminals?sort=id");
  ASSERT_EQ(all["terminals"].size(), 2u);
  EXPECT_EQ(all["terminals"][0]["id"], "PS1");
  EXPECT_EQ(all["terminals"][0]["kind"], "pump_station");
  EXPECT_EQ(all["terminals"][0]["design_capacity_m3d"], nullptr);
  EXPECT_EQ(all["terminals"][1]["kind"], "terminal");
  const auto& latest = all["terminals"][0]["latest_record"];
  ASSERT_TRUE(latest.contains("pump_station")) << latest.dump();
  EXPECT_EQ(latest["pump_station"]["wet_well_level_m"], 1.2);
  EXPECT_EQ(latest["pump_station"]["pumps"][0]["run_s"], 300);
  const auto stations = get_json("/api/terminals?kind=pump_station");
  ASSERT_EQ(stations["count"], 1);
  EXPECT_EQ(stations["terminals"][0]["id"], "PS1");
  const auto terminals = get_json("/api/terminals?kind=terminal");
  ASSERT_EQ(terminals["count"], 1);
  EXPECT_EQ(terminals["terminals"][0]["id"], "T1");
  const auto bad = get_json("/api/terminals?kind=station", 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("kind: must be terminal or pump_station, got 'station'"),
            std::string::npos);
  const auto one = get_json("/api/terminals/PS1");
  EXPECT_EQ(one["kind"], "pump_station");
  EXPECT_EQ(one["thresholds"]["wet_well_high_m"], 2.5);
  EXPECT_EQ(get_json("/api/terminals/T1")["kind"], "terminal");
  EXPECT_FALSE(get_json("/api/terminals/T1")["thresholds"].contains("wet_well_high_m"));
  const auto metrics = api_->handle({"GET", "/metrics", "", ""}).body;
  EXPECT_NE(metrics.find("sewage_gateway_terminals{state=\"online\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("sewage_gateway_pump_stations{state=\"online\"} 1\n"), std::string::npos) << metrics;
  const auto geo = get_json("/api/terminals.geojson");
  EXPECT_EQ(geo["features"][1]["properties"]["kind"], "pump_station");
}

}  // namespace
}  // namespace sewage::gateway
