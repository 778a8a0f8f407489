#pragma once
// OpenSSL's queued errors as one line (internal to the gateway's sources).
#include <openssl/err.h>

#include <string>

namespace sewage::gateway::detail {

/// Drains OpenSSL's error queue of this thread into "error:...; error:..."; `none` when it was
/// empty. Never throws short of std::bad_alloc.
inline std::string openssl_errors(const char* none = "no OpenSSL error reported") {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string(none) : out;
}

}  // namespace sewage::gateway::detail
