#pragma once
/// \file
/// Operations and maintenance (issue 12, gateway/README.md "Operations and maintenance"): the
/// `[om]` table of the gateway configuration (top-level keys), `[om.work_orders]` (+ its
/// `[[om.work_orders.policy]]` array) and `[[om.contractor]]`. Plain values; thread-safe to read.
/// Every key and its default is also in gateway/gateway.example.toml.

#include "sewage/gateway/severity.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::om {

/// One `[[om.work_orders.policy]]`: an alert of `type` (alert_rule.hpp type names, e.g.
/// "turbidity_high"; "*" = any type) at least `min_severity` that stays raised (not cleared)
/// `min_duration_s` seconds opens a work order automatically (source "alert").
struct work_order_policy {
  std::string type;
  severity min_severity{severity::warning};
  std::uint32_t min_duration_s{0};
};

/// The `[om.work_orders]` table.
struct work_order_settings {
  /// Due time after creation, hours, by severity (severity.hpp): `due_h = { critical = 4,
  /// warning = 24, info = 72 }`. 4 h for a critical fault: a same-day visit to a plant out of its
  /// limits; 24 h / 72 h: next day / within the week (county practice, configurable).
  std::uint32_t due_critical_h{4};
  std::uint32_t due_warning_h{24};
  std::uint32_t due_info_h{72};
  /// Overdue order: escalated to the town level when past due, to the county when past due by
  /// this many hours more (default 24).
  std::uint32_t escalate_county_after_h{24};
  /// How often overdue orders and pending auto-creation policies are judged, s (default 60).
  std::uint32_t check_interval_s{60};
  std::vector<work_order_policy> policies;

  /// The due delay of an order of severity `s`, ms. Never throws.
  [[nodiscard]] std::int64_t due_ms_for(severity s) const noexcept;
};

/// One `[[om.contractor]]`: an O&M contractor team.
struct contractor {
  std::string name;                 ///< `[A-Za-z0-9._-]{1,64}`, unique; accounts of role contractor name it
  std::string display_name;         ///< shown in the web application (default: name)
  std::vector<std::string> towns;   ///< registry towns it serves (all their sites)
  std::vector<std::string> sites;   ///< single sites it serves (takes precedence over towns)
};

/// The `[om]` table.
struct settings {
  /// Base URL of the web application as a phone reaches it; QR codes carry
  /// `<public_url>/#/checkin?site=<id>&t=<token>`. No trailing slash (load_config strips one).
  std::string public_url{"http://127.0.0.1:8080"};
  /// File of the 32-byte site-token key (om/site_token.hpp); made 0600 at first start when
  /// absent. Empty in a config = "site-key" beside the store (resolved by load_config).
  std::filesystem::path site_key_file;
  /// A check-in is refused when the phone is farther than this from the site, metres (geodesic
  /// distance on WGS84). 100 m: a terminal's registry position is a hand-held GPS reading (~10 m)
  /// and a phone indoors or under trees is off by tens of metres.
  double checkin_radius_m{100.0};
  /// Accuracy the phone reports above which a check-in is refused, metres (default 200).
  double checkin_max_accuracy_m{200.0};
  /// `[small_below, large_from]` m3/d: small < 30, medium 30..<100, large >= 100.
  std::array<double, 2> size_class_limits_m3d{30.0, 100.0};
  /// Largest photo upload, bytes (default 10 MiB: a phone camera JPEG is 2..6 MB).
  std::size_t photo_max_bytes{10u * 1024u * 1024u};
  /// Folder of uploaded photos. Empty in a config = "photos" beside the store.
  std::filesystem::path photo_dir;
  work_order_settings work_orders;
  std::vector<contractor> contractors;
};

/// The facility size class of a site of `design_capacity_m3d` m3/d under
/// `s.size_class_limits_m3d` = [a, b]: "small" below a, "large" at or above b, "medium" between.
/// A negative, NaN or unknown (0) capacity is "small". The returned view is a string literal.
/// Never throws.
std::string_view size_class(double design_capacity_m3d, const settings& s) noexcept;

}  // namespace sewage::gateway::om
