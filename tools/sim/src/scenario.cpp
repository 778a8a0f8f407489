#include "sewage/sim/scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>
#include <utility>
#include <stdexcept>

namespace sewage::sim {
namespace {

constexpr std::array<std::pair<fault_kind, std::string_view>, 18> fault_names{{
    {fault_kind::blockage, "blockage"},
    {fault_kind::pump_failure, "pump_failure"},
    {fault_kind::turbidity_excursion, "turbidity_excursion"},
    {fault_kind::stuck_turbidity, "stuck_turbidity"},
    {fault_kind::sentinel, "sentinel"},
    {fault_kind::device_not_answering, "device_not_answering"},
    {fault_kind::meter_reset, "meter_reset"},
    {fault_kind::sludge_cleanout, "sludge_cleanout"},
    {fault_kind::power_loss, "power_loss"},
    {fault_kind::link_outage, "link_outage"},
    {fault_kind::clock_skew, "clock_skew"},
    {fault_kind::pump_dry_run, "pump_dry_run"},
    {fault_kind::meter_no_power, "meter_no_power"},
    {fault_kind::station_pump_failure, "station_pump_failure"},
    {fault_kind::station_power_loss, "station_power_loss"},
    {fault_kind::wet_well_overflow, "wet_well_overflow"},
    {fault_kind::pipe_blockage, "pipe_blockage"},
    {fault_kind::pipe_burst, "pipe_burst"},
}};

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

/// A pump id as the wire contract allows it: [A-Za-z0-9_-]{1,16}.
bool valid_pump_id(const std::string& id) {
  if (id.empty() || id.size() > 16) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& where,
                       const std::string& why) {
  throw std::runtime_error(file.string() + ": " + where + ": " + why);
}

double number(const toml::table& t, std::string_view key, const std::filesystem::path& file,
              const std::string& where, std::optional<double> fallback = std::nullopt) {
  const auto* node = t.get(key);
  if (node == nullptr) {
    if (fallback) return *fallback;
    fail(file, where + std::string(key), "required key is missing");
  }
  if (auto v = node->value<double>()) return *v;
  fail(file, where + std::string(key), "must be a number");
}

}  // namespace

std::string_view to_string(fault_kind k) noexcept {
  for (const auto& [kind, name] : fault_names) {
    if (kind == k) return name;
  }
  return "unknown";
}

std::optional<fault_kind> parse_fault_kind(std::string_view name) noexcept {
  for (const auto& [kind, n] : fault_names) {
    if (n == name) return kind;
  }
  return std::nullopt;
}

std::string_view expected_alert(fault_kind k) noexcept {
  switch (k) {
    case fault_kind::blockage:
    case fault_kind::pump_failure: return "no_flow";
    case fault_kind::turbidity_excursion: return "turbidity_high";
    case fault_kind::stuck_turbidity:
    case fault_kind::sentinel:
    case fault_kind::device_not_answering: return "sensor_fault";
    case fault_kind::meter_reset: return "";
    case fault_kind::sludge_cleanout: return "cleanout_required";
    case fault_kind::power_loss:
    case fault_kind::link_outage: return "offline";
    case fault_kind::clock_skew: return "clock_skew";
    case fault_kind::pump_dry_run: return "power_without_flow";
    case fault_kind::meter_no_power: return "flow_without_power";
    case fault_kind::station_pump_failure: return "pump_fault";
    case fault_kind::station_power_loss: return "power_lost";
    case fault_kind::wet_well_overflow: return "wet_well_high";
    case fault_kind::pipe_blockage:
    case fault_kind::pipe_burst: return "";  // judged as incidents (flow_loss), no one alert type
  }
  return "";
}

bool is_network_fault(fault_kind k) noexcept { return !expected_incident(k).empty(); }

bool is_station_fault(fault_kind k) noexcept {
  return k == fault_kind::station_pump_failure || k == fault_kind::station_power_loss ||
         k == fault_kind::wet_well_overflow;
}

std::string_view expected_incident(fault_kind k) noexcept {
  switch (k) {
    case fault_kind::station_pump_failure:
    case fault_kind::station_power_loss:
    case fault_kind::wet_well_overflow: return "pump_station_fault";
    case fault_kind::pipe_blockage:
    case fault_kind::pipe_burst: return "flow_loss";
    default: return "";
  }
}

namespace {
toml::table parse_scenario_file(const std::filesystem::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    fail(file, "line " + std::to_string(e.source().begin.line), std::string(e.description()));
  }
  return {};
}

std::vector<scenario_sludge> scenario_sludge_entries(const toml::table& root, const std::filesystem::path& file,
                                                    const std::vector<std::string>& known_terminals) {
  std::vector<scenario_sludge> out;
  const auto* node = root.get("sludge");
  if (node == nullptr) return out;
  const auto* arr = node->as_array();
  if (arr == nullptr) fail(file, "sludge", "must be an array of tables ([[sludge]])");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string where = "sludge[" + std::to_string(i) + "].";
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr) fail(file, "sludge[" + std::to_string(i) + "]", "must be a table");
    for (const auto& [key, value] : *t) {
      if (key.str() != "terminal" && key.str() != "due_in_days") fail(file, where + std::string(key.str()), "unknown key");
    }
    const auto terminal = (*t)["terminal"].value<std::string>();
    if (!terminal) fail(file, where + "terminal", "required key is missing");
    if (!known_terminals.empty() && !contains(known_terminals, *terminal))
      fail(file, where + "terminal", "\"" + *terminal + "\" is not in the registry");
    for (const auto& e : out) {
      if (e.terminal == *terminal) fail(file, where + "terminal", "\"" + *terminal + "\" already has a [[sludge]] entry");
    }
    scenario_sludge e;
    e.terminal = *terminal;
    e.due_in_days = number(*t, "due_in_days", file, where);
    if (!(e.due_in_days > 0.0 && e.due_in_days <= 3650.0)) fail(file, where + "due_in_days", "must be in (0, 3650] days");
    out.push_back(std::move(e));
  }
  return out;
}

/// The weather of a scenario (either form) into s.weather, s.weather_start_h and
/// s.weather_events; throws as load_scenario.
void scenario_weather_entries(const toml::table& root, const std::filesystem::path& file, scenario& s) {
  auto weather_kind_of = [&](const std::string& name, const std::string& where, bool dry_allowed) {
    if (name == "dry" && dry_allowed) return weather_kind::dry;
    if (name == "rain") return weather_kind::rain;
    if (name == "storm") return weather_kind::storm;
    fail(file, where, std::string(dry_allowed ? "must be \"dry\", \"rain\" or \"storm\"" : "must be \"rain\" or \"storm\"") +
                          ", got \"" + name + "\"");
  };
  const auto* weather_node = root.get("weather");
  if (weather_node != nullptr && weather_node->is_array()) {
    if (root.get("weather_start_h") != nullptr)
      fail(file, "weather_start_h", "not used with [[weather]] (each event has its start_h)");
    const auto& arr = *weather_node->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string where = "weather[" + std::to_string(i) + "].";
      const auto* t = arr[i].as_table();
      if (t == nullptr) fail(file, "weather[" + std::to_string(i) + "]", "must be a table");
      for (const auto& [key, value] : *t) {
        if (key.str() != "kind" && key.str() != "start_h") fail(file, where + std::string(key.str()), "unknown key");
      }
      const auto* kind = t->get("kind");
      if (kind == nullptr) fail(file, where + "kind", "required key is missing");
      const auto name = kind->value<std::string>();
      if (!name) fail(file, where + "kind", "must be \"rain\" or \"storm\"");
      scenario_weather w;
      w.kind = weather_kind_of(*name, where + "kind", false);
      w.start_h = number(*t, "start_h", file, where);
      if (!(w.start_h >= 0)) fail(file, where + "start_h", "must be >= 0");
      s.weather_events.push_back(w);
    }
    if (!s.weather_events.empty()) {
      s.weather = s.weather_events.front().kind;
      s.weather_start_h = s.weather_events.front().start_h;
    }
  } else {
    if (weather_node != nullptr && !weather_node->is_string())
      fail(file, "weather", "must be \"dry\", \"rain\" or \"storm\", or an array of tables ([[weather]])");
    s.weather = weather_kind_of(root["weather"].value_or(std::string("dry")), "weather", true);
    s.weather_start_h = number(root, "weather_start_h", file, "", 0.0);
    if (s.weather != weather_kind::dry) s.weather_events.push_back({s.weather, s.weather_start_h});
  }
}

std::chrono::sys_seconds scenario_start(const toml::table& root, const std::filesystem::path& file) {
  const auto* start = root.get("start");
  const auto dt = start != nullptr ? start->value<toml::date_time>() : std::nullopt;
  if (!dt || !dt->offset) fail(file, "start", "required: a UTC date-time such as 2026-11-29T00:00:00Z");
  using namespace std::chrono;
  const auto days_part = sys_days{year{dt->date.year} / month{dt->date.month} / day{dt->date.day}};
  return sys_seconds{days_part} + hours{dt->time.hour} + minutes{dt->time.minute} + seconds{dt->time.second} -
         minutes{dt->offset->minutes};
}
}  // namespace

std::chrono::sys_seconds load_scenario_start(const std::filesystem::path& file) {
  return scenario_start(parse_scenario_file(file), file);
}

std::vector<scenario_sludge> load_scenario_sludge(const std::filesystem::path& file,
                                                  const std::vector<std::string>& known_terminals) {
  return scenario_sludge_entries(parse_scenario_file(file), file, known_terminals);
}

std::vector<scenario_weather> load_scenario_weather(const std::filesystem::path& file) {
  scenario s;
  scenario_weather_entries(parse_scenario_file(file), file, s);
  return s.weather_events;
}

double load_scenario_tank_lag_h(const std::filesystem::path& file) {
  const toml::table root = parse_scenario_file(file);
  const double lag = number(root, "terminal_tank_lag_h", file, "", 4.0);
  if (!(lag >= 0.05 && lag <= 24.0)) fail(file, "terminal_tank_lag_h", "must be in [0.05, 24] h");
  return lag;
}

scenario load_scenario(const std::filesystem::path& file,
                       const std::vector<std::string>& known_terminals, const network_names* network) {
  const toml::table root = parse_scenario_file(file);
  scenario s;
  s.start = scenario_start(root, file);
  s.duration_h = number(root, "duration_h", file, "");
  if (!(s.duration_h > 0)) fail(file, "duration_h", "must be > 0");
  scenario_weather_entries(root, file, s);
  s.terminal_tank_lag_h = number(root, "terminal_tank_lag_h", file, "", 4.0);
  if (!(s.terminal_tank_lag_h >= 0.05 && s.terminal_tank_lag_h <= 24.0))
    fail(file, "terminal_tank_lag_h", "must be in [0.05, 24] h");
  if (const auto* node = root.get("truth")) {
    const auto* t = node->as_table();
    if (t == nullptr) fail(file, "truth", "must be a table ([truth])");
    auto& l = s.truth;
    static constexpr std::string_view keys[] = {
        "turbidity_raise_ntu", "turbidity_clear_ntu", "turbidity_debounce_s", "flow_high_raise_factor",
        "flow_high_clear_factor", "flow_high_debounce_s", "turbidity_margin", "flow_margin",
        "required_report_intervals"};
    for (const auto& [key, value] : *t) {
      if (std::find(std::begin(keys), std::end(keys), key.str()) == std::end(keys))
        fail(file, "truth." + std::string(key.str()), "unknown key");
    }
    auto in = [&](std::string_view key, double fallback, double lo, double hi, bool lo_open) {
      const double v = number(*t, key, file, "truth.", fallback);
      if (!(lo_open ? v > lo : v >= lo) || !(v <= hi))
      {
        char range[80];
        std::snprintf(range, sizeof range, "must be in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
        fail(file, "truth." + std::string(key), range);
      }
      return v;
    };
    constexpr double big = 1e9;
    l.turbidity_raise_ntu = in("turbidity_raise_ntu", l.turbidity_raise_ntu, 0.0, big, true);
    l.turbidity_clear_ntu = in("turbidity_clear_ntu", l.turbidity_clear_ntu, 0.0, l.turbidity_raise_ntu, true);
    l.turbidity_debounce_s = in("turbidity_debounce_s", l.turbidity_debounce_s, 0.0, big, false);
    l.flow_high_raise_factor = in("flow_high_raise_factor", l.flow_high_raise_factor, 0.0, big, true);
    l.flow_high_clear_factor = in("flow_high_clear_factor", l.flow_high_clear_factor, 0.0, l.flow_high_raise_factor, true);
    l.flow_high_debounce_s = in("flow_high_debounce_s", l.flow_high_debounce_s, 0.0, big, false);
    l.turbidity_margin = in("turbidity_margin", l.turbidity_margin, 0.0, 1.0, false);
    l.flow_margin = in("flow_margin", l.flow_margin, 0.0, 1.0, false);
    l.required_report_intervals = in("required_report_intervals", l.required_report_intervals, 0.0, 100.0, false);
  }
  if (const auto* faults = root.get("fault")) {
    const auto* arr = faults->as_array();
    if (arr == nullptr) fail(file, "fault", "must be an array of tables ([[fault]])");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string where = "fault[" + std::to_string(i) + "].";
      const auto* t = (*arr)[i].as_table();
      if (t == nullptr) fail(file, "fault[" + std::to_string(i) + "]", "must be a table");
      scripted_fault f;
      const auto type = (*t)["type"].value<std::string>();
      if (!type) fail(file, where + "type", "required key is missing");
      const auto kind = parse_fault_kind(*type);
      if (!kind) fail(file, where + "type", "unknown fault type \"" + *type + "\"");
      f.kind = *kind;
      auto string_key = [&](std::string_view key) -> std::optional<std::string> {
        const auto* node = t->get(key);
        if (node == nullptr) return std::nullopt;
        const auto v = node->value<std::string>();
        if (!v || v->empty()) fail(file, where + std::string(key), "must be a non-empty string");
        return v;
      };
      auto forbid = [&](std::string_view key, const char* why) {
        if (t->get(key) != nullptr) fail(file, where + std::string(key), why);
      };
      if (is_network_fault(f.kind)) {
        forbid("terminal", "not used by network faults (they name a node or a segment)");
        if (network == nullptr)
          fail(file, where + "type", std::string(to_string(f.kind)) + " needs the pipe network (sewage-sim --network)");
        if (is_station_fault(f.kind)) {
          forbid("segment", "not used by pump-station faults (they name a node)");
          const auto node = string_key("node");
          if (!node) fail(file, where + "node", "required key is missing (a pump station node of the network)");
          if (!contains(network->pump_stations, *node))
            fail(file, where + "node", "\"" + *node + "\" is not a pump station of the network");
          f.node = *node;
        } else {
          forbid("node", "not used by pipe faults (they name a segment)");
          const auto seg = string_key("segment");
          if (!seg) fail(file, where + "segment", "required key is missing (a segment of the network)");
          if (!contains(network->segments, *seg))
            fail(file, where + "segment", "\"" + *seg + "\" is not a segment of the network");
          f.segment = *seg;
        }
        if (f.kind == fault_kind::station_pump_failure) {
          if (const auto pump = string_key("pump")) {
            if (!valid_pump_id(*pump)) fail(file, where + "pump", "must match [A-Za-z0-9_-]{1,16}");
            f.pump = *pump;
          }
        } else {
          forbid("pump", "only station_pump_failure names a pump");
        }
        if (f.kind == fault_kind::pipe_burst) {
          f.fraction = number(*t, "fraction", file, where, 0.6);
          if (!(f.fraction > 0 && f.fraction <= 1)) fail(file, where + "fraction", "must be > 0 and <= 1");
        } else {
          forbid("fraction", "only pipe_burst has a fraction");
        }
        if (f.kind == fault_kind::wet_well_overflow) {
          f.factor = number(*t, "factor", file, where, 1.5);
          if (!(f.factor > 1 && f.factor <= 20))
            fail(file, where + "factor", "must be > 1 and <= 20 (inflow as a multiple of the pumps' capacity)");
        }
      } else {
        forbid("node", "only network faults name a node");
        forbid("segment", "only network faults name a segment");
        forbid("pump", "only station_pump_failure names a pump");
        forbid("fraction", "only pipe_burst has a fraction");
        const auto terminal = (*t)["terminal"].value<std::string>();
        if (!terminal) fail(file, where + "terminal", "required key is missing");
        if (!known_terminals.empty() && !contains(known_terminals, *terminal))
          fail(file, where + "terminal", "\"" + *terminal + "\" is not in the registry");
        f.terminal = *terminal;
      }
      f.start_h = number(*t, "start_h", file, where);
      f.end_h = number(*t, "end_h", file, where);
      if (f.start_h < 0 || !(f.end_h > f.start_h)) {
        fail(file, where + "end_h", "must be after start_h, and start_h >= 0");
      }
      if (f.end_h > s.duration_h) fail(file, where + "end_h", "ends after the scenario");
      if (f.kind != fault_kind::wet_well_overflow) f.factor = number(*t, "factor", file, where, 6.0);
      f.skew_s = number(*t, "skew_s", file, where, 900.0);
      if (const auto mode = string_key("mode")) {
        if (f.kind != fault_kind::link_outage) fail(file, where + "mode", "only link_outage has a mode");
        if (*mode != "reset" && *mode != "blackhole") fail(file, where + "mode", "must be \"reset\" or \"blackhole\"");
        f.blackhole = *mode == "blackhole";
      }
      const double raw = number(*t, "raw", file, where, 65535.0);
      if (raw < 0 || raw > 65535 || raw != static_cast<double>(static_cast<std::uint16_t>(raw))) {
        fail(file, where + "raw", "must be an integer 0..65535");
      }
      f.raw = static_cast<std::uint16_t>(raw);
      s.faults.push_back(std::move(f));
    }
  }
  s.sludge = scenario_sludge_entries(root, file, known_terminals);
  return s;
}

std::vector<weather_event> weather_events_days(const std::vector<scenario_weather>& events, double lead_h) {
  std::vector<weather_event> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back({e.kind, (lead_h + e.start_h) / 24.0});
  return out;
}

std::string_view to_string(truth_day_status s) noexcept {
  switch (s) {
    case truth_day_status::complete: return "complete";
    case truth_day_status::in_progress: return "in_progress";
    case truth_day_status::outside: return "outside";
  }
  return "outside";
}

truth_day_status true_day_status(std::chrono::system_clock::time_point day_begin,
                                 std::chrono::system_clock::time_point scenario_begin,
                                 std::chrono::system_clock::time_point scenario_end,
                                 std::chrono::system_clock::time_point now,
                                 std::chrono::system_clock::duration settle, bool finished) noexcept {
  const auto day_end = day_begin + std::chrono::hours(24);
  if (day_begin < scenario_begin || day_end > scenario_end) return truth_day_status::outside;
  return finished || now >= day_end + settle ? truth_day_status::complete : truth_day_status::in_progress;
}

}  // namespace sewage::sim
