// De-duplication on (terminal, epoch, seq): window semantics.
#include "sewage/gateway/dedup.hpp"

#include <gtest/gtest.h>

namespace sewage::gateway {
namespace {

TEST(Dedup, RedeliveryIsDuplicateAndInOrderIsFresh) {
  dedup_window w;
  for (std::uint64_t s = 1; s <= 10; ++s) EXPECT_EQ(offer(w, s), dedup_verdict::fresh) << s;
  for (std::uint64_t s = 1; s <= 10; ++s) EXPECT_EQ(offer(w, s), dedup_verdict::duplicate) << s;
  EXPECT_EQ(w.max_seq, 10u);
}

TEST(Dedup, OutOfOrderWithinWindowAcceptedOnce) {
  dedup_window w;
  EXPECT_EQ(offer(w, 1), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 5), dedup_verdict::fresh);  // 2..4 still missing
  EXPECT_EQ(offer(w, 3), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 3), dedup_verdict::duplicate);
  EXPECT_EQ(offer(w, 1), dedup_verdict::duplicate);
  EXPECT_EQ(offer(w, 2), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 4), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 4), dedup_verdict::duplicate);
}

TEST(Dedup, WindowShiftKeepsHistoryAndBigJumpsForgetIt) {
  dedup_window w;
  EXPECT_EQ(offer(w, 100), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 164), dedup_verdict::fresh);  // shift by exactly 64: 100 is bit 63
  EXPECT_EQ(offer(w, 100), dedup_verdict::duplicate);
  EXPECT_EQ(offer(w, 99), dedup_verdict::too_old);
  EXPECT_EQ(offer(w, 1000), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, 164), dedup_verdict::too_old);
  EXPECT_EQ(offer(w, 0), dedup_verdict::too_old);
  EXPECT_EQ(offer(w, UINT64_MAX), dedup_verdict::fresh);
  EXPECT_EQ(offer(w, UINT64_MAX), dedup_verdict::duplicate);
}

}  // namespace
}  // namespace sewage::gateway
