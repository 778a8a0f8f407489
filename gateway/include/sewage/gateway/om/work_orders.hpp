#pragma once
/// \file
/// Work orders (issue 12 item 1; gateway/README.md "Work orders"): a fault found by an alert, an
/// inspection, a complaint or by hand becomes an order for the site's O&M contractor, with a due
/// time from its severity, and goes open -> dispatched -> on_site -> fixed -> verified, or back
/// from fixed/verified to reopened (then dispatched again). Every change is a work_order_events
/// row and an audit row (auth::service::audit: who, when, where, note).
///
/// Who may do what (refusal() is the single place; README's table is generated from the same rules):
///  - create, dispatch (assign), verify, reopen: operator or admin whose town scope holds the
///    site's town (whole county included); the gateway itself (actor_kind::system) creates.
///  - on_site: an account of role contractor of the order's contractor, with a check-in at the
///    site by its contractor made at or after the dispatch.
///  - fixed: the same contractor, from on_site, with cause and parts_used and at least one photo
///    of the order taken (EXIF time, else upload time) at or after that check-in.
///  - viewer (and contractors for other actions / other contractors' orders): read only.
///
/// Kept in the room's store (om/work_order_db.hpp: the SQLite file, schema v9, sqlite_store.cpp
/// migration_v9_work_orders; or the shared PostgreSQL database, schema v7, with store.backend =
/// "postgresql") through a connection of its own, like auth::service. Thread-safety: every member
/// may be called from any thread (one mutex around the connection).

#include "sewage/gateway/auth/identity.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/om/settings.hpp"
#include "sewage/gateway/severity.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::auth {
class service;
}
namespace sewage::gateway {
class store;
}

namespace sewage::gateway::om {

class work_order_db;

/// A refused request: `status` is the HTTP answer (400 bad field, 403 role/scope, 404 unknown,
/// 409 wrong state or missing evidence, 413 too large); the message names the field and the reason.
class om_error : public std::runtime_error {
 public:
  om_error(unsigned status, std::string code, const std::string& what)
      : std::runtime_error(what), status_(status), code_(std::move(code)) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }
  [[nodiscard]] const std::string& code() const noexcept { return code_; }

 private:
  unsigned status_;
  std::string code_;
};

/// What the orders need to know of a site (registry terminal today; pump stations later).
struct site_ref {
  std::string id;
  std::string town;
  double latitude_deg{0};
  double longitude_deg{0};
};
/// The site of an id, std::nullopt when unknown. Must be thread-safe.
using site_lookup = std::function<std::optional<site_ref>(const std::string& site_id)>;

/// The contractor serving a site: the one whose `sites` names it, else the one whose `towns` holds
/// its town, else "" (load_config refuses two for one site or town). Never throws.
std::string contractor_of(const settings& s, const std::string& site_id, const std::string& town);

enum class order_state { open, dispatched, on_site, fixed, verified, reopened };
std::string_view to_string(order_state s) noexcept;
std::optional<order_state> parse_order_state(std::string_view s) noexcept;

/// A state change asked for.
enum class order_action { dispatch, on_site, fixed, verify, reopen };
std::string_view to_string(order_action a) noexcept;
std::optional<order_action> parse_order_action(std::string_view s) noexcept;

/// Where an order came from ("alert", "incident", "inspection", "complaint", "manual").
bool valid_source(std::string_view s) noexcept;

/// om::work_orders::create's argument.
struct new_work_order {
  std::string site_id;
  std::string source{"manual"};  ///< valid_source
  std::string source_ref;        ///< alert id, inspection finding id, ...; "" when none
  std::string fault_type;        ///< alert type or a free word ("blocked_pipe"); 1..64 bytes
  severity sev{severity::warning};
  std::string title;             ///< 1..200 bytes
  std::string description;       ///< 0..4000 bytes
  std::string reporter_phone;    ///< complaints: optional, 0..32 bytes of digits + - space
  std::string contractor;        ///< "" = contractor_of(site)
};

struct work_order {
  std::int64_t id{0};
  std::string site_id, town, source, source_ref, fault_type;
  severity sev{severity::warning};
  std::string title, description, contractor;
  order_state state{order_state::open};
  std::int64_t created_ms{0};
  std::optional<std::int64_t> dispatched_ms, on_site_ms, fixed_ms, verified_ms;
  std::int64_t due_ms{0};
  std::int64_t reopen_count{0};
  std::string cause, parts_used, created_by, reporter_phone;
  int escalated_level{0};  ///< 0 none, 1 town, 2 county (overdue escalation sent)
  friend bool operator==(const work_order&, const work_order&) = default;
};

struct order_event {
  std::int64_t id{0}, order_id{0}, ts_ms{0};
  std::string actor, from_state, to_state;
  std::optional<double> lat, lon;
  std::string note;
  friend bool operator==(const order_event&, const order_event&) = default;
};

struct checkin {
  std::int64_t id{0};
  std::string site_id;
  std::optional<std::int64_t> order_id, inspection_id;
  std::string actor, contractor;
  std::int64_t ts_ms{0};
  double lat{0}, lon{0};
  std::optional<double> accuracy_m;
  double distance_m{0};
  friend bool operator==(const checkin&, const checkin&) = default;
};

struct photo {
  std::int64_t id{0};
  std::optional<std::int64_t> order_id, inspection_id;
  std::string site_id, path, sha256;
  std::int64_t bytes{0};
  std::string content_type;
  std::int64_t taken_ms{0};
  std::string taken_source;  ///< "exif" or "upload"
  std::int64_t uploaded_ms{0};
  std::optional<double> lat, lon;
  std::string position_source;  ///< "exif", "phone" or "" (none)
  std::string actor;
  friend bool operator==(const photo&, const photo&) = default;
};

/// A transition's facts from the caller.
struct transition_args {
  std::string note;                 ///< 0..2000 bytes; reopen needs one (why)
  std::optional<double> lat, lon;   ///< where the caller was (phone), WGS84 degrees
  std::string contractor;           ///< dispatch: assign to this contractor ("" = the order's / the site's)
  std::string cause, parts_used;    ///< fixed: required, 1..2000 bytes each
};

struct order_query {
  std::optional<order_state> state;
  std::optional<std::string> site, contractor, town;
  std::optional<std::int64_t> before_id;  ///< paging, newest first
  std::size_t limit{100};
};

/// One group of figures.
struct figure_row {
  std::string key;               ///< contractor, town or fault type
  std::int64_t orders{0};        ///< orders created in the period
  std::int64_t dispatched{0};
  std::optional<double> mean_time_to_dispatch_h;  ///< created -> dispatched, mean over dispatched orders
  std::int64_t fixed{0};
  std::optional<double> mean_time_to_fix_h;       ///< created -> (first) fixed, mean over fixed orders
  std::int64_t closed{0};        ///< verified
  std::int64_t on_time{0};       ///< fixed at or before due
  std::optional<double> on_time_rate;  ///< on_time / fixed
  std::int64_t reopened{0};      ///< orders reopened at least once
  std::optional<double> reopen_rate;   ///< reopened / fixed
};

/// One overdue escalation of a work order, as judge() hands it to the sink.
struct order_escalation {
  std::string level;      ///< "town" (past due) or "county" (escalate_county_after_h later)
  std::string site_id, town;
  std::int64_t order_id{0};
  std::int64_t due_ms{0};  ///< when the order was due, ms since the Unix epoch (UTC)
  std::string text_en;     ///< one line, e.g. "work order 7 (no_flow, site T1, contractor c) is dispatched and 2.0 h past due"
  std::string text_zh;     ///< the same in Chinese
};

/// Overdue escalation sink: the gateway passes it to notify::notifier::enqueue_escalation; tests
/// use a fake. Called after the escalation level is committed (at most once per order and level).
using escalation_sink = std::function<void(const order_escalation&)>;

/// A raised alert as the auto-creation policy sees it.
struct alert_seen {
  std::int64_t alert_id{0};
  std::string site_id, type;
  severity sev{severity::warning};
  std::int64_t raised_ms{0};
  friend bool operator==(const alert_seen&, const alert_seen&) = default;
};

/// Where judge() reads the alert episodes to offer to the auto-creation policies: every episode
/// committed in the gateway's store and not cleared. Called on the thread judge() runs on.
using open_alert_source = std::function<std::vector<alert_seen>()>;

/// Every alert episode committed in `db` and not cleared (raised or acknowledged), oldest first,
/// as the policies see it (severity of its type, severity.hpp alert_severity); read in pages of
/// 1,000 (store::find_alerts), whatever store.backend is. Call it on the thread that uses `db`
/// (store.hpp: not thread-safe). Throws what the store throws (store_error).
std::vector<alert_seen> committed_open_alerts(store& db);

/// Inputs of refusal(): the order (nullopt for create), the site's town, the action.
/// Returns why `who` may not do `a` on `o` (HTTP status + message), std::nullopt when allowed
/// (evidence such as check-ins and photos is checked by transition(), not here). Never throws.
std::optional<std::pair<unsigned, std::string>> refusal(const work_order* o, std::optional<order_action> a,
                                                        const auth::principal& who, const std::string& site_town);

/// True when `who` may see orders, check-ins and photos of a site in `town` served by `contractor`.
bool may_see(const auth::principal& who, const std::string& town, const std::string& site_contractor);

class work_orders {
 public:
  /// Opens `db_path` (migrated to schema v9 or later by sqlite_store). `audit` may be null (no
  /// audit rows: tests of the state machine alone). Throws std::runtime_error naming the path.
  work_orders(const std::filesystem::path& db_path, settings s, const clock_source& clock, site_lookup sites,
              auth::service* audit);
  /// Keeps the rows in `db` (work_order_db.hpp: open_work_order_db for the configured backend;
  /// fenced by the caller when it leads a standby pair). Throws std::invalid_argument when `db`
  /// is null.
  work_orders(std::unique_ptr<work_order_db> db, settings s, const clock_source& clock, site_lookup sites,
              auth::service* audit);
  ~work_orders();
  work_orders(const work_orders&) = delete;
  work_orders& operator=(const work_orders&) = delete;

  /// Creates an order in state open, due at now + due_h(severity); returns its id. Errors
  /// (om_error): unknown site 404, bad field 400 (naming it), role/scope 403.
  std::int64_t create(const new_work_order& o, const auth::principal& by);
  /// Performs `a` on order `id`; returns the changed order. Errors: unknown 404, role/scope 403,
  /// wrong state or missing evidence (check-in, photo, cause) 409, bad field 400.
  work_order transition(std::int64_t id, order_action a, const auth::principal& who, const transition_args& args);

  [[nodiscard]] std::optional<work_order> get(std::int64_t id);
  /// Orders matching `q` that `who` may see, newest first.
  [[nodiscard]] std::vector<work_order> list(const order_query& q, const auth::principal& who);
  /// Every order due in [from_ms, to_ms) (ms since the Unix epoch), whoever may see it, by id
  /// (the contractor assessment, om/assessment.hpp). Throws what the room's store throws.
  [[nodiscard]] std::vector<work_order> due_between(std::int64_t from_ms, std::int64_t to_ms);
  [[nodiscard]] std::vector<order_event> events(std::int64_t order_id);
  [[nodiscard]] std::vector<checkin> checkins_of(std::int64_t order_id);
  [[nodiscard]] std::vector<photo> photos_of(std::int64_t order_id);
  [[nodiscard]] std::optional<photo> photo_by_id(std::int64_t id);
  /// Check-in `id` (an inspection starts from one, om/inspections.hpp), std::nullopt when
  /// unknown. Throws what the room's store throws.
  [[nodiscard]] std::optional<checkin> checkin_by_id(std::int64_t id);
  /// Records that check-in `checkin_id` started inspection `inspection_id` (nothing when the
  /// check-in is unknown); one write transaction of the room's store, fenced as the others.
  void link_inspection(std::int64_t checkin_id, std::int64_t inspection_id);

  /// Records a check-in already judged (om/checkin.hpp does the token and distance checks);
  /// returns its id. Audit `checkin`.
  std::int64_t add_checkin(const checkin& c, const auth::principal& who);
  /// Stores a photo of order `order_id` (bytes of a JPEG or PNG) under settings::photo_dir and
  /// its metadata; returns its id. `phone_lat/lon` are used when the image has no EXIF GPS.
  /// Errors: too large 413, not an image 400, scope 403, unknown order 404, state not
  /// dispatched/on_site/fixed 409.
  std::int64_t add_photo(std::int64_t order_id, std::string_view bytes, std::string_view content_type,
                         std::optional<double> phone_lat, std::optional<double> phone_lon, const auth::principal& who);

  /// Figures of orders created in [from_ms, to_ms), grouped by "contractor", "town" or
  /// "fault_type"; limited to what `who` may see. 400 for another `by`.
  [[nodiscard]] std::vector<figure_row> figures(std::int64_t from_ms, std::int64_t to_ms, const std::string& by,
                                                const auth::principal& who);

  /// Sets judge()'s source of committed open alerts (the gateway: committed_open_alerts of its
  /// store, SQLite or PostgreSQL). Without one judge() sees only what alert_raised() and
  /// alert_cleared() told it. Call it before the first judge(), not concurrently with it.
  void set_alert_source(open_alert_source source);
  /// Auto-creation: remembers a raised alert (exactly once per alert id; durable) so that
  /// judge() can open its order after the policy's min_duration_s. No-op when no policy matches.
  void alert_raised(const alert_seen& a);
  /// The alert cleared: a pending auto-creation for it is dropped (durable).
  void alert_cleared(std::int64_t alert_id);
  /// Opens orders for remembered alerts whose policy duration has passed (at most one order per
  /// alert, also across restarts: unique (source, source_ref)), and escalates overdue orders once
  /// per level through `sink` (town when past due, county escalate_county_after_h later). With an
  /// alert source (set_alert_source) and at least one policy it first remembers every open alert
  /// it lists (each once while it stays open) and drops the pending ones it no longer lists
  /// (cleared); a source that throws is logged and skipped this time (nothing dropped), the
  /// escalation runs all the same; so does an alert whose order cannot be written (logged, tried
  /// again at the next check). Returns how many orders were created plus escalations sent.
  /// Throws what this room's own database throws otherwise (store_fenced always). Not
  /// concurrently with itself.
  std::size_t judge(const escalation_sink& sink);

  [[nodiscard]] const settings& config() const noexcept { return settings_; }

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  settings settings_;
};

}  // namespace sewage::gateway::om
