#pragma once
/// \file
/// Injectable wall clock (UTC). The gateway takes one so tests and benchmarks can run days in seconds.

#include <sewage/proto/timestamp.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace sewage::gateway {

/// Source of "now" in UTC, millisecond resolution. Implementations are thread-safe.
class clock_source {
 public:
  virtual ~clock_source() = default;
  [[nodiscard]] virtual proto::timestamp now() const noexcept = 0;
};

/// std::chrono::system_clock.
class system_clock_source final : public clock_source {
 public:
  [[nodiscard]] proto::timestamp now() const noexcept override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
};

/// SIMULATION ONLY (`--time-scale`, `--start-time`, `--time-origin`): a clock that read `start` at
/// the real UTC wall time `origin` and runs `scale` times faster than real time. Processes given
/// the same three values (the simulator, its agents, the gateway) share one simulated clock.
/// Thread-safe (immutable after construction).
class simulated_clock_source final : public clock_source {
 public:
  /// Throws std::invalid_argument for a scale that is not a positive finite number.
  simulated_clock_source(proto::timestamp start, double scale, proto::timestamp origin)
      : start_(start), scale_(scale) {
    if (!(scale > 0.0) || scale > 1e6) throw std::invalid_argument("time scale must be in (0, 1e6]");
    t0_ = std::chrono::steady_clock::now() -
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::system_clock::now() - origin);
  }
  [[nodiscard]] proto::timestamp now() const noexcept override {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0_;
    return start_ + std::chrono::milliseconds(static_cast<std::int64_t>(elapsed.count() * scale_ * 1000.0));
  }

 private:
  proto::timestamp start_;
  double scale_;
  std::chrono::steady_clock::time_point t0_;
};

/// A clock that only moves when told to (tests). Thread-safe.
class manual_clock final : public clock_source {
 public:
  explicit manual_clock(proto::timestamp start) : ms_(start.time_since_epoch().count()) {}
  [[nodiscard]] proto::timestamp now() const noexcept override {
    return proto::timestamp(std::chrono::milliseconds(ms_.load()));
  }
  void set(proto::timestamp t) noexcept { ms_.store(t.time_since_epoch().count()); }
  void advance(std::chrono::milliseconds d) noexcept { ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace sewage::gateway
