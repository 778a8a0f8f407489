#pragma once
/// \file
/// Where each HTTP request is answered: read routes (api::is_read_request) on the reader threads
/// of a read_pool with the county view the engine last published; every other route (light
/// engine routes, POSTs) on the engine's thread. See gateway/README.md "Reads and the engine
/// thread".

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/http_server.hpp"
#include "sewage/gateway/read_pool.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <mutex>
#include <optional>

namespace sewage::gateway {

class read_service {
 public:
  struct options {
    /// Reader threads, queue bound, per-request time bound; pool.threads == 0 = no reader
    /// threads: every request is answered on the engine's thread (as before issue 10).
    read_pool_options pool{};
    unsigned retry_after_s{1};  ///< Retry-After of the 503 when the reader queue is full
  };

  /// `routes` and `eng` must outlive the service; `engine_exec` runs the engine's thread. Opens
  /// the reader connections with `open` (throws what it throws) and publishes the first view.
  /// Construct on the engine's thread.
  read_service(api& routes, const engine& eng, boost::asio::any_io_executor engine_exec,
               const read_pool::connection_factory& open, options opt);
  /// Stops the pool (waiting jobs dropped: their connections close).
  ~read_service();
  read_service(const read_service&) = delete;
  read_service& operator=(const read_service&) = delete;

  /// Engine's thread: publishes a new view when eng.county_generation() changed since the last
  /// one (registry reload, new registration, changed report interval). O(1) otherwise; call it
  /// after each flush.
  void refresh_view();
  /// The http_server handler. Any thread: a read request goes to the pool (503 with Retry-After
  /// when its queue is full) and is answered from there; any other request is posted to the
  /// engine's thread. `respond` is called exactly once, from the thread that answered, unless
  /// the service stops first.
  void serve(http_request req, http_server::responder respond);
  /// The view readers use now (its `now` is when it was built: readers replace it). Thread-safe.
  [[nodiscard]] std::shared_ptr<const county_view> view() const;
  /// Read requests waiting for a reader thread. Thread-safe.
  [[nodiscard]] std::size_t queued() const;
  /// Reader threads (0 = reads on the engine's thread).
  [[nodiscard]] std::size_t reader_threads() const noexcept { return pool_ ? pool_->threads() : 0; }

 private:
  api& routes_;
  const engine& eng_;
  boost::asio::any_io_executor engine_exec_;
  unsigned retry_after_s_;
  mutable std::mutex view_mutex_;
  std::shared_ptr<const county_view> view_;
  std::uint64_t view_generation_{0};  // engine's thread only
  std::unique_ptr<read_pool> pool_;
};

}  // namespace sewage::gateway
