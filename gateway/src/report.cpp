#include "sewage/gateway/report.hpp"

#include "sewage/gateway/operating_day.hpp"

#include <sewage/proto/resolution.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace sewage::gateway {

using nlohmann::json;
using proto::round_to;
using proto::unit;

std::optional<report_month> parse_report_month(std::string_view text) noexcept {
  if (text.size() != 7 || text[4] != '-') return std::nullopt;
  int year = 0;
  unsigned month = 0;
  for (std::size_t i = 0; i < 7; ++i) {
    if (i == 4) continue;
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const int digit = text[i] - '0';
    if (i < 4) {
      year = year * 10 + digit;
    } else {
      month = month * 10 + static_cast<unsigned>(digit);
    }
  }
  if (year < 1970 || month < 1 || month > 12) return std::nullopt;
  return report_month{year, month};
}

std::string format_report_month(report_month m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", m.year, m.month);
  return buf;
}

std::optional<double> fault_summary::mean_time_to_resolve_s() const noexcept {
  if (resolved == 0) return std::nullopt;
  return static_cast<double>(resolve_ms_sum) / 1000.0 / static_cast<double>(resolved);
}

fault_summary& fault_summary::operator+=(const fault_summary& o) noexcept {
  found += o.found;
  resolved += o.resolved;
  open_at_end += o.open_at_end;
  resolve_ms_sum += o.resolve_ms_sum;
  return *this;
}

std::optional<double> operating_figures::compliance_rate() const noexcept {
  if (!(turbidity_ok_s > 0)) return std::nullopt;
  return std::min(1.0, compliant_s / turbidity_ok_s);
}

std::optional<double> operating_figures::compliance_coverage() const noexcept {
  if (!(covered_s > 0)) return std::nullopt;
  return std::min(1.0, turbidity_ok_s / covered_s);
}

std::optional<double> operating_figures::availability() const noexcept {
  if (!(expected_records > 0)) return std::nullopt;
  return std::min(1.0, static_cast<double>(records) / expected_records);
}

operating_figures& operating_figures::operator+=(const operating_figures& o) noexcept {
  volume_m3 += o.volume_m3;
  volume_estimated_m3 += o.volume_estimated_m3;
  compliant_s += o.compliant_s;
  turbidity_ok_s += o.turbidity_ok_s;
  covered_s += o.covered_s;
  records += o.records;
  expected_records += o.expected_records;
  missing_records += o.missing_records;
  days_incomplete += o.days_incomplete;
  faults += o.faults;
  return *this;
}

namespace {

std::int32_t day_number(const std::chrono::year_month_day& ymd) {
  return static_cast<std::int32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

report_month month_of_day(std::int32_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(day))};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month())};
}

double seconds_between(proto::timestamp a, proto::timestamp b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

monthly_report build_report(store& db, const county_view& view, std::optional<report_month> month,
                            const std::optional<std::string>& town) {
  const auto& cfg = *view.cfg;
  const auto& zone = cfg.zone;
  const auto now = view.now;
  const auto today = operating_day(now, zone);
  const auto current = month_of_day(today);

  monthly_report r;
  r.month = month.value_or(current);
  if (r.month.year > current.year || (r.month.year == current.year && r.month.month > current.month))
    throw report_error("month", "month: " + format_report_month(r.month) + " has not begun (the current month in " +
                                    cfg.time_zone + " is " + format_report_month(current) + ")");
  if (town && !town->empty()) r.town = *town;
  r.time_zone = cfg.time_zone;
  r.generated_at = now;
  const std::chrono::year_month first{std::chrono::year(r.month.year), std::chrono::month(r.month.month)};
  r.first_day = day_number(first / std::chrono::day(1));
  r.last_day = day_number(first / std::chrono::last);
  r.from = operating_day_start(r.first_day, zone);
  r.to = operating_day_start(r.last_day + 1, zone);
  for (auto d = std::max(today, r.first_day); d <= r.last_day; ++d) r.days_not_over.push_back(format_day(d));

  // The selected terminals (registry order).
  const auto& terms = view.reg->terminals();
  std::vector<std::size_t> selected;
  for (std::size_t i = 0; i < terms.size(); ++i)  // effluent figures: terminals only, never pump stations
    if (terms[i].is_terminal() && (!r.town || terms[i].town == *r.town)) selected.push_back(i);
  if (r.town && selected.empty())
    throw report_error("town", "town: no registered terminal is in that town", true);

  // Day boundaries of the month, computed once (DST makes days 23..25 h long).
  const auto ndays = static_cast<std::size_t>(r.last_day - r.first_day + 1);
  std::vector<proto::timestamp> bounds(ndays + 1);
  for (std::size_t k = 0; k <= ndays; ++k) bounds[k] = operating_day_start(r.first_day + static_cast<std::int32_t>(k), zone);

  // Daily rows of the month, by terminal id, indexed by day offset.
  std::unordered_map<std::string, std::vector<const daily_row*>> by_terminal;
  for (const auto i : selected) by_terminal[terms[i].id].assign(ndays, nullptr);
  // One read of the month's rows of every terminal (filtered here): store::daily() with a
  // terminal is no cheaper, its SQL ("?1 IS NULL OR terminal = ?1") scans the days' rows anyway.
  const auto rows = db.daily(std::nullopt, r.first_day, r.last_day);
  for (const auto& row : rows) {
    const auto it = by_terminal.find(row.terminal_id);
    if (it == by_terminal.end() || row.totals.day < r.first_day || row.totals.day > r.last_day) continue;
    it->second[static_cast<std::size_t>(row.totals.day - r.first_day)] = &row;
  }

  // Faults of the month per terminal and type.
  std::unordered_map<std::string, std::array<fault_summary, proto::all_alert_types.size()>> faults;
  for (const auto& f : db.fault_counts_between(r.from, r.to)) {
    if (!by_terminal.contains(f.terminal_id)) continue;  // another town, or no longer registered
    auto& s = faults[f.terminal_id][static_cast<std::size_t>(f.type)];
    s += fault_summary{f.found, f.resolved, f.open_at_end, f.resolve_ms_sum};
  }

  std::map<std::string, town_report> towns;
  for (const auto i : selected) {
    const auto& t = terms[i];
    terminal_report tr{t.id, t.name, t.town, {}, {}};
    auto& fig = tr.figures;
    const double interval_s = view.report_interval_s.at(i);
    const auto registered = view.registered_at.at(i);
    const auto& days = by_terminal.at(t.id);
    for (std::size_t k = 0; k < ndays; ++k) {
      const auto day_start = bounds[k];
      const auto day_end = bounds[k + 1];
      const auto start = std::clamp(registered, day_start, day_end);
      const double covered_s = seconds_between(start, std::clamp(now, start, day_end));
      const double expected = interval_s > 0 ? covered_s / interval_s : 0;
      fig.covered_s += covered_s;
      fig.expected_records += expected;
      std::uint64_t records = 0;
      std::int64_t missing = 0;
      if (const auto* row = days[k]) {
        const auto& d = row->totals;
        fig.volume_m3 += d.volume_m3 + d.volume_estimated_m3;
        fig.volume_estimated_m3 += d.volume_estimated_m3;
        fig.compliant_s += d.compliant_s;
        fig.turbidity_ok_s += d.turbidity_ok_s;
        records = d.records;
        missing = row->missing_records;
        fig.records += records;
        fig.missing_records += missing;
      }
      // A finished day the terminal was registered for: incomplete when a record is known to be
      // missing (seq hole) or fewer arrived than expected, at the resolution /daily shows.
      const bool finished = day_end <= now;
      if (finished && covered_s > 0) {
        const double availability = expected > 0 ? std::min(1.0, static_cast<double>(records) / expected) : 1.0;
        if (missing > 0 || round_to(availability, unit::ratio) < 1.0) {
          ++fig.days_incomplete;
          tr.incomplete_days.push_back(format_day(r.first_day + static_cast<std::int32_t>(k)));
        }
      }
    }
    if (const auto it = faults.find(t.id); it != faults.end()) {
      for (std::size_t k = 0; k < it->second.size(); ++k) {
        fig.faults += it->second[k];
        r.faults_by_type[k] += it->second[k];
      }
    }
    auto& town_row = towns[t.town];
    town_row.town = t.town;
    ++town_row.terminals;
    town_row.figures += fig;
    r.totals += fig;
    r.terminals.push_back(std::move(tr));
  }
  r.faults = r.totals.faults;
  for (auto& [name, t] : towns) r.towns.push_back(std::move(t));
  return r;
}

namespace {

json opt(std::optional<double> v, unit u) { return v ? json(round_to(*v, u)) : json(nullptr); }

json faults_json(const fault_summary& f) {
  return json{{"found", f.found},
              {"resolved", f.resolved},
              {"open_at_end", f.open_at_end},
              {"mean_time_to_resolve_s", opt(f.mean_time_to_resolve_s(), unit::seconds)}};
}

/// The figures shared by terminals, towns and totals.
void add_figures(json& j, const operating_figures& f) {
  j["volume_m3"] = round_to(f.volume_m3, unit::m3);
  j["volume_estimated_m3"] = round_to(f.volume_estimated_m3, unit::m3);
  j["compliance_rate"] = opt(f.compliance_rate(), unit::ratio);
  j["compliance_coverage"] = opt(f.compliance_coverage(), unit::ratio);
  j["availability"] = opt(f.availability(), unit::ratio);
  j["records"] = f.records;
  j["expected_records"] = round_to(f.expected_records, unit::count);
  j["missing_records"] = f.missing_records;
  j["days_incomplete"] = f.days_incomplete;
  j["faults_found"] = f.faults.found;
  j["faults_resolved"] = f.faults.resolved;
  j["faults_open_at_end"] = f.faults.open_at_end;
  j["mean_time_to_resolve_s"] = opt(f.faults.mean_time_to_resolve_s(), unit::seconds);
}

std::string iso(proto::timestamp t) { return proto::format_timestamp(t); }

}  // namespace

std::string report_json(const monthly_report& r) {
  json by_type = json::object();
  for (const auto type : proto::all_alert_types)
    by_type[std::string(proto::to_string(type))] = faults_json(r.faults_by_type.at(static_cast<std::size_t>(type)));
  auto faults = faults_json(r.faults);
  faults["by_type"] = std::move(by_type);
  json terminals = json::array();
  for (const auto& t : r.terminals) {
    json j{{"id", t.id}, {"name", t.name}, {"town", t.town}};
    add_figures(j, t.figures);
    j["incomplete_days"] = t.incomplete_days;
    terminals.push_back(std::move(j));
  }
  json towns = json::array();
  for (const auto& t : r.towns) {
    json j{{"town", t.town}, {"terminals", t.terminals}};
    add_figures(j, t.figures);
    towns.push_back(std::move(j));
  }
  json totals{{"terminals", r.terminals.size()}};
  add_figures(totals, r.totals);
  const json out{{"month", format_report_month(r.month)},
                 {"town", r.town ? json(*r.town) : json(nullptr)},
                 {"time_zone", r.time_zone},
                 {"from", iso(r.from)},
                 {"to", iso(r.to)},
                 {"generated_at", iso(r.generated_at)},
                 {"days_in_month", r.last_day - r.first_day + 1},
                 {"partial", !r.days_not_over.empty()},
                 {"days_not_over", r.days_not_over},
                 {"faults", std::move(faults)},
                 {"terminals", std::move(terminals)},
                 {"towns", std::move(towns)},
                 {"totals", std::move(totals)}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string csv_field(std::string_view text) {
  const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!quote) return std::string(text);
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_text_cell(std::string_view text) {
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos)
    return csv_field("'" + std::string(text));
  return csv_field(text);
}

namespace {

/// A number as JSON writes it (shortest round trip of the rounded value), empty when undefined.
std::string number_cell(std::optional<double> v, unit u) { return v ? json(round_to(*v, u)).dump() : std::string(); }
template <typename Int>
std::string int_cell(Int v) {
  return std::to_string(v);
}

void add_row(std::string& out, const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    out += cells[i];
  }
  out += "\r\n";
}

}  // namespace

std::string report_csv(const monthly_report& r) {
  std::string out = "\xEF\xBB\xBF";  // UTF-8 byte order mark: see report.hpp
  add_row(out, {"month", "town", "terminal_id", "terminal_name", "volume_m3", "volume_estimated_m3", "compliance_rate",
                "compliance_coverage", "availability", "records", "expected_records", "missing_records",
                "days_incomplete", "faults_found", "faults_resolved", "faults_open_at_end", "mean_time_to_resolve_s",
                "partial"});
  const auto month = format_report_month(r.month);
  const std::string partial = r.days_not_over.empty() ? "false" : "true";
  for (const auto& t : r.terminals) {
    const auto& f = t.figures;
    add_row(out, {month, csv_text_cell(t.town), csv_text_cell(t.id), csv_text_cell(t.name),
                  number_cell(f.volume_m3, unit::m3), number_cell(f.volume_estimated_m3, unit::m3),
                  number_cell(f.compliance_rate(), unit::ratio), number_cell(f.compliance_coverage(), unit::ratio),
                  number_cell(f.availability(), unit::ratio), int_cell(f.records),
                  number_cell(f.expected_records, unit::count), int_cell(f.missing_records), int_cell(f.days_incomplete),
                  int_cell(f.faults.found), int_cell(f.faults.resolved), int_cell(f.faults.open_at_end),
                  number_cell(f.faults.mean_time_to_resolve_s(), unit::seconds), partial});
  }
  return out;
}

std::string report_filename(const monthly_report& r, bool ascii) {
  std::string name = "report-" + format_report_month(r.month) + "-" + (r.town ? *r.town : std::string("county")) + ".csv";
  if (ascii) {
    for (auto& c : name) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                      c == '_';
      if (!ok) c = '_';
    }
  }
  return name;
}

std::string report_content_disposition(const monthly_report& r) {
  const auto ascii = report_filename(r, true);
  const auto utf8 = report_filename(r, false);
  std::string out = "attachment; filename=\"" + ascii + "\"";
  if (utf8 != ascii) {
    // RFC 8187 ext-value: attr-char = ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else %XX.
    out += "; filename*=UTF-8''";
    for (const char ch : utf8) {
      const auto c = static_cast<unsigned char>(ch);
      const bool attr = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
      if (attr) {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
  }
  return out;
}

}  // namespace sewage::gateway
