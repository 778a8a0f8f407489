#pragma once
/// \file
/// The reads of the incidents room (GET /api/incidents, /api/incidents/{id}, its GeoJSON): what
/// the API lists and shows. Two implementations: the correlator itself (correlator.hpp; the
/// leader's open incidents as it holds them, the rest from its incident_db) and the shared
/// database read by a standby (open_stored_incident_reader), so that a gateway waiting as the
/// standby lists the incidents the leader opened (issue 16 item 2: its HTTP API read-only).
///
/// Thread-safety: every implementation's members are thread-safe; the API calls them on its reader
/// threads.

#include "sewage/gateway/incidents/incident.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sewage::gateway::incidents {

class incident_reader {
 public:
  virtual ~incident_reader() = default;
  /// Incident `id`, if it exists. Throws std::runtime_error naming the store when it cannot be read.
  [[nodiscard]] virtual std::optional<incident> find(std::int64_t id) const = 0;
  /// Incidents in `state` (all when std::nullopt), newest first, at most `limit`. Throws
  /// std::runtime_error naming the store when they cannot be read.
  [[nodiscard]] virtual std::vector<incident> list(std::optional<incident_state> state, std::size_t limit) const = 0;
};

/// The incidents of the shared PostgreSQL database `uri` as the leader committed them (tables of
/// postgresql_store schema v6, incident_db.hpp), for a standby: read only, never adopting or
/// writing a row (its session's transactions are read only in the server too). The connection
/// (open_postgresql_incident_db, read_only: bounded, 5 s statement_timeout) is
/// opened at the first read and again after a read that failed (a database restart, a connection
/// the server ended), so one failure costs one answer. Reads are serialised on that connection.
/// Never throws here (except std::bad_alloc); reads throw std::runtime_error naming the database
/// (never its password) when it cannot be reached or a document does not decode.
std::unique_ptr<incident_reader> open_stored_incident_reader(const std::string& uri);

}  // namespace sewage::gateway::incidents
