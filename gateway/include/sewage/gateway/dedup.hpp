#pragma once
/// \file
/// De-duplication of telemetry on (terminal, epoch, seq). Per epoch the gateway keeps the highest
/// seq seen and a 64-bit window of the seqs just below it, so redelivered and replayed records are
/// recognised and a record that arrives slightly out of order is still accepted once. A new epoch
/// (replaced queue, seq from 1) starts a fresh window; earlier epochs' windows are kept by the store.

#include <cstdint>
#include <string>

namespace sewage::gateway {

/// Window of one (terminal, epoch). 24 bytes plus the epoch string in the terminal's state.
struct dedup_window {
  std::uint64_t max_seq{0};  ///< highest seq accepted, 0 = none yet
  std::uint64_t below{0};    ///< bit i set = seq (max_seq - 1 - i) was accepted

  friend bool operator==(const dedup_window&, const dedup_window&) = default;
};

/// Outcome of offering a seq to a window.
enum class dedup_verdict {
  fresh,      ///< first time: accept and count
  duplicate,  ///< already accepted (redelivery or replay)
  too_old,    ///< more than 64 below the highest seq: cannot be told apart, treated as duplicate
};

/// Checks `seq` against `w` and records it when fresh. seq 0 is never produced by an agent (seq
/// starts at 1) and is reported as too_old. Never throws. Not thread-safe (per-terminal state).
dedup_verdict offer(dedup_window& w, std::uint64_t seq) noexcept;

}  // namespace sewage::gateway
