// Numbers as people read them, through the gateway (issue 9, section 7): a record's values, the
// daily sums and means the API derives from them, all at the documented resolution
// (proto/resolution.hpp), and a 123456789.123 m3 totalizer unchanged from encode to the API.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "test_util.hpp"

#include <sewage/proto/topic.hpp>
#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using test::at;

class ApiNumbers : public ::testing::Test {
 protected:
  ApiNumbers() : dir_("gw-num"), clock_(at("2026-11-29T01:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_public_read = true;  // reads without login: these tests are not about identity (auth_test.cpp is)
    eng_ = std::make_unique<engine>(cfg_, registry({test::terminal("T1", cfg_.defaults)}), db_, clock_, pub_,
                                    default_rules());
    api_ = std::make_unique<api>(*eng_);
  }
  /// One hourly record (interval 3600 s) with the given flow and turbidity.
  void send(std::uint64_t seq, double rate_m3h, double total_m3, double ntu) {
    auto r = test::with_flow(test::with_turbidity(test::record("T1", seq, clock_.now()), ntu), rate_m3h, total_m3);
    r.interval_s = 3600;
    eng_->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock_.now()});
  }
  std::string get(const std::string& target) {
    const auto r = api_->handle({"GET", target, "", ""});
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return r.body;
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<api> api_;
};

TEST_F(ApiNumbers, ValuesAndDailyFiguresPrintAtTheirResolution) {
  // A float32 0.8 m3/h, totals 0.42 m3 apart on a 123456789.123 m3 totalizer, turbidity read from
  // float32 registers (4.1f, 4.2f, 4.6f: mean 4.3 NTU).
  const double totals[] = {123456789.123, 123456789.543, 123456789.963};
  const float ntu[] = {4.1F, 4.2F, 4.6F};
  for (std::uint64_t i = 0; i < 3; ++i) {
    send(i + 1, static_cast<double>(0.8F), totals[i], static_cast<double>(ntu[i]));
    clock_.advance(std::chrono::hours(1));
  }
  // Unrounded the day would show 0.8400000035762787 m3 and 4.300000031789144 NTU.
  const auto daily = get("/api/terminals/T1/daily?from=2026-11-29&to=2026-11-29");
  EXPECT_NE(daily.find(R"("volume_measured_m3":0.84)"), std::string::npos) << daily;
  EXPECT_NE(daily.find(R"("turbidity_mean_ntu":4.3,)"), std::string::npos) << daily;
  EXPECT_NE(daily.find(R"("turbidity_max_ntu":4.6,)"), std::string::npos) << daily;
  const auto one = get("/api/terminals/T1");
  EXPECT_NE(one.find(R"("rate_m3h":0.8,)"), std::string::npos) << one;
  EXPECT_NE(one.find(R"("total_m3":123456789.963)"), std::string::npos) << one;
  const auto hist = json::parse(get("/api/terminals/T1/history?from=2026-11-29T00:00:00Z&to=2026-11-29T06:00:00Z"));
  ASSERT_EQ(hist["records"].size(), 3u);
  EXPECT_EQ(hist["records"][0]["flow"]["total_m3"].dump(), "123456789.123");
  EXPECT_EQ(hist["records"][0]["turbidity"]["ntu"].dump(), "4.1");
  const auto summary = get("/api/summary");
  // 0.84 measured + 0.8 estimated for the first hour (no earlier total): 1.6400000035762787 unrounded.
  EXPECT_NE(summary.find(R"("volume_today_m3":1.64})"), std::string::npos) << summary;
}

}  // namespace
}  // namespace sewage::gateway
