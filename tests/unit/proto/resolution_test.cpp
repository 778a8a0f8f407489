// Numbers as people read them (issue 9, section 7): every measured quantity is serialised at its
// unit's resolution, float32 noise and sum noise disappear, real digits survive.
#include "sewage/proto/alert.hpp"
#include "sewage/proto/resolution.hpp"
#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <random>

namespace sewage::proto {
namespace {

std::string text(double v) { return nlohmann::json(v).dump(); }

// The four values the issue saw in the API, each with the unit it was shown in.
TEST(Resolution, TheIssuesFourExamplesPrintAsPeopleReadThem) {
  EXPECT_EQ(text(0.800000011920929), "0.800000011920929");  // before: a float32 0.8 widened
  EXPECT_EQ(text(round_to(0.800000011920929, unit::m3_per_h)), "0.8");
  EXPECT_EQ(text(0.1 + 0.32), "0.42000000000000004");  // before: a sum of decimals
  EXPECT_EQ(text(round_to(0.1 + 0.32, unit::m3)), "0.42");
  EXPECT_EQ(text(round_to(1240.0099999997765, unit::m3)), "1240.01");
  EXPECT_EQ(text(round_to(4.300284190448988, unit::ntu)), "4.3");
}

TEST(Resolution, TheTableIsTheDocumentedOne) {
  EXPECT_EQ(decimals(unit::m3), 3);
  EXPECT_EQ(decimals(unit::m3_per_h), 3);
  EXPECT_EQ(decimals(unit::ntu), 2);
  EXPECT_EQ(decimals(unit::m), 3);
  EXPECT_EQ(decimals(unit::seconds), 3);
  EXPECT_EQ(decimals(unit::ratio), 4);
  EXPECT_EQ(symbol(unit::m3_per_h), "m3/h");
}

TEST(Resolution, RealDigitsSurviveAndRoundingIsIdempotent) {
  EXPECT_EQ(text(round_to(123456789.123, unit::m3)), "123456789.123");
  EXPECT_EQ(text(round_to(4294967296.0, unit::m3)), "4294967296.0");
  EXPECT_EQ(text(round_to(-0.0001, unit::m3)), "0.0");  // no -0
  EXPECT_EQ(text(round_to(2.675, unit::ntu)), "2.67");  // 2.675 is 2.67499999... in binary
  EXPECT_TRUE(std::isnan(round_to(std::nan(""), unit::m3)));
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<std::int64_t> thousandths(0, 4294967296000LL);
  for (int i = 0; i < 20000; ++i) {
    // A value with exactly three decimals (what a totalizer shows) keeps every digit.
    const auto n = thousandths(rng);
    const std::string written = std::to_string(n / 1000) + "." + std::to_string(1000 + n % 1000).substr(1);
    const double v = std::stod(written);
    ASSERT_EQ(round_to(v, unit::m3), v) << written;
    // Any value: rounding twice changes nothing, and moves it by at most half a step.
    const double noisy = v + std::ldexp(static_cast<double>(rng() % 1000), -20);
    const double once = round_to(noisy, unit::m3);
    ASSERT_EQ(round_to(once, unit::m3), once) << noisy;
    ASSERT_LE(std::fabs(once - noisy), 0.0005 + 1e-9) << noisy;
  }
}

TEST(Resolution, Float32WidensToItsShortestDecimalForm) {
  EXPECT_EQ(widen_float32(0.8F), 0.8);
  EXPECT_EQ(widen_float32(4.3F), 4.3);
  EXPECT_EQ(widen_float32(1240.01F), 1240.01);
  EXPECT_EQ(widen_float32(16777217.0F), 16777216.0);  // what the float really holds
  std::mt19937 rng(3);
  for (int i = 0; i < 100000; ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (!std::isfinite(f)) continue;
    ASSERT_EQ(static_cast<float>(widen_float32(f)), f) << f;  // the float's own precision is kept
  }
}

telemetry_record sample() {
  telemetry_record r;
  r.terminal_id = "T1";
  r.epoch = "e1";
  r.seq = 1;
  r.ts = *parse_timestamp("2026-11-29T08:00:00Z");
  r.interval_s = 60;
  return r;
}

TEST(Resolution, TelemetryEncodesAtTheResolutionAndTheTotalizerSurvivesEndToEnd) {
  auto r = sample();
  r.flow = flow_reading{quantity_status::ok, static_cast<double>(0.8F), 123456789.123, std::nullopt};
  r.turbidity = turbidity_reading{quantity_status::ok, 4.300284190448988, static_cast<double>(4.1F), 4.5000001, std::nullopt};
  r.sludge = sludge_reading{quantity_status::ok, 0.42000000000000004, false, std::nullopt};
  const auto payload = encode(r);
  EXPECT_NE(payload.find(R"("rate_m3h":0.8,)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("total_m3":123456789.123)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("ntu":4.3,)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("min_ntu":4.1,)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("max_ntu":4.5,)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("level_m":0.42,)"), std::string::npos) << payload;
  const auto back = decode_telemetry(payload, "T1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value->flow->total_m3, 123456789.123);
  EXPECT_EQ(back.value->flow->rate_m3h, 0.8);
  // A payload from an older agent with float noise is read at the resolution too, so what the
  // gateway computes with is what it shows.
  const auto noisy = decode_telemetry(
      R"({"terminal_id":"T1","epoch":"e","seq":1,"ts":"2026-11-29T08:00:00Z","interval_s":60,)"
      R"("flow":{"status":"ok","rate_m3h":0.800000011920929,"total_m3":1240.0099999997765},)"
      R"("turbidity":{"status":"ok","ntu":4.300284190448988},"queue_depth":0,"dropped":0})",
      "T1");
  ASSERT_TRUE(noisy.ok());
  EXPECT_EQ(noisy.value->flow->rate_m3h, 0.8);
  EXPECT_EQ(noisy.value->flow->total_m3, 1240.01);
  EXPECT_EQ(noisy.value->turbidity->ntu, 4.3);
  // Range checks still see the value as sent.
  EXPECT_FALSE(decode_telemetry(R"({"terminal_id":"T1","epoch":"e","seq":1,"ts":"2026-11-29T08:00:00Z",)"
                                R"("interval_s":60,"turbidity":{"status":"ok","ntu":4000.001},"queue_depth":0,"dropped":0})",
                                "T1")
                   .ok());
}

TEST(Resolution, AlertValuesUseTheirRulesUnit) {
  alert_message a;
  a.terminal_id = "T1";
  a.type = alert_type::turbidity_high;
  a.alert_id = 1;
  a.raised_at = *parse_timestamp("2026-11-29T08:00:00Z");
  a.value = 12.400000095367432;
  a.threshold = 10.0;
  a.message = "m";
  const auto payload = encode(a);
  EXPECT_NE(payload.find(R"("value":12.4)"), std::string::npos) << payload;
  const auto back = decode_alert(payload);
  ASSERT_TRUE(back.ok());
  auto want = a;
  want.value = 12.4;
  EXPECT_EQ(*back.value, want);
  EXPECT_EQ(value_unit(alert_type::no_flow), unit::m3_per_h);
  EXPECT_EQ(value_unit(alert_type::clock_skew), unit::seconds);
}

}  // namespace
}  // namespace sewage::proto
