#pragma once
/// \file
/// The resolution at which every measured or derived quantity is serialised, per unit, and the one
/// rounding helper that applies it. proto's encoders and decoders round every number of the wire
/// contract with it; the gateway's API rounds its derived values (daily volume sums, means, rates)
/// with it too. Table and reasons: proto/README.md, "Numbers and their resolution".
///
/// Why: a float32 register value widened to double prints as 0.800000011920929, and sums of
/// decimal fractions print as 0.42000000000000004. Rounding to the unit's resolution and then
/// printing the shortest round-trip form (nlohmann's output) gives "0.8" and "0.42", while every
/// digit an instrument can really deliver survives (a 123456789.123 m3 totalizer stays exact).

#include <string_view>

namespace sewage::proto {

/// Units of the quantities the wire contract and the API carry.
enum class unit {
  m3,        ///< volume, totalizer reading: 0.001 m3 (1 litre, the last digit of an EMF totalizer)
  m3_per_h,  ///< flow rate: 0.001 m3/h (1 L/h)
  ntu,       ///< turbidity: 0.01 NTU (display resolution of ISO 7027 probes, e.g. YosemiTech Y511)
  m,         ///< sludge level: 0.001 m (1 mm, ultrasonic level sensors)
  seconds,   ///< durations: 0.001 s (the time stamps' millisecond resolution)
  ratio,     ///< availability, compliance rate (0..1): 0.0001 (0.01 %)
  count,     ///< derived counts such as expected records: 0.01
  kwh,       ///< active energy, meter reading: 0.01 kWh (the last digit of DIN-rail meters, e.g. Chint DTSU666)
  kw,        ///< active power: 0.001 kW (1 W)
  ampere,    ///< motor current: 0.01 A (display resolution of DIN-rail meters)
  kwh_per_m3,  ///< specific energy per m3 treated: 0.001 kWh/m3
  hours,     ///< run time in hours (pump run hours per day): 0.01 h (36 s)
};

/// Decimal places kept for `u` (the table above). Never throws.
constexpr int decimals(unit u) noexcept {
  switch (u) {
    case unit::m3: return 3;
    case unit::m3_per_h: return 3;
    case unit::ntu: return 2;
    case unit::m: return 3;
    case unit::seconds: return 3;
    case unit::ratio: return 4;
    case unit::count: return 2;
    case unit::kwh: return 2;
    case unit::kw: return 3;
    case unit::ampere: return 2;
    case unit::kwh_per_m3: return 3;
    case unit::hours: return 2;
  }
  return 3;
}

/// The unit's symbol as the README and error messages write it ("m3/h"). Never throws.
std::string_view symbol(unit u) noexcept;

/// `v` rounded to `places` decimal places (0..9), returned as the double nearest that decimal
/// number, so that a shortest round-trip printer (nlohmann's dump) prints it as written: 0.42.
/// Rounds the exact binary value half to even (std::to_chars with fixed precision), so there is no
/// double rounding through a scaled product. Idempotent: round(round(v)) == round(v). Non-finite
/// values and magnitudes of 1e15 or more are returned unchanged; -0 becomes 0. Never throws.
double round_to_decimals(double v, int places) noexcept;

/// `v` at the resolution of `u`: round_to_decimals(v, decimals(u)). Never throws.
inline double round_to(double v, unit u) noexcept { return round_to_decimals(v, decimals(u)); }

/// A float32 value (e.g. decoded from two Modbus registers) as the double nearest its shortest
/// decimal representation: 0.8f becomes 0.8, not 0.800000011920929. The float's own precision is
/// kept (every float survives float -> double -> float unchanged). Non-finite values pass through.
/// Never throws.
double widen_float32(float f) noexcept;

}  // namespace sewage::proto
