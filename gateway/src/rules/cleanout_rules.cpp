// cleanout_due_soon (issue 14 item 3): the notice that a tank's sludge will reach the clean-out
// level within cleanout_due_soon_days, from the forecast room's trend (forecast/cleanout.hpp).
#include "sewage/gateway/forecast/cleanout.hpp"
#include "sewage/gateway/operating_day.hpp"
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

class cleanout_due_soon final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::cleanout_due_soon; }
  bool applies_to(site_kind k) const noexcept override { return k == site_kind::terminal; }  // tanks
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto* f = o.cleanout;
    if (f == nullptr) return {};
    const auto notice_days = static_cast<std::int32_t>(t.limits.cleanout_due_soon_days);
    const bool due_soon = notice_days > 0 && f->status == cleanout_status::forecast && f->due_day &&
                          *f->due_day - f->today <= notice_days;
    // While the trend has reached the level, cleanout_required speaks: the notice neither starts nor ends.
    const bool reached = f->status == cleanout_status::reached;
    const auto act = debounce_step(s, o.record.ts, due_soon, !due_soon && !reached, 0);
    if (act == verdict::action::none) return {};
    const double level = f->level_m.value_or(0.0);
    if (act == verdict::action::raise) {
      std::string msg = fmt("Sludge %.2f m, rising %.1f mm/day: ", level, f->rise_m_per_day.value_or(0.0) * 1000.0) +
                        fmt("reaches the clean-out level %.2f m in %.0f days", f->cleanout_level_m,
                            static_cast<double>(*f->due_day - f->today)) +
                        " (around " + format_day(*f->due_day);
      if (f->due_early_day && f->due_late_day)
        msg += ", 90 % between " + format_day(*f->due_early_day) + " and " + format_day(*f->due_late_day);
      msg += "): book a suction tanker.";
      return make(act, o.record.ts, level, f->cleanout_level_m, std::move(msg));
    }
    return make(act, o.record.ts, level, f->cleanout_level_m,
                f->status == cleanout_status::forecast && f->due_day
                    ? "Clean-out no longer due within the notice period: forecast " + format_day(*f->due_day) + "."
                    : std::string("Clean-out no longer due soon (") + std::string(to_string(f->status)) + ").");
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_cleanout_due_soon_rule() { return std::make_unique<cleanout_due_soon>(); }

}  // namespace sewage::gateway
