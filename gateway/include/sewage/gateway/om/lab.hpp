#pragma once
/// \file
/// Lab results (issue 12 item 4): effluent samples analysed by a laboratory, entered by form or
/// CSV import, each result judged when it is stored against its site's discharge grade
/// (om/limits.hpp), and the lab compliance rate of a set of sites over a period. Kept in the
/// store's table `lab_results` (schema migration_v11_archive_lab) through a connection of its own.
///
/// Lab compliance is NOT the turbidity early warning: turbidity is an online proxy read every
/// minute; a lab result is the legal figure. They are reported side by side under separate names
/// (gateway/README.md "Lab results").
///
/// Thread-safety: every member is safe to call from any thread (one mutex around the connection).

#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/om/lab_settings.hpp"
#include "sewage/gateway/om/limits.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::om {

/// One result to store (values already checked: see parse_lab_csv / the form route).
struct lab_result_input {
  std::string site_id;
  std::int64_t sampled_ms{0};  ///< when the sample was taken, ms since the epoch (UTC)
  std::string sampled_by;      ///< who took it (free text, may be empty)
  std::string lab;             ///< the laboratory (free text, may be empty)
  lab_parameter parameter{lab_parameter::cod};
  double value{0};             ///< in canonical_unit(parameter)
  std::string grade;           ///< the site's discharge grade at entry (registry); "" = none
};

/// One stored result with its verdict.
struct lab_result {
  std::int64_t id{0};
  std::string site_id;
  std::int64_t sampled_ms{0};
  std::string sampled_by;
  std::string lab;
  lab_parameter parameter{lab_parameter::cod};
  double value{0};
  std::string unit;  ///< canonical_unit(parameter)
  std::optional<double> limit_low;
  std::optional<double> limit_high;
  std::string grade;
  std::optional<bool> compliant;  ///< std::nullopt: not judged (no limit)
  bool provisional{false};        ///< judged against a provisional limit
  std::string source;             ///< "form" or "csv"
  std::string imported_by;        ///< the account that entered it
  std::int64_t created_ms{0};
};

/// Lab compliance of some sites over a period. A *sample* is one site's results taken at one time
/// (same site_id and sampled_ms); it counts when at least one of its results was judged, and it is
/// compliant when every judged result is within its limits (达标: all indicators). rate =
/// compliant / samples, std::nullopt when there is no judged sample.
struct compliance_figures {
  std::uint64_t samples{0};
  std::uint64_t compliant{0};
  std::optional<double> rate;
  std::uint64_t results{0};            ///< judged results (parameter values) inside those samples
  std::uint64_t results_compliant{0};
  bool provisional{false};             ///< a verdict used a provisional limit
};

/// One problem of an import: the CSV line (1 = the header), the column name and the reason.
struct field_error {
  std::size_t line{0};
  std::string column;
  std::string reason;
};

/// What a CSV import parsed: the rows when there is no error; else every error, and no row.
struct csv_parse {
  std::vector<lab_result_input> rows;
  std::vector<field_error> errors;
};

/// The grade of a site the importer may write to, or why not ("unknown site", "outside your towns").
struct site_check {
  std::optional<std::string> grade;  ///< set when allowed ("" = the site has no grade)
  std::string problem;               ///< set when refused
};

/// Parses a CSV lab import (RFC 4180: comma-separated, optional double quotes, "" inside quotes,
/// CRLF or LF; UTF-8, an optional BOM). The first line is the header naming the columns, in any
/// order: site_id, sampled_at, parameter, value, unit (required), lab, sampled_by (optional);
/// any other column is an error. sampled_at: ISO 8601 UTC ("2026-11-20T09:30:00Z") or a county
/// date "YYYY-MM-DD" (its local midnight, `day_start`). Each row is checked completely and every
/// problem is reported with its line and column: unknown site or outside the caller's scope
/// (`check_site`), unknown parameter, value not a number or out of range (value_problem), unit not
/// accepted for the parameter (accepted_unit), sampled_at malformed or after `now_ms` + 5 min,
/// the same (site, time, parameter) twice in the file. At most `max_rows` rows (more is one error).
csv_parse parse_lab_csv(std::string_view text, const std::function<site_check(const std::string&)>& check_site,
                        const std::function<std::optional<std::int64_t>(std::string_view)>& day_start,
                        std::int64_t now_ms, std::size_t max_rows = 10000);

/// A site's place in the sampling schedule.
struct sampling_status {
  std::string site_id;
  std::string size_class;           ///< "small", "medium", "large" (om::size_class)
  std::uint32_t interval_days{0};   ///< sampling_interval_days(size_class)
  std::optional<std::int64_t> last_sampled_ms;  ///< the latest sample, if any
  std::int64_t due_ms{0};           ///< last sample (else `since_ms`) + interval
  bool overdue{false};              ///< now > due
  std::int64_t overdue_days{0};     ///< whole days past due (0 when not overdue)
};

/// The schedule of one site of `size_class` (om::size_class of its design capacity): due = (last
/// sample, else `since_ms`: when the site was registered) + the interval of its size class; overdue when `now_ms` is past due. Never throws.
sampling_status sampling_of(const std::string& site_id, std::string_view size_class,
                            std::optional<std::int64_t> last_sampled_ms, std::int64_t since_ms, std::int64_t now_ms,
                            const lab_settings& s);

/// The lab results room. Owns one SQLite connection.
class lab {
 public:
  /// Opens `db_path` (read-write; the store must exist and be migrated to the lab tables: open it
  /// with sqlite_store first). `limits` must outlive this object. Throws std::runtime_error naming
  /// the path.
  lab(const std::filesystem::path& db_path, const limits_table& limits, const clock_source& clock);
  ~lab();
  lab(const lab&) = delete;
  lab& operator=(const lab&) = delete;

  /// Judges and stores `rows` in one transaction (all or none); returns their ids in order.
  /// `source` is "form" or "csv", `by` the account. Throws std::runtime_error on a store failure
  /// (nothing is stored then).
  std::vector<std::int64_t> add(const std::vector<lab_result_input>& rows, const std::string& source, const std::string& by);

  /// Results of `site_ids` (empty = none) sampled in [from_ms, to_ms), newest first, at most `limit`.
  [[nodiscard]] std::vector<lab_result> results(const std::vector<std::string>& site_ids, std::int64_t from_ms,
                                                std::int64_t to_ms, std::size_t limit);
  /// Lab compliance of `site_ids` over [from_ms, to_ms) (see compliance_figures).
  [[nodiscard]] compliance_figures compliance(const std::vector<std::string>& site_ids, std::int64_t from_ms,
                                              std::int64_t to_ms);
  /// The latest sampled_ms per site (sites never sampled are absent).
  [[nodiscard]] std::map<std::string, std::int64_t> last_sampled();

  [[nodiscard]] const limits_table& limits() const noexcept { return limits_; }

  class impl;

 private:
  std::unique_ptr<impl> impl_;
  const limits_table& limits_;
  const clock_source& clock_;
};

}  // namespace sewage::gateway::om
