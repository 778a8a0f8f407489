#pragma once
/// \file
/// Inspections (issue 12 item 2; gateway/README.md "Inspections"): a plan per site (the next due
/// time from the last completed inspection and the interval of the site's size class), inspections
/// started by a check-in at the site, a checklist answered item by item (ok / not_ok / na + note),
/// findings (not_ok items) opening work orders, and figures (completion rate, late inspections)
/// per contractor and per town over a period.
///
/// Kept in the gateway's SQLite store (tables `inspections` and `inspection_items` of
/// sqlite_store.cpp migration_v10_inspections) through a connection of its own, like
/// auth::service. All times are Unix milliseconds (UTC), given by the caller (the gateway clock),
/// so the plan can be judged on a simulated clock.
///
/// Thread-safety: every member may be called from any thread (one mutex around the connection).

#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/om/inspections_settings.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway::om {

/// A site as the plan sees it (a registry terminal today; a pump station with issue 13).
struct plan_site {
  std::string site_id;
  std::string name;
  std::string town;
  std::string kind{"terminal"};   ///< a key of inspection_settings::checklists
  std::string contractor;         ///< the contractor serving it ("" = none configured)
  double design_capacity_m3d{0};  ///< decides the size class, hence the interval
  std::int64_t since_ms{0};       ///< when the site joined the plan (its registration): first due = since + interval
};

/// The plan of one site at `now`.
struct plan_row {
  plan_site site;
  om::facility_size size{facility_size::small};
  std::uint32_t interval_days{0};
  std::optional<std::int64_t> last_completed_ms;  ///< the last completed inspection
  std::optional<std::int64_t> last_inspection_id;
  std::int64_t next_due_ms{0};  ///< last completed (else since_ms) + interval_days x 86 400 000
  bool late{false};             ///< now > next_due_ms
  std::int64_t days_late{0};    ///< whole days (24 h) past next_due_ms; 0 when not late
  std::optional<std::int64_t> open_inspection_id;  ///< a started, not completed inspection
};

enum class item_result { ok, not_ok, na };
/// "ok", "not_ok", "na".
std::string_view to_string(item_result r) noexcept;
/// The result named `s` (exact), else std::nullopt.
std::optional<item_result> parse_item_result(std::string_view s) noexcept;

struct inspection_item {
  std::string key;
  std::string label;
  item_result result{item_result::na};
  std::string note;
  std::optional<std::int64_t> work_order_id;  ///< the order a not_ok answer opened
};

struct inspection {
  std::int64_t id{0};
  std::string site_id;
  std::string kind;
  std::string town;
  std::string contractor;
  std::string state;  ///< "started" | "completed"
  std::optional<std::int64_t> checkin_id;
  std::int64_t due_ms{0};  ///< the plan's due time when it was started
  std::int64_t started_ms{0};
  std::optional<std::int64_t> completed_ms;
  std::string started_by;
  std::string completed_by;
  std::string note;
  std::vector<inspection_item> items;  ///< completed: one per checklist item, in checklist order
};

/// A not_ok answer, handed to the work-order opener.
struct finding {
  std::int64_t inspection_id{0};
  std::string site_id;
  std::string town;
  std::string contractor;
  checklist_item item;
  std::string note;
};

/// Opens the work order of a finding and returns its id (in the gateway: om::work_orders::create
/// with source "inspection", source_ref = "<inspection id>/<item key>"). Throws to refuse; the
/// inspection is then not completed (nothing is stored).
using work_order_opener = std::function<std::int64_t(const finding&, const auth::principal& by)>;

/// A check-in as inspections::start checks it: its site, who made it (account name) and when
/// (ms since the Unix epoch).
struct checkin_fact {
  std::string site_id;
  std::string actor;
  std::int64_t ts_ms{0};
  /// The inspection the check-in already started, as the book knows it (the shared check-ins:
  /// possibly on the other gateway of a standby pair, whose inspections this room's file lacks).
  std::optional<std::int64_t> inspection_id;
};

/// Where inspections::start finds check-ins and records the inspection one started, when they are
/// not in this room's SQLite file (the work orders room on PostgreSQL, om/work_order_db.hpp: in
/// the gateway om::work_orders::checkin_by_id and link_inspection). `find` answers nullopt for an
/// unknown id; both may throw (start() then fails, or logs a failed link).
struct checkin_book {
  std::function<std::optional<checkin_fact>(std::int64_t checkin_id)> find;
  std::function<void(std::int64_t checkin_id, std::int64_t inspection_id)> link;
};

class work_orders;
/// The check-ins of the work orders room `orders` as inspections::set_checkins takes them
/// (work_orders::checkin_by_id and link_inspection); `orders` must outlive the book's use.
checkin_book checkins_in(work_orders& orders);

/// One answer of a completion.
struct item_answer {
  std::string key;
  item_result result{item_result::na};
  std::string note;  ///< up to 1000 bytes
};

/// One due date of a site's plan within a period and what became of it.
struct occurrence {
  std::string site_id;
  std::string town;
  std::string contractor;
  std::int64_t due_ms{0};
  /// on_time: completed at or before due; late: completed after due (within one interval);
  /// missed: nothing completed within one interval after due (the next due date follows);
  /// overdue: due has passed, nothing completed yet (now < due + interval); pending: not due yet.
  enum class status { on_time, late, missed, overdue, pending } state{status::pending};
  std::optional<std::int64_t> inspection_id;  ///< the inspection that answered it (on_time, late)
  std::optional<std::int64_t> completed_ms;
};
std::string_view to_string(occurrence::status s) noexcept;

/// Figures of one group (contractor or town) over a period: due dates in [from, to).
struct inspection_figures {
  std::string key;  ///< contractor name or town
  std::uint64_t on_time{0}, late{0}, missed{0}, overdue{0}, pending{0};
  /// Due dates already judged (on_time + late + missed + overdue).
  [[nodiscard]] std::uint64_t judged() const noexcept { return on_time + late + missed + overdue; }
  /// (on_time + late) / judged; std::nullopt when nothing was judged.
  [[nodiscard]] std::optional<double> completion_rate() const noexcept;
  /// on_time / judged; std::nullopt when nothing was judged.
  [[nodiscard]] std::optional<double> on_time_rate() const noexcept;
  /// late + missed + overdue: the late inspections.
  [[nodiscard]] std::uint64_t late_total() const noexcept { return late + missed + overdue; }
};

/// Groups occurrences by contractor (by_contractor) or by town, in key order.
std::vector<inspection_figures> figures_of(const std::vector<occurrence>& occ, bool by_contractor);

/// Refused input (unknown site or item, wrong state, check-in of another site): `status` is the
/// HTTP status (400, 404, 409); the message names the field.
class inspection_error : public std::runtime_error {
 public:
  inspection_error(unsigned status, const std::string& what) : std::runtime_error(what), status_(status) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }

 private:
  unsigned status_;
};

class inspections {
 public:
  /// Opens `db_path` read-write (migrated to schema v10 or later by sqlite_store first). Throws
  /// std::runtime_error naming the path. `s` is copied.
  inspections(const std::filesystem::path& db_path, inspection_settings s);
  ~inspections();
  inspections(const inspections&) = delete;
  inspections& operator=(const inspections&) = delete;

  [[nodiscard]] const inspection_settings& settings() const noexcept { return settings_; }
  /// When the plan began (the store's migration to schema v10, wall clock), Unix ms: the start
  /// of the plan of a site registered before (engine::registered_at() is the epoch for those).
  [[nodiscard]] std::int64_t plan_started_ms() const noexcept { return plan_started_ms_; }
  /// The database file (the assessment opens its own read connection on it).
  [[nodiscard]] const std::filesystem::path& db_path() const noexcept { return path_; }

  /// The plan of each site at `now_ms`, in the order given. O(sites) indexed queries.
  std::vector<plan_row> plan(const std::vector<plan_site>& sites, std::int64_t now_ms);

  /// Starts an inspection of `site` proven by check-in `checkin_id` (a row of the `checkins`
  /// table of branch i12-wo: same site, made by `by`, at most checkin_max_age_ms before now, not
  /// used by another inspection). Returns the new inspection's id; the check-in row gets it.
  /// Errors (inspection_error): no such check-in (404), check-in of another site / another person
  /// / too old / already used (409), the site already has a started inspection (409), no
  /// checklist for the site's kind (400).
  std::int64_t start(const plan_site& site, std::int64_t checkin_id, const auth::principal& by, std::int64_t now_ms);
  /// Makes start() read check-ins through `book` (both functions set) instead of the `checkins`
  /// table of this room's SQLite file; the check-in's link to its inspection is then written by
  /// `book.link` right after the inspection's commit (a failure there is logged: the inspection
  /// stands, it names its check-in). Call it before the first start(), not concurrently with it.
  void set_checkins(checkin_book book);

  /// Completes inspection `id`: every checklist item of its kind answered exactly once (400
  /// naming `items[i].key` otherwise, before anything is written); then each not_ok answer is a
  /// finding handed to `open` (outside this store's transaction: the work-order store has its own
  /// connection), and the answers with their work order ids are written in one transaction. An
  /// opener that throws leaves the inspection started (orders opened before it stay: each is a
  /// real finding). Errors (inspection_error): unknown id (404), already completed (409), `by` is
  /// not who started it (409: the check-in proved that person's presence), note over 1000 bytes.
  inspection complete(std::int64_t id, const std::vector<item_answer>& answers, const std::string& note,
                      const auth::principal& by, std::int64_t now_ms, const work_order_opener& open);

  /// One inspection with its items, std::nullopt when unknown.
  std::optional<inspection> get(std::int64_t id);
  /// Newest first; `site_ids` empty = all sites; at most `limit` rows.
  std::vector<inspection> list(const std::vector<std::string>& site_ids, std::size_t limit);

  /// Every due date of the sites' plans in [from_ms, to_ms), judged at now_ms (see occurrence).
  std::vector<occurrence> occurrences(const std::vector<plan_site>& sites, std::int64_t from_ms, std::int64_t to_ms,
                                      std::int64_t now_ms);

  /// How old a check-in may be to start an inspection: 2 h (an inspector checks in, then walks
  /// the site; a check-in of yesterday proves nothing about today).
  static constexpr std::int64_t checkin_max_age_ms = 2 * 3600 * 1000;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  inspection_settings settings_;
  std::filesystem::path path_;
  std::int64_t plan_started_ms_{0};
  checkin_book checkins_;  // set_checkins; empty: the SQLite file's table
};

/// The due-date walk of one site (pure; occurrences() uses it): from the first due date
/// (since_ms + interval), each completed inspection at or before a due date answers it on time
/// (the last of several counts, the next due = it + interval); else the first completion within
/// one interval after it answers it late (next due = it + interval); else it is missed (next due
/// = due + interval), or overdue when now < due + interval. Occurrences whose due date is in
/// [from_ms, to_ms) are returned; `completions` are (completed_ms, inspection id) in time order.
std::vector<occurrence> walk_plan(const plan_site& site, std::int64_t interval_ms,
                                  const std::vector<std::pair<std::int64_t, std::int64_t>>& completions,
                                  std::int64_t from_ms, std::int64_t to_ms, std::int64_t now_ms);

}  // namespace sewage::gateway::om
