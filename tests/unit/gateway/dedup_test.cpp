// De-duplication on (terminal, epoch, seq): the exact range set (merge, split, fill, bound,
// persistence form, migration of the old 64-bit window).
#include "sewage/gateway/dedup.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sewage::gateway {
namespace {

using ranges = std::vector<seq_range>;

TEST(SeqSet, RedeliveryIsDuplicateAndInOrderIsFresh) {
  seq_set w;
  for (std::uint64_t s = 1; s <= 10; ++s) EXPECT_EQ(w.offer(s), dedup_verdict::fresh) << s;
  for (std::uint64_t s = 1; s <= 10; ++s) EXPECT_EQ(w.offer(s), dedup_verdict::duplicate) << s;
  EXPECT_EQ(w.max_seq(), 10u);
  EXPECT_EQ(w.ranges(), (ranges{{1, 10}}));  // in-order delivery stays one range
  EXPECT_EQ(w.missing(), 0u);
  EXPECT_EQ(w.offer(0), dedup_verdict::invalid);
}

TEST(SeqSet, ARecordFarBelowTheHighestSeqNeverSeenIsFresh) {
  // The 64-bit window called this "too old" and dropped it; it was never seen.
  seq_set w;
  for (std::uint64_t s = 1; s <= 200; ++s)
    if (s != 100) {
      ASSERT_EQ(w.offer(s), dedup_verdict::fresh);
    }
  EXPECT_EQ(w.missing(), 1u);
  EXPECT_EQ(w.gaps(10), (ranges{{100, 100}}));
  EXPECT_EQ(w.offer(100), dedup_verdict::fresh);
  EXPECT_EQ(w.offer(100), dedup_verdict::duplicate);
  EXPECT_EQ(w.ranges(), (ranges{{1, 200}}));
  EXPECT_EQ(w.missing(), 0u);
}

TEST(SeqSet, HolesSplitMergeAndFill) {
  seq_set w;
  EXPECT_EQ(w.offer(1), dedup_verdict::fresh);
  EXPECT_EQ(w.offer(10), dedup_verdict::fresh);  // hole 2..9
  EXPECT_EQ(w.ranges(), (ranges{{1, 1}, {10, 10}}));
  EXPECT_EQ(w.missing(), 8u);
  EXPECT_EQ(w.offer(5), dedup_verdict::fresh);   // splits the hole: 2..4 and 6..9
  EXPECT_EQ(w.ranges(), (ranges{{1, 1}, {5, 5}, {10, 10}}));
  EXPECT_EQ(w.gaps(10), (ranges{{6, 9}, {2, 4}}));  // newest first
  EXPECT_EQ(w.gaps(1), (ranges{{6, 9}}));
  EXPECT_EQ(w.offer(2), dedup_verdict::fresh);   // joins the range below
  EXPECT_EQ(w.offer(9), dedup_verdict::fresh);   // joins the range above
  EXPECT_EQ(w.ranges(), (ranges{{1, 2}, {5, 5}, {9, 10}}));
  for (std::uint64_t s : {3ULL, 4ULL, 6ULL, 7ULL}) EXPECT_EQ(w.offer(s), dedup_verdict::fresh) << s;
  EXPECT_EQ(w.offer(8), dedup_verdict::fresh);   // the last hole: everything merges
  EXPECT_EQ(w.ranges(), (ranges{{1, 10}}));
  EXPECT_EQ(w.missing(), 0u);
  EXPECT_TRUE(w.gaps(10).empty());
  for (std::uint64_t s = 1; s <= 10; ++s) EXPECT_EQ(w.offer(s), dedup_verdict::duplicate) << s;
  EXPECT_EQ(w.accepted(), 10u);
}

TEST(SeqSet, LeadingHoleAndExtremeSeqs) {
  seq_set w;
  EXPECT_EQ(w.offer(5), dedup_verdict::fresh);
  EXPECT_EQ(w.missing(), 4u);
  EXPECT_EQ(w.gaps(10), (ranges{{1, 4}}));
  EXPECT_EQ(w.offer(UINT64_MAX), dedup_verdict::fresh);
  EXPECT_EQ(w.offer(UINT64_MAX), dedup_verdict::duplicate);
  EXPECT_EQ(w.offer(UINT64_MAX - 1), dedup_verdict::fresh);
  EXPECT_EQ(w.max_seq(), UINT64_MAX);
  EXPECT_EQ(w.missing(), UINT64_MAX - 3);
}

TEST(SeqSet, PastTheMemoryBoundTheLowestRangesSpillAndStayExact) {
  seq_set w({}, 0, 0, 4);
  ranges spilled;
  // every other seq: each accepted one is its own range
  for (std::uint64_t s = 1; s <= 19; s += 2) ASSERT_EQ(w.offer(s, &spilled), dedup_verdict::fresh);
  EXPECT_EQ(w.ranges().size(), 4u);  // bound held
  EXPECT_EQ(spilled, (ranges{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {9, 9}, {11, 11}}));
  EXPECT_EQ(w.spill_floor(), 11u);
  EXPECT_EQ(w.accepted(), 10u);
  EXPECT_EQ(w.missing(), 9u);  // 2,4,...,18: exact although most of it is no longer in memory
  EXPECT_EQ(w.offer(3), dedup_verdict::below_floor);   // the caller asks the store
  EXPECT_EQ(w.offer(12), dedup_verdict::fresh);        // above the floor: memory decides
  EXPECT_EQ(w.offer(13), dedup_verdict::duplicate);
  w.accept_below_floor();                              // e.g. seq 4, found absent from the store
  EXPECT_EQ(w.missing(), 7u);
  EXPECT_EQ(w.gaps(10), (ranges{{18, 18}, {16, 16}, {14, 14}}));  // holes shown: above the floor only
}

TEST(SeqSet, MatchesAPlainSetOnRandomTraffic) {
  std::mt19937_64 rng(42);
  seq_set w({}, 0, 0, 8);
  std::set<std::uint64_t> truth;
  std::set<std::uint64_t> spilled_truth;
  ranges spilled;
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t s = 1 + rng() % 3000;
    auto v = w.offer(s, &spilled);
    for (const auto& r : spilled)
      for (auto x = r.lo; x <= r.hi; ++x) spilled_truth.insert(x);
    spilled.clear();
    if (v == dedup_verdict::below_floor) {
      if (spilled_truth.count(s) != 0) {
        v = dedup_verdict::duplicate;
      } else {
        w.accept_below_floor();
        spilled_truth.insert(s);
        v = dedup_verdict::fresh;
      }
    }
    const bool fresh = truth.insert(s).second;
    ASSERT_EQ(v, fresh ? dedup_verdict::fresh : dedup_verdict::duplicate) << "seq " << s << " step " << i;
    ASSERT_LE(w.ranges().size(), 8u);
  }
  EXPECT_EQ(w.accepted(), truth.size());
  EXPECT_EQ(w.missing(), *truth.rbegin() - truth.size());
}

TEST(SeqSet, BlobRoundTripAndNormalisation) {
  seq_set w;
  for (std::uint64_t s : {1ULL, 2ULL, 3ULL, 7ULL, 9ULL, 10ULL, 1000000000000ULL}) w.offer(s);
  const auto back = seq_set(seq_set::from_blob(seq_set::to_blob(w.ranges())), w.accepted(), w.spill_floor());
  EXPECT_EQ(back, w);
  // unsorted, overlapping, adjacent and empty ranges from a damaged row become a valid set
  const seq_set n({{9, 12}, {1, 3}, {2, 5}, {6, 6}, {20, 10}}, 0, 0);
  EXPECT_EQ(n.ranges(), (ranges{{1, 6}, {9, 12}}));
  EXPECT_EQ(n.accepted(), 10u);
  EXPECT_TRUE(seq_set::from_blob("short").empty());
}

TEST(SeqSet, MigratesTheOld64BitWindow) {
  // max 100, bits 0 and 2 set: 99 and 97 accepted; 1..35 were "too old" (taken as accepted)
  const auto w = seq_set::from_window(100, 0b101);
  EXPECT_EQ(w.ranges(), (ranges{{1, 35}, {97, 97}, {99, 100}}));
  EXPECT_EQ(w.accepted(), 38u);
  EXPECT_EQ(w.missing(), 62u);
  EXPECT_EQ(seq_set::from_window(0, 0).max_seq(), 0u);
  EXPECT_EQ(seq_set::from_window(3, ~std::uint64_t{0}).ranges(), (ranges{{1, 3}}));
}

}  // namespace
}  // namespace sewage::gateway
