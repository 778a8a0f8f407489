// Lab results (om/lab.hpp): CSV import parsing, the sampling schedule, storage and compliance.
#include "sewage/gateway/om/lab.hpp"

#include "detail/sqlite_stmt.hpp"

#include <sewage/proto/timestamp.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <mutex>
#include <set>
#include <tuple>

namespace sewage::gateway::om {

namespace {

constexpr const char* room = "lab results";
/// A sample time may be this far after the gateway clock (clocks of the lab's PC), ms.
constexpr std::int64_t future_slack_ms = 5 * 60 * 1000;
constexpr std::int64_t day_ms = 86'400'000;

/// Splits RFC 4180 text into records of fields; each record keeps the line it started on.
/// A quote that is never closed is reported as an error of that line.
struct csv_record {
  std::size_t line{0};
  std::vector<std::string> fields;
};

std::vector<csv_record> split_csv(std::string_view text, std::vector<field_error>& errors) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  std::vector<csv_record> out;
  std::size_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    csv_record rec;
    rec.line = line;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        if (!closed) {
          errors.push_back({rec.line, "", "a quoted field is never closed"});
          return out;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          errors.push_back({line, "", "text after a closing quote (write \"\" for a quote inside a quoted field)"});
          while (i < text.size() && text[i] != ',' && text[i] != '\n') ++i;
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
      }
      rec.fields.push_back(field);
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // \r\n, \n or a lone \r
        if (text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    const bool blank = rec.fields.size() == 1 && rec.fields[0].empty();
    if (!blank) out.push_back(std::move(rec));
  }
  return out;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

}  // namespace

csv_parse parse_lab_csv(std::string_view text, const std::function<site_check(const std::string&)>& check_site,
                        const std::function<std::optional<std::int64_t>(std::string_view)>& day_start,
                        std::int64_t now_ms, std::size_t max_rows) {
  csv_parse out;
  auto records = split_csv(text, out.errors);
  if (!out.errors.empty()) return out;
  if (records.empty()) {
    out.errors.push_back({1, "", "empty file: a header line and at least one row are needed"});
    return out;
  }
  static const std::vector<std::string> required{"site_id", "sampled_at", "parameter", "value", "unit"};
  static const std::vector<std::string> optional_cols{"lab", "sampled_by"};
  std::map<std::string, std::size_t> col;
  const auto& header = records.front();
  for (std::size_t c = 0; c < header.fields.size(); ++c) {
    const auto name = trim(header.fields[c]);
    const bool known = std::find(required.begin(), required.end(), name) != required.end() ||
                       std::find(optional_cols.begin(), optional_cols.end(), name) != optional_cols.end();
    if (!known)
      out.errors.push_back({header.line, name.empty() ? "column " + std::to_string(c + 1) : name,
                            "unknown column (columns: site_id, sampled_at, parameter, value, unit, lab, sampled_by)"});
    else if (!col.emplace(name, c).second)
      out.errors.push_back({header.line, name, "column named twice"});
  }
  for (const auto& r : required)
    if (col.count(r) == 0) out.errors.push_back({header.line, r, "required column missing"});
  if (!out.errors.empty()) return out;
  if (records.size() == 1) {
    out.errors.push_back({header.line, "", "no row after the header"});
    return out;
  }
  if (records.size() - 1 > max_rows) {
    out.errors.push_back({records[max_rows + 1].line, "", "more than " + std::to_string(max_rows) + " rows: split the file"});
    return out;
  }
  std::set<std::tuple<std::string, std::int64_t, lab_parameter>> seen;
  std::vector<lab_result_input> rows;
  for (std::size_t ri = 1; ri < records.size(); ++ri) {
    const auto& rec = records[ri];
    const auto before = out.errors.size();
    const auto err = [&](const std::string& column, const std::string& why) { out.errors.push_back({rec.line, column, why}); };
    if (rec.fields.size() != header.fields.size()) {
      err("", std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(header.fields.size()));
      continue;
    }
    const auto get = [&](const std::string& name) { return col.count(name) ? trim(rec.fields[col.at(name)]) : std::string(); };
    lab_result_input in;
    in.site_id = get("site_id");
    in.lab = get("lab");
    in.sampled_by = get("sampled_by");
    if (in.site_id.empty()) {
      err("site_id", "required");
    } else {
      const auto sc = check_site(in.site_id);
      if (!sc.grade) err("site_id", sc.problem);
      else in.grade = *sc.grade;
    }
    const auto at = get("sampled_at");
    std::optional<std::int64_t> when;
    if (const auto ts = proto::parse_timestamp(at)) when = ts->time_since_epoch().count();
    else if (const auto d = day_start(at)) when = *d;
    if (!when) err("sampled_at", "must be an ISO 8601 UTC time (2026-11-20T09:30:00Z) or a date YYYY-MM-DD, got '" + at.substr(0, 40) + "'");
    else if (*when > now_ms + future_slack_ms) err("sampled_at", "is in the future");
    else in.sampled_ms = *when;
    const auto pname = get("parameter");
    const auto p = parse_lab_parameter(pname);
    if (!p) err("parameter", "unknown parameter '" + pname.substr(0, 40) + "' (cod, nh3_n, tn, tp, ss, ph, faecal_coliforms)");
    const auto vtext = get("value");
    const auto v = parse_number(vtext);
    if (!v) err("value", "must be a number, got '" + vtext.substr(0, 40) + "'");
    if (p) {
      in.parameter = *p;
      if (v) {
        if (const auto why = value_problem(*p, *v)) err("value", *why);
        else in.value = *v;
      }
      const auto unit = get("unit");
      if (!accepted_unit(*p, unit))
        err("unit", "'" + unit.substr(0, 20) + "' is not accepted for " + std::string(to_string(*p)) + ": use " +
                        std::string(canonical_unit(*p)));
    }
    if (out.errors.size() == before) {
      if (!seen.emplace(in.site_id, in.sampled_ms, in.parameter).second)
        err("parameter", "the same site, time and parameter appear twice in the file");
      else
        rows.push_back(std::move(in));
    }
  }
  if (out.errors.empty()) out.rows = std::move(rows);
  return out;
}

sampling_status sampling_of(const std::string& site_id, std::string_view size_class,
                            std::optional<std::int64_t> last_sampled_ms, std::int64_t since_ms, std::int64_t now_ms,
                            const lab_settings& s) {
  sampling_status st;
  st.site_id = site_id;
  st.size_class = std::string(size_class);
  st.interval_days = sampling_interval_days(st.size_class, s);
  st.last_sampled_ms = last_sampled_ms;
  st.due_ms = last_sampled_ms.value_or(since_ms) + static_cast<std::int64_t>(st.interval_days) * day_ms;
  st.overdue = now_ms > st.due_ms;
  st.overdue_days = st.overdue ? (now_ms - st.due_ms) / day_ms : 0;
  return st;
}

class lab::impl {
 public:
  explicit impl(const std::filesystem::path& path) : db_(detail::open_room(path.string(), "'lab_results'", 1, room)) {}
  ~impl() { sqlite3_close(db_); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  sqlite3* db_;
  std::mutex m_;
};

lab::lab(const std::filesystem::path& db_path, const limits_table& limits, const clock_source& clock)
    : impl_(std::make_unique<impl>(db_path)), limits_(limits), clock_(clock) {}
lab::~lab() = default;

std::vector<std::int64_t> lab::add(const std::vector<lab_result_input>& rows, const std::string& source, const std::string& by) {
  const std::lock_guard lock(impl_->m_);
  auto* db = impl_->db_;
  const auto now = clock_.now().time_since_epoch().count();
  std::vector<std::int64_t> ids;
  detail::sqlite_stmt(db, "BEGIN IMMEDIATE", room).run();
  try {
    detail::sqlite_stmt ins(db,
                            "INSERT INTO lab_results(site_id, sampled_ms, sampled_by, lab, parameter, value, unit, limit_low, "
                            "limit_high, grade, compliant, provisional, source, imported_by, created_ms) "
                            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                            room);
    for (const auto& r : rows) {
      const auto v = limits_.judge(r.grade, r.parameter, r.value);
      ins.reset();
      ins.bind(1, r.site_id)
          .bind(2, r.sampled_ms)
          .bind(3, r.sampled_by)
          .bind(4, r.lab)
          .bind(5, std::string(to_string(r.parameter)))
          .bind(6, r.value)
          .bind(7, std::string(canonical_unit(r.parameter)))
          .bind(8, v.limit_low)
          .bind(9, v.limit_high)
          .bind(10, r.grade)
          .bind(11, v.compliant ? std::optional<std::int64_t>(*v.compliant ? 1 : 0) : std::nullopt)
          .bind(12, std::int64_t{v.provisional ? 1 : 0})
          .bind(13, source)
          .bind(14, by)
          .bind(15, now);
      ins.run();
      ids.push_back(sqlite3_last_insert_rowid(db));
    }
    detail::sqlite_stmt(db, "COMMIT", room).run();
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  spdlog::info("lab results: {} stored from {} by {}", ids.size(), source, by);
  return ids;
}

namespace {

/// "?1,?2,..." placeholders from `first` for `n` values.
std::string placeholders(std::size_t n, int first) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += (i ? ",?" : "?") + std::to_string(first + static_cast<int>(i));
  return s;
}

}  // namespace

std::vector<lab_result> lab::results(const std::vector<std::string>& site_ids, std::int64_t from_ms, std::int64_t to_ms,
                                     std::size_t limit) {
  std::vector<lab_result> out;
  if (site_ids.empty() || limit == 0) return out;
  const std::lock_guard lock(impl_->m_);
  const std::string sql =
      "SELECT id, site_id, sampled_ms, sampled_by, lab, parameter, value, unit, limit_low, limit_high, grade, compliant, "
      "provisional, source, imported_by, created_ms FROM lab_results WHERE sampled_ms >= ?1 AND sampled_ms < ?2 AND site_id IN (" +
      placeholders(site_ids.size(), 4) + ") ORDER BY sampled_ms DESC, id DESC LIMIT ?3";
  detail::sqlite_stmt s(impl_->db_, sql.c_str(), room);
  s.bind(1, from_ms).bind(2, to_ms).bind(3, static_cast<std::int64_t>(limit));
  for (std::size_t i = 0; i < site_ids.size(); ++i) s.bind(4 + static_cast<int>(i), site_ids[i]);
  while (s.step()) {
    lab_result r;
    r.id = s.i64(0);
    r.site_id = s.text(1);
    r.sampled_ms = s.i64(2);
    r.sampled_by = s.text(3);
    r.lab = s.text(4);
    r.parameter = parse_lab_parameter(s.text(5)).value_or(lab_parameter::cod);
    r.value = s.f64(6);
    r.unit = s.text(7);
    r.limit_low = s.opt_f64(8);
    r.limit_high = s.opt_f64(9);
    r.grade = s.text(10);
    if (!s.null(11)) r.compliant = s.i64(11) != 0;
    r.provisional = s.i64(12) != 0;
    r.source = s.text(13);
    r.imported_by = s.text(14);
    r.created_ms = s.i64(15);
    out.push_back(std::move(r));
  }
  return out;
}

compliance_figures lab::compliance(const std::vector<std::string>& site_ids, std::int64_t from_ms, std::int64_t to_ms) {
  compliance_figures f;
  if (site_ids.empty()) return f;
  const std::lock_guard lock(impl_->m_);
  // One row per sample (site, time): judged results, compliant ones, any provisional verdict.
  const std::string sql =
      "SELECT count(*), sum(compliant), max(provisional) FROM lab_results WHERE compliant IS NOT NULL AND sampled_ms >= ?1 "
      "AND sampled_ms < ?2 AND site_id IN (" +
      placeholders(site_ids.size(), 3) + ") GROUP BY site_id, sampled_ms";
  detail::sqlite_stmt s(impl_->db_, sql.c_str(), room);
  s.bind(1, from_ms).bind(2, to_ms);
  for (std::size_t i = 0; i < site_ids.size(); ++i) s.bind(3 + static_cast<int>(i), site_ids[i]);
  while (s.step()) {
    const auto n = static_cast<std::uint64_t>(s.i64(0));
    const auto ok = static_cast<std::uint64_t>(s.i64(1));
    ++f.samples;
    if (ok == n) ++f.compliant;
    f.results += n;
    f.results_compliant += ok;
    f.provisional = f.provisional || s.i64(2) != 0;
  }
  if (f.samples > 0) f.rate = static_cast<double>(f.compliant) / static_cast<double>(f.samples);
  return f;
}

std::map<std::string, std::int64_t> lab::last_sampled() {
  const std::lock_guard lock(impl_->m_);
  std::map<std::string, std::int64_t> out;
  detail::sqlite_stmt s(impl_->db_, "SELECT site_id, max(sampled_ms) FROM lab_results GROUP BY site_id", room);
  while (s.step()) out[s.text(0)] = s.i64(1);
  return out;
}

}  // namespace sewage::gateway::om
