#pragma once
/// \file
/// The terminal agent: device pollers (one thread per device) → interval builder → durable queue
/// → MQTT link, commands and the image source, all coordinated on one Boost.Asio io_context.
#include "sewage/agent/clock.hpp"
#include "sewage/agent/config.hpp"
#include "sewage/agent/sensor_driver.hpp"

#include <memory>
#include <optional>

namespace sewage::agent {

/// Agent version reported in the birth message and by --version.
std::string_view agent_version() noexcept;

/// glibc malloc arenas of the agent process (mallopt(M_ARENA_MAX)). glibc gives threads that
/// allocate at the same moment arenas of their own (up to 8 per core), each keeping its own free
/// pages resident; the agent's threads (one per device, Paho's two, the event loop) mostly sleep
/// and never compete for the allocator. One arena: 52 KiB less VmRSS with TLS and 3 devices
/// (agent_resources_bench --tls --points 5, with GLIBC_TUNABLES=glibc.malloc.arena_max=1;
/// issue 15 item 6, <= 10 MB).
inline constexpr int malloc_arena_max = 1;

/// Applies malloc_arena_max. Call at the start of main(), before any thread exists. Never throws.
void limit_malloc_arenas() noexcept;

struct agent_options {
  /// Simulation only: clock speed factor (see clock.hpp).
  double time_scale{1.0};
  /// Simulation only: simulated time at start.
  std::optional<proto::timestamp> start_time;
  /// SIMULATION ONLY: real UTC time at which the simulated clock read start_time.
  std::optional<proto::timestamp> time_origin;
};

class agent {
 public:
  /// Creates every driver (throws config_error naming the key), opens the durable queue (throws
  /// queue_error if no queue can be created) and the MQTT client. No I/O on devices or network yet.
  agent(agent_config config, const driver_registry& drivers, agent_options options = {});
  ~agent();
  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  /// Runs until SIGTERM or SIGINT: then finishes the current write, stops the pollers,
  /// publishes the retained status "offline"/"shutdown", disconnects and returns 0.
  int run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sewage::agent
