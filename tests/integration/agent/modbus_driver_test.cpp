// The modbus driver against the instrument emulator over real loopback TCP: every word order of
// the example profiles, exception responses, a silent device, and a late reply that must never be
// taken as the answer to a later request.
#include "sewage/agent/interval.hpp"
#include "sewage/agent/modbus_driver.hpp"
#include "sewage/instruments/modbus_device.hpp"

#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>
#include <modbus.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace sewage::agent {
namespace {

using proto::quantity_status;

modbus_device_config device_on(int port, int timeout_ms = 200, int retries = 0) {
  modbus_device_config c;
  c.name = "dev";
  c.host = "127.0.0.1";
  c.port = port;
  c.response_timeout_ms = timeout_ms;
  c.retries = retries;
  return c;
}

modbus_point point(quantity q, std::uint16_t addr, data_type t, word_order o) {
  modbus_point p;
  p.what = q;
  p.spec.address = addr;
  p.spec.type = t;
  p.spec.order = o;
  return p;
}

TEST(ModbusDriver, ReadsTheFlowmeterTurbidityAndLevelProfiles) {
  instruments::flowmeter fm;
  instruments::turbidity_probe tp;
  instruments::level_sensor ls;
  fm.set_flow_m3h(2.75F);
  fm.set_total(4000000000U, 0.625F);  // above 2^31: must not turn negative
  tp.set_turbidity_ntu(12.5F);
  ls.set_distance_mm(1800);

  auto fc = device_on(fm.device().port());
  fc.points = {point(quantity::flow_rate, 0x1010, data_type::f32, word_order::cdab),
               point(quantity::flow_total_int, 0x1018, data_type::u32, word_order::cdab),
               point(quantity::flow_total_frac, 0x101A, data_type::f32, word_order::cdab)};
  modbus_driver flow(fc);
  const auto f = flow.read({});
  ASSERT_EQ(f.size(), 3U);
  for (const auto& s : f) EXPECT_EQ(s.status, quantity_status::ok) << s.reason;
  EXPECT_EQ(f[0].value, 2.75);
  EXPECT_EQ(f[1].value, 4000000000.0);
  EXPECT_EQ(f[2].value, 0.625);

  // The empty-pipe alarm register turns the flow values of that poll into a fault.
  auto alarm = point(quantity::flow_rate, 0x1024, data_type::u16, word_order::abcd);
  alarm.alarm = true;
  fc.points.push_back(alarm);
  modbus_driver flow_with_alarm(fc);
  EXPECT_EQ(flow_with_alarm.read({}).size(), 3U);  // the alarm point is not a sample
  EXPECT_EQ(flow_with_alarm.read({}).at(0).status, quantity_status::ok);
  fm.set_empty_pipe_alarm(true);
  const auto fa = flow_with_alarm.read({});
  EXPECT_EQ(fa.at(0).status, quantity_status::fault);
  EXPECT_EQ(fa.at(0).reason, "device alarm: register 0x1024 = 1");
  EXPECT_EQ(fa.at(1).status, quantity_status::ok);  // the totalizer is another quantity
  fm.set_empty_pipe_alarm(false);
  EXPECT_EQ(flow_with_alarm.read({}).at(0).status, quantity_status::ok);

  auto tc = device_on(tp.device().port());
  tc.points = {point(quantity::turbidity, 0x2602, data_type::f32, word_order::dcba)};
  modbus_driver turb(tc);
  EXPECT_EQ(turb.read({}).at(0).value, 12.5);

  auto lc = device_on(ls.device().port());
  auto lp = point(quantity::sludge_level, 0x0005, data_type::u16, word_order::abcd);
  lp.spec.scale = -0.001;
  lp.spec.offset = 3.0;
  lp.spec.sentinels = {0xFFFF};
  lc.points = {lp};
  modbus_driver level(lc);
  EXPECT_NEAR(level.read({}).at(0).value, 1.2, 1e-12);
  ls.set_distance_mm(0xFFFF);
  const auto sentinel = level.read({}).at(0);
  EXPECT_EQ(sentinel.status, quantity_status::fault);
  EXPECT_EQ(sentinel.reason, "sentinel 0xFFFF");
}

TEST(ModbusDriver, ExceptionResponseIsAFaultAndIllegalAddressToo) {
  instruments::turbidity_probe tp;
  auto c = device_on(tp.device().port());
  c.points = {point(quantity::turbidity, 0x2602, data_type::f32, word_order::dcba),
              point(quantity::turbidity, 0x2700, data_type::f32, word_order::dcba)};  // not in the map
  modbus_driver d(c);
  auto r = d.read({});
  EXPECT_EQ(r[0].status, quantity_status::ok);
  EXPECT_EQ(r[1].status, quantity_status::fault);
  EXPECT_NE(r[1].reason.find("exception"), std::string::npos) << r[1].reason;
  tp.device().set_behaviour(instruments::behaviour::exception, 4);
  r = d.read({});
  EXPECT_EQ(r[0].status, quantity_status::fault);
}

TEST(ModbusDriver, SilentDeviceIsStaleAndRecovers) {
  instruments::level_sensor ls;
  ls.set_distance_mm(1000);
  auto c = device_on(ls.device().port(), 150, 1);
  c.points = {point(quantity::sludge_level, 0x0005, data_type::u16, word_order::abcd),
              point(quantity::sludge_level, 0x0006, data_type::u16, word_order::abcd)};
  modbus_driver d(c);
  EXPECT_EQ(d.read({}).at(0).status, quantity_status::ok);
  ls.device().set_behaviour(instruments::behaviour::silent);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = d.read({});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r[0].status, quantity_status::stale);
  EXPECT_EQ(r[1].status, quantity_status::stale);
  // Two attempts for the first point, none for the second: a dead device costs ~2 timeouts, not 4.
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  ls.device().set_behaviour(instruments::behaviour::normal);
  EXPECT_EQ(d.read({}).at(0).value, 1000.0);
}

TEST(ModbusDriver, LateReplyIsNeverTakenForALaterRequest) {
  instruments::level_sensor ls;
  ls.set_distance_mm(111);
  auto c = device_on(ls.device().port(), 150, 0);
  c.points = {point(quantity::sludge_level, 0x0005, data_type::u16, word_order::abcd)};
  modbus_driver d(c);
  ls.device().set_reply_delay(std::chrono::milliseconds(400));
  EXPECT_EQ(d.read({}).at(0).status, quantity_status::stale);  // the reply "111" is still on its way
  ls.device().set_reply_delay(std::chrono::milliseconds(0));
  ls.set_distance_mm(222);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the late reply has been sent by now
  const auto s = d.read({}).at(0);
  ASSERT_EQ(s.status, quantity_status::ok) << s.reason;
  EXPECT_EQ(s.value, 222.0);
}

TEST(ModbusDriver, NothingListeningIsStale) {
  int port = 0;
  {
    instruments::level_sensor gone;
    port = gone.device().port();
  }
  auto c = device_on(port, 100, 1);
  c.points = {point(quantity::sludge_level, 0x0005, data_type::u16, word_order::abcd)};
  modbus_driver d(c);
  const auto s = d.read({}).at(0);
  EXPECT_EQ(s.status, quantity_status::stale);
  EXPECT_NE(s.reason.find("connect"), std::string::npos) << s.reason;
}

TEST(InstrumentEmulator, ManyDevicesInOneProcessAndRegisterHelpers) {
  std::vector<std::unique_ptr<instruments::flowmeter>> meters;
  for (int i = 0; i < 20; ++i) meters.push_back(std::make_unique<instruments::flowmeter>());
  meters[7]->set_flow_m3h(1.5F);
  auto c = device_on(meters[7]->device().port());
  c.points = {point(quantity::flow_rate, 0x1010, data_type::f32, word_order::cdab),
              point(quantity::flow_rate, 0x101E, data_type::u16, word_order::abcd)};
  modbus_driver d(c);
  const auto r = d.read({});
  EXPECT_EQ(r[0].value, 1.5);
  EXPECT_EQ(r[1].value, 5.0);  // flow unit m3/h
  EXPECT_EQ(meters[7]->device().requests(), 2U);
  EXPECT_EQ(instruments::float_registers(123456.0F, instruments::order::cdab),
            (std::vector<std::uint16_t>{0x2000, 0x47F1}));
  EXPECT_EQ(instruments::float_registers(123456.0F, instruments::order::badc),
            (std::vector<std::uint16_t>{0xF147, 0x0020}));
  EXPECT_THROW(meters[0]->device().set_holding(0x2000, std::vector<std::uint16_t>{1}), std::out_of_range);
}

// A host of hundreds of devices (the county simulator: 38 terminals x 4 instruments, 101 pump
// stations, their link proxies) holds more than FD_SETSIZE descriptors. libmodbus' select() aborts
// on a connection numbered 1024 or above, so the device keeps its own descriptors above that range
// and refuses (closes, counts) a connection the kernel numbers there: the host never aborts, and a
// connection that gets a low number is served as usual.
TEST(InstrumentEmulator, AHostWithNoFreeDescriptorBelowTheSelectLimitNeverAborts) {
  const std::size_t limit = instruments::raise_descriptor_limit(4096);
  ASSERT_GE(limit, 2048U) << "this test needs RLIMIT_NOFILE hard limit >= 2048 (ulimit -Hn)";
  std::vector<int> placeholders;  // every free number below FD_SETSIZE, taken
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    if (fd >= FD_SETSIZE) {
      ::close(fd);
      break;
    }
    placeholders.push_back(fd);
  }
  const auto release_one = [&] {
    ::close(placeholders.back());
    placeholders.pop_back();
  };
  const std::size_t below_before = instruments::open_descriptors_below_select_limit();
  auto meter = std::make_unique<instruments::flowmeter>();
  meter->set_flow_m3h(2.25F);
  // Its listening socket and wake-up eventfd went above the range: nothing new below it.
  EXPECT_EQ(instruments::open_descriptors_below_select_limit(), below_before);

  // One low number free: the client takes it, the device's side of the connection lands at 1024+
  // and is refused at once (the client reads end-of-file), never handed to select().
  release_one();
  const int raw = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(raw, 0);
  ASSERT_LT(raw, FD_SETSIZE);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(meter->device().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(raw, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  char byte = 0;
  timeval tv{5, 0};
  ::setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_LE(::recv(raw, &byte, 1, 0), 0);  // closed by the device, not answered
  EXPECT_EQ(meter->device().refused_connections(), 1U);
  ::close(raw);

  // Two low numbers free: the agent's driver and the device's side both fit, and it is served.
  release_one();
  release_one();
  {
    auto c = device_on(meter->device().port(), 1000);
    c.points = {point(quantity::flow_rate, 0x1010, data_type::f32, word_order::cdab)};
    modbus_driver d(c);
    const auto r = d.read({});
    EXPECT_EQ(r[0].value, 2.25);
    EXPECT_EQ(meter->device().refused_connections(), 1U);
  }
  meter.reset();  // stops its thread and closes its descriptors above the range
  for (const int fd : placeholders) ::close(fd);
}

TEST(ModbusDriver, RtuOverAPseudoTerminalPair) {
  // DEPENDENCIES.md §4.3: socat links two ptys; a libmodbus RTU server answers on one end.
  testing::temp_dir dir("rtu");
  const auto a = dir.path() / "ttyA";
  const auto b = dir.path() / "ttyB";
  testing::child_process socat({"socat", "pty,raw,echo=0,link=" + a.string(), "pty,raw,echo=0,link=" + b.string()},
                               dir.path() / "socat.log");
  for (int i = 0; i < 100 && !(std::filesystem::exists(a) && std::filesystem::exists(b)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::filesystem::exists(a) && std::filesystem::exists(b)) << socat.log();

  std::atomic<bool> stop{false};
  std::thread server([&] {
    modbus_t* ctx = modbus_new_rtu(a.c_str(), 19200, 'E', 8, 1);
    modbus_set_slave(ctx, 1);
    if (modbus_connect(ctx) != 0) {
      modbus_free(ctx);
      return;
    }
    modbus_mapping_t* map = modbus_mapping_new_start_address(0, 0, 0, 0, 0x2600, 5, 0, 0);
    const auto regs = encode_registers(21.5, data_type::f32, word_order::dcba);
    map->tab_registers[2] = regs[0];
    map->tab_registers[3] = regs[1];
    modbus_set_indication_timeout(ctx, 0, 100000);
    std::uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];
    while (!stop) {
      const int rc = modbus_receive(ctx, q);
      if (rc > 0) modbus_reply(ctx, q, rc, map);
    }
    modbus_mapping_free(map);
    modbus_close(ctx);
    modbus_free(ctx);
  });

  modbus_device_config c;
  c.name = "probe";
  c.rtu = true;
  c.serial_device = b.string();
  c.baud = 19200;
  c.parity = 'E';
  c.unit_id = 1;
  c.response_timeout_ms = 300;
  c.retries = 1;
  c.points = {point(quantity::turbidity, 0x2602, data_type::f32, word_order::dcba)};
  modbus_driver d(c);
  const auto s = d.read({}).at(0);
  EXPECT_EQ(s.status, quantity_status::ok) << s.reason;
  EXPECT_EQ(s.value, 21.5);

  c.unit_id = 2;  // nobody answers slave 2
  modbus_driver absent(c);
  EXPECT_EQ(absent.read({}).at(0).status, quantity_status::stale);
  EXPECT_EQ(d.read({}).at(0).value, 21.5);  // the bus is still usable afterwards
  stop = true;
  server.join();
}

/// The DTSU666-style kWh meter (firmware/README.md "Energy meter"): power in W scaled to kW, the
/// total in kWh, a phase current as the pump current; through the interval builder into a record
/// whose energy section validates, with a meter reset never counted as energy.
TEST(ModbusDriver, ReadsTheEnergyMeterIntoARecord) {
  instruments::energy_meter em;
  em.set_power_w(1125.0F);
  em.set_current_a(0, 1.85F);
  em.set_energy_kwh(10234.5F);
  auto c = device_on(em.device().port());
  auto power = point(quantity::power, 0x2012, data_type::f32, word_order::abcd);
  power.spec.scale = 0.001;
  c.points = {power, point(quantity::energy_total, 0x401E, data_type::f32, word_order::abcd),
              point(quantity::pump_current, 0x200C, data_type::f32, word_order::abcd)};
  modbus_driver meter(c);
  auto s = meter.read({});
  ASSERT_EQ(s.size(), 3U);
  for (const auto& x : s) EXPECT_EQ(x.status, quantity_status::ok) << x.reason;
  EXPECT_DOUBLE_EQ(s[0].value, 1.125);
  EXPECT_DOUBLE_EQ(s[1].value, 10234.5);
  EXPECT_NEAR(s[2].value, 1.85, 1e-6);

  const auto cfg = parse_config("terminal_id = \"T1\"\n[mqtt]\nuri = \"ssl://h:1\"\n");
  interval_builder b(cfg, {quantity::power, quantity::energy_total, quantity::pump_current});
  const proto::timestamp t0{std::chrono::seconds(1'800'000'000)};
  b.add(s, t0);
  em.set_energy_kwh(10234.75F);
  em.set_power_w(875.0F);
  b.add(meter.read({}), t0 + std::chrono::seconds(30));
  auto r = b.close(t0 + std::chrono::seconds(60), 60);
  r.terminal_id = "T1";
  r.epoch = "0123456789abcdef";
  r.seq = 1;
  EXPECT_TRUE(proto::validate(r).empty());
  ASSERT_TRUE(r.energy.has_value());
  EXPECT_EQ(r.energy->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.energy->power_kw, 1.0);
  EXPECT_DOUBLE_EQ(*r.energy->kwh_total, 10234.75);
  EXPECT_NEAR(*r.energy->pump_current_a, 1.85, 1e-6);

  // The meter goes silent: the section says stale with the reason, no numbers.
  em.device().set_behaviour(instruments::behaviour::silent);
  auto c2 = c;
  c2.response_timeout_ms = 100;
  modbus_driver meter2(c2);
  b.add(meter2.read({}), t0 + std::chrono::seconds(90));
  const auto r2 = b.close(t0 + std::chrono::seconds(120), 60);
  ASSERT_TRUE(r2.energy.has_value());
  EXPECT_EQ(r2.energy->status, quantity_status::stale);
  EXPECT_FALSE(r2.energy->power_kw.has_value());
}

}  // namespace
}  // namespace sewage::agent
