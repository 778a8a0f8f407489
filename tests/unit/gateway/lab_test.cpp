// Lab results and the site archive (issue 12 items 3-4): the shipped limits table and its checks,
// verdicts on both sides of every kind of limit, units, CSV import with every bad row named,
// the sampling schedule on a simulated clock, compliance beside the turbidity early warning, the
// archive round trip with another room's work-order table, and town scope.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/om/archive.hpp"
#include "sewage/gateway/om/lab.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <cmath>
#include <fstream>
#include <set>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using om::lab_parameter;
using test::at;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(EffluentLimits, ShippedTableHasASourceForEveryValueAndMarksDb33Provisional) {
  const auto t = om::load_limits(om::default_limits_file());
  for (const char* g : {"grade_1", "grade_2", "grade_1a", "grade_1b", "grade_3"}) ASSERT_NE(t.find(g), nullptr) << g;
  std::size_t values = 0;
  for (const auto& g : t.grades()) {
    for (const auto& [p, l] : g.limits) {
      ++values;
      EXPECT_FALSE(l.source.empty()) << g.grade << "." << om::to_string(p);
      if (l.provisional) {
        EXPECT_FALSE(l.note.empty()) << g.grade << "." << om::to_string(p);
      }
      // DB33/973-2021 Table 1 was not found: none of its values may pass as verified.
      if (g.standard == "DB33/973-2021") {
        EXPECT_TRUE(l.provisional) << g.grade << "." << om::to_string(p);
      }
    }
  }
  EXPECT_GE(values, 30u);
  // GB 18918-2002 class 1A as the secondary sources give it.
  const auto& a = t.find("grade_1a")->limits;
  EXPECT_EQ(a.at(lab_parameter::cod).high, 50.0);
  EXPECT_EQ(a.at(lab_parameter::nh3_n).high, 5.0);
  EXPECT_EQ(a.at(lab_parameter::tn).high, 15.0);
  EXPECT_EQ(a.at(lab_parameter::tp).high, 0.5);
  EXPECT_EQ(a.at(lab_parameter::ss).high, 10.0);
  EXPECT_EQ(a.at(lab_parameter::ph).low, 6.0);
  EXPECT_EQ(a.at(lab_parameter::ph).high, 9.0);
  EXPECT_FALSE(a.at(lab_parameter::cod).provisional);
}

TEST(EffluentLimits, EachValueJudgedOnBothSidesAndPhRangeBothWays) {
  const auto t = om::load_limits(om::default_limits_file());
  // Every upper limit of every grade: at the limit compliant (inclusive), just above not.
  for (const auto& g : t.grades())
    for (const auto& [p, l] : g.limits) {
      if (l.high) {
        EXPECT_EQ(t.judge(g.grade, p, *l.high).compliant, true) << g.grade << "." << om::to_string(p);
        EXPECT_EQ(t.judge(g.grade, p, *l.high * 1.001 + 1e-9).compliant, false) << g.grade << "." << om::to_string(p);
        const auto v = t.judge(g.grade, p, *l.high);
        EXPECT_EQ(v.limit_high, l.high);
        EXPECT_EQ(v.provisional, l.provisional);
        EXPECT_EQ(v.source, l.source);
      }
      if (l.low) {
        EXPECT_EQ(t.judge(g.grade, p, *l.low).compliant, true);
        EXPECT_EQ(t.judge(g.grade, p, *l.low - 0.01).compliant, false) << g.grade << "." << om::to_string(p);
      }
    }
  // pH: below, inside and above the 6-9 range.
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::ph, 5.9).compliant, false);
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::ph, 7.2).compliant, true);
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::ph, 9.1).compliant, false);
  // COD 1A: 49 in, 50 at the limit, 51 above.
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::cod, 49).compliant, true);
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::cod, 50).compliant, true);
  EXPECT_EQ(t.judge("grade_1a", lab_parameter::cod, 51).compliant, false);
  // Not judged, with the reason: no limit in the grade, an unknown grade, no grade.
  auto v = t.judge("grade_3", lab_parameter::tn, 40);
  EXPECT_FALSE(v.compliant.has_value());
  EXPECT_NE(v.reason.find("sets no limit for tn"), std::string::npos) << v.reason;
  v = t.judge("grade_9", lab_parameter::cod, 10);
  EXPECT_FALSE(v.compliant.has_value());
  EXPECT_NE(v.reason.find("not in the limits table"), std::string::npos);
  EXPECT_FALSE(t.judge("", lab_parameter::cod, 10).compliant.has_value());
}

TEST(EffluentLimits, UnitsAndValuesAreChecked) {
  EXPECT_EQ(om::accepted_unit(lab_parameter::cod, "mg/L"), "mg/L");
  EXPECT_EQ(om::accepted_unit(lab_parameter::tp, "mg/l"), "mg/L");
  EXPECT_FALSE(om::accepted_unit(lab_parameter::cod, "g/L"));
  EXPECT_FALSE(om::accepted_unit(lab_parameter::cod, "ug/L"));
  EXPECT_FALSE(om::accepted_unit(lab_parameter::ss, "NTU"));  // turbidity is not SS
  EXPECT_EQ(om::accepted_unit(lab_parameter::ph, ""), "pH");
  EXPECT_FALSE(om::accepted_unit(lab_parameter::ph, "mg/L"));
  EXPECT_EQ(om::accepted_unit(lab_parameter::faecal_coliforms, "个/L"), "MPN/L");
  EXPECT_FALSE(om::accepted_unit(lab_parameter::faecal_coliforms, "MPN/100mL"));  // no guessed conversion
  EXPECT_TRUE(om::value_problem(lab_parameter::cod, -1));
  EXPECT_TRUE(om::value_problem(lab_parameter::cod, std::nan("")));
  EXPECT_TRUE(om::value_problem(lab_parameter::ph, 14.5));
  EXPECT_FALSE(om::value_problem(lab_parameter::ph, 0));
  EXPECT_EQ(om::parse_lab_parameter("NH3-N"), lab_parameter::nh3_n);
  EXPECT_EQ(om::parse_lab_parameter("pH"), lab_parameter::ph);
  EXPECT_EQ(om::parse_lab_parameter("fecal coliforms"), lab_parameter::faecal_coliforms);
  EXPECT_FALSE(om::parse_lab_parameter("bod5"));
}

TEST(EffluentLimits, BadFilesAreRefusedNamingFileAndKey) {
  testing::temp_dir dir("gw-limits");
  const auto write = [&](const std::string& text) {
    const auto p = dir.path() / "l.toml";
    std::ofstream(p) << text;
    return p;
  };
  const std::string head = "[grade.g]\nstandard = \"X\"\n[grade.g.cod]\n";
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "max = 50\nunit = \"g/L\"\nsource = \"s\"\n")); }).find("grade.g.cod.unit: must be \"mg/L\""),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "max = 50\nunit = \"mg/L\"\n")); }).find("grade.g.cod.source: required"),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "max = 50\nunit = \"mg/L\"\nsource = \"s\"\nprovisional = true\n")); })
                .find("grade.g.cod.note: required when provisional"),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "max = -1\nunit = \"mg/L\"\nsource = \"s\"\n")); }).find("grade.g.cod.max"),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "min = 5\nmax = 50\nunit = \"mg/L\"\nsource = \"s\"\n")); })
                .find("only pH has a lower limit"),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write("[grade.g]\nstandard = \"X\"\n[grade.g.bod5]\nmax = 1\n")); }).find("grade.g.bod5: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { om::load_limits(write(head + "max = 50\nunit = \"mg/L\"\nsource = \"s\"\ntypo = 1\n")); })
                .find("grade.g.cod.typo: unknown key"),
            std::string::npos);
  const auto e = error_of([&] { om::load_limits(write("[grade.g.ph]\nmin = 9\nmax = 6\n")); });
  EXPECT_NE(e.find("l.toml"), std::string::npos) << e;
}

TEST(LabConfig, KeysAreReadBoundedAndTheLimitsFileLoaded) {
  testing::temp_dir dir("gw-labcfg");
  const auto p = dir.path() / "g.toml";
  std::ofstream(p) << "[om.lab]\nsampling_interval_days = { small = 120, medium = 60, large = 20 }\n[om.archive]\nhistory_limit = 50\n";
  const auto c = load_config(p);
  EXPECT_EQ(c.om_lab.interval_small_days, 120u);
  EXPECT_EQ(c.om_lab.interval_medium_days, 60u);
  EXPECT_EQ(c.om_lab.interval_large_days, 20u);
  EXPECT_EQ(c.om_archive.history_limit, 50u);
  ASSERT_NE(c.om_lab.limits, nullptr);
  EXPECT_NE(c.om_lab.limits->find("grade_1"), nullptr);
  std::ofstream(p) << "[om.lab]\nsampling_interval = 3\n";
  EXPECT_NE(error_of([&] { load_config(p); }).find("om.lab.sampling_interval: unknown key"), std::string::npos);
  std::ofstream(p) << "[om.lab]\nsampling_interval_days = { small = 0 }\n";
  EXPECT_NE(error_of([&] { load_config(p); }).find("om.lab.sampling_interval_days.small: must be in [1, 3660]"), std::string::npos);
  std::ofstream(p) << "[om.lab]\nlimits_file = \"nowhere.toml\"\n";
  EXPECT_NE(error_of([&] { load_config(p); }).find("om.lab.limits_file: cannot read"), std::string::npos);
  std::ofstream(dir.path() / "mine.toml") << "[grade.x]\nstandard = \"S\"\n[grade.x.cod]\nmax = 70\nunit = \"mg/L\"\nsource = \"county rule 7\"\n";
  std::ofstream(p) << "[om.lab]\nlimits_file = \"mine.toml\"\n";  // relative to the config file
  EXPECT_EQ(load_config(p).om_lab.limits->judge("x", lab_parameter::cod, 70).compliant, true);
  std::ofstream(p) << "[om]\nnot_mine = 1\n";
  EXPECT_NE(error_of([&] { load_config(p); }).find("om.not_mine: unknown key"), std::string::npos);
}

TEST(LabConfig, ExampleFileShowsTheDefaults) {
  const auto c = load_config(SEWAGE_GATEWAY_EXAMPLE_CONFIG);
  const om::lab_settings d;
  EXPECT_EQ(c.om_lab.interval_small_days, d.interval_small_days);
  EXPECT_EQ(c.om_lab.interval_medium_days, d.interval_medium_days);
  EXPECT_EQ(c.om_lab.interval_large_days, d.interval_large_days);
  EXPECT_EQ(c.om_lab.limits_file, om::default_limits_file());
  EXPECT_EQ(c.om_archive.history_limit, om::archive_settings{}.history_limit);
}

TEST(LabSchedule, DueFromTheLastSampleOrRegistrationBySizeClass) {
  om::lab_settings s;  // small 180, medium 90, large 30 days
  const om::settings cls;  // size classes < 30, < 100, >= 100 m3/d
  const std::int64_t day = 86'400'000;
  const std::int64_t t0 = at("2026-01-01T00:00:00Z").time_since_epoch().count();
  auto st = om::sampling_of("S", om::size_class(20, cls), std::nullopt, t0, t0 + 180 * day, s);
  EXPECT_EQ(st.size_class, "small");
  EXPECT_FALSE(st.overdue);  // exactly due
  st = om::sampling_of("S", om::size_class(20, cls), std::nullopt, t0, t0 + 181 * day + 1, s);
  EXPECT_TRUE(st.overdue);
  EXPECT_EQ(st.overdue_days, 1);
  st = om::sampling_of("M", om::size_class(30, cls), t0 + 10 * day, t0, t0 + 99 * day, s);
  EXPECT_EQ(st.size_class, "medium");
  EXPECT_EQ(st.interval_days, 90u);
  EXPECT_FALSE(st.overdue);
  st = om::sampling_of("M", om::size_class(30, cls), t0 + 10 * day, t0, t0 + 101 * day, s);
  EXPECT_TRUE(st.overdue);
  st = om::sampling_of("L", om::size_class(100, cls), t0, t0, t0 + 31 * day, s);
  EXPECT_EQ(st.size_class, "large");
  EXPECT_TRUE(st.overdue);
}

/// A county of two towns (TA in Alpha: grade_1a, TB in Beta: grade_1) with the lab and archive
/// rooms behind the API; tokens for a county operator, an Alpha operator and a viewer.
class LabApiTest : public ::testing::Test {
 protected:
  LabApiTest() : dir_("gw-lab"), clock_(at("2026-11-29T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    auto ta = test::terminal("TA", cfg_.defaults);
    ta.town = "Alpha";
    ta.discharge_grade = "grade_1a";
    ta.design_capacity_m3d = 150;  // large: sampled every 30 days
    auto tb = test::terminal("TB", cfg_.defaults);
    tb.town = "Beta";
    // [[om.contractor]]: one serves the town Beta; TA has none.
    cfg_.om.contractors.push_back({"hy-water", "Haiyan Water O&M", {"Beta"}, {}});
    ids_ = std::make_unique<auth::service>(dir_.path() / "g.db", auth::settings{}, clock_);
    eng_ = std::make_unique<engine>(cfg_, registry({ta, tb}), db_, clock_, pub_, default_rules());
    lab_ = std::make_unique<om::lab>(dir_.path() / "g.db", limits_, clock_);
    archive_ = std::make_unique<om::archive>(dir_.path() / "g.db");
    api_ = std::make_unique<api>(*eng_, link_status{}, ids_.get(), om_rooms{lab_.get(), archive_.get()});
    op_ = ids_->add_token("op", auth::role::operator_, {});
    op_a_ = ids_->add_token("op_a", auth::role::operator_, {"Alpha"});
    viewer_ = ids_->add_token("viewer", auth::role::viewer, {});
  }
  http_response call(const std::string& method, const std::string& target, const std::string& token, const std::string& body = {},
                     const std::string& type = "application/json") {
    http_request r{method, target, "Bearer " + token, body};
    r.headers.emplace_back("Content-Type", type);
    return api_->handle(r);
  }
  json get(const std::string& target, const std::string& token) {
    const auto r = call("GET", target, token);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return json::parse(r.body);
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  om::limits_table limits_ = om::load_limits(om::default_limits_file());
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<om::lab> lab_;
  std::unique_ptr<om::archive> archive_;
  std::unique_ptr<api> api_;
  std::string op_, op_a_, viewer_;
};

TEST_F(LabApiTest, FormResultsAreJudgedAgainstTheSitesGrade) {
  const auto r = call("POST", "/api/lab-results", op_,
                      R"({"site_id":"TA","sampled_at":"2026-11-28T08:00:00Z","lab":"county lab","sampled_by":"Wang",
                          "results":[{"parameter":"cod","value":51,"unit":"mg/L"},{"parameter":"ph","value":5.5,"unit":"pH"},
                                     {"parameter":"nh3_n","value":4.9,"unit":"mg/L"},{"parameter":"faecal_coliforms","value":900,"unit":"个/L"}]})");
  ASSERT_EQ(r.status, 201u) << r.body;
  const auto rows = json::parse(r.body)["results"];
  ASSERT_EQ(rows.size(), 4u);
  std::map<std::string, json> by;
  for (const auto& x : rows) by[x["parameter"]] = x;
  EXPECT_EQ(by["cod"]["verdict"], "exceeds");
  EXPECT_EQ(by["cod"]["limit_high"], 50.0);
  EXPECT_EQ(by["cod"]["grade"], "grade_1a");
  EXPECT_EQ(by["ph"]["verdict"], "below_range");
  EXPECT_EQ(by["ph"]["limit_low"], 6.0);
  EXPECT_EQ(by["nh3_n"]["verdict"], "compliant");
  EXPECT_EQ(by["faecal_coliforms"]["unit"], "MPN/L");
  EXPECT_EQ(by["faecal_coliforms"]["provisional_limit"], true);
  EXPECT_EQ(by["cod"]["entered_by"], "op");
  // Listed with their verdicts.
  EXPECT_EQ(get("/api/lab-results?site=TA", viewer_)["results"].size(), 4u);
}

TEST_F(LabApiTest, FormProblemsAreNamedByFieldAndNothingIsStored) {
  const auto r = call("POST", "/api/lab-results", op_,
                      R"({"site_id":"TA","sampled_at":"2026-12-30T08:00:00Z",
                          "results":[{"parameter":"cod","value":30,"unit":"g/L"},{"parameter":"bod5","value":3,"unit":"mg/L"},
                                     {"parameter":"ph","value":15,"unit":"pH"},{"parameter":"ss","value":"x","unit":"mg/L"}]})");
  ASSERT_EQ(r.status, 400u) << r.body;
  const auto j = json::parse(r.body);
  std::set<std::string> fields;
  for (const auto& e : j["errors"]) fields.insert(e["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"sampled_at", "results[0].unit", "results[1].parameter", "results[2].value", "results[3].value"}));
  EXPECT_TRUE(get("/api/lab-results?site=TA", op_)["results"].empty());
  EXPECT_GE(api_->counters().rejected["bad_body"], 1u);
}

TEST_F(LabApiTest, CsvImportNamesEveryBadRowByLineAndColumnAndImportsNothing) {
  const std::string csv =
      "site_id,sampled_at,parameter,value,unit,lab\r\n"
      "TA,2026-11-20T09:00:00Z,cod,40,mg/L,county lab\r\n"     // line 2: good
      "TX,2026-11-20T09:00:00Z,cod,40,mg/L,county lab\r\n"     // line 3: unknown site
      "TA,20/11/2026,tp,0.3,mg/L,county lab\r\n"               // line 4: bad date
      "TA,2026-11-20T09:00:00Z,ph,7.1,mg/L,county lab\r\n"     // line 5: wrong unit for pH
      "TA,2026-11-20T09:00:00Z,nh3_n,-2,mg/L,county lab\r\n"   // line 6: negative
      "TA,2026-11-20T09:00:00Z,bod5,3,mg/L,county lab\r\n"     // line 7: unknown parameter
      "\"TA\",2026-11-20,\"ss\",\"1,5\",mg/L,\"lab, east\"\r\n"  // line 8: quoted; value "1,5" not a number
      "TA,2026-11-20T09:00:00Z,cod,41,mg/L,county lab\r\n"     // line 9: same site, time, parameter as line 2
      "TA,2026-11-20T09:00:00Z,cod\r\n";                       // line 10: too few fields
  const auto r = call("POST", "/api/lab-results/import", op_, csv, "text/csv");
  ASSERT_EQ(r.status, 400u) << r.body;
  const auto j = json::parse(r.body);
  std::vector<std::pair<std::size_t, std::string>> got;
  for (const auto& e : j["errors"]) got.emplace_back(e["line"].get<std::size_t>(), e["column"].get<std::string>());
  const std::vector<std::pair<std::size_t, std::string>> want{{3, "site_id"}, {4, "sampled_at"}, {5, "unit"}, {6, "value"},
                                                              {7, "parameter"}, {8, "value"}, {9, "parameter"}, {10, ""}};
  EXPECT_EQ(got, want) << r.body;
  EXPECT_NE(j["error"]["message"].get<std::string>().find("nothing imported"), std::string::npos);
  EXPECT_NE(j["errors"][0]["reason"].get<std::string>().find("unknown site 'TX'"), std::string::npos);
  EXPECT_TRUE(get("/api/lab-results?site=TA", op_)["results"].empty());  // nothing half-imported
  // The same file without its bad rows imports (quoted fields, CRLF, a BOM, a date-only time).
  const std::string good = "\xEF\xBB\xBFsite_id,sampled_at,parameter,value,unit,lab\r\n"
                           "TA,2026-11-20T09:00:00Z,cod,40,mg/L,county lab\r\n"
                           "\"TA\",2026-11-20,\"ss\",\"12.5\",mg/L,\"lab, east\"\r\n";
  const auto ok = call("POST", "/api/lab-results/import", op_, good, "text/csv; charset=utf-8");
  ASSERT_EQ(ok.status, 201u) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["imported"], 2);
  const auto rows = get("/api/lab-results?site=TA", op_)["results"];
  ASSERT_EQ(rows.size(), 2u);
  std::map<std::string, json> by;
  for (const auto& x : rows) by[x["parameter"]] = x;
  EXPECT_EQ(by["ss"]["lab"], "lab, east");
  EXPECT_EQ(by["ss"]["verdict"], "exceeds");  // 1A SS 10 mg/L
  EXPECT_EQ(by["ss"]["source"], "csv");
  EXPECT_EQ(by["cod"]["verdict"], "compliant");
  EXPECT_EQ(ids_->audit_rows({}).front().action, "lab.import");
  // Header problems: unknown and missing columns; wrong content type.
  const auto h = call("POST", "/api/lab-results/import", op_, "site,sampled_at,parameter,value\nTA,2026-11-20,cod,1\n", "text/csv");
  ASSERT_EQ(h.status, 400u);
  const auto hj = json::parse(h.body)["errors"];
  EXPECT_EQ(hj[0]["column"], "site");
  EXPECT_EQ(hj[1]["column"], "site_id");
  EXPECT_EQ(hj[2]["column"], "unit");
  EXPECT_EQ(call("POST", "/api/lab-results/import", op_, good, "application/json").status, 415u);
  // An unterminated quote is named by its line.
  const auto q = call("POST", "/api/lab-results/import", op_, "site_id,sampled_at,parameter,value,unit\nTA,\"2026-11-20,cod,1,mg/L\n", "text/csv");
  ASSERT_EQ(q.status, 400u);
  EXPECT_EQ(json::parse(q.body)["errors"][0]["line"], 2);
}

TEST_F(LabApiTest, ATownOfficerOfAlphaGets403OnBetaSites) {
  EXPECT_EQ(call("GET", "/api/sites/TB/archive", op_a_).status, 403u);
  EXPECT_EQ(call("PUT", "/api/sites/TB/archive", op_a_, R"({"process":"x"})").status, 403u);
  EXPECT_EQ(call("POST", "/api/sites/TB/cleanouts", op_a_, R"({"date":"2026-11-01","volume_m3":1,"sludge_destination":"p","done_by":"c"})").status, 403u);
  EXPECT_EQ(call("POST", "/api/lab-results", op_a_, R"({"site_id":"TB","sampled_at":"2026-11-28","results":[{"parameter":"cod","value":1,"unit":"mg/L"}]})").status,
            403u);
  const auto imp = call("POST", "/api/lab-results/import", op_a_, "site_id,sampled_at,parameter,value,unit\nTB,2026-11-20,cod,1,mg/L\n", "text/csv");
  EXPECT_EQ(imp.status, 403u) << imp.body;
  EXPECT_EQ(call("GET", "/api/lab-results?site=TB", op_a_).status, 403u);
  EXPECT_EQ(call("GET", "/api/lab-results?town=Beta", op_a_).status, 403u);
  EXPECT_EQ(call("GET", "/api/lab-results/compliance?town=Beta", op_a_).status, 403u);
  // Lists hold only Alpha's sites.
  const auto sched = get("/api/lab-results/schedule", op_a_)["sites"];
  ASSERT_EQ(sched.size(), 1u);
  EXPECT_EQ(sched[0]["site_id"], "TA");
  EXPECT_EQ(get("/api/lab-results/compliance", op_a_)["sites"].size(), 1u);
  // Allowed on their own town; a viewer may read but not write.
  EXPECT_EQ(call("GET", "/api/sites/TA/archive", op_a_).status, 200u);
  EXPECT_EQ(call("PUT", "/api/sites/TA/archive", viewer_, R"({"process":"x"})").status, 403u);
}

TEST_F(LabApiTest, OverdueSamplesFlaggedOnASimulatedClock) {
  // Both sites registered "now" (first seen by the engine): TA large (30 d), TB small (180 d).
  auto s = get("/api/lab-results/schedule", op_);
  EXPECT_EQ(s["overdue"], 0);
  clock_.advance(std::chrono::hours(24 * 31));
  s = get("/api/lab-results/schedule?overdue=true", op_);
  ASSERT_EQ(s["sites"].size(), 1u);
  EXPECT_EQ(s["sites"][0]["site_id"], "TA");
  EXPECT_EQ(s["sites"][0]["size_class"], "large");
  EXPECT_EQ(s["sites"][0]["overdue_days"], 1);
  EXPECT_TRUE(s["sites"][0]["last_sampled_at"].is_null());
  // A sample resets TA's clock.
  const auto now = proto::format_timestamp(clock_.now() - std::chrono::hours(1));
  ASSERT_EQ(call("POST", "/api/lab-results", op_,
                 json{{"site_id", "TA"}, {"sampled_at", now}, {"results", {{{"parameter", "cod"}, {"value", 20}, {"unit", "mg/L"}}}}}.dump())
                .status,
            201u);
  EXPECT_EQ(get("/api/lab-results/schedule?overdue=true", op_)["overdue"], 0);
  clock_.advance(std::chrono::hours(24 * 150));  // 181 days after registration: TB (small) overdue, TA again
  s = get("/api/lab-results/schedule?overdue=true", op_);
  EXPECT_EQ(s["overdue"], 2);
  // The archive shows the same status.
  EXPECT_EQ(get("/api/sites/TB/archive", op_)["sampling"]["overdue"], true);
  EXPECT_EQ(call("GET", "/api/lab-results/schedule?overdue=yes", op_).status, 400u);
}

TEST_F(LabApiTest, ComplianceRateIsPerSampleAndApartFromTheTurbidityEarlyWarning) {
  const auto add = [&](const char* site, const char* t, double cod, double ph) {
    const auto r = call("POST", "/api/lab-results", op_,
                        json{{"site_id", site},
                             {"sampled_at", t},
                             {"results", {{{"parameter", "cod"}, {"value", cod}, {"unit", "mg/L"}}, {{"parameter", "ph"}, {"value", ph}, {"unit", "pH"}}}}}
                            .dump());
    ASSERT_EQ(r.status, 201u) << r.body;
  };
  add("TA", "2026-11-10T08:00:00Z", 30, 7);   // compliant
  add("TA", "2026-11-20T08:00:00Z", 30, 9.5);  // pH out: the sample is not compliant
  add("TB", "2026-11-21T08:00:00Z", 59, 7);   // grade_1 (provisional): compliant
  // TA's turbidity is well within its limit today: the early warning says 100 % while the lab says 50 %.
  eng_->handle({proto::telemetry_topic("TA"), proto::encode(test::with_turbidity(test::record("TA", 1, clock_.now()), 3)), false,
                clock_.now()});
  eng_->flush();
  const auto c = get("/api/lab-results/compliance?from=2026-11-01&to=2026-11-30", viewer_);
  EXPECT_EQ(c["total"]["lab_compliance"]["samples"], 3);
  EXPECT_EQ(c["total"]["lab_compliance"]["compliant_samples"], 2);
  EXPECT_NEAR(c["total"]["lab_compliance"]["rate"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_EQ(c["total"]["lab_compliance"]["results"], 6);
  EXPECT_EQ(c["total"]["lab_compliance"]["provisional_limits"], true);
  // The turbidity early warning is a separate object with its own figures (no turbidity data: null).
  EXPECT_TRUE(c["total"]["turbidity_early_warning"].contains("time_within_limit_rate"));
  EXPECT_FALSE(c["total"]["turbidity_early_warning"].contains("samples"));
  EXPECT_FALSE(c["total"]["lab_compliance"].contains("time_within_limit_rate"));
  ASSERT_EQ(c["towns"].size(), 2u);
  EXPECT_EQ(c["towns"][0]["town"], "Alpha");
  EXPECT_EQ(c["towns"][0]["lab_compliance"]["rate"], 0.5);
  EXPECT_EQ(c["sites"][1]["lab_compliance"]["rate"], 1.0);
  EXPECT_EQ(c["sites"][0]["site_id"], "TA");
  EXPECT_EQ(c["sites"][0]["lab_compliance"]["rate"], 0.5);
  EXPECT_EQ(c["sites"][0]["turbidity_early_warning"]["time_within_limit_rate"], 1.0);
  EXPECT_EQ(c["sites"][0]["turbidity_early_warning"]["turbidity_ok_s"], 60.0);
  EXPECT_TRUE(c["sites"][1]["turbidity_early_warning"]["time_within_limit_rate"].is_null());  // TB: no turbidity data
  // C++ figures as the assessment room reads them.
  const auto from = at("2026-11-01T00:00:00Z").time_since_epoch().count();
  const auto to = at("2026-12-01T00:00:00Z").time_since_epoch().count();
  const auto f = lab_->compliance({"TA"}, from, to);
  EXPECT_EQ(f.samples, 2u);
  EXPECT_EQ(f.compliant, 1u);
  EXPECT_EQ(f.rate, 0.5);
  EXPECT_FALSE(lab_->compliance({"TB"}, to, to + 1).rate.has_value());
  EXPECT_EQ(call("GET", "/api/lab-results/compliance?from=2026-12-01&to=2026-11-01", op_).status, 400u);
  // The monthly report carries the lab figures beside (not instead of) its turbidity compliance.
  const auto rep = get("/api/report?month=2026-11", viewer_);
  EXPECT_EQ(rep["totals"]["lab_compliance"]["samples"], 3);
  EXPECT_EQ(rep["terminals"][0]["id"], "TA");
  EXPECT_EQ(rep["terminals"][0]["lab_compliance"]["compliant_samples"], 1);
  EXPECT_EQ(rep["terminals"][0]["lab_compliance"]["rate"], 0.5);
  EXPECT_TRUE(rep["terminals"][0].contains("compliance_rate"));  // the turbidity figure keeps its own name
  EXPECT_EQ(rep["towns"][0]["lab_compliance"]["samples"], 2);
}

TEST_F(LabApiTest, ArchiveRoundTripWithEquipmentCleanoutsAndWorkOrderHistory) {
  auto a = get("/api/sites/TA/archive", viewer_);
  EXPECT_EQ(a["site"]["discharge_grade"], "grade_1a");
  EXPECT_EQ(a["site"]["discharge_standard"], "GB 18918-2002");
  EXPECT_EQ(a["site"]["design_capacity_m3d"], 150.0);
  EXPECT_EQ(a["site"]["size_class"], "large");
  EXPECT_TRUE(a["archive"]["changed_at"].is_null());
  EXPECT_TRUE(a["contractor"].is_null());   // no [[om.contractor]] serves Alpha
  EXPECT_EQ(get("/api/sites/TB/archive", viewer_)["contractor"], json({{"name", "hy-water"}, {"display_name", "Haiyan Water O&M"}}));
  EXPECT_EQ(a["work_orders"], json::array());  // the work-order and inspection rooms' tables, empty
  EXPECT_EQ(a["inspections"], json::array());
  ASSERT_EQ(call("PUT", "/api/sites/TA/archive", op_, R"({"process":"A/O + wetland","households":312,"villages":["Xicun","Dongcun"],"notes":"n"})").status,
            200u);
  ASSERT_EQ(call("POST", "/api/sites/TA/equipment", op_, R"({"kind":"blower","model":"HG-250","serial":"SN-77","installed_date":"2024-05-01"})").status,
            201u);
  const auto e2 = call("POST", "/api/sites/TA/equipment", op_, R"({"kind":"pump","model":"WQ10"})");
  ASSERT_EQ(e2.status, 201u);
  ASSERT_EQ(call("POST", "/api/sites/TA/cleanouts", op_,
                 R"({"date":"2026-10-12","volume_m3":4.5,"sludge_destination":"Haiyan WWTP","done_by":"crew 2","note":"septic tank"})")
                .status,
            201u);
  a = get("/api/sites/TA/archive", viewer_);
  EXPECT_EQ(a["archive"]["process"], "A/O + wetland");
  EXPECT_EQ(a["archive"]["households"], 312);
  EXPECT_EQ(a["archive"]["villages"], json({"Xicun", "Dongcun"}));
  EXPECT_EQ(a["archive"]["changed_by"], "op");
  ASSERT_EQ(a["equipment"].size(), 2u);
  EXPECT_EQ(a["equipment"][0]["serial"], "SN-77");
  EXPECT_EQ(a["equipment"][0]["installed_date"], "2024-05-01");
  ASSERT_EQ(a["cleanouts"].size(), 1u);
  EXPECT_EQ(a["cleanouts"][0]["volume_m3"], 4.5);
  EXPECT_EQ(a["cleanouts"][0]["sludge_destination"], "Haiyan WWTP");
  EXPECT_EQ(a["cleanouts"][0]["done_by"], "crew 2");
  // Delete one item; a second delete is 404; another site's id is 404 too.
  const auto eid = json::parse(e2.body)["id"].get<std::int64_t>();
  EXPECT_EQ(call("DELETE", "/api/sites/TB/equipment/" + std::to_string(eid), op_).status, 404u);
  EXPECT_EQ(call("DELETE", "/api/sites/TA/equipment/" + std::to_string(eid), op_).status, 200u);
  EXPECT_EQ(call("DELETE", "/api/sites/TA/equipment/" + std::to_string(eid), op_).status, 404u);
  EXPECT_EQ(get("/api/sites/TA/archive", op_)["equipment"].size(), 1u);
  // Bad input named by field.
  auto r = call("POST", "/api/sites/TA/cleanouts", op_, R"({"date":"2027-01-01","volume_m3":1,"sludge_destination":"p","done_by":"c"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("date: is in the future"), std::string::npos);
  r = call("POST", "/api/sites/TA/cleanouts", op_, R"({"date":"2026-11-01","volume_m3":-1,"sludge_destination":"p","done_by":"c"})");
  EXPECT_NE(r.body.find("volume_m3"), std::string::npos);
  r = call("PUT", "/api/sites/TA/archive", op_, R"({"households":-3})");
  EXPECT_NE(r.body.find("households: must be an integer"), std::string::npos);
  r = call("PUT", "/api/sites/TA/archive", op_, R"({"proces":"x"})");
  EXPECT_NE(r.body.find("unknown field 'proces'"), std::string::npos);
  EXPECT_EQ(call("GET", "/api/sites/NOPE/archive", op_).status, 404u);
  // The work-order and inspection rooms' rows (schema v9 and v10) are the archive's history.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((dir_.path() / "g.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "INSERT INTO work_orders(site_id, source, fault_type, severity, state, title, created_ms, due_ms, created_by) "
                         "VALUES('TA','alert','no_flow','critical','verified','pump',1,2,'system');"
                         "INSERT INTO work_orders(site_id, source, fault_type, severity, state, title, created_ms, due_ms, created_by) "
                         "VALUES('TB','manual','x','warning','open','other',2,3,'li');"
                         "INSERT INTO inspections(site_id, kind, town, contractor, state, due_ms, started_ms, completed_ms, started_by, completed_by) "
                         "VALUES('TA','terminal','Alpha','hy-water','completed',5,3,4,'li','li');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  a = get("/api/sites/TA/archive", viewer_);
  ASSERT_TRUE(a["work_orders"].is_array());
  ASSERT_EQ(a["work_orders"].size(), 1u);
  EXPECT_EQ(a["work_orders"][0]["state"], "verified");
  EXPECT_EQ(a["work_orders"][0]["fault_type"], "no_flow");
  ASSERT_TRUE(a["inspections"].is_array());
  ASSERT_EQ(a["inspections"].size(), 1u);
  EXPECT_EQ(a["inspections"][0]["state"], "completed");
  EXPECT_EQ(a["inspections"][0]["completed_ms"], 4);
  // With the gateway's work orders room (the shared tables on PostgreSQL) the orders come from it:
  // the same rows, column by column, as the file's table gives them.
  om::work_orders orders(dir_.path() / "g.db", cfg_.om, clock_, nullptr, nullptr);
  const auto key = om::load_or_create_site_key(dir_.path() / "site-key");
  api_->set_om(&orders, &key);
  const auto through_room = get("/api/sites/TA/archive", viewer_);
  EXPECT_EQ(through_room["work_orders"], a["work_orders"]);
  EXPECT_EQ(through_room["work_orders"][0].size(), 23u) << "every column of the table";
  EXPECT_EQ(through_room["work_orders"][0]["dispatched_ms"], nullptr);
  EXPECT_EQ(through_room["inspections"], a["inspections"]);
  api_->set_om(nullptr, nullptr);
  // Every change is in the audit log.
  std::set<std::string> actions;
  for (const auto& row : ids_->audit_rows({})) actions.insert(row.action);
  for (const char* want : {"archive.put", "archive.equipment.add", "archive.equipment.remove", "archive.cleanout"})
    EXPECT_TRUE(actions.count(want)) << want;
}

TEST_F(LabApiTest, LimitsTableIsServedWithSources) {
  const auto j = get("/api/effluent-limits", viewer_);
  ASSERT_GE(j["grades"].size(), 5u);
  EXPECT_EQ(j["units"]["faecal_coliforms"], "MPN/L");
  for (const auto& g : j["grades"])
    for (const auto& [p, l] : g["limits"].items()) EXPECT_FALSE(l["source"].get<std::string>().empty()) << g["grade"] << p;
}

}  // namespace
}  // namespace sewage::gateway
