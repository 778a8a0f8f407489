// Incidents room (incidents/correlator.hpp, locate.hpp, issue 13 item 3): correlation rules on a
// small hand-made network — a pump-station fault explains the downstream terminal's no_flow (one
// incident, one notification), a flow loss with no cause is located to the suspected section
// (exact segments and length, walk-up past a station that shows loss), a cause arriving later
// re-roots the incident, independent faults stay apart, resolution with time to resolve, restart
// and reconciliation, no network = pass-through; the engine driving the correlator on a manual
// clock with its own presence as site health.
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/incidents/locate.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/network/model.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "incidents_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>

namespace sewage::gateway::incidents {
namespace {

using namespace std::chrono_literals;
using test::at;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class Incidents : public ::testing::Test {
 protected:
  Incidents()
      : dir_("incidents"),
        db_(dir_.path() / "g.db", 100),
        clock_(at("2026-12-01T08:00:00Z")),
        model_(std::make_shared<const network::network_model>(network::parse_network(test::incident_network()))),
        pipes_(model_) {
    start();
  }
  /// (Re)starts the correlator on the same database: a gateway restart.
  void start() {
    corr_.reset();
    corr_ = std::make_unique<correlator>(dir_.path() / "g.db", pipes_, clock_, &next_);
    corr_->set_site_health([this](const std::string& site, network::node_kind) {
      const auto it = health_.find(site);
      return it == health_.end() ? site_health::ok : it->second;
    });
  }
  proto::alert_message raise(const std::string& site, proto::alert_type type, std::optional<double> value = std::nullopt,
                             std::optional<double> threshold = std::nullopt) {
    proto::alert_message a;
    a.terminal_id = site;
    a.type = type;
    a.alert_id = ++alert_id_;
    a.raised_at = clock_.now();
    a.value = value;
    a.threshold = threshold;
    a.message = std::string(proto::to_string(type)) + " at " + site;
    std::vector<notification_row> rows;
    corr_->on_transition(a, nullptr, rows);
    return a;
  }
  void clear(proto::alert_message a) {
    a.state = proto::alert_state::cleared;
    a.cleared_at = clock_.now();
    std::vector<notification_row> rows;
    corr_->on_transition(a, nullptr, rows);
  }
  incident only_active() {
    const auto v = corr_->active();
    EXPECT_EQ(v.size(), 1u);
    return v.empty() ? incident{} : v.front();
  }
  double length_of(const std::vector<std::string>& segs) const {
    double sum = 0;
    for (const auto& s : segs) sum += model_->find_segment(s)->length_m;
    return sum;
  }

  testing::temp_dir dir_;
  sqlite_store db_;
  manual_clock clock_;
  std::shared_ptr<const network::network_model> model_;
  network::holder pipes_;
  test::capture next_;
  std::map<std::string, site_health> health_;
  std::unique_ptr<correlator> corr_;
  std::uint64_t alert_id_{100};
};

TEST_F(Incidents, PumpStationFaultExplainsTheDownstreamTerminalsNoFlow) {
  const auto cause = raise("PS1", proto::alert_type::offline);
  clock_.advance(2h);
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto i = only_active();
  EXPECT_EQ(i.kind, incident_kind::pump_station_fault);
  ASSERT_TRUE(i.root.has_value());
  EXPECT_EQ(i.root->node, "PS1");
  EXPECT_EQ(i.root->site_id, "PS1");
  EXPECT_EQ(i.root->kind, "pump_station");
  EXPECT_EQ(i.affected_nodes, (std::vector<std::string>{"PS1", "W1", "T1"}));
  EXPECT_EQ(i.affected_terminals, (std::vector<std::string>{"T1"}));
  EXPECT_EQ(i.villages, (std::vector<std::string>{"Dongcun"}));
  EXPECT_EQ(i.households, 40);
  ASSERT_EQ(i.alerts.size(), 2u);
  EXPECT_EQ(i.alerts[0].alert_id, cause.alert_id);
  EXPECT_EQ(i.alerts[0].role, alert_role::cause);
  EXPECT_EQ(i.alerts[1].alert_id, loss.alert_id);
  EXPECT_EQ(i.alerts[1].role, alert_role::consequence);
  // One notification: the station's alert, prefixed, with the affected terminals and households.
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_EQ(next_.seen[0].alert_id, cause.alert_id);
  EXPECT_EQ(next_.seen[0].message.rfind("Incident #" + std::to_string(i.id) + ": offline at PS1", 0), 0u) << next_.seen[0].message;
  EXPECT_NE(next_.seen[0].message.find("Affected terminals: T1; households: 40."), std::string::npos) << next_.seen[0].message;
  // The consequence's clear is not forwarded either; the cause's is.
  clear(loss);
  EXPECT_EQ(next_.seen.size(), 1u);
  EXPECT_EQ(corr_->counters().consequences, 1u);
  EXPECT_EQ(corr_->counters().opened, 1u);
  EXPECT_EQ(corr_->counters().open, 1u);
}

TEST_F(Incidents, FlowLossWithNoCauseIsLocatedBetweenTheLastFlowingNodeAndTheLostOne) {
  // Both stations upstream of T1 report and are healthy: the loss is in the pipes between them and T1.
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto i = only_active();
  EXPECT_EQ(i.kind, incident_kind::flow_loss);
  EXPECT_FALSE(i.root.has_value());
  const std::vector<std::string> section{"s1", "s2", "s5", "s6"};
  EXPECT_EQ(sorted(i.suspected_segments), section);
  EXPECT_DOUBLE_EQ(i.suspected_length_m, length_of(section));
  // Geodesic lengths of the straight segments (GeographicLib via the model): about 96+96+111+111 m.
  EXPECT_NEAR(i.suspected_length_m, 414.0, 3.0);
  EXPECT_EQ(i.origin, "T1");
  EXPECT_EQ(i.loci, (std::vector<std::string>{"T1"}));
  EXPECT_EQ(i.affected_terminals, (std::vector<std::string>{"T1"}));
  // Everything that drains into the section: both villages.
  EXPECT_EQ(i.villages, (std::vector<std::string>{"Beicun", "Dongcun"}));
  EXPECT_EQ(i.households, 65);
  ASSERT_EQ(i.alerts.size(), 1u);
  EXPECT_EQ(i.alerts[0].role, alert_role::symptom);
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_NE(next_.seen[0].message.find("Suspected section: 4 segment(s), 414 m."), std::string::npos) << next_.seen[0].message;
  EXPECT_EQ(next_.seen[0].alert_id, loss.alert_id);
}

TEST_F(Incidents, ASilentStationIsSearchedPastAndAStationInLossIsWalkedUpTo) {
  // PS2 offline (no judgement): the section goes past it up to the collection point.
  health_["PS2"] = site_health::offline;
  raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  EXPECT_EQ(sorted(only_active().suspected_segments), (std::vector<std::string>{"s1", "s2", "s5", "s6", "s7"}));
  // PS1 shows loss itself (say its wet well runs low): the loss is located above it, and the
  // terminal's own section is dropped.
  const auto s = locate_section(*model_, *site_index(*model_).find("T1"), [](const std::string& site, network::node_kind) {
    return site == "PS1" ? site_health::loss : site_health::ok;
  });
  std::vector<std::string> ids;
  for (const auto v : s.segments) ids.push_back(model_->segments()[v].id);
  EXPECT_EQ(sorted(ids), (std::vector<std::string>{"s3", "s4"}));
  ASSERT_EQ(s.loci.size(), 1u);
  EXPECT_EQ(model_->nodes()[s.loci[0]].id, "PS1");
  EXPECT_DOUBLE_EQ(s.length_m, length_of({"s3", "s4"}));
  // Both stations in loss: two loci, both sections.
  const auto both = locate_section(*model_, *site_index(*model_).find("T1"), [](const std::string& site, network::node_kind) {
    return site == "PS1" || site == "PS2" ? site_health::loss : site_health::ok;
  });
  ids.clear();
  for (const auto v : both.segments) ids.push_back(model_->segments()[v].id);
  EXPECT_EQ(sorted(ids), (std::vector<std::string>{"s3", "s4", "s7"}));
  EXPECT_EQ(both.loci.size(), 2u);
  // A terminal whose nearest upstream station is healthy right above it: one segment.
  const auto t2 = locate_section(*model_, *site_index(*model_).find("T2"), [](const std::string&, network::node_kind) {
    return site_health::ok;
  });
  ASSERT_EQ(t2.segments.size(), 1u);
  EXPECT_EQ(model_->segments()[t2.segments[0]].id, "s8");
}

TEST_F(Incidents, ACauseRaisedLongAfterAFlowLossBeganIsAnIncidentOfItsOwn) {
  health_["PS1"] = site_health::unknown;
  (void)raise("T1", proto::alert_type::low_flow, 0.1, 0.5);
  const auto loss = only_active();
  ASSERT_EQ(loss.kind, incident_kind::flow_loss);
  // PS1 (upstream of T1's section) falls silent two hours later: it did not cause a loss that
  // was already there (late_cause_window, 60 min).
  clock_.advance(61min);
  (void)raise("PS1", proto::alert_type::offline);
  auto v = corr_->active();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].id, loss.id);
  EXPECT_EQ(v[0].kind, incident_kind::flow_loss) << "still located to its section";
  EXPECT_EQ(v[0].suspected_segments, loss.suspected_segments);
  EXPECT_FALSE(v[0].root.has_value());
  ASSERT_TRUE(v[1].root.has_value());
  EXPECT_EQ(v[1].root->node, "PS1");
  EXPECT_EQ(next_.raises(), 2u) << "two incidents, two notifications";
}

TEST_F(Incidents, ACauseArrivingAfterAFlowLossReRootsIt) {
  health_["PS1"] = site_health::unknown;
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto before = only_active();
  EXPECT_EQ(before.kind, incident_kind::flow_loss);
  clock_.advance(10min);
  const auto cause = raise("PS1", proto::alert_type::offline);
  const auto i = only_active();
  EXPECT_EQ(i.id, before.id) << "the same incident, re-rooted";
  EXPECT_EQ(i.kind, incident_kind::pump_station_fault);
  ASSERT_TRUE(i.root.has_value());
  EXPECT_EQ(i.root->node, "PS1");
  EXPECT_TRUE(i.suspected_segments.empty());
  EXPECT_EQ(i.affected_nodes, (std::vector<std::string>{"PS1", "W1", "T1"}));
  ASSERT_EQ(i.alerts.size(), 2u);
  EXPECT_EQ(i.alerts[0].role, alert_role::consequence);
  EXPECT_EQ(i.alerts[1].role, alert_role::cause);
  EXPECT_EQ(i.alerts[1].alert_id, cause.alert_id);
  EXPECT_EQ(next_.raises(), 1u) << "no new notification";
  // The terminal's alert was notified as the incident's first: its clear goes on; the cause's does not.
  clear(cause);
  EXPECT_EQ(next_.seen.size(), 1u);
  clear(loss);
  ASSERT_EQ(next_.seen.size(), 2u);
  EXPECT_EQ(next_.seen[1].state, proto::alert_state::cleared);
  EXPECT_EQ(next_.seen[1].alert_id, loss.alert_id);
}

TEST_F(Incidents, TwoIndependentFaultsAreTwoIncidentsEachWithItsConsequences) {
  const auto a = raise("PS1", proto::alert_type::offline);
  const auto b = raise("PS3", proto::alert_type::offline);
  const auto lost2 = raise("T2", proto::alert_type::no_flow, 0.0, 0.01);
  const auto v = corr_->active();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].root->node, "PS1");
  EXPECT_EQ(v[1].root->node, "PS3");
  EXPECT_EQ(v[1].affected_terminals, (std::vector<std::string>{"T2"}));
  ASSERT_EQ(v[1].alerts.size(), 2u);
  EXPECT_EQ(v[1].alerts[1].alert_id, lost2.alert_id);
  EXPECT_EQ(v[0].alerts.size(), 1u);
  EXPECT_EQ(next_.raises(), 2u);
  EXPECT_NE(v[0].id, v[1].id);
  EXPECT_EQ(corr_->incident_of(a.alert_id), v[0].id);
  EXPECT_EQ(corr_->incident_of(b.alert_id), v[1].id);
  EXPECT_EQ(corr_->incident_of(lost2.alert_id), v[1].id);
}

TEST_F(Incidents, ResolvedWhenEveryAlertClearedWithTimeToResolve) {
  const auto cause = raise("PS1", proto::alert_type::offline);
  clock_.advance(30min);
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto id = only_active().id;
  clock_.advance(45min);
  clear(cause);
  EXPECT_EQ(corr_->find(id)->state, incident_state::open) << "the terminal still has no flow";
  clock_.advance(15min);
  clear(loss);
  const auto i = corr_->find(id);
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(i->state, incident_state::resolved);
  EXPECT_EQ(i->resolved_at, at("2026-12-01T09:30:00Z"));
  EXPECT_EQ(i->time_to_resolve_s(), 5400.0);
  EXPECT_TRUE(corr_->active().empty());
  EXPECT_EQ(corr_->counters().open, 0u);
  // A new fault at the same station is a new incident (and a new notification).
  raise("PS1", proto::alert_type::offline);
  EXPECT_NE(only_active().id, id);
  EXPECT_EQ(next_.raises(), 2u);
  EXPECT_EQ(corr_->list(incident_state::resolved, 10).size(), 1u);
  EXPECT_EQ(corr_->list(std::nullopt, 10).size(), 2u);
}

TEST_F(Incidents, OpenIncidentsSurviveARestartAndReconcileResolvesWhatClearedMeanwhile) {
  const auto cause = raise("PS1", proto::alert_type::offline);
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto other = raise("PS3", proto::alert_type::offline);
  const auto first = corr_->incident_of(cause.alert_id);
  start();  // restart
  ASSERT_EQ(corr_->active().size(), 2u);
  EXPECT_EQ(corr_->incident_of(loss.alert_id), first);
  // Consequences are still recognised after the restart (no notification for them).
  next_.seen.clear();
  clear(loss);
  EXPECT_TRUE(next_.seen.empty());
  // Only PS1's alert is still open in the engine; PS3's cleared while the gateway was down.
  clock_.advance(1h);
  start();
  std::unordered_map<std::uint64_t, proto::alert_message> open{{cause.alert_id, cause}};
  EXPECT_EQ(corr_->reconcile(open), 1u);
  const auto gone = corr_->find(*corr_->incident_of(other.alert_id));
  EXPECT_EQ(gone->state, incident_state::resolved);
  EXPECT_EQ(gone->resolved_at, clock_.now());
  EXPECT_EQ(corr_->active().size(), 1u);
  // The next incident id continues after the stored ones.
  clear(cause);
  raise("PS3", proto::alert_type::offline);
  EXPECT_EQ(only_active().id, 3);
}

TEST_F(Incidents, AcknowledgeOnceThenConflictsAndResolvedIsFinal) {
  raise("PS1", proto::alert_type::offline);
  const auto id = only_active().id;
  incident out;
  EXPECT_EQ(corr_->acknowledge(id, "wang", "crew sent", &out), correlator::ack_result::acknowledged);
  EXPECT_EQ(out.state, incident_state::acknowledged);
  EXPECT_EQ(out.acked_by, "wang");
  EXPECT_EQ(out.acked_at, clock_.now());
  EXPECT_EQ(corr_->acknowledge(id, "li", "", &out), correlator::ack_result::already_acknowledged);
  EXPECT_EQ(corr_->acknowledge(999, "li", "", &out), correlator::ack_result::not_found);
  start();
  EXPECT_EQ(corr_->find(id)->state, incident_state::acknowledged) << "stored";
}

TEST_F(Incidents, AnAcknowledgementIsOneTransactionAndAFailedOneChangesNothing) {
  raise("PS1", proto::alert_type::offline);
  const auto id = only_active().id;
  ASSERT_FALSE(only_active().alerts.empty());
  const auto sql = [this](const std::string& text) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "g.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  };
  // The members' rows are written after the incident's own row: refuse them.
  sql("CREATE TRIGGER refuse_members BEFORE INSERT ON incident_alerts BEGIN SELECT RAISE(ABORT, 'refused'); END");
  EXPECT_THROW(corr_->acknowledge(id, "wang", "crew sent", nullptr), std::runtime_error);
  EXPECT_EQ(corr_->find(id)->state, incident_state::open) << "the active copy is unchanged";
  EXPECT_FALSE(corr_->find(id)->acked_by.size() > 0);
  start();
  EXPECT_EQ(corr_->find(id)->state, incident_state::open) << "the incident's own row was rolled back";
  sql("DROP TRIGGER refuse_members");
  EXPECT_EQ(corr_->acknowledge(id, "wang", "crew sent", nullptr), correlator::ack_result::acknowledged);
  start();
  EXPECT_EQ(corr_->find(id)->state, incident_state::acknowledged);
  EXPECT_EQ(corr_->find(id)->acked_by, "wang");
}

TEST_F(Incidents, NonNetworkAlertsAndSitesOffTheNetworkPassThroughUnchanged) {
  const auto turbid = raise("T1", proto::alert_type::turbidity_high, 50, 10);
  const auto elsewhere = raise("T9", proto::alert_type::no_flow, 0.0, 0.01);  // not a network node
  const auto term_offline = raise("T2", proto::alert_type::offline);          // a terminal's offline: not a cause
  ASSERT_EQ(next_.seen.size(), 3u);
  EXPECT_EQ(next_.seen[0], turbid);
  EXPECT_EQ(next_.seen[1], elsewhere);
  EXPECT_EQ(next_.seen[2], term_offline);
  EXPECT_TRUE(corr_->active().empty());
  clear(turbid);
  EXPECT_EQ(next_.seen.size(), 4u);
}

TEST_F(Incidents, WithoutANetworkEverythingPassesThrough) {
  network::holder none;
  correlator c(dir_.path() / "g.db", none, clock_, &next_);
  proto::alert_message a;
  a.terminal_id = "PS1";
  a.type = proto::alert_type::offline;
  a.alert_id = 1;
  a.raised_at = clock_.now();
  a.message = "silent";
  std::vector<notification_row> rows;
  c.on_transition(a, nullptr, rows);
  ASSERT_EQ(next_.seen.size(), 1u);
  EXPECT_EQ(next_.seen[0], a);
  EXPECT_TRUE(c.active().empty());
}

TEST_F(Incidents, PumpFaultAtAStationRootsTheIncidentAndFurtherCausesJoinIt) {
  const auto fault = raise("PS1", proto::alert_type::pump_fault, 2, 1);
  const auto power = raise("PS1", proto::alert_type::power_lost, 600, 300);
  const auto loss = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  const auto i = only_active();
  EXPECT_EQ(i.kind, incident_kind::pump_station_fault);
  EXPECT_EQ(i.root->node, "PS1");
  EXPECT_EQ(i.title, "Pump station PS1 (Dongcun station): pump_fault");
  ASSERT_EQ(i.alerts.size(), 3u);
  EXPECT_EQ(i.alerts[1].alert_id, power.alert_id);
  EXPECT_EQ(i.alerts[1].role, alert_role::cause);
  EXPECT_FALSE(i.alerts[1].forwarded);
  EXPECT_EQ(i.alerts[2].role, alert_role::consequence);
  ASSERT_EQ(next_.raises(), 1u);
  EXPECT_EQ(next_.seen[0].alert_id, fault.alert_id);
  EXPECT_TRUE(corr_->held_back(power.alert_id)) << "the discipline must not escalate it";
  EXPECT_TRUE(corr_->held_back(loss.alert_id));
  EXPECT_FALSE(corr_->held_back(fault.alert_id));
  // wet_well_high and pump_no_level_drop are causes too; a wet well that runs low is a flow loss.
  for (const auto t : {proto::alert_type::wet_well_high, proto::alert_type::pump_no_level_drop})
    raise("PS3", t, 1, 1);
  EXPECT_EQ(corr_->active().size(), 2u);
  EXPECT_EQ(corr_->active()[1].alerts.size(), 2u);
  EXPECT_EQ(next_.raises(), 2u);
}

TEST_F(Incidents, ALaterLossAtAStationInsideTheSectionNarrowsIt) {
  health_["PS2"] = site_health::unknown;  // never reported
  raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  ASSERT_EQ(sorted(only_active().suspected_segments), (std::vector<std::string>{"s1", "s2", "s5", "s6", "s7"}));
  // PS2 starts reporting: its wet well runs low. The loss is above it: the section narrows.
  const auto low = raise("PS2", proto::alert_type::wet_well_low, 0.2, 0.5);
  const auto i = only_active();
  EXPECT_EQ(i.suspected_segments, (std::vector<std::string>{"s7"}));
  EXPECT_EQ(i.loci, (std::vector<std::string>{"PS2"}));
  EXPECT_DOUBLE_EQ(i.suspected_length_m, length_of({"s7"}));
  EXPECT_EQ(i.villages, (std::vector<std::string>{"Beicun"}));
  EXPECT_EQ(i.households, 25);
  EXPECT_EQ(i.alerts.back().alert_id, low.alert_id);
  EXPECT_EQ(i.alerts.back().role, alert_role::symptom);
  EXPECT_EQ(i.alerts.front().role, alert_role::consequence) << "the terminal's loss is explained by the station's";
  EXPECT_EQ(next_.raises(), 1u) << "still one notification";
}

TEST_F(Incidents, RunHoursBelowNormalAreAFlowLossAboveNormalPassThrough) {
  const auto above = raise("PS1", proto::alert_type::pump_runtime_abnormal, 9.5, 4.0);
  EXPECT_TRUE(corr_->active().empty());
  ASSERT_EQ(next_.seen.size(), 1u);
  EXPECT_EQ(next_.seen[0], above);
  // Below normal: less sewage arrives; C1's sewer above PS1 is the suspected section.
  raise("PS1", proto::alert_type::pump_runtime_abnormal, 1.25, 4.0);
  const auto i = only_active();
  EXPECT_EQ(i.kind, incident_kind::flow_loss);
  EXPECT_EQ(sorted(i.suspected_segments), (std::vector<std::string>{"s3", "s4"}));
  EXPECT_EQ(i.affected_nodes, (std::vector<std::string>{"W2", "PS1", "W1", "T1"}));
  EXPECT_EQ(i.affected_terminals, (std::vector<std::string>{"T1"}));
}

TEST_F(Incidents, TwoFlowLossesExplainedByOneStationMergeIntoTheOlder) {
  // T1 loses flow with PS1 healthy: section s1 s2 s5 s6 (incident A). Then PS1's wet well runs
  // low: its own loss, not below A's section (incident B, s3 s4). Two notifications so far.
  const auto t1 = raise("T1", proto::alert_type::no_flow, 0.0, 0.01);
  health_["PS1"] = site_health::loss;
  const auto low = raise("PS1", proto::alert_type::wet_well_low, 0.1, 0.5);
  auto v = corr_->active();
  ASSERT_EQ(v.size(), 2u);
  const auto a = v[0].id, b = v[1].id;
  EXPECT_EQ(sorted(v[1].suspected_segments), (std::vector<std::string>{"s3", "s4"}));
  EXPECT_EQ(next_.raises(), 2u);
  // PS1's pump trips: it explains both. A (the older) is re-rooted at PS1, B merges into it.
  clock_.advance(5min);
  const auto fault = raise("PS1", proto::alert_type::pump_fault, 1, 1);
  v = corr_->active();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, a);
  EXPECT_EQ(v[0].root->node, "PS1");
  ASSERT_EQ(v[0].alerts.size(), 3u);
  EXPECT_EQ(v[0].alerts[0].alert_id, t1.alert_id);
  EXPECT_EQ(v[0].alerts[0].role, alert_role::consequence);
  EXPECT_EQ(v[0].alerts[1].alert_id, fault.alert_id);
  EXPECT_EQ(v[0].alerts[1].role, alert_role::cause);
  EXPECT_EQ(v[0].alerts[2].alert_id, low.alert_id);
  EXPECT_EQ(v[0].alerts[2].role, alert_role::consequence);
  const auto merged = corr_->find(b);
  EXPECT_EQ(merged->state, incident_state::resolved);
  EXPECT_EQ(merged->merged_into, a);
  EXPECT_EQ(merged->resolved_at, clock_.now());
  EXPECT_EQ(corr_->incident_of(low.alert_id), a);
  EXPECT_EQ(next_.raises(), 2u) << "no notification for the re-rooting";
  // Everything clears: A resolves; the clears of the two notified alerts went on, the cause's did not.
  next_.seen.clear();
  for (const auto& x : {t1, low, fault}) clear(x);
  EXPECT_EQ(corr_->find(a)->state, incident_state::resolved);
  ASSERT_EQ(next_.seen.size(), 2u);
  EXPECT_EQ(next_.seen[0].alert_id, t1.alert_id);
  EXPECT_EQ(next_.seen[1].alert_id, low.alert_id);
}

TEST(IncidentClasses, CausesAndFlowLossesByNodeKind) {
  using network::node_kind;
  proto::alert_message a;
  a.type = proto::alert_type::no_flow;
  EXPECT_EQ(classify(a, node_kind::terminal), alert_class::flow_loss);
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::none);
  a.type = proto::alert_type::offline;
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::cause);
  EXPECT_EQ(classify(a, node_kind::terminal), alert_class::none);
  a.type = proto::alert_type::low_flow;  // issue 14: far below the terminal's own normal
  EXPECT_EQ(classify(a, node_kind::terminal), alert_class::flow_loss);
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::none);
  a.type = proto::alert_type::turbidity_high;
  EXPECT_EQ(classify(a, node_kind::terminal), alert_class::none);
  for (const auto t : {proto::alert_type::pump_fault, proto::alert_type::power_lost, proto::alert_type::wet_well_high,
                       proto::alert_type::pump_no_level_drop}) {
    a.type = t;
    EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::cause) << proto::to_string(t);
    EXPECT_EQ(classify(a, node_kind::terminal), alert_class::none) << proto::to_string(t);
    EXPECT_EQ(classify(a, node_kind::inspection_well), alert_class::none) << proto::to_string(t);
  }
  a.type = proto::alert_type::wet_well_low;
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::flow_loss);
  a.type = proto::alert_type::pump_runtime_abnormal;
  a.value = 2.0;
  a.threshold = 5.0;
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::flow_loss) << "below its normal";
  a.value = 9.0;
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::none) << "above its normal: no loss";
  a.value.reset();
  EXPECT_EQ(classify(a, node_kind::pump_station), alert_class::none) << "no value: not judged a loss";
}

// ---- the engine driving the correlator on its manual clock ----

TEST(IncidentsEngine, TheEngineFeedsTheCorrelatorAndItsPresenceIsTheSiteHealth) {
  testing::temp_dir dir("incidents-engine");
  sqlite_store db(dir.path() / "g.db", 100);
  manual_clock clock(at("2026-12-01T08:00:00Z"));
  network::holder pipes(std::make_shared<const network::network_model>(network::parse_network(test::incident_network())));
  config cfg;
  cfg.startup_grace = 0s;
  cfg.defaults.no_flow_debounce_s = 0;
  std::vector<terminal_info> sites;
  for (const char* id : {"T1", "PS1", "PS2", "T2", "PS3"}) sites.push_back(test::terminal(id, cfg.defaults));
  test::capture next;
  correlator corr(dir.path() / "g.db", pipes, clock, &next);
  test::fake_publisher pub;
  engine eng(cfg, registry(sites), db, clock, pub, default_rules(), &corr);
  corr.set_site_health([&eng](const std::string& s, network::node_kind k) { return engine_health(eng, s, k); });
  std::uint64_t seq = 0;
  const auto report = [&](const char* id, double rate) {
    auto r = test::with_flow(test::record(id, ++seq, clock.now()), rate, std::nullopt);
    eng.handle({proto::telemetry_topic(id), proto::encode(r), false, clock.now()});
  };
  // Everything reports with flow: every site online and healthy.
  for (int k = 0; k < 3; ++k) {
    for (const char* id : {"T1", "PS1", "PS2", "T2", "PS3"}) report(id, 2.0);
    clock.advance(60s);
  }
  EXPECT_EQ(engine_health(eng, "PS1", network::node_kind::pump_station), site_health::ok);
  EXPECT_EQ(engine_health(eng, "nowhere", network::node_kind::pump_station), site_health::unknown);
  // T1 loses its flow while both stations upstream still report: the section between them.
  report("T1", 0.0);
  ASSERT_TRUE(eng.flush());
  auto v = corr.active();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(sorted(v[0].suspected_segments), (std::vector<std::string>{"s1", "s2", "s5", "s6"}));
  EXPECT_EQ(engine_health(eng, "T1", network::node_kind::terminal), site_health::loss);
  // PS1 falls silent: offline (a cause) re-roots the incident at it.
  for (int k = 0; k < 12; ++k) {
    for (const char* id : {"PS2", "T2", "PS3"}) report(id, 2.0);
    report("T1", 0.0);
    clock.advance(60s);
    eng.tick();
  }
  ASSERT_TRUE(eng.flush());
  v = corr.active();
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].root.has_value());
  EXPECT_EQ(v[0].root->node, "PS1");
  EXPECT_EQ(next.raises(), 1u) << "one notification for the incident";
  // PS1 and T1 recover: the incident resolves.
  for (int k = 0; k < 3; ++k) {
    for (const char* id : {"T1", "PS1", "PS2", "T2", "PS3"}) report(id, 2.0);
    clock.advance(60s);
    eng.tick();
  }
  ASSERT_TRUE(eng.flush());
  EXPECT_TRUE(corr.active().empty());
  const auto done = corr.find(v[0].id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, incident_state::resolved);
  EXPECT_GT(done->time_to_resolve_s().value_or(0), 0.0);
}

}  // namespace
}  // namespace sewage::gateway::incidents
