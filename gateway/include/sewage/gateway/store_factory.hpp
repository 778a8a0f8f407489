#pragma once
/// \file
/// Picks the store backend named by store.backend (config.hpp): the embedded SQLite file
/// (sqlite_store.hpp, default) or a PostgreSQL server (postgresql_store.hpp). Callers see only the
/// store interfaces (store.hpp), so a backend is a second implementation, not an `if` in callers.

#include "sewage/gateway/config.hpp"
#include "sewage/gateway/store.hpp"

#include <memory>
#include <string>

namespace sewage::gateway {

/// The engine's connection (read_write: creates and migrates the schema) or a reader's
/// (read_only: never writes, never migrates; read_pool.hpp).
enum class store_access { read_write, read_only };

/// Opens the store of `cfg` (cfg.backend: cfg.store_path or cfg.postgresql_uri), bounded to
/// cfg.dead_letter_max_rows dead letters. With store_backend::postgresql and read_write, the
/// SQLite file at cfg.store_path is opened (created, migrated) too and closed again: the rooms
/// that still use SQLite directly need its tables. Throws store_error (what() names the database,
/// never a password) when it cannot be opened or migrated. Thread-safe (opens a new connection).
std::unique_ptr<store> open_store(const config& cfg, store_access access);

/// A second read-write connection to the same store, for the notifier's delivery thread
/// (notify/notifier.hpp). Throws store_error like open_store.
std::unique_ptr<notification_store> open_notification_store(const config& cfg);

/// "sqlite <path>" or "postgresql <uri without its password>", for logs. Never throws (except
/// std::bad_alloc).
std::string describe_store(const config& cfg);

}  // namespace sewage::gateway
