// The optional `energy` section of a telemetry record (issue 12 item 5): old records stay valid,
// a record with it round-trips, and a bad value is refused naming the field.
#include "sewage/proto/alert.hpp"
#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::proto {
namespace {

using nlohmann::json;

json record_without_energy() {
  return json::parse(R"({
    "terminal_id": "HY-WY-001", "epoch": "9f1c2a7b44e0d3a1", "seq": 1042,
    "ts": "2026-11-29T08:15:00Z", "interval_s": 60,
    "flow": {"status": "ok", "rate_m3h": 0.62, "total_m3": 18234.75},
    "queue_depth": 0, "dropped": 0})");
}

json record_with_energy() {
  auto j = record_without_energy();
  j["energy"] = json::parse(R"({"status": "ok", "kwh_total": 10234.57, "power_kw": 0.412, "pump_current_a": 1.85})");
  return j;
}

std::vector<problem> problems_of(const json& j) { return decode_telemetry(j.dump(), "HY-WY-001").problems; }

TEST(TelemetryEnergy, OldRecordWithoutEnergyStaysValid) {
  const auto d = decode_telemetry(record_without_energy().dump(), "HY-WY-001");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value->energy.has_value());
  EXPECT_EQ(encode(*d.value).find("energy"), std::string::npos);
}

TEST(TelemetryEnergy, RecordWithEnergyValidatesAndRoundTrips) {
  const auto d = decode_telemetry(record_with_energy().dump(), "HY-WY-001");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d.value->energy.has_value());
  EXPECT_EQ(d.value->energy->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*d.value->energy->kwh_total, 10234.57);
  EXPECT_DOUBLE_EQ(*d.value->energy->power_kw, 0.412);
  EXPECT_DOUBLE_EQ(*d.value->energy->pump_current_a, 1.85);
  const auto again = decode_telemetry(encode(*d.value), "HY-WY-001");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again.value, *d.value);
}

TEST(TelemetryEnergy, EncodesAtTheUnitsResolution) {
  telemetry_record r = *decode_telemetry(record_with_energy().dump()).value;
  r.energy->kwh_total = 10234.5678;      // 0.01 kWh
  r.energy->power_kw = 0.41234567;       // 0.001 kW
  r.energy->pump_current_a = 1.8549999;  // 0.01 A
  const auto j = json::parse(encode(r));
  EXPECT_EQ(j["energy"]["kwh_total"].dump(), "10234.57");
  EXPECT_EQ(j["energy"]["power_kw"].dump(), "0.412");
  EXPECT_EQ(j["energy"]["pump_current_a"].dump(), "1.85");
}

TEST(TelemetryEnergy, PumpCurrentAloneIsARunningSignal) {
  auto j = record_without_energy();
  j["energy"] = json{{"status", "ok"}, {"pump_current_a", 0.0}};
  EXPECT_TRUE(problems_of(j).empty());
}

TEST(TelemetryEnergyRejects, NegativePowerNamesTheField) {
  auto j = record_with_energy();
  j["energy"]["power_kw"] = -0.4;
  const auto p = problems_of(j);
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].to_string(), "/energy/power_kw: must be a finite number in [0, 100] kW, got -0.4");
}

TEST(TelemetryEnergyRejects, EachBadValueNamesItsField) {
  struct bad { const char* key; json value; const char* path; };
  for (const auto& b : {bad{"kwh_total", 1e9, "/energy/kwh_total"}, bad{"kwh_total", "12.5", "/energy/kwh_total"},
                        bad{"kwh_total", -1, "/energy/kwh_total"}, bad{"pump_current_a", 250, "/energy/pump_current_a"},
                        bad{"pump_current_a", nullptr, "/energy/pump_current_a"},
                        bad{"status", "running", "/energy/status"}}) {
    auto j = record_with_energy();
    j["energy"][b.key] = b.value;
    const auto p = problems_of(j);
    ASSERT_EQ(p.size(), 1U) << j.dump();
    EXPECT_EQ(p[0].path, b.path) << p[0].to_string();
  }
}

TEST(TelemetryEnergyRejects, OkWithoutARunningSignal) {
  auto j = record_with_energy();
  j["energy"].erase("power_kw");
  j["energy"].erase("pump_current_a");
  const auto p = problems_of(j);
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].path, "/energy/power_kw");
  EXPECT_EQ(p[0].code, problem_code::missing);
}

TEST(TelemetryEnergyRejects, EnergyNotAnObject) {
  auto j = record_without_energy();
  j["energy"] = 3;
  const auto p = problems_of(j);
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].path, "/energy");
}

TEST(AlertTypesEnergy, NamesRoundTripAndUnitIsKw) {
  for (const auto t : {alert_type::power_without_flow, alert_type::flow_without_power}) {
    EXPECT_EQ(parse_alert_type(to_string(t)), t);
    EXPECT_EQ(value_unit(t), unit::kw);
  }
  EXPECT_EQ(to_string(alert_type::power_without_flow), "power_without_flow");
  EXPECT_EQ(to_string(alert_type::flow_without_power), "flow_without_power");
}

}  // namespace
}  // namespace sewage::proto
