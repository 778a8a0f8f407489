#pragma once
/// \file
/// The site archive (一设施一档案, issue 12 item 3): what the registry does not hold about a site
/// (process, households and villages served, notes), its equipment and its clean-outs, plus read
/// access to the histories other rooms keep about a site (work orders, inspections). Tables of
/// schema migration_v11_archive_lab, through a connection of its own.
///
/// Thread-safety: every member is safe to call from any thread (one mutex around the connection).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::om {

/// The archive's own fields of a site (the registry gives name, town, capacity, grade).
struct archive_fields {
  std::string process;                  ///< treatment process, e.g. "A/O + constructed wetland"
  std::optional<std::int64_t> households;  ///< households served (>= 0); std::nullopt = unknown
  std::vector<std::string> villages;    ///< villages served (empty = unknown; the page then shows the registry's village)
  std::string notes;
  std::int64_t changed_ms{0};           ///< 0 when the site has no archive row yet
  std::string changed_by;
};

struct equipment_item {
  std::int64_t id{0};
  std::string kind;            ///< "blower", "pump", "dosing pump", "UV lamp", ... (free text, required)
  std::string model;
  std::string serial;
  std::string installed_date;  ///< "YYYY-MM-DD" (county date) or ""
  std::int64_t added_ms{0};
  std::string added_by;
};

struct cleanout {
  std::int64_t id{0};
  std::string date;                ///< "YYYY-MM-DD" (county date) of the clean-out
  double volume_m3{0};             ///< sludge volume removed, m3 (>= 0)
  std::string sludge_destination;  ///< where the sludge went (a plant, a composting site)
  std::string done_by;             ///< who did it (a crew, a company)
  std::string note;
  std::int64_t created_ms{0};
  std::string created_by;
};

class archive {
 public:
  /// Opens `db_path` (read-write; migrated by sqlite_store first). Throws std::runtime_error naming the path.
  explicit archive(const std::filesystem::path& db_path);
  ~archive();
  archive(const archive&) = delete;
  archive& operator=(const archive&) = delete;

  /// The site's fields (defaults when it has no archive row).
  [[nodiscard]] archive_fields fields(const std::string& site_id);
  /// Replaces the site's fields (changed_ms = now_ms, changed_by = by).
  void put(const std::string& site_id, const archive_fields& f, std::int64_t now_ms, const std::string& by);

  [[nodiscard]] std::vector<equipment_item> equipment(const std::string& site_id);
  /// Adds an item; returns its id.
  std::int64_t add_equipment(const std::string& site_id, const equipment_item& e, std::int64_t now_ms, const std::string& by);
  /// Removes item `id` of the site; false when the site has no such item.
  bool remove_equipment(const std::string& site_id, std::int64_t id);

  /// Newest first, at most `limit`.
  [[nodiscard]] std::vector<cleanout> cleanouts(const std::string& site_id, std::size_t limit);
  std::int64_t add_cleanout(const std::string& site_id, const cleanout& c, std::int64_t now_ms, const std::string& by);

  /// The rows of another room's table about the site (`table`: "work_orders" or "inspections"),
  /// newest first (by id), at most `limit`, each row as a JSON object of its columns; std::nullopt
  /// when that table does not exist in this store (the room is not merged in yet).
  [[nodiscard]] std::optional<nlohmann::json> history(std::string_view table, const std::string& site_id, std::size_t limit);

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace sewage::gateway::om
