#pragma once
/// \file
/// Exact de-duplication of telemetry on (terminal, epoch, seq), and the count of records never
/// received. Per epoch the gateway keeps the set of accepted seqs as sorted, disjoint, inclusive
/// ranges (an interval set): a seq is fresh exactly when it is in no range, whatever its distance
/// below the highest seq, so a late record that fills a hole is accepted once and a replay is
/// refused. The holes below the highest seq are the records never received (`missing()`).
///
/// Memory bound: at most `max_ranges` ranges are held (16 bytes each). A terminal that loses no
/// record has one range. When an offer would exceed the bound, the LOWEST ranges are spilled: the
/// caller persists them (the SQLite store keeps them in table `dedup_spill`) and the set remembers
/// only `spill_floor()`, the highest seq of any spilled range. A seq at or below the floor is
/// answered `below_floor`: the caller looks it up in the store and, when it is not there, calls
/// `accept_below_floor()` and persists the single seq as a spilled range. Nothing is ever merged
/// or guessed, so de-duplication stays exact past the bound; only the list of holes shown
/// (`gaps()`) is limited to those above the floor. The count `missing()` stays exact.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway {

/// One inclusive range of seqs, lo <= hi.
struct seq_range {
  std::uint64_t lo{0};
  std::uint64_t hi{0};
  friend bool operator==(const seq_range&, const seq_range&) = default;
};

/// Outcome of offering a seq to a set.
enum class dedup_verdict {
  fresh,        ///< first time: accepted and recorded
  duplicate,    ///< already accepted (redelivery or replay)
  invalid,      ///< seq 0: never produced by an agent (seq starts at 1); refused
  below_floor,  ///< at or below spill_floor(): the caller must consult the spilled ranges
};

/// Default bound on the ranges held in memory per (terminal, epoch): 256 x 16 B = 4 KiB. A
/// terminal reaches it only after 255 separate losses in one epoch (each hole splits one range).
inline constexpr std::size_t default_max_seq_ranges = 256;

/// The accepted seqs of one (terminal, epoch). Not thread-safe (per-terminal state). Never throws
/// except bad_alloc.
class seq_set {
 public:
  seq_set() = default;
  /// Rebuilds a set from its persisted parts (see the accessors). Ranges must be sorted, disjoint,
  /// non-adjacent and above `spill_floor`; `accepted` counts every accepted seq (spilled ones too).
  /// Invalid input (unsorted, overlapping, lo > hi, accepted smaller than the ranges) yields the
  /// closest valid set: ranges are normalised and `accepted` raised to their size. A max_ranges of
  /// 0 is taken as 1.
  seq_set(std::vector<seq_range> ranges, std::uint64_t accepted, std::uint64_t spill_floor,
          std::size_t max_ranges = default_max_seq_ranges);

  /// Checks `seq`; when fresh, records it. When recording would exceed max_ranges, the lowest
  /// ranges are appended to `spilled` (which may be null only if the caller accepts losing
  /// exactness below the floor; the engine always passes a vector) and removed from memory.
  dedup_verdict offer(std::uint64_t seq, std::vector<seq_range>* spilled = nullptr);
  /// Records a seq at or below spill_floor() that the caller found absent from the spilled ranges.
  /// Only counts it (the caller persists it as a spilled range [seq, seq]).
  void accept_below_floor() noexcept { ++accepted_; }

  /// True when `seq` is in a range held in memory (not consulting spilled ranges).
  [[nodiscard]] bool contains(std::uint64_t seq) const noexcept;
  /// Highest seq accepted, 0 = none.
  [[nodiscard]] std::uint64_t max_seq() const noexcept { return ranges_.empty() ? floor_ : ranges_.back().hi; }
  /// Number of seqs accepted in this epoch (including spilled ones).
  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }
  /// Seqs below max_seq() never received: max_seq() - accepted(). Exact.
  [[nodiscard]] std::uint64_t missing() const noexcept { return max_seq() - accepted_; }
  /// Ranges held in memory, ascending.
  [[nodiscard]] const std::vector<seq_range>& ranges() const noexcept { return ranges_; }
  /// Highest seq of any spilled range (0 = nothing spilled).
  [[nodiscard]] std::uint64_t spill_floor() const noexcept { return floor_; }
  /// The holes above spill_floor() (and from seq 1 when nothing was spilled), NEWEST first, at most
  /// `limit` of them.
  [[nodiscard]] std::vector<seq_range> gaps(std::size_t limit) const;
  [[nodiscard]] std::size_t max_ranges() const noexcept { return max_ranges_; }

  friend bool operator==(const seq_set& a, const seq_set& b) noexcept {
    return a.ranges_ == b.ranges_ && a.accepted_ == b.accepted_ && a.floor_ == b.floor_;
  }

  /// Ranges as a little-endian blob (16 bytes per range: lo u64, hi u64) for the store.
  [[nodiscard]] static std::string to_blob(const std::vector<seq_range>& ranges);
  /// Inverse of to_blob; a blob whose length is not a multiple of 16 yields the whole ranges it holds.
  [[nodiscard]] static std::vector<seq_range> from_blob(std::string_view blob);
  /// The set a version-3 64-bit window stood for (migration): seqs 1..max_seq-65 are taken as
  /// accepted (the window could not tell; it refused them as "too old"), plus max_seq and each set
  /// bit i = seq max_seq-1-i. max_seq 0 = empty set.
  [[nodiscard]] static seq_set from_window(std::uint64_t max_seq, std::uint64_t below);

 private:
  void spill(std::vector<seq_range>* spilled);

  std::vector<seq_range> ranges_;
  std::uint64_t accepted_{0};
  std::uint64_t floor_{0};
  std::size_t max_ranges_{default_max_seq_ranges};
};

}  // namespace sewage::gateway
