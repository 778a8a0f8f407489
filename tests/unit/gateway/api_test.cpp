// HTTP routes without sockets: JSON errors with the right status, bearer token, range limits,
// summary figures, GeoJSON, Prometheus text.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "auth_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : dir_("gw-api"), clock_(at("2026-11-29T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_public_read = true;  // these tests are not about identity (auth_test.cpp is)
    cfg_.defaults.turbidity_debounce_s = 0;
    auto t1 = test::terminal("T1", cfg_.defaults);
    t1.latitude_deg = 30.5;
    t1.longitude_deg = 120.9;
    eng_ = std::make_unique<engine>(cfg_, registry({t1, test::terminal("T2", cfg_.defaults)}), db_, clock_, pub_,
                                    default_rules());
    ids_ = std::make_unique<test::identities>(dir_.path() / "g.db", clock_);
    api_ = std::make_unique<api>(*eng_, link_status{}, &ids_->ids);
  }
  http_response call(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::string& auth = {}) {
    return api_->handle({method, target, auth, body});
  }
  void send(std::uint64_t seq, double ntu, double total) {
    const auto r = test::with_flow(test::with_turbidity(test::record("T1", seq, clock_.now()), ntu), 30, total);  // 0.5 m3/min
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<test::identities> ids_;
  std::unique_ptr<api> api_;
  [[nodiscard]] std::string tok() const { return "Bearer " + ids_->operator_token; }
};

TEST_F(ApiTest, ErrorsAreJsonWithTheRightStatus) {
  auto r = call("GET", "/api/terminals/NOPE");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(json::parse(r.body)["error"]["status"], 404);
  EXPECT_EQ(call("GET", "/nowhere").status, 404u);
  EXPECT_EQ(call("DELETE", "/api/summary").status, 405u);
  EXPECT_EQ(call("GET", "/api/alerts?state=maybe").status, 400u);
  EXPECT_EQ(call("GET", "/api/alerts?terminal=NOPE").status, 404u);
  EXPECT_EQ(call("GET", "/api/alerts?terminal=T2").status, 200u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/history?from=yesterday").status, 400u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/history?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z").status, 400u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/history?from=2026-11-29T09:00:00Z&to=2026-11-29T08:00:00Z").status, 400u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/daily?from=2020-01-01&to=2026-01-01").status, 400u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/daily?from=2026-02-30").status, 400u);
  EXPECT_EQ(call("GET", "/api/terminals/T1/image").status, 404u);
  EXPECT_EQ(call("GET", "/api/terminals/T%ZZ").status, 400u);
}

TEST_F(ApiTest, AcknowledgeNeedsTheBearerTokenAndAName) {
  send(1, 50, 10);
  ASSERT_EQ(eng_->open_alerts().size(), 1u);
  const auto path = "/api/alerts/" + std::to_string(eng_->open_alerts().begin()->first) + "/ack";
  EXPECT_EQ(call("POST", path, R"({"by":"Wang"})").status, 401u);
  EXPECT_EQ(call("POST", path, R"({"by":"Wang"})", "Bearer nope").status, 401u);
  EXPECT_EQ(call("POST", path, R"({"by":""})", tok()).status, 400u);
  EXPECT_EQ(call("POST", path, "not json", tok()).status, 400u);
  EXPECT_EQ(call("GET", path).status, 405u);
  EXPECT_EQ(call("POST", "/api/alerts/0/ack", R"({"by":"Wang"})", tok()).status, 400u);
  EXPECT_EQ(call("POST", "/api/alerts/99/ack", R"({"by":"Wang"})", tok()).status, 404u);
  const auto ok = call("POST", path, R"({"by":"Wang","note":"on my way"})", tok());
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["acked_by"], "Wang");
  // A second acknowledgement does not overwrite the first: 409 naming who acknowledged it.
  const auto again = call("POST", path, R"({"by":"Li","note":"me too"})", tok());
  EXPECT_EQ(again.status, 409u);
  EXPECT_NE(again.body.find("already acknowledged by Wang at 2026-11-29T08:00:00"), std::string::npos) << again.body;
  EXPECT_EQ(eng_->open_alerts().begin()->second.acked_by, "Wang");
  EXPECT_EQ(eng_->open_alerts().begin()->second.ack_note, "on my way");
}

TEST_F(ApiTest, SummaryTerminalsDailyAndGeoJson) {
  send(1, 4, 100);
  clock_.advance(std::chrono::minutes(1));
  send(2, 12, 100.5);
  const auto s = json::parse(call("GET", "/api/summary").body);
  EXPECT_EQ(s["terminals"], 2);
  EXPECT_EQ(s["online"], 1);
  EXPECT_EQ(s["operating_day"], "2026-11-29");
  EXPECT_DOUBLE_EQ(s["compliance_rate_today"].get<double>(), 0.5);
  EXPECT_EQ(s["open_alerts"]["turbidity_high"], 1);
  EXPECT_EQ(s["month"]["faults_found"], 1);
  const auto d = json::parse(call("GET", "/api/terminals/T1/daily").body);
  ASSERT_EQ(d["days"].size(), 1u);
  EXPECT_DOUBLE_EQ(d["days"][0]["volume_measured_m3"].get<double>(), 0.5);
  EXPECT_EQ(d["days"][0]["records"], 2);
  const auto g = json::parse(call("GET", "/api/terminals.geojson").body);
  EXPECT_EQ(g["type"], "FeatureCollection");
  EXPECT_DOUBLE_EQ(g["features"][0]["geometry"]["coordinates"][0].get<double>(), 120.9);
  EXPECT_EQ(g["features"][0]["properties"]["open_alerts"][0], "turbidity_high");
  const auto t = json::parse(call("GET", "/api/terminals").body);
  EXPECT_EQ(t["terminals"].size(), 2u);
  EXPECT_EQ(t["terminals"][0]["latest_record"]["seq"], 2);
  const auto h = json::parse(call("GET", "/api/terminals/T1/history").body);
  EXPECT_EQ(h["records"].size(), 2u);
}

TEST_F(ApiTest, HistoryOlderThanTheRollupAgeIsListedAsHourlyValues) {
  // Issue 16 item 5: two hours of records a minute, then 31 days later the engine's periodic
  // purge rolls them up (store.rollup_after_days = 30); the history route lists the hours.
  std::uint64_t seq = 0;
  for (int i = 0; i < 120; ++i) {
    const auto r = test::with_flow(test::with_turbidity(test::record("T1", ++seq, clock_.now()), i < 60 ? 2.0 : 4.0),
                                   i < 60 ? 30.0 : 60.0, 100.0 + i);
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
    clock_.advance(std::chrono::minutes(1));
  }
  clock_.advance(std::chrono::days(31));
  send(++seq, 3.0, 300);
  eng_->purge();
  EXPECT_TRUE(eng_->rollup_behind());  // a day was rolled up: more may remain
  eng_->purge();
  EXPECT_FALSE(eng_->rollup_behind());
  const auto q = "/api/terminals/T1/history?from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z";
  const auto old = json::parse(call("GET", q).body);
  EXPECT_TRUE(old["records"].empty());
  ASSERT_EQ(old["hourly"].size(), 2u) << old.dump();
  EXPECT_EQ(old["hourly"][0]["hour"], "2026-11-29T08:00:00Z");
  EXPECT_EQ(old["hourly"][0]["records"], 60);
  EXPECT_DOUBLE_EQ(old["hourly"][0]["flow_rate_m3h"]["mean"].get<double>(), 30.0);
  EXPECT_EQ(old["hourly"][0]["flow_rate_m3h"]["n"], 60);
  EXPECT_DOUBLE_EQ(old["hourly"][1]["turbidity_ntu"]["max"].get<double>(), 4.0);
  EXPECT_TRUE(old["hourly"][1]["sludge_level_m"].is_null());  // no sludge gauge: no value, not 0
  EXPECT_FALSE(old["truncated"]);
  // The recent record stays raw.
  const auto recent = json::parse(call("GET", "/api/terminals/T1/history").body);
  EXPECT_EQ(recent["records"].size(), 1u);
  EXPECT_TRUE(recent["hourly"].empty());
}

TEST_F(ApiTest, ComplianceCountsOnlyGoodTurbidityTimeAndSaysHowMuchItCovers) {
  // Issue 9 section 7: turbidity good and compliant for 4 h, then stale for 4 h; the operating
  // day (Asia/Shanghai) began at 16:00 UTC, so at 00:00 UTC 8 h have elapsed. Before: 1.000 only.
  // (The day after the fixture's start: both terminals were registered before it began.)
  clock_.set(at("2026-11-29T16:00:00Z"));
  for (int i = 1; i <= 480; ++i) {
    clock_.advance(std::chrono::minutes(1));
    auto r = test::with_turbidity(test::record("T1", i, clock_.now()), 4.0);
    if (i > 240) r.turbidity->status = proto::quantity_status::stale;
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
  }
  const auto d = json::parse(call("GET", "/api/terminals/T1/daily").body);
  ASSERT_EQ(d["days"].size(), 1u);
  EXPECT_DOUBLE_EQ(d["days"][0]["compliance_rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(d["days"][0]["compliance_coverage"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(d["days"][0]["turbidity_ok_s"].get<double>(), 14400.0);
  const auto s = json::parse(call("GET", "/api/summary").body);
  EXPECT_DOUBLE_EQ(s["compliance_rate_today"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s["compliance_coverage_today"].get<double>(), 0.25);  // T2 (registered) reported nothing
  // T2's day has no good time at all: rate null (not 1.0, not 0.0).
  const auto t2 = json::parse(call("GET", "/api/terminals/T2").body);
  EXPECT_TRUE(t2["today"]["compliance_rate"].is_null());
  EXPECT_DOUBLE_EQ(t2["today"]["compliance_coverage"].get<double>(), 0.0);
}

TEST_F(ApiTest, MetricsAreInPrometheusTextFormat) {
  send(1, 4, 100);
  send(1, 4, 100);
  eng_->handle({proto::telemetry_topic("T1"), "{", false, clock_.now()});
  const auto r = call("GET", "/metrics");
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(r.body.find("\nsewage_gateway_records_accepted_total 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\nsewage_gateway_duplicates_total 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("\nsewage_gateway_rejects_total{reason=\"syntax\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE sewage_gateway_store_commit_seconds histogram"), std::string::npos);
  EXPECT_NE(r.body.find("\nsewage_gateway_totalizer_glitches_total{kind=\"dip\"} 0\n"), std::string::npos) << r.body;
}

TEST_F(ApiTest, HealthIsOkOnlyWhileConnectedToTheBrokerAndStoring) {
  bool connected = false;
  link_status ls;
  ls.connected = [&connected] { return connected; };
  api with_link(*eng_, ls);
  auto r = with_link.handle({"GET", "/healthz", "", ""});
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(json::parse(r.body)["status"], "mqtt_disconnected");
  connected = true;
  r = with_link.handle({"GET", "/healthz", "", ""});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body)["status"], "ok");
  EXPECT_EQ(json::parse(r.body)["store_ok"], true);
}

TEST_F(ApiTest, WebApplicationIsServedAtTheRoot) {
  const auto r = call("GET", "/");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(r.body.find("/web/js/app.js"), std::string::npos);
  EXPECT_NE(r.body.find("name=\"viewport\""), std::string::npos);
}

TEST(UrlDecode, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(url_decode("2026-11-29T08%3A00%3A00Z"), "2026-11-29T08:00:00Z");
  EXPECT_EQ(url_decode("a+b"), "a b");
  EXPECT_FALSE(url_decode("%4").has_value());
  EXPECT_FALSE(url_decode("%zz").has_value());
}

TEST_F(ApiTest, TerminalDetailSaysWhenTheLatestPictureArrivedSoAPageAsksOnlyForOneThatExists) {
  auto detail = json::parse(call("GET", "/api/terminals/T1").body);
  ASSERT_TRUE(detail.contains("image_arrived_at"));
  EXPECT_TRUE(detail["image_arrived_at"].is_null());
  EXPECT_EQ(call("GET", "/api/terminals/T1/image").status, 404u);

  const std::string jpeg = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(64, 'x') + std::string("\xFF\xD9", 2);
  eng_->handle({proto::image_topic("T1"), jpeg, false, clock_.now()});
  ASSERT_TRUE(eng_->flush());
  detail = json::parse(call("GET", "/api/terminals/T1").body);
  EXPECT_EQ(detail["image_arrived_at"], "2026-11-29T08:00:00Z");
  const auto img = call("GET", "/api/terminals/T1/image");
  ASSERT_EQ(img.status, 200u);
  EXPECT_EQ(img.body, jpeg);
  // T2 sent none: still null there.
  EXPECT_TRUE(json::parse(call("GET", "/api/terminals/T2").body)["image_arrived_at"].is_null());
}

}  // namespace
}  // namespace sewage::gateway
