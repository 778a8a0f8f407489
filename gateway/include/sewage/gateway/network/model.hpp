#pragma once
/// \file
/// The pipe network room (issue 13, gateway/README.md "Pipe network"): the county's sewers as a
/// GeoJSON file (RFC 7946, WGS84 longitude/latitude) loaded into an immutable, checked model held
/// in a Boost.Graph whose edge direction is the flow direction.
///
/// Nodes are Point features (`terminal`, `pump_station`, `inspection_well`, `collection_point`),
/// segments are LineString features (`kind` = `segment`, `from` -> `to`). Lengths are geodesic
/// (GeographicLib `Geodesic::WGS84()` Inverse over consecutive coordinates), in metres.
///
/// Thread-safety: a network_model is immutable after load_network()/parse_network() returned it;
/// every const member may be called from any number of threads at once (share it as
/// `std::shared_ptr<const network_model>`, see network/holder.hpp).
///
/// This room depends on proto only (never on the engine or the store): the registry's terminal ids
/// come in through load_options.

#include <boost/graph/adjacency_list.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sewage::gateway::network {

/// What a node is. Spelled in the file as `terminal`, `pump_station`, `inspection_well`,
/// `collection_point` (node_kind_name()).
enum class node_kind { terminal, pump_station, inspection_well, collection_point };
/// How a segment carries sewage: by gravity (a sewer) or pumped (a pressure main).
enum class flow_kind { gravity, pressure };

/// The file's spelling of `k` ("terminal", ...). Never throws.
[[nodiscard]] std::string_view node_kind_name(node_kind k) noexcept;
/// The file's spelling of `f` ("gravity" or "pressure"). Never throws.
[[nodiscard]] std::string_view flow_kind_name(flow_kind f) noexcept;

/// One node (a Point feature).
struct node {
  std::string id;                 ///< unique over nodes and segments
  node_kind kind{node_kind::inspection_well};
  std::string name;               ///< optional; empty when absent
  std::string site_id;            ///< terminal / pump_station: the registry id (defaults to id); else empty
  std::string village;            ///< collection_point: the village it serves; else empty
  std::int64_t households{0};     ///< collection_point: households served (>= 0); else 0
  std::string town;               ///< optional; empty when absent
  double longitude_deg{0};        ///< WGS84
  double latitude_deg{0};         ///< WGS84
};

/// One pipe segment (a LineString feature); sewage flows from `from` to `to`.
struct segment {
  std::string id;
  std::string from;               ///< node id (upstream end)
  std::string to;                 ///< node id (downstream end)
  double diameter_mm{0};          ///< > 0
  std::string material;           ///< e.g. "HDPE", "PVC-U", "ductile iron"
  flow_kind flow{flow_kind::gravity};
  std::optional<int> install_year;
  /// The line's positions as (longitude_deg, latitude_deg), first at `from`, last at `to`.
  std::vector<std::pair<double, double>> coordinates;
  double length_m{0};             ///< geodesic length, metres
};

/// One problem found in a file: the feature (its `id`, or `features[i]` when it has none, or
/// `(file)` for the document itself) and why.
struct problem {
  std::string feature;
  std::string reason;
};

/// A file that cannot be loaded; problems() lists every problem found, not the first only.
/// what() is "<source>: N problem(s)" followed by one "feature: reason" line per problem.
class network_error : public std::runtime_error {
 public:
  network_error(const std::string& source, std::vector<problem> problems);
  [[nodiscard]] const std::vector<problem>& problems() const noexcept { return problems_; }

 private:
  std::vector<problem> problems_;
};

/// How a file is checked.
struct load_options {
  /// A segment's first/last coordinate must lie within this geodesic distance of its from/to
  /// node's point (metres). Default 5 m: a digitising snap tolerance well under a manhole's size.
  double end_tolerance_m{5.0};
  /// When set, every `terminal` node's site_id must be one of these registry terminal ids
  /// (registry.toml entries of kind terminal); unset = not checked.
  std::optional<std::set<std::string, std::less<>>> registry_terminals;
  /// When set, every `pump_station` node's site_id must be one of these registry pump-station ids
  /// (entries of kind pump_station); unset = not checked.
  std::optional<std::set<std::string, std::less<>>> registry_pump_stations;
};

/// The upstream catchment of a node or segment: everything that drains through it.
struct catchment {
  std::vector<std::string> nodes;     ///< node ids, the traced node itself included (BFS order)
  std::vector<std::string> segments;  ///< segment ids (a traced segment itself included)
  std::vector<std::string> villages;  ///< distinct villages of the collection points, sorted
  std::int64_t households{0};         ///< sum over the collection points
  double length_m{0};                 ///< sum of the segments' lengths, metres
};

/// The path from a node or segment down to a terminal, in flow order.
struct flow_path {
  std::vector<std::string> nodes;     ///< from the traced node (or a segment's `from`) to the terminal
  std::vector<std::string> segments;  ///< the segments between them, in order
  std::string terminal;               ///< the terminal node reached
  double length_m{0};                 ///< metres
};

/// Vertex and edge bundles of the graph: the index into nodes() / segments().
struct vertex_ref {
  std::size_t node{0};
};
struct edge_ref {
  std::size_t segment{0};
};
/// The graph: vertex i is nodes()[i], each edge one segment, directed as the flow.
using graph_type = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, vertex_ref, edge_ref>;

/// Optional top-level `"sewage_network"` member of the file.
struct network_metadata {
  int version{1};
  bool illustrative{false};
  std::string source;
};

struct network_loader;  // internal (load.cpp): fills a network_model

/// A checked network. Built only by load_network()/parse_network(); immutable.
class network_model {
 public:
  [[nodiscard]] const std::vector<node>& nodes() const noexcept { return nodes_; }
  [[nodiscard]] const std::vector<segment>& segments() const noexcept { return segments_; }
  [[nodiscard]] const graph_type& graph() const noexcept { return graph_; }
  [[nodiscard]] const network_metadata& metadata() const noexcept { return meta_; }
  /// The node with this id, or nullptr. Never throws.
  [[nodiscard]] const node* find_node(std::string_view id) const noexcept;
  /// The segment with this id, or nullptr. Never throws.
  [[nodiscard]] const segment* find_segment(std::string_view id) const noexcept;
  /// Everything upstream of the node or segment `id` (BFS on the reversed graph); a segment's
  /// catchment is its `from` node's plus the segment itself. Throws std::out_of_range when `id`
  /// names neither a node nor a segment. O(nodes + segments upstream), not O(network).
  [[nodiscard]] catchment upstream(std::string_view id) const;
  /// The path from the node or segment `id` down to the nearest terminal in segments (BFS on the
  /// graph; a segment's path starts with itself). Throws std::out_of_range when `id` names neither.
  /// Every loaded node has such a path (checked at load); for a terminal the path is the terminal.
  /// O(nodes + segments downstream of `id`), not O(network).
  [[nodiscard]] flow_path downstream(std::string_view id) const;
  /// Sum of every segment's length, metres.
  [[nodiscard]] double total_length_m() const noexcept { return total_length_m_; }
  /// The model as a GeoJSON FeatureCollection (the file's properties plus each segment's
  /// computed `length_m`), compact UTF-8 text.
  [[nodiscard]] std::string to_geojson() const;

 private:
  friend struct network_loader;
  std::vector<node> nodes_;
  std::vector<segment> segments_;
  std::unordered_map<std::string, std::size_t> node_index_;
  std::unordered_map<std::string, std::size_t> segment_index_;
  graph_type graph_;
  network_metadata meta_;
  double total_length_m_{0};
};

/// Reads and checks the GeoJSON file `path`. Throws network_error listing every problem (the
/// source in what() is the path), including an unreadable file or invalid JSON.
[[nodiscard]] network_model load_network(const std::filesystem::path& path, const load_options& options = {});
/// Same for GeoJSON text (source "(text)" in what()).
[[nodiscard]] network_model parse_network(std::string_view geojson, const load_options& options = {});

/// Geodesic length of a polyline of (longitude_deg, latitude_deg) positions on WGS84, metres
/// (GeographicLib Geodesic::WGS84().Inverse summed). Never throws; 0 for fewer than 2 points.
[[nodiscard]] double geodesic_length_m(const std::vector<std::pair<double, double>>& lon_lat) noexcept;

}  // namespace sewage::gateway::network
