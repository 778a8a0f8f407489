// SQLite store: schema migration from version 1, round trips, bounded dead letters, retention that
// keeps daily aggregates.
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace sewage::gateway {
namespace {

using test::at;

TEST(SqliteStore, MigratesAVersionOneDatabaseKeepingItsData) {
  testing::temp_dir dir("gw-store");
  const auto path = dir.path() / "old.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sqlite_schema_v1_sql(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO daily(terminal, day, volume_m3, turbidity_sum_ntu, turbidity_count,"
                           " turbidity_max_ntu, compliant_count, records) VALUES('T1', 20000, 12.5, 8, 2, 5, 2, 2);"
                           "INSERT INTO alerts(id, terminal, type, state, raised_ms, message)"
                           " VALUES(7, 'T1', 'no_flow', 'raised', 1000, 'm');"
                           // T1 is on epoch e2 and was on e1 before; T2 never sent a record
                           "INSERT INTO terminal_state(terminal, epoch, latest_arrival_ms, status_arrival_ms, total_m3,"
                           " total_ts_ms, total_valid, rules, rule_clock_ms, last_alive_ms, grace_until_ms, will)"
                           " VALUES('T1', 'e2', 0, 0, 0, 0, 0, '', 0, 5, 0, 0), ('T2', '', 0, 0, 0, 0, 0, '', 0, 0, 0, 0);"
                           "INSERT INTO dedup(terminal, epoch, max_seq, below) VALUES('T1', 'e1', 900, 7), ('T1', 'e2', 41, 3);"
                           "PRAGMA user_version=1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  sqlite_store s(path, 100);
  EXPECT_EQ(s.schema_version(), sqlite_schema_version);
  const auto rows = s.daily(std::string("T1"), 20000, 20000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].totals.volume_m3, 12.5);
  EXPECT_DOUBLE_EQ(rows[0].totals.volume_estimated_m3, 0.0);  // the new column's default
  // Version 4: good-turbidity time estimated as 60 s per record (the old record share is kept).
  EXPECT_DOUBLE_EQ(rows[0].totals.turbidity_ok_s, 120.0);
  EXPECT_DOUBLE_EQ(rows[0].totals.compliant_s, 120.0);
  EXPECT_EQ(rows[0].totals.totalizer_glitches, 0u);
  EXPECT_EQ(s.max_alert_id(), 7u);
  ASSERT_EQ(s.alerts(true, std::nullopt, 10).size(), 1u);
  // Version 3 moved the current epoch's de-dup window into terminal_state; version 5 turned both
  // windows into exact seq sets: max 41 with bits 0b11 (40, 39) and 1..(41-65) none -> {39..41};
  // max 900 with bits 0b111 -> 1..835 (the window's "too old") and 897..900.
  bool seen_t1 = false;
  for (const auto& t : s.load_terminals()) {
    if (t.terminal_id != "T1") continue;
    seen_t1 = true;
    EXPECT_EQ(t.epoch, "e2");
    EXPECT_EQ(t.seen.max_seq(), 41u);
    EXPECT_EQ(t.seen.ranges(), (std::vector<seq_range>{{39, 41}}));
  }
  EXPECT_TRUE(seen_t1);
  ASSERT_TRUE(s.load_dedup("T1", "e1").has_value());
  EXPECT_EQ(s.load_dedup("T1", "e1")->max_seq(), 900u);
  EXPECT_EQ(s.load_dedup("T1", "e1")->ranges(), (std::vector<seq_range>{{1, 835}, {897, 900}}));
  EXPECT_EQ(s.load_dedup("T1", "e1")->missing(), 61u);
  EXPECT_EQ(s.load_dedup("T1", "e2")->max_seq(), 41u);
  EXPECT_EQ(s.missing_in_left_epochs(), 61u);  // e1 (left); e2 is T1's current epoch
  EXPECT_FALSE(s.load_dedup("T2", "e1").has_value());
  // New writes use the new column.
  write_batch b;
  daily_delta d;
  d.day = 20000;
  d.volume_estimated_m3 = 1.25;
  d.turbidity_ok_s = 30;
  d.compliant_s = 10;
  d.totalizer_glitches = 2;
  b.daily.push_back({"T1", d});
  s.apply(b);
  const auto after = s.daily(std::string("T1"), 20000, 20000).at(0).totals;
  EXPECT_DOUBLE_EQ(after.volume_estimated_m3, 1.25);
  EXPECT_DOUBLE_EQ(after.turbidity_ok_s, 150.0);  // increments, like every daily column
  EXPECT_DOUBLE_EQ(after.compliant_s, 130.0);
  EXPECT_EQ(after.totalizer_glitches, 2u);
}

TEST(SqliteStore, RefusesANewerSchema) {
  testing::temp_dir dir("gw-store");
  const auto path = dir.path() / "new.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99;", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_THROW(sqlite_store(path, 10), store_error);
}

TEST(SqliteStore, RoundTripsStateAlertsAndHistory) {
  testing::temp_dir dir("gw-store");
  const auto path = dir.path() / "g.db";
  {
    sqlite_store s(path, 100);
    write_batch b;
    auto rec = test::with_turbidity(test::record("T1", 5, at("2026-11-29T01:00:00Z")), 3.5);
    b.records.push_back({rec, at("2026-11-29T01:00:01Z"), ""});
    b.records.push_back({rec, at("2026-11-29T01:00:02Z"), ""});  // same key: ignored
    terminal_snapshot t;
    t.terminal_id = "T1";
    t.epoch = "e1";
    t.seen = seq_set({{1, 2}, {5, 5}}, 3, 0);
    t.latest = rec;
    t.cursor = {10.5, 1234, true, 2, 0.25, 1300, 0.75, 1400, 0.0125};  // in the middle of a suspect series
    t.rules[2] = rule_state{99, 1.5, true, false};
    t.last_alive_ms = 42;
    b.terminals.push_back(t);
    proto::alert_message a;
    a.terminal_id = "T1";
    a.type = proto::alert_type::turbidity_high;
    a.alert_id = 3;
    a.raised_at = at("2026-11-29T01:00:00Z");
    a.value = 12;
    a.threshold = 10;
    a.message = "high";
    b.alerts.push_back(a);
    b.transitions.push_back({3, proto::alert_state::raised, a.raised_at, "", "high"});
    s.apply(b);
  }
  sqlite_store s(path, 100);
  const auto terms = s.load_terminals();
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0].seen, seq_set({{1, 2}, {5, 5}}, 3, 0));
  EXPECT_EQ(terms[0].cursor, (totalizer_cursor{10.5, 1234, true, 2, 0.25, 1300, 0.75, 1400, 0.0125}));
  EXPECT_EQ(terms[0].rules[2], (rule_state{99, 1.5, true, false}));
  ASSERT_TRUE(terms[0].latest.has_value());
  EXPECT_EQ(terms[0].latest->seq, 5u);
  EXPECT_EQ(s.load_dedup("T1", "e1"), seq_set({{1, 2}, {5, 5}}, 3, 0));
  EXPECT_FALSE(s.load_dedup("T1", "e2").has_value());
  EXPECT_EQ(s.history("T1", at("2026-11-29T00:00:00Z"), at("2026-11-30T00:00:00Z"), 100).size(), 1u);
  const auto open = s.alerts(true, std::string("T1"), 10);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].value, 12.0);
  EXPECT_EQ(s.transitions(3).size(), 1u);
}

TEST(SqliteStore, DeadLettersAreBounded) {
  testing::temp_dir dir("gw-store");
  sqlite_store s(dir.path() / "g.db", 5);
  for (int i = 0; i < 12; ++i) {
    write_batch b;
    b.dead_letters.push_back({0, at("2026-11-29T01:00:00Z"), "t/" + std::to_string(i), "syntax", "bad", "{"});
    s.apply(b);
  }
  const auto rows = s.dead_letters(100);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows.front().topic, "t/11");
}

TEST(SqliteStore, SpilledRangesAndLeftEpochSetsPersist) {
  testing::temp_dir dir("gw-store");
  sqlite_store s(dir.path() / "g.db", 5);
  write_batch b;
  b.spilled.push_back({"T1", "e1", {1, 10}});
  b.spilled.push_back({"T1", "e1", {20, 20}});
  b.retired_sets.push_back({"T1", "e0", seq_set({{1, 5}, {9, 9}}, 6, 0)});
  s.apply(b);
  EXPECT_TRUE(s.spilled_contains("T1", "e1", 1));
  EXPECT_TRUE(s.spilled_contains("T1", "e1", 10));
  EXPECT_FALSE(s.spilled_contains("T1", "e1", 11));
  EXPECT_TRUE(s.spilled_contains("T1", "e1", 20));
  EXPECT_FALSE(s.spilled_contains("T1", "e2", 5));
  EXPECT_EQ(s.load_dedup("T1", "e0"), seq_set({{1, 5}, {9, 9}}, 6, 0));
  EXPECT_EQ(s.missing_in_left_epochs(), 3u);
}

TEST(SqliteStore, DailyMissingRecordsAddUpAndNeverGoNegative) {
  testing::temp_dir dir("gw-store");
  sqlite_store s(dir.path() / "g.db", 5);
  const auto add = [&](std::int64_t n) {
    write_batch b;
    daily_row r{"T1", daily_delta{}, n};
    r.totals.day = 20000;
    b.daily.push_back(r);
    s.apply(b);
    return s.daily(std::string("T1"), 20000, 20000).at(0).missing_records;
  };
  EXPECT_EQ(add(5), 5);
  EXPECT_EQ(add(-2), 3);
  EXPECT_EQ(add(-7), 0);
}

TEST(SqliteStore, UntrustedStampsAreListedAndPurgedByArrival) {
  testing::temp_dir dir("gw-store");
  sqlite_store s(dir.path() / "g.db", 5);
  write_batch b;
  const auto now = at("2026-11-29T00:00:00Z");
  // A record stamped 1970 that arrived now (untrusted: kept at its arrival time) ...
  b.records.push_back({test::record("T1", 1, at("1970-01-01T00:00:05Z")), now, "", false});
  // ... and one written by an older gateway with the 1970 stamp as its time.
  b.records.push_back({test::record("T1", 2, at("1970-01-01T00:00:10Z")), now, "", true});
  s.apply(b);
  const auto rows = s.history("T1", now - std::chrono::hours(1), now + std::chrono::hours(1), 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].ts_trusted);
  EXPECT_EQ(rows[0].record.ts, at("1970-01-01T00:00:05Z"));  // the agent's stamp is kept
  EXPECT_EQ(rows[0].arrival, now);
  // Retention 400 days before now deletes neither: both arrived now.
  EXPECT_EQ(s.purge_records_before(now - std::chrono::days(400)), 0u);
  EXPECT_EQ(s.purge_records_before(now + std::chrono::hours(1)), 2u);
}

TEST(SqliteStore, RetentionDeletesRawRecordsButKeepsDailyRows) {
  testing::temp_dir dir("gw-store");
  sqlite_store s(dir.path() / "g.db", 5);
  write_batch b;
  b.records.push_back({test::record("T1", 1, at("2025-01-01T00:00:00Z")), at("2025-01-01T00:00:00Z"), ""});
  b.records.push_back({test::record("T1", 2, at("2026-11-29T00:00:00Z")), at("2026-11-29T00:00:00Z"), ""});
  daily_delta d;
  d.day = 20089;
  d.volume_m3 = 3;
  b.daily.push_back({"T1", d});
  s.apply(b);
  EXPECT_EQ(s.purge_records_before(at("2026-01-01T00:00:00Z")), 1u);
  EXPECT_EQ(s.history("T1", at("2000-01-01T00:00:00Z"), at("2030-01-01T00:00:00Z"), 10).size(), 1u);
  EXPECT_EQ(s.daily(std::nullopt, 20089, 20089).size(), 1u);
}

}  // namespace
}  // namespace sewage::gateway
