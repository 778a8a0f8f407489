// Several instruments on one RS-485 line (issue 9, section 9): a socat pty pair, the multi-slave
// RTU bus emulator on one end, and modbus drivers built from [[device]] tables exactly as the
// agent builds them, polled from one thread per device (as the agent's device pollers do).
#include "sewage/agent/config.hpp"
#include "sewage/agent/modbus_driver.hpp"
#include "sewage/instruments/rtu_bus.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/topic.hpp"
#include "sewage/testing/mosquitto.hpp"
#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>
#include <modbus.h>
#include <mqtt/async_client.h>

#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace sewage::agent {
namespace {

using namespace std::chrono_literals;
using proto::quantity_status;

/// socat linking two ptys: the emulator opens `bus_end`, the agent's drivers open `agent_end`.
struct pty_pair {
  testing::temp_dir dir{"rtu-bus"};
  std::filesystem::path bus_end = dir.path() / "ttyBus";
  std::filesystem::path agent_end = dir.path() / "ttyAgent";
  testing::child_process socat{{"socat", "pty,raw,echo=0,link=" + bus_end.string(),
                                "pty,raw,echo=0,link=" + agent_end.string()},
                               dir.path() / "socat.log"};
  pty_pair() {
    for (int i = 0; i < 100 && !(std::filesystem::exists(bus_end) && std::filesystem::exists(agent_end)); ++i) {
      std::this_thread::sleep_for(50ms);
    }
  }
  [[nodiscard]] bool ready() const { return std::filesystem::exists(bus_end) && std::filesystem::exists(agent_end); }
};

/// The usual cabinet: flowmeter slave 1, turbidity probe slave 2, level sensor slave 3.
void add_cabinet(instruments::rtu_bus_emulator& bus) {
  bus.add_slave(1, instruments::register_layout{{}, {}, {0x1000, 0x40}, {}});
  bus.add_slave(2, instruments::register_layout{{}, {}, {0x2600, 5}, {}});
  bus.add_slave(3, instruments::register_layout{{}, {}, {0x0000, 0x0B}, {}});
  bus.set_holding(1, 0x1010, instruments::float_registers(2.5F, instruments::order::cdab));
  auto total = instruments::u32_registers(1234, instruments::order::cdab);
  const auto frac = instruments::float_registers(0.5F, instruments::order::cdab);
  total.insert(total.end(), frac.begin(), frac.end());
  bus.set_holding(1, 0x1018, total);
  bus.set_holding(2, 0x2602, instruments::float_registers(4.0F, instruments::order::dcba));
  const std::uint16_t distance[] = {1800};
  bus.set_holding(3, 0x0005, distance);
}

/// [[device]] tables of the cabinet on `tty` at `baud`, plus `extra` appended verbatim. The
/// response timeout is generous so that a loaded test machine never makes a healthy slave late.
std::string cabinet_config(const std::string& tty, int baud, const std::string& extra = "", int timeout_ms = 500) {
  std::ostringstream o;
  o << "terminal_id = \"T1\"\n[mqtt]\nuri = \"tcp://127.0.0.1:1883\"\nallow_plaintext = true\n";
  const auto rtu = [&](const char* name, int slave) {
    o << "[[device]]\nname = \"" << name << "\"\ndriver = \"modbus\"\ntransport = \"rtu\"\nserial_device = \"" << tty
      << "\"\nbaud = " << baud << "\nslave_id = " << slave << "\nresponse_timeout_ms = " << timeout_ms
      << "\nretries = 0\n";
  };
  rtu("flowmeter", 1);
  o << "[[device.point]]\nquantity = \"flow_rate\"\naddress = 0x1010\ntype = \"f32\"\nword_order = \"CDAB\"\n"
    << "[[device.point]]\nquantity = \"flow_total_int\"\naddress = 0x1018\ntype = \"u32\"\nword_order = \"CDAB\"\n"
    << "[[device.point]]\nquantity = \"flow_total_frac\"\naddress = 0x101A\ntype = \"f32\"\nword_order = \"CDAB\"\n";
  rtu("turbidity", 2);
  o << "[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\nword_order = \"DCBA\"\n";
  rtu("level", 3);
  o << "[[device.point]]\nquantity = \"sludge_level\"\naddress = 0x0005\ntype = \"u16\"\nscale = -0.001\n"
    << "offset = 3.0\n";
  o << extra;
  return o.str();
}

/// What the pollers saw per device.
struct device_tally {
  int polls{0};
  int failed_polls{0};  ///< polls with at least one sample not ok
  int flaps{0};         ///< ok -> not ok transitions between consecutive polls
  std::map<std::string, int> reasons;
  std::string last_reason;
};

/// Polls every driver from its own thread every `interval` for `duration` (like the agent).
std::map<std::string, device_tally> poll_concurrently(std::vector<std::unique_ptr<sensor_driver>>& drivers,
                                                       std::chrono::milliseconds interval,
                                                       std::chrono::milliseconds duration) {
  std::mutex m;
  std::map<std::string, device_tally> out;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (auto& d : drivers) {
    threads.emplace_back([&, drv = d.get()] {
      bool was_ok = true;
      auto next = start;
      while (std::chrono::steady_clock::now() - start < duration) {
        const auto samples = drv->read({});
        bool ok = true;
        std::string why;
        for (const auto& s : samples) {
          if (s.status != quantity_status::ok) {
            ok = false;
            why = s.reason;
          }
        }
        {
          std::lock_guard lock(m);
          auto& t = out[drv->name()];
          ++t.polls;
          if (!ok) {
            ++t.failed_polls;
            ++t.reasons[why];
            t.last_reason = why;
            if (was_ok) ++t.flaps;
          }
        }
        was_ok = ok;
        next += interval;
        std::this_thread::sleep_until(next);
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

std::string describe(const std::map<std::string, device_tally>& tallies) {
  std::ostringstream o;
  for (const auto& [name, t] : tallies) {
    o << name << ": " << t.polls << " polls, " << t.failed_polls << " failed, " << t.flaps << " flaps\n";
    for (const auto& [why, n] : t.reasons) o << "    " << n << " x " << why << "\n";
  }
  return o.str();
}

int count_reason(const device_tally& t, const std::string& needle) {
  int n = 0;
  for (const auto& [why, k] : t.reasons) {
    if (why.find(needle) != std::string::npos) n += k;
  }
  return n;
}

/// The agent's way: one registry of buses, the modbus factory, one driver per [[device]].
struct agent_drivers {
  modbus_bus_registry buses;
  std::vector<std::unique_ptr<sensor_driver>> drivers;
  explicit agent_drivers(const agent_config& c) : buses(c.serial_lines) {
    const auto f = modbus_driver::factory(buses);
    for (const auto& d : c.devices) drivers.push_back(f(d));
  }
};

TEST(SharedBus, ThreeSlavesOnOneLineStayOk) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1});
  add_cabinet(bus);
  const auto config = parse_config(cabinet_config(pty.agent_end.string(), 115200));
  agent_drivers a(config);
  const auto tallies = poll_concurrently(a.drivers, 100ms, 6s);
  const auto st = bus.stats();
  std::cout << describe(tallies) << "bus: " << st.frames << " frames, " << st.bad_frames << " bad, "
            << st.gaps_below_required << " of " << st.gaps_measured << " gaps below 1.75 ms, min gap "
            << st.min_gap.count() << " us\n";
  for (const auto& [name, t] : tallies) {
    EXPECT_GT(t.polls, 30) << name;
    EXPECT_EQ(t.failed_polls, 0) << name << "\n" << describe(tallies);
    EXPECT_EQ(count_reason(t, "not from requested slave"), 0) << name;
  }
  EXPECT_EQ(st.bad_frames, 0U);
  EXPECT_EQ(st.gaps_below_required, 0U);
  EXPECT_GE(st.min_gap, 1750us);
  for (int id = 1; id <= 3; ++id) {
    EXPECT_EQ(bus.requests(id), bus.replies(id)) << id;
    const auto c = dynamic_cast<modbus_driver&>(*a.drivers[0]).bus()->counters(id);
    EXPECT_EQ(c.errors(), 0U) << id;
    EXPECT_GT(c.requests, 30U) << id;
  }
}

TEST(SharedBus, ASilentFourthSlaveShowsItsOwnErrorsAndLeavesTheOthersOk) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1});
  add_cabinet(bus);
  // Slave 4 (a second probe) is wired but never answers: every request to it times out.
  const std::string fourth =
      "[[device]]\nname = \"probe4\"\ndriver = \"modbus\"\ntransport = \"rtu\"\nserial_device = \"" +
      pty.agent_end.string() +
      "\"\nbaud = 115200\nslave_id = 4\nresponse_timeout_ms = 100\nretries = 1\n"
      "[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\n";
  const auto config = parse_config(cabinet_config(pty.agent_end.string(), 115200, fourth));
  agent_drivers a(config);
  const auto tallies = poll_concurrently(a.drivers, 200ms, 5s);
  const auto st = bus.stats();
  std::cout << describe(tallies) << "bus: " << st.frames << " frames, " << st.bad_frames << " bad, "
            << st.unknown_slave << " for slave 4, min gap " << st.min_gap.count() << " us\n";
  for (const char* name : {"flowmeter", "turbidity", "level"}) {
    const auto& t = tallies.at(name);
    EXPECT_GT(t.polls, 5) << name;
    EXPECT_EQ(t.failed_polls, 0) << name << "\n" << describe(tallies);
  }
  const auto& p4 = tallies.at("probe4");
  EXPECT_EQ(p4.failed_polls, p4.polls);
  EXPECT_GT(p4.polls, 5);
  // Its own counters, in its own reason; the others' counters stay clean.
  const auto& line = *dynamic_cast<modbus_driver&>(*a.drivers[3]).bus();
  const auto c4 = line.counters(4);
  EXPECT_EQ(c4.timeouts, c4.requests);
  EXPECT_GE(c4.timeouts, 2U * static_cast<unsigned>(p4.polls) - 2);  // retries = 1
  EXPECT_EQ(p4.last_reason.rfind("slave 4: no answer: Connection timed out (", 0), 0U) << p4.last_reason;
  EXPECT_NE(p4.last_reason.find(" timeouts)"), std::string::npos) << p4.last_reason;
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(line.counters(id).errors(), 0U) << id;
  EXPECT_EQ(st.bad_frames, 0U);
  EXPECT_EQ(st.gaps_below_required, 0U);
}

TEST(SharedBus, ALateReplyIsNeverTakenForAnotherSlavesAnswer) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1});
  add_cabinet(bus);
  // The turbidity probe answers 300 ms after each request, the timeout is 200 ms: every answer
  // arrives after the master gave up, while it could already be talking to slave 3.
  bus.set_reply_delay(2, 300ms);
  const auto config = parse_config(cabinet_config(pty.agent_end.string(), 115200, "", 200));
  agent_drivers a(config);
  const auto tallies = poll_concurrently(a.drivers, 100ms, 4s);
  std::cout << describe(tallies);
  EXPECT_EQ(tallies.at("flowmeter").failed_polls, 0) << describe(tallies);
  EXPECT_EQ(tallies.at("level").failed_polls, 0) << describe(tallies);
  const auto& t = tallies.at("turbidity");
  EXPECT_EQ(t.failed_polls, t.polls);
  for (const auto& [name, tally] : tallies) EXPECT_EQ(count_reason(tally, "not from requested slave"), 0) << name;
  const auto& line = *dynamic_cast<modbus_driver&>(*a.drivers[0]).bus();
  const auto c2 = line.counters(2);
  EXPECT_EQ(c2.timeouts, c2.requests);
  EXPECT_GT(c2.late_replies, 0U);  // seen and discarded
  EXPECT_EQ(c2.bad_frames, 0U);
  EXPECT_NE(t.last_reason.find("late repl"), std::string::npos) << t.last_reason;
  for (int id : {1, 3}) EXPECT_EQ(line.counters(id).errors(), 0U) << id;
  EXPECT_EQ(bus.stats().bad_frames, 0U);

  // The probe recovers: once it answers in time, its values are ok again on the same line.
  bus.set_reply_delay(2, 0ms);
  std::this_thread::sleep_for(500ms);  // the last late reply has been discarded
  const auto s = a.drivers[1]->read({});
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].status, quantity_status::ok) << s[0].reason;
  EXPECT_EQ(s[0].value, 4.0);
}

/// A master of our own making on the agent's end of the line: libmodbus, raw requests.
struct raw_master {
  modbus_t* ctx;
  explicit raw_master(const std::string& tty) : ctx(modbus_new_rtu(tty.c_str(), 115200, 'N', 8, 1)) {}
  ~raw_master() {
    modbus_close(ctx);
    modbus_free(ctx);
  }
  /// Sends "read 2 holding registers at `address`" to `slave` without waiting for the answer.
  bool send(int slave, int address) {
    const std::uint8_t req[] = {static_cast<std::uint8_t>(slave), 0x03, static_cast<std::uint8_t>(address >> 8),
                                static_cast<std::uint8_t>(address & 0xFF), 0x00, 0x02};
    // The context's slave id must match: libmodbus ignores an RTU answer from another id.
    return modbus_set_slave(ctx, slave) == 0 && modbus_send_raw_request(ctx, req, sizeof req) > 0;
  }
};

TEST(SharedBus, TheEmulatorCountsAMasterTalkingOverASlowSlaveButNotOneThatWaits) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1});
  add_cabinet(bus);
  bus.set_reply_delay(2, 300ms);
  raw_master m(pty.agent_end.string());
  ASSERT_EQ(modbus_connect(m.ctx), 0) << modbus_strerror(errno);
  // Polite: waits for the slow answer, then the required 1.75 ms (and a little), then asks slave 1.
  ASSERT_TRUE(m.send(2, 0x2602));
  modbus_set_response_timeout(m.ctx, 2, 0);
  std::uint8_t reply[MODBUS_RTU_MAX_ADU_LENGTH];
  ASSERT_GT(modbus_receive_confirmation(m.ctx, reply), 0) << modbus_strerror(errno);
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(m.send(1, 0x1010));
  ASSERT_GT(modbus_receive_confirmation(m.ctx, reply), 0) << modbus_strerror(errno);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(bus.stats().gaps_below_required, 0U) << "min gap " << bus.stats().min_gap.count() << " us";
  // Rude: asks slave 1 while slave 2 is still preparing its answer; that frame has no gap.
  ASSERT_TRUE(m.send(2, 0x2602));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(m.send(1, 0x1010));
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(bus.stats().gaps_below_required, 1U);
  EXPECT_EQ(bus.stats().min_gap, 0us);
  EXPECT_EQ(bus.requests(1), 2U);
  EXPECT_EQ(bus.requests(2), 2U);
}

TEST(SharedBus, ExtraDelaysOfLineAndSlaveAreKept) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  // 1.75 ms + 5 ms per line + 10 ms before each request to slave 3.
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1}, 6750us);
  add_cabinet(bus);
  std::string text = cabinet_config(pty.agent_end.string(), 115200,
                                    "[[serial_line]]\nserial_device = \"" + pty.agent_end.string() +
                                        "\"\nextra_delay_ms = 5\n");
  const std::string level_keys = "slave_id = 3\n";
  text.replace(text.find(level_keys), level_keys.size(), "slave_id = 3\nextra_delay_ms = 10\n");
  const auto config = parse_config(text);
  agent_drivers a(config);
  const auto tallies = poll_concurrently(a.drivers, 100ms, 3s);
  const auto st = bus.stats();
  for (const auto& [name, t] : tallies) EXPECT_EQ(t.failed_polls, 0) << name << "\n" << describe(tallies);
  EXPECT_GT(st.gaps_measured, 30U);
  EXPECT_EQ(st.gaps_below_required, 0U) << "min gap " << st.min_gap.count() << " us";
  EXPECT_GE(st.min_gap, 6750us);
}


// ---- the real sewage-agent process on a shared line -------------------------------------------

namespace process_level {

/// Telemetry records of terminal T1, decoded, in arrival order.
class telemetry_collector {
 public:
  explicit telemetry_collector(const std::string& uri) : client_(uri, "shared-bus-test", mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      auto d = proto::decode_telemetry(m->to_string(), "T1");
      std::lock_guard lock(mutex_);
      if (d.ok()) records_.push_back(*d.value);
    });
    client_.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())
        ->wait_for(10s);
    client_.subscribe(proto::telemetry_topic("T1"), 1)->wait_for(10s);
  }
  ~telemetry_collector() {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (...) {
    }
  }
  std::vector<proto::telemetry_record> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }
  bool wait(const std::function<bool(const std::vector<proto::telemetry_record>&)>& pred, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(records())) return true;
      std::this_thread::sleep_for(100ms);
    }
    return pred(records());
  }

 private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::vector<proto::telemetry_record> records_;
};

std::string agent_config_text(const std::string& broker_uri, const std::filesystem::path& queue, const std::string& tty,
                              int baud) {
  // 300 ms timeouts: a dead slave then takes ~0.6 s of bus time per poll (timeout + recovery
  // window), which leaves the others several polls in every 2 s report interval.
  std::string devices = cabinet_config(tty, baud, "", 300);
  devices = devices.substr(devices.find("[[device]]"));  // drop the header written for unit tests
  return "terminal_id = \"T1\"\nlog_level = \"info\"\npoll_interval_s = 0.2\nreport_interval_s = 2\n"
         "stuck_after_polls = 0\n"  // the emulated values never change
         "[mqtt]\nuri = \"" + broker_uri + "\"\nallow_plaintext = true\nkeep_alive_s = 5\n[queue]\npath = \"" + queue.string() + "\"\n" + devices;
}

TEST(SharedBusAgent, ThreeInstrumentsOnOneLineReportOkThenOneSlaveFailsAlone) {
  pty_pair pty;
  ASSERT_TRUE(pty.ready()) << pty.socat.log();
  instruments::rtu_bus_emulator bus({pty.bus_end.string(), 115200, 'N', 8, 1});
  add_cabinet(bus);
  testing::mosquitto_broker broker(pty.dir.path() / "broker");
  telemetry_collector sub(broker.uri());
  const auto config = pty.dir.path() / "agent.toml";
  std::ofstream(config) << agent_config_text(broker.uri(), pty.dir.path() / "queue.db", pty.agent_end.string(), 115200);
  testing::child_process agent({SEWAGE_AGENT_BIN, "--config", config.string()}, pty.dir.path() / "agent.log");

  // Every quantity of every record stays ok (the first window may close before every device's
  // first poll, so it is not judged).
  ASSERT_TRUE(sub.wait([](const auto& r) { return r.size() >= 7; }, 40s)) << agent.log();
  const auto recs = sub.records();
  int judged = 0;
  for (std::size_t i = 1; i < recs.size(); ++i) {
    const auto& r = recs[i];
    ASSERT_TRUE(r.flow && r.turbidity && r.sludge);
    EXPECT_EQ(r.flow->status, quantity_status::ok) << "seq " << r.seq << ": " << r.flow->reason.value_or("");
    EXPECT_EQ(r.turbidity->status, quantity_status::ok) << "seq " << r.seq << ": " << r.turbidity->reason.value_or("");
    EXPECT_EQ(r.sludge->status, quantity_status::ok) << "seq " << r.seq << ": " << r.sludge->reason.value_or("");
    EXPECT_DOUBLE_EQ(r.flow->rate_m3h.value_or(0), 2.5);
    EXPECT_DOUBLE_EQ(r.turbidity->ntu.value_or(0), 4.0);
    ++judged;
  }
  EXPECT_GE(judged, 6);
  EXPECT_EQ(bus.stats().bad_frames, 0U);
  EXPECT_EQ(bus.stats().gaps_below_required, 0U);
  EXPECT_EQ(agent.log().find("not from requested slave"), std::string::npos);

  // The level sensor dies: its quantity goes stale with its own counters; the others stay ok.
  bus.set_behaviour(3, instruments::behaviour::silent);
  const std::size_t before = sub.records().size();
  ASSERT_TRUE(sub.wait([&](const auto& r) { return r.size() >= before + 4; }, 30s)) << agent.log();
  const auto after = sub.records();
  const auto& last = after.back();
  EXPECT_EQ(last.sludge->status, quantity_status::stale);
  const std::string why = last.sludge->reason.value_or("");
  EXPECT_EQ(why.rfind("slave 3: no answer: Connection timed out (", 0), 0U) << why;
  EXPECT_NE(why.find(" timeouts)"), std::string::npos) << why;
  for (std::size_t i = before; i < after.size(); ++i) {
    EXPECT_EQ(after[i].flow->status, quantity_status::ok) << after[i].flow->reason.value_or("");
    EXPECT_EQ(after[i].turbidity->status, quantity_status::ok) << after[i].turbidity->reason.value_or("");
  }
  agent.stop();
}

TEST(SharedBusAgent, CheckConfigRefusesOneLineWithTwoBaudRates) {
  testing::temp_dir dir("shared-bus-check");
  std::string text = agent_config_text("tcp://127.0.0.1:1883", dir.path() / "queue.db", "/dev/ttyS1", 9600);
  const std::string second = "slave_id = 2\n";
  const auto at = text.find(second);
  ASSERT_NE(at, std::string::npos);
  const auto baud_at = text.rfind("baud = 9600", at);
  text.replace(baud_at, std::string("baud = 9600").size(), "baud = 19200");
  std::ofstream(dir.path() / "a.toml") << text;
  testing::child_process check({SEWAGE_AGENT_BIN, "--config", (dir.path() / "a.toml").string(), "--check-config"},
                               dir.path() / "check.log");
  const auto st = check.wait_for_exit(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 1) << check.log();
  const std::string log = check.log();
  EXPECT_NE(log.find("device[1].baud: serial line /dev/ttyS1 is opened by device 'flowmeter' (device[0]) with baud "
                     "9600 and by device 'turbidity' (device[1]) with baud 19200"),
            std::string::npos)
      << log;
}

}  // namespace process_level

}  // namespace
}  // namespace sewage::agent
