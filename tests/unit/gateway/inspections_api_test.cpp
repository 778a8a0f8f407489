// Inspections and assessment through the HTTP API (issue 12 items 2 and 8): plan, start by
// check-in, complete, town scope, figures, assessment JSON and CSV; on a manual clock.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/om/qr.hpp"
#include "sewage/gateway/om/site_token.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "qr_decode.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;

class InspectionsApi : public ::testing::Test {
 protected:
  InspectionsApi() : dir_("gw-insp-api"), clock_(at("2026-11-02T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    auto ta = test::terminal("TA");
    ta.town = "Alpha";
    auto tb = test::terminal("TB");
    tb.town = "Beta";
    tb.design_capacity_m3d = 150;  // large: every 7 days
    cfg_.om.public_url = "https://ops.example.cn";
    cfg_.om.site_key_file = dir_.path() / "site-key";
    om::contractor hy;
    hy.name = "hy-water";
    hy.towns = {"Alpha", "Beta"};
    om::contractor green;
    green.name = "green";
    green.sites = {"TB"};  // a site named by a contractor beats the town's
    cfg_.om.contractors = {hy, green};
    ids_ = std::make_unique<auth::service>(dir_.path() / "g.db", auth::settings{}, clock_);
    insp_ = std::make_unique<om::inspections>(dir_.path() / "g.db", om::inspection_settings{});
    eng_ = std::make_unique<engine>(cfg_, registry({ta, tb}), db_, clock_, pub_, default_rules());
    api_ = std::make_unique<api>(*eng_, link_status{}, ids_.get(), om_rooms{nullptr, nullptr, insp_.get()});
    county_ = "Bearer " + ids_->add_token("county", auth::role::operator_, {});
    alpha_ = "Bearer " + ids_->add_token("alpha", auth::role::operator_, {"Alpha"});
  }
  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open((dir_.path() / "g.db").c_str(), &db);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  /// A check-in row as the work-orders part writes it (POST /api/checkins); returns its id.
  std::int64_t checkin(const std::string& site, const std::string& actor) {
    static int n = 0;
    const auto id = 1000 + ++n;
    exec("INSERT INTO checkins(id, site_id, actor, ts_ms, lat, lon, accuracy_m, distance_m) VALUES(" + std::to_string(id) + ", '" +
         site + "', '" + actor + "', " + std::to_string(clock_.now().time_since_epoch().count()) + ", 30.5, 120.9, 8, 12)");
    return id;
  }
  http_response call(const std::string& method, const std::string& target, const std::string& who, const std::string& body = {}) {
    http_request r{method, target, who, body};
    return api_->handle(r);
  }
  json get(const std::string& target, const std::string& who) {
    const auto r = call("GET", target, who);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string all_ok() {
    json items = json::array();
    for (const auto& i : insp_->settings().checklists.at("terminal")) items.push_back({{"key", i.key}, {"result", "ok"}});
    return json{{"items", items}, {"note", "routine"}}.dump();
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<om::inspections> insp_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
  std::string county_, alpha_;
};

TEST_F(InspectionsApi, PlanStartCompleteLateFiguresAndAssessment) {
  // Registered now: TA (small) due in 30 days, TB (large) in 7.
  auto plan = get("/api/inspections/plan", county_);
  ASSERT_EQ(plan["plan"].size(), 2u);
  EXPECT_EQ(plan["plan"][0]["site_id"], "TA");
  EXPECT_EQ(plan["plan"][0]["size_class"], "small");
  EXPECT_EQ(plan["plan"][0]["next_due_at"], "2026-12-02T08:00:00Z");
  EXPECT_EQ(plan["plan"][1]["size_class"], "large");
  EXPECT_EQ(plan["plan"][1]["next_due_at"], "2026-11-09T08:00:00Z");
  EXPECT_EQ(plan["late"], 0);
  // The town officer of Alpha sees Alpha only.
  EXPECT_EQ(get("/api/inspections/plan", alpha_)["plan"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/inspections/plan?town=Beta", alpha_).status, 403u);

  // Day 3: TA inspected (check-in first), every item ok.
  clock_.advance(std::chrono::hours(24));
  auto r = call("POST", "/api/inspections", county_, json{{"site_id", "TA"}, {"checkin_id", checkin("TA", "county")}}.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  const auto id = json::parse(r.body)["inspection"]["id"].get<std::int64_t>();
  EXPECT_EQ(json::parse(r.body)["inspection"]["state"], "started");
  // Without a check-in, with another person's, or on another town's site: refused, naming why.
  r = call("POST", "/api/inspections", county_, R"({"site_id":"TB"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("checkin_id"), std::string::npos);
  r = call("POST", "/api/inspections", county_, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "alpha")}}.dump());
  EXPECT_EQ(r.status, 409u) << r.body;
  r = call("POST", "/api/inspections", alpha_, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "alpha")}}.dump());
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_EQ(call("GET", "/api/inspections/" + std::to_string(id), alpha_).status, 200u);
  // An answer with an unknown result is refused naming it.
  r = call("POST", "/api/inspections/" + std::to_string(id) + "/complete", county_, R"({"items":[{"key":"outlet_clear","result":"fine"}]})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("items[0].result"), std::string::npos) << r.body;
  r = call("POST", "/api/inspections/" + std::to_string(id) + "/complete", county_, all_ok());
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto done = json::parse(r.body)["inspection"];
  EXPECT_EQ(done["state"], "completed");
  EXPECT_EQ(done["late"], false);
  EXPECT_EQ(done["items"].size(), 6u);
  EXPECT_EQ(get("/api/inspections?site=TA", county_)["count"], 1);

  // Day 20: TB never inspected, due day 7: late by 11 days.
  clock_.set(at("2026-11-20T09:00:00Z"));
  plan = get("/api/inspections/plan", county_);
  EXPECT_EQ(plan["late"], 1);
  EXPECT_EQ(plan["plan"][1]["late"], true);
  EXPECT_EQ(plan["plan"][1]["days_late"], 11);
  EXPECT_EQ(plan["plan"][0]["next_due_at"], "2026-12-03T08:00:00Z");  // 30 days after the completion
  // Figures by town since the start: TB's due date of day 9 missed (no inspection by day 16),
  // the next (day 16) overdue.
  const auto fig = get("/api/inspections/figures?from=2026-11-01T00:00:00Z&by=town", county_);
  ASSERT_EQ(fig["groups"].size(), 1u);  // TA has no due date judged yet
  EXPECT_EQ(fig["groups"][0]["key"], "Beta");
  EXPECT_EQ(fig["groups"][0]["missed"], 1);
  EXPECT_EQ(fig["groups"][0]["overdue"], 1);
  EXPECT_EQ(fig["groups"][0]["completion_rate"], 0.0);
  EXPECT_EQ(fig["late_inspections"].size(), 2u);

  // The assessment of November by town: Beta loses all its inspection points (0 of 2 on time),
  // with the two due dates as evidence.
  const auto a = get("/api/assessment?month=2026-11&by=town", county_);
  ASSERT_EQ(a["groups"].size(), 2u);
  const auto& beta = a["groups"][1];
  EXPECT_EQ(beta["key"], "Beta");
  EXPECT_EQ(beta["parts"]["inspection"]["deduction"], 20.0);
  ASSERT_EQ(beta["parts"]["inspection"]["evidence"].size(), 2u);
  EXPECT_EQ(beta["parts"]["inspection"]["evidence"][0]["kind"], "missed_inspection");
  EXPECT_EQ(beta["parts"]["inspection"]["evidence"][0]["due_at"], "2026-11-09T08:00:00Z");
  EXPECT_EQ(beta["parts"]["on_time"]["no_data"], true);  // no work order due in the month: nothing deducted
  EXPECT_TRUE(a["groups"][0]["parts"]["inspection"]["no_data"]);
  // A town officer's assessment covers its towns only.
  EXPECT_EQ(get("/api/assessment?month=2026-11&by=town", alpha_)["groups"].size(), 1u);
  // CSV.
  r = call("GET", "/api/assessment?month=2026-11&by=town&format=csv", county_);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_NE(r.body.find("Beta,2026-11,inspection,20.000,1.000,2,2,0.000,20.000,"), std::string::npos) << r.body;
  // Bad parameters name the parameter.
  EXPECT_EQ(call("GET", "/api/assessment?month=2026-13", county_).status, 400u);
  EXPECT_EQ(call("GET", "/api/assessment?by=village", county_).status, 400u);
  EXPECT_EQ(call("GET", "/api/inspections/figures?by=x", county_).status, 400u);
  EXPECT_EQ(call("GET", "/api/inspections/figures?from=yesterday", county_).status, 400u);
  // The checklist as configured.
  EXPECT_EQ(get("/api/inspections/checklists", alpha_)["checklists"]["terminal"][0]["key"], "outlet_clear");
}

TEST_F(InspectionsApi, SiteQrCodeDecodesToTheCheckInUrlWithAVerifyingToken) {
  const auto r = call("GET", "/api/sites/TB/qr.svg", county_);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "image/svg+xml");
  const auto text = test::decode_qr_svg(r.body);
  const std::string prefix = "https://ops.example.cn/#/checkin?site=TB&t=";
  ASSERT_EQ(text.rfind(prefix, 0), 0u) << text;
  const auto token = text.substr(prefix.size());
  const auto key = om::load_or_create_site_key(dir_.path() / "site-key");
  EXPECT_EQ(om::verify_site_token(key, token), "TB");
  EXPECT_EQ(text, om::checkin_url("https://ops.example.cn", "TB", om::sign_site_token(key, "TB")));
  // Another key does not verify it (the token is signed, not just an id).
  EXPECT_FALSE(om::verify_site_token(om::site_key{}, token));
  // Operator of the site's scope only: a town officer of Alpha gets 403 for TB, its own TA works;
  // an unknown site is 404.
  EXPECT_EQ(call("GET", "/api/sites/TB/qr.svg", alpha_).status, 403u);
  EXPECT_EQ(call("GET", "/api/sites/TA/qr.svg", alpha_).status, 200u);
  EXPECT_EQ(call("GET", "/api/sites/NOPE/qr.svg", county_).status, 404u);
  const auto viewer = "Bearer " + ids_->add_token("viewer", auth::role::viewer, {});
  EXPECT_EQ(call("GET", "/api/sites/TA/qr.svg", viewer).status, 403u);
}

TEST_F(InspectionsApi, AFindingOpensAWorkOrderForTheSitesContractor) {
  auto r = call("POST", "/api/inspections", county_, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "county")}}.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  const auto id = json::parse(r.body)["inspection"]["id"].get<std::int64_t>();
  json items = json::array();
  for (const auto& i : insp_->settings().checklists.at("terminal"))
    items.push_back(i.key == "outlet_clear" ? json{{"key", i.key}, {"result", "not_ok"}, {"note", "outlet blocked by leaves"}}
                                            : json{{"key", i.key}, {"result", "ok"}});
  r = call("POST", "/api/inspections/" + std::to_string(id) + "/complete", county_, json{{"items", items}}.dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto done = json::parse(r.body)["inspection"];
  ASSERT_TRUE(done["items"][0]["work_order_id"].is_number()) << r.body;
  const auto order_id = done["items"][0]["work_order_id"].get<std::int64_t>();
  EXPECT_TRUE(done["items"][1]["work_order_id"].is_null());
  // The order: source inspection, its finding as source_ref, the item's fault type and severity,
  // the site's contractor (green serves TB by name).
  sqlite3* db = nullptr;
  sqlite3_open((dir_.path() / "g.db").c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT source, source_ref, fault_type, severity, contractor, state, site_id FROM work_orders WHERE id = ?1", -1,
                     &st, nullptr);
  sqlite3_bind_int64(st, 1, order_id);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const auto col = [&](int i) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i))); };
  EXPECT_EQ(col(0), "inspection");
  EXPECT_EQ(col(1), std::to_string(id) + "/outlet_clear");
  EXPECT_EQ(col(2), "inspection:outlet_clear");
  EXPECT_EQ(col(3), "warning");
  EXPECT_EQ(col(4), "green");
  EXPECT_EQ(col(5), "open");
  EXPECT_EQ(col(6), "TB");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(InspectionsApi, SitesCarryTheirContractorForFiguresAndAssessment) {
  const auto plan = get("/api/inspections/plan", county_);
  EXPECT_EQ(plan["plan"][0]["contractor"], "hy-water");
  EXPECT_EQ(plan["plan"][1]["contractor"], "green");
  clock_.set(at("2026-11-20T09:00:00Z"));
  const auto fig = get("/api/inspections/figures?from=2026-11-01T00:00:00Z", county_);
  ASSERT_EQ(fig["groups"].size(), 1u);
  EXPECT_EQ(fig["groups"][0]["key"], "green");  // TB's due dates; TA's first is not due yet
  const auto a = get("/api/assessment?month=2026-11", county_);
  ASSERT_EQ(a["groups"].size(), 2u);
  EXPECT_EQ(a["groups"][0]["key"], "green");
  EXPECT_EQ(a["groups"][0]["sites"], 1);
  EXPECT_EQ(a["groups"][1]["key"], "hy-water");
}

// Issue 12 item 7: the contractor's field crew inspects its own sites (check-in, checklist,
// completion); another contractor's crew and a viewer are refused, each with a 403 naming why.
TEST_F(InspectionsApi, AContractorsCrewInspectsItsOwnSitesOnly) {
  const auto green = "Bearer " + ids_->add_token("crew-green", auth::role::contractor, {}, "green");  // serves TB
  const auto hy = "Bearer " + ids_->add_token("crew-hy", auth::role::contractor, {}, "hy-water");    // serves TA
  const auto viewer = "Bearer " + ids_->add_token("viewer", auth::role::viewer, {});
  auto r = call("POST", "/api/inspections", viewer, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "viewer")}}.dump());
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("may not do inspections"), std::string::npos) << r.body;
  r = call("POST", "/api/inspections", hy, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "crew-hy")}}.dump());
  EXPECT_EQ(r.status, 403u) << r.body;
  r = call("POST", "/api/inspections", green, json{{"site_id", "TB"}, {"checkin_id", checkin("TB", "crew-green")}}.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  const auto id = json::parse(r.body)["inspection"]["id"].get<std::int64_t>();
  const auto path = "/api/inspections/" + std::to_string(id) + "/complete";
  EXPECT_EQ(call("POST", path, hy, all_ok()).status, 403u);
  EXPECT_EQ(call("POST", path, viewer, all_ok()).status, 403u);
  r = call("POST", path, green, all_ok());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body)["inspection"]["state"], "completed");
}

}  // namespace
}  // namespace sewage::gateway
