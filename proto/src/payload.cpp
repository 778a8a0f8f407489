#include "sewage/proto/payload.hpp"

#include "sewage/proto/limits.hpp"

#include <string>
#include <vector>

namespace sewage::proto {
namespace {

using json = nlohmann::json;

/// One open container while parsing, for path tracking.
struct frame {
  json* container{nullptr};
  bool is_array{false};
  std::size_t index{0};  // arrays: index of the next element
  bool has_key{false};   // objects: a key was read; `key` names the current member
  std::string key;
};

std::string path_of(const std::vector<frame>& frames) {
  std::string path;
  for (const auto& f : frames) {
    if (f.is_array) {
      path += '/';
      path += std::to_string(f.index);
    } else if (f.has_key) {
      path += '/';
      path += escape_pointer_token(f.key);
    }
  }
  return path;
}

/// Builds the document through nlohmann's SAX interface, tracking the path of the current value
/// and refusing duplicate keys (nlohmann's own DOM parser keeps the last value silently). This
/// replaced a callback DOM parse with a key set per object: same results, ~35 % less time
/// (measured on a telemetry record: 5.7 -> 3.9 us).
class dom_builder {
 public:
  explicit dom_builder(std::vector<problem>& problems) : problems_(problems) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return put(json(v)); }
  bool string(json::string_t& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }
  bool start_object(std::size_t /*size*/) { return open(json::value_t::object, false); }
  bool start_array(std::size_t /*size*/) { return open(json::value_t::array, true); }
  bool key(json::string_t& k) {
    auto& top = frames_.back();
    top.has_key = true;
    top.key = std::move(k);
    if (top.container->contains(top.key))
      problems_.push_back(problem{path_of(frames_), problem_code::duplicate_key, "duplicate key"});
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const nlohmann::detail::exception& ex) {
    error_id_ = ex.id;
    error_what_ = ex.what();
    if (const auto* pe = dynamic_cast<const json::parse_error*>(&ex)) error_byte_ = pe->byte;
    return false;
  }

  json& root() { return root_; }
  [[nodiscard]] const std::vector<frame>& frames() const { return frames_; }
  [[nodiscard]] int error_id() const { return error_id_; }
  [[nodiscard]] const std::string& error_what() const { return error_what_; }
  [[nodiscard]] std::size_t error_byte() const { return error_byte_; }

 private:
  /// Stores a finished value in the current container (or as the root); returns where it went.
  json* place(json&& v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    auto& top = frames_.back();
    if (top.is_array) {
      ++top.index;
      top.container->push_back(std::move(v));
      return &top.container->back();
    }
    auto& slot = (*top.container)[top.key];
    slot = std::move(v);
    return &slot;
  }
  bool put(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json::value_t type, bool is_array) {
    json* c = place(json(type));
    if (!frames_.empty() && frames_.back().is_array) --frames_.back().index;  // counted at close
    frame f;
    f.container = c;
    f.is_array = is_array;
    frames_.push_back(std::move(f));
    return true;
  }
  bool close() {
    frames_.pop_back();
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
    return true;
  }

  std::vector<problem>& problems_;
  json root_;
  std::vector<frame> frames_;
  int error_id_{0};
  std::string error_what_;
  std::size_t error_byte_{0};
};

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
  dom_builder builder(out.problems);
  bool parsed = false;
  try {
    parsed = json::sax_parse(bytes.begin(), bytes.end(), &builder);
  } catch (const json::exception& e) {  // not raised by the SAX parser in 3.11; kept as a net
    out.problems.push_back(
        problem{path_of(builder.frames()), problem_code::syntax, "invalid JSON: " + plain_message(e.what())});
    return out;
  }
  if (parsed) {
    if (out.problems.empty()) out.doc = std::move(builder.root());
    return out;
  }
  const auto& frames = builder.frames();
  if (builder.error_id() == 406) {
    // number overflow (e.g. 1e999): the only out_of_range the parser raises.
    out.problems.push_back(problem{path_of(frames), problem_code::not_finite,
                                   "must be a finite number (" + plain_message(builder.error_what().c_str()) + ")"});
    return out;
  }
  // error_byte is the 1-based position where the lexer stopped.
  const std::size_t byte = builder.error_byte();
  const std::string token = token_around(bytes, byte == 0 ? 0 : byte - 1);
  if (is_non_finite_literal(token)) {
    out.problems.push_back(
        problem{path_of(frames), problem_code::not_finite, "must be a finite number, got the literal " + token});
  } else {
    out.problems.push_back(
        problem{path_of(frames), problem_code::syntax, "invalid JSON: " + plain_message(builder.error_what().c_str())});
  }
  return out;
}

}  // namespace sewage::proto
