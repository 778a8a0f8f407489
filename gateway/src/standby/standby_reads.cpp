#include "sewage/gateway/standby/standby_reads.hpp"

#include "sewage/gateway/auth/identity_store.hpp"
#include "sewage/gateway/postgresql_store.hpp"
#include "sewage/gateway/store_factory.hpp"

#include "../detail/http_json.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <utility>

namespace sewage::gateway::standby {

standby_reads::standby_reads(const config& cfg, std::shared_ptr<const registry> reg, auth::settings auth,
                             const clock_source& clock, options opt, const network::holder* pipes)
    : cfg_(cfg), readers_cfg_(cfg), reg_(std::move(reg)), auth_(auth), clock_(clock), opt_(opt), pipes_(pipes) {
  readers_cfg_.postgresql_uri = bounded_postgresql_uri(cfg.postgresql_uri);
}

standby_reads::~standby_reads() { close(); }

void standby_reads::close() {
  closed_.store(true);
  if (opener_.joinable()) opener_.join();
  if (pool_) pool_->stop();  // before the api and the identities its jobs use
}

bool standby_reads::answered_here(const http_request& req) noexcept {
  if (!api::is_read_request(req)) return false;
  static constexpr std::string_view windows = "/api/maintenance-windows";
  return req.target.compare(0, windows.size(), windows) != 0;
}

bool standby_reads::open(std::string& why) {
  try {
    if (!ids_) ids_ = std::make_unique<auth::service>(auth::open_identity_store(cfg_), auth_, wall_clock_);
    if (!incident_reads_) incident_reads_ = incidents::open_stored_incident_reader(readers_cfg_.postgresql_uri);
    if (!routes_) {
      routes_ = std::make_unique<api>(cfg_, ids_.get());
      routes_->set_incident_reads(incident_reads_.get(), pipes_);
    }
    pool_ = std::make_unique<read_pool>([this] { return open_store(readers_cfg_, store_access::read_only); }, opt_.pool);
  } catch (const std::exception& e) {
    why = e.what();
    return false;
  }
  return true;
}

void standby_reads::open_in_background() {
  if (ready_.load() || closed_.load() || opening_.load()) return;
  if (opener_.joinable()) opener_.join();  // the last one has finished (opening_ is false)
  opening_.store(true);
  opener_ = std::thread([this] {
    std::string why;
    if (open(why)) {
      ready_.store(true);
      spdlog::info("standby: read routes answered from the shared store ({} reader threads)", pool_->threads());
    } else if (why != refused_) {
      refused_ = why;
      spdlog::warn("standby: read routes not answered yet: {}", why);
    }
    opening_.store(false);
  });
}

void standby_reads::set_registry(std::shared_ptr<const registry> reg) {
  const std::lock_guard lock(view_mutex_);
  reg_ = std::move(reg);
  view_.reset();  // the next read builds the view of the new registry
}

county_view standby_reads::view_for(store& db, proto::timestamp now) {
  std::shared_ptr<const county_view> v;
  {
    const std::lock_guard lock(view_mutex_);
    const auto age = std::chrono::steady_clock::now() - view_built_;
    if (!view_ || age > opt_.view_max_age) {
      view_ = std::make_shared<const county_view>(make_county_view(reg_, db.load_terminals(), cfg_, now));
      view_built_ = std::chrono::steady_clock::now();
    }
    v = view_;
  }
  county_view out = *v;
  out.now = now;
  return out;
}

void standby_reads::serve(http_request req, const http_server::responder& respond, const fallback_fn& fallback) {
  if (!ready_.load() || closed_.load() || !answered_here(req)) {
    respond(fallback(req));
    return;
  }
  auto job = [this, req, respond](store& db) {
    http_response answer;
    try {
      const county_view v = view_for(db, clock_.now());
      const read_context rc{db, v};
      answer = routes_->handle(req, &rc);
      served_.fetch_add(1);
    } catch (const std::exception& e) {  // the view could not be read: the store is unwell
      spdlog::warn("standby: a read failed: {}", e.what());
      answer = detail::json_response(
          503, nlohmann::json{{"error",
                               {{"status", 503},
                                {"message", "this standby could not read the shared store; try again or ask the leader"},
                                {"reason", "store_unavailable"}}}});
      answer.headers.emplace_back("Retry-After", "5");
    }
    respond(std::move(answer));
  };
  if (!pool_->try_submit(std::move(job))) respond(routes_->busy(req, opt_.retry_after_s));
}

}  // namespace sewage::gateway::standby
