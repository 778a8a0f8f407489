// Configuration: defaults, the shipped example, and errors that name the key.
#include "sewage/agent/config.hpp"
#include "sewage/agent/modbus_driver.hpp"
#include "sewage/agent/simulated_driver.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sewage::agent {
namespace {

const char* kMinimal = R"(
terminal_id = "HY-WY-001"
[mqtt]
uri = "ssl://127.0.0.1:8883"
)";

std::string error_key(const std::string& text) {
  try {
    (void)parse_config(text);
  } catch (const config_error& e) {
    return e.key();
  }
  return "<no error>";
}

TEST(Config, MinimalFileGetsTheDocumentedDefaults) {
  const auto c = parse_config(kMinimal);
  EXPECT_EQ(c.terminal_id, "HY-WY-001");
  EXPECT_EQ(c.poll_interval_s, 5.0);
  EXPECT_EQ(c.report_interval_s, 60U);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.mqtt.uris.size(), 1U);
  EXPECT_EQ(c.mqtt.keep_alive_s, 30U);
  EXPECT_EQ(c.queue.max_records, 100000U);
  EXPECT_EQ(c.queue.delete_batch, 32U);
  EXPECT_EQ(c.queue.delete_after_s, 1800U);
  EXPECT_EQ(c.cleanout.source, cleanout_source::none);
  EXPECT_FALSE(c.image.enabled());
  EXPECT_EQ(c.digest.size(), 16U);
}

TEST(Config, ShippedExampleIsValidAndEveryDeviceBuilds) {
  std::ifstream in(SEWAGE_EXAMPLE_CONFIG);
  ASSERT_TRUE(in) << SEWAGE_EXAMPLE_CONFIG;
  std::stringstream ss;
  ss << in.rdbuf();
  const auto c = parse_config(ss.str());
  ASSERT_EQ(c.devices.size(), 3U);
  for (const auto& d : c.devices) {
    ASSERT_EQ(d.driver, "modbus");
    const auto m = parse_modbus_device(d);
    EXPECT_FALSE(m.points.empty());
  }
  const auto flow = parse_modbus_device(c.devices[0]);
  EXPECT_EQ(flow.points[0].spec.address, 0x1010);
  EXPECT_EQ(flow.points[0].spec.order, word_order::cdab);
}

TEST(Config, ErrorsNameTheKey) {
  const std::string base = "[mqtt]\nuri = \"ssl://h:1\"\n";
  EXPECT_EQ(error_key(base), "terminal_id");
  EXPECT_EQ(error_key("terminal_id = \"a/b\"\n" + base), "terminal_id");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\nreport_interval_s = 0\n" + base), "report_interval_s");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\npoll_interval_s = \"5\"\n" + base), "poll_interval_s");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\nlog_level = \"loud\"\n" + base), "log_level");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\nreport_intervall_s = 5\n" + base), "report_intervall_s");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n[mqtt]\nuri = \"http://x\"\n"), "mqtt.uri");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "keep_alive_s = 1\n"), "mqtt.keep_alive_s");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "cert_file = \"c.pem\"\n"), "mqtt.key_file");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "[cleanout]\nsource = \"level\"\nraise_m = 1.0\nclear_m = 2.0\n"),
            "cleanout.clear_m");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "[queue]\nmax_records = 0\n"), "queue.max_records");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "[queue]\ndelete_batch = 0\n"), "queue.delete_batch");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "[queue]\ndelete_after_s = 86401\n"), "queue.delete_after_s");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base + "[[device]]\nname = \"a\"\n"), "device[0].driver");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n" + base +
                      "[[device]]\nname = \"a\"\ndriver = \"simulated\"\n[[device]]\nname = \"a\"\ndriver = \"simulated\"\n"),
            "device[1].name");
  // TOML syntax errors name the origin, line and column.
  EXPECT_EQ(error_key("terminal_id = \n"), "config:1:15");
}

std::string deploy_error(const std::string& text) {
  try {
    check_deployable(parse_config(text));
  } catch (const config_error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Config, CombinationsThatCannotWorkOnATerminalAreRefused) {
  const std::string base = "terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n";
  const std::string sim = "[[device]]\nname = \"s\"\ndriver = \"simulated\"\n[[device.point]]\nquantity = \"flow_rate\"\n";
  EXPECT_EQ(deploy_error(base + sim), "<no error>");
  EXPECT_EQ(deploy_error(base), "device: at least one [[device]] is required: a terminal without instruments reports nothing");
  EXPECT_NE(deploy_error("poll_interval_s = 120\n" + base + sim).find("poll_interval_s: must be <= report_interval_s (60)"),
            std::string::npos);
  EXPECT_NE(deploy_error(base + "[cleanout]\nsource = \"digital_input\"\n" + sim).find("cleanout.source: digital_input needs"),
            std::string::npos);
  EXPECT_NE(deploy_error(base + "[cleanout]\nsource = \"level\"\n" + sim).find("cleanout.source: level needs"),
            std::string::npos);
  EXPECT_NE(deploy_error(base + "[queue]\npath = \"/proc/version/q.db\"\n" + sim).find("queue.path: /proc/version is not a directory"),
            std::string::npos);
  // Broker URIs without a host or with an impossible port are refused by the parser already.
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n[mqtt]\nuri = \"tcp://\"\n"), "mqtt.uri");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n[mqtt]\nuri = \"tcp://h:99999\"\n"), "mqtt.uri");
  EXPECT_EQ(error_key("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://broker.example\"\n"), "<no error>");
}

std::string error_text(const std::string& text) {
  try {
    (void)parse_config(text);
  } catch (const config_error& e) {
    return e.what();
  }
  return "<no error>";
}

// Issue 9 §6: ca_file with a tcp:// URI connected in plaintext and sent the password.
TEST(Config, TlsFilesWithAPlaintextUriAreRefusedNamingBothKeys) {
  const std::string t = "terminal_id = \"T1\"\n[mqtt]\n";
  const std::string why = error_text(t + "uri = \"tcp://broker:1883\"\npassword = \"pw\"\nca_file = \"/etc/ca.crt\"\n");
  EXPECT_NE(why.find("mqtt.ca_file"), std::string::npos) << why;
  EXPECT_NE(why.find("mqtt.uri"), std::string::npos) << why;
  EXPECT_NE(why.find("plaintext"), std::string::npos) << why;
  EXPECT_EQ(error_key(t + "uri = \"mqtt://broker\"\nca_file = \"/etc/ca.crt\"\n"), "mqtt.ca_file");
  // A client certificate alone also means TLS.
  EXPECT_EQ(error_key(t + "uri = \"tcp://broker\"\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n"), "mqtt.cert_file");
  // A plaintext fallback beside a TLS primary is refused too, naming the fallback.
  const std::string fb = error_text(t + "uri = \"ssl://a:8883\"\nfallback_uris = [\"ssl://b:8883\", \"tcp://c:1883\"]\n"
                                        "ca_file = \"/etc/ca.crt\"\n");
  EXPECT_NE(fb.find("mqtt.fallback_uris[1]"), std::string::npos) << fb;
  // ... also with the plaintext opt-in: TLS files still mean TLS.
  EXPECT_EQ(error_key(t + "uri = \"tcp://broker\"\nallow_plaintext = true\nca_file = \"/etc/ca.crt\"\n"), "mqtt.ca_file");
  // TLS schemes with a CA file are fine; so is plaintext without any TLS file when opted in.
  EXPECT_EQ(error_key(t + "uri = \"ssl://broker:8883\"\nca_file = \"/etc/ca.crt\"\n"), "<no error>");
  EXPECT_EQ(error_key(t + "uri = \"mqtts://broker\"\nca_file = \"/etc/ca.crt\"\n"), "<no error>");
  EXPECT_EQ(error_key(t + "uri = \"tcp://broker\"\nallow_plaintext = true\n"), "<no error>");
}

// Issue 11: TLS by default; a plain URI (tcp://, mqtt://) needs mqtt.allow_plaintext = true.
TEST(Config, APlaintextUriNeedsTheExplicitOptIn) {
  const std::string t = "terminal_id = \"T1\"\n[mqtt]\n";
  EXPECT_EQ(error_text(t + "uri = \"tcp://broker:1883\"\n"),
            "mqtt.uri: \"tcp://broker:1883\" is plaintext: set mqtt.allow_plaintext = true to accept that (not "
            "recommended), or use ssl://");
  EXPECT_EQ(error_key(t + "uri = \"mqtt://broker\"\n"), "mqtt.uri");
  EXPECT_EQ(error_key(t + "uri = \"tcp://broker\"\nallow_plaintext = false\n"), "mqtt.uri");
  // A plain fallback beside a TLS primary is refused naming the fallback.
  const std::string fb = error_text(t + "uri = \"ssl://a:8883\"\nfallback_uris = [\"mqtts://b\", \"mqtt://c:1883\"]\n");
  EXPECT_EQ(fb.rfind("mqtt.fallback_uris[1]: \"mqtt://c:1883\" is plaintext: set mqtt.allow_plaintext = true", 0), 0U) << fb;
  // Not a boolean: named.
  EXPECT_EQ(error_text(t + "uri = \"tcp://broker\"\nallow_plaintext = \"yes\"\n"),
            "mqtt.allow_plaintext: must be true or false, got string");
  EXPECT_EQ(error_key(t + "uri = \"tcp://broker\"\nallow_plaintext = 1\n"), "mqtt.allow_plaintext");
  // Opted in: accepted, and get_config shows the key (default false shown too).
  const auto plain = parse_config(t + "uri = \"tcp://broker\"\nfallback_uris = [\"mqtt://c\"]\nallow_plaintext = true\n");
  EXPECT_TRUE(plain.mqtt.allow_plaintext);
  EXPECT_EQ(describe_config(plain)["mqtt"]["allow_plaintext"], true);
  const auto tls = parse_config(t + "uri = \"ssl://broker:8883\"\n");
  EXPECT_FALSE(tls.mqtt.allow_plaintext);
  EXPECT_EQ(describe_config(tls)["mqtt"]["allow_plaintext"], false);
}

// Issue 11: a TLS file that cannot be read would only show as failed connects: refused up front.
TEST(Config, UnreadableTlsFilesAreRefusedBeforeStart) {
  const std::string base = "terminal_id = \"T1\"\n[queue]\npath = \"/tmp/q.db\"\n"
                           "[[device]]\nname = \"s\"\ndriver = \"simulated\"\n[[device.point]]\nquantity = \"flow_rate\"\n"
                           "[mqtt]\nuri = \"ssl://broker:8883\"\n";
  EXPECT_EQ(deploy_error(base + "ca_file = \"/nonexistent/ca.crt\"\n"),
            "mqtt.ca_file: cannot read /nonexistent/ca.crt: No such file or directory");
  EXPECT_EQ(deploy_error(base + "cert_file = \"/etc/hostname\"\nkey_file = \"/nonexistent/k.pem\"\n"),
            "mqtt.key_file: cannot read /nonexistent/k.pem: No such file or directory");
  EXPECT_EQ(deploy_error(base + "ca_file = \"/etc/hostname\"\n"), "<no error>");
}

device_config device_from(const std::string& text) {
  const auto c = parse_config(std::string(kMinimal) + text);
  return c.devices.at(0);
}

std::string driver_error_key(const std::string& text) {
  try {
    (void)parse_modbus_device(device_from(text));
  } catch (const config_error& e) {
    return e.key();
  }
  return "<no error>";
}

TEST(Config, ModbusDeviceErrorsNameThePointKey) {
  const std::string dev = "[[device]]\nname = \"flow\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\n";
  EXPECT_EQ(driver_error_key(dev), "device[0].point");
  EXPECT_EQ(driver_error_key(dev + "[[device.point]]\nquantity = \"flow_rate\"\naddress = 70000\n"),
            "device[0].point[0].address");
  EXPECT_EQ(driver_error_key(dev + "[[device.point]]\nquantity = \"flow\"\naddress = 1\n"), "device[0].point[0].quantity");
  EXPECT_EQ(driver_error_key(dev + "[[device.point]]\nquantity = \"flow_rate\"\naddress = 1\nword_order = \"CADB\"\n"),
            "device[0].point[0].word_order");
  EXPECT_EQ(driver_error_key(dev + "[[device.point]]\nquantity = \"flow_rate\"\naddress = 1\nsentinels = [-1]\n"),
            "device[0].point[0].sentinels[0]");
  EXPECT_EQ(driver_error_key("[[device]]\nname = \"x\"\ndriver = \"modbus\"\ntransport = \"usb\"\n"), "device[0].transport");
  EXPECT_EQ(driver_error_key("[[device]]\nname = \"x\"\ndriver = \"modbus\"\ntransport = \"rtu\"\nserial_device = \"/dev/ttyS1\"\n"
                             "parity = \"X\"\n"),
            "device[0].parity");
  const auto ok = parse_modbus_device(device_from(
      "[[device]]\nname = \"x\"\ndriver = \"modbus\"\ntransport = \"rtu\"\nserial_device = \"/dev/ttyS1\"\nbaud = 19200\n"
      "parity = \"E\"\nslave_id = 3\n[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\n"
      "word_order = \"DCBA\"\nsentinels = [0xFFFFFFFF]\nmin = 0\nmax = 4000\n"));
  EXPECT_TRUE(ok.rtu);
  EXPECT_EQ(ok.baud, 19200);
  EXPECT_EQ(ok.parity, 'E');
  EXPECT_EQ(ok.unit_id, 3);
  EXPECT_EQ(ok.points[0].spec.sentinels.at(0), 0xFFFFFFFFU);
  EXPECT_EQ(*ok.points[0].spec.max, 4000.0);
}

TEST(Config, DescribeConfigHidesThePassword) {
  const auto c = parse_config(std::string("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\nusername = \"dev1\"\n"
                                          "password = \"secret1\"\n"));
  const std::string text = describe_config(c).dump();
  EXPECT_EQ(text.find("secret1"), std::string::npos);
  EXPECT_NE(text.find("<redacted>"), std::string::npos);
  EXPECT_NE(text.find("dev1"), std::string::npos);
}

}  // namespace
}  // namespace sewage::agent
