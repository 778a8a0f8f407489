#include "sewage/sim/influent.hpp"
#include "sewage/sim/terminal_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

namespace sewage::sim {
namespace {

const std::filesystem::path data_file = std::filesystem::path(SEWAGE_SIM_DATA_DIR) / "bsm1_dryinfluent.csv";

TEST(Influent, LoadsTheShippedBsm1Table) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  // 1344 rows without the t=14 row of the .txt files (PROVENANCE.md): mean 18446.33 m3/d.
  EXPECT_NEAR(p.mean_q_m3d(), 18446.33, 0.01);
  EXPECT_NEAR(p.period_days(), 14.0, 1e-6);
  const auto first = p.at(0.0);
  EXPECT_DOUBLE_EQ(first.q_m3d, 21477);        // first row of the file
  EXPECT_DOUBLE_EQ(first.tss_gm3, 235.68975);
}

TEST(Influent, InterpolatesAndRepeats) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  const auto mid = p.at(0.5 / 96.0);  // halfway between rows 1 and 2
  EXPECT_NEAR(mid.q_m3d, (21477 + 21474) / 2.0, 1e-6);
  // The csv's times are rounded to 9 digits, hence the tolerance.
  EXPECT_NEAR(p.at(14.0 + 0.25).q_m3d, p.at(0.25).q_m3d, 0.01);
  EXPECT_NEAR(p.at(-1.0).q_m3d, p.at(13.0).q_m3d, 0.01);
}

TEST(Influent, RejectsBrokenFilesWithLine) {
  const auto dir = std::filesystem::temp_directory_path() / "influent-test";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad.csv";
  std::ofstream(bad) << "0,1,2\n";
  try {
    (void)influent_profile::load_bsm1_csv(bad);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), bad.string() + ":1: expected 22 columns, got 3");
  }
  std::ofstream(bad) << "0,abc\n";
  EXPECT_THROW((void)influent_profile::load_bsm1_csv(bad), std::runtime_error);
  EXPECT_THROW((void)influent_profile::load_bsm1_csv(dir / "missing.csv"), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(Weather, RainAndStormShapes) {
  const influent_sample dry{100.0, 200.0};
  EXPECT_EQ(apply_weather(dry, weather_kind::dry, 1.0).q_m3d, 100.0);
  const auto rain_peak = apply_weather(dry, weather_kind::rain, 1.02);
  EXPECT_NEAR(rain_peak.q_m3d, 300.0, 0.01);
  EXPECT_NEAR(rain_peak.tss_gm3, 200.0 / 3.0, 0.01);
  EXPECT_EQ(apply_weather(dry, weather_kind::rain, 3.0).q_m3d, 100.0);  // over
  const auto flush = apply_weather(dry, weather_kind::storm, 0.1355);
  EXPECT_NEAR(flush.tss_gm3, 2.9 * 200.0, 1.0);
  EXPECT_NEAR(apply_weather(dry, weather_kind::storm, 1.355).q_m3d, 390.0, 0.01);
}

TEST(Weather, SeveralEventsCombine) {
  const influent_sample dry{100.0, 200.0};
  // One event: the same as the single-event form.
  const std::vector<weather_event> rain{{weather_kind::rain, 2.0}};
  EXPECT_EQ(apply_weather(dry, rain, 3.02).q_m3d, apply_weather(dry, weather_kind::rain, 1.02).q_m3d);
  EXPECT_EQ(apply_weather(dry, rain, 1.5).q_m3d, 100.0);  // before it
  EXPECT_EQ(apply_weather(dry, std::vector<weather_event>{}, 1.0).q_m3d, 100.0);
  // Two apart: each in its own time.
  const std::vector<weather_event> two{{weather_kind::rain, 0.0}, {weather_kind::storm, 5.0}};
  EXPECT_NEAR(apply_weather(dry, two, 1.02).q_m3d, 300.0, 0.01);
  EXPECT_NEAR(apply_weather(dry, two, 5.0 + 1.355).q_m3d, 390.0, 0.01);
  EXPECT_EQ(apply_weather(dry, two, 4.0).q_m3d, 100.0);
  // Overlapping: the larger flow multiplier (not the sum); a first flush wins the TSS.
  const std::vector<weather_event> overlap{{weather_kind::rain, 0.0}, {weather_kind::storm, 1.02 - 0.1355}};
  const auto both = apply_weather(dry, overlap, 1.02);
  EXPECT_NEAR(both.q_m3d, 300.0, 0.01);         // the rain's peak is larger than the storm's start
  EXPECT_NEAR(both.tss_gm3, 2.9 * 200.0, 1.0);  // the storm's first flush
  const auto later = apply_weather(dry, overlap, 1.02 - 0.1355 + 1.355);
  EXPECT_NEAR(later.q_m3d, 390.0, 0.01);        // the storm's peak
  EXPECT_NEAR(later.tss_gm3, 200.0 / 3.9, 0.01);  // diluted by the combined flow
}

TEST(TerminalModel, ScalesFlowToCapacityAndIntegratesVolume) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  terminal_params params;
  params.design_capacity_m3d = 20.0;
  params.totalizer_start_m3 = 1000.0;
  terminal_model m(p, params);
  m.advance_to(14.0, weather_kind::dry, 0.0, {});
  // Over the whole 14-day table the mean is load_factor * capacity.
  EXPECT_NEAR(m.volume_m3() / 14.0, 0.6 * 20.0, 0.01);
  EXPECT_NEAR(m.totalizer_m3(), 1000.0 + m.volume_m3(), 1e-6);
  EXPECT_GT(m.turbidity_ntu(), 1.0);
  EXPECT_LT(m.turbidity_ntu(), 10.0);
}

TEST(TerminalModel, FaultsActOnPhysics) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  terminal_model m(p, terminal_params{});
  m.advance_to(0.5, weather_kind::dry, 0.0, {});
  const double v = m.volume_m3();
  physical_faults blocked;
  blocked.no_flow = true;
  m.advance_to(0.75, weather_kind::dry, 0.0, blocked);
  EXPECT_EQ(m.flow_m3h(), 0.0);
  EXPECT_LT(m.volume_m3() - v, 0.01);  // only the ramp-down within the first step
  m.reset_totalizer();
  EXPECT_EQ(m.totalizer_m3(), 0.0);
  EXPECT_GT(m.volume_m3(), 0.0);
  physical_faults upset;
  upset.turbidity_factor = 5.0;
  const double before = m.turbidity_ntu();
  m.advance_to(0.75 + 1e-9, weather_kind::dry, 0.0, upset);
  EXPECT_NEAR(m.turbidity_ntu(), 5.0 * before, 0.05 * before);
  const double level = m.sludge_level_m();
  physical_faults sludge;
  sludge.sludge_extra_m_per_h = 0.5;
  m.advance_to(0.75 + 1e-9 + 1.0 / 24.0, weather_kind::dry, 0.0, sludge);
  EXPECT_NEAR(m.sludge_level_m() - level, 0.5, 0.01);
  m.clean_out();
  EXPECT_EQ(m.sludge_level_m(), 0.1);
}

// Electricity of the simulated terminal (issue 12 item 5): plausible power for a small terminal
// (0.3-1.5 kW), energy integrated from it, and a dry-running pump drawing power without flow.
TEST(TerminalEnergy, PlausiblePowerAndIntegratedEnergy) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  terminal_model m(p, terminal_params{});
  const double start_kwh = m.energy_kwh();
  double lo = 1e9, hi = 0;
  for (int i = 1; i <= 96; ++i) {
    m.advance_to(i / 96.0, weather_kind::dry, 0.0, {});
    lo = std::min(lo, m.power_kw());
    hi = std::max(hi, m.power_kw());
  }
  EXPECT_GE(lo, 0.3);
  EXPECT_LE(hi, 1.5);
  const double day_kwh = m.energy_kwh() - start_kwh;
  EXPECT_GT(day_kwh, 0.3 * 24);
  EXPECT_LT(day_kwh, 1.5 * 24);
  // kWh per m3 of a small terminal: ~0.5-3 kWh/m3 (provisional, small plants are energy-hungry).
  EXPECT_GT(day_kwh / m.volume_m3(), 0.5);
  EXPECT_LT(day_kwh / m.volume_m3(), 3.0);
}

TEST(TerminalEnergy, DryRunningPumpDrawsPowerWithoutFlow) {
  const auto p = influent_profile::load_bsm1_csv(data_file);
  terminal_model m(p, terminal_params{});
  physical_faults f;
  f.no_flow = true;
  f.pump_dry_run = true;
  m.advance_to(0.1, weather_kind::dry, 0.0, f);
  EXPECT_EQ(m.flow_m3h(), 0.0);
  EXPECT_NEAR(m.power_kw(), 0.37 + 0.75, 1e-9);
  // A blockage alone (the pump's level switch never calls): only the blower.
  physical_faults b;
  b.no_flow = true;
  m.advance_to(0.2, weather_kind::dry, 0.0, b);
  EXPECT_NEAR(m.power_kw(), 0.37, 1e-9);
}

}  // namespace
}  // namespace sewage::sim
