#include "sewage/agent/point.hpp"

#include <sewage/proto/resolution.hpp>

#include <bit>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace sewage::agent {

std::optional<register_kind> parse_register_kind(std::string_view s) noexcept {
  if (s == "holding") return register_kind::holding;
  if (s == "input") return register_kind::input;
  if (s == "coil") return register_kind::coil;
  if (s == "discrete_input") return register_kind::discrete_input;
  return std::nullopt;
}

std::optional<data_type> parse_data_type(std::string_view s) noexcept {
  if (s == "u16") return data_type::u16;
  if (s == "i16") return data_type::i16;
  if (s == "u32") return data_type::u32;
  if (s == "i32") return data_type::i32;
  if (s == "f32") return data_type::f32;
  return std::nullopt;
}

std::optional<word_order> parse_word_order(std::string_view s) noexcept {
  if (s == "ABCD") return word_order::abcd;
  if (s == "CDAB") return word_order::cdab;
  if (s == "BADC") return word_order::badc;
  if (s == "DCBA") return word_order::dcba;
  return std::nullopt;
}

std::size_t register_count(data_type t) noexcept {
  return (t == data_type::u16 || t == data_type::i16) ? 1 : 2;
}

namespace {
std::uint16_t swap_bytes(std::uint16_t r) noexcept {
  return static_cast<std::uint16_t>((r >> 8) | (r << 8));
}
}  // namespace

std::uint32_t raw_pattern(std::span<const std::uint16_t> regs, data_type type,
                          word_order order) noexcept {
  const bool byte_swap = order == word_order::badc || order == word_order::dcba;
  if (register_count(type) == 1) return byte_swap ? swap_bytes(regs[0]) : regs[0];
  std::uint16_t hi = regs[0];
  std::uint16_t lo = regs[1];
  if (order == word_order::cdab || order == word_order::dcba) std::swap(hi, lo);
  if (byte_swap) {
    hi = swap_bytes(hi);
    lo = swap_bytes(lo);
  }
  return (static_cast<std::uint32_t>(hi) << 16) | lo;
}

std::vector<std::uint16_t> encode_registers(double raw_value, data_type type, word_order order) {
  std::uint32_t pattern = 0;
  switch (type) {
    case data_type::u16: pattern = static_cast<std::uint16_t>(static_cast<std::int64_t>(raw_value)); break;
    case data_type::i16:
      pattern = static_cast<std::uint16_t>(static_cast<std::int16_t>(static_cast<std::int64_t>(raw_value)));
      break;
    case data_type::u32: pattern = static_cast<std::uint32_t>(static_cast<std::int64_t>(raw_value)); break;
    case data_type::i32:
      pattern = static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int64_t>(raw_value)));
      break;
    case data_type::f32: pattern = std::bit_cast<std::uint32_t>(static_cast<float>(raw_value)); break;
  }
  const bool byte_swap = order == word_order::badc || order == word_order::dcba;
  if (register_count(type) == 1) {
    const auto r = static_cast<std::uint16_t>(pattern);
    return {byte_swap ? swap_bytes(r) : r};
  }
  std::uint16_t hi = static_cast<std::uint16_t>(pattern >> 16);
  std::uint16_t lo = static_cast<std::uint16_t>(pattern & 0xFFFF);
  if (byte_swap) {
    hi = swap_bytes(hi);
    lo = swap_bytes(lo);
  }
  if (order == word_order::cdab || order == word_order::dcba) return {lo, hi};
  return {hi, lo};
}

decoded_point decode_point(const point_spec& spec, std::span<const std::uint16_t> regs) {
  decoded_point out;
  const bool is_bit = spec.kind == register_kind::coil || spec.kind == register_kind::discrete_input;
  const std::size_t need = is_bit ? 1 : register_count(spec.type);
  if (regs.size() < need) {
    out.status = proto::quantity_status::fault;
    out.reason = "expected " + std::to_string(need) + " registers, got " + std::to_string(regs.size());
    return out;
  }
  double raw = 0;
  if (!is_bit && spec.bit) {
    // A digital signal in a status word: 0 or 1, no sentinels, scale or range.
    const std::uint32_t word = raw_pattern(regs, data_type::u16, spec.order);
    raw = ((word >> *spec.bit) & 1U) != 0 ? 1.0 : 0.0;
    out.value = spec.invert ? 1.0 - raw : raw;
    return out;
  }
  if (is_bit) {
    raw = regs[0] != 0 ? 1.0 : 0.0;
    if (spec.invert) raw = 1.0 - raw;
  } else {
    const std::uint32_t pattern = raw_pattern(regs, spec.type, spec.order);
    for (const std::uint32_t s : spec.sentinels) {
      if (s == pattern) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "sentinel 0x%X", static_cast<unsigned>(pattern));
        out.status = proto::quantity_status::fault;
        out.reason = buf;
        return out;
      }
    }
    switch (spec.type) {
      case data_type::u16: raw = static_cast<double>(static_cast<std::uint16_t>(pattern)); break;
      case data_type::i16: raw = static_cast<double>(static_cast<std::int16_t>(pattern)); break;
      case data_type::u32: raw = static_cast<double>(pattern); break;
      case data_type::i32: raw = static_cast<double>(static_cast<std::int32_t>(pattern)); break;
      // A float32 carries ~7 significant digits: take the double nearest its shortest decimal form
      // (0.8f -> 0.8, not 0.800000011920929), see proto/resolution.hpp.
      case data_type::f32: raw = proto::widen_float32(std::bit_cast<float>(pattern)); break;
    }
  }
  if (!std::isfinite(raw)) {
    out.status = proto::quantity_status::fault;
    out.reason = "not a finite number";
    return out;
  }
  const double v = raw * spec.scale + spec.offset;
  if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
    std::ostringstream os;
    os << v << " outside [" << (spec.min ? *spec.min : -INFINITY) << ", "
       << (spec.max ? *spec.max : INFINITY) << "]";
    out.status = proto::quantity_status::out_of_range;
    out.reason = os.str();
    return out;
  }
  out.value = v;
  return out;
}

}  // namespace sewage::agent
