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

/// What a registry entry is (issue 13 item 2): a treatment terminal, or a sewage pump station on
/// the pipe network. Effluent figures (volume, compliance, terminals reporting) count terminals
/// only; the pump-station rules judge pump stations only (gateway/README.md "Pump stations").
enum class site_kind { terminal, pump_station };
/// "terminal" | "pump_station". Never throws.
std::string_view to_string(site_kind k) noexcept;
/// Inverse of to_string; std::nullopt for anything else. Never throws.
std::optional<site_kind> parse_site_kind(std::string_view name) noexcept;

/// A pump station's facts from its optional [terminal.pump_station] table (its wet-well levels
/// go into terminal_info::limits). Informational: shown by the API, not used by the rules.
struct pump_station_info {
  std::uint32_t pumps{0};                       ///< pumps installed, 1..proto::limits::max_pumps; 0 = not given
  std::optional<double> pump_rated_current_a;   ///< rated motor current (nameplate), A
  friend bool operator==(const pump_station_info&, const pump_station_info&) = default;
};

/// One registered site: a terminal, or a pump station (`kind`). The struct keeps its historical
/// name: most of the gateway (state, history, alerts) treats both kinds alike.
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
  site_kind kind{site_kind::terminal};  ///< `kind` of the entry (default terminal)
  /// Pump stations only (village, design_capacity_m3d and discharge_grade are then not required:
  /// empty / 0 when not given).
  pump_station_info station;
  [[nodiscard]] bool is_terminal() const noexcept { return kind == site_kind::terminal; }
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
/// Duplicate ids and unknown keys are errors. `kind` = "terminal" (default) | "pump_station"; a
/// pump station needs id, name, town, latitude, longitude and report_interval_s (village,
/// design_capacity_m3d and discharge_grade are optional and not checked) and may have a
/// [terminal.pump_station] table (wet_well_high_m, wet_well_low_m, pumps, pump_rated_current_a),
/// applied after [terminal.thresholds]; a terminal may not.
registry load_registry(const std::filesystem::path& path, const thresholds& defaults);

}  // namespace sewage::gateway
