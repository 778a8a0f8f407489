// The monthly operations report (issue 10 item 6): exact figures on a small hand-made store (two
// towns, three terminals, faults of several types resolved and open, days with missing records),
// month boundaries in the county zone (incl. daylight saving), CSV quoting, bad month values,
// and the read route GET /api/report with its JSON and CSV answers.
#include "sewage/gateway/report.hpp"

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;

const std::string town_a = "武原镇";  // Wuyuan
const std::string town_b = "Tongyuan";

/// One daily row: `volume` measured + `estimated` m3, `records`, `missing` records never received,
/// compliant / good-turbidity seconds.
daily_row day_row(const std::string& id, const char* day, double volume, double estimated, std::uint32_t records,
                  std::int64_t missing, double compliant_s, double ok_s) {
  daily_row r;
  r.terminal_id = id;
  r.totals.day = *parse_day(day);
  r.totals.volume_m3 = volume;
  r.totals.volume_estimated_m3 = estimated;
  r.totals.records = records;
  r.totals.compliant_s = compliant_s;
  r.totals.turbidity_ok_s = ok_s;
  r.missing_records = missing;
  return r;
}

using test::episode;

terminal_info term(const std::string& id, const std::string& name, const std::string& town) {
  auto t = test::terminal(id);
  t.name = name;
  t.town = town;
  return t;
}

/// The hand-made county. Report interval 3600 s (24 records a day); the clock stands at
/// 2026-11-30T08:00:00Z = 16:00 on 30 November in Asia/Shanghai (the month's last day, 16 h in).
///   A1 (town A) registered at the start of local 28 Nov; A2 (town A) at local 29 Nov 12:00;
///   B1 (town B) known from before (registered at the epoch).
class ReportTest : public ::testing::Test {
 protected:
  ReportTest() : dir_("gw-report"), db_(dir_.path() / "r.db", 10) {
    reg_ = std::make_shared<const registry>(std::vector<terminal_info>{
        term("A1", "一号站, \"东\"", town_a), term("A2", "=cmd|' /C calc'!A0", town_a), term("B1", "B one", town_b)});
    view_.reg = reg_;
    view_.report_interval_s = {3600, 3600, 3600};
    view_.registered_at = {at("2026-11-27T16:00:00Z"), at("2026-11-29T04:00:00Z"), proto::timestamp{}};
    view_.cfg = &cfg_;
    view_.now = at("2026-11-30T08:00:00Z");

    write_batch b;
    // A1: 28 Nov complete; 29 Nov one record never received (seq hole); 30 Nov (not over) 16 of 16.
    b.daily.push_back(day_row("A1", "2026-11-28", 10.0, 0, 24, 0, 80000, 86400));
    b.daily.push_back(day_row("A1", "2026-11-29", 9.5, 0.5, 23, 1, 86400, 86400));
    b.daily.push_back(day_row("A1", "2026-11-30", 6.0, 0, 16, 0, 57600, 57600));
    // A2: from 12:00 on 29 Nov: 12 of 12, then 16 of 16.
    b.daily.push_back(day_row("A2", "2026-11-29", 3.25, 0, 12, 0, 40000, 43200));
    b.daily.push_back(day_row("A2", "2026-11-30", 4.0, 0, 16, 0, 57600, 57600));
    // B1: no turbidity probe; only 1 Nov and today reported; 31 Oct belongs to October.
    b.daily.push_back(day_row("B1", "2026-10-31", 100.0, 0, 24, 0, 0, 0));
    b.daily.push_back(day_row("B1", "2026-11-01", 5.0, 0, 24, 0, 0, 0));
    b.daily.push_back(day_row("B1", "2026-11-30", 1.0, 0, 8, 0, 0, 0));
    using proto::alert_type;
    b.alerts = {
        episode(1, "A1", alert_type::turbidity_high, "2026-11-28T02:00:00Z", "2026-11-28T03:00:00Z"),  // 3600 s
        episode(2, "A1", alert_type::turbidity_high, "2026-11-29T00:00:00Z", "2026-11-29T02:00:00Z"),  // 7200 s
        episode(3, "A2", alert_type::no_flow, "2026-11-29T06:00:00Z"),                                  // open
        // Raised in October, resolved in November (86400 s): resolved, not found, in November.
        episode(4, "B1", alert_type::no_flow, "2026-10-31T10:00:00Z", "2026-11-01T10:00:00Z"),
        // 17:00 UTC on 31 Oct is 01:00 on 1 Nov in the county: found in November (still open).
        episode(5, "B1", alert_type::offline, "2026-10-31T17:00:00Z"),
        // 23:00 local on 31 Oct, cleared 23:30: October only.
        episode(6, "B1", alert_type::turbidity_high, "2026-10-31T15:00:00Z", "2026-10-31T15:30:00Z"),
        // A terminal no longer in the registry: not in the report.
        episode(7, "GONE", alert_type::offline, "2026-11-10T00:00:00Z"),
    };
    db_.apply(b);
  }

  monthly_report build(std::optional<report_month> m, std::optional<std::string> town = std::nullopt) {
    return build_report(db_, view_, m, town);
  }

  testing::temp_dir dir_;
  sqlite_store db_;
  config cfg_;
  std::shared_ptr<const registry> reg_;
  county_view view_;
};

const fault_summary& by_type(const monthly_report& r, proto::alert_type t) {
  return r.faults_by_type.at(static_cast<std::size_t>(t));
}

TEST_F(ReportTest, CountyReportOfTheCurrentMonthHasExactFigures) {
  const auto r = build(std::nullopt);  // default: the current month in the county zone
  EXPECT_EQ(format_report_month(r.month), "2026-11");
  EXPECT_FALSE(r.town);
  EXPECT_EQ(proto::format_timestamp(r.from), "2026-10-31T16:00:00Z");
  EXPECT_EQ(proto::format_timestamp(r.to), "2026-11-30T16:00:00Z");
  // The month is not over: today is.
  EXPECT_EQ(r.days_not_over, std::vector<std::string>{"2026-11-30"});

  using proto::alert_type;
  EXPECT_EQ(by_type(r, alert_type::turbidity_high).found, 2u);
  EXPECT_EQ(by_type(r, alert_type::turbidity_high).resolved, 2u);
  EXPECT_EQ(by_type(r, alert_type::turbidity_high).open_at_end, 0u);
  EXPECT_DOUBLE_EQ(*by_type(r, alert_type::turbidity_high).mean_time_to_resolve_s(), 5400.0);
  EXPECT_EQ(by_type(r, alert_type::no_flow).found, 1u);
  EXPECT_EQ(by_type(r, alert_type::no_flow).resolved, 1u);
  EXPECT_EQ(by_type(r, alert_type::no_flow).open_at_end, 1u);
  EXPECT_DOUBLE_EQ(*by_type(r, alert_type::no_flow).mean_time_to_resolve_s(), 86400.0);
  EXPECT_EQ(by_type(r, alert_type::offline).found, 1u);  // the zone boundary: 1 Nov 01:00 local
  EXPECT_EQ(by_type(r, alert_type::offline).resolved, 0u);
  EXPECT_FALSE(by_type(r, alert_type::offline).mean_time_to_resolve_s());
  EXPECT_EQ(by_type(r, alert_type::clock_skew).found, 0u);
  EXPECT_EQ(r.faults.found, 4u);
  EXPECT_EQ(r.faults.resolved, 3u);
  EXPECT_EQ(r.faults.open_at_end, 2u);
  EXPECT_DOUBLE_EQ(*r.faults.mean_time_to_resolve_s(), (3600.0 + 7200.0 + 86400.0) / 3);

  ASSERT_EQ(r.terminals.size(), 3u);
  const auto& a1 = r.terminals[0];
  EXPECT_EQ(a1.id, "A1");
  EXPECT_DOUBLE_EQ(a1.figures.volume_m3, 26.0);
  EXPECT_DOUBLE_EQ(a1.figures.volume_estimated_m3, 0.5);
  EXPECT_EQ(a1.figures.records, 63u);
  EXPECT_DOUBLE_EQ(a1.figures.expected_records, 64.0);  // 24 + 24 + 16 (today so far)
  EXPECT_DOUBLE_EQ(*a1.figures.availability(), 63.0 / 64.0);
  EXPECT_DOUBLE_EQ(*a1.figures.compliance_rate(), 224000.0 / 230400.0);
  EXPECT_DOUBLE_EQ(*a1.figures.compliance_coverage(), 1.0);
  EXPECT_EQ(a1.figures.days_incomplete, 1u);
  EXPECT_EQ(a1.incomplete_days, std::vector<std::string>{"2026-11-29"});
  EXPECT_EQ(a1.figures.faults.found, 2u);

  const auto& a2 = r.terminals[1];  // registered at noon: half of 29 Nov expected
  EXPECT_DOUBLE_EQ(a2.figures.volume_m3, 7.25);
  EXPECT_DOUBLE_EQ(a2.figures.expected_records, 28.0);
  EXPECT_DOUBLE_EQ(*a2.figures.availability(), 1.0);
  EXPECT_EQ(a2.figures.days_incomplete, 0u);
  EXPECT_EQ(a2.figures.faults.found, 1u);
  EXPECT_EQ(a2.figures.faults.open_at_end, 1u);

  const auto& b1 = r.terminals[2];  // every finished day without a row is incomplete
  EXPECT_DOUBLE_EQ(b1.figures.volume_m3, 6.0);  // not the 100 m3 of 31 Oct
  EXPECT_EQ(b1.figures.records, 32u);
  EXPECT_DOUBLE_EQ(b1.figures.expected_records, 29 * 24 + 16.0);
  EXPECT_FALSE(b1.figures.compliance_rate());  // no good turbidity time: undefined, not 0 or 1
  EXPECT_DOUBLE_EQ(*b1.figures.compliance_coverage(), 0.0);
  EXPECT_EQ(b1.figures.days_incomplete, 28u);  // 2..29 Nov
  EXPECT_EQ(b1.figures.faults.found, 1u);
  EXPECT_EQ(b1.figures.faults.resolved, 1u);

  ASSERT_EQ(r.towns.size(), 2u);  // by name (byte order): Latin before CJK
  EXPECT_EQ(r.towns[0].town, town_b);
  EXPECT_EQ(r.towns[1].town, town_a);
  EXPECT_EQ(r.towns[1].terminals, 2u);
  EXPECT_DOUBLE_EQ(r.towns[1].figures.volume_m3, 33.25);
  EXPECT_DOUBLE_EQ(*r.towns[1].figures.availability(), 91.0 / 92.0);
  EXPECT_DOUBLE_EQ(*r.towns[1].figures.compliance_rate(), 321600.0 / 331200.0);
  EXPECT_EQ(r.towns[1].figures.faults.found, 3u);
  EXPECT_DOUBLE_EQ(*r.towns[1].figures.faults.mean_time_to_resolve_s(), 5400.0);

  EXPECT_DOUBLE_EQ(r.totals.volume_m3, 39.25);
  EXPECT_EQ(r.totals.records, 123u);
  EXPECT_DOUBLE_EQ(r.totals.expected_records, 804.0);
  EXPECT_EQ(r.totals.days_incomplete, 29u);
  EXPECT_EQ(r.totals.missing_records, 1);
  EXPECT_DOUBLE_EQ(*r.totals.compliance_rate(), 321600.0 / 331200.0);
}

TEST_F(ReportTest, JsonRoundsEachFigureToItsUnitAndNamesTheShape) {
  const auto j = json::parse(report_json(build(report_month{2026, 11})));
  EXPECT_EQ(j["month"], "2026-11");
  EXPECT_TRUE(j["town"].is_null());
  EXPECT_EQ(j["time_zone"], "Asia/Shanghai");
  EXPECT_EQ(j["from"], "2026-10-31T16:00:00Z");
  EXPECT_EQ(j["days_in_month"], 30);
  EXPECT_EQ(j["partial"], true);
  EXPECT_EQ(j["days_not_over"], json::array({"2026-11-30"}));
  EXPECT_EQ(j["faults"]["found"], 4);
  EXPECT_EQ(j["faults"]["resolved"], 3);
  EXPECT_DOUBLE_EQ(j["faults"]["mean_time_to_resolve_s"].get<double>(), 32400.0);
  EXPECT_EQ(j["faults"]["by_type"].size(), proto::all_alert_types.size());
  EXPECT_EQ(j["faults"]["by_type"]["turbidity_high"], (json{{"found", 2}, {"resolved", 2}, {"open_at_end", 0},
                                                            {"mean_time_to_resolve_s", 5400.0}}));
  EXPECT_TRUE(j["faults"]["by_type"]["offline"]["mean_time_to_resolve_s"].is_null());
  const auto& a1 = j["terminals"][0];
  EXPECT_EQ(a1["name"], "一号站, \"东\"");
  EXPECT_DOUBLE_EQ(a1["availability"].get<double>(), 0.9844);     // 63 / 64 = 0.984375
  EXPECT_DOUBLE_EQ(a1["compliance_rate"].get<double>(), 0.9722);  // 224000 / 230400
  EXPECT_EQ(a1["days_incomplete"], 1);
  EXPECT_EQ(a1["incomplete_days"], json::array({"2026-11-29"}));
  EXPECT_TRUE(j["terminals"][2]["compliance_rate"].is_null());
  EXPECT_DOUBLE_EQ(j["terminals"][2]["availability"].get<double>(), 0.0449);  // 32 / 712
  EXPECT_DOUBLE_EQ(j["towns"][1]["availability"].get<double>(), 0.9891);      // 91 / 92
  EXPECT_DOUBLE_EQ(j["towns"][1]["compliance_rate"].get<double>(), 0.971);   // 321600 / 331200
  EXPECT_DOUBLE_EQ(j["totals"]["volume_m3"].get<double>(), 39.25);
  EXPECT_DOUBLE_EQ(j["totals"]["availability"].get<double>(), 0.153);  // 123 / 804
  EXPECT_EQ(j["totals"]["terminals"], 3);
  EXPECT_EQ(j["totals"]["faults_found"], 4);
}

TEST_F(ReportTest, TownReportHasOnlyItsTerminalsAndFaults) {
  const auto r = build(report_month{2026, 11}, town_a);
  ASSERT_TRUE(r.town);
  EXPECT_EQ(*r.town, town_a);
  ASSERT_EQ(r.terminals.size(), 2u);
  ASSERT_EQ(r.towns.size(), 1u);
  EXPECT_EQ(r.faults.found, 3u);
  EXPECT_EQ(r.faults.resolved, 2u);
  EXPECT_EQ(by_type(r, proto::alert_type::no_flow).found, 1u);
  EXPECT_EQ(by_type(r, proto::alert_type::no_flow).resolved, 0u);  // B1's episode is another town's
  EXPECT_EQ(by_type(r, proto::alert_type::offline).found, 0u);
  EXPECT_DOUBLE_EQ(r.totals.volume_m3, 33.25);
  EXPECT_EQ(r.totals.days_incomplete, 1u);
  // An empty town is the county.
  EXPECT_EQ(build(report_month{2026, 11}, std::string()).terminals.size(), 3u);
  // A town nobody is in: refused, naming the field.
  try {
    build(report_month{2026, 11}, std::string("Nowhere"));
    FAIL() << "no error for an unknown town";
  } catch (const report_error& e) {
    EXPECT_EQ(e.field(), "town");
    EXPECT_TRUE(e.not_found());
  }
}

TEST_F(ReportTest, PastMonthIsCompleteAndCountsOnlyItsOwnDaysAndFaults) {
  const auto r = build(report_month{2026, 10});
  EXPECT_TRUE(r.days_not_over.empty());
  EXPECT_EQ(proto::format_timestamp(r.from), "2026-09-30T16:00:00Z");
  EXPECT_EQ(proto::format_timestamp(r.to), "2026-10-31T16:00:00Z");
  EXPECT_EQ(r.faults.found, 2u);     // episodes 4 and 6
  EXPECT_EQ(r.faults.resolved, 1u);  // episode 6 (1800 s); 4 was cleared in November
  EXPECT_EQ(r.faults.open_at_end, 1u);
  EXPECT_DOUBLE_EQ(*r.faults.mean_time_to_resolve_s(), 1800.0);
  EXPECT_EQ(by_type(r, proto::alert_type::offline).found, 0u);  // 1 Nov 01:00 local
  const auto& a1 = r.terminals[0];  // not registered yet: nothing expected, nothing incomplete
  EXPECT_DOUBLE_EQ(a1.figures.expected_records, 0.0);
  EXPECT_FALSE(a1.figures.availability());
  EXPECT_EQ(a1.figures.days_incomplete, 0u);
  const auto& b1 = r.terminals[2];
  EXPECT_DOUBLE_EQ(b1.figures.volume_m3, 100.0);
  EXPECT_DOUBLE_EQ(b1.figures.expected_records, 31 * 24.0);
  EXPECT_EQ(b1.figures.days_incomplete, 30u);
}

TEST_F(ReportTest, MonthBoundariesFollowDaylightSavingInTheCountyZone) {
  // Europe/Berlin: October 2026 ends summer time on the 25th (a 25 h day), so the month has
  // 745 hours and starts at 22:00 UTC, ends at 23:00 UTC.
  cfg_.time_zone = "Europe/Berlin";
  cfg_.zone = *county_zone::locate("Europe/Berlin");
  const auto r = build(report_month{2026, 10});
  EXPECT_EQ(proto::format_timestamp(r.from), "2026-09-30T22:00:00Z");
  EXPECT_EQ(proto::format_timestamp(r.to), "2026-10-31T23:00:00Z");
  EXPECT_DOUBLE_EQ(r.terminals[2].figures.expected_records, 745.0);
  EXPECT_DOUBLE_EQ(r.terminals[2].figures.covered_s, 745.0 * 3600);
}

TEST_F(ReportTest, FutureMonthIsRefusedNamingTheMonth) {
  for (const auto m : {report_month{2026, 12}, report_month{2027, 1}, report_month{9999, 12}}) {
    try {
      build(m);
      FAIL() << format_report_month(m) << " accepted";
    } catch (const report_error& e) {
      EXPECT_EQ(e.field(), "month");
      EXPECT_FALSE(e.not_found());
      EXPECT_NE(std::string(e.what()).find("month: " + format_report_month(m) + " has not begun"), std::string::npos)
          << e.what();
    }
  }
  // On the first instant of December in the county zone, December is the current month.
  view_.now = at("2026-11-30T16:00:00Z");
  const auto r = build(report_month{2026, 12});
  EXPECT_EQ(r.days_not_over.size(), 31u);
  EXPECT_EQ(r.terminals[0].figures.records, 0u);
}

TEST(ReportMonth, ParsesOnlyYearDashMonth) {
  EXPECT_EQ(parse_report_month("2026-11"), (report_month{2026, 11}));
  EXPECT_EQ(parse_report_month("1970-01"), (report_month{1970, 1}));
  EXPECT_EQ(parse_report_month("2026-12"), (report_month{2026, 12}));
  for (const char* bad : {"", "2026", "2026-", "2026-1", "2026-13", "2026-00", "26-11", "2026-11-01", "2026/11",
                          " 2026-11", "2026-11 ", "+026-11", "-2026-11", "1969-12", "2026-1a", "２０２６-11", "2026--1"})
    EXPECT_FALSE(parse_report_month(bad)) << "'" << bad << "'";
  EXPECT_EQ(format_report_month({2026, 3}), "2026-03");
}

TEST(ReportCsv, FieldsAreQuotedPerRfc4180) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("武原镇一号"), "武原镇一号");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("\""), "\"\"\"\"");
  EXPECT_EQ(csv_field("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv_field(" padded "), "\" padded \"");
  EXPECT_EQ(csv_field("一号站，东"), "一号站，东");  // a full-width comma is not a separator
  EXPECT_EQ(csv_field("一号站, \"东\""), "\"一号站, \"\"东\"\"\"");
  // Text a spreadsheet would run as a formula gets an apostrophe first.
  EXPECT_EQ(csv_text_cell("=SUM(A1:A9)"), "'=SUM(A1:A9)");
  EXPECT_EQ(csv_text_cell("+86"), "'+86");
  EXPECT_EQ(csv_text_cell("-1"), "'-1");
  EXPECT_EQ(csv_text_cell("@x"), "'@x");
  EXPECT_EQ(csv_text_cell("=a,b"), "\"'=a,b\"");
  EXPECT_EQ(csv_text_cell("HY-WY-001"), "HY-WY-001");
}

TEST_F(ReportTest, CsvHasABomAHeaderAndOneRowPerTerminal) {
  const auto csv = report_csv(build(report_month{2026, 11}, town_a));
  ASSERT_EQ(csv.rfind("\xEF\xBB\xBF", 0), 0u);
  const std::string expected =
      "\xEF\xBB\xBF"
      "month,town,terminal_id,terminal_name,volume_m3,volume_estimated_m3,compliance_rate,compliance_coverage,"
      "availability,records,expected_records,missing_records,days_incomplete,faults_found,faults_resolved,"
      "faults_open_at_end,mean_time_to_resolve_s,partial\r\n"
      "2026-11,武原镇,A1,\"一号站, \"\"东\"\"\",26.0,0.5,0.9722,1.0,0.9844,63,64.0,1,1,2,2,0,5400.0,true\r\n"
      "2026-11,武原镇,A2,'=cmd|' /C calc'!A0,7.25,0.0,0.9683,1.0,1.0,28,28.0,0,0,1,0,1,,true\r\n";
  EXPECT_EQ(csv, expected);
}

TEST_F(ReportTest, CsvFileNameNamesMonthAndTown) {
  const auto county = build(report_month{2026, 11});
  EXPECT_EQ(report_filename(county, true), "report-2026-11-county.csv");
  EXPECT_EQ(report_content_disposition(county), "attachment; filename=\"report-2026-11-county.csv\"");
  const auto a = build(report_month{2026, 11}, town_a);
  EXPECT_EQ(report_filename(a, false), "report-2026-11-武原镇.csv");
  EXPECT_EQ(report_content_disposition(a),
            "attachment; filename=\"report-2026-11-_________.csv\"; "
            "filename*=UTF-8''report-2026-11-%E6%AD%A6%E5%8E%9F%E9%95%87.csv");
  // Quotes, semicolons, spaces and slashes never reach the quoted ASCII name or the ext-value raw.
  monthly_report odd;
  odd.month = {2026, 3};
  odd.town = "a\"b; c/d\\e";
  EXPECT_EQ(report_content_disposition(odd),
            "attachment; filename=\"report-2026-03-a_b__c_d_e.csv\"; filename*=UTF-8''report-2026-03-a%22b%3B%20c%2Fd%5Ce.csv");
}

/// The route through the API: read route, parameters, status codes, headers.
class ReportApiTest : public ::testing::Test {
 protected:
  ReportApiTest() : dir_("gw-report-api"), clock_(at("2026-11-30T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_public_read = true;  // reads without login: these tests are not about identity (auth_test.cpp is)
    eng_ = std::make_unique<engine>(cfg_,
                                    registry({term("A1", "一号站, \"东\"", town_a), term("B1", "B one", town_b)}), db_,
                                    clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  http_response get(const std::string& target) { return api_->handle({"GET", target, {}, {}}); }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
};

TEST_F(ReportApiTest, IsAReadRouteWithMonthTownAndFormat) {
  bool found = false;
  for (const auto& r : api::routes()) {
    if (r.pattern != "/api/report") continue;
    found = true;
    EXPECT_TRUE(r.read_route);
    EXPECT_EQ(r.params, (std::vector<std::string_view>{"month", "town", "format"}));
  }
  EXPECT_TRUE(found);
}

TEST_F(ReportApiTest, AnswersJsonByDefaultForTheCurrentMonth) {
  const auto r = get("/api/report");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["month"], "2026-11");
  EXPECT_EQ(j["partial"], true);
  EXPECT_EQ(j["terminals"].size(), 2u);
  EXPECT_EQ(j["totals"]["terminals"], 2);
  // Town by its UTF-8 name, percent-encoded.
  const auto t = json::parse(get("/api/report?month=2026-11&town=%E6%AD%A6%E5%8E%9F%E9%95%87").body);
  EXPECT_EQ(t["town"], town_a);
  EXPECT_EQ(t["terminals"].size(), 1u);
}

TEST_F(ReportApiTest, CsvIsAnAttachmentInUtf8) {
  const auto r = get("/api/report?month=2026-11&town=Tongyuan&format=csv");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Content-Disposition");
  EXPECT_EQ(r.headers[0].second, "attachment; filename=\"report-2026-11-Tongyuan.csv\"");
  EXPECT_EQ(r.body.rfind("\xEF\xBB\xBF" "month,town,terminal_id,", 0), 0u);
  EXPECT_NE(r.body.find("\r\n2026-11,Tongyuan,B1,B one,"), std::string::npos) << r.body;
}

TEST_F(ReportApiTest, BadValuesAre400NamingTheParameter) {
  for (const char* m : {"2026-13", "2026-1", "2026-11-01", "nov", "2026%2F11", "", "1969-12", "%E4%B8%80"}) {
    const auto r = get(std::string("/api/report?month=") + m);
    EXPECT_EQ(r.status, 400u) << m;
    const auto msg = json::parse(r.body)["error"]["message"].get<std::string>();
    EXPECT_EQ(msg.rfind("month: must be a month YYYY-MM", 0), 0u) << msg;
  }
  const auto future = get("/api/report?month=2026-12");
  EXPECT_EQ(future.status, 400u);
  EXPECT_NE(future.body.find("month: 2026-12 has not begun (the current month in Asia/Shanghai is 2026-11)"),
            std::string::npos)
      << future.body;
  const auto fmt = get("/api/report?format=xlsx");
  EXPECT_EQ(fmt.status, 400u);
  EXPECT_NE(fmt.body.find("format: must be 'json' or 'csv'"), std::string::npos);
  const auto town = get("/api/report?town=Nowhere");
  EXPECT_EQ(town.status, 404u);
  EXPECT_NE(town.body.find("town: no registered terminal"), std::string::npos);
  EXPECT_EQ(get("/api/report?months=2026-11").status, 400u);
  EXPECT_EQ(get("/api/report?month=2026-11&month=2026-10").status, 400u);
  EXPECT_GE(api_->counters().rejected.at("bad_parameter"), 11u);
}

}  // namespace
}  // namespace sewage::gateway
