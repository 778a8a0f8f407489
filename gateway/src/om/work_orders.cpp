// Work orders (om/work_orders.hpp): state machine, check-ins, photos, figures, auto-creation and
// overdue escalation. Rows through the room's store (om/work_order_db.hpp: the SQLite file or the
// shared PostgreSQL database), on a connection of its own (like auth::service).
#include "sewage/gateway/om/work_orders.hpp"

#include "sewage/gateway/auth/secrets.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/om/work_order_db.hpp"
#include "sewage/gateway/store.hpp"
#include "photo_meta.hpp"

#include <sewage/proto/alert.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>

namespace sewage::gateway::om {

using nlohmann::json;

namespace {

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
  impl(std::unique_ptr<work_order_db> db, const settings& s, const clock_source& clock, site_lookup sites,
       auth::service* audit)
      : settings_(s), clock_(clock), sites_(std::move(sites)), audit_(audit), db_(std::move(db)) {
    if (!db_) throw std::invalid_argument("work orders: no work_order_db");
  }

  std::int64_t now_ms() const { return clock_.now().time_since_epoch().count(); }
  /// One write transaction of the room's store around `f(t)` (work_order_db::write), rolled back
  /// on any exception; the audit rows it queued are written after the commit.
  template <class F>
  auto tx(const char* op, F&& f) {
    pending_audit_.clear();
    std::optional<decltype(f(std::declval<work_order_tx&>()))> out;
    try {
      db_->write(op, [&](work_order_tx& t) { out.emplace(f(t)); });
    } catch (...) {
      pending_audit_.clear();
      throw;
    }
    flush_audit();
    return std::move(*out);
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

  static void event(work_order_tx& t, std::int64_t order_id, std::int64_t ts, const auth::principal& who,
                    const std::string& from, const std::string& to, const std::optional<double>& lat,
                    const std::optional<double>& lon, const std::string& note) {
    t.insert_event({0, order_id, ts, actor_name(who), from, to, lat, lon, note});
  }
  void audit(const auth::principal& who, const std::string& action, const std::string& target, const json& detail) {
    if (audit_ != nullptr) pending_audit_.push_back({who, action, target, detail.dump()});
  }
  static std::string actor_name(const auth::principal& who) {
    return who.kind == auth::actor_kind::system && who.name.empty() ? std::string("sewage-gateway") : who.name;
  }

  std::int64_t insert_order(work_order_tx& t, const new_work_order& o, const site_ref& site, const auth::principal& by) {
    const auto now = now_ms();
    work_order row;
    row.site_id = o.site_id;
    row.town = site.town;
    row.source = o.source;
    row.source_ref = o.source_ref;
    row.fault_type = o.fault_type;
    row.sev = o.sev;
    row.title = o.title;
    row.description = o.description;
    row.contractor = o.contractor.empty() ? contractor_of(settings_, site.id, site.town) : o.contractor;
    row.state = order_state::open;
    row.created_ms = now;
    row.due_ms = now + settings_.work_orders.due_ms_for(o.sev);
    row.created_by = actor_name(by);
    row.reporter_phone = o.reporter_phone;
    const auto id = t.insert_order(row);
    event(t, id, now, by, "", "open", std::nullopt, std::nullopt, o.title);
    audit(by, "work_order.create", std::to_string(id),
          json{{"site_id", o.site_id}, {"source", o.source}, {"source_ref", o.source_ref}, {"severity", to_string(o.sev)},
               {"contractor", row.contractor}});
    return id;
  }

  settings settings_;
  const clock_source& clock_;
  site_lookup sites_;
  auth::service* audit_;
  std::vector<std::tuple<auth::principal, std::string, std::string, std::string>> pending_audit_;
  open_alert_source alerts_;  // judge()'s committed open alerts (set_alert_source)
  std::set<std::int64_t> offered_;  // open alerts judge() has handed to alert_raised() (judge's thread)
  std::unique_ptr<work_order_db> db_;
  std::mutex mutex_;
};

work_orders::work_orders(const std::filesystem::path& db_path, settings s, const clock_source& clock, site_lookup sites,
                         auth::service* audit)
    : work_orders(open_sqlite_work_order_db(db_path), std::move(s), clock, std::move(sites), audit) {}
work_orders::work_orders(std::unique_ptr<work_order_db> db, settings s, const clock_source& clock, site_lookup sites,
                         auth::service* audit)
    : impl_(std::make_unique<impl>(std::move(db), s, clock, std::move(sites), audit)), settings_(std::move(s)) {}
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
  return impl_->tx("create", [&](work_order_tx& t) { return impl_->insert_order(t, o, site, by); });
}

work_order work_orders::transition(std::int64_t id, order_action a, const auth::principal& who, const transition_args& args) {
  check_text("note", args.note, 0, 2000, true);
  check_position(args.lat, args.lon);
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx("transition", [&](work_order_tx& t) {
    auto o = t.order(id);
    if (!o) throw om_error(404, "not_found", "work order " + std::to_string(id) + " does not exist");
    if (!may_see(who, o->town, o->contractor))
      throw om_error(403, "forbidden", "work order " + std::to_string(id) + " is outside your scope");
    if (auto r = refusal(&*o, a, who, o->town))
      throw om_error(r->first, r->first == 409 ? "conflict" : r->first == 401 ? "unauthorized" : "forbidden", r->second);
    const auto now = impl_->now_ms();
    const std::string from(to_string(o->state));
    json detail{{"from", from}};
    switch (a) {
      case order_action::dispatch: {
        std::string c = args.contractor.empty() ? o->contractor : args.contractor;
        if (c.empty()) c = contractor_of(settings_, o->site_id, o->town);
        if (c.empty())
          throw om_error(409, "conflict", "contractor: site '" + o->site_id + "' has no [[om.contractor]]; name one to dispatch");
        if (std::none_of(settings_.contractors.begin(), settings_.contractors.end(), [&](const contractor& k) { return k.name == c; }))
          throw om_error(400, "bad_field", "contractor: '" + c.substr(0, 64) + "' is not an [[om.contractor]]");
        o->state = order_state::dispatched;
        o->contractor = c;
        o->dispatched_ms = now;
        o->on_site_ms = o->fixed_ms = o->verified_ms = std::nullopt;
        detail["contractor"] = c;
        break;
      }
      case order_action::on_site: {
        // A check-in at this site by the order's contractor, made at or after the dispatch.
        const auto k = t.latest_checkin(o->site_id, o->contractor, o->dispatched_ms.value_or(0), id);
        if (!k)
          throw om_error(409, "checkin_required",
                         "on_site needs a check-in at site '" + o->site_id + "' made after the dispatch (scan the site's QR code)");
        detail["checkin_id"] = k->id;
        detail["distance_m"] = k->distance_m;
        o->state = order_state::on_site;
        o->on_site_ms = now;
        break;
      }
      case order_action::fixed: {
        check_text("cause", args.cause, 1, 2000, true);
        check_text("parts_used", args.parts_used, 1, 2000, true);
        const auto k = t.latest_checkin(o->site_id, o->contractor, o->dispatched_ms.value_or(0), id);
        const std::int64_t checkin_ms = k ? k->ts_ms : o->on_site_ms.value_or(0);
        const auto photos = t.photos_since(id, checkin_ms);
        if (photos == 0)
          throw om_error(409, "photo_required",
                         "fixed needs at least one photo of the repair taken after the check-in (upload it first)");
        detail["photos"] = photos;
        o->state = order_state::fixed;
        o->fixed_ms = now;
        o->cause = args.cause;
        o->parts_used = args.parts_used;
        break;
      }
      case order_action::verify:
        o->state = order_state::verified;
        o->verified_ms = now;
        break;
      case order_action::reopen:
        if (args.note.empty()) throw om_error(400, "bad_field", "note: a reopen needs a note saying what is still wrong");
        o->state = order_state::reopened;
        ++o->reopen_count;
        o->verified_ms = std::nullopt;
        break;
    }
    t.update_order(*o);
    impl::event(t, id, now, who, from, std::string(to_string(o->state)), args.lat, args.lon, args.note);
    detail["to"] = to_string(o->state);
    if (args.lat) {
      detail["lat"] = *args.lat;
      detail["lon"] = *args.lon;
    }
    if (!args.note.empty()) detail["note"] = args.note;
    impl_->audit(who, "work_order." + std::string(to_string(a)), std::to_string(id), detail);
    return *t.order(id);
  });
}

std::optional<work_order> work_orders::get(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->order(id);
}

std::vector<work_order> work_orders::list(const order_query& q, const auth::principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<work_order> out;
  if (q.limit == 0) return out;
  impl_->db_->orders(q, [&](const work_order& o) {
    if (may_see(who, o.town, o.contractor)) out.push_back(o);
    return out.size() < q.limit;
  });
  return out;
}

std::vector<work_order> work_orders::due_between(std::int64_t from_ms, std::int64_t to_ms) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->orders_due(from_ms, to_ms);
}

std::vector<order_event> work_orders::events(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->events(order_id);
}

std::vector<checkin> work_orders::checkins_of(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  auto o = impl_->db_->order(order_id);
  if (!o) return {};
  return impl_->db_->checkins_of(*o);
}

std::optional<checkin> work_orders::checkin_by_id(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->checkin_by_id(id);
}

void work_orders::link_inspection(std::int64_t checkin_id, std::int64_t inspection_id) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->db_->write("link_inspection", [&](work_order_tx& t) { t.link_inspection(checkin_id, inspection_id); });
}

std::vector<photo> work_orders::photos_of(std::int64_t order_id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->photos_of(order_id);
}

std::optional<photo> work_orders::photo_by_id(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->db_->photo_by_id(id);
}

std::int64_t work_orders::add_checkin(const checkin& c, const auth::principal& who) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx("add_checkin", [&](work_order_tx& t) {
    checkin row = c;
    row.actor = impl::actor_name(who);
    row.contractor = who.contractor;
    row.ts_ms = impl_->now_ms();
    const auto id = t.insert_checkin(row);
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
  photo p;
  p.order_id = order_id;
  p.site_id = o->site_id;
  p.path = file.string();
  p.sha256 = sha;
  p.bytes = static_cast<std::int64_t>(bytes.size());
  p.content_type = std::string(*kind);
  p.taken_ms = now;
  p.taken_source = "upload";
  if (meta.taken_ms && *meta.taken_ms <= now + 300'000) {
    p.taken_ms = *meta.taken_ms;
    p.taken_source = "exif";
  }
  p.uploaded_ms = now;
  p.lat = phone_lat;
  p.lon = phone_lon;
  p.position_source = phone_lat ? "phone" : "";
  if (meta.lat && meta.lon) {
    p.lat = meta.lat;
    p.lon = meta.lon;
    p.position_source = "exif";
  }
  p.actor = impl::actor_name(who);
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tx("add_photo", [&](work_order_tx& t) {
    const auto id = t.insert_photo(p);
    json d{{"order_id", order_id}, {"sha256", sha}, {"bytes", bytes.size()}, {"taken_source", p.taken_source}};
    if (p.lat) {
      d["lat"] = *p.lat;
      d["lon"] = *p.lon;
    }
    impl_->audit(who, "work_order.photo", std::to_string(order_id), d);
    return id;
  });
}

std::vector<figure_row> work_orders::figures(std::int64_t from_ms, std::int64_t to_ms, const std::string& by,
                                             const auth::principal& who) {
  if (by != "contractor" && by != "town" && by != "fault_type")
    throw om_error(400, "bad_field", "by: must be contractor, town or fault_type");
  std::vector<order_figure_row> rows;
  {
    const std::lock_guard lock(impl_->mutex_);
    rows = impl_->db_->figure_rows(from_ms, to_ms);
  }
  // The first fixed time of each order (a reopened order keeps its first fix for time to fix;
  // on time = first fix at or before due).
  struct acc {
    figure_row r;
    double dispatch_h{0}, fix_h{0};
  };
  std::map<std::string, acc> groups;
  for (const auto& o : rows) {
    if (!may_see(who, o.town, o.contractor)) continue;
    const std::string& key = by == "contractor" ? o.contractor : by == "town" ? o.town : o.fault_type;
    auto& a = groups[key];
    a.r.key = key;
    ++a.r.orders;
    if (o.first_dispatched_ms) {
      ++a.r.dispatched;
      a.dispatch_h += static_cast<double>(*o.first_dispatched_ms - o.created_ms) / 3'600'000.0;
    }
    if (o.first_fixed_ms) {
      ++a.r.fixed;
      a.fix_h += static_cast<double>(*o.first_fixed_ms - o.created_ms) / 3'600'000.0;
      if (*o.first_fixed_ms <= o.due_ms) ++a.r.on_time;
    }
    if (o.state == "verified") ++a.r.closed;
    if (o.reopen_count > 0) ++a.r.reopened;
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
  impl_->db_->write("alert_raised", [&](work_order_tx& t) { t.remember_alert(a); });
}

void work_orders::alert_cleared(std::int64_t alert_id) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->db_->write("alert_cleared", [&](work_order_tx& t) { t.alert_done(alert_id); });
}

std::size_t work_orders::judge(const escalation_sink& sink) {
  std::size_t n = 0;
  auth::principal system;
  system.kind = auth::actor_kind::system;
  const auto now = impl_->now_ms();
  // 0. Alerts come from the store's committed alerts (the engine's transitions are durable there;
  // the source reads the store of store.backend): every alert not cleared is offered to the
  // policies (once: remember_alert keeps the first row); a pending one the source no longer lists
  // was cleared and is dropped below. A restart loses nothing: the store is read again, and with
  // PostgreSQL the alerts already offered are the shared table's, so a standby that takes over
  // opens no second order.
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
        if (impl_->offered_.count(a.alert_id) != 0) continue;  // remembered already
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
    due = impl_->db_->pending_alerts();
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
    // One alert's failure (an insert the unique index refused because the other gateway of a pair
    // opened that order first, a statement that timed out) does not hold up the other alerts or
    // the escalations below: logged, tried again at the next check (alert_has_order then finds
    // the other's order and marks the alert done). A fenced write ends the round.
    bool opened = false;
    try {
      impl_->tx("open_for_alert", [&](work_order_tx& t) {
        if (p != nullptr && site && !t.alert_has_order(a.alert_id)) {
          new_work_order o;
          o.site_id = a.site_id;
          o.source = "alert";
          o.source_ref = std::to_string(a.alert_id);
          o.fault_type = a.type;
          o.sev = a.sev;
          o.title = a.type + " at " + a.site_id;
          o.description = "opened automatically: alert " + std::to_string(a.alert_id) + " raised for more than " +
                          std::to_string(p->min_duration_s) + " s";
          impl_->insert_order(t, o, *site, system);
          opened = true;
        }
        t.alert_done(a.alert_id);
        return 0;
      });
      if (opened) ++n;  // counted once committed
    } catch (const store_fenced&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::error("work orders: alert {} at {}: its order could not be opened; tried again at the next check: {}",
                    a.alert_id, a.site_id, e.what());
    }
  }
  // 2. Overdue escalation: open..on_site orders past due; level 1 (town) then 2 (county). The
  // level is stored before the message is queued by the sink (the notifier's queue is durable).
  const std::int64_t county_after = static_cast<std::int64_t>(settings_.work_orders.escalate_county_after_h) * 3'600'000;
  std::vector<work_order> overdue;
  {
    const std::lock_guard lock(impl_->mutex_);
    overdue = impl_->db_->overdue(now);
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
      impl_->tx("escalate", [&](work_order_tx& t) {
        t.set_escalated_level(o.id, level);
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
