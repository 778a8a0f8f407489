// The incident correlation's cost per alert on a large synthetic network (issue 13 figure).
// Builds a network of N nodes in T terminal catchments (each a 4-ary tree of wells laid out on a
// grid, every 25th node a pump station, every 10th a village collection point), then drives the
// correlator (incidents/correlator.hpp, with its database) with a stream of alert transitions in
// the shapes of the correlation rules:
//   - a pump station goes offline (a CAUSE: new incident rooted there), then the terminal
//     downstream reports no_flow (rule 1: a consequence of it);
//   - a terminal reports no_flow with no cause known (rule 3: the suspected-section search);
//   - clears, oldest first, keeping about --open incidents open (rule resolution).
// Prints µs per transition (raise and clear, database writes included) and, apart, the
// localisation alone (locate_section + downstream_reach, no database).
// Usage: gateway_bench_incidents [--nodes 100000] [--terminals 100] [--alerts 20000] [--open 200]
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/incidents/locate.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/testing/process.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <random>

namespace {

using namespace sewage::gateway;
using nlohmann::json;
using bench_clock = std::chrono::steady_clock;

/// Node k of catchment t (k = 0 is the terminal): its id and kind.
std::string node_id(std::size_t t, std::size_t k) {
  if (k == 0) return "T" + std::to_string(t);
  return (k % 25 == 0 ? "PS" : "N") + std::to_string(t) + "-" + std::to_string(k);
}

std::string network_text(std::size_t nodes, std::size_t terminals) {
  const std::size_t per = nodes / terminals;
  constexpr std::size_t row = 40;         // nodes per grid row of one catchment
  constexpr double pitch_deg = 0.0006;    // grid pitch, ~58 m east-west at 30.5 N
  json features = json::array();
  const auto where = [&](std::size_t t, std::size_t k) {
    return json{118.0 + static_cast<double>(t % 40) * 0.05 + static_cast<double>(k % row) * pitch_deg,
                29.0 + static_cast<double>(t / 40) * 0.05 + static_cast<double>(k / row) * pitch_deg};
  };
  for (std::size_t t = 0; t < terminals; ++t) {
    for (std::size_t k = 0; k < per; ++k) {
      json p{{"id", node_id(t, k)}};
      if (k == 0) p["kind"] = "terminal";
      else if (k % 25 == 0) p["kind"] = "pump_station";
      else if (k % 10 == 0) p.update({{"kind", "collection_point"}, {"village", "V" + std::to_string(t) + "-" + std::to_string(k)}, {"households", 30}});
      else p["kind"] = "inspection_well";
      features.push_back({{"type", "Feature"}, {"geometry", {{"type", "Point"}, {"coordinates", where(t, k)}}}, {"properties", p}});
      if (k == 0) continue;
      const std::size_t up = (k - 1) / 4;  // the node it drains to
      features.push_back({{"type", "Feature"},
                          {"geometry", {{"type", "LineString"}, {"coordinates", {where(t, k), where(t, up)}}}},
                          {"properties", {{"id", "S" + std::to_string(t) + "-" + std::to_string(k)}, {"kind", "segment"},
                                          {"from", node_id(t, k)}, {"to", node_id(t, up)}, {"diameter_mm", 300},
                                          {"material", "PVC-U"}, {"flow", k % 25 == 0 ? "pressure" : "gravity"}}}});
    }
  }
  return json{{"type", "FeatureCollection"}, {"features", features}}.dump();
}

double us_since(bench_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway_bench_incidents: incident correlation cost per alert on a large synthetic network"};
  std::size_t nodes = 100000;
  std::size_t terminals = 100;
  std::size_t alerts = 20000;
  std::size_t keep_open = 200;
  app.add_option("--nodes", nodes, "nodes in the network")->check(CLI::Range(100, 10'000'000));
  app.add_option("--terminals", terminals, "terminal catchments")->check(CLI::Range(1, 100000));
  app.add_option("--alerts", alerts, "alert raises to correlate")->check(CLI::Range(10, 10'000'000));
  app.add_option("--open", keep_open, "incidents kept open (older ones clear)")->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  const std::size_t per = nodes / terminals;
  if (per < 26) {
    std::fprintf(stderr, "need at least 26 nodes per terminal (one pump station)\n");
    return 2;
  }

  auto t0 = bench_clock::now();
  auto model = std::make_shared<const network::network_model>(network::parse_network(network_text(nodes, terminals)));
  std::printf("synthetic network: %zu nodes, %zu segments, %zu terminals, %.0f km; built and loaded in %.0f ms\n",
              model->nodes().size(), model->segments().size(), terminals, model->total_length_m() / 1000.0,
              us_since(t0) / 1000.0);
  network::holder pipes(model);
  sewage::testing::temp_dir dir("bench-incidents");
  { sqlite_store migrate(dir.path() / "g.db", 100); }
  manual_clock clock(*sewage::proto::parse_timestamp("2026-12-01T00:00:00Z"));
  incidents::correlator corr(dir.path() / "g.db", pipes, clock, nullptr);
  corr.set_site_health([](const std::string&, network::node_kind) { return incidents::site_health::ok; });

  std::mt19937_64 rng(13);
  std::uniform_int_distribution<std::size_t> pick_t(0, terminals - 1);
  std::uniform_int_distribution<std::size_t> pick_ps(1, (per - 1) / 25);
  std::deque<sewage::proto::alert_message> open;
  std::uint64_t next_id = 1;
  std::vector<notification_row> rows;
  double raise_us = 0, clear_us = 0;
  std::size_t raises = 0, clears = 0;
  const auto send = [&](sewage::proto::alert_message a) {
    const auto s = bench_clock::now();
    corr.on_transition(a, nullptr, rows);
    (a.state == sewage::proto::alert_state::raised ? raise_us : clear_us) += us_since(s);
    (a.state == sewage::proto::alert_state::raised ? raises : clears) += 1;
    if (a.state == sewage::proto::alert_state::raised) open.push_back(std::move(a));
  };
  const auto raise = [&](const std::string& site, sewage::proto::alert_type type) {
    sewage::proto::alert_message a;
    a.terminal_id = site;
    a.type = type;
    a.alert_id = next_id++;
    a.raised_at = clock.now();
    a.message = "bench";
    send(std::move(a));
  };
  while (raises < alerts) {
    clock.advance(std::chrono::seconds(60));
    const auto t = pick_t(rng);
    if (rng() % 2 == 0) {
      raise(node_id(t, 25 * pick_ps(rng)), sewage::proto::alert_type::offline);  // a station's cause
      raise(node_id(t, 0), sewage::proto::alert_type::no_flow);                   // its terminal's loss
    } else {
      raise(node_id(t, 0), sewage::proto::alert_type::no_flow);  // no cause known: the section search
    }
    while (corr.counters().open > keep_open && !open.empty()) {
      auto a = std::move(open.front());
      open.pop_front();
      a.state = sewage::proto::alert_state::cleared;
      a.cleared_at = clock.now();
      send(std::move(a));
    }
  }
  const auto c = corr.counters();
  std::printf("correlated %zu raises and %zu clears: %.1f us per raise, %.1f us per clear (database writes included); "
              "%llu incidents, %llu consequences, %llu open at the end\n",
              raises, clears, raise_us / static_cast<double>(raises), clear_us / static_cast<double>(std::max<std::size_t>(clears, 1)),
              static_cast<unsigned long long>(c.opened), static_cast<unsigned long long>(c.consequences),
              static_cast<unsigned long long>(c.open));

  // The localisation alone: the section search from a terminal (stations healthy), and the
  // downstream reach of a station.
  const incidents::site_index sites(*model);
  const incidents::health_fn healthy = [](const std::string&, network::node_kind) { return incidents::site_health::ok; };
  const incidents::health_fn silent = [](const std::string&, network::node_kind) { return incidents::site_health::unknown; };
  for (const auto& [name, fn] : {std::pair{"stations healthy", &healthy}, std::pair{"stations silent (whole catchment)", &silent}}) {
    std::size_t segs = 0;
    const std::size_t n = 2000;
    t0 = bench_clock::now();
    for (std::size_t k = 0; k < n; ++k) segs += incidents::locate_section(*model, *sites.find(node_id(k % terminals, 0)), *fn).segments.size();
    std::printf("locate_section from a terminal, %s: %.1f us (%.0f segments)\n", name, us_since(t0) / n,
                static_cast<double>(segs) / n);
  }
  t0 = bench_clock::now();
  std::size_t reached = 0;
  for (std::size_t k = 0; k < 2000; ++k)
    reached += incidents::downstream_reach(*model, {*sites.find(node_id(k % terminals, 25 * (1 + k % ((per - 1) / 25))))}).size();
  std::printf("downstream_reach of a pump station: %.2f us (%.1f nodes)\n", us_since(t0) / 2000, static_cast<double>(reached) / 2000);
  return 0;
}
