// The pump-station profile: the [pump_station] config (errors name the key) and the window
// statistics of the record's pump_station section (run time, starts, faults, level, mains).
#include "sewage/agent/config.hpp"
#include "sewage/agent/interval.hpp"
#include "sewage/agent/modbus_driver.hpp"
#include "sewage/agent/point.hpp"
#include "sewage/agent/pump_station.hpp"
#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <sstream>

namespace sewage::agent {
namespace {

using namespace std::chrono_literals;
using proto::quantity_status;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- window statistics

sample ok(quantity q, double v, std::uint8_t pump = 0) {
  sample s;
  s.what = q;
  s.value = v;
  s.index = pump;
  return s;
}
sample failed(quantity q, quantity_status st, std::string why, std::uint8_t pump = 0) {
  sample s;
  s.what = q;
  s.status = st;
  s.reason = std::move(why);
  s.index = pump;
  return s;
}

pump_station_config two_pumps(bool mains = true) {
  pump_station_config c;
  c.pump_ids = {"P1", "P2"};
  c.pump_current = {true, false};
  c.mains_monitored = mains;
  return c;
}

/// One poll of the station at `t`: level, both pumps' run/fault, P1 current, mains.
struct poll {
  double level_m{1.0};
  bool p1{false}, p2{false};
  bool f1{false}, f2{false};
  double i1_a{0.0};
  bool mains{true};
  std::vector<sample> samples() const {
    return {ok(quantity::wet_well_level, level_m),  ok(quantity::pump_running, p1 ? 1 : 0, 0),
            ok(quantity::pump_fault, f1 ? 1 : 0, 0), ok(quantity::station_pump_current, i1_a, 0),
            ok(quantity::pump_running, p2 ? 1 : 0, 1), ok(quantity::pump_fault, f2 ? 1 : 0, 1),
            ok(quantity::mains_power, mains ? 1 : 0)};
  }
};

proto::telemetry_record as_record(const proto::pump_station_reading& ps, std::uint32_t interval_s) {
  proto::telemetry_record r;
  r.terminal_id = "HY-PS-012";
  r.epoch = "0123456789abcdef";
  r.seq = 1;
  r.ts = proto::timestamp(std::chrono::seconds(1'800'000'000));
  r.interval_s = interval_s;
  r.pump_station = ps;
  return r;
}

TEST(PumpStationWindow, RunTimeStartsAndEndStateFromHeldReadings) {
  pump_station_window w(two_pumps());
  // Polls every 5 s from t = 0 to 55 s: P1 runs 10..30 s and 50..60 s; P2 never.
  for (int t = 0; t < 60; t += 5) {
    poll p;
    p.p1 = (t >= 10 && t < 30) || t >= 50;
    p.i1_a = p.p1 ? 12.0 : 0.3;  // a current read while stopped never counts
    p.level_m = 2.0 - t * 0.01;
    w.add(p.samples(), milliseconds(t * 1000));
  }
  const auto r = w.close(60s, 60);
  EXPECT_TRUE(proto::validate(as_record(r, 60)).empty());
  EXPECT_EQ(r.status, quantity_status::ok);
  ASSERT_EQ(r.pumps.size(), 2U);
  EXPECT_EQ(r.pumps[0].id, "P1");
  EXPECT_TRUE(r.pumps[0].running);
  EXPECT_EQ(r.pumps[0].run_s, 30U);  // 20 s + 10 s (the last reading held to the window's end)
  EXPECT_EQ(r.pumps[0].starts, 2U);  // the first reading after start is no start
  ASSERT_TRUE(r.pumps[0].current_a.has_value());
  EXPECT_DOUBLE_EQ(*r.pumps[0].current_a, 12.0);
  EXPECT_FALSE(r.pumps[1].running);
  EXPECT_EQ(r.pumps[1].run_s, 0U);
  EXPECT_EQ(r.pumps[1].starts, 0U);
  EXPECT_FALSE(r.pumps[1].current_a.has_value());  // no current point for P2
  // Level: the last good sample, min/max over the window.
  EXPECT_DOUBLE_EQ(*r.wet_well_level_m, 2.0 - 0.55);
  EXPECT_DOUBLE_EQ(*r.min_level_m, 2.0 - 0.55);
  EXPECT_DOUBLE_EQ(*r.max_level_m, 2.0);
  EXPECT_EQ(r.mains_power, true);
  EXPECT_EQ(r.power_lost_s, 0U);
  EXPECT_FALSE(r.reason.has_value());
}

TEST(PumpStationWindow, StateAndEdgesCarryAcrossTheWindowBoundary) {
  pump_station_window w(two_pumps());
  for (int t = 0; t < 60; t += 5) w.add(poll{.p1 = t >= 40}.samples(), milliseconds(t * 1000));
  const auto r1 = w.close(60s, 60);
  ASSERT_EQ(r1.pumps.size(), 2U);
  EXPECT_EQ(r1.pumps[0].run_s, 20U);
  EXPECT_EQ(r1.pumps[0].starts, 1U);
  // Still running from the window's start to 15 s (held), stops at 15 s, starts again at 45 s:
  // the on -> off -> on across readings counts one start in this window, none for the held state.
  for (int t = 60; t < 120; t += 5) w.add(poll{.p1 = t < 75 || t >= 105}.samples(), milliseconds(t * 1000));
  const auto r2 = w.close(120s, 60);
  ASSERT_EQ(r2.pumps.size(), 2U);
  EXPECT_EQ(r2.pumps[0].run_s, 15U + 15U);
  EXPECT_EQ(r2.pumps[0].starts, 1U);
  // An off -> on edge between the last reading of a window and the first of the next counts in
  // the next window, and the on time starts at that reading.
  pump_station_window e(two_pumps());
  e.add(poll{.p1 = false}.samples(), 0ms);
  e.add(poll{.p1 = false}.samples(), 55s);
  EXPECT_EQ(e.close(60s, 60).pumps[0].starts, 0U);
  e.add(poll{.p1 = true}.samples(), 65s);
  const auto r3 = e.close(120s, 60);
  EXPECT_EQ(r3.pumps[0].starts, 1U);
  EXPECT_EQ(r3.pumps[0].run_s, 55U);  // 65 .. 120 s: the off reading of 55 s held until 65 s
}

TEST(PumpStationWindow, RunTimeIsCappedAtTheIntervalAndLateSamplesAreClamped) {
  pump_station_window w(two_pumps());
  w.add(poll{.p1 = true}.samples(), 0ms);
  // The window measured 63 s by the held readings but the record says 60: run_s never exceeds it.
  const auto r = w.close(63s, 60);
  EXPECT_EQ(r.pumps[0].run_s, 60U);
  EXPECT_TRUE(proto::validate(as_record(r, 60)).empty());
  // A poll taken just before the close but added after it (posted to the executor late) is
  // counted from the new window's start, never as negative time.
  w.add(poll{.p1 = false}.samples(), 62s);
  w.add(poll{.p1 = false}.samples(), 100s);
  const auto r2 = w.close(123s, 60);
  EXPECT_EQ(r2.pumps[0].run_s, 0U);
  EXPECT_FALSE(r2.pumps[0].running);
}

TEST(PumpStationWindow, FaultInputAtTheEndOfTheWindow) {
  pump_station_window w(two_pumps());
  // P2 trips at 20 s and stays tripped; P1 trips at 10 s and is reset at 30 s.
  for (int t = 0; t < 60; t += 5) {
    w.add(poll{.f1 = t >= 10 && t < 30, .f2 = t >= 20}.samples(), milliseconds(t * 1000));
  }
  const auto r = w.close(60s, 60);
  ASSERT_EQ(r.pumps.size(), 2U);
  EXPECT_FALSE(r.pumps[0].fault);
  EXPECT_TRUE(r.pumps[1].fault);
  EXPECT_FALSE(r.pumps[1].running);
  EXPECT_TRUE(proto::validate(as_record(r, 60)).empty());
}

TEST(PumpStationWindow, FailedDigitalReadOmitsThePumpsNeverReportsNotRunning) {
  for (const auto st : {quantity_status::stale, quantity_status::fault}) {
    pump_station_window w(two_pumps());
    for (int t = 0; t < 60; t += 5) {
      auto s = poll{.p1 = true, .i1_a = 11.0}.samples();
      if (t == 30) s[1] = failed(quantity::pump_running, st, "unit 1: no answer: Connection timed out (1 timeouts)", 0);
      w.add(s, milliseconds(t * 1000));
    }
    const auto r = w.close(60s, 60);
    EXPECT_TRUE(r.pumps.empty()) << "a failed read must not become running=false";
    ASSERT_TRUE(r.reason.has_value());
    EXPECT_NE(r.reason->find("pump inputs not reported: P1 running: unit 1: no answer"), std::string::npos) << *r.reason;
    EXPECT_EQ(r.status, quantity_status::ok);  // the level still reads
    EXPECT_TRUE(r.wet_well_level_m.has_value());
    EXPECT_EQ(r.mains_power, true);  // mains read fine
    EXPECT_TRUE(proto::validate(as_record(r, 60)).empty());
    // The next window is complete again; the pump ran all along.
    for (int t = 60; t < 120; t += 5) w.add(poll{.p1 = true, .i1_a = 11.0}.samples(), milliseconds(t * 1000));
    const auto r2 = w.close(120s, 60);
    ASSERT_EQ(r2.pumps.size(), 2U);
    EXPECT_EQ(r2.pumps[0].run_s, 60U);
    EXPECT_EQ(r2.pumps[0].starts, 0U);
    EXPECT_FALSE(r2.reason.has_value());
  }
  // A failed fault input (of the other pump) omits the whole list too; so does a window with no
  // reading of the pump inputs at all.
  pump_station_window w(two_pumps());
  auto s = poll{}.samples();
  s[5] = failed(quantity::pump_fault, quantity_status::fault, "unit 1: exception response: Illegal data address", 1);
  w.add(s, 0ms);
  const auto r = w.close(60s, 60);
  EXPECT_TRUE(r.pumps.empty());
  EXPECT_NE(r.reason->find("P2 fault: unit 1: exception response"), std::string::npos) << *r.reason;
  w.add({ok(quantity::wet_well_level, 1.0), ok(quantity::mains_power, 1)}, 70s);
  const auto r2 = w.close(120s, 60);
  EXPECT_TRUE(r2.pumps.empty());
  EXPECT_NE(r2.reason->find("no reading of P1 running"), std::string::npos) << *r2.reason;
}

TEST(PumpStationWindow, StaleLevelKeepsThePumpsAndSaysWhy) {
  pump_station_window w(two_pumps());
  for (int t = 0; t < 60; t += 5) {
    auto s = poll{.p2 = true}.samples();
    // The level transmitter on another slave stops answering after 15 s.
    if (t >= 15) s[0] = failed(quantity::wet_well_level, quantity_status::stale, "slave 3: no answer: Connection timed out (9 timeouts)");
    w.add(s, milliseconds(t * 1000));
  }
  const auto r = w.close(60s, 60);
  EXPECT_EQ(r.status, quantity_status::stale);
  EXPECT_FALSE(r.wet_well_level_m.has_value());
  EXPECT_FALSE(r.min_level_m.has_value());
  ASSERT_TRUE(r.reason.has_value());
  EXPECT_NE(r.reason->find("level: slave 3: no answer"), std::string::npos);
  ASSERT_EQ(r.pumps.size(), 2U);
  EXPECT_EQ(r.pumps[1].run_s, 60U);
  EXPECT_TRUE(proto::validate(as_record(r, 60)).empty());
  // No level reading at all: stale as well.
  w.add({ok(quantity::pump_running, 0, 0)}, 70s);
  const auto r2 = w.close(120s, 60);
  EXPECT_EQ(r2.status, quantity_status::stale);
  EXPECT_NE(r2.reason->find("no reading of the wet-well level"), std::string::npos);
}

TEST(PumpStationWindow, LevelOutsideThePhysicalRangeIsOutOfRange) {
  pump_station_window w(two_pumps());
  for (int t = 0; t < 60; t += 5) w.add(poll{.level_m = t < 20 ? 1.0 : 25.0}.samples(), milliseconds(t * 1000));
  const auto r = w.close(60s, 60);
  EXPECT_EQ(r.status, quantity_status::out_of_range);
  EXPECT_FALSE(r.wet_well_level_m.has_value());
  EXPECT_NE(r.reason->find("outside the physical range"), std::string::npos);
  // The majority rule: a minority of bad samples keeps ok, the level is the last GOOD sample.
  for (int t = 60; t < 120; t += 5) w.add(poll{.level_m = t == 115 ? 25.0 : 1.5}.samples(), milliseconds(t * 1000));
  const auto r2 = w.close(120s, 60);
  EXPECT_EQ(r2.status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r2.wet_well_level_m, 1.5);
}

TEST(PumpStationWindow, PowerLostMidWindow) {
  pump_station_window w(two_pumps());
  // Mains lost from 20 s to 45 s; P1 trips off with it.
  for (int t = 0; t < 60; t += 5) {
    const bool mains = t < 20 || t >= 45;
    w.add(poll{.p1 = mains, .i1_a = 10.0, .mains = mains}.samples(), milliseconds(t * 1000));
  }
  const auto r = w.close(60s, 60);
  EXPECT_EQ(r.mains_power, true);
  EXPECT_EQ(r.power_lost_s, 25U);
  EXPECT_EQ(r.pumps[0].run_s, 35U);
  EXPECT_EQ(r.pumps[0].starts, 1U);
  // Lost at the end of the next window: mains_power false, counted to the end.
  for (int t = 60; t < 120; t += 5) w.add(poll{.mains = t < 100}.samples(), milliseconds(t * 1000));
  const auto r2 = w.close(120s, 60);
  EXPECT_EQ(r2.mains_power, false);
  EXPECT_EQ(r2.power_lost_s, 20U);
  EXPECT_TRUE(proto::validate(as_record(r2, 60)).empty());
  // A failed mains read omits mains_power and power_lost_s (not "present", not "lost").
  auto s = poll{}.samples();
  s[6] = failed(quantity::mains_power, quantity_status::stale, "unit 1: no answer: Connection refused");
  w.add(s, 130s);
  const auto r3 = w.close(180s, 60);
  EXPECT_FALSE(r3.mains_power.has_value());
  EXPECT_FALSE(r3.power_lost_s.has_value());
  EXPECT_NE(r3.reason->find("mains input not reported: mains: unit 1: no answer"), std::string::npos) << *r3.reason;
  EXPECT_EQ(r3.pumps.size(), 2U);
}

TEST(PumpStationWindow, MainsNotMonitoredLeavesTheFieldsOut) {
  pump_station_window w(two_pumps(false));
  w.add(poll{}.samples(), 0ms);
  const auto r = w.close(60s, 60);
  EXPECT_FALSE(r.mains_power.has_value());
  EXPECT_FALSE(r.power_lost_s.has_value());
  EXPECT_FALSE(r.reason.has_value());
}

TEST(PumpStationWindow, CurrentFailureWhileRunningIsNamedAndOmitted) {
  pump_station_window w(two_pumps());
  auto s = poll{.p1 = true}.samples();
  s[3] = failed(quantity::station_pump_current, quantity_status::out_of_range, "1200 outside [0, 100]", 0);
  w.add(s, 0ms);
  const auto r = w.close(60s, 60);
  ASSERT_EQ(r.pumps.size(), 2U);
  EXPECT_FALSE(r.pumps[0].current_a.has_value());
  EXPECT_NE(r.reason->find("P1 current: 1200 outside"), std::string::npos);
}

// ---------------------------------------------------------------- through the interval builder

const char* kStation = R"(
terminal_id = "HY-PS-012"
[mqtt]
uri = "ssl://127.0.0.1:8883"
[[device]]
name = "io"
driver = "modbus"
transport = "tcp"
host = "127.0.0.1"
[[device]]
name = "level"
driver = "modbus"
transport = "tcp"
host = "127.0.0.1"
unit_id = 3
[[device.point]]
quantity = "turbidity"
address = 0
[pump_station]
device = "io"
level = {device = "level", function = "input", address = 0, scale = 0.001, min = 0.0, max = 6.0}
mains_power = {function = "holding", address = 0x11, bit = 0, invert = true}
[[pump_station.pump]]
id = "P1"
running = {function = "discrete_input", address = 0}
fault = {function = "discrete_input", address = 1}
current = {function = "input", address = 1, scale = 0.1}
[[pump_station.pump]]
id = "P2"
running = {function = "holding", address = 0x10, bit = 2}
fault = {function = "holding", address = 0x10, bit = 3}
)";

TEST(PumpStationConfig, PointsGoToTheirDevicesWithPumpIndexes) {
  const auto c = parse_config(kStation);
  ASSERT_TRUE(c.pump_station.has_value());
  EXPECT_EQ(c.pump_station->pump_ids, (std::vector<std::string>{"P1", "P2"}));
  EXPECT_EQ(c.pump_station->pump_current, (std::vector<bool>{true, false}));
  EXPECT_TRUE(c.pump_station->mains_monitored);
  const auto io = parse_modbus_device(c.devices[0]);
  ASSERT_EQ(io.points.size(), 6U);  // mains, P1 run/fault/current, P2 run/fault
  EXPECT_EQ(io.points[0].what, quantity::mains_power);
  EXPECT_EQ(io.points[0].spec.bit, 0);
  EXPECT_TRUE(io.points[0].spec.invert);
  EXPECT_EQ(io.points[4].what, quantity::pump_running);
  EXPECT_EQ(io.points[4].pump, 1);
  EXPECT_EQ(io.points[4].spec.bit, 2);
  const auto level = parse_modbus_device(c.devices[1]);
  ASSERT_EQ(level.points.size(), 2U);  // its own turbidity point + the level
  EXPECT_EQ(level.points[1].what, quantity::wet_well_level);
  EXPECT_EQ(level.points[1].spec.kind, register_kind::input);
  EXPECT_EQ(*level.points[1].spec.max, 6.0);
  const auto fitted = fitted_quantities(c);
  EXPECT_EQ(fitted.count(quantity::pump_running), 1U);
  // The two P2 bits share one request with each other (same status word).
  const auto plan = modbus_driver::plan_reads(io.points);
  std::size_t word_reads = 0;
  for (const auto& g : plan) word_reads += g.kind == register_kind::holding ? 1 : 0;
  EXPECT_EQ(word_reads, 1U);
  // get_config shows the profile.
  EXPECT_EQ(describe_config(c)["pump_station"]["pumps"].size(), 2U);
}

TEST(PumpStationConfig, BuilderFillsAValidSectionOnlyForAStation) {
  const auto c = parse_config(kStation);
  interval_builder b(c, fitted_quantities(c));
  const proto::timestamp t0{std::chrono::seconds(1'000)};
  b.add({ok(quantity::wet_well_level, 1.25), ok(quantity::pump_running, 1, 0), ok(quantity::pump_fault, 0, 0),
         ok(quantity::station_pump_current, 9.5, 0), ok(quantity::pump_running, 0, 1), ok(quantity::pump_fault, 1, 1),
         ok(quantity::mains_power, 1)},
        t0);
  auto r = b.close(proto::timestamp(std::chrono::seconds(1'800'000'000)), 60, t0 + 60s);
  r.terminal_id = "HY-PS-012";
  r.epoch = "0123456789abcdef";
  r.seq = 1;
  ASSERT_TRUE(r.pump_station.has_value());
  EXPECT_TRUE(proto::validate(r).empty());
  EXPECT_EQ(r.pump_station->pumps[0].run_s, 60U);  // measured on the monotonic base, not ts
  EXPECT_TRUE(r.pump_station->pumps[1].fault);
  const auto decoded = proto::decode_telemetry(proto::encode(r));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value->pump_station, r.pump_station);
  // A terminal's config: no section.
  const auto t = parse_config("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n");
  interval_builder bt(t, {});
  EXPECT_FALSE(bt.close(t0, 60).pump_station.has_value());
}

TEST(PumpStationConfig, ShippedExampleIsValidAndDeployable) {
  std::ifstream in(SEWAGE_PUMP_STATION_EXAMPLE_CONFIG);
  ASSERT_TRUE(in) << SEWAGE_PUMP_STATION_EXAMPLE_CONFIG;
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parse_config(ss.str());
  c.queue.path = std::filesystem::temp_directory_path() / "q.db";
  c.mqtt.ca_file.clear();
  check_deployable(c);
  ASSERT_TRUE(c.pump_station.has_value());
  EXPECT_EQ(c.pump_station->pump_ids.size(), 2U);
  const auto io = parse_modbus_device(c.devices[0]);
  EXPECT_EQ(io.points.size(), 1U + 1U + 3U + 3U);
}

/// Each bad [pump_station] names its key and the reason.
TEST(PumpStationConfig, ErrorsNameTheKeyAndTheReason) {
  const std::string head = R"(
terminal_id = "HY-PS-012"
[mqtt]
uri = "ssl://127.0.0.1:8883"
[[device]]
name = "io"
driver = "modbus"
transport = "tcp"
host = "127.0.0.1"
[[device]]
name = "sim"
driver = "simulated"
)";
  const std::string level = "level = {function = \"input\", address = 0, scale = 0.001}\n";
  const std::string pump = "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"discrete_input\", address = 0}\n"
                           "fault = {function = \"discrete_input\", address = 1}\n";
  struct bad {
    std::string body;
    std::string key;
    std::string reason;
  };
  const std::vector<bad> cases{
      {"[pump_station]\ndevice = \"io\"\n" + pump, "pump_station.level", "is required"},
      {"[pump_station]\ndevice = \"io\"\n" + level, "pump_station.pump", "1..8 [[pump_station.pump]] tables are required, got 0"},
      {"[pump_station]\ndevice = \"io\"\n" + level + pump + pump, "pump_station.pump[1].id", "duplicate pump id 'P1'"},
      {"[pump_station]\ndevice = \"io\"\n" + level + "[[pump_station.pump]]\nid = \"P 1\"\n", "pump_station.pump[0].id",
       "must match"},
      {"[pump_station]\ndevice = \"io\"\n" + level + "[[pump_station.pump]]\nid = \"P1\"\nfault = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].running", "is required (the pump's run feedback input)"},
      {"[pump_station]\ndevice = \"io\"\n" + level + "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].fault", "is required"},
      {"[pump_station]\ndevice = \"io\"\n" + level +
           "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"holding\", address = 16}\nfault = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].running.bit", "is required for a holding or input register"},
      {"[pump_station]\ndevice = \"io\"\nlevel = {function = \"discrete_input\", address = 0}\n" + pump,
       "pump_station.level.function", "must be holding or input"},
      {"[pump_station]\ndevice = \"nope\"\n" + level + pump, "pump_station.device", "no [[device]] named 'nope'"},
      {"[pump_station]\n" + level + pump, "pump_station.level.device", "is required"},
      {"[pump_station]\ndevice = \"sim\"\n" + level + pump, "pump_station.device", "pump-station points are read by a modbus device"},
      {"[pump_station]\ndevice = \"io\"\nlevel = {function = \"input\", address = 0, bit = 3}\n" + pump, "pump_station.level.bit",
       "unknown key"},
      {"[pump_station]\ndevice = \"io\"\n" + level + pump + "current = {function = \"input\", address = 2, invert = true}\n",
       "pump_station.pump[0].current.invert", "unknown key"},
      {"[pump_station]\ndevice = \"io\"\n" + level +
           "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"holding\", address = 16, type = \"u32\", bit = 1}\n"
           "fault = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].running.bit", "needs type = \"u16\""},
      {"[pump_station]\ndevice = \"io\"\n" + level +
           "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"coil\", address = 0, bit = 1}\nfault = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].running.bit", "only for a holding or input register"},
      {"[pump_station]\ndevice = \"io\"\n" + level +
           "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"holding\", address = 16, bit = 16}\nfault = {function = \"coil\", address = 1}\n",
       "pump_station.pump[0].running.bit", "must be an integer in [0, 15], got 16"},
      {"[pump_station]\ndevice = \"io\"\nlevel = {function = \"input\", address = 70000}\n" + pump, "pump_station.level.address",
       "must be an integer in [0, 65535]"},
      {"[pump_station]\ndevice = \"io\"\nspare = 1\n" + level + pump, "pump_station.spare", "unknown key"},
      {"[pump_station]\ndevice = \"io\"\n" + level + "mains_power = 16\n" + pump, "pump_station.mains_power", "must be a table"},
      {"[pump_station]\ndevice = \"io\"\n" + level + "[[pump_station.pump]]\nid = \"P1\"\nrunning = {function = \"coil\", address = 0}\n"
           "fault = {function = \"coil\", address = 1}\nspeed = 3\n",
       "pump_station.pump[0].speed", "unknown key"},
  };
  for (const auto& b : cases) {
    try {
      (void)parse_config(head + b.body);
      ADD_FAILURE() << "accepted: " << b.body;
    } catch (const config_error& e) {
      EXPECT_EQ(e.key(), b.key) << e.what();
      EXPECT_NE(std::string(e.what()).find(b.reason), std::string::npos) << e.what();
    }
  }
  try {
    (void)parse_config("pump_station = 3\n" + head);
    ADD_FAILURE() << "pump_station = 3 accepted";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), "pump_station");
    EXPECT_NE(std::string(e.what()).find("must be a table"), std::string::npos);
  }
  // Nine pumps.
  std::string nine = "[pump_station]\ndevice = \"io\"\n" + level;
  for (int i = 0; i < 9; ++i) {
    nine += "[[pump_station.pump]]\nid = \"P" + std::to_string(i) + "\"\nrunning = {function = \"coil\", address = " +
            std::to_string(2 * i) + "}\nfault = {function = \"coil\", address = " + std::to_string(2 * i + 1) + "}\n";
  }
  try {
    (void)parse_config(head + nine);
    ADD_FAILURE() << "nine pumps accepted";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), "pump_station.pump");
    EXPECT_NE(std::string(e.what()).find("got 9"), std::string::npos);
  }
}

TEST(PumpStationConfig, StationQuantitiesAreNotDevicePoints) {
  for (const std::string driver : {"modbus", "simulated"}) {
    const std::string text = "terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n[[device]]\nname = \"d\"\ndriver = \"" +
                             driver + "\"\ntransport = \"tcp\"\nhost = \"h\"\n"
                             "[[device.point]]\nquantity = \"turbidity\"\naddress = 1\n"
                             "[[device.point]]\nquantity = \"pump_running\"\naddress = 0\nfunction = \"coil\"\n";
    try {
      (void)parse_config(text);
      ADD_FAILURE() << "accepted for " << driver;
    } catch (const config_error& e) {
      EXPECT_EQ(e.key(), "device[0].point[1].quantity");
      EXPECT_NE(std::string(e.what()).find("declared in the [pump_station] table"), std::string::npos) << e.what();
    }
  }
  try {
    (void)parse_config("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n[[device]]\nname = \"d\"\ndriver = \"modbus\"\n"
                       "[[device.point]]\nquantity = \"turbidity\"\naddress = 1\npump = 1\n");
    ADD_FAILURE() << "pump key accepted";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), "device[0].point[0].pump");
  }
}

// ---------------------------------------------------------------- bits and inversion

TEST(PumpStationPoints, BitsOfAStatusWordAndInvertedInputs) {
  point_spec s;
  s.kind = register_kind::holding;
  s.bit = 3;
  const std::array<std::uint16_t, 1> word{0x0008};
  EXPECT_EQ(decode_point(s, word).value, 1.0);
  s.bit = 2;
  EXPECT_EQ(decode_point(s, word).value, 0.0);
  s.invert = true;
  EXPECT_EQ(decode_point(s, word).value, 1.0);
  // A bit ignores sentinels and the range: 0xFFFF is a word with every bit set.
  s.bit = 15;
  s.invert = false;
  s.sentinels = {0xFFFF};
  const std::array<std::uint16_t, 1> all{0xFFFF};
  EXPECT_EQ(decode_point(s, all).status, quantity_status::ok);
  EXPECT_EQ(decode_point(s, all).value, 1.0);
  // Byte order applies before the bit: BADC swaps the bytes of the word.
  point_spec b;
  b.kind = register_kind::input;
  b.bit = 8;
  b.order = word_order::badc;
  const std::array<std::uint16_t, 1> low{0x0001};
  EXPECT_EQ(decode_point(b, low).value, 1.0);
  point_spec di;
  di.kind = register_kind::discrete_input;
  di.invert = true;
  const std::array<std::uint16_t, 1> on{1};
  EXPECT_EQ(decode_point(di, on).value, 0.0);
}

}  // namespace
}  // namespace sewage::agent
