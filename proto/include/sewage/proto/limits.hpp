#pragma once
/// \file
/// Bounds of the v1 wire contract. Each constant states where it comes from.

#include <cstddef>
#include <cstdint>

namespace sewage::proto::limits {

/// Largest JSON payload accepted on any JSON topic, bytes. A telemetry record is ~400 bytes; 64 KiB
/// leaves room for command results (get_config) and stays far below mosquitto's max_packet_size.
inline constexpr std::size_t max_payload_bytes = 64 * 1024;

/// Deepest nesting accepted; the top-level object is level 1. Our messages use at most 3.
inline constexpr int max_nesting_depth = 16;

/// Largest JPEG accepted on the image topic, bytes. A 1280x720 JPEG at quality 75 is ~150 KiB; the
/// limit keeps a retained image well under the broker's packet limit in our shipped configs (1 MiB).
inline constexpr std::size_t max_image_bytes = 512 * 1024;

/// Terminal id length bound (DESIGN.md: `[A-Za-z0-9_-]{1,32}`).
inline constexpr std::size_t max_terminal_id_length = 32;

/// Queue epoch id length bound: the agent writes 16 lower-case hex digits (64 random bits).
inline constexpr std::size_t max_epoch_length = 64;

/// Command id length bound.
inline constexpr std::size_t max_command_id_length = 64;

/// Free-text bounds (reasons, messages, notes), bytes of UTF-8.
inline constexpr std::size_t max_reason_length = 256;
inline constexpr std::size_t max_text_length = 1024;

/// Report interval bounds, seconds: at least one poll, at most one operating day.
inline constexpr std::uint32_t min_interval_s = 1;
inline constexpr std::uint32_t max_interval_s = 86'400;

/// Effluent flow rate bound, m3/h. Rural terminals treat 2-500 m3/d with outlet pipes up to DN200;
/// an electromagnetic flowmeter's range ends at a velocity of 10 m/s (e.g. MFE600H manual), which in
/// DN200 is pi*0.1^2*10*3600 = 1131 m3/h. Anything above 1200 m3/h cannot be a measurement here.
inline constexpr double max_flow_m3h = 1200.0;

/// Totalizer bound, m3. Converters keep the integer part in a 32-bit register (MFE600H: "Long
/// Inverse" at 0x1018), so a reading cannot exceed 2^32 m3.
inline constexpr double max_total_m3 = 4294967296.0;

/// Turbidity bound, NTU. Nephelometric probes after ISO 7027 (e.g. YosemiTech Y511) measure up to
/// 1000 or 4000 NTU full scale; a larger value is not a measurement.
inline constexpr double max_turbidity_ntu = 4000.0;

/// Sludge level bound, m above the tank floor. Terminal septic and settling tanks are under 5 m deep;
/// 10 m leaves room for deep wells without admitting nonsense.
inline constexpr double max_sludge_level_m = 10.0;

/// Energy meter reading bound, kWh. DIN-rail meters show 8 digits with 2 decimals (999999.99 kWh,
/// e.g. Chint DTSU666/DDSU666 display) and keep the total as a float32 or a 32-bit counter of
/// 0.01 kWh (42949672.96 kWh); 1e8 kWh covers both with room, and no terminal reaches it.
inline constexpr double max_energy_kwh = 100'000'000.0;

/// Active power bound, kW. A rural terminal draws 0.3-1.5 kW (blower and pumps); a 3-phase meter on
/// the largest (500 m3/d) terminal's supply (a 32 A breaker at 400 V, ~22 kW) cannot read more
/// than 100 kW from it.
inline constexpr double max_power_kw = 100.0;

/// Pump motor current bound, A. Terminal pumps are 0.37-5.5 kW (up to ~12 A at 400 V, ~25 A
/// single-phase); 100 A is far beyond any of them and below a CT's usual full scale.
inline constexpr double max_current_a = 100.0;

/// Wet-well level bound, m above the wet-well floor. Rural sewage pump stations have wet wells of
/// 2-8 m (prefabricated GRP stations are 2-6 m deep, e.g. Grundfos PUSTEC/Xylem TOP 2.5-6 m); a
/// submersible level transmitter's usual ranges end at 10 or 20 m. 20 m admits every real one.
inline constexpr double max_wet_well_level_m = 20.0;

/// Pumps per station: duty/standby pairs up to duty/assist/standby sets; 8 covers any rural station.
inline constexpr std::size_t max_pumps = 8;

/// Pump id length bound (`[A-Za-z0-9_-]{1,16}`, e.g. "P1").
inline constexpr std::size_t max_pump_id_length = 16;

/// Pump motor current bound for pump stations, A. Station pumps are 1.5-30 kW (up to ~60 A at
/// 400 V); 1000 A is far beyond any of them and within a current transformer's full scale.
inline constexpr double max_station_current_a = 1000.0;

/// Pump starts per interval bound: a pump cannot start more than once a second; with the longest
/// interval (max_interval_s) that is far below this.
inline constexpr std::uint64_t max_pump_starts = 10'000;

}  // namespace sewage::proto::limits
