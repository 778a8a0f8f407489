#pragma once
/// \file
/// Site QR codes (issue 12 item 2; gateway/README.md "Inspections"): the check-in URL of a site
/// with its signed token (om/site_token.hpp), rendered server-side by libqrencode (libqrencode-dev
/// 4.1, DEPENDENCIES.md) as an SVG. Pure functions; thread-safe (libqrencode keeps no shared
/// state in QRcode_encodeString).

#include <string>
#include <string_view>

namespace sewage::gateway::om {

/// The contract's check-in URL: `<public_url>/#/checkin?site=<site_id>&t=<token>`; a trailing '/'
/// of `public_url` is dropped; site id and token are percent-encoded outside RFC 3986's
/// unreserved characters (registry ids and tokens never need it: [A-Za-z0-9_.-]).
std::string checkin_url(std::string_view public_url, std::string_view site_id, std::string_view token);

/// `text` as a QR code (error correction level M: 15 % of the code may be soiled or torn, enough
/// for a label outdoors; 8-bit mode; the smallest version that holds it) in an SVG document:
/// a white background, one black path, `module_px` user units per module and the 4-module quiet
/// zone ISO/IEC 18004 requires. Throws std::invalid_argument for an empty text or one too long
/// for any QR version (libqrencode's ERANGE), std::runtime_error on other libqrencode failures.
std::string qr_svg(std::string_view text, unsigned module_px = 4);

}  // namespace sewage::gateway::om
