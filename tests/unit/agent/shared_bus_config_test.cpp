// Several [[device]] entries on one serial line: the RTU silent interval, the per-line and
// per-slave delays, and the refusal of a line opened with two different settings. No I/O: the
// buses are never opened.
#include "sewage/agent/config.hpp"
#include "sewage/agent/modbus_bus.hpp"
#include "sewage/agent/modbus_driver.hpp"

#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sewage::agent {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(RtuTiming, SilentIntervalIsThreeAndAHalfCharacters) {
  // Modbus over Serial Line V1.02 §2.5.1.1: t3.5 = 3.5 character times.
  EXPECT_EQ(bits_per_character({9600, 'N', 8, 1}), 10);
  EXPECT_EQ(bits_per_character({9600, 'E', 8, 1}), 11);
  EXPECT_EQ(bits_per_character({9600, 'N', 8, 2}), 11);
  EXPECT_EQ(bits_per_character({9600, 'O', 7, 1}), 10);
  EXPECT_EQ(rtu_silent_interval({9600, 'N', 8, 1}), microseconds(3646));   // 35/9600 s = 3645.8 µs
  EXPECT_EQ(rtu_silent_interval({9600, 'E', 8, 1}), microseconds(4011));   // 38.5/9600 s = 4010.4 µs
  EXPECT_EQ(rtu_silent_interval({19200, 'E', 8, 1}), microseconds(2006));  // 38.5/19200 s = 2005.2 µs
  EXPECT_EQ(rtu_silent_interval({2400, 'N', 8, 1}), microseconds(14584));  // 35/2400 s = 14583.3 µs
  EXPECT_EQ(rtu_silent_interval({1200, 'E', 8, 1}), microseconds(32084));
}

TEST(RtuTiming, FixedAbove19200Baud) {
  // Above 19,200 baud the spec fixes t3.5 at 1.750 ms (3.5 characters would be shorter).
  EXPECT_EQ(rtu_silent_interval({19201, 'N', 8, 1}), microseconds(1750));
  EXPECT_EQ(rtu_silent_interval({38400, 'E', 8, 1}), microseconds(1750));
  EXPECT_EQ(rtu_silent_interval({115200, 'N', 8, 1}), microseconds(1750));
  EXPECT_EQ(rtu_silent_interval({921600, 'N', 8, 2}), microseconds(1750));
  // ... and never below what 3.5 characters take at 19,200 baud and under.
  for (int baud : {300, 1200, 2400, 4800, 9600, 14400, 19200}) {
    const serial_settings s{baud, 'N', 8, 1};
    EXPECT_GE(rtu_silent_interval(s).count() * baud, 35LL * 100000 * bits_per_character(s) - baud) << baud;
    EXPECT_GE(rtu_silent_interval(s), microseconds(1750)) << baud;
  }
}

TEST(RtuTiming, LineAndSlaveDelaysAddToTheSilentInterval) {
  bus_endpoint e;
  e.rtu = true;
  e.serial_device = "/dev/ttyS1";
  e.serial = {9600, 'N', 8, 1};
  e.extra_delay = milliseconds(5);
  const modbus_bus bus(e);
  EXPECT_EQ(bus.gap_before_request(milliseconds(0)), microseconds(3646 + 5000));
  EXPECT_EQ(bus.gap_before_request(milliseconds(20)), microseconds(3646 + 5000 + 20000));
  bus_endpoint tcp;
  tcp.host = "192.168.1.20";
  tcp.extra_delay = milliseconds(5);
  EXPECT_EQ(modbus_bus(tcp).gap_before_request(milliseconds(20)), microseconds(0));  // no silent interval on TCP
}

TEST(RtuTiming, CountersDescribeOnlyWhatHappened) {
  slave_counters c;
  EXPECT_EQ(describe_counters(c), "");
  c.timeouts = 3;
  EXPECT_EQ(describe_counters(c), "3 timeouts");
  c.bad_frames = 1;
  c.late_replies = 2;
  EXPECT_EQ(describe_counters(c), "3 timeouts, 1 bad frame, 2 late replies");
  c.requests = 100;
  EXPECT_EQ(c.errors(), 4U);
}

/// A config with devices on lines given as (name, serial_device, extra keys).
std::string config_text(const std::vector<std::tuple<std::string, std::string, std::string>>& devices,
                        const std::string& extra = "") {
  std::ostringstream o;
  o << "terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://127.0.0.1:8883\"\n" << extra;
  int slave = 1;
  for (const auto& [name, tty, keys] : devices) {
    o << "[[device]]\nname = \"" << name << "\"\ndriver = \"modbus\"\ntransport = \"rtu\"\nserial_device = \"" << tty
      << "\"\nslave_id = " << slave++ << "\n" << keys
      << "[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\n";
  }
  return o.str();
}

/// Creates every driver the way sewage-agent does (also for --check-config); returns the error
/// text or "" when accepted.
std::string check(const std::string& text) {
  try {
    const agent_config c = parse_config(text);
    check_deployable(c);
    modbus_bus_registry buses(c.serial_lines);
    driver_registry drivers;
    drivers.add("modbus", modbus_driver::factory(buses));
    for (const auto& d : c.devices) (void)drivers.create(d);
    return "";
  } catch (const config_error& e) {
    return e.what();
  }
}

TEST(SharedLineConfig, ThreeInstrumentsOnOneLineShareOneBus) {
  const agent_config c = parse_config(config_text({{"flowmeter", "/dev/ttyS1", "baud = 9600\n"},
                                                   {"turbidity", "/dev/ttyS1", ""},
                                                   {"level", "/dev/ttyS1", "parity = \"N\"\n"},
                                                   {"other", "/dev/ttyS2", "baud = 19200\n"}}));
  modbus_bus_registry buses;
  const auto f = modbus_driver::factory(buses);
  std::vector<std::unique_ptr<sensor_driver>> drivers;
  for (const auto& d : c.devices) drivers.push_back(f(d));
  const auto bus_of = [&](std::size_t i) { return dynamic_cast<modbus_driver&>(*drivers[i]).bus().get(); };
  EXPECT_EQ(bus_of(0), bus_of(1));
  EXPECT_EQ(bus_of(0), bus_of(2));
  EXPECT_NE(bus_of(0), bus_of(3));
  // Creating the drivers again (the agent after --check-config's pass) gives the same buses.
  EXPECT_EQ(dynamic_cast<modbus_driver&>(*f(c.devices[2])).bus().get(), bus_of(0));
}

TEST(SharedLineConfig, DifferentBaudOnOneLineIsRefusedNamingBothDevices) {
  const std::string err = check(config_text({{"flowmeter", "/dev/ttyS1", "baud = 9600\n"},
                                             {"turbidity", "/dev/ttyS1", "baud = 19200\n"}}));
  EXPECT_EQ(err.rfind("device[1].baud: ", 0), 0U) << err;
  EXPECT_NE(err.find("'flowmeter' (device[0]) with baud 9600"), std::string::npos) << err;
  EXPECT_NE(err.find("'turbidity' (device[1]) with baud 19200"), std::string::npos) << err;
  EXPECT_NE(err.find("/dev/ttyS1"), std::string::npos) << err;
}

TEST(SharedLineConfig, EveryCharacterSettingMustAgreeIncludingDefaults) {
  // The default baud is 9600: omitting it on one device and writing 9600 on another is the same.
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", ""}, {"b", "/dev/ttyS1", "baud = 9600\nparity = \"N\"\n"}})), "");
  const std::string parity = check(config_text({{"a", "/dev/ttyS1", ""}, {"b", "/dev/ttyS1", "parity = \"E\"\n"}}));
  EXPECT_EQ(parity.rfind("device[1].parity: ", 0), 0U) << parity;
  EXPECT_NE(parity.find("with parity N"), std::string::npos) << parity;
  EXPECT_NE(parity.find("with parity E"), std::string::npos) << parity;
  const std::string stop = check(config_text({{"a", "/dev/ttyS1", ""}, {"b", "/dev/ttyS2", ""},
                                              {"c", "/dev/ttyS1", "stop_bits = 2\n"}}));
  EXPECT_EQ(stop.rfind("device[2].stop_bits: ", 0), 0U) << stop;
  EXPECT_NE(stop.find("'a' (device[0])"), std::string::npos) << stop;
  const std::string data = check(config_text({{"a", "/dev/ttyS1", "data_bits = 7\n"}, {"b", "/dev/ttyS1", ""}}));
  EXPECT_EQ(data.rfind("device[1].data_bits: ", 0), 0U) << data;
  // Different lines may use different settings.
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", "baud = 4800\n"}, {"b", "/dev/ttyS2", "baud = 19200\n"}})), "");
}

TEST(SharedLineConfig, OneLineUnderTwoNamesIsStillOneLine) {
  // /dev/ttyUSB0 and a /dev/serial/by-id/... link to it are the same wires.
  testing::temp_dir dir("line-names");
  const auto tty = dir.path() / "ttyUSB0";
  std::ofstream(tty) << "";
  std::filesystem::create_symlink(tty, dir.path() / "by-id-converter");
  const std::string err = check(config_text({{"flowmeter", tty.string(), "baud = 9600\n"},
                                             {"turbidity", (dir.path() / "by-id-converter").string(), "baud = 4800\n"}}));
  EXPECT_EQ(err.rfind("device[1].baud: ", 0), 0U) << err;
  EXPECT_NE(err.find("'flowmeter' (device[0]) with baud 9600"), std::string::npos) << err;
}

TEST(SharedLineConfig, SerialLineTableAndPerSlaveDelay) {
  const std::string lines = "[[serial_line]]\nserial_device = \"/dev/ttyS1\"\nextra_delay_ms = 5\n";
  const std::string text =
      config_text({{"a", "/dev/ttyS1", "extra_delay_ms = 20\n"}, {"b", "/dev/ttyS1", ""}}, lines);
  EXPECT_EQ(check(text), "");
  const agent_config c = parse_config(text);
  ASSERT_EQ(c.serial_lines.size(), 1U);
  EXPECT_EQ(c.serial_lines[0].extra_delay_ms, 5U);
  modbus_bus_registry buses(c.serial_lines);
  const auto d = modbus_driver::factory(buses)(c.devices[0]);
  const auto& bus = *dynamic_cast<modbus_driver&>(*d).bus();
  EXPECT_EQ(bus.endpoint().extra_delay, milliseconds(5));
  EXPECT_EQ(bus.gap_before_request(milliseconds(20)), microseconds(3646 + 5000 + 20000));
  EXPECT_EQ(parse_modbus_device(c.devices[0]).extra_delay_ms, 20);
  EXPECT_EQ(describe_config(c)["serial_lines"][0]["extra_delay_ms"], 5);

  // A line no device uses is a typo; a line described twice is ambiguous; bounds are checked.
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", ""}},
                              "[[serial_line]]\nserial_device = \"/dev/ttyS9\"\n"))
                .rfind("serial_line[0].serial_device: no [[device]]", 0),
            0U);
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", ""}}, lines + lines)).rfind("serial_line[1].serial_device:", 0), 0U);
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", ""}},
                              "[[serial_line]]\nserial_device = \"/dev/ttyS1\"\nextra_delay_ms = -1\n"))
                .rfind("serial_line[0].extra_delay_ms:", 0),
            0U);
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", ""}},
                              "[[serial_line]]\nserial_device = \"/dev/ttyS1\"\nbaud = 9600\n"))
                .rfind("serial_line[0].baud: unknown key", 0),
            0U);
  EXPECT_EQ(check(config_text({{"a", "/dev/ttyS1", "extra_delay_ms = 10001\n"}})).rfind("device[0].extra_delay_ms:", 0),
            0U);
}

TEST(SharedLineConfig, TcpDevicesOnOneGatewayShareOneBus) {
  // A Modbus TCP gateway in front of an RS-485 line: same host:port, different unit ids.
  const agent_config c = parse_config(
      "terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://127.0.0.1:8883\"\n"
      "[[device]]\nname = \"a\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"10.0.0.5\"\nunit_id = 1\n"
      "[[device.point]]\nquantity = \"turbidity\"\naddress = 1\n"
      "[[device]]\nname = \"b\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"10.0.0.5\"\nunit_id = 2\n"
      "[[device.point]]\nquantity = \"sludge_level\"\naddress = 1\n"
      "[[device]]\nname = \"c\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"10.0.0.5\"\nport = 503\n"
      "[[device.point]]\nquantity = \"flow_rate\"\naddress = 1\n");
  modbus_bus_registry buses;
  const auto f = modbus_driver::factory(buses);
  const auto a = f(c.devices[0]);
  const auto b = f(c.devices[1]);
  const auto d = f(c.devices[2]);
  EXPECT_EQ(dynamic_cast<modbus_driver&>(*a).bus(), dynamic_cast<modbus_driver&>(*b).bus());
  EXPECT_NE(dynamic_cast<modbus_driver&>(*a).bus(), dynamic_cast<modbus_driver&>(*d).bus());
  EXPECT_EQ(dynamic_cast<modbus_driver&>(*a).bus()->endpoint().id(), "10.0.0.5:502");
}

}  // namespace
}  // namespace sewage::agent
