// offline (arrival time), queue_overflow (event time), clock_skew (arrival vs event time).
#include "sewage/gateway/rules.hpp"
#include "rule_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace sewage::gateway {
namespace {

using detail::fmt;
using detail::make;

/// Offline on ARRIVAL time: a last will, or no live record for offline_after_intervals x the
/// report interval. Nothing is raised before presence.grace_until. Cleared by the next live record.
class offline final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::offline; }
  verdict observe(const observation& o, const terminal_info&, rule_state& s) const override {
    if (!s.active || !o.live) return {};
    s.active = false;
    s.pending = false;
    return make(verdict::action::clear, o.arrival, 0, 0, "Terminal reporting again.");
  }
  verdict tick(const presence_view& p, const terminal_info& t, rule_state& s) const override {
    if (s.active || p.now < p.grace_until) return {};
    const double silent_s = std::chrono::duration<double>(p.now - p.last_alive).count();
    const double limit_s = t.limits.offline_after_intervals * p.interval_s;
    if (!p.will && silent_s <= limit_s) return {};
    s.active = true;
    s.pending = false;
    return make(verdict::action::raise, p.now, silent_s, limit_s,
                p.will ? fmt("Terminal lost its connection (last will); no live record for %.0f s (limit %.0f s).", silent_s, limit_s)
                       : fmt("No live record for %.0f s (limit %.0f s).", silent_s, limit_s));
  }
};

/// queue_overflow on event time: raised when `dropped` increases within one agent run (the counter
/// restarts with the agent); cleared after queue_overflow_clear_s of event time without a new drop.
/// state.aux = last counter, state.since_ms = event time of the last increase.
class queue_overflow final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::queue_overflow; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto dropped = static_cast<double>(o.record.dropped);
    const std::int64_t ts = o.record.ts.time_since_epoch().count();
    if (dropped > s.aux) {
      const double lost = dropped - s.aux;
      s.aux = dropped;
      s.since_ms = ts;
      if (!s.active) {
        s.active = true;
        return make(verdict::action::raise, o.record.ts, lost, 0,
                    fmt("The agent's queue overflowed: %.0f records lost (%.0f since the agent started).", lost, dropped));
      }
      return {};
    }
    s.aux = dropped;  // equal, or lower after an agent restart
    if (s.active && ts - s.since_ms >= static_cast<std::int64_t>(t.limits.queue_overflow_clear_s) * 1000) {
      s.active = false;
      return make(verdict::action::clear, o.record.ts, 0, 0,
                  fmt("No records lost for %.0f s (%.0f lost since the agent started).", static_cast<double>(t.limits.queue_overflow_clear_s), dropped));
    }
    return {};
  }
};

/// clock_skew on ARRIVAL time: |stamp - arrival| above clock_skew_raise_s, in either direction.
/// Judged on a record stamped in the future, on a stamp outside the trust window (no backlog is
/// that old), and on a record stamped in the past only when it arrived live: within the live
/// window of its arrival, or as part of a steady stream whose offset is stable (a clock running
/// behind, engine.hpp); a backlog draining (offset shrinking record by record) is legitimately old
/// and not judged. A stamp in the past by no more than the broker path's measured delay
/// (observation::path_delay) counts as on time: a lagging path is not every terminal's clock.
/// The engine shows this rule every record, also those older than the rules'
/// event clock, so a clock stepped back still clears.
class clock_skew final : public alert_rule {
 public:
  proto::alert_type type() const noexcept override { return proto::alert_type::clock_skew; }
  verdict observe(const observation& o, const terminal_info& t, rule_state& s) const override {
    const auto stamp = o.untrusted_stamp.value_or(o.record.ts);
    double skew_s = std::chrono::duration<double>(stamp - o.arrival).count();
    if (skew_s < 0) skew_s = std::min(0.0, skew_s + std::chrono::duration<double>(o.path_delay).count());
    const double raise = t.limits.clock_skew_raise_s;
    const double clear = t.limits.clock_skew_clear_s;
    if (skew_s < 0 && !o.live && !o.untrusted_stamp) return {};
    const double mag = std::fabs(skew_s);
    const auto act = debounce_step(s, o.arrival, mag > raise, mag <= clear, 0);
    if (act == verdict::action::none) return {};
    return make(act, o.arrival, skew_s, raise,
                act == verdict::action::raise
                    ? fmt("The terminal's clock is off by %.0f s (limit %.0f s).", skew_s, raise)
                    : fmt("The terminal's clock agrees again (%.0f s, clear level %.0f s).", skew_s, clear));
  }
};

}  // namespace

std::unique_ptr<alert_rule> make_offline_rule() { return std::make_unique<offline>(); }
std::unique_ptr<alert_rule> make_queue_overflow_rule() { return std::make_unique<queue_overflow>(); }
std::unique_ptr<alert_rule> make_clock_skew_rule() { return std::make_unique<clock_skew>(); }

}  // namespace sewage::gateway
