// Incidents and the pipe network through the HTTP API (issue 13 item 3): list, one incident, ack
// (roles, town limits, audit, conflicts), GeoJSON of an incident, the network with live state,
// traces; bad ids and parameters (400 naming the field, 404), no network configured (503);
// metrics. The engine drives the correlator; alerts are raised by records on a manual clock.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "incidents_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace sewage::gateway {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::at;

class IncidentsApi : public ::testing::Test {
 protected:
  IncidentsApi()
      : dir_("incidents-api"),
        clock_(at("2026-12-01T08:00:00Z")),
        db_(dir_.path() / "g.db", 10),
        pipes_(std::make_shared<const network::network_model>(network::parse_network(test::incident_network()))) {
    cfg_.startup_grace = 0s;
    cfg_.defaults.no_flow_debounce_s = 0;
    std::vector<terminal_info> sites;
    for (const auto& [id, town] : {std::pair{"T1", "A"}, {"PS1", "A"}, {"PS2", "A"}, {"T2", "B"}, {"PS3", "B"}}) {
      sites.push_back(test::terminal(id, cfg_.defaults));
      sites.back().town = town;
    }
    ids_ = std::make_unique<auth::service>(dir_.path() / "g.db", auth::settings{}, clock_);
    corr_ = std::make_unique<incidents::correlator>(dir_.path() / "g.db", pipes_, clock_, &next_);
    eng_ = std::make_unique<engine>(cfg_, registry(sites), db_, clock_, pub_, default_rules(), corr_.get());
    corr_->set_site_health([this](const std::string& s, network::node_kind k) { return incidents::engine_health(*eng_, s, k); });
    api_ = std::make_unique<api>(*eng_, link_status{}, ids_.get());
    api_->set_incidents(corr_.get(), &pipes_);
    county_ = "Bearer " + ids_->add_token("county", auth::role::operator_, {});
    viewer_ = "Bearer " + ids_->add_token("viewer", auth::role::viewer, {});
    town_b_ = "Bearer " + ids_->add_token("town-b", auth::role::operator_, {"B"});
    admin_ = "Bearer " + ids_->add_token("admin", auth::role::admin, {});
  }
  void report(const char* id, double rate) {
    auto r = test::with_flow(test::record(id, ++seq_, clock_.now()), rate, std::nullopt);
    eng_->handle({proto::telemetry_topic(id), proto::encode(r), false, clock_.now()});
  }
  /// Every site reports with flow for three minutes; then T1 loses its flow: incident 1
  /// (flow_loss, section s1 s2 s5 s6) with T1's no_flow as its symptom.
  void flow_loss_at_t1() {
    for (int k = 0; k < 3; ++k) {
      for (const char* id : {"T1", "PS1", "PS2", "T2", "PS3"}) report(id, 2.0);
      clock_.advance(60s);
    }
    report("T1", 0.0);
    ASSERT_TRUE(eng_->flush());
    ASSERT_EQ(corr_->active().size(), 1u);
  }
  /// One request by `who` (an Authorization header, "" = anonymous).
  http_response call(std::string method, std::string target, std::string who, std::string body = {}) {
    return api_->handle(http_request{std::move(method), std::move(target), std::move(who), std::move(body)});
  }
  /// GET that must answer 200: its JSON body.
  json get(const std::string& target, const std::string& who) {
    const auto r = call("GET", target, who);
    if (r.status != 200) ADD_FAILURE() << target << ": " << r.status << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static std::string message(const http_response& r) {
    const auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("message", std::string()) : r.body;
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  sqlite_store db_;
  network::holder pipes_;
  config cfg_;
  test::capture next_;
  test::fake_publisher pub_;
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<incidents::correlator> corr_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::string county_, viewer_, town_b_, admin_;
  std::uint64_t seq_{0};
};

TEST_F(IncidentsApi, ListAndOneIncidentInTheContractShape) {
  flow_loss_at_t1();
  const auto list = get("/api/incidents?state=open", viewer_);
  ASSERT_EQ(list["incidents"].size(), 1u);
  const auto& i = list["incidents"][0];
  EXPECT_EQ(i["id"], 1);
  EXPECT_EQ(i["state"], "open");
  EXPECT_EQ(i["kind"], "flow_loss");
  EXPECT_TRUE(i["root_cause"].is_null());
  auto segs = i["suspected_segments"].get<std::vector<std::string>>();
  std::sort(segs.begin(), segs.end());
  EXPECT_EQ(segs, (std::vector<std::string>{"s1", "s2", "s5", "s6"}));
  EXPECT_GT(i["suspected_length_m"].get<double>(), 400.0);
  EXPECT_EQ(i["affected_terminals"], json::array({"T1"}));
  EXPECT_EQ(i["households"], 65);
  ASSERT_EQ(i["alerts"].size(), 1u);
  EXPECT_EQ(i["alerts"][0]["site_id"], "T1");
  EXPECT_EQ(i["alerts"][0]["type"], "no_flow");
  EXPECT_EQ(i["alerts"][0]["role"], "symptom");
  EXPECT_TRUE(i["acked_at"].is_null());
  EXPECT_TRUE(i["resolved_at"].is_null());
  EXPECT_TRUE(i["time_to_resolve_s"].is_null());
  EXPECT_FALSE(i["title"].get<std::string>().empty());
  EXPECT_EQ(get("/api/incidents/1", viewer_), i);
  EXPECT_EQ(get("/api/incidents?state=resolved", viewer_)["incidents"].size(), 0u);
  EXPECT_EQ(get("/api/incidents", viewer_)["incidents"].size(), 1u) << "default: all";
  // Metrics.
  const auto m = call("GET", "/metrics", admin_);
  ASSERT_EQ(m.status, 200u);
  EXPECT_NE(m.body.find("sewage_gateway_incidents_open 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("sewage_gateway_incidents_total 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("sewage_gateway_incident_consequences_total 0\n"), std::string::npos);
}

TEST_F(IncidentsApi, AckNeedsAnOperatorIsAuditedAndConflictsAfterwards) {
  flow_loss_at_t1();
  EXPECT_EQ(call("POST", "/api/incidents/1/ack", "", R"({"note":"x"})").status, 401u);
  EXPECT_EQ(call("POST", "/api/incidents/1/ack", viewer_, R"({"note":"x"})").status, 403u);
  EXPECT_EQ(call("POST", "/api/incidents/1/ack", town_b_, R"({"note":"x"})").status, 403u) << "T1 is in town A";
  const auto r = call("POST", "/api/incidents/1/ack", county_, R"({"note":"crew on the way"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["state"], "acknowledged");
  EXPECT_EQ(j["acked_by"], "county");
  EXPECT_EQ(j["ack_note"], "crew on the way");
  EXPECT_EQ(j["acked_at"], proto::format_timestamp(clock_.now()));
  const auto again = call("POST", "/api/incidents/1/ack", county_, "{}");
  EXPECT_EQ(again.status, 409u);
  EXPECT_NE(message(again).find("already acknowledged by county"), std::string::npos) << again.body;
  // Audited.
  const auto audit = get("/api/audit?action=incident.ack", admin_);
  ASSERT_TRUE(audit.contains("audit")) << audit.dump();
  ASSERT_EQ(audit["audit"].size(), 1u) << audit.dump();
  EXPECT_EQ(audit["audit"][0]["target"], "1");
  // Bad bodies name the field.
  const auto bad = call("POST", "/api/incidents/1/ack", county_, R"({"note":5})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(message(bad), "note: must be a string");
  EXPECT_EQ(call("POST", "/api/incidents/1/ack", county_, "[1]").status, 400u);
}

TEST_F(IncidentsApi, TownLimitedCallersSeeOnlyIncidentsTouchingTheirTowns) {
  flow_loss_at_t1();
  EXPECT_EQ(get("/api/incidents", town_b_)["incidents"].size(), 0u);
  const auto r = call("GET", "/api/incidents/1", town_b_);
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(message(r), "incident 1 is outside your towns");
  // A fault in town B: PS3 falls silent (offline), then T2 loses flow (a consequence).
  for (int k = 0; k < 12; ++k) {
    for (const char* id : {"T1", "PS1", "PS2"}) report(id, 2.0);  // T1 recovers: incident 1 resolves
    report("T2", k < 8 ? 2.0 : 0.0);
    clock_.advance(60s);
    eng_->tick();
  }
  ASSERT_TRUE(eng_->flush());
  const auto b = get("/api/incidents?state=open", town_b_)["incidents"];
  ASSERT_EQ(b.size(), 1u) << b.dump();
  EXPECT_EQ(b[0]["kind"], "pump_station_fault");
  EXPECT_EQ(b[0]["root_cause"]["node"], "PS3");
  EXPECT_EQ(b[0]["root_cause"]["site_id"], "PS3");
  EXPECT_EQ(b[0]["root_cause"]["kind"], "pump_station");
  ASSERT_EQ(b[0]["alerts"].size(), 2u);
  EXPECT_EQ(b[0]["alerts"][1]["site_id"], "T2");
  EXPECT_EQ(b[0]["alerts"][1]["role"], "consequence");
  EXPECT_EQ(call("POST", "/api/incidents/" + std::to_string(b[0]["id"].get<int>()) + "/ack", town_b_, "{}").status, 200u);
  EXPECT_EQ(get("/api/incidents?state=all", county_)["incidents"].size(), 2u);
}

TEST_F(IncidentsApi, BadIdsAndParametersNameTheField) {
  flow_loss_at_t1();
  const std::vector<std::tuple<std::string, unsigned, std::string>> rows{
      {"/api/incidents/abc", 400, "incident id: must be a positive integer, got 'abc'"},
      {"/api/incidents/0", 400, "incident id: must be a positive integer, got '0'"},
      {"/api/incidents/-3", 400, "incident id: must be a positive integer, got '-3'"},
      {"/api/incidents/99999999999999999999", 400, "incident id: must be a positive integer, got '99999999999999999999'"},
      {"/api/incidents/42", 404, "no incident 42"},
      {"/api/incidents/42/geojson", 404, "no incident 42"},
      {"/api/incidents?state=closed", 400, "state: must be one of open, acknowledged, resolved, all; got 'closed'"},
      {"/api/incidents?limit=0", 400, "limit: must be a whole number 1..1000, got '0'"},
      {"/api/incidents?limit=5000", 400, "limit: must be a whole number 1..1000, got '5000'"},
      {"/api/incidents?limit=ten", 400, "limit: must be a whole number 1..1000, got 'ten'"},
      {"/api/network/trace", 400, "id: required (a node or segment id of the network)"},
      {"/api/network/trace?id=", 400, "id: required (a node or segment id of the network)"},
      {"/api/network/trace?id=W99", 404, "id: no node or segment 'W99' in the network"},
  };
  for (const auto& [target, status, text] : rows) {
    const auto r = call("GET", target, viewer_);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(message(r), text) << target;
  }
  EXPECT_EQ(call("POST", "/api/incidents/42/ack", county_, "{}").status, 404u);
  EXPECT_EQ(call("GET", "/api/incidents?colour=red", viewer_).status, 400u) << "an undeclared parameter";
}

TEST_F(IncidentsApi, IncidentGeoJsonHoldsTheSectionAndTheAffectedNodes) {
  flow_loss_at_t1();
  const auto r = call("GET", "/api/incidents/1/geojson", viewer_);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/geo+json");
  const auto g = json::parse(r.body);
  EXPECT_EQ(g["type"], "FeatureCollection");
  std::map<std::string, std::string> role;
  for (const auto& f : g["features"]) role[f["properties"]["id"]] = f["properties"]["role"];
  EXPECT_EQ(role.at("s1"), "suspected");
  EXPECT_EQ(role.at("s6"), "suspected");
  EXPECT_EQ(role.count("s3"), 0u);
  EXPECT_EQ(role.at("T1"), "affected");
  for (const auto& f : g["features"]) {
    if (f["properties"]["role"] == "suspected") {
      EXPECT_EQ(f["geometry"]["type"], "LineString");
    }
  }
}

TEST_F(IncidentsApi, NetworkWithLiveStateAndTraces) {
  flow_loss_at_t1();
  const auto r = call("GET", "/api/network", viewer_);
  ASSERT_EQ(r.status, 200u);
  const auto g = json::parse(r.body);
  std::map<std::string, json> props;
  for (const auto& f : g["features"]) props[f["properties"]["id"]] = f["properties"];
  EXPECT_EQ(props.at("T1")["state"], "alert");
  EXPECT_EQ(props.at("T1")["alerts"], json::array({"no_flow"}));
  EXPECT_EQ(props.at("PS1")["state"], "ok");
  EXPECT_EQ(props.at("PS1")["alerts"], json::array());
  EXPECT_EQ(props.at("s1")["incident"], 1);
  EXPECT_FALSE(props.at("s3").contains("incident"));
  EXPECT_FALSE(props.at("W1").contains("state")) << "wells carry no live state";
  const auto t = get("/api/network/trace?id=s2", viewer_);
  EXPECT_EQ(t["id"], "s2");
  EXPECT_EQ(t["upstream"]["households"], 40);
  EXPECT_EQ(t["upstream"]["villages"], json::array({"Dongcun"}));
  EXPECT_EQ(t["downstream"]["terminal"], "T1");
  EXPECT_EQ(t["downstream"]["segments"], json::array({"s2", "s1"}));
  EXPECT_GT(t["downstream"]["length_m"].get<double>(), 150.0);
  const auto n = get("/api/network/trace?id=PS2", viewer_);
  EXPECT_EQ(n["upstream"]["nodes"], json::array({"PS2", "C2"}));
  EXPECT_EQ(n["downstream"]["nodes"], json::array({"PS2", "W3", "W1", "T1"}));
  EXPECT_EQ(call("GET", "/api/network", "").status, 401u) << "viewer or above";
}

TEST_F(IncidentsApi, WithoutANetworkTheNetworkRoutesAnswer503AndAlertsPassThrough) {
  network::holder none;
  api_->set_incidents(corr_.get(), &none);
  for (const char* target : {"/api/network", "/api/network/trace?id=T1"}) {
    const auto r = call("GET", target, viewer_);
    EXPECT_EQ(r.status, 503u) << target;
    EXPECT_EQ(message(r), "no network configured ([network] file is not set)");
  }
  EXPECT_EQ(get("/api/incidents", viewer_)["incidents"].size(), 0u) << "the list still answers";
  api_->set_incidents(nullptr, nullptr);
  EXPECT_EQ(call("GET", "/api/incidents", viewer_).status, 503u);
}

// The reads from an incident store that cannot be reached (a standby's shared database restarting):
// 503 with Retry-After, the database's name only in the log; an incident not there is still 404.
TEST_F(IncidentsApi, AnUnreachableIncidentStoreAnswers503WithRetryAfter) {
  struct unreachable final : incidents::incident_reader {
    std::optional<incidents::incident> find(std::int64_t) const override {
      throw std::runtime_error("incident store on postgresql db.example/sewage: find: connection lost");
    }
    std::vector<incidents::incident> list(std::optional<incidents::incident_state>, std::size_t) const override {
      throw std::runtime_error("incident store on postgresql db.example/sewage: list: connection lost");
    }
  } down;
  api_->set_incident_reads(&down, &pipes_);
  for (const char* target : {"/api/incidents", "/api/incidents/1", "/api/incidents/1/geojson"}) {
    const auto r = call("GET", target, viewer_);
    EXPECT_EQ(r.status, 503u) << target;
    EXPECT_EQ(message(r), "the incident store could not be read; retry in 5 s") << target;
    EXPECT_EQ(r.body.find("db.example"), std::string::npos) << r.body;
    EXPECT_TRUE(std::any_of(r.headers.begin(), r.headers.end(),
                            [](const auto& h) { return h.first == "Retry-After" && h.second == "5"; }))
        << target;
  }
  EXPECT_EQ(api_->counters().internal_errors, 0u);
  api_->set_incidents(corr_.get(), &pipes_);
  EXPECT_EQ(call("GET", "/api/incidents/99", viewer_).status, 404u);
}

}  // namespace
}  // namespace sewage::gateway
