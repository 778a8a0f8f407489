// The incidents of the shared database, read by a standby (incident_reader.hpp).
#include "sewage/gateway/incidents/incident_reader.hpp"

#include "sewage/gateway/incidents/incident_db.hpp"

#include "codec.hpp"

#include <nlohmann/json.hpp>

#include <mutex>
#include <stdexcept>
#include <utility>

namespace sewage::gateway::incidents {
namespace {

class stored_incident_reader final : public incident_reader {
 public:
  explicit stored_incident_reader(std::string uri) : uri_(std::move(uri)) {}

  std::optional<incident> find(std::int64_t id) const override {
    return read([&](incident_db& db) -> std::optional<incident> {
      const auto doc = db.find(id);
      if (!doc) return std::nullopt;
      return decode(*doc);
    });
  }

  std::vector<incident> list(std::optional<incident_state> state, std::size_t limit) const override {
    return read([&](incident_db& db) {
      std::vector<incident> out;
      for (const auto& doc : db.list(state ? std::optional<std::string>(to_string(*state)) : std::nullopt, limit))
        out.push_back(decode(doc));
      return out;
    });
  }

 private:
  /// `f(db)` on the connection, opened first when there is none; a failure drops the connection
  /// (the next read opens another) and throws on.
  template <class F>
  auto read(F&& f) const -> decltype(f(std::declval<incident_db&>())) {
    const std::lock_guard lock(mutex_);
    try {
      if (!db_) db_ = open_postgresql_incident_db(uri_, store_access::read_only);
      return f(*db_);
    } catch (...) {
      db_.reset();
      throw;
    }
  }

  static incident decode(const std::string& doc) {
    try {
      return from_json(nlohmann::json::parse(doc));
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("incidents: a stored incident does not decode: ") + e.what());
    }
  }

  std::string uri_;
  mutable std::mutex mutex_;
  mutable std::unique_ptr<incident_db> db_;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<incident_reader> open_stored_incident_reader(const std::string& uri) {
  return std::make_unique<stored_incident_reader>(uri);
}

}  // namespace sewage::gateway::incidents
