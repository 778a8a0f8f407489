#include "sewage/sim/scenario.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace sewage::sim {
namespace {

class ScenarioFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("scenario-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& text) {
    const auto p = dir_ / "s.toml";
    std::ofstream(p) << text;
    return p;
  }
  std::string error_of(const std::string& text, const std::vector<std::string>& ids = {}) {
    try {
      (void)load_scenario(write(text), ids);
    } catch (const std::runtime_error& e) {
      return std::string(e.what()).substr((dir_ / "s.toml").string().size() + 2);
    }
    return "no error";
  }
  std::filesystem::path dir_;
};

TEST_F(ScenarioFile, ShippedOneOfEachCoversEveryFaultType) {
  const auto s = load_scenario(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "../scenarios/one-of-each.toml");
  EXPECT_EQ(s.duration_h, 24.0);
  // Local midnight (UTC+8), so the scenario is one whole operating day.
  EXPECT_EQ(s.start, std::chrono::sys_days{std::chrono::November / 28 / 2026} + std::chrono::hours(16));
  std::set<fault_kind> kinds;
  for (const auto& f : s.faults) kinds.insert(f.kind);
  EXPECT_EQ(kinds.size(), 13U);  // every terminal fault_kind, the energy ones included (network.toml: the network ones)
}

TEST_F(ScenarioFile, ShippedStormWeekIsAWeekWithOneStormAndNoFault) {
  const auto s = load_scenario(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "../scenarios/storm-week.toml");
  EXPECT_EQ(s.duration_h, 168.0);
  EXPECT_EQ(s.weather, weather_kind::storm);
  EXPECT_TRUE(s.faults.empty());
  EXPECT_EQ(s.truth.turbidity_raise_ntu, exceedance_limits{}.turbidity_raise_ntu);
}

TEST_F(ScenarioFile, ParsesFaultsWithDefaults) {
  const auto s = load_scenario(write(R"(
start = 2026-11-29T08:00:00+08:00
duration_h = 12
weather = "storm"
weather_start_h = 2
[[fault]]
type = "clock_skew"
terminal = "T1"
start_h = 1
end_h = 2.5
skew_s = -600
[[fault]]
type = "sentinel"
terminal = "T2"
start_h = 0
end_h = 1
)"));
  EXPECT_EQ(s.start, std::chrono::sys_days{std::chrono::November / 29 / 2026});  // 08:00+08 = 00:00Z
  EXPECT_EQ(s.weather, weather_kind::storm);
  ASSERT_EQ(s.faults.size(), 2U);
  EXPECT_EQ(s.faults[0].skew_s, -600.0);
  EXPECT_EQ(s.faults[0].end_h, 2.5);
  EXPECT_EQ(s.faults[1].raw, 0xFFFF);
  EXPECT_EQ(expected_alert(s.faults[1].kind), "sensor_fault");
  EXPECT_EQ(s.terminal_tank_lag_h, 4.0);  // default: the terminals' equalisation tanks
}

TEST_F(ScenarioFile, LinkOutageModeResetByDefaultOrBlackhole) {
  std::string text = "start = 2026-11-29T00:00:00Z\nduration_h = 12\n";
  for (const std::string mode : {"", "mode = \"blackhole\"\n", "mode = \"reset\"\n"})
    text += "[[fault]]\ntype = \"link_outage\"\nterminal = \"T1\"\nstart_h = 1\nend_h = 2\n" + mode;
  const auto s = load_scenario(write(text));
  ASSERT_EQ(s.faults.size(), 3U);
  EXPECT_FALSE(s.faults[0].blackhole);
  EXPECT_TRUE(s.faults[1].blackhole);
  EXPECT_FALSE(s.faults[2].blackhole);
}

TEST_F(ScenarioFile, LinkOutageModeRejectsOtherValuesAndOtherTypes) {
  const auto head = std::string("start = 2026-11-29T00:00:00Z\nduration_h = 12\n[[fault]]\nterminal = \"T1\"\n"
                                "start_h = 1\nend_h = 2\n");
  EXPECT_EQ(error_of(head + "type = \"link_outage\"\nmode = \"drop\"\n"),
            "fault[0].mode: must be \"reset\" or \"blackhole\"");
  EXPECT_EQ(error_of(head + "type = \"sentinel\"\nmode = \"blackhole\"\n"), "fault[0].mode: only link_outage has a mode");
}

TEST_F(ScenarioFile, ParsesSeveralWeatherEvents) {
  const auto s = load_scenario(write(R"(
start = 2026-11-29T00:00:00Z
duration_h = 240
[[weather]]
kind = "rain"
start_h = 30
[[weather]]
kind = "storm"
start_h = 150.5
)"));
  ASSERT_EQ(s.weather_events.size(), 2U);
  EXPECT_EQ(s.weather_events[0].kind, weather_kind::rain);
  EXPECT_EQ(s.weather_events[0].start_h, 30.0);
  EXPECT_EQ(s.weather_events[1].kind, weather_kind::storm);
  EXPECT_EQ(s.weather_events[1].start_h, 150.5);
  EXPECT_EQ(s.weather, weather_kind::rain);  // the single-event fields: the first event
  const auto days = weather_events_days(s.weather_events, 6.0);
  ASSERT_EQ(days.size(), 2U);
  EXPECT_DOUBLE_EQ(days[1].start_days, (6.0 + 150.5) / 24.0);
  // The old single-event keys give one event, dry none.
  const auto old = load_scenario(write("start = 2026-11-29T00:00:00Z\nduration_h = 10\nweather = \"storm\"\nweather_start_h = 2"));
  ASSERT_EQ(old.weather_events.size(), 1U);
  EXPECT_EQ(old.weather_events[0].kind, weather_kind::storm);
  EXPECT_EQ(old.weather_events[0].start_h, 2.0);
  EXPECT_TRUE(load_scenario(write("start = 2026-11-29T00:00:00Z\nduration_h = 10")).weather_events.empty());
}

TEST_F(ScenarioFile, WeatherEventErrorsNameTheKey) {
  const std::string head = "start = 2026-11-29T00:00:00Z\nduration_h = 10\n";
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"hail\"\nstart_h = 1"),
            "weather[0].kind: must be \"rain\" or \"storm\", got \"hail\"");
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"dry\"\nstart_h = 1"),
            "weather[0].kind: must be \"rain\" or \"storm\", got \"dry\"");
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"rain\"\nstart_h = 1\n[[weather]]\nstart_h = 2"),
            "weather[1].kind: required key is missing");
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"rain\""), "weather[0].start_h: required key is missing");
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"rain\"\nstart_h = -1"), "weather[0].start_h: must be >= 0");
  EXPECT_EQ(error_of(head + "[[weather]]\nkind = \"rain\"\nstart_h = 1\nduration_h = 3"),
            "weather[0].duration_h: unknown key");
  EXPECT_EQ(error_of(head + "weather_start_h = 1\n[[weather]]\nkind = \"rain\"\nstart_h = 1"),
            "weather_start_h: not used with [[weather]] (each event has its start_h)");
  EXPECT_EQ(error_of(head + "weather = 3"),
            "weather: must be \"dry\", \"rain\" or \"storm\", or an array of tables ([[weather]])");
}

TEST_F(ScenarioFile, ErrorsNameTheKey) {
  EXPECT_EQ(error_of("duration_h = 1"), "start: required: a UTC date-time such as 2026-11-29T00:00:00Z");
  EXPECT_EQ(error_of("start = 2026-11-29T00:00:00Z"), "duration_h: required key is missing");
  EXPECT_EQ(error_of("start = 2026-11-29T00:00:00Z\nduration_h = 1\nweather = \"snow\""),
            "weather: must be \"dry\", \"rain\" or \"storm\", got \"snow\"");
  const std::string head = "start = 2026-11-29T00:00:00Z\nduration_h = 10\n[[fault]]\n";
  EXPECT_EQ(error_of(head + "type = \"flood\"\nterminal = \"T1\"\nstart_h = 1\nend_h = 2"),
            "fault[0].type: unknown fault type \"flood\"");
  EXPECT_EQ(error_of(head + "type = \"blockage\"\nterminal = \"T1\"\nstart_h = 3\nend_h = 2"),
            "fault[0].end_h: must be after start_h, and start_h >= 0");
  EXPECT_EQ(error_of(head + "type = \"blockage\"\nterminal = \"T1\"\nstart_h = 3\nend_h = 12"),
            "fault[0].end_h: ends after the scenario");
  EXPECT_EQ(error_of(head + "type = \"blockage\"\nterminal = \"T9\"\nstart_h = 1\nend_h = 2", {"T1"}),
            "fault[0].terminal: \"T9\" is not in the registry");
  EXPECT_EQ(error_of(head + "type = \"sentinel\"\nterminal = \"T1\"\nstart_h = 1\nend_h = 2\nraw = 70000"),
            "fault[0].raw: must be an integer 0..65535");
  EXPECT_EQ(error_of(head + "type = \"blockage\"\nterminal = \"T1\"\nstart_h = \"x\"\nend_h = 2"),
            "fault[0].start_h: must be a number");
  EXPECT_EQ(error_of("start = 2026-11-29T00:00:00Z\nduration_h = 1\nterminal_tank_lag_h = 0"),
            "terminal_tank_lag_h: must be in [0.05, 24] h");
  EXPECT_EQ(load_scenario(write("start = 2026-11-29T00:00:00Z\nduration_h = 1\nterminal_tank_lag_h = 0.5")).terminal_tank_lag_h,
            0.5);
  EXPECT_NE(error_of("start = = 1").find("line 1"), std::string::npos);
}

TEST_F(ScenarioFile, SludgeEntriesStartTerminalsNearTheCleanOutLevelAndErrorsNameTheKey) {
  const std::string head = "start = 2026-11-29T00:00:00Z\nduration_h = 10\n";
  const auto s = load_scenario(write(head + "[[sludge]]\nterminal = \"T1\"\ndue_in_days = 20\n"
                                            "[[sludge]]\nterminal = \"T2\"\ndue_in_days = 0.5\n"),
                               {"T1", "T2"});
  ASSERT_EQ(s.sludge.size(), 2u);
  EXPECT_EQ(s.sludge[0].terminal, "T1");
  EXPECT_DOUBLE_EQ(s.sludge[0].due_in_days, 20.0);
  EXPECT_DOUBLE_EQ(s.sludge[1].due_in_days, 0.5);
  // sewage-sim-history reads only these, and the weather (either form) they are due under.
  EXPECT_EQ(load_scenario_sludge(dir_ / "s.toml").size(), 2u);
  const auto events = load_scenario_weather(
      write(head + "[[weather]]\nkind = \"storm\"\nstart_h = 30\n[[weather]]\nkind = \"rain\"\nstart_h = 5\n"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, weather_kind::storm);
  EXPECT_DOUBLE_EQ(events[1].start_h, 5.0);
  const auto single = load_scenario_weather(write(head + "weather = \"rain\"\nweather_start_h = 6\n"));
  ASSERT_EQ(single.size(), 1u);
  EXPECT_DOUBLE_EQ(single[0].start_h, 6.0);
  EXPECT_TRUE(load_scenario_weather(write(head)).empty());
  EXPECT_TRUE(load_scenario(write(head)).sludge.empty());
  EXPECT_EQ(error_of(head + "[[sludge]]\ndue_in_days = 3"), "sludge[0].terminal: required key is missing");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T1\""), "sludge[0].due_in_days: required key is missing");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T1\"\ndue_in_days = 0"),
            "sludge[0].due_in_days: must be in (0, 3650] days");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T1\"\ndue_in_days = 4000"),
            "sludge[0].due_in_days: must be in (0, 3650] days");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T1\"\ndue_in_days = 3\nlevel_m = 1"),
            "sludge[0].level_m: unknown key");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T9\"\ndue_in_days = 3", {"T1"}),
            "sludge[0].terminal: \"T9\" is not in the registry");
  EXPECT_EQ(error_of(head + "[[sludge]]\nterminal = \"T1\"\ndue_in_days = 3\n[[sludge]]\nterminal = \"T1\"\ndue_in_days = 4"),
            "sludge[1].terminal: \"T1\" already has a [[sludge]] entry");
  EXPECT_EQ(error_of(head + "sludge = 3"), "sludge: must be an array of tables ([[sludge]])");
}

TEST_F(ScenarioFile, TruthLimitsDefaultToTheGatewaysAndMayBeSet) {
  const std::string head = "start = 2026-11-29T00:00:00Z\nduration_h = 1\n";
  const auto d = load_scenario(write(head)).truth;
  EXPECT_EQ(d.turbidity_raise_ntu, 10.0);
  EXPECT_EQ(d.flow_high_debounce_s, 3600.0);
  const auto s = load_scenario(write(head + "[truth]\nturbidity_raise_ntu = 15\nturbidity_clear_ntu = 12\n"
                                            "flow_high_raise_factor = 3\nflow_high_debounce_s = 1800\n"
                                            "required_report_intervals = 3\n")).truth;
  EXPECT_EQ(s.turbidity_raise_ntu, 15.0);
  EXPECT_EQ(s.turbidity_clear_ntu, 12.0);
  EXPECT_EQ(s.turbidity_debounce_s, 900.0);
  EXPECT_EQ(s.flow_high_raise_factor, 3.0);
  EXPECT_EQ(s.flow_high_clear_factor, 2.0);
  EXPECT_EQ(s.flow_high_debounce_s, 1800.0);
  EXPECT_EQ(s.required_report_intervals, 3.0);
  EXPECT_EQ(error_of(head + "[truth]\nturbidity_clear_ntu = 12\n"), "truth.turbidity_clear_ntu: must be in (0, 10]");
  EXPECT_EQ(error_of(head + "[truth]\nflow_margin = -0.1\n"), "truth.flow_margin: must be in [0, 1]");
  EXPECT_EQ(error_of(head + "[truth]\nturbidity_limit = 3\n"), "truth.turbidity_limit: unknown key");
  EXPECT_EQ(error_of(head + "truth = 3\n"), "truth: must be a table ([truth])");
}

}  // namespace
}  // namespace sewage::sim

namespace sewage::sim {
namespace {

TEST(TrueDayStatus, OnlyDaysThatHaveEndedAndSettledAreComplete) {
  using namespace std::chrono;
  const system_clock::time_point begin = sys_days{year{2026} / 11 / 29} - hours(8);  // local midnight, UTC+8
  const auto end = begin + hours(72);
  const auto settle = minutes(5);
  const auto day1 = begin;
  const auto day2 = begin + hours(24);
  // Mid-run, 30 h in: day 1 ended 6 h ago, day 2 is running.
  EXPECT_EQ(true_day_status(day1, begin, end, begin + hours(30), settle, false), truth_day_status::complete);
  EXPECT_EQ(true_day_status(day2, begin, end, begin + hours(30), settle, false), truth_day_status::in_progress);
  // Just after midnight the day is not judged until its last records have had time to arrive.
  EXPECT_EQ(true_day_status(day1, begin, end, day2 + minutes(4), settle, false), truth_day_status::in_progress);
  EXPECT_EQ(true_day_status(day1, begin, end, day2 + minutes(5), settle, false), truth_day_status::complete);
  // The warm-up day before the start and a day reaching past the end are never complete.
  EXPECT_EQ(true_day_status(begin - hours(24), begin, end, end, settle, true), truth_day_status::outside);
  EXPECT_EQ(true_day_status(begin + hours(60), begin, end, end, settle, true), truth_day_status::outside);
  // At the end every day inside is complete, even the last one within its settle time.
  EXPECT_EQ(true_day_status(begin + hours(48), begin, end, end, settle, true), truth_day_status::complete);
  EXPECT_EQ(true_day_status(begin + hours(48), begin, end, end, settle, false), truth_day_status::in_progress);
  EXPECT_EQ(to_string(truth_day_status::in_progress), "in_progress");
}

}  // namespace
}  // namespace sewage::sim
