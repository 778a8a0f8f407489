#pragma once
/// \file
/// A Modbus TCP instrument emulator for tests, benchmarks and the county simulator: one object =
/// one device listening on its own loopback port, served by one thread blocked in poll() (no
/// periodic wake-ups, so idle devices cost no CPU; one thread and 2 fds per device plus one per
/// connected client), any number of
/// simultaneous clients, any number of devices per process. Register values are written directly
/// into the libmodbus mapping (never with libmodbus' float setters, which do not round-trip in
/// 3.1.6: DEPENDENCIES.md §4.2), and can be changed at any time from any thread.
///
/// Failure modes: `silent` reads requests and never answers (a dead device on the bus), and
/// `exception` answers every request with a Modbus exception response.
///
/// Descriptors: libmodbus waits for a request with select(), whose fd_set holds descriptors below
/// FD_SETSIZE (1024, glibc <sys/select.h>) only; a higher one aborts the process under
/// _FORTIFY_SOURCE ("bit out of range 0 - FD_SETSIZE on fd_set"; libmodbus 3.1.6 src/modbus.c
/// _modbus_receive_msg, FD_SET on the connection). So each device keeps only its client
/// connections below 1024: its listening socket and its wake-up eventfd move to 1024 and above
/// when the soft RLIMIT_NOFILE allows it (raise_descriptor_limit()), and a connection accepted at
/// 1024 or above is closed at once and counted (refused_connections()) instead of aborting.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace sewage::instruments {

/// How the device answers.
enum class behaviour { normal, silent, exception };

/// A contiguous block of a Modbus table, 0-based PDU addresses.
struct block {
  std::uint16_t start{0};
  std::uint16_t count{0};
};

/// Which addresses exist; reads outside answer "illegal data address" (like real devices).
struct register_layout {
  block coils;
  block discrete_inputs;
  block holding;
  block input;
};

/// Byte order helpers: the two registers carrying a float32 / 32-bit integer as they arrive on the
/// wire ([reg N, reg N+1]). ABCD = big-endian; CDAB = word swap; BADC = byte swap; DCBA = reversed.
enum class order { abcd, cdab, badc, dcba };
std::vector<std::uint16_t> float_registers(float value, order o);
std::vector<std::uint16_t> u32_registers(std::uint32_t value, order o);

/// Raises this process's soft RLIMIT_NOFILE to `wanted` descriptors, or to the hard limit when
/// that is lower, so that descriptors other than libmodbus connections can live above
/// FD_SETSIZE. Returns the soft limit in force afterwards. Never throws; call it before creating
/// devices (a process that hosts hundreds of them: the county simulator). Not thread-safe with
/// respect to concurrent descriptor creation (call it at start).
std::size_t raise_descriptor_limit(std::size_t wanted = 65536) noexcept;

/// Moves descriptor `fd` to the lowest free number >= FD_SETSIZE (close-on-exec) and closes the
/// original; returns the new number, or `fd` unchanged when the soft limit leaves no room there
/// (the process then works as before, with less headroom). For descriptors that are never
/// given to select(). Thread-safe.
int move_above_select_range(int fd) noexcept;

/// Descriptors of this process below FD_SETSIZE that are open now (read from /proc/self/fd),
/// so that a host of many devices can check its headroom for their connections. Thread-safe.
std::size_t open_descriptors_below_select_limit();

class modbus_device {
 public:
  /// Listens on `host`:`port` (0 = a free port chosen by the kernel) and starts serving at once.
  /// Throws std::runtime_error if the socket cannot be set up.
  explicit modbus_device(register_layout layout, int port = 0, const std::string& host = "127.0.0.1");
  /// Stops the thread (at once, or after a reply delay in progress) and closes every socket.
  ~modbus_device();
  modbus_device(const modbus_device&) = delete;
  modbus_device& operator=(const modbus_device&) = delete;

  /// The TCP port being served.
  [[nodiscard]] int port() const noexcept { return port_; }

  /// Writes holding / input registers starting at `address`. Throws std::out_of_range when
  /// outside the layout. Thread-safe (atomic with respect to a reply).
  void set_holding(std::uint16_t address, std::span<const std::uint16_t> values);
  void set_input(std::uint16_t address, std::span<const std::uint16_t> values);
  void set_coil(std::uint16_t address, bool value);
  void set_discrete_input(std::uint16_t address, bool value);
  /// Reads back one holding register (tests). Throws std::out_of_range.
  [[nodiscard]] std::uint16_t holding(std::uint16_t address) const;

  /// Changes how requests are answered. `exception_code` is the Modbus exception code used in
  /// `exception` mode (default 4, server device failure). Thread-safe.
  void set_behaviour(behaviour b, std::uint8_t exception_code = 4) noexcept;
  /// Delays every reply by `delay` (a slow device or a congested gateway): a reply may then
  /// arrive after the client's timeout. Thread-safe.
  void set_reply_delay(std::chrono::milliseconds delay) noexcept { reply_delay_ms_ = static_cast<int>(delay.count()); }
  /// Requests received so far (answered or not). Thread-safe.
  [[nodiscard]] std::uint64_t requests() const noexcept { return requests_.load(); }
  /// Client connections closed at once because the kernel gave them a descriptor >= FD_SETSIZE
  /// (libmodbus could not wait on them, see the file comment). Thread-safe.
  [[nodiscard]] std::uint64_t refused_connections() const noexcept { return refused_.load(); }

 private:
  struct state;
  void serve();

  std::unique_ptr<state> state_;
  mutable std::mutex mutex_;
  int port_{0};
  std::atomic<bool> stop_{false};
  std::atomic<behaviour> behaviour_{behaviour::normal};
  std::atomic<std::uint8_t> exception_code_{4};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<int> reply_delay_ms_{0};
  std::thread worker_;
};

/// Electromagnetic flowmeter with the common MFE600H-style map (modbus_maps.md B1): holding
/// 0x1010 flow (float, CDAB, m3/h), 0x1012 velocity (float CDAB, m/s), 0x1018 totalizer integer part
/// ("Long Inverse", CDAB 32-bit), 0x101A totalizer fraction (float CDAB), 0x101E flow unit (5 =
/// m3/h), 0x1021 total unit (1 = m3), 0x1024 empty-pipe alarm, 0x1025 system alarm.
class flowmeter {
 public:
  static constexpr std::uint16_t flow_address = 0x1010;
  static constexpr std::uint16_t velocity_address = 0x1012;
  static constexpr std::uint16_t total_int_address = 0x1018;
  static constexpr std::uint16_t total_frac_address = 0x101A;
  static constexpr std::uint16_t flow_unit_address = 0x101E;
  static constexpr std::uint16_t total_unit_address = 0x1021;
  static constexpr std::uint16_t empty_pipe_address = 0x1024;
  static constexpr std::uint16_t system_alarm_address = 0x1025;
  explicit flowmeter(int port = 0);
  void set_flow_m3h(float flow);
  /// Totalizer = integer part (m3) + fraction in [0, 1).
  void set_total(std::uint32_t integer_m3, float fraction_m3);
  void set_empty_pipe_alarm(bool on);
  void set_system_alarm(bool on);
  modbus_device& device() noexcept { return device_; }

 private:
  modbus_device device_;
};

/// YosemiTech Y511-style turbidity probe (modbus_maps.md A2): holding 0x2600, 5 registers:
/// temperature float32 DCBA (degC) at 0x2600, turbidity float32 DCBA (NTU) at 0x2602, error code in
/// the high byte of 0x2604. Reads outside 0x2600..0x2604 get "illegal data address".
class turbidity_probe {
 public:
  static constexpr std::uint16_t temperature_address = 0x2600;
  static constexpr std::uint16_t turbidity_address = 0x2602;
  static constexpr std::uint16_t error_address = 0x2604;
  explicit turbidity_probe(int port = 0);
  void set_temperature_c(float t);
  void set_turbidity_ntu(float ntu);
  void set_error_code(std::uint8_t code);
  modbus_device& device() noexcept { return device_; }

 private:
  modbus_device device_;
};

/// Ultrasonic level sensor with the DFRobot URM13 holding map (modbus_maps.md C1): 0x00 PID
/// (0x0003), 0x02 slave address (0x000D), 0x03 baud code (5), 0x05 distance (u16; this emulator
/// uses millimetres). The sludge level is the mounting height minus the distance (config scale
/// -0.001 and offset = mounting height in m).
class level_sensor {
 public:
  static constexpr std::uint16_t distance_address = 0x0005;
  explicit level_sensor(int port = 0);
  void set_distance_mm(std::uint16_t mm);
  modbus_device& device() noexcept { return device_; }

 private:
  modbus_device device_;
};

/// kWh meter with a Chint DTSU666-style 3-phase DIN-rail map (firmware/README.md "Energy meter";
/// an EXAMPLE map, every address is configurable in the agent): holding registers, float32 ABCD:
/// 0x2006/0x2008/0x200A phase voltages (V), 0x200C/0x200E/0x2010 phase currents (A), 0x2012 total
/// active power (W in this emulator; the agent's point scales it by 0.001 to kW), 0x401E total
/// import active energy (kWh). Sources: the DTSU666 register lists in public drivers (Tasmota
/// xnrg_26_dtsu666h.ino reads 8198.. and 16414 = 0x401E; gerontec/dtsu666 README lists 8210 =
/// 0x2012 "conjunction active power" in W). One holding block 0x2000..0x402F (reads outside fail).
class energy_meter {
 public:
  static constexpr std::uint16_t voltage_a_address = 0x2006;
  static constexpr std::uint16_t current_a_address = 0x200C;
  static constexpr std::uint16_t power_address = 0x2012;
  static constexpr std::uint16_t energy_address = 0x401E;
  explicit energy_meter(int port = 0);
  /// Total active power, W (the meter's own unit).
  void set_power_w(float w);
  /// Current of phase A, B, C, A (a pump on phase A reads its motor current there).
  void set_current_a(int phase, float amps);
  /// Total import active energy, kWh.
  void set_energy_kwh(float kwh);
  modbus_device& device() noexcept { return device_; }

 private:
  modbus_device device_;
};

/// Pump-station I/O device: a generic pump controller / RTU I/O module serving one station's
/// signals over Modbus TCP (firmware/README.md "Pump stations"). This is an EXAMPLE map chosen for
/// the emulator and the example config, not any vendor's datasheet: every address, scale and bit
/// is configurable in the agent's [pump_station] table. It follows the common layout of Modbus
/// I/O modules (digital inputs as discrete inputs, function 2; analog inputs scaled to engineering
/// integers in input registers, function 4) and mirrors the digital inputs as packed bits in
/// holding registers for controllers that only expose status words (function 3).
///
/// Map (0-based PDU addresses; pump k = 0..pumps-1, k = 0 is "P1"):
/// - discrete inputs 0..16: 2k = pump k run feedback (contactor auxiliary contact, 1 = running),
///   2k+1 = pump k fault (thermal / overload trip, 1 = tripped), 16 = mains power present
///   (phase-failure relay healthy, 1 = present). Block 0..16 whatever the pump count.
/// - input registers 0..8: 0 = wet-well level, u16 millimetres above the wet-well floor (agent
///   scale 0.001 -> m; 0..65535 mm); 1+k = pump k motor current, u16 in 0.1 A (agent scale 0.1).
/// - holding registers 0x0010..0x0011: 0x0010 = pump status word (bit 2k run, bit 2k+1 fault, as
///   the discrete inputs), 0x0011 = bit 0 mains present.
/// Reads outside these blocks answer "illegal data address".
///
/// Thread-safety: every setter may be called from any thread at any time (the simulator's
/// thread); each setter's registers change atomically with respect to a reply. Values written by
/// different setter calls are not atomic together (like a real module sampling its inputs).
/// Failure modes (silent, exception, reply delay) through device().
class pump_station_io {
 public:
  /// Most pumps the map has room for (equals proto::limits::max_pumps).
  static constexpr std::size_t max_pumps = 8;
  /// Discrete input of pump `k`'s run feedback (0-based pump index).
  static constexpr std::uint16_t run_input(std::size_t k) noexcept { return static_cast<std::uint16_t>(2 * k); }
  /// Discrete input of pump `k`'s fault (trip) input.
  static constexpr std::uint16_t fault_input(std::size_t k) noexcept { return static_cast<std::uint16_t>(2 * k + 1); }
  /// Discrete input "mains power present".
  static constexpr std::uint16_t mains_input = 16;
  /// Input register of the wet-well level, u16, mm.
  static constexpr std::uint16_t level_register = 0;
  /// Input register of pump `k`'s motor current, u16, 0.1 A.
  static constexpr std::uint16_t current_register(std::size_t k) noexcept { return static_cast<std::uint16_t>(1 + k); }
  /// Holding register with the packed run/fault bits (bit 2k run, bit 2k+1 fault).
  static constexpr std::uint16_t status_word_register = 0x0010;
  /// Holding register with bit 0 = mains present.
  static constexpr std::uint16_t mains_word_register = 0x0011;

  /// A station with `pumps` pumps (1..max_pumps; std::invalid_argument otherwise), listening on
  /// 127.0.0.1:`port` (0 = a free port). Starts with level 0 m, every pump stopped, no fault,
  /// 0 A, and mains present. Throws std::runtime_error if the socket cannot be set up.
  explicit pump_station_io(std::size_t pumps = 2, int port = 0);

  [[nodiscard]] std::size_t pumps() const noexcept { return pumps_; }
  /// Wet-well level, m above the floor. Rounded to whole mm and clamped to [0, 65.535] m (the
  /// register's range); NaN is written as 0xFFFF (the "no value" pattern the example config
  /// declares as a sentinel).
  void set_level_m(double level_m);
  /// Pump `k`'s run feedback. std::out_of_range for k >= pumps().
  void set_pump_running(std::size_t k, bool running);
  /// Pump `k`'s fault (trip) input. std::out_of_range for k >= pumps().
  void set_pump_fault(std::size_t k, bool fault);
  /// Pump `k`'s motor current, A: rounded to 0.1 A, clamped to [0, 6553.5]. std::out_of_range for
  /// k >= pumps().
  void set_pump_current_a(std::size_t k, double current_a);
  /// Pump `k`: current, fault, then run feedback (three register writes, one call).
  void set_pump(std::size_t k, bool running, bool fault, double current_a);
  /// Mains power present (false = the station lost its supply; the I/O module itself keeps
  /// answering, as on a UPS/battery-backed RTU).
  void set_mains_power(bool present);

  /// The [pump_station] table of the agent's config for this map (TOML text, device name
  /// `device_name`, pump ids "P1".."Pn", level valid range [0, `max_level_m`]). The agent needs a
  /// [[device]] of that name (driver modbus, transport tcp, host 127.0.0.1, port()) too.
  [[nodiscard]] std::string agent_config(const std::string& device_name, double max_level_m = 6.0) const;

  modbus_device& device() noexcept { return device_; }

 private:
  /// Sets discrete input `input` of pump `k` and its bit in the status word (one lock).
  void set_digital(std::size_t k, std::uint16_t input, bool on);
  std::size_t pumps_;
  std::mutex mutex_;
  std::uint16_t status_word_{0};
  modbus_device device_;
};

}  // namespace sewage::instruments
