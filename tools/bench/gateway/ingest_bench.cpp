// Full-pipeline ingest rate vs the broker's delivery rate to a bare subscriber, and alert latency.
//
//   gateway_bench_ingest [--terminals 100000] [--alerts 1000] [--broker tcp://127.0.0.1:PORT] [--backend sqlite|postgresql]
//
// Without --broker it starts its own mosquitto on a free loopback port (no persistence, queue
// limits raised so that nothing is dropped) and stops it by PID at the end.
// The records are published by a child process (this program with --publish-only): Paho C runs
// one receive thread for all clients of a process, so a publisher in the same process would
// share it with the subscriber under test and slow both phases down in different ways.
//
// Phases 1 and 2 alternate for --rounds rounds (default 3) and the medians are compared.
// Phase 1: a bare Paho subscriber (callback API) on sewage/v1/+/telemetry, QoS 1; one record from
//          each of N distinct terminals is published QoS 1; rate = N / (last - first arrival).
// Phase 2: the gateway pipeline (mqtt_link -> engine -> SQLite, same code as sewage-gateway) with a
//          registry of the N terminals; the same publication; rate = N / (first arrival -> all
//          records accepted and committed, and their receipts handed to the MQTT client).
// Phase 3: alert latency: records that raise turbidity_high (no debounce) are published one at a
//          time; latency = alert received by a subscriber - record published (two broker hops,
//          so an upper bound of "record received -> alert published").
#include "bench_records.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/mqtt_link.hpp"
#include "sewage/gateway/store_factory.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/postgres.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using steady = std::chrono::steady_clock;

using bench::id_of;
using bench::record_payload;

proto::timestamp now_ts() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::unique_ptr<mqtt::async_client> make_client(const std::string& uri, const std::string& id) {
  auto c = std::make_unique<mqtt::async_client>(
      uri, id,
      mqtt::create_options_builder().mqtt_version(MQTTVERSION_3_1_1).max_buffered_messages(1'000'000).finalize());
  c->connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())->wait();
  return c;
}

/// Publishes QoS 1 with a bounded window of unacknowledged messages. Paho C scans its command
/// list per publish, so an unbounded burst of 100,000 makes the publisher itself the bottleneck.
void publish_all(mqtt::async_client& pub, const std::vector<std::pair<std::string, std::string>>& msgs) {
  constexpr std::size_t window = 200;
  std::deque<mqtt::delivery_token_ptr> toks;
  for (const auto& [t, p] : msgs) {
    if (toks.size() >= window) {
      toks.front()->wait();
      toks.pop_front();
    }
    toks.push_back(pub.publish(t, p.data(), p.size(), 1, false));
  }
  for (auto& t : toks) t->wait();
}

/// Topic root of the bare rounds: as long as "sewage" so that the broker does the same work, but
/// outside the gateway's subscriptions (the pipeline stays connected during bare rounds).
constexpr const char* bare_root = "bare00";

std::string with_root(std::string topic, const std::string& root) {
  if (!root.empty()) topic.replace(0, topic.find('/'), root);
  return topic;
}

std::vector<std::pair<std::string, std::string>> make_records(std::size_t n, std::uint64_t seq, const std::string& root) {
  std::vector<std::pair<std::string, std::string>> msgs;
  msgs.reserve(n);
  const auto ts = now_ts();
  for (std::size_t i = 0; i < n; ++i)
    msgs.emplace_back(with_root(proto::telemetry_topic(id_of(i)), root), record_payload(i, seq, 3.0, ts));
  return msgs;
}

/// Publishes one record with sequence number `seq` from each of `n` terminals, from a child
/// process (see the file comment), and waits for it to finish.
void publish_from_child(const std::string& broker, std::size_t n, std::uint64_t seq, const std::string& root,
                        const std::filesystem::path& log) {
  testing::child_process child({std::filesystem::read_symlink("/proc/self/exe").string(), "--publish-only", "--broker",
                                broker, "--terminals", std::to_string(n), "--seq", std::to_string(seq), "--root",
                                root.empty() ? std::string("sewage") : root},
                               log);
  const auto status = child.wait_for_exit(std::chrono::minutes(10));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error("publisher child failed; see " + log.string() + ": " + child.log());
}

bool wait_until(const std::function<bool()>& cond, std::chrono::seconds timeout) {
  const auto end = steady::now() + timeout;
  while (steady::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway ingest and alert latency benchmark"};
  std::string broker;
  std::size_t n = 100000;
  std::size_t alerts = 1000;
  std::string store_dir;  // default: the run's own temp directory
  bool publish_only = false;
  bool no_journal = false;
  int rounds = 3;
  std::uint64_t seq = 1;
  app.add_option("--broker", broker,
                 "broker URI, e.g. tcp://127.0.0.1:18830 (raise its queue limits!); default: start a private mosquitto");
  app.add_option("--terminals", n, "distinct terminals, one record each");
  app.add_option("--alerts", alerts, "alerts for the latency phase");
  app.add_option("--store-dir", store_dir, "directory for the benchmark database (default: a temp directory)");
  app.add_option("--rounds", rounds, "alternating bare/pipeline rounds; the figures are medians")->check(CLI::PositiveNumber);
  std::string backend = "sqlite";
  app.add_option("--backend", backend, "store backend: sqlite, or postgresql (a server this program starts on a free"
                 " loopback port and stops by PID)")->check(CLI::IsMember({"sqlite", "postgresql"}));
  app.add_flag("--no-journal", no_journal, "run the pipeline without the inbox journal (to measure its cost)");
  app.add_flag("--publish-only", publish_only, "internal: publish one record per terminal with --seq and exit");
  app.add_option("--seq", seq, "internal: sequence number for --publish-only");
  std::string root;
  app.add_option("--root", root, "internal: topic root for --publish-only");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::err);
  alerts = std::min(alerts, n);
  const auto run_id = std::to_string(::getpid());

  if (publish_only) {
    if (broker.empty()) return 2;
    const auto msgs = make_records(n, seq, root == "sewage" ? std::string() : root);
    auto pub = make_client(broker, "bench-pub-" + run_id);
    publish_all(*pub, msgs);
    pub->disconnect()->wait();
    return 0;
  }

  const auto work_dir = std::filesystem::temp_directory_path() / ("gateway-bench-" + run_id);
  std::filesystem::create_directories(work_dir);
  std::unique_ptr<testing::mosquitto_broker> own_broker;
  if (broker.empty()) {
    testing::broker_options opts;
    opts.persistence = false;
    // Nothing may be dropped or throttled by the broker: both phases must see all N records.
    opts.extra_config = "max_queued_messages 6000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n";
    own_broker = std::make_unique<testing::mosquitto_broker>(work_dir / "broker", opts);
    broker = own_broker->uri();
    std::printf("private mosquitto at %s (pid %d)\n", broker.c_str(), static_cast<int>(own_broker->pid()));
  }

  // ---- phase 1: bare subscriber (a function: it runs once per round) ----
  const auto bare_round = [&](int round) {
    std::atomic<std::size_t> got{0};
    std::atomic<std::int64_t> first_ns{0}, last_ns{0};
    auto sub = make_client(broker, "bench-bare-" + run_id + "-" + std::to_string(round));
    sub->set_message_callback([&](mqtt::const_message_ptr) {
      const auto t = steady::now().time_since_epoch().count();
      std::int64_t zero = 0;
      first_ns.compare_exchange_strong(zero, t);
      last_ns = t;
      got.fetch_add(1);
    });
    sub->subscribe(with_root(proto::subscription_filter(proto::topic_kind::telemetry), bare_root), 1)->wait();
    publish_from_child(broker, n, 1, bare_root, work_dir / "publisher-bare.log");
    if (!wait_until([&] { return got.load() >= n; }, std::chrono::seconds(300)))
      std::printf("bare subscriber received only %zu of %zu\n", got.load(), n);
    const double rate = static_cast<double>(got.load()) / (static_cast<double>(last_ns - first_ns) / 1e9);
    std::printf("round %d: bare subscriber: %zu messages, %.0f msg/s\n", round, got.load(), rate);
    sub->disconnect()->wait();
    return rate;
  };

  // ---- phase 2 and 3: the gateway pipeline ----
  if (store_dir.empty()) store_dir = work_dir.string();
  const std::filesystem::path db_path = std::filesystem::path(store_dir) / ("gateway_bench_" + run_id + ".db");
  config cfg;
  cfg.mqtt_uri = broker;
  cfg.mqtt_allow_plaintext = true;  // a private loopback broker (or the one given); TLS URIs work too
  cfg.mqtt_client_id = "bench-gw-" + run_id;
  cfg.startup_grace = std::chrono::hours(1);
  auto terms = bench::terminals(n, cfg.defaults, 0);  // no debounce: latency of the first high record
  cfg.store_path = db_path;
  std::unique_ptr<testing::postgres_server> pg;
  if (backend == "postgresql") {
    pg = std::make_unique<testing::postgres_server>();
    cfg.backend = store_backend::postgresql;
    cfg.postgresql_uri = pg->uri();
    std::printf("private PostgreSQL at 127.0.0.1:%d (pid %d)\n", pg->port(), static_cast<int>(pg->pid()));
  }
  {
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    system_clock_source clock;
    const auto db_holder = open_store(cfg, store_access::read_write);
    auto& db = *db_holder;
    durable_inbox journal(db_path.string() + "-inbox.d");  // as in sewage-gateway
    engine* eng_ptr = nullptr;
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::int64_t> first_ns{0};
    mqtt_link link(
        cfg, clock, io,
        [&](inbound_message m) {
          std::int64_t zero = 0;
          first_ns.compare_exchange_strong(zero, steady::now().time_since_epoch().count());
          eng_ptr->handle(m);
          if (eng_ptr->pending_writes() >= 5000) eng_ptr->flush();
          accepted = eng_ptr->metrics().records_accepted;
        },
        [] {}, no_journal ? nullptr : &journal);
    engine eng(cfg, registry(std::move(terms)), db, clock, link, default_rules());
    eng_ptr = &eng;
    eng.set_commit_listener([&] { journal.release_through(link.last_delivered_journal_id()); });
    std::thread io_thread([&] { io.run(); });
    link.start();
    wait_until([&] { return link.connected(); }, std::chrono::seconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscription in place

    // Rounds alternate bare and pipeline so that both see the same machine conditions; round 1
    // of the pipeline is every terminal's first contact, later rounds the steady state.
    std::vector<double> bare_rates;
    std::vector<double> pipe_rates;
    for (int round = 1; round <= rounds; ++round) {
      bare_rates.push_back(bare_round(round));
      const std::uint64_t target = static_cast<std::uint64_t>(round) * n;
      first_ns = 0;
      publish_from_child(broker, n, static_cast<std::uint64_t>(round) + 1, "", work_dir / "publisher-pipeline.log");
      if (!wait_until([&] { return accepted.load() >= target; }, std::chrono::seconds(600)))
        std::printf("pipeline accepted only %llu of %llu\n", static_cast<unsigned long long>(accepted.load()),
                    static_cast<unsigned long long>(target));
      std::promise<void> flushed;
      boost::asio::post(io, [&] {
        eng.flush();
        flushed.set_value();
      });
      flushed.get_future().wait();
      // The round's receipts are the pipeline's work too: the clock stops once the link has
      // handed the last of them to the MQTT client (mqtt_link::publish_paced).
      wait_until([&] { return link.paced_waiting() == 0; }, std::chrono::seconds(120));
      const double secs = static_cast<double>(steady::now().time_since_epoch().count() - first_ns) / 1e9;
      pipe_rates.push_back(static_cast<double>(n) / secs);
      std::printf("round %d: gateway pipeline: %zu records accepted and committed, %.0f records/s (ratio %.2f)\n", round,
                  n, pipe_rates.back(), pipe_rates.back() / bare_rates.back());
    }
    const auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf("median of %d rounds: bare subscriber %.0f msg/s, pipeline %.0f records/s\n", rounds, median(bare_rates),
                median(pipe_rates));
    std::printf("ratio pipeline / bare subscriber: %.2f (target >= 0.90, issue 16)\n", median(pipe_rates) / median(bare_rates));

    // ---- phase 3: alert latency ----
    std::mutex mu;
    std::unordered_map<std::string, steady::time_point> sent;
    std::vector<double> lat_ms;
    auto pub = make_client(broker, "bench-pub3-" + run_id);
    auto sub = make_client(broker, "bench-alerts-" + run_id);
    sub->set_message_callback([&](mqtt::const_message_ptr m) {
      const auto t = steady::now();
      if (m->get_payload().empty()) return;
      const auto topic = proto::parse_topic(m->get_topic());
      if (!topic.ok()) return;
      std::lock_guard lock(mu);
      const auto it = sent.find(topic.value->terminal_id);
      if (it != sent.end()) {
        lat_ms.push_back(std::chrono::duration<double, std::milli>(t - it->second).count());
        sent.erase(it);
      }
    });
    sub->subscribe(proto::subscription_filter(proto::topic_kind::alert), 1)->wait();
    for (std::size_t i = 0; i < alerts; ++i) {
      // seq above every pipeline round's, so that the record is new to the gateway
      const auto payload = record_payload(i, static_cast<std::uint64_t>(rounds) + 2, 40.0, now_ts());
      {
        std::lock_guard lock(mu);
        sent[id_of(i)] = steady::now();
      }
      pub->publish(proto::telemetry_topic(id_of(i)), payload.data(), payload.size(), 1, false);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    wait_until([&] {
      std::lock_guard lock(mu);
      return lat_ms.size() >= alerts;
    }, std::chrono::seconds(60));
    {
      std::lock_guard lock(mu);
      std::sort(lat_ms.begin(), lat_ms.end());
      if (!lat_ms.empty())
        std::printf("alert latency (record published -> alert received, %zu alerts): p50 %.2f ms, p99 %.2f ms\n",
                    lat_ms.size(), lat_ms[lat_ms.size() / 2], lat_ms[lat_ms.size() * 99 / 100]);
    }
    sub->disconnect()->wait();
    pub->disconnect()->wait();
    guard.reset();
    boost::asio::post(io, [&] { eng.flush(); });
    link.stop();
    io.stop();
    io_thread.join();
  }
  // Drop the pipeline's persistent session: left behind, the broker would keep queueing every
  // later run's records for it and slow those runs down.
  make_client(broker, cfg.mqtt_client_id)->disconnect()->wait();
  for (const char* suffix : {"", "-wal", "-shm", "-inbox.d"}) std::filesystem::remove_all(db_path.string() + suffix);
  own_broker.reset();
  std::filesystem::remove_all(work_dir);
  return 0;
}
