#pragma once
/// \file
/// Alarm discipline (issue 12 item 6): the `[alarms]` table of the gateway configuration.
/// gateway/README.md "Alarm discipline" and gateway.example.toml explain every key.

#include <cstdint>

namespace sewage::gateway::alarms {

struct settings {
  /// The longest an operator may shelve an alert, s (POST /api/alerts/{id}/shelve refuses more).
  /// Default 24 h: a shelf is for a nuisance until the next working day, not for ever.
  std::int64_t max_shelve_s{86400};
  /// An alert neither acknowledged nor cleared this many minutes after it became due (raised, or
  /// released from a maintenance window, or back from a shelf) escalates to the town level, then
  /// to the county level. Issue 12: 30 and 120 minutes. The second is above the first.
  std::int64_t escalate_town_after_min{30};
  std::int64_t escalate_county_after_min{120};
  /// A raise of the same alert type at the same site less than this many seconds after the
  /// group's last raise or clear joins that group (one episode to the operator, a repeat count, no
  /// new notification). Default 1 h. 0 disables grouping.
  std::int64_t group_window_s{3600};
};

}  // namespace sewage::gateway::alarms
