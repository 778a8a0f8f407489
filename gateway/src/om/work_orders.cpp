// Work orders (om/work_orders.hpp): state machine, check-ins, photos, figures, auto-creation and
// overdue escalation. SQL through the SQLite C API on a connection of its own (like auth::service).
#include "sewage/gateway/om/work_orders.hpp"

#include "sewage/gateway/auth/secrets.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/store.hpp"
#include "photo_meta.hpp"
#include "detail/sqlite_stmt.hpp"

#include <sewage/proto/alert.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

namespace sewage::gateway::om {

using nlohmann::json;

namespace {

/// A prepared statement of the work orders' connection.
class stmt : public gateway::detail::sqlite_stmt {
 public:
  stmt(sqlite3* db, const char* sql) : gateway::detail::sqlite_stmt(db, sql, "work orders store") {}
};

severity parse_sev(const std::string& s) {
  return s == "critical" ? severity::critical : s == "info" ? severity::info : severity::warning;
}

constexpr const char* order_columns =
    "id, site_id, town, source, source_ref, fault_type, severity, title, description, contractor, state, created_ms, "
    "dispatched_ms, on_site_ms, fixed_ms, verified_ms, due_ms, reopen_count, cause, parts_used, created_by, "
    "reporter_phone, escalated_level";

work_order read_order(stmt& s) {
  work_order o;
  o.id = s.i64(0);
  o.site_id = s.text(1);
  o.town = s.text(2);
  o.source = s.text(3);
  o.source_ref = s.text(4);
  o.fault_type = s.text(5);
  o.sev = parse_sev(s.text(6));
  o.title = s.text(7);
  o.description = s.text(8);
  o.contractor = s.text(9);
  o.state = parse_order_state(s.text(10)).value_or(order_state::open);
  o.created_ms = s.i64(11);
  o.dispatched_ms = s.opt_i64(12);
  o.on_site_ms = s.opt_i64(13);
  o.fixed_ms = s.opt_i64(14);
  o.verified_ms = s.opt_i64(15);
  o.due_ms = s.i64(16);
  o.reopen_count = s.i64(17);
  o.cause = s.text(18);
  o.parts_used = s.text(19);
  o.created_by = s.text(20);
  o.reporter_phone = s.text(21);
  o.escalated_level = static_cast<int>(s.i64(22));
  return o;
}

/// 400 naming the field unless `v` is `min..max` bytes of printable text (newlines allowed when multi).
void check_text(const std::string& field, const std::string& v, std::size_t min, std::size_t max, bool multi) {
  if (v.size() < min || v.size() > max)
    throw om_error(400, "bad_field", field + ": must be " + std::to_string(min) + ".." + std::to_string(max) + " bytes");
  for (const unsigned char c : v)
    if ((c < 0x20 && !(multi && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
      throw om_error(400, "bad_field", field + ": control characters are not allowed");
}

void check_position(const std::optional<double>& lat, const std::optional<double>& lon) {
  if (lat.has_value() != lon.has_value()) throw om_error(400, "bad_field", "lat/lon: give both or neither");
  if (lat && !(*lat >= -90.0 && *lat <= 90.0)) throw om_error(400, "bad_field", "lat: must be -90..90 degrees");
  if (lon && !(*lon >= -180.0 && *lon <= 180.0)) throw om_error(400, "bad_field", "lon: must be -180..180 degrees");
}

bool is_operator_of(const auth::principal& who, const std::string& town) {
  return who.kind == auth::actor_kind::system ||
         (who.kind != auth::actor_kind::anonymous && who.role != auth::role::contractor &&
          who.at_least(auth::role::operator_) && who.sees_town(town));
}

}  // namespace

std::string contractor_of(const settings& s, const std::string& site_id, const std::string& town) {
  for (const auto& c : s.contractors)
    if (std::find(c.sites.begin(), c.sites.end(), site_id) != c.sites.end()) return c.name;
  for (const auto& c : s.contractors)
    if (std::find(c.towns.begin(), c.towns.end(), town) != c.towns.end()) return c.name;
  return {};
}

std::string_view to_string(order_state s) noexcept {
  switch (s) {
    case order_state::open: return "open";
    case order_state::dispatched: return "dispatched";
    case order_state::on_site: return "on_site";
    case order_state::fixed: return "fixed";
    case order_state::verified: return "verified";
    case order_state::reopened: return "reopened";
  }
  return "open";
}

std::optional<order_state> parse_order_state(std::string_view s) noexcept {
  for (auto v : {order_state::open, order_state::dispatched, order_state::on_site, order_state::fixed,
                 order_state::verified, order_state::reopened})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::string_view to_string(order_action a) noexcept {
  switch (a) {
    case order_action::dispatch: return "dispatch";
    case order_action::on_site: return "on_site";
    case order_action::fixed: return "fixed";
    case order_action::verify: return "verify";
    case order_action::reopen: return "reopen";
  }
  return "dispatch";
}

std::optional<order_action> parse_order_action(std::string_view s) noexcept {
  for (auto v : {order_action::dispatch, order_action::on_site, order_action::fixed, order_action::verify,
                 order_action::reopen})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

bool valid_source(std::string_view s) noexcept {
  return s == "alert" || s == "incident" || s == "inspection" || s == "complaint" || s == "manual";
}

bool may_see(const auth::principal& who, const std::string& town, const std::string& site_contractor) {
  if (who.kind == auth::actor_kind::system) return true;
  if (who.role == auth::role::contractor) return !who.contractor.empty() && who.contractor == site_contractor;
  return who.sees_town(town);
}

std::optional<std::pair<unsigned, std::string>> refusal(const work_order* o, std::optional<order_action> a,
                                                        const auth::principal& who, const std::string& site_town) {
  using r = std::pair<unsigned, std::string>;
  const bool anonymous = who.kind == auth::actor_kind::anonymous;
  if (anonymous) return r{401, "login required"};
  const std::string role(auth::to_string(who.role));
  if (o == nullptr || !a) {  // create
    if (!is_operator_of(who, site_town))
      return r{403, "role " + role + " may not create work orders for town '" + site_town + "': operator or admin of it needed"};
    return std::nullopt;
  }
  const auto st = o->state;
  const std::string from(to_string(st));
  const auto wrong_state = [&](const char* need) {
    return r{409, "order " + std::to_string(o->id) + " is " + from + ": " + std::string(to_string(*a)) + " needs " + need};
  };
  switch (*a) {
    case order_action::dispatch:
    case order_action::verify:
    case order_action::reopen: {
      if (!is_operator_of(who, site_town))
        return r{403, "role " + role + " may not " + std::string(to_string(*a)) + " orders of town '" + site_town +
                          "': an operator or admin of that town or the county is needed"};
      if (*a == order_action::dispatch && st != order_state::open && st != order_state::reopened)
        return wrong_state("open or reopened");
      if (*a == order_action::verify && st != order_state::fixed) return wrong_state("fixed");
      if (*a == order_action::reopen && st != order_state::fixed && st != order_state::verified)
        return wrong_state("fixed or verified");
      return std::nullopt;
    }
    case order_action::on_site:
    case order_action::fixed: {
      if (who.role != auth::role::contractor)
        return r{403, "role " + role + " may not report " + std::string(to_string(*a)) +
                          ": only the contractor's field crew (role contractor) does"};
      if (who.contractor.empty() || who.contractor != o->contractor)
        return r{403, "order " + std::to_string(o->id) + " is not assigned to your contractor"};
      if (*a == order_action::on_site && st != order_state::dispatched) return wrong_state("dispatched");
      if (*a == order_action::fixed && st != order_state::on_site) return wrong_state("on_site");
      return std::nullopt;
    }
  }
  return r{403, "unknown action"};
}

class work_orders::impl {
 public:
  impl(const std::filesystem::path& path, const settings& s, const clock_source& clock, site_lookup sites,
       auth::service* audit)
      : settings_(s), clock_(clock), sites_(std::move(sites)), audit_(audit),
        db_(gateway::detail::open_room(path.string(), "'work_orders','work_order_events','checkins','photos'", 4, "work order")) {}
  ~impl() { sqlite3_close(db_); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  std::int64_t now_ms() const { return clock_.now().time_since_epoch().count(); }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string m = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("work orders store: " + m);
    }
  }
  /// BEGIN IMMEDIATE .. COMMIT around `f`, rolled back on any exception.
  template <class F>
  auto tx(F&& f) {
    exec("BEGIN IMMEDIATE");
    pending_audit_.clear();
    try {
      auto r = f();
      exec("COMMIT");
      flush_audit();
      return r;
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      pending_audit_.clear();
      throw;
    }
  }
  /// Audit rows go through auth::service's own connection, after our COMMIT (its write would wait
  /// for our transaction's lock). A crash between the two loses the audit row, never the event
  /// row (work_order_events holds who/when/where/note too).
  void flush_audit() {
    auto rows = std::move(pending_audit_);
    pending_audit_.clear();
    if (audit_ == nullptr) return;
    for (auto& [who, action, target, detail] : rows) {
      try {
        audit_->audit(who, action, target, detail);
      } catch (const std::exception& e) {
        spdlog::error("work orders: audit row {} {} not written: {}", action, target, e.what());
      }
    }
  }

  std::optional<work_order> get(std::int64_t id) {
    stmt s(db_, (std::string("SELECT ") + order_columns + " FROM work_orders WHERE id = ?1").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_order(s);
  }

  void event(std::int64_t order_id, std::int64_t ts, const auth::principal& who, const std::string& from,
             const std::string& to, const std::optional<double>& lat, const std::optional<double>& lon,
             const std::string& note) {
    stmt(db_, "INSERT INTO work_order_events(order_id, ts_ms, actor, from_state, to_state, lat, lon, note) "
              "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")
        .bind(1, order_id)
        .bind(2, ts)
        .bind(3, actor_name(who))
        .bind(4, from)
        .bind(5, to)
        .bind(6, lat)
        .bind(7, lon)
        .bind(8, note)
        .run();
  }
  void audit(const auth::principal& who, const std::string& action, const std::string& target, const json& detail) {
    if (audit_ != nullptr) pending_audit_.push_back({who, action, target, detail.dump()});
  }
  static std::string actor_name(const auth::principal& who) {
    return who.kind == auth::actor_kind::system && who.name.empty() ? std::string("sewage-gateway") : who.name;
  }

  std::int64_t insert_order(const new_work_order& o, const site_ref& site, const auth::principal& by) {
    const auto now = now_ms();
    const std::string contractor = o.contractor.empty() ? contractor_of(settings_, site.id, site.town) : o.contractor;
    stmt(db_, "INSERT INTO work_orders(site_id, town, source, source_ref, fault_type, severity, title, description, "
              "contractor, state, created_ms, due_ms, created_by, reporter_phone) "
              "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,'open',?10,?11,?12,?13)")
        .bind(1, o.site_id)
        .bind(2, site.town)
        .bind(3, o.source)
        .bind(4, o.source_ref)
        .bind(5, o.fault_type)
        .bind(6, std::string(to_string(o.sev)))
        .bind(7, o.title)
        .bind(8, o.description)
        .bind(9, contractor)
        .bind(10, now)
        .bind(11, now + settings_.work_orders.due_ms_for(o.sev))
        .bind(12, actor_name(by))
        .bind(13, o.reporter_phone)
        .run();
    const auto id = sqlite3_last_insert_rowid(db_);
    event(id, now, by, "", "open", std::nullopt, std::nullopt, o.title);
    audit(by, "work_order.create", std::to_string(id),
          json{{"site_id", o.site_id}, {"source", o.source}, {"source_ref", o.source_ref}, {"severity", to_string(o.sev)},
               {"contractor", contractor}});
    return id;
  }

  settings settings_;
  const clock_source& clock_;
  site_lookup sites_;
  auth::service* audit_;
  std::vector<std::tuple<auth::principal, std::string, std::string, std::string>> pending_audit_;
  open_alert_source alerts_;  // judge()'s committed open alerts (set_alert_source)
  std::set<std::int64_t> offered_;  // open alerts judge() has handed to alert_raised() (judge's thread)
  sqlite3* db_{nullptr};
  std::mutex mutex_;
};

work_orders::work_orders(const std::filesystem::path& db_path, settings s, const clock_source& clock, site_lookup sites,
                         auth::service* audit)
    : impl_(std::make_unique<impl>(db_path, s, clock, std::move(sites), audit)), settings_(std::move(s)) {}
work_orders::~work_orders() = default;

namespace {
site_ref site_or_404(const site_lookup& sites, const std::string& id) {
  auto s = sites ? sites(id) : std::nullopt;
  if (!s) throw om_error(404, "not_found", "site_id: unknown site '" + id.substr(0, 64) + "'");
  return *s;
}
}  // namespace

std::int64_t work_orders::create(const new_work_order& o, const auth::principal& by) {
  check_text("site_id", o.site_id, 1, 64, false);
  if (!valid_source(o.source))
    throw om_error(400, "bad_field", "source: must be alert, incident, inspection, complaint or manual");
  check_text("source_ref", o.source_ref, 0, 64, false);
  check_text("fault_type", o.fault_type, 1, 64, false);
  check_text("title", o.title, 1, 200, false);
  check_text("description", o.description, 0, 4000, true);
  check_text("reporter_phone", o.reporter_phone, 0, 32, false);
  for (const char c : o.reporter_phone)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == ' '))
      throw om_error(400, "bad_field", "reporter_phone: only digits, + - and spaces");
  if (!o.contractor.empty() &&
      std::none_of(settings_.contractors.begin(), settings_.contractors.end(), [&](const contractor& c) { return c.name == o.contractor; }))
    throw om_error(400, "bad_field", "contractor: '" + o.contractor.substr(0, 64) + "' is not an [[om.contractor]]");
  const auto site = site_or_404(impl_->sites_, o.site_id);
  if (auto r = refusal(nullptr, std::nullopt, by, site.town)) throw om_error(r->first, r->first == 401 ? "unauthorized" : "forbidden", r->second);
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx([&] { return impl_->insert_order(o, site, by); });
}

work_order work_orders::transition(std::int64_t id, order_action a, const auth::principal& who, const transition_args& args) {
  check_text("note", args.note, 0, 2000, true);
  check_position(args.lat, args.lon);
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx([&] {
    auto o = impl_->get(id);
    if (!o) throw om_error(404, "not_found", "work order " + std::to_string(id) + " does not exist");
    if (!may_see(who, o->town, o->contractor))
      throw om_error(403, "forbidden", "work order " + std::to_string(id) + " is outside your scope");
    if (auto r = refusal(&*o, a, who, o->town))
      throw om_error(r->first, r->first == 409 ? "conflict" : r->first == 401 ? "unauthorized" : "forbidden", r->second);
    const auto now = impl_->now_ms();
    const std::string from(to_string(o->state));
    order_state to = o->state;
    json detail{{"from", from}};
    switch (a) {
      case order_action::dispatch: {
        std::string c = args.contractor.empty() ? o->contractor : args.contractor;
        if (c.empty()) c = contractor_of(settings_, o->site_id, o->town);
        if (c.empty())
          throw om_error(409, "conflict", "contractor: site '" + o->site_id + "' has no [[om.contractor]]; name one to dispatch");
        if (std::none_of(settings_.contractors.begin(), settings_.contractors.end(), [&](const contractor& k) { return k.name == c; }))
          throw om_error(400, "bad_field", "contractor: '" + c.substr(0, 64) + "' is not an [[om.contractor]]");
        to = order_state::dispatched;
        stmt(impl_->db_, "UPDATE work_orders SET state='dispatched', contractor=?2, dispatched_ms=?3, on_site_ms=NULL, "
                         "fixed_ms=NULL, verified_ms=NULL WHERE id=?1")
            .bind(1, id).bind(2, c).bind(3, now).run();
        detail["contractor"] = c;
        break;
      }
      case order_action::on_site: {
        // A check-in at this site by the order's contractor, made at or after the dispatch.
        stmt s(impl_->db_, "SELECT id, lat, lon, distance_m FROM checkins WHERE site_id=?1 AND contractor=?2 AND ts_ms>=?3 "
                           "AND (order_id IS NULL OR order_id=?4) ORDER BY ts_ms DESC LIMIT 1");
        s.bind(1, o->site_id).bind(2, o->contractor).bind(3, o->dispatched_ms.value_or(0)).bind(4, id);
        if (!s.step())
          throw om_error(409, "checkin_required",
                         "on_site needs a check-in at site '" + o->site_id + "' made after the dispatch (scan the site's QR code)");
        detail["checkin_id"] = s.i64(0);
        detail["distance_m"] = s.f64(3);
        to = order_state::on_site;
        stmt(impl_->db_, "UPDATE work_orders SET state='on_site', on_site_ms=?2 WHERE id=?1").bind(1, id).bind(2, now).run();
        break;
      }
      case order_action::fixed: {
        check_text("cause", args.cause, 1, 2000, true);
        check_text("parts_used", args.parts_used, 1, 2000, true);
        stmt c(impl_->db_, "SELECT max(ts_ms) FROM checkins WHERE site_id=?1 AND contractor=?2 AND ts_ms>=?3 "
                           "AND (order_id IS NULL OR order_id=?4)");
        c.bind(1, o->site_id).bind(2, o->contractor).bind(3, o->dispatched_ms.value_or(0)).bind(4, id);
        const std::int64_t checkin_ms = c.step() && !c.null(0) ? c.i64(0) : o->on_site_ms.value_or(0);
        stmt p(impl_->db_, "SELECT count(*) FROM photos WHERE order_id=?1 AND taken_ms>=?2");
        p.bind(1, id).bind(2, checkin_ms);
        if (!p.step() || p.i64(0) == 0)
          throw om_error(409, "photo_required",
                         "fixed needs at least one photo of the repair taken after the check-in (upload it first)");
        detail["photos"] = p.i64(0);
        to = order_state::fixed;
        stmt(impl_->db_, "UPDATE work_orders SET state='fixed', fixed_ms=?2, cause=?3, parts_used=?4 WHERE id=?1")
            .bind(1, id).bind(2, now).bind(3, args.cause).bind(4, args.parts_used).run();
        break;
      }
      case order_action::verify:
        to = order_state::verified;
        stmt(impl_->db_, "UPDATE work_orders SET state='verified', verified_ms=?2 WHERE id=?1").bind(1, id).bind(2, now).run();
        break;
      case order_action::reopen:
        if (args.note.empty()) throw om_error(400, "bad_field", "note: a reopen needs a note saying what is still wrong");
        to = order_state::reopened;
        stmt(impl_->db_, "UPDATE work_orders SET state='reopened', reopen_count=reopen_count+1, verified_ms=NULL WHERE id=?1")
            .bind(1, id).run();
        break;
    }
    impl_->event(id, now, who, from, std::string(to_string(to)), args.lat, args.lon, args.note);
    detail["to"] = to_string(to);
    if (args.lat) {
      detail["lat"] = *args.lat;
      detail["lon"] = *args.lon;
    }
    if (!args.note.empty()) detail["note"] = args.note;
    impl_->audit(who, "work_order." + std::string(to_string(a)), std::to_string(id), detail);
    return *impl_->get(id);
  });
}

std::optional<work_order> work_orders::get(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->get(id);
}

std::vector<work_order> work_orders::list(const order_query& q, const auth::principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, (std::string("SELECT ") + order_columns +
                      " FROM work_orders WHERE (?1 IS NULL OR state=?1) AND (?2 IS NULL OR site_id=?2) AND "
                      "(?3 IS NULL OR contractor=?3) AND (?4 IS NULL OR town=?4) AND (?5 IS NULL OR id<?5) ORDER BY id DESC")
                         .c_str());
  if (q.state) s.bind(1, std::string(to_string(*q.state))); else s.bind_null(1);
  s.bind(2, q.site).bind(3, q.contractor).bind(4, q.town).bind(5, q.before_id);
  std::vector<work_order> out;
  while (out.size() < q.limit && s.step()) {
    auto o = read_order(s);
    if (may_see(who, o.town, o.contractor)) out.push_back(std::move(o));
  }
  return out;
}

std::vector<order_event> work_orders::events(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, "SELECT id, order_id, ts_ms, actor, from_state, to_state, lat, lon, note FROM work_order_events "
                     "WHERE order_id=?1 ORDER BY id");
  s.bind(1, order_id);
  std::vector<order_event> out;
  while (s.step()) out.push_back({s.i64(0), s.i64(1), s.i64(2), s.text(3), s.text(4), s.text(5), s.opt_f64(6), s.opt_f64(7), s.text(8)});
  return out;
}

std::vector<checkin> work_orders::checkins_of(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  auto o = impl_->get(order_id);
  if (!o) return {};
  // The order's own check-ins and those at its site by its contractor since the dispatch.
  stmt s(impl_->db_, "SELECT id, site_id, order_id, inspection_id, actor, contractor, ts_ms, lat, lon, accuracy_m, distance_m "
                     "FROM checkins WHERE order_id=?1 OR (order_id IS NULL AND site_id=?2 AND contractor=?3 AND ts_ms>=?4) ORDER BY ts_ms");
  s.bind(1, order_id).bind(2, o->site_id).bind(3, o->contractor).bind(4, o->dispatched_ms.value_or(INT64_MAX));
  std::vector<checkin> out;
  while (s.step())
    out.push_back({s.i64(0), s.text(1), s.opt_i64(2), s.opt_i64(3), s.text(4), s.text(5), s.i64(6), s.f64(7), s.f64(8), s.opt_f64(9), s.f64(10)});
  return out;
}

namespace {
photo read_photo(stmt& s) {
  photo p;
  p.id = s.i64(0);
  p.order_id = s.opt_i64(1);
  p.inspection_id = s.opt_i64(2);
  p.site_id = s.text(3);
  p.path = s.text(4);
  p.sha256 = s.text(5);
  p.bytes = s.i64(6);
  p.content_type = s.text(7);
  p.taken_ms = s.i64(8);
  p.taken_source = s.text(9);
  p.uploaded_ms = s.i64(10);
  p.lat = s.opt_f64(11);
  p.lon = s.opt_f64(12);
  p.position_source = s.text(13);
  p.actor = s.text(14);
  return p;
}
constexpr const char* photo_columns =
    "id, order_id, inspection_id, site_id, path, sha256, bytes, content_type, taken_ms, taken_source, uploaded_ms, lat, lon, "
    "position_source, actor";
}  // namespace

std::vector<photo> work_orders::photos_of(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, (std::string("SELECT ") + photo_columns + " FROM photos WHERE order_id=?1 ORDER BY id").c_str());
  s.bind(1, order_id);
  std::vector<photo> out;
  while (s.step()) out.push_back(read_photo(s));
  return out;
}

std::optional<photo> work_orders::photo_by_id(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  stmt s(impl_->db_, (std::string("SELECT ") + photo_columns + " FROM photos WHERE id=?1").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_photo(s);
}

std::int64_t work_orders::add_checkin(const checkin& c, const auth::principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx([&] {
    const auto now = impl_->now_ms();
    stmt(impl_->db_, "INSERT INTO checkins(site_id, order_id, inspection_id, actor, contractor, ts_ms, lat, lon, accuracy_m, "
                     "distance_m) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)")
        .bind(1, c.site_id)
        .bind(2, c.order_id)
        .bind(3, c.inspection_id)
        .bind(4, impl::actor_name(who))
        .bind(5, who.contractor)
        .bind(6, now)
        .bind(7, c.lat)
        .bind(8, c.lon)
        .bind(9, c.accuracy_m)
        .bind(10, c.distance_m)
        .run();
    const auto id = sqlite3_last_insert_rowid(impl_->db_);
    json d{{"site_id", c.site_id}, {"lat", c.lat}, {"lon", c.lon}, {"distance_m", c.distance_m}};
    if (c.order_id) d["order_id"] = *c.order_id;
    if (c.inspection_id) d["inspection_id"] = *c.inspection_id;
    impl_->audit(who, "checkin", c.site_id, d);
    return id;
  });
}

std::int64_t work_orders::add_photo(std::int64_t order_id, std::string_view bytes, std::string_view content_type,
                                    std::optional<double> phone_lat, std::optional<double> phone_lon,
                                    const auth::principal& who) {
  check_position(phone_lat, phone_lon);
  if (bytes.size() > settings_.photo_max_bytes)
    throw om_error(413, "too_large", "photo: " + std::to_string(bytes.size()) + " bytes, more than om.photo_max_bytes = " +
                                         std::to_string(settings_.photo_max_bytes));
  const auto kind = detail::sniff_image(bytes);
  if (!kind)
    throw om_error(400, "bad_field", "photo: the body is not a JPEG or PNG image");
  if (!content_type.empty() && content_type.substr(0, content_type.find(';')) != *kind)
    throw om_error(400, "bad_field", "Content-Type: says '" + std::string(content_type.substr(0, 64)) + "' but the body is " + *kind);
  auto o = get(order_id);
  if (!o) throw om_error(404, "not_found", "work order " + std::to_string(order_id) + " does not exist");
  if (!may_see(who, o->town, o->contractor))
    throw om_error(403, "forbidden", "work order " + std::to_string(order_id) + " is outside your scope");
  const bool field = who.role == auth::role::contractor && who.contractor == o->contractor;
  if (!field && !is_operator_of(who, o->town))
    throw om_error(403, "forbidden", "role " + std::string(auth::to_string(who.role)) + " may not add photos to this order");
  if (o->state != order_state::dispatched && o->state != order_state::on_site && o->state != order_state::fixed)
    throw om_error(409, "conflict", "order " + std::to_string(order_id) + " is " + std::string(to_string(o->state)) +
                                        ": photos are taken while it is dispatched, on_site or fixed");
  const auto meta = detail::read_photo_meta(bytes);
  const auto now = impl_->now_ms();
  const std::string sha = auth::sha256_hex(bytes);
  const std::string ext = *kind == "image/png" ? ".png" : ".jpg";
  const auto dir = settings_.photo_dir / std::to_string(order_id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto file = dir / (sha + ext);
  {
    const auto tmp = dir / (sha + ext + ".tmp");
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f || (std::filesystem::rename(tmp, file, ec), ec))
      throw std::runtime_error("photo: cannot write " + file.string());
  }
  // Time: EXIF DateTimeOriginal when present and not in the future, else upload time. Position:
  // EXIF GPS when present, else the phone's position sent with the upload.
  std::int64_t taken = now;
  std::string taken_source = "upload";
  if (meta.taken_ms && *meta.taken_ms <= now + 300'000) {
    taken = *meta.taken_ms;
    taken_source = "exif";
  }
  std::optional<double> lat = phone_lat, lon = phone_lon;
  std::string pos_source = phone_lat ? "phone" : "";
  if (meta.lat && meta.lon) {
    lat = meta.lat;
    lon = meta.lon;
    pos_source = "exif";
  }
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx([&] {
    stmt(impl_->db_, "INSERT INTO photos(order_id, site_id, path, sha256, bytes, content_type, taken_ms, taken_source, "
                     "uploaded_ms, lat, lon, position_source, actor) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")
        .bind(1, order_id)
        .bind(2, o->site_id)
        .bind(3, file.string())
        .bind(4, sha)
        .bind(5, static_cast<std::int64_t>(bytes.size()))
        .bind(6, std::string(*kind))
        .bind(7, taken)
        .bind(8, taken_source)
        .bind(9, now)
        .bind(10, lat)
        .bind(11, lon)
        .bind(12, pos_source)
        .bind(13, impl::actor_name(who))
        .run();
    const auto id = sqlite3_last_insert_rowid(impl_->db_);
    json d{{"order_id", order_id}, {"sha256", sha}, {"bytes", bytes.size()}, {"taken_source", taken_source}};
    if (lat) {
      d["lat"] = *lat;
      d["lon"] = *lon;
    }
    impl_->audit(who, "work_order.photo", std::to_string(order_id), d);
    return id;
  });
}

std::vector<figure_row> work_orders::figures(std::int64_t from_ms, std::int64_t to_ms, const std::string& by,
                                             const auth::principal& who) {
  if (by != "contractor" && by != "town" && by != "fault_type")
    throw om_error(400, "bad_field", "by: must be contractor, town or fault_type");
  const std::lock_guard lock(impl_->mutex_);
  // The first fixed time of each order (a reopened order keeps its first fix for time to fix;
  // on time = first fix at or before due).
  stmt s(impl_->db_,
         "SELECT o.contractor, o.town, o.fault_type, o.created_ms, o.dispatched_ms, o.due_ms, o.reopen_count, o.state, "
         " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='dispatched'),"
         " (SELECT min(ts_ms) FROM work_order_events e WHERE e.order_id=o.id AND e.to_state='fixed') "
         "FROM work_orders o WHERE o.created_ms>=?1 AND o.created_ms<?2");
  s.bind(1, from_ms).bind(2, to_ms);
  struct acc {
    figure_row r;
    double dispatch_h{0}, fix_h{0};
  };
  std::map<std::string, acc> groups;
  while (s.step()) {
    const auto contractor = s.text(0), town = s.text(1), fault = s.text(2);
    if (!may_see(who, town, contractor)) continue;
    const std::string key = by == "contractor" ? contractor : by == "town" ? town : fault;
    auto& a = groups[key];
    a.r.key = key;
    ++a.r.orders;
    const auto created = s.i64(3);
    if (!s.null(8)) {
      ++a.r.dispatched;
      a.dispatch_h += static_cast<double>(s.i64(8) - created) / 3'600'000.0;
    }
    if (!s.null(9)) {
      ++a.r.fixed;
      a.fix_h += static_cast<double>(s.i64(9) - created) / 3'600'000.0;
      if (s.i64(9) <= s.i64(5)) ++a.r.on_time;
    }
    if (s.text(7) == "verified") ++a.r.closed;
    if (s.i64(6) > 0) ++a.r.reopened;
  }
  std::vector<figure_row> out;
  for (auto& [k, a] : groups) {
    if (a.r.dispatched > 0) a.r.mean_time_to_dispatch_h = a.dispatch_h / static_cast<double>(a.r.dispatched);
    if (a.r.fixed > 0) {
      a.r.mean_time_to_fix_h = a.fix_h / static_cast<double>(a.r.fixed);
      a.r.on_time_rate = static_cast<double>(a.r.on_time) / static_cast<double>(a.r.fixed);
      a.r.reopen_rate = static_cast<double>(a.r.reopened) / static_cast<double>(a.r.fixed);
    }
    out.push_back(a.r);
  }
  return out;
}

namespace {
const work_order_policy* policy_for(const settings& s, const std::string& type, severity sev) {
  for (const auto& p : s.work_orders.policies)
    if ((p.type == "*" || p.type == type) && sev >= p.min_severity) return &p;
  return nullptr;
}
}  // namespace

std::vector<alert_seen> committed_open_alerts(store& db) {
  std::vector<alert_seen> out;
  alert_query q;
  q.state = alert_query::state_filter::open;
  q.limit = 1000;
  for (;;) {
    const auto page = db.find_alerts(q);  // newest first
    for (const auto& m : page)
      out.push_back({static_cast<std::int64_t>(m.alert_id), m.terminal_id, std::string(proto::to_string(m.type)),
                     alert_severity(m.type), std::chrono::duration_cast<std::chrono::milliseconds>(m.raised_at.time_since_epoch()).count()});
    if (page.size() < q.limit) break;
    q.before_id = page.back().alert_id;
  }
  std::sort(out.begin(), out.end(), [](const alert_seen& a, const alert_seen& b) { return a.alert_id < b.alert_id; });
  return out;
}

void work_orders::set_alert_source(open_alert_source source) { impl_->alerts_ = std::move(source); }

void work_orders::alert_raised(const alert_seen& a) {
  if (policy_for(settings_, a.type, a.sev) == nullptr) return;
  const std::lock_guard lock(impl_->mutex_);
  stmt(impl_->db_, "INSERT OR IGNORE INTO work_order_alert_seen(alert_id, site_id, type, severity, raised_ms) VALUES(?1,?2,?3,?4,?5)")
      .bind(1, a.alert_id)
      .bind(2, a.site_id)
      .bind(3, a.type)
      .bind(4, std::string(to_string(a.sev)))
      .bind(5, a.raised_ms)
      .run();
}

void work_orders::alert_cleared(std::int64_t alert_id) {
  const std::lock_guard lock(impl_->mutex_);
  stmt(impl_->db_, "UPDATE work_order_alert_seen SET done=1 WHERE alert_id=?1").bind(1, alert_id).run();
}

std::size_t work_orders::judge(const escalation_sink& sink) {
  std::size_t n = 0;
  auth::principal system;
  system.kind = auth::actor_kind::system;
  const auto now = impl_->now_ms();
  // 0. Alerts come from the store's committed alerts (the engine's transitions are durable there;
  // the source reads the store of store.backend, not this room's file, which holds no alerts with
  // PostgreSQL): every alert not cleared is offered to the policies (once: INSERT OR IGNORE); a
  // pending one the source no longer lists was cleared and is dropped below. A restart loses
  // nothing: the store is read again.
  // A source that fails (the store unwell) leaves the pending alerts as they are; the escalation
  // below runs all the same. Without a policy nothing is read at all.
  std::optional<std::set<std::int64_t>> open_ids;
  if (impl_->alerts_ && !settings_.work_orders.policies.empty()) {
    std::optional<std::vector<alert_seen>> listed;
    try {
      listed = impl_->alerts_();
    } catch (const std::exception& e) {
      spdlog::error("work orders: the open alerts could not be read; auto-creation waits for the next check: {}", e.what());
    }
    if (listed) {
      const auto& open = *listed;
      open_ids.emplace();
      for (const auto& a : open) {
        open_ids->insert(a.alert_id);
        if (impl_->offered_.count(a.alert_id) != 0) continue;  // remembered already (INSERT OR IGNORE)
        alert_raised(a);
        impl_->offered_.insert(a.alert_id);
      }
      // Forget what is no longer open: the set stays as large as the open alerts.
      for (auto it = impl_->offered_.begin(); it != impl_->offered_.end();)
        it = open_ids->count(*it) == 0 ? impl_->offered_.erase(it) : std::next(it);
    }
  }
  // 1. Auto-creation: each pending alert whose policy duration has passed, once (the order and
  // `done` are committed together; the unique index on (source, source_ref) backs it up).
  std::vector<alert_seen> due;
  {
    const std::lock_guard lock(impl_->mutex_);
    stmt s(impl_->db_, "SELECT alert_id, site_id, type, severity, raised_ms FROM work_order_alert_seen WHERE done=0 ORDER BY alert_id");
    while (s.step()) due.push_back({s.i64(0), s.text(1), s.text(2), parse_sev(s.text(3)), s.i64(4)});
  }
  for (const auto& a : due) {
    if (open_ids && open_ids->count(a.alert_id) == 0) {  // cleared meanwhile: no order
      alert_cleared(a.alert_id);
      continue;
    }
    const auto* p = policy_for(settings_, a.type, a.sev);
    if (p != nullptr && now - a.raised_ms < static_cast<std::int64_t>(p->min_duration_s) * 1000) continue;
    const auto site = impl_->sites_ ? impl_->sites_(a.site_id) : std::nullopt;
    const std::lock_guard lock(impl_->mutex_);
    impl_->tx([&] {
      if (p != nullptr && site) {
        stmt e(impl_->db_, "SELECT 1 FROM work_orders WHERE source='alert' AND source_ref=?1");
        e.bind(1, std::to_string(a.alert_id));
        if (!e.step()) {
          new_work_order o;
          o.site_id = a.site_id;
          o.source = "alert";
          o.source_ref = std::to_string(a.alert_id);
          o.fault_type = a.type;
          o.sev = a.sev;
          o.title = a.type + " at " + a.site_id;
          o.description = "opened automatically: alert " + std::to_string(a.alert_id) + " raised for more than " +
                          std::to_string(p->min_duration_s) + " s";
          impl_->insert_order(o, *site, system);
          ++n;
        }
      }
      stmt(impl_->db_, "UPDATE work_order_alert_seen SET done=1 WHERE alert_id=?1").bind(1, a.alert_id).run();
      return 0;
    });
  }
  // 2. Overdue escalation: open..on_site orders past due; level 1 (town) then 2 (county). The
  // level is stored before the message is queued by the sink (the notifier's queue is durable).
  const std::int64_t county_after = static_cast<std::int64_t>(settings_.work_orders.escalate_county_after_h) * 3'600'000;
  std::vector<work_order> overdue;
  {
    const std::lock_guard lock(impl_->mutex_);
    stmt s(impl_->db_, (std::string("SELECT ") + order_columns +
                        " FROM work_orders WHERE state IN ('open','dispatched','on_site','reopened') AND due_ms<?1 AND escalated_level<2")
                           .c_str());
    s.bind(1, now);
    while (s.step()) overdue.push_back(read_order(s));
  }
  for (const auto& o : overdue) {
    const int level = now >= o.due_ms + county_after ? 2 : 1;
    if (level <= o.escalated_level) continue;
    const std::string lname = level == 2 ? "county" : "town";
    const auto late_h = static_cast<double>(now - o.due_ms) / 3'600'000.0;
    char late[32];
    std::snprintf(late, sizeof late, "%.1f", late_h);
    const std::string msg = "work order " + std::to_string(o.id) + " (" + o.fault_type + ", site " + o.site_id + ", contractor " +
                            (o.contractor.empty() ? std::string("none") : o.contractor) + ") is " + std::string(to_string(o.state)) +
                            " and " + late + " h past due";
    {
      const std::lock_guard lock(impl_->mutex_);
      impl_->tx([&] {
        stmt(impl_->db_, "UPDATE work_orders SET escalated_level=?2 WHERE id=?1").bind(1, o.id).bind(2, std::int64_t{level}).run();
        impl_->audit(system, "work_order.escalate", std::to_string(o.id), json{{"level", lname}, {"hours_late", late_h}});
        return 0;
      });
    }
    // After our COMMIT: the notifier's durable queue is written on its own connection.
    if (sink) {
      order_escalation e{lname, o.site_id, o.town, o.id, o.due_ms, msg, {}};
      e.text_zh = "工单 " + std::to_string(o.id) + "（" + o.fault_type + "，站点 " + o.site_id + "，运维单位 " +
                  (o.contractor.empty() ? std::string("无") : o.contractor) + "）状态 " + std::string(to_string(o.state)) +
                  "，已超期 " + late + " 小时";
      sink(e);
    }
    ++n;
  }
  return n;
}

}  // namespace sewage::gateway::om
