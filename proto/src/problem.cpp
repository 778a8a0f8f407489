#include "sewage/proto/problem.hpp"

namespace sewage::proto {

std::string_view to_string(problem_code code) noexcept {
  switch (code) {
    case problem_code::too_large: return "too_large";
    case problem_code::bad_utf8: return "bad_utf8";
    case problem_code::not_object: return "not_object";
    case problem_code::too_deep: return "too_deep";
    case problem_code::syntax: return "syntax";
    case problem_code::duplicate_key: return "duplicate_key";
    case problem_code::missing: return "missing";
    case problem_code::wrong_type: return "wrong_type";
    case problem_code::not_finite: return "not_finite";
    case problem_code::out_of_range: return "out_of_range";
    case problem_code::bad_value: return "bad_value";
    case problem_code::bad_timestamp: return "bad_timestamp";
    case problem_code::id_mismatch: return "id_mismatch";
    case problem_code::inconsistent: return "inconsistent";
    case problem_code::bad_topic: return "bad_topic";
    case problem_code::bad_image: return "bad_image";
  }
  return "unknown";
}

std::string problem::to_string() const {
  std::string line = path.empty() ? std::string("payload") : path;
  line += ": ";
  line += reason;
  return line;
}

}  // namespace sewage::proto
