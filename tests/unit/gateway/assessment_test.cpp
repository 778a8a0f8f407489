// Contractor assessment (issue 12 item 8): scores and deductions on fixed data, every deduction
// with its evidence; parts without data or without their source deduct nothing; JSON and CSV.
#include "sewage/gateway/om/assessment.hpp"

#include "sewage/gateway/om/lab.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::gateway::om {
namespace {

constexpr std::int64_t day = 86'400'000;
constexpr std::int64_t from = 1'793'462'400'000;  // 2026-10-31T16:00:00Z = 2026-11-01 00:00 Asia/Shanghai
constexpr std::int64_t to = from + 30 * day;

occurrence due(std::string site, std::int64_t due_ms, occurrence::status s, std::optional<std::int64_t> id = {}) {
  occurrence o;
  o.site_id = std::move(site);
  o.due_ms = due_ms;
  o.state = s;
  o.inspection_id = id;
  return o;
}

/// Two contractors: hy-water serves A1, A2 (town Alpha) and B1 (town Beta); green serves B2 (Beta).
assessment_input fixture() {
  assessment_input in;
  in.month = "2026-11";
  in.from_ms = from;
  in.to_ms = to;
  in.now_ms = to + day;
  in.sites = {{"A1", "Alpha", "hy-water"}, {"A2", "Alpha", "hy-water"}, {"B1", "Beta", "hy-water"}, {"B2", "Beta", "green"}};
  // hy-water: 4 orders due in the month: 11 on time, 12 fixed late, 13 never fixed and past due,
  // 14 on time but reopened twice; 15 is due next month (not counted). green: 21 on time.
  in.orders = {{11, "A1", from + 2 * day, from + day, 0},      {12, "A2", from + 3 * day, from + 4 * day, 0},
               {13, "B1", from + 5 * day, std::nullopt, 0},     {14, "A1", from + 6 * day, from + 5 * day, 2},
               {15, "A1", to + day, std::nullopt, 0},           {21, "B2", from + 9 * day, from + 8 * day, 0}};
  // hy-water: 4 due dates judged (2 on time, 1 late #31, 1 missed), one pending (not counted);
  // green: 1 on time.
  in.inspections = {due("A1", from + day, occurrence::status::on_time, 30),
                    due("A1", from + 8 * day, occurrence::status::on_time, 32),
                    due("A2", from + 2 * day, occurrence::status::late, 31),
                    due("B1", from + 4 * day, occurrence::status::missed),
                    due("B1", from + 29 * day, occurrence::status::pending),
                    due("B2", from + 3 * day, occurrence::status::on_time, 40)};
  // Availability: A1 full, A2 at 80 %, B1 at 99 %; B2 full.
  in.availability = {{"A1", 1000, 1000}, {"A2", 800, 1000}, {"B1", 990, 1000}, {"B2", 500, 500}};
  // Lab: hy-water 4 samples, #52 not compliant; green none.
  in.lab = {{51, "A1", "cod", true, from + day},
            {52, "A2", "nh3_n", false, from + day},
            {53, "B1", "cod", true, from + 2 * day},
            {54, "B1", "tp", true, from + 3 * day}};
  return in;
}

const part_score& part(const group_score& g, assessment_part p) { return g.parts[static_cast<std::size_t>(p)]; }

TEST(Assessment, ScoresAndDeductionsPerContractorWithEvidence) {
  const assessment_settings s;  // 30/20/20/15/15, targets 1, reopen 0.2, availability 0.95, lab 1
  const auto a = assess(fixture(), s, true);
  ASSERT_EQ(a.groups.size(), 2u);
  const auto& green = a.groups[0];
  const auto& hy = a.groups[1];
  EXPECT_EQ(green.key, "green");
  EXPECT_EQ(hy.key, "hy-water");
  EXPECT_EQ(hy.sites, 3u);

  // on time: 2 of 4 -> rate 0.5 -> 30 x 0.5 = 15 points; evidence: orders 12 and 13.
  const auto& ot = part(hy, assessment_part::on_time);
  EXPECT_EQ(ot.counted, 4u);
  EXPECT_EQ(ot.failed, 2u);
  EXPECT_DOUBLE_EQ(*ot.rate, 0.5);
  EXPECT_DOUBLE_EQ(ot.deduction, 15.0);
  ASSERT_EQ(ot.items.size(), 2u);
  EXPECT_EQ(ot.items[0].id, 12);
  EXPECT_EQ(ot.items[0].detail, "fixed after its due time");
  EXPECT_EQ(ot.items[1].id, 13);
  EXPECT_EQ(ot.items[1].detail, "not fixed, past due");
  // reopen: of 3 fixed orders (11, 12, 14), 14 reopened -> 1/3 >= 0.2 -> all 20 points.
  const auto& ro = part(hy, assessment_part::reopen);
  EXPECT_EQ(ro.counted, 3u);
  EXPECT_DOUBLE_EQ(*ro.rate, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(ro.deduction, 20.0);
  ASSERT_EQ(ro.items.size(), 1u);
  EXPECT_EQ(ro.items[0].id, 14);
  EXPECT_EQ(ro.items[0].detail, "reopened 2x");
  // inspection: 2 of 4 on time -> 20 x 0.5 = 10; evidence: inspection 31 (late), B1's missed date.
  const auto& in = part(hy, assessment_part::inspection);
  EXPECT_EQ(in.counted, 4u);
  EXPECT_DOUBLE_EQ(in.deduction, 10.0);
  ASSERT_EQ(in.items.size(), 2u);
  EXPECT_EQ(in.items[0].kind, "inspection");
  EXPECT_EQ(in.items[0].id, 31);
  EXPECT_EQ(in.items[0].detail, "late");
  EXPECT_EQ(in.items[1].kind, "missed_inspection");
  EXPECT_FALSE(in.items[1].id);
  EXPECT_EQ(in.items[1].site_id, "B1");
  EXPECT_EQ(in.items[1].due_ms, from + 4 * day);
  // availability: 2790 / 3000 = 0.93 < 0.95 -> 15 x 0.02/0.95; evidence: A2 at 0.8 (B1 at 0.99 is fine).
  const auto& av = part(hy, assessment_part::availability);
  EXPECT_DOUBLE_EQ(*av.rate, 0.93);
  EXPECT_NEAR(av.deduction, 15.0 * 0.02 / 0.95, 1e-9);
  ASSERT_EQ(av.items.size(), 1u);
  EXPECT_EQ(av.items[0].site_id, "A2");
  EXPECT_DOUBLE_EQ(*av.items[0].value, 0.8);
  // lab: 3 of 4 compliant -> 15 x 0.25 = 3.75; evidence: result 52.
  const auto& lab = part(hy, assessment_part::lab);
  EXPECT_DOUBLE_EQ(lab.deduction, 3.75);
  ASSERT_EQ(lab.items.size(), 1u);
  EXPECT_EQ(lab.items[0].id, 52);
  EXPECT_EQ(lab.items[0].detail, "nh3_n not compliant");
  EXPECT_NEAR(hy.score, 100.0 - 15.0 - 20.0 - 10.0 - 15.0 * 0.02 / 0.95 - 3.75, 1e-9);

  // green: everything on time, full availability; no lab sample -> no data, no deduction.
  EXPECT_DOUBLE_EQ(green.score, 100.0);
  EXPECT_TRUE(part(green, assessment_part::lab).no_data);
  EXPECT_FALSE(part(green, assessment_part::lab).rate);
  EXPECT_TRUE(part(green, assessment_part::reopen).items.empty());
  // Every deduction carries evidence.
  for (const auto& g : a.groups)
    for (const auto& p : g.parts)
      if (p.deduction > 0) {
        EXPECT_FALSE(p.items.empty()) << g.key << " " << to_string(p.part);
      }
}

TEST(Assessment, PerTownAndConfiguredWeightsAndTargets) {
  assessment_settings s;
  s.weights = {40, 10, 20, 15, 15};
  s.targets[static_cast<std::size_t>(assessment_part::on_time)] = 0.5;  // half on time is enough
  s.reopen_rate_full_deduction = 1.0;
  const auto a = assess(fixture(), s, false);
  ASSERT_EQ(a.groups.size(), 2u);
  const auto& alpha = a.groups[0];
  const auto& beta = a.groups[1];
  EXPECT_EQ(alpha.key, "Alpha");
  // Alpha: orders 11, 12 (late), 14 -> 2/3 on time >= 0.5: nothing; reopen 1/3 of 3 -> 10 x 1/3.
  EXPECT_DOUBLE_EQ(part(alpha, assessment_part::on_time).deduction, 0.0);
  EXPECT_TRUE(part(alpha, assessment_part::on_time).items.empty());
  EXPECT_NEAR(part(alpha, assessment_part::reopen).deduction, 10.0 / 3.0, 1e-9);
  // Beta: orders 13 (not fixed), 21 -> 0.5 on time = target: nothing.
  EXPECT_DOUBLE_EQ(part(beta, assessment_part::on_time).deduction, 0.0);
  EXPECT_EQ(part(beta, assessment_part::inspection).counted, 2u);  // B1 missed + B2 on time; pending not counted
  EXPECT_DOUBLE_EQ(part(beta, assessment_part::inspection).deduction, 10.0);
}

TEST(Assessment, MissingSourcesAndEmptyMonthsDeductNothingAndSaySo) {
  auto in = fixture();
  in.orders_available = false;
  in.lab_available = false;
  in.orders.clear();
  in.lab.clear();
  const auto a = assess(in, assessment_settings{}, true);
  const auto& hy = a.groups[1];
  EXPECT_TRUE(part(hy, assessment_part::on_time).unavailable);
  EXPECT_TRUE(part(hy, assessment_part::reopen).unavailable);
  EXPECT_TRUE(part(hy, assessment_part::lab).unavailable);
  EXPECT_EQ(part(hy, assessment_part::on_time).deduction, 0.0);
  EXPECT_NEAR(hy.score, 100.0 - 10.0 - 15.0 * 0.02 / 0.95, 1e-9);
  // A site with no data at all.
  assessment_input empty;
  empty.sites = {{"Z", "Zeta", "lone"}};
  const auto e = assess(empty, assessment_settings{}, true);
  ASSERT_EQ(e.groups.size(), 1u);
  EXPECT_EQ(e.groups[0].score, 100.0);
  for (const auto& p : e.groups[0].parts) EXPECT_TRUE(p.no_data);
}

TEST(Assessment, JsonAndCsvCarryTheEvidence) {
  const auto a = assess(fixture(), assessment_settings{}, true);
  const auto j = nlohmann::json::parse(assessment_json(a));
  EXPECT_EQ(j["month"], "2026-11");
  EXPECT_EQ(j["by"], "contractor");
  EXPECT_EQ(j["from"], "2026-10-31T16:00:00Z");
  const auto& hy = j["groups"][1];
  EXPECT_EQ(hy["key"], "hy-water");
  EXPECT_EQ(hy["parts"]["on_time"]["deduction"], 15.0);
  EXPECT_EQ(hy["parts"]["on_time"]["evidence"][0]["id"], 12);
  EXPECT_EQ(hy["parts"]["inspection"]["evidence"][1]["kind"], "missed_inspection");
  EXPECT_TRUE(hy["parts"]["inspection"]["evidence"][1]["id"].is_null());
  EXPECT_EQ(hy["parts"]["availability"]["evidence"][0]["value"], 0.8);
  EXPECT_TRUE(j["groups"][0]["parts"]["lab"]["rate"].is_null());
  const auto csv = assessment_csv(a);
  EXPECT_EQ(csv.rfind("\xEF\xBB\xBF" "contractor,month,part,", 0), 0u);
  EXPECT_NE(csv.find("hy-water,2026-11,on_time,30.000,1.000,4,2,0.500,15.000,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("work_order:12@A2 fixed after its due time"), std::string::npos);
  EXPECT_NE(csv.find("lab_result:52@A2 nh3_n not compliant"), std::string::npos);
  EXPECT_NE(csv.find("green,2026-11,lab,15.000,1.000,0,0,,0.000,100.000,no data"), std::string::npos) << csv;
  // A contractor name that looks like a formula is defused.
  auto in = fixture();
  in.sites[3].contractor = "=cmd()";
  EXPECT_NE(assessment_csv(assess(in, assessment_settings{}, true)).find("'=cmd()"), std::string::npos);
}

/// The lab part read from the real lab_results table (written by the lab room, judged against the
/// shipped limits): a sample is one site's results at one time, compliant when all of them are, the
/// same figure as the lab page's compliance; every failing result is evidence.
TEST(Assessment, LabPartReadsTheLabRoomsTableAndCountsSamplesLikeTheLabPage) {
  testing::temp_dir dir("gw-assess-lab");
  manual_clock clock(test::at("2026-12-02T08:00:00Z"));
  sqlite_store store(dir.path() / "g.db", 10);  // creates every table at sqlite_schema_version
  const auto limits = load_limits(default_limits_file());
  lab room(dir.path() / "g.db", limits, clock);
  const auto row = [](std::string site, std::int64_t ms, lab_parameter p, double v) {
    lab_result_input r;
    r.site_id = std::move(site);
    r.sampled_ms = ms;
    r.parameter = p;
    r.value = v;
    r.grade = "grade_1a";  // GB 18918-2002 1A: COD <= 50 mg/L, NH3-N <= 5 mg/L (shipped table)
    return r;
  };
  // A1: one sample of two results, NH3-N over its limit -> one failed sample, one evidence item.
  // A2: two compliant samples. B2 (another contractor): one compliant sample. Outside the month and
  // an unknown site are not counted.
  const auto ids = room.add({row("A1", from + day, lab_parameter::cod, 30), row("A1", from + day, lab_parameter::nh3_n, 12),
                             row("A2", from + 2 * day, lab_parameter::cod, 20), row("A2", from + 9 * day, lab_parameter::cod, 45),
                             row("B2", from + 3 * day, lab_parameter::cod, 10), row("A1", to + day, lab_parameter::cod, 400),
                             row("ZZ", from + day, lab_parameter::cod, 400)},
                            "form", "tester");
  ASSERT_EQ(ids.size(), 7u);

  auto in = fixture();
  in.lab.clear();
  load_orders_and_lab(dir.path() / "g.db", in);
  EXPECT_TRUE(in.lab_available);
  EXPECT_TRUE(in.orders_available);
  EXPECT_EQ(in.lab.size(), 5u);  // A1 x2, A2 x2, B2

  const auto a = assess(in, assessment_settings{}, true);
  const auto& hy = a.groups[1];
  ASSERT_EQ(hy.key, "hy-water");
  const auto& labp = part(hy, assessment_part::lab);
  EXPECT_EQ(labp.counted, 3u);  // samples, not results
  EXPECT_EQ(labp.failed, 1u);
  ASSERT_TRUE(labp.rate);
  // The lab room's own figure over the same sites and month.
  const auto fig = room.compliance({"A1", "A2", "B1"}, from, to);
  EXPECT_EQ(fig.samples, 3u);
  EXPECT_EQ(fig.compliant, 2u);
  EXPECT_DOUBLE_EQ(*labp.rate, *fig.rate);
  EXPECT_DOUBLE_EQ(labp.deduction, 15.0 / 3.0);  // 15 x (1 - 2/3) / 1
  ASSERT_EQ(labp.items.size(), 1u);
  EXPECT_EQ(labp.items[0].id, ids[1]);
  EXPECT_EQ(labp.items[0].site_id, "A1");
  EXPECT_EQ(labp.items[0].detail, "nh3_n not compliant");
  const auto& green = a.groups[0];
  EXPECT_EQ(part(green, assessment_part::lab).counted, 1u);
  EXPECT_DOUBLE_EQ(part(green, assessment_part::lab).deduction, 0.0);
}

}  // namespace
}  // namespace sewage::gateway::om
