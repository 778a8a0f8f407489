#pragma once
/// \file
/// The `[om.lab]` and `[om.archive]` tables of the gateway's configuration (issue 12 items 3-4;
/// gateway/README.md "Lab results" and "Site archive" explain every key; gateway.example.toml
/// shows the defaults).

#include "sewage/gateway/om/limits.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sewage::gateway::om {

/// `[om.lab]`.
struct lab_settings {
  /// The effluent limits file (om/limits.hpp). Default: the installed
  /// <datadir>/sewage-gateway/effluent_limits.toml, else gateway/data/effluent_limits.toml of the
  /// source tree (a build never installed). Relative paths are relative to the config file.
  std::filesystem::path limits_file;
  /// The table read from limits_file by load_config (never null after load_config; a config built
  /// in code without it judges nothing: every verdict "not judged").
  std::shared_ptr<const limits_table> limits;
  /// Days between two effluent samples per facility size class (`sampling_interval_days = {small =
  /// 180, medium = 90, large = 30}`, 1..3660). The defaults are a county choice (twice a year,
  /// quarterly, monthly), not a figure of DB33/973-2021 (whose monitoring clause was not found).
  std::uint32_t interval_small_days{180};
  std::uint32_t interval_medium_days{90};
  std::uint32_t interval_large_days{30};
};

/// `[om.archive]`.
struct archive_settings {
  /// The most rows of each history (work orders, inspections, clean-outs, lab results) one
  /// archive shows, newest first (1..10000).
  std::uint32_t history_limit{200};
};

/// The sampling interval of a size class (om::size_class, om/settings.hpp: `[om] size_class_limits_m3d`) ("small", "medium", "large"), days. Never throws.
std::uint32_t sampling_interval_days(std::string_view size_class, const lab_settings& s) noexcept;

/// The default limits file (see lab_settings::limits_file).
std::filesystem::path default_limits_file();

}  // namespace sewage::gateway::om
