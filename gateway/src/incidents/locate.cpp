// Fault localisation on the pipe network: alert classes, the suspected section of a flow loss
// (walk up past instrumented nodes that show loss), downstream reach, what an incident affects.
#include "sewage/gateway/incidents/locate.hpp"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_set>

namespace sewage::gateway::incidents {

using network::node_kind;

alert_class classify(const proto::alert_message& a, node_kind at) noexcept {
  const auto t = proto::to_string(a.type);
  // At a terminal: no flow, or far less than this hour normally brings (issue 14: a partial blockage, a burst).
  if (at == node_kind::terminal) return t == "no_flow" || t == "low_flow" ? alert_class::flow_loss : alert_class::none;
  if (at != node_kind::pump_station) return alert_class::none;
  if (t == "pump_fault" || t == "power_lost" || t == "wet_well_high" || t == "pump_no_level_drop" || t == "offline")
    return alert_class::cause;
  if (t == "wet_well_low") return alert_class::flow_loss;
  // Run hours below the station's own normal: less sewage arrives (something upstream).
  if (t == "pump_runtime_abnormal" && a.value && a.threshold && *a.value < *a.threshold) return alert_class::flow_loss;
  return alert_class::none;
}

bool instrumented(const network::node& n) noexcept {
  return n.kind == node_kind::terminal || n.kind == node_kind::pump_station;
}

site_index::site_index(const network::network_model& m) {
  const auto& nodes = m.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (instrumented(nodes[i]) && !nodes[i].site_id.empty()) by_site_.emplace(nodes[i].site_id, i);
}

std::optional<std::size_t> site_index::find(std::string_view site_id) const {
  const auto it = by_site_.find(std::string(site_id));
  if (it == by_site_.end()) return std::nullopt;
  return it->second;
}

section locate_section(const network::network_model& m, std::size_t origin, const health_fn& health) {
  const auto& g = m.graph();
  const auto& nodes = m.nodes();
  section out;
  // Sets, not vectors over the whole network: a search touches a small part of it.
  std::unordered_set<std::size_t> seg_taken;
  std::set<std::size_t> searched_loci;  // walked-up loci already searched (a pressure loop cannot loop us)
  std::deque<std::size_t> todo{origin};
  while (!todo.empty()) {
    const std::size_t locus = todo.front();
    todo.pop_front();
    if (!searched_loci.insert(locus).second) continue;
    std::vector<std::size_t> local;
    std::vector<std::size_t> lossy;
    std::deque<std::size_t> q{locus};
    std::unordered_set<std::size_t> seen{locus};
    while (!q.empty()) {
      const std::size_t v = q.front();
      q.pop_front();
      for (auto [e, end] = boost::in_edges(v, g); e != end; ++e) {
        local.push_back(g[*e].segment);
        const std::size_t u = boost::source(*e, g);
        if (!seen.insert(u).second) continue;
        const auto& n = nodes[u];
        if (instrumented(n)) {
          const auto h = health ? health(n.site_id, n.kind) : site_health::unknown;
          if (h == site_health::ok) continue;  // it still receives flow: nothing above it is suspected
          if (h == site_health::loss) {
            lossy.push_back(u);
            continue;
          }
        }
        q.push_back(u);
      }
    }
    const bool walk_up = std::any_of(lossy.begin(), lossy.end(), [&](std::size_t u) { return searched_loci.count(u) == 0; });
    if (walk_up) {
      for (const auto u : lossy) todo.push_back(u);
      continue;
    }
    out.loci.push_back(locus);
    for (const auto s : local) {
      if (!seg_taken.insert(s).second) continue;
      out.segments.push_back(s);
      out.length_m += m.segments()[s].length_m;
    }
  }
  return out;
}

std::vector<std::size_t> downstream_reach(const network::network_model& m, const std::vector<std::size_t>& sources) {
  const auto& g = m.graph();
  std::unordered_set<std::size_t> in;
  std::deque<std::size_t> q;
  for (const auto s : sources) {
    if (s >= m.nodes().size() || !in.insert(s).second) continue;
    q.push_back(s);
  }
  while (!q.empty()) {
    const auto v = q.front();
    q.pop_front();
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) {
      const std::size_t u = boost::target(*e, g);
      if (!in.insert(u).second) continue;
      q.push_back(u);
    }
  }
  std::vector<std::size_t> out(in.begin(), in.end());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

void set_path(const network::network_model& m, const std::string& from_id, affected& a) {
  const auto path = m.downstream(from_id);
  a.nodes = path.nodes;
  for (const auto& id : path.nodes)
    if (const auto* n = m.find_node(id); n != nullptr && n->kind == node_kind::terminal) a.terminals.push_back(n->site_id);
}

}  // namespace

affected affected_by_root(const network::network_model& m, std::size_t root) {
  affected a;
  const auto& id = m.nodes().at(root).id;
  set_path(m, id, a);
  const auto up = m.upstream(id);
  a.villages = up.villages;
  a.households = up.households;
  return a;
}

affected affected_by_section(const network::network_model& m, const section& s) {
  affected a;
  if (s.loci.empty()) return a;
  const auto& segs = m.segments();
  const auto& locus_id = m.nodes()[s.loci.front()].id;
  // The lowest segment: the first that drains into the first locus.
  const auto lowest = std::find_if(s.segments.begin(), s.segments.end(), [&](std::size_t i) { return segs[i].to == locus_id; });
  set_path(m, lowest != s.segments.end() ? segs[*lowest].id : locus_id, a);
  // Collection points that drain into the section: upstream of its segments' upper ends.
  const auto& g = m.graph();
  const auto& nodes = m.nodes();
  std::unordered_set<std::size_t> seen;
  std::deque<std::size_t> q;
  for (const auto i : s.segments) {
    const auto* n = m.find_node(segs[i].from);
    if (n == nullptr) continue;
    const auto v = static_cast<std::size_t>(n - nodes.data());
    if (!seen.insert(v).second) continue;
    q.push_back(v);
  }
  std::set<std::string> villages;
  while (!q.empty()) {
    const auto v = q.front();
    q.pop_front();
    if (nodes[v].kind == node_kind::collection_point) {
      a.households += nodes[v].households;
      if (!nodes[v].village.empty()) villages.insert(nodes[v].village);
    }
    for (auto [e, end] = boost::in_edges(v, g); e != end; ++e) {
      const std::size_t u = boost::source(*e, g);
      if (!seen.insert(u).second) continue;
      q.push_back(u);
    }
  }
  a.villages.assign(villages.begin(), villages.end());
  return a;
}

}  // namespace sewage::gateway::incidents
