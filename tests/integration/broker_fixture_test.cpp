// The integration-test broker itself: it starts on a free loopback port, carries a message
// between two clients we did not write (mosquitto_sub / mosquitto_pub), keeps a retained message
// across a SIGTERM restart, and is stopped by PID.
#include "sewage/testing/mosquitto.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <set>
#include <thread>

namespace sewage::testing {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(BrokerFixture, CarriesMessagesAndKeepsRetainedAcrossRestart) {
  temp_dir dir("broker-fixture");
  mosquitto_broker broker(dir.path());
  ASSERT_TRUE(broker.running());
  ASSERT_TRUE(port_accepts(broker.port()));
  const std::string port = std::to_string(broker.port());

  child_process sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "sewage/v1/T1/status",
                     "-C", "1", "-W", "20"},
                    dir.path() / "sub.out");
  child_process pub({"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "sewage/v1/T1/status",
                     "-q", "1", "-r", "-m", "hello"},
                    dir.path() / "pub.out");
  ASSERT_TRUE(pub.wait_for_exit(std::chrono::seconds(10)).has_value());
  const auto st = sub.wait_for_exit(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value()) << broker.log();
  EXPECT_EQ(read_file(dir.path() / "sub.out"), "hello\n");

  const pid_t first_pid = broker.pid();
  broker.stop();
  EXPECT_FALSE(broker.running());
  EXPECT_NE(::kill(first_pid, 0), 0) << "broker still alive after stop()";
  broker.start();
  child_process again({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t",
                       "sewage/v1/T1/status", "-C", "1", "-W", "10"},
                      dir.path() / "again.out");
  ASSERT_TRUE(again.wait_for_exit(std::chrono::seconds(15)).has_value()) << broker.log();
  EXPECT_EQ(read_file(dir.path() / "again.out"), "hello\n") << broker.log();
}

// CI once started a test's broker and its gateway's HTTP listener on one port: two calls of the
// port picker, before either port was bound, got the same port from the kernel. The picker never
// hands out a port twice in a process.
TEST(FreeLoopbackPort, NeverRepeatsInAProcess) {
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) {
    const int port = free_loopback_port();
    ASSERT_GT(port, 0);
    ASSERT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice, call " << i;
  }
}

TEST(FreeLoopbackPort, NeverGivesAPortSomethingListensOn) {
  temp_dir dir("free-port");
  mosquitto_broker broker(dir.path());
  for (int i = 0; i < 500; ++i) ASSERT_NE(free_loopback_port(), broker.port());
}

}  // namespace
}  // namespace sewage::testing
