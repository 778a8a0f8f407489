#pragma once
/// \file
/// The county's terminal registry: a TOML file with one [[terminal]] table per terminal
/// (format fixed by the team lead, see gateway/registry.example.toml).

#include "sewage/gateway/config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sewage::gateway {

/// One registered terminal.
struct terminal_info {
  std::string id;       ///< proto terminal id, `[A-Za-z0-9_-]{1,32}`
  std::string name;
  std::string town;
  std::string village;
  double latitude_deg{0};   ///< WGS84, -90..90
  double longitude_deg{0};  ///< WGS84, -180..180
  double design_capacity_m3d{0};  ///< design treatment capacity, m3/day, > 0
  std::string discharge_grade;    ///< e.g. "grade_1"
  std::uint32_t report_interval_s{60};  ///< expected report interval, s
  thresholds limits;  ///< county defaults with this terminal's overrides applied
};

/// The registry: terminals in file order plus an index by id. Immutable once loaded; reloading
/// (SIGHUP) builds a new one. Lookups are thread-safe (const).
class registry {
 public:
  registry() = default;
  explicit registry(std::vector<terminal_info> terminals);
  /// Copies rebuild the index (it holds views into this object's own ids).
  registry(const registry& other) : registry(other.terminals_) {}
  registry& operator=(const registry& other) {
    if (this != &other) *this = registry(other.terminals_);
    return *this;
  }
  /// Moving a vector keeps its elements where they are, so the index's views stay valid.
  registry(registry&&) noexcept = default;
  registry& operator=(registry&&) noexcept = default;

  /// Index of `id` in terminals(), or std::nullopt. Never throws.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view id) const noexcept;
  [[nodiscard]] const std::vector<terminal_info>& terminals() const noexcept { return terminals_; }
  [[nodiscard]] std::size_t size() const noexcept { return terminals_.size(); }

 private:
  std::vector<terminal_info> terminals_;
  std::unordered_map<std::string_view, std::size_t> index_;  // views into terminals_
};

/// Loads and validates a registry file. `defaults` are the county thresholds that per-terminal
/// overrides start from. Throws config_error naming the file, the terminal index (from 0), its id
/// and the key, e.g. "registry.toml: terminal[3] (HY-WY-004).latitude: must be in [-90, 90]".
/// Duplicate ids and unknown keys are errors.
registry load_registry(const std::filesystem::path& path, const thresholds& defaults);

}  // namespace sewage::gateway
