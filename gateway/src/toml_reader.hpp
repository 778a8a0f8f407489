#pragma once
// Internal: typed, key-checked reading of a toml++ table. Every error names "<file>: <key>".
#include "sewage/gateway/config.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::detail {

class toml_reader {
 public:
  toml_reader(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

  [[noreturn]] void fail(std::string_view key, std::string_view why) const {
    throw config_error(where_ + (where_.empty() || key.empty() ? "" : ".") + std::string(key) + ": " +
                       std::string(why));
  }
  [[nodiscard]] std::string key_path(std::string_view key) const {
    return where_.empty() ? std::string(key) : where_ + "." + std::string(key);
  }

  void read(std::string_view key, std::string& out) {
    const auto* n = node(key);
    if (n == nullptr) return;
    if (!n->is_string()) fail(key, "must be a string");
    out = *n->value<std::string>();
  }
  void read(std::string_view key, bool& out) {
    const auto* n = node(key);
    if (n == nullptr) return;
    if (!n->is_boolean()) fail(key, "must be true or false");
    out = *n->value<bool>();
  }
  void read(std::string_view key, double& out, double min, double max) {
    const auto* n = node(key);
    if (n == nullptr) return;
    if (!n->is_number()) fail(key, "must be a number");
    const double v = *n->value<double>();
    if (!(v >= min && v <= max))
      fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v));
    out = v;
  }
  template <class Int>
  void read_int(std::string_view key, Int& out, std::int64_t min, std::int64_t max) {
    const auto* n = node(key);
    if (n == nullptr) return;
    if (!n->is_integer()) fail(key, "must be an integer");
    const std::int64_t v = *n->value<std::int64_t>();
    if (v < min || v > max)
      fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v));
    out = static_cast<Int>(v);
  }
  /// An array of strings; `out` keeps its value when the key is absent.
  void read(std::string_view key, std::vector<std::string>& out) {
    const auto* n = node(key);
    if (n == nullptr) return;
    if (!n->is_array()) fail(key, "must be an array of strings");
    std::vector<std::string> v;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) fail(key, "must be an array of strings");
      v.push_back(*e.value<std::string>());
    }
    out = std::move(v);
  }
  const toml::table* sub_table(std::string_view key) {
    const auto* n = node(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail(key, "must be a table");
    return n->as_table();
  }
  /// The node of `key` (nullptr when absent), marked as read; for types the readers above lack.
  const toml::node* raw(std::string_view key) { return node(key); }
  /// Fails on any key that was not read (typos must not pass silently).
  void reject_unknown() const {
    for (const auto& [k, v] : table_) {
      if (known_.count(std::string(k.str())) == 0) fail(k.str(), "unknown key");
    }
  }

 private:
  const toml::node* node(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }
  const toml::table& table_;
  std::string where_;
  std::set<std::string, std::less<>> known_;
};

/// Reads the [notify] table `t` (with its [[notify.target]] array) onto `out`; relative ca_file
/// paths are resolved with `resolve_path`. Throws config_error naming the key
/// ("notify.target[1].url: ..."). Defined in notify/notify_config.cpp.
void read_notify(const toml::table& t, notify_settings& out,
                 const std::function<std::string(const std::string&)>& resolve_path);

/// Reads the [alarms] table (issue 12 alarm discipline) onto `out`. Throws config_error naming the
/// key. Defined in alarms/alarms_config.cpp.
void read_alarms(const toml::table& t, alarms::settings& out);
/// Reads the [om] table `t` (O&M, om/settings.hpp) onto `out`; relative paths are resolved with
/// `resolve_path`. Throws config_error naming the key. Defined in om/om_config.cpp.
void read_om(const toml::table& t, om::settings& out,
             const std::function<std::string(const std::string&)>& resolve_path);

/// Reads `[om.lab]` and `[om.archive]` (either may be null: defaults) onto `lab` and `archive`,
/// then loads the limits file `lab.limits_file` names (om/limits.hpp). Throws config_error naming
/// the key or the limits file and its key. Defined in om/lab_config.cpp.
void read_om_lab(const toml::table* lab, const toml::table* archive, om::lab_settings& out, om::archive_settings& arch,
                 const std::function<std::filesystem::path(const std::string&)>& resolve_path);
/// Reads the [network] table (`file`) onto `network_file`, resolved with `resolve_path`. Throws
/// config_error naming the key (unknown keys too). Defined in network/network_config.cpp.
void read_network(const toml::table& t, std::filesystem::path& network_file,
                  const std::function<std::filesystem::path(const std::string&)>& resolve_path);
/// Reads [om.inspections] / [om.assessment] (src/om/inspections_config.cpp); errors name the key
/// ("om.inspections.checklist.terminal[2].key: ...").
void read_om_inspections(const toml::table& t, om::inspection_settings& out);
void read_om_assessment(const toml::table& t, om::assessment_settings& out);

/// Reads the threshold keys of `r` onto `t` (county [alerts] and per terminal [terminal.thresholds]).
void read_thresholds(toml_reader& r, thresholds& t);

/// Parses the TOML file at `path`. Throws config_error "<path>: cannot open <what>" when it cannot
/// be read, "<path>:<line>:<column>: <reason>" on a syntax error.
inline toml::table parse_toml_file(const std::filesystem::path& path, const char* what = "file") {
  std::ifstream probe(path);
  if (!probe) throw config_error(path.string() + ": cannot open " + what);
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    throw config_error(path.string() + ":" + std::to_string(e.source().begin.line) + ":" +
                       std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
}

}  // namespace sewage::gateway::detail
