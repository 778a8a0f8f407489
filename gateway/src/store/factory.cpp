// The store backend chosen by store.backend (store_factory.hpp).
#include "sewage/gateway/store_factory.hpp"

#include "sewage/gateway/postgresql_store.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <filesystem>

namespace sewage::gateway {
namespace {

void create_sqlite_folder(const config& cfg) {
  if (!cfg.store_path.parent_path().empty()) std::filesystem::create_directories(cfg.store_path.parent_path());
}

}  // namespace

std::unique_ptr<store> open_store(const config& cfg, store_access access) {
  const bool ro = access == store_access::read_only;
  if (cfg.backend == store_backend::postgresql) {
    if (!ro) {
      create_sqlite_folder(cfg);
      const sqlite_store rooms(cfg.store_path, cfg.dead_letter_max_rows);  // the SQLite rooms' tables
    }
    return std::make_unique<postgresql_store>(cfg.postgresql_uri, cfg.dead_letter_max_rows,
                                              ro ? postgresql_store::access::read_only
                                                 : postgresql_store::access::read_write);
  }
  if (!ro) create_sqlite_folder(cfg);
  return std::make_unique<sqlite_store>(cfg.store_path, cfg.dead_letter_max_rows,
                                        ro ? sqlite_store::access::read_only : sqlite_store::access::read_write);
}

std::unique_ptr<notification_store> open_notification_store(const config& cfg) {
  if (cfg.backend == store_backend::postgresql)
    return std::make_unique<postgresql_store>(cfg.postgresql_uri, cfg.dead_letter_max_rows);
  return std::make_unique<sqlite_store>(cfg.store_path, cfg.dead_letter_max_rows);
}

std::string describe_store(const config& cfg) {
  if (cfg.backend == store_backend::postgresql) return "postgresql " + redact_postgresql_uri(cfg.postgresql_uri);
  return "sqlite " + cfg.store_path.string();
}

}  // namespace sewage::gateway
