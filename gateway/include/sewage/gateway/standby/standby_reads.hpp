#pragma once
/// \file
/// The read-only HTTP API of a gateway waiting as the standby (issue 16 item 2, gateway/README.md
/// "A standby gateway"). The standby runs no engine, but the store it shares with the leader
/// (PostgreSQL) holds what the leader committed: the read routes that need nothing but the store
/// (answered_here: history, daily values, images, alerts, commands, the county's daily values,
/// the monthly report, and the incidents with their GeoJSON from the incident room's shared
/// tables, incidents/incident_reader.hpp) are answered from it, through read-only connections on reader threads
/// (read_pool.hpp, bounded as bounded_postgresql_uri, each statement by http.read_cpu_limit_ms),
/// with the callers' identities from the shared identity store (auth/identity_store.hpp; a
/// session's use is recorded there as on the leader). Everything else (writes, engine routes such
/// as /api/summary, maintenance windows, the web application) gets `fallback`'s answer
/// (standby_answer: 503 naming the leader, or a 307 to it). What the standby's answers lack, as
/// it runs no alarm discipline or lab room: an alert's `discipline` object (and so shelved alerts
/// are listed, not hidden) and the report's lab compliance.
///
/// The county view (api.hpp county_view) is built from the store's terminal rows
/// (make_county_view(reg, load_terminals(), ...)) on a reader thread, again once it is older than
/// options::view_max_age; so intervals and registration times lag the leader by at most that.
///
/// Thread-safety: open_in_background() and close() from one thread (the standby's loop);
/// serve() and the counters from any.

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/http_server.hpp"
#include "sewage/gateway/incidents/incident_reader.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/read_pool.hpp"
#include "sewage/gateway/registry.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sewage::gateway::standby {

class standby_reads {
 public:
  struct options {
    read_pool_options pool{};                        ///< http.reader_threads, reader_queue_max, read_cpu_limit_ms
    std::chrono::milliseconds view_max_age{30'000};  ///< rebuild the county view when older
    unsigned retry_after_s{1};                       ///< Retry-After of a 503 when the reader queue is full
  };
  /// The answer to a request this class does not serve (see the file comment).
  using fallback_fn = std::function<http_response(const http_request&)>;

  /// `cfg` (backend postgresql), `reg` and `clock` must outlive the object; nothing is opened
  /// yet (the leader may not have created the schema). `clock` is the gateway's (the `now` of
  /// read views, as the leader's engine clock); identities use the real clock, as the leader's.
  /// `auth` configures the sessions' limits as the leader's. `pipes` (may be null or empty: the
  /// incidents' GeoJSON answers 503 then) is the pipe network, as the leader's; it must outlive the
  /// object. Never throws (except std::bad_alloc).
  standby_reads(const config& cfg, std::shared_ptr<const registry> reg, auth::settings auth,
                const clock_source& clock, options opt, const network::holder* pipes = nullptr);
  /// close().
  ~standby_reads();
  standby_reads(const standby_reads&) = delete;
  standby_reads& operator=(const standby_reads&) = delete;

  /// Unless open already or an opening runs: opens the identity store and the reader connections
  /// on a thread of its own (so the standby's loop, its lease attempts and its health answers
  /// never wait on the database) and logs the outcome: one line when the read routes start, one
  /// per new reason they cannot yet (unreachable, or a schema not exactly this build's: the leader
  /// migrates it). Never throws (except std::system_error when no thread can start).
  void open_in_background();
  /// True once an opening succeeded. Thread-safe.
  [[nodiscard]] bool ready() const noexcept { return ready_.load(); }
  /// Stops answering: waits for an opening that runs, refuses new reads (fallback), drops reads
  /// still queued and waits for those running (each statement bounded by the pool's
  /// job_cpu_limit). The standby calls it when it takes the lease, while its loop still feeds
  /// systemd's watchdog. Idempotent.
  void close();
  /// True when `req` is a read this class answers from the store: api::is_read_request, except
  /// the maintenance windows (the alarm discipline's room, which a standby does not run).
  /// Thread-safe, no side effects.
  static bool answered_here(const http_request& req) noexcept;
  /// The http_server handler while standing by: a read request goes to a reader thread (503 with
  /// Retry-After when the queue is full) and is answered there; anything else, or any request
  /// before open() succeeded, gets `fallback(req)` at once. `respond` is called exactly once
  /// unless the object is destroyed first. Thread-safe.
  void serve(http_request req, const http_server::responder& respond, const fallback_fn& fallback);
  /// Answers later reads with `reg` (SIGHUP: the registry file read again, so a terminal added on
  /// the leader is known here too): the next read rebuilds the county view. Thread-safe.
  void set_registry(std::shared_ptr<const registry> reg);
  /// Read requests answered on the reader threads so far (any status: 200, 401, 404...). Thread-safe.
  [[nodiscard]] std::uint64_t reads_served() const noexcept { return served_.load(); }

 private:
  /// The view for a read at `now` on `db` (rebuilt when older than view_max_age). Reader threads.
  county_view view_for(store& db, proto::timestamp now);
  /// Opens the identity store and the reader connections; the reason when it cannot.
  bool open(std::string& why);

  const config& cfg_;
  config readers_cfg_;  ///< cfg_ with the reader connections' bounds (bounded_postgresql_uri)
  std::shared_ptr<const registry> reg_;  ///< guarded by view_mutex_
  auth::settings auth_;
  const clock_source& clock_;
  system_clock_source wall_clock_;  // identities: sessions, rate limits, audit times
  options opt_;
  const network::holder* pipes_;
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<incidents::incident_reader> incident_reads_;  // before routes_, which uses it
  std::unique_ptr<api> routes_;
  std::unique_ptr<read_pool> pool_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> closed_{false};
  std::thread opener_;
  std::atomic<bool> opening_{false};
  std::string refused_;  ///< the last reason logged (opener thread only)
  std::atomic<std::uint64_t> served_{0};
  std::mutex view_mutex_;
  std::shared_ptr<const county_view> view_;
  std::chrono::steady_clock::time_point view_built_{};
};

}  // namespace sewage::gateway::standby
