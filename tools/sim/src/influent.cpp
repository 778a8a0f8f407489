#include "sewage/sim/influent.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sewage::sim {
namespace {

constexpr std::size_t bsm1_columns = 22;
constexpr std::size_t col_t = 0;
constexpr std::size_t col_tss = 14;
constexpr std::size_t col_q = 15;

}  // namespace

influent_profile influent_profile::load_bsm1_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot open");
  influent_profile p;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<double> cols;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      std::size_t used = 0;
      double v = 0.0;
      try {
        v = std::stod(cell, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != cell.size() || !std::isfinite(v)) {
        throw std::runtime_error(file.string() + ":" + std::to_string(line_no) + ": column " +
                                 std::to_string(cols.size() + 1) + " is not a finite number");
      }
      cols.push_back(v);
    }
    if (cols.size() < bsm1_columns) {
      throw std::runtime_error(file.string() + ":" + std::to_string(line_no) + ": expected " +
                               std::to_string(bsm1_columns) + " columns, got " +
                               std::to_string(cols.size()));
    }
    if (!p.t_days_.empty() && cols[col_t] <= p.t_days_.back()) {
      throw std::runtime_error(file.string() + ":" + std::to_string(line_no) +
                               ": time does not increase");
    }
    if (cols[col_q] < 0 || cols[col_tss] < 0) {
      throw std::runtime_error(file.string() + ":" + std::to_string(line_no) +
                               ": negative flow or TSS");
    }
    p.t_days_.push_back(cols[col_t]);
    p.samples_.push_back({cols[col_q], cols[col_tss]});
  }
  if (p.samples_.size() < 2) throw std::runtime_error(file.string() + ": fewer than two rows");
  // The table is periodic: one step after the last row comes the first row again.
  const double step = p.t_days_[1] - p.t_days_[0];
  p.period_days_ = p.t_days_.back() - p.t_days_.front() + step;
  double sum = 0.0;
  for (const auto& s : p.samples_) sum += s.q_m3d;
  p.mean_q_m3d_ = sum / static_cast<double>(p.samples_.size());
  return p;
}

influent_sample influent_profile::at(double t_days) const {
  double t = std::fmod(t_days - t_days_.front(), period_days_);
  if (t < 0) t += period_days_;
  t += t_days_.front();
  const auto it = std::upper_bound(t_days_.begin(), t_days_.end(), t);
  const std::size_t hi = static_cast<std::size_t>(it - t_days_.begin());
  const std::size_t lo = hi == 0 ? samples_.size() - 1 : hi - 1;
  const std::size_t next = hi == samples_.size() ? 0 : hi;
  const double t_lo = t_days_[lo];
  const double t_next = next == 0 ? t_days_.front() + period_days_ : t_days_[next];
  const double w = t_next > t_lo ? (t - t_lo) / (t_next - t_lo) : 0.0;
  const auto& a = samples_[lo];
  const auto& b = samples_[next];
  return {a.q_m3d + w * (b.q_m3d - a.q_m3d), a.tss_gm3 + w * (b.tss_gm3 - a.tss_gm3)};
}

influent_sample apply_weather(influent_sample dry, weather_kind kind, double days) noexcept {
  if (kind == weather_kind::dry || days < 0) return dry;
  const bool storm = kind == weather_kind::storm;
  const double duration_d = storm ? 2.71 : 2.04;
  const double peak = storm ? 3.9 : 3.0;
  if (days > duration_d) return dry;
  const double s = std::sin(std::numbers::pi * days / duration_d);
  const double flow_mult = 1.0 + (peak - 1.0) * s * s;
  double tss_mult = 1.0 / flow_mult;  // dilution by the extra (clean) storm water
  if (storm && days < 0.1 * duration_d) {
    // First flush: settled sewer solids washed out at the start of the storm.
    const double f = std::sin(std::numbers::pi * days / (0.1 * duration_d));
    tss_mult = std::max(tss_mult, 1.0 + 1.9 * f);
  }
  return {dry.q_m3d * flow_mult, dry.tss_gm3 * tss_mult};
}

influent_sample apply_weather(influent_sample dry, std::span<const weather_event> events, double t_days) noexcept {
  double flow_mult = 1.0;
  double flush_mult = 0.0;  // the largest first-flush TSS multiplier (> 1) of the events in force
  for (const auto& e : events) {
    const auto m = apply_weather(influent_sample{1.0, 1.0}, e.kind, t_days - e.start_days);
    flow_mult = std::max(flow_mult, m.q_m3d);
    if (m.tss_gm3 > 1.0) flush_mult = std::max(flush_mult, m.tss_gm3);
  }
  const double tss_mult = flush_mult > 0.0 ? flush_mult : 1.0 / flow_mult;
  return {dry.q_m3d * flow_mult, dry.tss_gm3 * tss_mult};
}

}  // namespace sewage::sim
