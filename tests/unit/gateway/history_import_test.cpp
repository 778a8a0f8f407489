// The history room (history/import.hpp): recorded interval records imported through the engine.
#include "sewage/gateway/history/import.hpp"

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/engine/flow_normal.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace sewage::gateway {
namespace {

using test::at;

// Sunday 2026-11-01 00:00 local (UTC+8).
const auto day0 = at("2026-10-31T16:00:00Z");
constexpr int interval_s = 900;
constexpr int days = 8;

class HistoryImport : public ::testing::Test {
 protected:
  HistoryImport() : dir_("gw-history-import") {
    cfg_.store_path = dir_.path() / "g.db";
    std::vector<terminal_info> ts;
    for (const auto* id : {"T1", "T2"}) {
      auto t = test::terminal(id, cfg_.defaults);
      t.report_interval_s = interval_s;
      ts.push_back(t);
    }
    reg_ = registry(ts);
  }
  /// `days` of 15-min records of `id` (a day-shaped flow around `mean_m3h`), with its totalizer.
  static std::string records_of(const std::string& id, double mean_m3h) {
    std::string out;
    double total = 1000.0;
    for (int k = 1; k <= days * 86400 / interval_s; ++k) {
      const auto ts = day0 + std::chrono::seconds(k * interval_s);
      const int hour = (k * interval_s / 3600) % 24;
      const double rate = mean_m3h * (hour >= 6 && hour < 22 ? 1.4 : 0.3);
      total += rate * interval_s / 3600.0;
      auto r = test::with_flow(test::record(id, static_cast<std::uint64_t>(k), ts, "history"), rate, total);
      r.interval_s = interval_s;
      out += proto::encode(r) + "\n";
    }
    return out;
  }
  history::import_summary import(const std::string& text) {
    std::istringstream in(text);
    return history::import_records(cfg_, reg_, pipes_, in);
  }
  testing::temp_dir dir_;
  config cfg_;
  registry reg_;
  network::holder pipes_;
};

TEST_F(HistoryImport, SitesInAnyOrderAreJudgedInTimeOrderLearnedAndAnImportTwiceAddsNothing) {
  // T2's whole history before T1's, a blank line and two lines that are not importable.
  const std::string text = records_of("T2", 0.5) + "\n" + "{\"terminal_id\": \"T1\", \"seq\": 1}\n" +
                           "{\"terminal_id\":\"T9\",\"epoch\":\"h\",\"seq\":1,\"ts\":\"2026-11-02T00:00:00Z\","
                           "\"interval_s\":900,\"queue_depth\":0,\"dropped\":0}\n" +
                           records_of("T1", 1.0);
  const int per_site = days * 86400 / interval_s;
  const auto sum = import(text);
  EXPECT_EQ(sum.lines, 2u * per_site + 2);
  EXPECT_EQ(sum.accepted, 2u * per_site);
  EXPECT_EQ(sum.refused, 2u);
  EXPECT_EQ(sum.duplicates, 0u);
  EXPECT_EQ(sum.other, 0u);
  ASSERT_EQ(sum.problems.size(), 2u);
  // The line number and the payload's own problem with its field.
  EXPECT_EQ(sum.problems[0].rfind("line " + std::to_string(per_site + 2) + ": ", 0), 0u) << sum.problems[0];
  EXPECT_NE(sum.problems[0].find("/epoch"), std::string::npos) << sum.problems[0];
  EXPECT_EQ(sum.problems[1], "line " + std::to_string(per_site + 3) + ": terminal T9 is not in the registry");
  ASSERT_TRUE(sum.first && sum.last);
  EXPECT_EQ(*sum.first, day0 + std::chrono::seconds(interval_s));
  EXPECT_EQ(*sum.last, day0 + std::chrono::hours(24 * days));
  EXPECT_EQ(sum.alerts_raised, 0u) << "an ordinary week raises nothing";

  // The gateway started on the store has the weeks: daily volumes and the learned normal.
  {
    sqlite_store db(cfg_.store_path, 100);
    manual_clock clock(day0 + std::chrono::hours(24 * days));
    test::fake_publisher pub;
    engine eng(cfg_, reg_, db, clock, pub, default_rules());
    // The first live record of the next day has the normal computed from the stored hours.
    auto r = test::with_flow(test::record("T1", 1, day0 + std::chrono::hours(24 * days) + std::chrono::minutes(15)),
                             0.3, std::nullopt);
    r.interval_s = interval_s;
    clock.set(r.ts);
    eng.handle({proto::telemetry_topic("T1"), proto::encode(r), false, r.ts});
    const auto* n = eng.learned_normal("T1");
    ASSERT_NE(n, nullptr);
    // Monday..Friday of the history: every weekday hour learned from 5 days, 1.4 m3/h by day.
    EXPECT_FALSE(n->at(day_type::weekday, 10).prior);
    EXPECT_EQ(n->at(day_type::weekday, 10).days, 5u);
    EXPECT_NEAR(n->at(day_type::weekday, 10).median_m3h, 1.4, 1e-9);
    const auto monday = operating_day(at("2026-11-02T04:00:00Z"), cfg_.zone);
    const auto days_rows = db.daily(std::string("T1"), monday, monday);
    ASSERT_EQ(days_rows.size(), 1u);
    EXPECT_NEAR(days_rows[0].totals.volume_m3, 1.4 * 16 + 0.3 * 8, 1e-6);
  }

  // The same file again: everything is already stored.
  const auto again = import(text);
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 2u * per_site);
}

TEST_F(HistoryImport, AFlowLossInTheHistoryIsAnAlertOfItsTimeNotPublished) {
  // 8 ordinary days learn the weekdays; then T1 loses its flow on the next Monday morning
  // (no_flow while it normally flows, after the short debounce).
  std::string text = records_of("T1", 1.0);
  const auto monday = day0 + std::chrono::hours(24 * days);
  double total = 5000.0;
  for (int k = 1; k <= 12 * 3600 / interval_s; ++k) {
    const auto ts = monday + std::chrono::seconds(k * interval_s);
    auto r = test::with_flow(
        test::record("T1", static_cast<std::uint64_t>(days * 86400 / interval_s + k), ts, "history"), 0.0, total);
    r.interval_s = interval_s;
    text += proto::encode(r) + "\n";
  }
  const auto sum = import(text);
  EXPECT_GE(sum.alerts_raised, 1u);
  sqlite_store db(cfg_.store_path, 100);
  const auto open = db.alerts(true, std::string("T1"), 10);
  const auto no_flow = std::find_if(open.begin(), open.end(),
                                    [](const proto::alert_message& a) { return a.type == proto::alert_type::no_flow; });
  ASSERT_NE(no_flow, open.end());
  // Raised at its own time in the history (Monday morning, after the 1 h debounce of hours that
  // normally flow), not at the import's.
  EXPECT_GE(no_flow->raised_at, monday + std::chrono::hours(1));
  EXPECT_LE(no_flow->raised_at, monday + std::chrono::hours(12));
}

}  // namespace
}  // namespace sewage::gateway
