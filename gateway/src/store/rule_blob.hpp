#pragma once
// Fixed little-endian blobs of the stores: the alert rules' resume state of a terminal, shared by
// the SQLite and PostgreSQL stores (same bytes in both), and a site's flow normal (SQLite; the
// PostgreSQL store keeps it as arrays).

#include "sewage/gateway/engine/flow_normal.hpp"
#include "sewage/gateway/store.hpp"

#include <string>
#include <string_view>

namespace sewage::gateway::detail {

/// 18 bytes per rule, in proto::all_alert_types order: since_ms (i64), aux (f64), active (u8),
/// pending (u8). Never throws (except std::bad_alloc).
std::string rules_to_blob(const terminal_snapshot& t);

/// Fills t.rules from `blob`. An unknown layout leaves them at their defaults; a shorter blob
/// (written before alert types were added at the end of proto::all_alert_types) keeps its
/// entries' positions. Never throws.
void rules_from_blob(const std::string& blob, terminal_snapshot& t);

/// A site's flow normal's 48 cells (flow_normal::cells order: day_type x 24 + hour), 21 bytes
/// each: median_m3h (f64), low_m3h (f64), days (u32), prior (u8); 1,008 bytes. Every double is
/// carried bit for bit (infinity and NaN included). computed_day is not in it (its own column).
/// Never throws (except std::bad_alloc).
std::string flow_normal_to_blob(const flow_normal& n);

/// Fills n.cells from `blob`; false, leaving n unchanged, when the blob is not exactly 48 cells
/// (only a hand edit makes one). Never throws.
bool flow_normal_from_blob(std::string_view blob, flow_normal& n);

}  // namespace sewage::gateway::detail
