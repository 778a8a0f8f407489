#pragma once
/// \file
/// Delivery receipts (DESIGN.md, "Delivery guarantees"): the gateway's word that records are
/// committed to its store, so that an agent keeps each record until then and not only until the
/// broker's PUBACK (a PUBACK proves the broker has the record; a broker restarted without
/// persistence loses what it held for the gateway).
///
///   sewage/v1/{terminal}/receipt        gateway -> agent, QoS 1, not retained
///
/// Payload: {"epoch":"9f1c2a7b44e0d3a1","seqs":[[1040,1042],[1045,1045]]}
///   epoch  the queue epoch of the records, `[A-Za-z0-9_-]{1,64}` (telemetry.hpp)
///   seqs   1..max_receipt_ranges closed ranges [first, last] of seqs, first >= 1, first <= last,
///          ascending and disjoint (each range starts above the previous range's end + 1)
///
/// A receipt names records committed by the gateway (stored, or found already stored as
/// duplicates); an agent deletes them from its queue. The gateway announces that it sends receipts
/// with `"receipts": true` in its status (status.hpp); an agent waits for receipts only then.
/// Kept apart from topic.hpp so that adding it did not change the header every component includes;
/// parse_topic() does not know the topic (no component receives it from a wildcard subscription).

#include "sewage/proto/problem.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sewage::proto {

/// At most this many ranges in one receipt (the gateway splits longer lists): bounds the payload
/// (about 40 bytes a range, well under limits::max_payload_bytes) and the agent's work per message.
inline constexpr std::size_t max_receipt_ranges = 512;

/// "sewage/v1/{terminal}/receipt". Throws std::invalid_argument naming the id if `terminal_id` is
/// not a valid terminal id (topic.hpp). Thread-safe.
std::string receipt_topic(std::string_view terminal_id);

/// One receipt: the epoch and the closed seq ranges it covers.
struct receipt_message {
  std::string epoch;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seqs;  ///< [first, last], ascending, disjoint

  friend bool operator==(const receipt_message&, const receipt_message&) = default;
};

/// Encodes as JSON. Does not validate. Never throws except bad_alloc.
std::string encode(const receipt_message& m);

/// Decodes and validates strictly (the rules above); each problem names its field, e.g.
/// "/seqs/2/0: must be above the previous range's end + 1". Never throws except bad_alloc.
/// Thread-safe.
decoded<receipt_message> decode_receipt(std::string_view payload);

/// Builds receipts from seqs in any order, with repeats: sorted, merged into ranges, split into
/// messages of at most max_receipt_ranges ranges. Empty `seqs` gives no message. Never throws
/// except bad_alloc.
std::vector<receipt_message> make_receipts(std::string epoch, std::vector<std::uint64_t> seqs);

}  // namespace sewage::proto
