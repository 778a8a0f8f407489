#pragma once
/// \file
/// The HTTP API's routes, independent of the HTTP transport (http_server.hpp carries requests to it),
/// so it can be tested without sockets. JSON via nlohmann; errors are JSON objects
/// {"error": {"status": 404, "message": "..."}} with the matching HTTP status.
///
/// Static files (not in routes(), query strings ignored): GET / and /index.html (the web
/// application), /web/..., /vendor/... (http/static_files.hpp). Routes (api::routes() lists them
/// with their query parameters): /api/ui-config, /healthz,
/// /metrics, /api/summary, /api/terminals?town=&state=&alert_type=&q=&sort=&limit=&cursor=,
/// /api/terminals.geojson, /api/terminals/{id}, /api/terminals/{id}/history?from=&to=&limit=,
/// /api/terminals/{id}/daily?from=&to=, /api/terminals/{id}/image,
/// /api/alerts?state=&type=&town=&terminal=&limit=&cursor=, /api/alerts/{id}, /api/daily?from=&to=&town=,
/// /api/terminals/{id}/commands?limit=, /api/commands/{id}, /api/unknown-terminals, /api/dead-letters;
/// POST /api/alerts/{id}/ack and /api/terminals/{id}/commands (operator), /api/session (login,
/// logout), /api/users, /api/tokens, /api/registry/reload, /api/audit (admin). Lab results and the
/// site archive (issue 12, om/http_lab.hpp): /api/lab-results (GET, POST, POST .../import),
/// /api/lab-results/compliance, /api/lab-results/schedule, /api/effluent-limits,
/// /api/sites/{id}/archive (GET, PUT), /api/sites/{id}/cleanouts, /api/sites/{id}/equipment[/{eid}].
/// Incidents and the pipe network (issue 13, incidents/correlator.hpp): /api/incidents?state=&limit=,
/// /api/incidents/{id}, /api/incidents/{id}/geojson, POST /api/incidents/{id}/ack (operator),
/// /api/network, /api/network/trace?id=. See gateway/README.md.
///
/// Identity (issue 11, auth/service.hpp): each request is made by a principal: a bearer token
/// (`Authorization: Bearer ...`), else the session cookie `sewage_session`, else anonymous. Each
/// route declares who may call it (route_access); a town-limited principal sees and acts only on
/// its towns' terminals (403 on one terminal's routes, absent from lists and sums). A request
/// authenticated by the cookie that changes state needs `X-CSRF-Token` (403 otherwise).
///
/// Hostile input: every path segment, query name and value (after percent-decoding), header and
/// body must be valid UTF-8 without control characters, else 400 naming where (never echoing the
/// bytes). A query parameter the route does not declare, or given twice, is a 400 naming it.

#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/notify/settings.hpp"
#include "sewage/gateway/engine.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sewage::gateway {

namespace webapp {
class static_files;
}
namespace alarms {
class discipline;
}
namespace auth {
class service;
}
namespace incidents {
class correlator;
class incident_reader;
}
namespace network {
class holder;
}
namespace om {
class lab;
class archive;
class inspections;
class work_orders;
struct site_key;
}

/// The O&M rooms of issue 12 the API routes to (each owns its own store connection; null: not
/// configured, their routes answer 503).
struct om_rooms {
  om::lab* lab{nullptr};          ///< lab results (om/lab.hpp)
  om::archive* archive{nullptr};  ///< site archive (om/archive.hpp)
  om::inspections* inspections{nullptr};  ///< inspections, QR codes, assessment (om/inspections.hpp)
};

struct http_request {
  std::string method;         ///< "GET", "POST", ...
  std::string target;         ///< path and query as sent (still percent-encoded), e.g. "/api/alerts?state=open"
  std::string authorization;  ///< the Authorization header, may be empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{};  ///< every header (name, value) as received
  std::string remote_address{};  ///< the peer's IP address as text ("127.0.0.1"); empty when unknown (tests)
  bool tls{false};               ///< received on the HTTPS listener (http_server.hpp; the session cookie gets `Secure`)
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
  /// Notification counters (notify/notifier.hpp); unset = no targets configured.
  std::function<notify_counts()> notify;
  /// Received messages the journal could not store (disk full); processed from memory only.
  std::function<std::uint64_t()> journal_failures;
  /// Failed broker connect attempts (first connect and every reconnect).
  std::function<std::uint64_t()> connect_failures;
  std::function<std::uint64_t()> probes_sent;    ///< loopback probes published (mqtt_link::probes_sent)
  std::function<std::uint64_t()> probes_echoed;  ///< loopback probes come back through the broker
  std::function<std::uint64_t()> session_resets;  ///< clean reconnects after a publish's write failed (mqtt_link.hpp)
  std::function<std::size_t()> receipts_waiting;    ///< paced receipts waiting in the link (mqtt_link::paced_waiting)
  std::function<std::uint64_t()> receipts_dropped;  ///< paced receipts dropped (mqtt_link::paced_dropped)
  std::function<std::size_t()> handover_waiting;    ///< received messages waiting for the engine (mqtt_link)
  std::function<std::size_t()> handover_peak;       ///< the most ever waiting (mqtt_link::handover_peak)
  /// Read requests waiting for a reader thread (read_pool.hpp); called on the engine's thread.
  std::function<std::size_t()> read_queue_depth;
  /// Set when standby.enabled (standby/leader_lease.hpp): true while this gateway holds the lease.
  /// /healthz then says "role":"leader" and /metrics has sewage_gateway_leader 1.
  std::function<bool()> lease_held;
  /// Connections refused on the HTTPS listener (http_server::tls_refused); any thread.
  std::function<std::uint64_t()> tls_refused;
  /// Pipe network reloads refused (network/holder.hpp failures()); unset = no network configured.
  std::function<std::uint64_t()> network_reload_failures;
};

/// Who may call a route (checked before its handler; anonymous = no valid token or session).
enum class route_access {
  open,       ///< anyone (ui-config, healthz, login, GET /api/session answers 401 itself)
  signed_in,  ///< any user or token (logout); anonymous 401
  read,       ///< viewer or above; anonymous only with http.public_read (as a whole-county viewer)
  operate,    ///< operator or above (ack, commands); anonymous 401, viewer 403
  admin,      ///< admin of the whole county (users, tokens, registry reload, audit); 401 / 403
  metrics,    ///< admin (it names counters of the whole county), or anonymous with http.public_read
};

/// "open", "signed_in", "read", "operate", "admin", "metrics".
std::string_view to_string(route_access a) noexcept;

/// One route: method ("GET" also answers HEAD), path pattern ("{id}" captures one segment), who
/// may call it, the query parameters it accepts, and whether it is a read route.
struct route_info {
  std::string_view method;
  std::string_view pattern;
  route_access access;
  std::vector<std::string_view> params;
  /// A read route (history, daily series, images, reports, exports, incidents) uses only the
  /// context's `db`, `view` and the thread-safe incident reads (never the engine), so it may run
  /// on a thread other than the engine's.
  bool read_route{false};
  /// The body is binary (a photo, up to om.photo_max_bytes): not checked as text, and allowed
  /// beyond http.max_body_bytes. Every other route refuses a body above http.max_body_bytes (413).
  bool binary_body{false};
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

/// The view of a gateway that runs no engine (a standby, standby/standby_reads.hpp), from what the
/// store holds: `stored` (store::load_terminals()) gives each registered terminal of `reg` its
/// reported interval and its registration time as the engine would (engine::report_interval_s,
/// engine::registered_at); a terminal without a stored row gets the registry's interval and `now`
/// (it registers when an engine first sees it). `cfg` must outlive the view. O(terminals).
/// Thread-safe (a pure function of its arguments).
county_view make_county_view(std::shared_ptr<const registry> reg, const std::vector<terminal_snapshot>& stored,
                             const config& cfg, proto::timestamp now);

/// The API's own counters, exported on /metrics (a snapshot: api::counters()).
struct api_counters {
  std::uint64_t requests{0};
  /// 4xx answers by reason: bad_bytes, bad_target, bad_parameter, unknown_parameter, bad_body,
  /// not_found, method_not_allowed, unauthorized, forbidden, conflict.
  std::map<std::string, std::uint64_t, std::less<>> rejected;
  std::uint64_t internal_errors{0};  ///< 500 answers (each is a bug, logged with its cause)
  std::uint64_t read_busy{0};        ///< read requests refused 503: the reader queue was full (api::busy)
  std::uint64_t read_timeouts{0};    ///< read requests answered 503: they used up http.read_cpu_limit_ms of CPU time
};

/// What a reader thread answers a read route with: its own (read-only) store connection and the
/// county view the engine last published, with `now` taken at request time.
struct read_context {
  store& db;
  const county_view& view;
};

class api {
 public:
  /// `eng` must outlive the api; so must `ids` (users, tokens, sessions, audit) and `insp`
  /// (inspections and the assessment, om/inspections.hpp) when given.
  /// Without `ids` nobody can log in: only open routes, and reads when http.public_read.
  /// `om` rooms likewise outlive the api.
  api(engine& eng, link_status link = {}, auth::service* ids = nullptr, om_rooms om = {});
  /// A reads-only api, for a gateway that runs no engine (the standby): handle() answers read
  /// routes (is_read_request) given a read_context, from its store connection and view; anything
  /// else is 503 "standby". `cfg` and `ids` (null: nobody can log in) must outlive the api.
  api(const config& cfg, auth::service* ids);
  /// Routes one request. Never throws (short of std::bad_alloc): refusals become JSON 4xx,
  /// anything unexpected a logged JSON 500; no response holds raw request bytes.
  ///
  /// Every GET/HEAD answer 200 with a JSON body carries `ETag: W/"..."` (a hash of the body) and
  /// `Cache-Control: no-cache`; when the request's If-None-Match names that tag (or "*"), the
  /// answer is 304 with the same headers and no body.
  ///
  /// Without `reader`: on the engine's thread only; every route, read routes with the engine's
  /// store after committing what is pending (eng.flush()). With `reader`: on any thread,
  /// concurrently with the engine and other readers; only read routes (is_read_request), answered
  /// from `reader->db` and `reader->view` (they see what was committed); an engine route there
  /// is a bug, answered 500.
  http_response handle(const http_request& req, const read_context* reader = nullptr);
  /// True when `req` is a GET/HEAD that matches a read route (route_info::read_route), so it may
  /// be answered with a read_context on another thread. A request that does not parse is not
  /// one (the engine's thread refuses it cheaply). Thread-safe, no side effects.
  static bool is_read_request(const http_request& req) noexcept;
  /// The answer to a read request refused because the reader queue is full: 503 with
  /// `Retry-After: <retry_after_s>`, counted (requests, read_busy). Thread-safe.
  http_response busy(const http_request& req, unsigned retry_after_s);
  /// Alarm discipline (issue 12: maintenance windows, shelving, the alerts' discipline state);
  /// without it those routes answer 503. Must outlive the api; set before the first request.
  void set_alarms(alarms::discipline* d) noexcept { alarms_ = d; }
  /// Every route of the table, in matching order (tests, fuzz seeds, documentation).
  static std::vector<route_info> routes();
  /// Work orders, check-ins and photos (issue 12): without them those routes answer 503. Both
  /// must outlive the api. Call before serving.
  void set_om(om::work_orders* orders, const om::site_key* key) noexcept {
    orders_ = orders;
    site_key_ = key;
  }
  /// Incidents and the pipe network's live state (issue 13, incidents/correlator.hpp,
  /// network/holder.hpp): /api/incidents..., /api/network, /api/network/trace. Without the
  /// correlator the incident routes answer 503; without a current network model the network
  /// routes do. Both must outlive the api. Call before serving.
  void set_incidents(incidents::correlator* corr, const network::holder* pipes) noexcept;
  /// A reads-only api's (a standby's) incidents: /api/incidents, /api/incidents/{id} and its
  /// GeoJSON (on `pipes`, may be null: 503) answered from `reads` (incidents/incident_reader.hpp
  /// open_stored_incident_reader), read routes like every other the standby answers. Both must
  /// outlive the api. Call before serving.
  void set_incident_reads(const incidents::incident_reader* reads, const network::holder* pipes) noexcept {
    incident_reads_ = reads;
    pipes_ = pipes;
  }
  /// A consistent copy of the counters. Thread-safe.
  [[nodiscard]] api_counters counters() const;

  struct context;

 private:
  http_response handle_uncached(const http_request& req, const read_context* reader);
  http_response dispatch(const http_request& req, const read_context* reader);
  void count_rejected(const std::string& reason);
  /// The caller of `req` (bearer token, session cookie, or anonymous); throws api errors for a
  /// malformed or unknown bearer token (401).
  auth::principal authenticate(const http_request& req) const;
  engine* eng_;         ///< null in a reads-only api (a standby)
  const config& cfg_;   ///< the gateway's configuration (immutable; outlives the api)
  link_status link_;
  auth::service* ids_;
  alarms::discipline* alarms_{nullptr};
  om_rooms om_;
  om::work_orders* orders_{nullptr};
  const om::site_key* site_key_{nullptr};
  incidents::correlator* incidents_{nullptr};
  const incidents::incident_reader* incident_reads_{nullptr};  ///< incidents_, or a standby's reader
  const network::holder* pipes_{nullptr};
  om::inspections* insp_{nullptr};  ///< inspections, QR codes, assessment (issue 12; null: answered 503)
  // Counters are updated from the engine's thread and from reader threads.
  mutable std::mutex counters_mutex_;
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
