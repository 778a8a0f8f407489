#include "sewage/gateway/dedup.hpp"

#include <algorithm>

namespace sewage::gateway {

seq_set::seq_set(std::vector<seq_range> ranges, std::uint64_t accepted, std::uint64_t spill_floor,
                 std::size_t max_ranges)
    : accepted_(accepted), floor_(spill_floor), max_ranges_(std::max<std::size_t>(1, max_ranges)) {
  std::sort(ranges.begin(), ranges.end(), [](const seq_range& a, const seq_range& b) { return a.lo < b.lo; });
  std::uint64_t total = 0;
  for (auto r : ranges) {
    r.lo = std::max(r.lo, floor_ + 1);  // seq 0 never exists; spilled seqs live in the store
    if (r.lo > r.hi) continue;
    if (!ranges_.empty() && (ranges_.back().hi == UINT64_MAX || r.lo <= ranges_.back().hi + 1)) {
      if (r.hi > ranges_.back().hi) {
        total += r.hi - ranges_.back().hi;
        ranges_.back().hi = r.hi;
      }
      continue;
    }
    total += r.hi - r.lo + 1;
    ranges_.push_back(r);
  }
  accepted_ = std::max(accepted_, total);
}

bool seq_set::contains(std::uint64_t seq) const noexcept {
  const auto it = std::lower_bound(ranges_.begin(), ranges_.end(), seq,
                                   [](const seq_range& r, std::uint64_t s) { return r.hi < s; });
  return it != ranges_.end() && it->lo <= seq;
}

dedup_verdict seq_set::offer(std::uint64_t seq, std::vector<seq_range>* spilled) {
  if (seq == 0) return dedup_verdict::invalid;
  if (seq <= floor_) return dedup_verdict::below_floor;
  // Fast paths: the next seq, or a jump forward (live delivery).
  if (ranges_.empty() || seq > ranges_.back().hi) {
    if (!ranges_.empty() && seq == ranges_.back().hi + 1) {
      ranges_.back().hi = seq;
    } else {
      ranges_.push_back({seq, seq});
    }
  } else {
    // First range whose hi >= seq: seq is either inside it or in the hole just below it.
    const auto it = std::lower_bound(ranges_.begin(), ranges_.end(), seq,
                                     [](const seq_range& r, std::uint64_t s) { return r.hi < s; });
    if (it->lo <= seq) return dedup_verdict::duplicate;
    const bool joins_next = it->lo == seq + 1;
    const bool joins_prev = it != ranges_.begin() && std::prev(it)->hi + 1 == seq;
    if (joins_prev && joins_next) {
      std::prev(it)->hi = it->hi;  // the hole was exactly this seq: two ranges become one
      ranges_.erase(it);
    } else if (joins_prev) {
      std::prev(it)->hi = seq;
    } else if (joins_next) {
      it->lo = seq;
    } else {
      ranges_.insert(it, seq_range{seq, seq});  // splits the hole in two
    }
  }
  ++accepted_;
  if (ranges_.size() > max_ranges_) spill(spilled);
  return dedup_verdict::fresh;
}

void seq_set::spill(std::vector<seq_range>* spilled) {
  const auto n = static_cast<std::ptrdiff_t>(ranges_.size() - max_ranges_);
  if (spilled != nullptr) spilled->insert(spilled->end(), ranges_.begin(), ranges_.begin() + n);
  floor_ = (ranges_.begin() + (n - 1))->hi;
  ranges_.erase(ranges_.begin(), ranges_.begin() + n);
}

std::vector<seq_range> seq_set::gaps(std::size_t limit) const {
  std::vector<seq_range> out;
  for (std::size_t i = ranges_.size(); i > 0 && out.size() < limit; --i) {
    const std::uint64_t below = i >= 2 ? ranges_[i - 2].hi : floor_;  // last seq known before range i-1
    if (ranges_[i - 1].lo > below + 1) out.push_back({below + 1, ranges_[i - 1].lo - 1});
  }
  return out;
}

std::string seq_set::to_blob(const std::vector<seq_range>& ranges) {
  std::string out(ranges.size() * 16, '\0');
  auto* p = out.data();
  for (const auto& r : ranges) {
    for (int b = 0; b < 8; ++b) {
      p[b] = static_cast<char>((r.lo >> (8 * b)) & 0xFF);
      p[8 + b] = static_cast<char>((r.hi >> (8 * b)) & 0xFF);
    }
    p += 16;
  }
  return out;
}

std::vector<seq_range> seq_set::from_blob(std::string_view blob) {
  std::vector<seq_range> out;
  out.reserve(blob.size() / 16);
  for (std::size_t off = 0; off + 16 <= blob.size(); off += 16) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + off);
    seq_range r;
    for (int b = 0; b < 8; ++b) {
      r.lo |= std::uint64_t{p[b]} << (8 * b);
      r.hi |= std::uint64_t{p[8 + b]} << (8 * b);
    }
    out.push_back(r);
  }
  return out;
}

seq_set seq_set::from_window(std::uint64_t max_seq, std::uint64_t below) {
  seq_set s({}, 0, 0, 64);  // a window holds at most 33 ranges
  if (max_seq == 0) return s;
  std::vector<seq_range> r;
  if (max_seq > 65) r.push_back({1, max_seq - 65});
  for (int i = 63; i >= 0; --i) {
    if ((below & (std::uint64_t{1} << i)) == 0) continue;
    if (max_seq < static_cast<std::uint64_t>(i) + 2) continue;  // would be seq <= 0
    const std::uint64_t seq = max_seq - 1 - static_cast<std::uint64_t>(i);
    r.push_back({seq, seq});
  }
  r.push_back({max_seq, max_seq});
  return seq_set(std::move(r), 0, 0);
}

}  // namespace sewage::gateway
