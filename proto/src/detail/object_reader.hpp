#pragma once
// Internal: typed, validating access to the fields of one JSON object. Each accessor records a
// problem (with the field's JSON Pointer path) in the shared list instead of throwing.

#include "sewage/proto/problem.hpp"
#include "sewage/proto/resolution.hpp"
#include "sewage/proto/timestamp.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::proto::detail {

enum class presence_rule { required, optional };

/// Character-class check for identifier-like strings.
using char_predicate = bool (*)(char) noexcept;

bool is_id_char(char c) noexcept;          // [A-Za-z0-9_-]
bool is_command_id_char(char c) noexcept;  // [A-Za-z0-9_.:-]

/// At most `max_bytes` of `s`, cut on a UTF-8 boundary, with "..." when shortened.
std::string clip(const std::string& s, std::size_t max_bytes);

/// Formats a bound for messages: 4000 -> "4000", 0.5 -> "0.5".
std::string format_number(double v);

class object_reader {
 public:
  /// `obj` must outlive the reader. `base` is the JSON Pointer of `obj` ("" for the root).
  object_reader(const nlohmann::json& obj, std::string base, std::vector<problem>& problems);

  [[nodiscard]] std::string path(std::string_view key) const;
  void add(std::string_view key, problem_code code, std::string reason);
  [[nodiscard]] bool has(std::string_view key) const;

  /// A string of at most `max_len` bytes.
  std::optional<std::string> text(std::string_view key, presence_rule rule, std::size_t max_len);
  /// A string of 1..max_len characters, each accepted by `allowed`; `what` names the pattern.
  std::optional<std::string> identifier(std::string_view key, presence_rule rule,
                                        std::size_t max_len, char_predicate allowed,
                                        std::string_view what);
  /// A finite number in [lo, hi]; `unit` is appended to the reason ("NTU").
  std::optional<double> number(std::string_view key, presence_rule rule, double lo, double hi,
                               std::string_view unit);
  /// A measured quantity: a finite number in [lo, hi] (checked before rounding), returned rounded
  /// to the resolution of `u` (resolution.hpp), so decode(encode(x)) is stable.
  std::optional<double> measured(std::string_view key, presence_rule rule, double lo, double hi,
                                 unit u);
  /// An unsigned integer in [lo, hi] (JSON integer; 1.0 is refused).
  std::optional<std::uint64_t> unsigned_integer(
      std::string_view key, presence_rule rule, std::uint64_t lo = 0,
      std::uint64_t hi = std::numeric_limits<std::uint64_t>::max());
  std::optional<bool> boolean(std::string_view key, presence_rule rule);
  std::optional<timestamp> time(std::string_view key, presence_rule rule);
  /// A nested object; nullptr when absent or not an object (a problem is recorded if required
  /// or of the wrong type).
  const nlohmann::json* object(std::string_view key, presence_rule rule);

  /// A string that `parse` maps to an enumerator; `allowed` lists the choices for the message.
  template <class E>
  std::optional<E> enumeration(std::string_view key, presence_rule rule,
                               std::optional<E> (*parse)(std::string_view) noexcept,
                               std::string_view allowed) {
    const nlohmann::json* v = find(key, rule);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      add(key, problem_code::wrong_type, "must be one of " + std::string(allowed) + ", got " + describe(*v));
      return std::nullopt;
    }
    auto e = parse(v->get_ref<const std::string&>());
    if (!e) {
      add(key, problem_code::bad_value,
          "must be one of " + std::string(allowed) + ", got \"" + v->get<std::string>() + "\"");
    }
    return e;
  }

  /// "string", "null", "boolean", "object", "array", or the number itself.
  static std::string describe(const nlohmann::json& v);

 private:
  const nlohmann::json* find(std::string_view key, presence_rule rule);

  const nlohmann::json& obj_;
  std::string base_;
  std::vector<problem>& problems_;
};

/// Encode side of `measured`: writes `v` rounded to the resolution of `u` when present.
void put_measured(nlohmann::json& j, const char* key, const std::optional<double>& v, unit u);

/// Checks that the document is an object and, if `expected_id` is given, that its "terminal_id"
/// equals it. Used by every terminal-scoped message.
void check_terminal_id(object_reader& r, const std::optional<std::string>& id,
                       std::optional<std::string_view> expected_id);

}  // namespace sewage::proto::detail
