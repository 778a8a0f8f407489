#pragma once
/// \file
/// A Modbus RTU bus emulator for tests: several slaves (unit ids) answering on ONE serial line, as
/// the flowmeter (slave 1), the turbidity probe (slave 2) and the level sensor (slave 3) do on the
/// RS-485 line of a terminal's cabinet. Tests connect it to the agent through a pseudo-terminal
/// pair made by socat (DEPENDENCIES.md §4.3).
///
/// libmodbus 3.1.6 serves one unit id per RTU context: `_modbus_rtu_check_integrity` returns 0
/// ("ignored") for a frame addressed to another id, before checking its CRC, and the context then
/// expects the other slave's answer as the next frame (`confirmation_to_ignore`, modbus-rtu.c).
/// The emulator therefore reads each frame with a fresh "listener" context (slave id 0, so every
/// unicast frame comes back as "ignored" with the bytes in the buffer), and hands the bytes to the
/// addressed slave's own context through a pipe: that context frames the request and checks its
/// CRC exactly as a real libmodbus slave would, and answers on the line with its own mapping. No
/// Modbus framing or CRC is written here.
///
/// Bus timing observed by the emulator: the gap between the end of the last frame on the line
/// (the emulator's own reply, or a request nobody answered) and the first byte of the next
/// request. A request that arrives while a reply is still being written has gap 0. On a pty the
/// wire time of a frame is zero, so the gap is what the master waited.
#include "sewage/instruments/modbus_device.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace sewage::instruments {

/// Serial settings of the emulated line (the pty ignores them, libmodbus needs them).
struct rtu_line {
  std::string path;  ///< e.g. the socat pty link
  int baud{19200};
  char parity{'N'};
  int data_bits{8};
  int stop_bits{1};
};

/// What the emulator saw on the line. All counters since construction.
struct rtu_bus_stats {
  std::uint64_t frames{0};            ///< requests framed with a good CRC (any slave id)
  std::uint64_t bad_frames{0};        ///< CRC errors or broken frames (collisions)
  std::uint64_t unknown_slave{0};     ///< good frames for ids nobody serves (no answer)
  std::uint64_t gaps_measured{0};     ///< requests whose preceding silent gap was measured
  std::uint64_t gaps_below_required{0};  ///< of those, gaps shorter than `required_gap`
  std::chrono::microseconds min_gap{std::chrono::microseconds::max()};
};

class rtu_bus_emulator {
 public:
  /// Opens `line.path` (must exist), and starts serving at once. `required_gap` is the silent
  /// interval a correct master keeps between frames (counted in stats().gaps_below_required).
  /// Throws std::runtime_error if the port cannot be opened.
  explicit rtu_bus_emulator(rtu_line line, std::chrono::microseconds required_gap = std::chrono::microseconds(1750));
  /// Stops the serving thread and closes the port.
  ~rtu_bus_emulator();
  rtu_bus_emulator(const rtu_bus_emulator&) = delete;
  rtu_bus_emulator& operator=(const rtu_bus_emulator&) = delete;

  /// Adds slave `id` (1..247) with the given register layout (all registers 0). Throws
  /// std::invalid_argument for a bad or duplicate id. Thread-safe.
  void add_slave(int id, register_layout layout);
  /// Writes holding / input registers of slave `id`. Throws std::out_of_range outside its layout,
  /// std::invalid_argument for an unknown id. Thread-safe.
  void set_holding(int id, std::uint16_t address, std::span<const std::uint16_t> values);
  void set_input(int id, std::uint16_t address, std::span<const std::uint16_t> values);
  /// How slave `id` answers (normal, silent = present but never answers, exception). Thread-safe.
  void set_behaviour(int id, behaviour b, std::uint8_t exception_code = 4);
  /// Delays every reply of slave `id` (a slow slave; longer than the master's timeout = a late
  /// reply on the line). The emulator serves one request at a time, like a half-duplex bus.
  void set_reply_delay(int id, std::chrono::milliseconds delay);
  /// Requests with a good CRC addressed to slave `id` so far. Thread-safe.
  [[nodiscard]] std::uint64_t requests(int id) const;
  /// Replies slave `id` has sent. Thread-safe.
  [[nodiscard]] std::uint64_t replies(int id) const;
  [[nodiscard]] rtu_bus_stats stats() const;

 private:
  struct slave;
  struct state;
  void serve();
  void handle_frame(const std::uint8_t* frame, std::chrono::steady_clock::time_point first_byte);

  std::unique_ptr<state> state_;
  mutable std::mutex mutex_;
  std::map<int, std::unique_ptr<slave>> slaves_;
  rtu_bus_stats stats_;
  std::chrono::microseconds required_gap_;
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

}  // namespace sewage::instruments
