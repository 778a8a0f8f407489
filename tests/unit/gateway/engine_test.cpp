// The engine end to end without sockets: de-duplication (redelivery, replay, new epoch, restart),
// rejects and dead letters, unknown terminals, retained status, offline on arrival time, replay
// equivalence of alert episodes, acknowledgement, retained alert publication and clearing.
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/status.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

namespace sewage::gateway {
namespace {

using test::at;
using std::chrono::minutes;
using std::chrono::seconds;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : dir_("gw-engine"), clock_(at("2026-11-29T00:00:00Z")) {
    cfg_.startup_grace = seconds(0);
    cfg_.defaults.turbidity_debounce_s = 0;
    reg_ = registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)});
    open();
  }
  void open() {
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 100);
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
  }
  void send(const proto::telemetry_record& r, std::optional<proto::timestamp> arrival = std::nullopt) {
    eng_->handle({proto::telemetry_topic(r.terminal_id), proto::encode(r), false, arrival.value_or(clock_.now())});
  }
  double volume(const std::string& id, proto::timestamp day_of) {
    eng_->flush();
    const auto day = operating_day(day_of, cfg_.zone);
    double v = 0;
    for (const auto& r : db_->daily(id, day, day)) v += r.totals.volume_m3;
    return v;
  }
  std::vector<test::fake_publisher::msg> alerts_published(proto::alert_type type, const std::string& id) {
    std::vector<test::fake_publisher::msg> out;
    for (const auto& m : pub_.sent)
      if (m.topic == proto::alert_topic(id, type)) out.push_back(m);
    return out;
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
};

TEST_F(EngineTest, RedeliveryAndReplayNeverDoubleCountVolume) {
  const auto t0 = at("2026-11-29T01:00:00Z");
  clock_.set(t0 + minutes(10));
  for (int i = 0; i < 10; ++i) send(test::with_flow(test::record("T1", i + 1, t0 + minutes(i)), 60, 100.0 + i));
  for (int i = 0; i < 10; ++i) send(test::with_flow(test::record("T1", i + 1, t0 + minutes(i)), 60, 100.0 + i));
  EXPECT_EQ(eng_->metrics().records_accepted, 10u);
  EXPECT_EQ(eng_->metrics().duplicates, 10u);
  EXPECT_DOUBLE_EQ(volume("T1", t0), 9.0);
}

TEST_F(EngineTest, NewEpochStartingAtSeqOneIsAcceptedAndOldEpochStaysDeduplicated) {
  const auto t0 = at("2026-11-29T01:00:00Z");
  for (int i = 0; i < 5; ++i) send(test::record("T1", i + 1, t0 + minutes(i), "old"));
  for (int i = 0; i < 3; ++i) send(test::record("T1", i + 1, t0 + minutes(10 + i), "new"));
  EXPECT_EQ(eng_->metrics().records_accepted, 8u);
  send(test::record("T1", 4, t0 + minutes(3), "old"));  // a late replay of the replaced queue
  send(test::record("T1", 2, t0 + minutes(11), "new"));
  EXPECT_EQ(eng_->metrics().records_accepted, 8u);
  EXPECT_EQ(eng_->metrics().duplicates, 2u);
  // After a restart both windows come back from the store (the left epoch's and the current one).
  eng_->flush();
  open();
  send(test::record("T1", 5, t0 + minutes(4), "old"));
  send(test::record("T1", 3, t0 + minutes(12), "new"));
  send(test::record("T1", 4, t0 + minutes(13), "new"));
  EXPECT_EQ(eng_->metrics().duplicates, 2u);
  EXPECT_EQ(eng_->metrics().records_accepted, 1u);
}

TEST_F(EngineTest, RestartKeepsDedupAlertsAndAggregates) {
  const auto t0 = at("2026-11-29T01:00:00Z");
  clock_.set(t0 + minutes(5));
  for (int i = 0; i < 5; ++i)
    send(test::with_turbidity(test::with_flow(test::record("T1", i + 1, t0 + minutes(i)), 60, 50.0 + i), 20));
  ASSERT_EQ(eng_->open_alerts().size(), 1u);
  const auto alert_id = eng_->open_alerts().begin()->first;
  eng_->flush();
  open();  // a new engine on the same database: what a restart sees
  EXPECT_EQ(eng_->open_alerts().count(alert_id), 1u);
  for (int i = 0; i < 5; ++i)
    send(test::with_turbidity(test::with_flow(test::record("T1", i + 1, t0 + minutes(i)), 60, 50.0 + i), 20));
  EXPECT_EQ(eng_->metrics().duplicates, 5u);
  EXPECT_DOUBLE_EQ(volume("T1", t0), 4.0);
  send(test::with_turbidity(test::with_flow(test::record("T1", 6, t0 + minutes(5)), 60, 55.0), 2));
  EXPECT_TRUE(eng_->open_alerts().empty());
  EXPECT_DOUBLE_EQ(volume("T1", t0), 5.0);
  const auto pubs = alerts_published(proto::alert_type::turbidity_high, "T1");
  ASSERT_FALSE(pubs.empty());
  EXPECT_EQ(pubs.back().payload, "");  // cleared: empty retained payload
  EXPECT_TRUE(pubs.back().retained);
  const auto stored = db_->alert(alert_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state, proto::alert_state::cleared);
  EXPECT_EQ(db_->transitions(alert_id).size(), 2u);
}

TEST_F(EngineTest, TotalizerDipIsCountedAsAGlitchNotAsVolume) {
  // Issue 9 section 3: totals 10.0, 10.5, 0.0, 11.0, 11.5 one minute apart (30 m3/h). Before: the
  // day gained 12.0 m3 measured (an 11 m3 phantom); now the real 1.5 m3 and one dip counted.
  const auto t0 = at("2026-11-29T01:00:00Z");
  clock_.set(t0 + minutes(5));
  const double totals[] = {10.0, 10.5, 0.0, 11.0, 11.5};
  for (int i = 0; i < 5; ++i) send(test::with_flow(test::record("T1", i + 1, t0 + minutes(i)), 30, totals[i]));
  EXPECT_NEAR(volume("T1", t0), 1.5, 0.001);
  const auto dip = static_cast<std::size_t>(totalizer_glitch::dip);
  EXPECT_EQ(eng_->metrics().totalizer_glitches.at(dip), 1u);
  const auto day = operating_day(t0, cfg_.zone);
  EXPECT_EQ(db_->daily(std::string("T1"), day, day).at(0).totals.totalizer_glitches, 1u);
}

TEST_F(EngineTest, ARestartInTheMiddleOfAGlitchContinuesIt) {
  // The suspect reading is persisted with the terminal's state: after a restart the return to the
  // baseline still ends the dip instead of being taken as a jump from 0.0.
  const auto t0 = at("2026-11-29T01:00:00Z");
  clock_.set(t0 + minutes(5));
  send(test::with_flow(test::record("T1", 1, t0), 30, 10.0));
  send(test::with_flow(test::record("T1", 2, t0 + minutes(1)), 30, 10.5));
  send(test::with_flow(test::record("T1", 3, t0 + minutes(2)), 30, 0.0));
  eng_->flush();
  open();
  ASSERT_EQ(eng_->runtime(0).snap.cursor.suspect_count, 1u);
  send(test::with_flow(test::record("T1", 4, t0 + minutes(3)), 30, 11.0));
  send(test::with_flow(test::record("T1", 5, t0 + minutes(4)), 30, 11.5));
  EXPECT_NEAR(volume("T1", t0), 1.5, 0.001);
  EXPECT_EQ(eng_->metrics().totalizer_glitches.at(static_cast<std::size_t>(totalizer_glitch::dip)), 1u);
}

TEST_F(EngineTest, ATotalizerReadingStampedIn1970CreatesNoRowsBetween) {
  // An agent without RTC stamps 1970, then its clock is stepped: the next increment goes on the
  // record's own day (before: one daily row for each of the 20,788 days in between).
  const auto now = at("2026-11-29T01:00:00Z");
  clock_.set(now);
  // The 1970 stamp is outside the trust window: the record counts at its arrival (now).
  send(test::with_flow(test::record("T1", 1, at("1970-01-01T00:00:05Z")), 1, 10.0), now);
  const auto later = now + std::chrono::hours(1);
  clock_.set(later);
  send(test::with_flow(test::record("T1", 2, later), 2, 12.0), later);
  eng_->flush();
  const auto rows = db_->daily(std::string("T1"), 0, operating_day(later, cfg_.zone));
  EXPECT_EQ(rows.size(), 1u);  // only the day of arrival
  EXPECT_DOUBLE_EQ(volume("T1", later), 2.0);
}

TEST_F(EngineTest, MalformedPayloadIsRejectedCountedAndKeptWhileTheNextGoodOneIsAccepted) {
  eng_->handle({proto::telemetry_topic("T1"), R"({"terminal_id":"T1","seq":"x"})", false, clock_.now()});
  eng_->handle({"sewage/v1/T1/telemetry/extra", "{}", false, clock_.now()});
  send(test::record("T1", 1, clock_.now()));
  EXPECT_EQ(eng_->metrics().records_accepted, 1u);
  std::uint64_t rejects = 0;
  for (auto c : eng_->metrics().rejects_by_code) rejects += c;
  EXPECT_EQ(rejects, 2u);
  EXPECT_EQ(eng_->metrics().rejects_by_code[static_cast<std::size_t>(proto::problem_code::bad_topic)], 1u);
  eng_->flush();
  const auto dl = db_->dead_letters(10);
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_EQ(dl.back().topic, proto::telemetry_topic("T1"));
  EXPECT_NE(dl.back().reason.find("/seq"), std::string::npos);
}

TEST_F(EngineTest, UnknownTerminalsAreCountedAndListed) {
  send(test::record("NOT-REGISTERED", 1, clock_.now()));
  send(test::record("NOT-REGISTERED", 2, clock_.now()));
  EXPECT_EQ(eng_->metrics().unknown_terminal_messages, 2u);
  ASSERT_EQ(eng_->unknown_terminals().count("NOT-REGISTERED"), 1u);
  EXPECT_EQ(eng_->unknown_terminals().at("NOT-REGISTERED").messages, 2u);
  EXPECT_EQ(eng_->metrics().records_accepted, 0u);
}

TEST_F(EngineTest, RetainedBirthIsNoProofOfLifeAndOfflineIsJudgedOnArrival) {
  proto::status_message birth;
  birth.terminal_id = "T1";
  birth.state = proto::presence::online;
  birth.ts = clock_.now() - std::chrono::hours(5);
  birth.agent_version = "0.1.0";
  birth.config_digest = "abcd";
  eng_->handle({proto::status_topic("T1"), proto::encode(birth), true, clock_.now()});
  clock_.advance(seconds(170));
  eng_->tick();
  EXPECT_TRUE(eng_->open_alerts().empty());
  clock_.advance(seconds(20));  // 190 s > 3 x 60 s without a live record
  eng_->tick();
  ASSERT_EQ(eng_->open_alerts().size(), 2u);  // T1 and T2
  // A record from a backlog (hours old) does not clear it; a live one does.
  send(test::record("T1", 1, clock_.now() - std::chrono::hours(3)));
  EXPECT_EQ(eng_->open_alerts().size(), 2u);
  send(test::record("T1", 2, clock_.now()));
  EXPECT_EQ(eng_->open_alerts().size(), 1u);
  EXPECT_TRUE(eng_->online(0));
  EXPECT_FALSE(eng_->online(1));
}

TEST_F(EngineTest, ARecordFromAClockRunningAheadProvesLifeAndRaisesClockSkew) {
  for (int i = 1; i <= 10; ++i) {
    clock_.advance(seconds(60));
    // T1's clock is 15 minutes fast; T2 is fine.
    send(test::record("T1", static_cast<std::uint64_t>(i), clock_.now() + minutes(15)));
    send(test::record("T2", static_cast<std::uint64_t>(i), clock_.now()));
    eng_->tick();
  }
  EXPECT_TRUE(eng_->online(0));
  const auto& open = eng_->open_alerts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open.begin()->second.type, proto::alert_type::clock_skew);
  EXPECT_EQ(open.begin()->second.terminal_id, "T1");
}

TEST_F(EngineTest, LastWillRaisesOfflineAtOnceAndALiveBirthWithdrawsIt) {
  send(test::record("T1", 1, clock_.now()));
  send(test::record("T2", 1, clock_.now()));
  proto::status_message will;
  will.state = proto::presence::offline;
  will.reason = proto::offline_reason::connection_lost;
  will.terminal_id = "T1";
  eng_->handle({proto::status_topic("T1"), proto::encode(will), false, clock_.now()});
  will.terminal_id = "T2";
  eng_->handle({proto::status_topic("T2"), proto::encode(will), false, clock_.now()});
  proto::status_message birth;
  birth.terminal_id = "T2";
  birth.state = proto::presence::online;
  birth.ts = clock_.now();
  birth.agent_version = "0.1.0";
  birth.config_digest = "abcd";
  eng_->handle({proto::status_topic("T2"), proto::encode(birth), false, clock_.now()});
  clock_.advance(seconds(1));
  eng_->tick();
  ASSERT_EQ(eng_->open_alerts().size(), 1u);
  EXPECT_EQ(eng_->open_alerts().begin()->second.terminal_id, "T1");
  EXPECT_EQ(eng_->open_alerts().begin()->second.type, proto::alert_type::offline);
  // T2's birth is not data: without records it still goes offline after 3 intervals.
  clock_.advance(seconds(200));
  eng_->tick();
  EXPECT_EQ(eng_->open_alerts().size(), 2u);
}

TEST_F(EngineTest, CleanAgentShutdownGetsARestartGracePeriod) {
  send(test::record("T1", 1, clock_.now()));
  send(test::record("T2", 1, clock_.now()));
  proto::status_message bye;
  bye.terminal_id = "T1";
  bye.state = proto::presence::offline;
  bye.reason = proto::offline_reason::shutdown;
  bye.ts = clock_.now();
  eng_->handle({proto::status_topic("T1"), proto::encode(bye), false, clock_.now()});
  clock_.advance(seconds(400));
  eng_->tick();
  EXPECT_EQ(eng_->open_alerts().size(), 1u);  // only T2; T1 is within the 600 s restart grace
  clock_.advance(seconds(300));
  eng_->tick();
  EXPECT_EQ(eng_->open_alerts().size(), 2u);
}

TEST_F(EngineTest, ReplayedBacklogGivesTheSameEpisodesAsLiveDelivery) {
  cfg_.defaults.turbidity_debounce_s = 300;
  cfg_.defaults.sensor_fault_debounce_s = 120;
  reg_ = registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)});
  open();
  const auto t0 = at("2026-11-29T01:00:00Z");
  std::vector<proto::telemetry_record> recs;
  for (int i = 0; i < 120; ++i) {
    const double ntu = (i / 20) % 2 == 0 ? 3.0 : 25.0;
    auto r = test::with_turbidity(test::record("T1", i + 1, t0 + minutes(i)), ntu);
    if (i >= 40 && i < 50) r.turbidity->status = proto::quantity_status::stale, r.turbidity->ntu.reset();
    recs.push_back(r);
  }
  for (const auto& r : recs) send(r, r.ts + seconds(2));  // live
  eng_->flush();
  auto episodes = [&] {
    std::vector<std::tuple<proto::alert_type, proto::timestamp, std::optional<proto::timestamp>>> out;
    for (const auto& a : db_->alerts(false, std::string("T1"), 1000)) out.emplace_back(a.type, a.raised_at, a.cleared_at);
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto live = episodes();
  ASSERT_GE(live.size(), 3u);
  // Same records on a fresh database, all delivered a day later (backlog after an outage).
  db_.reset();
  eng_.reset();
  std::filesystem::remove(dir_.path() / "g.db");
  open();
  for (const auto& r : recs) send(r, t0 + std::chrono::hours(26));
  eng_->flush();
  EXPECT_EQ(episodes(), live);
}

TEST_F(EngineTest, StaleRetainedAlertStatesAreRemovedAndOpenOnesKept) {
  send(test::with_turbidity(test::record("T1", 1, clock_.now()), 50));
  ASSERT_EQ(eng_->open_alerts().size(), 1u);
  const auto open = eng_->open_alerts().begin()->second;
  const auto topic = proto::alert_topic("T1", proto::alert_type::turbidity_high);
  pub_.sent.clear();
  eng_->handle({topic, proto::encode(open), true, clock_.now()});  // the open episode: kept
  EXPECT_TRUE(pub_.sent.empty());
  auto stale = open;
  stale.alert_id = 4242;
  stale.terminal_id = "T2";
  const auto stale_topic = proto::alert_topic("T2", proto::alert_type::turbidity_high);
  eng_->handle({stale_topic, proto::encode(stale), true, clock_.now()});
  ASSERT_EQ(pub_.sent.size(), 1u);
  EXPECT_EQ(pub_.sent[0].topic, stale_topic);
  EXPECT_EQ(pub_.sent[0].payload, "");
  EXPECT_TRUE(pub_.sent[0].retained);
  eng_->handle({stale_topic, proto::encode(stale), false, clock_.now()});  // our own live echo: ignored
  EXPECT_EQ(pub_.sent.size(), 1u);
  // A stale state of an earlier episode where a newer one is open: replaced by the open one.
  auto earlier = open;
  earlier.alert_id = open.alert_id + 100;
  eng_->handle({topic, proto::encode(earlier), true, clock_.now()});
  ASSERT_EQ(pub_.sent.size(), 2u);
  EXPECT_EQ(pub_.sent[1].payload, proto::encode(open));
}

TEST_F(EngineTest, AcknowledgeIsStoredAndPublished) {
  send(test::with_turbidity(test::record("T1", 1, clock_.now()), 50));
  ASSERT_EQ(eng_->open_alerts().size(), 1u);
  const auto id = eng_->open_alerts().begin()->first;
  proto::alert_message out;
  EXPECT_EQ(eng_->acknowledge(id, "Li Wei", "crew sent", &out), engine::ack_result::acknowledged);
  EXPECT_EQ(out.state, proto::alert_state::acknowledged);
  EXPECT_EQ(db_->alert(id)->acked_by, "Li Wei");
  const auto pubs = alerts_published(proto::alert_type::turbidity_high, "T1");
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_NE(pubs.back().payload.find("acknowledged"), std::string::npos);
  EXPECT_EQ(eng_->acknowledge(9999, "x", "", &out), engine::ack_result::not_found);
  send(test::with_turbidity(test::record("T1", 2, clock_.now() + minutes(1)), 1));
  EXPECT_EQ(eng_->acknowledge(id, "x", "", &out), engine::ack_result::already_cleared);
}

}  // namespace
}  // namespace sewage::gateway
