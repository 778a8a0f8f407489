#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace sewage::proto {
namespace {

using nlohmann::json;

json valid_record() {
  return json::parse(R"({
    "terminal_id": "HY-WY-001", "epoch": "9f1c2a7b44e0d3a1", "seq": 1042,
    "ts": "2026-11-29T08:15:00Z", "interval_s": 60,
    "flow": {"status": "ok", "rate_m3h": 0.62, "total_m3": 18234.75},
    "turbidity": {"status": "ok", "ntu": 4.1, "min_ntu": 3.8, "max_ntu": 4.6},
    "sludge": {"status": "ok", "level_m": 0.82, "cleanout_required": false},
    "queue_depth": 0, "dropped": 0})");
}

/// Decodes `doc` for the topic of HY-WY-001 and expects exactly one problem.
problem one_problem(const json& doc) {
  const auto d = decode_telemetry(doc.dump(), "HY-WY-001");
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.problems.size(), 1U) << doc.dump();
  return d.problems.empty() ? problem{} : d.problems.front();
}

json with(json doc, const json::json_pointer& ptr, json value) {
  doc[ptr] = std::move(value);
  return doc;
}

json without(json doc, const json::json_pointer& ptr) {
  doc[ptr.parent_pointer()].erase(ptr.back());
  return doc;
}

TEST(Telemetry, DecodesValidRecord) {
  const auto d = decode_telemetry(valid_record().dump(), "HY-WY-001");
  ASSERT_TRUE(d.ok());
  const auto& r = *d.value;
  EXPECT_EQ(r.terminal_id, "HY-WY-001");
  EXPECT_EQ(r.epoch, "9f1c2a7b44e0d3a1");
  EXPECT_EQ(r.seq, 1042U);
  EXPECT_EQ(format_timestamp(r.ts), "2026-11-29T08:15:00Z");
  EXPECT_EQ(r.interval_s, 60U);
  ASSERT_TRUE(r.flow && r.turbidity && r.sludge);
  EXPECT_EQ(r.flow->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.flow->rate_m3h, 0.62);
  EXPECT_DOUBLE_EQ(*r.flow->total_m3, 18234.75);
  EXPECT_DOUBLE_EQ(*r.turbidity->max_ntu, 4.6);
  EXPECT_EQ(r.sludge->cleanout_required, false);
}

TEST(Telemetry, RoundTrip) {
  const auto d = decode_telemetry(valid_record().dump());
  ASSERT_TRUE(d.ok());
  const auto again = decode_telemetry(encode(*d.value));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again.value, *d.value);
}

TEST(Telemetry, AbsentQuantityMeansNotFitted) {
  auto doc = without(without(without(valid_record(), "/flow"_json_pointer), "/turbidity"_json_pointer),
                     "/sludge"_json_pointer);
  const auto d = decode_telemetry(doc.dump());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value->flow || d.value->turbidity || d.value->sludge);
}

TEST(Telemetry, FaultyQuantityMayOmitValues) {
  auto doc = with(valid_record(), "/flow"_json_pointer,
                  json{{"status", "stale"}, {"reason", "no reply within 500 ms"}});
  const auto d = decode_telemetry(doc.dump());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->flow->status, quantity_status::stale);
  EXPECT_EQ(d.value->flow->reason, "no reply within 500 ms");
  EXPECT_FALSE(d.value->flow->rate_m3h.has_value());
}

TEST(Telemetry, UnknownFieldsAreIgnored) {
  auto doc = valid_record();
  doc["future_field"] = {{"x", 1}};
  doc["flow"]["velocity_ms"] = 0.3;
  EXPECT_TRUE(decode_telemetry(doc.dump()).ok());
}

// --- one test per rejection class, with exact path and reason --------------------------------

TEST(TelemetryRejects, MissingRequiredField) {
  const auto p = one_problem(without(valid_record(), "/seq"_json_pointer));
  EXPECT_EQ(p.to_string(), "/seq: required field is missing");
  EXPECT_EQ(p.code, problem_code::missing);
}

TEST(TelemetryRejects, NumberSentAsString) {
  const auto p = one_problem(with(valid_record(), "/turbidity/ntu"_json_pointer, "4.1"));
  EXPECT_EQ(p.to_string(), "/turbidity/ntu: must be a finite number in [0, 4000] NTU, got string \"4.1\"");
  EXPECT_EQ(p.code, problem_code::wrong_type);
}

TEST(TelemetryRejects, NullForNumber) {
  const auto p = one_problem(with(valid_record(), "/flow/rate_m3h"_json_pointer, nullptr));
  EXPECT_EQ(p.to_string(), "/flow/rate_m3h: must be a finite number in [0, 1200] m3/h, got null");
  EXPECT_EQ(p.code, problem_code::wrong_type);
}

TEST(TelemetryRejects, NaNSpelledAsString) {
  for (const char* spelling : {"NaN", "nan", "Infinity", "-Infinity", "inf", "+inf"}) {
    const auto p = one_problem(with(valid_record(), "/turbidity/ntu"_json_pointer, spelling));
    EXPECT_EQ(p.path, "/turbidity/ntu");
    EXPECT_EQ(p.code, problem_code::not_finite) << spelling;
    EXPECT_EQ(p.reason, std::string("must be a finite number in [0, 4000] NTU, got string \"") +
                            spelling + "\"");
  }
}

TEST(TelemetryRejects, NaNLiteralAndOverflow) {
  std::string text = valid_record().dump();
  const auto pos = text.find("\"ntu\":4.1");
  ASSERT_NE(pos, std::string::npos);
  for (const char* bad : {"NaN", "Infinity", "-Infinity", "1e999", "-1e400"}) {
    std::string t = text;
    t.replace(pos, 9, std::string("\"ntu\":") + bad);
    const auto d = decode_telemetry(t);
    ASSERT_EQ(d.problems.size(), 1U) << t;
    EXPECT_EQ(d.problems[0].path, "/turbidity/ntu") << bad;
    EXPECT_EQ(d.problems[0].code, problem_code::not_finite) << bad;
  }
}

TEST(TelemetryRejects, NegativeRate) {
  const auto p = one_problem(with(valid_record(), "/flow/rate_m3h"_json_pointer, -0.1));
  EXPECT_EQ(p.to_string(), "/flow/rate_m3h: must be a finite number in [0, 1200] m3/h, got -0.1");
  EXPECT_EQ(p.code, problem_code::out_of_range);
}

TEST(TelemetryRejects, NegativeTotalizer) {
  const auto p = one_problem(with(valid_record(), "/flow/total_m3"_json_pointer, -5));
  EXPECT_EQ(p.to_string(), "/flow/total_m3: must be a finite number in [0, 4294967296] m3, got -5");
}

TEST(TelemetryRejects, NegativeTurbidity) {
  const auto p = one_problem(with(valid_record(), "/turbidity/min_ntu"_json_pointer, -1.5));
  EXPECT_EQ(p.to_string(), "/turbidity/min_ntu: must be a finite number in [0, 4000] NTU, got -1.5");
}

TEST(TelemetryRejects, OutsidePhysicalBounds) {
  EXPECT_EQ(one_problem(with(valid_record(), "/turbidity/max_ntu"_json_pointer, 4000.5)).to_string(),
            "/turbidity/max_ntu: must be a finite number in [0, 4000] NTU, got 4000.5");
  EXPECT_EQ(one_problem(with(valid_record(), "/flow/rate_m3h"_json_pointer, 5000)).to_string(),
            "/flow/rate_m3h: must be a finite number in [0, 1200] m3/h, got 5000");
  EXPECT_EQ(one_problem(with(valid_record(), "/sludge/level_m"_json_pointer, 11)).to_string(),
            "/sludge/level_m: must be a finite number in [0, 10] m, got 11");
  EXPECT_EQ(one_problem(with(valid_record(), "/interval_s"_json_pointer, 86401)).to_string(),
            "/interval_s: must be an integer in [1, 86400], got 86401");
}

TEST(TelemetryRejects, SeqNotUnsigned64) {
  EXPECT_EQ(one_problem(with(valid_record(), "/seq"_json_pointer, -1)).to_string(),
            "/seq: must be an unsigned 64-bit integer, got -1");
  EXPECT_EQ(one_problem(with(valid_record(), "/seq"_json_pointer, 1.5)).to_string(),
            "/seq: must be an unsigned 64-bit integer, got 1.5");
  EXPECT_EQ(one_problem(with(valid_record(), "/seq"_json_pointer, "7")).to_string(),
            "/seq: must be an unsigned 64-bit integer, got string \"7\"");
  std::string text = valid_record().dump();
  text.replace(text.find("\"seq\":1042"), 10, "\"seq\":18446744073709551616");
  const auto d = decode_telemetry(text);
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].path, "/seq");
  EXPECT_EQ(d.problems[0].code, problem_code::out_of_range);
  text = valid_record().dump();
  text.replace(text.find("\"seq\":1042"), 10, "\"seq\":1042.0");
  EXPECT_EQ(decode_telemetry(text).problems.at(0).to_string(),
            "/seq: must be an unsigned 64-bit integer, got 1042.0");
}

TEST(TelemetryRejects, MaxSeqIsAccepted) {
  const auto d = decode_telemetry(
      with(valid_record(), "/seq"_json_pointer, std::numeric_limits<std::uint64_t>::max()).dump());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->seq, std::numeric_limits<std::uint64_t>::max());
}

TEST(TelemetryRejects, TimestampNotIsoUtc) {
  for (const char* ts : {"2026-11-29T16:15:00+08:00", "2026-11-29 08:15:00", "29/11/2026",
                         "2026-02-30T00:00:00Z"}) {
    const auto p = one_problem(with(valid_record(), "/ts"_json_pointer, ts));
    EXPECT_EQ(p.to_string(),
              std::string("/ts: must be an ISO 8601 UTC date-time such as \"2026-11-29T08:15:00Z\", "
                          "got string \"") + ts + "\"");
    EXPECT_EQ(p.code, problem_code::bad_timestamp);
  }
  EXPECT_EQ(one_problem(with(valid_record(), "/ts"_json_pointer, 1796026500)).code,
            problem_code::wrong_type);
}

TEST(TelemetryRejects, IdDiffersFromTopic) {
  const auto d = decode_telemetry(valid_record().dump(), "HY-WY-002");
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].to_string(),
            "/terminal_id: names terminal \"HY-WY-001\" but the topic is for \"HY-WY-002\"");
  EXPECT_EQ(d.problems[0].code, problem_code::id_mismatch);
}

TEST(TelemetryRejects, BadIds) {
  EXPECT_EQ(one_problem(with(valid_record(), "/terminal_id"_json_pointer, "HY WY")).to_string(),
            "/terminal_id: must match [A-Za-z0-9_-]{1,32}, got \"HY WY\"");
  EXPECT_EQ(one_problem(with(valid_record(), "/epoch"_json_pointer, "")).to_string(),
            "/epoch: must match [A-Za-z0-9_-]{1,64}, got \"\"");
}

TEST(TelemetryRejects, OversizePayload) {
  auto doc = valid_record();
  doc["padding"] = std::string(70000, 'x');
  const auto d = decode_telemetry(doc.dump());
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].code, problem_code::too_large);
  EXPECT_EQ(d.problems[0].path, "");
}

TEST(TelemetryRejects, TooDeep) {
  auto doc = valid_record();
  json deep = 1;
  for (int i = 0; i < 16; ++i) deep = json{{"d", deep}};
  doc["extra"] = deep;
  const auto d = decode_telemetry(doc.dump());
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].code, problem_code::too_deep);
}

TEST(TelemetryRejects, InvalidUtf8) {
  std::string text = valid_record().dump();
  text.replace(text.find("HY-WY-001"), 2, "\xFF\xFE");
  const auto d = decode_telemetry(text);
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].code, problem_code::bad_utf8);
}

TEST(TelemetryRejects, NotAnObject) {
  const auto d = decode_telemetry("[" + valid_record().dump() + "]");
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].to_string(), "payload: must be a JSON object");
}

TEST(TelemetryRejects, DuplicateKey) {
  std::string text = valid_record().dump();
  text.replace(text.find("\"dropped\":0"), 11, "\"dropped\":0,\"dropped\":5");
  const auto d = decode_telemetry(text);
  ASSERT_EQ(d.problems.size(), 1U);
  EXPECT_EQ(d.problems[0].to_string(), "/dropped: duplicate key");
}

TEST(TelemetryRejects, UnknownStatus) {
  EXPECT_EQ(one_problem(with(valid_record(), "/sludge/status"_json_pointer, "bad")).to_string(),
            "/sludge/status: must be one of \"ok\", \"fault\", \"out_of_range\", \"stale\", got \"bad\"");
}

TEST(TelemetryRejects, OkWithoutPrimaryValue) {
  EXPECT_EQ(one_problem(without(valid_record(), "/turbidity/ntu"_json_pointer)).to_string(),
            "/turbidity/ntu: required when status is \"ok\"");
  auto doc = with(valid_record(), "/sludge"_json_pointer, json{{"status", "ok"}});
  EXPECT_EQ(one_problem(doc).to_string(),
            "/sludge/level_m: level_m or cleanout_required is required when status is \"ok\"");
}

TEST(TelemetryRejects, MinAboveMean) {
  EXPECT_EQ(one_problem(with(valid_record(), "/turbidity/min_ntu"_json_pointer, 5.0)).to_string(),
            "/turbidity/min_ntu: must not exceed ntu (the mean)");
  EXPECT_EQ(one_problem(with(valid_record(), "/turbidity/max_ntu"_json_pointer, 1.0)).to_string(),
            "/turbidity/max_ntu: must not be below ntu (the mean)");
}

TEST(TelemetryRejects, WrongTypeForObjectAndBool) {
  EXPECT_EQ(one_problem(with(valid_record(), "/flow"_json_pointer, 3)).to_string(),
            "/flow: must be an object, got 3");
  EXPECT_EQ(one_problem(with(valid_record(), "/sludge/cleanout_required"_json_pointer, 1)).to_string(),
            "/sludge/cleanout_required: must be true or false, got 1");
}

TEST(TelemetryRejects, CollectsEveryProblem) {
  auto doc = valid_record();
  doc["seq"] = -3;
  doc["flow"]["rate_m3h"] = "fast";
  doc["turbidity"]["ntu"] = nullptr;
  doc.erase("ts");
  const auto d = decode_telemetry(doc.dump(), "HY-WY-001");
  std::vector<std::string> lines;
  for (const auto& p : d.problems) lines.push_back(p.path);
  EXPECT_EQ(lines, (std::vector<std::string>{"/seq", "/ts", "/flow/rate_m3h", "/turbidity/ntu"}));
}

TEST(Telemetry, ValidateCatchesNaNInMemory) {
  telemetry_record r;
  r.terminal_id = "T1";
  r.epoch = "e1";
  r.seq = 1;
  r.ts = timestamp{std::chrono::seconds{1'800'000'000}};
  r.turbidity = turbidity_reading{quantity_status::ok, std::nan(""), std::nullopt, std::nullopt, {}};
  const auto problems = validate(r);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].path, "/turbidity/ntu");
}

}  // namespace
}  // namespace sewage::proto
