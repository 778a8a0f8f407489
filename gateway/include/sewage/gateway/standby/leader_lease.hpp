#pragma once
/// \file
/// The standby gateway's lease (issue 16 item 2, gateway/README.md "A standby gateway"): two
/// gateways on one PostgreSQL store, one leads. The lease is a PostgreSQL session-level advisory
/// lock (`pg_try_advisory_lock(key)`, PostgreSQL 15 manual, 9.27.10 "Advisory Lock Functions") on
/// a connection of the lease's own: the server releases it when that connection ends, so a leader
/// killed by SIGKILL (its socket closed by the kernel) frees it at once, and a leader whose host
/// died frees it when the server's TCP keep-alive gives up on the connection (this lease sets
/// `tcp_keepalives_idle = 6`, `tcp_keepalives_interval = 2`, `tcp_keepalives_count = 3` on it:
/// about 12 s; PostgreSQL 15 manual, 20.3.1).
///
/// The leader writes who it is into table `gateway_leader` (one row per key: node, HTTP URL,
/// since when, and its term: one more than the last leader's), which the standby shows to its
/// callers. The term is the leader's fencing token: its store commits only while the row still
/// holds it (store::set_commit_fence, on the engine's and the notifier's connections), so a former
/// leader that wakes after a takeover (frozen by SIGSTOP or a paused VM, its lease ended meanwhile)
/// cannot commit before it is fenced, except a transaction frozen between its term check and its
/// COMMIT (one statement; gateway/README.md "Fencing"). The leader checks its lease connection
/// every check_interval on a thread of the lease's own (keep()); when no check succeeded for
/// 3 x check_interval (6 s by default: shorter than the 12 s after which the server lets a
/// standby take the lock) the lease counts as lost and the leader stops leading at once (keep()'s
/// fence thread; main.cpp exits with status 3, systemd starts it again as a standby). A new
/// leader waits takeover_delay() after taking the lock before it opens the store and the MQTT
/// session: by then a former leader that is still alive has found its lease gone and stopped.
///
/// The lease's connection adds connect_timeout=5, TCP keep-alives (5 s idle, 2 s x 2) and
/// tcp_user_timeout=10000 to the store's connection string, so no lease call hangs on a dead
/// server or network, and statement_timeout = 3 x check_interval.
///
/// Thread-safety: try_acquire(), leader() and the destructor from one thread (the standby's
/// loop); after keep(), only lost(), checks() and the destructor, from any thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace sewage::gateway::standby {

/// Who leads, as the leader wrote it (table gateway_leader).
struct leader_record {
  std::string node;        ///< standby.node of the leader (default: its host name)
  std::string http_url;    ///< standby.http_url of the leader (may be empty)
  std::int64_t since_ms{0};  ///< when it took the lease, ms since the Unix epoch (server time)
};

struct lease_options {
  std::string postgresql_uri;  ///< libpq connection string (store.postgresql_uri); may hold a password
  std::int64_t key{0};         ///< the advisory lock key both gateways of a pair use (standby.lease_key)
  std::string node;            ///< this gateway's name (standby.node)
  std::string http_url;        ///< this gateway's HTTP URL for callers of the standby (standby.http_url)
  /// How often the leader checks its lease connection; lost after 3 intervals without a check.
  /// At most 3 s (config.cpp), so that 3 intervals stay below the server's 12 s.
  std::chrono::milliseconds check_interval{2000};
};

/// How long a new leader waits after taking the lock before it leads: 3 check intervals (a live
/// former leader's silence rule) plus one fence period and 500 ms of margin.
inline std::chrono::milliseconds takeover_delay(std::chrono::milliseconds check_interval) {
  return 3 * check_interval + std::max(std::chrono::milliseconds(20), check_interval / 4) +
         std::chrono::milliseconds(500);
}

class leader_lease {
 public:
  /// Connects nothing yet (try_acquire does). Never throws (except std::bad_alloc).
  explicit leader_lease(lease_options o);
  /// Stops the keeper thread (joined) and closes the connection: a leader's lease is released.
  ~leader_lease();
  leader_lease(const leader_lease&) = delete;
  leader_lease& operator=(const leader_lease&) = delete;

  /// Tries once to take the lease: connects if needed, then pg_try_advisory_lock(key), then
  /// writes this gateway into gateway_leader with the next term. Returns true when both succeeded
  /// (the lease is held until this object or its connection ends; term() is set). Returns false
  /// when another session holds the lock, the server cannot be reached (logged at warning once
  /// per outage, counted in connect_failures()), or the row could not be written (the lock is
  /// let go again: a leader without a term could not fence its commits). Never throws (except
  /// std::bad_alloc).
  bool try_acquire();
  /// The term written by the try_acquire() that returned true (>= 1), else nullopt. Not
  /// thread-safe: from the thread of try_acquire().
  [[nodiscard]] std::optional<std::int64_t> term() const noexcept { return term_; }
  /// The leader as recorded (nullopt: no row yet, or the server unreachable). Never throws.
  [[nodiscard]] std::optional<leader_record> leader();
  /// After try_acquire() returned true: starts the thread that checks every check_interval that
  /// this session still holds the lock (pg_locks), and the fence thread that calls `on_lost` once,
  /// from its own thread, within check_interval / 4 after lost() became true (main.cpp: exit
  /// status 3 at once). Call once.
  void keep(std::function<void()> on_lost);
  /// True when the lease may no longer be held: the connection broke, the session no longer holds
  /// the lock, or no check succeeded within 3 x check_interval (the server or the network stalls;
  /// a check that fails otherwise, e.g. by statement_timeout, only counts as silence). Once the
  /// connection broke, stays true. Thread-safe.
  [[nodiscard]] bool lost() const;
  /// Checks that succeeded since keep(). Thread-safe.
  [[nodiscard]] std::uint64_t checks() const noexcept { return checks_.load(); }
  /// Connection attempts that failed in try_acquire(). Thread-safe.
  [[nodiscard]] std::uint64_t connect_failures() const noexcept { return connect_failures_.load(); }

 private:
  bool connect();
  void check_loop();
  [[nodiscard]] std::chrono::milliseconds fence_period() const;

  lease_options opt_;
  struct session;  // the libpqxx connection holding the lock (libpqxx 6.4's connection is a typedef)
  std::unique_ptr<session> conn_;
  bool unreachable_logged_{false};
  std::optional<std::int64_t> term_;
  std::atomic<std::uint64_t> checks_{0};
  std::atomic<std::uint64_t> connect_failures_{0};
  std::atomic<bool> broken_{false};
  std::atomic<bool> keeping_{false};
  std::atomic<std::int64_t> last_ok_ns_{0};  // steady_clock of the last successful check
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_{false};
  std::thread keeper_;
  std::thread fence_;
};

}  // namespace sewage::gateway::standby
