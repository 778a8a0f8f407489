#pragma once
/// \file
/// The monthly operations report (issue 10 item 6; gateway/README.md "Monthly report"): for one
/// calendar month in the county's zone, county-wide or for one town, the faults found and resolved
/// by alert type with the mean time to resolve, and per terminal the effluent volume, compliance,
/// availability, days with incomplete data and faults found, with per-town and county totals.
///
/// build_report() is a pure function of the store, the county view and the month: it reads
/// only through `store` (daily rows, fault counts) and the view (registry, report intervals,
/// registration times, configuration, clock), so it can run on a reader thread (api.hpp, read
/// routes). Renderers turn the result into JSON (nlohmann) and CSV (RFC 4180, see csv_field()).

#include "sewage/gateway/api.hpp"
#include "sewage/gateway/store.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/timestamp.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// A request for a report the gateway refuses: `field()` is the query parameter at fault
/// ("month" or "town"), what() the message (naming the field, never raw request bytes).
/// `not_found` marks a well-formed town that no registered terminal belongs to (HTTP 404;
/// everything else is 400).
class report_error : public std::invalid_argument {
 public:
  report_error(std::string field, const std::string& message, bool not_found = false)
      : std::invalid_argument(message), field_(std::move(field)), not_found_(not_found) {}
  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  [[nodiscard]] bool not_found() const noexcept { return not_found_; }

 private:
  std::string field_;
  bool not_found_;
};

/// A calendar month.
struct report_month {
  int year{1970};      ///< 1970..9999
  unsigned month{1};   ///< 1..12
  friend bool operator==(const report_month&, const report_month&) = default;
};

/// Parses exactly "YYYY-MM" (four digits, '-', two digits; month 01..12, year 1970..9999).
/// std::nullopt for anything else ("2026-1", "2026-13", "2026-11-01", " 2026-11"). Never throws.
std::optional<report_month> parse_report_month(std::string_view text) noexcept;

/// "YYYY-MM". Never throws except bad_alloc.
std::string format_report_month(report_month m);

/// Faults of one alert type (or all types) in the month.
struct fault_summary {
  std::uint64_t found{0};        ///< episodes raised in the month
  std::uint64_t resolved{0};     ///< episodes cleared in the month (raised in it or before)
  std::uint64_t open_at_end{0};  ///< raised before the month's end and not cleared by then (now, for the current month)
  std::int64_t resolve_ms_sum{0};
  /// Mean of (cleared - raised) over the resolved ones, s; std::nullopt when none was resolved.
  [[nodiscard]] std::optional<double> mean_time_to_resolve_s() const noexcept;
  fault_summary& operator+=(const fault_summary& o) noexcept;
};

/// Operating figures of one terminal, or summed over a town or the county.
struct operating_figures {
  double volume_m3{0};            ///< measured + estimated effluent volume of the month, m3
  double volume_estimated_m3{0};  ///< the estimated part (rate x time), m3
  double compliant_s{0};          ///< sum of the days' compliant_s
  double turbidity_ok_s{0};       ///< sum of the days' turbidity_ok_s
  double covered_s{0};            ///< terminal-time of the month elapsed since registration, s
  std::uint64_t records{0};       ///< accepted records of the month's days
  double expected_records{0};     ///< sum over days of covered time / report interval
  std::int64_t missing_records{0};  ///< records never received attributed to the month's days
  /// Finished days (since registration) with missing_records > 0 or availability < 1; for a town
  /// or the county the sum over its terminals (terminal-days).
  std::uint32_t days_incomplete{0};
  fault_summary faults;           ///< all types

  /// sum compliant_s / sum turbidity_ok_s, capped at 1; std::nullopt when no good turbidity time.
  [[nodiscard]] std::optional<double> compliance_rate() const noexcept;
  /// turbidity_ok_s / covered_s, capped at 1; std::nullopt when nothing was covered.
  [[nodiscard]] std::optional<double> compliance_coverage() const noexcept;
  /// records / expected_records, capped at 1; std::nullopt when nothing was expected.
  [[nodiscard]] std::optional<double> availability() const noexcept;
  operating_figures& operator+=(const operating_figures& o) noexcept;
};

struct terminal_report {
  std::string id;
  std::string name;
  std::string town;
  operating_figures figures;
  /// Finished days with incomplete data, "YYYY-MM-DD" (figures.days_incomplete of them).
  std::vector<std::string> incomplete_days;
};

struct town_report {
  std::string town;
  std::size_t terminals{0};
  operating_figures figures;
};

/// The report of one month.
struct monthly_report {
  report_month month;
  std::optional<std::string> town;  ///< std::nullopt: the whole county
  std::string time_zone;            ///< IANA name of the county zone
  proto::timestamp from{};          ///< start of the month's first operating day (UTC)
  proto::timestamp to{};            ///< start of the next month's first day (UTC), exclusive
  proto::timestamp generated_at{};  ///< the view's clock
  std::int32_t first_day{0};        ///< operating day numbers (operating_day.hpp)
  std::int32_t last_day{0};
  /// Days of the month not over at generated_at ("YYYY-MM-DD", today first); empty for a past
  /// month. Non-empty means the report is partial.
  std::vector<std::string> days_not_over;
  std::array<fault_summary, proto::all_alert_types.size()> faults_by_type{};  ///< index = alert_type
  fault_summary faults;                   ///< all types (selected terminals)
  std::vector<terminal_report> terminals;  ///< registry order (selected town only)
  std::vector<town_report> towns;         ///< by town name (byte order); one entry for a town report
  operating_figures totals;               ///< of the selected terminals
};

/// Builds the report of `month` (std::nullopt: the current month at view.now in the county zone)
/// for `town` (std::nullopt or empty: the county). Reads `db` (daily rows of the month, fault
/// counts in [from, to)) and `view`. Faults count only terminals in the view's registry.
/// Expected records per day come from the terminal's current report interval and count only the
/// time after its registration and before view.now.
/// Throws report_error("month", ...) for a month after the current one, report_error("town", ...,
/// true) for a town no registered terminal is in; store_error from the store.
/// Thread-safety: as `db` (the view is read only).
monthly_report build_report(store& db, const county_view& view, std::optional<report_month> month,
                            const std::optional<std::string>& town);

/// The report as the JSON of GET /api/report (gateway/README.md, "Monthly report"): figures at
/// their unit's resolution (proto/resolution.hpp), times ISO 8601 UTC, nulls where undefined.
/// Never throws except bad_alloc.
std::string report_json(const monthly_report& r);

/// One CSV field per RFC 4180: quoted ("...", inner quotes doubled) when it holds a comma, a
/// quote, CR or LF, or starts or ends with a space; otherwise as is. UTF-8 passes through.
/// Never throws except bad_alloc.
std::string csv_field(std::string_view text);

/// A text cell safe to open in a spreadsheet: a value starting with '=', '+', '-', '@', tab or
/// CR would be taken as a formula by Excel and LibreOffice (OWASP "CSV injection"), so it gets a
/// leading apostrophe; then csv_field(). Numbers are written with csv_field() only.
std::string csv_text_cell(std::string_view text);

/// The report as CSV: a UTF-8 byte order mark (Excel, notably in zh-CN locales, otherwise reads
/// UTF-8 as the ANSI code page GBK and garbles Chinese names), a header row, then one row per
/// terminal; CRLF line ends; empty cell for an undefined figure. Columns: see gateway/README.md.
/// Never throws except bad_alloc.
std::string report_csv(const monthly_report& r);

/// The file name offered for the CSV: "report-2026-11-county.csv" or "report-2026-11-<town>.csv".
/// `ascii`: every byte outside [A-Za-z0-9._-] becomes '_' (the filename="..." fallback); otherwise
/// the town's UTF-8 is kept (for filename*=UTF-8''...). Never throws except bad_alloc.
std::string report_filename(const monthly_report& r, bool ascii);

/// The Content-Disposition value (RFC 6266, RFC 8187): attachment with an ASCII filename and,
/// when the town is not plain ASCII, a percent-encoded UTF-8 filename*. Never throws except bad_alloc.
std::string report_content_disposition(const monthly_report& r);

}  // namespace sewage::gateway
