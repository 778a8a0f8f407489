// Pipe network room: queries on a loaded model (network/model.hpp): upstream catchment and
// downstream path with Boost.Graph breadth-first searches, and the GeoJSON export.
#include "sewage/gateway/network/model.hpp"

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace sewage::gateway::network {

std::string_view node_kind_name(node_kind k) noexcept {
  switch (k) {
    case node_kind::terminal: return "terminal";
    case node_kind::pump_station: return "pump_station";
    case node_kind::inspection_well: return "inspection_well";
    case node_kind::collection_point: return "collection_point";
  }
  return "inspection_well";
}

std::string_view flow_kind_name(flow_kind f) noexcept { return f == flow_kind::gravity ? "gravity" : "pressure"; }

const node* network_model::find_node(std::string_view id) const noexcept {
  const auto it = node_index_.find(std::string(id));
  return it == node_index_.end() ? nullptr : &nodes_[it->second];
}

const segment* network_model::find_segment(std::string_view id) const noexcept {
  const auto it = segment_index_.find(std::string(id));
  return it == segment_index_.end() ? nullptr : &segments_[it->second];
}

namespace {

/// Colours of the vertices a search has touched only (absent = white, the value 0), so that a
/// trace costs O(what it visits), not O(whole network): breadth_first_visit with this map does not
/// initialise every vertex as breadth_first_search would.
using sparse_colors = std::unordered_map<std::size_t, boost::default_color_type>;

/// Records every vertex discovered and every edge examined (the edges into the catchment).
template <class Graph>
struct collect : boost::default_bfs_visitor {
  std::vector<std::size_t>* vertices;
  std::vector<std::size_t>* edges;
  template <class V>
  void discover_vertex(V v, const Graph&) const { vertices->push_back(v); }
  template <class E>
  void examine_edge(E e, const Graph& g) const { edges->push_back(g[e].segment); }
};

/// Records each vertex's tree edge (its predecessor segment) and the first terminal discovered
/// (the nearest in segments). The search runs to its end: downstream of a node is its path and
/// what branches off it, small; BGL's only early exit would be an exception.
struct to_terminal : boost::default_bfs_visitor {
  const std::vector<node>* nodes;
  std::unordered_map<std::size_t, std::size_t>* pred_segment;  ///< vertex -> the segment reaching it
  std::size_t* found;
  template <class E>
  void tree_edge(E e, const graph_type& g) const {
    (*pred_segment)[boost::target(e, g)] = g[e].segment;
  }
  template <class V>
  void discover_vertex(V v, const graph_type&) const {
    if (*found == nodes->size() && (*nodes)[v].kind == node_kind::terminal) *found = v;
  }
};

}  // namespace

catchment network_model::upstream(std::string_view id) const {
  std::size_t start = 0;
  const segment* via = nullptr;
  if (const auto* n = find_node(id)) {
    start = node_index_.at(n->id);
  } else if ((via = find_segment(id)) != nullptr) {
    start = node_index_.at(via->from);
  } else {
    throw std::out_of_range("network: no node or segment \"" + std::string(id) + "\"");
  }
  using rev_t = boost::reverse_graph<graph_type>;
  const rev_t rev(graph_);
  std::vector<std::size_t> vs;
  std::vector<std::size_t> es;
  collect<rev_t> vis;
  vis.vertices = &vs;
  vis.edges = &es;
  sparse_colors color;
  boost::queue<std::size_t> q;
  boost::breadth_first_visit(rev, start, q, vis, boost::associative_property_map<sparse_colors>(color));
  catchment c;
  std::set<std::string> villages;
  for (const auto v : vs) {
    const node& n = nodes_[v];
    c.nodes.push_back(n.id);
    if (n.kind == node_kind::collection_point) {
      c.households += n.households;
      villages.insert(n.village);
    }
  }
  if (via != nullptr) es.insert(es.begin(), segment_index_.at(via->id));
  for (const auto e : es) {
    c.segments.push_back(segments_[e].id);
    c.length_m += segments_[e].length_m;
  }
  c.villages.assign(villages.begin(), villages.end());
  return c;
}

flow_path network_model::downstream(std::string_view id) const {
  std::size_t start = 0;
  const segment* via = nullptr;
  if (const auto* n = find_node(id)) {
    start = node_index_.at(n->id);
  } else if ((via = find_segment(id)) != nullptr) {
    start = node_index_.at(via->to);
  } else {
    throw std::out_of_range("network: no node or segment \"" + std::string(id) + "\"");
  }
  std::unordered_map<std::size_t, std::size_t> pred;  // vertex -> the segment reaching it
  std::size_t found = nodes_.size();
  to_terminal vis;
  vis.nodes = &nodes_;
  vis.pred_segment = &pred;
  vis.found = &found;
  sparse_colors color;
  boost::queue<std::size_t> q;
  boost::breadth_first_visit(graph_, start, q, vis, boost::associative_property_map<sparse_colors>(color));
  flow_path p;
  if (found == nodes_.size()) return p;  // cannot happen on a loaded model (checked at load)
  for (std::size_t v = found;;) {
    p.nodes.push_back(nodes_[v].id);
    if (v == start) break;
    const auto& s = segments_[pred.at(v)];
    p.segments.push_back(s.id);
    p.length_m += s.length_m;
    v = node_index_.at(s.from);
  }
  if (via != nullptr) {
    p.nodes.push_back(via->from);
    p.segments.push_back(via->id);
    p.length_m += via->length_m;
  }
  std::reverse(p.nodes.begin(), p.nodes.end());
  std::reverse(p.segments.begin(), p.segments.end());
  p.terminal = nodes_[found].id;
  return p;
}

std::string network_model::to_geojson() const {
  using nlohmann::json;
  json features = json::array();
  for (const auto& n : nodes_) {
    json p = {{"id", n.id}, {"kind", node_kind_name(n.kind)}};
    if (!n.name.empty()) p["name"] = n.name;
    if (!n.site_id.empty()) p["site_id"] = n.site_id;
    if (n.kind == node_kind::collection_point) {
      p["village"] = n.village;
      p["households"] = n.households;
    }
    if (!n.town.empty()) p["town"] = n.town;
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "Point"}, {"coordinates", {n.longitude_deg, n.latitude_deg}}}},
                        {"properties", std::move(p)}});
  }
  for (const auto& s : segments_) {
    json coords = json::array();
    for (const auto& [lon, lat] : s.coordinates) coords.push_back({lon, lat});
    json p = {{"id", s.id},         {"kind", "segment"},           {"from", s.from},
              {"to", s.to},         {"diameter_mm", s.diameter_mm}, {"material", s.material},
              {"flow", flow_kind_name(s.flow)}, {"length_m", s.length_m}};
    if (s.install_year) p["install_year"] = *s.install_year;
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "LineString"}, {"coordinates", std::move(coords)}}},
                        {"properties", std::move(p)}});
  }
  json doc = {{"type", "FeatureCollection"},
              {"sewage_network", {{"version", meta_.version}, {"illustrative", meta_.illustrative}, {"source", meta_.source}}},
              {"features", std::move(features)}};
  return doc.dump();
}

}  // namespace sewage::gateway::network
