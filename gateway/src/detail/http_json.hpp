#pragma once
// Internal: the JSON body of an API answer, shared by api.cpp and the rooms' route files.
#include "sewage/gateway/api.hpp"

#include <nlohmann/json.hpp>

namespace sewage::gateway::detail {

/// An answer with `status` and `j` as its compact JSON body; invalid UTF-8 in strings is replaced
/// (U+FFFD), never thrown, so text from a client or a device cannot fail the answer. Thread-safe.
inline http_response json_response(unsigned status, const nlohmann::json& j) {
  http_response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace sewage::gateway::detail
