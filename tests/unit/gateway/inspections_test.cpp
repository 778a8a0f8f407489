// Inspections (issue 12 item 2): the plan's due dates and late flags on a simulated clock, start
// by check-in, checklist completion, findings -> work orders, figures; the [om.inspections] and
// [om.assessment] configuration; site QR codes decoded back with ZXing.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/om/qr.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "qr_decode.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

namespace sewage::gateway::om {
namespace {

constexpr std::int64_t day = 86'400'000;
constexpr std::int64_t t0 = 1'790'000'000'000;  // 2026-09-21T...Z: the plan's epoch in these tests

plan_site site(std::string id, double capacity_m3d, std::string town = "Alpha", std::string contractor = "hy-water") {
  plan_site s;
  s.site_id = std::move(id);
  s.name = s.site_id;
  s.town = std::move(town);
  s.contractor = std::move(contractor);
  s.design_capacity_m3d = capacity_m3d;
  s.since_ms = t0;
  return s;
}

auth::principal person(std::string name) {
  auth::principal p;
  p.kind = auth::actor_kind::user;
  p.name = std::move(name);
  p.role = auth::role::operator_;
  return p;
}

// ---------------------------------------------------------------- the due-date walk (pure)

TEST(InspectionPlan, WalkJudgesEveryDueDate) {
  const auto s = site("T1", 10);  // small: 30 days in these figures
  const std::int64_t iv = 30 * day;
  // due t0+30d: done 2 days early (on time) -> next due t0+58d: done 3 days late -> next due
  // t0+91d: nothing within 30 days (missed) -> t0+121d: overdue at now = t0+125d.
  const std::vector<std::pair<std::int64_t, std::int64_t>> done{{t0 + 28 * day, 7}, {t0 + 61 * day, 9}};
  const auto occ = walk_plan(s, iv, done, 0, t0 + 400 * day, t0 + 125 * day);
  ASSERT_EQ(occ.size(), 4u);
  EXPECT_EQ(occ[0].due_ms, t0 + 30 * day);
  EXPECT_EQ(occ[0].state, occurrence::status::on_time);
  EXPECT_EQ(occ[0].inspection_id, 7);
  EXPECT_EQ(occ[1].due_ms, t0 + 58 * day);
  EXPECT_EQ(occ[1].state, occurrence::status::late);
  EXPECT_EQ(occ[1].inspection_id, 9);
  EXPECT_EQ(occ[2].due_ms, t0 + 91 * day);
  EXPECT_EQ(occ[2].state, occurrence::status::missed);
  EXPECT_FALSE(occ[2].inspection_id);
  EXPECT_EQ(occ[3].due_ms, t0 + 121 * day);
  EXPECT_EQ(occ[3].state, occurrence::status::overdue);
  // Judged before its due date, the next one is pending; a period keeps only its due dates.
  const auto early = walk_plan(s, iv, {}, 0, t0 + 400 * day, t0 + 10 * day);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].state, occurrence::status::pending);
  const auto window = walk_plan(s, iv, done, t0 + 50 * day, t0 + 100 * day, t0 + 125 * day);
  ASSERT_EQ(window.size(), 2u);
  EXPECT_EQ(window[0].due_ms, t0 + 58 * day);
}

TEST(InspectionPlan, SeveralEarlyInspectionsAnswerOneDueDateAndTheLastAnchorsTheNext) {
  const auto occ = walk_plan(site("T1", 10), 30 * day, {{t0 + 5 * day, 1}, {t0 + 20 * day, 2}}, 0, t0 + 51 * day, t0 + 60 * day);
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].state, occurrence::status::on_time);
  EXPECT_EQ(occ[0].inspection_id, 2);
  EXPECT_EQ(occ[1].due_ms, t0 + 50 * day);  // 20 + 30
  EXPECT_EQ(occ[1].state, occurrence::status::overdue);
}

TEST(InspectionFigures, CompletionRateAndLateInspectionsPerContractorAndTown) {
  std::vector<occurrence> occ;
  const auto add = [&](std::string town, std::string contractor, occurrence::status st) {
    occurrence o;
    o.town = std::move(town);
    o.contractor = std::move(contractor);
    o.state = st;
    occ.push_back(o);
  };
  using st = occurrence::status;
  add("Alpha", "hy-water", st::on_time);
  add("Alpha", "hy-water", st::late);
  add("Beta", "hy-water", st::missed);
  add("Beta", "hy-water", st::pending);
  add("Beta", "green", st::on_time);
  const auto by_c = figures_of(occ, true);
  ASSERT_EQ(by_c.size(), 2u);
  EXPECT_EQ(by_c[0].key, "green");
  EXPECT_EQ(by_c[0].completion_rate(), 1.0);
  EXPECT_EQ(by_c[1].key, "hy-water");
  EXPECT_EQ(by_c[1].judged(), 3u);
  EXPECT_EQ(by_c[1].pending, 1u);
  EXPECT_DOUBLE_EQ(*by_c[1].completion_rate(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*by_c[1].on_time_rate(), 1.0 / 3.0);
  EXPECT_EQ(by_c[1].late_total(), 2u);
  const auto by_t = figures_of(occ, false);
  ASSERT_EQ(by_t.size(), 2u);
  EXPECT_EQ(by_t[1].key, "Beta");
  EXPECT_DOUBLE_EQ(*by_t[1].completion_rate(), 0.5);
  // Nothing judged: no rate (never a made-up 100 %).
  EXPECT_FALSE(inspection_figures{}.completion_rate());
}

// ---------------------------------------------------------------- the store

class InspectionStore : public ::testing::Test {
 protected:
  InspectionStore() : dir_("gw-insp"), store_(dir_.path() / "g.db", 10) {
    insp_ = std::make_unique<inspections>(dir_.path() / "g.db", inspection_settings{});
  }
  std::int64_t checkin(const std::string& site_id, const std::string& actor, std::int64_t ts) {
    sqlite3* db = nullptr;
    sqlite3_open((dir_.path() / "g.db").c_str(), &db);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO checkins(site_id, actor, ts_ms, lat, lon, accuracy_m, distance_m) VALUES(?1, ?2, ?3, 30.5, 120.9, 8, 12)",
                       -1, &s, nullptr);
    sqlite3_bind_text(s, 1, site_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, actor.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, ts);
    EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    const auto id = sqlite3_last_insert_rowid(db);
    sqlite3_close(db);
    return id;
  }
  std::vector<item_answer> all_ok(const std::string& kind = "terminal") {
    std::vector<item_answer> out;
    for (const auto& i : insp_->settings().checklists.at(kind)) out.push_back({i.key, item_result::ok, ""});
    return out;
  }
  /// Inspects `s` at `ts` with every item ok; returns the inspection id.
  std::int64_t inspect(const plan_site& s, std::int64_t ts, const std::string& who = "li") {
    const auto id = insp_->start(s, checkin(s.site_id, who, ts - 60'000), person(who), ts);
    insp_->complete(id, all_ok(), "", person(who), ts + 600'000, no_orders);
    return id;
  }
  static std::int64_t no_orders(const finding&, const auth::principal&) {
    ADD_FAILURE() << "no finding expected";
    return 0;
  }
  testing::temp_dir dir_;
  sqlite_store store_;
  std::unique_ptr<inspections> insp_;
};

TEST_F(InspectionStore, PlanDueDatesFollowSizeClassAndLastCompletionOnASimulatedClock) {
  ASSERT_EQ(store_.schema_version(), sqlite_schema_version);
  const auto small = site("S", 20), medium = site("M", 50), large = site("L", 150);
  // Never inspected: due one interval after joining the plan. Defaults 30 / 14 / 7 days.
  auto plan = insp_->plan({small, medium, large}, t0 + 6 * day);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].size, facility_size::small);
  EXPECT_EQ(plan[0].next_due_ms, t0 + 30 * day);
  EXPECT_EQ(plan[1].size, facility_size::medium);
  EXPECT_EQ(plan[1].next_due_ms, t0 + 14 * day);
  EXPECT_EQ(plan[2].size, facility_size::large);
  EXPECT_EQ(plan[2].next_due_ms, t0 + 7 * day);
  for (const auto& r : plan) EXPECT_FALSE(r.late) << r.site.site_id;
  // The clock moves on: the large one is late 3 days later (days_late counts whole days).
  plan = insp_->plan({small, medium, large}, t0 + 10 * day + 1);
  EXPECT_TRUE(plan[2].late);
  EXPECT_EQ(plan[2].days_late, 3);
  EXPECT_FALSE(plan[1].late);
  // Inspected on day 11: due again 7 days after the completion, not late any more.
  const auto id = inspect(large, t0 + 11 * day);
  plan = insp_->plan({large}, t0 + 12 * day);
  EXPECT_FALSE(plan[0].late);
  EXPECT_EQ(plan[0].last_inspection_id, id);
  EXPECT_EQ(plan[0].next_due_ms, t0 + 11 * day + 600'000 + 7 * day);
  // The stored due time of that inspection was the plan's: late (day 11 > day 7).
  EXPECT_EQ(insp_->get(id)->due_ms, t0 + 7 * day);
  // Occurrences: the first due date was answered late by it.
  const auto occ = insp_->occurrences({large}, t0, t0 + 30 * day, t0 + 12 * day);
  ASSERT_FALSE(occ.empty());
  EXPECT_EQ(occ[0].state, occurrence::status::late);
  EXPECT_EQ(occ[0].inspection_id, id);
}

TEST_F(InspectionStore, IntervalsComeFromConfiguration) {
  inspection_settings s;
  s.interval_days_small = 60;
  s.size_class_limits_m3d = {10, 40};
  inspections custom(dir_.path() / "g.db", s);
  const auto plan = custom.plan({site("A", 5), site("B", 20), site("C", 40)}, t0);
  EXPECT_EQ(plan[0].interval_days, 60u);
  EXPECT_EQ(plan[1].size, facility_size::medium);
  EXPECT_EQ(plan[2].size, facility_size::large);
}

TEST_F(InspectionStore, StartNeedsACheckInOfThisSiteByThisPersonThatIsFreshAndUnused) {
  const auto s = site("T1", 20);
  const auto now = t0 + 40 * day;
  const auto status_of = [&](std::int64_t cid, const std::string& who) -> unsigned {
    try {
      insp_->start(s, cid, person(who), now);
    } catch (const inspection_error& e) {
      EXPECT_NE(std::string(e.what()).find("checkin_id"), std::string::npos) << e.what();
      return e.status();
    }
    return 0;
  };
  EXPECT_EQ(status_of(999, "li"), 404u);
  EXPECT_EQ(status_of(checkin("T2", "li", now), "li"), 409u);            // another site
  EXPECT_EQ(status_of(checkin("T1", "wang", now), "li"), 409u);          // another person
  EXPECT_EQ(status_of(checkin("T1", "li", now - 3 * 3600'000), "li"), 409u);  // 3 h old
  const auto good = checkin("T1", "li", now - 60'000);
  EXPECT_EQ(status_of(good, "li"), 0u);
  // Used once: not again; and the site has a started inspection already.
  EXPECT_EQ(status_of(good, "li"), 409u);
  try {
    insp_->start(s, checkin("T1", "li", now), person("li"), now);
    ADD_FAILURE() << "a second started inspection was accepted";
  } catch (const inspection_error& e) {
    EXPECT_EQ(e.status(), 409u);
    EXPECT_NE(std::string(e.what()).find("already started"), std::string::npos);
  }
}

TEST_F(InspectionStore, FindingsOpenWorkOrdersWithTheItemsFaultTypeAndSeverity) {
  const auto s = site("T1", 20);
  const auto id = insp_->start(s, checkin("T1", "li", t0 + day), person("li"), t0 + day);
  auto answers = all_ok();
  answers[0] = {"outlet_clear", item_result::not_ok, "outlet blocked by leaves"};
  answers[5] = {"fence_signage", item_result::not_ok, "sign missing"};
  answers[2] = {"sludge_level", item_result::na, ""};
  std::vector<finding> seen;
  const auto done = insp_->complete(id, answers, "spring visit", person("li"), t0 + day + 1000,
                                    [&](const finding& f, const auth::principal& by) {
                                      EXPECT_EQ(by.name, "li");
                                      seen.push_back(f);
                                      return static_cast<std::int64_t>(100 + seen.size());
                                    });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].item.key, "outlet_clear");
  EXPECT_EQ(seen[0].item.fault_type, "inspection:outlet_clear");
  EXPECT_EQ(seen[0].item.severity, "warning");
  EXPECT_EQ(seen[0].note, "outlet blocked by leaves");
  EXPECT_EQ(seen[0].site_id, "T1");
  EXPECT_EQ(seen[0].inspection_id, id);
  EXPECT_EQ(seen[1].item.severity, "info");
  EXPECT_EQ(done.items.at(0).work_order_id, 101);
  EXPECT_EQ(done.items.at(5).work_order_id, 102);
  EXPECT_FALSE(done.items.at(1).work_order_id);
  // Stored as answered.
  const auto back = insp_->get(id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, "completed");
  EXPECT_EQ(back->note, "spring visit");
  ASSERT_EQ(back->items.size(), 6u);
  EXPECT_EQ(back->items[0].result, item_result::not_ok);
  EXPECT_EQ(back->items[0].work_order_id, 101);
  EXPECT_EQ(back->items[2].result, item_result::na);
  EXPECT_EQ(back->items[5].work_order_id, 102);
  // Completed once only.
  EXPECT_THROW(insp_->complete(id, all_ok(), "", person("li"), t0 + 2 * day, no_orders), inspection_error);
}

TEST_F(InspectionStore, AnIncompleteOrWrongChecklistIsRefusedNamingTheItemAndNothingIsOpened) {
  const auto id = insp_->start(site("T1", 20), checkin("T1", "li", t0 + day), person("li"), t0 + day);
  const auto refusal = [&](std::vector<item_answer> a, const std::string& who = "li") {
    try {
      insp_->complete(id, a, "", person(who), t0 + day + 1, no_orders);
    } catch (const inspection_error& e) {
      return std::to_string(e.status()) + " " + e.what();
    }
    return std::string("accepted");
  };
  auto a = all_ok();
  a.pop_back();
  EXPECT_EQ(refusal(a), "400 items: 'fence_signage' not answered");
  a = all_ok();
  a.push_back({"outlet_clear", item_result::ok, ""});
  EXPECT_EQ(refusal(a), "400 items[6].key: 'outlet_clear' answered twice");
  a = all_ok();
  a[1].key = "pumps_running";  // a pump station's item
  EXPECT_EQ(refusal(a), "400 items[1].key: not an item of the terminal checklist");
  a = all_ok();
  a[3].result = item_result::not_ok;  // a finding without a word of what was found
  EXPECT_EQ(refusal(a), "400 items[3].note: required for a not_ok answer (what was found)");
  EXPECT_EQ(refusal(all_ok(), "wang").substr(0, 4), "409 ");
  // An opener that refuses leaves the inspection started.
  a = all_ok();
  a[0] = {"outlet_clear", item_result::not_ok, "blocked"};
  EXPECT_THROW(insp_->complete(id, a, "", person("li"), t0 + day + 1,
                               [](const finding&, const auth::principal&) -> std::int64_t { throw inspection_error(409, "no"); }),
               inspection_error);
  EXPECT_EQ(insp_->get(id)->state, "started");
  EXPECT_EQ(insp_->get(id)->items.size(), 0u);
  EXPECT_EQ(insp_->complete(id, all_ok(), "", person("li"), t0 + day + 2, no_orders).state, "completed");
}

// ---------------------------------------------------------------- configuration

std::string config_error_of(const std::string& toml) {
  testing::temp_dir dir("gw-insp-config");
  const auto p = dir.path() / "g.toml";
  std::ofstream(p) << toml;
  try {
    load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(InspectionConfig, ReadsIntervalsChecklistsAndAssessmentWeights) {
  testing::temp_dir dir("gw-insp-config");
  const auto p = dir.path() / "g.toml";
  std::ofstream(p) << R"([om.inspections]
interval_days_small = 60
interval_days_large = 3
[om.inspections.checklist]
pump_station = [{key = "pumps", label = "Pumps run", severity = "critical"}, {key = "panel", label = "Panel ok", fault_type = "electrical"}]
[om.assessment]
weights = {on_time = 40, reopen = 10, inspection = 20, availability = 15, lab = 15}
availability_target = 0.9
reopen_rate_full_deduction = 0.5
)";
  const auto c = load_config(p);
  EXPECT_EQ(c.om_inspections.interval_days_small, 60u);
  EXPECT_EQ(c.om_inspections.interval_days_medium, 14u);
  EXPECT_EQ(c.om_inspections.interval_days_large, 3u);
  const auto& ps = c.om_inspections.checklists.at("pump_station");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].severity, "critical");
  EXPECT_EQ(ps[0].fault_type, "inspection:pumps");
  EXPECT_EQ(ps[1].fault_type, "electrical");
  EXPECT_EQ(c.om_inspections.checklists.at("terminal").size(), 6u);  // the shipped default stays
  EXPECT_EQ(c.om_assessment.weight(assessment_part::on_time), 40.0);
  EXPECT_EQ(c.om_assessment.target(assessment_part::availability), 0.9);
  EXPECT_EQ(c.om_assessment.reopen_rate_full_deduction, 0.5);
}

TEST(InspectionConfig, ErrorsNameTheKey) {
  EXPECT_NE(config_error_of("[om.inspections]\ninterval_days_small = 0\n").find("om.inspections.interval_days_small: must be in"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections]\nintervals = 3\n").find("om.inspections.intervals: unknown key"), std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections.checklist]\nterminal = [{key = \"A b\", label = \"x\"}]\n")
                .find("om.inspections.checklist.terminal[0].key: must be 1..32"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections.checklist]\nterminal = [{key = \"a\", label = \"x\"}, {key = \"a\", label = \"y\"}]\n")
                .find("om.inspections.checklist.terminal[1].key: \"a\" appears twice"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections.checklist]\nterminal = []\n").find("om.inspections.checklist.terminal: must be a non-empty"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections.checklist]\nboat = [{key = \"a\", label = \"x\"}]\n")
                .find("om.inspections.checklist.boat: unknown key"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.inspections.checklist]\nterminal = [{key = \"a\", label = \"x\", severity = \"huge\"}]\n")
                .find("terminal[0].severity: must be info, warning or critical"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.assessment]\nweights = {on_time = 50}\n").find("om.assessment.weights: must add up to 100"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.assessment]\nweights = {ontime = 30}\n").find("om.assessment.weights.ontime: unknown key"),
            std::string::npos);
  EXPECT_NE(config_error_of("[om.assessment]\nlab_target = 2\n").find("om.assessment.lab_target: must be in"), std::string::npos);
  EXPECT_NE(config_error_of("[om]\ncolour = 1\n").find("om.colour: unknown key"), std::string::npos);
}

// ---------------------------------------------------------------- QR codes

TEST(SiteQr, CheckInUrlIsTheContractsShape) {
  EXPECT_EQ(checkin_url("http://127.0.0.1:8080", "T-01", "v1.T-01.abc_DEF-1"),
            "http://127.0.0.1:8080/#/checkin?site=T-01&t=v1.T-01.abc_DEF-1");
  EXPECT_EQ(checkin_url("https://ops.example.cn/", "T1", "v1.T1.x"), "https://ops.example.cn/#/checkin?site=T1&t=v1.T1.x");
  EXPECT_EQ(checkin_url("http://h", "a b&c", "t=1"), "http://h/#/checkin?site=a%20b%26c&t=t%3D1");
}

TEST(SiteQr, SvgDecodesBackToTheUrl) {
  for (const std::string& text :
       {std::string("http://127.0.0.1:8080/#/checkin?site=T-01&t=v1.T-01.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"),
        std::string("https://ops.haiyan.example.cn/#/checkin?site=HY_0042&t=v1.HY_0042.") + std::string(43, 'Z'), std::string("x")}) {
    const auto svg = qr_svg(text);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(test::decode_qr_svg(svg), text);
  }
  EXPECT_EQ(test::decode_qr_svg(qr_svg("module size 2", 2)), "module size 2");
  EXPECT_THROW(qr_svg(""), std::invalid_argument);
  EXPECT_THROW(qr_svg(std::string(4000, 'a')), std::invalid_argument);
}

}  // namespace
}  // namespace sewage::gateway::om
