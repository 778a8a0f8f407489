// Issue 16 item 2: what a gateway waiting as the standby answers (standby/standby_http.hpp).
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/standby/standby_http.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::gateway::standby {
namespace {

using nlohmann::json;

http_request req(const std::string& method, const std::string& target) {
  http_request r;
  r.method = method;
  r.target = target;
  return r;
}

standby_state waiting(bool leader_known) {
  standby_state s;
  s.node = "county-b";
  s.waiting_since_ms = 1'764'547'200'000;  // 2025-12-01T00:00:00Z
  s.attempts = 7;
  s.connect_failures = 2;
  s.reads_served = 11;
  if (leader_known) s.leader = leader_record{"county-a", "https://a.example/", 1'764'547'100'000};
  return s;
}

std::string header(const http_response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

TEST(StandbyAnswer, HealthzIsUnavailableAndNamesTheLeader) {
  const auto r = standby_answer(req("GET", "/healthz?x=1"), waiting(true));
  EXPECT_EQ(r.status, 503u);
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "standby");
  EXPECT_EQ(j["role"], "standby");
  EXPECT_EQ(j["node"], "county-b");
  EXPECT_EQ(j["waiting_since"], "2025-12-01T00:00:00Z");
  EXPECT_EQ(j["leader"]["node"], "county-a");
  EXPECT_EQ(j["leader"]["http_url"], "https://a.example/");
  EXPECT_EQ(j["leader"]["since"], "2025-11-30T23:58:20Z");
  EXPECT_TRUE(json::parse(standby_answer(req("HEAD", "/healthz"), waiting(false)).body)["leader"].is_null());
}

TEST(StandbyAnswer, MetricsSayStandbyWithTheLeaseCounters) {
  const auto r = standby_answer(req("GET", "/metrics"), waiting(true));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(r.body.find("\nsewage_gateway_leader 0\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\nsewage_gateway_lease_attempts_total 7\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\nsewage_gateway_lease_connect_failures_total 2\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\nsewage_gateway_standby_reads_total 11\n"), std::string::npos) << r.body;
}

TEST(StandbyAnswer, EverythingElseIs503InTheApiErrorShapeWithRetryAfter) {
  for (const auto& [method, target] : {std::pair{"GET", "/api/terminals"}, std::pair{"POST", "/api/alerts/3/ack"},
                                       std::pair{"POST", "/healthz"}, std::pair{"POST", "/"}}) {
    const auto r = standby_answer(req(method, target), waiting(true));
    EXPECT_EQ(r.status, 503u) << method << ' ' << target;
    EXPECT_EQ(header(r, "Retry-After"), "5");
    const auto j = json::parse(r.body);
    EXPECT_EQ(j["error"]["status"], 503);
    EXPECT_EQ(j["error"]["reason"], "standby");
    EXPECT_EQ(j["error"]["message"],
              "this gateway (county-b) is the standby: it takes over when the leader stops; the leader is county-a at "
              "https://a.example/");
    EXPECT_EQ(j["leader"]["node"], "county-a");
  }
  const auto unknown = json::parse(standby_answer(req("GET", "/api/summary"), waiting(false)).body);
  EXPECT_EQ(unknown["error"]["message"], "this gateway (county-b) is the standby: it takes over when the leader stops");
  EXPECT_TRUE(unknown["leader"].is_null());
}

TEST(StandbyAnswer, TheWebApplicationGoesOnToTheLeaderWhenItsUrlIsKnown) {
  auto r = standby_answer(req("GET", "/index.html?lang=en"), waiting(true));
  EXPECT_EQ(r.status, 307u);
  EXPECT_EQ(header(r, "Location"), "https://a.example/index.html?lang=en");
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(header(standby_answer(req("HEAD", "/"), waiting(true)), "Location"), "https://a.example/");
  // No URL advertised, or no leader known: nowhere to send the browser.
  auto s = waiting(true);
  s.leader->http_url.clear();
  EXPECT_EQ(standby_answer(req("GET", "/"), s).status, 503u);
  EXPECT_EQ(standby_answer(req("GET", "/"), waiting(false)).status, 503u);
  // API reads are never redirected: a script with a bearer token decides where it sends it.
  EXPECT_EQ(standby_answer(req("GET", "/api/summary"), waiting(true)).status, 503u);
}

}  // namespace
}  // namespace sewage::gateway::standby

namespace sewage::gateway {
namespace {

// The standby's county view (api.hpp make_county_view from stored rows) gives each terminal what
// the leader's engine would: the interval its agent reported, the registration the store kept.
TEST(StandbyView, IntervalsAndRegistrationsComeFromTheStoredRowsAsTheEnginesWould) {
  terminal_info a;
  a.id = "HY-A";
  a.report_interval_s = 60;
  terminal_info b = a;
  b.id = "HY-B";
  b.report_interval_s = 120;
  auto reg = std::make_shared<const registry>(std::vector<terminal_info>{a, b});
  terminal_snapshot stored;
  stored.terminal_id = "HY-A";
  stored.status.emplace();
  stored.status->report_interval_s = 300;  // the agent reported a longer interval than registered
  stored.rules[static_cast<std::size_t>(proto::alert_type::offline)].since_ms = 1'764'547'200'000;
  terminal_snapshot unregistered;
  unregistered.terminal_id = "HY-GONE";  // a row of a terminal no longer registered: ignored
  const config cfg;
  const proto::timestamp now(std::chrono::milliseconds(1'764'600'000'000));
  const auto v = make_county_view(reg, {unregistered, stored}, cfg, now);
  ASSERT_EQ(v.report_interval_s.size(), 2u);
  EXPECT_EQ(v.report_interval_s[0], 300.0);
  EXPECT_EQ(v.registered_at[0], proto::timestamp(std::chrono::milliseconds(1'764'547'200'000)));
  EXPECT_EQ(v.report_interval_s[1], 120.0);  // no row yet: the registry's, registered from now
  EXPECT_EQ(v.registered_at[1], now);
  EXPECT_EQ(v.reg, reg);
  EXPECT_EQ(v.cfg, &cfg);
  EXPECT_EQ(v.now, now);
}

}  // namespace
}  // namespace sewage::gateway
