#include "sewage/proto/payload.hpp"

#include "sewage/proto/limits.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

namespace sewage::proto {
namespace {

using json = nlohmann::json;

/// One open container while parsing, for path tracking and duplicate-key detection.
struct frame {
  bool is_array{false};
  std::size_t index{0};
  std::string key;
  // Keys seen in this object: a short vector searched linearly (our objects have a dozen keys;
  // a hash set per object cost an allocation per key), a hash set beyond that so that a hostile
  // payload with thousands of keys stays linear.
  std::vector<std::string> few_keys;
  std::unordered_set<std::string> many_keys;
  static constexpr std::size_t few = 16;

  /// Records `k`; false if it was already there.
  bool insert(const std::string& k) {
    if (many_keys.empty()) {
      if (std::find(few_keys.begin(), few_keys.end(), k) != few_keys.end()) return false;
      if (few_keys.size() < few) {
        few_keys.push_back(k);
        return true;
      }
      many_keys.insert(few_keys.begin(), few_keys.end());
    }
    return many_keys.insert(k).second;
  }
  [[nodiscard]] bool has_keys() const { return !few_keys.empty(); }
};

std::string path_of(const std::vector<frame>& frames) {
  std::string path;
  for (const auto& f : frames) {
    if (f.is_array) {
      path += '/';
      path += std::to_string(f.index);
    } else if (!f.key.empty() || f.has_keys()) {
      path += '/';
      path += escape_pointer_token(f.key);
    }
  }
  return path;
}

void element_done(std::vector<frame>& frames) {
  if (!frames.empty() && frames.back().is_array) ++frames.back().index;
}

/// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string plain_message(const char* what) {
  std::string m(what);
  if (!m.empty() && m.front() == '[') {
    if (const auto end = m.find("] "); end != std::string::npos) m.erase(0, end + 2);
  }
  return m;
}

/// The bare token around byte offset `at` (letters, digits, sign, dot).
std::string token_around(std::string_view bytes, std::size_t at) {
  auto is_token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
  };
  if (at >= bytes.size()) at = bytes.empty() ? 0 : bytes.size() - 1;
  std::size_t b = at;
  while (b > 0 && is_token(bytes[b - 1])) --b;
  std::size_t e = at;
  while (e < bytes.size() && is_token(bytes[e])) ++e;
  return std::string(bytes.substr(b, e - b));
}

bool is_non_finite_literal(std::string t) {
  for (auto& c : t) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) t.erase(0, 1);
  return t == "nan" || t == "inf" || t == "infinity";
}

}  // namespace

bool is_valid_utf8(std::string_view s, std::size_t* error_offset) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i + k < n && p[i + k] >= lo && p[i + k] <= hi;
  };
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (cont(1)) len = 2;
    } else if (c == 0xE0) {
      if (cont(1, 0xA0) && cont(2)) len = 3;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      if (cont(1) && cont(2)) len = 3;
    } else if (c == 0xED) {
      if (cont(1, 0x80, 0x9F) && cont(2)) len = 3;
    } else if (c == 0xF0) {
      if (cont(1, 0x90) && cont(2) && cont(3)) len = 4;
    } else if (c >= 0xF1 && c <= 0xF3) {
      if (cont(1) && cont(2) && cont(3)) len = 4;
    } else if (c == 0xF4) {
      if (cont(1, 0x80, 0x8F) && cont(2) && cont(3)) len = 4;
    }
    if (len == 0) {
      if (error_offset != nullptr) *error_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<problem> precheck_payload(std::string_view bytes) {
  if (bytes.size() > limits::max_payload_bytes) {
    return problem{"", problem_code::too_large,
                   "payload is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                       std::to_string(limits::max_payload_bytes)};
  }
  std::size_t bad = 0;
  if (!is_valid_utf8(bytes, &bad)) {
    return problem{"", problem_code::bad_utf8,
                   "not valid UTF-8 (first invalid byte at offset " + std::to_string(bad) + ")"};
  }
  const auto first = bytes.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || bytes[first] != '{') {
    return problem{"", problem_code::not_object, "must be a JSON object"};
  }
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = first; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limits::max_nesting_depth) {
        return problem{"", problem_code::too_deep,
                       "nested deeper than " + std::to_string(limits::max_nesting_depth) +
                           " levels (at byte offset " + std::to_string(i) + ")"};
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return std::nullopt;
}

parsed_payload parse_payload(std::string_view bytes) {
  parsed_payload out;
  if (auto p = precheck_payload(bytes)) {
    out.problems.push_back(std::move(*p));
    return out;
  }
  std::vector<frame> frames;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
        frames.push_back(frame{});
        break;
      case json::parse_event_t::array_start:
        frames.emplace_back();
        frames.back().is_array = true;
        break;
      case json::parse_event_t::key: {
        auto& top = frames.back();
        top.key = parsed.get_ref<const std::string&>();
        if (!top.insert(top.key))
          out.problems.push_back(
              problem{path_of(frames), problem_code::duplicate_key, "duplicate key"});
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames.pop_back();
        element_done(frames);
        break;
      case json::parse_event_t::value:
        element_done(frames);
        break;
    }
    return true;
  };
  try {
    json doc = json::parse(bytes.begin(), bytes.end(), callback);
    if (out.problems.empty()) out.doc = std::move(doc);
  } catch (const json::out_of_range& e) {
    // 406: number overflow (e.g. 1e999) - the only out_of_range the parser raises.
    out.problems.push_back(problem{path_of(frames), problem_code::not_finite,
                                   "must be a finite number (" + plain_message(e.what()) + ")"});
  } catch (const json::parse_error& e) {
    // e.byte is the 1-based position where the lexer stopped.
    const std::string token = token_around(bytes, e.byte == 0 ? 0 : e.byte - 1);
    if (is_non_finite_literal(token)) {
      out.problems.push_back(problem{path_of(frames), problem_code::not_finite,
                                     "must be a finite number, got the literal " + token});
    } else {
      out.problems.push_back(problem{path_of(frames), problem_code::syntax,
                                     "invalid JSON: " + plain_message(e.what())});
    }
  } catch (const json::exception& e) {
    out.problems.push_back(
        problem{path_of(frames), problem_code::syntax, "invalid JSON: " + plain_message(e.what())});
  }
  return out;
}

}  // namespace sewage::proto
