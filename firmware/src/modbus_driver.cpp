#include "sewage/agent/modbus_driver.hpp"

#include "sewage/proto/limits.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <modbus.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sewage::agent {

namespace {
using detail::get_double;
using detail::get_int;
using detail::get_string;

modbus_point parse_point(const toml::table& t, const std::string& device_key) {
  // Points injected from [pump_station] carry the key they were written under ("from").
  const toml::node* from = t.get("from");
  const std::string key = from != nullptr && from->is_string() ? from->value_or(std::string{}) : device_key;
  detail::reject_unknown(t,
                         {"quantity", "function", "address", "type", "word_order", "scale", "offset",
                          "unit", "min", "max", "sentinels", "alarm", "bit", "invert", "pump", "from"},
                         key);
  modbus_point p;
  const std::string q = get_string(t, "quantity", key, std::nullopt);
  const auto qq = parse_quantity(q);
  if (!qq) {
    throw config_error(key + ".quantity", "unknown quantity '" + q +
                                              "' (flow_rate, flow_total, flow_total_int, "
                                              "flow_total_frac, turbidity, sludge_level, cleanout_switch, "
                                              "energy_total, power, pump_current)");
  }
  if (is_pump_station_quantity(*qq) && from == nullptr) {
    throw config_error(key + ".quantity", "'" + q + "' is declared in the [pump_station] table, not as a device point");
  }
  p.what = *qq;
  p.spec = parse_point_spec(t, key);
  p.unit = get_string(t, "unit", key, "");
  p.alarm = detail::get_bool(t, "alarm", key, false);
  p.pump = static_cast<std::uint8_t>(get_int(t, "pump", key, 0, 0, static_cast<std::int64_t>(proto::limits::max_pumps) - 1));
  return p;
}
}  // namespace

point_spec parse_point_spec(const toml::table& t, const std::string& key) {
  point_spec spec;
  const std::string fn = get_string(t, "function", key, "holding");
  const auto k = parse_register_kind(fn);
  if (!k) throw config_error(key + ".function", "must be holding, input, coil or discrete_input, got '" + fn + "'");
  spec.kind = *k;
  spec.address = static_cast<std::uint16_t>(get_int(t, "address", key, std::nullopt, 0, 65535));
  const std::string ty = get_string(t, "type", key, "u16");
  const auto tt = parse_data_type(ty);
  if (!tt) throw config_error(key + ".type", "must be u16, i16, u32, i32 or f32, got '" + ty + "'");
  spec.type = *tt;
  const std::string wo = get_string(t, "word_order", key, "ABCD");
  const auto ww = parse_word_order(wo);
  if (!ww) throw config_error(key + ".word_order", "must be ABCD, CDAB, BADC or DCBA, got '" + wo + "'");
  spec.order = *ww;
  spec.scale = get_double(t, "scale", key, 1.0, -1e9, 1e9);
  if (spec.scale == 0.0) throw config_error(key + ".scale", "must not be 0");
  spec.offset = get_double(t, "offset", key, 0.0, -1e9, 1e9);
  if (t.get("min") != nullptr) spec.min = get_double(t, "min", key, std::nullopt, -1e12, 1e12);
  if (t.get("max") != nullptr) spec.max = get_double(t, "max", key, std::nullopt, -1e12, 1e12);
  if (spec.min && spec.max && *spec.min > *spec.max) throw config_error(key + ".min", "must be <= max");
  if (const toml::node* s = t.get("sentinels")) {
    const auto* arr = s->as_array();
    if (arr == nullptr) throw config_error(key + ".sentinels", "must be an array of integers");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* v = (*arr)[i].as_integer();
      const std::string sk = key + ".sentinels[" + std::to_string(i) + "]";
      if (v == nullptr || v->get() < 0 || v->get() > 0xFFFFFFFFLL) {
        throw config_error(sk, "must be an integer in [0, 0xFFFFFFFF]");
      }
      spec.sentinels.push_back(static_cast<std::uint32_t>(v->get()));
    }
  }
  const bool is_bit = spec.kind == register_kind::coil || spec.kind == register_kind::discrete_input;
  if (t.get("bit") != nullptr) {
    if (is_bit) throw config_error(key + ".bit", "only for a holding or input register (a coil or discrete input is one bit already)");
    if (spec.type != data_type::u16) throw config_error(key + ".bit", "needs type = \"u16\" (a 16-bit status word)");
    spec.bit = static_cast<std::uint8_t>(get_int(t, "bit", key, std::nullopt, 0, 15));
  }
  spec.invert = detail::get_bool(t, "invert", key, false);
  if (spec.invert && !is_bit && !spec.bit) {
    throw config_error(key + ".invert", "only for a digital point (coil, discrete_input, or a register with bit)");
  }
  return spec;
}

modbus_device_config parse_modbus_device(const device_config& device) {
  const toml::table& t = device.table;
  const std::string& key = device.key;
  detail::reject_unknown(t,
                         {"name", "driver", "transport", "host", "port", "unit_id", "serial_device",
                          "baud", "parity", "data_bits", "stop_bits", "slave_id", "extra_delay_ms",
                          "response_timeout_ms", "retries", "point"},
                         key);
  modbus_device_config c;
  c.name = device.name;
  c.key = key;
  const std::string transport = get_string(t, "transport", key, std::nullopt);
  if (transport == "tcp") {
    c.rtu = false;
    c.host = get_string(t, "host", key, std::nullopt);
    c.port = static_cast<int>(get_int(t, "port", key, 502, 1, 65535));
    c.unit_id = static_cast<int>(get_int(t, "unit_id", key, 1, 0, 255));
  } else if (transport == "rtu") {
    c.rtu = true;
    c.serial_device = get_string(t, "serial_device", key, std::nullopt);
    c.baud = static_cast<int>(get_int(t, "baud", key, 9600, 300, 921600));
    const std::string parity = get_string(t, "parity", key, "N");
    if (parity != "N" && parity != "E" && parity != "O") {
      throw config_error(key + ".parity", "must be N, E or O, got '" + parity + "'");
    }
    c.parity = parity[0];
    c.data_bits = static_cast<int>(get_int(t, "data_bits", key, 8, 5, 8));
    c.stop_bits = static_cast<int>(get_int(t, "stop_bits", key, 1, 1, 2));
    c.unit_id = static_cast<int>(get_int(t, "slave_id", key, 1, 1, 247));
    c.extra_delay_ms = static_cast<int>(get_int(t, "extra_delay_ms", key, 0, 0, 10000));
  } else {
    throw config_error(key + ".transport", "must be tcp or rtu, got '" + transport + "'");
  }
  c.response_timeout_ms = static_cast<int>(get_int(t, "response_timeout_ms", key, 500, 10, 60000));
  c.retries = static_cast<int>(get_int(t, "retries", key, 1, 0, 10));
  const toml::node* pts = t.get("point");
  const toml::array* arr = pts != nullptr ? pts->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) throw config_error(key + ".point", "at least one [[device.point]] is required");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string pk = key + ".point[" + std::to_string(i) + "]";
    const auto* pt = (*arr)[i].as_table();
    if (pt == nullptr) throw config_error(pk, "must be a table");
    c.points.push_back(parse_point(*pt, pk));
  }
  return c;
}

bus_endpoint modbus_device_config::endpoint() const {
  bus_endpoint e;
  e.rtu = rtu;
  e.serial_device = serial_device;
  e.serial = serial_settings{baud, parity, data_bits, stop_bits};
  e.host = host;
  e.port = port;
  return e;
}

modbus_driver::modbus_driver(modbus_device_config config, std::shared_ptr<modbus_bus> bus)
    : config_(std::move(config)), bus_(std::move(bus)), groups_(plan_reads(config_.points)) {}

modbus_driver::modbus_driver(modbus_device_config config)
    : modbus_driver(config, std::make_shared<modbus_bus>(config.endpoint())) {}

modbus_driver::~modbus_driver() = default;

driver_factory modbus_driver::factory(modbus_bus_registry& buses) {
  return [&buses](const device_config& device) -> std::unique_ptr<sensor_driver> {
    auto config = parse_modbus_device(device);
    auto bus = buses.acquire(config.endpoint(), config.name, config.key);
    return std::make_unique<modbus_driver>(std::move(config), std::move(bus));
  };
}

std::string modbus_driver::slave_reason(const std::string& what) const {
  // Counters of this slave on this link since start, so an operator sees which instrument on a
  // shared line fails and how often (e.g. "slave 2: no answer: Connection timed out (3 timeouts)").
  const std::string counters = describe_counters(bus_->counters(config_.unit_id));
  std::string out = (config_.rtu ? "slave " : "unit ") + std::to_string(config_.unit_id) + ": " + what;
  if (!counters.empty()) out += " (" + counters + ")";
  if (out.size() > proto::limits::max_reason_length) out.resize(proto::limits::max_reason_length);
  return out;
}

modbus_driver::block_result modbus_driver::read_block(modbus_bus::session& s, register_kind kind,
                                                     std::uint16_t address, int count, std::uint16_t* regs) {
  block_result r;
  std::string why;
  for (int attempt = 0; attempt <= config_.retries; ++attempt) {
    const bus_result b = s.read(kind, address, count, regs);
    switch (b.outcome) {
      case bus_outcome::ok:
        r.status = proto::quantity_status::ok;
        return r;
      case bus_outcome::exception:
        // The device answered, so the link is in sync.
        r.status = proto::quantity_status::fault;
        r.reason = slave_reason("exception response: " + b.detail);
        return r;
      case bus_outcome::timeout:
      case bus_outcome::bad_frame:
      case bus_outcome::no_link:
        why = b.detail;
        break;
    }
  }
  r.status = proto::quantity_status::stale;
  r.reason = slave_reason("no answer: " + why);
  return r;
}

std::vector<modbus_driver::read_group> modbus_driver::plan_reads(const std::vector<modbus_point>& points) {
  // Points of one register table whose addresses touch or overlap are read in one request, so
  // that values which belong together (the totalizer's integer and fraction parts) come from one
  // moment of the device. Gaps are never bridged: devices refuse reads of addresses outside
  // their map (e.g. the Y511 answers nothing outside 0x2600..0x2604).
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& pa = points[a].spec;
    const auto& pb = points[b].spec;
    return std::pair(static_cast<int>(pa.kind), pa.address) < std::pair(static_cast<int>(pb.kind), pb.address);
  });
  std::vector<read_group> groups;
  for (const std::size_t i : order) {
    const auto& spec = points[i].spec;
    const bool is_bit = spec.kind == register_kind::coil || spec.kind == register_kind::discrete_input;
    const int count = is_bit ? 1 : static_cast<int>(register_count(spec.type));
    if (!is_bit && !groups.empty()) {
      auto& g = groups.back();
      const int g_end = g.address + g.count;
      const int end = std::max(g_end, spec.address + count);
      if (g.kind == spec.kind && spec.address <= g_end && end - g.address <= max_registers_per_read) {
        g.count = end - g.address;
        g.points.push_back(i);
        continue;
      }
    }
    groups.push_back(read_group{spec.kind, spec.address, count, {i}});
  }
  return groups;
}

std::vector<sample> modbus_driver::read(proto::timestamp /*now*/) {
  std::vector<sample> by_point(config_.points.size());
  bool link_dead = false;
  std::vector<std::uint16_t> regs(max_registers_per_read);
  // The whole poll holds the line: the device's requests follow each other, other devices wait.
  auto session = bus_->open(slave_options{config_.unit_id, std::chrono::milliseconds(config_.response_timeout_ms),
                                          std::chrono::milliseconds(config_.extra_delay_ms)});
  for (const auto& g : groups_) {
    block_result r;
    if (link_dead) {
      // The device did not answer the previous request: do not wait for each request again.
      r.status = proto::quantity_status::stale;
      r.reason = slave_reason("not asked: no answer to the previous request");
    } else {
      std::fill(regs.begin(), regs.end(), 0);
      r = read_block(session, g.kind, g.address, g.count, regs.data());
      link_dead = r.status == proto::quantity_status::stale;
    }
    for (const std::size_t i : g.points) {
      const auto& p = config_.points[i];
      sample& s = by_point[i];
      s.what = p.what;
      s.index = p.pump;
      if (r.status != proto::quantity_status::ok) {
        s.status = r.status;
        s.reason = r.reason;
        continue;
      }
      const bool is_bit = p.spec.kind == register_kind::coil || p.spec.kind == register_kind::discrete_input;
      const std::size_t offset = static_cast<std::size_t>(p.spec.address - g.address);
      const std::size_t count = is_bit ? 1 : register_count(p.spec.type);
      const decoded_point d = decode_point(p.spec, std::span<const std::uint16_t>(regs.data() + offset, count));
      s.status = d.status;
      s.value = d.value;
      s.reason = d.reason;
    }
  }
  std::vector<sample> out;
  out.reserve(config_.points.size());
  std::vector<std::pair<quantity, std::string>> alarms;
  for (std::size_t i = 0; i < config_.points.size(); ++i) {
    const auto& p = config_.points[i];
    sample& s = by_point[i];
    if (!p.alarm) {
      out.push_back(std::move(s));
    } else if (s.status == proto::quantity_status::ok && s.value != 0.0) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "device alarm: register 0x%04X = %g", static_cast<unsigned>(p.spec.address), s.value);
      alarms.emplace_back(p.what, buf);
    }
  }
  for (auto& s : out) {
    for (const auto& [q, why] : alarms) {
      if (s.what == q && s.status == proto::quantity_status::ok) {
        s.status = proto::quantity_status::fault;
        s.reason = why;
      }
    }
  }
  return out;
}

}  // namespace sewage::agent
