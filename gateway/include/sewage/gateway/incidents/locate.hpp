#pragma once
/// \file
/// Fault localisation on the pipe network (issue 13 item 3, gateway/README.md "Incidents"): which
/// alerts count, which sites are healthy, the suspected section of a flow loss and what an
/// incident affects. Pure functions over an immutable network::network_model.
///
/// Thread-safety: every function is reentrant; a site_index is immutable after construction.

#include "sewage/gateway/network/model.hpp"

#include <sewage/proto/alert.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sewage::gateway::incidents {

/// What an alert is to the correlation, given the kind of the node its site is:
/// - cause: at a pump station, `pump_fault`, `power_lost`, `wet_well_high`, `pump_no_level_drop`
///   or `offline`;
/// - flow_loss: at a terminal `no_flow` or `low_flow`; at a pump station `wet_well_low`, or
///   `pump_runtime_abnormal` below the station's normal (value < threshold);
/// - none: anything else (passes through the correlator unchanged).
/// Compared by wire name (proto::to_string), so it holds for any proto version. Never throws.
enum class alert_class { none, cause, flow_loss };
[[nodiscard]] alert_class classify(const proto::alert_message& a, network::node_kind at) noexcept;

/// How a monitored site looks to the walk-up of a flow loss: `ok` = online with no open cause or
/// flow-loss alert (a HEALTHY instrumented node: what is upstream of it still flows); `loss` =
/// online with such an alert; `offline` / `unknown` = no judgement (the search goes past it).
enum class site_health { ok, loss, offline, unknown };
/// Health of the site `site_id` whose network node has kind `kind`. Called on the correlator's
/// thread; must not block.
using health_fn = std::function<site_health(const std::string& site_id, network::node_kind kind)>;

/// Terminal and pump-station nodes by their registry site id. O(nodes) to build.
class site_index {
 public:
  explicit site_index(const network::network_model& m);
  /// The node index of site `site_id`, if a terminal or pump-station node names it.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view site_id) const;

 private:
  std::unordered_map<std::string, std::size_t> by_site_;
};

/// True for terminal and pump-station nodes (they carry a monitored site).
[[nodiscard]] bool instrumented(const network::node& n) noexcept;

/// A suspected section: segment indices (into model.segments()) and the nodes it drains to.
struct section {
  std::vector<std::size_t> segments;  ///< breadth-first from the loci upwards, each once
  std::vector<std::size_t> loci;      ///< node indices the section drains to
  double length_m{0};                 ///< sum of the segments' lengths, m
};

/// The section a flow loss observed at node `origin` is located to (contract rule 3): the segments
/// of origin's upstream catchment that are not upstream of a HEALTHY instrumented node (`health`
/// says ok; the search stops there). When the nearest instrumented nodes upstream include some
/// that show loss themselves, the loss is theirs: the section is located above them instead
/// (walk up, repeatedly), and origin's own section is dropped. Nodes offline or unknown are
/// searched past. In a network that is not a tree (a segment reaching origin both through a
/// healthy node and around it) such a segment stays suspected: the section errs on the large side.
/// Cost O(segments searched). Throws only bad_alloc.
[[nodiscard]] section locate_section(const network::network_model& m, std::size_t origin, const health_fn& health);

/// Every node reachable downstream of `sources` (themselves included): node indices, sorted
/// (std::binary_search for membership). O(nodes reached).
[[nodiscard]] std::vector<std::size_t> downstream_reach(const network::network_model& m, const std::vector<std::size_t>& sources);

/// What an incident affects.
struct affected {
  std::vector<std::string> nodes;      ///< node ids, flow order, down to the terminal
  std::vector<std::string> terminals;  ///< site ids of the terminal nodes among them
  std::vector<std::string> villages;   ///< sorted, distinct
  std::int64_t households{0};
};
/// Rooted at node `root`: the downstream path of the root to its terminal, and the villages /
/// households of the root's upstream catchment.
[[nodiscard]] affected affected_by_root(const network::network_model& m, std::size_t root);
/// A section: the downstream path of its lowest segment (the first segment draining into its
/// first locus; the locus itself when the section is empty), and the villages / households that
/// drain into the section (collection points upstream of its segments' upper ends).
[[nodiscard]] affected affected_by_section(const network::network_model& m, const section& s);

}  // namespace sewage::gateway::incidents
