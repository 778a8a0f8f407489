#pragma once
/// \file
/// One owner per Modbus link. Several instruments usually share one RS-485 line (flowmeter slave
/// 1, turbidity probe slave 2, level sensor slave 3 in a terminal's cabinet), or one Modbus TCP
/// gateway in front of such a line. Every [[device]] on the same serial_device (or the same
/// host:port) gets the same `modbus_bus`: one libmodbus context, used by one device poll at a time
/// in FIFO order, so frames of different slaves never collide and a reply is only ever read by
/// the request that asked for it.
///
/// RTU timing (Modbus over Serial Line, Specification and Implementation Guide V1.02, §2.5.1.1):
/// frames are separated by a silent interval of at least 3.5 character times (t3.5); above
/// 19,200 baud the fixed value t3.5 = 1.750 ms is used. libmodbus 3.1.6 writes a request with a
/// plain write() and never waits for it to leave the UART (modbus-rtu.c `_modbus_rtu_send`, except
/// in its RS-485 RTS mode), so the bus measures the interval itself from the end of the previous
/// transaction after tcdrain() (the transmit buffer has drained), and adds the configured extra
/// delays of the line and of the slave about to be addressed.
///
/// After a timeout or a broken reply the bus waits one more response timeout, discarding anything
/// that arrives (a late reply is counted), flushes the port (modbus_flush) and waits until the
/// line has been silent for t3.5: a late answer of one slave can never be read as another's.
/// libmodbus itself does the same (sleep one response timeout, then flush) only with
/// MODBUS_ERROR_RECOVERY_PROTOCOL, which also retries writes forever; we keep recovery off.
/// Modbus TCP links are closed instead (a new connection never receives an old reply).
///
/// Error counters are kept per slave (since start) and shown in the reasons of failed samples,
/// e.g. "slave 2: no answer: Connection timed out (3 timeouts)". One slave's errors never change
/// another slave's results.
#include "sewage/agent/config.hpp"
#include "sewage/agent/point.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace sewage::agent {

/// Character format of a serial line.
struct serial_settings {
  int baud{9600};
  char parity{'N'};  ///< 'N', 'E' or 'O'
  int data_bits{8};
  int stop_bits{1};
  friend bool operator==(const serial_settings&, const serial_settings&) = default;
};

/// Bits per character on the wire: 1 start bit + data bits + parity bit (if any) + stop bits.
/// Never throws.
int bits_per_character(const serial_settings& s) noexcept;

/// The RTU inter-frame silent interval t3.5 (Modbus over Serial Line V1.02 §2.5.1.1): 3.5
/// character times, rounded up to whole microseconds; for baud rates above 19,200 the fixed
/// 1,750 µs. E.g. 9600 8N1 → 3,646 µs; 19200 8E1 → 2,006 µs; 115200 → 1,750 µs. `baud` must be
/// positive. Never throws.
std::chrono::microseconds rtu_silent_interval(const serial_settings& s) noexcept;

/// Where a link goes: an RS-485 line (serial device) or a Modbus TCP endpoint.
struct bus_endpoint {
  bool rtu{false};
  std::string serial_device;  ///< RTU
  serial_settings serial;     ///< RTU
  std::string host;           ///< TCP
  int port{502};              ///< TCP
  /// Extra quiet time before every request on this line, on top of t3.5 ([[serial_line]]
  /// extra_delay_ms). RTU only.
  std::chrono::milliseconds extra_delay{0};
  /// "/dev/ttyS1" or "192.168.1.20:502": the registry key and the name in logs.
  [[nodiscard]] std::string id() const;
};

/// Per-slave error counters, since the agent started.
struct slave_counters {
  std::uint64_t requests{0};      ///< requests sent
  std::uint64_t timeouts{0};      ///< no (complete) answer within the response timeout
  std::uint64_t bad_frames{0};    ///< CRC error, answer from another slave, malformed or short reply
  std::uint64_t exceptions{0};    ///< Modbus exception responses
  std::uint64_t late_replies{0};  ///< bytes that arrived after a timeout (discarded)
  std::uint64_t no_link{0};       ///< port could not be opened / TCP connect failed
  [[nodiscard]] std::uint64_t errors() const noexcept { return timeouts + bad_frames + exceptions + no_link; }
};

/// "3 timeouts, 1 bad frame, 2 late replies" (non-zero counters only; "" when none). Never throws
/// except bad_alloc.
std::string describe_counters(const slave_counters& c);

/// What one request gave.
enum class bus_outcome { ok, exception, timeout, bad_frame, no_link };

struct bus_result {
  bus_outcome outcome{bus_outcome::no_link};
  std::string detail;  ///< libmodbus's message, e.g. "Connection timed out"
};

/// Per-request settings of the device (slave) being polled.
struct slave_options {
  int unit_id{1};
  std::chrono::milliseconds response_timeout{500};
  /// Extra quiet time before every request to this slave ([[device]] extra_delay_ms). RTU only.
  std::chrono::milliseconds extra_delay{0};
};

class modbus_bus {
 public:
  /// Does not open the port; the first request does (so --check-config works offline).
  explicit modbus_bus(bus_endpoint endpoint);
  ~modbus_bus();
  modbus_bus(const modbus_bus&) = delete;
  modbus_bus& operator=(const modbus_bus&) = delete;

  [[nodiscard]] const bus_endpoint& endpoint() const noexcept { return endpoint_; }

  /// Exclusive use of the link for one poll of one device. Move-only; releasing it (destructor)
  /// hands the link to the next waiting device.
  class session {
   public:
    session(session&& o) noexcept : bus_(o.bus_), options_(o.options_) { o.bus_ = nullptr; }
    session& operator=(session&&) = delete;
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session();
    /// One read request to the session's slave: `count` registers (holding/input) into `regs`,
    /// or one bit (coil/discrete input) into regs[0] (0 or 1). Keeps the silent interval before
    /// sending and recovers the line after a failure (see the file comment). Blocks at most about
    /// 2 × response timeout + delays. Never throws except bad_alloc.
    bus_result read(register_kind kind, std::uint16_t address, int count, std::uint16_t* regs);

   private:
    friend class modbus_bus;
    session(modbus_bus* bus, slave_options options) : bus_(bus), options_(options) {}
    modbus_bus* bus_;
    slave_options options_;
  };

  /// Waits until every device that asked before has finished (FIFO), then gives the link to the
  /// caller. Thread-safe; may block for the other devices' polls.
  [[nodiscard]] session open(const slave_options& options);

  /// Counters of `unit_id` on this link. Thread-safe.
  [[nodiscard]] slave_counters counters(int unit_id) const;

  /// The silent interval this link keeps before a request to a slave with `slave_extra`
  /// (t3.5 + line extra + slave extra for RTU; 0 for TCP). Never throws.
  [[nodiscard]] std::chrono::microseconds gap_before_request(std::chrono::milliseconds slave_extra) const noexcept;

 private:
  struct context;
  bus_result transact(const slave_options& o, register_kind kind, std::uint16_t address, int count,
                      std::uint16_t* regs);
  bool ensure_connected(std::string& why);
  void drop_connection() noexcept;
  void recover(const slave_options& o, bool after_timeout);
  void mark_line_end() noexcept;
  void count(int unit_id, void (*bump)(slave_counters&));

  bus_endpoint endpoint_;
  std::unique_ptr<context> ctx_;
  std::chrono::steady_clock::time_point line_quiet_since_{};
  bool line_used_{false};

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::uint64_t next_ticket_{0};
  std::uint64_t serving_{0};

  mutable std::mutex counters_mutex_;
  std::map<int, slave_counters> counters_;
};

/// Hands out one modbus_bus per link. A serial line requested twice with different character
/// settings is refused. Thread-safe.
class modbus_bus_registry {
 public:
  /// `lines`: the [[serial_line]] tables (extra delay per line).
  explicit modbus_bus_registry(std::vector<serial_line_config> lines = {});

  /// The bus for `endpoint`, created on first use. Serial lines are compared by their resolved
  /// path (symbolic links such as /dev/serial/by-id/... followed where they exist). `device_name` and `device_key` ("device[1]")
  /// name the asking device in errors. Throws config_error("<device_key>.<baud|parity|data_bits|
  /// stop_bits>") when the same serial line was already requested by another device with a
  /// different value; the message names both devices, the line and both values.
  std::shared_ptr<modbus_bus> acquire(bus_endpoint endpoint, const std::string& device_name,
                                      const std::string& device_key);

 private:
  struct entry {
    std::shared_ptr<modbus_bus> bus;
    std::string first_name;
    std::string first_key;
  };
  std::vector<serial_line_config> lines_;
  std::mutex mutex_;
  std::map<std::string, entry> buses_;
};

}  // namespace sewage::agent
