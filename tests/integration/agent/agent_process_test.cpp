// End to end with real processes: instrument emulators in this process → the sewage-agent
// executable → a real mosquitto on a free loopback port → a Paho subscriber here that decodes
// every payload with sewage::proto.
#include "sewage/instruments/modbus_device.hpp"
#include "sewage/proto/command.hpp"
#include "sewage/proto/status.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/topic.hpp"
#include "sewage/testing/mosquitto.hpp"
#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <sqlite3.h>

#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <algorithm>
#include <thread>

namespace sewage::agent {
namespace {

using namespace std::chrono_literals;
using proto::quantity_status;

constexpr const char* kTerminal = "T1";
// Smallest payload the image topic accepts: SOI + a segment marker ... EOI.
const std::string kJpeg = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(2000, 'j') + std::string("\xFF\xD9", 2);

/// Collects every message below sewage/v1/T1/ with a persistent session (QoS 1), so nothing the
/// broker accepted is lost across a broker restart.
class subscriber : public mqtt::callback {
 public:
  explicit subscriber(const std::string& uri)
      : client_(uri, "test-subscriber", mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.set_callback(*this);
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .clean_session(false)
                    .automatic_reconnect(1s, 2s)
                    .keep_alive_interval(5s)
                    .finalize();
    client_.connect(opts)->wait_for(10s);
    client_.subscribe(std::string("sewage/v1/") + kTerminal + "/#", 1)->wait_for(10s);
  }
  ~subscriber() override {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (...) {
    }
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    std::lock_guard lock(mutex_);
    messages_.emplace_back(msg->get_topic(), msg->to_string());
    arrivals_.push_back(std::chrono::system_clock::now());
    cv_.notify_all();
  }
  void connected(const std::string&) override {
    // Re-subscribe after an automatic reconnect in case the broker lost the session.
    try {
      client_.subscribe(std::string("sewage/v1/") + kTerminal + "/#", 1);
    } catch (...) {
    }
  }

  /// Telemetry records decoded in arrival order; a payload that fails decoding fails the test.
  std::vector<proto::telemetry_record> telemetry() {
    std::vector<proto::telemetry_record> out;
    std::lock_guard lock(mutex_);
    for (const auto& [t, p] : messages_) {
      if (t != proto::telemetry_topic(kTerminal)) continue;
      auto d = proto::decode_telemetry(p, kTerminal);
      if (!d.ok()) {
        ADD_FAILURE() << "undecodable telemetry: " << p << " : " << d.problems.at(0).to_string();
        continue;
      }
      out.push_back(*d.value);
    }
    return out;
  }
  std::vector<std::string> payloads(const std::string& topic) {
    std::vector<std::string> out;
    std::lock_guard lock(mutex_);
    for (const auto& [t, p] : messages_) {
      if (t == topic) out.push_back(p);
    }
    return out;
  }
  /// Waits until `pred()` holds (checked whenever a message arrives and every 200 ms).
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, 200ms);
    }
    return pred();
  }
  /// QoS 1 publish; returns false if the client is (still) disconnected.
  bool publish(const std::string& topic, const std::string& payload) {
    try {
      return client_.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(5s);
    } catch (const mqtt::exception&) {
      return false;
    }
  }

 private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> messages_;
  std::vector<std::chrono::system_clock::time_point> arrivals_;

 public:
  /// Telemetry with its arrival time.
  std::vector<std::pair<proto::telemetry_record, std::chrono::system_clock::time_point>> timed_telemetry() {
    std::vector<std::pair<proto::telemetry_record, std::chrono::system_clock::time_point>> out;
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      if (messages_[i].first != proto::telemetry_topic(kTerminal)) continue;
      auto d = proto::decode_telemetry(messages_[i].second, kTerminal);
      if (d.ok()) out.emplace_back(*d.value, arrivals_[i]);
    }
    return out;
  }
};

struct agent_setup {
  testing::temp_dir dir{"agent-it"};
  std::string broker_extra_;
  testing::mosquitto_broker broker{dir.path(), testing::broker_options{broker_extra_, true}};
  instruments::flowmeter flow;
  instruments::turbidity_probe turbidity;
  instruments::level_sensor level;
  std::filesystem::path config = dir.path() / "agent.toml";
  std::filesystem::path queue = dir.path() / "queue.db";

  /// `mqtt_extra`: lines for the agent's [mqtt] table (after uri, which it may override);
  /// `broker_extra`: lines for the broker's config.
  explicit agent_setup(const std::string& mqtt_extra = "", std::string broker_extra = "")
      : broker_extra_(std::move(broker_extra)) {
    flow.set_flow_m3h(2.5F);
    flow.set_total(1234, 0.5F);
    turbidity.set_turbidity_ntu(4.0F);
    level.set_distance_mm(1800);
    std::ofstream(dir.path() / "snap.jpg", std::ios::binary) << kJpeg;
    std::ofstream out(config);
    out << "terminal_id = \"" << kTerminal << "\"\n"
        << "log_level = \"debug\"\npoll_interval_s = 0.2\nreport_interval_s = 1\n"
        << "[mqtt]\n"
        << (mqtt_extra.find("uri = ") == std::string::npos ? "uri = \"" + broker.uri() + "\"\n" : std::string())
        << "keep_alive_s = 5\nreconnect_min_s = 1\nreconnect_max_s = 2\n" << mqtt_extra
        << "[queue]\npath = \"" << queue.string() << "\"\n"
        << "[image]\nfile = \"" << (dir.path() / "snap.jpg").string() << "\"\nperiod_s = 3600\n"
        << "[cleanout]\nsource = \"level\"\nraise_m = 1.5\nclear_m = 1.2\nhold_s = 0\n"
        << "[[device]]\nname = \"flowmeter\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
        << flow.device().port() << "\nresponse_timeout_ms = 150\nretries = 0\n"
        << "[[device.point]]\nquantity = \"flow_rate\"\naddress = 0x1010\ntype = \"f32\"\nword_order = \"CDAB\"\n"
        << "[[device.point]]\nquantity = \"flow_total_int\"\naddress = 0x1018\ntype = \"u32\"\nword_order = \"CDAB\"\n"
        << "[[device.point]]\nquantity = \"flow_total_frac\"\naddress = 0x101A\ntype = \"f32\"\nword_order = \"CDAB\"\n"
        << "[[device]]\nname = \"turbidity\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
        << turbidity.device().port() << "\nresponse_timeout_ms = 150\nretries = 0\n"
        << "[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\nword_order = \"DCBA\"\n"
        << "[[device]]\nname = \"level\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
        << level.device().port() << "\nresponse_timeout_ms = 150\nretries = 0\n"
        << "[[device.point]]\nquantity = \"sludge_level\"\naddress = 0x0005\ntype = \"u16\"\nscale = -0.001\n"
        << "offset = 3.0\nsentinels = [0xFFFF]\n";
  }

  std::unique_ptr<testing::child_process> start_agent(const std::string& log_name = "agent.log") {
    return std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_AGENT_BIN, "--config", config.string()}, dir.path() / log_name);
  }
};

TEST(AgentProcess, CheckConfigAndVersion) {
  agent_setup s;
  testing::child_process check({SEWAGE_AGENT_BIN, "--config", s.config.string(), "--check-config"},
                               s.dir.path() / "check.log");
  const auto st = check.wait_for_exit(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << check.log();
  std::ofstream(s.dir.path() / "bad.toml") << "terminal_id = \"T1\"\n[mqtt]\nuri = \"tcp://h:1\"\nkeep_alive_s = 0\n";
  testing::child_process bad({SEWAGE_AGENT_BIN, "--config", (s.dir.path() / "bad.toml").string(), "--check-config"},
                             s.dir.path() / "bad.log");
  const auto bst = bad.wait_for_exit(30s);
  ASSERT_TRUE(bst.has_value());
  EXPECT_TRUE(WIFEXITED(*bst) && WEXITSTATUS(*bst) == 1);
  EXPECT_NE(bad.log().find("mqtt.keep_alive_s"), std::string::npos) << bad.log();
}

TEST(AgentProcess, ValuesStatusesCommandsAndCleanShutdown) {
  agent_setup s;
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= 3; }, 30s)) << agent->log();

  const auto recs = sub.telemetry();
  const auto& r = recs.back();
  EXPECT_EQ(r.terminal_id, kTerminal);
  EXPECT_EQ(r.epoch.size(), 16U);
  ASSERT_TRUE(r.flow && r.turbidity && r.sludge);
  EXPECT_EQ(r.flow->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.flow->rate_m3h, 2.5);
  EXPECT_DOUBLE_EQ(*r.flow->total_m3, 1234.5);
  EXPECT_EQ(r.turbidity->status, quantity_status::ok);
  EXPECT_DOUBLE_EQ(*r.turbidity->ntu, 4.0);
  EXPECT_EQ(r.sludge->status, quantity_status::ok);
  EXPECT_NEAR(*r.sludge->level_m, 1.2, 1e-9);
  EXPECT_EQ(*r.sludge->cleanout_required, false);
  for (std::size_t i = 1; i < recs.size(); ++i) EXPECT_EQ(recs[i].seq, recs[i - 1].seq + 1);

  // Retained birth on status.
  const auto statuses = sub.payloads(proto::status_topic(kTerminal));
  ASSERT_FALSE(statuses.empty());
  const auto birth = proto::decode_status(statuses.front(), kTerminal);
  ASSERT_TRUE(birth.ok()) << statuses.front();
  EXPECT_EQ(birth.value->state, proto::presence::online);
  EXPECT_EQ(*birth.value->epoch, r.epoch);

  // Clean-out: level 2.0 m (distance 1.0 m) is above raise_m with hold 0.
  s.level.set_distance_mm(1000);
  EXPECT_TRUE(sub.wait([&] {
    const auto t = sub.telemetry();
    return t.back().sludge->cleanout_required.value_or(false);
  }, 15s));

  // Commands.
  const std::string cmd = proto::command_topic(kTerminal);
  ASSERT_TRUE(sub.publish(cmd, R"({"id":"c-1","name":"get_config"})"));
  ASSERT_TRUE(sub.publish(cmd, R"({"id":"c-2","name":"self_destruct"})"));
  ASSERT_TRUE(sub.publish(cmd, "not json at all"));
  ASSERT_TRUE(sub.publish(cmd, R"({"id":"c-3","name":"set_report_interval","args":{"interval_s":2}})"));
  ASSERT_TRUE(sub.publish(cmd, R"({"id":"c-4","name":"sample_now"})"));
  ASSERT_TRUE(sub.publish(cmd, R"({"id":"c-5","name":"snapshot_now"})"));
  const std::string res_topic = proto::command_result_topic(kTerminal);
  ASSERT_TRUE(sub.wait([&] { return sub.payloads(res_topic).size() >= 6; }, 20s)) << agent->log();
  std::map<std::string, proto::command_result_message> results;
  for (const auto& p : sub.payloads(res_topic)) {
    const auto d = proto::decode_command_result(p);
    ASSERT_TRUE(d.ok()) << p;
    results[d.value->id] = *d.value;
  }
  ASSERT_TRUE(results.count("c-1"));
  EXPECT_TRUE(results["c-1"].ok);
  EXPECT_EQ((*results["c-1"].result)["terminal_id"], kTerminal);
  EXPECT_FALSE(results["c-2"].ok);
  EXPECT_NE(results["c-2"].error->find("/name"), std::string::npos) << *results["c-2"].error;
  ASSERT_TRUE(results.count("unknown"));
  EXPECT_FALSE(results["unknown"].ok);
  EXPECT_TRUE(results["c-3"].ok);
  EXPECT_TRUE(results["c-4"].ok);
  EXPECT_TRUE(results["c-5"].ok);

  // The image (taken at start and again for snapshot_now) arrives on the image topic.
  ASSERT_TRUE(sub.wait([&] { return sub.payloads(proto::image_topic(kTerminal)).size() >= 2; }, 15s)) << agent->log();
  EXPECT_EQ(sub.payloads(proto::image_topic(kTerminal)).front(), kJpeg);

  // SIGTERM: exit 0 and a retained offline/shutdown status.
  const int st = agent->stop(20s);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << agent->log();
  ASSERT_TRUE(sub.wait([&] {
    const auto all = sub.payloads(proto::status_topic(kTerminal));
    const auto d = proto::decode_status(all.back(), kTerminal);
    return d.ok() && d.value->state == proto::presence::offline;
  }, 10s));
  const auto last = proto::decode_status(sub.payloads(proto::status_topic(kTerminal)).back(), kTerminal);
  EXPECT_EQ(*last.value->reason, proto::offline_reason::shutdown);
}

TEST(AgentProcess, DeadDeviceGoesStaleOthersContinueThenRecovers) {
  agent_setup s;
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return !sub.telemetry().empty(); }, 30s)) << agent->log();
  s.turbidity.device().set_behaviour(instruments::behaviour::silent);
  const auto have = [&](auto pred) {
    return sub.wait([&] {
      const auto t = sub.telemetry();
      return !t.empty() && pred(t.back());
    }, 20s);
  };
  EXPECT_TRUE(have([](const proto::telemetry_record& r) {
    return r.turbidity->status == quantity_status::stale && r.flow->status == quantity_status::ok &&
           r.sludge->status == quantity_status::ok;
  })) << agent->log();
  s.turbidity.device().set_behaviour(instruments::behaviour::exception);
  EXPECT_TRUE(have([](const proto::telemetry_record& r) { return r.turbidity->status == quantity_status::fault; }));
  s.turbidity.device().set_behaviour(instruments::behaviour::normal);
  s.turbidity.set_turbidity_ntu(7.5F);
  EXPECT_TRUE(have([](const proto::telemetry_record& r) {
    return r.turbidity->status == quantity_status::ok && r.turbidity->ntu == 7.5;
  }));
  s.level.set_distance_mm(0xFFFF);
  EXPECT_TRUE(have([](const proto::telemetry_record& r) {
    return r.sludge->status == quantity_status::fault && !r.sludge->level_m;
  }));
  // Telemetry kept flowing every second while a device was dead: no seq gaps.
  const auto recs = sub.telemetry();
  for (std::size_t i = 1; i < recs.size(); ++i) EXPECT_EQ(recs[i].seq, recs[i - 1].seq + 1);
  EXPECT_EQ(WEXITSTATUS(agent->stop(20s)), 0);
}

/// First arrival of each seq, in arrival order.
std::vector<std::uint64_t> first_arrivals(const std::vector<proto::telemetry_record>& recs) {
  std::vector<std::uint64_t> out;
  std::set<std::uint64_t> seen;
  for (const auto& r : recs) {
    if (seen.insert(r.seq).second) out.push_back(r.seq);
  }
  return out;
}

TEST(AgentProcess, BrokerDownThirtySecondsEveryRecordArrivesInOrder) {
  agent_setup s;
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= 2; }, 30s)) << agent->log();
  s.broker.stop();
  std::this_thread::sleep_for(30s);
  s.broker.start();
  std::this_thread::sleep_for(3s);
  // Stop the agent so that the last seq is known, then wait for everything to arrive.
  const int st = agent->stop(20s);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << agent->log();
  // Whatever is still queued (if the stop came before the replay ended) is sent by a restart.
  agent = s.start_agent("agent2.log");
  const auto epoch = sub.telemetry().front().epoch;
  std::uint64_t last_committed = 0;
  ASSERT_TRUE(sub.wait([&] {
    const auto recs = sub.telemetry();
    const auto seqs = first_arrivals(recs);
    last_committed = seqs.empty() ? 0 : *std::max_element(seqs.begin(), seqs.end());
    return last_committed >= 33 && seqs.size() == last_committed;
  }, 60s)) << "got " << first_arrivals(sub.telemetry()).size() << " distinct of " << last_committed << "\n"
           << agent->log();
  const auto seqs = first_arrivals(sub.telemetry());
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1) << "out of order or missing at " << i;
  for (const auto& r : sub.telemetry()) EXPECT_EQ(r.epoch, epoch);
  agent->stop(20s);
}

TEST(AgentProcess, LongReplayStaysInOrderAndDoesNotStarveLiveRecords) {
  // 12 s outage at one record per second, replayed at 2 records/s: ~6 s of replay, longer than the
  // 1 s report interval, so new records must go out at once while the backlog drains in order.
  agent_setup s("replay_per_s = 2\n");
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= 2; }, 30s)) << agent->log();
  s.broker.stop();
  std::this_thread::sleep_for(12s);
  s.broker.start();
  std::uint64_t max_seq = 0;
  ASSERT_TRUE(sub.wait([&] {
    const auto seqs = first_arrivals(sub.telemetry());
    max_seq = seqs.empty() ? 0 : *std::max_element(seqs.begin(), seqs.end());
    return max_seq >= 20 && seqs.size() == max_seq;
  }, 60s)) << agent->log();
  std::vector<std::uint64_t> replayed;
  std::vector<std::chrono::system_clock::time_point> replayed_at;
  std::vector<std::chrono::system_clock::time_point> live_at;
  std::set<std::uint64_t> seen;
  for (const auto& [r, at] : sub.timed_telemetry()) {
    if (!seen.insert(r.seq).second) continue;
    const auto age = at - r.ts;
    if (age > 3s) {
      replayed.push_back(r.seq);
      replayed_at.push_back(at);
    } else if (age < 2500ms) {
      live_at.push_back(at);
    }
  }
  ASSERT_GE(replayed.size(), 8U);
  EXPECT_TRUE(std::is_sorted(replayed.begin(), replayed.end())) << "backlog replayed out of order";
  const auto replay_end = replayed_at.back();
  const auto live_during_replay =
      std::count_if(live_at.begin(), live_at.end(), [&](auto t) { return t > replayed_at.front() && t < replay_end; });
  EXPECT_GE(live_during_replay, 2) << "live records waited for the whole backlog";
  EXPECT_EQ(WEXITSTATUS(agent->stop(20s)), 0);
}

TEST(AgentProcess, CorruptQueueIsMovedAsideAndTheAgentCarriesOn) {
  agent_setup s;
  std::ofstream(s.queue, std::ios::binary) << "SQLite format 3" << std::string(5000, '\x7f');
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return !sub.telemetry().empty(); }, 30s)) << agent->log();
  EXPECT_EQ(sub.telemetry().front().seq, 1U);
  EXPECT_NE(agent->log().find("is corrupt"), std::string::npos) << agent->log();
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(s.dir.path())) {
    aside += e.path().filename().string().rfind("queue.db.corrupt-", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(aside, 1);
  EXPECT_EQ(WEXITSTATUS(agent->stop(20s)), 0);
}

TEST(AgentProcess, SimulatedDevicesOnAScaledClock) {
  // --time-scale 60: a 60 s report interval passes every real second, stamped from --start-time.
  testing::temp_dir dir("agent-sim");
  testing::mosquitto_broker broker(dir.path());
  const auto config = dir.path() / "sim.toml";
  std::ofstream(config) << "terminal_id = \"" << kTerminal << "\"\npoll_interval_s = 10\nreport_interval_s = 60\n"
                        << "[mqtt]\nuri = \"" << broker.uri() << "\"\n[queue]\npath = \"" << (dir.path() / "q.db").string()
                        << "\"\n[cleanout]\nsource = \"digital_input\"\n"
                        << "[[device]]\nname = \"sim\"\ndriver = \"simulated\"\n"
                        << "[[device.point]]\nquantity = \"flow_rate\"\nprofile = \"series\"\nvalues = [1.5]\n"
                        << "[[device.point]]\nquantity = \"flow_total\"\nprofile = \"ramp\"\nstart = 100\nper_hour = 90\n"
                        << "[[device.point]]\nquantity = \"turbidity\"\nprofile = \"sine\"\nbase = 8\namplitude = 2\n"
                        << "[[device.point]]\nquantity = \"cleanout_switch\"\nprofile = \"series\"\nvalues = [1]\n";
  subscriber sub(broker.uri());
  testing::child_process agent({SEWAGE_AGENT_BIN, "--config", config.string(), "--time-scale", "60", "--start-time",
                                "2030-01-01T00:00:00Z"},
                               dir.path() / "agent.log");
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= 3; }, 30s)) << agent.log();
  const auto recs = sub.telemetry();
  const auto start = *proto::parse_timestamp("2030-01-01T00:00:00Z");
  for (const auto& r : recs) {
    EXPECT_GT(r.ts, start);
    EXPECT_LT(r.ts, start + std::chrono::minutes(30));
    EXPECT_EQ(r.flow->status, quantity_status::ok);
    EXPECT_DOUBLE_EQ(*r.flow->rate_m3h, 1.5);
    EXPECT_GE(*r.turbidity->ntu, 6.0);
    EXPECT_LE(*r.turbidity->ntu, 10.0);
    EXPECT_TRUE(*r.sludge->cleanout_required);
  }
  // 90 m3/h on the simulated totalizer: ~1.5 m3 per simulated minute.
  const double dv = *recs[2].flow->total_m3 - *recs[1].flow->total_m3;
  EXPECT_GT(dv, 0.5);
  EXPECT_LT(dv, 3.0);
  EXPECT_NE(agent.log().find("SIMULATION clock"), std::string::npos);
  EXPECT_EQ(WEXITSTATUS(agent.stop(20s)), 0);
}

TEST(AgentProcess, ResubscribesToCommandsWhenTheBrokerLostTheSession) {
  agent_setup s;
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return !sub.telemetry().empty(); }, 30s)) << agent->log();
  // SIGKILL: the broker restarts without the sessions it had not autosaved, so the agent's
  // subscription to cmd is gone unless the agent subscribes again.
  s.broker.kill();
  s.broker.start();
  const std::size_t before = sub.telemetry().size();
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= before + 2; }, 30s)) << agent->log();
  const std::string res_topic = proto::command_result_topic(kTerminal);
  ASSERT_TRUE(sub.wait([&] {
    sub.publish(proto::command_topic(kTerminal), R"({"id":"after-restart","name":"get_config"})");
    for (const auto& p : sub.payloads(res_topic)) {
      const auto d = proto::decode_command_result(p);
      if (d.ok() && d.value->id == "after-restart" && d.value->ok) return true;
    }
    return false;
  }, 20s)) << agent->log();
  EXPECT_EQ(WEXITSTATUS(agent->stop(20s)), 0);
}

void run_ok(std::vector<std::string> argv, const std::filesystem::path& log) {
  testing::child_process p(std::move(argv), log);
  const auto st = p.wait_for_exit(60s);
  ASSERT_TRUE(st.has_value() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p.log();
}

TEST(AgentProcess, TlsWithUserNameAndPassword) {
  // DEPENDENCIES.md §3.4: a self-signed CA, a server certificate for 127.0.0.1, a TLS listener.
  testing::temp_dir certs("agent-tls");
  const auto c = [&](const char* f) { return (certs.path() / f).string(); };
  const auto log = certs.path() / "openssl.log";
  run_ok({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=Test MQTT CA", "-keyout",
          c("ca.key"), "-out", c("ca.crt")}, log);
  run_ok({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", c("server.key"), "-out",
          c("server.csr")}, log);
  std::ofstream(c("server.ext")) << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
  run_ok({"openssl", "x509", "-req", "-in", c("server.csr"), "-CA", c("ca.crt"), "-CAkey", c("ca.key"), "-CAcreateserial",
          "-days", "30", "-extfile", c("server.ext"), "-out", c("server.crt")}, log);
  run_ok({"mosquitto_passwd", "-c", "-b", c("passwd"), "dev1", "secret1"}, log);
  const int tls_port = testing::free_loopback_port();
  agent_setup s("uri = \"ssl://127.0.0.1:" + std::to_string(tls_port) + "\"\nca_file = \"" + c("ca.crt") +
                    "\"\nusername = \"dev1\"\npassword = \"secret1\"\n",
                "password_file " + c("passwd") + "\nlistener " + std::to_string(tls_port) + " 127.0.0.1\ncafile " +
                    c("ca.crt") + "\ncertfile " + c("server.crt") + "\nkeyfile " + c("server.key") + "\n");
  subscriber sub(s.broker.uri());  // anonymous, plain TCP listener
  auto agent = s.start_agent();
  ASSERT_TRUE(sub.wait([&] { return sub.telemetry().size() >= 2; }, 30s)) << agent->log() << s.broker.log();
  EXPECT_NE(s.broker.log().find("dev1"), std::string::npos);  // "New client connected ... u'dev1'"
  // The password never reaches the logs.
  EXPECT_EQ(agent->log().find("secret1"), std::string::npos);
  EXPECT_EQ(WEXITSTATUS(agent->stop(20s)), 0);
}

TEST(AgentProcess, SigkillAtTwentyMomentsDuringAnOutageLosesNoCommittedSeq) {
  agent_setup s;
  s.broker.stop();
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> ms(300, 1500);
  for (int i = 0; i < 20; ++i) {
    auto agent = s.start_agent("kill-" + std::to_string(i) + ".log");
    std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
    agent->kill_now();
  }
  // The queue file is intact and its seqs have no gap.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(s.queue.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM outbox", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const auto count = sqlite3_column_int64(st, 0);
    EXPECT_GT(count, 0);
    EXPECT_EQ(sqlite3_column_int64(st, 1), 1);
    EXPECT_EQ(sqlite3_column_int64(st, 2), count) << "a seq gap among committed records";
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  // Everything committed is delivered once the broker is back, in order.
  s.broker.start();
  subscriber sub(s.broker.uri());
  auto agent = s.start_agent("final.log");
  std::this_thread::sleep_for(2s);
  const int st = agent->stop(20s);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << agent->log();
  agent = s.start_agent("final2.log");
  ASSERT_TRUE(sub.wait([&] {
    const auto seqs = first_arrivals(sub.telemetry());
    return !seqs.empty() && seqs.size() == *std::max_element(seqs.begin(), seqs.end()) && seqs.size() >= 5;
  }, 60s));
  const auto seqs = first_arrivals(sub.telemetry());
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  agent->stop(20s);
}

}  // namespace
}  // namespace sewage::agent
