// RSS per terminal: a registry of N terminals, each with one accepted record (latest record,
// de-dup window, rule states, totalizer cursor), one status and an open alert on 1 % of them.
// Usage: gateway_bench_memory [N=100000] [store dir=/tmp]
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/status.hpp>
#include <sewage/proto/topic.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

namespace {

using namespace sewage;
using namespace sewage::gateway;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

class null_publisher final : public publisher {
 public:
  void publish(const std::string&, const std::string&, bool) noexcept override {}
};

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 100000;
  const std::filesystem::path dir = argc > 2 ? argv[2] : "/tmp";
  const auto db_path = dir / "gateway_bench_memory.db";
  std::filesystem::remove(db_path);
  std::filesystem::remove(db_path.string() + "-wal");
  std::filesystem::remove(db_path.string() + "-shm");
  spdlog::set_level(spdlog::level::err);

  config cfg;
  cfg.startup_grace = std::chrono::seconds(0);
  manual_clock clock(*proto::parse_timestamp("2026-11-29T08:00:00Z"));
  null_publisher pub;
  sqlite_store db(db_path, 1000);
  const long base_kib = rss_kib();
  {
    std::vector<terminal_info> terms;
    terms.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      terminal_info t;
      t.id = "HY-" + std::to_string(1000000 + i);
      t.name = "Village terminal " + std::to_string(i);
      t.town = "Town " + std::to_string(i % 100);
      t.village = "Village " + std::to_string(i);
      t.latitude_deg = 30.0 + static_cast<double>(i % 1000) / 1000;
      t.longitude_deg = 120.0 + static_cast<double>(i / 1000) / 1000;
      t.design_capacity_m3d = 30;
      t.discharge_grade = "grade_1";
      t.limits = cfg.defaults;
      t.limits.turbidity_debounce_s = 0;
      terms.push_back(std::move(t));
    }
    engine eng(cfg, registry(std::move(terms)), db, clock, pub, default_rules());
    const long registry_kib = rss_kib();
    for (std::size_t i = 0; i < n; ++i) {
      const std::string id = "HY-" + std::to_string(1000000 + i);
      proto::telemetry_record r;
      r.terminal_id = id;
      r.epoch = "9f1c2a7b44e0d3a1";
      r.seq = 1042;
      r.ts = clock.now();
      r.interval_s = 60;
      r.flow = proto::flow_reading{proto::quantity_status::ok, 0.62, 18234.75, std::nullopt};
      r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, i % 100 == 0 ? 40.0 : 4.1, 3.8, 46.0, std::nullopt};
      r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.82, false, std::nullopt};
      eng.handle({proto::telemetry_topic(id), proto::encode(r), false, clock.now()});
      proto::status_message st;
      st.terminal_id = id;
      st.state = proto::presence::online;
      st.ts = clock.now();
      st.agent_version = "0.1.0";
      st.config_digest = "3fa2c9d1";
      st.epoch = "9f1c2a7b44e0d3a1";
      st.report_interval_s = 60;
      eng.handle({proto::status_topic(id), proto::encode(st), true, clock.now()});
      if (eng.pending_writes() > 5000) eng.flush();
    }
    eng.flush();
    const long full_kib = rss_kib();
    std::printf("terminals: %zu, open alerts: %zu, records accepted: %llu\n", n, eng.open_alerts().size(),
                static_cast<unsigned long long>(eng.metrics().records_accepted));
    std::printf("RSS baseline %ld KiB, with registry and empty per-terminal state %ld KiB, after one record and status per terminal %ld KiB\n", base_kib, registry_kib, full_kib);
    std::printf("RSS per terminal: %.0f bytes (registry and state slots %.0f + filled state %.0f); target <= 4096 bytes\n",
                static_cast<double>(full_kib - base_kib) * 1024 / static_cast<double>(n),
                static_cast<double>(registry_kib - base_kib) * 1024 / static_cast<double>(n),
                static_cast<double>(full_kib - registry_kib) * 1024 / static_cast<double>(n));
    std::printf("(includes SQLite's page cache, capped at 16 MiB: PRAGMA cache_size in sqlite_store.cpp)\n");
  }
  std::filesystem::remove(db_path);
  std::filesystem::remove(db_path.string() + "-wal");
  std::filesystem::remove(db_path.string() + "-shm");
  return 0;
}
