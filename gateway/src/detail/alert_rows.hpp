#pragma once
// Reading alert rows that another build may have written (a newer gateway of a standby pair during
// a rolling upgrade, or a database opened again by an older build): a type or state this build does
// not know is never read as another one. Shared by the SQLite and PostgreSQL stores and the alarm
// discipline's tables.

#include "sewage/proto/alert.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace sewage::gateway::detail {

/// The SQL condition (same text for SQLite and PostgreSQL) that keeps the alert rows this build can
/// read: `type` one of proto::all_alert_types and `state` one of raised, acknowledged, cleared.
/// Rows of other types stay in the table untouched (the build that wrote them owns them); a list
/// filtered in SQL keeps its LIMIT and its id cursor exact. Never throws (but std::bad_alloc).
inline std::string known_alert_rows_sql() {
  std::string types;
  for (const auto t : proto::all_alert_types) {
    if (!types.empty()) types += ",";
    types += "'";
    types += proto::to_string(t);
    types += "'";
  }
  return "type IN (" + types + ") AND state IN ('raised','acknowledged','cleared')";
}

/// The alert type named `name` in row `row_id` of `table`. Throws std::runtime_error naming the
/// table, the row and the type when this build does not know it (never defaults to another type).
inline proto::alert_type alert_type_of_row(std::string_view name, std::string_view table, long long row_id) {
  if (const auto t = proto::parse_alert_type(name)) return *t;
  throw std::runtime_error(std::string(table) + " row " + std::to_string(row_id) + ": alert type '" +
                           std::string(name) + "' is not known to this build (written by a newer gateway?); "
                           "nothing of it was read as another type");
}

}  // namespace sewage::gateway::detail
