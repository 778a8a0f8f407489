#pragma once
// Internal helpers shared by the rule implementations: message formatting and verdicts.

#include "sewage/gateway/rules.hpp"

#include <cstdio>
#include <string>

namespace sewage::gateway::detail {

/// printf-style message with one or two numbers (messages are short; longer ones are cut).
inline std::string fmt(const char* f, double a) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}
inline std::string fmt(const char* f, double a, double b) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

inline verdict make(verdict::action act, proto::timestamp at, double value, double threshold, std::string msg) {
  verdict v;
  v.act = act;
  v.at = at;
  v.value = value;
  v.threshold = threshold;
  v.message = std::move(msg);
  return v;
}

}  // namespace sewage::gateway::detail
