// Reading never stalls the county (issue 10 item 11): ingest rate, alert latency and /healthz
// latency of a real sewage-gateway process, idle and while clients load 7-day histories.
//
//   gateway_bench_reads [--gateway PATH] [--terminals 38] [--days 7] [--clients 20]
//                       [--burst 20000] [--alerts 20] [--phase-seconds 15] [--work DIR]
//
// 1. Builds a store with a week of county history: --terminals terminals at one record a
//    minute for --days days (38 x 1440 x 7 = 383,040 records) through the engine and the SQLite
//    store directly (the same code as sewage-gateway), stamped up to now. Reused when --work
//    names a folder that already holds it.
// 2. Starts a private mosquitto on a free loopback port (queue limits raised) and the gateway
//    process (--gateway; default the one built with this tree) on that store, on loopback.
// 3. Two phases, the same measurements in each:
//    idle   - no read clients;
//    loaded - --clients clients, each loading a 7-day history (limit 10,000 rows) of its own
//             terminal continuously on a keep-alive connection (client threads at nice 19:
//             they stand for browsers on other machines).
//    Throughout, a steady ingest of --rate records/s (QoS 1) from a quarter of the terminals.
//    Measured in a window of --phase-seconds: /healthz latency (one request every 10 ms,
//    keep-alive) p50/p99/max, and alert latency (--alerts raise/clear pairs of turbidity_high,
//    debounce 0: record published -> alert state received by a subscriber, two broker hops)
//    p50/p99. Then the ingest rate: --burst records of the other terminals published QoS 1 as
//    fast as the broker takes them; rate = records / (first publish ->
//    sewage_gateway_records_accepted_total reached, polled on /metrics every 20 ms).
// Before/after: run it with --gateway pointing at a build of the older tree. The config it writes
// uses only keys every gateway since issue 9 knows (the readers use their defaults).
#include "bench_http.hpp"
#include "bench_records.hpp"
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/process.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using steady = std::chrono::steady_clock;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using bench::free_port;
using bench::http_conn;
using bench::metric;
using bench::pct;

// One out-of-line copy: GCC 12 -O2 reports a false -Wrestrict for "B" + std::to_string(...)
// inlined into long functions.
[[gnu::noinline]] std::string tid(std::size_t i) { return bench::id_of(i); }

proto::timestamp now_ts() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

double ms_since(steady::time_point t0) { return std::chrono::duration<double, std::milli>(steady::now() - t0).count(); }

/// A record of terminal `i` with turbidity `ntu` (no flowmeter: a burst stamped "now" must not
/// look like totalizer jumps).
std::string payload(std::size_t i, std::uint64_t seq, double ntu, proto::timestamp ts) {
  proto::telemetry_record r;
  r.terminal_id = tid(i);
  r.epoch = "bench";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, ntu, std::nullopt, std::nullopt, std::nullopt};
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.82, false, std::nullopt};
  return proto::encode(r);
}

std::unique_ptr<mqtt::async_client> make_client(const std::string& uri, const std::string& id) {
  auto c = std::make_unique<mqtt::async_client>(
      uri, id, mqtt::create_options_builder().mqtt_version(MQTTVERSION_3_1_1).max_buffered_messages(1'000'000).finalize());
  c->connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())->wait();
  return c;
}

/// The week of history, written by the engine into the store at `db_path`.
void build_store(const std::filesystem::path& db_path, std::size_t terminals, int days) {
  config cfg;
  manual_clock clock(now_ts());
  const auto end = std::chrono::floor<std::chrono::minutes>(now_ts());
  const auto start = end - std::chrono::days(days);
  clock.set(start);
  struct null_pub final : publisher {
    void publish(const std::string&, const std::string&, bool) noexcept override {}
  } pub;
  sqlite_store db(db_path, 1000);
  engine eng(cfg, registry(bench::terminals(terminals, cfg.defaults, cfg.defaults.turbidity_debounce_s)), db, clock, pub,
             default_rules());
  const auto t0 = steady::now();
  std::size_t n = 0;
  std::uint64_t seq = 0;
  for (auto t = start + std::chrono::minutes(1); t <= end; t += std::chrono::minutes(1)) {
    ++seq;
    clock.set(t);
    for (std::size_t i = 0; i < terminals; ++i) {
      // a day's rhythm of flow, turbidity well below the limit
      const double ntu = 3.0 + 2.0 * std::sin(static_cast<double>(seq) / 240.0 + static_cast<double>(i));
      proto::telemetry_record r;
      r.terminal_id = tid(i);
      r.epoch = "bench";
      r.seq = seq;
      r.ts = t;
      r.interval_s = 60;
      r.flow = proto::flow_reading{proto::quantity_status::ok, 1.0, 1000.0 + static_cast<double>(seq) / 60.0, std::nullopt};
      r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, std::round(ntu * 100) / 100, std::nullopt,
                                             std::nullopt, std::nullopt};
      r.sludge = proto::sludge_reading{proto::quantity_status::ok, 0.82, false, std::nullopt};
      eng.handle({proto::telemetry_topic(r.terminal_id), proto::encode(r), false, t});
      ++n;
    }
    if (eng.pending_writes() >= 5000) eng.flush(true);
    if (seq % 1440 == 0) eng.tick();
  }
  eng.flush(true);
  std::printf("store: %zu records of %zu terminals over %d days written in %.1f s\n", n, terminals, days,
              ms_since(t0) / 1000.0);
}

void write_registry(const std::filesystem::path& path, std::size_t terminals) {
  std::ofstream f(path);
  for (std::size_t i = 0; i < terminals; ++i) {
    f << "[[terminal]]\nid = \"" << tid(i) << "\"\nname = \"" << tid(i) << "\"\ntown = \"Town"
      << (i % 5) << "\"\nvillage = \"V" << i << "\"\nlatitude = " << 30.4 + 0.001 * static_cast<double>(i)
      << "\nlongitude = " << 120.9 + 0.001 * static_cast<double>(i)
      << "\ndesign_capacity_m3d = 30.0\ndischarge_grade = \"grade_1\"\nreport_interval_s = 60\n\n";
  }
}

struct phase_result {
  std::vector<double> healthz_ms;
  std::size_t healthz_failed{0};
  double ingest_per_s{0};
  std::vector<double> alert_ms;
  std::size_t reads{0};
  std::size_t read_bytes{0};
  std::size_t read_errors{0};
  std::vector<double> read_ms;
};

class bench_run {
 public:
  bench_run(std::string broker, std::uint16_t http_port, std::size_t terminals)
      : broker_(std::move(broker)), port_(http_port), terminals_(terminals), seq_(terminals, 0) {}

  /// The next seqs start above the stored history's.
  void set_next_seq(std::uint64_t s) { std::fill(seq_.begin(), seq_.end(), s); }

  /// Terminals: 0 raises and clears alerts; 1..steady_terminals() take the steady ingest; the
  /// rest take the burst (each terminal's seqs stay in one thread).
  std::size_t steady_terminals() const { return std::max<std::size_t>(1, (terminals_ - 1) / 4); }

  phase_result run_phase(const char* name, std::size_t clients, std::size_t burst, std::size_t alerts, int seconds, int days,
                         double steady_rate) {
    phase_result out;
    std::atomic<bool> stop{false};
    std::mutex m;
    // Steady ingest at steady_rate records/s from terminals 1..steady_terminals().
    std::thread steady([&] {
      auto pub = make_client(broker_, std::string("bench-reads-steady-") + name);
      const auto period = std::chrono::duration<double>(1.0 / steady_rate);
      auto next = steady::now();
      std::size_t k = 0;
      while (!stop) {
        const std::size_t i = 1 + (k++ % steady_terminals());
        const auto p = payload(i, ++seq_[i], 3.0, now_ts());
        pub->publish(proto::telemetry_topic(tid(i)), p.data(), p.size(), 1, false);
        next += std::chrono::duration_cast<steady::duration>(period);
        std::this_thread::sleep_until(next);
      }
      pub->disconnect()->wait();
    });
    // Read clients
    std::vector<std::thread> readers;
    const auto to = now_ts();
    const auto from = to - std::chrono::days(days);
    for (std::size_t c = 0; c < clients; ++c) {
      readers.emplace_back([&, c] {
        // The clients stand for browsers on other machines: on this shared host they must not
        // take CPU from the gateway under test (nice 19; their reads still queue at the gateway).
        const auto tid_self = static_cast<id_t>(::syscall(SYS_gettid));
        (void)::setpriority(PRIO_PROCESS, tid_self, 19);
        http_conn conn(port_);
        const std::string target = "/api/terminals/" + tid(c % terminals_) + "/history?from=" +
                                   proto::format_timestamp(from) + "&to=" + proto::format_timestamp(to) + "&limit=10000";
        while (!stop) {
          const auto t0 = steady::now();
          const auto [status, body] = conn.get(target);
          const double dt = ms_since(t0);
          const std::lock_guard lock(m);
          if (status == 200) {
            ++out.reads;
            out.read_ms.push_back(dt);
            out.read_bytes += body.size();
          } else {
            ++out.read_errors;
            if (status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // every client has a request in flight
    // /healthz sampled while the steady ingest, the alerts and the reads run (not during the burst)
    std::atomic<bool> stop_sampler{false};
    std::thread sampler([&] {
      http_conn conn(port_);
      while (!stop_sampler) {
        const auto t0 = steady::now();
        const auto [status, body] = conn.get("/healthz");
        const double dt = ms_since(t0);
        {
          const std::lock_guard lock(m);
          if (status == 200)
            out.healthz_ms.push_back(dt);
          else
            ++out.healthz_failed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    const auto window_start = steady::now();
    out.alert_ms = alert_latencies(alerts);
    while (ms_since(window_start) < seconds * 1000.0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_sampler = true;
    sampler.join();
    out.ingest_per_s = ingest_burst(burst);
    stop = true;
    steady.join();
    for (auto& t : readers) t.join();
    std::printf("  %-6s done: %zu healthz samples (%zu failed), %zu history reads (%zu errors, %.1f MB)\n", name,
                out.healthz_ms.size(), out.healthz_failed, out.reads, out.read_errors,
                static_cast<double>(out.read_bytes) / 1e6);
    return out;
  }

 private:
  double accepted() {
    const auto [status, body] = metrics_.get("/metrics");
    return status == 200 ? metric(body, "sewage_gateway_records_accepted_total") : -1;
  }

  double ingest_burst(std::size_t n) {
    auto pub = make_client(broker_, "bench-reads-pub");
    std::vector<std::pair<std::string, std::string>> msgs;
    msgs.reserve(n);
    const auto ts = now_ts();
    const std::size_t first = 1 + steady_terminals();
    const std::size_t span = terminals_ > first ? terminals_ - first : 1;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = terminals_ > first ? first + k % span : 0;
      msgs.emplace_back(proto::telemetry_topic(tid(i)), payload(i, ++seq_[i], 3.0, ts));
    }
    const double base = accepted();
    const auto t0 = steady::now();
    std::thread publisher([&] {
      constexpr std::size_t window = 200;
      std::deque<mqtt::delivery_token_ptr> toks;
      for (const auto& [t, p] : msgs) {
        if (toks.size() >= window) {
          toks.front()->wait();
          toks.pop_front();
        }
        toks.push_back(pub->publish(t, p.data(), p.size(), 1, false));
      }
      for (auto& t : toks) t->wait();
    });
    double rate = 0;
    while (ms_since(t0) < 120'000) {
      if (accepted() >= base + static_cast<double>(n)) {
        rate = static_cast<double>(n) / (ms_since(t0) / 1000.0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    publisher.join();
    pub->disconnect()->wait();
    return rate;
  }

  std::vector<double> alert_latencies(std::size_t pairs) {
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::pair<std::string, steady::time_point>> got;
    auto sub = make_client(broker_, "bench-reads-alerts");
    sub->set_message_callback([&](mqtt::const_message_ptr msg) {
      if (msg->is_retained()) return;
      const std::lock_guard lock(m);
      got.emplace_back(msg->get_payload_str(), steady::now());
      cv.notify_all();
    });
    const std::size_t i = 0;
    const auto topic = proto::alert_topic(tid(i), proto::alert_type::turbidity_high);
    sub->subscribe(topic, 1)->wait();
    auto pub = make_client(broker_, "bench-reads-alert-pub");
    std::vector<double> out;
    for (std::size_t k = 0; k < 2 * pairs; ++k) {
      const bool raise = k % 2 == 0;
      {
        const std::lock_guard lock(m);
        got.clear();
      }
      const auto p = payload(i, ++seq_[i], raise ? 50.0 : 1.0, now_ts());
      const auto t0 = steady::now();
      pub->publish(proto::telemetry_topic(tid(i)), p.data(), p.size(), 1, false)->wait();
      std::unique_lock lock(m);
      const bool ok = cv.wait_for(lock, std::chrono::seconds(10), [&] {
        for (const auto& [body, at] : got)
          if (raise ? body.find("\"raised\"") != std::string::npos : body.empty()) return true;
        return false;
      });
      if (!ok) {
        std::printf("  alert %s not seen within 10 s\n", raise ? "raise" : "clear");
        continue;
      }
      for (const auto& [body, at] : got)
        if (raise ? body.find("\"raised\"") != std::string::npos : body.empty()) {
          out.push_back(std::chrono::duration<double, std::milli>(at - t0).count());
          break;
        }
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pub->disconnect()->wait();
    sub->disconnect()->wait();
    return out;
  }

  std::string broker_;
  std::uint16_t port_;
  std::size_t terminals_;
  std::vector<std::uint64_t> seq_;
  http_conn metrics_{port_};
};

/// The light engine routes on `n` terminals (each with a record of today): time of
/// /api/summary and /api/terminals on the engine's thread, in-process (api::handle).
int light_routes(std::size_t n, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "light.db");
  config cfg;
  cfg.http_public_read = true;  // reads without login (identity is not what is measured)
  manual_clock clock(now_ts());
  struct null_pub final : publisher {
    void publish(const std::string&, const std::string&, bool) noexcept override {}
  } pub;
  sqlite_store db(dir / "light.db", 1000);
  engine eng(cfg, registry(bench::terminals(n, cfg.defaults, cfg.defaults.turbidity_debounce_s)), db, clock, pub,
             default_rules());
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    clock.set(now_ts());
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = payload(i, seq, 3.0, clock.now());
      eng.handle({proto::telemetry_topic(tid(i)), p, false, clock.now()});
      if (eng.pending_writes() >= 5000) eng.flush(true);
    }
  }
  eng.flush(true);
  api routes(eng);
  for (const char* target : {"/api/summary", "/api/terminals"}) {
    std::vector<double> ms;
    std::size_t bytes = 0;
    for (int k = 0; k < 10; ++k) {
      const auto t0 = steady::now();
      const auto r = routes.handle({"GET", target, "", ""});
      ms.push_back(ms_since(t0));
      bytes = r.body.size();
    }
    std::printf("%-16s %zu terminals: p50 %.1f ms, max %.1f ms, %zu bytes\n", target, n, pct(ms, 50),
                *std::max_element(ms.begin(), ms.end()), bytes);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway_bench_reads: ingest, alert and /healthz latency of sewage-gateway, idle and under history reads"};
  std::string gateway_bin = SEWAGE_GATEWAY_BINARY;
  std::size_t terminals = 38;
  int days = 7;
  std::size_t clients = 20;
  std::size_t burst = 20000;
  std::size_t alerts = 20;
  int seconds = 15;
  double rate = 100;
  std::string work;
  std::size_t light = 0;
  app.add_option("--light-routes", light,
                 "only time /api/summary and /api/terminals on this many terminals in-process, then exit");
  app.add_option("--gateway", gateway_bin, "sewage-gateway binary to measure");
  app.add_option("--terminals", terminals, "terminals in the registry and the history")->check(CLI::Range(1, 100000));
  app.add_option("--days", days, "days of history at one record a minute")->check(CLI::Range(1, 60));
  app.add_option("--clients", clients, "clients loading 7-day histories in the loaded phase")->check(CLI::Range(0, 200));
  app.add_option("--burst", burst, "records published for the ingest rate")->check(CLI::Range(100, 10000000));
  app.add_option("--alerts", alerts, "raise/clear pairs for the alert latency")->check(CLI::Range(1, 1000));
  app.add_option("--phase-seconds", seconds, "length of each phase's /healthz window")->check(CLI::Range(5, 3600));
  app.add_option("--rate", rate, "steady ingest during each phase, records/s")->check(CLI::Range(1.0, 100000.0));
  app.add_option("--work", work, "work folder (kept; its store is reused when present)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  if (light > 0)
    return light_routes(light, std::filesystem::temp_directory_path() / ("gateway-bench-light-" + std::to_string(::getpid())));
  const bool keep = !work.empty();
  const std::filesystem::path dir =
      keep ? std::filesystem::path(work)
           : std::filesystem::temp_directory_path() / ("gateway-bench-reads-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto db_path = dir / "gateway.db";
  const auto seed = dir / "seed.db";
  // The seed store is built once; each run works on a copy, so before/after start alike.
  if (!std::filesystem::exists(seed)) build_store(seed, terminals, days);
  std::filesystem::remove(db_path);
  std::filesystem::remove(dir / "gateway.db-wal");
  std::filesystem::remove(dir / "gateway.db-shm");
  std::filesystem::remove_all(dir / "gateway.db-inbox.d");
  std::filesystem::copy_file(seed, db_path);

  testing::broker_options opts;
  opts.persistence = false;
  opts.extra_config = "max_queued_messages 6000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n";
  testing::mosquitto_broker broker(dir / "broker", opts);
  const auto port = free_port();
  write_registry(dir / "registry.toml", terminals);
  {
    std::ofstream f(dir / "gateway.toml");
    f << "[mqtt]\nuri = \"" << broker.uri() << "\"\nallow_plaintext = true\nclient_id = \"bench-reads-gw\"\n"
      << "[store]\npath = \"gateway.db\"\n"
      << "[http]\nlisten = \"127.0.0.1:" << port << "\"\npublic_read = true\n"
      << "[registry]\npath = \"registry.toml\"\n"
      << "[alerts]\nturbidity_debounce_s = 0\n"
      << "[log]\nlevel = \"warn\"\n";
  }
  testing::child_process gw({gateway_bin, "--config", (dir / "gateway.toml").string()}, dir / "gateway.log");
  {
    http_conn c(port);
    const auto t0 = steady::now();
    while (c.get("/healthz").first != 200) {
      if (ms_since(t0) > 60'000 || !gw.running()) {
        std::fprintf(stderr, "gateway did not become healthy:\n%s\n", gw.log().c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::printf("gateway %s on 127.0.0.1:%u, broker %s, %zu terminals, %d days\n", gateway_bin.c_str(), port,
              broker.uri().c_str(), terminals, days);

  bench_run run(broker.uri(), port, terminals);
  run.set_next_seq(static_cast<std::uint64_t>(days) * 1440 + 10);
  const auto idle = run.run_phase("idle", 0, burst, alerts, seconds, days, rate);
  const auto loaded = run.run_phase("loaded", clients, burst, alerts, seconds, days, rate);

  std::printf("\n%-8s %12s %14s %14s %12s %12s %12s %10s %12s\n", "phase", "ingest rec/s", "alert p50 ms", "alert p99 ms",
              "healthz p50", "healthz p99", "healthz max", "reads", "read p50 ms");
  for (const auto& [name, r] : {std::pair<const char*, const phase_result&>{"idle", idle}, {"loaded", loaded}}) {
    std::printf("%-8s %12.0f %14.1f %14.1f %12.2f %12.2f %12.2f %10zu %12.0f\n", name, r.ingest_per_s, pct(r.alert_ms, 50),
                pct(r.alert_ms, 99), pct(r.healthz_ms, 50), pct(r.healthz_ms, 99),
                r.healthz_ms.empty() ? 0.0 : *std::max_element(r.healthz_ms.begin(), r.healthz_ms.end()), r.reads,
                pct(r.read_ms, 50));
  }
  const double ingest_ratio = idle.ingest_per_s > 0 ? loaded.ingest_per_s / idle.ingest_per_s : 0;
  const double alert_ratio = pct(idle.alert_ms, 50) > 0 ? pct(loaded.alert_ms, 50) / pct(idle.alert_ms, 50) : 0;
  std::printf("\nloaded/idle: ingest %.2f (goal >= 0.90), alert p50 %.2f (goal <= 1.10); healthz p99 loaded %.1f ms (goal < 50)\n",
              ingest_ratio, alert_ratio, pct(loaded.healthz_ms, 99));
  gw.stop();
  broker.stop();
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
