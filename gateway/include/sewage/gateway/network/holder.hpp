#pragma once
/// \file
/// The gateway's current pipe network (network/model.hpp): one immutable model shared by every
/// thread, swapped atomically when a reload (SIGHUP) succeeds and kept when it fails.

#include "sewage/gateway/network/model.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace sewage::gateway::network {

/// What reload() did.
struct reload_result {
  bool ok{false};                 ///< the new model is current
  std::vector<problem> problems;  ///< every problem of a refused file (empty when ok)
};

/// Holds `std::shared_ptr<const network_model>`; null until a model is set (no network configured).
/// Thread-safety: every member may be called from any thread at once (std::atomic<shared_ptr>);
/// a reader keeps the model it got alive for as long as it holds the pointer, across swaps.
class holder {
 public:
  holder() = default;
  explicit holder(std::shared_ptr<const network_model> m) : current_(std::move(m)) {}
  /// The current model, or null when none was loaded. Never throws.
  [[nodiscard]] std::shared_ptr<const network_model> current() const noexcept { return current_.load(); }
  /// Makes `m` current. Never throws.
  void set(std::shared_ptr<const network_model> m) noexcept { current_.store(std::move(m)); }
  /// Loads and checks `path` (load_network). On success it becomes current and ok is true; on any
  /// problem the previous model stays current, every problem is logged (spdlog error, one line
  /// each: "network reload: <feature>: <reason>") and returned. Never throws.
  reload_result reload(const std::filesystem::path& path, const load_options& options) noexcept;
  /// Reloads refused since construction (metric sewage_gateway_network_reload_failures_total).
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_.load(); }

 private:
  std::atomic<std::shared_ptr<const network_model>> current_;
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace sewage::gateway::network
