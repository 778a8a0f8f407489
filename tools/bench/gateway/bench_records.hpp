#pragma once
/// \file
/// Synthetic terminals and records shared by the gateway benchmarks: N distinct terminals
/// "B1000000", "B1000001", ... with one plausible telemetry record each per round.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/registry.hpp"

#include <sewage/proto/telemetry.hpp>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace sewage::gateway::bench {

/// A publisher that drops everything: the benchmarks' engines publish alerts and receipts to nobody.
class null_publisher final : public publisher {
 public:
  void publish(const std::string&, const std::string&, bool) noexcept override {}
};

/// CPU time of the calling thread, s (CLOCK_THREAD_CPUTIME_ID).
inline double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline std::string id_of(std::size_t i) { return "B" + std::to_string(1000000 + i); }

/// `n` registered terminals with the county defaults; `turbidity_debounce_s` overrides the
/// default debounce (0 = an alert on the first high record, for latency measurements).
inline std::vector<terminal_info> terminals(std::size_t n, const thresholds& defaults, std::int64_t turbidity_debounce_s) {
  std::vector<terminal_info> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    terminal_info t;
    t.id = id_of(i);
    t.name = t.id;
    t.design_capacity_m3d = 30;
    t.discharge_grade = "grade_1";
    t.limits = defaults;
    t.limits.turbidity_debounce_s = turbidity_debounce_s;
    out.push_back(std::move(t));
  }
  return out;
}

/// The encoded record number `seq` of terminal `i`: 0.62 m3/h, totalizer 1000 + seq m3, `ntu`.
inline std::string record_payload(std::size_t i, std::uint64_t seq, double ntu, proto::timestamp ts) {
  proto::telemetry_record r;
  r.terminal_id = id_of(i);
  r.epoch = "bench";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  r.flow = proto::flow_reading{proto::quantity_status::ok, 0.62, 1000.0 + static_cast<double>(seq), std::nullopt};
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, ntu, std::nullopt, std::nullopt, std::nullopt};
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.82, false, std::nullopt};
  return proto::encode(r);
}

}  // namespace sewage::gateway::bench
