// Contractor assessment (om/assessment.hpp): scores and evidence from a fixed input; JSON/CSV;
// the loader of work orders and lab results from the store.
#include "sewage/gateway/om/assessment.hpp"
#include "sewage/gateway/om/work_orders.hpp"

#include "sewage/gateway/report.hpp"

#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

namespace sewage::gateway::om {

namespace {

using nlohmann::json;

std::size_t at(assessment_part p) { return static_cast<std::size_t>(p); }

/// weight x min(1, (target - rate) / target) when below target, else 0.
double below_target(double weight, double target, double rate) {
  if (rate >= target || target <= 0) return 0;
  return weight * std::min(1.0, (target - rate) / target);
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

std::string iso(std::int64_t ms) { return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms))); }

}  // namespace

assessment assess(const assessment_input& in, const assessment_settings& s, bool by_contractor) {
  std::map<std::string, std::string> group_of;  // site -> group key
  std::map<std::string, group_score> groups;
  for (const auto& site : in.sites) {
    const auto& key = by_contractor ? site.contractor : site.town;
    group_of[site.site_id] = key;
    auto& g = groups[key];
    g.key = key;
    ++g.sites;
  }
  for (auto& [k, g] : groups)
    for (const auto p : all_assessment_parts) {
      auto& part = g.parts[at(p)];
      part.part = p;
      part.weight = s.weight(p);
      part.target = p == assessment_part::reopen ? s.reopen_rate_full_deduction : s.target(p);
      part.unavailable = (p == assessment_part::on_time || p == assessment_part::reopen) ? !in.orders_available
                         : p == assessment_part::lab                                   ? !in.lab_available
                                                                                         : false;
    }
  const auto group = [&](const std::string& site) -> group_score* {
    const auto it = group_of.find(site);
    return it == group_of.end() ? nullptr : &groups[it->second];
  };

  // Work orders due in the month: on time, and reopened among the fixed ones.
  std::map<std::string, std::uint64_t> fixed_counted;
  for (const auto& o : in.orders) {
    if (o.due_ms < in.from_ms || o.due_ms >= in.to_ms) continue;
    auto* g = group(o.site_id);
    if (g == nullptr) continue;
    auto& on_time = g->parts[at(assessment_part::on_time)];
    const bool fixed_in_time = o.fixed_ms && *o.fixed_ms <= o.due_ms;
    const bool late = (o.fixed_ms && *o.fixed_ms > o.due_ms) || (!o.fixed_ms && in.now_ms > o.due_ms);
    if (fixed_in_time || late) {
      ++on_time.counted;
      if (late) {
        ++on_time.failed;
        on_time.items.push_back({"work_order", o.id, o.site_id, o.fixed_ms ? "fixed after its due time" : "not fixed, past due",
                                 o.due_ms, std::nullopt});
      }
    }
    if (o.fixed_ms || o.reopen_count > 0) {
      auto& reopen = g->parts[at(assessment_part::reopen)];
      ++reopen.counted;
      if (o.reopen_count > 0) {
        ++reopen.failed;
        reopen.items.push_back({"work_order", o.id, o.site_id, "reopened " + std::to_string(o.reopen_count) + "x",
                                std::nullopt, std::nullopt});
      }
    }
  }
  // Inspection due dates of the month.
  for (const auto& oc : in.inspections) {
    if (oc.due_ms < in.from_ms || oc.due_ms >= in.to_ms || oc.state == occurrence::status::pending) continue;
    auto* g = group(oc.site_id);
    if (g == nullptr) continue;
    auto& part = g->parts[at(assessment_part::inspection)];
    ++part.counted;
    if (oc.state == occurrence::status::on_time) continue;
    ++part.failed;
    part.items.push_back({oc.inspection_id ? "inspection" : "missed_inspection", oc.inspection_id, oc.site_id,
                          std::string(to_string(oc.state)), oc.due_ms, std::nullopt});
  }
  // Availability: records / expected over the group's sites; sites below target are evidence.
  std::map<std::string, std::pair<double, double>> avail_sum;
  for (const auto& a : in.availability) {
    auto* g = group(a.site_id);
    if (g == nullptr || a.expected_records <= 0) continue;
    auto& part = g->parts[at(assessment_part::availability)];
    ++part.counted;
    avail_sum[g->key].first += std::min(a.records, a.expected_records);
    avail_sum[g->key].second += a.expected_records;
    const double rate = std::min(1.0, a.records / a.expected_records);
    if (rate < part.target) {
      ++part.failed;
      part.items.push_back({"availability", std::nullopt, a.site_id,
                            "records " + std::to_string(static_cast<long long>(a.records)) + " of " +
                                std::to_string(static_cast<long long>(std::ceil(a.expected_records))) + " expected",
                            std::nullopt, rate});
    }
  }
  // Lab samples of the month: one site's results at one time; compliant when all judged results are.
  std::map<std::pair<std::string, std::int64_t>, bool> sample_ok;  // (site, sampled_ms) -> compliant
  for (const auto& r : in.lab) {
    auto* g = group(r.site_id);
    if (g == nullptr) continue;
    const auto [it, fresh] = sample_ok.try_emplace({r.site_id, r.sampled_ms}, true);
    auto& part = g->parts[at(assessment_part::lab)];
    if (fresh) ++part.counted;
    if (r.compliant) continue;
    if (it->second) ++part.failed;
    it->second = false;
    part.items.push_back({"lab_result", r.id, r.site_id, r.parameter + " not compliant", std::nullopt, std::nullopt});
  }

  assessment out;
  out.month = in.month;
  out.by_contractor = by_contractor;
  out.from_ms = in.from_ms;
  out.to_ms = in.to_ms;
  out.generated_ms = in.now_ms;
  for (auto& [k, g] : groups) {
    for (auto& part : g.parts) {
      if (part.unavailable) {
        part.items.clear();
        part.counted = part.failed = 0;
        continue;
      }
      if (part.counted == 0) {
        part.no_data = true;
        continue;
      }
      const double n = static_cast<double>(part.counted);
      switch (part.part) {
        case assessment_part::on_time:
        case assessment_part::inspection:
        case assessment_part::lab:
          part.rate = (n - static_cast<double>(part.failed)) / n;
          part.deduction = below_target(part.weight, part.target, *part.rate);
          break;
        case assessment_part::reopen:
          part.rate = static_cast<double>(part.failed) / n;
          part.deduction = part.weight * std::min(1.0, *part.rate / part.target);
          break;
        case assessment_part::availability: {
          const auto& [got, expected] = avail_sum[g.key];
          part.rate = expected > 0 ? got / expected : 1.0;
          part.deduction = below_target(part.weight, part.target, *part.rate);
          break;
        }
      }
      // No deduction, no evidence list needed; but a deduction always has evidence.
      if (part.deduction <= 0) part.items.clear();
      g.score -= part.deduction;
    }
    g.score = std::max(0.0, g.score);
    out.groups.push_back(std::move(g));
  }
  return out;
}

std::string assessment_json(const assessment& a) {
  json groups = json::array();
  for (const auto& g : a.groups) {
    json parts = json::object();
    for (const auto& p : g.parts) {
      json items = json::array();
      for (const auto& e : p.items) {
        json j{{"kind", e.kind}, {"site_id", e.site_id}, {"detail", e.detail}};
        j["id"] = e.id ? json(*e.id) : json(nullptr);
        if (e.due_ms) j["due_at"] = iso(*e.due_ms);
        if (e.value) j["value"] = round3(*e.value);
        items.push_back(std::move(j));
      }
      parts[std::string(to_string(p.part))] = json{{"weight", p.weight},
                                                   {"target", p.target},
                                                   {"counted", p.counted},
                                                   {"failed", p.failed},
                                                   {"rate", p.rate ? json(round3(*p.rate)) : json(nullptr)},
                                                   {"deduction", round3(p.deduction)},
                                                   {"no_data", p.no_data},
                                                   {"unavailable", p.unavailable},
                                                   {"evidence", std::move(items)}};
    }
    groups.push_back(json{{"key", g.key}, {"sites", g.sites}, {"score", round3(g.score)}, {"parts", std::move(parts)}});
  }
  return json{{"month", a.month},
              {"by", a.by_contractor ? "contractor" : "town"},
              {"from", iso(a.from_ms)},
              {"to", iso(a.to_ms)},
              {"generated_at", iso(a.generated_ms)},
              {"groups", std::move(groups)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string assessment_csv(const assessment& a) {
  const auto num = [](std::optional<double> v) {
    if (!v) return std::string();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *v);
    return std::string(buf);
  };
  std::string out = "\xEF\xBB\xBF";  // UTF-8 BOM, as report_csv (Excel in zh-CN locales)
  out += std::string(a.by_contractor ? "contractor" : "town") +
         ",month,part,weight,target,counted,failed,rate,deduction,score,evidence\r\n";
  for (const auto& g : a.groups) {
    for (const auto& p : g.parts) {
      std::string ev;
      for (const auto& e : p.items) {
        if (!ev.empty()) ev += "; ";
        ev += e.kind + (e.id ? ":" + std::to_string(*e.id) : std::string()) + "@" + e.site_id + " " + e.detail;
        if (e.due_ms) ev += " due " + iso(*e.due_ms);
        if (e.value) ev += " " + num(e.value);
      }
      if (p.unavailable) ev = "source not installed";
      else if (p.no_data) ev = "no data";
      out += csv_text_cell(g.key) + "," + a.month + "," + std::string(to_string(p.part)) + "," + num(p.weight) + "," +
             num(p.target) + "," + std::to_string(p.counted) + "," + std::to_string(p.failed) + "," + num(p.rate) + "," +
             num(p.deduction) + "," + num(g.score) + "," + csv_text_cell(ev) + "\r\n";
    }
  }
  return out;
}

void load_orders(work_orders& orders, assessment_input& in) {
  std::set<std::string, std::less<>> sites;
  for (const auto& s : in.sites) sites.insert(s.site_id);
  in.orders.clear();
  for (const auto& o : orders.due_between(in.from_ms, in.to_ms)) {
    if (sites.count(o.site_id) == 0) continue;
    in.orders.push_back({o.id, o.site_id, o.due_ms, o.fixed_ms,
                         static_cast<std::uint32_t>(std::max<std::int64_t>(0, o.reopen_count))});
  }
  in.orders_available = true;
}

void load_orders_and_lab(const std::filesystem::path& db, assessment_input& in) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    throw std::runtime_error(db.string() + ": cannot open for the assessment: " + msg);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
  sqlite3_busy_timeout(raw, 5000);
  const auto prepare = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(raw, sql, -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(db.string() + ": assessment: " + sqlite3_errmsg(raw));
    return std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>(s, &sqlite3_finalize);
  };
  const auto has_table = [&](const char* name) {
    auto s = prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1");
    sqlite3_bind_text(s.get(), 1, name, -1, SQLITE_STATIC);
    return sqlite3_step(s.get()) == SQLITE_ROW && sqlite3_column_int64(s.get(), 0) == 1;
  };
  const auto text = [](sqlite3_stmt* s, int c) {
    const auto* p = sqlite3_column_text(s, c);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  };
  std::set<std::string, std::less<>> sites;
  for (const auto& s : in.sites) sites.insert(s.site_id);
  in.orders_available = has_table("work_orders");
  if (in.orders_available) {
    auto s = prepare("SELECT id, site_id, due_ms, fixed_ms, reopen_count FROM work_orders WHERE due_ms >= ?1 AND due_ms < ?2");
    sqlite3_bind_int64(s.get(), 1, in.from_ms);
    sqlite3_bind_int64(s.get(), 2, in.to_ms);
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      assessed_order o;
      o.id = sqlite3_column_int64(s.get(), 0);
      o.site_id = text(s.get(), 1);
      if (sites.count(o.site_id) == 0) continue;
      o.due_ms = sqlite3_column_int64(s.get(), 2);
      if (sqlite3_column_type(s.get(), 3) != SQLITE_NULL) o.fixed_ms = sqlite3_column_int64(s.get(), 3);
      o.reopen_count = static_cast<std::uint32_t>(std::max<std::int64_t>(0, sqlite3_column_int64(s.get(), 4)));
      in.orders.push_back(std::move(o));
    }
  }
  in.lab_available = has_table("lab_results");
  if (in.lab_available) {
    auto s = prepare(
        "SELECT id, site_id, parameter, compliant, sampled_ms FROM lab_results WHERE sampled_ms >= ?1 AND sampled_ms < ?2");
    sqlite3_bind_int64(s.get(), 1, in.from_ms);
    sqlite3_bind_int64(s.get(), 2, in.to_ms);
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      assessed_lab_result r;
      r.id = sqlite3_column_int64(s.get(), 0);
      r.site_id = text(s.get(), 1);
      if (sites.count(r.site_id) == 0) continue;
      r.parameter = text(s.get(), 2);
      if (sqlite3_column_type(s.get(), 3) == SQLITE_NULL) continue;  // not judged (no limit for it): not counted
      r.compliant = sqlite3_column_int64(s.get(), 3) != 0;
      r.sampled_ms = sqlite3_column_int64(s.get(), 4);
      in.lab.push_back(std::move(r));
    }
  }
}

}  // namespace sewage::gateway::om
