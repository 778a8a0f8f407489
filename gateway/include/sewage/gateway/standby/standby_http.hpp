#pragma once
/// \file
/// What a gateway waiting as the standby answers on its HTTP port (issue 16 item 2,
/// gateway/README.md "A standby gateway") when it does not answer a read route from the shared
/// store (standby_reads.hpp). The standby has no engine and no MQTT session: its
/// answers say so and name the leader, so a load balancer (health check on /healthz) sends
/// operators to the leader and a script sees where to go.
///
/// - GET/HEAD /healthz: 503 {"status":"standby","role":"standby","node","waiting_since","leader"}
///   (a standby is not where work is done, so it is not "healthy" to a load balancer);
/// - GET/HEAD /metrics: 200, Prometheus text: sewage_gateway_leader 0, the lease counters and
///   sewage_gateway_standby_reads_total;
/// - GET/HEAD of any other path outside /api/ (the web application) when the leader's http_url is
///   known: 307 to the same target at the leader (Cache-Control: no-store);
/// - anything else: 503 {"error":{"status":503,"message":"...","reason":"standby"},"leader":{...}|null}
///   (the API's error shape) with Retry-After 5.
///
/// Thread-safety: a pure function of its arguments.

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/standby/leader_lease.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace sewage::gateway::standby {

/// The standby's own state for its answers.
struct standby_state {
  std::string node;                     ///< standby.node of this gateway
  std::int64_t waiting_since_ms{0};     ///< when it began to wait, ms since the Unix epoch
  std::uint64_t attempts{0};            ///< lease attempts so far
  std::uint64_t connect_failures{0};    ///< attempts that could not reach PostgreSQL
  std::uint64_t reads_served{0};        ///< read requests answered from the shared store (standby_reads.hpp)
  std::optional<leader_record> leader;  ///< the leader as last read (nullopt: unknown)
};

/// The answer to `req` while waiting (see the file comment). Never throws (except std::bad_alloc).
http_response standby_answer(const http_request& req, const standby_state& s);

}  // namespace sewage::gateway::standby
