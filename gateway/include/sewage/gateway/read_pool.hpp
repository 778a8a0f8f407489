#pragma once
/// \file
/// A small pool of reader threads, each with its own store connection (a read-only SQLite
/// connection in sewage-gateway), that runs jobs from a bounded queue. The HTTP API's read routes
/// (history, daily series, images, reports) run here so that a heavy read never holds the
/// engine's thread (ingest, alert rules, timers). See gateway/README.md "Reads and the engine
/// thread".

#include "sewage/gateway/store.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sewage::gateway {

struct read_pool_options {
  std::size_t threads{2};     ///< reader threads (config http.reader_threads), at least 1
  std::size_t queue_max{64};  ///< jobs waiting at most (http.reader_queue_max); try_submit refuses beyond
  /// Each job's store statements are interrupted (store_timeout) once its thread has used this
  /// much CPU time on it (http.read_cpu_limit_ms; store::set_cpu_limit); zero = no bound.
  std::chrono::milliseconds job_cpu_limit{10000};
  /// Scheduling niceness added to each reader thread (Linux setpriority per thread): on a small
  /// host the engine's thread, the broker and the readers share few cores, and the engine must
  /// win. 19 (the lowest priority): a reader gets about 1.5 % of the CPU the engine gets when
  /// both want it (CFS weights 15 vs 1024), and all of an idle core. (gateway_bench_reads on
  /// the shared development machine could not tell 10 from 19 apart: ingest 0.76 vs 0.66 of
  /// idle, within its noise; 19 is chosen because ingest must win.)
  int nice{19};
};

class read_pool {
 public:
  /// Opens one connection for a reader thread; called `threads` times in the constructor, on the
  /// constructing thread (so a database that cannot be opened fails at start-up).
  using connection_factory = std::function<std::unique_ptr<store>()>;
  /// A job: runs on a reader thread with that thread's connection. Exceptions are caught and
  /// logged (a job should answer its own failures).
  using job = std::function<void(store& db)>;

  /// Opens the connections and starts the threads. Throws what `open` throws (store_error).
  read_pool(const connection_factory& open, read_pool_options opt);
  /// stop().
  ~read_pool();
  read_pool(const read_pool&) = delete;
  read_pool& operator=(const read_pool&) = delete;

  /// Queues `j`. False (and `j` is not run) when queue_max jobs already wait or the pool is
  /// stopped: the caller answers 503. Thread-safe.
  bool try_submit(job j);
  /// Jobs waiting (not yet running). Thread-safe.
  [[nodiscard]] std::size_t queued() const;
  /// Jobs completed since start (whatever their outcome). Thread-safe.
  [[nodiscard]] std::uint64_t completed() const;
  [[nodiscard]] std::size_t threads() const noexcept { return workers_.size(); }
  /// Lets running jobs finish, drops waiting ones (destroyed without running), joins the
  /// threads. Idempotent; not from a reader thread.
  void stop();

 private:
  void run(store& db);

  read_pool_options opt_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> queue_;
  bool stopping_{false};
  std::uint64_t completed_{0};
  std::vector<std::unique_ptr<store>> connections_;
  std::vector<std::thread> workers_;
};

}  // namespace sewage::gateway
