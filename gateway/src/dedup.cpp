#include "sewage/gateway/dedup.hpp"

namespace sewage::gateway {

dedup_verdict offer(dedup_window& w, std::uint64_t seq) noexcept {
  if (seq == 0) return dedup_verdict::too_old;
  if (seq > w.max_seq) {
    const std::uint64_t shift = seq - w.max_seq;
    if (w.max_seq != 0 && shift <= 64) {
      // old max becomes bit (shift-1); earlier bits move up by `shift`
      w.below = (shift == 64 ? 0 : (w.below << shift)) | (std::uint64_t{1} << (shift - 1));
    } else {
      w.below = 0;
    }
    w.max_seq = seq;
    return dedup_verdict::fresh;
  }
  if (seq == w.max_seq) return dedup_verdict::duplicate;
  const std::uint64_t distance = w.max_seq - seq;  // >= 1
  if (distance > 64) return dedup_verdict::too_old;
  const std::uint64_t bit = std::uint64_t{1} << (distance - 1);
  if ((w.below & bit) != 0) return dedup_verdict::duplicate;
  w.below |= bit;
  return dedup_verdict::fresh;
}

}  // namespace sewage::gateway
