// The engine thread's cost of the county-wide API routes at province scale (issue 16 item 6):
// an engine with N registered terminals, each with two records (so each has today's daily row and
// a presence), some in alert; then /api/summary and /api/terminals (first page of 100, a page in
// the middle following `next`, a town filter, a text search) answered as sewage-gateway answers
// them when they run on the engine's thread, timed by the thread's CPU and by the wall clock.
// Without MQTT or HTTP: what these requests cost the thread that also ingests.
// Usage: gateway_bench_api [--terminals 1000000] [--repeat 5] [--store-dir DIR]
#include "bench_records.hpp"
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using bench::null_publisher;
using bench::thread_cpu_s;

struct timing {
  std::vector<double> cpu_ms, wall_ms;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engine-thread cost of /api/summary and /api/terminals"};
  std::size_t n = 1000000;
  int repeat = 5;
  std::string store_dir = std::filesystem::temp_directory_path().string();
  app.add_option("--terminals", n, "registered terminals (each sends two records)");
  app.add_option("--repeat", repeat, "times each request is answered (the median is printed)");
  app.add_option("--store-dir", store_dir, "directory for the benchmark database");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::err);

  const auto db_path = std::filesystem::path(store_dir) / ("api_bench_" + std::to_string(::getpid()) + ".db");
  {
    config cfg;
    cfg.http_public_read = true;  // anonymous reads: no identity store in the way
    auto terms = bench::terminals(n, cfg.defaults, 0);
    for (std::size_t i = 0; i < n; ++i) terms[i].town = "T" + std::to_string(i % 100);  // 100 towns
    system_clock_source clock;
    sqlite_store db(db_path, 1000);
    null_publisher pub;
    engine eng(cfg, registry(std::move(terms)), db, clock, pub, default_rules());
    const auto t_fill = std::chrono::steady_clock::now();
    for (std::uint64_t round = 1; round <= 2; ++round) {
      const auto ts = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      for (std::size_t i = 0; i < n; ++i) {
        // every 100th terminal's second record is turbid: an open turbidity_high alert
        const double ntu = round == 2 && i % 100 == 0 ? 80.0 : 3.0;
        eng.handle({proto::telemetry_topic(bench::id_of(i)), bench::record_payload(i, round, ntu, ts), false, clock.now()});
        if (eng.pending_writes() >= 5000) eng.flush();
      }
      eng.flush();
    }
    std::printf("%zu terminals, 2 records each, %zu open alerts (filled in %.1f s)\n", n, eng.open_alerts().size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fill).count());

    api routes(eng);
    const auto time_get = [&](const std::string& target, nlohmann::json* out) {
      timing t;
      for (int r = 0; r < repeat; ++r) {
        const double c0 = thread_cpu_s();
        const auto w0 = std::chrono::steady_clock::now();
        const auto resp = routes.handle(http_request{"GET", target, "", ""});
        t.wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count());
        t.cpu_ms.push_back((thread_cpu_s() - c0) * 1e3);
        if (resp.status != 200) {
          std::fprintf(stderr, "GET %s: %u %s\n", target.c_str(), resp.status, resp.body.substr(0, 300).c_str());
          std::exit(1);
        }
        if (out != nullptr) *out = nlohmann::json::parse(resp.body);
      }
      std::printf("  %-48s CPU %8.1f ms   wall %8.1f ms (median of %d)\n", target.c_str(), median(t.cpu_ms),
                  median(t.wall_ms), repeat);
    };
    nlohmann::json page;
    std::printf("engine-thread cost per request:\n");
    time_get("/api/summary", nullptr);
    time_get("/api/terminals?limit=100", &page);
    // the first page's `next` (printed at the end); then a page half way in id order by its cursor
    const std::string cursor = page.value("next", std::string());
    time_get("/api/terminals?limit=100&sort=id&cursor=" + std::string("id:0:") + bench::id_of(n / 2) + ":", nullptr);
    time_get("/api/terminals?limit=100&town=T7", nullptr);
    time_get("/api/terminals?limit=100&q=" + bench::id_of(n - 1), nullptr);
    time_get("/api/terminals?limit=100&state=alert_warning", nullptr);
    time_get("/api/terminals/" + bench::id_of(n / 3), nullptr);
    if (!cursor.empty()) std::printf("first page's next: %s\n", cursor.c_str());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path.string() + suffix);
  return 0;
}
