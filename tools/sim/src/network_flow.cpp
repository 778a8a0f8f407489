#include "sewage/sim/network_flow.hpp"

#include "sewage/gateway/network/model.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <unordered_map>

namespace sewage::sim {

namespace net = gateway::network;

namespace {

std::string site_of(const net::node& n) { return n.site_id.empty() ? n.id : n.site_id; }

}  // namespace

network_flow::network_flow(const net::network_model& model, double terminal_smoothing_s)
    : smoothing_s_(terminal_smoothing_s) {
  std::unordered_map<std::string, std::size_t> terminal_of_node;
  std::unordered_map<std::string, std::size_t> station_of_node;
  for (const auto& n : model.nodes()) {
    if (n.kind == net::node_kind::terminal) {
      terminal_of_node.emplace(n.id, terminals_.size());
      terminals_.push_back(terminal_entry{n.id, site_of(n), model.upstream(n.id).households});
    }
  }
  std::vector<station_entry> unordered;
  for (const auto& n : model.nodes()) {
    if (n.kind == net::node_kind::pump_station) {
      station_of_node.emplace(n.id, unordered.size());
      unordered.push_back(station_entry{n.id, site_of(n), 0, model.upstream(n.id).households, 0.0});
    }
  }
  // The hop from node `from` along its downstream path to the first station (not itself) or
  // the terminal.
  auto hop_from = [&](const std::string& from) {
    const auto path = model.downstream(from);
    hop h;
    for (std::size_t k = 0; k < path.segments.size(); ++k) {
      h.segments.push_back(path.segments[k]);
      const auto& next = path.nodes.at(k + 1);
      if (const auto it = station_of_node.find(next); it != station_of_node.end()) {
        h.station = static_cast<int>(it->second);
        return h;
      }
      if (const auto it = terminal_of_node.find(next); it != terminal_of_node.end()) {
        h.terminal = it->second;
        return h;
      }
    }
    const auto it = terminal_of_node.find(path.terminal);
    if (it == terminal_of_node.end()) throw std::runtime_error(from + ": its path reaches no terminal");
    h.terminal = it->second;
    return h;
  };
  std::vector<hop> hops;
  for (const auto& s : unordered) hops.push_back(hop_from(s.node));
  // Upstream first: order by the number of stations between a station and its terminal, most first.
  std::vector<int> depth(unordered.size(), -1);
  std::function<int(std::size_t)> depth_of = [&](std::size_t i) -> int {
    if (depth[i] >= 0) return depth[i];
    depth[i] = 0;  // a cycle of pressure mains cannot occur on a loaded model; stops recursion anyway
    depth[i] = hops[i].station < 0 ? 0 : 1 + depth_of(static_cast<std::size_t>(hops[i].station));
    return depth[i];
  };
  std::vector<std::size_t> order(unordered.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i, depth_of(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return depth[a] > depth[b]; });
  std::vector<int> new_index(unordered.size());
  for (std::size_t k = 0; k < order.size(); ++k) new_index[order[k]] = static_cast<int>(k);
  auto terminal_of_hop = [&](std::size_t i) {
    std::size_t j = i;
    for (std::size_t guard = 0; hops[j].station >= 0 && guard <= hops.size(); ++guard)
      j = static_cast<std::size_t>(hops[j].station);
    return hops[j].terminal;
  };
  for (std::size_t k = 0; k < order.size(); ++k) {
    auto s = unordered[order[k]];
    hop h = hops[order[k]];
    if (h.station >= 0) h.station = new_index[static_cast<std::size_t>(h.station)];
    s.terminal = terminal_of_hop(order[k]);
    const auto th = terminals_[s.terminal].households;
    s.share = th > 0 ? static_cast<double>(s.households) / static_cast<double>(th) : 0.0;
    stations_.push_back(std::move(s));
    station_hops_.push_back(std::move(h));
  }
  for (const auto& n : model.nodes()) {
    if (n.kind != net::node_kind::collection_point || n.households <= 0) continue;
    hop h = hop_from(n.id);
    if (h.station >= 0) h.station = new_index[static_cast<std::size_t>(h.station)];
    const std::size_t t = h.station >= 0 ? stations_[static_cast<std::size_t>(h.station)].terminal : h.terminal;
    const auto th = terminals_[t].households;
    sources_.push_back(source{th > 0 ? static_cast<double>(n.households) / static_cast<double>(th) : 0.0, std::move(h)});
  }
  // Sources' terminals for the hops ending at a terminal directly.
  station_inflow_.assign(stations_.size(), 0.0);
  delivered_smoothed_m3h_.assign(terminals_.size(), -1.0);  // < 0: not initialised
  base_smoothed_m3h_.assign(terminals_.size(), -1.0);
  last_share_.assign(terminals_.size(), 1.0);
}

int network_flow::terminal_index(std::string_view site_id) const noexcept {
  for (std::size_t i = 0; i < terminals_.size(); ++i)
    if (terminals_[i].site_id == site_id) return static_cast<int>(i);
  return -1;
}

int network_flow::station_index(std::string_view site_id) const noexcept {
  for (std::size_t i = 0; i < stations_.size(); ++i)
    if (stations_[i].site_id == site_id) return static_cast<int>(i);
  return -1;
}

double network_flow::pass(const hop& h, const std::map<std::string, double, std::less<>>& loss) noexcept {
  double p = 1.0;
  for (const auto& s : h.segments) {
    if (const auto it = loss.find(s); it != loss.end()) p *= 1.0 - std::clamp(it->second, 0.0, 1.0);
  }
  return p;
}

double network_flow::station_mean_inflow_m3h(std::size_t i, double terminal_base_m3h) const noexcept {
  return i < stations_.size() ? stations_[i].share * terminal_base_m3h : 0.0;
}

std::vector<double> network_flow::step(double dt_s, const std::vector<double>& base_m3h,
                                       const std::map<std::string, double, std::less<>>& segment_loss,
                                       std::vector<pump_station_model>& stations,
                                       const std::vector<station_faults>& faults) {
  if (stations.size() != stations_.size() || faults.size() != stations_.size() || base_m3h.size() != terminals_.size())
    throw std::invalid_argument("network_flow::step: one model and one fault set per station, one base per terminal");
  if (!(dt_s > 0)) return last_share_;
  std::vector<double> gravity(terminals_.size(), 0.0);
  std::vector<double> pumped(terminals_.size(), 0.0);
  std::fill(station_inflow_.begin(), station_inflow_.end(), 0.0);
  for (const auto& src : sources_) {
    const std::size_t t = src.to.station >= 0 ? stations_[static_cast<std::size_t>(src.to.station)].terminal
                                             : src.to.terminal;
    const double q = base_m3h[t] * src.share * pass(src.to, segment_loss);
    if (src.to.station >= 0) {
      station_inflow_[static_cast<std::size_t>(src.to.station)] += q;
    } else {
      gravity[t] += q;
    }
  }
  // Upstream first: a station's inflow is complete when its turn comes.
  for (std::size_t i = 0; i < stations_.size(); ++i) {
    stations[i].advance(dt_s, station_inflow_[i], faults[i]);
    const double out = stations[i].take_volumes().pumped_m3 * 3600.0 / dt_s * pass(station_hops_[i], segment_loss);
    if (station_hops_[i].station >= 0) {
      station_inflow_[static_cast<std::size_t>(station_hops_[i].station)] += out;
    } else {
      pumped[station_hops_[i].terminal] += out;
    }
  }
  // Both the delivered flow and the undisturbed influent pass the same first-order lag, so that
  // the share is 1 without faults whatever the time of day, and the pumps' pulses are damped.
  const double alpha = smoothing_s_ > 0 ? 1.0 - std::exp(-dt_s / smoothing_s_) : 1.0;
  for (std::size_t t = 0; t < terminals_.size(); ++t) {
    const double delivered = gravity[t] + pumped[t];
    auto& d = delivered_smoothed_m3h_[t];
    auto& b = base_smoothed_m3h_[t];
    if (b < 0) d = b = base_m3h[t];  // start in steady state
    d += alpha * (delivered - d);
    b += alpha * (base_m3h[t] - b);
    last_share_[t] = b > 0 ? d / b : 1.0;
  }
  return last_share_;
}

through_share share_through(const net::network_model& model, std::string_view id) {
  const auto up = model.upstream(id);
  const auto down = model.downstream(id);
  through_share r;
  const auto* term = model.find_node(down.terminal);
  r.terminal_site = term != nullptr ? site_of(*term) : down.terminal;
  r.households = up.households;
  r.terminal_households = model.upstream(down.terminal).households;
  r.share = r.terminal_households > 0 ? static_cast<double>(r.households) / static_cast<double>(r.terminal_households) : 0.0;
  for (const auto& nid : down.nodes) {
    const auto* n = model.find_node(nid);
    if (n != nullptr && (n->kind == net::node_kind::terminal || n->kind == net::node_kind::pump_station))
      r.affected_sites.push_back(site_of(*n));
  }
  return r;
}

std::vector<pump_station_model> make_station_models(const network_flow& flow, const std::vector<registry_site>& registry,
                                                    const std::vector<terminal_params>& terminal_params) {
  if (terminal_params.size() != flow.terminals().size())
    throw std::invalid_argument("make_station_models: one terminal_params per terminal of the network");
  std::vector<pump_station_model> out;
  std::size_t k = 0;
  for (const auto& st : flow.stations()) {
    const auto r = std::find_if(registry.begin(), registry.end(),
                                [&](const registry_site& e) { return e.id == st.site_id && e.pump_station; });
    if (r == registry.end())
      throw std::runtime_error("pump station node " + st.node + ": site_id \"" + st.site_id +
                               "\" is not a pump station of the registry");
    const auto& tp = terminal_params.at(st.terminal);
    const double terminal_mean_m3h = tp.design_capacity_m3d * tp.load_factor / 24.0;
    std::mt19937_64 g(5000 + k);
    auto params = size_station(flow.station_mean_inflow_m3h(k, terminal_mean_m3h), r->pumps,
                               std::uniform_real_distribution<double>(0.5, 1.1)(g));
    if (r->pump_rated_current_a)
      for (auto& p : params.pumps) p.rated_current_a = *r->pump_rated_current_a;
    out.emplace_back(std::move(params));
    ++k;
  }
  return out;
}

void network_run_before(network_flow& flow, std::vector<pump_station_model>& stations,
                        const std::vector<const terminal_model*>& terminals, double days,
                        const std::function<void(double, const std::vector<double>&)>& on_step) {
  const auto steps = static_cast<std::int64_t>(std::llround(days * 86400.0 / network_run_step_s));
  const std::vector<station_faults> none(stations.size());
  std::vector<double> base(terminals.size());
  for (std::int64_t i = 1; i <= steps; ++i) {
    const double t_days = static_cast<double>(i - steps) * network_run_step_s / 86400.0;
    for (std::size_t t = 0; t < terminals.size(); ++t) base[t] = terminals[t]->influent_m3h(t_days, weather_kind::dry, 0.0);
    const auto shares = flow.step(network_run_step_s, base, {}, stations, none);
    if (on_step) on_step(t_days, shares);
  }
}

}  // namespace sewage::sim
