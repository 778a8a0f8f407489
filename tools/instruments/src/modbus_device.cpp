#include "sewage/instruments/modbus_device.hpp"

#include <modbus.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <sstream>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

namespace sewage::instruments {

namespace {
std::uint16_t swap_bytes(std::uint16_t r) { return static_cast<std::uint16_t>((r >> 8) | (r << 8)); }
}  // namespace

std::vector<std::uint16_t> u32_registers(std::uint32_t v, order o) {
  std::uint16_t hi = static_cast<std::uint16_t>(v >> 16);
  std::uint16_t lo = static_cast<std::uint16_t>(v & 0xFFFF);
  if (o == order::badc || o == order::dcba) {
    hi = swap_bytes(hi);
    lo = swap_bytes(lo);
  }
  if (o == order::cdab || o == order::dcba) return {lo, hi};
  return {hi, lo};
}

std::vector<std::uint16_t> float_registers(float value, order o) {
  return u32_registers(std::bit_cast<std::uint32_t>(value), o);
}

std::size_t raise_descriptor_limit(std::size_t wanted) noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  const rlim_t target = lim.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(wanted)
                                                      : std::min(lim.rlim_max, static_cast<rlim_t>(wanted));
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < target) {
    rlimit raised = lim;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? wanted : static_cast<std::size_t>(lim.rlim_cur);
}

int move_above_select_range(int fd) noexcept {
  if (fd < 0 || fd >= FD_SETSIZE) return fd;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
  if (high < 0) return fd;  // EINVAL/EMFILE: the soft limit leaves no room above FD_SETSIZE
  ::close(fd);
  return high;
}

std::size_t open_descriptors_below_select_limit() {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = e.path().filename().string();
    int fd = 0;
    for (const char c : name) fd = fd * 10 + (c - '0');
    if (fd < FD_SETSIZE) ++n;
  }
  return n;  // includes the directory iterator's own descriptor
}

struct modbus_device::state {
  modbus_t* ctx{nullptr};
  modbus_mapping_t* map{nullptr};
  int listen_fd{-1};
  int wake{-1};  ///< eventfd: the destructor writes, the server polls
  register_layout layout;
  ~state() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake >= 0) ::close(wake);
    if (map != nullptr) modbus_mapping_free(map);
    if (ctx != nullptr) modbus_free(ctx);
  }
};

modbus_device::modbus_device(register_layout layout, int port, const std::string& host)
    : state_(std::make_unique<state>()) {
  state_->layout = layout;
  state_->ctx = modbus_new_tcp(host.c_str(), port);
  if (state_->ctx == nullptr) throw std::runtime_error(std::string("modbus_new_tcp: ") + modbus_strerror(errno));
  state_->map = modbus_mapping_new_start_address(layout.coils.start, layout.coils.count, layout.discrete_inputs.start,
                                                 layout.discrete_inputs.count, layout.holding.start, layout.holding.count,
                                                 layout.input.start, layout.input.count);
  if (state_->map == nullptr) throw std::runtime_error(std::string("modbus_mapping_new: ") + modbus_strerror(errno));
  state_->listen_fd = modbus_tcp_listen(state_->ctx, 16);
  if (state_->listen_fd < 0) throw std::runtime_error(std::string("modbus_tcp_listen: ") + modbus_strerror(errno));
  // Only client connections go through libmodbus' select(): keep the numbers below FD_SETSIZE free
  // for them (file comment).
  state_->listen_fd = move_above_select_range(state_->listen_fd);
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(state_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  // A request must arrive whole within 1 s once its first byte is there.
  modbus_set_indication_timeout(state_->ctx, 1, 0);
  state_->wake = ::eventfd(0, EFD_CLOEXEC);
  if (state_->wake < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  state_->wake = move_above_select_range(state_->wake);
  worker_ = std::thread([this] { serve(); });
}

modbus_device::~modbus_device() {
  stop_ = true;
  const std::uint64_t one = 1;
  while (::write(state_->wake, &one, sizeof one) < 0 && errno == EINTR) {
  }
  worker_.join();
}

void modbus_device::set_holding(std::uint16_t address, std::span<const std::uint16_t> values) {
  std::lock_guard lock(mutex_);
  const block& b = state_->layout.holding;
  if (address < b.start || address + values.size() > static_cast<std::size_t>(b.start) + b.count) {
    throw std::out_of_range("holding register outside the device layout");
  }
  for (std::size_t i = 0; i < values.size(); ++i) state_->map->tab_registers[address - b.start + i] = values[i];
}

void modbus_device::set_input(std::uint16_t address, std::span<const std::uint16_t> values) {
  std::lock_guard lock(mutex_);
  const block& b = state_->layout.input;
  if (address < b.start || address + values.size() > static_cast<std::size_t>(b.start) + b.count) {
    throw std::out_of_range("input register outside the device layout");
  }
  for (std::size_t i = 0; i < values.size(); ++i) state_->map->tab_input_registers[address - b.start + i] = values[i];
}

void modbus_device::set_coil(std::uint16_t address, bool value) {
  std::lock_guard lock(mutex_);
  const block& b = state_->layout.coils;
  if (address < b.start || address >= b.start + b.count) throw std::out_of_range("coil outside the device layout");
  state_->map->tab_bits[address - b.start] = value ? 1 : 0;
}

void modbus_device::set_discrete_input(std::uint16_t address, bool value) {
  std::lock_guard lock(mutex_);
  const block& b = state_->layout.discrete_inputs;
  if (address < b.start || address >= b.start + b.count) throw std::out_of_range("discrete input outside the device layout");
  state_->map->tab_input_bits[address - b.start] = value ? 1 : 0;
}

std::uint16_t modbus_device::holding(std::uint16_t address) const {
  std::lock_guard lock(mutex_);
  const block& b = state_->layout.holding;
  if (address < b.start || address >= b.start + b.count) throw std::out_of_range("holding register outside the device layout");
  return state_->map->tab_registers[address - b.start];
}

void modbus_device::set_behaviour(behaviour b, std::uint8_t exception_code) noexcept {
  exception_code_ = exception_code;
  behaviour_ = b;
}

void modbus_device::serve() {
  std::vector<int> clients;
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  while (!stop_) {
    std::vector<pollfd> fds;
    fds.push_back(pollfd{state_->listen_fd, POLLIN, 0});
    fds.push_back(pollfd{state_->wake, POLLIN, 0});
    for (const int c : clients) fds.push_back(pollfd{c, POLLIN, 0});
    // Idle devices sleep in poll() without waking up: many instances cost no CPU.
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n <= 0 || stop_) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      const int c = ::accept4(state_->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= FD_SETSIZE) {
        ++refused_;  // counted before the client can see the close
        ::close(c);  // libmodbus' select() would abort on it (file comment); the client sees a reset
      } else if (c >= 0) {
        clients.push_back(c);
      }
    }
    std::vector<int> closed;
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      modbus_set_socket(state_->ctx, fds[i].fd);
      const int rc = modbus_receive(state_->ctx, query);
      if (rc == -1) {
        closed.push_back(fds[i].fd);
        continue;
      }
      if (rc == 0) continue;  // not for us
      ++requests_;
      if (const int d = reply_delay_ms_.load(); d > 0 && behaviour_.load() != behaviour::silent) {
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
      }
      switch (behaviour_.load()) {
        case behaviour::normal: {
          std::lock_guard lock(mutex_);
          modbus_reply(state_->ctx, query, rc, state_->map);
          break;
        }
        case behaviour::silent: break;
        case behaviour::exception: modbus_reply_exception(state_->ctx, query, exception_code_.load()); break;
      }
    }
    for (const int c : closed) {
      ::close(c);
      std::erase(clients, c);
    }
  }
  for (const int c : clients) ::close(c);
  modbus_set_socket(state_->ctx, -1);
}

flowmeter::flowmeter(int port)
    : device_(register_layout{{}, {}, {0x1000, 0x40}, {}}, port) {
  set_flow_m3h(0.0F);
  set_total(0, 0.0F);
  const std::uint16_t flow_unit[] = {5};   // m3/h
  const std::uint16_t total_unit[] = {1};  // m3
  device_.set_holding(flow_unit_address, flow_unit);
  device_.set_holding(total_unit_address, total_unit);
}

void flowmeter::set_flow_m3h(float flow) { device_.set_holding(flow_address, float_registers(flow, order::cdab)); }

void flowmeter::set_total(std::uint32_t integer_m3, float fraction_m3) {
  // Both parts in one write, so that a reply never mixes two moments (the agent reads the four
  // registers 0x1018..0x101B in one request).
  auto regs = u32_registers(integer_m3, order::cdab);
  const auto frac = float_registers(fraction_m3, order::cdab);
  regs.insert(regs.end(), frac.begin(), frac.end());
  device_.set_holding(total_int_address, regs);
}

void flowmeter::set_empty_pipe_alarm(bool on) {
  const std::uint16_t v[] = {static_cast<std::uint16_t>(on ? 1 : 0)};
  device_.set_holding(empty_pipe_address, v);
}

void flowmeter::set_system_alarm(bool on) {
  const std::uint16_t v[] = {static_cast<std::uint16_t>(on ? 1 : 0)};
  device_.set_holding(system_alarm_address, v);
}

energy_meter::energy_meter(int port)
    : device_(register_layout{{}, {}, {0x2000, 0x2030}, {}}, port) {
  for (int ph = 0; ph < 3; ++ph)
    device_.set_holding(static_cast<std::uint16_t>(voltage_a_address + 2 * ph), float_registers(230.0F, order::abcd));
  for (int ph = 0; ph < 3; ++ph) set_current_a(ph, 0.0F);
  set_power_w(0.0F);
  set_energy_kwh(0.0F);
}

void energy_meter::set_power_w(float w) { device_.set_holding(power_address, float_registers(w, order::abcd)); }

void energy_meter::set_current_a(int phase, float amps) {
  device_.set_holding(static_cast<std::uint16_t>(current_a_address + 2 * phase), float_registers(amps, order::abcd));
}

void energy_meter::set_energy_kwh(float kwh) {
  device_.set_holding(energy_address, float_registers(kwh, order::abcd));
}

turbidity_probe::turbidity_probe(int port) : device_(register_layout{{}, {}, {0x2600, 5}, {}}, port) {
  set_temperature_c(20.0F);
  set_turbidity_ntu(0.0F);
  set_error_code(0);
}

void turbidity_probe::set_temperature_c(float t) {
  device_.set_holding(temperature_address, float_registers(t, order::dcba));
}
void turbidity_probe::set_turbidity_ntu(float ntu) {
  device_.set_holding(turbidity_address, float_registers(ntu, order::dcba));
}
void turbidity_probe::set_error_code(std::uint8_t code) {
  const std::uint16_t v[] = {static_cast<std::uint16_t>(code << 8)};
  device_.set_holding(error_address, v);
}

level_sensor::level_sensor(int port) : device_(register_layout{{}, {}, {0x0000, 0x0B}, {}}, port) {
  const std::uint16_t head[] = {0x0003, 0x0000, 0x000D, 0x0005, 0x0001};
  device_.set_holding(0x0000, head);
  set_distance_mm(0);
}

void level_sensor::set_distance_mm(std::uint16_t mm) {
  const std::uint16_t v[] = {mm};
  device_.set_holding(distance_address, v);
}

pump_station_io::pump_station_io(std::size_t pumps, int port)
    : pumps_(pumps),
      device_(register_layout{{}, {0, 17}, {status_word_register, 2}, {level_register, 9}}, port) {
  if (pumps == 0 || pumps > max_pumps) {
    throw std::invalid_argument("pump_station_io: pumps must be 1.." + std::to_string(max_pumps));
  }
  set_level_m(0.0);
  for (std::size_t k = 0; k < pumps_; ++k) set_pump(k, false, false, 0.0);
  set_mains_power(true);
}

void pump_station_io::set_level_m(double level_m) {
  std::uint16_t mm = 0xFFFF;
  if (std::isfinite(level_m)) mm = static_cast<std::uint16_t>(std::lround(std::clamp(level_m, 0.0, 65.535) * 1000.0));
  const std::uint16_t v[] = {mm};
  device_.set_input(level_register, v);
}

void pump_station_io::set_digital(std::size_t k, std::uint16_t input, bool on) {
  if (k >= pumps_) throw std::out_of_range("pump_station_io: no pump " + std::to_string(k));
  std::lock_guard lock(mutex_);
  const auto bit = static_cast<std::uint16_t>(1U << input);
  status_word_ = static_cast<std::uint16_t>(on ? (status_word_ | bit) : (status_word_ & ~bit));
  device_.set_discrete_input(input, on);
  const std::uint16_t v[] = {status_word_};
  device_.set_holding(status_word_register, v);
}

void pump_station_io::set_pump_running(std::size_t k, bool running) { set_digital(k, run_input(k), running); }

void pump_station_io::set_pump_fault(std::size_t k, bool fault) { set_digital(k, fault_input(k), fault); }

void pump_station_io::set_pump_current_a(std::size_t k, double current_a) {
  if (k >= pumps_) throw std::out_of_range("pump_station_io: no pump " + std::to_string(k));
  const double a = std::isfinite(current_a) ? std::clamp(current_a, 0.0, 6553.5) : 0.0;
  const std::uint16_t v[] = {static_cast<std::uint16_t>(std::lround(a * 10.0))};
  device_.set_input(current_register(k), v);
}

void pump_station_io::set_pump(std::size_t k, bool running, bool fault, double current_a) {
  set_pump_current_a(k, current_a);
  set_pump_fault(k, fault);
  set_pump_running(k, running);
}

void pump_station_io::set_mains_power(bool present) {
  std::lock_guard lock(mutex_);
  device_.set_discrete_input(mains_input, present);
  const std::uint16_t v[] = {static_cast<std::uint16_t>(present ? 1 : 0)};
  device_.set_holding(mains_word_register, v);
}

std::string pump_station_io::agent_config(const std::string& device_name, double max_level_m) const {
  std::ostringstream os;
  os << "[pump_station]\ndevice = \"" << device_name << "\"\n"
     << "level = {function = \"input\", address = " << level_register
     << ", type = \"u16\", scale = 0.001, min = 0.0, max = " << max_level_m << ", sentinels = [0xFFFF]}\n"
     << "mains_power = {function = \"discrete_input\", address = " << mains_input << "}\n";
  for (std::size_t k = 0; k < pumps_; ++k) {
    os << "[[pump_station.pump]]\nid = \"P" << (k + 1) << "\"\n"
       << "running = {function = \"discrete_input\", address = " << run_input(k) << "}\n"
       << "fault = {function = \"discrete_input\", address = " << fault_input(k) << "}\n"
       << "current = {function = \"input\", address = " << current_register(k)
       << ", type = \"u16\", scale = 0.1, min = 0.0, max = 1000.0}\n";
  }
  return os.str();
}

}  // namespace sewage::instruments
