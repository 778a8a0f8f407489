#pragma once
// The PostgreSQL store's schema and its migrations (one place per backend, CONVENTIONS.md).

#include <pqxx/connection>

namespace sewage::gateway::detail {

/// Schema version of the database on `c`: 0 when it has no schema_version table. Throws pqxx errors.
int pg_schema_version(pqxx::connection& c);

/// Migrates the database on `c` from its version to `target`, one transaction per step, each under
/// pg_advisory_xact_lock (a second gateway migrating at the same time waits, then finds the work
/// done). Returns the version reached. Throws store_error when the database's version is newer
/// than `target`, pqxx errors when a step fails (that step is rolled back).
int pg_migrate(pqxx::connection& c, int target);

}  // namespace sewage::gateway::detail
