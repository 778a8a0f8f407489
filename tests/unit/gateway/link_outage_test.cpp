// Issue 9 sections 4 and 10 (gateway) on a manual clock: the gateway's own broker outage is not
// the terminals' fault (link down/up/backlog drained), presence shown after a restart and for a
// terminal added by SIGHUP, and a store that refuses writes (disk full) keeps everything pending.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/receipt.hpp>
#include <sewage/proto/status.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

namespace sewage::gateway {
namespace {

using test::at;
using std::chrono::seconds;

/// The SQLite store with a switch that makes every write fail the way a full disk does.
class full_disk_store final : public store {
 public:
  explicit full_disk_store(const std::filesystem::path& p) : db_(p, 100) {}
  bool full{false};
  int apply_calls{0};
  std::size_t last_batch_terminals{0};
  void apply(const write_batch& b) override {
    ++apply_calls;
    last_batch_terminals = b.terminals.size();
    if (full) throw store_error("step failed: database or disk is full");
    db_.apply(b);
  }
  std::size_t purge_records_before(proto::timestamp t) override {
    if (full) throw store_error("step failed: database or disk is full");
    return db_.purge_records_before(t);
  }
  std::vector<terminal_snapshot> load_terminals() override { return db_.load_terminals(); }
  std::optional<seq_set> load_dedup(const std::string& t, const std::string& e) override { return db_.load_dedup(t, e); }
  bool spilled_contains(const std::string& t, const std::string& e, std::uint64_t seq) override {
    return db_.spilled_contains(t, e, seq);
  }
  std::uint64_t missing_in_left_epochs() override { return db_.missing_in_left_epochs(); }
  std::vector<proto::alert_message> alerts(bool o, const std::optional<std::string>& t, std::size_t l) override {
    return db_.alerts(o, t, l);
  }
  std::vector<proto::alert_message> find_alerts(const alert_query& q) override { return db_.find_alerts(q); }
  std::optional<proto::alert_message> alert(std::uint64_t id) override { return db_.alert(id); }
  std::vector<alert_transition> transitions(std::uint64_t id) override { return db_.transitions(id); }
  std::uint64_t max_alert_id() override { return db_.max_alert_id(); }
  std::vector<record_row> history(const std::string& t, proto::timestamp f, proto::timestamp to, std::size_t l) override {
    return db_.history(t, f, to, l);
  }
  std::vector<daily_row> daily(const std::optional<std::string>& t, std::int32_t f, std::int32_t to) override {
    return db_.daily(t, f, to);
  }
  std::vector<daily_total_row> daily_totals(const std::vector<std::string>& ids, std::int32_t f, std::int32_t to) override {
    return db_.daily_totals(ids, f, to);
  }
  std::vector<command_row> commands(const std::optional<std::string>& t, std::optional<command_state> st,
                                    std::size_t l) override {
    return db_.commands(t, st, l);
  }
  std::optional<command_row> command(std::uint64_t id) override { return db_.command(id); }
  std::uint64_t max_command_id() override { return db_.max_command_id(); }
  std::optional<std::pair<std::string, proto::timestamp>> image(const std::string& t) override { return db_.image(t); }
  std::optional<proto::timestamp> image_arrival(const std::string& t) override { return db_.image_arrival(t); }
  std::vector<dead_letter_row> dead_letters(std::size_t l) override { return db_.dead_letters(l); }
  fault_stats faults_since(proto::timestamp f) override { return db_.faults_since(f); }
  std::vector<fault_counts> fault_counts_between(proto::timestamp f, proto::timestamp t) override {
    return db_.fault_counts_between(f, t);
  }

 private:
  sqlite_store db_;
};

class LinkOutageTest : public ::testing::Test {
 protected:
  LinkOutageTest() : dir_("gw-outage"), clock_(at("2026-11-29T00:00:00Z")) {
    cfg_.startup_grace = seconds(0);
    cfg_.http_public_read = true;  // reads without login: not about identity (auth_test.cpp is)
    reg_ = registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults),
                     test::terminal("DEAD", cfg_.defaults)});
    open();
  }
  void open() {
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<full_disk_store>(dir_.path() / "g.db");
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
  }
  void send(const std::string& id, std::uint64_t seq, proto::timestamp ts) {
    auto r = test::with_flow(test::record(id, seq, ts), 60.0, 100.0 + static_cast<double>(seq));
    eng_->handle({proto::telemetry_topic(id), proto::encode(r), false, clock_.now()});
  }
  /// Advances the clock `total` in `step`s, ticking after each.
  void run_for(seconds total, seconds step = seconds(5)) {
    for (seconds t{0}; t < total; t += step) {
      clock_.advance(step);
      eng_->tick();
    }
  }
  std::size_t offline_raised(const std::string& id) const {
    std::size_t n = 0;
    for (const auto& m : pub_.sent)
      if (m.topic == proto::alert_topic(id, proto::alert_type::offline) && !m.payload.empty()) ++n;
    return n;
  }
  std::size_t all_offline_raised() const {
    return offline_raised("T1") + offline_raised("T2") + offline_raised("DEAD");
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<full_disk_store> db_;
  std::unique_ptr<engine> eng_;
};

// The example: the broker is away longer than offline_after_intervals x interval (here
// 3 x 60 s = 180 s; 400 s away). Before: every terminal got an offline episode while the gateway
// itself was disconnected. Now: none for the live ones, exactly one for the dead one, after the
// backlog drained plus its limit.
TEST_F(LinkOutageTest, BrokerOutageLongerThanTheLimitRaisesOfflineOnlyForTheTerminalDeadThroughIt) {
  std::uint64_t seq = 1;
  for (const char* id : {"T1", "T2", "DEAD"}) send(id, seq, clock_.now());
  run_for(seconds(30));
  eng_->link_down();
  EXPECT_TRUE(eng_->link_grace());
  run_for(seconds(400));
  EXPECT_EQ(all_offline_raised(), 0u);
  // Back: the broker delivers what T1 and T2 queued meanwhile (stamped during the outage), then
  // their live records continue. DEAD sends nothing.
  eng_->link_up();
  for (int k = 1; k <= 7; ++k)
    for (const char* id : {"T1", "T2"}) send(id, seq + static_cast<std::uint64_t>(k), clock_.now() - seconds(420 - 60 * k));
  seq += 7;
  run_for(seconds(2));
  eng_->backlog_drained();
  EXPECT_FALSE(eng_->link_grace());
  for (int minute = 0; minute < 10; ++minute) {
    ++seq;
    for (const char* id : {"T1", "T2"}) send(id, seq, clock_.now());
    run_for(seconds(60));
    if (minute < 2) {
      EXPECT_EQ(offline_raised("DEAD"), 0u) << "within the limit after the drain, minute " << minute;
    }
  }
  EXPECT_EQ(offline_raised("T1"), 0u);
  EXPECT_EQ(offline_raised("T2"), 0u);
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(eng_->presence_of(2), engine::presence::offline);
  EXPECT_EQ(eng_->presence_of(0), engine::presence::online);
}

// While the link is up again but the backlog is still arriving, nothing is judged either: the
// live records of a terminal may be behind its backlog.
TEST_F(LinkOutageTest, NothingIsRaisedWhileTheBacklogDrainsHoweverLongItTakes) {
  for (const char* id : {"T1", "T2", "DEAD"}) send(id, 1, clock_.now());
  eng_->link_down();
  run_for(seconds(300));
  eng_->link_up();
  run_for(seconds(600));  // a long drain (a big county after a long outage)
  EXPECT_EQ(all_offline_raised(), 0u);
  eng_->backlog_drained();
  run_for(seconds(175));
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(10));
  EXPECT_EQ(all_offline_raised(), 3u);  // none of them reported after the drain: one episode each
  run_for(seconds(600));
  EXPECT_EQ(all_offline_raised(), 3u);
}

// A second outage while a terminal's episode is open does not open another one, and a short
// blip (down and up within the limit) changes nothing for terminals that keep reporting.
TEST_F(LinkOutageTest, AShortBlipChangesNothingAndAnOpenEpisodeStaysOne) {
  send("T1", 1, clock_.now());
  send("T2", 1, clock_.now());
  run_for(seconds(200));  // DEAD never reported since start: offline (start-up rule unchanged)
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1"), 1u);  // T1 and T2 also silent 200 s > 180 s
  send("T1", 2, clock_.now());
  send("T2", 2, clock_.now());
  eng_->link_down();
  run_for(seconds(3));
  eng_->link_up();
  eng_->backlog_drained();
  for (std::uint64_t s = 3; s < 8; ++s) {
    send("T1", s, clock_.now());
    send("T2", s, clock_.now());
    run_for(seconds(60));
  }
  EXPECT_EQ(offline_raised("T1"), 1u);
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(eng_->presence_of(0), engine::presence::online);
}

// After a gateway restart, a terminal already silent past its limit is not shown online during
// the start-up grace (before: "online" because it had reported once).
TEST_F(LinkOutageTest, AfterARestartATerminalSilentPastItsLimitIsNotShownOnline) {
  cfg_.startup_grace = seconds(300);
  open();
  send("T1", 1, clock_.now());
  run_for(seconds(100));
  send("T2", 1, clock_.now());
  eng_->flush();
  run_for(seconds(150));  // T1 silent 250 s > 180 s (raised? no: start-up grace of the first run)
  open();                 // restart
  EXPECT_EQ(eng_->presence_of(0), engine::presence::unknown);  // silent 250 s
  EXPECT_EQ(eng_->presence_of(1), engine::presence::online);   // silent 150 s
  EXPECT_EQ(eng_->presence_of(2), engine::presence::unknown);  // never reported
  EXPECT_FALSE(eng_->online(0));
  run_for(seconds(60));
  EXPECT_EQ(eng_->presence_of(1), engine::presence::unknown);  // now 210 s silent, still in grace
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(250));  // grace over
  EXPECT_EQ(eng_->presence_of(0), engine::presence::offline);
  EXPECT_EQ(eng_->presence_of(1), engine::presence::offline);
}

// A terminal added by SIGHUP that has never reported is unknown, not offline at once (before:
// offline at the next tick, its silence counted from the gateway's start), and its registration
// time is kept (availability counts from it) across a restart.
TEST_F(LinkOutageTest, ATerminalAddedBySighupIsUnknownAndCountsFromItsRegistration) {
  for (const char* id : {"T1", "T2", "DEAD"}) send(id, 1, clock_.now());
  const auto first_start = clock_.now();
  EXPECT_EQ(eng_->registered_at(0), first_start);
  for (int i = 0; i < 60; ++i) {  // an hour of T1, T2
    send("T1", static_cast<std::uint64_t>(i + 2), clock_.now());
    send("T2", static_cast<std::uint64_t>(i + 2), clock_.now());
    run_for(seconds(60), seconds(60));
  }
  const auto added = clock_.now();
  auto terminals = reg_.terminals();
  terminals.push_back(test::terminal("NEW", cfg_.defaults));
  reg_ = registry(terminals);
  eng_->reload_registry(reg_);
  const auto idx = *eng_->terminals().find("NEW");
  eng_->tick();
  EXPECT_EQ(eng_->presence_of(idx), engine::presence::unknown);
  EXPECT_EQ(offline_raised("NEW"), 0u);
  EXPECT_EQ(eng_->registered_at(idx), added);
  run_for(seconds(170));
  EXPECT_EQ(offline_raised("NEW"), 0u);
  EXPECT_EQ(eng_->presence_of(idx), engine::presence::unknown);
  send("NEW", 1, clock_.now());
  EXPECT_EQ(eng_->presence_of(idx), engine::presence::online);
  eng_->flush();
  open();
  EXPECT_EQ(eng_->registered_at(*eng_->terminals().find("NEW")), added);
  EXPECT_EQ(eng_->registered_at(0), first_start);
}

// Availability of a terminal added by SIGHUP counts from its registration: an hour of reports
// every minute after being added in the middle of the operating day is 60 of 60 expected (before:
// expected from the day's start, 10 h earlier, so availability ~0.09).
TEST_F(LinkOutageTest, AvailabilityOfATerminalAddedBySighupCountsFromItsRegistration) {
  clock_.advance(std::chrono::hours(2));  // the operating day (UTC+8) started 10 h ago
  auto terminals = reg_.terminals();
  terminals.push_back(test::terminal("NEW", cfg_.defaults));
  reg_ = registry(terminals);
  eng_->reload_registry(reg_);
  for (std::uint64_t s = 1; s <= 60; ++s) {
    clock_.advance(seconds(60));
    send("NEW", s, clock_.now());
    eng_->tick();
  }
  eng_->flush();
  api routes(*eng_);
  const auto r = routes.handle({"GET", "/api/terminals/NEW", "", ""});
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto today = nlohmann::json::parse(r.body).at("today");
  EXPECT_NEAR(today.at("expected_records").get<double>(), 60.0, 1e-6) << today.dump();
  EXPECT_NEAR(today.at("availability").get<double>(), 1.0, 1e-6) << today.dump();
  EXPECT_EQ(nlohmann::json::parse(r.body).at("state"), "online");
}

// Issue 17 (chaos, defect 2), the class "silence the gateway could not have heard": a stalled
// broker path, the gateway's own stall, and agents that reconnect after the gateway. Probes are
// played by broker_path_proven() with the round trip the link would measure.
class PathStallTest : public LinkOutageTest {
 protected:
  /// Advances `total` in 5 s steps; at each step everyone in `live` reports and, while the path
  /// works, the probe sent at the step comes back in 1 ms. Ticks after each step.
  void run_for(seconds total, const std::vector<std::string>& live, bool path_works = true) {
    for (seconds t{0}; t < total; t += seconds(5)) {
      clock_.advance(seconds(5));
      if (path_works) {
        for (const auto& id : live) send(id, ++seq_, clock_.now());
        eng_->broker_path_proven(clock_.now(), std::chrono::milliseconds(1));
      }
      eng_->tick();
    }
  }
  std::uint64_t seq_{1};
  /// The broker publishes terminal `id`'s last will (not retained), arriving now.
  void will_of(const std::string& id) {
    proto::status_message w;
    w.terminal_id = id;
    w.state = proto::presence::offline;
    w.reason = proto::offline_reason::connection_lost;
    eng_->handle({proto::status_topic(id), proto::encode(w), false, clock_.now()});
  }
};

// Example 1: the broker paused for 10 min while the link stays up (no keep-alive timeout yet).
// Before: T1, T2 and DEAD all raised at 180 s. Now: nothing while no probe comes back; when the
// path resumes (the first echo took 600 s) the count restarts, and only DEAD is raised, once.
TEST_F(PathStallTest, AStalledBrokerPathFreezesTheJudgementAndTheLateEchoRestartsTheCount) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  const auto stalled_at = clock_.now();
  run_for(seconds(600), {}, false);
  EXPECT_EQ(all_offline_raised(), 0u);
  // Resumed: the probe sent at the stall comes back first, 600 s late; then the held records.
  eng_->broker_path_proven(stalled_at, seconds(600));
  for (const char* id : {"T1", "T2"}) send(id, ++seq_, clock_.now() - seconds(10));
  eng_->tick();
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(170), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 0u) << "within its limit counted from the resume";
  run_for(seconds(20), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  run_for(seconds(600), {"T1", "T2"});
  EXPECT_EQ(offline_raised("T1"), 0u);
  EXPECT_EQ(offline_raised("T2"), 0u);
  EXPECT_EQ(offline_raised("DEAD"), 1u);
}

// Example 4 of the class (chaos broker_pause in the fresh-clone run of 2026-12-02): a broker
// resumed from a pause expires the keep-alives of live agents before it reads their PINGREQs and
// publishes their last wills, just after the gateway's late echo. Before: T1 and T2 raised at once
// ("Terminal lost its connection (last will); no live record for 0 s"). Now such wills are not
// acted on; silence judges, and only DEAD, silent for real, is raised at its limit.
TEST_F(PathStallTest, LastWillsTheBrokerPublishesRightAfterItsOwnStallAreNotTakenForDeadTerminals) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  const auto stalled_at = clock_.now();
  run_for(seconds(60), {}, false);
  eng_->broker_path_proven(stalled_at, std::chrono::milliseconds(6500));
  will_of("T1");
  will_of("T2");
  run_for(seconds(20), {});  // probes come back; T1 and T2 reconnect on their backoff
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(150), {"T1", "T2"});
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(20), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
}

// The same wills delivered before the late echo: they wait for a probe sent after them, and the
// late echo of the probe sent before them finds the stall first and drops them.
TEST_F(PathStallTest, LastWillsDeliveredDuringTheStallWaitForTheProbeAndAreDroppedByTheLateEcho) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  const auto stalled_at = clock_.now();
  run_for(seconds(30), {}, false);
  will_of("T1");
  will_of("T2");
  run_for(seconds(30), {}, false);
  EXPECT_EQ(all_offline_raised(), 0u) << "a will is acted on only once a later probe came back";
  eng_->broker_path_proven(stalled_at, seconds(60));
  run_for(seconds(20), {});  // probes come back; T1 and T2 reconnect on their backoff
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(150), {"T1", "T2"});
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
  run_for(seconds(20), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
}

// Example 5 (chaos 168 h, 2026-12-02, broker_pause at x120): the broker, resumed, dropped every
// agent's session (wills not acted on, above), and the agents needed ~2.4 real s to reconnect and
// report: 290 simulated s, so all 38 were raised offline 2.3 s after the late echo. A terminal
// whose will a stall discarded gets reconnect_after_stall of real time before its silence counts,
// whether the will came before the echo (T1) or just after it (T2); DEAD, silent without a will,
// is raised at its limit as before; T2, still silent after the allowance, at its limit from then.
TEST_F(PathStallTest, TerminalsWhoseSessionsTheStalledBrokerDroppedGetRealTimeToReconnect) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  const auto stalled_at = clock_.now();
  run_for(seconds(30), {}, false);
  will_of("T1");
  run_for(seconds(30), {}, false);
  eng_->broker_path_proven(stalled_at, seconds(60));
  will_of("T2");
  run_for(seconds(300), {});  // a few real ms: the agents are still reconnecting
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u) << "still within reconnect_after_stall";
  run_for(seconds(5), {"T1"});  // T1 is back; T2 never comes back
  std::this_thread::sleep_for(engine::reconnect_after_stall + std::chrono::milliseconds(200));
  run_for(seconds(175), {"T1"});
  EXPECT_EQ(offline_raised("T2"), 0u) << "its silence counts from the end of the allowance";
  run_for(seconds(10), {"T1"});
  EXPECT_EQ(offline_raised("T2"), 1u);
  EXPECT_EQ(offline_raised("T1"), 0u);
}

// A will on a working path, with no stall near it, is still acted on at once (at the next probe's
// echo), long before the silence limit.
TEST_F(PathStallTest, ALastWillOnAWorkingPathRaisesOfflineAtTheNextEcho) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  will_of("DEAD");
  eng_->tick();
  EXPECT_EQ(offline_raised("DEAD"), 0u) << "no probe sent after the will has come back yet";
  run_for(seconds(5), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
}

// With a working path the judgement lags the clock by at most one probe period: a dead terminal
// is raised at its limit as before.
TEST_F(PathStallTest, AWorkingPathRaisesADeadTerminalAtItsLimit) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  run_for(seconds(175), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 0u);
  run_for(seconds(10), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
}

// Probes that stop coming back on a link that stays up (an ACL without the probe topic): the link
// says so after probe_lost_after and the judgement falls back to the clock.
TEST_F(PathStallTest, WhenProbesAreLostTheJudgementFallsBackToTheClock) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  run_for(seconds(300), {}, false);
  EXPECT_EQ(all_offline_raised(), 0u);
  eng_->broker_path_unproven();
  eng_->tick();
  EXPECT_EQ(all_offline_raised(), 3u);
}

// Example 2: the gateway itself paused for 10 min (SIGSTOP; no tick, no probe, no message). On
// resume its timer is late: own_stall restarts every terminal's count; the live ones report in
// time and only DEAD is raised, after its limit.
TEST_F(PathStallTest, TheGatewaysOwnStallIsNotTheTerminalsSilence) {
  run_for(seconds(60), {"T1", "T2", "DEAD"});
  clock_.advance(seconds(600));
  eng_->own_stall(seconds(600));
  eng_->broker_path_proven(clock_.now() - seconds(600), seconds(600));
  eng_->tick();
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(175), {"T1", "T2"});
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(10), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
}

// Example 3: after a broker restart the gateway is back in 1 s, the agents on their backoff (up to
// reconnect_max_s = 60 s, +20 % jitter, after a long outage). Before: a terminal reporting every
// 10 s (limit 30 s) that came back 70 s after the drain was raised. Now: startup_grace (here
// 120 s) after the drain, as at start; a terminal that never comes back is raised after it.
TEST_F(PathStallTest, AfterALinkOutageAgentsGetTheStartupGraceToReconnect) {
  cfg_.startup_grace = seconds(120);
  std::vector<terminal_info> every_10_s;
  for (const char* id : {"T1", "T2", "DEAD"}) {
    every_10_s.push_back(test::terminal(id, cfg_.defaults));
    every_10_s.back().report_interval_s = 10;
  }
  reg_ = registry(every_10_s);
  open();
  run_for(seconds(180), {"T1", "T2", "DEAD"});
  eng_->link_down();
  run_for(seconds(300), {}, false);
  eng_->link_up();
  eng_->backlog_drained();
  run_for(seconds(70), {}, true);  // probes come back, the agents are still backing off
  EXPECT_EQ(all_offline_raised(), 0u);
  run_for(seconds(45), {"T1", "T2"});
  EXPECT_EQ(all_offline_raised(), 0u) << "DEAD: still within the grace";
  run_for(seconds(10), {"T1", "T2"});
  EXPECT_EQ(offline_raised("DEAD"), 1u);
  EXPECT_EQ(offline_raised("T1") + offline_raised("T2"), 0u);
}

// Section 10 (gateway): a store that refuses writes. Commits fail, nothing is released (the
// commit listener is how main releases the journal), /healthz's flag and the metric say so, a
// burst does not turn into one failing transaction per message, reads still work, and once space
// returns the pending batch is committed exactly once (no volume counted twice).
TEST_F(LinkOutageTest, AFullStoreKeepsEverythingPendingAndRecoversByItself) {
  int commits_seen = 0;
  eng_->set_commit_listener([&] { ++commits_seen; });
  send("T1", 1, clock_.now());
  ASSERT_TRUE(eng_->flush());
  const int after_first = commits_seen;
  db_->full = true;
  for (std::uint64_t s = 2; s <= 11; ++s) {
    clock_.advance(seconds(60));
    send("T1", s, clock_.now());
    send("T2", s, clock_.now());
    eng_->flush();
  }
  EXPECT_FALSE(eng_->metrics().last_commit_ok);
  EXPECT_EQ(commits_seen, after_first);  // never released
  EXPECT_EQ(db_->apply_calls, 2);        // the first failure, then retries at most once per second
  EXPECT_EQ(eng_->metrics().store_failures, 1u);
  const auto failures_before = eng_->metrics().store_failures;
  EXPECT_FALSE(eng_->flush(true));
  EXPECT_EQ(eng_->metrics().store_failures, failures_before + 1);
  EXPECT_LE(db_->last_batch_terminals, 2u);  // one snapshot per terminal, not one per attempt
  EXPECT_EQ(eng_->purge(), 0u);              // a refused delete is logged, never thrown
  EXPECT_EQ(db_->history("T1", clock_.now() - std::chrono::hours(1), clock_.now() + seconds(1), 100).size(), 1u);
  db_->full = false;  // space returns
  EXPECT_TRUE(eng_->flush(true));
  EXPECT_TRUE(eng_->metrics().last_commit_ok);
  EXPECT_EQ(commits_seen, after_first + 1);
  EXPECT_EQ(db_->history("T1", clock_.now() - std::chrono::hours(1), clock_.now() + seconds(1), 100).size(), 11u);
  const auto day = operating_day(clock_.now(), cfg_.zone);
  double t1 = 0;
  std::int64_t records = 0;
  for (const auto& r : db_->daily("T1", day - 1, day)) {
    t1 += r.totals.volume_m3;
    records += r.totals.records;
  }
  EXPECT_EQ(records, 11);
  EXPECT_NEAR(t1, 10.0, 1e-6);  // totals 101..111: 10 m3, once
}

// Issue 16 item 6: /api/summary adds up today's committed daily totals the engine keeps per
// terminal (engine::committed_today) instead of reading every daily row of the county. Those must
// be the store's rows at every moment: after commits, unchanged by a refused commit and not counted
// twice by its retry, after a registry reload that moves the terminal, after a restart, and on the
// new operating day after midnight (the old day no longer kept).
TEST_F(LinkOutageTest, TheCommittedDayTotalsAreTheStoresRowsThroughARefusedCommitAReloadARestartAndMidnight) {
  const auto expect_as_stored = [&](const std::string& id, const char* when) {
    SCOPED_TRACE(when);
    const auto day = operating_day(clock_.now(), cfg_.zone);
    const auto idx = eng_->terminals().find(id);
    ASSERT_TRUE(idx.has_value());
    const auto rows = db_->daily(id, day, day);
    const auto* kept = eng_->committed_today(*idx, day);
    if (rows.empty()) {
      EXPECT_EQ(kept, nullptr);
      return;
    }
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(kept->day, day);
    EXPECT_NEAR(kept->volume_m3, rows.front().totals.volume_m3, 1e-9);
    EXPECT_NEAR(kept->volume_estimated_m3, rows.front().totals.volume_estimated_m3, 1e-9);
    EXPECT_NEAR(kept->compliant_s, rows.front().totals.compliant_s, 1e-9);
    EXPECT_NEAR(kept->turbidity_ok_s, rows.front().totals.turbidity_ok_s, 1e-9);
  };
  const auto summary_volume = [&] {
    api routes(*eng_);
    const auto r = routes.handle({"GET", "/api/summary", "", ""});
    EXPECT_EQ(r.status, 200u) << r.body;
    return nlohmann::json::parse(r.body)["volume_today_m3"].get<double>();
  };
  const auto stored_volume = [&] {
    const auto day = operating_day(clock_.now(), cfg_.zone);
    double v = 0;
    for (const auto& r : db_->daily(std::nullopt, day, day)) v += r.totals.volume_m3 + r.totals.volume_estimated_m3;
    return v;
  };
  std::uint64_t seq = 1;
  const auto minute = [&] {
    clock_.advance(seconds(60));
    send("T1", seq, clock_.now());
    send("T2", seq, clock_.now());
    ++seq;
  };
  expect_as_stored("T1", "nothing received");
  for (int i = 0; i < 5; ++i) minute();
  ASSERT_TRUE(eng_->flush(true));
  expect_as_stored("T1", "after a commit");
  const auto committed_t1 = *eng_->committed_today(*eng_->terminals().find("T1"), operating_day(clock_.now(), cfg_.zone));
  EXPECT_GT(committed_t1.volume_m3, 0.0);

  db_->full = true;
  for (int i = 0; i < 3; ++i) minute();
  EXPECT_FALSE(eng_->flush(true));
  expect_as_stored("T1", "the commit refused");
  EXPECT_EQ(eng_->committed_today(*eng_->terminals().find("T1"), operating_day(clock_.now(), cfg_.zone))->volume_m3,
            committed_t1.volume_m3);
  EXPECT_FALSE(eng_->flush(true));  // a second refusal: the batch is kept once, not added twice
  db_->full = false;
  ASSERT_TRUE(eng_->flush(true));
  expect_as_stored("T1", "the retry committed");
  expect_as_stored("T2", "the retry committed");
  EXPECT_NEAR(summary_volume(), stored_volume(), 1e-3);

  // A reload that puts T1 elsewhere in the registry and adds a terminal.
  reg_ = registry({test::terminal("NEW", cfg_.defaults), test::terminal("T2", cfg_.defaults),
                   test::terminal("DEAD", cfg_.defaults), test::terminal("T1", cfg_.defaults)});
  minute();
  eng_->reload_registry(reg_);
  expect_as_stored("T1", "after the registry reload");
  expect_as_stored("T2", "after the registry reload");
  expect_as_stored("NEW", "after the registry reload");

  minute();
  ASSERT_TRUE(eng_->flush(true));
  open();  // a restart on the same store
  expect_as_stored("T1", "after a restart");
  EXPECT_NEAR(summary_volume(), stored_volume(), 1e-3);

  // Past local midnight (00:00 UTC is 08:00 in Shanghai): the new day starts from its own rows.
  const auto old_day = operating_day(clock_.now(), cfg_.zone);
  clock_.advance(std::chrono::hours(17));
  ASSERT_NE(operating_day(clock_.now(), cfg_.zone), old_day);
  expect_as_stored("T1", "the new day, nothing received yet");
  EXPECT_EQ(summary_volume(), 0.0);
  minute();
  minute();
  ASSERT_TRUE(eng_->flush(true));
  expect_as_stored("T1", "the new day");
  EXPECT_EQ(eng_->committed_today(*eng_->terminals().find("T1"), old_day), nullptr);
  EXPECT_NEAR(summary_volume(), stored_volume(), 1e-3);
  EXPECT_GT(stored_volume(), 0.0);
}

// Issue 17 defect 1 (delivery receipts, proto/receipt.hpp): a record's receipt is published only
// after the commit that stores it, for a duplicate too (its copy was stored before), never while
// the store refuses the commit, and not at all while the broker link is down (the agents send the
// records again on the gateway's birth, and those copies get their receipts).
TEST_F(LinkOutageTest, ReceiptsFollowTheCommitNameDuplicatesTooAndWaitForAStoreThatRefuses) {
  const auto receipts_for = [&](const std::string& id) {
    std::vector<proto::receipt_message> out;
    for (const auto& m : pub_.sent) {
      if (m.topic != proto::receipt_topic(id)) continue;
      EXPECT_FALSE(m.retained);
      auto d = proto::decode_receipt(m.payload);
      if (!d.ok()) {
        ADD_FAILURE() << m.payload << ": " << d.problems.front().to_string();
        continue;
      }
      out.push_back(*d.value);
    }
    return out;
  };
  using ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  for (std::uint64_t s : {1, 2, 3, 5}) send("T1", s, clock_.now());
  send("T2", 7, clock_.now());
  EXPECT_TRUE(receipts_for("T1").empty()) << "no receipt before the commit";
  ASSERT_TRUE(eng_->flush(true));
  ASSERT_EQ(receipts_for("T1").size(), 1u);
  EXPECT_EQ(receipts_for("T1")[0].epoch, "e1");
  EXPECT_EQ(receipts_for("T1")[0].seqs, (ranges{{1, 3}, {5, 5}}));
  ASSERT_EQ(receipts_for("T2").size(), 1u);
  EXPECT_EQ(receipts_for("T2")[0].seqs, (ranges{{7, 7}}));
  EXPECT_EQ(eng_->metrics().receipts_published, 2u);

  // A copy sent again (its receipt was lost with a broker) is a duplicate, and gets a receipt.
  pub_.sent.clear();
  send("T1", 2, clock_.now());
  EXPECT_EQ(eng_->metrics().duplicates, 1u);
  ASSERT_TRUE(eng_->flush(true));
  ASSERT_EQ(receipts_for("T1").size(), 1u);
  EXPECT_EQ(receipts_for("T1")[0].seqs, (ranges{{2, 2}}));

  // The store refuses: no receipt until the commit goes through.
  pub_.sent.clear();
  db_->full = true;
  send("T1", 6, clock_.now());
  send("T1", 5, clock_.now());  // a duplicate waits for the same commit
  EXPECT_FALSE(eng_->flush(true));
  EXPECT_TRUE(receipts_for("T1").empty());
  db_->full = false;
  ASSERT_TRUE(eng_->flush(true));
  ASSERT_EQ(receipts_for("T1").size(), 1u);
  EXPECT_EQ(receipts_for("T1")[0].seqs, (ranges{{5, 6}}));

  // The link is down: nothing is published, nothing kept for later.
  pub_.sent.clear();
  eng_->link_down();
  send("T1", 8, clock_.now());
  ASSERT_TRUE(eng_->flush(true));
  EXPECT_TRUE(receipts_for("T1").empty());
  EXPECT_EQ(eng_->metrics().receipts_skipped, 1u);
  eng_->link_up();
  send("T1", 9, clock_.now());
  ASSERT_TRUE(eng_->flush(true));
  ASSERT_EQ(receipts_for("T1").size(), 1u);
  EXPECT_EQ(receipts_for("T1")[0].seqs, (ranges{{9, 9}}));
}

}  // namespace
}  // namespace sewage::gateway
