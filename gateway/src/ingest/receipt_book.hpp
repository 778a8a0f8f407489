#pragma once
// ingest/: delivery receipts (proto/receipt.hpp). The engine notes every telemetry record it
// handles (stored or found a duplicate); after the commit that makes them durable it takes the
// receipts and publishes them, so each agent deletes a record only once the gateway holds it.

#include <sewage/proto/receipt.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sewage::gateway::ingest {

/// The records handled since the last commit, by terminal and epoch. Not thread-safe: the engine's
/// thread only.
class receipt_book {
 public:
  /// One topic and payload to publish (QoS 1, not retained).
  struct outgoing {
    std::string topic;
    std::string payload;
  };

  /// Notes record `seq` of `epoch` of `terminal_id` (a valid terminal id: it came on its topic).
  /// Repeats are harmless. Memory: 8 bytes a record until take().
  void note(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq);

  /// The receipts of everything noted (seqs merged into ranges, at most proto::max_receipt_ranges
  /// ranges a message), and empties the book. Never throws except bad_alloc.
  std::vector<outgoing> take();

  /// Forgets everything noted (nobody can be told now: the agents send again on the gateway's birth).
  void clear() noexcept { noted_.clear(); }

  [[nodiscard]] bool empty() const noexcept { return noted_.empty(); }

 private:
  std::map<std::pair<std::string, std::string>, std::vector<std::uint64_t>> noted_;
};

}  // namespace sewage::gateway::ingest
