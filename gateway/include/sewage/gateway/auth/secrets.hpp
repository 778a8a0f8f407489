#pragma once
/// \file
/// Password hashes, random tokens and their digests, all through libsodium (libsodium-dev;
/// DEPENDENCIES.md). Thread-safe (sodium_init() runs once, guarded by libsodium itself).

#include <string>
#include <string_view>

namespace sewage::gateway::auth {

/// The password hash stored for a user: libsodium crypto_pwhash_str (Argon2id, "$argon2id$v=19$..."),
/// with crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (2 passes, 64 MiB: libsodium's
/// recommendation for online logins, ~0.1 s here). Throws std::runtime_error when libsodium cannot
/// allocate the memory. The password itself is never kept or logged.
std::string hash_password(std::string_view password);

/// True when `password` matches `hash` (crypto_pwhash_str_verify, constant time in the password).
/// False for a malformed hash. Never throws.
bool verify_password(std::string_view hash, std::string_view password) noexcept;

/// `bytes` random bytes (randombytes_buf, the kernel's CSPRNG) as base64url without padding:
/// 32 bytes (256 bits) give 43 characters. Session ids, CSRF tokens and bearer tokens.
std::string random_token(std::size_t bytes = 32);

/// SHA-256 of `s` as 64 lower-case hex digits (crypto_hash_sha256). How session ids and bearer
/// tokens are kept at rest: they are 256-bit random, so a fast hash suffices (no dictionary to try),
/// and a stolen database does not hand out working sessions or tokens.
std::string sha256_hex(std::string_view s);

/// Compares without an early exit (sodium_memcmp); false when the lengths differ.
bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

}  // namespace sewage::gateway::auth
