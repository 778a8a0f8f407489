// Where each HTTP request is answered: read routes on reader threads, the rest on the engine's.
#include "sewage/gateway/read_service.hpp"

#include <boost/asio/post.hpp>

namespace sewage::gateway {

read_service::read_service(api& routes, const engine& eng, boost::asio::any_io_executor engine_exec,
                           const read_pool::connection_factory& open, options opt)
    : routes_(routes), eng_(eng), engine_exec_(std::move(engine_exec)), retry_after_s_(opt.retry_after_s) {
  refresh_view();
  if (opt.pool.threads > 0) pool_ = std::make_unique<read_pool>(open, opt.pool);
}

read_service::~read_service() {
  if (pool_) pool_->stop();
}

void read_service::refresh_view() {
  if (view_ && view_generation_ == eng_.county_generation()) return;
  auto v = std::make_shared<const county_view>(make_county_view(eng_));
  view_generation_ = eng_.county_generation();
  const std::lock_guard lock(view_mutex_);
  view_ = std::move(v);
}

std::shared_ptr<const county_view> read_service::view() const {
  const std::lock_guard lock(view_mutex_);
  return view_;
}

std::size_t read_service::queued() const { return pool_ ? pool_->queued() : 0; }

void read_service::serve(http_request req, http_server::responder respond) {
  if (pool_ && api::is_read_request(req)) {
    // The job owns the request and the responder; dropped unrun when the pool stops.
    auto job = [this, req, respond](store& db) {
      county_view v = *view();
      v.now = eng_.clock().now();  // clock_source is thread-safe
      const read_context rc{db, v};
      respond(routes_.handle(req, &rc));
    };
    if (!pool_->try_submit(std::move(job))) respond(routes_.busy(req, retry_after_s_));
    return;
  }
  boost::asio::post(engine_exec_, [this, req = std::move(req), respond = std::move(respond)] { respond(routes_.handle(req)); });
}

}  // namespace sewage::gateway
