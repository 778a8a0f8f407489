#pragma once
/// \file
/// The history room: importing interval records a county recorded before this gateway ran (an
/// earlier platform's export, a logger's download, the simulator's past weeks:
/// tools/sim sewage-sim-history) into the store, through the same engine as live records, so
/// that daily volumes, compliance, alerts and incidents of those weeks, and the learned normal
/// flow of every site (engine/flow_normal.hpp), are there when the gateway starts.
///
/// Input: JSON Lines, one v1 telemetry payload (proto/telemetry.hpp) per line; blank lines are
/// skipped. Each record is judged as if it had arrived live when it was stamped: the engine's
/// clock follows the records, which are fed in time order over all sites (the file may list them
/// in any order). Nothing is published or notified: alerts still open at the end are published
/// by the gateway when it next connects to the broker (engine::republish_open_alerts), and
/// incidents are correlated on the network as they happened.

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/network/holder.hpp"
#include "sewage/gateway/registry.hpp"

#include <sewage/proto/timestamp.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway::history {

/// What an import did. A record is either accepted, a duplicate (already stored: importing the
/// same file twice adds nothing), refused (its line is not a valid payload, or its terminal is
/// not in the registry) or dropped otherwise by the engine (counted in `other`).
struct import_summary {
  std::uint64_t lines{0};      ///< non-blank lines read
  std::uint64_t accepted{0};
  std::uint64_t duplicates{0};
  std::uint64_t refused{0};
  std::uint64_t other{0};
  std::uint64_t alerts_raised{0};
  std::uint64_t alerts_cleared{0};
  std::optional<proto::timestamp> first;  ///< earliest accepted record's ts
  std::optional<proto::timestamp> last;   ///< latest
  /// The first 20 refusals, each "line N: reason" (the payload's problem with its JSON Pointer, or
  /// "terminal X is not in the registry").
  std::vector<std::string> problems;
};

/// Imports `in` into the store of `cfg` (opened and migrated like the gateway does; the gateway
/// itself must not be running on it: history/cli.hpp checks). `reg` and `pipes` as the gateway
/// would load them. Commits every few thousand records and at the end; a record is in the store
/// once its batch committed. Throws store_error when the store cannot be opened or a commit fails
/// (what was committed before stays), std::runtime_error naming the line when it cannot be read.
/// Not thread-safe.
import_summary import_records(const config& cfg, registry reg, const network::holder& pipes, std::istream& in);

}  // namespace sewage::gateway::history
