#include "sewage/sim/repair.hpp"

#include "sewage/proto/timestamp.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace sewage::sim {

namespace {

constexpr std::size_t max_repair_bytes = 4096;
constexpr std::size_t max_by_bytes = 64;

std::string iso_at(const scenario& s, double h) {
  const auto t = std::chrono::sys_time<std::chrono::milliseconds>(s.start) +
                 std::chrono::milliseconds(static_cast<std::int64_t>(h * 3600.0 * 1000.0));
  return proto::format_timestamp(t);
}

/// `s` as one CSV cell: quoted when it holds a comma, quote or line break.
std::string cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + '"';
}

}  // namespace

repair_parse parse_repair(std::string_view text, const std::vector<std::string>& known_terminals) {
  repair_parse out;
  if (text.size() > max_repair_bytes) {
    out.error = "file is " + std::to_string(text.size()) + " bytes; at most " + std::to_string(max_repair_bytes);
    return out;
  }
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    out.error = "not TOML: " + std::string(e.description());
    return out;
  }
  for (const auto& [k, v] : t) {
    if (k != "terminal" && k != "fault" && k != "order" && k != "by") {
      out.error = std::string(k.str()) + ": unknown key (terminal, fault, order, by)";
      return out;
    }
  }
  repair_request r;
  if (const auto* node = t.get("terminal"); node == nullptr) {
    out.error = "terminal: required key is missing";
    return out;
  } else if (const auto v = node->value<std::string>(); !v || v->empty()) {
    out.error = "terminal: must be a non-empty string";
    return out;
  } else {
    r.terminal = *v;
  }
  if (!known_terminals.empty() &&
      std::find(known_terminals.begin(), known_terminals.end(), r.terminal) == known_terminals.end()) {
    out.error = "terminal: '" + r.terminal.substr(0, 64) + "' is not a terminal of the registry";
    return out;
  }
  if (const auto* node = t.get("fault")) {
    const auto v = node->value<std::string>();
    if (!v) {
      out.error = "fault: must be a string (a fault type)";
      return out;
    }
    r.kind = parse_fault_kind(*v);
    if (!r.kind) {
      out.error = "fault: unknown fault type '" + v->substr(0, 64) + "'";
      return out;
    }
  }
  if (const auto* node = t.get("order")) {
    if (!node->is_integer()) {
      out.error = "order: must be an integer (the work order id)";
      return out;
    }
    r.order = node->value<std::int64_t>();
  }
  if (const auto* node = t.get("by")) {
    const auto v = node->value<std::string>();
    if (!v || v->size() > max_by_bytes) {
      out.error = "by: must be a string of at most " + std::to_string(max_by_bytes) + " bytes";
      return out;
    }
    r.by = *v;
  }
  out.request = std::move(r);
  return out;
}

std::vector<std::size_t> apply_repair(scenario& s, const repair_request& r, double now_h) {
  std::vector<std::size_t> ended;
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    auto& f = s.faults[i];
    if (f.terminal != r.terminal || (r.kind && f.kind != *r.kind)) continue;
    if (!(now_h >= f.start_h && now_h < f.end_h)) continue;
    f.end_h = now_h;
    f.repaired_h = now_h;
    f.repaired_by = r.by.empty() ? std::string("crew") : r.by;
    if (r.order) f.repaired_by += "/order " + std::to_string(*r.order);
    ended.push_back(i);
  }
  return ended;
}

physical_faults faults_in_force(const scenario& s, std::string_view terminal, double h) noexcept {
  physical_faults p;
  for (const auto& f : s.faults) {
    if (f.terminal != terminal || !(h >= f.start_h && h < f.end_h)) continue;
    switch (f.kind) {
      case fault_kind::blockage:
      case fault_kind::pump_failure:
        p.no_flow = true;
        break;
      case fault_kind::pump_dry_run:
        p.no_flow = true;
        p.pump_dry_run = true;
        break;
      case fault_kind::turbidity_excursion:
        p.turbidity_factor *= f.factor;
        break;
      case fault_kind::sludge_cleanout:
        p.sludge_extra_m_per_h += 0.5;
        break;
      default:  // the others act on instruments, the agent or its link (county.cpp step_faults)
        break;
    }
  }
  return p;
}

network_faults network_faults_in_force(const scenario& s, double h) {
  network_faults n;
  for (const auto& f : s.faults) {
    if (!is_network_fault(f.kind) || !(h >= f.start_h && h < f.end_h)) continue;
    switch (f.kind) {
      case fault_kind::pipe_blockage:
      case fault_kind::pipe_burst: {
        const double loss = f.kind == fault_kind::pipe_blockage ? 1.0 : std::clamp(f.fraction, 0.0, 1.0);
        auto& l = n.segment_loss[f.segment];
        l = 1.0 - (1.0 - l) * (1.0 - loss);
        break;
      }
      case fault_kind::station_pump_failure: {
        auto& st = n.stations[f.node];
        if (f.pump.empty()) {
          st.all_tripped = true;
        } else {
          st.tripped.push_back(f.pump);
        }
        break;
      }
      case fault_kind::station_power_loss:
        n.stations[f.node].mains_lost = true;
        break;
      case fault_kind::wet_well_overflow: {
        auto& st = n.stations[f.node];
        st.overload_factor = std::max(st.overload_factor, f.factor);
        break;
      }
      default:
        break;
    }
  }
  return n;
}

std::string ground_truth_csv(const scenario& s) {
  std::ostringstream out;
  out << "type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share\n";
  for (const auto& f : s.faults) {
    std::string affected;
    for (const auto& a : f.affected_sites) affected += (affected.empty() ? "" : " ") + a;
    char share[32] = "";
    if (is_network_fault(f.kind)) std::snprintf(share, sizeof share, "%.4f", f.households_share);
    out << to_string(f.kind) << ',' << cell(f.terminal) << ',' << iso_at(s, f.start_h) << ',' << iso_at(s, f.end_h)
        << ',' << expected_alert(f.kind) << ',' << cell(f.repaired_h ? f.repaired_by : std::string()) << ','
        << cell(f.node) << ',' << cell(f.segment) << ',' << expected_incident(f.kind) << ',' << cell(affected) << ','
        << share << '\n';
  }
  return out.str();
}

}  // namespace sewage::sim
