// The optional `pump_station` section of a telemetry record (issue 13 item 2): records without it
// stay valid, a station's record round-trips, every bad field is refused naming its JSON Pointer,
// and the pump-station alert types have their wire names and units.
#include "sewage/proto/alert.hpp"
#include "sewage/proto/resolution.hpp"
#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace sewage::proto {
namespace {

using nlohmann::json;

json station_record() {
  return json::parse(R"({
    "terminal_id": "HY-PS-012", "epoch": "9f1c2a7b44e0d3a1", "seq": 7, "ts": "2026-11-29T08:15:00Z",
    "interval_s": 60,
    "pump_station": {"status": "ok", "wet_well_level_m": 1.42, "min_level_m": 1.38, "max_level_m": 1.47,
                     "mains_power": true, "power_lost_s": 0,
                     "pumps": [{"id": "P1", "running": true, "fault": false, "run_s": 60, "starts": 1, "current_a": 11.8},
                               {"id": "P2", "running": false, "fault": false, "run_s": 0}]},
    "queue_depth": 0, "dropped": 0})");
}

std::vector<problem> problems_of(const json& j) { return decode_telemetry(j.dump(), "HY-PS-012").problems; }

/// The single problem of `j`, or a failure naming what was found.
problem only_problem(const json& j) {
  const auto p = problems_of(j);
  EXPECT_EQ(p.size(), 1u) << j.dump();
  return p.empty() ? problem{} : p.front();
}

TEST(TelemetryPumpStation, RecordWithoutTheSectionStaysValid) {
  auto j = station_record();
  j.erase("pump_station");
  const auto d = decode_telemetry(j.dump(), "HY-PS-012");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value->pump_station.has_value());
  EXPECT_EQ(encode(*d.value).find("pump_station"), std::string::npos);
}

TEST(TelemetryPumpStation, StationRecordDecodesAndRoundTrips) {
  const auto d = decode_telemetry(station_record().dump(), "HY-PS-012");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d.value->pump_station.has_value());
  const auto& ps = *d.value->pump_station;
  EXPECT_EQ(ps.status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*ps.wet_well_level_m, 1.42);
  EXPECT_DOUBLE_EQ(*ps.min_level_m, 1.38);
  EXPECT_DOUBLE_EQ(*ps.max_level_m, 1.47);
  EXPECT_EQ(ps.mains_power, true);
  EXPECT_EQ(ps.power_lost_s, 0u);
  ASSERT_EQ(ps.pumps.size(), 2u);
  EXPECT_EQ(ps.pumps[0].id, "P1");
  EXPECT_TRUE(ps.pumps[0].running);
  EXPECT_FALSE(ps.pumps[0].fault);
  EXPECT_EQ(ps.pumps[0].run_s, 60u);
  EXPECT_EQ(ps.pumps[0].starts, 1u);
  EXPECT_DOUBLE_EQ(*ps.pumps[0].current_a, 11.8);
  EXPECT_FALSE(ps.pumps[1].starts.has_value());
  EXPECT_FALSE(ps.pumps[1].current_a.has_value());
  const auto again = decode_telemetry(encode(*d.value), "HY-PS-012");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again.value, *d.value);
  EXPECT_TRUE(validate(*d.value).empty());
}

TEST(TelemetryPumpStation, EncodesAtTheUnitsResolution) {
  telemetry_record r = *decode_telemetry(station_record().dump()).value;
  r.pump_station->wet_well_level_m = 1.4234567;  // 1 mm
  r.pump_station->pumps[0].current_a = 11.8049;  // 0.01 A
  const auto j = json::parse(encode(r));
  EXPECT_EQ(j["pump_station"]["wet_well_level_m"].dump(), "1.423");
  EXPECT_EQ(j["pump_station"]["pumps"][0]["current_a"].dump(), "11.8");
}

TEST(TelemetryPumpStation, PowerLostWithTheLevelStaleIsAValidRecord) {
  auto j = station_record();
  j["pump_station"] = json::parse(R"({"status": "stale", "reason": "level transmitter not answering",
      "mains_power": false, "power_lost_s": 60,
      "pumps": [{"id": "P1", "running": false, "fault": true, "run_s": 0}]})");
  const auto d = decode_telemetry(j.dump(), "HY-PS-012");
  ASSERT_TRUE(d.ok()) << (d.problems.empty() ? "" : d.problems.front().reason);
  EXPECT_EQ(d.value->pump_station->status, quantity_status::stale);
  EXPECT_FALSE(d.value->pump_station->wet_well_level_m.has_value());
  EXPECT_EQ(d.value->pump_station->mains_power, false);
  EXPECT_TRUE(d.value->pump_station->pumps[0].fault);
}

// One test per class of bad field: each is refused with the field's pointer and a reason.
TEST(TelemetryPumpStation, LevelRequiredWhenOk) {
  auto j = station_record();
  j["pump_station"].erase("wet_well_level_m");
  const auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/wet_well_level_m");
  EXPECT_EQ(p.code, problem_code::missing);
}

TEST(TelemetryPumpStation, LevelOutsideTheWetWellsRangeIsRefused) {
  for (const double bad : {-0.01, 20.5, 1e6}) {
    auto j = station_record();
    j["pump_station"]["wet_well_level_m"] = bad;
    const auto p = only_problem(j);
    EXPECT_EQ(p.path, "/pump_station/wet_well_level_m") << bad;
    EXPECT_EQ(p.code, problem_code::out_of_range) << bad;
  }
  auto j = station_record();
  j["pump_station"]["max_level_m"] = 21;
  EXPECT_EQ(only_problem(j).path, "/pump_station/max_level_m");
}

TEST(TelemetryPumpStation, MinAboveMaxIsInconsistent) {
  auto j = station_record();
  j["pump_station"]["min_level_m"] = 1.6;
  const auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/min_level_m");
  EXPECT_EQ(p.code, problem_code::inconsistent);
}

TEST(TelemetryPumpStation, RunTimeLongerThanTheIntervalIsRefused) {
  auto j = station_record();
  j["pump_station"]["pumps"][1]["run_s"] = 61;  // interval_s = 60
  auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/pumps/1/run_s");
  EXPECT_EQ(p.code, problem_code::out_of_range);
  j = station_record();
  j["pump_station"]["power_lost_s"] = 90;
  p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/power_lost_s");
  EXPECT_EQ(p.code, problem_code::out_of_range);
  j = station_record();
  j["interval_s"] = 300;
  j["pump_station"]["pumps"][0]["run_s"] = 300;  // bound follows the record's own interval
  EXPECT_TRUE(problems_of(j).empty());
}

TEST(TelemetryPumpStation, PumpFieldsOfTheWrongTypeAreRefused) {
  struct bad_case {
    const char* field;
    json value;
    problem_code code;
  };
  const bad_case cases[] = {
      {"running", "yes", problem_code::wrong_type}, {"fault", 1, problem_code::wrong_type},
      {"run_s", 12.5, problem_code::out_of_range},  {"run_s", -1, problem_code::out_of_range},
      {"starts", "2", problem_code::wrong_type},    {"current_a", -0.5, problem_code::out_of_range},
      {"current_a", 1500, problem_code::out_of_range}, {"id", "P 1", problem_code::bad_value},
      {"id", "", problem_code::bad_value},
  };
  for (const auto& c : cases) {
    auto j = station_record();
    j["pump_station"]["pumps"][0][c.field] = c.value;
    const auto p = only_problem(j);
    EXPECT_EQ(p.path, std::string("/pump_station/pumps/0/") + c.field) << c.field << " = " << c.value.dump();
    EXPECT_EQ(p.code, c.code) << c.field << " = " << c.value.dump() << ": " << p.reason;
  }
}

TEST(TelemetryPumpStation, MissingPumpFieldsAreNamed) {
  for (const char* field : {"id", "running", "fault", "run_s"}) {
    auto j = station_record();
    j["pump_station"]["pumps"][1].erase(field);
    const auto p = only_problem(j);
    EXPECT_EQ(p.path, std::string("/pump_station/pumps/1/") + field);
    EXPECT_EQ(p.code, problem_code::missing);
  }
}

TEST(TelemetryPumpStation, PumpListShapeIsChecked) {
  auto j = station_record();
  j["pump_station"]["pumps"] = json::object();
  EXPECT_EQ(only_problem(j).path, "/pump_station/pumps");
  j["pump_station"]["pumps"] = json::array();
  EXPECT_EQ(only_problem(j).code, problem_code::out_of_range);
  json nine = json::array();
  for (int i = 0; i < 9; ++i) nine.push_back({{"id", "P" + std::to_string(i)}, {"running", false}, {"fault", false}, {"run_s", 0}});
  j["pump_station"]["pumps"] = nine;
  EXPECT_EQ(only_problem(j).path, "/pump_station/pumps");
  j = station_record();
  j["pump_station"]["pumps"][1] = "P2";
  const auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/pumps/1");
  EXPECT_EQ(p.code, problem_code::wrong_type);
}

TEST(TelemetryPumpStation, DuplicatePumpIdIsRefused) {
  auto j = station_record();
  j["pump_station"]["pumps"][1]["id"] = "P1";
  const auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/pumps/1/id");
  EXPECT_NE(p.reason.find("twice"), std::string::npos);
}

TEST(TelemetryPumpStation, MainsPowerMustBeABoolean) {
  auto j = station_record();
  j["pump_station"]["mains_power"] = "on";
  const auto p = only_problem(j);
  EXPECT_EQ(p.path, "/pump_station/mains_power");
  EXPECT_EQ(p.code, problem_code::wrong_type);
}

TEST(TelemetryPumpStation, AlertTypesHaveWireNamesAndUnits) {
  const std::pair<alert_type, const char*> names[] = {
      {alert_type::pump_fault, "pump_fault"},       {alert_type::wet_well_high, "wet_well_high"},
      {alert_type::wet_well_low, "wet_well_low"},   {alert_type::pump_no_level_drop, "pump_no_level_drop"},
      {alert_type::power_lost, "power_lost"},       {alert_type::pump_runtime_abnormal, "pump_runtime_abnormal"}};
  for (const auto& [type, name] : names) {
    EXPECT_EQ(to_string(type), name);
    EXPECT_EQ(parse_alert_type(name), type);
  }
  EXPECT_EQ(value_unit(alert_type::pump_fault), unit::count);
  EXPECT_EQ(value_unit(alert_type::wet_well_high), unit::m);
  EXPECT_EQ(value_unit(alert_type::pump_no_level_drop), unit::m);
  EXPECT_EQ(value_unit(alert_type::power_lost), unit::seconds);
  EXPECT_EQ(value_unit(alert_type::pump_runtime_abnormal), unit::hours);
  EXPECT_EQ(decimals(unit::hours), 2);
  EXPECT_EQ(symbol(unit::hours), "h");
}

TEST(TelemetryPumpStation, AlertOfAPumpStationTypeDecodes) {
  const auto d = decode_alert(R"({"terminal_id": "HY-PS-012", "type": "wet_well_high", "state": "raised",
      "alert_id": 3, "raised_at": "2026-11-29T08:15:00Z", "value": 2.31, "threshold": 2.2,
      "message": "wet well 2.31 m above 2.2 m"})",
                              "HY-PS-012", alert_type::wet_well_high);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value->type, alert_type::wet_well_high);
}

}  // namespace
}  // namespace sewage::proto
