// The incident correlator (incidents/correlator.hpp): correlation rules 1-3 on the engine's alert
// transitions, the incidents' lifecycle, and their rows in the gateway database (own connection).
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/incidents/weather.hpp"

#include "codec.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <set>

namespace sewage::gateway::incidents {

using nlohmann::json;
using network::network_model;
using network::node_kind;

namespace {

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

/// The node index of node `id` in `m`, if it has one.
std::optional<std::size_t> node_index(const network_model& m, const std::string& id) {
  const auto* n = m.find_node(id);
  if (n == nullptr) return std::nullopt;
  return static_cast<std::size_t>(n - m.nodes().data());
}

std::string node_label(const network::node& n) { return n.name.empty() ? n.id : n.id + " (" + n.name + ")"; }

}  // namespace

class correlator::impl {
 public:
  impl(std::unique_ptr<incident_db> db, const network::holder& pipes, const clock_source& clock, alert_listener* next)
      : db_(std::move(db)), pipes_(pipes), clock_(clock), next_(next) {
    if (!db_) throw std::invalid_argument("incidents: no incident_db");
    try {
      load_active();
    } catch (const std::exception& e) {  // a store failure, or a document that cannot be read
      throw std::runtime_error(std::string("cannot load the open incidents: ") + e.what());
    }
  }
  ~impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  /// (Re)loads the open incidents, their open members and the next ids from the tables: at start,
  /// and after a failed write, whose transaction rolled the tables back while the memory had
  /// already changed (an incident opened, a member added). Throws std::runtime_error.
  void load_active() {
    std::map<std::int64_t, incident> active;
    std::unordered_map<std::uint64_t, std::int64_t> member_of;
    std::unordered_map<std::string, int> open_sites;
    std::int64_t next_id = 1;
    std::int64_t weather_id = 0;
    next_id = db_->max_id() + 1;
    weather_id = db_->max_weather_id();
    for (const auto& doc : db_->unresolved()) {
      auto i = from_json(json::parse(doc));
      for (const auto& a : i.alerts) {
        if (!a.open) continue;
        member_of[a.alert_id] = i.id;
        if (a.role != alert_role::weather) ++open_sites[a.site_id];
      }
      const auto id = i.id;
      active.emplace(id, std::move(i));
    }
    active_ = std::move(active);
    member_of_ = std::move(member_of);
    open_sites_ = std::move(open_sites);
    next_id_ = next_id;
    weather_id_ = weather_id;
    reach_.clear();
  }

  /// What on_transition does with a transition.
  struct outcome {
    bool forward{true};
    std::optional<std::string> message;  ///< a new message for the forwarded copy
  };

  // ---- everything below: with mutex_ held ----

  outcome on_raise(const proto::alert_message& a, const terminal_info* t) {
    return notify_lost(a, correlate(a, t));
  }

  /// A raise that joined an incident whose notification was lost (reconcile): notified as the
  /// incident's, once.
  outcome notify_lost(const proto::alert_message& a, outcome o) {
    if (o.forward) return o;
    const auto m = member_of_.find(a.alert_id);
    if (m == member_of_.end()) return o;
    const auto it = active_.find(m->second);
    if (it == active_.end() || !it->second.notification_lost) return o;
    auto& i = it->second;
    incident told = i;
    told.notification_lost = false;
    told.notified_with = a.alert_id;
    if (auto* mem = member(told, a.alert_id)) mem->forwarded = true;
    save(told);  // throws: the raise is passed on unchanged, the incident still waits (on_transition)
    i = std::move(told);
    spdlog::warn("incidents: alert {} ({} {}) joins incident {}, whose notification was lost: notified as the incident's",
                 a.alert_id, a.terminal_id, proto::to_string(a.type), i.id);
    return {true, i.kind == incident_kind::weather ? weather_message(i, a, 0) : incident_message(i, a)};
  }

  outcome correlate(const proto::alert_message& a, const terminal_info* t) {
    if (weather_.min_terminals > 0 && weather_driven(a.type) && t != nullptr && t->kind == site_kind::terminal &&
        member_of_.count(a.alert_id) == 0)
      return on_weather(a, *t);
    const auto* m = refresh();
    if (m == nullptr) return {};
    const auto at = sites_->find(a.terminal_id);
    if (!at) return {};
    const auto& node = m->nodes()[*at];
    const auto cls = classify(a, node.kind);
    if (cls == alert_class::none || member_of_.count(a.alert_id) != 0) return {};
    write_scope tx(*this);
    outcome o = cls == alert_class::flow_loss ? flow_loss(*m, *at, a) : cause(*m, *at, a);
    tx.commit();
    return o;
  }

  outcome on_change(const proto::alert_message& a) {
    const auto it = member_of_.find(a.alert_id);
    if (it == member_of_.end()) {
      if (a.state == proto::alert_state::cleared)  // a weather-driven alert not (yet) in an event
        for (auto& r : recent_)
          if (r.alert_id == a.alert_id) r.cleared_at = std::max(a.cleared_at.value_or(clock_.now()), r.raised_at);
      // Held: its ack or clear follows its raise when the hold runs out (or never: it joined an
      // event). Once the next listener saw the raise (a store to retry), it goes on at once.
      if (const auto h = held_.find(a.alert_id); h != held_.end() && !h->second.rows) {
        // An episode is acknowledged and cleared once: the same again is a replay (a journal's
        // after a stop), not news.
        auto& later = h->second.later;
        if (std::any_of(later.begin(), later.end(), [&](const proto::alert_message& l) { return l.state == a.state; }))
          return {false, std::nullopt};
        later.push_back(a);
        try {
          store_held(a.alert_id, h->second);
        } catch (const std::exception& e) {  // kept in memory: passed on with its raise all the same
          ++n_.failures;
          spdlog::error("incidents: alert {} ({}): not stored with its held raise: {}", a.alert_id,
                        proto::to_string(a.state), e.what());
        }
        return {false, std::nullopt};
      }
      return {};
    }
    const auto inc = active_.find(it->second);
    if (inc == active_.end()) {
      member_of_.erase(it);
      return {};
    }
    auto& i = inc->second;
    auto* mem = member(i, a.alert_id);
    if (mem == nullptr) return {};
    const bool forwarded = mem->forwarded;
    if (a.state == proto::alert_state::cleared) {
      write_scope tx(*this);
      close_member(*mem, a.cleared_at.value_or(clock_.now()));
      member_of_.erase(it);
      if (std::none_of(i.alerts.begin(), i.alerts.end(), [](const member_alert& x) { return x.open; }))
        resolve(i, std::max(a.cleared_at.value_or(clock_.now()), i.opened_at));
      else
        save(i);
      tx.commit();
    }
    return {forwarded, std::nullopt};
  }

  std::size_t reconcile(const std::unordered_map<std::uint64_t, proto::alert_message>& open,
                        const std::function<bool(std::uint64_t)>& stored) {
    const auto now = clock_.now();
    std::vector<std::int64_t> ids;
    for (const auto& [id, i] : active_) ids.push_back(id);
    std::size_t resolved = 0;
    write_scope tx(*this);
    for (const auto id : ids) {
      auto& i = active_.at(id);
      bool changed = false;
      std::vector<std::uint64_t> never;  // raised by a gateway that died before its engine committed them
      for (auto& a : i.alerts) {
        if (open.count(a.alert_id) != 0) continue;
        if (a.open) {
          close_member(a, now);
          member_of_.erase(a.alert_id);
          changed = true;
        }
        // Closed ones too: a raise and its clear in a batch never committed.
        if (stored && !stored(a.alert_id)) {
          never.push_back(a.alert_id);
          changed = true;
        }
      }
      // No alert of the engine's: out of the incident and its member row gone (the engine gives
      // the id out again, to another alert that must not point here).
      for (const auto gone : never) {
        i.alerts.erase(std::remove_if(i.alerts.begin(), i.alerts.end(),
                                      [gone](const member_alert& x) { return x.alert_id == gone; }),
                       i.alerts.end());
        tx.drop_member(gone, i.id);
        spdlog::warn("incidents: alert {} taken out of incident {}: the engine's store never committed it", gone, i.id);
        if (i.notified_with == gone) {  // its notification went with the batch: the next raise that joins says it
          i.notified_with.reset();
          i.notification_lost = true;
          spdlog::warn("incidents: incident {}'s notification was lost with alert {}: the next alert that joins is "
                       "notified as the incident's",
                       i.id, gone);
        }
      }
      // A weather event's terminals are its members' sites: one left by no member goes too.
      if (!never.empty() && i.kind == incident_kind::weather)
        i.affected_terminals.erase(
            std::remove_if(i.affected_terminals.begin(), i.affected_terminals.end(),
                           [&i](const std::string& site) {
                             return std::none_of(i.alerts.begin(), i.alerts.end(),
                                                 [&site](const member_alert& x) { return x.site_id == site; });
                           }),
            i.affected_terminals.end());
      if (!never.empty() && i.kind == incident_kind::weather) set_weather_title(i);
      if (!changed) continue;
      if (std::none_of(i.alerts.begin(), i.alerts.end(), [](const member_alert& x) { return x.open; })) {
        spdlog::info("incidents: incident {} resolved at start: its alerts cleared while the gateway was down", id);
        resolve(i, std::max(now, i.opened_at));
        ++resolved;
      } else {
        save(i);
      }
    }
    tx.commit();
    return resolved;
  }

  ack_result acknowledge(std::int64_t id, const std::string& by, const std::string& note, incident* out) {
    const auto it = active_.find(id);
    if (it == active_.end()) {
      const auto stored = load(id);
      if (out != nullptr && stored) *out = *stored;
      return stored ? ack_result::already_resolved : ack_result::not_found;
    }
    auto& i = it->second;
    if (i.state == incident_state::acknowledged) {
      if (out != nullptr) *out = i;
      return ack_result::already_acknowledged;
    }
    // The incident's row and its members' rows in one transaction, and the active copy changed
    // only once they are stored: a failed write leaves both as they were (the caller gets the
    // exception, a retry acknowledges).
    incident acked = i;
    acked.state = incident_state::acknowledged;
    acked.acked_at = clock_.now();
    acked.acked_by = by;
    acked.ack_note = note;
    write_scope tx(*this);
    save(acked);
    tx.commit();
    i = std::move(acked);
    if (out != nullptr) *out = i;
    spdlog::info("incidents: incident {} acknowledged by {}", id, by);
    return ack_result::acknowledged;
  }

  std::optional<incident> load(std::int64_t id) const {
    if (const auto it = active_.find(id); it != active_.end()) return it->second;
    const auto doc = db_->find(id);
    if (!doc) return std::nullopt;
    return from_json(json::parse(*doc));
  }

  /// An open member alert's site counts as showing loss (the engine adds a raised alert to its
  /// open set only after telling its listener).
  site_health health(const std::string& site, node_kind kind) const {
    if (const auto it = open_sites_.find(site); it != open_sites_.end() && it->second > 0) return site_health::loss;
    return health_ ? health_(site, kind) : site_health::unknown;
  }

  /// A weather-driven raise not (yet) part of a weather event (on_weather).
  struct recent_raise {
    std::uint64_t alert_id{0};
    std::string site_id, town, village;
    proto::alert_type type{proto::alert_type::flow_high};
    proto::timestamp raised_at{};
    std::optional<proto::timestamp> cleared_at;
  };

  /// A weather-driven raise held before it is passed on alone (weather_settings::hold).
  struct held_raise {
    proto::alert_message raise;
    std::optional<terminal_info> site;        ///< its terminal as it was raised
    std::vector<proto::alert_message> later;  ///< its acks and clears meanwhile, in order
    proto::timestamp until{};                 ///< passed on at the first tick from then
    /// Built once the next listener saw the raise: the rows still to be stored (a failed store).
    std::optional<std::vector<notification_row>> rows;
  };

  /// Stores held raise `id` (table weather_held; into the open write_scope, else at once): its
  /// raise, what followed meanwhile and when its hold runs out. Throws std::runtime_error on a
  /// database failure.
  void store_held(std::uint64_t id, const held_raise& h) {
    json later = json::array();
    for (const auto& l : h.later) later.push_back(json::parse(proto::encode(l)));
    json doc{{"raise", json::parse(proto::encode(h.raise))}, {"later", std::move(later)}};
    if (h.rows) {  // passed on, its notification rows not stored yet: kept to be stored after a restart
      json rows = json::array();
      for (const auto& r : *h.rows)
        rows.push_back({{"target", r.target},
                        {"subject_kind", r.subject_kind},
                        {"subject_id", r.subject_id},
                        {"event", r.event},
                        {"body", r.body},
                        {"created_ms", r.created_ms}});
      doc["rows"] = std::move(rows);
    }
    held_row row{id, ms(h.until), doc.dump(-1, ' ', false, json::error_handler_t::replace)};
    if (pending_ != nullptr) pending_->held.push_back(std::move(row));
    else db_->write(incident_writes{{}, {std::move(row)}, {}, {}});
  }
  /// Forgets held raise `id` (passed on, or a member of an event). Throws std::runtime_error.
  void drop_held(std::uint64_t id) {
    if (pending_ != nullptr) pending_->unheld.push_back(id);
    else db_->write(incident_writes{{}, {}, {id}, {}});
  }

  std::unique_ptr<incident_db> db_;
  weather_settings weather_;
  std::map<std::uint64_t, held_raise> held_;  ///< by alert id
  correlator::release_fn release_;
  correlator::in_window_fn in_window_;
  correlator::shelf_fn shelf_;
  std::deque<recent_raise> recent_;  ///< within weather_.window of the latest, oldest first
  std::int64_t weather_id_{0};       ///< the latest weather incident (0: none yet)
  const network::holder& pipes_;
  const clock_source& clock_;
  alert_listener* next_;
  health_fn health_;
  correlator::running_high_fn running_high_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, incident> active_;               ///< open and acknowledged, by id
  std::unordered_map<std::uint64_t, std::int64_t> member_of_;  ///< open member alert -> incident
  std::unordered_map<std::string, int> open_sites_;       ///< site -> open member alerts there
  std::int64_t next_id_{1};
  counts n_;

 private:
  /// The writes of one transition: save, store_held and drop_held collect them while it is open,
  /// commit() writes them in one transaction (incident_db::write); one not committed writes
  /// nothing (an exception on the way).
  incident_writes* pending_{nullptr};
  class write_scope {
   public:
    explicit write_scope(impl& d) : d_(d) {
      if (d_.pending_ != nullptr) throw std::logic_error("incidents: a write_scope inside another");
      d_.pending_ = &w_;
    }
    ~write_scope() { d_.pending_ = nullptr; }
    write_scope(const write_scope&) = delete;
    write_scope& operator=(const write_scope&) = delete;
    /// Takes member alert `alert_id` of incident `incident_id` out of the tables.
    void drop_member(std::uint64_t alert_id, std::int64_t incident_id) {
      w_.members_dropped.push_back({alert_id, incident_id, {}});
    }
    void commit() {
      d_.pending_ = nullptr;
      d_.db_->write(w_);
    }

   private:
    impl& d_;
    incident_writes w_;
  };

  /// The current model; the caches follow it when it was swapped (SIGHUP).
  const network_model* refresh() {
    auto cur = pipes_.current();
    if (cur != model_) {
      model_ = std::move(cur);
      sites_ = model_ ? std::make_unique<site_index>(*model_) : nullptr;
      reach_.clear();
    }
    return model_.get();
  }

  /// Nodes downstream of incident `i`'s root, or of its section (the loci and the segments'
  /// lower ends), themselves included; sorted. Cached per incident until it changes.
  const std::vector<std::size_t>& reach(const network_model& m, const incident& i) {
    if (const auto it = reach_.find(i.id); it != reach_.end()) return it->second;
    std::vector<std::size_t> sources;
    if (i.root) {
      if (const auto v = node_index(m, i.root->node)) sources.push_back(*v);
    } else {
      for (const auto& id : i.loci)
        if (const auto v = node_index(m, id)) sources.push_back(*v);
      for (const auto& s : i.suspected_segments)
        if (const auto* seg = m.find_segment(s))
          if (const auto v = node_index(m, seg->to)) sources.push_back(*v);
    }
    return reach_.emplace(i.id, downstream_reach(m, sources)).first->second;
  }

  static member_alert* member(incident& i, std::uint64_t alert_id) {
    for (auto& a : i.alerts)
      if (a.alert_id == alert_id) return &a;
    return nullptr;
  }

  member_alert add_member(incident& i, const proto::alert_message& a, alert_role role, bool forwarded) {
    member_alert mem;
    mem.alert_id = a.alert_id;
    mem.site_id = a.terminal_id;
    mem.type = std::string(proto::to_string(a.type));
    mem.role = role;
    mem.forwarded = forwarded;
    mem.raised_at = a.raised_at;
    i.alerts.push_back(mem);
    member_of_[a.alert_id] = i.id;
    if (role != alert_role::weather) ++open_sites_[a.terminal_id];  // weather shows no loss
    if (role == alert_role::consequence) ++n_.consequences;
    return mem;
  }

  void close_member(member_alert& a, proto::timestamp at) {
    a.open = false;
    a.cleared_at = std::max(at, a.raised_at);
    if (a.role == alert_role::weather) return;
    if (const auto s = open_sites_.find(a.site_id); s != open_sites_.end() && --s->second <= 0) open_sites_.erase(s);
  }

  void resolve(incident& i, proto::timestamp at) {
    i.state = incident_state::resolved;
    i.resolved_at = at;
    save(i);
    spdlog::info("incidents: incident {} resolved after {:.0f} s", i.id, i.time_to_resolve_s().value_or(0));
    reach_.erase(i.id);
    active_.erase(i.id);
  }

  /// The incident's row and its members' rows: into the open write_scope, else written at once.
  void save(const incident& i) {
    incident_row row;
    row.id = i.id;
    row.state = std::string(to_string(i.state));
    row.kind = std::string(to_string(i.kind));
    row.opened_ms = ms(i.opened_at);
    if (i.resolved_at) row.resolved_ms = ms(*i.resolved_at);
    row.doc = to_json(i).dump(-1, ' ', false, json::error_handler_t::replace);
    if (!i.merged_into)  // else its alerts belong to the incident it was merged into
      for (const auto& a : i.alerts) row.members.push_back({a.alert_id, i.id, std::string(to_string(a.role))});
    if (pending_ != nullptr) pending_->incidents.push_back(std::move(row));
    else db_->write(incident_writes{{std::move(row)}, {}, {}, {}});
  }

  /// Sets what a rooted incident affects and its title.
  void set_rooted(const network_model& m, incident& i, std::size_t root, const proto::alert_message& a) {
    const auto& n = m.nodes()[root];
    i.kind = incident_kind::pump_station_fault;
    i.root = root_cause{n.id, n.site_id, std::string(network::node_kind_name(n.kind)), n.name};
    i.suspected_segments.clear();
    i.suspected_length_m = 0;
    i.loci.clear();
    const auto aff = affected_by_root(m, root);
    i.affected_nodes = aff.nodes;
    i.affected_terminals = aff.terminals;
    i.villages = aff.villages;
    i.households = aff.households;
    i.title = fmt::format("Pump station {}: {}", node_label(n), proto::to_string(a.type));
    reach_.erase(i.id);
  }

  /// Sets a rootless incident's section, what it affects and its title.
  void set_section(const network_model& m, incident& i, const section& s) {
    i.kind = incident_kind::flow_loss;
    i.root.reset();
    i.suspected_segments.clear();
    for (const auto v : s.segments) i.suspected_segments.push_back(m.segments()[v].id);
    i.suspected_length_m = s.length_m;
    i.loci.clear();
    for (const auto v : s.loci) i.loci.push_back(m.nodes()[v].id);
    const auto aff = affected_by_section(m, s);
    i.affected_nodes = aff.nodes;
    i.affected_terminals = aff.terminals;
    i.villages = aff.villages;
    i.households = aff.households;
    i.title = fmt::format("Flow loss at {}: suspected section of {} segment(s), {:.0f} m", join(i.loci, ", "),
                          i.suspected_segments.size(), s.length_m);
    reach_.erase(i.id);
  }

  /// A new incident whose notification `a`'s forwarded raise carries (every caller forwards it).
  incident& open_incident(const proto::alert_message& a) {
    incident i;
    i.id = next_id_++;
    i.opened_at = a.raised_at;
    i.notified_with = a.alert_id;
    ++n_.opened;
    return active_.emplace(i.id, std::move(i)).first->second;
  }

  /// The message of the one notification of incident `i` (its first alert's, prefixed).
  static std::string incident_message(const incident& i, const proto::alert_message& a) {
    std::string s = fmt::format("Incident #{}: {}", i.id, a.message);
    if (!s.empty() && s.back() != '.') s += '.';
    if (i.kind == incident_kind::flow_loss)
      s += fmt::format(" Suspected section: {} segment(s), {:.0f} m.", i.suspected_segments.size(), i.suspected_length_m);
    s += fmt::format(" Affected terminals: {}; households: {}.",
                     i.affected_terminals.empty() ? std::string("none") : join(i.affected_terminals, ", "), i.households);
    return s;
  }

  /// Rules 1 and 3: a flow loss at node `at`.
  outcome flow_loss(const network_model& m, std::size_t at, const proto::alert_message& a) {
    // Rule 1: an open incident upstream (its root, or a suspected segment, drains through here).
    incident* target = nullptr;
    for (auto& [id, i] : active_) {
      const auto& r = reach(m, i);
      if (!std::binary_search(r.begin(), r.end(), at)) continue;
      if (i.root) {  // a located cause wins over a section
        target = &i;
        break;
      }
      if (target == nullptr) target = &i;
    }
    if (target != nullptr) {
      auto& i = *target;
      if (i.root) {
        add_member(i, a, alert_role::consequence, false);
      } else {
        // A loss inside or below the section: the section is searched again from where the loss
        // was first seen; a loss at an instrumented node inside it narrows it (walk up).
        add_member(i, a, alert_role::symptom, false);
        relocate(m, i);
        // Symptoms are the losses at the loci; a loss the (new) section explains is a consequence.
        for (auto& mem : i.alerts) {
          if (mem.role != alert_role::symptom) continue;
          const auto v = sites_->find(mem.site_id);
          if (v && std::find(i.loci.begin(), i.loci.end(), m.nodes()[*v].id) != i.loci.end()) continue;
          mem.role = alert_role::consequence;
          ++n_.consequences;
        }
      }
      save(i);
      spdlog::info("incidents: alert {} ({} {}) joins incident {} as a {}", a.alert_id, a.terminal_id,
                   proto::to_string(a.type), i.id, to_string(member(i, a.alert_id)->role));
      return {false, std::nullopt};
    }
    // Rule 3: nothing explains it: a new incident located to a suspected section.
    auto& i = open_incident(a);
    i.origin = m.nodes()[at].id;
    add_member(i, a, alert_role::symptom, true);
    set_section(m, i, locate_section(m, at, [this](const std::string& s, node_kind k) { return health(s, k); }));
    save(i);
    spdlog::warn("incidents: incident {} opened: {}", i.id, i.title);
    return {true, incident_message(i, a)};
  }

  /// Searches a rootless incident's section again from its origin (other sites' health changed).
  void relocate(const network_model& m, incident& i) {
    const auto origin = node_index(m, i.origin);
    if (!origin) return;
    const auto s = locate_section(m, *origin, [this](const std::string& site, node_kind k) { return health(site, k); });
    std::vector<std::string> segs;
    for (const auto v : s.segments) segs.push_back(m.segments()[v].id);
    if (segs == i.suspected_segments) return;
    set_section(m, i, s);
    spdlog::info("incidents: incident {} relocated: {}", i.id, i.title);
  }

  /// Rule 2: a cause at pump station node `at`.
  outcome cause(const network_model& m, std::size_t at, const proto::alert_message& a) {
    const auto& node_id = m.nodes()[at].id;
    for (auto& [id, i] : active_) {  // a further cause at a root already known
      if (!i.root || i.root->node != node_id) continue;
      add_member(i, a, alert_role::cause, false);
      save(i);
      spdlog::info("incidents: alert {} ({} {}) joins incident {} as a cause", a.alert_id, a.terminal_id,
                   proto::to_string(a.type), i.id);
      return {false, std::nullopt};
    }
    // Open rootless incidents whose section drains through or below the station, opened at most
    // late_cause_window before this cause: it explains them.
    const auto down = downstream_reach(m, {at});
    std::vector<std::int64_t> explained;
    for (const auto& [id, i] : active_) {
      if (i.root || a.raised_at - i.opened_at > late_cause_window) continue;
      const bool below = std::any_of(i.loci.begin(), i.loci.end(), [&](const std::string& l) {
        const auto v = node_index(m, l);
        return v && std::binary_search(down.begin(), down.end(), *v);
      });
      if (below) explained.push_back(id);
    }
    if (!explained.empty()) {
      // The oldest is re-rooted at the station (it was notified already); the others merge into it.
      auto& i = active_.at(explained.front());
      for (auto& mem : i.alerts) {
        if (mem.role != alert_role::symptom) continue;
        mem.role = alert_role::consequence;
        ++n_.consequences;
      }
      set_rooted(m, i, at, a);
      add_member(i, a, alert_role::cause, false);
      for (std::size_t k = 1; k < explained.size(); ++k) merge(active_.at(explained[k]), i, a.raised_at);
      save(i);
      spdlog::warn("incidents: incident {} re-rooted at pump station {} ({})", i.id, node_id, proto::to_string(a.type));
      return {false, std::nullopt};
    }
    auto& i = open_incident(a);
    add_member(i, a, alert_role::cause, true);
    set_rooted(m, i, at, a);
    save(i);
    spdlog::warn("incidents: incident {} opened: {}", i.id, i.title);
    return {true, incident_message(i, a)};
  }

  /// The weather event a weather-driven raise at `at` joins: the latest weather incident while
  /// it is active, or opened again when it resolved at most weather_.reopen before `at`.
  incident* current_weather(proto::timestamp at) {
    if (weather_id_ == 0) return nullptr;
    if (const auto it = active_.find(weather_id_); it != active_.end()) return &it->second;
    auto stored = load(weather_id_);
    if (!stored || stored->merged_into || !stored->resolved_at || at - *stored->resolved_at > weather_.reopen) return nullptr;
    const auto after_s = std::chrono::duration_cast<std::chrono::seconds>(at - *stored->resolved_at).count();
    stored->state = stored->acked_at ? incident_state::acknowledged : incident_state::open;
    stored->resolved_at.reset();  // (read above: the empty optional's value is not to be read)
    spdlog::info("incidents: weather incident {} opened again: a terminal rose {:.0f} min after it resolved", weather_id_,
                 static_cast<double>(after_s) / 60.0);
    const auto id = stored->id;
    return &active_.insert_or_assign(id, std::move(*stored)).first->second;
  }

  /// Adds `site` (in `town`, `village`) to weather incident `i`'s terminals, towns and villages
  /// (kept sorted) and sets its title.
  static void add_weather_site(incident& i, const std::string& site, const std::string& town, const std::string& village) {
    auto put = [](std::vector<std::string>& v, const std::string& x) {
      if (x.empty()) return;
      const auto at = std::lower_bound(v.begin(), v.end(), x);
      if (at == v.end() || *at != x) v.insert(at, x);
    };
    put(i.affected_terminals, site);
    put(i.towns, town);
    put(i.villages, village);
    set_weather_title(i);
  }
  static void set_weather_title(incident& i) {
    i.title = fmt::format("Weather event: {} terminal{} in {} town{}", i.affected_terminals.size(),
                          i.affected_terminals.size() == 1 ? "" : "s", i.towns.size(), i.towns.size() == 1 ? "" : "s");
  }

  /// The one notification of a weather event: the alert that completed it, prefixed.
  /// `running_high`: when the event opened on the flows (set_running_high), the terminals whose
  /// flow ran above running_high_factor x their normal (0: it opened on the count of raises).
  std::string weather_message(const incident& i, const proto::alert_message& a, std::size_t running_high) const {
    std::set<std::string> types;
    for (const auto& m : i.alerts) types.insert(m.type);
    std::vector<std::string> type_list(types.begin(), types.end());
    const auto window_h = static_cast<double>(weather_.window.count()) / 3600.0;
    const auto n = i.affected_terminals.size();
    const std::string seen =
        running_high > 0
            ? fmt::format("{} at {} terminal{} ({}) while the flow of {} terminals runs above {:g} x their normal",
                          join(type_list, " and "), n, n == 1 ? "" : "s", join(i.affected_terminals, ", "), running_high,
                          weather_.running_high_factor)
            : fmt::format("{} at {} terminals within {:g} h ({})", join(type_list, " and "), n, window_h,
                          join(i.affected_terminals, ", "));
    return fmt::format(
        "Incident #{}: Weather event: {}; towns: {}. Rain or storm inflow; further terminals join this incident without "
        "a notification of their own. Latest: {}: {}",
        i.id, seen, i.towns.empty() ? std::string("-") : join(i.towns, ", "), a.terminal_id, a.message);
  }

  /// Weather events (weather.hpp): a weather-driven raise at terminal `t`.
  outcome on_weather(const proto::alert_message& a, const terminal_info& t) {
    while (!recent_.empty() && a.raised_at - recent_.front().raised_at > weather_.window) recent_.pop_front();
    if (auto* w = current_weather(a.raised_at)) {
      write_scope tx(*this);
      add_member(*w, a, alert_role::weather, false);
      add_weather_site(*w, a.terminal_id, t.town, t.village);
      save(*w);
      tx.commit();
      spdlog::info("incidents: alert {} ({} {}) joins weather incident {}", a.alert_id, a.terminal_id,
                   proto::to_string(a.type), w->id);
      return {false, std::nullopt};
    }
    recent_.push_back(recent_raise{a.alert_id, a.terminal_id, t.town, t.village, a.type, a.raised_at, std::nullopt});
    std::set<std::string> sites;
    for (const auto& r : recent_) sites.insert(r.site_id);
    // A county-wide rise seen in the flows before its alerts: the terminals running high now.
    std::size_t running_high = 0;
    if (sites.size() < weather_.min_terminals && weather_.running_high_factor > 0 && running_high_) {
      const auto seen = running_high_(weather_.running_high_factor, a.raised_at);
      // Only a raise whose own flow runs high, and only the other terminals that run high count: a
      // turbidity upset at a terminal with its usual flow is its own fault, notified on its own
      // even on a wet day. A share of the county, not a few: a pump station's batch lifts one
      // terminal's 2 h mean to 3 x its normal on a dry night (at most 2 terminals above 2 x at
      // once in 14 dry days).
      const auto share = static_cast<std::size_t>(
          std::ceil(weather_.running_high_share * static_cast<double>(seen.judged) - 1e-9));
      // The raiser plus that many others: its own rise is no evidence for the county's.
      if (std::find(seen.high.begin(), seen.high.end(), a.terminal_id) != seen.high.end() &&
          seen.high.size() - 1 >= std::max<std::size_t>(weather_.min_terminals, share))
        running_high = seen.high.size();
    }
    if (sites.size() < weather_.min_terminals && running_high == 0) {  // alone so far
      if (weather_.hold.count() <= 0) return {};                       // notified on its own now
      // In a maintenance window: the discipline suppresses it now (nothing to group for).
      if (in_window_ && in_window_(a.terminal_id, a.raised_at)) return {};
      // Held: when others follow within the hold it is a member of their event, never notified on
      // its own; else tick() passes it on when the hold runs out.
      held_raise h;
      h.raise = a;
      h.site = t;
      h.until = std::max(a.raised_at, clock_.now()) + weather_.hold;
      store_held(a.alert_id, h);  // throws: passed on at once (on_transition)
      held_.insert_or_assign(a.alert_id, std::move(h));
      ++n_.held;
      spdlog::info("incidents: alert {} ({} {}) held {} s: a weather event if {} more terminal(s) follow", a.alert_id,
                   a.terminal_id, proto::to_string(a.type), weather_.hold.count(), weather_.min_terminals - sites.size());
      return {false, std::nullopt};
    }
    write_scope tx(*this);
    auto& i = open_incident(a);
    i.kind = incident_kind::weather;
    std::vector<std::uint64_t> joined;
    for (const auto& r : recent_) {
      member_alert mem;
      mem.alert_id = r.alert_id;
      mem.site_id = r.site_id;
      mem.type = std::string(proto::to_string(r.type));
      mem.role = alert_role::weather;
      // The earlier ones were notified on their own unless still held (then never: the event is
      // their notification); the last one is notified as the event. One whose hold ran out and
      // whose notification waits for a store retry was passed on: it stays held until stored.
      const auto h = held_.find(r.alert_id);
      const bool unsent = h != held_.end() && !h->second.rows;
      if (unsent) {
        drop_held(r.alert_id);
        joined.push_back(r.alert_id);  // forgotten in memory once the tables are committed
      }
      mem.forwarded = !unsent;
      mem.raised_at = r.raised_at;
      mem.open = !r.cleared_at.has_value();
      mem.cleared_at = r.cleared_at;
      i.alerts.push_back(mem);
      if (mem.open) member_of_[r.alert_id] = i.id;
      add_weather_site(i, r.site_id, r.town, r.village);
    }
    save(i);
    tx.commit();
    for (const auto id : joined) held_.erase(id);
    weather_id_ = i.id;
    recent_.clear();
    spdlog::warn("incidents: incident {} opened: {}{}", i.id, i.title,
                 running_high > 0 ? fmt::format(" ({} terminals' flow above {:g} x their normal)", running_high,
                                                weather_.running_high_factor)
                                  : std::string());
    return {true, weather_message(i, a, running_high)};
  }

  /// Moves every alert of `from` into `into` as a consequence; `from` is resolved as merged.
  void merge(incident& from, incident& into, proto::timestamp at) {
    for (const auto& mem : from.alerts) {
      auto moved = mem;
      if (moved.role != alert_role::consequence) ++n_.consequences;
      moved.role = alert_role::consequence;
      into.alerts.push_back(moved);
      if (moved.open) member_of_[moved.alert_id] = into.id;
    }
    from.merged_into = into.id;
    spdlog::info("incidents: incident {} merged into incident {}", from.id, into.id);
    resolve(from, std::max(at, from.opened_at));
  }

  std::shared_ptr<const network_model> model_;
  std::unique_ptr<site_index> sites_;
  std::unordered_map<std::int64_t, std::vector<std::size_t>> reach_;
};

correlator::correlator(const std::filesystem::path& db_path, const network::holder& pipes, const clock_source& clock,
                       alert_listener* next) try
    : correlator(open_sqlite_incident_db(db_path), pipes, clock, next) {
} catch (const std::exception& e) {
  throw std::runtime_error(db_path.string() + ": cannot load the open incidents: " + e.what());
}

correlator::correlator(std::unique_ptr<incident_db> db, const network::holder& pipes, const clock_source& clock,
                       alert_listener* next)
    : impl_(std::make_unique<impl>(std::move(db), pipes, clock, next)) {}

correlator::~correlator() = default;

void correlator::set_site_health(health_fn f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->health_ = std::move(f);
}

void correlator::set_running_high(running_high_fn f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->running_high_ = std::move(f);
}

void correlator::set_in_window(in_window_fn f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->in_window_ = std::move(f);
}

void correlator::set_shelf(shelf_fn f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->shelf_ = std::move(f);
}

void correlator::set_release(release_fn f) {
  std::lock_guard lock(impl_->mutex_);
  impl_->release_ = std::move(f);
}

void correlator::tick(const registry& reg) noexcept {
  std::vector<std::pair<std::uint64_t, impl::held_raise>> due;
  release_fn release;
  shelf_fn shelf;
  try {
    std::lock_guard lock(impl_->mutex_);
    const auto now = impl_->clock_.now();
    for (auto it = impl_->held_.begin(); it != impl_->held_.end();) {
      if (it->second.until > now) {
        ++it;
        continue;
      }
      due.emplace_back(it->first, std::move(it->second));
      it = impl_->held_.erase(it);
    }
    release = impl_->release_;
    shelf = impl_->shelf_;
  } catch (const std::exception& e) {  // bad_alloc: the held stay held, tried at the next tick
    spdlog::error("incidents: held weather raises not passed on now: {}", e.what());
    return;
  }
  bool stored = false;
  for (auto& [id, h] : due) {
    const terminal_info* t = nullptr;
    if (h.site) t = &*h.site;
    else if (const auto idx = reg.find(h.raise.terminal_id)) t = &reg.terminals()[*idx];
    // On an operator's shelf (put there while it was held): nobody was told of it yet, and the
    // operator asked not to be. Held until the shelf ends; nothing told if it cleared on it.
    bool silent = false;
    if (!h.rows && shelf) {
      try {
        const auto now = impl_->clock_.now();
        if (const auto until = shelf(id)) {
          std::optional<proto::timestamp> cleared;
          for (const auto& l : h.later)
            if (l.state == proto::alert_state::cleared) cleared = l.cleared_at.value_or(now);
          // Cleared: silent if it cleared while on its shelf (the discipline never marks the shelf
          // of a cleared alert ended, so the shelf's end is still its own, also when it is past).
          // Open: held while the shelf lasts; one that ended is none (the discipline marks it
          // ended at its next tick, after this one).
          if (cleared) {
            silent = *cleared < *until;
          } else if (*until > now) {
            std::lock_guard lock(impl_->mutex_);
            h.until = *until;
            try {
              impl_->store_held(id, h);
            } catch (const std::exception& e) {  // kept in memory; a restart holds it to its old end
              ++impl_->n_.failures;
              spdlog::error("incidents: alert {}: its hold on the shelf not stored: {}", id, e.what());
            }
            spdlog::info("incidents: alert {} ({} {}) is on a shelf: held until {}", id, h.raise.terminal_id,
                         proto::to_string(h.raise.type), proto::format_timestamp(h.until));
            impl_->held_.insert_or_assign(id, std::move(h));
            continue;
          }
        }
      } catch (const std::exception& e) {  // passed on as if on no shelf: better told than not
        spdlog::error("incidents: alert {}: its shelf not known ({}); passed on", id, e.what());
      }
    }
    try {
      if (!h.rows) {
        std::vector<notification_row> rows;
        if (impl_->next_ != nullptr) {
          impl_->next_->on_transition(h.raise, t, rows);
          for (const auto& l : h.later) impl_->next_->on_transition(l, t, rows);
        }
        if (silent) rows.clear();  // the discipline saw them all; nothing is told
        h.rows = std::move(rows);
        // Kept with its held row until stored: a stop before that stores them at the next start
        // (rehold) without passing the raise on again.
        try {
          std::lock_guard lock(impl_->mutex_);
          impl_->store_held(id, h);
        } catch (const std::exception& e) {
          std::lock_guard lock(impl_->mutex_);
          ++impl_->n_.failures;
          spdlog::error("incidents: alert {}: its notification rows not kept in its held row: {}", id, e.what());
        }
      }
      if (release) release(*h.rows, "alert:" + std::to_string(id) + ":weather-hold");
      stored = true;
      std::lock_guard lock(impl_->mutex_);
      ++impl_->n_.released;
      try {
        impl_->drop_held(id);
      } catch (const std::exception& e) {  // passed on; a restart would hold it again (the once-key
        ++impl_->n_.failures;              // keeps its rows from being stored twice)
        spdlog::error("incidents: alert {}: its held row not removed: {}", id, e.what());
      }
      if (silent)
        spdlog::info("incidents: alert {} ({} {}) cleared on its shelf while held: passed on, nothing notified", id,
                     h.raise.terminal_id, proto::to_string(h.raise.type));
      else
        spdlog::info("incidents: alert {} ({} {}) notified on its own: no weather event within its hold", id,
                     h.raise.terminal_id, proto::to_string(h.raise.type));
    } catch (const std::exception& e) {
      spdlog::error("incidents: alert {} ({} {}): its notification not stored ({}); tried again in a minute", id,
                    h.raise.terminal_id, proto::to_string(h.raise.type), e.what());
      try {
        std::lock_guard lock(impl_->mutex_);
        ++impl_->n_.failures;
        h.until = impl_->clock_.now() + std::chrono::minutes(1);
        impl_->held_.insert_or_assign(id, std::move(h));
      } catch (const std::exception&) {  // bad_alloc: logged above
      }
    }
  }
  if (stored && impl_->next_ != nullptr) impl_->next_->on_committed();
}

std::size_t correlator::rehold(const std::unordered_map<std::uint64_t, proto::alert_message>& open, const registry& reg,
                               const rehold_checks& checks) {
  auto& d = *impl_;
  struct row {
    std::uint64_t id;
    impl::held_raise h;
    bool without_row{false};  ///< an open alert no row holds (checks.passed_on)
    bool keep{false};
  };
  std::vector<row> rows;
  {
    std::lock_guard lock(d.mutex_);
    std::set<std::uint64_t> with_row;
    for (const auto& stored : d.db_->held()) {
      const auto id = stored.alert_id;
      try {
        const auto doc = json::parse(stored.doc);
        auto raise = proto::decode_alert(doc.at("raise").dump());
        if (!raise.ok()) throw std::runtime_error(raise.problems.empty() ? "bad raise" : raise.problems.front().to_string());
        impl::held_raise h;
        h.raise = std::move(*raise.value);
        for (const auto& l : doc.at("later")) {
          auto later = proto::decode_alert(l.dump());
          if (later.ok()) {
            h.later.push_back(std::move(*later.value));
          } else {  // the raise is still passed on; this transition is lost (logged, counted)
            ++d.n_.failures;
            spdlog::error("incidents: held weather raise {}: a later transition unreadable: {}", id,
                          later.problems.empty() ? std::string("?") : later.problems.front().to_string());
          }
        }
        h.until = proto::timestamp(std::chrono::milliseconds(stored.until_ms));
        if (const auto rs = doc.find("rows"); rs != doc.end()) {
          std::vector<notification_row> stored_rows;
          for (const auto& r : *rs) {
            notification_row n;
            n.target = r.at("target").get<std::string>();
            n.subject_kind = r.at("subject_kind").get<std::string>();
            n.subject_id = r.at("subject_id").get<std::uint64_t>();
            n.event = r.at("event").get<std::string>();
            n.body = r.at("body").get<std::string>();
            n.created_ms = r.at("created_ms").get<std::int64_t>();
            stored_rows.push_back(std::move(n));
          }
          h.rows = std::move(stored_rows);
        }
        if (const auto idx = reg.find(h.raise.terminal_id)) h.site = reg.terminals()[*idx];
        with_row.insert(id);
        rows.push_back({id, std::move(h)});
      } catch (const std::exception& e) {  // unreadable: logged, and held from the engine's alert below
        ++d.n_.failures;
        spdlog::error("incidents: held weather raise {} unreadable: {}", id, e.what());
      }
    }
    // An open weather-driven alert at a terminal that is in no row and no incident: its raise was
    // held where the next listener cannot have seen it (asked below, unlocked).
    // Only one raised within twice the hold: a takeover takes seconds, and an older one was a
    // member of an event on a gateway whose incidents this one cannot see (SQLite: each host's
    // own) or was passed on there (the discipline failed to record it): holding it again would
    // notify it alone now.
    if (checks.passed_on && d.weather_.hold.count() > 0 && d.weather_.min_terminals > 0) {
      const auto now = d.clock_.now();
      for (const auto& [id, a] : open) {
        if (!weather_driven(a.type) || with_row.count(id) != 0 || d.member_of_.count(id) != 0) continue;
        if (now - a.raised_at > 2 * d.weather_.hold) continue;
        const auto idx = reg.find(a.terminal_id);
        if (!idx || reg.terminals()[*idx].kind != site_kind::terminal) continue;
        impl::held_raise h;
        h.raise = a;
        h.raise.state = proto::alert_state::raised;
        h.raise.acked_at.reset();
        h.raise.acked_by.reset();
        h.raise.ack_note.reset();
        h.raise.cleared_at.reset();
        if (a.state == proto::alert_state::acknowledged) h.later.push_back(a);
        h.until = a.raised_at + d.weather_.hold;
        h.site = reg.terminals()[*idx];
        rows.push_back({id, std::move(h), true});
      }
    }
  }
  // The checks unlocked: the discipline calls held_back (this lock) under its own.
  for (auto& r : rows) {
    const auto& a = r.h.raise;
    if (r.h.rows) {  // this gateway passed it on; its notification is still to be stored
      r.keep = true;
      continue;
    }
    if (checks.passed_on && checks.passed_on(r.id)) {
      if (!r.without_row)
        spdlog::warn("incidents: held weather raise {} ({} {}) was passed on meanwhile (by the gateway that led): "
                     "forgotten",
                     r.id, a.terminal_id, proto::to_string(a.type));
      continue;
    }
    if (r.without_row) {
      r.keep = true;
      continue;
    }
    // The engine's own store is the truth: a raise it never committed (the gateway died between
    // the hold and the engine's next commit) is no alert; one that cleared is still reported.
    const auto e = open.find(r.id);
    const bool in_engine = e != open.end() && e->second.terminal_id == a.terminal_id && e->second.type == a.type;
    const bool cleared_meanwhile = std::any_of(r.h.later.begin(), r.h.later.end(), [](const proto::alert_message& l) {
      return l.state == proto::alert_state::cleared;
    });
    r.keep = in_engine || (cleared_meanwhile && (!checks.stored || checks.stored(r.id)));
    if (!r.keep)
      spdlog::warn("incidents: held weather raise {} ({} {}) is no alert of the engine: forgotten", r.id, a.terminal_id,
                   proto::to_string(a.type));
  }
  std::sort(rows.begin(), rows.end(), [](const row& x, const row& y) {
    return x.h.raise.raised_at != y.h.raise.raised_at ? x.h.raise.raised_at < y.h.raise.raised_at : x.id < y.id;
  });
  std::lock_guard lock(d.mutex_);
  const auto now = d.clock_.now();
  std::size_t held = 0;
  std::size_t taken_over = 0;
  std::size_t stored_later = 0;
  for (auto& r : rows) {
    const auto& a = r.h.raise;
    if (!r.keep) {
      if (!r.without_row) d.drop_held(r.id);
      continue;
    }
    if (r.without_row) {
      d.store_held(r.id, r.h);
      ++taken_over;
      spdlog::warn("incidents: alert {} ({} {}) is open, in no weather event and was never passed on (held by the "
                   "gateway that led before, or its row lost): held again until {}",
                   r.id, a.terminal_id, proto::to_string(a.type), proto::format_timestamp(r.h.until));
    }
    std::optional<proto::timestamp> cleared_at;
    for (const auto& l : r.h.later)
      if (l.state == proto::alert_state::cleared) cleared_at = std::max(l.cleared_at.value_or(now), a.raised_at);
    // It counts towards the next event like any recent raise (a terminal no longer registered
    // does not: its hold just runs out).
    if (now - a.raised_at <= d.weather_.window && r.h.site)
      d.recent_.push_back(
          impl::recent_raise{a.alert_id, a.terminal_id, r.h.site->town, r.h.site->village, a.type, a.raised_at, cleared_at});
    const bool passed = r.h.rows.has_value();
    d.held_.insert_or_assign(r.id, std::move(r.h));
    if (passed) {  // passed on before the stop: only its notification is still to be stored
      ++stored_later;
      continue;
    }
    ++d.n_.held;
    ++held;
  }
  if (held > 0)
    spdlog::info("incidents: {} weather-driven raise(s) held when the gateway stopped, held again ({} without a row of "
                 "this gateway)",
                 held, taken_over);
  if (stored_later > 0)
    spdlog::info("incidents: {} raise(s) passed on before the stop: their notifications are stored at the first tick",
                 stored_later);
  // The open weather-driven alerts at terminals raised within the window that no event has and
  // nothing holds (passed on alone when their hold ran out, or in a maintenance window) count
  // towards the next event, as they did before the stop: a restart or a standby's takeover during
  // a storm's first hours no longer starts the count again (each later raise notified alone until
  // `min_terminals` new ones came). A cleared one is no open alert: it no longer counts.
  if (d.weather_.min_terminals > 0) {
    std::set<std::uint64_t> counted;
    for (const auto& r : d.recent_) counted.insert(r.alert_id);
    std::size_t added = 0;
    for (const auto& [id, a] : open) {
      if (!weather_driven(a.type) || counted.count(id) != 0 || d.held_.count(id) != 0 || d.member_of_.count(id) != 0)
        continue;
      if (a.raised_at > now || now - a.raised_at > d.weather_.window) continue;
      const auto idx = reg.find(a.terminal_id);
      if (!idx || reg.terminals()[*idx].kind != site_kind::terminal) continue;
      const auto& t = reg.terminals()[*idx];
      d.recent_.push_back(impl::recent_raise{id, a.terminal_id, t.town, t.village, a.type, a.raised_at, std::nullopt});
      ++added;
    }
    if (added > 0) {
      std::sort(d.recent_.begin(), d.recent_.end(), [](const impl::recent_raise& x, const impl::recent_raise& y) {
        return x.raised_at != y.raised_at ? x.raised_at < y.raised_at : x.alert_id < y.alert_id;
      });
      spdlog::info("incidents: {} open weather-driven raise(s) of the last {} s, notified before the stop, count "
                   "towards the next weather event",
                   added, d.weather_.window.count());
    }
  }
  return held + stored_later;
}

void correlator::set_weather(const weather_settings& s) {
  std::lock_guard lock(impl_->mutex_);
  impl_->weather_ = s;
}

void correlator::on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                               std::vector<notification_row>& queue) noexcept {
  impl::outcome o;
  try {
    std::lock_guard lock(impl_->mutex_);
    o = alert.state == proto::alert_state::raised ? impl_->on_raise(alert, terminal) : impl_->on_change(alert);
  } catch (const std::exception& e) {
    spdlog::error("incidents: alert {} ({} {}): {}; passed on unchanged", alert.alert_id, alert.terminal_id,
                  proto::to_string(alert.type), e.what());
    try {
      std::lock_guard lock(impl_->mutex_);
      ++impl_->n_.failures;
      // A raise's transaction rolled the tables back: the memory follows them (an incident opened
      // or a member added only in memory would otherwise be shown, and joined, until the next
      // start). Not after a clear: the engine does not send it again, so the memory keeps the
      // member closed (and its incident resolved) and the next start's reconcile closes it in the
      // tables.
      if (alert.state == proto::alert_state::raised) impl_->load_active();
    } catch (const std::exception& again) {
      spdlog::error("incidents: the open incidents not reloaded after the failure: {}", again.what());
    }
    o = impl::outcome{};
  }
  if (!o.forward || impl_->next_ == nullptr) return;
  if (!o.message) {
    impl_->next_->on_transition(alert, terminal, queue);
    return;
  }
  try {
    auto copy = alert;
    copy.message = std::move(*o.message);
    impl_->next_->on_transition(copy, terminal, queue);
  } catch (const std::exception&) {  // bad_alloc copying: the original all the same
    impl_->next_->on_transition(alert, terminal, queue);
  }
}

void correlator::on_committed() noexcept {
  if (impl_->next_ != nullptr) impl_->next_->on_committed();
}

std::size_t correlator::reconcile(const std::unordered_map<std::uint64_t, proto::alert_message>& open,
                                  const std::function<bool(std::uint64_t id)>& stored) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->reconcile(open, stored);
}

correlator::ack_result correlator::acknowledge(std::int64_t id, const std::string& by, const std::string& note, incident* out) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->acknowledge(id, by, note, out);
}

// The API's reads (reader threads): the documents are read under the lock and parsed after it, so
// that a long list holds the engine's transitions no longer than the database read.
std::optional<incident> correlator::find(std::int64_t id) const {
  std::optional<std::string> doc;
  {
    std::lock_guard lock(impl_->mutex_);
    if (const auto it = impl_->active_.find(id); it != impl_->active_.end()) return it->second;
    doc = impl_->db_->find(id);
  }
  if (!doc) return std::nullopt;
  return from_json(json::parse(*doc));
}

std::vector<incident> correlator::list(std::optional<incident_state> state, std::size_t limit) const {
  std::vector<std::string> docs;
  {
    std::lock_guard lock(impl_->mutex_);
    docs = impl_->db_->list(state ? std::optional<std::string>(to_string(*state)) : std::nullopt, limit);
  }
  std::vector<incident> out;
  out.reserve(docs.size());
  for (const auto& doc : docs) out.push_back(from_json(json::parse(doc)));
  return out;
}

std::vector<incident> correlator::active() const {
  std::lock_guard lock(impl_->mutex_);
  std::vector<incident> out;
  for (const auto& [id, i] : impl_->active_) out.push_back(i);
  return out;
}

std::vector<weather_span> correlator::weather_spans(std::int64_t from_ms, std::int64_t to_ms) const {
  std::lock_guard lock(impl_->mutex_);
  const auto now_ms = ms(impl_->clock_.now());
  // Candidates by the incident's own span; each then ends at most weather_span_after_last_raise
  // after its last member's raise (an event stays open while one lingering member does).
  std::vector<weather_span> out;
  for (const auto& row : impl_->db_->weather(from_ms, to_ms)) {
    const auto opened = row.opened_ms;
    auto end = row.resolved_ms ? *row.resolved_ms : std::max(now_ms, opened);
    try {
      const auto i = from_json(json::parse(row.doc));
      std::int64_t last_raise = opened;
      for (const auto& a : i.alerts) last_raise = std::max(last_raise, ms(a.raised_at));
      end = std::min(end, last_raise + std::chrono::duration_cast<std::chrono::milliseconds>(weather_span_after_last_raise).count());
    } catch (const std::exception& e) {  // its stored span all the same
      spdlog::warn("incidents: weather incident from {} unreadable for its span: {}", opened, e.what());
    }
    if (end >= from_ms) out.push_back({opened, std::max(end, opened)});
  }
  return out;
}

std::optional<proto::timestamp> correlator::held_until(std::uint64_t alert_id) const noexcept {
  std::optional<proto::timestamp> until;
  std::optional<proto::timestamp> cleared;
  shelf_fn shelf;
  try {
    std::lock_guard lock(impl_->mutex_);
    const auto h = impl_->held_.find(alert_id);
    if (h == impl_->held_.end() || h->second.rows) return std::nullopt;
    until = h->second.until;
    for (const auto& l : h->second.later)
      if (l.state == proto::alert_state::cleared) cleared = l.cleared_at.value_or(impl_->clock_.now());
    shelf = impl_->shelf_;
  } catch (const std::exception&) {  // bad_alloc copying the hook: the hold's end, as without a shelf
  }
  // tick's rules: cleared while on its shelf, silent; open on a shelf that ends after the hold,
  // held until the shelf's end.
  if (shelf) {
    try {
      if (const auto end = shelf(alert_id)) {
        if (cleared && *cleared < *end) return std::nullopt;
        if (!cleared && until && *end > *until) return end;
      }
    } catch (const std::exception&) {  // a shelf not known: tick passes it on as if on none
    }
  }
  return until;
}

bool correlator::held_back(std::uint64_t alert_id) const noexcept {
  std::lock_guard lock(impl_->mutex_);
  if (const auto h = impl_->held_.find(alert_id); h != impl_->held_.end()) return !h->second.rows.has_value();
  const auto it = impl_->member_of_.find(alert_id);
  if (it == impl_->member_of_.end()) return false;
  const auto inc = impl_->active_.find(it->second);
  if (inc == impl_->active_.end()) return false;
  for (const auto& a : inc->second.alerts)
    if (a.alert_id == alert_id) return !a.forwarded;
  return false;
}

std::optional<std::int64_t> correlator::incident_of(std::uint64_t alert_id) const {
  std::lock_guard lock(impl_->mutex_);
  if (const auto it = impl_->member_of_.find(alert_id); it != impl_->member_of_.end()) return it->second;
  return impl_->db_->incident_of(alert_id);
}

counts correlator::counters() const {
  std::lock_guard lock(impl_->mutex_);
  auto c = impl_->n_;
  c.open = impl_->active_.size();
  return c;
}

site_health engine_health(const engine& eng, const std::string& site_id, network::node_kind kind) {
  const auto idx = eng.terminals().find(site_id);
  if (!idx) return site_health::unknown;
  switch (eng.presence_of(*idx)) {
    case engine::presence::offline: return site_health::offline;
    case engine::presence::unknown: return site_health::unknown;
    case engine::presence::online: break;
  }
  const auto& open = eng.open_alerts();
  for (const auto id : eng.runtime(*idx).open_alert) {
    if (id == 0) continue;
    const auto it = open.find(id);
    if (it != open.end() && classify(it->second, kind) != alert_class::none) return site_health::loss;
  }
  return site_health::ok;
}

}  // namespace sewage::gateway::incidents
