#pragma once
/// \file
/// Notifications room: one HTTP(S) POST with libcurl (libcurl4-openssl-dev). TLS with peer
/// certificate and host name verification always on (CURLOPT_SSL_VERIFYPEER 1, VERIFYHOST 2);
/// http:// only when the caller allows plaintext; redirects never followed (a redirect could
/// carry the URL's credential elsewhere).

#include <atomic>
#include <chrono>
#include <string>

namespace sewage::gateway {

struct post_options {
  bool allow_plaintext{false};  ///< false: only https:// (libcurl refuses http:// itself)
  std::string ca_file;          ///< PEM CA bundle; empty = the system store
  std::chrono::milliseconds timeout{10000};  ///< whole request; connect is bounded by min(5 s, timeout)
  const std::atomic<bool>* cancel{nullptr};  ///< when it becomes true the transfer is aborted
};

struct post_result {
  long status{0};      ///< HTTP status; 0 when no answer was received
  std::string body;    ///< the answer's body (first 64 KiB)
  std::string error;   ///< why no answer (libcurl's message; names host and port, never the query)
  bool tls_failure{false};  ///< certificate, host name or handshake failure (counted apart)
};

/// POSTs `body` with Content-Type application/json to `url`. Never throws except bad_alloc;
/// every failure is in the result. Thread-safe (its own easy handle per call; libcurl's global
/// initialisation is done once, thread-safely, on first use).
post_result http_post_json(const std::string& url, const std::string& body, const post_options& options);

}  // namespace sewage::gateway
