// The ingest thread's own cost per record, without MQTT: decode, rules, aggregates and the
// batched SQLite commit (sewage::gateway::engine, as sewage-gateway runs it), for one record from
// each of N distinct terminals followed by a second round (the steady state: every terminal
// known). Prints CPU microseconds per record for each round. Complements gateway_bench_ingest,
// whose end-to-end ratio on a 2-core machine depends on this figure.
// Usage: gateway_bench_engine [--terminals 100000] [--store-dir DIR]
#include "bench_records.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <filesystem>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using bench::null_publisher;
using bench::thread_cpu_s;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway engine cost per record"};
  std::size_t n = 100000;
  std::size_t batch = 5000;  // as sewage-gateway: flush at 5000 pending writes
  std::string store_dir = std::filesystem::temp_directory_path().string();
  app.add_option("--terminals", n, "distinct terminals");
  app.add_option("--store-dir", store_dir, "directory for the benchmark database");
  app.add_option("--batch", batch, "records per commit (sewage-gateway: 5000, or fewer per flush_interval_ms)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::err);

  const auto db_path = std::filesystem::path(store_dir) / ("engine_bench_" + std::to_string(::getpid()) + ".db");
  {
    config cfg;
    auto terms = bench::terminals(n, cfg.defaults, cfg.defaults.turbidity_debounce_s);
    system_clock_source clock;
    sqlite_store db(db_path, 1000);
    null_publisher pub;
    engine eng(cfg, registry(std::move(terms)), db, clock, pub, default_rules());
      for (std::uint64_t round = 1; round <= 2; ++round) {
      std::vector<inbound_message> msgs;
      msgs.reserve(n);
      const auto ts = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      for (std::size_t i = 0; i < n; ++i)
        msgs.push_back({proto::telemetry_topic(bench::id_of(i)), bench::record_payload(i, round, 3.0, ts), false, clock.now()});
      const double t0 = thread_cpu_s();
      for (const auto& m : msgs) {
        eng.handle(m);
        if (eng.pending_writes() >= batch) eng.flush();
      }
      eng.flush();
      const double cpu = thread_cpu_s() - t0;
      std::printf("round %llu (%s): %zu records, %.1f us CPU per record (decode, rules, aggregates, SQLite commit)\n",
                  static_cast<unsigned long long>(round), round == 1 ? "first contact" : "steady state", n,
                  cpu / static_cast<double>(n) * 1e6);
    }
    std::printf("accepted %llu\n", static_cast<unsigned long long>(eng.metrics().records_accepted));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path.string() + suffix);
  return 0;
}
