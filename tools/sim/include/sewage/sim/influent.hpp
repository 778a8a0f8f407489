#pragma once
/// \file
/// Influent signal for a simulated terminal, derived from the IWA BSM1 dry-weather influent
/// (tools/sim/data/bsm1_dryinfluent.csv, see its NOTICE), with rain and storm events modelled on
/// the BSM1 rain and storm files.

#include <filesystem>
#include <span>
#include <vector>

namespace sewage::sim {

/// Influent at one instant: flow and total suspended solids.
struct influent_sample {
  double q_m3d{0.0};     ///< influent flow rate, m3/d
  double tss_gm3{0.0};   ///< total suspended solids, g/m3 (= mg/L)
};

/// The BSM1 dry-weather table: 14 days at 15-minute steps, plant scale (mean ~18,449 m3/d).
class influent_profile {
 public:
  /// Loads the 22-column BSM1/BSM2 DRYINFLUENT csv (t, 13 ASM1 states, TSS, Q, ...).
  /// Throws std::runtime_error naming the file and line on a missing file, a short row, a value
  /// that is not a finite number, or times that do not increase.
  static influent_profile load_bsm1_csv(const std::filesystem::path& file);

  /// Influent at `t_days` (days since the start of the table), linearly interpolated and
  /// repeating with period() so that any simulated duration works. Thread-safe (const).
  [[nodiscard]] influent_sample at(double t_days) const;
  /// Mean flow of the table, m3/d.
  [[nodiscard]] double mean_q_m3d() const noexcept { return mean_q_m3d_; }
  /// Length of the table, days (14 for BSM1).
  [[nodiscard]] double period_days() const noexcept { return period_days_; }

 private:
  std::vector<double> t_days_;
  std::vector<influent_sample> samples_;
  double mean_q_m3d_{0.0};
  double period_days_{0.0};
};

/// Weather that modifies the dry-weather influent.
enum class weather_kind { dry, rain, storm };

/// Multiplies flow and TSS for a weather event `days_since_start` days after it began. Shapes are
/// modelled on BSM1 (figures computed from Inf_rain_2006.txt and Inf_strm_2006.txt):
///  - rain: flow rises to 3.0x dry weather and back over 2.04 d (sin^2 bump); TSS is diluted in
///    proportion (down to 0.33x);
///  - storm: flow rises to 3.9x over 2.71 d; a first flush lifts TSS to 2.9x in the first 10 % of
///    the event, after which it is diluted (down to 0.26x).
/// Outside the event, and for `dry`, returns `dry` unchanged. Never throws.
influent_sample apply_weather(influent_sample dry, weather_kind kind, double days_since_start) noexcept;

/// One weather event of a scenario: `kind` beginning `start_days` days after the simulation start.
struct weather_event {
  weather_kind kind{weather_kind::dry};
  double start_days{0.0};
};

/// Several weather events at `t_days` (days since the simulation start). Overlapping events
/// combine: the flow multiplier is the largest of the events' (the wetter one wins, they do not
/// add up); TSS is the largest first-flush multiplier when an event is in its first flush, else
/// diluted by the combined flow (1 / flow multiplier). No event in force: `dry` unchanged. Never
/// throws.
influent_sample apply_weather(influent_sample dry, std::span<const weather_event> events, double t_days) noexcept;

}  // namespace sewage::sim
