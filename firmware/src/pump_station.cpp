#include "sewage/agent/pump_station.hpp"

#include "sewage/agent/modbus_driver.hpp"
#include "sewage/proto/limits.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace sewage::agent {

using proto::quantity_status;
using std::chrono::milliseconds;

namespace {

bool valid_pump_id(const std::string& id) {
  if (id.empty() || id.size() > proto::limits::max_pump_id_length) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

/// Refuses pump-station quantities (and the injected-only keys) written as [[device.point]].
void refuse_station_quantities_as_device_points(const std::vector<device_config>& devices) {
  for (const auto& d : devices) {
    const toml::node* pts = d.table.get("point");
    const toml::array* arr = pts != nullptr ? pts->as_array() : nullptr;
    if (arr == nullptr) continue;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* t = (*arr)[i].as_table();
      if (t == nullptr) continue;
      const std::string key = d.key + ".point[" + std::to_string(i) + "]";
      for (const char* k : {"pump", "from"}) {
        if (t->get(k) != nullptr) throw config_error(key + "." + k, "unknown key");
      }
      const toml::node* q = t->get("quantity");
      const auto parsed = q != nullptr ? parse_quantity(q->value_or(std::string{})) : std::nullopt;
      if (parsed && is_pump_station_quantity(*parsed)) {
        throw config_error(key + ".quantity", "'" + std::string(to_string(*parsed)) +
                                                  "' is declared in the [pump_station] table, not as a device point");
      }
    }
  }
}

/// Validates one point table of [pump_station] and appends it to its device's points.
class point_injector {
 public:
  point_injector(std::vector<device_config>& devices, std::string default_device)
      : devices_(devices), default_device_(std::move(default_device)) {}

  void add(const toml::node* node, const std::string& key, quantity what, bool digital, std::size_t pump) {
    const auto* t = node != nullptr ? node->as_table() : nullptr;
    if (t == nullptr) {
      throw config_error(key, "must be a table, e.g. {function = \"discrete_input\", address = 0}");
    }
    if (digital) {
      detail::reject_unknown(*t, {"device", "function", "address", "type", "word_order", "bit", "invert"}, key);
    } else {
      detail::reject_unknown(*t,
                             {"device", "function", "address", "type", "word_order", "scale", "offset", "min", "max",
                              "sentinels"},
                             key);
    }
    std::string device_key = key + ".device";
    std::string name = detail::get_string(*t, "device", key, "");
    if (name.empty()) {
      name = default_device_;
      device_key = "pump_station.device";
    }
    if (name.empty()) {
      throw config_error(key + ".device", "is required: name the [[device]] the point is read from (or set pump_station.device)");
    }
    const auto it = std::find_if(devices_.begin(), devices_.end(), [&](const device_config& d) { return d.name == name; });
    if (it == devices_.end()) throw config_error(device_key, "no [[device]] named '" + name + "'");
    if (it->driver != "modbus") {
      throw config_error(device_key, "device '" + name + "' has driver '" + it->driver +
                                         "': pump-station points are read by a modbus device");
    }
    const point_spec spec = parse_point_spec(*t, key);
    const bool is_bit = spec.kind == register_kind::coil || spec.kind == register_kind::discrete_input;
    if (digital && !is_bit && !spec.bit) {
      throw config_error(key + ".bit", "is required for a holding or input register: a digital input is one bit "
                                       "(0..15) of a status word (or use function = \"discrete_input\" or \"coil\")");
    }
    if (!digital && is_bit) {
      throw config_error(key + ".function", "must be holding or input (an analog value), not a coil or discrete input");
    }
    toml::table injected = *t;
    injected.erase("device");
    injected.insert_or_assign("quantity", std::string(to_string(what)));
    injected.insert_or_assign("pump", static_cast<std::int64_t>(pump));
    injected.insert_or_assign("from", key);
    toml::node* pts = it->table.get("point");
    if (pts == nullptr) {
      it->table.insert("point", toml::array{});
      pts = it->table.get("point");
    }
    auto* arr = pts->as_array();
    if (arr == nullptr) throw config_error(it->key + ".point", "must be an array of tables ([[device.point]])");
    arr->push_back(std::move(injected));
  }

 private:
  std::vector<device_config>& devices_;
  std::string default_device_;
};

}  // namespace

std::optional<pump_station_config> parse_pump_station(const toml::table& root, std::vector<device_config>& devices) {
  refuse_station_quantities_as_device_points(devices);
  const toml::node* node = root.get("pump_station");
  if (node == nullptr) return std::nullopt;
  const auto* t = node->as_table();
  if (t == nullptr) throw config_error("pump_station", "must be a table");
  const std::string key = "pump_station";
  detail::reject_unknown(*t, {"device", "level", "mains_power", "pump"}, key);
  point_injector points(devices, detail::get_string(*t, "device", key, ""));
  pump_station_config c;
  if (t->get("level") == nullptr) throw config_error(key + ".level", "is required (the wet-well level point)");
  points.add(t->get("level"), key + ".level", quantity::wet_well_level, false, 0);
  if (const toml::node* m = t->get("mains_power")) {
    points.add(m, key + ".mains_power", quantity::mains_power, true, 0);
    c.mains_monitored = true;
  }
  const toml::node* pn = t->get("pump");
  const toml::array* pumps = pn != nullptr ? pn->as_array() : nullptr;
  if (pn != nullptr && pumps == nullptr) throw config_error(key + ".pump", "must be an array of tables ([[pump_station.pump]])");
  if (pumps == nullptr || pumps->empty() || pumps->size() > proto::limits::max_pumps) {
    throw config_error(key + ".pump", "1.." + std::to_string(proto::limits::max_pumps) +
                                          " [[pump_station.pump]] tables are required, got " +
                                          std::to_string(pumps == nullptr ? 0 : pumps->size()));
  }
  for (std::size_t i = 0; i < pumps->size(); ++i) {
    const std::string pk = key + ".pump[" + std::to_string(i) + "]";
    const auto* p = (*pumps)[i].as_table();
    if (p == nullptr) throw config_error(pk, "must be a table");
    detail::reject_unknown(*p, {"id", "running", "fault", "current"}, pk);
    const std::string id = detail::get_string(*p, "id", pk, std::nullopt);
    if (!valid_pump_id(id)) throw config_error(pk + ".id", "must match [A-Za-z0-9_-]{1,16}, got '" + id + "'");
    if (std::find(c.pump_ids.begin(), c.pump_ids.end(), id) != c.pump_ids.end()) {
      throw config_error(pk + ".id", "duplicate pump id '" + id + "'");
    }
    if (p->get("running") == nullptr) throw config_error(pk + ".running", "is required (the pump's run feedback input)");
    if (p->get("fault") == nullptr) throw config_error(pk + ".fault", "is required (the pump's fault / trip input)");
    points.add(p->get("running"), pk + ".running", quantity::pump_running, true, i);
    points.add(p->get("fault"), pk + ".fault", quantity::pump_fault, true, i);
    const bool has_current = p->get("current") != nullptr;
    if (has_current) points.add(p->get("current"), pk + ".current", quantity::station_pump_current, false, i);
    c.pump_ids.push_back(id);
    c.pump_current.push_back(has_current);
  }
  return c;
}

// ---- digital_track ----

void digital_track::hold(milliseconds until, milliseconds window_start, bool on) noexcept {
  const milliseconds from = std::max(since_, window_start);
  if (until <= from) return;
  (on ? on_ : off_) += until - from;
}

void digital_track::reading(bool on, milliseconds t, milliseconds window_start) noexcept {
  const milliseconds at = std::max(t, window_start);
  // A known state lasts until this reading; after a failure (or at start) the unknown stretch is
  // given this reading's state (the best estimate; such a window is only reported when the
  // failure was in an earlier window).
  hold(at, window_start, state_.value_or(on));
  if (last_known_ && !*last_known_ && on) ++rises_;
  state_ = on;
  last_known_ = on;
  since_ = std::max(at, since_);
  ++readings_;
}

void digital_track::failure(std::string reason, milliseconds t, milliseconds window_start) {
  const milliseconds at = std::max(t, window_start);
  if (state_) {
    hold(at, window_start, *state_);
    since_ = std::max(at, since_);
  }
  state_.reset();
  ++failures_;
  reason_ = std::move(reason);
}

void digital_track::close(milliseconds end, milliseconds window_start) noexcept {
  if (!state_) return;  // unknown since the failure: the next good reading fills it
  hold(end, window_start, *state_);
  since_ = std::max(end, since_);
}

void digital_track::next_window() noexcept {
  on_ = off_ = milliseconds{0};
  rises_ = 0;
  readings_ = failures_ = 0;
  reason_.clear();
}

// ---- pump_station_window ----

pump_station_window::pump_station_window(pump_station_config config)
    : config_(std::move(config)), pumps_(config_.pump_ids.size()) {}

milliseconds pump_station_window::start(milliseconds now) noexcept {
  if (!window_start_) window_start_ = now;
  return *window_start_;
}

void pump_station_window::add(const std::vector<sample>& samples, milliseconds now) {
  const milliseconds ws = start(now);
  // Digital inputs first, so a current read in the same poll sees the pump's run state of that poll.
  for (const sample& s : samples) {
    digital_track* d = nullptr;
    std::string label;
    if (s.what == quantity::mains_power) {
      d = &mains_;
      label = "mains";
    } else if ((s.what == quantity::pump_running || s.what == quantity::pump_fault) && s.index < pumps_.size()) {
      const bool run = s.what == quantity::pump_running;
      d = run ? &pumps_[s.index].running : &pumps_[s.index].fault;
      label = config_.pump_ids[s.index] + (run ? " running" : " fault");
    }
    if (d == nullptr) continue;
    if (s.status == quantity_status::ok) {
      d->reading(s.value >= 0.5, now, ws);
    } else {
      d->failure(label + ": " + s.reason, now, ws);
    }
  }
  for (const sample& s : samples) {
    if (s.what == quantity::wet_well_level) {
      sample c = s;
      if (c.status == quantity_status::ok && (c.value < 0 || c.value > proto::limits::max_wet_well_level_m)) {
        std::ostringstream os;
        os << c.value << " m outside the physical range [0, " << proto::limits::max_wet_well_level_m << "]";
        c.status = quantity_status::out_of_range;
        c.reason = os.str();
      }
      level_.add(c);
    } else if (s.what == quantity::station_pump_current && s.index < pumps_.size()) {
      pump_state& p = pumps_[s.index];
      if (s.status != quantity_status::ok) {
        p.current_reason = s.reason;
      } else if (s.value < 0 || s.value > proto::limits::max_station_current_a) {
        std::ostringstream os;
        os << s.value << " A outside the physical range [0, " << proto::limits::max_station_current_a << "]";
        p.current_reason = os.str();
      } else if (p.running.state().value_or(false)) {
        p.current_sum += s.value;
        ++p.current_n;
      }
    }
  }
}

proto::pump_station_reading pump_station_window::close(milliseconds end, std::uint32_t interval_s) {
  const milliseconds ws = start(end);
  end = std::max(end, ws);
  std::vector<std::string> reasons;
  proto::pump_station_reading r;
  r.status = level_.status();
  if (r.status == quantity_status::ok) {
    r.wet_well_level_m = level_.last();
    r.min_level_m = level_.min();
    r.max_level_m = level_.max();
  } else {
    reasons.push_back(level_.samples() == 0 ? "no reading of the wet-well level in this window"
                                            : "level: " + level_.last_reason());
  }
  const auto seconds = [interval_s](milliseconds ms) {
    const auto s = static_cast<std::uint32_t>(std::lround(static_cast<double>(ms.count()) / 1000.0));
    return std::min(s, interval_s);
  };

  std::string pumps_missing;
  for (std::size_t i = 0; i < pumps_.size(); ++i) {
    for (digital_track* d : {&pumps_[i].running, &pumps_[i].fault}) {
      d->close(end, ws);
      if (!pumps_missing.empty()) continue;
      if (d->failures() > 0) {
        pumps_missing = d->reason() + (d->failures() > 1 ? " (" + std::to_string(d->failures()) + " failed reads)" : "");
      } else if (d->readings() == 0 || !d->state()) {
        pumps_missing = "no reading of " + config_.pump_ids[i] + (d == &pumps_[i].running ? " running" : " fault") +
                        " in this window";
      }
    }
  }
  if (!pumps_missing.empty()) {
    reasons.push_back("pump inputs not reported: " + pumps_missing);
  } else {
    for (std::size_t i = 0; i < pumps_.size(); ++i) {
      pump_state& p = pumps_[i];
      proto::pump_reading q;
      q.id = config_.pump_ids[i];
      q.running = *p.running.state();
      q.fault = *p.fault.state();
      q.run_s = seconds(p.running.on());
      q.starts = std::min<std::uint64_t>(p.running.rises(), proto::limits::max_pump_starts);
      if (p.current_n > 0) {
        q.current_a = p.current_sum / p.current_n;
      } else if (!p.current_reason.empty() && (q.run_s > 0 || q.running)) {
        reasons.push_back(q.id + " current: " + p.current_reason);
      }
      r.pumps.push_back(std::move(q));
    }
  }

  if (config_.mains_monitored) {
    mains_.close(end, ws);
    if (mains_.failures() > 0) {
      reasons.push_back("mains input not reported: " + mains_.reason());
    } else if (mains_.readings() == 0 || !mains_.state()) {
      reasons.push_back("mains input not reported: no reading in this window");
    } else {
      r.mains_power = *mains_.state();
      r.power_lost_s = seconds(mains_.off());
    }
  }

  std::string reason;
  for (const auto& s : reasons) reason += (reason.empty() ? "" : "; ") + s;
  if (reason.size() > proto::limits::max_reason_length) reason.resize(proto::limits::max_reason_length);
  if (!reason.empty()) r.reason = reason;

  level_.reset();
  for (auto& p : pumps_) {
    p.running.next_window();
    p.fault.next_window();
    p.current_sum = 0;
    p.current_n = 0;
    p.current_reason.clear();
  }
  mains_.next_window();
  window_start_ = end;
  return r;
}

}  // namespace sewage::agent
