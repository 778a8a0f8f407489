// The repair control channel of the simulator (tools/sim/include/sewage/sim/repair.hpp): a field
// crew's repair ends the fault in the physics at that moment and the ground truth records it;
// bad repair files are refused with a reason naming the key.
#include "sewage/sim/repair.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace sewage::sim {
namespace {

scenario two_faults() {
  scenario s;
  s.start = std::chrono::sys_days{std::chrono::November / 28 / 2026} + std::chrono::hours(16);
  s.duration_h = 24.0;
  scripted_fault blockage;
  blockage.kind = fault_kind::blockage;
  blockage.terminal = "HY-WY-001";
  blockage.start_h = 1.0;
  blockage.end_h = 10.0;
  scripted_fault turbidity;
  turbidity.kind = fault_kind::turbidity_excursion;
  turbidity.terminal = "HY-WY-002";
  turbidity.start_h = 1.0;
  turbidity.end_h = 10.0;
  turbidity.factor = 6.0;
  s.faults = {blockage, turbidity};
  return s;
}

// Steps a terminal model from `from_h` to `to_h` (scenario hours, 6-minute steps) with the faults
// the county would feed it, and returns it.
void run_model(terminal_model& m, const scenario& s, const std::string& id, double from_h, double to_h) {
  for (double h = from_h; h <= to_h + 1e-9; h += 0.1)
    m.advance_to(h / 24.0, weather_kind::dry, 0.0, faults_in_force(s, id, h));
}

TEST(SimRepair, RepairEndsTheFaultInThePhysicsAtThatMoment) {
  auto s = two_faults();
  const auto profile =
      influent_profile::load_bsm1_csv(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv");
  terminal_model repaired(profile, terminal_params{});
  terminal_model unrepaired(profile, terminal_params{});
  const auto untouched = two_faults();
  run_model(repaired, s, "HY-WY-001", 0.0, 3.0);
  run_model(unrepaired, untouched, "HY-WY-001", 0.0, 3.0);
  ASSERT_TRUE(faults_in_force(s, "HY-WY-001", 3.0).no_flow);
  EXPECT_EQ(repaired.flow_m3h(), 0.0) << "blocked before the repair";

  repair_request r{"HY-WY-001", fault_kind::blockage, 17, "hy-north"};
  const auto ended = apply_repair(s, r, 3.0);
  ASSERT_EQ(ended, std::vector<std::size_t>{0});
  EXPECT_EQ(s.faults[0].end_h, 3.0);
  ASSERT_TRUE(s.faults[0].repaired_h.has_value());
  EXPECT_EQ(*s.faults[0].repaired_h, 3.0);
  EXPECT_FALSE(faults_in_force(s, "HY-WY-001", 3.0).no_flow) << "ends at the repair itself";
  EXPECT_FALSE(faults_in_force(s, "HY-WY-001", 5.0).no_flow);

  run_model(repaired, s, "HY-WY-001", 3.1, 5.0);
  run_model(unrepaired, untouched, "HY-WY-001", 3.1, 5.0);
  EXPECT_GT(repaired.flow_m3h(), 0.1) << "flow returns after the repair";
  EXPECT_EQ(unrepaired.flow_m3h(), 0.0) << "the same terminal without the repair stays blocked";
  EXPECT_GT(repaired.volume_m3(), unrepaired.volume_m3());

  // The other terminal's fault is not touched.
  EXPECT_EQ(s.faults[1].end_h, 10.0);
  EXPECT_FALSE(s.faults[1].repaired_h.has_value());
  EXPECT_DOUBLE_EQ(faults_in_force(s, "HY-WY-002", 5.0).turbidity_factor, 6.0);
}

TEST(SimRepair, GroundTruthRecordsTheRepairTimeAndWho) {
  auto s = two_faults();
  EXPECT_EQ(ground_truth_csv(s),
            "type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share\n"
            "blockage,HY-WY-001,2026-11-28T17:00:00Z,2026-11-29T02:00:00Z,no_flow,,,,,,\n"
            "turbidity_excursion,HY-WY-002,2026-11-28T17:00:00Z,2026-11-29T02:00:00Z,turbidity_high,,,,,,\n");
  (void)apply_repair(s, repair_request{"HY-WY-001", std::nullopt, 17, "hy-north"}, 2.5);
  (void)apply_repair(s, repair_request{"HY-WY-002", fault_kind::turbidity_excursion, std::nullopt, ""}, 4.25);
  EXPECT_EQ(ground_truth_csv(s),
            "type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share\n"
            "blockage,HY-WY-001,2026-11-28T17:00:00Z,2026-11-28T18:30:00Z,no_flow,hy-north/order 17,,,,,\n"
            "turbidity_excursion,HY-WY-002,2026-11-28T17:00:00Z,2026-11-28T20:15:00Z,turbidity_high,crew,,,,,\n");
}

TEST(SimRepair, ARepairChangesNothingWhenNoMatchingFaultIsActive) {
  auto s = two_faults();
  // Before the fault began, after it ended, another type, another terminal: nothing ends.
  EXPECT_TRUE(apply_repair(s, repair_request{"HY-WY-001", std::nullopt, std::nullopt, ""}, 0.5).empty());
  EXPECT_TRUE(apply_repair(s, repair_request{"HY-WY-001", std::nullopt, std::nullopt, ""}, 10.0).empty());
  EXPECT_TRUE(apply_repair(s, repair_request{"HY-WY-001", fault_kind::turbidity_excursion, std::nullopt, ""}, 5.0).empty());
  EXPECT_TRUE(apply_repair(s, repair_request{"HY-WY-009", std::nullopt, std::nullopt, ""}, 5.0).empty());
  EXPECT_EQ(s.faults[0].end_h, 10.0);
  EXPECT_EQ(s.faults[1].end_h, 10.0);
  EXPECT_TRUE(faults_in_force(s, "HY-WY-001", 5.0).no_flow);
  // A second repair of a repaired fault ends nothing more.
  ASSERT_EQ(apply_repair(s, repair_request{"HY-WY-001", std::nullopt, std::nullopt, ""}, 5.0).size(), 1U);
  EXPECT_TRUE(apply_repair(s, repair_request{"HY-WY-001", std::nullopt, std::nullopt, ""}, 6.0).empty());
  EXPECT_EQ(s.faults[0].end_h, 5.0);
}

TEST(SimRepair, AGoodRepairFileIsRead) {
  const auto p = parse_repair("terminal = \"HY-WY-001\"\nfault = \"blockage\"\norder = 17\nby = \"hy-north\"\n",
                              {"HY-WY-001", "HY-WY-002"});
  ASSERT_TRUE(p.request.has_value()) << p.error;
  EXPECT_EQ(p.request->terminal, "HY-WY-001");
  EXPECT_EQ(p.request->kind, fault_kind::blockage);
  EXPECT_EQ(p.request->order, 17);
  EXPECT_EQ(p.request->by, "hy-north");
  const auto minimal = parse_repair("terminal = \"HY-WY-002\"\n");
  ASSERT_TRUE(minimal.request.has_value()) << minimal.error;
  EXPECT_FALSE(minimal.request->kind.has_value());
  EXPECT_FALSE(minimal.request->order.has_value());
}

TEST(SimRepair, BadRepairFilesAreRefusedWithAReasonNamingTheKey) {
  const std::vector<std::string> ids{"HY-WY-001"};
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "terminal: required key is missing"},
      {"terminal = 3\n", "terminal: must be a non-empty string"},
      {"terminal = \"\"\n", "terminal: must be a non-empty string"},
      {"terminal = \"HY-XX-999\"\n", "terminal: 'HY-XX-999' is not a terminal of the registry"},
      {"terminal = \"HY-WY-001\"\nfault = \"gremlins\"\n", "fault: unknown fault type 'gremlins'"},
      {"terminal = \"HY-WY-001\"\nfault = 1\n", "fault: must be a string"},
      {"terminal = \"HY-WY-001\"\norder = \"17\"\n", "order: must be an integer"},
      {"terminal = \"HY-WY-001\"\norder = 1.5\n", "order: must be an integer"},
      {"terminal = \"HY-WY-001\"\nby = \"" + std::string(65, 'x') + "\"\n", "by: must be a string of at most 64 bytes"},
      {"terminal = \"HY-WY-001\"\ncolour = \"red\"\n", "colour: unknown key"},
      {"terminal = \"HY-WY-001\n", "not TOML: "},
      {"\x01\xff\xfe garbage", "not TOML: "},
      {"terminal = \"HY-WY-001\"\n#" + std::string(5000, 'x'), "file is 5024 bytes; at most 4096"},
  };
  for (const auto& [text, want] : cases) {
    const auto p = parse_repair(text, ids);
    EXPECT_FALSE(p.request.has_value()) << text.substr(0, 60);
    EXPECT_EQ(p.error.substr(0, want.size()), want) << "text: " << text.substr(0, 60) << "\nerror: " << p.error;
  }
}

}  // namespace
}  // namespace sewage::sim
