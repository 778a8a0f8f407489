#pragma once
/// \file
/// The web application's static files (gateway/web: index.html, css/, js/, i18n/) and the Debian
/// JavaScript libraries it uses (Leaflet, Leaflet.markercluster, Chart.js under
/// /usr/share/javascript), served read-only from two folders:
///
///   GET /             -> <web_root>/index.html
///   GET /index.html   -> <web_root>/index.html
///   GET /web/<path>   -> <web_root>/<path>
///   GET /vendor/<path>-> <vendor_root>/<path>
///
/// Safety: a path is a list of already percent-decoded segments; a segment that is empty, ".",
/// "..", starts with '.', or holds '/', '\\' or NUL is refused (404, never a 400 that would tell
/// which names exist). The file's canonical path (symlinks resolved) must lie inside the root's
/// canonical path, so a symlink pointing out of the root is refused too. Only regular files up to
/// `max_file_bytes` are served. Every refusal is the same JSON 404 as the API's
/// ({"error":{"status":404,"message":"..."}}).
///
/// Caching: every 200 carries a strong `ETag` (size and modification time of the file) and
/// `Cache-Control` ("no-cache" for the application: it has no build step and no versioned names,
/// so the browser revalidates every time and gets 304s; "public, max-age=86400" for vendor files,
/// which change only with a Debian package update). `If-None-Match` with the current tag -> 304.

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::webapp {

/// Largest file served, bytes (the largest vendor file, leaflet.js, is ~430 KB; Chart.js ~550 KB).
inline constexpr std::uintmax_t max_file_bytes = 8u * 1024u * 1024u;

/// The Content-Type for a file name by its extension (lower-case comparison): html, js/mjs, css,
/// json/map, svg, png, jpg/jpeg, gif, ico, webp, woff/woff2, txt; anything else
/// "application/octet-stream". Text types carry "; charset=utf-8". Never throws.
std::string_view content_type_for(const std::filesystem::path& file) noexcept;

/// Serves the two folders. Immutable after construction: safe to use from any thread.
class static_files {
 public:
  /// `web_root` and `vendor_root` need not exist (then every request below them is a 404, and
  /// a warning is logged once here). Never throws for a missing folder.
  static_files(std::filesystem::path web_root, std::filesystem::path vendor_root);

  /// Answers a GET/HEAD for the decoded path `segments` (as api::handle splits them, empty
  /// segments dropped) when the path is one of the four forms above; std::nullopt for any other
  /// path (the API's routes). `if_none_match` is the request's If-None-Match header (may be empty,
  /// may list several tags or "*"). Never throws short of std::bad_alloc.
  [[nodiscard]] std::optional<http_response> serve(const std::vector<std::string>& segments,
                                                   std::string_view if_none_match) const;

  /// True when `segments` is one of the four static forms (whatever the method), so the caller
  /// can answer 405 to a POST there.
  [[nodiscard]] static bool is_static_path(const std::vector<std::string>& segments) noexcept;

  [[nodiscard]] const std::filesystem::path& web_root() const noexcept { return web_root_; }
  [[nodiscard]] const std::filesystem::path& vendor_root() const noexcept { return vendor_root_; }

 private:
  http_response file(const std::filesystem::path& root, const std::vector<std::string>& rel, bool vendor,
                     std::string_view if_none_match) const;
  std::filesystem::path web_root_;     ///< canonical when it exists
  std::filesystem::path vendor_root_;  ///< canonical when it exists
};

/// GET /api/ui-config: what the page needs before anything else, from the configuration:
/// {"tile_url", "tile_attribution", "time_zone", "compliance_target": 0.95 (the county's target
/// for the share of compliant effluent time, DESIGN.md), "poll_interval_ms", "commands_enabled"
/// (false here: api.cpp sets it from the caller's role, with "public_read"), "network" (a
/// `[network] file` is configured: the map asks GET /api/network only then), "version"}.
http_response ui_config_response(const config& cfg);

/// The county's compliance target (share of good-turbidity time that is compliant), from the
/// issue's "county's >= 95 % target".
inline constexpr double compliance_target = 0.95;

}  // namespace sewage::gateway::webapp
