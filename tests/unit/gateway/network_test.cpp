// Pipe network room (network/model.hpp, holder.hpp, check.hpp): one test per class of bad file,
// asserting the feature named and the reason; all problems of a file reported together; geodesic
// lengths against GeographicLib; upstream catchment and downstream path on a hand-made network;
// the check command's exit codes and output; a failed reload keeps the previous model; [network]
// in the gateway config.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/network/check.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/network/model.hpp"

#include <sewage/testing/process.hpp>

#include <GeographicLib/Geodesic.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace sewage::gateway::network {
namespace {

using nlohmann::json;

constexpr double lat0 = 30.5;
constexpr double lon0 = 120.9;

/// Builds a GeoJSON network; segments run straight between their nodes unless given coordinates.
struct net_builder {
  json features = json::array();
  std::map<std::string, std::pair<double, double>> at;  // id -> lon, lat

  net_builder& node(const std::string& id, const std::string& kind, double dlon, double dlat, json extra = json::object()) {
    json p = {{"id", id}, {"kind", kind}};
    p.update(extra);
    at[id] = {lon0 + dlon, lat0 + dlat};
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "Point"}, {"coordinates", {lon0 + dlon, lat0 + dlat}}}},
                        {"properties", p}});
    return *this;
  }
  net_builder& village(const std::string& id, double dlon, double dlat, const std::string& v, std::int64_t households) {
    return node(id, "collection_point", dlon, dlat, {{"village", v}, {"households", households}});
  }
  net_builder& seg(const std::string& id, const std::string& from, const std::string& to,
                   const std::string& flow = "gravity", json coords = nullptr, json extra = json::object()) {
    if (coords.is_null())
      coords = json::array({{at.at(from).first, at.at(from).second}, {at.at(to).first, at.at(to).second}});
    json p = {{"id", id}, {"kind", "segment"}, {"from", from}, {"to", to}, {"diameter_mm", flow == "gravity" ? 300 : 110},
              {"material", "HDPE"}, {"flow", flow}, {"install_year", 2018}};
    p.update(extra);
    features.push_back({{"type", "Feature"}, {"geometry", {{"type", "LineString"}, {"coordinates", coords}}}, {"properties", p}});
    return *this;
  }
  [[nodiscard]] std::string text() const { return json{{"type", "FeatureCollection"}, {"features", features}}.dump(); }
};

/// The small network of the trace tests:
///   CP1 (A, 100) -S1-> W1 -S2-> PS1 =S3(pressure)=> T1 <-S5- CP3 (A, 70)
///   CP2 (B, 50)  -S4-> W1
net_builder small() {
  net_builder b;
  b.node("T1", "terminal", 0, 0)
      .node("PS1", "pump_station", 0.01, 0)
      .node("W1", "inspection_well", 0.015, 0)
      .village("CP1", 0.02, 0, "A", 100)
      .village("CP2", 0.015, 0.005, "B", 50)
      .village("CP3", 0, 0.004, "A", 70);
  b.seg("S1", "CP1", "W1").seg("S2", "W1", "PS1").seg("S3", "PS1", "T1", "pressure").seg("S4", "CP2", "W1").seg("S5", "CP3", "T1");
  return b;
}

std::vector<problem> problems_of(const std::string& text, const load_options& o = {}) {
  try {
    (void)parse_network(text, o);
  } catch (const network_error& e) {
    return e.problems();
  }
  return {};
}

/// The reason given for `feature`, or "" when none names it.
std::string reason_for(const std::vector<problem>& ps, const std::string& feature) {
  for (const auto& p : ps)
    if (p.feature == feature) return p.reason;
  return "";
}

double geodesic(double lat1, double lon1, double lat2, double lon2) {
  double s = 0;
  GeographicLib::Geodesic::WGS84().Inverse(lat1, lon1, lat2, lon2, s);
  return s;
}

TEST(Network, SmallNetworkLoadsWithItsParts) {
  const auto m = parse_network(small().text());
  EXPECT_EQ(m.nodes().size(), 6U);
  EXPECT_EQ(m.segments().size(), 5U);
  EXPECT_EQ(boost::num_vertices(m.graph()), 6U);
  EXPECT_EQ(boost::num_edges(m.graph()), 5U);
  ASSERT_NE(m.find_node("PS1"), nullptr);
  EXPECT_EQ(m.find_node("PS1")->kind, node_kind::pump_station);
  EXPECT_EQ(m.find_node("PS1")->site_id, "PS1");  // defaults to the id
  EXPECT_EQ(m.find_node("CP1")->households, 100);
  ASSERT_NE(m.find_segment("S3"), nullptr);
  EXPECT_EQ(m.find_segment("S3")->flow, flow_kind::pressure);
  EXPECT_EQ(m.find_segment("S3")->install_year, 2018);
  EXPECT_EQ(m.find_node("nope"), nullptr);
  EXPECT_EQ(m.find_segment("W1"), nullptr);  // a node id is not a segment
}

TEST(Network, LengthIsGeodesicOnWgs84) {
  // 0.01 degree of latitude at 30.5 N: about 1109 m; the segment's length is GeographicLib's own value.
  const double expected = geodesic(30.5, 120.9, 30.51, 120.9);
  EXPECT_NEAR(expected, 1109.0, 1.0);
  net_builder b;
  b.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0, 0.01).seg("S1", "W1", "T1");
  const auto m = parse_network(b.text());
  EXPECT_NEAR(m.find_segment("S1")->length_m, expected, 0.01);
  EXPECT_NEAR(m.total_length_m(), expected, 0.01);
  // A bent line is the sum of its legs.
  net_builder c;
  c.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0.01, 0.01);
  c.seg("S1", "W1", "T1", "gravity", json::array({{lon0 + 0.01, lat0 + 0.01}, {lon0 + 0.01, lat0}, {lon0, lat0}}));
  EXPECT_NEAR(parse_network(c.text()).total_length_m(),
              geodesic(lat0 + 0.01, lon0 + 0.01, lat0, lon0 + 0.01) + geodesic(lat0, lon0 + 0.01, lat0, lon0), 0.01);
  EXPECT_EQ(geodesic_length_m({}), 0.0);
}

TEST(Network, DuplicateIdNamesTheFeatureAndTheFirstOne) {
  auto b = small();
  b.node("W1", "inspection_well", 0.016, 0);  // features[11]; W1 is features[2]
  b.seg("S2", "CP3", "T1");                    // a segment id used twice
  const auto ps = problems_of(b.text());
  ASSERT_EQ(ps.size(), 2U) << ps.size();
  EXPECT_EQ(ps[0].feature, "W1");
  EXPECT_EQ(ps[0].reason, "duplicate id (also features[2])");
  EXPECT_EQ(ps[1].feature, "S2");
  EXPECT_EQ(ps[1].reason, "duplicate id (also features[7])");
  // Unique over nodes and segments together.
  auto c = small();
  c.seg("T1", "CP3", "T1");
  EXPECT_EQ(reason_for(problems_of(c.text()), "T1"), "duplicate id (also features[0])");
}

TEST(Network, UnknownFromOrToNode) {
  auto b = small();
  b.seg("S9", "CP3", "T1", "gravity", nullptr, {{"to", "T7"}});
  b.seg("S10", "X1", "T1", "gravity", json::array({{lon0, lat0 + 0.001}, {lon0, lat0}}));
  const auto ps = problems_of(b.text());
  EXPECT_EQ(reason_for(ps, "S9"), "to: unknown node \"T7\"");
  EXPECT_EQ(reason_for(ps, "S10"), "from: unknown node \"X1\"");
}

TEST(Network, SegmentEndNotAtItsNodeGivesTheDistance) {
  auto b = small();
  // S6 from CP3 to T1 whose last position is 0.0001 degree north of T1 (~11.1 m).
  b.seg("S6", "CP3", "T1", "gravity", json::array({{lon0, lat0 + 0.004}, {lon0, lat0 + 0.0001}}));
  const double d = geodesic(lat0 + 0.0001, lon0, lat0, lon0);
  ASSERT_NEAR(d, 11.09, 0.01);
  EXPECT_EQ(reason_for(problems_of(b.text()), "S6"),
            "last coordinate is 11.1 m from its to node \"T1\" (tolerance 5.00 m)");
  // Within the tolerance (4.4 m, 0.00004 degree) it loads; a stricter tolerance refuses it.
  auto c = small();
  c.seg("S6", "CP3", "T1", "gravity", json::array({{lon0, lat0 + 0.004}, {lon0, lat0 + 0.00004}}));
  EXPECT_NO_THROW((void)parse_network(c.text()));
  load_options strict;
  strict.end_tolerance_m = 1.0;
  char metres[32];
  std::snprintf(metres, sizeof metres, "%.2f", geodesic(lat0 + 0.00004, lon0, lat0, lon0));
  EXPECT_EQ(std::string(metres), "4.43");
  EXPECT_EQ(reason_for(problems_of(c.text(), strict), "S6"),
            "last coordinate is 4.43 m from its to node \"T1\" (tolerance 1.00 m)");
  // The first coordinate against the from node.
  auto e = small();
  e.seg("S7", "CP3", "T1", "gravity", json::array({{lon0 + 0.001, lat0 + 0.004}, {lon0, lat0}}));
  EXPECT_EQ(reason_for(problems_of(e.text()), "S7").rfind("first coordinate is 96.", 0), 0U)
      << reason_for(problems_of(e.text()), "S7");
}

TEST(Network, GravityCycleIsRefusedButAPumpedReturnIsNot) {
  net_builder b;
  b.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0.01, 0).node("W2", "inspection_well", 0.02, 0)
      .node("W3", "inspection_well", 0.02, 0.01);
  b.seg("G1", "W1", "W2").seg("G2", "W2", "W3").seg("G3", "W3", "W1").seg("G4", "W1", "T1");
  const auto ps = problems_of(b.text());
  ASSERT_EQ(ps.size(), 1U) << ps.size();
  EXPECT_TRUE(ps[0].feature == "G1" || ps[0].feature == "G2" || ps[0].feature == "G3") << ps[0].feature;
  EXPECT_NE(ps[0].reason.find("gravity flow loops"), std::string::npos) << ps[0].reason;
  // W1 -> W2 by gravity and back by a pressure main is not a gravity loop (both drain to T1).
  net_builder c;
  c.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0.01, 0).node("W2", "inspection_well", 0.02, 0);
  c.seg("G1", "W1", "W2").seg("P1", "W2", "W1", "pressure").seg("G2", "W1", "T1");
  EXPECT_NO_THROW((void)parse_network(c.text()));
}

TEST(Network, NodesThatDrainNowhere) {
  auto b = small();
  b.node("W8", "inspection_well", 0.03, 0);        // isolated
  b.node("W9", "inspection_well", 0.04, 0);
  b.seg("S8", "W1", "W9");                         // W9 only receives: a dead end
  const auto ps = problems_of(b.text());
  const std::string why = "drains nowhere: no path along the flow direction to a terminal";
  EXPECT_EQ(reason_for(ps, "W8"), why);
  EXPECT_EQ(reason_for(ps, "W9"), why);
  EXPECT_EQ(ps.size(), 2U);  // W1 still drains through S2
  // A network without any terminal: every node.
  net_builder c;
  c.node("W1", "inspection_well", 0, 0).node("W2", "inspection_well", 0.01, 0).seg("S1", "W1", "W2");
  EXPECT_EQ(problems_of(c.text()).size(), 2U);
}

TEST(Network, BadPropertyTypesNameTheProperty) {
  auto b = small();
  b.node("CP4", "collection_point", 0.001, 0.004, {{"village", "C"}, {"households", "many"}});
  b.node("CP5", "collection_point", 0.002, 0.004, {{"village", "C"}, {"households", -1}});
  b.node("CP6", "collection_point", 0.003, 0.004, {{"households", 10}});
  b.seg("S10", "CP4", "T1", "gravity", nullptr, {{"diameter_mm", -5}});
  b.seg("S11", "CP5", "T1", "siphon");
  b.seg("S12", "CP6", "T1", "gravity", nullptr, {{"install_year", 2018.5}});
  b.node("X1", "pumping_station", 0.01, 0.01);
  b.seg("S13", "CP4", "T1", "gravity", nullptr, {{"material", 7}});
  const auto ps = problems_of(b.text());
  EXPECT_EQ(reason_for(ps, "CP4"), "households: must be an integer");
  EXPECT_EQ(reason_for(ps, "CP5"), "households: must be in [0, 10000000], got -1");
  EXPECT_EQ(reason_for(ps, "CP6"), "village: missing");
  EXPECT_EQ(reason_for(ps, "S10"), "diameter_mm: must be a number > 0");
  EXPECT_EQ(reason_for(ps, "S11"), "flow: must be \"gravity\" or \"pressure\", got \"siphon\"");
  EXPECT_EQ(reason_for(ps, "S12"), "install_year: must be an integer");
  EXPECT_EQ(reason_for(ps, "S13"), "material: must be a non-empty string");
  EXPECT_NE(reason_for(ps, "X1").find("unknown kind \"pumping_station\""), std::string::npos);
  // A feature without an id is named by its index; geometry of the wrong type.
  net_builder c = small();
  c.features.push_back({{"type", "Feature"}, {"geometry", {{"type", "Point"}, {"coordinates", {1, 2}}}},
                        {"properties", {{"kind", "inspection_well"}}}});
  c.node("W5", "terminal", 0, 0);
  c.features.back()["geometry"] = {{"type", "LineString"}, {"coordinates", {{1, 2}, {3, 4}}}};
  const auto qs = problems_of(c.text());
  EXPECT_EQ(reason_for(qs, "features[11]"), "id: missing");
  EXPECT_EQ(reason_for(qs, "W5"), "geometry: a node (terminal) must be a Point");
  // Ill-typed members where an object or a string was expected.
  net_builder d = small();
  d.node("W6", "inspection_well", 0.001, 0.001);
  d.features.back()["geometry"]["type"] = 5;
  d.node("W7", "inspection_well", 0.001, 0.001);
  d.features.back()["properties"]["id"] = 7;
  d.features.push_back({{"type", "Feature"}, {"geometry", nullptr}, {"properties", "x"}});
  const auto rs = problems_of(d.text());
  EXPECT_EQ(reason_for(rs, "W6"), "geometry: a node (inspection_well) must be a Point");
  EXPECT_EQ(reason_for(rs, "features[12]"), "id: must be a non-empty string");
  EXPECT_EQ(reason_for(rs, "features[13]"), "properties: must be an object");
}

TEST(Network, TerminalMustBeARegistryTerminalWhenARegistryIsGiven) {
  load_options o;
  o.registry_terminals = std::set<std::string, std::less<>>{"HY-WY-001"};
  auto b = small();
  EXPECT_EQ(reason_for(problems_of(b.text(), o), "T1"), "site_id: \"T1\" is not a terminal of the registry");
  net_builder c;
  c.node("T1", "terminal", 0, 0, {{"site_id", "HY-WY-001"}}).node("W1", "inspection_well", 0.01, 0).seg("S1", "W1", "T1");
  EXPECT_NO_THROW((void)parse_network(c.text(), o));
  EXPECT_EQ(reason_for(problems_of(c.text(), o), "T1"), "");
  EXPECT_NO_THROW((void)parse_network(b.text()));  // no registry: not checked
}

TEST(Network, PumpStationMustBeARegistryPumpStationWhenARegistryIsGiven) {
  // Issue 13 item 2: the registry knows site kinds; a node must point at an entry of its own kind.
  std::vector<terminal_info> sites(3);
  sites[0].id = "HY-WY-001";
  sites[1].id = "HY-PS-001";
  sites[1].kind = site_kind::pump_station;
  sites[2].id = "HY-PS-002";
  sites[2].kind = site_kind::pump_station;
  const auto o = options_for(registry(sites));
  net_builder ok;
  ok.node("T1", "terminal", 0, 0, {{"site_id", "HY-WY-001"}})
      .node("PS1", "pump_station", 0.01, 0, {{"site_id", "HY-PS-001"}})
      .node("HY-PS-002", "pump_station", 0.02, 0)  // site_id defaults to the node id
      .seg("S1", "PS1", "T1", "pressure")
      .seg("S2", "HY-PS-002", "PS1", "pressure");
  EXPECT_NO_THROW((void)parse_network(ok.text(), o));
  net_builder bad;
  bad.node("T1", "terminal", 0, 0, {{"site_id", "HY-PS-001"}})             // a station as a terminal
      .node("PS1", "pump_station", 0.01, 0, {{"site_id", "HY-WY-001"}})    // a terminal as a station
      .node("PS2", "pump_station", 0.02, 0, {{"site_id", "HY-PS-404"}})    // unknown
      .seg("S1", "PS1", "T1", "pressure")
      .seg("S2", "PS2", "PS1", "pressure");
  const auto ps = problems_of(bad.text(), o);
  EXPECT_EQ(reason_for(ps, "T1"), "site_id: \"HY-PS-001\" is not a terminal of the registry");
  EXPECT_EQ(reason_for(ps, "PS1"), "site_id: \"HY-WY-001\" is not a pump station of the registry");
  EXPECT_EQ(reason_for(ps, "PS2"), "site_id: \"HY-PS-404\" is not a pump station of the registry");
  EXPECT_EQ(ps.size(), 3U);
}

TEST(Network, CheckCommandRefusesAPumpStationNodePointingAtATerminal) {
  testing::temp_dir dir("gw-net-ps-check");
  const auto reg = dir.path() / "registry.toml";
  std::ofstream(reg) << "[[terminal]]\nid = \"T1\"\nname = \"t\"\ntown = \"W\"\nvillage = \"V\"\nlatitude = 30.5\n"
                        "longitude = 120.9\ndesign_capacity_m3d = 10.0\ndischarge_grade = \"grade_1\"\n"
                        "[[terminal]]\nid = \"PS1\"\nkind = \"pump_station\"\nname = \"p\"\ntown = \"W\"\n"
                        "latitude = 30.5\nlongitude = 120.91\nreport_interval_s = 60\n";
  const auto file = dir.path() / "net.geojson";
  std::ofstream(file) << small().text();
  std::ostringstream out, err;
  EXPECT_EQ(check_command(file, reg, out, err), 0) << err.str();
  net_builder b;
  b.node("T1", "terminal", 0, 0).node("PS1", "pump_station", 0.01, 0, {{"site_id", "T1"}}).seg("S1", "PS1", "T1", "pressure");
  std::ofstream(file) << b.text();
  std::ostringstream out2, err2;
  EXPECT_EQ(check_command(file, reg, out2, err2), 1);
  EXPECT_NE(err2.str().find("PS1: site_id: \"T1\" is not a pump station of the registry"), std::string::npos) << err2.str();
}

TEST(Network, ZeroLengthSegment) {
  net_builder b;
  b.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0, 0).seg("S1", "W1", "T1");
  EXPECT_EQ(reason_for(problems_of(b.text()), "S1"), "zero-length segment (0.00 m)");
  net_builder c;  // from and to the same node
  c.node("T1", "terminal", 0, 0).node("W1", "inspection_well", 0.01, 0).seg("S1", "W1", "T1");
  c.seg("S2", "W1", "W1", "gravity", json::array({{lon0 + 0.01, lat0}, {lon0 + 0.011, lat0}}));
  EXPECT_EQ(reason_for(problems_of(c.text()), "S2"), "to: is the same node as from (\"W1\")");
}

TEST(Network, EveryProblemOfAFileIsReportedAtOnce) {
  auto b = small();
  b.node("W1", "inspection_well", 0.016, 0);                      // duplicate
  b.seg("S9", "CP3", "T7", "gravity", json::array({{lon0, lat0 + 0.004}, {lon0, lat0}}));  // unknown node
  b.node("W8", "inspection_well", 0.03, 0);                        // drains nowhere
  b.node("CP4", "collection_point", 0.001, 0.004, {{"village", "C"}, {"households", "many"}});  // bad type
  b.seg("S10", "CP4", "T1");
  b.node("W9", "inspection_well", 0.05, 0).node("W10", "inspection_well", 0.06, 0);
  b.seg("G1", "W9", "W10").seg("G2", "W10", "W9");                  // gravity loop (and both drain nowhere)
  try {
    (void)parse_network(b.text());
    FAIL() << "loaded";
  } catch (const network_error& e) {
    const auto& ps = e.problems();
    EXPECT_EQ(reason_for(ps, "W1"), "duplicate id (also features[2])");
    EXPECT_EQ(reason_for(ps, "S9"), "to: unknown node \"T7\"");
    EXPECT_EQ(reason_for(ps, "W8").rfind("drains nowhere", 0), 0U);
    EXPECT_EQ(reason_for(ps, "CP4"), "households: must be an integer");
    EXPECT_TRUE(reason_for(ps, "G1").find("gravity flow loops") != std::string::npos ||
                reason_for(ps, "G2").find("gravity flow loops") != std::string::npos);
    EXPECT_EQ(reason_for(ps, "W9").rfind("drains nowhere", 0), 0U);
    EXPECT_EQ(ps.size(), 7U);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("(text): 7 problems\n", 0), 0U) << what;
    EXPECT_NE(what.find("\n  S9: to: unknown node \"T7\""), std::string::npos);
  }
}

TEST(Network, NotGeoJsonAtAll) {
  EXPECT_EQ(reason_for(problems_of("{\"type\": \"FeatureCollection\", \"features\": ["), "(file)").rfind("not valid JSON", 0), 0U);
  EXPECT_EQ(reason_for(problems_of("[]"), "(file)"), "must be a GeoJSON object");
  EXPECT_EQ(reason_for(problems_of(R"({"type":"FeatureCollection"})"), "(file)"), "features: must be an array");
  EXPECT_EQ(reason_for(problems_of(R"({"type":"FeatureCollection","features":[],"sewage_network":{"version":2}})"), "(file)"),
            "sewage_network.version: must be the integer 1");
  try {
    (void)load_network("/nonexistent/net.geojson");
    FAIL();
  } catch (const network_error& e) {
    EXPECT_EQ(reason_for(e.problems(), "(file)"), "cannot be opened for reading");
  }
}

TEST(Network, UpstreamCatchmentCountsVillagesHouseholdsAndLength) {
  const auto m = parse_network(small().text());
  const auto len = [&m](const char* s) { return m.find_segment(s)->length_m; };
  const auto ps = m.upstream("PS1");
  EXPECT_EQ(std::set<std::string>(ps.nodes.begin(), ps.nodes.end()), (std::set<std::string>{"PS1", "W1", "CP1", "CP2"}));
  EXPECT_EQ(std::set<std::string>(ps.segments.begin(), ps.segments.end()), (std::set<std::string>{"S1", "S2", "S4"}));
  EXPECT_EQ(ps.villages, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(ps.households, 150);
  EXPECT_NEAR(ps.length_m, len("S1") + len("S2") + len("S4"), 1e-6);
  // A segment: its from node's catchment plus itself.
  const auto s3 = m.upstream("S3");
  EXPECT_EQ(s3.segments.front(), "S3");
  EXPECT_EQ(s3.households, 150);
  EXPECT_NEAR(s3.length_m, ps.length_m + len("S3"), 1e-6);
  // The terminal: everything.
  const auto t = m.upstream("T1");
  EXPECT_EQ(t.nodes.size(), 6U);
  EXPECT_EQ(t.segments.size(), 5U);
  EXPECT_EQ(t.households, 220);
  EXPECT_NEAR(t.length_m, m.total_length_m(), 1e-6);
  // A village at the top: itself only.
  const auto cp = m.upstream("CP2");
  EXPECT_EQ(cp.nodes, (std::vector<std::string>{"CP2"}));
  EXPECT_EQ(cp.households, 50);
  EXPECT_EQ(cp.length_m, 0.0);
  EXPECT_THROW((void)m.upstream("nope"), std::out_of_range);
}

TEST(Network, DownstreamPathReachesTheTerminal) {
  const auto m = parse_network(small().text());
  const auto p = m.downstream("CP1");
  EXPECT_EQ(p.nodes, (std::vector<std::string>{"CP1", "W1", "PS1", "T1"}));
  EXPECT_EQ(p.segments, (std::vector<std::string>{"S1", "S2", "S3"}));
  EXPECT_EQ(p.terminal, "T1");
  EXPECT_NEAR(p.length_m, m.find_segment("S1")->length_m + m.find_segment("S2")->length_m + m.find_segment("S3")->length_m, 1e-6);
  const auto s = m.downstream("S2");
  EXPECT_EQ(s.nodes, (std::vector<std::string>{"W1", "PS1", "T1"}));
  EXPECT_EQ(s.segments, (std::vector<std::string>{"S2", "S3"}));
  const auto t = m.downstream("T1");
  EXPECT_EQ(t.nodes, (std::vector<std::string>{"T1"}));
  EXPECT_TRUE(t.segments.empty());
  EXPECT_THROW((void)m.downstream("nope"), std::out_of_range);
}

TEST(Network, DownstreamTakesTheNearestTerminalInSegments) {
  // W1 overflows two ways: two segments to T2, one to T1 (farther in metres, nearer in segments).
  net_builder b;
  b.node("T1", "terminal", 0.05, 0).node("T2", "terminal", -0.002, 0).node("W1", "inspection_well", 0, 0)
      .node("W2", "inspection_well", -0.001, 0);
  b.seg("S1", "W1", "W2").seg("S2", "W2", "T2").seg("S3", "W1", "T1");
  const auto m = parse_network(b.text());
  const auto p = m.downstream("W1");
  EXPECT_EQ(p.terminal, "T1");
  EXPECT_EQ(p.segments, (std::vector<std::string>{"S3"}));
  EXPECT_EQ(m.downstream("W2").terminal, "T2");
  // Upstream of T2 does not include T1's side.
  EXPECT_EQ(m.upstream("T2").nodes.size(), 3U);
}

TEST(Network, GeoJsonExportLoadsBackToTheSameModel) {
  const auto m = parse_network(small().text());
  const auto again = parse_network(m.to_geojson());
  EXPECT_EQ(again.nodes().size(), m.nodes().size());
  EXPECT_EQ(again.segments().size(), m.segments().size());
  EXPECT_NEAR(again.total_length_m(), m.total_length_m(), 1e-6);
  const auto j = json::parse(m.to_geojson());
  EXPECT_EQ(j["features"][6]["properties"]["length_m"].get<double>(), m.segments()[0].length_m);
}

std::filesystem::path write(const sewage::testing::temp_dir& d, const std::string& name, const std::string& text) {
  const auto p = d.path() / name;
  std::ofstream(p) << text;
  return p;
}

TEST(NetworkCheck, ExitCodesAndOutput) {
  sewage::testing::temp_dir dir("gw-network");
  const auto good = write(dir, "good.geojson", small().text());
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(check_command(good, {}, out, err), 0);
  EXPECT_EQ(out.str().rfind(good.string() + ": ok\n", 0), 0U) << out.str();
  EXPECT_NE(out.str().find("nodes: 6 (terminal 1, pump_station 1, inspection_well 1, collection_point 3)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("segments: 5 (gravity 4, pressure 1)"), std::string::npos);
  EXPECT_NE(out.str().find("households: 220 in 2 villages"), std::string::npos);
  EXPECT_NE(out.str().find("total length: "), std::string::npos);
  EXPECT_TRUE(err.str().empty());

  auto b = small();
  b.node("W8", "inspection_well", 0.03, 0);
  b.seg("S9", "CP3", "T7", "gravity", json::array({{lon0, lat0 + 0.004}, {lon0, lat0}}));
  const auto bad = write(dir, "bad.geojson", b.text());
  std::ostringstream out2;
  std::ostringstream err2;
  EXPECT_EQ(check_command(bad, {}, out2, err2), 1);
  EXPECT_TRUE(out2.str().empty());
  EXPECT_NE(err2.str().find(bad.string() + ": 2 problems"), std::string::npos) << err2.str();
  EXPECT_NE(err2.str().find("  W8: drains nowhere"), std::string::npos) << err2.str();
  EXPECT_NE(err2.str().find("  S9: to: unknown node \"T7\""), std::string::npos) << err2.str();

  // --registry: T1 is not one of its terminals; an unreadable registry is exit 2.
  const auto reg = write(dir, "reg.toml",
                         "[[terminal]]\nid = \"HY-X-1\"\nname = \"x\"\ntown = \"t\"\nvillage = \"v\"\nlatitude = 30.5\n"
                         "longitude = 120.9\ndesign_capacity_m3d = 10.0\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n");
  std::ostringstream out3;
  std::ostringstream err3;
  EXPECT_EQ(check_command(good, reg, out3, err3), 1) << err3.str();
  EXPECT_NE(err3.str().find("T1: site_id: \"T1\" is not a terminal of the registry"), std::string::npos) << err3.str();
  std::ostringstream out4;
  std::ostringstream err4;
  EXPECT_EQ(check_command(good, dir.path() / "missing.toml", out4, err4), 2);
  EXPECT_NE(err4.str().find("network check: registry: "), std::string::npos);
  std::ostringstream out5;
  std::ostringstream err5;
  EXPECT_EQ(check_command(dir.path() / "missing.geojson", {}, out5, err5), 1);
  EXPECT_NE(err5.str().find("(file): cannot be opened for reading"), std::string::npos) << err5.str();
}

TEST(NetworkHolder, AFailedReloadKeepsThePreviousModel) {
  sewage::testing::temp_dir dir("gw-network");
  const auto file = write(dir, "net.geojson", small().text());
  holder h;
  EXPECT_EQ(h.current(), nullptr);
  const auto first = h.reload(file, {});
  ASSERT_TRUE(first.ok);
  EXPECT_TRUE(first.problems.empty());
  const auto before = h.current();
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->nodes().size(), 6U);
  auto b = small();
  b.node("W8", "inspection_well", 0.03, 0);
  b.node("W1", "inspection_well", 0.016, 0);
  write(dir, "net.geojson", b.text());
  const auto r = h.reload(file, {});
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 2U);
  EXPECT_EQ(reason_for(r.problems, "W8").rfind("drains nowhere", 0), 0U);
  EXPECT_EQ(reason_for(r.problems, "W1"), "duplicate id (also features[2])");
  EXPECT_EQ(h.current(), before);  // the same model, untouched
  EXPECT_EQ(h.failures(), 1U);
  std::filesystem::remove(file);   // a vanished file: kept too
  EXPECT_FALSE(h.reload(file, {}).ok);
  EXPECT_EQ(h.current(), before);
  EXPECT_EQ(h.failures(), 2U);
  // A good file replaces it; the old model stays valid for whoever still holds it.
  auto c = small();
  c.node("W8", "inspection_well", 0.03, 0).seg("S8", "W8", "T1");
  write(dir, "net.geojson", c.text());
  EXPECT_TRUE(h.reload(file, {}).ok);
  EXPECT_EQ(h.current()->nodes().size(), 7U);
  EXPECT_EQ(before->nodes().size(), 6U);
}

TEST(NetworkConfig, FileKeyResolvesAndUnknownKeysAreNamed) {
  sewage::testing::temp_dir dir("gw-network");
  const auto p = write(dir, "g.toml", "[network]\nfile = \"net/county.geojson\"\n");
  EXPECT_EQ(load_config(p).network_file, dir.path() / "net/county.geojson");
  EXPECT_TRUE(load_config(write(dir, "none.toml", "")).network_file.empty());
  try {
    (void)load_config(write(dir, "bad.toml", "[network]\nfiel = \"x\"\n"));
    FAIL();
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("network.fiel"), std::string::npos) << e.what();
  }
  try {
    (void)load_config(write(dir, "bad2.toml", "[network]\nfile = 3\n"));
    FAIL();
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("network.file: must be a string"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sewage::gateway::network
