#pragma once
/// \file
/// Signed site tokens (issue 12; gateway/README.md "Site tokens and check-in"). A site's QR code
/// carries `v1.<site_id>.<mac>` where mac = base64url without padding of
/// HMAC-SHA256(key, "sewage-site-v1:" + site_id) (libsodium crypto_auth_hmacsha256). A phone that
/// scanned the code proves it was shown the printed code at the site; the key never leaves the
/// gateway. Tokens do not expire: a replaced code needs a new key (all codes reprinted).
/// All functions are thread-safe (no shared state).

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::gateway::om {

/// The 32-byte secret that signs site tokens. Never logged, never in an API answer.
struct site_key {
  std::array<unsigned char, 32> bytes{};
};

/// Reads the key from `path` (exactly 32 bytes). When the file does not exist, makes 32 random
/// bytes (randombytes_buf), writes them with mode 0600 (parent folders created) and returns them.
/// Throws std::runtime_error naming the path (never the key) when the file has another size, is
/// readable by group/others (mode & 077), or cannot be read or written.
site_key load_or_create_site_key(const std::filesystem::path& path);

/// The token of `site_id`: "v1.<site_id>.<43 base64url characters>". `site_id` is a registry id
/// ([A-Za-z0-9_-], no '.'); throws std::invalid_argument for an empty id or one with '.'.
std::string sign_site_token(const site_key& key, std::string_view site_id);

/// The site id a well-formed, authentic token names; std::nullopt for anything else (wrong
/// version, malformed, forged or of another key). The MAC is checked in constant time
/// (sodium_memcmp). Never throws.
std::optional<std::string> verify_site_token(const site_key& key, std::string_view token) noexcept;

}  // namespace sewage::gateway::om
