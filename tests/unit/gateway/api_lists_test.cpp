// Issue 10 API additions without sockets: /api/terminals classification (last_seen, age, stale,
// severity, state_class in precedence order), its filters, sort orders and cursor paging;
// /api/alerts filters, enrichment and paging; /api/alerts/{id} with transitions; the generic
// ETag / If-None-Match on every GET JSON answer.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/severity.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "auth_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/resolution.hpp>

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;
using std::chrono::seconds;

TEST(Severity, EveryAlertTypeHasItsDocumentedSeverity) {
  EXPECT_EQ(alert_severity(proto::alert_type::turbidity_high), severity::critical);
  EXPECT_EQ(alert_severity(proto::alert_type::no_flow), severity::critical);
  EXPECT_EQ(alert_severity(proto::alert_type::offline), severity::critical);
  EXPECT_EQ(alert_severity(proto::alert_type::flow_high), severity::warning);
  EXPECT_EQ(alert_severity(proto::alert_type::cleanout_required), severity::warning);
  EXPECT_EQ(alert_severity(proto::alert_type::sensor_fault), severity::warning);
  EXPECT_EQ(alert_severity(proto::alert_type::queue_overflow), severity::warning);
  EXPECT_EQ(alert_severity(proto::alert_type::clock_skew), severity::info);
  for (const auto t : proto::all_alert_types) EXPECT_FALSE(to_string(alert_severity(t)).empty());
}

TEST(Severity, StateClassPrecedenceForEveryClass) {
  // Each class wins over every class after it, and loses to every class before it.
  EXPECT_EQ(classify({true, severity::critical, true, true}), state_class::offline);
  EXPECT_EQ(classify({true, std::nullopt, false, false}), state_class::offline);
  EXPECT_EQ(classify({false, severity::critical, true, true}), state_class::alert_critical);
  EXPECT_EQ(classify({false, severity::warning, true, true}), state_class::alert_warning);
  EXPECT_EQ(classify({false, severity::info, true, true}), state_class::alert_info);
  EXPECT_EQ(classify({false, std::nullopt, true, true}), state_class::stale);
  EXPECT_EQ(classify({false, std::nullopt, true, false}), state_class::stale);
  EXPECT_EQ(classify({false, std::nullopt, false, true}), state_class::unknown);
  EXPECT_EQ(classify({false, std::nullopt, false, false}), state_class::normal);
  for (const auto c : {state_class::offline, state_class::alert_critical, state_class::alert_warning,
                       state_class::alert_info, state_class::stale, state_class::unknown, state_class::normal})
    EXPECT_EQ(parse_state_class(to_string(c)), c);
  EXPECT_FALSE(parse_state_class("Offline").has_value());
  EXPECT_LT(attention_rank(state_class::offline), attention_rank(state_class::alert_critical));
  EXPECT_LT(attention_rank(state_class::alert_info), attention_rank(state_class::stale));
  EXPECT_EQ(attention_rank(state_class::stale), attention_rank(state_class::unknown));
  EXPECT_LT(attention_rank(state_class::unknown), attention_rank(state_class::normal));
}

/// Seven terminals, one per state class, in two towns; OFF and STALE report every 60 s, the
/// others every hour (so nobody else goes offline or stale while the test advances the clock).
class ApiListsTest : public ::testing::Test {
 protected:
  ApiListsTest() : dir_("gw-lists"), clock_(at("2026-11-29T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_public_read = true;  // these tests are not about identity (auth_test.cpp is)
    cfg_.startup_grace = seconds(0);
    cfg_.defaults.turbidity_debounce_s = 0;
    std::vector<terminal_info> ts;
    const auto add = [&](const char* id, const char* name, const char* town, std::uint32_t interval_s) {
      auto t = test::terminal(id, cfg_.defaults);
      t.name = name;
      t.town = town;
      t.report_interval_s = interval_s;
      t.latitude_deg = 30.5;
      t.longitude_deg = 120.9;
      ts.push_back(t);
    };
    add("OFF", "Offline well", "Wuyuan", 60);
    add("CRIT", "Critical well", "Wuyuan", 3600);
    add("WARN", "Warning well", "Xitangqiao", 3600);
    add("INFO", "Info well", "Xitangqiao", 3600);
    add("STALE", "Stale well", "Wuyuan", 60);
    add("UNK", "\xe6\x9c\xaa\xe7\x9f\xa5\xe7\xab\x99", "Xitangqiao", 3600);  // 未知站
    add("NORM", "Normal Well", "Wuyuan", 3600);
    eng_ = std::make_unique<engine>(cfg_, registry(ts), db_, clock_, pub_, default_rules());
    ids_ = std::make_unique<test::identities>(dir_.path() / "g.db", clock_);
    api_ = std::make_unique<api>(*eng_, link_status{}, &ids_->ids);
  }
  http_response get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_request r{"GET", target, "", ""};
    r.headers = std::move(headers);
    return api_->handle(r);
  }
  json get_json(const std::string& target) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return json::parse(r.body);
  }
  void send(const proto::telemetry_record& r) {
    eng_->handle({proto::telemetry_topic(r.terminal_id), proto::encode(r), false, clock_.now()});
  }
  /// One terminal in each class (see the fixture comment).
  void make_every_class() {
    send(test::record("OFF", 1, clock_.now()));
    clock_.advance(std::chrono::minutes(10));
    eng_->tick();  // OFF: silent 10 min > 3 x 60 s: offline
    send(test::record("STALE", 1, clock_.now()));
    clock_.advance(seconds(150));  // STALE: 150 s > 2 x 60 s (but < 3 x 60 s: still online)
    send(test::with_turbidity(test::record("CRIT", 1, clock_.now()), 50));  // turbidity_high: critical
    auto w = test::record("WARN", 1, clock_.now());
    w.dropped = 5;  // queue_overflow: warning
    send(w);
    send(test::record("INFO", 1, clock_.now() + seconds(400)));  // clock_skew (400 s ahead): info
    send(test::record("NORM", 1, clock_.now()));
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

TEST_F(ApiListsTest, EveryTerminalHasItsStateClassSeverityAndAgeInAttentionOrder) {
  make_every_class();
  const auto j = get_json("/api/terminals");
  EXPECT_EQ(j["now"], "2026-11-29T08:12:30Z");
  EXPECT_EQ(j["count"], 7);
  EXPECT_TRUE(j["next"].is_null());
  std::vector<std::string> order;
  std::map<std::string, json> by_id;
  for (const auto& t : j["terminals"]) {
    order.push_back(t["id"]);
    by_id[t["id"]] = t;
  }
  // offline, then alerting by severity, then stale/unknown (by id), then normal.
  EXPECT_EQ(order, (std::vector<std::string>{"OFF", "CRIT", "WARN", "INFO", "STALE", "UNK", "NORM"}));
  const std::map<std::string, std::pair<std::string, json>> want{
      {"OFF", {"offline", "critical"}},         {"CRIT", {"alert_critical", "critical"}},
      {"WARN", {"alert_warning", "warning"}},   {"INFO", {"alert_info", "info"}},
      {"STALE", {"stale", nullptr}},            {"UNK", {"unknown", nullptr}},
      {"NORM", {"normal", nullptr}}};
  for (const auto& [id, w] : want) {
    EXPECT_EQ(by_id[id]["state_class"], w.first) << id;
    EXPECT_EQ(by_id[id]["severity"], w.second) << id;
  }
  EXPECT_EQ(by_id["STALE"]["last_seen"], "2026-11-29T08:10:00Z");
  EXPECT_DOUBLE_EQ(by_id["STALE"]["age_s"].get<double>(), 150.0);
  EXPECT_EQ(by_id["STALE"]["stale"], true);
  EXPECT_EQ(by_id["STALE"]["state"], "online");  // stale is not offline: 150 s < 3 intervals
  EXPECT_EQ(by_id["STALE"]["report_interval_s"], 60.0);
  EXPECT_TRUE(by_id["UNK"]["last_seen"].is_null());
  EXPECT_TRUE(by_id["UNK"]["age_s"].is_null());
  EXPECT_EQ(by_id["UNK"]["stale"], false);
  EXPECT_DOUBLE_EQ(by_id["NORM"]["age_s"].get<double>(), 0.0);
  EXPECT_EQ(by_id["NORM"]["stale"], false);
  EXPECT_DOUBLE_EQ(by_id["OFF"]["age_s"].get<double>(), 750.0);
  // The detail route and the GeoJSON carry the same classification.
  EXPECT_EQ(get_json("/api/terminals/WARN")["state_class"], "alert_warning");
  const auto g = get_json("/api/terminals.geojson");
  for (const auto& f : g["features"]) {
    const std::string id = f["properties"]["id"];
    EXPECT_EQ(f["properties"]["state_class"], want.at(id).first) << id;
    EXPECT_EQ(f["properties"]["severity"], want.at(id).second) << id;
  }
}

TEST_F(ApiListsTest, AnOfflineTerminalWithOtherAlertsIsStillOfflineAndTheWorstSeverityCounts) {
  // CRIT gets a warning and an info alert too: its severity is the worst, critical.
  send(test::with_turbidity(test::record("CRIT", 1, clock_.now() + seconds(400)), 50));
  auto w = test::record("CRIT", 2, clock_.now() + seconds(401));
  w.dropped = 3;
  w = test::with_turbidity(w, 50);
  send(w);
  EXPECT_EQ(get_json("/api/terminals/CRIT")["severity"], "critical");
  EXPECT_EQ(get_json("/api/terminals/CRIT")["state_class"], "alert_critical");
  // OFF reports once with a queue overflow, then goes silent: offline beats its warning.
  auto o = test::record("OFF", 1, clock_.now());
  o.dropped = 1;
  send(o);
  clock_.advance(std::chrono::minutes(10));
  eng_->tick();
  const auto t = get_json("/api/terminals/OFF");
  EXPECT_EQ(t["state_class"], "offline");
  EXPECT_EQ(t["severity"], "critical");
  EXPECT_EQ(t["stale"], true);
}

TEST_F(ApiListsTest, TerminalFiltersAndSortOrders) {
  make_every_class();
  const auto ids = [&](const std::string& target) {
    std::vector<std::string> out;
    const auto j = get_json(target);
    for (const auto& t : j["terminals"]) out.push_back(t["id"]);
    EXPECT_EQ(j["count"], out.size()) << target;
    return out;
  };
  EXPECT_EQ(ids("/api/terminals?town=Xitangqiao&sort=id"), (std::vector<std::string>{"INFO", "UNK", "WARN"}));
  EXPECT_EQ(ids("/api/terminals?state=stale"), (std::vector<std::string>{"STALE"}));
  EXPECT_EQ(ids("/api/terminals?state=offline"), (std::vector<std::string>{"OFF"}));
  EXPECT_EQ(ids("/api/terminals?alert_type=queue_overflow"), (std::vector<std::string>{"WARN"}));
  EXPECT_EQ(ids("/api/terminals?alert_type=no_flow"), (std::vector<std::string>{}));
  // q: case-insensitive substring of id or name; UTF-8 (Chinese) names match their characters.
  EXPECT_EQ(ids("/api/terminals?q=WELL&sort=id"), (std::vector<std::string>{"CRIT", "INFO", "NORM", "OFF", "STALE", "WARN"}));
  EXPECT_EQ(ids("/api/terminals?q=norm"), (std::vector<std::string>{"NORM"}));
  EXPECT_EQ(ids("/api/terminals?q=%E6%9C%AA%E7%9F%A5"), (std::vector<std::string>{"UNK"}));  // 未知
  EXPECT_EQ(ids("/api/terminals?q=unk"), (std::vector<std::string>{"UNK"}));
  EXPECT_EQ(ids("/api/terminals?q=zzz"), (std::vector<std::string>{}));
  EXPECT_EQ(ids("/api/terminals?sort=id"), (std::vector<std::string>{"CRIT", "INFO", "NORM", "OFF", "STALE", "UNK", "WARN"}));
  // name: byte order of UTF-8 (upper-case ASCII before lower-case, Chinese last), then id
  EXPECT_EQ(ids("/api/terminals?sort=name"),
            (std::vector<std::string>{"CRIT", "INFO", "NORM", "OFF", "STALE", "WARN", "UNK"}));
  EXPECT_EQ(ids("/api/terminals?sort=town"),
            (std::vector<std::string>{"CRIT", "NORM", "OFF", "STALE", "INFO", "UNK", "WARN"}));
  EXPECT_EQ(ids("/api/terminals?town=Wuyuan&state=normal"), (std::vector<std::string>{"NORM"}));
  EXPECT_EQ(ids("/api/terminals?town=Nowhere"), (std::vector<std::string>{}));
}

TEST_F(ApiListsTest, TerminalPagingVisitsEveryTerminalOnceInEverySortOrder) {
  make_every_class();
  for (const std::string sort : {"attention", "id", "name", "town"}) {
    const auto all = get_json("/api/terminals?sort=" + sort)["terminals"];
    std::vector<std::string> want;
    for (const auto& t : all) want.push_back(t["id"]);
    std::vector<std::string> got;
    std::string target = "/api/terminals?limit=3&sort=" + sort;
    int pages = 0;
    while (true) {
      const auto j = get_json(target);
      ++pages;
      EXPECT_EQ(j["count"], 7);
      EXPECT_LE(j["terminals"].size(), 3u);
      for (const auto& t : j["terminals"]) got.push_back(t["id"]);
      if (j["next"].is_null()) break;
      ASSERT_LT(pages, 5) << sort;
      // the cursor travels in a query string: percent-encode what is not unreserved
      std::string enc;
      for (const unsigned char ch : j["next"].get<std::string>()) {
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.') {
          enc += static_cast<char>(ch);
        } else {
          char b[4];
          std::snprintf(b, sizeof b, "%%%02X", ch);
          enc += b;
        }
      }
      target = "/api/terminals?limit=3&sort=" + sort + "&cursor=" + enc;
    }
    EXPECT_EQ(pages, 3) << sort;        // 3 + 3 + 1
    EXPECT_EQ(got, want) << sort;       // same order, no duplicates, no gaps
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 7u) << sort;
  }
}

TEST_F(ApiListsTest, BadTerminalListParametersAre400sNamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"/api/terminals?state=red", "state: must be one of offline"},
      {"/api/terminals?state=online", "state: must be one of offline"},  // a presence, not a class
      {"/api/terminals?alert_type=fire", "alert_type: not an alert type"},
      {"/api/terminals?sort=age", "sort: must be attention, id, name or town"},
      {"/api/terminals?limit=0", "limit: out of range"},
      {"/api/terminals?limit=10001", "limit: out of range"},
      {"/api/terminals?limit=ten", "limit: not a number"},
      {"/api/terminals?cursor=garbage", "cursor: not a cursor of /api/terminals"},
      {"/api/terminals?sort=id&cursor=id:0:T%2F1:", "cursor: not a valid terminal id"},
      {"/api/terminals?sort=id&cursor=id:x:T1:", "cursor: rank is not a whole number"},
      {"/api/terminals?sort=name&cursor=id:0:T1:", "cursor: made for sort=id, this request sorts by name"},
      {"/api/terminals?town=A&town=B", "query parameter 'town' given more than once"},
      {"/api/terminals?page=2", "unknown query parameter 'page'"},
  };
  for (const auto& [target, msg] : bad) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find(msg), std::string::npos) << target << ": " << r.body;
  }
}

class ApiAlertsTest : public ApiListsTest {
 protected:
  /// `n` turbidity episodes on CRIT (raise at 50 NTU, clear at 4 NTU), one a minute.
  void episodes(int n) {
    for (int i = 0; i < n; ++i) {
      send(test::with_turbidity(test::record("CRIT", seq_++, clock_.now()), 50));
      clock_.advance(std::chrono::minutes(1));
      send(test::with_turbidity(test::record("CRIT", seq_++, clock_.now()), 4));
      clock_.advance(std::chrono::minutes(1));
    }
  }
  std::uint64_t seq_{1};
};

TEST_F(ApiAlertsTest, AlertsAreEnrichedAndFilteredByStateTypeTownAndTerminal) {
  episodes(2);                                                            // ids 1, 2: cleared
  send(test::with_turbidity(test::record("CRIT", seq_++, clock_.now()), 50));  // id 3: raised
  auto w = test::record("WARN", 1, clock_.now());
  w.dropped = 2;
  send(w);                                                                // id 4: queue_overflow, raised
  ASSERT_EQ(api_->handle({"POST", "/api/alerts/4/ack", tok(), R"({"by":"Li","note":"seen"})"}).status, 200u);
  const auto ids = [&](const std::string& target) {
    std::vector<std::uint64_t> out;
    const auto j = get_json(target);
    for (const auto& a : j["alerts"]) out.push_back(a["alert_id"]);
    return out;
  };
  EXPECT_EQ(ids("/api/alerts"), (std::vector<std::uint64_t>{4, 3}));  // open = raised or acknowledged
  EXPECT_EQ(ids("/api/alerts?state=open"), (std::vector<std::uint64_t>{4, 3}));
  EXPECT_EQ(ids("/api/alerts?state=raised"), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(ids("/api/alerts?state=acknowledged"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(ids("/api/alerts?state=cleared"), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_EQ(ids("/api/alerts?state=all"), (std::vector<std::uint64_t>{4, 3, 2, 1}));
  EXPECT_EQ(ids("/api/alerts?state=all&type=queue_overflow"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(ids("/api/alerts?state=all&type=turbidity_high&terminal=CRIT"), (std::vector<std::uint64_t>{3, 2, 1}));
  EXPECT_EQ(ids("/api/alerts?state=all&town=Xitangqiao"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(ids("/api/alerts?state=all&town=Wuyuan"), (std::vector<std::uint64_t>{3, 2, 1}));
  EXPECT_EQ(ids("/api/alerts?state=all&town=Nowhere"), (std::vector<std::uint64_t>{}));
  EXPECT_EQ(ids("/api/alerts?terminal=NORM"), (std::vector<std::uint64_t>{}));
  const auto a = get_json("/api/alerts?state=acknowledged")["alerts"][0];
  EXPECT_EQ(a["severity"], "warning");
  EXPECT_EQ(a["terminal_name"], "Warning well");
  EXPECT_EQ(a["town"], "Xitangqiao");
  EXPECT_DOUBLE_EQ(a["latitude"].get<double>(), 30.5);
  EXPECT_DOUBLE_EQ(a["longitude"].get<double>(), 120.9);
  EXPECT_EQ(a["acked_by"], "Li");
  EXPECT_EQ(get_json("/api/alerts?state=raised")["alerts"][0]["severity"], "critical");
}

TEST_F(ApiAlertsTest, AlertPagingIsStableNewestFirstWithoutDuplicatesOrGaps) {
  episodes(7);  // ids 1..7
  std::vector<std::uint64_t> got;
  std::string target = "/api/alerts?state=all&limit=3";
  int pages = 0;
  while (true) {
    const auto j = get_json(target);
    ++pages;
    for (const auto& a : j["alerts"]) got.push_back(a["alert_id"]);
    if (j["next"].is_null()) break;
    ASSERT_LT(pages, 5);
    EXPECT_EQ(j["next"], std::to_string(got.back()));  // cursor = the last id seen
    if (pages == 1) episodes(1);  // a new episode (id 8) between pages shifts nothing
    target = "/api/alerts?state=all&limit=3&cursor=" + j["next"].get<std::string>();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{7, 6, 5, 4, 3, 2, 1}));
  // Exactly a full last page: no empty extra page.
  const auto full = get_json("/api/alerts?state=all&limit=4&cursor=5");
  EXPECT_EQ(full["alerts"].size(), 4u);
  EXPECT_TRUE(full["next"].is_null());
}

TEST_F(ApiAlertsTest, OneAlertWithItsTransitions) {
  send(test::with_turbidity(test::record("CRIT", seq_++, clock_.now()), 50));
  clock_.advance(std::chrono::minutes(1));
  ASSERT_EQ(api_->handle({"POST", "/api/alerts/1/ack", tok(), R"({"by":"Wang","note":"crew sent"})"}).status, 200u);
  clock_.advance(std::chrono::minutes(1));
  send(test::with_turbidity(test::record("CRIT", seq_++, clock_.now()), 4));
  const auto a = get_json("/api/alerts/1");
  EXPECT_EQ(a["alert_id"], 1);
  EXPECT_EQ(a["state"], "cleared");
  EXPECT_EQ(a["severity"], "critical");
  EXPECT_EQ(a["terminal_name"], "Critical well");
  ASSERT_EQ(a["transitions"].size(), 3u) << a.dump();
  EXPECT_EQ(a["transitions"][0]["state"], "raised");
  EXPECT_EQ(a["transitions"][0]["at"], "2026-11-29T08:00:00Z");
  EXPECT_TRUE(a["transitions"][0]["by"].is_null());
  EXPECT_EQ(a["transitions"][1]["state"], "acknowledged");
  EXPECT_EQ(a["transitions"][1]["by"], "Wang");
  EXPECT_EQ(a["transitions"][1]["note"], "crew sent");
  EXPECT_EQ(a["transitions"][2]["state"], "cleared");
  EXPECT_EQ(a["transitions"][2]["at"], "2026-11-29T08:02:00Z");
  EXPECT_EQ(get("/api/alerts/99").status, 404u);
  EXPECT_EQ(get("/api/alerts/0").status, 400u);
  EXPECT_EQ(get("/api/alerts/x1").status, 400u);
  EXPECT_EQ(get("/api/alerts/1?full=1").status, 400u);
}

TEST_F(ApiAlertsTest, BadAlertListParametersAre400sNamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"/api/alerts?state=closed", "state: must be open, raised, acknowledged, cleared or all"},
      {"/api/alerts?type=fire", "type: not an alert type"},
      {"/api/alerts?terminal=a%20b", "terminal: not a valid terminal id"},
      {"/api/alerts?limit=0", "limit: out of range"},
      {"/api/alerts?limit=1001", "limit: out of range"},
      {"/api/alerts?cursor=0", "cursor: an alert id must be a positive integer"},
      {"/api/alerts?cursor=-3", "cursor: an alert id must be a positive integer"},
      {"/api/alerts?cursor=abc", "cursor: an alert id must be a positive integer"},
  };
  for (const auto& [target, msg] : bad) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find(msg), std::string::npos) << target << ": " << r.body;
  }
  EXPECT_EQ(get("/api/alerts?terminal=NOPE").status, 404u);
}

/// Energy in the daily series: a metered terminal's day shows its meter increments, estimate and
/// kWh/m3; the county series sums the metered terminals only and divides by their own volume.
TEST_F(ApiListsTest, EnergyOfTheDayPerTerminalAndForTheCountyCountsMeteredTerminalsOnly) {
  // NORM has a kWh meter (0.6 kW: 0.01 kWh a minute); CRIT has none. Both treat 30 m3/h.
  for (std::uint64_t i = 1; i <= 4; ++i) {
    auto norm = test::with_flow(test::record("NORM", i, clock_.now()), 30, 100 + 0.5 * static_cast<double>(i));
    norm.energy = proto::energy_reading{proto::quantity_status::ok, 50.0 + 0.01 * static_cast<double>(i), 0.6, std::nullopt, std::nullopt};
    send(norm);
    send(test::with_flow(test::record("CRIT", i, clock_.now()), 30, 200 + 0.5 * static_cast<double>(i)));
    clock_.advance(std::chrono::minutes(1));
  }
  const auto norm = get_json("/api/terminals/NORM/daily?from=2026-11-29&to=2026-11-29")["days"][0];
  // The first reading has no baseline: its window (60 s at 0.6 kW = 0.01 kWh) is estimated; then
  // three measured increments of 0.01 kWh. Volume 3 x 0.5 m3 measured + the first window's 0.5 m3.
  EXPECT_NEAR(norm["energy_kwh"].get<double>(), 0.04, 1e-9) << norm;
  EXPECT_NEAR(norm["energy_estimated_kwh"].get<double>(), 0.01, 1e-9) << norm;
  const double norm_volume = norm["volume_m3"].get<double>();
  ASSERT_GT(norm_volume, 0.0);
  EXPECT_NEAR(norm["energy_kwh_per_m3"].get<double>(), proto::round_to(0.04 / norm_volume, proto::unit::kwh_per_m3), 1e-9) << norm;
  const auto crit = get_json("/api/terminals/CRIT/daily?from=2026-11-29&to=2026-11-29")["days"][0];
  EXPECT_TRUE(crit["energy_kwh"].is_null()) << crit;
  EXPECT_TRUE(crit["energy_kwh_per_m3"].is_null()) << crit;

  const auto day = get_json("/api/daily?from=2026-11-29&to=2026-11-29")["days"][0];
  EXPECT_EQ(day["terminals_metered"], 1);
  EXPECT_NEAR(day["energy_kwh"].get<double>(), 0.04, 1e-9) << day;
  EXPECT_NEAR(day["energy_estimated_kwh"].get<double>(), 0.01, 1e-9) << day;
  // Divided by NORM's volume, not by the county's (CRIT's volume has no energy figure).
  EXPECT_GT(day["volume_m3"].get<double>(), norm_volume * 1.5);
  EXPECT_NEAR(day["energy_kwh_per_m3"].get<double>(), proto::round_to(0.04 / norm_volume, proto::unit::kwh_per_m3), 1e-9) << day;
  // A town without a metered terminal: no energy figure at all.
  const auto town = get_json("/api/daily?from=2026-11-29&to=2026-11-29&town=Xitangqiao")["days"][0];
  EXPECT_EQ(town["terminals_metered"], 0);
  EXPECT_TRUE(town["energy_kwh"].is_null()) << town;
  EXPECT_TRUE(town["energy_kwh_per_m3"].is_null()) << town;
}

TEST_F(ApiListsTest, CountyDailySeriesSumsTheTerminalsRowsPerDayAndFiltersByTown) {
  // Day 2026-11-29 (Asia/Shanghai: 16:00Z the day before .. 16:00Z): NORM compliant, CRIT not,
  // WARN without turbidity; day 2026-11-30: NORM and WARN again.
  const auto feed = [&](const char* id, std::uint64_t seq, double total, std::optional<double> ntu) {
    auto r = test::with_flow(test::record(id, seq, clock_.now()), 30, total);
    if (ntu) r = test::with_turbidity(r, *ntu);
    send(r);
  };
  for (std::uint64_t i = 1; i <= 3; ++i) {
    feed("NORM", i, 100 + 0.5 * static_cast<double>(i), 4.0);
    feed("CRIT", i, 200 + 0.25 * static_cast<double>(i), 12.0);
    feed("WARN", i == 3 ? 5 : i, 300 + 0.5 * static_cast<double>(i), std::nullopt);  // seq 3, 4 never arrive
    clock_.advance(std::chrono::minutes(1));
  }
  clock_.set(at("2026-11-29T17:00:00Z"));
  feed("NORM", 4, 102, 4.0);
  feed("WARN", 6, 302, std::nullopt);
  clock_.advance(std::chrono::minutes(1));
  feed("NORM", 5, 102.5, 4.0);

  const auto county = get_json("/api/daily?from=2026-11-28&to=2026-11-30");
  EXPECT_EQ(county["from"], "2026-11-28");
  EXPECT_EQ(county["to"], "2026-11-30");
  EXPECT_TRUE(county["town"].is_null());
  EXPECT_EQ(county["terminals"], 7);
  ASSERT_EQ(county["days"].size(), 3u);
  const auto& before = county["days"][0];  // before anyone was registered: nothing expected
  EXPECT_EQ(before["day"], "2026-11-28");
  EXPECT_EQ(before["records"], 0);
  EXPECT_DOUBLE_EQ(before["volume_m3"].get<double>(), 0.0);
  EXPECT_TRUE(before["availability"].is_null());
  EXPECT_TRUE(before["compliance_rate"].is_null());
  EXPECT_EQ(before["terminals_reporting"], 0);
  // Every other figure is the sum of the terminals' own daily rows.
  double county_ok_s = 0;
  for (std::size_t d = 1; d < 3; ++d) {
    const auto& day = county["days"][d];
    double volume = 0, expected = 0, ok_s = 0, compliant_s = 0;
    std::int64_t records = 0, missing = 0, reporting = 0;
    for (const char* id : {"OFF", "CRIT", "WARN", "INFO", "STALE", "UNK", "NORM"}) {
      const auto t = get_json(std::string("/api/terminals/") + id + "/daily?from=2026-11-28&to=2026-11-30");
      for (const auto& row : t["days"]) {
        if (row["day"] != day["day"]) continue;
        volume += row["volume_m3"].get<double>();
        expected += row["expected_records"].get<double>();
        records += row["records"].get<std::int64_t>();
        missing += row["missing_records"].get<std::int64_t>();
        reporting += row["records"].get<std::int64_t>() > 0 ? 1 : 0;
        ok_s += row["turbidity_ok_s"].get<double>();
        if (std::string(id) == "NORM") compliant_s += row["turbidity_ok_s"].get<double>();  // 4 NTU: compliant
      }
    }
    EXPECT_NEAR(day["volume_m3"].get<double>(), volume, 1e-9) << day;
    EXPECT_GT(volume, 0.0);
    EXPECT_EQ(day["records"], records) << day;
    EXPECT_EQ(day["missing_records"], missing) << day;
    EXPECT_EQ(day["terminals_reporting"], reporting) << day;
    ASSERT_GT(ok_s, 0.0) << day;
    if (d == 1) county_ok_s = ok_s;
    EXPECT_NEAR(day["compliance_rate"].get<double>(), compliant_s / ok_s, 1e-4) << day;
    EXPECT_LE(expected, day["expected_records"].get<double>()) << day;  // silent terminals count too
  }
  // Expected records: every registered terminal (also those that sent nothing) from its
  // registration (08:00Z) up to now, at its own interval. 2026-11-29: 08:00Z..16:00Z = 28800 s:
  // OFF and STALE (60 s) 480 each, five at 3600 s 8 each = 1000. 2026-11-30 so far (now 17:01Z):
  // 3660 s: 61 x 2 + 1.0167 x 5 = 127.08.
  EXPECT_DOUBLE_EQ(county["days"][1]["expected_records"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(county["days"][1]["availability"].get<double>(), 0.009);  // 9 / 1000
  EXPECT_DOUBLE_EQ(county["days"][2]["expected_records"].get<double>(), 127.08);
  EXPECT_DOUBLE_EQ(county["days"][2]["availability"].get<double>(), 0.0236);  // 3 / 127.083
  // Coverage: good turbidity time over the terminal-time of the day (all seven terminals).
  EXPECT_DOUBLE_EQ(county["days"][1]["compliance_coverage"].get<double>(),
                   proto::round_to(county_ok_s / (7 * 28800.0), proto::unit::ratio));
  EXPECT_EQ(county["days"][1]["records"], 9);
  EXPECT_EQ(county["days"][1]["missing_records"], 2);  // WARN's seq 3 and 4
  EXPECT_EQ(county["days"][1]["terminals_reporting"], 3);
  EXPECT_DOUBLE_EQ(county["days"][1]["compliance_rate"].get<double>(), 0.5);  // NORM's good time of NORM + CRIT
  EXPECT_EQ(county["days"][2]["records"], 3);
  // One town: only its terminals.
  const auto town = get_json("/api/daily?from=2026-11-29&to=2026-11-29&town=Xitangqiao");
  EXPECT_EQ(town["town"], "Xitangqiao");
  EXPECT_EQ(town["terminals"], 3);
  ASSERT_EQ(town["days"].size(), 1u);
  EXPECT_EQ(town["days"][0]["records"], 3);  // WARN only
  EXPECT_TRUE(town["days"][0]["compliance_rate"].is_null());  // no turbidity in that town
  // Default range: the last 30 days up to today.
  const auto dflt = get_json("/api/daily");
  EXPECT_EQ(dflt["to"], "2026-11-30");
  EXPECT_EQ(dflt["days"].size(), 30u);
  // Errors, and the route is a read route (store and county view only).
  EXPECT_EQ(get("/api/daily?town=Nowhere").status, 404u);
  const std::vector<std::pair<std::string, std::string>> bad{
      {"/api/daily?from=2026-11-30&to=2026-11-29", "from must not be after to"},
      {"/api/daily?from=2020-01-01&to=2026-11-29", "range too long"},
      {"/api/daily?from=2026-02-30", "from: must be a date YYYY-MM-DD"},
      {"/api/daily?to=yesterday", "to: must be a date YYYY-MM-DD"},
      {"/api/daily?terminal=T1", "unknown query parameter 'terminal'"},
  };
  for (const auto& [target, msg] : bad) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find(msg), std::string::npos) << target << ": " << r.body;
  }
  bool found = false;
  for (const auto& r : api::routes())
    if (r.pattern == "/api/daily") found = r.read_route;
  EXPECT_TRUE(found);
}

std::string header(const http_response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

TEST_F(ApiListsTest, EveryGetJsonAnswerHasAWeakETagAnd304WhenUnchanged) {
  make_every_class();
  for (const std::string target : {"/api/summary", "/api/terminals", "/api/terminals.geojson", "/api/terminals/NORM",
                                   "/api/alerts", "/api/alerts/1", "/api/terminals/NORM/daily", "/healthz"}) {
    const auto first = get(target);
    const auto tag = header(first, "ETag");
    if (first.status != 200) {  // healthz is 503 here (no broker link): no tag on a non-200
      EXPECT_TRUE(tag.empty()) << target;
      continue;
    }
    ASSERT_EQ(tag.rfind("W/\"", 0), 0u) << target << ": " << tag;
    EXPECT_EQ(header(first, "Cache-Control"), "no-cache") << target;
    const auto again = get(target, {{"If-None-Match", tag}});
    EXPECT_EQ(again.status, 304u) << target;
    EXPECT_TRUE(again.body.empty()) << target;
    EXPECT_EQ(header(again, "ETag"), tag) << target;
  }
  const auto tag = header(get("/api/terminals"), "ETag");
  // Compared weakly, in a list, with any header-name case, and "*".
  EXPECT_EQ(get("/api/terminals", {{"if-none-match", "\"zzz\", " + tag.substr(2)}}).status, 304u);
  EXPECT_EQ(get("/api/terminals", {{"If-None-Match", "*"}}).status, 304u);
  EXPECT_EQ(get("/api/terminals", {{"If-None-Match", "W/\"other\""}}).status, 200u);
  // A change gives a new body and a new tag: the old one no longer matches.
  send(test::record("NORM", 2, clock_.now()));
  const auto changed = get("/api/terminals", {{"If-None-Match", tag}});
  EXPECT_EQ(changed.status, 200u);
  EXPECT_NE(header(changed, "ETag"), tag);
  // Not for errors, non-JSON answers or POSTs.
  EXPECT_TRUE(header(get("/api/terminals/NOPE"), "ETag").empty());
  EXPECT_TRUE(header(get("/metrics"), "ETag").empty());
  EXPECT_TRUE(header(api_->handle({"POST", "/api/alerts/1/ack", tok(), R"({"by":"Li"})"}), "ETag").empty());
}

}  // namespace
}  // namespace sewage::gateway
