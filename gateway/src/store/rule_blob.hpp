#pragma once
// The alert rules' resume state of a terminal as a fixed little-endian blob, shared by the SQLite
// and PostgreSQL stores (same bytes in both).

#include "sewage/gateway/store.hpp"

#include <string>

namespace sewage::gateway::detail {

/// 18 bytes per rule, in proto::all_alert_types order: since_ms (i64), aux (f64), active (u8),
/// pending (u8). Never throws (except std::bad_alloc).
std::string rules_to_blob(const terminal_snapshot& t);

/// Fills t.rules from `blob`. An unknown layout leaves them at their defaults; a shorter blob
/// (written before alert types were added at the end of proto::all_alert_types) keeps its
/// entries' positions. Never throws.
void rules_from_blob(const std::string& blob, terminal_snapshot& t);

}  // namespace sewage::gateway::detail
