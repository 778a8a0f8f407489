#pragma once
/// \file
/// `[om.inspections]` and `[om.assessment]` of the gateway configuration (issue 12 items 2 and 8;
/// gateway/README.md "Inspections" and "Contractor assessment"). Plain values, no I/O; thread-safe
/// to copy and read. Parsed by detail::read_om_inspections / read_om_assessment
/// (src/om/inspections_config.cpp), hooked into load_config.
///
/// Every default below is a COUNTY-CONFIGURABLE DEFAULT chosen for the demo county, not a value
/// taken from a standard: a county sets its own frequencies, checklists and weights.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::om {

/// Facility size class from the design capacity (issue 12 contract: `[om] size_class_limits_m3d`,
/// the same rule as om::size_class of om/settings.hpp, as an enum).
enum class facility_size { small, medium, large };
/// "small", "medium", "large".
std::string_view to_string(facility_size c) noexcept;
/// small below limits[0] m3/d, medium from limits[0] to below limits[1], large from limits[1].
facility_size size_class_of(double design_capacity_m3d, const std::array<double, 2>& limits_m3d) noexcept;

/// One checklist line. The inspector answers each with ok / not_ok / na and an optional note; a
/// not_ok answer is a finding and opens a work order (fault_type, severity below).
struct checklist_item {
  std::string key;         ///< [a-z0-9_]{1,32}, unique in its checklist ("outlet_clear")
  std::string label;       ///< shown to the inspector ("Outlet well clear")
  std::string fault_type;  ///< the work order's fault_type for a finding; default "inspection:<key>"
  std::string severity{"info"};  ///< the work order's severity for a finding: info | warning | critical (severity.hpp)
};

/// The site kinds a checklist exists for (pump_station arrives with issue 13).
inline constexpr std::array<std::string_view, 2> site_kinds{"terminal", "pump_station"};

struct inspection_settings {
  /// Days between inspections per size class (next due = last completed + interval). Defaults:
  /// large facilities weekly, medium every two weeks, small monthly (county-configurable).
  std::uint32_t interval_days_small{30};
  std::uint32_t interval_days_medium{14};
  std::uint32_t interval_days_large{7};
  /// Size class limits, m3/d: a copy of `[om] size_class_limits_m3d` (om/settings.hpp), set by
  /// load_config.
  std::array<double, 2> size_class_limits_m3d{30.0, 100.0};
  /// Checklist per site kind ("terminal", "pump_station"): shipped defaults, replaced per kind by
  /// `[om.inspections.checklist] terminal = [{key = "...", label = "..."}, ...]`.
  std::map<std::string, std::vector<checklist_item>, std::less<>> checklists{default_checklists()};

  /// Days between inspections of a facility of class `c`.
  [[nodiscard]] std::uint32_t interval_days(facility_size c) const noexcept;
  /// The shipped checklists (terminal and pump_station).
  static std::map<std::string, std::vector<checklist_item>, std::less<>> default_checklists();
};

/// The five parts of a contractor's (or town's) monthly score.
enum class assessment_part { on_time, reopen, inspection, availability, lab };
inline constexpr std::array<assessment_part, 5> all_assessment_parts{assessment_part::on_time, assessment_part::reopen,
                                                                     assessment_part::inspection,
                                                                     assessment_part::availability, assessment_part::lab};
/// "on_time", "reopen", "inspection", "availability", "lab".
std::string_view to_string(assessment_part p) noexcept;

struct assessment_settings {
  /// Points of each part; they must add up to 100 (checked when loading). Index = assessment_part.
  std::array<double, 5> weights{30, 20, 20, 15, 15};
  /// Deduction rule "below target": a part whose rate r (0..1) is below its target t loses
  /// weight x min(1, (t - r) / t) points; at or above the target nothing. Index = assessment_part;
  /// the reopen entry is unused (see reopen_rate_full_deduction).
  std::array<double, 5> targets{1.0, 0.0, 1.0, 0.95, 1.0};
  /// Deduction rule of the reopen part: a reopen rate q loses weight x min(1, q / this) points
  /// (0.2: one order in five reopened costs all the reopen points).
  double reopen_rate_full_deduction{0.2};
  [[nodiscard]] double weight(assessment_part p) const noexcept { return weights[static_cast<std::size_t>(p)]; }
  [[nodiscard]] double target(assessment_part p) const noexcept { return targets[static_cast<std::size_t>(p)]; }
};

}  // namespace sewage::gateway::om
