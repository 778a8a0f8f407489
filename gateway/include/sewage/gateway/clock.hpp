#pragma once
/// \file
/// Injectable wall clock (UTC). The gateway takes one so tests and benchmarks can run days in seconds.

#include <sewage/proto/timestamp.hpp>

#include <atomic>
#include <chrono>

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
