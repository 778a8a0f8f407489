// The pipe network room's cost on a large synthetic network (issue 13 figures): writes a GeoJSON
// network of N nodes (T terminals, each the outlet of a tree in which every node drains to the
// node (k-1)/3 of its tree: gravity sewers, every 10th a pressure main), then times
// load_network (read + JSON parse + every check + the Boost.Graph build), one upstream trace of a
// whole terminal catchment, one of a mid-tree node and one downstream path from a leaf.
// Prints wall-clock figures. Usage: gateway_bench_network [--nodes 100000] [--terminals 10] [--dir DIR]
#include "sewage/gateway/network/model.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using namespace sewage::gateway::network;
using bench_clock = std::chrono::steady_clock;

double ms_since(bench_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(bench_clock::now() - t0).count();
}

/// Positions of the nodes of one tree, terminal first: each node ~50 m from the node it drains to
/// (its parent (k-1)/3), in one of three directions turned by its depth.
std::vector<std::pair<double, double>> tree_positions(std::size_t t, std::size_t per_tree) {
  std::vector<std::pair<double, double>> p(per_tree);
  std::vector<int> depth(per_tree, 0);
  p[0] = {120.0 + 0.2 * static_cast<double>(t), 30.5};
  constexpr double step_deg = 0.00045;  // ~50 m at 30.5 N
  for (std::size_t k = 1; k < per_tree; ++k) {
    const std::size_t up = (k - 1) / 3;
    depth[k] = depth[up] + 1;
    const double a = 2.0943951 * static_cast<double>(k % 3) + 0.7 * depth[k];
    p[k] = {p[up].first + step_deg * std::cos(a), p[up].second + step_deg * std::sin(a)};
  }
  return p;
}

std::string id_of(std::size_t t, std::size_t k) {
  return k == 0 ? "T" + std::to_string(t) : "N" + std::to_string(t) + "-" + std::to_string(k);
}

void write_network(const std::filesystem::path& p, std::size_t nodes, std::size_t terminals) {
  std::ofstream o(p);
  o.precision(9);
  o << "{\"type\":\"FeatureCollection\",\"features\":[\n";
  const std::size_t per_tree = nodes / terminals;
  bool first = true;
  const auto sep = [&] {
    if (!first) o << ",\n";
    first = false;
  };
  for (std::size_t t = 0; t < terminals; ++t) {
    const auto pos = tree_positions(t, per_tree);
    for (std::size_t k = 0; k < per_tree; ++k) {
      const auto [lon, lat] = pos[k];
      sep();
      const char* kind = k == 0 ? "terminal" : k % 50 == 0 ? "collection_point" : "inspection_well";
      o << R"({"type":"Feature","geometry":{"type":"Point","coordinates":[)" << lon << ',' << lat
        << R"(]},"properties":{"id":")" << id_of(t, k) << R"(","kind":")" << kind << '"';
      if (k % 50 == 0 && k != 0) o << R"(,"village":"V)" << t << '-' << k << R"(","households":100)";
      o << "}}";
      if (k == 0) continue;
      const std::size_t to = (k - 1) / 3;
      const auto [lon2, lat2] = pos[to];
      sep();
      o << R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[[)" << lon << ',' << lat << "],["
        << lon2 << ',' << lat2 << R"(]]},"properties":{"id":"S)" << t << '-' << k << R"(","kind":"segment","from":")"
        << id_of(t, k) << R"(","to":")" << id_of(t, to) << R"(","diameter_mm":300,"material":"PVC-U","flow":")"
        << (k % 10 == 0 ? "pressure" : "gravity") << R"("}})";
    }
  }
  o << "\n]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway_bench_network: load and trace a large synthetic pipe network"};
  std::size_t nodes = 100000;
  std::size_t terminals = 10;
  std::string dir = std::filesystem::temp_directory_path().string();
  app.add_option("--nodes", nodes, "nodes in the network")->check(CLI::Range(10, 10'000'000));
  app.add_option("--terminals", terminals, "terminals (one tree each)")->check(CLI::Range(1, 100000));
  app.add_option("--dir", dir, "where the GeoJSON file is written (removed afterwards)");
  CLI11_PARSE(app, argc, argv);
  const auto file = std::filesystem::path(dir) / "gateway_bench_network.geojson";
  write_network(file, nodes, terminals);
  std::printf("synthetic network: %zu nodes, %zu terminals, file %.1f MB\n", nodes, terminals,
              static_cast<double>(std::filesystem::file_size(file)) / 1e6);
  auto t0 = bench_clock::now();
  const auto m = load_network(file);
  const double load_ms = ms_since(t0);
  std::filesystem::remove(file);
  std::printf("load_network (read, parse, check, graph): %.0f ms (%zu nodes, %zu segments, %.1f km)\n", load_ms,
              m.nodes().size(), m.segments().size(), m.total_length_m() / 1000.0);
  t0 = bench_clock::now();
  const auto whole = m.upstream("T0");
  std::printf("upstream trace of terminal T0: %.2f ms (%zu nodes, %zu segments, %lld households, %.1f km)\n",
              ms_since(t0), whole.nodes.size(), whole.segments.size(), static_cast<long long>(whole.households),
              whole.length_m / 1000.0);
  t0 = bench_clock::now();
  const auto mid = m.upstream("N0-4");
  std::printf("upstream trace of node N0-4: %.2f ms (%zu nodes)\n", ms_since(t0), mid.nodes.size());
  const std::string leaf = id_of(0, nodes / terminals - 1);
  t0 = bench_clock::now();
  const auto down = m.downstream(leaf);
  std::printf("downstream path of leaf %s: %.3f ms (%zu segments to %s)\n", leaf.c_str(), ms_since(t0),
              down.segments.size(), down.terminal.c_str());
  return 0;
}
