// Alarm discipline: suppression by maintenance windows, shelving, escalation, grouping
// (alarms/discipline.hpp). Its state in a discipline_db (SQLite file or shared PostgreSQL).
#include "sewage/gateway/alarms/discipline.hpp"

#include "sewage/gateway/alarms/discipline_db.hpp"

#include "sewage/gateway/notify/message.hpp"
#include "sewage/gateway/notify/notifier.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sewage::gateway::alarms {

using nlohmann::json;

namespace {

alert_state fresh(std::uint64_t id, const proto::alert_message& a) {
  alert_state s;
  s.alert_id = id;
  s.site_id = a.terminal_id;
  s.type = a.type;
  return s;
}

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }

std::string minutes_text(std::int64_t m, notify_language l) {
  return std::to_string(m) + (l == notify_language::zh_cn ? " 分钟" : " min");
}

}  // namespace

class discipline::impl {
 public:
  impl(std::unique_ptr<discipline_db> db, const clock_source& clock, alert_listener* next, notifier* notify)
      : db_(std::move(db)), clock_(clock), next_(next), notify_(notify) {
    if (!db_) throw std::invalid_argument("alarm discipline: no store");
    for (auto& w : db_->windows()) windows_.emplace(w.id, std::move(w));
  }

  // All below: with mutex_ held.

  std::optional<alert_state> load(std::uint64_t id) { return db_->state(id); }

  /// The state of an alert (cached while it is open; nullopt = none recorded).
  std::optional<alert_state>& get(std::uint64_t id) {
    auto it = cache_.find(id);
    if (it == cache_.end()) it = cache_.emplace(id, load(id)).first;
    return it->second;
  }

  void save(const alert_state& s) {
    db_->save(s);
    cache_[s.alert_id] = s;
  }

  std::optional<alert_group> group(std::int64_t id) { return db_->group(id); }

  std::optional<std::pair<maintenance_window, occurrence>> window_at(const std::string& site, proto::timestamp t,
                                                                     const county_zone& zone) const {
    for (const auto& [id, w] : windows_) {
      if (w.site_id != site) continue;
      if (const auto o = occurrence_at(w, t, zone)) return std::pair{w, *o};
    }
    return std::nullopt;
  }

  void audit(const std::string& action, const std::string& target, const json& detail) {
    if (!audit_) return;
    try {
      audit_(action, target, detail.dump());
    } catch (const std::exception& e) {
      spdlog::error("alarms: audit row {} {} not written: {}", action, target, e.what());
    }
  }

  mutable std::mutex mutex_;
  std::unique_ptr<discipline_db> db_;
  const clock_source& clock_;
  alert_listener* next_;
  notifier* notify_;
  audit_sink audit_;
  std::function<bool(std::uint64_t)> held_back_;
  std::map<std::int64_t, maintenance_window> windows_;
  std::map<std::uint64_t, std::optional<alert_state>> cache_;
  counts n_;
};

discipline::discipline(const std::filesystem::path& db_path, settings s, county_zone zone, const clock_source& clock,
                       alert_listener* next, notifier* notify)
    : discipline(open_sqlite_discipline_db(db_path), s, zone, clock, next, notify) {}

discipline::discipline(std::unique_ptr<discipline_db> db, settings s, county_zone zone, const clock_source& clock,
                       alert_listener* next, notifier* notify)
    : impl_(std::make_unique<impl>(std::move(db), clock, next, notify)), settings_(s), zone_(zone) {}

discipline::~discipline() = default;

void discipline::set_audit(audit_sink sink) {
  std::lock_guard lock(impl_->mutex_);
  impl_->audit_ = std::move(sink);
}

void discipline::set_held_back(std::function<bool(std::uint64_t)> held_back) {
  std::lock_guard lock(impl_->mutex_);
  impl_->held_back_ = std::move(held_back);
}

void discipline::on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                               std::vector<notification_row>& queue) noexcept {
  bool pass = true;
  try {
    std::lock_guard lock(impl_->mutex_);
    auto& d = *impl_;
    const auto id = alert.alert_id;
    switch (alert.state) {
      case proto::alert_state::raised: {
        alert_state s;
        // A raise that reaches the discipline late (the incident correlator held it for a weather
        // event, incidents/weather.hpp) may have been shelved by an operator meanwhile: kept.
        if (const auto& before = d.get(id); before && before->shelved_until) {
          s.shelved_until = before->shelved_until;
          s.shelved_by = before->shelved_by;
          s.shelve_note = before->shelve_note;
          s.unshelved = before->unshelved;
        }
        s.alert_id = id;
        s.site_id = alert.terminal_id;
        s.type = alert.type;
        if (const auto w = d.window_at(alert.terminal_id, alert.raised_at, zone_)) {
          s.window_id = w->first.id;
          d.save(s);
          ++d.n_.suppressed;
          pass = false;
          spdlog::info("alarms: alert {} ({} {}) suppressed by maintenance window {} until {}", id, alert.terminal_id,
                       proto::to_string(alert.type), w->first.id, proto::format_timestamp(w->second.end));
          break;
        }
        const auto type = std::string(proto::to_string(alert.type));
        std::optional<alert_group> g;
        if (settings_.group_window_s > 0) {
          g = d.db_->recent_group(alert.terminal_id, type, ms(alert.raised_at) - settings_.group_window_s * 1000, id);
        }
        if (g) {
          d.db_->add_repeat(g->id, id, ms(alert.raised_at));
          s.group_id = g->id;
          s.repeat_of = g->head_alert;
          d.save(s);
          ++d.n_.grouped;
          pass = false;
          spdlog::info("alarms: alert {} ({} {}) is repeat {} of group {} (first episode {}): not notified", id,
                       alert.terminal_id, type, g->repeats + 1, g->id, g->head_alert);
          break;
        }
        s.group_id = d.db_->insert_group(alert.terminal_id, type, id, ms(alert.raised_at));
        d.save(s);
        break;
      }
      case proto::alert_state::acknowledged: {
        const auto& s = d.get(id);
        if (s && (s->suppressed() || s->repeat_of)) pass = false;
        break;
      }
      case proto::alert_state::cleared: {
        auto s = d.get(id);
        if (s) {
          if (s->suppressed() || s->repeat_of) pass = false;
          if (s->group_id)
            d.db_->group_cleared(*s->group_id, ms(alert.cleared_at.value_or(alert.raised_at)));
          if (s->shelved()) {
            s->unshelved = alert.cleared_at.value_or(impl_->clock_.now());
            d.save(*s);
          }
        }
        d.cache_.erase(id);  // closed: read from the database from now on
        break;
      }
    }
  } catch (const std::exception& e) {
    ++impl_->n_.failures;
    spdlog::error("alarms: alert {}: discipline state not recorded ({}); the transition is notified as usual",
                  alert.alert_id, e.what());
    pass = true;
  }
  if (pass && impl_->next_ != nullptr) impl_->next_->on_transition(alert, terminal, queue);
}

void discipline::on_committed() noexcept {
  if (impl_->next_ != nullptr) impl_->next_->on_committed();
}

void discipline::tick(const engine& eng) noexcept {
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  const auto now = d.clock_.now();
  for (const auto& [id, a] : eng.open_alerts()) {
    try {
      auto& slot = d.get(id);
      const auto idx = eng.terminals().find(a.terminal_id);
      const terminal_info* t = idx ? &eng.terminals().terminals()[*idx] : nullptr;
      if (slot && slot->suppressed()) {
        if (const auto w = d.window_at(a.terminal_id, now, zone_)) {
          if (w->first.id != *slot->window_id) {  // another window took over
            auto s = *slot;
            s.window_id = w->first.id;
            d.save(s);
          }
          continue;
        }
        auto s = *slot;
        s.released = now;
        d.save(s);
        ++d.n_.released;
        spdlog::warn("alarms: alert {} ({} {}) outlived its maintenance window {}: now a normal active alert", id,
                     a.terminal_id, proto::to_string(a.type), *s.window_id);
        d.audit("alert.release", std::to_string(id), json{{"terminal", a.terminal_id}, {"window", *s.window_id}});
        if (d.notify_ != nullptr) d.notify_->enqueue_alert(a, t, "alert:" + std::to_string(id) + ":release");
      }
      if (slot && slot->shelved() && *slot->shelved_until <= now) {
        auto s = *slot;
        s.unshelved = *s.shelved_until;
        d.save(s);
        ++d.n_.unshelved;
        spdlog::info("alarms: alert {} ({} {}) is back from its shelf, unacknowledged", id, a.terminal_id,
                     proto::to_string(a.type));
        d.audit("alert.unshelve", std::to_string(id), json{{"terminal", a.terminal_id}, {"reason", "expired"}});
      }
      // Escalation: open, unacknowledged, neither suppressed nor shelved, nor held back before the
      // discipline (an incident's consequence: its incident was notified once).
      if (a.state != proto::alert_state::raised) continue;
      if (d.held_back_ && d.held_back_(id)) continue;
      if (slot && (slot->suppressed() || slot->shelved())) continue;
      auto due = a.raised_at;
      if (slot && slot->released) due = std::max(due, *slot->released);
      if (slot && slot->unshelved) due = std::max(due, *slot->unshelved);
      const auto waited_min = std::chrono::duration_cast<std::chrono::minutes>(now - due).count();
      const auto reached = slot && slot->escalated ? static_cast<int>(*slot->escalated) : 0;
      for (const auto level : {notify_level::town, notify_level::county}) {
        const auto after = level == notify_level::town ? settings_.escalate_town_after_min : settings_.escalate_county_after_min;
        if (waited_min < after || static_cast<int>(level) <= reached) continue;
        alert_state s = slot ? *slot : fresh(id, a);
        escalation_message m;
        m.subject_kind = "alert";
        m.subject_id = id;
        m.site_name = t != nullptr ? t->name : std::string();
        m.what_zh = std::string(alert_type_words(a.type, notify_language::zh_cn)) + "，" +
                    minutes_text(after, notify_language::zh_cn) + "未确认也未恢复";
        m.what_en = std::string(alert_type_words(a.type, notify_language::en)) + ", neither acknowledged nor cleared for " +
                    minutes_text(after, notify_language::en);
        m.since = due;
        m.once_key = (s.group_id ? "alarm-group:" + std::to_string(*s.group_id) : "alert:" + std::to_string(id)) + ":" +
                     std::string(to_string(level));
        if (d.notify_ != nullptr) d.notify_->enqueue_escalation(level, a.terminal_id, t != nullptr ? t->town : "", m);
        s.escalated = level;
        s.escalated_at = now;
        d.save(s);
        ++(level == notify_level::town ? d.n_.escalated_town : d.n_.escalated_county);
        spdlog::warn("alarms: alert {} ({} {}) neither acknowledged nor cleared for {} min: escalated to the {} level", id,
                     a.terminal_id, proto::to_string(a.type), waited_min, to_string(level));
        d.audit("alert.escalate", std::to_string(id),
                json{{"terminal", a.terminal_id}, {"level", std::string(to_string(level))}, {"waited_min", waited_min}});
      }
    } catch (const std::exception& e) {
      ++d.n_.failures;
      spdlog::error("alarms: alert {}: tick failed, retried at the next tick: {}", id, e.what());
    }
  }
}

maintenance_window discipline::create_window(maintenance_window w) {
  if (const auto p = window_problem(w)) throw discipline_error(400, *p);
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  w.created = d.clock_.now();
  w.ended.reset();
  w.ended_by.clear();
  w.id = d.db_->insert_window(w);
  d.windows_[w.id] = w;
  return w;
}

std::vector<maintenance_window> discipline::windows(const std::vector<std::string>& sites, bool include_ended) const {
  std::lock_guard lock(impl_->mutex_);
  const auto now = impl_->clock_.now();
  std::vector<maintenance_window> out;
  for (auto it = impl_->windows_.rbegin(); it != impl_->windows_.rend(); ++it) {
    const auto& w = it->second;
    if (!sites.empty() && std::find(sites.begin(), sites.end(), w.site_id) == sites.end()) continue;
    if (!include_ended && !next_occurrence(w, now, zone_) && (w.ended || w.kind == recurrence::once || w.end)) continue;
    out.push_back(w);
  }
  return out;
}

std::optional<maintenance_window> discipline::window(std::int64_t id) const {
  std::lock_guard lock(impl_->mutex_);
  const auto it = impl_->windows_.find(id);
  if (it == impl_->windows_.end()) return std::nullopt;
  return it->second;
}

maintenance_window discipline::end_window(std::int64_t id, const std::string& by) {
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  const auto it = d.windows_.find(id);
  if (it == d.windows_.end()) throw discipline_error(404, "no maintenance window " + std::to_string(id));
  auto w = it->second;
  const auto now = d.clock_.now();
  if (w.ended) throw discipline_error(409, "maintenance window " + std::to_string(id) + " was already ended by " + w.ended_by);
  if (w.kind == recurrence::once && w.end && *w.end <= now)
    throw discipline_error(409, "maintenance window " + std::to_string(id) + " is already over");
  w.ended = now;
  w.ended_by = by;
  d.db_->end_window(id, ms(now), by);
  it->second = w;
  return w;
}

void discipline::delete_window(std::int64_t id) {
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  if (d.windows_.find(id) == d.windows_.end()) throw discipline_error(404, "no maintenance window " + std::to_string(id));
  d.db_->delete_window(id);
  d.windows_.erase(id);
}

std::optional<std::pair<maintenance_window, occurrence>> discipline::window_at(const std::string& site_id,
                                                                               proto::timestamp t) const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->window_at(site_id, t, zone_);
}

alert_state discipline::shelve(const proto::alert_message& a, std::int64_t duration_s, const std::string& note,
                               const std::string& by) {
  if (duration_s < 1 || duration_s > settings_.max_shelve_s)
    throw discipline_error(400, "duration_s: must be 1 .. " + std::to_string(settings_.max_shelve_s) +
                                    " seconds ([alarms] max_shelve_s), got " + std::to_string(duration_s));
  if (a.state == proto::alert_state::cleared)
    throw discipline_error(409, "alert " + std::to_string(a.alert_id) + " is already cleared");
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  const auto& slot = d.get(a.alert_id);
  alert_state s = slot ? *slot : fresh(a.alert_id, a);
  if (s.suppressed())
    throw discipline_error(409, "alert " + std::to_string(a.alert_id) + " is suppressed by maintenance window " +
                                    std::to_string(*s.window_id) + ": nothing to shelve");
  if (s.shelved())
    throw discipline_error(409, "alert " + std::to_string(a.alert_id) + " is already shelved until " +
                                    proto::format_timestamp(*s.shelved_until));
  const auto now = d.clock_.now();
  s.shelved_until = now + std::chrono::seconds(duration_s);
  s.shelved_by = by;
  s.shelve_note = note;
  s.unshelved.reset();
  d.save(s);
  ++d.n_.shelved;
  return s;
}

std::optional<alert_state> discipline::state_of(std::uint64_t alert_id) const {
  std::lock_guard lock(impl_->mutex_);
  auto& d = *impl_;
  const auto it = d.cache_.find(alert_id);
  auto s = it != d.cache_.end() ? it->second : d.load(alert_id);
  if (s && s->group_id) s->group = d.group(*s->group_id);
  return s;
}

bool discipline::quiet(std::uint64_t alert_id) const {
  std::lock_guard lock(impl_->mutex_);
  const auto it = impl_->cache_.find(alert_id);
  const auto s = it != impl_->cache_.end() ? it->second : impl_->load(alert_id);
  return s && (s->suppressed() || s->shelved());
}

bool discipline::suppressed(std::uint64_t alert_id) const {
  std::lock_guard lock(impl_->mutex_);
  const auto it = impl_->cache_.find(alert_id);
  const auto s = it != impl_->cache_.end() ? it->second : impl_->load(alert_id);
  return s && s->suppressed();
}

proto::timestamp discipline::now() const noexcept { return impl_->clock_.now(); }

discipline::counts discipline::counters() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->n_;
}

}  // namespace sewage::gateway::alarms
