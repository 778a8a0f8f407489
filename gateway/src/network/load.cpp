// Pipe network room: reading and checking a GeoJSON network file (network/model.hpp). Every
// problem is collected (feature + reason) and thrown together as one network_error.
#include "sewage/gateway/network/model.hpp"

#include <GeographicLib/Geodesic.hpp>
#include <boost/graph/depth_first_search.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace sewage::gateway::network {

namespace {

using nlohmann::json;

/// Below this geodesic length (metres) a segment counts as zero-length: a centimetre is far under
/// any real pipe and above the rounding of coordinates written with 7 decimals (~1 cm).
constexpr double zero_length_m = 0.01;

std::string fmt_m(double m) {
  std::ostringstream o;
  o.precision(m < 10 ? 2 : 1);
  o << std::fixed << m << " m";
  return o.str();
}

class checker {
 public:
  explicit checker(const load_options& o) : opt_(o) {}

  /// Reads and checks `doc`; throws network_error with every problem.
  void run(const json& doc, const std::string& source) {
    read_document(doc);
    check_graph();  // over every node and segment read, so that all problems show at once
    if (!problems_.empty()) throw network_error(source, std::move(problems_));
  }
  // The checked model's parts, moved into a network_model by network_loader.
  std::vector<node> nodes;
  std::vector<segment> segments;
  std::unordered_map<std::string, std::size_t> node_index;
  std::unordered_map<std::string, std::size_t> segment_index;
  network_metadata meta;
  graph_type graph;
  double total_m{0};

 private:
  void add(std::string feature, std::string reason) { problems_.push_back({std::move(feature), std::move(reason)}); }

  void read_document(const json& doc) {
    if (!doc.is_object()) return add("(file)", "must be a GeoJSON object");
    if (!doc.contains("type") || doc["type"] != "FeatureCollection")
      add("(file)", "type: must be \"FeatureCollection\"");
    if (const auto it = doc.find("sewage_network"); it != doc.end()) read_metadata(*it);
    const auto f = doc.find("features");
    if (f == doc.end() || !f->is_array()) return add("(file)", "features: must be an array");
    std::unordered_map<std::string, std::size_t> first_seen;  // id -> feature index
    for (std::size_t i = 0; i < f->size(); ++i) read_feature((*f)[i], i, first_seen);
    // Segment ends (needs every node read first).
    for (auto& s : segments) check_ends(s);
  }

  void read_metadata(const json& j) {
    if (!j.is_object()) return add("(file)", "sewage_network: must be an object");
    if (const auto v = j.find("version"); v != j.end()) {
      if (!v->is_number_integer() || *v != 1) add("(file)", "sewage_network.version: must be the integer 1");
    }
    if (const auto v = j.find("illustrative"); v != j.end()) {
      if (!v->is_boolean()) add("(file)", "sewage_network.illustrative: must be true or false");
      else meta.illustrative = v->get<bool>();
    }
    if (const auto v = j.find("source"); v != j.end()) {
      if (!v->is_string()) add("(file)", "sewage_network.source: must be a string");
      else meta.source = v->get<std::string>();
    }
  }

  /// A property reader for one feature: every ill-typed or missing property is a problem.
  struct props {
    checker& c;
    const json& p;
    std::string who;
    bool ok{true};
    const json* get(const char* key, bool required) {
      const auto it = p.find(key);
      if (it == p.end() || it->is_null()) {
        if (required) fail(key, "missing");
        return nullptr;
      }
      return &*it;
    }
    void fail(const char* key, const std::string& why) {
      c.add(who, std::string(key) + ": " + why);
      ok = false;
    }
    std::string str(const char* key, bool required) {
      const json* v = get(key, required);
      if (v == nullptr) return {};
      if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
        fail(key, "must be a non-empty string");
        return {};
      }
      return v->get<std::string>();
    }
    std::optional<std::int64_t> integer(const char* key, bool required, std::int64_t lo, std::int64_t hi) {
      const json* v = get(key, required);
      if (v == nullptr) return std::nullopt;
      if (!v->is_number_integer()) {
        fail(key, "must be an integer");
        return std::nullopt;
      }
      const auto n = v->get<std::int64_t>();
      if (n < lo || n > hi) {
        fail(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(n));
        return std::nullopt;
      }
      return n;
    }
  };

  static bool position(const json& p, std::pair<double, double>& out) {
    if (!p.is_array() || p.size() < 2 || p.size() > 3) return false;
    for (const auto& x : p)
      if (!x.is_number()) return false;
    const double lon = p[0].get<double>();
    const double lat = p[1].get<double>();
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)) return false;
    out = {lon, lat};
    return true;
  }

  void read_feature(const json& f, std::size_t i, std::unordered_map<std::string, std::size_t>& first_seen) {
    std::string who = "features[" + std::to_string(i) + "]";
    if (!f.is_object() || f.value("type", json()) != "Feature") return add(who, "type: must be \"Feature\"");
    const auto pit = f.find("properties");
    if (pit == f.end() || !pit->is_object()) return add(who, "properties: must be an object");
    const json& p = *pit;
    if (const auto id = p.find("id"); id != p.end() && id->is_string() && !id->get_ref<const std::string&>().empty())
      who = id->get<std::string>();
    props r{*this, p, who};
    const std::string id = r.str("id", true);
    bool fresh = false;  // the first feature with this id: the one kept for the graph checks
    if (!id.empty()) {
      const auto ins = first_seen.emplace(id, i);
      fresh = ins.second;
      if (!fresh) add(who, "duplicate id (also features[" + std::to_string(ins.first->second) + "])");
    }
    const std::string kind = r.str("kind", true);
    const auto git = f.find("geometry");
    const json* geom = git != f.end() && git->is_object() ? &*git : nullptr;
    std::string gtype;  // "" when absent or not a string
    if (geom != nullptr)
      if (const auto t = geom->find("type"); t != geom->end() && t->is_string()) gtype = t->get<std::string>();
    bool geom_ok = false;
    if (kind == "segment") {
      segment s;
      s.id = id;
      s.from = r.str("from", true);
      s.to = r.str("to", true);
      if (const json* d = r.get("diameter_mm", true)) {
        if (!d->is_number() || !(d->get<double>() > 0)) r.fail("diameter_mm", "must be a number > 0");
        else s.diameter_mm = d->get<double>();
      }
      s.material = r.str("material", true);
      const std::string flow = r.str("flow", true);
      if (flow == "gravity") s.flow = flow_kind::gravity;
      else if (flow == "pressure") s.flow = flow_kind::pressure;
      else if (!flow.empty()) r.fail("flow", "must be \"gravity\" or \"pressure\", got \"" + flow + "\"");
      if (const auto y = r.integer("install_year", false, 1850, 2100)) s.install_year = static_cast<int>(*y);
      if (gtype != "LineString") {
        r.fail("geometry", "a segment must be a LineString");
      } else {
        const auto c = geom->find("coordinates");
        bool good = c != geom->end() && c->is_array() && c->size() >= 2;
        if (good)
          for (const auto& pos : *c) {
            std::pair<double, double> ll;
            if (!position(pos, ll)) {
              good = false;
              break;
            }
            s.coordinates.push_back(ll);
          }
        if (!good) r.fail("geometry", "coordinates: must be 2 or more [longitude, latitude] positions in range");
        geom_ok = good;
      }
      if (!s.from.empty() && s.from == s.to) r.fail("to", "is the same node as from (\"" + s.from + "\")");
      if (!geom_ok) s.coordinates.clear();
      s.length_m = geodesic_length_m(s.coordinates);
      if (geom_ok && !(s.length_m >= zero_length_m)) add(who, "zero-length segment (" + fmt_m(s.length_m) + ")");
      // Kept even with other problems, so that the graph checks still run over the whole file.
      if (!fresh) return;
      segment_index.emplace(id, segments.size());
      segments.push_back(std::move(s));
      return;
    }
    node n;
    n.id = id;
    if (kind == "terminal") n.kind = node_kind::terminal;
    else if (kind == "pump_station") n.kind = node_kind::pump_station;
    else if (kind == "inspection_well") n.kind = node_kind::inspection_well;
    else if (kind == "collection_point") n.kind = node_kind::collection_point;
    else if (!kind.empty()) {
      r.fail("kind", "unknown kind \"" + kind +
                         "\" (terminal, pump_station, inspection_well, collection_point or segment)");
      return;
    } else {
      return;  // no kind: reported above
    }
    n.name = r.str("name", false);
    n.town = r.str("town", false);
    if (n.kind == node_kind::terminal || n.kind == node_kind::pump_station) {
      n.site_id = r.str("site_id", false);
      if (n.site_id.empty()) n.site_id = id;
    }
    if (n.kind == node_kind::collection_point) {
      n.village = r.str("village", true);
      if (const auto h = r.integer("households", true, 0, 10'000'000)) n.households = *h;
    }
    if (gtype != "Point") {
      r.fail("geometry", "a node (" + kind + ") must be a Point");
    } else {
      std::pair<double, double> ll;
      const auto c = geom->find("coordinates");
      if (c == geom->end() || !position(*c, ll)) r.fail("geometry", "coordinates: must be [longitude, latitude] in range");
      else geom_ok = true;
      n.longitude_deg = ll.first;
      n.latitude_deg = ll.second;
    }
    if (n.kind == node_kind::terminal && opt_.registry_terminals && !n.site_id.empty() &&
        opt_.registry_terminals->count(n.site_id) == 0)
      r.fail("site_id", "\"" + n.site_id + "\" is not a terminal of the registry");
    if (n.kind == node_kind::pump_station && opt_.registry_pump_stations && !n.site_id.empty() &&
        opt_.registry_pump_stations->count(n.site_id) == 0)
      r.fail("site_id", "\"" + n.site_id + "\" is not a pump station of the registry");
    if (!fresh) return;
    node_index.emplace(id, nodes.size());
    node_geom_ok_.push_back(geom_ok);
    nodes.push_back(std::move(n));
  }

  void check_end(const segment& s, const std::string& which, const std::string& node_id,
                 const std::pair<double, double>& pos) {
    const auto it = node_index.find(node_id);
    if (it == node_index.end()) return add(s.id, which + ": unknown node \"" + node_id + "\"");
    if (!node_geom_ok_[it->second]) return;  // its geometry problem is reported on the node
    const node& n = nodes[it->second];
    double d = 0;
    GeographicLib::Geodesic::WGS84().Inverse(pos.second, pos.first, n.latitude_deg, n.longitude_deg, d);
    if (!(d <= opt_.end_tolerance_m))
      add(s.id, std::string(which == "from" ? "first" : "last") + " coordinate is " + fmt_m(d) + " from its " + which +
                    " node \"" + node_id + "\" (tolerance " + fmt_m(opt_.end_tolerance_m) + ")");
  }
  void check_ends(const segment& s) {
    if (s.coordinates.empty() || s.from.empty() || s.to.empty()) return;  // reported already
    check_end(s, "from", s.from, s.coordinates.front());
    check_end(s, "to", s.to, s.coordinates.back());
  }

  /// DFS visitor: each back edge of the gravity subgraph closes a cycle.
  struct back_edges : boost::default_dfs_visitor {
    std::vector<std::size_t>* out;
    template <class E, class G>
    void back_edge(E e, const G& g) const { out->push_back(g[e].segment); }
  };
  /// BFS visitor on the reversed graph from the terminals: marks the nodes that drain to one.
  struct reach : boost::default_bfs_visitor {
    std::vector<char>* seen;
    template <class V, class G>
    void discover_vertex(V v, const G&) const { (*seen)[v] = 1; }
  };

  void check_graph() {
    graph = graph_type(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) graph[i].node = i;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const auto& s = segments[i];
      if (node_index.count(s.from) == 0 || node_index.count(s.to) == 0) continue;  // reported
      boost::add_edge(node_index.at(s.from), node_index.at(s.to), edge_ref{i}, graph);
      total_m += s.length_m;
    }
    // Gravity flow that loops: back edges of a DFS over the gravity segments only.
    const auto gravity_only = [this](const graph_type::edge_descriptor& e) {
      return segments[graph[e].segment].flow == flow_kind::gravity;
    };
    boost::filtered_graph<graph_type, std::function<bool(const graph_type::edge_descriptor&)>> gravity(
        graph, std::function<bool(const graph_type::edge_descriptor&)>(gravity_only));
    std::vector<std::size_t> loops;
    back_edges dfs_vis;
    dfs_vis.out = &loops;
    boost::depth_first_search(gravity, boost::visitor(dfs_vis));
    for (const auto si : loops) {
      const auto& s = segments[si];
      add(s.id, "gravity flow loops: this segment from \"" + s.from + "\" to \"" + s.to +
                    "\" closes a cycle of gravity segments");
    }
    // Nodes that drain nowhere: not reached by a BFS from the terminals against the flow.
    std::vector<char> seen(nodes.size(), 0);
    std::vector<boost::default_color_type> color(nodes.size(), boost::white_color);
    const auto rev = boost::make_reverse_graph(graph);
    reach bfs_vis;
    bfs_vis.seen = &seen;
    const auto cmap = boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, rev));
    // breadth_first_visit keeps the colours between terminals: O(nodes + segments) in all.
    boost::queue<std::size_t> q;
    for (std::size_t v = 0; v < nodes.size(); ++v) {
      if (nodes[v].kind != node_kind::terminal || seen[v]) continue;
      boost::breadth_first_visit(rev, v, q, bfs_vis, cmap);
    }
    for (std::size_t v = 0; v < nodes.size(); ++v)
      if (!seen[v])
        add(nodes[v].id, "drains nowhere: no path along the flow direction to a terminal");
  }

  const load_options& opt_;
  std::vector<problem> problems_;
  std::vector<char> node_geom_ok_;  ///< per nodes[i]: its Point was valid
};

std::string problems_text(const std::string& source, const std::vector<problem>& ps) {
  std::string s = source + ": " + std::to_string(ps.size()) + (ps.size() == 1 ? " problem" : " problems");
  for (const auto& p : ps) s += "\n  " + p.feature + ": " + p.reason;
  return s;
}

}  // namespace

struct network_loader {
  static network_model parse(std::string_view text, const load_options& options, const std::string& source) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      throw network_error(source, {{"(file)", std::string("not valid JSON: ") + e.what()}});
    }
    checker c(options);
    try {
      c.run(doc, source);
    } catch (const json::exception& e) {  // a shape the checks did not foresee: still a network_error
      throw network_error(source, {{"(file)", std::string("unexpected JSON shape: ") + e.what()}});
    }
    network_model m;
    m.nodes_ = std::move(c.nodes);
    m.segments_ = std::move(c.segments);
    m.node_index_ = std::move(c.node_index);
    m.segment_index_ = std::move(c.segment_index);
    m.graph_ = std::move(c.graph);
    m.meta_ = c.meta;
    m.total_length_m_ = c.total_m;
    return m;
  }
};

network_error::network_error(const std::string& source, std::vector<problem> problems)
    : std::runtime_error(problems_text(source, problems)), problems_(std::move(problems)) {}

double geodesic_length_m(const std::vector<std::pair<double, double>>& lon_lat) noexcept {
  const auto& g = GeographicLib::Geodesic::WGS84();
  double total = 0;
  for (std::size_t i = 1; i < lon_lat.size(); ++i) {
    double s12 = 0;
    g.Inverse(lon_lat[i - 1].second, lon_lat[i - 1].first, lon_lat[i].second, lon_lat[i].first, s12);
    total += s12;
  }
  return total;
}

network_model parse_network(std::string_view geojson, const load_options& options) {
  return network_loader::parse(geojson, options, "(text)");
}

network_model load_network(const std::filesystem::path& path, const load_options& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw network_error(path.string(), {{"(file)", "cannot be opened for reading"}});
  std::ostringstream buf;
  buf << in.rdbuf();
  return network_loader::parse(buf.str(), options, path.string());
}

}  // namespace sewage::gateway::network
