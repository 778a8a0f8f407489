#pragma once
/// \file
/// The HTTP API's routes, independent of the HTTP transport (http_server.hpp carries requests to it),
/// so it can be tested without sockets. JSON via nlohmann; errors are JSON objects
/// {"error": {"status": 404, "message": "..."}} with the matching HTTP status.
///
/// Static files (not in routes(), query strings ignored): GET / and /index.html (the web
/// application), /web/..., /vendor/... (http/static_files.hpp). Routes (api::routes() lists them
/// with their query parameters): /api/ui-config, /healthz,
/// /metrics, /api/summary, /api/terminals, /api/terminals.geojson, /api/terminals/{id},
/// /api/terminals/{id}/history?from=&to=&limit=, /api/terminals/{id}/daily?from=&to=,
/// /api/terminals/{id}/image, /api/alerts?state=open|all&terminal=&limit=, /api/unknown-terminals,
/// /api/dead-letters; POST /api/alerts/{id}/ack (bearer token). See gateway/README.md.
///
/// Hostile input: every path segment, query name and value (after percent-decoding), header and
/// body must be valid UTF-8 without control characters, else 400 naming where (never echoing the
/// bytes). A query parameter the route does not declare, or given twice, is a 400 naming it.

#include "sewage/gateway/engine.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sewage::gateway {

namespace webapp {
class static_files;
}

struct http_request {
  std::string method;         ///< "GET", "POST", ...
  std::string target;         ///< path and query as sent (still percent-encoded), e.g. "/api/alerts?state=open"
  std::string authorization;  ///< the Authorization header, may be empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{};  ///< every header (name, value) as received
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

/// One route: method ("GET" also answers HEAD), path pattern ("{id}" captures one segment), the
/// query parameters it accepts, and whether it is a read route.
struct route_info {
  std::string_view method;
  std::string_view pattern;
  std::vector<std::string_view> params;
  /// A read route (history, daily series, images, reports, exports) uses only the context's `db`
  /// and `view` (never the engine), so it may run on a thread other than the engine's.
  bool read_route{false};
};

/// Immutable facts about the county that a read route needs besides the store; built on the
/// engine's thread, then safe to read from any thread.
struct county_view {
  std::shared_ptr<const registry> reg;            ///< the registry at the time of the view
  std::vector<double> report_interval_s;         ///< parallel to reg->terminals(): engine::report_interval_s
  std::vector<proto::timestamp> registered_at;   ///< parallel: engine::registered_at
  const config* cfg{nullptr};                    ///< the gateway's configuration (lives as long as the process)
  proto::timestamp now{};                        ///< the gateway clock when the view was taken
};

/// Takes a view of `eng` (O(terminals)). Call on the engine's thread.
county_view make_county_view(const engine& eng);

/// The API's own counters, exported on /metrics.
struct api_counters {
  std::uint64_t requests{0};
  /// 4xx answers by reason: bad_bytes, bad_target, bad_parameter, unknown_parameter, bad_body,
  /// not_found, method_not_allowed, unauthorized, forbidden, conflict.
  std::map<std::string, std::uint64_t, std::less<>> rejected;
  std::uint64_t internal_errors{0};  ///< 500 answers (each is a bug, logged with its cause)
};

class api {
 public:
  /// `eng` must outlive the api. Called on the engine's thread only (not thread-safe).
  api(engine& eng, link_status link = {});
  /// Routes one request. Never throws (short of std::bad_alloc): refusals become JSON 4xx,
  /// anything unexpected a logged JSON 500; no response holds raw request bytes.
  http_response handle(const http_request& req);
  /// Every route of the table, in matching order (tests, fuzz seeds, documentation).
  static std::vector<route_info> routes();
  [[nodiscard]] const api_counters& counters() const noexcept { return counters_; }

  struct context;

 private:
  http_response dispatch(const http_request& req);
  engine& eng_;
  link_status link_;
  api_counters counters_;
  /// The web application and vendor files (http/static_files.hpp), from the engine's config.
  std::shared_ptr<const webapp::static_files> files_;
};

/// Percent-decodes a URL component; '+' is a space when `plus_is_space` (query strings), a plain
/// '+' in paths. std::nullopt on a bad escape. The result may hold any byte: check it with
/// text_problem() before use.
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space = true);

/// Which control characters a piece of request text may hold.
enum class text_rules {
  single_line,   ///< none (path segments, query names and values, the method)
  header_value,  ///< horizontal tab only
  multi_line,    ///< tab, CR and LF (bodies)
};

/// Why `s` is not acceptable request text: "invalid UTF-8 at byte 3" (RFC 3629) or
/// "control character U+0000 at byte 5" (C0, DEL and C1 controls not allowed by `rules`);
/// std::nullopt when it is fine.
std::optional<std::string> text_problem(std::string_view s, text_rules rules);

/// `s` safe to echo in a message or log: printable ASCII kept, every other byte (and '\\') as
/// \xNN, cut after `max_bytes` with "...". The output is always valid ASCII.
std::string escaped(std::string_view s, std::size_t max_bytes = 64);

}  // namespace sewage::gateway
