// Round trips and rejections for status, gateway status, alert, command, command result, image.
#include "sewage/proto/alert.hpp"
#include "sewage/proto/command.hpp"
#include "sewage/proto/image.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/status.hpp"

#include <gtest/gtest.h>

namespace sewage::proto {
namespace {

using namespace std::chrono;
const timestamp t0{sys_days{2026y / November / 29} + hours{8}};

TEST(Status, BirthRoundTrip) {
  const status_message m{"HY-WY-001", presence::online, t0, std::nullopt, "0.1.0", "3fa2c9", "9f1c", 60};
  const auto d = decode_status(encode(m), "HY-WY-001");
  ASSERT_TRUE(d.ok()) << d.problems.at(0).to_string();
  EXPECT_EQ(*d.value, m);
}

TEST(Status, LastWillAndShutdownRoundTrip) {
  const status_message will{"T1", presence::offline, std::nullopt, offline_reason::connection_lost,
                            std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  const status_message bye{"T1", presence::offline, t0, offline_reason::shutdown,
                           std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  for (const auto& m : {will, bye}) {
    const auto d = decode_status(encode(m), "T1");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d.value, m);
  }
}

TEST(Status, Rejections) {
  auto first = [](std::string_view payload) {
    const auto d = decode_status(payload, "T1");
    EXPECT_FALSE(d.ok());
    return d.problems.empty() ? std::string() : d.problems[0].to_string();
  };
  EXPECT_EQ(first(R"({"terminal_id":"T1","state":"online","ts":"2026-11-29T08:00:00Z","config_digest":"ab"})"),
            "/agent_version: required field is missing");
  EXPECT_EQ(first(R"({"terminal_id":"T1","state":"offline"})"),
            "/reason: required when state is \"offline\"");
  EXPECT_EQ(first(R"({"terminal_id":"T1","state":"offline","reason":"shutdown"})"),
            "/ts: required when reason is \"shutdown\"");
  EXPECT_EQ(first(R"({"terminal_id":"T1","state":"asleep"})"),
            "/state: must be one of \"online\", \"offline\", got \"asleep\"");
  EXPECT_EQ(first(R"({"terminal_id":"T2","state":"offline","reason":"connection_lost"})"),
            "/terminal_id: names terminal \"T2\" but the topic is for \"T1\"");
  EXPECT_EQ(first(R"({"terminal_id":"T1","state":"online","ts":"2026-11-29T08:00:00Z","agent_version":"1","config_digest":"xyz"})"),
            "/config_digest: must match hexadecimal, 1-128 digits, got \"xyz\"");
}

TEST(GatewayStatus, RoundTripAndRejection) {
  const gateway_status_message m{presence::online, t0, std::nullopt, "0.1.0", std::nullopt};
  const auto d = decode_gateway_status(encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d.value, m);
  EXPECT_EQ(decode_gateway_status(R"({"state":"online","ts":"2026-11-29T08:00:00Z"})")
                .problems.at(0)
                .to_string(),
            "/version: required field is missing");
  // receipts (proto/receipt.hpp): optional, online only; absent means an older gateway.
  gateway_status_message with = m;
  with.receipts = true;
  const auto dw = decode_gateway_status(encode(with));
  ASSERT_TRUE(dw.ok()) << dw.problems.at(0).to_string();
  EXPECT_EQ(dw.value->receipts, std::optional<bool>(true));
  EXPECT_EQ(d.value->receipts, std::nullopt);
  EXPECT_EQ(decode_gateway_status(R"({"state":"online","ts":"2026-11-29T08:00:00Z","version":"1","receipts":"yes"})")
                .problems.at(0)
                .path,
            "/receipts");
  EXPECT_EQ(decode_gateway_status(R"({"state":"offline","reason":"connection_lost","receipts":true})")
                .problems.at(0)
                .to_string(),
            "/receipts: only allowed when online");
}

alert_message sample_alert() {
  alert_message a;
  a.terminal_id = "HY-WY-001";
  a.type = alert_type::turbidity_high;
  a.state = alert_state::raised;
  a.alert_id = 17;
  a.raised_at = t0;
  a.value = 12.4;
  a.threshold = 10.0;
  a.message = "effluent turbidity 12.4 NTU above 10 NTU for 15 min";
  return a;
}

TEST(Alert, RoundTripEveryState) {
  auto a = sample_alert();
  for (const auto state : {alert_state::raised, alert_state::acknowledged, alert_state::cleared}) {
    a.state = state;
    if (state == alert_state::acknowledged) {
      a.acked_at = t0 + minutes{5};
      a.acked_by = "王工";
      a.ack_note = "crew on the way";
    }
    if (state == alert_state::cleared) a.cleared_at = t0 + hours{2};
    const auto d = decode_alert(encode(a), "HY-WY-001", alert_type::turbidity_high);
    ASSERT_TRUE(d.ok()) << d.problems.at(0).to_string();
    EXPECT_EQ(*d.value, a);
  }
}

TEST(Alert, EveryTypeHasAWireName) {
  for (const auto t : all_alert_types) EXPECT_EQ(parse_alert_type(to_string(t)), t);
  EXPECT_FALSE(parse_alert_type("smell").has_value());
}

TEST(Alert, Rejections) {
  auto a = sample_alert();
  EXPECT_EQ(decode_alert(encode(a), "HY-WY-001", alert_type::no_flow).problems.at(0).to_string(),
            "/type: is \"turbidity_high\" but the topic is for \"no_flow\"");
  a.state = alert_state::cleared;
  EXPECT_EQ(decode_alert(encode(a)).problems.at(0).to_string(), "/cleared_at: required when cleared");
  a.cleared_at = t0 - hours{1};
  EXPECT_EQ(decode_alert(encode(a)).problems.at(0).to_string(),
            "/cleared_at: must not be before raised_at");
  a = sample_alert();
  a.state = alert_state::acknowledged;
  const auto d = decode_alert(encode(a));
  ASSERT_EQ(d.problems.size(), 2U);
  EXPECT_EQ(d.problems[0].to_string(), "/acked_at: required when acknowledged");
  EXPECT_EQ(d.problems[1].to_string(), "/acked_by: required when acknowledged");
  a = sample_alert();
  a.alert_id = 0;
  EXPECT_EQ(decode_alert(encode(a)).problems.at(0).to_string(),
            "/alert_id: must be an integer in [1, 18446744073709551615], got 0");
}

TEST(Command, RoundTrip) {
  const command_message set{"c-17", command_name::set_report_interval, 300, t0};
  const command_message now{"op:1.2", command_name::sample_now, std::nullopt, std::nullopt};
  for (const auto& c : {set, now}) {
    const auto d = decode_command(encode(c));
    ASSERT_TRUE(d.ok()) << d.problems.at(0).to_string();
    EXPECT_EQ(*d.value, c);
  }
}

TEST(Command, Rejections) {
  EXPECT_EQ(decode_command(R"({"id":"c1","name":"reboot"})").problems.at(0).to_string(),
            "/name: must be one of \"sample_now\", \"snapshot_now\", \"set_report_interval\", "
            "\"get_config\", got \"reboot\"");
  EXPECT_EQ(decode_command(R"({"id":"c1","name":"set_report_interval"})").problems.at(0).to_string(),
            "/args: set_report_interval needs args.interval_s");
  EXPECT_EQ(decode_command(R"({"id":"c1","name":"set_report_interval","args":{"interval_s":0}})")
                .problems.at(0)
                .to_string(),
            "/args/interval_s: must be an integer in [1, 86400], got 0");
  EXPECT_EQ(decode_command(R"({"name":"get_config"})").problems.at(0).to_string(),
            "/id: required field is missing");
}

TEST(Command, ExtractIdForErrorReplies) {
  EXPECT_EQ(extract_command_id(R"({"id":"c-9","name":"explode"})"), "c-9");
  EXPECT_FALSE(extract_command_id(R"({"id":"bad id"})").has_value());
  EXPECT_FALSE(extract_command_id("not json").has_value());
}

TEST(CommandResult, RoundTripAndRejection) {
  const command_result_message ok{"c-17", true, std::nullopt,
                                  nlohmann::json{{"report_interval_s", 300}}, t0};
  const command_result_message err{"c-18", false, "unknown command", std::nullopt, std::nullopt};
  for (const auto& m : {ok, err}) {
    const auto d = decode_command_result(encode(m));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d.value, m);
  }
  EXPECT_EQ(decode_command_result(R"({"id":"c1","ok":false})").problems.at(0).to_string(),
            "/error: required when ok is false");
  EXPECT_EQ(decode_command_result(R"({"id":"c1","ok":"yes"})").problems.at(0).to_string(),
            "/ok: must be true or false, got string \"yes\"");
}

TEST(Image, AcceptsBoundedJpeg) {
  std::string jpeg = "\xFF\xD8\xFF\xE0";
  jpeg += std::string(100, 'x');
  jpeg += "\xFF\xD9";
  EXPECT_TRUE(is_acceptable_jpeg(jpeg));
}

TEST(Image, Rejections) {
  std::string why;
  EXPECT_FALSE(is_acceptable_jpeg("\x89PNG\r\n\x1a\n....", &why));
  EXPECT_EQ(why, "not a JPEG: missing the start-of-image marker FF D8 FF");
  EXPECT_FALSE(is_acceptable_jpeg("\xFF\xD8\xFF\xE0truncated", &why));
  EXPECT_EQ(why, "truncated JPEG: missing the end-of-image marker FF D9");
  std::string big = "\xFF\xD8\xFF" + std::string(limits::max_image_bytes, 'x') + "\xFF\xD9";
  EXPECT_FALSE(is_acceptable_jpeg(big, &why));
  EXPECT_EQ(why, "image is " + std::to_string(big.size()) + " bytes; the limit is 524288");
}

}  // namespace
}  // namespace sewage::proto
