// The simulated county's history (tools/sim/include/sewage/sim/history.hpp).
#include "sewage/sim/history.hpp"

#include "sewage/sim/sludge_truth.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/timestamp.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace sewage::sim {
namespace {

constexpr const char* registry_text = R"([[terminal]]
id = "HY-A-001"
name = "A"
town = "Wuyuan"
design_capacity_m3d = 30
discharge_grade = "grade_1"
[[terminal]]
id = "HY-PS-900"
kind = "pump_station"
name = "PS"
town = "Wuyuan"
[[terminal]]
id = "HY-B-002"
name = "B"
town = "Wuyuan"
design_capacity_m3d = 50
discharge_grade = "grade_1"
)";

class SimHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::filesystem::temp_directory_path() /
                ("sim-history-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".toml");
    std::ofstream(registry_) << registry_text;
    o_.registry = registry_;
    o_.influent = std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv";
    o_.end = *proto::parse_timestamp("2026-11-28T15:30:00Z");
    o_.days = 1.0;
    o_.interval_s = 900;
  }
  void TearDown() override { std::filesystem::remove(registry_); }
  std::filesystem::path registry_;
  history_options o_;
};

TEST_F(SimHistory, EveryTerminalEveryIntervalValidAndEndingOnTheLiveCountysMeters) {
  std::stringstream out;
  const auto sum = write_history(o_, out);
  EXPECT_EQ(sum.terminals, 2u);  // the pump station has no records
  EXPECT_EQ(sum.records, 2u * 96);
  std::map<std::string, proto::telemetry_record> last;
  std::map<std::string, std::uint64_t> count;
  std::string line;
  proto::timestamp prev{};
  while (std::getline(out, line)) {
    auto d = proto::decode_telemetry(line);
    ASSERT_TRUE(d.ok()) << line;
    const auto& r = *d.value;
    EXPECT_EQ(r.epoch, "history");
    EXPECT_EQ(r.seq, ++count[r.terminal_id]);
    EXPECT_GE(r.ts, prev) << "in time order";
    prev = r.ts;
    ASSERT_TRUE(r.flow && r.flow->rate_m3h && r.flow->total_m3);
    EXPECT_GE(*r.flow->rate_m3h, 0.0);
    if (const auto it = last.find(r.terminal_id); it != last.end()) {
      EXPECT_GE(*r.flow->total_m3, *it->second.flow->total_m3) << "the totalizer never goes back";
    }
    last[r.terminal_id] = r;
  }
  ASSERT_EQ(last.size(), 2u);
  // The last window ends where the live county starts, on its meters' starting readings
  // (village_params: registry order of terminals, 0 and 1).
  EXPECT_EQ(last["HY-A-001"].ts, o_.end);
  EXPECT_NEAR(*last["HY-A-001"].flow->total_m3, village_params(30, 0).totalizer_start_m3, 0.001);
  EXPECT_NEAR(*last["HY-B-002"].flow->total_m3, village_params(50, 1).totalizer_start_m3, 0.001);
  EXPECT_NEAR(*last["HY-B-002"].energy->kwh_total, village_params(50, 1).meter_start_kwh, 0.01);
  EXPECT_NEAR(*last["HY-B-002"].sludge->level_m, village_params(50, 1).sludge_level_start_m, 0.001);
}

TEST_F(SimHistory, ATerminalTheScenarioStartsNearTheCleanOutLevelEndsItsHistoryThere) {
  o_.sludge = {{"HY-B-002", 3.0}};
  o_.weather = {{weather_kind::rain, 24.0}};  // a rain on the scenario's second day
  o_.lead_h = 2.5;
  o_.days = 4.0;
  std::stringstream out;
  (void)write_history(o_, out);
  std::map<std::string, proto::telemetry_record> first, last;
  std::string line;
  while (std::getline(out, line)) {
    auto d = proto::decode_telemetry(line);
    ASSERT_TRUE(d.ok()) << line;
    first.emplace(d.value->terminal_id, *d.value);
    last[d.value->terminal_id] = *d.value;
  }
  // The county starts HY-B-002 (village 1) where it reaches the raise level 3 days after the
  // scenario start, its rain included; the history ends there, 4 days of rise above its start (the records carry
  // the level in mm), and the other one as before.
  const auto b = village_params(50, 1);
  const auto profile = influent_profile::load_bsm1_csv(o_.influent);
  const auto rain = weather_events_days(o_.weather, 2.5);
  const double start_m = sludge_start_level_m(profile, b, 3.0, 2.5, rain);
  EXPECT_LT(start_m, sludge_start_level_m(profile, b, 3.0, 2.5, {})) << "the rain fills it faster: it starts lower";
  ASSERT_TRUE(last["HY-B-002"].sludge && first["HY-B-002"].sludge);
  EXPECT_NEAR(*last["HY-B-002"].sludge->level_m, start_m, 0.001);
  EXPECT_NEAR(*last["HY-B-002"].sludge->level_m - *first["HY-B-002"].sludge->level_m,
              4.0 * b.sludge_m_per_m3 * 50 * b.load_factor, 0.0015);
  EXPECT_FALSE(last["HY-B-002"].sludge->cleanout_required.value_or(false));
  EXPECT_NEAR(*last["HY-A-001"].sludge->level_m, village_params(30, 0).sludge_level_start_m, 0.001);
}

TEST_F(SimHistory, ASludgeStartWithoutRoomForTheHistoryIsRefusedNamingTheEntry) {
  // HY-A-001 (village 0) due so late that it starts ~3 days' rise above the tank floor: 10 days
  // of history before that would need a level below the floor.
  const auto a = village_params(30, 0);
  const double rate_m_per_day = a.sludge_m_per_m3 * 30 * a.load_factor;
  o_.sludge = {{"HY-A-001", cleanout_raise_m / rate_m_per_day - 3.0}};
  o_.days = 10.0;
  std::stringstream out;
  try {
    (void)write_history(o_, out);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("terminal HY-A-001: its [[sludge]] start level leaves no room for", 0), 0u)
        << e.what();
  }
  // Beyond the tank's reach altogether: the entry is named.
  o_.sludge = {{"HY-A-001", cleanout_raise_m / rate_m_per_day + 30.0}};
  try {
    (void)write_history(o_, out);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("sludge: [[sludge]] of HY-A-001: due_in_days: ", 0), 0u) << e.what();
  }
}

TEST_F(SimHistory, OptionsOutOfRangeAreRefusedNamingThem) {
  std::stringstream out;
  auto error_of = [&](history_options o) -> std::string {
    try {
      (void)write_history(o, out);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  auto o = o_;
  o.days = 0;
  EXPECT_EQ(error_of(o).rfind("days:", 0), 0u) << error_of(o);
  o = o_;
  o.days = 0.3;  // not whole 15-min windows? 0.3 d = 7776 s: not a multiple of 900 s
  EXPECT_EQ(error_of(o).rfind("days:", 0), 0u) << error_of(o);
  o = o_;
  o.interval_s = 700;
  EXPECT_EQ(error_of(o).rfind("interval_s:", 0), 0u) << error_of(o);
  o = o_;
  o.tank_lag_h = 30;
  EXPECT_EQ(error_of(o).rfind("tank_lag_h:", 0), 0u) << error_of(o);
}

}  // namespace
}  // namespace sewage::sim
