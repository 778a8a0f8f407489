// Replay of a 100,000-record backlog by sewage-agent to a local mosquitto, compared with
// a bare publisher (Paho async, QoS 1, no queue) sending the same payloads through the same broker
// in the same run.
// Usage: replay_bench --agent PATH [--records 100000] [--inflight 20]
#include "bench_support.hpp"
#include "sewage/agent/durable_queue.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/topic.hpp"

#include <CLI/CLI.hpp>
#include <mqtt/async_client.h>
#include <sqlite3.h>

#include <atomic>
#include <iostream>

namespace {

class counter : public mqtt::callback {
 public:
  std::atomic<std::uint64_t> agent{0};
  std::atomic<std::uint64_t> bare{0};
  void message_arrived(mqtt::const_message_ptr m) override {
    if (m->get_topic() == sewage::proto::telemetry_topic("BENCH")) ++agent;
    else ++bare;
  }
};

std::string payload(std::uint64_t seq, const std::string& epoch) {
  sewage::proto::telemetry_record r;
  r.terminal_id = "BENCH";
  r.epoch = epoch;
  r.seq = seq;
  r.ts = sewage::proto::timestamp{std::chrono::seconds(1'800'000'000 + 60 * seq)};
  r.interval_s = 60;
  r.flow = sewage::proto::flow_reading{sewage::proto::quantity_status::ok, 0.62, 18234.75, std::nullopt};
  r.turbidity = sewage::proto::turbidity_reading{sewage::proto::quantity_status::ok, 4.1, 3.8, 4.6, std::nullopt};
  r.sludge = sewage::proto::sludge_reading{sewage::proto::quantity_status::ok, 0.82, false, std::nullopt};
  return sewage::proto::encode(r);
}

double wait_for(const std::atomic<std::uint64_t>& n, std::uint64_t target, std::chrono::steady_clock::time_point t0) {
  const auto deadline = t0 + std::chrono::minutes(10);
  while (n.load() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sewage-agent backlog replay benchmark"};
  std::string agent_bin;
  std::uint64_t records = 100000;
  int inflight = 20;
  app.add_option("--agent", agent_bin, "path to sewage-agent")->required();
  app.add_option("--records", records, "backlog size");
  app.add_option("--inflight", inflight, "agent mqtt.max_inflight (mosquitto_pub uses 20)");
  CLI11_PARSE(app, argc, argv);

  const auto dir = std::filesystem::temp_directory_path() / ("replay-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto qpath = dir / "q.db";
  std::string epoch;
  {
    sewage::agent::durable_queue q({qpath, records + 10, 1ULL << 34, 262144});
    epoch = q.epoch();
  }
  {
    // Bulk fill in one transaction (the agent's own appends fsync each record; that is not what
    // this benchmark measures). Schema: durable_queue.hpp.
    sqlite3* db = nullptr;
    sqlite3_open(qpath.c_str(), &db);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO outbox(seq, payload) VALUES(?1, ?2)", -1, &st, nullptr);
    std::ofstream lines(dir / "bare.txt");
    for (std::uint64_t s = 1; s <= records; ++s) {
      const std::string p = payload(s, epoch);
      sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(s));
      sqlite3_bind_blob(st, 2, p.data(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
      sqlite3_step(st);
      sqlite3_reset(st);
      lines << p << "\n";
    }
    sqlite3_finalize(st);
    const std::string next = "INSERT OR REPLACE INTO meta(key, value) VALUES('next_seq', '" + std::to_string(records + 1) + "')";
    sqlite3_exec(db, next.c_str(), nullptr, nullptr, nullptr);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }

  sewage::bench::broker broker(dir);
  counter count;
  mqtt::async_client sub(broker.uri(), "bench-sub", mqtt::create_options(MQTTVERSION_3_1_1));
  sub.set_callback(count);
  sub.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())->wait();
  sub.subscribe("sewage/v1/+/telemetry", 1)->wait();

  // 1. A bare publisher: Paho async, the same payloads from memory, QoS 1, no queue, no fsync, every
  //    message handed to Paho at once (max_buffered_messages = records), so only the broker and
  //    the socket limit it. (mosquitto_pub -q 1 -l was tried first: it manages ~57 msg/s in line
  //    mode, which would flatter the agent.)
  std::vector<std::string> payloads;
  {
    std::ifstream in(dir / "bare.txt");
    std::string line;
    while (std::getline(in, line)) payloads.push_back(line);
  }
  auto t0 = std::chrono::steady_clock::now();
  {
    mqtt::async_client pub(broker.uri(), "bench-bare-pub",
                           mqtt::create_options_builder()
                               .mqtt_version(MQTTVERSION_3_1_1)
                               .max_buffered_messages(static_cast<int>(records) + 10)
                               .finalize());
    pub.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_3_1_1).clean_session(true).finalize())->wait();
    t0 = std::chrono::steady_clock::now();
    std::vector<mqtt::delivery_token_ptr> tokens;
    tokens.reserve(payloads.size());
    const std::string topic = sewage::proto::telemetry_topic("BARE");
    for (const auto& p : payloads) tokens.push_back(pub.publish(topic, p.data(), p.size(), 1, false));
    for (auto& t : tokens) t->wait();
    pub.disconnect()->wait();
  }
  const double bare_s = wait_for(count.bare, records, t0);

  // 2. The agent replaying its queue.
  const auto config = dir / "agent.toml";
  std::ofstream(config) << "terminal_id = \"BENCH\"\nlog_level = \"warn\"\nreport_interval_s = 86400\n[mqtt]\nuri = \""
                        << broker.uri() << "\"\nallow_plaintext = true\nmax_inflight = " << inflight << "\nreplay_per_s = 1000000\n[queue]\npath = \""
                        << qpath.string() << "\"\nmax_records = " << records + 10 << "\nmax_bytes = 17179869184\n"
                        // an instrument is required; one daily report adds nothing during the run
                        << "[[device]]\nname = \"sim\"\ndriver = \"simulated\"\n"
                        << "[[device.point]]\nquantity = \"flow_rate\"\nprofile = \"series\"\nvalues = [1.5]\n";
  t0 = std::chrono::steady_clock::now();
  sewage::bench::process agent({agent_bin, "--config", config.string()}, dir / "agent.log");
  const double agent_s = wait_for(count.agent, records, t0);
  agent.stop();
  sub.disconnect()->wait();

  const double bare_rate = static_cast<double>(count.bare.load()) / bare_s;
  const double agent_rate = static_cast<double>(count.agent.load()) / agent_s;
  std::cout << "replay: " << records << " records, payload ~" << payload(1, epoch).size() << " bytes, QoS 1\n"
            << "  bare Paho publisher (all in flight at once): " << count.bare.load() << " received in " << bare_s << " s = " << bare_rate
            << " msg/s\n"
            << "  sewage-agent replay (max_inflight " << inflight << "): " << count.agent.load() << " received in "
            << agent_s << " s (including start-up) = " << agent_rate << " records/s\n"
            << "  ratio agent / bare publisher: " << agent_rate / bare_rate << " (target >= 0.5)\n";
  std::filesystem::remove_all(dir);
  return 0;
}
