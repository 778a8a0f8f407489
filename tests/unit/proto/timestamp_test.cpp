#include "sewage/proto/timestamp.hpp"

#include <gtest/gtest.h>

namespace sewage::proto {
namespace {

using namespace std::chrono;

timestamp at(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0) {
  return timestamp{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + seconds{s} +
         milliseconds{ms};
}

TEST(Timestamp, FormatsWholeSecondsWithoutFraction) {
  EXPECT_EQ(format_timestamp(at(2026, 11, 29, 8, 15, 0)), "2026-11-29T08:15:00Z");
}

TEST(Timestamp, FormatsMilliseconds) {
  EXPECT_EQ(format_timestamp(at(2026, 1, 2, 3, 4, 5, 7)), "2026-01-02T03:04:05.007Z");
}

TEST(Timestamp, ParsesZuluAndZeroOffset) {
  EXPECT_EQ(parse_timestamp("2026-11-29T08:15:00Z"), at(2026, 11, 29, 8, 15, 0));
  EXPECT_EQ(parse_timestamp("2026-11-29T08:15:00+00:00"), at(2026, 11, 29, 8, 15, 0));
}

TEST(Timestamp, ParsesFractionTruncatedToMilliseconds) {
  EXPECT_EQ(parse_timestamp("2026-11-29T08:15:00.5Z"), at(2026, 11, 29, 8, 15, 0, 500));
  EXPECT_EQ(parse_timestamp("2026-11-29T08:15:00.123456789Z"), at(2026, 11, 29, 8, 15, 0, 123));
}

TEST(Timestamp, AcceptsLeapDay) {
  EXPECT_EQ(parse_timestamp("2028-02-29T00:00:00Z"), at(2028, 2, 29, 0, 0, 0));
}

TEST(Timestamp, RefusesEverythingElse) {
  for (const char* bad : {"", "2026-11-29", "2026-11-29T08:15:00", "2026-11-29T16:15:00+08:00",
                          "2026-11-29 08:15:00Z", "2026-11-29t08:15:00z", "2026-02-30T00:00:00Z",
                          "2027-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-29T24:00:00Z",
                          "2026-11-29T23:60:00Z", "2026-11-29T23:59:60Z", "1969-12-31T23:59:59Z",
                          "2026-11-29T08:15:00.Z", "2026-11-29T08:15:00.1234567890Z",
                          "2026-11-29T08:15:00ZZ", "+2026-11-29T08:15:00Z", "2026-1-29T08:15:00Z"}) {
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
  }
}

TEST(Timestamp, RoundTrips) {
  for (const auto ts : {at(1970, 1, 1, 0, 0, 0), at(2026, 11, 29, 23, 59, 59, 999),
                        at(2099, 12, 31, 12, 0, 0, 1)}) {
    EXPECT_EQ(parse_timestamp(format_timestamp(ts)), ts);
  }
}

}  // namespace
}  // namespace sewage::proto
