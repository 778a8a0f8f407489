// Inspections (om/inspections.hpp): plan, start by check-in, checklist completion, findings ->
// work orders, due-date occurrences. SQL through the SQLite C API on a connection of its own.
#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/om/work_orders.hpp"

#include "detail/sqlite_stmt.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

namespace sewage::gateway::om {

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::size_t max_note_bytes = 1000;

/// A prepared statement of the inspections connection.
class query : public gateway::detail::sqlite_stmt {
 public:
  query(sqlite3* db, const char* sql) : gateway::detail::sqlite_stmt(db, sql, "inspections store") {}
};

constexpr const char* inspection_columns =
    "SELECT id, site_id, kind, town, contractor, state, checkin_id, due_ms, started_ms, completed_ms, started_by, "
    "completed_by, note FROM inspections ";

inspection inspection_of(query& q) {
  inspection i;
  i.id = q.i64(0);
  i.site_id = q.text(1);
  i.kind = q.text(2);
  i.town = q.text(3);
  i.contractor = q.text(4);
  i.state = q.text(5);
  i.checkin_id = q.opt_i64(6);
  i.due_ms = q.i64(7);
  i.started_ms = q.i64(8);
  i.completed_ms = q.opt_i64(9);
  i.started_by = q.text(10);
  i.completed_by = q.text(11);
  i.note = q.text(12);
  return i;
}

}  // namespace

std::string_view to_string(item_result r) noexcept {
  switch (r) {
    case item_result::ok: return "ok";
    case item_result::not_ok: return "not_ok";
    case item_result::na: return "na";
  }
  return "na";
}

std::optional<item_result> parse_item_result(std::string_view s) noexcept {
  if (s == "ok") return item_result::ok;
  if (s == "not_ok") return item_result::not_ok;
  if (s == "na") return item_result::na;
  return std::nullopt;
}

std::string_view to_string(occurrence::status s) noexcept {
  switch (s) {
    case occurrence::status::on_time: return "on_time";
    case occurrence::status::late: return "late";
    case occurrence::status::missed: return "missed";
    case occurrence::status::overdue: return "overdue";
    case occurrence::status::pending: return "pending";
  }
  return "pending";
}

std::optional<double> inspection_figures::completion_rate() const noexcept {
  if (judged() == 0) return std::nullopt;
  return static_cast<double>(on_time + late) / static_cast<double>(judged());
}

std::optional<double> inspection_figures::on_time_rate() const noexcept {
  if (judged() == 0) return std::nullopt;
  return static_cast<double>(on_time) / static_cast<double>(judged());
}

std::vector<inspection_figures> figures_of(const std::vector<occurrence>& occ, bool by_contractor) {
  std::map<std::string, inspection_figures> by;
  for (const auto& o : occ) {
    const auto& key = by_contractor ? o.contractor : o.town;
    auto& f = by[key];
    f.key = key;
    switch (o.state) {
      case occurrence::status::on_time: ++f.on_time; break;
      case occurrence::status::late: ++f.late; break;
      case occurrence::status::missed: ++f.missed; break;
      case occurrence::status::overdue: ++f.overdue; break;
      case occurrence::status::pending: ++f.pending; break;
    }
  }
  std::vector<inspection_figures> out;
  for (auto& [k, f] : by) out.push_back(std::move(f));
  return out;
}

std::vector<occurrence> walk_plan(const plan_site& site, std::int64_t interval_ms,
                                  const std::vector<std::pair<std::int64_t, std::int64_t>>& completions,
                                  std::int64_t from_ms, std::int64_t to_ms, std::int64_t now_ms) {
  std::vector<occurrence> out;
  if (interval_ms <= 0) return out;
  std::size_t i = 0;
  std::int64_t due = site.since_ms + interval_ms;
  while (due < to_ms) {
    occurrence o;
    o.site_id = site.site_id;
    o.town = site.town;
    o.contractor = site.contractor;
    o.due_ms = due;
    std::int64_t next = 0;
    bool stop = false;
    if (i < completions.size() && completions[i].first <= due) {
      while (i < completions.size() && completions[i].first <= due) ++i;  // the last one before due anchors
      o.state = occurrence::status::on_time;
      o.completed_ms = completions[i - 1].first;
      o.inspection_id = completions[i - 1].second;
      next = *o.completed_ms + interval_ms;
    } else if (i < completions.size() && completions[i].first < due + interval_ms) {
      o.state = occurrence::status::late;
      o.completed_ms = completions[i].first;
      o.inspection_id = completions[i].second;
      next = *o.completed_ms + interval_ms;
      ++i;
    } else if (now_ms <= due) {
      o.state = occurrence::status::pending;
      stop = true;  // what follows depends on when it is done
    } else if (now_ms < due + interval_ms) {
      o.state = occurrence::status::overdue;
      stop = true;
    } else {
      o.state = occurrence::status::missed;
      next = due + interval_ms;
    }
    if (due >= from_ms) out.push_back(std::move(o));
    if (stop) break;
    due = next;
  }
  return out;
}

class inspections::impl {
 public:
  explicit impl(const std::filesystem::path& path)
      : db_(gateway::detail::open_room(path.string(), "'inspections','inspection_items','inspection_plan'", 3, "inspection")) {}
  ~impl() { sqlite3_close(db_); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err != nullptr ? err : "unknown";
      sqlite3_free(err);
      throw std::runtime_error(std::string("inspections store: ") + msg);
    }
  }

  /// (completed_ms, id) of the site's completed inspections, oldest first.
  std::vector<std::pair<std::int64_t, std::int64_t>> completions(const std::string& site) {
    query q(db_, "SELECT completed_ms, id FROM inspections WHERE site_id = ?1 AND state = 'completed' ORDER BY completed_ms, id");
    q.bind(1, site);
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    while (q.step()) out.emplace_back(q.i64(0), q.i64(1));
    return out;
  }

  void load_items(inspection& i) {
    query q(db_, "SELECT item, label, result, note, work_order_id FROM inspection_items WHERE inspection_id = ?1 ORDER BY position");
    q.bind(1, i.id);
    while (q.step()) {
      inspection_item it;
      it.key = q.text(0);
      it.label = q.text(1);
      it.result = parse_item_result(q.text(2)).value_or(item_result::na);
      it.note = q.text(3);
      it.work_order_id = q.opt_i64(4);
      i.items.push_back(std::move(it));
    }
  }

  std::optional<inspection> get(std::int64_t id) {
    query q(db_, (std::string(inspection_columns) + "WHERE id = ?1").c_str());
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    auto i = inspection_of(q);
    load_items(i);
    return i;
  }

  sqlite3* db_{nullptr};
  std::mutex mutex_;
};

void inspections::set_checkins(checkin_book book) { checkins_ = std::move(book); }

checkin_book checkins_in(work_orders& orders) {
  return {[&orders](std::int64_t id) -> std::optional<checkin_fact> {
            const auto k = orders.checkin_by_id(id);
            if (!k) return std::nullopt;
            return checkin_fact{k->site_id, k->actor, k->ts_ms, k->inspection_id};
          },
          [&orders](std::int64_t checkin, std::int64_t inspection) { orders.link_inspection(checkin, inspection); }};
}

inspections::inspections(const std::filesystem::path& db_path, inspection_settings s)
    : impl_(std::make_unique<impl>(db_path)), settings_(std::move(s)), path_(db_path) {
  query q(impl_->db_, "SELECT min(started_ms) FROM inspection_plan");
  if (q.step()) plan_started_ms_ = q.i64(0);
}

inspections::~inspections() = default;

std::vector<plan_row> inspections::plan(const std::vector<plan_site>& sites, std::int64_t now_ms) {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<plan_row> out;
  out.reserve(sites.size());
  for (const auto& s : sites) {
    plan_row r;
    r.site = s;
    r.size = size_class_of(s.design_capacity_m3d, settings_.size_class_limits_m3d);
    r.interval_days = settings_.interval_days(r.size);
    {
      query q(impl_->db_,
              "SELECT id, completed_ms FROM inspections WHERE site_id = ?1 AND state = 'completed' "
              "ORDER BY completed_ms DESC, id DESC LIMIT 1");
      q.bind(1, s.site_id);
      if (q.step()) {
        r.last_inspection_id = q.i64(0);
        r.last_completed_ms = q.i64(1);
      }
    }
    {
      query q(impl_->db_, "SELECT id FROM inspections WHERE site_id = ?1 AND state = 'started'");
      q.bind(1, s.site_id);
      if (q.step()) r.open_inspection_id = q.i64(0);
    }
    r.next_due_ms = r.last_completed_ms.value_or(s.since_ms) + static_cast<std::int64_t>(r.interval_days) * day_ms;
    r.late = now_ms > r.next_due_ms;
    r.days_late = r.late ? (now_ms - r.next_due_ms) / day_ms : 0;
    out.push_back(std::move(r));
  }
  return out;
}

std::int64_t inspections::start(const plan_site& site, std::int64_t checkin_id, const auth::principal& by,
                                std::int64_t now_ms) {
  if (settings_.checklists.find(site.kind) == settings_.checklists.end())
    throw inspection_error(400, "site_id: no checklist for site kind '" + site.kind + "' ([om.inspections.checklist])");
  const bool booked = checkins_.find && checkins_.link;
  std::optional<checkin_fact> proof;
  if (booked) proof = checkins_.find(checkin_id);  // the work orders room: its own lock, taken first
  const std::lock_guard lock(impl_->mutex_);
  auto& db = impl_->db_;
  if (!booked) {
    query t(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='checkins'");
    if (!t.step() || t.i64(0) != 1)
      throw inspection_error(409, "checkin_id: this gateway has no check-ins yet (work orders part not installed)");
    query q(db, "SELECT site_id, actor, ts_ms FROM checkins WHERE id = ?1");
    q.bind(1, checkin_id);
    if (q.step()) proof = checkin_fact{q.text(0), q.text(1), q.i64(2), std::nullopt};
  }
  if (!proof) throw inspection_error(404, "checkin_id: no check-in " + std::to_string(checkin_id));
  if (proof->site_id != site.site_id)
    throw inspection_error(409, "checkin_id: check-in " + std::to_string(checkin_id) + " was made at another site");
  if (proof->actor != by.name)
    throw inspection_error(409, "checkin_id: check-in " + std::to_string(checkin_id) + " was made by someone else");
  if (now_ms - proof->ts_ms > checkin_max_age_ms || proof->ts_ms > now_ms + 60'000)
    throw inspection_error(409, "checkin_id: check-in " + std::to_string(checkin_id) +
                                    " is older than 2 h: check in at the site again");
  if (proof->inspection_id)  // the shared check-ins: started here or on the other gateway of a pair
    throw inspection_error(409, "checkin_id: check-in " + std::to_string(checkin_id) + " already started inspection " +
                                    std::to_string(*proof->inspection_id));
  {
    query q(db, "SELECT id FROM inspections WHERE checkin_id = ?1");
    q.bind(1, checkin_id);
    if (q.step())
      throw inspection_error(409, "checkin_id: check-in " + std::to_string(checkin_id) + " already started inspection " +
                                      std::to_string(q.i64(0)));
  }
  {
    query q(db, "SELECT id FROM inspections WHERE site_id = ?1 AND state = 'started'");
    q.bind(1, site.site_id);
    if (q.step())
      throw inspection_error(409, "site_id: inspection " + std::to_string(q.i64(0)) + " of this site is already started");
  }
  // The due time it answers: the plan's next due date now.
  std::int64_t last = site.since_ms;
  {
    query q(db, "SELECT max(completed_ms) FROM inspections WHERE site_id = ?1 AND state = 'completed'");
    q.bind(1, site.site_id);
    if (q.step() && q.opt_i64(0)) last = *q.opt_i64(0);
  }
  const auto interval = static_cast<std::int64_t>(
      settings_.interval_days(size_class_of(site.design_capacity_m3d, settings_.size_class_limits_m3d)));
  impl_->exec("BEGIN IMMEDIATE");
  try {
    query ins(db,
              "INSERT INTO inspections(site_id, kind, town, contractor, state, checkin_id, due_ms, started_ms, started_by) "
              "VALUES(?1, ?2, ?3, ?4, 'started', ?5, ?6, ?7, ?8)");
    ins.bind(1, site.site_id).bind(2, site.kind).bind(3, site.town).bind(4, site.contractor).bind(5, checkin_id);
    ins.bind(6, last + interval * day_ms).bind(7, now_ms).bind(8, by.name);
    ins.step();
    const auto id = sqlite3_last_insert_rowid(db);
    if (!booked) {
      query link(db, "UPDATE checkins SET inspection_id = ?1 WHERE id = ?2");
      link.bind(1, id).bind(2, checkin_id);
      link.step();
    }
    impl_->exec("COMMIT");
    spdlog::info("inspection {} of site {} started by {} (check-in {})", id, site.site_id, by.name, checkin_id);
    if (booked) {
      try {
        checkins_.link(checkin_id, id);
      } catch (const std::exception& e) {
        spdlog::error("inspection {}: check-in {} not linked to it (the inspection names it): {}", id, checkin_id, e.what());
      }
    }
    return id;
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

inspection inspections::complete(std::int64_t id, const std::vector<item_answer>& answers, const std::string& note,
                                 const auth::principal& by, std::int64_t now_ms, const work_order_opener& open) {
  if (note.size() > max_note_bytes) throw inspection_error(400, "note: at most 1000 bytes");
  const std::lock_guard lock(impl_->mutex_);
  auto current = impl_->get(id);
  if (!current) throw inspection_error(404, "no inspection " + std::to_string(id));
  if (current->state != "started")
    throw inspection_error(409, "inspection " + std::to_string(id) + " is already completed");
  if (current->started_by != by.name)
    throw inspection_error(409, "inspection " + std::to_string(id) + " was started by another person: only they complete it");
  const auto list = settings_.checklists.find(current->kind);
  if (list == settings_.checklists.end())
    throw inspection_error(400, "no checklist for site kind '" + current->kind + "' any more ([om.inspections.checklist])");
  // Every item exactly once, nothing else: checked before anything is written or opened.
  std::map<std::string, const item_answer*, std::less<>> by_key;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    const std::string at = "items[" + std::to_string(i) + "]";
    const bool known = std::any_of(list->second.begin(), list->second.end(), [&](const auto& c) { return c.key == a.key; });
    if (!known) throw inspection_error(400, at + ".key: not an item of the " + current->kind + " checklist");
    if (!by_key.emplace(a.key, &a).second) throw inspection_error(400, at + ".key: '" + a.key + "' answered twice");
    if (a.note.size() > max_note_bytes) throw inspection_error(400, at + ".note: at most 1000 bytes");
    if (a.result == item_result::not_ok && a.note.empty())
      throw inspection_error(400, at + ".note: required for a not_ok answer (what was found)");
  }
  for (const auto& c : list->second)
    if (by_key.find(c.key) == by_key.end()) throw inspection_error(400, "items: '" + c.key + "' not answered");

  inspection done = *current;
  for (const auto& c : list->second) {
    const auto& a = *by_key.at(c.key);
    inspection_item it{c.key, c.label, a.result, a.note, std::nullopt};
    if (a.result == item_result::not_ok) {
      finding f{id, current->site_id, current->town, current->contractor, c, a.note};
      it.work_order_id = open(f, by);
    }
    done.items.push_back(std::move(it));
  }
  auto& db = impl_->db_;
  impl_->exec("BEGIN IMMEDIATE");
  try {
    query up(db,
             "UPDATE inspections SET state = 'completed', completed_ms = ?1, completed_by = ?2, note = ?3 "
             "WHERE id = ?4 AND state = 'started'");
    up.bind(1, now_ms).bind(2, by.name).bind(3, note).bind(4, id);
    up.step();
    int pos = 0;
    for (const auto& it : done.items) {
      query ins(db,
                "INSERT INTO inspection_items(inspection_id, position, item, label, result, note, work_order_id) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      ins.bind(1, id).bind(2, pos++).bind(3, it.key).bind(4, it.label).bind(5, std::string(to_string(it.result)));
      ins.bind(6, it.note).bind(7, it.work_order_id);
      ins.step();
    }
    impl_->exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  done.state = "completed";
  done.completed_ms = now_ms;
  done.completed_by = by.name;
  done.note = note;
  spdlog::info("inspection {} of site {} completed by {}: {} finding(s)", id, done.site_id, by.name,
               std::count_if(done.items.begin(), done.items.end(), [](const auto& i) { return i.work_order_id.has_value(); }));
  return done;
}

std::optional<inspection> inspections::get(std::int64_t id) {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->get(id);
}

std::vector<inspection> inspections::list(const std::vector<std::string>& site_ids, std::size_t limit) {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<inspection> out;
  query q(impl_->db_, (std::string(inspection_columns) + "ORDER BY id DESC").c_str());
  const std::set<std::string, std::less<>> wanted(site_ids.begin(), site_ids.end());
  while (out.size() < limit && q.step()) {
    auto i = inspection_of(q);
    if (!wanted.empty() && wanted.count(i.site_id) == 0) continue;
    out.push_back(std::move(i));
  }
  for (auto& i : out) impl_->load_items(i);
  return out;
}

std::vector<occurrence> inspections::occurrences(const std::vector<plan_site>& sites, std::int64_t from_ms,
                                                 std::int64_t to_ms, std::int64_t now_ms) {
  const std::lock_guard lock(impl_->mutex_);
  std::vector<occurrence> out;
  for (const auto& s : sites) {
    const auto interval = static_cast<std::int64_t>(
                              settings_.interval_days(size_class_of(s.design_capacity_m3d, settings_.size_class_limits_m3d))) *
                          day_ms;
    auto o = walk_plan(s, interval, impl_->completions(s.site_id), from_ms, to_ms, now_ms);
    out.insert(out.end(), std::make_move_iterator(o.begin()), std::make_move_iterator(o.end()));
  }
  return out;
}

}  // namespace sewage::gateway::om
