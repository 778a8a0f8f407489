// Stopping many children together (testing::stop_together): the simulator stops its 139 agents
// (38 terminals, 101 pump stations) this way. One after the other, each with its own grace, they
// took longer than the demo waits for the simulator, and the agents not yet stopped were left
// running after it was killed (2026-12-03).
#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sewage::testing {
namespace {

using namespace std::chrono_literals;

TEST(StopTogether, OneSharedGraceThenSigkillForThoseThatIgnoreSigterm) {
  temp_dir dir("stop-together");
  std::vector<std::unique_ptr<child_process>> kids;
  // Three that stop on SIGTERM, four that ignore it (like an agent stuck in a write).
  for (int i = 0; i < 3; ++i)
    kids.push_back(std::make_unique<child_process>(
        std::vector<std::string>{"sleep", "60"}, dir.path() / ("polite" + std::to_string(i) + ".log")));
  for (int i = 0; i < 4; ++i)
    kids.push_back(std::make_unique<child_process>(
        std::vector<std::string>{"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"},
        dir.path() / ("stubborn" + std::to_string(i) + ".log")));
  // The shells must have set their trap before the signal comes.
  for (auto& k : kids) {
    if (k->log_path().filename().string().rfind("stubborn", 0) != 0) continue;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (k->log().find("ready") == std::string::npos && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    ASSERT_NE(k->log().find("ready"), std::string::npos);
  }
  std::vector<child_process*> all;
  for (auto& k : kids) all.push_back(k.get());
  all.push_back(nullptr);  // skipped

  const auto t0 = std::chrono::steady_clock::now();
  const auto killed = stop_together(all, 1500ms);
  const auto took = std::chrono::steady_clock::now() - t0;

  EXPECT_EQ(killed, 4u);
  for (std::size_t i = 0; i < kids.size(); ++i) {
    ASSERT_FALSE(kids[i]->running()) << i;
    const auto st = kids[i]->wait_for_exit(0ms);
    ASSERT_TRUE(st.has_value()) << i;
    ASSERT_TRUE(WIFSIGNALED(*st)) << i;
    EXPECT_EQ(WTERMSIG(*st), i < 3 ? SIGTERM : SIGKILL) << i;
  }
  // One shared grace: four stubborn children one after the other would take 4 x 1.5 s.
  EXPECT_LT(took, 4500ms);
  // Children already stopped: nothing to do, nothing killed.
  EXPECT_EQ(stop_together(all, 1500ms), 0u);
}

}  // namespace
}  // namespace sewage::testing
