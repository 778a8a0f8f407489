#include "sewage/proto/topic.hpp"

#include "sewage/proto/gateway_probe.hpp"
#include "sewage/proto/limits.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace sewage::proto {
namespace {

constexpr std::string_view alerts_level = "alerts";
constexpr std::string_view gateway_level = "gateway";

std::vector<std::string_view> split_levels(std::string_view text) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const auto slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(text.substr(start));
      break;
    }
    levels.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  return levels;
}

bool id_chars_ok(std::string_view id) noexcept {
  return !id.empty() && id.size() <= limits::max_terminal_id_length &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

decoded<topic> reject(std::string reason) {
  decoded<topic> d;
  d.problems.push_back(problem{"", problem_code::bad_topic, std::move(reason)});
  return d;
}

void require_id(std::string_view id) {
  if (!is_valid_terminal_id(id)) {
    throw std::invalid_argument("terminal id \"" + std::string(id) +
                                "\" must match [A-Za-z0-9_-]{1,32} and not be \"alerts\" or "
                                "\"gateway\"");
  }
}

}  // namespace

std::string_view to_string(topic_kind kind) noexcept {
  switch (kind) {
    case topic_kind::telemetry: return "telemetry";
    case topic_kind::status: return "status";
    case topic_kind::image: return "image";
    case topic_kind::command: return "cmd";
    case topic_kind::command_result: return "cmd/result";
    case topic_kind::alert: return "alert";
    case topic_kind::gateway_status: return "gateway_status";
  }
  return "unknown";
}

bool is_valid_terminal_id(std::string_view id) noexcept {
  return id_chars_ok(id) && id != alerts_level && id != gateway_level;
}

std::string make_topic(const topic& t) {
  std::string s(topic_root);
  switch (t.kind) {
    case topic_kind::gateway_status:
      return s + "/gateway/status";
    case topic_kind::alert:
      require_id(t.terminal_id);
      return s + "/alerts/" + t.terminal_id + "/" + std::string(to_string(t.alert));
    default:
      require_id(t.terminal_id);
      return s + "/" + t.terminal_id + "/" + std::string(to_string(t.kind));
  }
}

std::string telemetry_topic(std::string_view id) {
  return make_topic({topic_kind::telemetry, std::string(id), {}});
}
std::string status_topic(std::string_view id) {
  return make_topic({topic_kind::status, std::string(id), {}});
}
std::string image_topic(std::string_view id) {
  return make_topic({topic_kind::image, std::string(id), {}});
}
std::string command_topic(std::string_view id) {
  return make_topic({topic_kind::command, std::string(id), {}});
}
std::string command_result_topic(std::string_view id) {
  return make_topic({topic_kind::command_result, std::string(id), {}});
}
std::string alert_topic(std::string_view id, alert_type type) {
  return make_topic({topic_kind::alert, std::string(id), type});
}
std::string gateway_status_topic() { return make_topic({topic_kind::gateway_status, {}, {}}); }
std::string gateway_probe_topic() { return std::string(topic_root) + "/" + std::string(gateway_level) + "/probe"; }

std::string subscription_filter(topic_kind kind) {
  const std::string root(topic_root);
  switch (kind) {
    case topic_kind::alert: return root + "/alerts/#";
    case topic_kind::gateway_status: return root + "/gateway/status";
    default: return root + "/+/" + std::string(to_string(kind));
  }
}

decoded<topic> parse_topic(std::string_view text) {
  if (text.empty()) return reject("topic is empty");
  if (text.size() > 256) return reject("topic is longer than 256 bytes");
  if (text.front() == '$') return reject("$-topics belong to the broker");
  if (text.find_first_of("+#") != std::string_view::npos) {
    return reject("wildcards (+ or #) are not allowed in a concrete topic");
  }
  if (text.find('\0') != std::string_view::npos) return reject("topic contains a NUL byte");
  const auto levels = split_levels(text);
  if (levels.size() < 2 || levels[0] != "sewage") {
    return reject("topic must start with \"sewage/v1/\"");
  }
  if (levels[1] != "v1") {
    return reject("unsupported contract version \"" + std::string(levels[1]) + "\"; expected v1");
  }
  if (std::any_of(levels.begin(), levels.end(), [](std::string_view l) { return l.empty(); })) {
    return reject("topic has an empty level");
  }
  if (levels.size() < 4) return reject("topic has too few levels");
  decoded<topic> d;
  topic t;
  if (levels[2] == gateway_level) {
    if (levels.size() != 4 || levels[3] != "status") {
      return reject("the only gateway topic is \"sewage/v1/gateway/status\"");
    }
    t.kind = topic_kind::gateway_status;
    d.value = std::move(t);
    return d;
  }
  if (levels[2] == alerts_level) {
    if (levels.size() != 5) return reject("alert topics are \"sewage/v1/alerts/{terminal}/{type}\"");
    if (!is_valid_terminal_id(levels[3])) {
      return reject("terminal id \"" + std::string(levels[3]) + "\" must match [A-Za-z0-9_-]{1,32}");
    }
    const auto type = parse_alert_type(levels[4]);
    if (!type) return reject("unknown alert type \"" + std::string(levels[4]) + "\"");
    t.kind = topic_kind::alert;
    t.terminal_id = std::string(levels[3]);
    t.alert = *type;
    d.value = std::move(t);
    return d;
  }
  if (!is_valid_terminal_id(levels[2])) {
    return reject("terminal id \"" + std::string(levels[2].substr(0, 64)) +
                  "\" must match [A-Za-z0-9_-]{1,32}");
  }
  t.terminal_id = std::string(levels[2]);
  const auto kind = levels[3];
  if (levels.size() == 4 && kind == "telemetry") {
    t.kind = topic_kind::telemetry;
  } else if (levels.size() == 4 && kind == "status") {
    t.kind = topic_kind::status;
  } else if (levels.size() == 4 && kind == "image") {
    t.kind = topic_kind::image;
  } else if (levels.size() == 4 && kind == "cmd") {
    t.kind = topic_kind::command;
  } else if (levels.size() == 5 && kind == "cmd" && levels[4] == "result") {
    t.kind = topic_kind::command_result;
  } else if (levels.size() > 5 || (levels.size() == 5 && kind != "cmd")) {
    return reject("topic has extra levels");
  } else {
    return reject("unknown message kind \"" + std::string(kind.substr(0, 64)) + "\"");
  }
  d.value = std::move(t);
  return d;
}

}  // namespace sewage::proto
