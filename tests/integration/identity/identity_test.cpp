// Issue 11, items 1 and 2: per-terminal MQTT identities and TLS by default, against a real
// mosquitto started with the configuration sewage-provision generated (TLS listener, accounts,
// ACL), real sewage-agent and sewage-gateway processes, and Paho clients standing in for a
// terminal that misbehaves. One throw-away PKI per test binary (testing::shared_test_pki).
#include <sewage/proto/command.hpp>
#include <sewage/proto/status.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>
#include <sewage/testing/mosquitto.hpp>
#include <sewage/testing/pki.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <sqlite3.h>
#include <toml++/toml.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace sewage::identity_test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find(needle) != std::string::npos) out.push_back(l);
  return out;
}

struct tool_run {
  int status{-1};  ///< exit code, -1 when it did not exit normally
  std::string output;
};

tool_run run_tool(std::vector<std::string> argv, const fs::path& log) {
  testing::child_process p(std::move(argv), log);
  const auto st = p.wait_for_exit(60s);
  return {st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.log()};
}

std::string registry_text(const std::vector<std::string>& ids) {
  std::string s;
  double lat = 30.5;
  for (const auto& id : ids) {
    s += "[[terminal]]\nid = \"" + id + "\"\nname = \"" + id + "\"\ntown = \"Town\"\nvillage = \"V\"\nlatitude = " +
         std::to_string(lat) + "\nlongitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\n"
         "report_interval_s = 60\n";
    lat += 0.01;
  }
  return s;
}

/// A valid telemetry record of `id` (a forged one when published by another terminal).
std::string record_of(const std::string& id, std::uint64_t seq) {
  proto::telemetry_record r;
  r.terminal_id = id;
  r.epoch = "forged-or-not";
  r.seq = seq;
  r.ts = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  r.interval_s = 60;
  r.flow = proto::flow_reading{proto::quantity_status::ok, 1.0, 100.0 + static_cast<double>(seq), std::nullopt};
  return proto::encode(r);
}

/// A Paho client standing in for a terminal or the gateway: TLS with the test CA, an account.
class client : public mqtt::callback {
 public:
  client(const std::string& uri, const std::string& client_id, int mqtt_version = MQTTVERSION_3_1_1)
      : version_(mqtt_version), client_(uri, client_id, mqtt::create_options(mqtt_version)) {
    client_.set_callback(*this);
  }
  ~client() override {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(5s);
    } catch (...) {
    }
  }
  /// Connects; returns 0 or the CONNACK / Paho return code.
  /// `ca` empty: a plain connection (tcp:// test brokers).
  int connect(const std::string& user, const std::string& password, const fs::path& ca) {
    auto b = mqtt::connect_options_builder().mqtt_version(version_).connect_timeout(5s);
    if (!user.empty()) b.user_name(user).password(password);
    if (!ca.empty())
      b.ssl(mqtt::ssl_options_builder().trust_store(ca.string()).enable_server_cert_auth(true).verify(true).finalize());
    if (version_ == MQTTVERSION_5) {
      b.clean_start(true);
    } else {
      b.clean_session(true);
    }
    try {
      client_.connect(b.finalize())->wait();
      return 0;
    } catch (const mqtt::exception& e) {
      return e.get_reason_code() != 0 ? e.get_reason_code() : e.get_return_code();
    }
  }
  /// QoS 1 publish; returns the PUBACK's reason code (v5: 135 = not authorised; v3.1.1: always 0,
  /// the broker acknowledges a denied publish and drops it), or -1 when it failed otherwise.
  int publish(const std::string& topic, const std::string& payload, bool retained = false) {
    try {
      auto tok = client_.publish(topic, payload.data(), payload.size(), 1, retained);
      tok->wait();
      return tok->get_reason_code();
    } catch (const mqtt::exception& e) {
      return e.get_reason_code() != 0 ? e.get_reason_code() : -1;
    }
  }
  void subscribe(const std::string& filter) { client_.subscribe(filter, 1)->wait_for(5s); }
  bool connected() { return client_.is_connected(); }
  std::vector<std::pair<std::string, std::string>> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  bool lost() {
    std::lock_guard lock(mutex_);
    return lost_;
  }
  void message_arrived(mqtt::const_message_ptr m) override {
    std::lock_guard lock(mutex_);
    messages_.emplace_back(m->get_topic(), m->to_string());
  }
  void connection_lost(const std::string&) override {
    std::lock_guard lock(mutex_);
    lost_ = true;
  }

 private:
  int version_;
  mqtt::async_client client_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> messages_;
  bool lost_{false};
};

/// The broker account written for `id` in the provisioning output (a snippet's [mqtt] table).
struct account {
  std::string user;
  std::string password;
};

account account_of(const fs::path& snippet) {
  const auto t = toml::parse_file(snippet.string());
  return {t["mqtt"]["username"].value_or(std::string()), t["mqtt"]["password"].value_or(std::string())};
}

/// A county of three terminals (T-A, T-B, T-C) provisioned with sewage-provision, and a mosquitto
/// started with the broker folder it wrote (TLS on 127.0.0.1:port, no anonymous access, ACL).
class Identity : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = &testing::shared_test_pki();
    dir_ = std::make_unique<testing::temp_dir>("identity");
    std::ofstream(registry()) << registry_text({"T-A", "T-B", "T-C"});
    port_ = testing::free_loopback_port();
  }
  void TearDown() override {
    if (HasFailure()) {
      for (const auto& f : {"provision.log", "gateway.log"})
        if (fs::exists(dir_->path() / f)) std::cerr << "---- " << f << " ----\n" << slurp(dir_->path() / f) << "\n";
      if (broker_) std::cerr << "---- broker log ----\n" << broker_->log() << '\n';
    }
    for (auto& a : agents_) a->stop(10s);
    agents_.clear();
    if (gateway_) gateway_->stop(10s);
    broker_.reset();
  }

  [[nodiscard]] fs::path registry() const { return dir_->path() / "registry.toml"; }
  [[nodiscard]] fs::path out() const { return dir_->path() / "out"; }
  [[nodiscard]] std::string uri() const { return "ssl://127.0.0.1:" + std::to_string(port_); }

  tool_run provision(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{SEWAGE_PROVISION_BIN, "provision", "--registry", registry().string(), "--out",
                                  out().string(), "--uri", uri(), "--ca-file", pki_->ca_crt().string(),
                                  "--broker-cert", pki_->server_crt().string(), "--broker-key",
                                  pki_->server_key().string(), "--listener-port", std::to_string(port_),
                                  "--listener-address", "127.0.0.1", "--no-reload"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_tool(argv, dir_->path() / "provision.log");
  }

  /// Provisions and starts the broker with the generated folder. `extra` adds broker lines. The
  /// broker logs at debug level too: its "Denied PUBLISH" lines are debug messages.
  void start_county(const std::string& extra = "log_type debug\n") {
    const auto p = provision();
    ASSERT_EQ(p.status, 0) << p.output;
    testing::broker_options o;
    o.plain_listener = false;
    o.include_dir = out() / "broker";
    o.port = port_;
    o.extra_config = extra;
    broker_ = std::make_unique<testing::mosquitto_broker>(dir_->path() / "broker-run", o);
  }

  account terminal(const std::string& id) const { return account_of(out() / "agents" / (id + ".toml")); }
  account gateway_account() const { return account_of(out() / "gateway.toml"); }

  /// An agent config: the provisioned snippet of `id` merged with a simulated instrument, as an
  /// installer would merge it; `mqtt_extra` lines go into its [mqtt] table.
  fs::path agent_config(const std::string& id, const std::string& mqtt_extra = {},
                        const std::function<void(std::string&)>& edit = {}) const {
    std::string snippet = slurp(out() / "agents" / (id + ".toml"));
    if (edit) edit(snippet);
    const fs::path cfg = dir_->path() / (id + "-" + std::to_string(++configs_) + ".toml");
    std::ofstream(cfg) << "log_level = \"info\"\npoll_interval_s = 0.2\nreport_interval_s = 1\n"
                       << snippet << "keep_alive_s = 5\nreconnect_min_s = 1\nreconnect_max_s = 2\n" << mqtt_extra
                       << "[queue]\npath = \"" << (dir_->path() / (id + "-queue" + std::to_string(configs_) + ".db")).string()
                       << "\"\n[[device]]\nname = \"sim\"\ndriver = \"simulated\"\n"
                       << "[[device.point]]\nquantity = \"flow_rate\"\nprofile = \"series\"\nvalues = [1.5]\n";
    return cfg;
  }

  testing::child_process& start_agent(const fs::path& config, const std::string& log) {
    agents_.push_back(std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_AGENT_BIN, "--config", config.string()}, dir_->path() / log));
    return *agents_.back();
  }

  void start_gateway() {
    const int http_port = testing::free_loopback_port();
    std::ofstream(dir_->path() / "gateway.toml")
        << slurp(out() / "gateway.toml") << "keep_alive_s = 5\n"
        << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
        << "[http]\nlisten = \"127.0.0.1:" << http_port << "\"\n"
        << "[registry]\npath = \"registry.toml\"\n"
        << "[log]\nlevel = \"debug\"\n";
    gateway_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{SEWAGE_GATEWAY_BIN, "--config", (dir_->path() / "gateway.toml").string()},
        dir_->path() / "gateway.log");
    ASSERT_TRUE(eventually([&] { return slurp(dir_->path() / "gateway.log").find("MQTT connected") != std::string::npos; },
                           20s))
        << slurp(dir_->path() / "gateway.log");
  }

  const testing::test_pki* pki_{nullptr};
  std::unique_ptr<testing::temp_dir> dir_;
  int port_{0};
  std::unique_ptr<testing::mosquitto_broker> broker_;
  std::unique_ptr<testing::child_process> gateway_;
  std::vector<std::unique_ptr<testing::child_process>> agents_;
  mutable int configs_{0};
};

// ---- the provisioning tool on its own ---------------------------------------------------------

TEST_F(Identity, ProvisioningWritesEveryAccountKeepsPasswordsOnRerunAndNeverPrintsThem) {
  const auto first = provision();
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("3 terminals: 3 new credentials, 0 kept"), std::string::npos) << first.output;
  const auto a = terminal("T-A");
  EXPECT_EQ(a.user, "T-A");
  EXPECT_EQ(a.password.size(), 32U);  // 24 random bytes, base64url
  EXPECT_NE(a.password, terminal("T-B").password);
  EXPECT_EQ(gateway_account().user, "sewage-gateway");
  // The snippet is a working agent [mqtt] table: TLS URI, the CA, no plaintext opt-in.
  const auto snippet = toml::parse_file((out() / "agents" / "T-A.toml").string());
  EXPECT_EQ(snippet["terminal_id"].value_or(std::string()), "T-A");
  EXPECT_EQ(snippet["mqtt"]["uri"].value_or(std::string()), uri());
  EXPECT_EQ(snippet["mqtt"]["ca_file"].value_or(std::string()), pki_->ca_crt().string());
  EXPECT_FALSE(snippet["mqtt"]["allow_plaintext"]);
  // Secrets are private to their owner; the broker's files are readable by the broker only.
  struct stat st {};
  ASSERT_EQ(::stat((out() / "agents" / "T-A.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((out() / "gateway.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((out() / "broker" / "passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);
  EXPECT_FALSE(fs::exists(out() / "broker" / ".passwd.new"));  // the plaintext list never stays
  // The password file holds hashes only, one per account.
  const std::string passwd = slurp(out() / "broker" / "passwd");
  EXPECT_EQ(lines_with(passwd, ":$7$").size(), 4U) << passwd;
  EXPECT_EQ(passwd.find(a.password), std::string::npos);
  // The broker config: TLS listener, no anonymous access, client id forced to the username.
  const std::string conf = slurp(out() / "broker" / "sewage.conf");
  for (const std::string& line : {"listener " + std::to_string(port_) + " 127.0.0.1", "certfile " + pki_->server_crt().string(),
                                 std::string("allow_anonymous false"), std::string("use_username_as_clientid true")})
    EXPECT_NE(conf.find(line + "\n"), std::string::npos) << line << " not in\n" << conf;
  // The ACL: own topics only for terminals, the gateway's block.
  const std::string acl = slurp(out() / "broker" / "acl");
  for (const char* line : {"pattern write sewage/v1/%u/telemetry\n", "pattern write sewage/v1/%u/status\n",
                           "pattern write sewage/v1/%u/image\n", "pattern write sewage/v1/%u/cmd/result\n",
                           "pattern read sewage/v1/%u/cmd\n", "pattern read sewage/v1/%u/receipt\n",
                           "pattern read sewage/v1/gateway/status\n", "user sewage-gateway\ntopic read sewage/v1/#\n",
                           "topic write sewage/v1/+/cmd\n", "topic write sewage/v1/alerts/#\n",
                           "topic write sewage/v1/gateway/status\n", "topic write sewage/v1/gateway/probe\n",
                           "topic write sewage/v1/+/receipt\n"})
    EXPECT_NE(acl.find(line), std::string::npos) << line << " not in\n" << acl;
  EXPECT_EQ(lines_with(acl, "pattern write ").size() + lines_with(acl, "topic write ").size(), 9U) << acl;  // nothing else
  EXPECT_EQ(lines_with(acl, "pattern read ").size() + lines_with(acl, "topic read ").size(), 4U) << acl;
  // A re-run (a terminal added to the registry) keeps every password: no installed agent changes.
  std::ofstream(registry()) << registry_text({"T-A", "T-B", "T-C", "T-D"});
  const auto second = provision();
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("4 terminals: 1 new credentials, 3 kept"), std::string::npos) << second.output;
  EXPECT_EQ(terminal("T-A").password, a.password);
  EXPECT_EQ(lines_with(slurp(out() / "broker" / "passwd"), ":$7$").size(), 5U);
  for (const auto& id : {"T-A", "T-B", "T-C", "T-D"})
    EXPECT_EQ((first.output + second.output).find(terminal(id).password), std::string::npos) << "password printed";
  EXPECT_EQ((first.output + second.output).find(gateway_account().password), std::string::npos);
}

TEST_F(Identity, ARevokedTerminalIsNeverIssuedAgainUntilReinstated) {
  ASSERT_EQ(provision().status, 0);
  const auto old = terminal("T-A");
  const auto r = run_tool({SEWAGE_PROVISION_BIN, "revoke", "--out", out().string(), "--no-reload", "T-A"},
                          dir_->path() / "revoke.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("T-A: account removed"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out() / "agents" / "T-A.toml"));  // its password is dead
  EXPECT_EQ(slurp(out() / "broker" / "passwd").find("T-A:"), std::string::npos);
  EXPECT_NE(slurp(out() / "broker" / "passwd").find("T-B:"), std::string::npos);
  EXPECT_EQ(slurp(out() / "revoked.txt").find("\nT-A\t"), slurp(out() / "revoked.txt").find("T-A\t") - 1);
  // Provisioning again (e.g. after a registry change) does not bring it back.
  auto again = provision();
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("revoked, not issued: T-A"), std::string::npos) << again.output;
  EXPECT_FALSE(fs::exists(out() / "agents" / "T-A.toml"));
  EXPECT_EQ(slurp(out() / "broker" / "passwd").find("T-A:"), std::string::npos);
  // Revoking twice is harmless and says so.
  const auto twice = run_tool({SEWAGE_PROVISION_BIN, "revoke", "--out", out().string(), "--no-reload", "T-A"},
                              dir_->path() / "revoke2.log");
  EXPECT_EQ(twice.status, 0) << twice.output;
  EXPECT_NE(twice.output.find("had no account (already revoked)"), std::string::npos) << twice.output;
  // Reinstated (the replacement SBC): a NEW password.
  again = provision({"--reinstate", "T-A"});
  ASSERT_EQ(again.status, 0) << again.output;
  ASSERT_TRUE(fs::exists(out() / "agents" / "T-A.toml"));
  EXPECT_NE(terminal("T-A").password, old.password);
  EXPECT_NE(slurp(out() / "broker" / "passwd").find("T-A:"), std::string::npos);
}

TEST_F(Identity, ProvisioningRefusesWhatCannotBeSecure) {
  const auto run = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), SEWAGE_PROVISION_BIN);
    return run_tool(argv, dir_->path() / "refuse.log");
  };
  const std::vector<std::string> base{"provision", "--registry", registry().string(), "--out", out().string(), "--no-reload"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = base;
    v.insert(v.end(), extra.begin(), extra.end());
    return run(v);
  };
  auto r = with({"--uri", "tcp://127.0.0.1:1883"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--uri: \"tcp://127.0.0.1:1883\" is plaintext: pass --allow-plaintext"), std::string::npos) << r.output;
  r = with({"--uri", "ssl://127.0.0.1:8883"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--broker-cert and --broker-key: required with a TLS --uri"), std::string::npos) << r.output;
  r = with({"--uri", "tcp://127.0.0.1:1883", "--allow-plaintext", "--ca-file", "/etc/ca.crt"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--ca-file: set but \"tcp://127.0.0.1:1883\" is plaintext"), std::string::npos) << r.output;
  // A terminal named like the gateway's account would share its rights.
  std::ofstream(registry()) << registry_text({"T-A", "sewage-gateway"});
  r = with({"--uri", "ssl://h:8883", "--broker-cert", "c", "--broker-key", "k"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("terminal id \"sewage-gateway\" is the gateway's broker account name"), std::string::npos) << r.output;
  // Reserved topic levels are not terminal ids (the registry loader refuses them, naming the key).
  std::ofstream(registry()) << registry_text({"alerts"});
  r = with({"--uri", "ssl://h:8883", "--broker-cert", "c", "--broker-key", "k"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("terminal[0]"), std::string::npos) << r.output;
  // Revoking: an invalid id; no provisioning output yet.
  r = run({"revoke", "--out", out().string(), "--no-reload", "T/A"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("\"T/A\" is not a terminal id"), std::string::npos) << r.output;
  r = run({"revoke", "--out", out().string(), "--no-reload", "T-A"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no password file"), std::string::npos) << r.output;
  // With a plain URI when explicitly allowed: the snippets carry the opt-in the agent requires.
  std::ofstream(registry()) << registry_text({"T-A"});
  r = with({"--uri", "tcp://127.0.0.1:1883", "--allow-plaintext"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(toml::parse_file((out() / "agents" / "T-A.toml").string())["mqtt"]["allow_plaintext"].value_or(false));
  EXPECT_NE(slurp(out() / "broker" / "sewage.conf").find("PLAINTEXT listener"), std::string::npos);
}

// ---- against the broker started with the generated configuration -----------------------------

/// Rows that mention `terminal` in every table of the gateway's store that has a `terminal` column,
/// plus dead letters on its topics: what the gateway counted as that terminal's.
std::map<std::string, long> footprint(const fs::path& db_path, const std::string& terminal) {
  std::map<std::string, long> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path;
    return out;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c "
                     "WHERE m.type = 'table' AND c.name = 'terminal'",
                     -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  const auto count = [&](const std::string& sql) {
    sqlite3_stmt* q = nullptr;
    long n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(q, 1, terminal.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return n;
  };
  for (const auto& t : tables) out[t] = count("SELECT COUNT(*) FROM " + t + " WHERE terminal = ?1");
  out["dead_letters(topic)"] = count("SELECT COUNT(*) FROM dead_letters WHERE instr(topic, '/' || ?1 || '/') > 0");
  sqlite3_close(db);
  return out;
}

TEST_F(Identity, TerminalAPublishingToBsTopicsIsRefusedByTheBrokerAndCountedNowhereAsBsData) {
  start_county();
  start_gateway();
  const auto a = terminal("T-A");
  // MQTT 3.1.1 (what agents speak): the broker acknowledges and drops each forged message.
  client forger(uri(), "forger");
  ASSERT_EQ(forger.connect(a.user, a.password, pki_->ca_crt()), 0);
  proto::status_message birth;
  birth.state = proto::presence::online;
  birth.ts = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  birth.agent_version = "forged";
  birth.report_interval_s = 60;
  const std::vector<std::pair<std::string, std::string>> forged{
      {proto::telemetry_topic("T-B"), record_of("T-B", 1)},
      {proto::status_topic("T-B"), proto::encode(birth)},
      {proto::image_topic("T-B"), std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'j') + "\xFF\xD9"},
      {proto::command_result_topic("T-B"), R"({"id":"x","ok":true})"},
      {proto::command_topic("T-B"), R"({"id":"forged","name":"get_config"})"},
      {proto::alert_topic("T-B", proto::alert_type::offline), "{}"},
      {proto::gateway_status_topic(), R"({"state":"offline"})"}};
  for (const auto& [topic, payload] : forged) EXPECT_EQ(forger.publish(topic, payload, true), 0) << topic;
  // Control: the same account on its own topic is delivered and stored, so the gateway would
  // have seen the forged messages (which were sent before it on the same connection) had the
  // broker passed them on.
  EXPECT_EQ(forger.publish(proto::telemetry_topic("T-A"), record_of("T-A", 1)), 0);
  ASSERT_TRUE(eventually([&] { return footprint(dir_->path() / "gateway.db", "T-A")["records"] == 1; }, 20s));
  // MQTT 5 shows the refusal to the publisher itself: PUBACK reason 135, not authorised. (Its
  // connect takes over client id T-A from the 3.1.1 connection: the broker forces it.)
  client forger5(uri(), "forger5", MQTTVERSION_5);
  ASSERT_EQ(forger5.connect(a.user, a.password, pki_->ca_crt()), 0);
  EXPECT_EQ(forger5.publish(proto::telemetry_topic("T-B"), record_of("T-B", 2)), 135);
  EXPECT_EQ(forger5.publish(proto::alert_topic("T-B", proto::alert_type::offline), "{}"), 135);
  std::this_thread::sleep_for(300ms);  // the gateway's next batch
  ASSERT_EQ(WEXITSTATUS(gateway_->stop(10s)), 0);
  // The broker refused every forged publish, naming the client and the topic.
  const std::string broker_log = broker_->log();
  const auto denied = lines_with(broker_log, "Denied PUBLISH from T-A");
  EXPECT_EQ(denied.size(), forged.size() + 2) << broker_log;
  for (const auto& [topic, payload] : forged)
    EXPECT_TRUE(std::any_of(denied.begin(), denied.end(), [&](const std::string& l) { return l.find("'" + topic + "'") != std::string::npos; }))
        << topic;
  // At the gateway T-B looks exactly like T-C, a terminal that never published: no record, no
  // status, no image, no dead letter, no alert, no command result.
  const auto b = footprint(dir_->path() / "gateway.db", "T-B");
  const auto c = footprint(dir_->path() / "gateway.db", "T-C");
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b, c);
  EXPECT_EQ(b.at("records"), 0);
  EXPECT_EQ(b.at("dead_letters(topic)"), 0);
  const std::string gw_log = slurp(dir_->path() / "gateway.log");
  EXPECT_EQ(gw_log.find("sewage/v1/T-B/"), std::string::npos) << gw_log;
  EXPECT_EQ(gw_log.find("forged"), std::string::npos) << gw_log;
}

TEST_F(Identity, ATerminalReadsOnlyItsOwnCommandsAndCannotTakeAnothersClientId) {
  start_county();
  const auto a = terminal("T-A");
  const auto b = terminal("T-B");
  client real_b(uri(), "T-B");
  ASSERT_EQ(real_b.connect(b.user, b.password, pki_->ca_crt()), 0);
  real_b.subscribe(proto::command_topic("T-B"));
  // T-A asks for B's commands and for everything; it also claims B's client id, which would kick
  // B off the broker (client id take-over) if the broker did not force client id = username.
  client spy(uri(), "T-B");
  ASSERT_EQ(spy.connect(a.user, a.password, pki_->ca_crt()), 0);
  spy.subscribe(proto::command_topic("T-B"));
  spy.subscribe("sewage/v1/#");
  spy.subscribe("#");
  client gateway(uri(), "sewage-gateway");
  const auto g = gateway_account();
  ASSERT_EQ(gateway.connect(g.user, g.password, pki_->ca_crt()), 0);
  EXPECT_EQ(gateway.publish(proto::command_topic("T-B"), R"({"id":"c1","name":"get_config"})"), 0);
  EXPECT_EQ(gateway.publish(proto::telemetry_topic("T-C"), record_of("T-C", 1)), 0);  // the gateway may not either
  ASSERT_TRUE(eventually([&] { return !real_b.messages().empty(); }, 10s));
  std::this_thread::sleep_for(500ms);  // anything else in flight would have arrived by now
  EXPECT_EQ(real_b.messages().size(), 1U);
  EXPECT_TRUE(spy.messages().empty()) << spy.messages().front().first;
  EXPECT_TRUE(real_b.connected());
  EXPECT_FALSE(real_b.lost()) << "T-A's connect with client id T-B kicked T-B";
  EXPECT_NE(broker_->log().find("Denied PUBLISH from sewage-gateway"), std::string::npos);
}

TEST_F(Identity, ARevokedTerminalIsKickedAndRefusedWhileTheOthersContinue) {
  start_county();
  client observer(uri(), "sewage-gateway");  // the gateway's account: reads every terminal
  const auto g = gateway_account();
  ASSERT_EQ(observer.connect(g.user, g.password, pki_->ca_crt()), 0);
  observer.subscribe(proto::subscription_filter(proto::topic_kind::telemetry));
  auto& agent_a = start_agent(agent_config("T-A"), "agent-A.log");
  auto& agent_b = start_agent(agent_config("T-B"), "agent-B.log");
  auto& agent_c = start_agent(agent_config("T-C"), "agent-C.log");
  const auto count = [&](const std::string& id) {
    std::size_t n = 0;
    for (const auto& [t, p] : observer.messages()) n += t == proto::telemetry_topic(id) ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return count("T-A") >= 2 && count("T-B") >= 2 && count("T-C") >= 2; }, 30s))
      << agent_a.log() << agent_b.log() << agent_c.log();
  const std::string password_a = terminal("T-A").password;

  // One command: sewage-provision revoke, which reloads the broker (SIGHUP to its PID).
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_tool({SEWAGE_PROVISION_BIN, "revoke", "--out", out().string(), "--broker-pid",
                           std::to_string(broker_->pid()), "T-A"},
                          dir_->path() / "revoke.log");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("broker reloaded (SIGHUP sent): it disconnects T-A"), std::string::npos) << r.output;
  ASSERT_TRUE(eventually([&] { return broker_->log().find("Client T-A disconnected") != std::string::npos; }, 10s))
      << broker_->log();
  const double kick_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ measure  ] revoke command to the broker disconnecting T-A: " << kick_s << " s (polled every 50 ms)\n";
  EXPECT_LT(kick_s, 5.0);
  // The agent notices, and every reconnect is refused with a line that says why.
  const std::string refused =
      "not authorised: the broker refused mqtt.username \"T-A\" (wrong mqtt.password, or the account was revoked or never "
      "provisioned; CONNACK 5)";
  ASSERT_TRUE(eventually([&] { return agent_a.log().find(refused) != std::string::npos; }, 15s)) << agent_a.log();
  const std::size_t a_at_refusal = count("T-A");
  const std::size_t b_before = count("T-B");
  const std::size_t c_before = count("T-C");
  std::this_thread::sleep_for(3s);
  // The others continue on their connections; T-A delivers nothing more.
  EXPECT_GE(count("T-B"), b_before + 2);
  EXPECT_GE(count("T-C"), c_before + 2);
  EXPECT_EQ(count("T-A"), a_at_refusal);
  EXPECT_EQ(agent_b.log().find("connection lost"), std::string::npos) << agent_b.log();
  EXPECT_EQ(agent_c.log().find("connection lost"), std::string::npos) << agent_c.log();
  EXPECT_FALSE(observer.lost());
  // The old password cannot connect from anywhere else either.
  client thief(uri(), "thief");
  EXPECT_EQ(thief.connect("T-A", password_a, pki_->ca_crt()), 5);
  // No password in any log.
  for (const auto* p : {&agent_a, &agent_b, &agent_c}) EXPECT_EQ(p->log().find(password_a), std::string::npos);
  EXPECT_EQ(r.output.find(password_a), std::string::npos);
}

TEST_F(Identity, AWrongPasswordIsRefusedWithAClearAgentLogLine) {
  start_county();
  const std::string wrong = "not-the-password-of-T-A-0123456789";
  auto& agent = start_agent(agent_config("T-A", {},
                                         [&](std::string& s) {
                                           const auto at = s.find("password = '");
                                           s.replace(at, s.find('\n', at) - at, "password = '" + wrong + "'");
                                         }),
                            "agent-wrong-password.log");
  const std::string line =
      "connect failed (rc 5): not authorised: the broker refused mqtt.username \"T-A\" (wrong mqtt.password, or the "
      "account was revoked or never provisioned; CONNACK 5)";
  ASSERT_TRUE(eventually([&] { return agent.log().find(line) != std::string::npos; }, 15s)) << agent.log();
  std::cout << "[ log      ] " << lines_with(agent.log(), "connect failed").front() << "\n";
  EXPECT_EQ(agent.log().find(wrong), std::string::npos) << "the password is logged";
  EXPECT_NE(broker_->log().find("not authorised"), std::string::npos);
  // An agent without any account is refused the same way, and says so.
  auto& anon = start_agent(agent_config("T-B", {},
                                        [](std::string& s) {
                                          for (const char* key : {"\nusername = ", "\npassword = "}) {
                                            const auto at = s.find(key) + 1;
                                            s.erase(at, s.find('\n', at) - at + 1);
                                          }
                                        }),
                           "agent-anonymous.log");
  ASSERT_TRUE(eventually([&] { return anon.log().find("not authorised: the broker refused no mqtt.username set") != std::string::npos; },
                         15s))
      << anon.log();
}

TEST_F(Identity, AWrongCertificateIsRefusedWithAClearAgentLogLine) {
  // A second listener with a certificate from the right CA for another host name only.
  int wrong_host_port = testing::free_loopback_port();
  while (wrong_host_port == port_) wrong_host_port = testing::free_loopback_port();
  start_county("listener " + std::to_string(wrong_host_port) + " 127.0.0.1\ncertfile " + pki_->wronghost_crt().string() +
               "\nkeyfile " + pki_->wronghost_key().string() + "\n");
  // The terminal was given a CA that did not sign the broker's certificate.
  auto& other_ca = start_agent(agent_config("T-A", {},
                                            [&](std::string& s) {
                                              const auto at = s.find("ca_file = '");
                                              s.replace(at, s.find('\n', at) - at,
                                                        "ca_file = '" + pki_->other_ca_crt().string() + "'");
                                            }),
                               "agent-other-ca.log");
  // The terminal reaches a broker whose certificate does not name 127.0.0.1.
  auto& wrong_host = start_agent(agent_config("T-B", {},
                                              [&](std::string& s) {
                                                const auto at = s.find(std::to_string(port_) + "'");
                                                s.replace(at, std::to_string(port_).size(), std::to_string(wrong_host_port));
                                              }),
                                 "agent-wrong-host.log");
  ASSERT_TRUE(eventually([&] { return other_ca.log().find("connect failed") != std::string::npos; }, 15s)) << other_ca.log();
  ASSERT_TRUE(eventually([&] { return wrong_host.log().find("connect failed") != std::string::npos; }, 15s)) << wrong_host.log();
  const auto ca_line = lines_with(other_ca.log(), "connect failed").front();
  const auto host_line = lines_with(wrong_host.log(), "connect failed").front();
  std::cout << "[ log      ] " << ca_line << "\n[ log      ] " << host_line << "\n";
  EXPECT_NE(ca_line.find("connect failed (rc -1): TCP/TLS connect failure: the server certificate is not signed by "
                         "mqtt.ca_file"),
            std::string::npos)
      << ca_line;
  EXPECT_NE(host_line.find("connect failed (rc -1): TCP/TLS connect failure: the server certificate does not match the "
                           "host name in mqtt.uri"),
            std::string::npos)
      << host_line;
  // Neither got as far as sending its password: the broker saw no CONNECT from them.
  EXPECT_EQ(broker_->log().find("u'T-A'"), std::string::npos);
  EXPECT_EQ(broker_->log().find("u'T-B'"), std::string::npos);
}

// ---- TLS by default ---------------------------------------------------------------------------

TEST_F(Identity, TheGatewayRefusesPlaintextUnlessOptedInAndNeverFallsBackToIt) {
  start_county();
  const int http_port = testing::free_loopback_port();
  const auto write = [&](const std::string& name, const std::string& mqtt) {
    std::ofstream(dir_->path() / name) << "[mqtt]\n" << mqtt << "[store]\npath = \"gw-" << name << ".db\"\n"
                                       << "[http]\nlisten = \"127.0.0.1:" << http_port << "\"\n"
                                       << "[registry]\npath = \"registry.toml\"\n";
    return (dir_->path() / name).string();
  };
  // tcp:// without the opt-in: a config error naming the key, at --check-config and at start.
  const auto plain = write("plain.toml", "uri = \"tcp://127.0.0.1:1883\"\n");
  const std::string why = "mqtt.uri: \"tcp://127.0.0.1:1883\" is plaintext: set mqtt.allow_plaintext = true to accept "
                          "that (not recommended), or use ssl://";
  for (const bool check : {true, false}) {
    std::vector<std::string> argv{SEWAGE_GATEWAY_BIN, "--config", plain};
    if (check) argv.emplace_back("--check-config");
    const auto r = run_tool(argv, dir_->path() / "gw-plain.log");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(why), std::string::npos) << r.output;
  }
  // With the opt-in: accepted, with the warning at --check-config and in the start log.
  testing::mosquitto_broker plain_broker(dir_->path() / "plain-broker");
  const auto opted = write("opted.toml", "uri = \"" + plain_broker.uri() + "\"\nallow_plaintext = true\n");
  const std::string warning = "mqtt: plaintext connection to " + plain_broker.uri() +
                              " (mqtt.allow_plaintext = true): credentials and data travel unencrypted";
  auto r = run_tool({SEWAGE_GATEWAY_BIN, "--config", opted, "--check-config"}, dir_->path() / "gw-opted-check.log");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: " + warning), std::string::npos) << r.output;
  {
    testing::child_process gw({SEWAGE_GATEWAY_BIN, "--config", opted}, dir_->path() / "gw-opted.log");
    ASSERT_TRUE(eventually([&] { return gw.log().find("MQTT connected") != std::string::npos; }, 20s)) << gw.log();
    EXPECT_EQ(lines_with(gw.log(), warning).size(), 1U) << gw.log();
    EXPECT_NE(lines_with(gw.log(), warning).at(0).find("warn"), std::string::npos);
    gw.stop(10s);
  }
  // TLS configured, but the broker at that address speaks plaintext: never connects, says why.
  const std::size_t plain_log_before = plain_broker.log().size();
  const auto tls_to_plain = write("tls-to-plain.toml", "uri = \"ssl://127.0.0.1:" + std::to_string(plain_broker.port()) +
                                                           "\"\nca_file = \"" + pki_->ca_crt().string() + "\"\n");
  {
    testing::child_process gw({SEWAGE_GATEWAY_BIN, "--config", tls_to_plain}, dir_->path() / "gw-tls-to-plain.log");
    ASSERT_TRUE(eventually([&] { return gw.log().find("MQTT connect to") != std::string::npos; }, 20s)) << gw.log();
    std::this_thread::sleep_for(2s);  // several attempts
    const auto failed = lines_with(gw.log(), "MQTT connect to");
    std::cout << "[ log      ] " << failed.front() << "\n";
    EXPECT_NE(failed.front().find("failed (rc -1): TCP/TLS connect failure: TLS handshake failed: the server closed the "
                                  "connection during the handshake (does the broker speak TLS on 127.0.0.1:" +
                                  std::to_string(plain_broker.port()) + "?"),
              std::string::npos)
        << failed.front();
    EXPECT_EQ(gw.log().find("MQTT connected"), std::string::npos) << gw.log();
    gw.stop(10s);
  }
  EXPECT_EQ(plain_broker.log().find("New client connected", plain_log_before), std::string::npos) << plain_broker.log();
}

TEST_F(Identity, TheAgentRefusesPlaintextUnlessOptedInAndThenWarns) {
  start_county();
  testing::mosquitto_broker plain_broker(dir_->path() / "plain-broker");
  const auto to_plain = [&](bool opt_in) {
    return [&, opt_in](std::string& s) {
      const auto at = s.find("uri = '");
      s.replace(at, s.find('\n', at) - at, "uri = '" + plain_broker.uri() + "'" + (opt_in ? "\nallow_plaintext = true" : ""));
      const auto ca = s.find("ca_file = ");
      s.erase(ca, s.find('\n', ca) - ca + 1);
    };
  };
  const auto refused = agent_config("T-A", {}, to_plain(false));
  const std::string why = "mqtt.uri: \"" + plain_broker.uri() +
                          "\" is plaintext: set mqtt.allow_plaintext = true to accept that (not recommended), or use ssl://";
  auto r = run_tool({SEWAGE_AGENT_BIN, "--config", refused.string(), "--check-config"}, dir_->path() / "a-check.log");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(why), std::string::npos) << r.output;
  r = run_tool({SEWAGE_AGENT_BIN, "--config", refused.string()}, dir_->path() / "a-start.log");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(why), std::string::npos) << r.output;
  EXPECT_EQ(plain_broker.log().find("New client connected"), std::string::npos);
  // Opted in: the warning at --check-config and at start, and get_config shows the key.
  const auto opted = agent_config("T-A", {}, to_plain(true));
  const std::string warning = "mqtt: plaintext connection to " + plain_broker.uri() +
                              " (mqtt.allow_plaintext = true): credentials and data travel unencrypted";
  r = run_tool({SEWAGE_AGENT_BIN, "--config", opted.string(), "--check-config"}, dir_->path() / "a-check2.log");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: " + warning), std::string::npos) << r.output;
  auto& agent = start_agent(opted, "agent-plain.log");
  ASSERT_TRUE(eventually([&] { return agent.log().find("mqtt: connected") != std::string::npos; }, 15s)) << agent.log();
  EXPECT_EQ(lines_with(agent.log(), warning).size(), 1U) << agent.log();
  // get_config answers with the key (and never the password).
  client gw(plain_broker.uri(), "test-gw");
  ASSERT_EQ(gw.connect("", "", {}), 0);
  gw.subscribe(proto::command_result_topic("T-A"));
  std::string result;
  ASSERT_TRUE(eventually([&] {
    gw.publish(proto::command_topic("T-A"), R"({"id":"cfg","name":"get_config"})");
    for (const auto& [t, p] : gw.messages())
      if (p.find("\"cfg\"") != std::string::npos) result = p;
    return !result.empty();
  }, 15s)) << agent.log();
  EXPECT_NE(result.find("\"allow_plaintext\":true"), std::string::npos) << result;
  EXPECT_EQ(result.find(terminal("T-A").password), std::string::npos) << result;
}

}  // namespace
}  // namespace sewage::identity_test
