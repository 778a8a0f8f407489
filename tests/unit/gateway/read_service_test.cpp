// Issue 10 item 11, "reading never stalls the county": read routes on reader threads with
// read-only connections (read_pool.hpp, read_service.hpp). Behaviour, not timings: a read is
// answered while the engine's thread is blocked, reader connections never write, a full queue
// answers 503 with Retry-After and is counted, counters stay exact under concurrency, reads see
// what was committed, a read past its CPU time limit is cut, and the view follows the registry.
#include "sewage/gateway/read_service.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/status.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <thread>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;
using namespace std::chrono_literals;

/// A reader connection that can be held inside history() (the test hook for a busy reader).
class gated_store final : public store {
 public:
  gated_store(std::unique_ptr<store> inner, std::shared_future<void> open) : inner_(std::move(inner)), open_(std::move(open)) {}
  std::promise<void> entered;
  void set_cpu_limit(std::optional<std::chrono::nanoseconds> l) override { inner_->set_cpu_limit(l); }
  void apply(const write_batch& b) override { inner_->apply(b); }
  std::vector<terminal_snapshot> load_terminals() override { return inner_->load_terminals(); }
  std::optional<seq_set> load_dedup(const std::string& t, const std::string& e) override { return inner_->load_dedup(t, e); }
  bool spilled_contains(const std::string& t, const std::string& e, std::uint64_t s) override {
    return inner_->spilled_contains(t, e, s);
  }
  std::uint64_t missing_in_left_epochs() override { return inner_->missing_in_left_epochs(); }
  std::vector<proto::alert_message> alerts(bool o, const std::optional<std::string>& t, std::size_t l) override {
    return inner_->alerts(o, t, l);
  }
  std::optional<proto::alert_message> alert(std::uint64_t id) override { return inner_->alert(id); }
  std::vector<alert_transition> transitions(std::uint64_t id) override { return inner_->transitions(id); }
  std::uint64_t max_alert_id() override { return inner_->max_alert_id(); }
  std::vector<record_row> history(const std::string& t, proto::timestamp f, proto::timestamp to, std::size_t l) override {
    if (!entered_once_.exchange(true)) entered.set_value();
    open_.wait();
    return inner_->history(t, f, to, l);
  }
  std::vector<daily_row> daily(const std::optional<std::string>& t, std::int32_t f, std::int32_t to) override {
    return inner_->daily(t, f, to);
  }
  std::optional<std::pair<std::string, proto::timestamp>> image(const std::string& t) override { return inner_->image(t); }
  std::optional<proto::timestamp> image_arrival(const std::string& t) override { return inner_->image_arrival(t); }
  std::vector<dead_letter_row> dead_letters(std::size_t l) override { return inner_->dead_letters(l); }
  fault_stats faults_since(proto::timestamp f) override { return inner_->faults_since(f); }
  std::size_t purge_records_before(proto::timestamp b) override { return inner_->purge_records_before(b); }
  std::vector<proto::alert_message> find_alerts(const alert_query& q) override { return inner_->find_alerts(q); }
  std::vector<daily_total_row> daily_totals(const std::vector<std::string>& ids, std::int32_t f, std::int32_t to) override {
    return inner_->daily_totals(ids, f, to);
  }
  std::vector<command_row> commands(const std::optional<std::string>& t, std::optional<command_state> st,
                                    std::size_t l) override {
    return inner_->commands(t, st, l);
  }
  std::optional<command_row> command(std::uint64_t id) override { return inner_->command(id); }
  std::uint64_t max_command_id() override { return inner_->max_command_id(); }
  std::vector<fault_counts> fault_counts_between(proto::timestamp f, proto::timestamp t) override {
    return inner_->fault_counts_between(f, t);
  }

 private:
  std::unique_ptr<store> inner_;
  std::shared_future<void> open_;
  std::atomic<bool> entered_once_{false};
};

/// One answer delivered through an http_server::responder, from whatever thread answered.
struct answer {
  std::promise<http_response> p;
  std::future<http_response> f{p.get_future()};
  http_server::responder responder() {
    return [this](http_response r) { p.set_value(std::move(r)); };
  }
  bool ready(std::chrono::milliseconds wait = 0ms) { return f.wait_for(wait) == std::future_status::ready; }
};

class ReadsTest : public ::testing::Test {
 protected:
  ReadsTest() : dir_("gw-reads"), clock_(at("2026-11-29T08:00:00Z")), db_(path(), 10), work_(engine_io_.get_executor()) {
    cfg_.defaults.turbidity_debounce_s = 0;
    cfg_.http_public_read = true;  // reads without login: these tests are not about identity (auth_test.cpp is)
    eng_ = std::make_unique<engine>(cfg_, registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults)}),
                                    db_, clock_, pub_, default_rules());
    routes_ = std::make_unique<api>(*eng_);
    engine_thread_ = std::thread([this] { engine_io_.run(); });
  }
  ~ReadsTest() override {
    reads_.reset();  // readers first: their jobs use the api
    work_.reset();
    engine_io_.stop();
    engine_thread_.join();
  }
  std::filesystem::path path() const { return dir_.path() / "g.db"; }
  std::unique_ptr<store> reader() const {
    return std::make_unique<sqlite_store>(path(), 10, sqlite_store::access::read_only);
  }
  void start(std::size_t threads, std::size_t queue_max = 64, read_pool::connection_factory open = {}) {
    read_service::options o;
    o.pool.threads = threads;
    o.pool.queue_max = queue_max;
    o.pool.nice = 0;
    if (!open) open = [this] { return reader(); };
    // Constructed on the engine's thread, as main does.
    std::promise<void> done;
    boost::asio::post(engine_io_, [&] {
      reads_ = std::make_unique<read_service>(*routes_, *eng_, engine_io_.get_executor(), open, o);
      done.set_value();
    });
    done.get_future().get();
  }
  /// Runs `fn` on the engine's thread and waits for it.
  template <class F>
  auto on_engine(F fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    boost::asio::post(engine_io_, [&task] { task(); });
    return f.get();
  }
  void send(const std::string& id, std::uint64_t seq, proto::timestamp ts) {
    const auto r = test::with_flow(test::with_turbidity(test::record(id, seq, ts), 3.0), 1.0, 100.0 + static_cast<double>(seq));
    on_engine([&] {
      eng_->handle({proto::telemetry_topic(id), proto::encode(r), false, clock_.now()});
      return 0;
    });
  }
  static http_request get(const std::string& target) { return {"GET", target, "", ""}; }
  static std::string history_of(const std::string& id) {
    return "/api/terminals/" + id + "/history?from=2026-11-29T00:00:00Z&to=2026-11-29T12:00:00Z";
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> routes_;
  boost::asio::io_context engine_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread engine_thread_;
  std::unique_ptr<read_service> reads_;
};

TEST_F(ReadsTest, AReadRouteIsAnsweredWhileTheEngineThreadIsBlocked) {
  for (std::uint64_t s = 1; s <= 5; ++s) send("T1", s, at("2026-11-29T07:00:00Z") + std::chrono::minutes(s));
  on_engine([&] { return eng_->flush(); });
  start(1);
  // The test hook: the engine's thread is held until released.
  std::promise<void> release;
  std::promise<void> blocked;
  boost::asio::post(engine_io_, [&] {
    blocked.set_value();
    release.get_future().wait();
  });
  blocked.get_future().wait();

  answer health, hist, daily;
  reads_->serve(get("/healthz"), health.responder());  // an engine route: waits for the engine
  reads_->serve(get(history_of("T1")), hist.responder());
  reads_->serve(get("/api/terminals/T1/daily"), daily.responder());
  ASSERT_TRUE(hist.ready(20s)) << "a read route waited for the blocked engine thread";
  ASSERT_TRUE(daily.ready(20s));
  const auto h = hist.f.get();
  EXPECT_EQ(h.status, 200u) << h.body;
  EXPECT_EQ(json::parse(h.body)["records"].size(), 5u);
  EXPECT_EQ(daily.f.get().status, 200u);
  EXPECT_FALSE(health.ready()) << "an engine route must run on the engine's thread";

  release.set_value();
  ASSERT_TRUE(health.ready(20s));
  EXPECT_EQ(health.f.get().status, 503u);  // no link status in this test: "mqtt_disconnected", but answered
}

TEST_F(ReadsTest, ReadRoutesSeeWhatWasCommitted) {
  start(2);
  send("T1", 1, at("2026-11-29T07:01:00Z"));
  send("T1", 2, at("2026-11-29T07:02:00Z"));
  {
    answer a;
    reads_->serve(get(history_of("T1")), a.responder());
    ASSERT_TRUE(a.ready(20s));
    EXPECT_EQ(json::parse(a.f.get().body)["records"].size(), 0u) << "handled but not committed yet";
  }
  ASSERT_TRUE(on_engine([&] { return eng_->flush(); }));
  answer a;
  reads_->serve(get(history_of("T1")), a.responder());
  ASSERT_TRUE(a.ready(20s));
  const auto j = json::parse(a.f.get().body);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_EQ(j["records"][1]["seq"], 2);
  // Without reader threads (http.reader_threads = 0) a read runs on the engine's thread and
  // commits first, as before.
  reads_.reset();
  start(0);
  send("T1", 3, at("2026-11-29T07:03:00Z"));
  answer b;
  reads_->serve(get(history_of("T1")), b.responder());
  ASSERT_TRUE(b.ready(20s));
  EXPECT_EQ(json::parse(b.f.get().body)["records"].size(), 3u);
}

TEST_F(ReadsTest, ReaderConnectionsNeverWrite) {
  send("T1", 1, at("2026-11-29T07:01:00Z"));
  on_engine([&] { return eng_->flush(); });
  sqlite_store ro(path(), 10, sqlite_store::access::read_only);
  write_batch b;
  b.dead_letters.push_back({0, clock_.now(), "t", "bad_json", "r", "p"});
  EXPECT_THROW(ro.apply(b), store_error);
  EXPECT_THROW(ro.purge_records_before(at("2030-01-01T00:00:00Z")), store_error);
  EXPECT_EQ(ro.history("T1", at("2026-11-29T00:00:00Z"), at("2026-11-30T00:00:00Z"), 10).size(), 1u);
  EXPECT_TRUE(db_.dead_letters(10).empty());
  EXPECT_EQ(db_.purge_records_before(at("2026-11-29T00:00:00Z")), 0u);
  // Never creates a database: a missing file is an error naming it, and stays missing.
  const auto missing = dir_.path() / "none.db";
  try {
    sqlite_store none(missing, 10, sqlite_store::access::read_only);
    ADD_FAILURE() << "opened a missing database";
  } catch (const store_error& e) {
    EXPECT_NE(std::string(e.what()).find("none.db"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(ReadsTest, AReaderNeverMigratesAnOlderDatabase) {
  const auto old = dir_.path() / "v1.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(old.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sqlite_schema_v1_sql(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=1", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  try {
    sqlite_store ro(old, 10, sqlite_store::access::read_only);
    ADD_FAILURE() << "a reader opened a version-1 database";
  } catch (const store_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 1"), std::string::npos) << e.what();
  }
  sqlite_store rw(old, 10);  // still version 1: the reader changed nothing
  EXPECT_EQ(rw.schema_version(), sqlite_schema_version);
}

TEST_F(ReadsTest, AFullQueueAnswers503WithRetryAfterAndCountsIt) {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  gated_store* gate = nullptr;
  start(1, 1, [&] {
    auto s = std::make_unique<gated_store>(reader(), opened);
    gate = s.get();
    return s;
  });
  answer first, second, third, fourth;
  reads_->serve(get(history_of("T1")), first.responder());
  gate->entered.get_future().wait();  // the only reader is busy inside history()
  reads_->serve(get(history_of("T2")), second.responder());  // waits in the queue (1 place)
  reads_->serve(get(history_of("T1")), third.responder());   // no place left
  reads_->serve(get("/api/terminals/T1/daily"), fourth.responder());
  ASSERT_TRUE(third.ready(20s));
  const auto r = third.f.get();
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(json::parse(r.body)["error"]["status"], 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "1");
  ASSERT_TRUE(fourth.ready(20s));
  EXPECT_EQ(fourth.f.get().status, 503u);
  EXPECT_EQ(routes_->counters().read_busy, 2u);
  EXPECT_EQ(reads_->queued(), 1u);
  // Engine routes do not queue behind the readers.
  answer m;
  reads_->serve(get("/metrics"), m.responder());
  ASSERT_TRUE(m.ready(20s));
  const auto metrics = m.f.get().body;
  EXPECT_NE(metrics.find("\nsewage_gateway_http_read_busy_total 2\n"), std::string::npos) << metrics;

  open.set_value();
  ASSERT_TRUE(first.ready(20s));
  ASSERT_TRUE(second.ready(20s));
  EXPECT_EQ(first.f.get().status, 200u);
  EXPECT_EQ(second.f.get().status, 200u);
}

TEST_F(ReadsTest, CountersAreExactUnderConcurrency) {
  send("T1", 1, at("2026-11-29T07:01:00Z"));
  on_engine([&] { return eng_->flush(); });
  const auto view = std::make_shared<county_view>(on_engine([&] { return make_county_view(*eng_); }));
  constexpr int threads = 4;
  constexpr int per_thread = 50;
  std::vector<std::thread> readers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < threads; ++t) {
    readers.emplace_back([&, t] {
      sqlite_store conn(path(), 10, sqlite_store::access::read_only);
      const read_context rc{conn, *view};
      for (int i = 0; i < per_thread; ++i) {
        // Half found, half refused (404 not_found, 400 bad_parameter), so the map is written too.
        const auto ok = routes_->handle(get(history_of("T1")), &rc);
        const auto missing = routes_->handle(get(history_of("NOPE")), &rc);
        const auto bad = routes_->handle(get("/api/terminals/T1/daily?from=never"), &rc);
        if (ok.status != 200 || missing.status != 404 || bad.status != 400) ++wrong;
        (void)t;
      }
    });
  }
  // Meanwhile the engine's thread answers engine routes.
  for (int i = 0; i < per_thread; ++i)
    EXPECT_EQ(on_engine([&] { return routes_->handle(get("/api/summary")).status; }), 200u);
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto c = routes_->counters();
  EXPECT_EQ(c.requests, static_cast<std::uint64_t>(threads * per_thread * 3 + per_thread));
  EXPECT_EQ(c.rejected.at("not_found"), static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(c.rejected.at("bad_parameter"), static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(c.internal_errors, 0u);
}

TEST_F(ReadsTest, AnEngineRouteHandedToAReaderIsRefusedNotRun) {
  EXPECT_TRUE(api::is_read_request(get(history_of("T1"))));
  EXPECT_TRUE(api::is_read_request({"HEAD", "/api/terminals/T1/image", "", ""}));
  EXPECT_FALSE(api::is_read_request(get("/healthz")));
  EXPECT_FALSE(api::is_read_request(get("/api/terminals/T1")));
  EXPECT_FALSE(api::is_read_request({"POST", "/api/terminals/T1/history", "", ""}));
  EXPECT_FALSE(api::is_read_request(get("/api/terminals/T%ZZ/history")));  // bad target: engine answers 400
  EXPECT_FALSE(api::is_read_request(get("relative")));
  sqlite_store conn(path(), 10, sqlite_store::access::read_only);
  const county_view v = on_engine([&] { return make_county_view(*eng_); });
  const read_context rc{conn, v};
  EXPECT_EQ(routes_->handle(get("/api/summary"), &rc).status, 500u);
  EXPECT_EQ(routes_->counters().internal_errors, 1u);
}

TEST_F(ReadsTest, AReadPastItsCpuTimeLimitIsCutWith503) {
  // Enough rows that the query runs more than 1000 virtual machine steps.
  on_engine([&] {
    for (std::uint64_t s = 1; s <= 600; ++s) {
      const auto r = test::with_turbidity(test::record("T1", s, at("2026-11-29T03:00:00Z") + std::chrono::seconds(30 * s)), 3.0);
      eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
    }
    return eng_->flush();
  });
  sqlite_store conn(path(), 10, sqlite_store::access::read_only);
  conn.set_cpu_limit(1ns);
  EXPECT_THROW(conn.history("T1", at("2026-11-29T00:00:00Z"), at("2026-11-30T00:00:00Z"), 10000), store_timeout);
  const county_view v = on_engine([&] { return make_county_view(*eng_); });
  const read_context rc{conn, v};
  const auto r = routes_->handle(get(history_of("T1")), &rc);
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(routes_->counters().read_timeouts, 1u);
  EXPECT_EQ(routes_->counters().internal_errors, 0u);
  conn.set_cpu_limit(std::nullopt);  // the same connection answers the next request in full
  EXPECT_EQ(conn.history("T1", at("2026-11-29T00:00:00Z"), at("2026-11-30T00:00:00Z"), 10000).size(), 600u);
}

TEST_F(ReadsTest, TheViewFollowsTheRegistryAndReportIntervals) {
  start(1);
  {
    answer a;
    reads_->serve(get(history_of("T3")), a.responder());
    ASSERT_TRUE(a.ready(20s));
    EXPECT_EQ(a.f.get().status, 404u);
  }
  const auto before = reads_->view();
  on_engine([&] {
    eng_->reload_registry(registry({test::terminal("T1", cfg_.defaults), test::terminal("T2", cfg_.defaults),
                                    test::terminal("T3", cfg_.defaults)}));
    reads_->refresh_view();
    return 0;
  });
  EXPECT_NE(reads_->view(), before);
  answer a;
  reads_->serve(get(history_of("T3")), a.responder());
  ASSERT_TRUE(a.ready(20s));
  EXPECT_EQ(a.f.get().status, 200u);

  // A birth message with another report interval: republished; nothing changed: the same view.
  const auto v1 = reads_->view();
  on_engine([&] {
    reads_->refresh_view();
    return 0;
  });
  EXPECT_EQ(reads_->view(), v1);
  proto::status_message st;
  st.terminal_id = "T1";
  st.state = proto::presence::online;
  st.ts = clock_.now();
  st.agent_version = "1.0";
  st.config_digest = "abcdef";
  st.epoch = "e1";
  st.report_interval_s = 300;
  on_engine([&] {
    eng_->handle({proto::status_topic("T1"), proto::encode(st), false, clock_.now()});
    reads_->refresh_view();
    return 0;
  });
  ASSERT_NE(reads_->view(), v1);
  EXPECT_EQ(reads_->view()->report_interval_s.at(0), 300.0);
}

}  // namespace
}  // namespace sewage::gateway
