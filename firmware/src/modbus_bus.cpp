#include "sewage/agent/modbus_bus.hpp"

#include <spdlog/spdlog.h>

#include <modbus.h>

#include <poll.h>
#include <termios.h>

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <thread>

namespace sewage::agent {

namespace {
using steady = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

/// Modbus over Serial Line V1.02 §2.5.1.1: fixed t3.5 above 19,200 baud.
constexpr microseconds fixed_t35{1750};
constexpr int fixed_timing_above_baud = 19200;

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// Waits up to `window` for bytes on `fd`; returns true if some arrived. Never throws.
bool bytes_within(int fd, microseconds window) {
  pollfd p{fd, POLLIN, 0};
  const auto deadline = steady::now() + window;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now() + microseconds(999));
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<milliseconds::rep>(0, left.count())));
    if (rc > 0) return (p.revents & POLLIN) != 0;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}
}  // namespace

int bits_per_character(const serial_settings& s) noexcept {
  return 1 + s.data_bits + (s.parity == 'N' ? 0 : 1) + s.stop_bits;
}

microseconds rtu_silent_interval(const serial_settings& s) noexcept {
  if (s.baud > fixed_timing_above_baud) return fixed_t35;
  // 3.5 characters of bits_per_character bits: 3.5 * bits * 1e6 / baud µs, rounded up.
  const long long numerator = 35LL * bits_per_character(s) * 100000LL;
  return microseconds((numerator + s.baud - 1) / s.baud);
}

std::string bus_endpoint::id() const { return rtu ? serial_device : host + ":" + std::to_string(port); }

std::string describe_counters(const slave_counters& c) {
  std::string out;
  const auto add = [&](std::uint64_t n, const char* one, const char* many) {
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + plural(n, one, many);
  };
  add(c.timeouts, "timeout", "timeouts");
  add(c.bad_frames, "bad frame", "bad frames");
  add(c.exceptions, "exception", "exceptions");
  add(c.late_replies, "late reply", "late replies");
  add(c.no_link, "failed open", "failed opens");
  return out;
}

struct modbus_bus::context {
  modbus_t* ctx{nullptr};
  bool connected{false};
  ~context() {
    if (ctx != nullptr) {
      if (connected) modbus_close(ctx);
      modbus_free(ctx);
    }
  }
};

modbus_bus::modbus_bus(bus_endpoint endpoint) : endpoint_(std::move(endpoint)), ctx_(std::make_unique<context>()) {}

modbus_bus::~modbus_bus() = default;

modbus_bus::session::~session() {
  if (bus_ == nullptr) return;
  {
    std::lock_guard lock(bus_->queue_mutex_);
    ++bus_->serving_;
  }
  bus_->queue_cv_.notify_all();
}

modbus_bus::session modbus_bus::open(const slave_options& options) {
  std::unique_lock lock(queue_mutex_);
  const std::uint64_t ticket = next_ticket_++;
  queue_cv_.wait(lock, [&] { return serving_ == ticket; });
  return session(this, options);
}

bus_result modbus_bus::session::read(register_kind kind, std::uint16_t address, int count, std::uint16_t* regs) {
  return bus_->transact(options_, kind, address, count, regs);
}

slave_counters modbus_bus::counters(int unit_id) const {
  std::lock_guard lock(counters_mutex_);
  const auto it = counters_.find(unit_id);
  return it == counters_.end() ? slave_counters{} : it->second;
}

void modbus_bus::count(int unit_id, void (*bump)(slave_counters&)) {
  std::lock_guard lock(counters_mutex_);
  bump(counters_[unit_id]);
}

microseconds modbus_bus::gap_before_request(milliseconds slave_extra) const noexcept {
  if (!endpoint_.rtu) return microseconds(0);
  return rtu_silent_interval(endpoint_.serial) + endpoint_.extra_delay + slave_extra;
}

void modbus_bus::drop_connection() noexcept {
  if (ctx_->ctx != nullptr) {
    if (ctx_->connected) {
      modbus_flush(ctx_->ctx);
      modbus_close(ctx_->ctx);
    }
    modbus_free(ctx_->ctx);
    ctx_->ctx = nullptr;
  }
  ctx_->connected = false;
}

bool modbus_bus::ensure_connected(std::string& why) {
  if (ctx_->connected) return true;
  if (ctx_->ctx == nullptr) {
    const auto& e = endpoint_;
    ctx_->ctx = e.rtu ? modbus_new_rtu(e.serial_device.c_str(), e.serial.baud, e.serial.parity, e.serial.data_bits,
                                       e.serial.stop_bits)
                      : modbus_new_tcp(e.host.c_str(), e.port);
    if (ctx_->ctx == nullptr) {
      why = std::string("cannot create context: ") + modbus_strerror(errno);
      return false;
    }
  }
  if (modbus_connect(ctx_->ctx) != 0) {
    why = std::string("connect failed: ") + modbus_strerror(errno);
    modbus_free(ctx_->ctx);
    ctx_->ctx = nullptr;
    return false;
  }
  ctx_->connected = true;
  if (endpoint_.rtu) {
    // Whatever was on the line before we opened it is not an answer to us.
    modbus_flush(ctx_->ctx);
    mark_line_end();
  }
  return true;
}

void modbus_bus::mark_line_end() noexcept {
  // The silent interval counts from the moment our last frame has left the UART.
  if (endpoint_.rtu && ctx_->connected) ::tcdrain(modbus_get_socket(ctx_->ctx));
  line_quiet_since_ = steady::now();
  line_used_ = true;
}

void modbus_bus::recover(const slave_options& o, bool after_timeout) {
  if (!endpoint_.rtu) {
    // TCP: a new connection can never receive the late answer to this request.
    drop_connection();
    return;
  }
  const int fd = modbus_get_socket(ctx_->ctx);
  ::tcdrain(fd);
  // A reply may still be on its way: wait one more response timeout and discard what comes.
  if (bytes_within(fd, std::chrono::duration_cast<microseconds>(o.response_timeout)) && after_timeout) {
    count(o.unit_id, [](slave_counters& c) { ++c.late_replies; });
  }
  // Discard, then require the line to stay silent for t3.5 (bounded: a babbling line is left to
  // the next request's own timeout handling).
  const microseconds quiet = rtu_silent_interval(endpoint_.serial);
  for (int i = 0; i < 20; ++i) {
    modbus_flush(ctx_->ctx);
    if (!bytes_within(fd, quiet)) break;
  }
  mark_line_end();
}

bus_result modbus_bus::transact(const slave_options& o, register_kind kind, std::uint16_t address, int count_,
                                std::uint16_t* regs) {
  bus_result r;
  if (!ensure_connected(r.detail)) {
    r.outcome = bus_outcome::no_link;
    count(o.unit_id, [](slave_counters& c) { ++c.no_link; });
    return r;
  }
  modbus_t* ctx = ctx_->ctx;
  if (endpoint_.rtu && line_used_) {
    ::tcdrain(modbus_get_socket(ctx));
    std::this_thread::sleep_until(line_quiet_since_ + gap_before_request(o.extra_delay));
  }
  modbus_set_slave(ctx, o.unit_id);
  const auto ms = o.response_timeout.count();
  modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(ms / 1000), static_cast<std::uint32_t>((ms % 1000) * 1000));
  count(o.unit_id, [](slave_counters& c) { ++c.requests; });
  std::uint8_t bit = 0;
  int rc = -1;
  switch (kind) {
    case register_kind::holding: rc = modbus_read_registers(ctx, address, count_, regs); break;
    case register_kind::input: rc = modbus_read_input_registers(ctx, address, count_, regs); break;
    case register_kind::coil: rc = modbus_read_bits(ctx, address, 1, &bit); break;
    case register_kind::discrete_input: rc = modbus_read_input_bits(ctx, address, 1, &bit); break;
  }
  const bool is_bit = kind == register_kind::coil || kind == register_kind::discrete_input;
  if (rc == (is_bit ? 1 : count_)) {
    if (is_bit) regs[0] = bit;
    mark_line_end();
    r.outcome = bus_outcome::ok;
    return r;
  }
  const int err = errno;
  if (rc < 0 && err >= EMBXILFUN && err <= EMBXGTAR) {
    // An exception response: the slave answered in full, the line is in sync.
    mark_line_end();
    count(o.unit_id, [](slave_counters& c) { ++c.exceptions; });
    r.outcome = bus_outcome::exception;
    r.detail = modbus_strerror(err);
    return r;
  }
  const bool timeout = rc < 0 && err == ETIMEDOUT;
  r.outcome = timeout ? bus_outcome::timeout : bus_outcome::bad_frame;
  r.detail = rc >= 0 ? "short reply" : modbus_strerror(err);
  count(o.unit_id, timeout ? +[](slave_counters& c) { ++c.timeouts; } : +[](slave_counters& c) { ++c.bad_frames; });
  if (!timeout) spdlog::debug("{}: slave {}: {}", endpoint_.id(), o.unit_id, r.detail);
  recover(o, timeout);
  return r;
}

modbus_bus_registry::modbus_bus_registry(std::vector<serial_line_config> lines) : lines_(std::move(lines)) {}

std::shared_ptr<modbus_bus> modbus_bus_registry::acquire(bus_endpoint endpoint, const std::string& device_name,
                                                         const std::string& device_key) {
  if (endpoint.rtu) {
    for (const auto& l : lines_) {
      if (l.serial_device == endpoint.serial_device) endpoint.extra_delay = milliseconds(l.extra_delay_ms);
    }
  }
  // One line may be named twice (/dev/ttyS1 and a /dev/serial/by-id/... link to it): key RTU
  // lines by the resolved path where it exists.
  std::string line = endpoint.id();
  if (endpoint.rtu) {
    std::error_code ec;
    const auto resolved = std::filesystem::weakly_canonical(endpoint.serial_device, ec);
    if (!ec && !resolved.empty()) line = resolved.string();
  }
  const std::string id = (endpoint.rtu ? "rtu:" : "tcp:") + line;
  std::lock_guard lock(mutex_);
  const auto it = buses_.find(id);
  if (it == buses_.end()) {
    auto bus = std::make_shared<modbus_bus>(std::move(endpoint));
    buses_.emplace(id, entry{bus, device_name, device_key});
    return bus;
  }
  if (endpoint.rtu) {
    const serial_settings& a = it->second.bus->endpoint().serial;
    const serial_settings& b = endpoint.serial;
    const auto refuse = [&](const char* key, const std::string& first, const std::string& second) {
      throw config_error(device_key + "." + key,
                         "serial line " + endpoint.serial_device + " is opened by device '" + it->second.first_name +
                             "' (" + it->second.first_key + ") with " + key + " " + first + " and by device '" +
                             device_name + "' (" + device_key + ") with " + key + " " + second +
                             ": all devices on one line must use the same settings");
    };
    if (a.baud != b.baud) refuse("baud", std::to_string(a.baud), std::to_string(b.baud));
    if (a.parity != b.parity) refuse("parity", std::string(1, a.parity), std::string(1, b.parity));
    if (a.data_bits != b.data_bits) refuse("data_bits", std::to_string(a.data_bits), std::to_string(b.data_bits));
    if (a.stop_bits != b.stop_bits) refuse("stop_bits", std::to_string(a.stop_bits), std::to_string(b.stop_bits));
  }
  return it->second.bus;
}

}  // namespace sewage::agent
