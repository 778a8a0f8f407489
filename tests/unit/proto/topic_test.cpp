#include "sewage/proto/topic.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sewage::proto {
namespace {

TEST(Topic, BuildsEveryKind) {
  EXPECT_EQ(telemetry_topic("HY-WY-001"), "sewage/v1/HY-WY-001/telemetry");
  EXPECT_EQ(status_topic("HY-WY-001"), "sewage/v1/HY-WY-001/status");
  EXPECT_EQ(image_topic("HY-WY-001"), "sewage/v1/HY-WY-001/image");
  EXPECT_EQ(command_topic("HY-WY-001"), "sewage/v1/HY-WY-001/cmd");
  EXPECT_EQ(command_result_topic("HY-WY-001"), "sewage/v1/HY-WY-001/cmd/result");
  EXPECT_EQ(alert_topic("HY-WY-001", alert_type::no_flow), "sewage/v1/alerts/HY-WY-001/no_flow");
  EXPECT_EQ(gateway_status_topic(), "sewage/v1/gateway/status");
}

TEST(Topic, ParseIsInverseOfMake) {
  std::vector<topic> all = {
      {topic_kind::telemetry, "a", {}},          {topic_kind::status, "Z_9", {}},
      {topic_kind::image, "x-y", {}},            {topic_kind::command, "t1", {}},
      {topic_kind::command_result, "t1", {}},    {topic_kind::gateway_status, "", {}},
  };
  for (const auto type : all_alert_types) all.push_back({topic_kind::alert, "HY-1", type});
  for (const auto& t : all) {
    const auto text = make_topic(t);
    const auto parsed = parse_topic(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(*parsed.value, t) << text;
  }
}

TEST(Topic, BuildRefusesInvalidIds) {
  EXPECT_THROW(telemetry_topic(""), std::invalid_argument);
  EXPECT_THROW(telemetry_topic("a+b"), std::invalid_argument);
  EXPECT_THROW(telemetry_topic("alerts"), std::invalid_argument);
  EXPECT_THROW(telemetry_topic(std::string(33, 'a')), std::invalid_argument);
  EXPECT_NO_THROW(telemetry_topic(std::string(32, 'a')));
}

void expect_rejected(std::string_view text, std::string_view reason) {
  const auto d = parse_topic(text);
  ASSERT_FALSE(d.ok()) << text;
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].code, problem_code::bad_topic);
  EXPECT_EQ(d.problems[0].path, "");
  EXPECT_EQ(d.problems[0].reason, reason) << text;
}

TEST(Topic, RejectsWildcards) {
  expect_rejected("sewage/v1/+/telemetry", "wildcards (+ or #) are not allowed in a concrete topic");
  expect_rejected("sewage/v1/#", "wildcards (+ or #) are not allowed in a concrete topic");
  expect_rejected("sewage/v1/a+b/telemetry", "wildcards (+ or #) are not allowed in a concrete topic");
}

TEST(Topic, RejectsDollarTopics) {
  expect_rejected("$SYS/broker/uptime", "$-topics belong to the broker");
}

TEST(Topic, RejectsBadIds) {
  expect_rejected("sewage/v1/HY WY/telemetry", "terminal id \"HY WY\" must match [A-Za-z0-9_-]{1,32}");
  expect_rejected("sewage/v1/" + std::string(33, 'a') + "/telemetry",
                  "terminal id \"" + std::string(33, 'a') + "\" must match [A-Za-z0-9_-]{1,32}");
  expect_rejected("sewage/v1/alerts/a.b/no_flow", "terminal id \"a.b\" must match [A-Za-z0-9_-]{1,32}");
}

TEST(Topic, RejectsEmptyLevelsAndEmptyId) {
  expect_rejected("sewage/v1//telemetry", "topic has an empty level");
  expect_rejected("sewage/v1/a/telemetry/", "topic has an empty level");
  expect_rejected("", "topic is empty");
}

TEST(Topic, RejectsWrongRootOrVersion) {
  expect_rejected("sewer/v1/a/telemetry", "topic must start with \"sewage/v1/\"");
  expect_rejected("sewage/v2/a/telemetry", "unsupported contract version \"v2\"; expected v1");
  expect_rejected("/sewage/v1/a/telemetry", "topic must start with \"sewage/v1/\"");
}

TEST(Topic, RejectsExtraOrMissingLevels) {
  expect_rejected("sewage/v1/a", "topic has too few levels");
  expect_rejected("sewage/v1/a/telemetry/x", "topic has extra levels");
  expect_rejected("sewage/v1/a/cmd/result/x", "topic has extra levels");
  expect_rejected("sewage/v1/a/cmd/other", "unknown message kind \"cmd\"");
  expect_rejected("sewage/v1/a/weather", "unknown message kind \"weather\"");
  expect_rejected("sewage/v1/alerts/a", "alert topics are \"sewage/v1/alerts/{terminal}/{type}\"");
  expect_rejected("sewage/v1/alerts/a/no_flow/x", "alert topics are \"sewage/v1/alerts/{terminal}/{type}\"");
  expect_rejected("sewage/v1/alerts/a/smells", "unknown alert type \"smells\"");
  expect_rejected("sewage/v1/gateway/status/x", "the only gateway topic is \"sewage/v1/gateway/status\"");
}

TEST(Topic, SubscriptionFilters) {
  EXPECT_EQ(subscription_filter(topic_kind::telemetry), "sewage/v1/+/telemetry");
  EXPECT_EQ(subscription_filter(topic_kind::command_result), "sewage/v1/+/cmd/result");
  EXPECT_EQ(subscription_filter(topic_kind::alert), "sewage/v1/alerts/#");
  EXPECT_EQ(subscription_filter(topic_kind::gateway_status), "sewage/v1/gateway/status");
}

TEST(Topic, ReservedIdsAreInvalid) {
  EXPECT_FALSE(is_valid_terminal_id("alerts"));
  EXPECT_FALSE(is_valid_terminal_id("gateway"));
  EXPECT_TRUE(is_valid_terminal_id("Gateway-1"));
}

}  // namespace
}  // namespace sewage::proto
