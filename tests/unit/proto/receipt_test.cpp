// Delivery receipts (proto/receipt.hpp): topic, round trip, one rejection per class of bad input,
// and how make_receipts merges and splits seqs.
#include "sewage/proto/receipt.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sewage::proto {
namespace {

using ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

std::string first_problem(std::string_view payload) {
  const auto d = decode_receipt(payload);
  return d.ok() ? std::string("accepted") : d.problems.at(0).to_string();
}

TEST(Receipt, TopicIsTheTerminalsOwn) {
  EXPECT_EQ(receipt_topic("HY-WY-001"), "sewage/v1/HY-WY-001/receipt");
  EXPECT_THROW(receipt_topic("a/b"), std::invalid_argument);
  EXPECT_THROW(receipt_topic("gateway"), std::invalid_argument);
  EXPECT_THROW(receipt_topic(""), std::invalid_argument);
}

TEST(Receipt, RoundTrip) {
  const receipt_message m{"9f1c2a7b44e0d3a1", {{1040, 1042}, {1045, 1045}, {18446744073709551614ULL, 18446744073709551615ULL}}};
  const auto d = decode_receipt(encode(m));
  ASSERT_TRUE(d.ok()) << d.problems.at(0).to_string();
  EXPECT_EQ(*d.value, m);
  EXPECT_EQ(encode(receipt_message{"e1", {{1, 3}}}), R"({"epoch":"e1","seqs":[[1,3]]})");
}

TEST(Receipt, EachClassOfBadInputIsRejectedNamingTheField) {
  EXPECT_EQ(first_problem(R"([1,2])"), "payload: must be a JSON object");
  EXPECT_EQ(first_problem(R"({"seqs":[[1,1]]})"), "/epoch: required field is missing");
  EXPECT_EQ(first_problem(R"({"epoch":"a/b","seqs":[[1,1]]})").substr(0, 7), "/epoch:");
  EXPECT_EQ(first_problem(R"({"epoch":"e1"})"), "/seqs: required");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":{"1":1}})"), "/seqs: must be an array of [first, last] seq ranges");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[]})"), "/seqs: must hold 1..512 ranges, has 0");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[1,2,3]]})"), "/seqs/0: must be a [first, last] pair of seqs");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[5]})"), "/seqs/0: must be a [first, last] pair of seqs");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[0,2]]})"), "/seqs/0/0: must be >= 1");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[-3,2]]})"), "/seqs/0/0: must be >= 1");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[1,2.0]]})"), "/seqs/0/1: must be an unsigned integer (a seq)");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[1,"2"]]})"), "/seqs/0/1: must be an unsigned integer (a seq)");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[4,2]]})"), "/seqs/0: last 2 is below first 4");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[4,6],[2,3]]})"),
            "/seqs/1/0: must be above the previous range's end + 1 (7): ranges are ascending, disjoint and not adjacent");
  EXPECT_EQ(first_problem(R"({"epoch":"e1","seqs":[[4,6],[7,9]]})").substr(0, 10), "/seqs/1/0:");
  std::string many = R"({"epoch":"e1","seqs":[)";
  for (int i = 0; i < 513; ++i) many += (i ? "," : "") + std::string("[") + std::to_string(3 * i + 1) + "," + std::to_string(3 * i + 1) + "]";
  EXPECT_EQ(first_problem(many + "]}"), "/seqs: must hold 1..512 ranges, has 513");
}

TEST(Receipt, MakeReceiptsMergesRepeatsAndSplitsLongLists) {
  EXPECT_TRUE(make_receipts("e1", {}).empty());
  const auto one = make_receipts("e1", {5, 3, 4, 4, 9, 1, 10});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].epoch, "e1");
  EXPECT_EQ(one[0].seqs, (ranges{{1, 1}, {3, 5}, {9, 10}}));
  std::vector<std::uint64_t> odd;
  for (std::uint64_t s = 1; s <= 2 * (max_receipt_ranges + 3); s += 2) odd.push_back(s);
  const auto split = make_receipts("e1", odd);
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].seqs.size(), max_receipt_ranges);
  EXPECT_EQ(split[1].seqs.size(), 3u);
  for (const auto& r : split) EXPECT_TRUE(decode_receipt(encode(r)).ok());
}

}  // namespace
}  // namespace sewage::proto
