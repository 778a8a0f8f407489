#include "sewage/gateway/standby/standby_http.hpp"

#include "../detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>

namespace sewage::gateway::standby {

namespace {

using nlohmann::json;

std::string iso_ms(std::int64_t ms) {
  return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms)));
}

json leader_json(const std::optional<leader_record>& l) {
  if (!l) return nullptr;
  return json{{"node", l->node},
              {"http_url", l->http_url.empty() ? json(nullptr) : json(l->http_url)},
              {"since", iso_ms(l->since_ms)}};
}

/// The path of a target without its query.
std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace

http_response standby_answer(const http_request& req, const standby_state& s) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const auto path = path_of(req.target);
  if (get && path == "/healthz") {
    return detail::json_response(503, json{{"status", "standby"},
                                           {"role", "standby"},
                                           {"node", s.node},
                                           {"waiting_since", iso_ms(s.waiting_since_ms)},
                                           {"leader", leader_json(s.leader)}});
  }
  if (get && path == "/metrics") {
    http_response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body =
        "# HELP sewage_gateway_leader 1 while this gateway holds the lease and leads, 0 while it waits as the "
        "standby.\n# TYPE sewage_gateway_leader gauge\nsewage_gateway_leader 0\n"
        "# HELP sewage_gateway_lease_attempts_total Attempts to take the lease while standing by.\n"
        "# TYPE sewage_gateway_lease_attempts_total counter\nsewage_gateway_lease_attempts_total " +
        std::to_string(s.attempts) +
        "\n# HELP sewage_gateway_lease_connect_failures_total Lease attempts that could not reach PostgreSQL.\n"
        "# TYPE sewage_gateway_lease_connect_failures_total counter\nsewage_gateway_lease_connect_failures_total " +
        std::to_string(s.connect_failures) +
        "\n# HELP sewage_gateway_standby_reads_total Read requests this standby answered on its reader threads from the "
        "shared store (any status).\n"
        "# TYPE sewage_gateway_standby_reads_total counter\nsewage_gateway_standby_reads_total " +
        std::to_string(s.reads_served) + "\n";
    return r;
  }
  // An operator's browser on the standby's address (a bookmark, a link in a notification) goes
  // on to the same page at the leader; API callers get the 503 below and decide themselves.
  if (get && path.rfind("/api/", 0) != 0 && s.leader && !s.leader->http_url.empty()) {
    std::string base = s.leader->http_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    http_response r;
    r.status = 307;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "the leader is " + s.leader->node + "\n";
    r.headers.emplace_back("Location", base + (req.target.empty() || req.target[0] != '/' ? "/" : "") + req.target);
    r.headers.emplace_back("Cache-Control", "no-store");  // the leader changes
    return r;
  }
  std::string detail = "this gateway (" + s.node + ") is the standby: it takes over when the leader stops";
  if (s.leader) {
    detail += "; the leader is " + s.leader->node;
    if (!s.leader->http_url.empty()) detail += " at " + s.leader->http_url;
  }
  auto r = detail::json_response(503, json{{"error", {{"status", 503}, {"message", detail}, {"reason", "standby"}}}, {"leader", leader_json(s.leader)}});
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

}  // namespace sewage::gateway::standby
