#include "sewage/instruments/rtu_bus.hpp"

#include <modbus.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace sewage::instruments {

namespace {
using steady = std::chrono::steady_clock;

modbus_t* new_rtu(const rtu_line& l) {
  modbus_t* ctx = modbus_new_rtu(l.path.c_str(), l.baud, l.parity, l.data_bits, l.stop_bits);
  if (ctx == nullptr) throw std::runtime_error(std::string("modbus_new_rtu: ") + modbus_strerror(errno));
  return ctx;
}
}  // namespace

struct rtu_bus_emulator::slave {
  modbus_t* ctx{nullptr};
  modbus_mapping_t* map{nullptr};
  register_layout layout;
  behaviour mode{behaviour::normal};
  std::uint8_t exception_code{4};
  std::chrono::milliseconds reply_delay{0};
  std::uint64_t requests{0};
  std::uint64_t replies{0};
  ~slave() {
    if (map != nullptr) modbus_mapping_free(map);
    if (ctx != nullptr) modbus_free(ctx);
  }
};

struct rtu_bus_emulator::state {
  rtu_line line;
  modbus_t* owner{nullptr};     ///< opened the port and owns its fd
  modbus_t* listener{nullptr};  ///< slave id 0: frames every unicast request without answering
  modbus_t* scratch{nullptr};   ///< frames requests for ids nobody serves (CRC check only)
  int fd{-1};
  int wake[2]{-1, -1};
  int feed[2]{-1, -1};  ///< bytes of one frame handed to the addressed slave's context
  std::optional<steady::time_point> last_activity;
  bool pending_after_reply{false};  ///< the master sent before the last reply was written
  ~state() {
    if (listener != nullptr) modbus_free(listener);
    if (scratch != nullptr) modbus_free(scratch);
    if (owner != nullptr) {
      modbus_close(owner);
      modbus_free(owner);
    }
    for (const int f : wake) {
      if (f >= 0) ::close(f);
    }
    for (const int f : feed) {
      if (f >= 0) ::close(f);
    }
  }
  void new_listener() {
    if (listener != nullptr) modbus_free(listener);
    listener = new_rtu(line);
    modbus_set_slave(listener, 0);
    modbus_set_socket(listener, fd);
    modbus_set_indication_timeout(listener, 1, 0);
    modbus_set_byte_timeout(listener, 0, 50000);  // a frame broken off by a collision
  }
  void drain_feed() const {
    std::uint8_t junk[512];
    while (::read(feed[0], junk, sizeof junk) > 0) {
    }
  }
};

rtu_bus_emulator::rtu_bus_emulator(rtu_line line, std::chrono::microseconds required_gap)
    : state_(std::make_unique<state>()), required_gap_(required_gap) {
  state_->line = std::move(line);
  state_->owner = new_rtu(state_->line);
  if (modbus_connect(state_->owner) != 0) {
    throw std::runtime_error("cannot open " + state_->line.path + ": " + modbus_strerror(errno));
  }
  state_->fd = modbus_get_socket(state_->owner);
  state_->scratch = new_rtu(state_->line);
  modbus_set_indication_timeout(state_->scratch, 0, 100000);
  if (::pipe2(state_->wake, O_CLOEXEC) != 0 || ::pipe2(state_->feed, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  state_->new_listener();
  worker_ = std::thread([this] { serve(); });
}

rtu_bus_emulator::~rtu_bus_emulator() {
  stop_ = true;
  const char byte = 1;
  while (::write(state_->wake[1], &byte, 1) < 0 && errno == EINTR) {
  }
  worker_.join();
}

void rtu_bus_emulator::add_slave(int id, register_layout layout) {
  if (id < 1 || id > 247) throw std::invalid_argument("slave id must be in 1..247");
  auto s = std::make_unique<slave>();
  s->layout = layout;
  s->ctx = new_rtu(state_->line);
  modbus_set_slave(s->ctx, id);
  modbus_set_indication_timeout(s->ctx, 0, 100000);
  s->map = modbus_mapping_new_start_address(layout.coils.start, layout.coils.count, layout.discrete_inputs.start,
                                            layout.discrete_inputs.count, layout.holding.start, layout.holding.count,
                                            layout.input.start, layout.input.count);
  if (s->map == nullptr) throw std::runtime_error(std::string("modbus_mapping_new: ") + modbus_strerror(errno));
  std::lock_guard lock(mutex_);
  if (!slaves_.emplace(id, std::move(s)).second) throw std::invalid_argument("slave id served twice");
}

void rtu_bus_emulator::set_holding(int id, std::uint16_t address, std::span<const std::uint16_t> values) {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  if (it == slaves_.end()) throw std::invalid_argument("unknown slave id");
  const block& b = it->second->layout.holding;
  if (address < b.start || address + values.size() > static_cast<std::size_t>(b.start) + b.count) {
    throw std::out_of_range("holding register outside the slave's layout");
  }
  for (std::size_t i = 0; i < values.size(); ++i) it->second->map->tab_registers[address - b.start + i] = values[i];
}

void rtu_bus_emulator::set_input(int id, std::uint16_t address, std::span<const std::uint16_t> values) {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  if (it == slaves_.end()) throw std::invalid_argument("unknown slave id");
  const block& b = it->second->layout.input;
  if (address < b.start || address + values.size() > static_cast<std::size_t>(b.start) + b.count) {
    throw std::out_of_range("input register outside the slave's layout");
  }
  for (std::size_t i = 0; i < values.size(); ++i) it->second->map->tab_input_registers[address - b.start + i] = values[i];
}

void rtu_bus_emulator::set_behaviour(int id, behaviour b, std::uint8_t exception_code) {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  if (it == slaves_.end()) throw std::invalid_argument("unknown slave id");
  it->second->mode = b;
  it->second->exception_code = exception_code;
}

void rtu_bus_emulator::set_reply_delay(int id, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  if (it == slaves_.end()) throw std::invalid_argument("unknown slave id");
  it->second->reply_delay = delay;
}

std::uint64_t rtu_bus_emulator::requests(int id) const {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  return it == slaves_.end() ? 0 : it->second->requests;
}

std::uint64_t rtu_bus_emulator::replies(int id) const {
  std::lock_guard lock(mutex_);
  const auto it = slaves_.find(id);
  return it == slaves_.end() ? 0 : it->second->replies;
}

rtu_bus_stats rtu_bus_emulator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void rtu_bus_emulator::serve() {
  std::uint8_t frame[MODBUS_RTU_MAX_ADU_LENGTH];
  while (!stop_) {
    pollfd fds[2] = {{state_->fd, POLLIN, 0}, {state_->wake[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n <= 0 || stop_) continue;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (fds[0].revents & POLLIN) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the other pty end is not open yet
      continue;
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    const auto first_byte = steady::now();
    std::memset(frame, 0, sizeof frame);
    const int rc = modbus_receive(state_->listener, frame);
    if (rc == 0) {
      // A unicast frame (the listener serves id 0): its bytes are in `frame`. The listener now
      // expects another slave's answer next; a fresh one expects a request.
      state_->new_listener();
      handle_frame(frame, first_byte);
    } else if (rc > 0) {
      std::lock_guard lock(mutex_);
      ++stats_.frames;  // broadcast (id 0): never answered in RTU
      state_->last_activity = steady::now();
    } else if (errno == EMBBADCRC || errno == EMBBADDATA || errno == ETIMEDOUT) {
      std::lock_guard lock(mutex_);
      ++stats_.bad_frames;
      ::tcflush(state_->fd, TCIFLUSH);
      state_->last_activity = steady::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

void rtu_bus_emulator::handle_frame(const std::uint8_t* frame, steady::time_point first_byte) {
  const int id = frame[0];
  std::uint8_t req[MODBUS_RTU_MAX_ADU_LENGTH];
  std::unique_lock lock(mutex_);
  const auto it = slaves_.find(id);
  slave* s = it == slaves_.end() ? nullptr : it->second.get();
  modbus_t* ctx = s != nullptr ? s->ctx : state_->scratch;
  if (s == nullptr && modbus_set_slave(ctx, id) != 0) ctx = nullptr;
  int rc = -1;
  if (ctx != nullptr) {
    // Hand the bytes to the addressed slave's context: it frames the request (length from the
    // function code) and checks the CRC; bytes beyond the frame stay in the pipe and are drained.
    if (::write(state_->feed[1], frame, MODBUS_RTU_MAX_ADU_LENGTH) == MODBUS_RTU_MAX_ADU_LENGTH) {
      modbus_set_socket(ctx, state_->feed[0]);
      rc = modbus_receive(ctx, req);
    }
    state_->drain_feed();
  }
  if (rc <= 0) {
    ++stats_.bad_frames;
    ::tcflush(state_->fd, TCIFLUSH);
    state_->last_activity = steady::now();
    state_->pending_after_reply = false;
    return;
  }
  ++stats_.frames;
  if (state_->last_activity) {
    const auto gap = state_->pending_after_reply
                         ? std::chrono::microseconds(0)
                         : std::chrono::duration_cast<std::chrono::microseconds>(first_byte - *state_->last_activity);
    ++stats_.gaps_measured;
    if (gap < required_gap_) ++stats_.gaps_below_required;
    stats_.min_gap = std::min(stats_.min_gap, gap);
  }
  state_->pending_after_reply = false;
  if (s == nullptr) {
    ++stats_.unknown_slave;
    state_->last_activity = steady::now();
    return;
  }
  ++s->requests;
  if (s->mode == behaviour::silent) {
    state_->last_activity = steady::now();
    return;
  }
  if (s->reply_delay.count() > 0) {
    const auto d = s->reply_delay;
    lock.unlock();
    std::this_thread::sleep_for(d);
    lock.lock();
  }
  // Bytes already waiting before the reply is written were sent by a master that did not wait
  // for this answer (it gave up, or talks over the slave): that next frame has no gap at all.
  // Checked before the write, never after it: a correct master may send 1.75 ms after reading
  // the reply, which on a loaded machine can come before this thread runs again.
  int pending = 0;
  const bool master_talked_over = ::ioctl(state_->fd, FIONREAD, &pending) == 0 && pending > 0;
  // The reply ends on the line when write() hands it over (a pty has no wire time): stamp the
  // start, so a master that waits after reading the reply is never measured short.
  state_->last_activity = steady::now();
  modbus_set_socket(ctx, state_->fd);
  if (s->mode == behaviour::exception) {
    modbus_reply_exception(ctx, req, s->exception_code);
  } else {
    modbus_reply(ctx, req, rc, s->map);
  }
  ::tcdrain(state_->fd);
  modbus_set_socket(ctx, state_->feed[0]);
  ++s->replies;
  state_->pending_after_reply = master_talked_over;
}

}  // namespace sewage::instruments
