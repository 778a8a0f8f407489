#include "sewage/proto/payload.hpp"

#include "sewage/proto/limits.hpp"

#include <gtest/gtest.h>

namespace sewage::proto {
namespace {

std::string nested(int levels) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "{\"a\":";
  s += "1";
  for (int i = 0; i < levels; ++i) s += "}";
  return s;
}

problem only_problem(std::string_view payload) {
  auto p = parse_payload(payload);
  EXPECT_FALSE(p.doc.has_value());
  EXPECT_EQ(p.problems.size(), 1U) << payload;
  return p.problems.empty() ? problem{} : p.problems.front();
}

TEST(Payload, AcceptsAnObject) {
  const auto p = parse_payload(R"({"a": [1, {"b": "c"}], "d": null})");
  ASSERT_TRUE(p.doc.has_value());
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ((*p.doc)["a"][1]["b"], "c");
}

TEST(Payload, RefusesOversizeBeforeParsing) {
  std::string big = "{\"x\":\"" + std::string(limits::max_payload_bytes, 'a') + "\"}";
  const auto pr = only_problem(big);
  EXPECT_EQ(pr.code, problem_code::too_large);
  EXPECT_EQ(pr.to_string(), "payload: payload is " + std::to_string(big.size()) +
                                " bytes; the limit is 65536");
}

TEST(Payload, AcceptsExactlyTheSizeLimit) {
  const std::string head = "{\"x\":\"";
  std::string s = head + std::string(limits::max_payload_bytes - head.size() - 2, 'a') + "\"}";
  ASSERT_EQ(s.size(), limits::max_payload_bytes);
  EXPECT_TRUE(parse_payload(s).doc.has_value());
}

TEST(Payload, RefusesInvalidUtf8WithOffset) {
  const auto pr = only_problem("{\"x\":\"\xC3\x28\"}");
  EXPECT_EQ(pr.code, problem_code::bad_utf8);
  EXPECT_EQ(pr.reason, "not valid UTF-8 (first invalid byte at offset 6)");
}

TEST(Payload, Utf8ValidatorFollowsRfc3629) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xE6\xB5\xB7\xE7\x9B\x90"));  // 海盐
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x92\xA7"));           // U+1F4A7
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                  // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));              // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));              // UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));          // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE6\xB5"));                  // truncated
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  std::size_t at = 99;
  EXPECT_FALSE(is_valid_utf8("ab\x80", &at));
  EXPECT_EQ(at, 2U);
}

TEST(Payload, RefusesNonObjects) {
  for (const char* s : {"[1,2]", "\"text\"", "42", "null", "", "   "}) {
    const auto pr = only_problem(s);
    EXPECT_EQ(pr.code, problem_code::not_object) << s;
    EXPECT_EQ(pr.to_string(), "payload: must be a JSON object");
  }
}

TEST(Payload, NestingLimitIsSixteenLevels) {
  EXPECT_TRUE(parse_payload(nested(16)).doc.has_value());
  const auto pr = only_problem(nested(17));
  EXPECT_EQ(pr.code, problem_code::too_deep);
  EXPECT_EQ(pr.reason, "nested deeper than 16 levels (at byte offset 80)");
}

TEST(Payload, BracketsInsideStringsDoNotCount) {
  const std::string s = "{\"a\":\"" + std::string(40, '{') + "\\\"[[[[\"}";
  EXPECT_TRUE(parse_payload(s).doc.has_value());
}

TEST(Payload, DuplicateKeysAreReportedWithPath) {
  const auto p = parse_payload(R"({"flow":{"rate_m3h":1,"rate_m3h":2},"seq":1,"seq":2})");
  EXPECT_FALSE(p.doc.has_value());
  ASSERT_EQ(p.problems.size(), 2U);
  EXPECT_EQ(p.problems[0].to_string(), "/flow/rate_m3h: duplicate key");
  EXPECT_EQ(p.problems[1].to_string(), "/seq: duplicate key");
  EXPECT_EQ(p.problems[0].code, problem_code::duplicate_key);
}

TEST(Payload, DuplicateKeysAreFoundInLargeObjectsToo) {
  // Beyond 16 keys the parser switches from a list to a hash set: duplicates on both sides.
  std::string s = "{";
  for (int i = 0; i < 40; ++i) s += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  s += "\"k3\":0,\"k30\":0,\"k41\":1,\"k41\":2}";
  const auto p = parse_payload(s);
  EXPECT_FALSE(p.doc.has_value());
  ASSERT_EQ(p.problems.size(), 3U);
  EXPECT_EQ(p.problems[0].path, "/k3");
  EXPECT_EQ(p.problems[1].path, "/k30");
  EXPECT_EQ(p.problems[2].path, "/k41");
  const auto ok = parse_payload(s.substr(0, s.find(",\"k3\":0")) + "}");
  EXPECT_TRUE(ok.doc.has_value());
}

TEST(Payload, DuplicateKeyInsideArrayHasIndexPath) {
  const auto p = parse_payload(R"({"list":[{"a":1},{"b":1,"b":2}]})");
  ASSERT_EQ(p.problems.size(), 1U);
  EXPECT_EQ(p.problems[0].path, "/list/1/b");
}

TEST(Payload, PointerTokensAreEscaped) {
  const auto p = parse_payload(R"({"a/b~c":1,"a/b~c":2})");
  ASSERT_EQ(p.problems.size(), 1U);
  EXPECT_EQ(p.problems[0].path, "/a~1b~0c");
}

TEST(Payload, NumberOverflowIsNotFiniteWithPath) {
  const auto pr = only_problem(R"({"turbidity":{"ntu":1e999}})");
  EXPECT_EQ(pr.code, problem_code::not_finite);
  EXPECT_EQ(pr.path, "/turbidity/ntu");
  EXPECT_EQ(pr.reason, "must be a finite number (number overflow parsing '1e999')");
}

TEST(Payload, NonFiniteLiteralsAreNamed) {
  for (const char* lit : {"NaN", "-NaN", "Infinity", "-Infinity", "inf", "nan"}) {
    const auto pr = only_problem(std::string(R"({"turbidity":{"ntu":)") + lit + "}}");
    EXPECT_EQ(pr.code, problem_code::not_finite) << lit;
    EXPECT_EQ(pr.path, "/turbidity/ntu") << lit;
    EXPECT_EQ(pr.reason, std::string("must be a finite number, got the literal ") + lit);
  }
}

TEST(Payload, SyntaxErrorsCarryPathAndPosition) {
  const auto pr = only_problem(R"({"a":1,"b":tru})");
  EXPECT_EQ(pr.code, problem_code::syntax);
  EXPECT_EQ(pr.path, "/b");
  EXPECT_NE(pr.reason.find("invalid JSON: parse error at line 1, column"), std::string::npos)
      << pr.reason;
}

TEST(Payload, TrailingGarbageIsRejected) {
  const auto pr = only_problem(R"({"a":1} x)");
  EXPECT_EQ(pr.code, problem_code::syntax);
}

TEST(Payload, EscapedInvalidSurrogateIsRejected) {
  const auto pr = only_problem(R"({"a":"\ud800"})");
  EXPECT_EQ(pr.code, problem_code::syntax);
  EXPECT_EQ(pr.path, "/a");
}

}  // namespace
}  // namespace sewage::proto
