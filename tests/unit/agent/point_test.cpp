// Point decoding against the byte-order vectors of ../shared/data/modbus_maps.md, signed types,
// sentinels, scale/offset and the valid range.
#include "sewage/agent/point.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

namespace sewage::agent {
namespace {

using proto::quantity_status;

struct vector_case {
  double value;
  word_order order;
  std::array<std::uint16_t, 2> regs;
};

// modbus_maps.md, "Byte-order test vectors".
const vector_case kVectors[] = {
    {123456.0, word_order::abcd, {0x47F1, 0x2000}}, {123456.0, word_order::cdab, {0x2000, 0x47F1}},
    {123456.0, word_order::badc, {0xF147, 0x0020}}, {123456.0, word_order::dcba, {0x0020, 0xF147}},
    {12.5, word_order::abcd, {0x4148, 0x0000}},     {12.5, word_order::cdab, {0x0000, 0x4148}},
    {12.5, word_order::badc, {0x4841, 0x0000}},     {12.5, word_order::dcba, {0x0000, 0x4841}},
    {0.85, word_order::abcd, {0x3F59, 0x999A}},     {0.85, word_order::cdab, {0x999A, 0x3F59}},
    {0.85, word_order::badc, {0x593F, 0x9A99}},     {0.85, word_order::dcba, {0x9A99, 0x593F}},
};

TEST(PointDecode, Float32EveryWordOrderMatchesTheVectors) {
  for (const auto& v : kVectors) {
    point_spec spec;
    spec.type = data_type::f32;
    spec.order = v.order;
    const auto d = decode_point(spec, v.regs);
    ASSERT_EQ(d.status, quantity_status::ok) << d.reason;
    // The float's shortest decimal form, not the widened binary value (0.85, not 0.85000002384).
    EXPECT_EQ(d.value, v.value) << "order " << static_cast<int>(v.order);
    // And the inverse used by tests and emulators gives the same registers.
    const auto regs = encode_registers(v.value, data_type::f32, v.order);
    ASSERT_EQ(regs.size(), 2U);
    EXPECT_EQ(regs[0], v.regs[0]);
    EXPECT_EQ(regs[1], v.regs[1]);
  }
}

// Issue 9, section 7: a float32 register holding 0.8 showed in the API as 0.800000011920929.
TEST(PointDecode, Float32RegisterValuesKeepTheirShortestDecimalForm) {
  for (const double want : {0.8, 0.42, 4.3, 1240.01, 0.1, 3.14159, 16777216.0, 1e-7}) {
    point_spec spec;
    spec.type = data_type::f32;
    spec.order = word_order::abcd;
    const auto regs = encode_registers(want, data_type::f32, word_order::abcd);
    const auto d = decode_point(spec, regs);
    ASSERT_EQ(d.status, quantity_status::ok) << d.reason;
    EXPECT_EQ(d.value, want) << "float32 " << want;
    // Nothing of the float is lost: it narrows back to the same float.
    EXPECT_EQ(static_cast<float>(d.value), static_cast<float>(want));
  }
  // Scale and offset apply to that decimal value: 0.8 (float32) * 10 = 8.
  point_spec scaled;
  scaled.type = data_type::f32;
  scaled.scale = 10;
  EXPECT_EQ(decode_point(scaled, encode_registers(0.8, data_type::f32, word_order::abcd)).value, 8.0);
}

TEST(PointDecode, ThirtyTwoBitIntegersInEveryOrder) {
  // 0x47F12000 = 1206984704 as u32 / i32, laid out like the float vector above.
  for (const auto& v : kVectors) {
    if (v.value != 123456.0) continue;
    point_spec u;
    u.type = data_type::u32;
    u.order = v.order;
    EXPECT_EQ(decode_point(u, v.regs).value, 1206984704.0);
  }
  point_spec i;
  i.type = data_type::i32;
  i.order = word_order::cdab;
  const std::array<std::uint16_t, 2> minus_two{0xFFFE, 0xFFFF};  // CDAB of 0xFFFFFFFE
  EXPECT_EQ(decode_point(i, minus_two).value, -2.0);
  i.type = data_type::u32;
  EXPECT_EQ(decode_point(i, minus_two).value, 4294967294.0);
}

TEST(PointDecode, SixteenBitSignedAndByteSwapped) {
  point_spec s;
  s.type = data_type::i16;
  const std::array<std::uint16_t, 1> neg{0xFF38};
  EXPECT_EQ(decode_point(s, neg).value, -200.0);
  s.type = data_type::u16;
  EXPECT_EQ(decode_point(s, neg).value, 65336.0);
  s.order = word_order::dcba;  // byte swap within the register
  const std::array<std::uint16_t, 1> swapped{0x0201};
  EXPECT_EQ(decode_point(s, swapped).value, 0x0102);
  s.order = word_order::badc;
  EXPECT_EQ(decode_point(s, swapped).value, 0x0102);
  s.order = word_order::cdab;  // no effect on one register
  EXPECT_EQ(decode_point(s, swapped).value, 0x0201);
}

TEST(PointDecode, ScaleAndOffset) {
  // Level = mounting height 3.0 m - distance in mm * 0.001.
  point_spec s;
  s.type = data_type::u16;
  s.scale = -0.001;
  s.offset = 3.0;
  const std::array<std::uint16_t, 1> mm{1800};
  EXPECT_NEAR(decode_point(s, mm).value, 1.2, 1e-12);
  point_spec t;
  t.type = data_type::i16;
  t.scale = 0.1;
  const std::array<std::uint16_t, 1> tenths{0xFFF6};  // -10 → -1.0
  EXPECT_NEAR(decode_point(t, tenths).value, -1.0, 1e-12);
}

TEST(PointDecode, SentinelsAreFaultsNotNumbers) {
  point_spec s;
  s.type = data_type::u16;
  s.sentinels = {0xFFFF};
  const std::array<std::uint16_t, 1> ffff{0xFFFF};
  const auto d = decode_point(s, ffff);
  EXPECT_EQ(d.status, quantity_status::fault);
  EXPECT_EQ(d.reason, "sentinel 0xFFFF");
  s.type = data_type::i16;
  s.sentinels = {0x7FFF, 0x8000};
  const std::array<std::uint16_t, 1> max{0x7FFF};
  const std::array<std::uint16_t, 1> min{0x8000};
  const std::array<std::uint16_t, 1> ok{0x7FFE};
  EXPECT_EQ(decode_point(s, max).status, quantity_status::fault);
  EXPECT_EQ(decode_point(s, min).status, quantity_status::fault);
  EXPECT_EQ(decode_point(s, ok).status, quantity_status::ok);
  // 32-bit sentinel compared after word order: a quiet NaN sent CDAB.
  point_spec f;
  f.type = data_type::f32;
  f.order = word_order::cdab;
  f.sentinels = {0x7FC00000};
  const std::array<std::uint16_t, 2> qnan{0x0000, 0x7FC0};
  EXPECT_EQ(decode_point(f, qnan).reason, "sentinel 0x7FC00000");
}

TEST(PointDecode, NanAndInfinityAreFaults) {
  point_spec f;
  f.type = data_type::f32;
  const std::array<std::uint16_t, 2> inf{0x7F80, 0x0000};
  const std::array<std::uint16_t, 2> nan{0x7FC0, 0x0001};
  EXPECT_EQ(decode_point(f, inf).status, quantity_status::fault);
  EXPECT_EQ(decode_point(f, nan).status, quantity_status::fault);
}

TEST(PointDecode, RangeGivesOutOfRange) {
  point_spec f;
  f.type = data_type::f32;
  f.min = 0.0;
  f.max = 100.0;
  const std::array<std::uint16_t, 2> v125{0x42FA, 0x0000};   // 125.0
  const std::array<std::uint16_t, 2> vneg{0xC120, 0x0000};   // -10.0
  const std::array<std::uint16_t, 2> v100{0x42C8, 0x0000};   // 100.0, inclusive
  EXPECT_EQ(decode_point(f, v125).status, quantity_status::out_of_range);
  EXPECT_EQ(decode_point(f, vneg).status, quantity_status::out_of_range);
  EXPECT_EQ(decode_point(f, v100).status, quantity_status::ok);
}

TEST(PointDecode, TooFewRegistersAndBits) {
  point_spec f;
  f.type = data_type::f32;
  const std::array<std::uint16_t, 1> one{0x4148};
  EXPECT_EQ(decode_point(f, one).status, quantity_status::fault);
  point_spec c;
  c.kind = register_kind::discrete_input;
  const std::array<std::uint16_t, 1> on{1};
  EXPECT_EQ(decode_point(c, on).value, 1.0);
}

TEST(PointDecode, ParsersAcceptOnlyTheDocumentedSpellings) {
  EXPECT_EQ(parse_word_order("CDAB"), word_order::cdab);
  EXPECT_FALSE(parse_word_order("cdab").has_value());
  EXPECT_EQ(parse_data_type("i32"), data_type::i32);
  EXPECT_FALSE(parse_data_type("float").has_value());
  EXPECT_EQ(parse_register_kind("input"), register_kind::input);
  EXPECT_FALSE(parse_register_kind("holding_register").has_value());
}

}  // namespace
}  // namespace sewage::agent
