// Which Modbus requests a poll makes: points whose addresses touch are read together (so the
// totalizer's integer and fraction parts come from one moment), gaps are never bridged.
#include "sewage/agent/modbus_driver.hpp"

#include <gtest/gtest.h>

namespace sewage::agent {
namespace {

modbus_point point(quantity q, register_kind kind, std::uint16_t address, data_type type) {
  modbus_point p;
  p.what = q;
  p.spec.kind = kind;
  p.spec.address = address;
  p.spec.type = type;
  return p;
}

TEST(ReadPlan, TotalizerPartsAreOneRequest) {
  // MFE600H map: flow 0x1010 (f32), total integer 0x1018 (u32), total fraction 0x101A (f32).
  const std::vector<modbus_point> points{
      point(quantity::flow_rate, register_kind::holding, 0x1010, data_type::f32),
      point(quantity::flow_total_int, register_kind::holding, 0x1018, data_type::u32),
      point(quantity::flow_total_frac, register_kind::holding, 0x101A, data_type::f32)};
  const auto plan = modbus_driver::plan_reads(points);
  ASSERT_EQ(plan.size(), 2U);
  EXPECT_EQ(plan[0].address, 0x1010);
  EXPECT_EQ(plan[0].count, 2);
  EXPECT_EQ(plan[1].address, 0x1018);
  EXPECT_EQ(plan[1].count, 4);
  EXPECT_EQ(plan[1].points, (std::vector<std::size_t>{1, 2}));
}

TEST(ReadPlan, GapsTablesAndBitsStaySeparate) {
  const std::vector<modbus_point> points{
      point(quantity::turbidity, register_kind::holding, 0x2602, data_type::f32),
      point(quantity::sludge_level, register_kind::input, 0x2604, data_type::u16),
      point(quantity::flow_rate, register_kind::holding, 0x2605, data_type::u16),  // gap of 1
      point(quantity::cleanout_switch, register_kind::discrete_input, 0, data_type::u16),
      point(quantity::cleanout_switch, register_kind::discrete_input, 1, data_type::u16)};
  const auto plan = modbus_driver::plan_reads(points);
  ASSERT_EQ(plan.size(), 5U);
  for (const auto& g : plan) EXPECT_EQ(g.points.size(), 1U);
}

TEST(ReadPlan, OverlappingPointsShareARequestAndOrderIsByAddress) {
  const std::vector<modbus_point> points{
      point(quantity::flow_total, register_kind::holding, 12, data_type::u32),
      point(quantity::flow_rate, register_kind::holding, 10, data_type::u32),
      point(quantity::turbidity, register_kind::holding, 11, data_type::u16)};
  const auto plan = modbus_driver::plan_reads(points);
  ASSERT_EQ(plan.size(), 1U);
  EXPECT_EQ(plan[0].address, 10);
  EXPECT_EQ(plan[0].count, 4);
  EXPECT_EQ(plan[0].points, (std::vector<std::size_t>{1, 2, 0}));
}

TEST(ReadPlan, NeverMoreThan125Registers) {
  std::vector<modbus_point> points;
  for (std::uint16_t a = 0; a < 130; a += 2) {
    points.push_back(point(quantity::flow_rate, register_kind::holding, a, data_type::f32));
  }
  const auto plan = modbus_driver::plan_reads(points);
  ASSERT_EQ(plan.size(), 2U);
  EXPECT_LE(plan[0].count, modbus_driver::max_registers_per_read);
  EXPECT_EQ(plan[0].count + plan[1].count, 130);
}

}  // namespace
}  // namespace sewage::agent
