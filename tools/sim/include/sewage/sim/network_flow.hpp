#pragma once
/// \file
/// Routing of the simulated county's sewage over the pipe network (issue 13 item 5): which share
/// of each terminal's influent reaches it, through which pump stations, and what network faults
/// cut off. SIMULATION ONLY; built from the gateway's checked network model
/// (sewage/gateway/network/model.hpp), the same file the gateway loads.
///
/// Shares are by households: a collection point's sewage is `households / households of its
/// terminal's catchment` of the terminal's influent (terminal_model::influent_m3h). It flows along
/// the network's downstream path (network_model::downstream) to the first pump station or the
/// terminal; a station pumps what reaches its wet well (pump_station_model) on along its own path.
/// On the way every segment with a fault in force passes (1 - loss) of what enters it: a blockage
/// (loss 1) stops the flow of everything upstream of it, a burst (exfiltration) loses its fraction.
/// A station that cannot pump stores the inflow in its wet well and then spills it over the
/// overflow: nothing passes it until it pumps again (then the stored volume is pumped on).
///
/// The terminal's equalisation tank smooths the pumped pulses: the share a terminal receives is
/// lag(delivered) / lag(undisturbed influent), both through the same first-order lag of
/// `terminal_smoothing_s` (4 h; small terminals' tanks hold 6-12 h, so this is on the fast side):
/// 1 without faults at any time of day (up to the pumps' ripple), the lost share with faults,
/// reached with that lag.
///
/// Thread-safety: none (the county's loop owns it).

#include "sewage/sim/pump_station.hpp"
#include "sewage/sim/registry_sites.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::network {
class network_model;
}

namespace sewage::sim {

class network_flow {
 public:
  /// A terminal node of the network.
  struct terminal_entry {
    std::string node;             ///< network node id
    std::string site_id;          ///< registry id
    std::int64_t households{0};   ///< households of its whole catchment
  };
  /// A pump station node of the network.
  struct station_entry {
    std::string node;             ///< network node id
    std::string site_id;          ///< registry id
    std::size_t terminal{0};      ///< index into terminals(): where its sewage ends
    std::int64_t households{0};   ///< households upstream of the station (through it)
    double share{0.0};            ///< households / the terminal's households (0..1)
  };

  /// Builds the routing. Every collection point and pump station of `model` drains to a terminal
  /// (the model guarantees it). Throws std::runtime_error naming the node when a collection point's
  /// or station's path ends at no terminal (cannot happen for a loaded model).
  explicit network_flow(const gateway::network::network_model& model, double terminal_smoothing_s = 14400.0);

  [[nodiscard]] const std::vector<terminal_entry>& terminals() const noexcept { return terminals_; }
  /// Stations ordered upstream first (a station comes before every station it pumps into).
  [[nodiscard]] const std::vector<station_entry>& stations() const noexcept { return stations_; }
  /// Index into terminals() / stations() of a site id; -1 when absent.
  [[nodiscard]] int terminal_index(std::string_view site_id) const noexcept;
  [[nodiscard]] int station_index(std::string_view site_id) const noexcept;

  /// One step of `dt_s` simulated seconds (> 0; a non-positive step changes nothing and returns
  /// the last result): `base_m3h[t]` is terminal t's influent without any loss (its whole
  /// catchment); `segment_loss` maps a segment id to the fraction it loses (1 = blocked; absent =
  /// none); `stations[i]` / `faults[i]` are the model and faults of stations()[i] (same size as
  /// stations(), else std::invalid_argument). Advances every station model by dt_s with the
  /// inflow routed to it and returns, per terminal, the share of its influent arriving
  /// (delivered / base: 1 without faults in steady state, < 1 when faults cut sewage off; the
  /// pumped part smoothed as above).
  std::vector<double> step(double dt_s, const std::vector<double>& base_m3h,
                           const std::map<std::string, double, std::less<>>& segment_loss,
                           std::vector<pump_station_model>& stations, const std::vector<station_faults>& faults);

  /// The mean inflow of station i for a terminal influent of `terminal_base_m3h`, m3/h (its
  /// share of it): what size_station() sizes it for.
  [[nodiscard]] double station_mean_inflow_m3h(std::size_t i, double terminal_base_m3h) const noexcept;
  /// The last inflow routed to each station, m3/h (stations() order).
  [[nodiscard]] const std::vector<double>& station_inflow_m3h() const noexcept { return station_inflow_; }

 private:
  /// A stretch of pipe from a source (collection point or station) to the next station or terminal.
  struct hop {
    std::vector<std::string> segments;
    int station{-1};          ///< index into stations_, or -1: ends at `terminal`
    std::size_t terminal{0};
  };
  struct source {
    double share{0.0};        ///< households / the terminal's households
    hop to;
  };
  static double pass(const hop& h, const std::map<std::string, double, std::less<>>& loss) noexcept;

  std::vector<terminal_entry> terminals_;
  std::vector<station_entry> stations_;
  std::vector<source> sources_;      ///< collection points with households
  std::vector<hop> station_hops_;    ///< stations_[i]'s way on
  std::vector<double> station_inflow_;
  std::vector<double> delivered_smoothed_m3h_;  ///< per terminal, the lagged delivered flow
  std::vector<double> base_smoothed_m3h_;       ///< per terminal, the lagged undisturbed influent
  std::vector<double> last_share_;
  double smoothing_s_;
};

/// The share of `terminal`'s households draining through the node or segment `id` (its upstream
/// households / the households of the terminal its downstream path reaches), and that terminal's
/// site id. Throws std::out_of_range naming the id when the model has no such node or segment.
struct through_share {
  std::string terminal_site;
  std::int64_t households{0};
  std::int64_t terminal_households{0};
  double share{0.0};
  /// Site ids of the instrumented nodes from `id` down to the terminal (the node's own site
  /// first when it is one, the terminal last): the sites a fault there can make alert.
  std::vector<std::string> affected_sites;
};
through_share share_through(const gateway::network::network_model& model, std::string_view id);

/// One model per station of `flow` (stations() order), sized for its mean inflow (size_station)
/// from the mean flow of the terminal it drains to (`terminal_params[t]` for terminals()[t]:
/// design capacity x load factor), the registry entry's pump count and rated current, and a wet-
/// well level at the start drawn per station (0.5-1.1 m, seeded by its index): the same stations
/// for the county (county.cpp) and its history (history.hpp). Throws std::runtime_error naming
/// the station when `registry` has no pump station of its site id, std::invalid_argument when
/// terminal_params does not have one entry per terminal.
std::vector<pump_station_model> make_station_models(const network_flow& flow, const std::vector<registry_site>& registry,
                                                    const std::vector<terminal_params>& terminal_params);

/// The step of network_run_before, simulated s.
inline constexpr double network_run_step_s = 30.0;

/// Runs the network as it ran before the simulation starts: from `days` before the start to the
/// start (t = 0), dry weather, no faults, in steps of network_run_step_s, with terminal t's
/// catchment influent `terminals[t]->influent_m3h` at each step (the live models: their t = 0 is
/// the start). Leaves the stations mid-cycle and the terminals' tank lag settled, as a network
/// that has run for weeks (no start-up transient of every wet well at once), and exactly in the
/// state the county's history (history.hpp) ends in. `on_step(t_days, shares)`, when given, is
/// called after every step. Not thread-safe.
void network_run_before(network_flow& flow, std::vector<pump_station_model>& stations,
                        const std::vector<const terminal_model*>& terminals, double days,
                        const std::function<void(double, const std::vector<double>&)>& on_step = {});

}  // namespace sewage::sim
