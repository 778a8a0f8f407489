#pragma once
/// \file
/// HTTP hardening shared by the listener and the configuration check: the security headers every
/// response carries and the check of an HTTPS certificate/key pair.
///
/// Headers (gateway/README.md "HTTP hardening"):
///   Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self';
///     img-src 'self' data: blob: [tile source]; connect-src 'self'; font-src 'self'; object-src 'none';
///     base-uri 'none'; form-action 'self'; frame-ancestors 'none'
///   X-Content-Type-Options: nosniff
///   Referrer-Policy: same-origin
///   X-Frame-Options: DENY  (frame-ancestors for browsers without CSP level 2)
///   Strict-Transport-Security: max-age=31536000  (HTTPS listener only; one year, the value
///     hstspreload.org asks for; no includeSubDomains: the county's other hosts are not ours)
/// No 'unsafe-inline' anywhere: the web application has no inline script, no inline event handler
/// and no style attribute in markup; Leaflet, Leaflet.markercluster and Chart.js set styles through
/// the CSSOM (element.style), which style-src does not restrict. img-src allows data: (Leaflet's
/// and the stylesheets' small inline images) and blob: (the terminal's picture, fetched and shown
/// through URL.createObjectURL).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sewage::gateway::http_security {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// The CSP source expression for Leaflet's tile URL template, e.g.
/// "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png" -> "https://*.tile.openstreetmap.org",
/// "http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png" -> "http://10.0.0.5:8081". A template
/// placeholder is accepted only as the whole first label of the host (CSP wildcards exist only
/// there). Returns std::nullopt with `why` set when the URL is not http(s)://host[:port]/..., or
/// holds characters a CSP source may not (space, ';', ',', quotes). Never throws short of bad_alloc.
std::optional<std::string> tile_source(std::string_view tile_url, std::string* why = nullptr);

/// The headers of every response (see the file comment). `tile_url` is http.tile_url (empty = no
/// base map: img-src only 'self' data: blob:; a URL tile_source() refuses adds nothing: load_config
/// refuses it before). `https` adds Strict-Transport-Security. Never throws short of bad_alloc.
header_list security_headers(std::string_view tile_url, bool https);

/// Loads a PEM certificate chain and PEM private key the way the HTTPS listener does and checks
/// that the key belongs to the certificate. Returns std::nullopt when usable, else the reason
/// (naming the file and OpenSSL's message; never the key's content). Thread-safe.
std::optional<std::string> tls_files_problem(const std::filesystem::path& cert_file,
                                             const std::filesystem::path& key_file);

}  // namespace sewage::gateway::http_security
