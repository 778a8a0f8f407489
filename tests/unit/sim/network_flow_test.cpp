// Sewage routed over the pipe network in the simulator (tools/sim/include/sewage/sim/network_flow.hpp):
// household shares, pump stations in the path, and the effect of each network fault class at the
// terminal. Also the network fault parsing and truth (scenario.hpp, repair.hpp).
#include "sewage/sim/network_flow.hpp"
#include "sewage/sim/repair.hpp"
#include "sewage/sim/scenario.hpp"

#include "sewage/gateway/network/model.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::sim {
namespace {

namespace net = gateway::network;

// T <- G3 <- W <- G2 <- CP2 (40 households)
// T <- PM1 (pressure) <- PS <- G1 <- CP1 (60 households)
// T <- G5 <- PS2 ... no: PS2 <- G4 <- CP3 (0 households; a station with nothing upstream).
constexpr const char* tiny_network = R"({"type":"FeatureCollection","features":[
{"type":"Feature","geometry":{"type":"Point","coordinates":[120.000,30.000]},"properties":{"id":"T","kind":"terminal","site_id":"HY-T"}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[120.010,30.000]},"properties":{"id":"PS","kind":"pump_station","site_id":"HY-PS"}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[120.020,30.000]},"properties":{"id":"CP1","kind":"collection_point","village":"V1","households":60}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[120.000,30.010]},"properties":{"id":"W","kind":"inspection_well"}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[120.000,30.020]},"properties":{"id":"CP2","kind":"collection_point","village":"V2","households":40}},
{"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.020,30.000],[120.010,30.000]]},"properties":{"id":"G1","kind":"segment","from":"CP1","to":"PS","diameter_mm":200,"material":"PVC-U","flow":"gravity"}},
{"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.010,30.000],[120.000,30.000]]},"properties":{"id":"PM1","kind":"segment","from":"PS","to":"T","diameter_mm":90,"material":"HDPE","flow":"pressure"}},
{"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.000,30.020],[120.000,30.010]]},"properties":{"id":"G2","kind":"segment","from":"CP2","to":"W","diameter_mm":200,"material":"PVC-U","flow":"gravity"}},
{"type":"Feature","geometry":{"type":"LineString","coordinates":[[120.000,30.010],[120.000,30.000]]},"properties":{"id":"G3","kind":"segment","from":"W","to":"T","diameter_mm":300,"material":"PVC-U","flow":"gravity"}}
]})";

class SimNetworkFlow : public ::testing::Test {
 protected:
  SimNetworkFlow() : model_(net::parse_network(tiny_network)), flow_(model_) {
    for (std::size_t i = 0; i < flow_.stations().size(); ++i)
      stations_.emplace_back(size_station(flow_.station_mean_inflow_m3h(i, base_m3h)));
  }
  // Runs `hours` in 10 s steps with the faults of `s` at scenario hour `h` (fixed) and returns
  // the mean share arriving at the terminal over the last `mean_h` hours.
  double run(double hours, const network_faults& nf, double mean_h = 4.0) {
    std::vector<station_faults> f(flow_.stations().size());
    for (std::size_t i = 0; i < f.size(); ++i)
      if (const auto it = nf.stations.find(flow_.stations()[i].node); it != nf.stations.end()) f[i] = it->second;
    const int steps = static_cast<int>(hours * 360);
    const int from = static_cast<int>((hours - mean_h) * 360);
    double sum = 0;
    for (int k = 0; k < steps; ++k) {
      const auto share = flow_.step(10.0, {base_m3h}, nf.segment_loss, stations_, f);
      if (k >= from) sum += share.at(0);
    }
    return sum / (steps - from);
  }
  static network_faults one(fault_kind k, const std::string& where, std::string pump = {}) {
    scenario s;
    s.duration_h = 10;
    scripted_fault f;
    f.kind = k;
    (is_station_fault(k) ? f.node : f.segment) = where;
    f.pump = std::move(pump);
    if (k == fault_kind::wet_well_overflow) f.factor = 1.5;  // the file's default for this type
    f.start_h = 0;
    f.end_h = 10;
    s.faults.push_back(f);
    return network_faults_in_force(s, 1.0);
  }
  static constexpr double base_m3h = 1.0;
  net::network_model model_;
  network_flow flow_;
  std::vector<pump_station_model> stations_;
};

TEST_F(SimNetworkFlow, SharesAreByHouseholds) {
  ASSERT_EQ(flow_.terminals().size(), 1U);
  EXPECT_EQ(flow_.terminals()[0].site_id, "HY-T");
  EXPECT_EQ(flow_.terminals()[0].households, 100);
  ASSERT_EQ(flow_.stations().size(), 1U);
  EXPECT_EQ(flow_.stations()[0].site_id, "HY-PS");
  EXPECT_DOUBLE_EQ(flow_.stations()[0].share, 0.6);
  EXPECT_DOUBLE_EQ(flow_.station_mean_inflow_m3h(0, 2.0), 1.2);
  EXPECT_EQ(flow_.station_index("HY-PS"), 0);
  EXPECT_EQ(flow_.terminal_index("HY-T"), 0);
  EXPECT_EQ(flow_.terminal_index("HY-PS"), -1);

  const auto g3 = share_through(model_, "G3");
  EXPECT_EQ(g3.terminal_site, "HY-T");
  EXPECT_EQ(g3.households, 40);
  EXPECT_DOUBLE_EQ(g3.share, 0.4);
  EXPECT_EQ(g3.affected_sites, std::vector<std::string>{"HY-T"});
  const auto g1 = share_through(model_, "G1");
  EXPECT_DOUBLE_EQ(g1.share, 0.6);
  EXPECT_EQ(g1.affected_sites, (std::vector<std::string>{"HY-PS", "HY-T"}));
  EXPECT_EQ(share_through(model_, "PS").affected_sites, (std::vector<std::string>{"HY-PS", "HY-T"}));
  EXPECT_THROW((void)share_through(model_, "nope"), std::out_of_range);
}

TEST_F(SimNetworkFlow, WithoutFaultsEverythingArrives) {
  EXPECT_NEAR(run(24.0, {}), 1.0, 0.03);
  EXPECT_EQ(stations_[0].spilled_total_m3(), 0.0);
  EXPECT_NEAR(flow_.station_inflow_m3h()[0], 0.6, 1e-9);
}

TEST_F(SimNetworkFlow, ABlockageStopsEverythingUpstreamOfItsSegment) {
  EXPECT_NEAR(run(24.0, one(fault_kind::pipe_blockage, "G3")), 0.6, 0.03) << "CP2's 40 % lost";
}

TEST_F(SimNetworkFlow, ABlockageUpstreamOfAStationEmptiesItsInflow) {
  EXPECT_NEAR(run(24.0, one(fault_kind::pipe_blockage, "G1")), 0.4, 0.01);
  EXPECT_EQ(flow_.station_inflow_m3h()[0], 0.0);
  EXPECT_DOUBLE_EQ(stations_[0].level_m(), 0.8) << "nothing arrives: the well stays below duty_on";
  EXPECT_EQ(stations_[0].pumped_total_m3(), 0.0);
}

TEST_F(SimNetworkFlow, ABlockedPressureMainCutsTheStationsShare) {
  EXPECT_NEAR(run(24.0, one(fault_kind::pipe_blockage, "PM1")), 0.4, 0.01);
}

TEST_F(SimNetworkFlow, ABurstLosesItsFractionOfWhatPassesTheSegment) {
  EXPECT_NEAR(run(24.0, one(fault_kind::pipe_burst, "G3")), 1.0 - 0.4 * 0.6, 0.03);
  auto nf = one(fault_kind::pipe_burst, "G1");
  EXPECT_NEAR(nf.segment_loss.at("G1"), 0.6, 1e-12);
  // The station now fills in 2.5 h: average over many of its cycles.
  EXPECT_NEAR(run(36.0, nf, 30.0), 1.0 - 0.6 * 0.6, 0.02);
}

TEST_F(SimNetworkFlow, AFailedStationPassesNothingAndItsWellOverflows) {
  const auto nf = one(fault_kind::station_pump_failure, "PS");
  ASSERT_TRUE(nf.stations.at("PS").all_tripped);
  EXPECT_NEAR(run(24.0, nf), 0.4, 0.01);
  EXPECT_DOUBLE_EQ(stations_[0].level_m(), stations_[0].params().overflow_m);
  EXPECT_GT(stations_[0].spilled_total_m3(), 4.0);
  EXPECT_TRUE(stations_[0].io().pumps[0].fault);
}

TEST_F(SimNetworkFlow, OnePumpFailedTheStationStillPasses) {
  const auto nf = one(fault_kind::station_pump_failure, "PS", "P2");
  EXPECT_EQ(nf.stations.at("PS").tripped, std::vector<std::string>{"P2"});
  EXPECT_NEAR(run(24.0, nf), 1.0, 0.03);
  EXPECT_EQ(stations_[0].spilled_total_m3(), 0.0);
  EXPECT_TRUE(stations_[0].io().pumps[1].fault);
}

TEST_F(SimNetworkFlow, PowerLossStopsTheStationsShare) {
  const auto nf = one(fault_kind::station_power_loss, "PS");
  EXPECT_NEAR(run(24.0, nf), 0.4, 0.01);
  EXPECT_FALSE(stations_[0].io().mains_power);
  EXPECT_GT(stations_[0].spilled_total_m3(), 4.0);
}

TEST_F(SimNetworkFlow, OverflowSendsThePumpsFullCapacityOnAndSpillsTheRest) {
  const auto nf = one(fault_kind::wet_well_overflow, "PS");
  EXPECT_DOUBLE_EQ(nf.stations.at("PS").overload_factor, 1.5);
  // The station pumps its capacity (2 x 3.5 m3/h) on: the terminal gets more, the rest spills.
  EXPECT_NEAR(run(24.0, nf), 0.4 + 7.0, 0.1);
  EXPECT_DOUBLE_EQ(stations_[0].level_m(), stations_[0].params().overflow_m);
  EXPECT_GT(stations_[0].spilled_total_m3(), 30.0);
}

TEST(SimNetworkFaults, TwoFaultsOnOneSegmentCombineAndEndedFaultsDoNotCount) {
  scenario s;
  s.duration_h = 10;
  scripted_fault a;
  a.kind = fault_kind::pipe_burst;
  a.segment = "G3";
  a.fraction = 0.5;
  a.start_h = 1;
  a.end_h = 5;
  auto b = a;
  b.start_h = 2;
  s.faults = {a, b};
  EXPECT_TRUE(network_faults_in_force(s, 0.5).segment_loss.empty());
  EXPECT_DOUBLE_EQ(network_faults_in_force(s, 1.5).segment_loss.at("G3"), 0.5);
  EXPECT_DOUBLE_EQ(network_faults_in_force(s, 3.0).segment_loss.at("G3"), 0.75);
  EXPECT_TRUE(network_faults_in_force(s, 5.0).segment_loss.empty());
  // A terminal fault has no network effect, and a network fault none on the terminal physics.
  scripted_fault c;
  c.kind = fault_kind::blockage;
  c.terminal = "HY-T";
  c.start_h = 1;
  c.end_h = 5;
  s.faults = {c, a};
  s.faults[1].terminal = "HY-T";
  EXPECT_EQ(network_faults_in_force(s, 3.0).segment_loss.size(), 1U);
  EXPECT_TRUE(faults_in_force(s, "HY-T", 3.0).no_flow);
  s.faults = {a};
  s.faults[0].terminal = "HY-T";
  EXPECT_FALSE(faults_in_force(s, "HY-T", 3.0).no_flow);
}

TEST(SimNetworkFaults, GroundTruthNamesTheNodeOrSegmentAndTheIncidentKind) {
  scenario s;
  s.start = std::chrono::sys_days{std::chrono::November / 28 / 2026} + std::chrono::hours(16);
  s.duration_h = 10;
  scripted_fault a;
  a.kind = fault_kind::station_pump_failure;
  a.node = "PS";
  a.terminal = "HY-PS";
  a.affected_sites = {"HY-PS", "HY-T"};
  a.households_share = 0.6;
  a.start_h = 1;
  a.end_h = 2;
  scripted_fault b;
  b.kind = fault_kind::pipe_blockage;
  b.segment = "G3";
  b.terminal = "HY-T";
  b.affected_sites = {"HY-T"};
  b.households_share = 0.4;
  b.start_h = 1;
  b.end_h = 2;
  s.faults = {a, b};
  EXPECT_EQ(ground_truth_csv(s),
            "type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share\n"
            "station_pump_failure,HY-PS,2026-11-28T17:00:00Z,2026-11-28T18:00:00Z,pump_fault,,PS,,pump_station_fault,"
            "HY-PS HY-T,0.6000\n"
            "pipe_blockage,HY-T,2026-11-28T17:00:00Z,2026-11-28T18:00:00Z,,,,G3,flow_loss,HY-T,0.4000\n");
}

class NetworkScenarioFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("net-scenario-test-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    names_.pump_stations = {"PS"};
    names_.segments = {"G1", "G3", "PM1"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& faults) {
    const auto p = dir_ / "s.toml";
    std::ofstream(p) << "start = 2026-11-29T00:00:00Z\nduration_h = 10\n" << faults;
    return p;
  }
  std::string error_of(const std::string& faults, const network_names* names) {
    try {
      (void)load_scenario(write(faults), {"HY-T"}, names);
    } catch (const std::runtime_error& e) {
      return std::string(e.what()).substr((dir_ / "s.toml").string().size() + 2);
    }
    return "no error";
  }
  std::string error_of(const std::string& faults) { return error_of(faults, &names_); }
  std::filesystem::path dir_;
  network_names names_;
};

TEST_F(NetworkScenarioFile, ParsesEachNetworkFaultWithItsDefaults) {
  const auto s = load_scenario(write(R"(
[[fault]]
type = "station_pump_failure"
node = "PS"
start_h = 1
end_h = 2
[[fault]]
type = "station_pump_failure"
node = "PS"
pump = "P2"
start_h = 1
end_h = 2
[[fault]]
type = "station_power_loss"
node = "PS"
start_h = 1
end_h = 2
[[fault]]
type = "wet_well_overflow"
node = "PS"
start_h = 1
end_h = 2
[[fault]]
type = "pipe_blockage"
segment = "G3"
start_h = 1
end_h = 2
[[fault]]
type = "pipe_burst"
segment = "G1"
start_h = 1
end_h = 2
[[fault]]
type = "pipe_burst"
segment = "PM1"
fraction = 0.25
start_h = 1
end_h = 2
)"),
                               {"HY-T"}, &names_);
  ASSERT_EQ(s.faults.size(), 7U);
  EXPECT_EQ(s.faults[0].kind, fault_kind::station_pump_failure);
  EXPECT_EQ(s.faults[0].node, "PS");
  EXPECT_EQ(s.faults[0].pump, "");
  EXPECT_EQ(s.faults[1].pump, "P2");
  EXPECT_EQ(s.faults[2].kind, fault_kind::station_power_loss);
  EXPECT_EQ(s.faults[3].kind, fault_kind::wet_well_overflow);
  EXPECT_DOUBLE_EQ(s.faults[3].factor, 1.5);
  EXPECT_EQ(s.faults[4].kind, fault_kind::pipe_blockage);
  EXPECT_EQ(s.faults[4].segment, "G3");
  EXPECT_DOUBLE_EQ(s.faults[5].fraction, 0.6);
  EXPECT_DOUBLE_EQ(s.faults[6].fraction, 0.25);
  for (const auto& f : s.faults) {
    EXPECT_TRUE(is_network_fault(f.kind));
    EXPECT_TRUE(f.terminal.empty()) << "filled by the county from the network";
  }
  EXPECT_EQ(expected_incident(fault_kind::station_power_loss), "pump_station_fault");
  EXPECT_EQ(expected_incident(fault_kind::pipe_burst), "flow_loss");
  EXPECT_EQ(expected_incident(fault_kind::blockage), "");
  EXPECT_EQ(expected_alert(fault_kind::station_pump_failure), "pump_fault");
  EXPECT_EQ(expected_alert(fault_kind::station_power_loss), "power_lost");
  EXPECT_EQ(expected_alert(fault_kind::wet_well_overflow), "wet_well_high");
  EXPECT_EQ(expected_alert(fault_kind::pipe_blockage), "");
  EXPECT_EQ(parse_fault_kind("pipe_burst"), fault_kind::pipe_burst);
}

TEST_F(NetworkScenarioFile, ErrorsNameTheFaultAndTheKey) {
  const std::string times = "start_h = 1\nend_h = 2\n";
  EXPECT_EQ(error_of("[[fault]]\ntype = \"station_power_loss\"\n" + times),
            "fault[0].node: required key is missing (a pump station node of the network)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"station_power_loss\"\nnode = \"T\"\n" + times),
            "fault[0].node: \"T\" is not a pump station of the network");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"wet_well_overflow\"\nnode = 7\n" + times),
            "fault[0].node: must be a non-empty string");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_blockage\"\n" + times),
            "fault[0].segment: required key is missing (a segment of the network)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_blockage\"\nsegment = \"G9\"\n" + times),
            "fault[0].segment: \"G9\" is not a segment of the network");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_burst\"\nsegment = \"G1\"\nfraction = 1.5\n" + times),
            "fault[0].fraction: must be > 0 and <= 1");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_burst\"\nsegment = \"G1\"\nfraction = 0\n" + times),
            "fault[0].fraction: must be > 0 and <= 1");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_burst\"\nsegment = \"G1\"\nterminal = \"HY-T\"\n" + times),
            "fault[0].terminal: not used by network faults (they name a node or a segment)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_burst\"\nsegment = \"G1\"\nnode = \"PS\"\n" + times),
            "fault[0].node: not used by pipe faults (they name a segment)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"station_power_loss\"\nnode = \"PS\"\nsegment = \"G1\"\n" + times),
            "fault[0].segment: not used by pump-station faults (they name a node)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"station_power_loss\"\nnode = \"PS\"\npump = \"P1\"\n" + times),
            "fault[0].pump: only station_pump_failure names a pump");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"station_pump_failure\"\nnode = \"PS\"\npump = \"P 1\"\n" + times),
            "fault[0].pump: must match [A-Za-z0-9_-]{1,16}");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"wet_well_overflow\"\nnode = \"PS\"\nfactor = 0.9\n" + times),
            "fault[0].factor: must be > 1 and <= 20 (inflow as a multiple of the pumps' capacity)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"blockage\"\nterminal = \"HY-T\"\nsegment = \"G1\"\n" + times),
            "fault[0].segment: only network faults name a segment");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_blockage\"\nsegment = \"G1\"\n" + times, nullptr),
            "fault[0].type: pipe_blockage needs the pipe network (sewage-sim --network)");
  EXPECT_EQ(error_of("[[fault]]\ntype = \"pipe_leak\"\nsegment = \"G1\"\n" + times),
            "fault[0].type: unknown fault type \"pipe_leak\"");
}

}  // namespace
}  // namespace sewage::sim
