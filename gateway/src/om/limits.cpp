// Effluent limits table (om/limits.hpp): parameters, units, the TOML limits file, verdicts.
#include "sewage/gateway/om/limits.hpp"

#include "toml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace sewage::gateway::om {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string_view to_string(lab_parameter p) noexcept {
  switch (p) {
    case lab_parameter::cod: return "cod";
    case lab_parameter::nh3_n: return "nh3_n";
    case lab_parameter::tn: return "tn";
    case lab_parameter::tp: return "tp";
    case lab_parameter::ss: return "ss";
    case lab_parameter::ph: return "ph";
    case lab_parameter::faecal_coliforms: return "faecal_coliforms";
  }
  return "cod";
}

std::optional<lab_parameter> parse_lab_parameter(std::string_view s) noexcept {
  try {
    std::string k = lower(s);
    std::replace(k.begin(), k.end(), '-', '_');
    std::replace(k.begin(), k.end(), ' ', '_');
    if (k == "codcr" || k == "cod_cr") k = "cod";
    if (k == "nh3n" || k == "nh4_n") k = "nh3_n";
    if (k == "fecal_coliforms" || k == "faecal_coliform" || k == "fecal_coliform") k = "faecal_coliforms";
    for (const auto p : all_lab_parameters)
      if (k == to_string(p)) return p;
  } catch (...) {
  }
  return std::nullopt;
}

std::string_view canonical_unit(lab_parameter p) noexcept {
  switch (p) {
    case lab_parameter::ph: return "pH";
    case lab_parameter::faecal_coliforms: return "MPN/L";
    default: return "mg/L";
  }
}

std::optional<std::string_view> accepted_unit(lab_parameter p, std::string_view unit) noexcept {
  const auto is = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), unit) != names.end();
  };
  switch (p) {
    case lab_parameter::ph:
      if (is({"pH", "ph", ""})) return canonical_unit(p);
      break;
    case lab_parameter::faecal_coliforms:
      if (is({"MPN/L", "mpn/L", "个/L", "CFU/L"})) return canonical_unit(p);
      break;
    default:
      if (is({"mg/L", "mg/l"})) return canonical_unit(p);
  }
  return std::nullopt;
}

std::optional<std::string> value_problem(lab_parameter p, double value) {
  if (!std::isfinite(value)) return "must be a finite number";
  if (p == lab_parameter::ph) {
    if (value < 0 || value > 14) return "pH must be in [0, 14]";
    return std::nullopt;
  }
  if (value < 0) return "must be >= 0";
  return std::nullopt;
}

const grade_limits* limits_table::find(std::string_view grade) const noexcept {
  for (const auto& g : grades_)
    if (g.grade == grade) return &g;
  return nullptr;
}

verdict limits_table::judge(std::string_view grade, lab_parameter p, double value) const {
  verdict v;
  if (grade.empty()) {
    v.reason = "the site has no discharge grade in the registry";
    return v;
  }
  const auto* g = find(grade);
  if (g == nullptr) {
    v.reason = "discharge grade '" + std::string(grade) + "' is not in the limits table";
    return v;
  }
  const auto it = g->limits.find(p);
  if (it == g->limits.end()) {
    v.reason = g->standard + " " + g->label + " sets no limit for " + std::string(to_string(p));
    return v;
  }
  const auto& l = it->second;
  v.limit_low = l.low;
  v.limit_high = l.high;
  v.provisional = l.provisional;
  v.source = l.source;
  v.compliant = (!l.low || value >= *l.low) && (!l.high || value <= *l.high);
  return v;
}

limits_table load_limits(const std::filesystem::path& path) {
  const toml::table root = detail::parse_toml_file(path, "effluent limits file");
  std::vector<grade_limits> grades;
  try {
    detail::toml_reader top(root, "");
    const auto* gt = top.sub_table("grade");
    if (gt == nullptr || gt->empty()) top.fail("grade", "no [grade.<name>] table: nothing to judge results against");
    top.reject_unknown();
    for (const auto& [name, node] : *gt) {
      const std::string where = "grade." + std::string(name.str());
      if (!node.is_table()) detail::toml_reader(*gt, "grade").fail(name.str(), "must be a table");
      detail::toml_reader r(*node.as_table(), where);
      grade_limits g;
      g.grade = std::string(name.str());
      r.read("standard", g.standard);
      r.read("label", g.label);
      if (g.standard.empty()) r.fail("standard", "required: the standard this grade belongs to");
      for (const auto& [pk, pn] : *node.as_table()) {
        const auto key = std::string(pk.str());
        if (key == "standard" || key == "label") continue;
        const auto p = parse_lab_parameter(key);
        if (!p || key != to_string(*p))
          r.fail(key, "unknown key (parameters: cod, nh3_n, tn, tp, ss, ph, faecal_coliforms)");
        const auto* pt = r.sub_table(key);
        detail::toml_reader lr(*pt, where + "." + key);
        parameter_limit l;
        double v = -1;
        if (lr.raw("max") != nullptr) {
          lr.read("max", v, 0, 1e12);
          l.high = v;
        }
        if (lr.raw("min") != nullptr) {
          lr.read("min", v, 0, 1e12);
          l.low = v;
        }
        if (!l.low && !l.high) lr.fail("max", "a limit needs max (and min for pH)");
        if (l.low && l.high && *l.low > *l.high) lr.fail("min", "must be <= max");
        if (l.low && *p != lab_parameter::ph) lr.fail("min", "only pH has a lower limit");
        std::string unit;
        lr.read("unit", unit);
        if (unit != canonical_unit(*p))
          lr.fail("unit", "must be \"" + std::string(canonical_unit(*p)) + "\" (results are judged in it), got \"" + unit + "\"");
        lr.read("source", l.source);
        if (l.source.empty()) lr.fail("source", "required: where the value comes from");
        lr.read("provisional", l.provisional);
        lr.read("note", l.note);
        if (l.provisional && l.note.empty()) lr.fail("note", "required when provisional = true: why it could not be verified");
        lr.reject_unknown();
        g.limits.emplace(*p, std::move(l));
      }
      grades.push_back(std::move(g));
    }
  } catch (const config_error& e) {
    throw config_error(path.string() + ": " + e.what());
  }
  limits_table t(std::move(grades));
  t.source_file = path;
  return t;
}

}  // namespace sewage::gateway::om
