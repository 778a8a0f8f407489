// Static files of the web application and the Debian JavaScript libraries (see the header).
#include "sewage/gateway/http/static_files.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace sewage::gateway::webapp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

http_response not_found(const std::string& message) {
  http_response r;
  r.status = 404;
  r.content_type = "application/json";
  r.body = json{{"error", {{"status", 404}, {"message", message}}}}.dump();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

/// A segment that may name a file or folder inside a root.
bool safe_segment(const std::string& s) noexcept {
  if (s.empty() || s.front() == '.') return false;  // ".", "..", hidden files
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '/' || c == '\\' || c == '\0'; });
}

/// fs::canonical when the path exists, else empty.
fs::path canonical_or_empty(const fs::path& p) {
  std::error_code ec;
  auto c = fs::canonical(p, ec);
  return ec ? fs::path{} : c;
}

/// True when `p` is `root` itself or below it (both canonical).
bool inside(const fs::path& root, const fs::path& p) {
  const auto r = root.native();
  const auto s = p.native();
  return s.size() > r.size() && s.compare(0, r.size(), r) == 0 && (r.back() == '/' || s[r.size()] == '/');
}

/// Does `header` (If-None-Match: "a", W/"b", or *) match `etag`? Weak comparison (RFC 9110 13.1.2).
bool etag_matches(std::string_view header, std::string_view etag) {
  auto strip_weak = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
  const auto want = strip_weak(etag);
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto tag = header.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*" || strip_weak(tag) == want) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view content_type_for(const fs::path& file) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  }};
  try {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [e, t] : types)
      if (e == ext) return t;
  } catch (...) {
  }
  return "application/octet-stream";
}

static_files::static_files(fs::path web_root, fs::path vendor_root) {
  web_root_ = canonical_or_empty(web_root);
  vendor_root_ = canonical_or_empty(vendor_root);
  if (web_root_.empty())
    spdlog::warn("http.web_root {} does not exist: the web application is not served", web_root.string());
  if (vendor_root_.empty())
    spdlog::warn("http.vendor_root {} does not exist: the map and charts will not load", vendor_root.string());
}

bool static_files::is_static_path(const std::vector<std::string>& s) noexcept {
  return s.empty() || (s.size() == 1 && s[0] == "index.html") ||
         (!s.empty() && (s[0] == "web" || s[0] == "vendor"));
}

std::optional<http_response> static_files::serve(const std::vector<std::string>& s,
                                                 std::string_view if_none_match) const {
  if (!is_static_path(s)) return std::nullopt;
  if (s.empty() || (s.size() == 1 && s[0] == "index.html")) return file(web_root_, {"index.html"}, false, if_none_match);
  const std::vector<std::string> rel(s.begin() + 1, s.end());
  return file(s[0] == "web" ? web_root_ : vendor_root_, rel, s[0] == "vendor", if_none_match);
}

http_response static_files::file(const fs::path& root, const std::vector<std::string>& rel, bool vendor,
                                 std::string_view if_none_match) const {
  static const std::string missing = "no such file";
  if (root.empty() || rel.empty()) return not_found(missing);
  fs::path p = root;
  for (const auto& seg : rel) {
    if (!safe_segment(seg)) return not_found(missing);
    p /= seg;
  }
  const auto real = canonical_or_empty(p);
  // Symlinks are followed, but the file they lead to must still be inside the root.
  if (real.empty() || !inside(root, real)) return not_found(missing);
  std::error_code ec;
  const auto st = fs::status(real, ec);
  if (ec || !fs::is_regular_file(st)) return not_found(missing);
  const auto size = fs::file_size(real, ec);
  if (ec || size > max_file_bytes) return not_found(missing);
  const auto mtime = fs::last_write_time(real, ec);
  if (ec) return not_found(missing);
  char tag[64];
  std::snprintf(tag, sizeof tag, "\"%jx-%llx\"", static_cast<std::uintmax_t>(size),
                static_cast<unsigned long long>(mtime.time_since_epoch().count()));
  http_response r;
  r.content_type = std::string(content_type_for(real));
  r.headers.emplace_back("ETag", tag);
  r.headers.emplace_back("Cache-Control", vendor ? "public, max-age=86400" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!if_none_match.empty() && etag_matches(if_none_match, tag)) {
    r.status = 304;
    return r;
  }
  std::ifstream in(real, std::ios::binary);
  if (!in) return not_found(missing);
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return not_found(missing);
  return r;
}

http_response ui_config_response(const config& cfg) {
  http_response r;
  r.content_type = "application/json";
  r.body = json{{"tile_url", cfg.http_tile_url},
                {"tile_attribution", cfg.http_tile_attribution},
                {"time_zone", cfg.time_zone},
                {"compliance_target", compliance_target},
                {"poll_interval_ms", cfg.http_poll_interval_ms},
                {"commands_enabled", false},  // api.cpp sets it from the caller's role
                {"network", !cfg.network_file.empty()},  // the map asks /api/network only then (no 503)
                {"version", SEWAGE_GATEWAY_VERSION}}
               .dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace sewage::gateway::webapp
