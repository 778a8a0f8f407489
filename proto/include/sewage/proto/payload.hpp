#pragma once
/// \file
/// Strict parsing of a JSON payload into a document, before any message-specific validation.

#include "sewage/proto/problem.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace sewage::proto {

/// Checks that are cheap and done before a full parse, in this order; the first failure stops:
///  1. size <= limits::max_payload_bytes              (code too_large)
///  2. valid UTF-8 (no overlongs, surrogates, > U+10FFFF) (code bad_utf8)
///  3. first non-blank byte is '{'                      (code not_object)
///  4. nesting <= limits::max_nesting_depth              (code too_deep)
/// Returns the first problem found, or std::nullopt. Never throws except bad_alloc. Thread-safe.
std::optional<problem> precheck_payload(std::string_view bytes);

/// Parses a payload that must be one JSON object. Runs `precheck_payload`, then a full parse that
/// also rejects duplicate keys (each reported with its path) and reports a syntax error or a
/// number overflow (1e999) with the path of the value being read. `doc` is set only when
/// `problems` is empty. Never throws except bad_alloc. Thread-safe.
struct parsed_payload {
  std::optional<nlohmann::json> doc;
  std::vector<problem> problems;
};
parsed_payload parse_payload(std::string_view bytes);

/// True when `bytes` is valid UTF-8 (RFC 3629). `error_offset`, if given, receives the offset of
/// the first invalid byte. Never throws.
bool is_valid_utf8(std::string_view bytes, std::size_t* error_offset = nullptr) noexcept;

/// Escapes one reference token for a JSON Pointer (RFC 6901: '~' -> "~0", '/' -> "~1").
std::string escape_pointer_token(std::string_view token);

}  // namespace sewage::proto
