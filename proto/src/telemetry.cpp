#include "sewage/proto/telemetry.hpp"

#include "detail/object_reader.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/payload.hpp"

#include <limits>

namespace sewage::proto {
namespace {

using nlohmann::json;
using detail::object_reader;
using detail::presence_rule;
constexpr auto required = presence_rule::required;
constexpr auto optional = presence_rule::optional;
constexpr std::string_view status_choices = "\"ok\", \"fault\", \"out_of_range\", \"stale\"";

template <class T>
void put(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

void put_status(json& j, quantity_status s, const std::optional<std::string>& reason) {
  j["status"] = std::string(to_string(s));
  put(j, "reason", reason);
}

/// Common part of every quantity: status and reason. Returns nullopt if the status is unusable.
std::optional<quantity_status> read_status(object_reader& r, std::optional<std::string>& reason) {
  auto status = r.enumeration<quantity_status>("status", required, &parse_quantity_status,
                                               status_choices);
  reason = r.text("reason", optional, limits::max_reason_length);
  return status;
}

std::optional<flow_reading> read_flow(const json& j, std::vector<problem>& problems) {
  object_reader r(j, "/flow", problems);
  const auto before = problems.size();
  flow_reading f;
  const auto status = read_status(r, f.reason);
  f.rate_m3h = r.measured("rate_m3h", optional, 0.0, limits::max_flow_m3h, unit::m3_per_h);
  f.total_m3 = r.measured("total_m3", optional, 0.0, limits::max_total_m3, unit::m3);
  if (status == quantity_status::ok && !r.has("rate_m3h")) {
    r.add("rate_m3h", problem_code::missing, "required when status is \"ok\"");
  }
  if (!status || problems.size() != before) return std::nullopt;
  f.status = *status;
  return f;
}

std::optional<turbidity_reading> read_turbidity(const json& j, std::vector<problem>& problems) {
  object_reader r(j, "/turbidity", problems);
  const auto before = problems.size();
  turbidity_reading t;
  const auto status = read_status(r, t.reason);
  t.ntu = r.measured("ntu", optional, 0.0, limits::max_turbidity_ntu, unit::ntu);
  t.min_ntu = r.measured("min_ntu", optional, 0.0, limits::max_turbidity_ntu, unit::ntu);
  t.max_ntu = r.measured("max_ntu", optional, 0.0, limits::max_turbidity_ntu, unit::ntu);
  if (status == quantity_status::ok && !r.has("ntu")) {
    r.add("ntu", problem_code::missing, "required when status is \"ok\"");
  }
  if (t.ntu && t.min_ntu && *t.min_ntu > *t.ntu) {
    r.add("min_ntu", problem_code::inconsistent, "must not exceed ntu (the mean)");
  }
  if (t.ntu && t.max_ntu && *t.max_ntu < *t.ntu) {
    r.add("max_ntu", problem_code::inconsistent, "must not be below ntu (the mean)");
  }
  if (!status || problems.size() != before) return std::nullopt;
  t.status = *status;
  return t;
}

std::optional<sludge_reading> read_sludge(const json& j, std::vector<problem>& problems) {
  object_reader r(j, "/sludge", problems);
  const auto before = problems.size();
  sludge_reading s;
  const auto status = read_status(r, s.reason);
  s.level_m = r.measured("level_m", optional, 0.0, limits::max_sludge_level_m, unit::m);
  s.cleanout_required = r.boolean("cleanout_required", optional);
  if (status == quantity_status::ok && !r.has("level_m") && !r.has("cleanout_required")) {
    r.add("level_m", problem_code::missing,
          "level_m or cleanout_required is required when status is \"ok\"");
  }
  if (!status || problems.size() != before) return std::nullopt;
  s.status = *status;
  return s;
}

std::optional<energy_reading> read_energy(const json& j, std::vector<problem>& problems) {
  object_reader r(j, "/energy", problems);
  const auto before = problems.size();
  energy_reading e;
  const auto status = read_status(r, e.reason);
  e.kwh_total = r.measured("kwh_total", optional, 0.0, limits::max_energy_kwh, unit::kwh);
  e.power_kw = r.measured("power_kw", optional, 0.0, limits::max_power_kw, unit::kw);
  e.pump_current_a = r.measured("pump_current_a", optional, 0.0, limits::max_current_a, unit::ampere);
  if (status == quantity_status::ok && !r.has("power_kw") && !r.has("pump_current_a")) {
    r.add("power_kw", problem_code::missing, "power_kw or pump_current_a is required when status is \"ok\"");
  }
  if (!status || problems.size() != before) return std::nullopt;
  e.status = *status;
  return e;
}

std::optional<pump_reading> read_pump(const json& j, const std::string& base, std::uint64_t interval_s,
                                     std::vector<problem>& problems) {
  object_reader r(j, base, problems);
  const auto before = problems.size();
  pump_reading p;
  const auto id = r.identifier("id", required, limits::max_pump_id_length, &detail::is_id_char,
                               "[A-Za-z0-9_-]{1,16}");
  const auto running = r.boolean("running", required);
  const auto fault = r.boolean("fault", required);
  const auto run_s = r.unsigned_integer("run_s", required, 0, interval_s);
  p.starts = r.unsigned_integer("starts", optional, 0, limits::max_pump_starts);
  p.current_a = r.measured("current_a", optional, 0.0, limits::max_station_current_a, unit::ampere);
  if (problems.size() != before) return std::nullopt;
  p.id = *id;
  p.running = *running;
  p.fault = *fault;
  p.run_s = static_cast<std::uint32_t>(*run_s);
  return p;
}

/// `interval_s`: the record's interval (bounds run_s and power_lost_s); the largest allowed interval
/// when the record's own is missing or bad (its problem is reported there).
std::optional<pump_station_reading> read_pump_station(const json& j, std::uint64_t interval_s,
                                                      std::vector<problem>& problems) {
  object_reader r(j, "/pump_station", problems);
  const auto before = problems.size();
  pump_station_reading ps;
  const auto status = read_status(r, ps.reason);
  ps.wet_well_level_m = r.measured("wet_well_level_m", optional, 0.0, limits::max_wet_well_level_m, unit::m);
  ps.min_level_m = r.measured("min_level_m", optional, 0.0, limits::max_wet_well_level_m, unit::m);
  ps.max_level_m = r.measured("max_level_m", optional, 0.0, limits::max_wet_well_level_m, unit::m);
  if (status == quantity_status::ok && !r.has("wet_well_level_m")) {
    r.add("wet_well_level_m", problem_code::missing, "required when status is \"ok\"");
  }
  if (ps.min_level_m && ps.max_level_m && *ps.min_level_m > *ps.max_level_m) {
    r.add("min_level_m", problem_code::inconsistent, "must not be above max_level_m");
  }
  ps.mains_power = r.boolean("mains_power", optional);
  if (const auto lost = r.unsigned_integer("power_lost_s", optional, 0, interval_s)) {
    ps.power_lost_s = static_cast<std::uint32_t>(*lost);
  }
  if (r.has("pumps")) {
    const json& pumps = j.at("pumps");
    if (!pumps.is_array()) {
      r.add("pumps", problem_code::wrong_type, "must be an array, got " + object_reader::describe(pumps));
    } else if (pumps.empty() || pumps.size() > limits::max_pumps) {
      r.add("pumps", problem_code::out_of_range,
            "must list 1.." + std::to_string(limits::max_pumps) + " pumps, got " + std::to_string(pumps.size()));
    } else {
      for (std::size_t i = 0; i < pumps.size(); ++i) {
        const std::string base = r.path("pumps") + "/" + std::to_string(i);
        if (!pumps[i].is_object()) {
          problems.push_back(problem{base, problem_code::wrong_type,
                                     "must be an object, got " + object_reader::describe(pumps[i])});
          continue;
        }
        auto p = read_pump(pumps[i], base, interval_s, problems);
        if (!p) continue;
        for (const auto& q : ps.pumps) {
          if (q.id == p->id) {
            problems.push_back(problem{base + "/id", problem_code::bad_value,
                                       "pump id \"" + p->id + "\" is listed twice"});
          }
        }
        ps.pumps.push_back(std::move(*p));
      }
    }
  }
  if (!status || problems.size() != before) return std::nullopt;
  ps.status = *status;
  return ps;
}

}  // namespace

std::string_view to_string(quantity_status s) noexcept {
  switch (s) {
    case quantity_status::ok: return "ok";
    case quantity_status::fault: return "fault";
    case quantity_status::out_of_range: return "out_of_range";
    case quantity_status::stale: return "stale";
  }
  return "unknown";
}

std::optional<quantity_status> parse_quantity_status(std::string_view name) noexcept {
  if (name == "ok") return quantity_status::ok;
  if (name == "fault") return quantity_status::fault;
  if (name == "out_of_range") return quantity_status::out_of_range;
  if (name == "stale") return quantity_status::stale;
  return std::nullopt;
}

std::string encode(const telemetry_record& r) {
  json j;
  j["terminal_id"] = r.terminal_id;
  j["epoch"] = r.epoch;
  j["seq"] = r.seq;
  j["ts"] = format_timestamp(r.ts);
  j["interval_s"] = r.interval_s;
  if (r.flow) {
    json f;
    put_status(f, r.flow->status, r.flow->reason);
    detail::put_measured(f, "rate_m3h", r.flow->rate_m3h, unit::m3_per_h);
    detail::put_measured(f, "total_m3", r.flow->total_m3, unit::m3);
    j["flow"] = std::move(f);
  }
  if (r.turbidity) {
    json t;
    put_status(t, r.turbidity->status, r.turbidity->reason);
    detail::put_measured(t, "ntu", r.turbidity->ntu, unit::ntu);
    detail::put_measured(t, "min_ntu", r.turbidity->min_ntu, unit::ntu);
    detail::put_measured(t, "max_ntu", r.turbidity->max_ntu, unit::ntu);
    j["turbidity"] = std::move(t);
  }
  if (r.sludge) {
    json s;
    put_status(s, r.sludge->status, r.sludge->reason);
    detail::put_measured(s, "level_m", r.sludge->level_m, unit::m);
    put(s, "cleanout_required", r.sludge->cleanout_required);
    j["sludge"] = std::move(s);
  }
  if (r.energy) {
    json e;
    put_status(e, r.energy->status, r.energy->reason);
    detail::put_measured(e, "kwh_total", r.energy->kwh_total, unit::kwh);
    detail::put_measured(e, "power_kw", r.energy->power_kw, unit::kw);
    detail::put_measured(e, "pump_current_a", r.energy->pump_current_a, unit::ampere);
    j["energy"] = std::move(e);
  }
  if (r.pump_station) {
    const auto& ps = *r.pump_station;
    json o;
    put_status(o, ps.status, ps.reason);
    detail::put_measured(o, "wet_well_level_m", ps.wet_well_level_m, unit::m);
    detail::put_measured(o, "min_level_m", ps.min_level_m, unit::m);
    detail::put_measured(o, "max_level_m", ps.max_level_m, unit::m);
    put(o, "mains_power", ps.mains_power);
    put(o, "power_lost_s", ps.power_lost_s);
    if (!ps.pumps.empty()) {
      json pumps = json::array();
      for (const auto& p : ps.pumps) {
        json q;
        q["id"] = p.id;
        q["running"] = p.running;
        q["fault"] = p.fault;
        q["run_s"] = p.run_s;
        put(q, "starts", p.starts);
        detail::put_measured(q, "current_a", p.current_a, unit::ampere);
        pumps.push_back(std::move(q));
      }
      o["pumps"] = std::move(pumps);
    }
    j["pump_station"] = std::move(o);
  }
  j["queue_depth"] = r.queue_depth;
  j["dropped"] = r.dropped;
  put(j, "durable", r.durable);
  put(j, "queue_fault", r.queue_fault);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

decoded<telemetry_record> decode_telemetry(std::string_view payload,
                                           std::optional<std::string_view> topic_terminal_id) {
  decoded<telemetry_record> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  const json& doc = *parsed.doc;
  auto& problems = out.problems;
  object_reader r(doc, "", problems);
  telemetry_record rec;
  const auto id = r.identifier("terminal_id", required, limits::max_terminal_id_length,
                               &detail::is_id_char, "[A-Za-z0-9_-]{1,32}");
  detail::check_terminal_id(r, id, topic_terminal_id);
  const auto epoch = r.identifier("epoch", required, limits::max_epoch_length, &detail::is_id_char,
                                  "[A-Za-z0-9_-]{1,64}");
  const auto seq = r.unsigned_integer("seq", required);
  const auto ts = r.time("ts", required);
  const auto interval =
      r.unsigned_integer("interval_s", required, limits::min_interval_s, limits::max_interval_s);
  if (const json* f = r.object("flow", optional)) rec.flow = read_flow(*f, problems);
  if (const json* t = r.object("turbidity", optional)) rec.turbidity = read_turbidity(*t, problems);
  if (const json* s = r.object("sludge", optional)) rec.sludge = read_sludge(*s, problems);
  if (const json* e = r.object("energy", optional)) rec.energy = read_energy(*e, problems);
  if (const json* ps = r.object("pump_station", optional)) {
    rec.pump_station = read_pump_station(*ps, interval.value_or(limits::max_interval_s), problems);
  }
  const auto depth = r.unsigned_integer("queue_depth", required);
  const auto dropped = r.unsigned_integer("dropped", required);
  rec.durable = r.boolean("durable", optional);
  rec.queue_fault = r.text("queue_fault", optional, limits::max_reason_length);
  if (!problems.empty()) return out;
  rec.terminal_id = *id;
  rec.epoch = *epoch;
  rec.seq = *seq;
  rec.ts = *ts;
  rec.interval_s = static_cast<std::uint32_t>(*interval);
  rec.queue_depth = *depth;
  rec.dropped = *dropped;
  out.value = std::move(rec);
  return out;
}

std::vector<problem> validate(const telemetry_record& r) {
  return decode_telemetry(encode(r), r.terminal_id).problems;
}

}  // namespace sewage::proto
