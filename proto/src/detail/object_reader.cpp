#include "detail/object_reader.hpp"

#include "sewage/proto/payload.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace sewage::proto::detail {
namespace {

bool is_non_finite_spelling(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.erase(0, 1);
  return s == "nan" || s == "inf" || s == "infinity";
}

std::string range_text(double lo, double hi, std::string_view unit) {
  std::string t;
  if (std::isinf(hi)) {
    t = ">= " + format_number(lo);
  } else {
    t = "in [" + format_number(lo) + ", " + format_number(hi) + "]";
  }
  if (!unit.empty()) {
    t += ' ';
    t += unit;
  }
  return t;
}

}  // namespace

std::string clip(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  // Do not cut a UTF-8 sequence in half: back off over continuation bytes.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) --n;
  return s.substr(0, n) + "...";
}

bool is_id_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_command_id_char(char c) noexcept { return is_id_char(c) || c == '.' || c == ':'; }

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

object_reader::object_reader(const nlohmann::json& obj, std::string base,
                             std::vector<problem>& problems)
    : obj_(obj), base_(std::move(base)), problems_(problems) {}

std::string object_reader::path(std::string_view key) const {
  return base_ + "/" + escape_pointer_token(key);
}

void object_reader::add(std::string_view key, problem_code code, std::string reason) {
  problems_.push_back(problem{path(key), code, std::move(reason)});
}

bool object_reader::has(std::string_view key) const {
  return obj_.is_object() && obj_.contains(key);
}

std::string object_reader::describe(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::string: return "string \"" + clip(v.get<std::string>(), 40) + "\"";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::binary: return "binary";
    case nlohmann::json::value_t::discarded: return "discarded";
    default: return v.dump();
  }
}

const nlohmann::json* object_reader::find(std::string_view key, presence_rule rule) {
  const auto it = obj_.find(key);
  if (it == obj_.end()) {
    if (rule == presence_rule::required) add(key, problem_code::missing, "required field is missing");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> object_reader::text(std::string_view key, presence_rule rule,
                                               std::size_t max_len) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    add(key, problem_code::wrong_type, "must be a string, got " + describe(*v));
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) {
    add(key, problem_code::out_of_range,
        "must be at most " + std::to_string(max_len) + " bytes, got " + std::to_string(s.size()));
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> object_reader::identifier(std::string_view key, presence_rule rule,
                                                     std::size_t max_len, char_predicate allowed,
                                                     std::string_view what) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  // Reasons are built only for a problem: this runs for every field of every message.
  const auto reason = [what] { return "must match " + std::string(what); };
  if (!v->is_string()) {
    add(key, problem_code::wrong_type, reason() + ", got " + describe(*v));
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_len || !std::all_of(s.begin(), s.end(), allowed)) {
    add(key, problem_code::bad_value, reason() + ", got \"" + clip(s, 80) + "\"");
    return std::nullopt;
  }
  return s;
}

std::optional<double> object_reader::number(std::string_view key, presence_rule rule, double lo,
                                            double hi, std::string_view unit) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  // Built only for a problem: formatting the range cost more than parsing the whole record.
  const auto reason = [&] { return "must be a finite number " + range_text(lo, hi, unit); };
  if (!v->is_number()) {
    const bool spelled_non_finite =
        v->is_string() && is_non_finite_spelling(v->get<std::string>());
    add(key, spelled_non_finite ? problem_code::not_finite : problem_code::wrong_type,
        reason() + ", got " + describe(*v));
    return std::nullopt;
  }
  const double d = v->get<double>();
  if (!std::isfinite(d)) {
    add(key, problem_code::not_finite, reason() + ", got " + v->dump());
    return std::nullopt;
  }
  if (d < lo || d > hi) {
    add(key, problem_code::out_of_range, reason() + ", got " + v->dump());
    return std::nullopt;
  }
  return d;
}

std::optional<double> object_reader::measured(std::string_view key, presence_rule rule, double lo,
                                              double hi, unit u) {
  const std::string_view suffix = (u == unit::ratio || u == unit::count) ? std::string_view() : symbol(u);
  const auto d = number(key, rule, lo, hi, suffix);
  if (!d) return d;
  return round_to(*d, u);
}

void put_measured(nlohmann::json& j, const char* key, const std::optional<double>& v, unit u) {
  if (v) j[key] = round_to(*v, u);
}

std::optional<std::uint64_t> object_reader::unsigned_integer(std::string_view key,
                                                             presence_rule rule, std::uint64_t lo,
                                                             std::uint64_t hi) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  const auto reason = [lo, hi]() -> std::string {
    if (lo == 0 && hi == std::numeric_limits<std::uint64_t>::max()) return "must be an unsigned 64-bit integer";
    return "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  };
  if (!v->is_number_unsigned()) {
    add(key, v->is_number() ? problem_code::out_of_range : problem_code::wrong_type,
        reason() + ", got " + describe(*v));
    return std::nullopt;
  }
  const auto u = v->get<std::uint64_t>();
  if (u < lo || u > hi) {
    add(key, problem_code::out_of_range, reason() + ", got " + std::to_string(u));
    return std::nullopt;
  }
  return u;
}

std::optional<bool> object_reader::boolean(std::string_view key, presence_rule rule) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    add(key, problem_code::wrong_type, "must be true or false, got " + describe(*v));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<timestamp> object_reader::time(std::string_view key, presence_rule rule) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return std::nullopt;
  const char* reason = "must be an ISO 8601 UTC date-time such as \"2026-11-29T08:15:00Z\"";
  if (!v->is_string()) {
    add(key, problem_code::wrong_type, std::string(reason) + ", got " + describe(*v));
    return std::nullopt;
  }
  auto ts = parse_timestamp(v->get_ref<const std::string&>());
  if (!ts) add(key, problem_code::bad_timestamp, std::string(reason) + ", got " + describe(*v));
  return ts;
}

const nlohmann::json* object_reader::object(std::string_view key, presence_rule rule) {
  const nlohmann::json* v = find(key, rule);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    add(key, problem_code::wrong_type, "must be an object, got " + describe(*v));
    return nullptr;
  }
  return v;
}

void check_terminal_id(object_reader& r, const std::optional<std::string>& id,
                       std::optional<std::string_view> expected_id) {
  if (id && expected_id && *id != *expected_id) {
    r.add("terminal_id", problem_code::id_mismatch,
          "names terminal \"" + *id + "\" but the topic is for \"" + std::string(*expected_id) + "\"");
  }
}

}  // namespace sewage::proto::detail
