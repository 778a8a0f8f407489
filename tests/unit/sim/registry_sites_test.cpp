// The simulator's reading of the registry's site kinds (tools/sim/include/sewage/sim/registry_sites.hpp).
#include "sewage/sim/registry_sites.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::sim {
namespace {

class RegistrySites : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::filesystem::temp_directory_path() /
            ("registry-sites-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".toml");
  }
  void TearDown() override { std::filesystem::remove(file_); }
  std::string error_of(const std::string& text) {
    std::ofstream(file_) << text;
    try {
      (void)read_registry_sites(file_);
    } catch (const std::runtime_error& e) {
      return std::string(e.what()).substr(file_.string().size() + 2);
    }
    return "no error";
  }
  std::filesystem::path file_;
};

TEST_F(RegistrySites, TheCountyRegistryHas38TerminalsAnd101PumpStations) {
  const auto sites =
      read_registry_sites(std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "../county/haiyan-registry.toml");
  std::size_t terminals = 0, stations = 0;
  for (const auto& s : sites) {
    if (s.pump_station) {
      ++stations;
      EXPECT_EQ(s.pumps, 2) << s.id;
      EXPECT_EQ(s.id.rfind("HY-PS-", 0), 0U) << s.id;
    } else {
      ++terminals;
      EXPECT_GT(s.design_capacity_m3d, 0.0) << s.id;
    }
  }
  EXPECT_EQ(terminals, 38U);
  EXPECT_EQ(stations, 101U);
}

TEST_F(RegistrySites, KindDefaultsToTerminalAndStationsReadTheirTable) {
  std::ofstream(file_) << R"(
[[terminal]]
id = "T1"
design_capacity_m3d = 20.0
[[terminal]]
id = "PS1"
kind = "pump_station"
[terminal.pump_station]
pumps = 3
pump_rated_current_a = 7.5
)";
  const auto sites = read_registry_sites(file_);
  ASSERT_EQ(sites.size(), 2U);
  EXPECT_FALSE(sites[0].pump_station);
  EXPECT_DOUBLE_EQ(sites[0].design_capacity_m3d, 20.0);
  EXPECT_TRUE(sites[1].pump_station);
  EXPECT_EQ(sites[1].pumps, 3);
  ASSERT_TRUE(sites[1].pump_rated_current_a.has_value());
  EXPECT_DOUBLE_EQ(*sites[1].pump_rated_current_a, 7.5);
}

TEST_F(RegistrySites, ErrorsNameTheEntryAndTheKey) {
  EXPECT_EQ(error_of("x = 1\n"), "terminal: no [[terminal]] table");
  EXPECT_EQ(error_of("[[terminal]]\nname = \"a\"\n"), "terminal[0].id: is required");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"T1\"\n"), "terminal[0] (T1).design_capacity_m3d: is required (m3/day, > 0)");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"T1\"\nkind = \"plant\"\n"),
            "terminal[0] (T1).kind: must be \"terminal\" or \"pump_station\", got \"plant\"");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"T1\"\nkind = 3\n"),
            "terminal[0] (T1).kind: must be a string (\"terminal\" or \"pump_station\")");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"P\"\nkind = \"pump_station\"\n[terminal.pump_station]\npumps = 9\n"),
            "terminal[0] (P).pump_station.pumps: must be an integer 1..8");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"P\"\nkind = \"pump_station\"\n[terminal.pump_station]\npumps = 1.5\n"),
            "terminal[0] (P).pump_station.pumps: must be an integer 1..8");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"P\"\nkind = \"pump_station\"\n[terminal.pump_station]\n"
                     "pump_rated_current_a = 0\n"),
            "terminal[0] (P).pump_station.pump_rated_current_a: must be a number > 0 and <= 1000");
  EXPECT_EQ(error_of("[[terminal]]\nid = \"P\"\nkind = \"pump_station\"\n[[terminal]]\nid = \"P\"\nkind = \"pump_station\"\n"),
            "terminal[1] (P).id: duplicate");
  EXPECT_EQ(error_of("[[terminal]\n").rfind("line 1: ", 0), 0U);
}

}  // namespace
}  // namespace sewage::sim
