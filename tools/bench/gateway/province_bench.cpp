// One province on one gateway (issue 16 item 6): a real sewage-gateway process with --terminals
// registered terminals (default 1,000,000), each reporting one record a minute (16.7 k records/s
// at a million) for --minutes minutes, on this machine. Prints:
//   - start-up: the registry file's size, the time from the process start to /healthz answering,
//     and the gateway's resident memory then;
//   - every --sample-s seconds: records published, accepted by the gateway
//     (sewage_gateway_records_accepted_total), the backlog between them, the rates over the
//     sample, the gateway's RSS and the receipts waiting in it;
//   - at the end: whether the rate was sustained (the backlog at the end is below one sample's
//     worth of records and did not grow over the second half), the mean accepted rate, peak RSS,
//     alerts raised, and the latency of /api/summary and of paging through /api/terminals
//     (limit 100, following `next`), p50 / max of --api-samples requests each, half way through;
//   - then the gateway is stopped (SIGTERM) and started again on the store it wrote: the time to
//     stop, the store's size, the start-up time with that state, RSS, and what /api/summary knows.
//
//   gateway_bench_province [--terminals 1000000] [--minutes 10] [--sample-s 10]
//                          [--gateway PATH] [--work DIR] [--api-samples 20]
//
// The publisher is a thread of this program (Paho C++, QoS 1, at most 256 unacknowledged, so Paho
// never holds more than its max_buffered_messages of 1,000 unsent): terminal
// i publishes its k-th record at start + k min + i x (60 s / N), stamped now, flow 0.62 m3/h with a
// totalizer that agrees, turbidity 3 NTU, sludge 0.82 m. A private mosquitto on a free loopback
// port (queue limits raised), the gateway on SQLite in --work (default a temp folder), both stopped
// by PID. Build with the release preset; the figures are this machine's (2 cores).
#include "bench_http.hpp"
#include "bench_records.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <CLI/CLI.hpp>
#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using steady = std::chrono::steady_clock;

double secs_since(steady::time_point t0) { return std::chrono::duration<double>(steady::now() - t0).count(); }

proto::timestamp now_ts() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

/// Bytes of the files in `dir` whose names start with `prefix` (a store with its WAL and inbox).
std::uintmax_t dir_bytes(const std::filesystem::path& dir, const std::string& prefix) {
  std::uintmax_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const auto rel = std::filesystem::relative(e.path(), dir).string();
    if (e.is_regular_file() && rel.rfind(prefix, 0) == 0) total += e.file_size();
  }
  return total;
}

/// The registry: `n` terminals in 50 towns, 30 m3/d, grade 1, one record a minute.
void write_registry(const std::filesystem::path& path, std::size_t n) {
  std::ofstream f(path);
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = bench::id_of(i);
    f << "[[terminal]]\nid = \"" << id << "\"\nname = \"" << id << "\"\ntown = \"Town " << (i % 50)
      << "\"\nvillage = \"V" << i << "\"\nlatitude = " << 27.0 + 4.0 * static_cast<double>(i % 1000) / 1000.0
      << "\nlongitude = " << 118.0 + 4.0 * static_cast<double>(i / 1000 % 1000) / 1000.0
      << "\ndesign_capacity_m3d = 30.0\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n\n";
  }
}

/// Record `seq` (1, 2, ... one a minute) of terminal `i`: 0.62 m3/h and a totalizer that agrees.
std::string record(std::size_t i, std::uint64_t seq, proto::timestamp ts) {
  proto::telemetry_record r;
  r.terminal_id = bench::id_of(i);
  r.epoch = "province";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  r.flow = proto::flow_reading{proto::quantity_status::ok, 0.62, 1000.0 + 0.62 / 60.0 * static_cast<double>(seq),
                               std::nullopt};
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, 3.0, std::nullopt, std::nullopt, std::nullopt};
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.82, false, std::nullopt};
  return proto::encode(r);
}

struct api_latency {
  std::vector<double> summary_ms;
  std::vector<double> page_ms;
  std::size_t page_rows{0};
  std::size_t errors{0};
};

api_latency measure_api(std::uint16_t port, int samples) {
  api_latency out;
  bench::http_conn c(port);
  for (int k = 0; k < samples; ++k) {
    const auto t0 = steady::now();
    const auto [status, body] = c.get("/api/summary");
    if (status == 200)
      out.summary_ms.push_back(secs_since(t0) * 1000.0);
    else
      ++out.errors;
  }
  std::string target = "/api/terminals?limit=100";
  for (int k = 0; k < samples; ++k) {
    const auto t0 = steady::now();
    const auto [status, body] = c.get(target);
    if (status != 200) {
      ++out.errors;
      continue;
    }
    out.page_ms.push_back(secs_since(t0) * 1000.0);
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("next") || !j["next"].is_string()) break;
    out.page_rows += j["terminals"].size();
    std::string cursor;
    for (const char ch : j["next"].get<std::string>()) {  // percent-encode the cursor
      if (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_' || ch == '.') {
        cursor += ch;
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(ch));
        cursor += hex;
      }
    }
    target = "/api/terminals?limit=100&cursor=" + cursor;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway_bench_province: a sewage-gateway process with a province of terminals, one record a minute each"};
  std::size_t n = 1'000'000;
  double minutes = 10;
  int sample_s = 10;
  int api_samples = 20;
  std::string gateway_bin = SEWAGE_GATEWAY_BINARY;
  std::string work;
  app.add_option("--terminals", n, "registered terminals, each one record a minute")->check(CLI::Range(1000, 5'000'000));
  app.add_option("--minutes", minutes, "how long the terminals report")->check(CLI::Range(1.0, 600.0));
  app.add_option("--sample-s", sample_s, "seconds between progress lines")->check(CLI::Range(1, 600));
  app.add_option("--api-samples", api_samples, "requests per API latency figure")->check(CLI::Range(1, 1000));
  app.add_option("--gateway", gateway_bin, "sewage-gateway binary to measure");
  app.add_option("--work", work, "folder for the broker, registry and store (default: a temp folder, removed)");
  CLI11_PARSE(app, argc, argv);

  const bool keep = !work.empty();
  const std::filesystem::path dir =
      keep ? std::filesystem::path(work)
           : std::filesystem::temp_directory_path() / ("gateway-bench-province-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* name : {"gateway.db", "gateway.db-wal", "gateway.db-shm"}) std::filesystem::remove(dir / name);
  std::filesystem::remove_all(dir / "gateway.db-inbox.d");

  auto t0 = steady::now();
  write_registry(dir / "registry.toml", n);
  std::printf("registry: %zu terminals, %.1f MB, written in %.1f s\n", n,
              static_cast<double>(std::filesystem::file_size(dir / "registry.toml")) / 1e6, secs_since(t0));

  testing::broker_options opts;
  opts.persistence = false;
  opts.extra_config = "max_queued_messages 20000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n";
  testing::mosquitto_broker broker(dir / "broker", opts);
  const auto port = bench::free_port();
  {
    std::ofstream f(dir / "gateway.toml");
    f << "[mqtt]\nuri = \"" << broker.uri() << "\"\nallow_plaintext = true\nclient_id = \"bench-province-gw\"\n"
      << "[store]\npath = \"gateway.db\"\n"
      << "[http]\nlisten = \"127.0.0.1:" << port << "\"\npublic_read = true\n"
      << "[registry]\npath = \"registry.toml\"\n"
      << "[log]\nlevel = \"warn\"\n";
  }
  // Starts the gateway and waits for /healthz; returns the seconds it took (negative: it failed).
  const auto start_gateway = [&](std::optional<testing::child_process>& gw, const char* log_name) {
    const auto t = steady::now();
    gw.emplace(std::vector<std::string>{gateway_bin, "--config", (dir / "gateway.toml").string()}, dir / log_name);
    bench::http_conn c(port);
    while (c.get("/healthz").first != 200) {
      if (secs_since(t) > 1800 || !gw->running()) {
        std::fprintf(stderr, "gateway did not become healthy:\n%s\n", gw->log().c_str());
        return -1.0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return secs_since(t);
  };
  std::optional<testing::child_process> first;
  const double startup_s = start_gateway(first, "gateway.log");
  if (startup_s < 0) return 1;
  auto& gw = *first;
  const double rss_start = bench::rss_mib(gw.pid());
  std::printf("gateway %s: healthy %.1f s after its start, RSS %.0f MiB, broker %s\n", gateway_bin.c_str(), startup_s,
              rss_start, broker.uri().c_str());

  // ---- the province reports ----
  const double rate_per_s = static_cast<double>(n) / 60.0;
  const auto total = static_cast<std::uint64_t>(rate_per_s * minutes * 60.0);
  std::atomic<std::uint64_t> published{0};
  std::atomic<bool> publish_failed{false};
  const auto start = steady::now();
  std::thread publisher([&] {
    try {
      mqtt::async_client pub(broker.uri(), "bench-province-pub",
                             mqtt::create_options_builder().mqtt_version(MQTTVERSION_3_1_1).max_buffered_messages(1000).finalize());
      pub.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())->wait();
      std::deque<mqtt::delivery_token_ptr> toks;
      for (std::uint64_t k = 0; k < total; ++k) {
        // Record k is due at start + k / rate: terminal k mod n, its (k / n + 1)-th record.
        const auto due = start + std::chrono::duration_cast<steady::duration>(
                                     std::chrono::duration<double>(static_cast<double>(k) / rate_per_s));
        if (steady::now() < due) std::this_thread::sleep_until(due);
        const std::size_t i = k % n;
        const auto payload = record(i, k / n + 1, now_ts());
        if (toks.size() >= 256) {
          toks.front()->wait();
          toks.pop_front();
        }
        toks.push_back(pub.publish(proto::telemetry_topic(bench::id_of(i)), payload.data(), payload.size(), 1, false));
        published.fetch_add(1);
      }
      for (auto& t : toks) t->wait();
      pub.disconnect()->wait();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "publisher: %s\n", e.what());
      publish_failed = true;
    }
  });

  bench::http_conn metrics(port);
  auto read_metrics = [&metrics](double& accepted, double& waiting, double& alerts) {
    const auto [status, body] = metrics.get("/metrics");
    if (status != 200) return false;
    accepted = bench::metric(body, "sewage_gateway_records_accepted_total");
    waiting = bench::metric(body, "sewage_gateway_receipts_waiting");
    alerts = bench::metric(body, "sewage_gateway_alerts_raised_total");
    return true;
  };
  std::printf("\n%8s %12s %12s %10s %12s %12s %9s %9s\n", "t s", "published", "accepted", "backlog", "pub/s", "acc/s",
              "RSS MiB", "receipts");
  std::vector<double> backlog_at;
  double peak_rss = rss_start;
  double last_pub = 0;
  double last_acc = 0;
  double last_t = 0;
  double accepted = 0;
  double waiting = 0;
  double alerts = 0;
  api_latency api;
  bool api_measured = false;
  const double run_s = minutes * 60.0;
  for (int s = 1;; ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s * sample_s));
    if (!read_metrics(accepted, waiting, alerts)) {
      std::printf("gateway not answering /metrics (running: %s)\n", gw.running() ? "yes" : "no");
      if (!gw.running()) break;
      continue;
    }
    // The sample's real time: /metrics may answer late under load, so rates are over real seconds.
    const double t_now = secs_since(start);
    const double pub_now = static_cast<double>(published.load());
    const double rss = bench::rss_mib(gw.pid());
    peak_rss = std::max(peak_rss, rss);
    backlog_at.push_back(pub_now - accepted);
    const double dt = std::max(1e-3, t_now - last_t);
    std::printf("%8.1f %12.0f %12.0f %10.0f %12.0f %12.0f %9.0f %9.0f\n", t_now, pub_now, accepted, pub_now - accepted,
                (pub_now - last_pub) / dt, (accepted - last_acc) / dt, rss, waiting);
    std::fflush(stdout);
    last_pub = pub_now;
    last_acc = accepted;
    last_t = t_now;
    // The API under that load, once, half way (the terminals report on meanwhile).
    if (!api_measured && t_now >= run_s / 2) {
      api = measure_api(port, api_samples);
      api_measured = true;
    }
    if (t_now >= run_s) break;
  }
  if (!api_measured) api = measure_api(port, api_samples);
  publisher.join();
  const double elapsed = secs_since(start);
  read_metrics(accepted, waiting, alerts);

  const std::size_t half = backlog_at.size() / 2;
  const double sample_records = rate_per_s * sample_s;
  const bool growing = backlog_at.size() >= 4 && backlog_at.back() > backlog_at[half] + sample_records;
  const bool sustained = !publish_failed && !backlog_at.empty() && backlog_at.back() < sample_records && !growing;
  std::printf("\n%zu terminals, one record a minute (%.0f records/s asked) for %.1f min:\n", n, rate_per_s, minutes);
  std::printf("  sustained: %s (backlog %.0f records at the end, %.0f at mid-run; one sample is %.0f records)\n",
              sustained ? "yes" : "NO", backlog_at.empty() ? 0.0 : backlog_at.back(),
              backlog_at.empty() ? 0.0 : backlog_at[half], sample_records);
  std::printf("  accepted %.0f of %llu published: %.0f records/s over %.0f s\n", accepted,
              static_cast<unsigned long long>(published.load()), accepted / elapsed, elapsed);
  std::printf("  start-up %.1f s; RSS %.0f MiB after start, %.0f MiB peak (%.0f B per terminal)\n", startup_s,
              rss_start, peak_rss, peak_rss * 1048576.0 / static_cast<double>(n));
  std::printf("  alerts raised: %.0f (none expected: every terminal reports in time when the rate is sustained)\n", alerts);
  std::printf("  /api/summary: p50 %.1f ms, max %.1f ms; /api/terminals pages of 100: p50 %.1f ms, max %.1f ms "
              "(%zu rows over %zu pages); %zu errors\n",
              bench::pct(api.summary_ms, 50), bench::pct(api.summary_ms, 100), bench::pct(api.page_ms, 50),
              bench::pct(api.page_ms, 100), api.page_rows, api.page_ms.size(), api.errors);

  // ---- start-up with that state: stop (SIGTERM: the last batch is committed) and start again ----
  t0 = steady::now();
  const int status = gw.stop(std::chrono::minutes(10));
  const double stop_s = secs_since(t0);
  std::optional<testing::child_process> again;
  const double restart_s = start_gateway(again, "gateway-restart.log");
  if (restart_s < 0) return 1;
  const double rss_restart = bench::rss_mib(again->pid());
  // What it knows again: terminals and their states from the store.
  const auto [summary_status, summary] = bench::http_conn(port).get("/api/summary");
  auto doc = nlohmann::json::parse(summary, nullptr, false);
  std::string known = summary;
  if (summary_status == 200 && doc.is_object()) {
    nlohmann::json picked;
    for (const char* k : {"terminals", "online", "offline", "unknown"})
      if (doc.contains(k)) picked[k] = doc[k];
    known = picked.dump();
  }
  std::printf("  stop (SIGTERM) %.1f s, exit status %d; store %.0f MB; start-up again with that state %.1f s, RSS %.0f MiB\n",
              stop_s, status, static_cast<double>(dir_bytes(dir, "gateway.db")) / 1e6, restart_s, rss_restart);
  std::printf("  /api/summary after the restart: %s\n", known.substr(0, 300).c_str());
  again->stop(std::chrono::minutes(10));
  if (!keep) std::filesystem::remove_all(dir);
  return sustained ? 0 : 2;
}
