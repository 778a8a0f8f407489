#include "sewage/agent/modbus_driver.hpp"

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

modbus_point parse_point(const toml::table& t, const std::string& key) {
  detail::reject_unknown(t,
                         {"quantity", "function", "address", "type", "word_order", "scale", "offset",
                          "unit", "min", "max", "sentinels", "alarm"},
                         key);
  modbus_point p;
  const std::string q = get_string(t, "quantity", key, std::nullopt);
  const auto qq = parse_quantity(q);
  if (!qq) {
    throw config_error(key + ".quantity", "unknown quantity '" + q +
                                              "' (flow_rate, flow_total, flow_total_int, "
                                              "flow_total_frac, turbidity, sludge_level, cleanout_switch)");
  }
  p.what = *qq;
  const std::string fn = get_string(t, "function", key, "holding");
  const auto k = parse_register_kind(fn);
  if (!k) throw config_error(key + ".function", "must be holding, input, coil or discrete_input, got '" + fn + "'");
  p.spec.kind = *k;
  p.spec.address = static_cast<std::uint16_t>(get_int(t, "address", key, std::nullopt, 0, 65535));
  const std::string ty = get_string(t, "type", key, "u16");
  const auto tt = parse_data_type(ty);
  if (!tt) throw config_error(key + ".type", "must be u16, i16, u32, i32 or f32, got '" + ty + "'");
  p.spec.type = *tt;
  const std::string wo = get_string(t, "word_order", key, "ABCD");
  const auto ww = parse_word_order(wo);
  if (!ww) throw config_error(key + ".word_order", "must be ABCD, CDAB, BADC or DCBA, got '" + wo + "'");
  p.spec.order = *ww;
  p.spec.scale = get_double(t, "scale", key, 1.0, -1e9, 1e9);
  if (p.spec.scale == 0.0) throw config_error(key + ".scale", "must not be 0");
  p.spec.offset = get_double(t, "offset", key, 0.0, -1e9, 1e9);
  p.unit = get_string(t, "unit", key, "");
  p.alarm = detail::get_bool(t, "alarm", key, false);
  if (t.get("min") != nullptr) p.spec.min = get_double(t, "min", key, std::nullopt, -1e12, 1e12);
  if (t.get("max") != nullptr) p.spec.max = get_double(t, "max", key, std::nullopt, -1e12, 1e12);
  if (p.spec.min && p.spec.max && *p.spec.min > *p.spec.max) throw config_error(key + ".min", "must be <= max");
  if (const toml::node* s = t.get("sentinels")) {
    const auto* arr = s->as_array();
    if (arr == nullptr) throw config_error(key + ".sentinels", "must be an array of integers");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* v = (*arr)[i].as_integer();
      const std::string sk = key + ".sentinels[" + std::to_string(i) + "]";
      if (v == nullptr || v->get() < 0 || v->get() > 0xFFFFFFFFLL) {
        throw config_error(sk, "must be an integer in [0, 0xFFFFFFFF]");
      }
      p.spec.sentinels.push_back(static_cast<std::uint32_t>(v->get()));
    }
  }
  return p;
}
}  // namespace

modbus_device_config parse_modbus_device(const device_config& device) {
  const toml::table& t = device.table;
  const std::string& key = device.key;
  detail::reject_unknown(t,
                         {"name", "driver", "transport", "host", "port", "unit_id", "serial_device",
                          "baud", "parity", "data_bits", "stop_bits", "slave_id",
                          "response_timeout_ms", "retries", "point"},
                         key);
  modbus_device_config c;
  c.name = device.name;
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

struct modbus_driver::context {
  modbus_t* ctx{nullptr};
  bool connected{false};
  ~context() {
    if (ctx != nullptr) {
      modbus_close(ctx);
      modbus_free(ctx);
    }
  }
};

modbus_driver::modbus_driver(modbus_device_config config)
    : config_(std::move(config)), ctx_(std::make_unique<context>()), groups_(plan_reads(config_.points)) {}

modbus_driver::~modbus_driver() = default;

std::unique_ptr<sensor_driver> modbus_driver::create(const device_config& device) {
  return std::make_unique<modbus_driver>(parse_modbus_device(device));
}

void modbus_driver::drop_connection() noexcept {
  if (ctx_->ctx != nullptr) {
    if (ctx_->connected) {
      modbus_flush(ctx_->ctx);
      modbus_close(ctx_->ctx);
    }
    modbus_free(ctx_->ctx);
    ctx_->ctx = nullptr;
  }
  ctx_->connected = false;
}

bool modbus_driver::ensure_connected(std::string& why) {
  if (ctx_->connected) return true;
  if (ctx_->ctx == nullptr) {
    ctx_->ctx = config_.rtu ? modbus_new_rtu(config_.serial_device.c_str(), config_.baud, config_.parity,
                                             config_.data_bits, config_.stop_bits)
                            : modbus_new_tcp(config_.host.c_str(), config_.port);
    if (ctx_->ctx == nullptr) {
      why = std::string("cannot create context: ") + modbus_strerror(errno);
      return false;
    }
    modbus_set_slave(ctx_->ctx, config_.unit_id);
    const int ms = config_.response_timeout_ms;
    modbus_set_response_timeout(ctx_->ctx, static_cast<std::uint32_t>(ms / 1000),
                                static_cast<std::uint32_t>((ms % 1000) * 1000));
  }
  if (modbus_connect(ctx_->ctx) != 0) {
    why = std::string("connect failed: ") + modbus_strerror(errno);
    modbus_free(ctx_->ctx);
    ctx_->ctx = nullptr;
    return false;
  }
  ctx_->connected = true;
  return true;
}

modbus_driver::block_result modbus_driver::read_block(register_kind kind, std::uint16_t address, int count,
                                                     std::uint16_t* regs) {
  block_result r;
  std::string why;
  for (int attempt = 0; attempt <= config_.retries; ++attempt) {
    if (!ensure_connected(why)) continue;
    std::uint8_t bit = 0;
    int rc = -1;
    switch (kind) {
      case register_kind::holding: rc = modbus_read_registers(ctx_->ctx, address, count, regs); break;
      case register_kind::input: rc = modbus_read_input_registers(ctx_->ctx, address, count, regs); break;
      case register_kind::coil: rc = modbus_read_bits(ctx_->ctx, address, 1, &bit); break;
      case register_kind::discrete_input: rc = modbus_read_input_bits(ctx_->ctx, address, 1, &bit); break;
    }
    if (rc == count) {
      if (kind == register_kind::coil || kind == register_kind::discrete_input) regs[0] = bit;
      r.status = proto::quantity_status::ok;
      return r;
    }
    const int err = errno;
    if (rc >= 0) {
      why = "short reply";
    } else if (err >= EMBXILFUN && err <= EMBXGTAR) {
      // An exception response: the device answered, so the link is in sync.
      r.status = proto::quantity_status::fault;
      r.reason = std::string("exception response: ") + modbus_strerror(err);
      return r;
    } else {
      why = modbus_strerror(err);
    }
    // Timeout or broken frame: a reply may still be on its way. Drop the connection so that it
    // can never be taken for the answer to a later request.
    drop_connection();
  }
  r.status = proto::quantity_status::stale;
  r.reason = "no answer: " + why;
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
  for (const auto& g : groups_) {
    block_result r;
    if (link_dead) {
      // The device did not answer the previous request: do not wait for each request again.
      r.status = proto::quantity_status::stale;
      r.reason = "device not answering";
    } else {
      std::fill(regs.begin(), regs.end(), 0);
      r = read_block(g.kind, g.address, g.count, regs.data());
      link_dead = r.status == proto::quantity_status::stale;
    }
    for (const std::size_t i : g.points) {
      const auto& p = config_.points[i];
      sample& s = by_point[i];
      s.what = p.what;
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
