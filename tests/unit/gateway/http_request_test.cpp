// Hostile and mistyped requests against the API without sockets (issue 9, section 1): invalid
// UTF-8 and control bytes anywhere give a 400 naming where, never echoing the bytes; unknown query
// parameters and bad values give a 400 naming them; an exception inside a handler gives a JSON 500.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "auth_util.hpp"
#include "test_util.hpp"

#include <sewage/proto/payload.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;

class HttpRequestTest : public ::testing::Test {
 protected:
  HttpRequestTest() : dir_("gw-http"), clock_(at("2026-11-29T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_public_read = true;  // these tests are not about identity (auth_test.cpp is)
    cfg_.defaults.turbidity_debounce_s = 0;
    eng_ = std::make_unique<engine>(cfg_, registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)}),
                                    db_, clock_, pub_, default_rules());
    ids_ = std::make_unique<test::identities>(dir_.path() / "g.db", clock_);
    api_ = std::make_unique<api>(*eng_, link_status{}, &ids_->ids);
  }
  http_response call(http_request r) { return api_->handle(r); }
  http_response get(const std::string& target) { return api_->handle({"GET", target, "", ""}); }
  void send(std::uint64_t seq, double ntu) {
    const auto r = test::with_turbidity(test::record("T1", seq, clock_.now()), ntu);
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
  }

  /// A 400 whose JSON body is valid UTF-8 and whose message contains `where`.
  static void expect_400_naming(const http_response& r, const std::string& where, const std::string& context) {
    EXPECT_EQ(r.status, 400u) << context << ": " << r.body;
    ASSERT_TRUE(proto::is_valid_utf8(r.body)) << context;
    const auto j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << context << ": " << r.body;
    EXPECT_EQ(j["error"]["status"], 400) << context;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(where), std::string::npos)
        << context << ": message does not name '" << where << "': " << r.body;
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

// The issue's example: this request made sewage-gateway exit 1 (nlohmann's dump() threw on the
// invalid UTF-8 echoed into the 404 message).
TEST_F(HttpRequestTest, PercentFFInATerminalIdIsA400NotACrash) {
  const auto r = get("/api/terminals/%ff");
  expect_400_naming(r, "path segment 3", "issue example");
  EXPECT_NE(r.body.find("invalid UTF-8"), std::string::npos) << r.body;
  EXPECT_EQ(api_->counters().rejected.at("bad_bytes"), 1u);
}

TEST_F(HttpRequestTest, InvalidUtf8AndControlBytesAnywhereGive400NamingWhere) {
  // %ff: never valid in UTF-8; %00: NUL; %c3%28: a lead byte followed by a non-continuation;
  // %c2%85: the C1 control NEL; %7f: DEL; %e2%82: a truncated sequence.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"%ff", "\xff"}, {"%00", std::string(1, '\0')}, {"%c3%28", "\xc3\x28"},
      {"%c2%85", "\xc2\x85"}, {"%7f", "\x7f"}, {"%e2%82", "\xe2\x82"}};
  for (const auto& [enc, raw] : bad) {
    expect_400_naming(get("/api/terminals/" + enc), "path segment 3", "path " + enc);
    expect_400_naming(get("/api/terminals/T1" + enc + "/daily"), "path segment 3", "path mid " + enc);
    expect_400_naming(get("/api/alerts?terminal=" + enc), "query parameter 'terminal'", "query value " + enc);
    expect_400_naming(get("/api/alerts?state=open&x" + enc + "=1"), "query parameter 2 name", "query name " + enc);
    http_request h{"GET", "/api/summary", "", ""};
    h.headers = {{"Host", "localhost"}, {"User-Agent", "curl" + raw}};
    expect_400_naming(call(h), "header 'User-Agent'", "header " + enc);
    expect_400_naming(call({"GET", "/api/summary", tok() + raw, ""}), "header 'Authorization'", "auth " + enc);
    expect_400_naming(call({"POST", "/api/alerts/1/ack", tok(), "{\"by\":\"W" + raw + "\"}"}), "body", "body " + enc);
    // Found by http_api_fuzzer (2026-12-02): to no route (404), with another method (405) or to a
    // static file, a body with bad bytes was answered 404/405 unread; it is a 400 naming the body too.
    expect_400_naming(call({"POST", "/api/Alerts/1/ack", tok(), "{\"by\":\"" + raw + "\"}"}), "body", "no route, body " + enc);
    expect_400_naming(call({"DELETE", "/api/summary", tok(), "x" + raw}), "body", "wrong method, body " + enc);
    expect_400_naming(call({"POST", "/", tok(), "x" + raw}), "body", "static file, body " + enc);
    // Not percent-encoded at all: the raw byte in the target.
    expect_400_naming(get("/api/terminals/" + raw), "path segment 3", "raw path " + enc);
    // The response never holds the raw byte.
    EXPECT_EQ(get("/api/terminals/" + enc).body.find(raw), std::string::npos) << enc;
  }
  // A header name with a bad byte is named as a header name (its bytes escaped).
  http_request h{"GET", "/healthz", "", ""};
  h.headers = {{"X-\xff", "1"}};
  expect_400_naming(call(h), "header name", "header name");
  // Tabs are fine in header values, line breaks in bodies.
  http_request tab{"GET", "/api/summary", "", ""};
  tab.headers = {{"User-Agent", "a\tb"}};
  EXPECT_EQ(call(tab).status, 200u);
  EXPECT_EQ(api_->counters().rejected.at("bad_bytes"), 6u * 12u + 1u);
}

TEST_F(HttpRequestTest, ValidUtf8IsNotRefusedAndIsEchoedReadably) {
  // 海盐 (Haiyan) is valid UTF-8: not in the registry, so 404, with the id readable as escapes.
  const auto r = get("/api/terminals/%E6%B5%B7%E7%9B%90");
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_TRUE(json::accept(r.body));
  EXPECT_EQ(get("/api/terminals/T1").status, 200u);
  EXPECT_EQ(get("/api/alerts?terminal=T1&state=all").status, 200u);
}

TEST(TextProblem, NamesTheByteAndTheKind) {
  EXPECT_EQ(text_problem("ab\xff", text_rules::single_line), "invalid UTF-8 at byte 2");
  EXPECT_EQ(text_problem(std::string("a\0b", 3), text_rules::single_line), "control character U+0000 at byte 1");
  EXPECT_EQ(text_problem("a\tb", text_rules::single_line), "control character U+0009 at byte 1");
  EXPECT_FALSE(text_problem("a\tb", text_rules::header_value).has_value());
  EXPECT_TRUE(text_problem("a\nb", text_rules::header_value).has_value());
  EXPECT_FALSE(text_problem("a\r\nb", text_rules::multi_line).has_value());
  EXPECT_EQ(text_problem("\xc2\x85", text_rules::multi_line), "control character U+0085 at byte 0");
  EXPECT_FALSE(text_problem("\xe6\xb5\xb7", text_rules::single_line).has_value());
  EXPECT_EQ(escaped("a\xff\\b\n"), "a\\xFF\\x5Cb\\x0A");
  EXPECT_EQ(escaped(std::string(100, 'x'), 10), "xxxxxxxxxx...");
}

TEST_F(HttpRequestTest, EveryRouteRefusesAnUnknownQueryParameterByName) {
  std::size_t checked = 0;
  for (const auto& r : api::routes()) {
    std::string path(r.pattern);
    if (const auto p = path.find("{id}"); p != std::string::npos) path.replace(p, 4, r.method == "POST" ? "1" : "T1");
    http_request req{std::string(r.method), path + (path.find('?') == std::string::npos ? "?form=2026-11-01" : ""),
                     tok(), r.method == "POST" ? R"({"by":"Wang"})" : ""};
    const auto resp = call(req);
    expect_400_naming(resp, "unknown query parameter 'form'", std::string(r.method) + " " + std::string(r.pattern));
    ++checked;
  }
  EXPECT_GE(checked, 14u);  // "/" and "/index.html" are static files now (not in routes())
  EXPECT_EQ(api_->counters().rejected.at("unknown_parameter"), checked);
}

TEST_F(HttpRequestTest, IssueExamplesFormTypoAndNegativeLimit) {
  // `?form=` (a typo of from) used to return the default 30 days.
  const auto form = get("/api/terminals/T1/daily?form=2026-11-01");
  expect_400_naming(form, "unknown query parameter 'form'", "form typo");
  EXPECT_NE(form.body.find("accepted: from, to"), std::string::npos) << form.body;
  // `?limit=-1` used to return 200.
  expect_400_naming(get("/api/terminals/T1/history?limit=-1"), "limit: must not be negative", "negative limit");
  expect_400_naming(get("/api/alerts?limit=-1"), "limit: must not be negative", "negative alert limit");
  // Two unknown parameters are both named.
  expect_400_naming(get("/api/summary?a=1&b=2"), "unknown query parameters 'a', 'b'", "two unknown");
}

struct bad_value_case {
  const char* target;
  const char* expect;  // the parameter and the reason
};

TEST_F(HttpRequestTest, BadParameterValuesNameTheParameterAndTheReason) {
  const bad_value_case cases[] = {
      {"/api/terminals/T1/history?limit=abc", "limit: not a number"},
      {"/api/terminals/T1/history?limit=", "limit: not a number"},
      {"/api/terminals/T1/history?limit=1.5", "limit: not a number"},
      {"/api/terminals/T1/history?limit=0", "limit: out of range"},
      {"/api/terminals/T1/history?limit=99999999999999999999999", "limit: out of range"},
      {"/api/terminals/T1/history?limit=10001", "limit: out of range"},
      {"/api/alerts?limit=1001", "limit: out of range"},
      {"/api/alerts?state=maybe", "state: must be open, raised, acknowledged, cleared or all"},
      {"/api/alerts?terminal=a/b", "terminal: not a valid terminal id"},
      {"/api/terminals/T1/history?from=yesterday", "from: must be an ISO 8601 UTC time"},
      {"/api/terminals/T1/history?to=-1", "to: must be an ISO 8601 UTC time"},
      {"/api/terminals/T1/daily?from=2026-02-30", "from: must be a date"},
      {"/api/terminals/T1/daily?to=-5", "to: must be a date"},
      {"/api/terminals/T1/daily?from=2026-11-01&from=2026-11-02", "query parameter 'from' given more than once"},
      {"/api/alerts?=open", "a value without a parameter name"},
      {"/api/alerts?state=%zz", "bad percent-escape"},
  };
  for (const auto& c : cases) expect_400_naming(get(c.target), c.expect, c.target);
}

TEST_F(HttpRequestTest, DeclaredParametersStillWork) {
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    send(seq, 4);
    clock_.advance(std::chrono::minutes(1));
  }
  const auto h = get("/api/terminals/T1/history?limit=2&from=2026-11-29T07:00:00Z&to=2026-11-29T09:00:00Z");
  ASSERT_EQ(h.status, 200u) << h.body;
  EXPECT_EQ(json::parse(h.body)["records"].size(), 2u);
  EXPECT_EQ(json::parse(h.body)["truncated"], true);
  EXPECT_EQ(get("/api/terminals/T1/daily?from=2026-11-29&to=2026-11-29").status, 200u);
  EXPECT_EQ(get("/api/alerts?state=all&terminal=T1&limit=1").status, 200u);
  // Empty pairs are not parameters: "a=1&&b=2" style.
  EXPECT_EQ(get("/api/alerts?&state=all&").status, 200u);
  // '+' in a path is a plus, in a query a space.
  EXPECT_EQ(get("/api/terminals/T+1").status, 404u);
  EXPECT_EQ(get("/api/alerts?state=open+").status, 400u);
}

TEST_F(HttpRequestTest, MethodNotAllowedListsTheAllowedMethods) {
  const auto r = call({"DELETE", "/api/alerts/1/ack", "", ""});
  EXPECT_EQ(r.status, 405u);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "POST");
  const auto g = call({"POST", "/api/summary", "", ""});
  EXPECT_EQ(g.status, 405u);
  EXPECT_EQ(g.headers.at(0).second, "GET, HEAD");
}

TEST_F(HttpRequestTest, AnExceptionInAHandlerIsALoggedJson500AndTheApiKeepsAnswering) {
  link_status ls;
  // A hostile what(): invalid UTF-8 and a control byte must not break the 500 answer either.
  int calls = 0;
  ls.connected = [&calls]() -> bool {
    if (calls++ == 0) throw std::runtime_error("boom \xff\x01");
    return true;
  };
  api failing(*eng_, ls);
  const auto r = failing.handle({"GET", "/healthz", "", ""});
  EXPECT_EQ(r.status, 500u);
  ASSERT_TRUE(proto::is_valid_utf8(r.body));
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["error"]["message"], "internal error: boom \\xFF\\x01");
  EXPECT_EQ(failing.counters().internal_errors, 1u);
  EXPECT_EQ(failing.handle({"GET", "/api/terminals", "", ""}).status, 200u);
  const auto m = failing.handle({"GET", "/metrics", "", ""});
  EXPECT_NE(m.body.find("\nsewage_gateway_http_internal_errors_total 1\n"), std::string::npos) << m.body;
}

}  // namespace
}  // namespace sewage::gateway
