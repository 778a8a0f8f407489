// The site archive (om/archive.hpp).
#include "sewage/gateway/om/archive.hpp"

#include "detail/sqlite_stmt.hpp"

namespace sewage::gateway::om {

using nlohmann::json;

namespace {
constexpr const char* room = "site archive";
}

class archive::impl {
 public:
  explicit impl(const std::filesystem::path& path)
      : db_(detail::open_room(path.string(), "'site_archive','site_equipment','site_cleanouts'", 3, room)) {}
  ~impl() { sqlite3_close(db_); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  sqlite3* db_;
  std::mutex m_;
};

archive::archive(const std::filesystem::path& db_path) : impl_(std::make_unique<impl>(db_path)) {}
archive::~archive() = default;

archive_fields archive::fields(const std::string& site_id) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "SELECT process, households, villages, notes, changed_ms, changed_by FROM site_archive WHERE site_id = ?1", room);
  s.bind(1, site_id);
  archive_fields f;
  if (!s.step()) return f;
  f.process = s.text(0);
  f.households = s.opt_i64(1);
  const auto v = json::parse(s.text(2), nullptr, false);
  if (v.is_array())
    for (const auto& x : v)
      if (x.is_string()) f.villages.push_back(x.get<std::string>());
  f.notes = s.text(3);
  f.changed_ms = s.i64(4);
  f.changed_by = s.text(5);
  return f;
}

void archive::put(const std::string& site_id, const archive_fields& f, std::int64_t now_ms, const std::string& by) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "INSERT INTO site_archive(site_id, process, households, villages, notes, changed_ms, changed_by) "
                        "VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(site_id) DO UPDATE SET process=excluded.process, "
                        "households=excluded.households, villages=excluded.villages, notes=excluded.notes, "
                        "changed_ms=excluded.changed_ms, changed_by=excluded.changed_by",
                        room);
  s.bind(1, site_id).bind(2, f.process).bind(3, f.households).bind(4, json(f.villages).dump()).bind(5, f.notes).bind(6, now_ms).bind(7, by);
  s.run();
}

std::vector<equipment_item> archive::equipment(const std::string& site_id) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "SELECT id, kind, model, serial, installed_date, added_ms, added_by FROM site_equipment WHERE site_id = ?1 "
                        "ORDER BY id",
                        room);
  s.bind(1, site_id);
  std::vector<equipment_item> out;
  while (s.step()) out.push_back({s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.i64(5), s.text(6)});
  return out;
}

std::int64_t archive::add_equipment(const std::string& site_id, const equipment_item& e, std::int64_t now_ms, const std::string& by) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "INSERT INTO site_equipment(site_id, kind, model, serial, installed_date, added_ms, added_by) "
                        "VALUES(?1,?2,?3,?4,?5,?6,?7)",
                        room);
  s.bind(1, site_id).bind(2, e.kind).bind(3, e.model).bind(4, e.serial).bind(5, e.installed_date).bind(6, now_ms).bind(7, by);
  s.run();
  return sqlite3_last_insert_rowid(impl_->db_);
}

bool archive::remove_equipment(const std::string& site_id, std::int64_t id) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_, "DELETE FROM site_equipment WHERE site_id = ?1 AND id = ?2", room);
  s.bind(1, site_id).bind(2, id);
  s.run();
  return sqlite3_changes(impl_->db_) > 0;
}

std::vector<cleanout> archive::cleanouts(const std::string& site_id, std::size_t limit) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "SELECT id, cleaned_date, volume_m3, sludge_destination, done_by, note, created_ms, created_by "
                        "FROM site_cleanouts WHERE site_id = ?1 ORDER BY cleaned_date DESC, id DESC LIMIT ?2",
                        room);
  s.bind(1, site_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<cleanout> out;
  while (s.step()) out.push_back({s.i64(0), s.text(1), s.f64(2), s.text(3), s.text(4), s.text(5), s.i64(6), s.text(7)});
  return out;
}

std::int64_t archive::add_cleanout(const std::string& site_id, const cleanout& c, std::int64_t now_ms, const std::string& by) {
  const std::lock_guard lock(impl_->m_);
  detail::sqlite_stmt s(impl_->db_,
                        "INSERT INTO site_cleanouts(site_id, cleaned_date, volume_m3, sludge_destination, done_by, note, "
                        "created_ms, created_by) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                        room);
  s.bind(1, site_id).bind(2, c.date).bind(3, c.volume_m3).bind(4, c.sludge_destination).bind(5, c.done_by).bind(6, c.note);
  s.bind(7, now_ms).bind(8, by);
  s.run();
  return sqlite3_last_insert_rowid(impl_->db_);
}

std::optional<json> archive::history(std::string_view table, const std::string& site_id, std::size_t limit) {
  if (table != "work_orders" && table != "inspections") return std::nullopt;  // never a name from a request
  const std::lock_guard lock(impl_->m_);
  {
    detail::sqlite_stmt t(impl_->db_, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name = ?1", room);
    t.bind(1, std::string(table));
    if (!t.step() || t.i64(0) == 0) return std::nullopt;
  }
  const std::string sql = "SELECT * FROM " + std::string(table) + " WHERE site_id = ?1 ORDER BY id DESC LIMIT ?2";
  detail::sqlite_stmt s(impl_->db_, sql.c_str(), room);
  s.bind(1, site_id).bind(2, static_cast<std::int64_t>(limit));
  json rows = json::array();
  while (s.step()) {
    json row = json::object();
    for (int c = 0; c < s.columns(); ++c) {
      switch (s.type(c)) {
        case SQLITE_INTEGER: row[s.name(c)] = s.i64(c); break;
        case SQLITE_FLOAT: row[s.name(c)] = s.f64(c); break;
        case SQLITE_NULL: row[s.name(c)] = nullptr; break;
        case SQLITE_BLOB: break;  // never shown
        default: row[s.name(c)] = s.text(c);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace sewage::gateway::om
