#pragma once
/// \file
/// A problem found while decoding or validating a payload or topic.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sewage::proto {

/// Class of a rejection. Stable names (see `to_string`) are used as metric labels by the gateway.
enum class problem_code {
  too_large,      ///< payload larger than `max_payload_bytes`
  bad_utf8,       ///< payload is not valid UTF-8
  not_object,     ///< payload is not a JSON object
  too_deep,       ///< nested deeper than `max_nesting_depth`
  syntax,         ///< not valid JSON
  duplicate_key,  ///< the same key twice in one object
  missing,        ///< a required field is absent
  wrong_type,     ///< a field has the wrong JSON type (includes `null` and numbers sent as strings)
  not_finite,     ///< NaN or infinity in any spelling (including number overflow such as 1e999)
  out_of_range,   ///< a number outside its physical or protocol bounds
  bad_value,      ///< a string that is not one of the allowed values or does not match its pattern
  bad_timestamp,  ///< not ISO 8601 UTC
  id_mismatch,    ///< the payload names another terminal than the topic
  inconsistent,   ///< fields that contradict each other (e.g. min_ntu > ntu)
  bad_topic,      ///< topic does not belong to the v1 contract
  bad_image,      ///< image payload is not a bounded JPEG
};

/// Stable lower-case name of a problem code, e.g. "wrong_type". Never throws.
std::string_view to_string(problem_code code) noexcept;

/// One rejection: where (a JSON Pointer, RFC 6901; empty for the whole payload) and why.
struct problem {
  std::string path;
  problem_code code{problem_code::syntax};
  std::string reason;

  /// "path: reason", or "payload: reason" when the path is empty. This is the line that
  /// operators see in logs and in `sewage-proto validate`.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const problem&, const problem&) = default;
};

/// Outcome of decoding: a value, or the problems that prevented it.
/// Exactly one of `value` and a non-empty `problems` is set.
template <class T>
struct decoded {
  std::optional<T> value;
  std::vector<problem> problems;

  [[nodiscard]] bool ok() const noexcept { return value.has_value(); }
};

}  // namespace sewage::proto
