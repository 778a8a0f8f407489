// The pump-station profile end to end: the pump-station I/O emulator (tools/instruments) read over
// loopback Modbus TCP, first with plain libmodbus (the register map), then by a real sewage-agent
// publishing records with the pump_station section to a test broker.
#include "sewage/instruments/modbus_device.hpp"

#include <gtest/gtest.h>
#include <modbus.h>

#include <cmath>
#include <cstdint>
#include <memory>

namespace sewage::agent {
namespace {

using instruments::pump_station_io;

struct modbus_client {
  modbus_t* ctx;
  explicit modbus_client(int port) : ctx(modbus_new_tcp("127.0.0.1", port)) {
    if (ctx == nullptr || modbus_connect(ctx) != 0) throw std::runtime_error("modbus connect failed");
  }
  ~modbus_client() {
    modbus_close(ctx);
    modbus_free(ctx);
  }
  modbus_client(const modbus_client&) = delete;
  modbus_client& operator=(const modbus_client&) = delete;
};

/// The example map (firmware/README.md "Pump stations"): discrete inputs 2k run / 2k+1 fault / 16
/// mains, input registers 0 level mm and 1+k current 0.1 A, holding 0x10/0x11 packed bits.
TEST(PumpStationIo, ServesTheExampleMap) {
  pump_station_io io(3);
  io.set_level_m(1.4237);
  io.set_pump(0, true, false, 11.84);
  io.set_pump(2, false, true, 0.0);
  io.set_mains_power(false);
  modbus_client c(io.device().port());
  std::uint8_t bits[17]{};
  ASSERT_EQ(modbus_read_input_bits(c.ctx, 0, 17, bits), 17);
  EXPECT_EQ(bits[pump_station_io::run_input(0)], 1);
  EXPECT_EQ(bits[pump_station_io::fault_input(0)], 0);
  EXPECT_EQ(bits[pump_station_io::run_input(1)], 0);
  EXPECT_EQ(bits[pump_station_io::run_input(2)], 0);
  EXPECT_EQ(bits[pump_station_io::fault_input(2)], 1);
  EXPECT_EQ(bits[pump_station_io::mains_input], 0);
  std::uint16_t regs[4]{};
  ASSERT_EQ(modbus_read_input_registers(c.ctx, pump_station_io::level_register, 4, regs), 4);
  EXPECT_EQ(regs[0], 1424);  // mm, rounded
  EXPECT_EQ(regs[1], 118);   // 0.1 A
  EXPECT_EQ(regs[3], 0);
  std::uint16_t words[2]{};
  ASSERT_EQ(modbus_read_registers(c.ctx, pump_station_io::status_word_register, 2, words), 2);
  EXPECT_EQ(words[0], (1U << 0) | (1U << 5));  // P1 running, P3 fault
  EXPECT_EQ(words[1], 0);                       // mains lost
  // Outside the map: illegal data address, like a real module.
  EXPECT_EQ(modbus_read_input_registers(c.ctx, 9, 1, regs), -1);
  EXPECT_EQ(modbus_read_input_bits(c.ctx, 17, 1, bits), -1);
  // A NaN level is the 0xFFFF "no value" pattern; setters refuse pumps beyond the station's.
  io.set_level_m(std::nan(""));
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 1, regs), 1);
  EXPECT_EQ(regs[0], 0xFFFF);
  EXPECT_THROW(io.set_pump_running(3, true), std::out_of_range);
  EXPECT_THROW(pump_station_io(0), std::invalid_argument);
  EXPECT_THROW(pump_station_io(9), std::invalid_argument);
  // The config snippet names the map's addresses.
  const auto toml = io.agent_config("station");
  EXPECT_NE(toml.find("device = \"station\""), std::string::npos);
  EXPECT_NE(toml.find("id = \"P3\""), std::string::npos);
  EXPECT_NE(toml.find("address = 16"), std::string::npos);
}

}  // namespace
}  // namespace sewage::agent
