#pragma once
/// \file
/// The HTTP API's routes, independent of the HTTP transport (http_server.hpp carries requests to it),
/// so it can be tested without sockets. JSON via nlohmann; errors are JSON objects
/// {"error": {"status": 404, "message": "..."}} with the matching HTTP status.
///
/// Routes: GET / (dashboard page), /healthz, /metrics, /api/summary, /api/terminals, /api/terminals.geojson,
/// /api/terminals/{id}, /api/terminals/{id}/history?from=&to=, /api/terminals/{id}/daily?from=&to=,
/// /api/terminals/{id}/image, /api/alerts?state=open|all&terminal=, /api/unknown-terminals,
/// /api/dead-letters; POST /api/alerts/{id}/ack (bearer token). See gateway/README.md.

#include "sewage/gateway/engine.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sewage::gateway {

struct http_request {
  std::string method;         ///< "GET", "POST", ...
  std::string target;         ///< path and query, e.g. "/api/alerts?state=open"
  std::string authorization;  ///< the Authorization header, may be empty
  std::string body;
};

struct http_response {
  unsigned status{200};
  std::string content_type{"application/json"};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Extra figures the API shows that do not live in the engine (MQTT link state).
struct link_status {
  std::function<bool()> connected;
  std::function<std::uint64_t()> publish_failures;
  std::function<std::uint64_t()> webhook_failures;
  std::function<std::uint64_t()> webhook_dropped;
  /// Received messages the journal could not store (disk full); processed from memory only.
  std::function<std::uint64_t()> journal_failures;
  /// Failed broker connect attempts (first connect and every reconnect).
  std::function<std::uint64_t()> connect_failures;
};

class api {
 public:
  /// `eng` must outlive the api. Called on the engine's thread only (not thread-safe).
  api(engine& eng, link_status link = {});
  /// Routes one request. Never throws: internal errors become a JSON 500 (logged).
  http_response handle(const http_request& req);

 private:
  http_response route(const http_request& req);
  engine& eng_;
  link_status link_;
};

/// Percent-decodes a URL component ('+' is a space in queries). std::nullopt on a bad escape.
std::optional<std::string> url_decode(std::string_view s);

}  // namespace sewage::gateway
