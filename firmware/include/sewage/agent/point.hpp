#pragma once
/// \file
/// Decoding one Modbus point (a value spread over 1 or 2 registers, or a bit) into a number with a
/// status. Pure functions, no I/O; the vectors in ../shared/data/modbus_maps.md are the tests.
#include "sewage/proto/telemetry.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::agent {

/// Modbus table a point lives in (function code 3, 4, 1, 2).
enum class register_kind { holding, input, coil, discrete_input };

/// Register content type.
enum class data_type { u16, i16, u32, i32, f32 };

/// Byte order of a value on the wire, named by the bytes A B C D of the big-endian value as they
/// arrive: ABCD big-endian, CDAB word swap ("float inverse"), BADC byte swap, DCBA little-endian.
/// For 16-bit types only the byte order within a register matters (BADC/DCBA swap the bytes).
enum class word_order { abcd, cdab, badc, dcba };

/// Parsers for the config spelling ("holding", "u32", "CDAB"); std::nullopt when unknown.
std::optional<register_kind> parse_register_kind(std::string_view s) noexcept;
std::optional<data_type> parse_data_type(std::string_view s) noexcept;
std::optional<word_order> parse_word_order(std::string_view s) noexcept;

/// Number of 16-bit registers a type occupies (1 or 2). Never throws.
std::size_t register_count(data_type t) noexcept;

/// How to turn registers into an engineering value: value = raw * scale + offset.
struct point_spec {
  register_kind kind{register_kind::holding};
  std::uint16_t address{0};  ///< 0-based PDU address as sent in the frame
  data_type type{data_type::u16};
  word_order order{word_order::abcd};
  double scale{1.0};
  double offset{0.0};
  std::optional<double> min;  ///< valid range of the engineering value, inclusive
  std::optional<double> max;
  /// Raw patterns meaning "no value" (compared with the raw 16- or 32-bit pattern after byte
  /// order is applied, e.g. 0xFFFF, 0x7FFF, 0x8000, 0x7FC00000 for a quiet NaN).
  std::vector<std::uint32_t> sentinels;
  /// A digital signal packed in a holding/input register (status word): bit 0..15 of the u16
  /// register (after byte order); the value is 0 or 1 and sentinels/scale/offset do not apply.
  std::optional<std::uint8_t> bit;
  /// Digital points (coil, discrete input, or `bit`): 1 means the signal is OFF (e.g. a "mains
  /// failure" alarm input or a normally-closed trip contact); the value is inverted after reading.
  bool invert{false};
};

/// A decoded value: `status` ok with `value` set, or a failure status with `reason`.
struct decoded_point {
  proto::quantity_status status{proto::quantity_status::ok};
  double value{0.0};    ///< engineering value; meaningful only when status is ok
  std::string reason;   ///< e.g. "sentinel 0xFFFF", "12.5 above max 10"
};

/// The raw 32-bit pattern of registers `regs[0..1]` in `order` (big-endian ABCD result), or of
/// `regs[0]` for 16-bit types (bytes swapped for BADC/DCBA). Precondition:
/// regs.size() >= register_count(type). Never throws.
std::uint32_t raw_pattern(std::span<const std::uint16_t> regs, data_type type,
                          word_order order) noexcept;

/// Decodes `regs` (as returned by libmodbus: host-order 16-bit registers in wire order) per `spec`.
/// Sentinels → fault; NaN/inf → fault; outside [min, max] → out_of_range. A wrong register count
/// → fault. For coils and discrete inputs pass one register holding 0 or 1; a point with `bit`
/// gives bit `bit` of the u16 register (0 or 1); digital values are inverted when `invert`. Never
/// throws except
/// bad_alloc. Thread-safe.
decoded_point decode_point(const point_spec& spec, std::span<const std::uint16_t> regs);

/// Inverse of the raw decoding for tests and the emulator: the registers that carry `value` (raw,
/// before scale/offset) as `type` in `order`. Integer types are converted with truncation toward
/// zero. Never throws.
std::vector<std::uint16_t> encode_registers(double raw_value, data_type type, word_order order);

}  // namespace sewage::agent
