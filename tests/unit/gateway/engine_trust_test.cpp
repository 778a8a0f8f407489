// Issue 9, gateway side of "time stamps far from the truth" and "loss must be visible": the
// engine end to end without sockets (effective time, liveness by arrival, clock_skew both ways,
// exact de-duplication, missing records per terminal and day, late records filling holes).
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::at;

class EngineTrustTest : public ::testing::Test {
 protected:
  EngineTrustTest() : dir_("gw-trust"), clock_(at("2026-11-29T00:00:00Z")) {
    cfg_.startup_grace = seconds(0);
    cfg_.defaults.turbidity_debounce_s = 0;
    auto t1 = test::terminal("T1", cfg_.defaults);
    t1.report_interval_s = 5;  // the SBC example reports every 5 s
    reg_ = registry({t1, test::terminal("T2", cfg_.defaults)});
    open();
  }
  void open() {
    api_.reset();
    eng_.reset();
    db_.reset();
    db_ = std::make_unique<sqlite_store>(dir_.path() / "g.db", 100);
    cfg_.http_public_read = true;  // reads without login: these tests are not about identity (auth_test.cpp is)
    eng_ = std::make_unique<engine>(cfg_, reg_, *db_, clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  void send(const proto::telemetry_record& r) {
    eng_->handle({proto::telemetry_topic(r.terminal_id), proto::encode(r), false, clock_.now()});
  }
  json get(const std::string& target) {
    const auto r = api_->handle({"GET", target, "", ""});
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return json::parse(r.body);
  }
  std::size_t daily_rows(const std::string& id) {
    eng_->flush();
    return db_->daily(id, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()).size();
  }
  std::int64_t missing_on(const std::string& id, proto::timestamp t) {
    eng_->flush();
    const auto day = operating_day(t - std::chrono::milliseconds(1), cfg_.zone);
    const auto rows = db_->daily(id, day, day);
    return rows.empty() ? 0 : rows[0].missing_records;
  }
  bool open_alert(proto::alert_type type, const std::string& id = "T1") {
    for (const auto& [aid, a] : eng_->open_alerts())
      if (a.type == type && a.terminal_id == id) return true;
    return false;
  }
  std::size_t raised(proto::alert_type type, const std::string& id = "T1") {
    std::size_t n = 0;
    for (const auto& m : pub_.sent)
      if (m.topic == proto::alert_topic(id, type) && !m.payload.empty() &&
          json::parse(m.payload)["state"] == "raised")
        ++n;
    return n;
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  registry reg_;
  test::fake_publisher pub_;
  std::unique_ptr<sqlite_store> db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
};

// ---- section 2: time stamps far from the truth ----

TEST_F(EngineTrustTest, AClockAt1970ThenSteppedStaysOnlineRaisesClockSkewAndMakesNoHistoricDailyRows) {
  const auto start = clock_.now();
  const auto epoch1970 = at("1970-01-01T00:00:00Z");
  double total = 100.0;
  std::uint64_t seq = 0;
  // Ten minutes of records every 5 s, stamped from 1970 (an SBC without RTC).
  for (int k = 1; k <= 120; ++k) {
    clock_.set(start + seconds(5 * k));
    total += 0.01;
    send(test::with_flow(test::record("T1", ++seq, epoch1970 + seconds(5 * k)), 7.2, total));
    eng_->tick();
  }
  EXPECT_TRUE(eng_->online(0));  // a record every 5 s: online, whatever the stamps say
  EXPECT_FALSE(open_alert(proto::alert_type::offline));
  EXPECT_TRUE(open_alert(proto::alert_type::clock_skew));  // a clock running BEHIND is reported
  EXPECT_EQ(eng_->metrics().untrusted_stamps, 120u);
  // The clock is stepped; the first record after the step (interval_s as the agent bug sent it).
  clock_.set(start + seconds(5 * 121));
  auto stepped = test::with_flow(test::record("T1", ++seq, clock_.now()), 7.2, total + 0.01);
  stepped.interval_s = 86400;
  send(stepped);
  for (int k = 122; k <= 130; ++k) {
    clock_.set(start + seconds(5 * k));
    send(test::with_flow(test::record("T1", ++seq, clock_.now()), 7.2, total + 0.01 * (k - 120)));
    eng_->tick();
  }
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew));  // cleared once the clock agrees
  EXPECT_EQ(raised(proto::alert_type::clock_skew), 1u);
  EXPECT_FALSE(open_alert(proto::alert_type::offline));
  // Before: 20,788 daily rows (every operating day since 1970). Now: only the day of arrival.
  EXPECT_EQ(daily_rows("T1"), 1u);
  const auto today = operating_day(clock_.now(), cfg_.zone);
  const auto rows = db_->daily(std::string("T1"), today, today);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].totals.records, 130u);
  EXPECT_NEAR(rows[0].totals.volume_m3, 0.01 * 129, 1e-6);  // real increments only
  // History shows the 1970-stamped records at their arrival, flagged, with their stamp kept.
  const auto h = get("/api/terminals/T1/history?from=2026-11-28T23:00:00Z&to=2026-11-29T01:00:00Z");
  ASSERT_EQ(h["records"].size(), 130u);
  EXPECT_EQ(h["records"][0]["ts"], "1970-01-01T00:00:05Z");
  EXPECT_EQ(h["records"][0]["ts_trusted"], false);
  EXPECT_EQ(h["records"][0]["arrived_at"], "2026-11-29T00:00:05Z");
  EXPECT_EQ(h["records"][129]["ts_trusted"], true);
  // Retention runs a day later: nothing that arrived today is deleted because of its stamp.
  clock_.set(start + hours(24));
  EXPECT_EQ(eng_->purge(), 0u);
  EXPECT_EQ(db_->history("T1", start, start + hours(1), 1000).size(), 130u);
}

TEST_F(EngineTrustTest, AStampFrom2099FreezesNeitherRulesNorLatestNorVolume) {
  // T2: 60 s interval. Normal records, then one stamped 2099, then turbidity goes high.
  const auto t0 = clock_.now();
  send(test::with_flow(test::with_turbidity(test::record("T2", 1, t0), 2), 6, 10.0));
  clock_.set(t0 + minutes(1));
  send(test::with_flow(test::with_turbidity(test::record("T2", 2, at("2099-01-01T00:00:00Z")), 2), 6, 10.1));
  EXPECT_TRUE(open_alert(proto::alert_type::clock_skew, "T2"));
  for (int i = 3; i <= 6; ++i) {
    clock_.set(t0 + minutes(i - 1));
    send(test::with_flow(test::with_turbidity(test::record("T2", i, clock_.now()), 50), 6, 10.0 + 0.1 * (i - 1)));
  }
  EXPECT_TRUE(open_alert(proto::alert_type::turbidity_high, "T2"));  // the event clock moved on
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew, "T2"));
  ASSERT_TRUE(eng_->runtime(1).snap.latest.has_value());
  EXPECT_EQ(eng_->runtime(1).snap.latest->seq, 6u);  // "latest" is not stuck at 2099
  EXPECT_EQ(daily_rows("T2"), 1u);                   // no row in 2099
  const auto day = operating_day(t0, cfg_.zone);
  EXPECT_NEAR(db_->daily(std::string("T2"), day, day).at(0).totals.volume_m3, 0.5, 1e-9);
}

TEST_F(EngineTrustTest, AClockOneHourBehindIsOnlineAndSkewedWhileABacklogIsNeither) {
  // T2 reports every 60 s. First a backlog: two hours queued at the agent, drained in a burst;
  // its stamps are up to 2 h old but the offset shrinks by an interval per record.
  const auto t0 = clock_.now() + hours(3);
  clock_.set(t0);
  std::uint64_t seq = 0;
  for (int i = 120; i >= 1; --i) {
    clock_.set(clock_.now() + std::chrono::milliseconds(20));
    send(test::record("T2", ++seq, t0 - minutes(i)));
  }
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew, "T2"));
  EXPECT_EQ(raised(proto::alert_type::clock_skew), 0u);
  // Then live records; after a while the terminal's clock falls one hour behind (inside the trust
  // window, but from the third record of the steady stream on their arrival is their event
  // time), records still every 60 s.
  for (int i = 1; i <= 5; ++i) {
    clock_.set(t0 + minutes(i));
    send(test::record("T2", ++seq, clock_.now()));
    eng_->tick();
  }
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew, "T2"));
  for (int i = 6; i <= 15; ++i) {
    clock_.set(t0 + minutes(i));
    send(test::record("T2", ++seq, clock_.now() - hours(1)));
    eng_->tick();
  }
  EXPECT_TRUE(eng_->online(1));
  EXPECT_FALSE(open_alert(proto::alert_type::offline, "T2"));
  EXPECT_TRUE(open_alert(proto::alert_type::clock_skew, "T2"));
  // Fixed: the stamps agree again and the episode clears.
  for (int i = 16; i <= 17; ++i) {
    clock_.set(t0 + minutes(i));
    send(test::record("T2", ++seq, clock_.now()));
  }
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew, "T2"));
}

// chaos_short in CI (2026-12-04): a terminal's clock stepped back 900 s, beyond the live window
// (3 x 60 s). Its next records were stamped 15 min in the past, so none proved it alive until a
// steady stream of three had formed: 3 intervals, the offline limit itself, and a little jitter
// raised a false offline. The next record of an alive stream (seq + 1, within the live window of
// its predecessor) proves the terminal alive whatever its stamp; a backlog still proves nothing.
TEST_F(EngineTrustTest, AClockSteppedBackBeyondTheLiveWindowStaysOnlineWhileABacklogAfterItProvesNothing) {
  const auto t0 = clock_.now() + hours(1);
  std::uint64_t seq = 0;
  auto arrive = [&](proto::timestamp arrival, proto::timestamp stamp) {
    clock_.set(arrival);
    send(test::record("T2", ++seq, stamp));
    eng_->tick();
  };
  for (int i = 0; i < 5; ++i) arrive(t0 + minutes(i), t0 + minutes(i));
  EXPECT_TRUE(eng_->online(1));
  // The step back: records 75 s apart (a slow, loaded SBC), stamped 900 s behind. The third
  // arrives 225 s after the last record stamped right; the clock is ticked every 15 s between.
  auto t = t0 + minutes(4);
  for (int i = 0; i < 6; ++i) {
    for (int q = 1; q < 5; ++q) {
      clock_.set(t + seconds(15 * q));
      eng_->tick();
    }
    t += seconds(75);
    arrive(t, t - seconds(900));
    EXPECT_TRUE(eng_->online(1)) << "record " << i + 1 << " after the step";
  }
  EXPECT_EQ(raised(proto::alert_type::offline, "T2"), 0u);
  EXPECT_EQ(raised(proto::alert_type::clock_skew, "T2"), 1u);  // the step itself is what is reported
  // A link outage of 10 min: offline, rightly. Its backlog arrives in a burst, each record the
  // next of the one before and within the live window of it, but the first came 10 min after the
  // last alive one: the burst proves nothing and the alert stays open until a live record.
  const auto outage_from = t;
  for (int q = 1; q <= 40; ++q) {
    clock_.set(outage_from + seconds(15 * q));
    eng_->tick();
  }
  EXPECT_EQ(raised(proto::alert_type::offline, "T2"), 1u);
  const auto back = clock_.now();
  for (int i = 1; i <= 9; ++i)
    arrive(back + std::chrono::milliseconds(20 * i), outage_from + minutes(i) - seconds(900));
  EXPECT_FALSE(eng_->online(1));
  EXPECT_TRUE(open_alert(proto::alert_type::offline, "T2"));
}

// Noticed in the chaos runs (issue 17): a broker path lagging steadily behind (the gateway's
// queue at the broker staying 6 minutes long) delivers every terminal's live records 6 min after
// their stamps, in a steady stream, which looked like every terminal's clock 6 min behind. The
// loopback probes measure that delay: a stamp behind by no more than it is the path's, so no
// clock_skew and the stamps are kept. A clock 15 min behind on the same path is still wrong; and
// without probes (the control) the same 6 min are taken for a wrong clock.
TEST_F(EngineTrustTest, ABrokerPathLaggingSteadilyIsNotEveryTerminalsClockOff) {
  reg_ = registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)});  // both 60 s
  open();
  const auto t0 = clock_.now() + hours(1);
  const auto lag = minutes(6);
  std::uint64_t seq = 0;
  for (int i = 1; i <= 15; ++i) {
    clock_.set(t0 + minutes(i));
    eng_->broker_path_proven(clock_.now() - lag, lag);  // this minute's probe came back after 6 min
    ++seq;
    send(test::record("T2", seq, clock_.now() - lag));                 // on time, delayed on the way
    send(test::record("T1", seq, clock_.now() - lag - minutes(15)));  // its clock 15 min behind
    eng_->tick();
  }
  EXPECT_EQ(raised(proto::alert_type::clock_skew, "T2"), 0u);
  EXPECT_TRUE(open_alert(proto::alert_type::clock_skew, "T1"));
  eng_->flush();
  const auto rows = db_->history("T2", t0 - hours(1), t0 + hours(1), 100);
  ASSERT_EQ(rows.size(), 15u);
  for (const auto& r : rows) EXPECT_TRUE(r.ts_trusted) << proto::format_timestamp(r.record.ts);

  // Control: a gateway without probe echoes cannot tell the path from the clock.
  open();
  for (int i = 16; i <= 30; ++i) {
    clock_.set(t0 + minutes(i));
    send(test::record("T2", static_cast<std::uint64_t>(i), clock_.now() - lag));
    eng_->tick();
  }
  EXPECT_TRUE(open_alert(proto::alert_type::clock_skew, "T2"));
}

TEST_F(EngineTrustTest, AWrongClockReportingFasterThanExpectedIsStillLive) {
  // T2 is registered at 60 s but reports every 5 s (no birth message yet), clock at 1970.
  const auto start = clock_.now();
  for (int k = 1; k <= 2; ++k) {
    clock_.set(start + seconds(5 * k));
    send(test::record("T2", static_cast<std::uint64_t>(k), at("1970-01-01T00:00:00Z") + seconds(5 * k)));
  }
  EXPECT_FALSE(eng_->online(1));  // two records could be the tail of a backlog
  clock_.set(start + seconds(15));
  send(test::record("T2", 3, at("1970-01-01T00:00:15Z")));
  EXPECT_TRUE(eng_->online(1));
  // A burst (20 ms apart) with the same stamps' spacing never counts as steady.
  for (std::uint64_t k = 4; k <= 10; ++k) {
    clock_.set(clock_.now() + std::chrono::milliseconds(20));
    send(test::record("T2", k, clock_.now() - hours(2) + minutes(k)));
  }
  EXPECT_EQ(eng_->runtime(1).snap.steady_run, 0u);
}

TEST_F(EngineTrustTest, TheTrustWindowIsConfigurablePerTerminal) {
  auto t2 = test::terminal("T2", cfg_.defaults);
  t2.limits.clock_trust_behind_s = 3600;
  reg_ = registry({test::terminal("T1", cfg_.defaults), t2});
  open();
  const auto now = clock_.now();
  send(test::record("T2", 1, now - minutes(59)));  // inside: event time = stamp
  send(test::record("T2", 2, now - minutes(61)));  // outside: event time = arrival
  eng_->flush();
  const auto rows = db_->history("T2", now - hours(2), now + hours(1), 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].ts_trusted);
  EXPECT_FALSE(rows[1].ts_trusted);
  EXPECT_EQ(rows[1].effective_ts(), now);
  EXPECT_EQ(effective_ts(now - minutes(61), now, t2.limits), now);
  EXPECT_EQ(effective_ts(now + seconds(299), now, t2.limits), now + seconds(299));
  EXPECT_EQ(effective_ts(now + seconds(301), now, t2.limits), now);
}

// Issue 17 (chaos, 168 h): a terminal's clock stepped back 900 s at 23:53 local and forward again
// at 00:15. Its live records were stamped inside the trust window, so the stamps were used: the
// volume of 23:53-00:15 went to the day before (HY-YC-005, +0.92 % / -0.95 %). Both directions
// of a step across local midnight, with the agent restarted (two minutes without records) at each
// step as sewage-sim does it: each operating day gets exactly its own volume.
class ClockStepAcrossMidnight : public EngineTrustTest, public ::testing::WithParamInterface<int> {};

TEST_P(ClockStepAcrossMidnight, BooksEachDaysVolumeOnItsOwnDay) {
  const int skew_s = GetParam();
  const auto midnight = at("2026-12-01T16:00:00Z");  // local midnight of 2026-12-02 (Asia/Shanghai)
  const auto first = midnight - hours(1);
  const auto step_back = midnight - minutes(7);     // 23:53 local
  const auto step_forward = midnight + minutes(15);  // 00:15 local
  const auto restarting = [&](proto::timestamp t) {
    return (t >= step_back && t < step_back + minutes(2)) || (t >= step_forward && t < step_forward + minutes(2));
  };
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> skewed;
  for (auto t = first; t <= midnight + hours(1); t += minutes(1)) {
    if (restarting(t)) continue;  // the agent restarts with its clock shifted (or unshifted)
    clock_.set(t + std::chrono::milliseconds(250));  // 250 ms on the way
    const bool off = t >= step_back && t < step_forward;
    const double total = 100.0 + 0.1 * static_cast<double>((t - first) / minutes(1));  // 6 m3/h
    send(test::with_flow(test::record("T2", ++seq, off ? t + seconds(skew_s) : t), 6, total));
    if (off) skewed.push_back(seq);
    eng_->tick();
  }
  EXPECT_EQ(raised(proto::alert_type::clock_skew, "T2"), 1u);
  EXPECT_FALSE(open_alert(proto::alert_type::clock_skew, "T2"));
  eng_->flush();
  const auto day1 = operating_day(midnight - seconds(1), cfg_.zone);
  const auto rows = db_->daily(std::string("T2"), day1, day1 + 1);
  ASSERT_EQ(rows.size(), 2u);
  // A live record's arrival is its event time within its transport delay (250 ms here, booked
  // after midnight): one second of flow is the tolerance (before the fix, stepped back, the
  // skewed minutes after midnight were booked on the day before).
  const double one_second_m3 = 0.1 / 60.0;
  EXPECT_NEAR(rows[0].totals.volume_m3, 6.0, one_second_m3) << "23:00-24:00 local, skew " << skew_s << " s";
  EXPECT_NEAR(rows[1].totals.volume_m3, 6.0, one_second_m3) << "00:00-01:00 local, skew " << skew_s << " s";
  // History: the skewed records a steady stream proved live are listed at their arrival.
  const auto h = get("/api/terminals/T2/history?from=2026-12-01T14:00:00Z&to=2026-12-01T18:00:00Z");
  std::size_t untrusted = 0;
  for (const auto& r : h["records"]) untrusted += r["ts_trusted"] == false ? 1 : 0;
  // Ahead by 900 s is outside the trust window from the first record; behind, from the third
  // (steady_records_for_live): the first two are older than the totalizer cursor and count nothing.
  EXPECT_EQ(untrusted, skew_s > 0 ? skewed.size() : skewed.size() - steady_records_for_live);
}

INSTANTIATE_TEST_SUITE_P(Steps, ClockStepAcrossMidnight, ::testing::Values(-900, 900, -3600),
                         [](const auto& info) { return info.param < 0 ? "Back" + std::to_string(-info.param) + "s"
                                                                      : "Forward" + std::to_string(info.param) + "s"; });

TEST_F(EngineTrustTest, ABacklogDrainedAcrossMidnightKeepsItsStamps) {
  // The same minutes queued by a link outage and drained in a burst after midnight: the stamps are
  // right (the offset shrinks an interval per record), so they, not the arrival, place the volume.
  const auto midnight = at("2026-12-01T16:00:00Z");
  const auto first = midnight - hours(1);
  std::uint64_t seq = 0;
  for (auto t = first; t <= midnight + hours(1); t += minutes(1)) {
    const double total = 100.0 + 0.1 * static_cast<double>((t - first) / minutes(1));
    const bool queued = t >= midnight - minutes(30) && t < midnight + minutes(30);
    if (!queued) clock_.set(t + std::chrono::milliseconds(250));
    else if (t == midnight + minutes(29)) clock_.set(t + seconds(10));
    if (queued && t < midnight + minutes(29)) continue;
    if (t == midnight + minutes(29)) {
      for (auto q = midnight - minutes(30); q <= t; q += minutes(1)) {
        clock_.set(clock_.now() + std::chrono::milliseconds(20));
        send(test::with_flow(test::record("T2", ++seq, q), 6, 100.0 + 0.1 * static_cast<double>((q - first) / minutes(1))));
      }
      continue;
    }
    send(test::with_flow(test::record("T2", ++seq, t), 6, total));
    eng_->tick();
  }
  EXPECT_EQ(raised(proto::alert_type::clock_skew, "T2"), 0u);
  eng_->flush();
  const auto day1 = operating_day(midnight - seconds(1), cfg_.zone);
  const auto rows = db_->daily(std::string("T2"), day1, day1 + 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NEAR(rows[0].totals.volume_m3, 6.0, 1e-9);
  EXPECT_NEAR(rows[1].totals.volume_m3, 6.0, 1e-9);
  EXPECT_EQ(eng_->metrics().untrusted_stamps, 0u);
}

// ---- section 5: loss must be visible ----

TEST_F(EngineTrustTest, ARecordFarBelowTheHighestSeqNeverSeenIsFresh) {
  const auto t0 = clock_.now() - hours(4);
  for (std::uint64_t s = 1; s <= 200; ++s)
    if (s != 100) send(test::record("T2", s, t0 + minutes(s)));
  EXPECT_EQ(eng_->metrics().missing_records, 1u);
  send(test::record("T2", 100, t0 + minutes(100)));  // 100 below the highest, never seen
  EXPECT_EQ(eng_->metrics().records_accepted, 200u);
  EXPECT_EQ(eng_->metrics().duplicates, 0u);
  EXPECT_EQ(eng_->metrics().missing_records, 0u);
  send(test::record("T2", 100, t0 + minutes(100)));
  EXPECT_EQ(eng_->metrics().duplicates, 1u);
}

TEST_F(EngineTrustTest, DuplicatesAreRefusedAfterARestartAndAcrossEpochs) {
  const auto t0 = clock_.now() - hours(1);
  for (std::uint64_t s : {1, 2, 3, 10, 11})
    send(test::with_flow(test::record("T2", s, t0 + minutes(s), "a"), 60, 100.0 + s));
  for (std::uint64_t s : {1, 2}) send(test::record("T2", s, t0 + minutes(20 + s), "b"));  // new queue
  eng_->flush();
  open();
  EXPECT_EQ(eng_->metrics().missing_records, 6u);  // a: 4..9 never received; b: none
  for (std::uint64_t s : {1, 2, 3, 10, 11}) send(test::record("T2", s, t0 + minutes(s), "a"));
  for (std::uint64_t s : {1, 2}) send(test::record("T2", s, t0 + minutes(20 + s), "b"));
  EXPECT_EQ(eng_->metrics().duplicates, 7u);
  EXPECT_EQ(eng_->metrics().records_accepted, 0u);
  send(test::record("T2", 5, t0 + minutes(5), "a"));  // a late record of the left epoch fills a hole
  EXPECT_EQ(eng_->metrics().records_accepted, 1u);
  EXPECT_EQ(eng_->metrics().missing_records, 5u);
  eng_->flush();
  open();
  EXPECT_EQ(eng_->metrics().missing_records, 5u);
  send(test::record("T2", 5, t0 + minutes(5), "a"));
  EXPECT_EQ(eng_->metrics().duplicates, 1u);
}

TEST_F(EngineTrustTest, AGapIsCountedOnItsDaysShownInTheApiAndGoesDownWhenFilled) {
  // T2, one record a minute. Operating days end at 16:00 UTC. seq 1 at 15:55, then 2..11 lost,
  // then seq 12 at 16:06: the lost records were due 15:56..16:05, five on each day.
  const auto t0 = at("2026-11-29T15:55:00Z");
  clock_.set(t0);
  send(test::record("T2", 1, t0));
  clock_.set(t0 + minutes(11));
  send(test::record("T2", 12, t0 + minutes(11)));
  EXPECT_EQ(eng_->metrics().missing_records, 10u);
  EXPECT_EQ(missing_on("T2", t0), 5);
  EXPECT_EQ(missing_on("T2", t0 + minutes(11)), 5);
  auto t = get("/api/terminals/T2");
  EXPECT_EQ(t["missing_records"], 10);
  EXPECT_EQ(t["missing_seq_ranges"], json::parse("[[2, 11]]"));
  EXPECT_EQ(get("/api/terminals")["terminals"][1]["missing_records"], 10);
  auto d = get("/api/terminals/T2/daily?from=2026-11-29&to=2026-11-30");
  ASSERT_EQ(d["days"].size(), 2u);
  EXPECT_EQ(d["days"][0]["missing_records"], 5);
  EXPECT_EQ(d["days"][0]["complete"], false);
  EXPECT_EQ(d["days"][1]["missing_records"], 5);
  const auto metrics = api_->handle({"GET", "/metrics", "", ""}).body;
  EXPECT_NE(metrics.find("sewage_gateway_missing_records 10"), std::string::npos);
  // The late records arrive (the agent replays): accepted, and the counts go down.
  for (std::uint64_t s = 2; s <= 11; ++s) send(test::record("T2", s, t0 + minutes(s - 1)));
  EXPECT_EQ(eng_->metrics().records_accepted, 12u);
  EXPECT_EQ(eng_->metrics().missing_records, 0u);
  d = get("/api/terminals/T2/daily?from=2026-11-29&to=2026-11-30");
  EXPECT_EQ(d["days"][0]["missing_records"], 0);
  EXPECT_EQ(d["days"][0]["complete"], true);
  EXPECT_EQ(d["days"][1]["complete"], true);
  t = get("/api/terminals/T2");
  EXPECT_EQ(t["missing_records"], 0);
  EXPECT_TRUE(t["missing_seq_ranges"].empty());
}

TEST_F(EngineTrustTest, ManyHolesStayExactPastTheMemoryBound) {
  // Every other record lost for 2 x the in-memory bound: the lowest ranges move to the store.
  const auto t0 = clock_.now() - hours(24);
  const std::uint64_t n = 2 * default_max_seq_ranges + 10;
  for (std::uint64_t s = 1; s <= 2 * n; s += 2) send(test::record("T2", s, t0 + seconds(10 * s)));
  EXPECT_LE(eng_->runtime(1).snap.seen.ranges().size(), default_max_seq_ranges);
  EXPECT_GT(eng_->runtime(1).snap.seen.spill_floor(), 0u);
  EXPECT_EQ(eng_->metrics().missing_records, n - 1);
  eng_->flush();
  open();
  send(test::record("T2", 1, t0 + seconds(10)));  // spilled and stored: still a duplicate
  send(test::record("T2", 3, t0 + seconds(30)));
  EXPECT_EQ(eng_->metrics().duplicates, 2u);
  send(test::record("T2", 2, t0 + seconds(20)));  // a hole below the floor: fresh once
  send(test::record("T2", 2, t0 + seconds(20)));
  EXPECT_EQ(eng_->metrics().records_accepted, 1u);
  EXPECT_EQ(eng_->metrics().duplicates, 3u);
  EXPECT_EQ(eng_->metrics().missing_records, n - 2);
}

}  // namespace
}  // namespace sewage::gateway
