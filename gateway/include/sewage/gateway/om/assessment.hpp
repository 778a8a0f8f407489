#pragma once
/// \file
/// Contractor assessment (issue 12 item 8; gateway/README.md "Contractor assessment"): a monthly
/// score per contractor or per town, 100 points minus deductions of five parts weighted by
/// `[om.assessment]` (om/inspections_settings.hpp):
///   on_time       work orders due in the month (due_ms in [from, to)) fixed by their due time;
///                 an order not fixed and past due is late; one not yet due is not counted.
///   reopen        of the orders due in the month that were fixed at least once, the share reopened.
///   inspection    plan due dates in the month answered on time (om/inspections.hpp occurrence);
///                 late, missed and overdue ones are failures; pending ones are not counted.
///   availability  records received / expected over the group's sites (monthly report, report.hpp).
///   lab           compliant samples taken in the month / all judged samples, a sample being one
///                 site's results taken at one time, compliant when every judged result is (the same
///                 figure as om::lab::compliance; a result without a limit, compliant NULL, is not
///                 counted; a sample without any judged result is not counted).
/// A part's deduction: on_time, inspection, availability, lab lose weight x min(1, (target - rate)
/// / target) below their target; reopen loses weight x min(1, reopen_rate / reopen_rate_full_deduction).
/// A part without data in the month (no order due, no sample, ...) deducts nothing and says so
/// (`rate` null, `no_data` true), and a part whose source is not installed says `unavailable`.
/// Every deduction lists its evidence: the failing work order ids, inspection ids or missed due
/// dates, lab result ids, and per-site availability below target.
///
/// assess() is a pure function of its input (unit-tested on fixed data); load_assessment_input()
/// fills the input from the store. Thread-safety: pure functions; the loader opens its own
/// read-only connection per call.

#include "sewage/gateway/om/inspections.hpp"
#include "sewage/gateway/om/inspections_settings.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway::om {

class work_orders;

/// A site and who answers for it.
struct assessed_site {
  std::string site_id;
  std::string town;
  std::string contractor;
};

/// A work order as the assessment reads it (table work_orders of branch i12-wo).
struct assessed_order {
  std::int64_t id{0};
  std::string site_id;
  std::int64_t due_ms{0};
  std::optional<std::int64_t> fixed_ms;  ///< first/last fix; null when never fixed
  std::uint32_t reopen_count{0};
};

/// Availability of one site in the month (report.hpp terminal_report figures).
struct assessed_availability {
  std::string site_id;
  double records{0};           ///< accepted records
  double expected_records{0};  ///< expected at the site's report interval
};

/// A judged lab result (table lab_results, om/lab.hpp).
struct assessed_lab_result {
  std::int64_t id{0};
  std::string site_id;
  std::string parameter;
  bool compliant{true};
  std::int64_t sampled_ms{0};  ///< results of one site with the same time form one sample
};

struct assessment_input {
  std::string month;             ///< "YYYY-MM"
  std::int64_t from_ms{0};       ///< start of the month (county zone), UTC ms
  std::int64_t to_ms{0};         ///< start of the next month, exclusive
  std::int64_t now_ms{0};        ///< when judged
  std::vector<assessed_site> sites;
  std::vector<assessed_order> orders;            ///< any; those due in [from, to) count
  std::vector<occurrence> inspections;           ///< due dates in [from, to)
  std::vector<assessed_availability> availability;
  std::vector<assessed_lab_result> lab;          ///< sampled in [from, to)
  /// Sources not installed in this gateway (their parts say `unavailable`, deduct nothing).
  bool orders_available{true};
  bool lab_available{true};
};

/// One piece of evidence of a deduction.
struct evidence {
  std::string kind;  ///< "work_order", "inspection", "missed_inspection", "lab_result", "availability"
  std::optional<std::int64_t> id;  ///< the work order, inspection or lab result id
  std::string site_id;
  std::string detail;  ///< "late", "not fixed, past due", "reopened 2x", "missed", "overdue", "cod not compliant", ...
  std::optional<std::int64_t> due_ms;  ///< inspections: the due date
  std::optional<double> value;         ///< availability: the site's rate (0..1)
};

struct part_score {
  assessment_part part{assessment_part::on_time};
  double weight{0};
  double target{0};  ///< reopen: reopen_rate_full_deduction
  std::uint64_t counted{0};  ///< orders / due dates / samples counted; availability: sites
  std::uint64_t failed{0};   ///< late orders, reopened orders, failed due dates, non-compliant samples, sites below target
  std::optional<double> rate;  ///< on_time/inspection/lab/availability: good share; reopen: reopened share
  double deduction{0};         ///< points lost, 0..weight
  bool no_data{false};
  bool unavailable{false};
  std::vector<evidence> items;
};

struct group_score {
  std::string key;  ///< contractor name ("" = sites without a contractor) or town
  std::size_t sites{0};
  double score{100};  ///< 100 - sum of deductions
  std::array<part_score, 5> parts{};  ///< index = assessment_part
};

struct assessment {
  std::string month;
  bool by_contractor{true};
  std::int64_t from_ms{0}, to_ms{0}, generated_ms{0};
  std::vector<group_score> groups;  ///< by key (byte order)
};

/// Scores every group of `in.sites` (by contractor or by town). Pure; never throws except bad_alloc.
assessment assess(const assessment_input& in, const assessment_settings& s, bool by_contractor);

/// JSON of GET /api/assessment (gateway/README.md): rates and points rounded to 0.001, times ISO 8601.
std::string assessment_json(const assessment& a);
/// CSV: one line per group and part (group, part, weight, target, counted, failed, rate,
/// deduction, score, evidence as "kind:id@site detail" joined by "; "), cells made safe for
/// spreadsheets (report.hpp csv_field/safe cells).
std::string assessment_csv(const assessment& a);

/// Reads work orders (when table work_orders exists) and lab results (when lab_results exists)
/// of `sites` from the database at `db`, read-only; availability and inspections are the caller's
/// (report.hpp, inspections::occurrences). Throws std::runtime_error naming the path.
void load_orders_and_lab(const std::filesystem::path& db, assessment_input& in);
/// Replaces `in.orders` with the orders of `in.sites` due in [in.from_ms, in.to_ms) from the work
/// orders room `orders` (whatever its backend), by id, and sets orders_available. Throws what the
/// room's store throws.
void load_orders(work_orders& orders, assessment_input& in);

}  // namespace sewage::gateway::om
