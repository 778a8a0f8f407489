#include "sewage/gateway/engine.hpp"

#include "sewage/gateway/operating_day.hpp"

#include "ingest/receipt_book.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/command.hpp>
#include <sewage/proto/image.hpp>
#include <sewage/proto/status.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace sewage::gateway {
namespace {

std::int64_t ms(proto::timestamp t) { return t.time_since_epoch().count(); }
proto::timestamp from_ms(std::int64_t v) { return proto::timestamp(std::chrono::milliseconds(v)); }

std::size_t type_index(proto::alert_type t) { return static_cast<std::size_t>(t); }

std::string join_problems(const std::vector<proto::problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "; ";
    out += p.to_string();
  }
  return out;
}

}  // namespace

engine::engine(const config& cfg, registry reg, store& db, const clock_source& clock, publisher& pub, rule_set rules,
               alert_listener* listener)
    : cfg_(cfg),
      registry_(std::move(reg)),
      db_(db),
      clock_(clock),
      pub_(pub),
      rules_(std::move(rules)),
      listener_(listener),
      started_(clock.now()),
      receipts_(std::make_unique<ingest::receipt_book>()) {
  metrics_.missing_records = db_.missing_in_left_epochs();
  for (auto& snap : db_.load_terminals()) {
    metrics_.missing_records += snap.seen.missing();
    parked_.emplace(snap.terminal_id, std::move(snap));
  }
  for (auto& a : db_.alerts(true, std::nullopt, std::numeric_limits<std::int32_t>::max())) open_.emplace(a.alert_id, std::move(a));
  next_alert_id_ = db_.max_alert_id() + 1;
  for (auto& c : db_.commands(std::nullopt, command_state::pending, std::numeric_limits<std::int32_t>::max()))
    pending_cmds_.emplace(c.id, std::move(c));
  next_command_id_ = db_.max_command_id() + 1;
  for (const auto& h : db_.load_pump_run_hours()) pump_logs_[h.site_id].restore(h.hour_ms, h.run_s, h.covered_s);
  for (auto& n : db_.load_flow_normals()) flow_sites_[n.site_id].normal = std::move(n.normal);
  attach_states();
}

const pump_run_log* engine::pump_runtime_log(const std::string& site_id) const {
  const auto it = pump_logs_.find(site_id);
  return it == pump_logs_.end() ? nullptr : &it->second;
}

const flow_normal* engine::learned_normal(const std::string& site_id) const {
  const auto it = flow_sites_.find(site_id);
  if (it == flow_sites_.end() || it->second.normal.computed_day == flow_normal::never_computed) return nullptr;
  return &it->second.normal;
}

engine::running_high engine::terminals_running_high(double factor, proto::timestamp now) const {
  running_high out;
  const std::int64_t now_ms = ms(now);
  for (const auto& [id, site] : flow_sites_) {
    if (site.normal.computed_day == flow_normal::never_computed) continue;
    const auto idx = registry_.find(id);
    if (!idx) continue;
    const auto& info = registry_.terminals()[*idx];
    if (info.kind != site_kind::terminal) continue;
    const auto& lim = info.limits;
    const auto v = make_flow_normal_view(site.normal, site.window, now_ms, lim.low_flow_window_s, cfg_.zone);
    // As low_flow: a window 80 % covered (the mean of the covered part is compared with the
    // normal of the whole window; after a restart, a silence or a backlog it is not judged).
    if (!v.learned || v.normal_m3h < lim.low_flow_min_normal_m3h || v.window_covered_s < low_flow_min_covered * v.window_s) continue;
    ++out.judged;
    if (v.window_mean_m3h > factor * v.normal_m3h) out.high.push_back(id);
  }
  std::sort(out.high.begin(), out.high.end());
  return out;
}

const flow_normal_view* engine::observe_flow(const terminal_info& info, const proto::telemetry_record& rec,
                                             std::int64_t ts_ms, bool in_order, flow_normal_view& out) {
  if (info.kind != site_kind::terminal) return nullptr;
  const auto& f = rec.flow;
  if (!f || f->status != proto::quantity_status::ok || !f->rate_m3h) return nullptr;
  const auto& lim = info.limits;
  auto& site = flow_sites_[info.id];
  // Every accepted record's window goes into its hour (late ones too: de-duplication books each
  // window once) and into the recent window (which ignores what is older than it).
  const std::int64_t hour = pump_run_hour_of(ts_ms);
  auto& pending = flow_pending_[{info.id, hour}];
  pending.site_id = info.id;
  pending.hour_ms = hour;
  pending.volume_m3 += *f->rate_m3h * rec.interval_s / 3600.0;
  pending.covered_s += rec.interval_s;
  site.window.add(ts_ms, *f->rate_m3h, rec.interval_s, lim.low_flow_window_s);
  if (!in_order) return nullptr;
  const std::int32_t today = operating_day(from_ms(ts_ms - 1), cfg_.zone);
  if (today > site.normal.computed_day) {
    // An operating day ended for this site (or its first record): learn from the stored hours of
    // the history days plus what is not committed yet, and drop hours older than the history.
    const std::int64_t from = ms(operating_day_start(today - flow_normal_history_days, cfg_.zone));
    const std::int64_t to = ms(operating_day_start(today, cfg_.zone));
    std::vector<flow_hour> hours;
    try {
      hours = db_.flow_hours(info.id, from, to);
    } catch (const store_error& e) {
      spdlog::warn("terminal {}: flow history not readable ({}); its normal is learned from what is in memory", info.id, e.what());
    }
    for (auto it = flow_pending_.lower_bound({info.id, from}); it != flow_pending_.end() && it->first.first == info.id &&
                                                                it->first.second < to;
         ++it)
      hours.push_back(it->second);
    for (const auto& h : batch_.flow_hours)
      if (h.site_id == info.id && h.hour_ms >= from && h.hour_ms < to) hours.push_back(h);
    // The same hour may come from the store and from pending increments: sum them per hour.
    std::sort(hours.begin(), hours.end(), [](const flow_hour& a, const flow_hour& b) { return a.hour_ms < b.hour_ms; });
    std::vector<flow_hour> merged;
    for (auto& h : hours) {
      if (!merged.empty() && merged.back().hour_ms == h.hour_ms) {
        merged.back().volume_m3 += h.volume_m3;
        merged.back().covered_s += h.covered_s;
      } else {
        merged.push_back(std::move(h));
      }
    }
    // The events from a day before the history: the day after one that ended then is in it.
    const auto* wet = wet_days_for(today, ms(operating_day_start(today - flow_normal_history_days - 1, cfg_.zone)), to);
    if (wet == nullptr && site.normal.computed_day != flow_normal::never_computed) {
      site.normal.computed_day = today;  // not known which days were wet: the normal it has, until tomorrow
    } else {
      static const std::vector<std::int32_t> none;
      site.normal = learn_flow_normal(merged, today, cfg_.zone, info.design_capacity_m3d, lim.flow_prior_load,
                                      lim.flow_min_days, wet != nullptr ? *wet : none, &site.normal);
    }
    batch_.flow_normals.push_back({info.id, site.normal});
    batch_.flow_hour_cuts.emplace_back(info.id, ms(operating_day_start(today - flow_normal_history_days - 1, cfg_.zone)));
  }
  out = make_flow_normal_view(site.normal, site.window, ts_ms, lim.low_flow_window_s, cfg_.zone);
  return &out;
}

const std::vector<std::int32_t>* engine::wet_days_for(std::int32_t today, std::int64_t from_ms, std::int64_t to_ms) {
  if (!weather_spans_) return &wet_days_;  // (empty without a source)
  if (today == wet_today_) return wet_unknown_ ? nullptr : &wet_days_;
  wet_today_ = today;
  wet_days_.clear();
  wet_unknown_ = false;
  try {
    wet_days_ = wet_days_of(weather_spans_(from_ms, to_ms), cfg_.zone);
    if (!wet_days_.empty())
      spdlog::info("flow normals of operating day {}: {} day(s) of rain or the day after left out", today,
                   std::count_if(wet_days_.begin(), wet_days_.end(),
                                 [&](std::int32_t d) { return d >= today - flow_normal_history_days && d < today; }));
  } catch (const std::exception& e) {
    wet_unknown_ = true;
    spdlog::warn("flow normals of operating day {}: weather events not readable ({}); every site keeps its normal today", today,
                 e.what());
  }
  return wet_unknown_ ? nullptr : &wet_days_;
}

const cleanout_forecast* engine::observe_cleanout(const terminal_info& info, std::size_t idx, std::int64_t ts_ms) {
  if (info.kind != site_kind::terminal) return nullptr;
  const std::int32_t today = operating_day(from_ms(ts_ms - 1), cfg_.zone);
  auto [it, fresh] = cleanout_forecasts_.try_emplace(info.id);
  if (!fresh && it->second.today == today && it->second.cleanout_level_m == info.limits.cleanout_level_m)
    return &it->second;
  // A new operating day for this terminal (or its first record since start, or a new level): the
  // days before it, stored and not yet committed (increments of the same day are summed).
  std::vector<daily_row> rows;
  try {
    rows = db_.daily(info.id, today - cleanout_history_days, today - 1);
  } catch (const store_error& e) {
    spdlog::warn("terminal {}: daily history not readable ({}); its clean-out forecast uses what is in memory", info.id,
                 e.what());
  }
  for (const auto& r : batch_.daily)
    if (r.terminal_id == info.id && r.totals.day >= today - cleanout_history_days && r.totals.day < today) rows.push_back(r);
  const auto key = static_cast<std::uint32_t>(idx);
  for (auto p = pending_daily_.lower_bound({key, today - cleanout_history_days});
       p != pending_daily_.end() && p->first.first == key && p->first.second < today; ++p) {
    daily_row r{info.id, p->second};
    r.totals.day = p->first.second;
    rows.push_back(std::move(r));
  }
  it->second = forecast_cleanout(daily_sludge_levels(rows), today, info.limits.cleanout_level_m);
  return &it->second;
}

void engine::attach_states() {
  ++county_generation_;  // registry and registration times change: county_view
  // Moves every terminal's state into the slot of its registry index; others stay parked.
  for (auto& rt : states_) parked_[rt.snap.terminal_id] = std::move(rt.snap);
  states_.clear();
  states_.resize(registry_.size());
  for (std::size_t i = 0; i < registry_.size(); ++i) {
    const auto& id = registry_.terminals()[i].id;
    auto& rt = states_[i];
    if (auto it = parked_.find(id); it != parked_.end()) {
      rt.snap = std::move(it->second);
      parked_.erase(it);
    } else {
      rt.snap.terminal_id = id;
      // New to this gateway (first start with it, or added by SIGHUP): its registration time is
      // where its silence and its availability start.
      rt.snap.rules[type_index(proto::alert_type::offline)].since_ms = ms(clock_.now());
      mark_dirty(i);
    }
  }
  for (const auto& [id, a] : open_) {
    if (const auto idx = registry_.find(a.terminal_id)) states_[*idx].open_alert[type_index(a.type)] = id;
  }
  load_committed_day();
}

void engine::load_committed_day() {
  committed_day_.assign(registry_.size(), day_totals{});
  add_committed_days(db_.daily(std::nullopt, operating_day(clock_.now(), cfg_.zone), operating_day(clock_.now(), cfg_.zone)));
}

void engine::add_committed_days(const std::vector<daily_row>& rows) {
  for (const auto& row : rows) {
    const auto idx = registry_.find(row.terminal_id);
    if (!idx || *idx >= committed_day_.size()) continue;
    auto& c = committed_day_[*idx];
    if (row.totals.day < c.day) continue;  // a late record of an earlier day: not the one kept
    if (row.totals.day > c.day) c = day_totals{row.totals.day};
    c.volume_m3 += row.totals.volume_m3;
    c.volume_estimated_m3 += row.totals.volume_estimated_m3;
    c.compliant_s += row.totals.compliant_s;
    c.turbidity_ok_s += row.totals.turbidity_ok_s;
  }
}

const day_totals* engine::committed_today(std::size_t index, std::int32_t day) const {
  if (index >= committed_day_.size() || committed_day_[index].day != day) return nullptr;
  return &committed_day_[index];
}

void engine::reload_registry(registry reg) {
  flush();
  registry_ = std::move(reg);
  attach_states();
  spdlog::info("registry reloaded: {} terminals", registry_.size());
}

double engine::report_interval_s(std::size_t index) const {
  const auto& st = states_.at(index).snap.status;
  if (st && st->report_interval_s) return *st->report_interval_s;
  return registry_.terminals().at(index).report_interval_s;
}

engine::presence engine::presence_of(std::size_t index) const {
  const auto& rt = states_.at(index);
  if (rt.open_alert[type_index(proto::alert_type::offline)] != 0) return presence::offline;
  if (rt.snap.last_alive_ms == 0) return presence::unknown;
  const double limit_s = registry_.terminals().at(index).limits.offline_after_intervals * report_interval_s(index);
  const double silent_s = std::chrono::duration<double>(clock_.now() - from_ms(rt.snap.last_alive_ms)).count();
  return silent_s <= limit_s ? presence::online : presence::unknown;
}

const char* engine::to_string(presence p) noexcept {
  switch (p) {
    case presence::online: return "online";
    case presence::offline: return "offline";
    case presence::unknown: break;
  }
  return "unknown";
}

bool engine::online(std::size_t index) const { return presence_of(index) == presence::online; }

proto::timestamp engine::registered_at(std::size_t index) const {
  return from_ms(states_.at(index).snap.rules[type_index(proto::alert_type::offline)].since_ms);
}

engine::~engine() = default;

void engine::link_down() {
  if (link_up_ || draining_)
    spdlog::info("broker link down: offline judgement suspended until the link is back and its backlog drained");
  link_up_ = false;
  draining_ = false;
  path_probed_ = false;  // a new connection proves itself with its own probes
  path_delay_ms_ = 0;
  presence_floor_ = clock_.now();
}

void engine::link_up() {
  link_up_ = true;
  draining_ = true;
  presence_floor_ = clock_.now();
}

void engine::backlog_drained() {
  if (!link_up_ || !draining_) return;
  draining_ = false;
  presence_floor_ = clock_.now();
  // Every agent lost its connection too (a broker restart) and comes back on its own backoff
  // (reconnect_max_s, 60 s by default): the same grace as at the gateway's start.
  regrace_until_ = presence_floor_ + cfg_.startup_grace;
  spdlog::info("broker link back and its backlog drained: offline judged again, each terminal counted from now, "
               "none raised for {} s",
               cfg_.startup_grace.count());
}

void engine::broker_path_proven(proto::timestamp sent_at, std::chrono::nanoseconds round_trip) {
  if (!path_probed_ && link_up_)
    spdlog::info("broker path proven by the gateway's loopback probe: offline judged up to the last probe that came back");
  path_probed_ = true;
  path_proven_at_ = std::max(path_proven_at_, sent_at);
  path_delay_ms_ = std::max<std::int64_t>(0, ms(clock_.now()) - ms(sent_at));
  if (round_trip > probe_stall) {
    presence_floor_ = std::max(presence_floor_, clock_.now());
    stall_seen_ = std::chrono::steady_clock::now();
    // Wills that came during the stall are not confirmed yet (no later probe came back): the
    // broker published them because it, not the terminals, was not listening.
    std::size_t dropped_wills = 0;
    for (std::size_t i = 0; i < states_.size(); ++i) {
      auto& rt = states_[i];
      if (!rt.snap.will || rt.will_at < sent_at) continue;
      rt.snap.will = false;
      rt.reconnect_until = stall_seen_ + reconnect_after_stall;
      mark_dirty(i);
      ++dropped_wills;
    }
    if (dropped_wills > 0)
      spdlog::warn("{} last will(s) published during the broker's stall are not acted on: silence judges those "
                   "terminals",
                   dropped_wills);
    if (!path_stalled_)
      spdlog::warn("broker path stalled: a probe took {:.1f} s through the broker; offline judgement waited, and "
                   "each terminal's silence is counted from now",
                   std::chrono::duration<double>(round_trip).count());
    path_stalled_ = true;
  } else {
    path_stalled_ = false;
  }
}

void engine::broker_path_unproven() {
  if (path_probed_)
    spdlog::error("the gateway's loopback probes stopped coming back while the broker link stays up (does the broker "
                  "ACL grant the gateway write on the probe topic? re-run sewage-provision): offline judged on link "
                  "events alone, a stalled broker will be taken for silent terminals");
  path_probed_ = false;
}

void engine::own_stall(std::chrono::nanoseconds gap) {
  presence_floor_ = std::max(presence_floor_, clock_.now());
  spdlog::warn("the gateway did not run for {:.1f} s (paused, or the machine overloaded): each terminal's silence is "
               "counted from now",
               std::chrono::duration<double>(gap).count());
}

void engine::mark_dirty(std::size_t idx) {
  auto& rt = states_[idx];
  if (!rt.dirty) {
    rt.dirty = true;
    dirty_.push_back(static_cast<std::uint32_t>(idx));
  }
}

void engine::reject(const inbound_message& msg, const std::vector<proto::problem>& problems) {
  const proto::problem_code code = problems.empty() ? proto::problem_code::syntax : problems.front().code;
  ++metrics_.rejects_by_code.at(static_cast<std::size_t>(code));
  const std::string reason = join_problems(problems);
  spdlog::warn("rejected message on topic '{}': {}", msg.topic, reason);
  dead_letter_row row;
  row.arrival = msg.arrival;
  row.topic = msg.topic.substr(0, 512);
  row.code = std::string(proto::to_string(code));
  row.reason = reason.substr(0, 2048);
  row.payload = msg.payload.substr(0, 4096);
  batch_.dead_letters.push_back(std::move(row));
}

void engine::handle(const inbound_message& msg) {
  ++metrics_.messages_in;
  auto topic = proto::parse_topic(msg.topic);
  if (!topic.ok()) {
    reject(msg, topic.problems);
    return;
  }
  const auto& t = *topic.value;
  if (t.kind == proto::topic_kind::alert) {
    // Our own alert topics, received retained at subscribe time: a retained state without an open
    // episode is stale (its clear was lost, e.g. the gateway died while disconnected): remove it.
    // If another episode of that terminal and type is open, its state is published instead (a
    // plain delete could overtake our own re-publication of the open episode).
    if (!msg.retained || msg.payload.empty()) return;
    const auto d = proto::decode_alert(msg.payload, t.terminal_id, t.alert);
    const proto::alert_message* current = nullptr;
    for (const auto& [id, a] : open_)
      if (a.terminal_id == t.terminal_id && a.type == t.alert) current = &a;
    if (current != nullptr && d.ok() && d.value->alert_id == current->alert_id) return;
    spdlog::info("replacing stale retained alert state on '{}'", msg.topic);
    pub_.publish(msg.topic, current != nullptr ? proto::encode(*current) : std::string(), true);
    return;
  }
  if (t.kind == proto::topic_kind::gateway_status || t.kind == proto::topic_kind::command)
    return;  // our own output; not subscribed, ignored if it ever arrives
  const auto idx = registry_.find(t.terminal_id);
  if (!idx) {
    ++metrics_.unknown_terminal_messages;
    auto it = unknown_.find(t.terminal_id);
    if (it == unknown_.end() && unknown_.size() < max_unknown_terminals) {
      it = unknown_.emplace(t.terminal_id, unknown_terminal{}).first;
      spdlog::warn("message from terminal '{}' which is not in the registry (topic '{}')", t.terminal_id, msg.topic);
    }
    if (it != unknown_.end()) {
      ++it->second.messages;
      it->second.last_seen = msg.arrival;
    }
    return;
  }
  switch (t.kind) {
    case proto::topic_kind::telemetry: {
      auto d = proto::decode_telemetry(msg.payload, t.terminal_id);
      if (!d.ok()) return reject(msg, d.problems);
      on_telemetry(*idx, msg, std::move(*d.value));
      return;
    }
    case proto::topic_kind::status: {
      auto d = proto::decode_status(msg.payload, t.terminal_id);
      if (!d.ok()) return reject(msg, d.problems);
      on_status(*idx, msg, std::move(*d.value));
      return;
    }
    case proto::topic_kind::image: {
      std::string why;
      if (!proto::is_acceptable_jpeg(msg.payload, &why))
        return reject(msg, {proto::problem{"", proto::problem_code::bad_image, why}});
      ++metrics_.images;
      batch_.images.push_back({t.terminal_id, msg.payload, msg.arrival});
      return;
    }
    case proto::topic_kind::command_result: {
      auto d = proto::decode_command_result(msg.payload);
      if (!d.ok()) return reject(msg, d.problems);
      ++metrics_.command_results;
      spdlog::info("command result from {}: id={} ok={} {}", t.terminal_id, d.value->id, d.value->ok,
                   d.value->error.value_or(""));
      on_command_result(t.terminal_id, msg, std::move(*d.value));
      return;
    }
    default:
      return;
  }
}

void engine::on_telemetry(std::size_t idx, const inbound_message& msg, proto::telemetry_record rec) {
  auto& rt = states_[idx];
  auto& s = rt.snap;
  const auto& info = registry_.terminals()[idx];
  const auto& lim = info.limits;
  if (rec.epoch != s.epoch) {
    // A new (or earlier) queue epoch: persist the current seq set first, then load the other one.
    if (!s.epoch.empty()) {
      batch_.retired_sets.push_back({s.terminal_id, s.epoch, s.seen});
      mark_dirty(idx);
      flush();
    }
    // A terminal without an epoch has never had a record stored, so it has no stored sets
    // either (both are written in the same batch): skip the query on first contact.
    auto known = s.epoch.empty() ? std::nullopt : db_.load_dedup(s.terminal_id, rec.epoch);
    if (!s.epoch.empty())
      spdlog::info("terminal {} changed queue epoch {} -> {}{}", s.terminal_id, s.epoch, rec.epoch,
                   known ? " (seen before)" : "");
    s.epoch = rec.epoch;
    s.seen = known ? std::move(*known) : seq_set{};
    s.max_seq_ts_ms = 0;  // not kept per left epoch: the next hole of this epoch has one anchor only
    s.prev_alive = false;  // a new queue (an agent's fresh start) continues no stream
    mark_dirty(idx);
  }
  const std::uint64_t max_before = s.seen.max_seq();
  receipts_->note(s.terminal_id, rec.epoch, rec.seq);  // stored or a duplicate: durable after the commit
  if (!accept_seq(idx, rec.seq)) return;
  ++metrics_.records_accepted;
  mark_dirty(idx);

  const std::int64_t arrival_ms = ms(msg.arrival);
  const proto::timestamp stamp = rec.ts;
  const std::int64_t offset_ms = arrival_ms - ms(stamp);  // > 0: stamped in the past
  const double interval = report_interval_s(idx);
  const std::int64_t live_window_ms = static_cast<std::int64_t>(lim.offline_after_intervals * interval * 1000.0);
  // A steady stream: this record arrived apart from the previous one (not in a burst: at least
  // half a report interval, or 1 s, whichever is less, so an agent reporting faster than the
  // interval we expect still counts) and the offset arrival - stamp moved by at most half an
  // interval. A clock running behind (or stuck in 1970) gives that; a backlog draining does not
  // (records arrive in a burst while their stamps advance an interval each: the offset shrinks by
  // ~1 interval per record).
  const std::int64_t tol_ms = static_cast<std::int64_t>(interval * 500.0);
  const std::int64_t apart_ms = std::min<std::int64_t>(tol_ms, 1000);
  bool steady_step = false;
  if (s.prev_arrival_ms != 0) {
    const std::int64_t d_arrival = arrival_ms - s.prev_arrival_ms;
    const std::int64_t d_offset = offset_ms - s.prev_offset_ms;
    steady_step = d_arrival >= apart_ms && d_offset <= tol_ms && d_offset >= -tol_ms;
  }
  s.steady_run = steady_step ? s.steady_run + 1 : 0;
  // The next record of a stream that proved the terminal alive, arriving within the live window
  // of its predecessor, proves it alive again whatever its stamp says: it was published after the
  // previous one and has arrived now. A clock stepped back beyond the live window otherwise cost
  // the three records a steady stream needs (3 intervals: the offline limit) and raised a false
  // offline (chaos_short in CI, 2026-12-04). A backlog never continues: its first record arrives
  // more than the live window after the last live one, and each later one follows a record that
  // proved nothing.
  const bool continues_alive = s.prev_alive && rec.seq == s.prev_seq + 1 &&
                               arrival_ms >= s.prev_arrival_ms && arrival_ms - s.prev_arrival_ms <= live_window_ms;
  s.prev_arrival_ms = arrival_ms;
  s.prev_offset_ms = offset_ms;
  s.prev_seq = rec.seq;
  // Trust in the stamp (DESIGN.md "Trust in numbers", config.hpp clock_trust_*): outside the
  // window around arrival the stamp says nothing about event time; the arrival is used instead
  // for daily rows, rule clocks, "latest" and history. Inside the window, a record of a steady
  // stream (above) is live: it happened at its arrival, so a stamp off by more than
  // clock_skew_raise_s is the clock's error, not the record's age, and the arrival is used too
  // (a clock stepped back 900 s at 23:53 would otherwise book the first quarter hour after
  // midnight on the day before). `rec.ts` holds the EFFECTIVE time while the record is processed
  // and the stamp again when it is stored.
  const bool in_window = offset_ms <= std::int64_t{lim.clock_trust_behind_s} * 1000 &&
                         -offset_ms <= std::int64_t{lim.clock_trust_ahead_s} * 1000;
  // A stamp behind its arrival by no more than the broker path's current delay (the latest
  // probe) was delayed on the way: a path lagging steadily must not look like every clock off.
  const std::int64_t skew_ms = offset_ms > 0 ? std::max<std::int64_t>(0, offset_ms - path_delay_ms_) : offset_ms;
  const bool live_and_off = s.steady_run >= steady_records_for_live &&
                            std::abs(skew_ms) > std::int64_t{lim.clock_skew_raise_s} * 1000;
  const bool trusted = in_window && !live_and_off;
  if (!trusted) {
    ++metrics_.untrusted_stamps;
    rec.ts = msg.arrival;
  }
  if (trusted == s.stamp_untrusted)
    spdlog::warn("terminal {}: record time stamps {} (seq {} stamped {}, arrived {}){}", s.terminal_id,
                 trusted              ? "trusted again"
                 : in_window          ? "off by more than clock_skew_raise_s on live records"
                                      : "outside the trust window",
                 rec.seq, proto::format_timestamp(stamp), proto::format_timestamp(msg.arrival),
                 trusted ? "" : "; its arrival time is used instead");
  s.stamp_untrusted = !trusted;
  // State left by a stamp from the future before the trust window existed would freeze the rules'
  // event clock and the totalizer cursor: reset both (the cursor takes this record as a new baseline).
  const std::int64_t horizon_ms = arrival_ms + std::int64_t{lim.clock_trust_ahead_s} * 1000;
  if (s.rule_clock_ms > horizon_ms) s.rule_clock_ms = 0;
  if (s.cursor.valid && s.cursor.ts_ms > horizon_ms) s.cursor.valid = false;
  if (s.energy.valid && s.energy.ts_ms > horizon_ms) s.energy = energy_cursor{};

  // Live = arrived in real time, not from a backlog: stamped within the live window of its
  // arrival (or in the future: it arrived now), or part of a steady stream. The rules judge a
  // stamp on `live`; presence also counts the next record of an alive stream (above), which says
  // the terminal is there but not that its stamp is the time it was measured.
  const bool live = offset_ms <= live_window_ms || s.steady_run >= steady_records_for_live;
  s.prev_alive = live || continues_alive;
  if (s.prev_alive) {
    s.last_alive_ms = std::max(s.last_alive_ms, arrival_ms);
    s.will = false;
  }

  const std::int64_t ts = ms(rec.ts);  // effective time
  note_missing(idx, rec.seq, max_before, ts);

  volume_outcome vol;
  for (const auto& d : record_deltas(rec, s.cursor, {lim.turbidity_limit_ntu, info.design_capacity_m3d, cfg_.zone}, &vol))
    pending_daily_[{static_cast<std::uint32_t>(idx), d.day}].add(d);
  energy_source esrc = energy_source::none;
  for (const auto& d : energy_deltas(rec, s.energy, {lim.energy_peak_kw, cfg_.zone}, &esrc))
    pending_daily_[{static_cast<std::uint32_t>(idx), d.day}].add(d);
  if (esrc == energy_source::reset || esrc == energy_source::rebase || esrc == energy_source::resolved)
    spdlog::warn("terminal {}: kWh meter {} at seq {} ({}): the glitch is not counted as energy", s.terminal_id,
                 esrc == energy_source::resolved ? "glitch (a reading off the baseline) ended"
                 : esrc == energy_source::reset  ? "reset or rollover confirmed, new baseline"
                                                 : "jump confirmed (meter replaced or set), new baseline",
                 rec.seq, proto::format_timestamp(rec.ts));
  if (vol.source == volume_source::rate_fallback || vol.source == volume_source::reset || vol.source == volume_source::rebase)
    ++metrics_.volume_fallbacks;
  if (vol.glitch != totalizer_glitch::none) {
    ++metrics_.totalizer_glitches.at(static_cast<std::size_t>(vol.glitch));
    std::uint64_t suppressed = 0;
    if (glitch_log_.allow(msg.arrival, suppressed))
      spdlog::warn("terminal {}: totalizer {} ({} reading(s) from {} m3 against baseline {} m3) ended at seq {} ({}); "
                   "not counted as flow{}{}", s.terminal_id, gateway::to_string(vol.glitch), vol.glitch_readings,
                   vol.glitch_reading_m3, vol.baseline_m3, rec.seq, proto::format_timestamp(rec.ts),
                   vol.glitch == totalizer_glitch::reset || vol.glitch == totalizer_glitch::rebase
                       ? "; new baseline, the time before it estimated from the rate" : "",
                   suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", suppressed) : std::string());
  }
  if (vol.gap_not_spread)
    spdlog::warn("terminal {}: the totalizer increment up to seq {} ({}) spans more than {} days; booked on that day",
                 s.terminal_id, rec.seq, proto::format_timestamp(rec.ts), totalizer_limits::spread_bound_days);

  observation obs{rec, msg.arrival, live, trusted ? std::nullopt : std::optional<proto::timestamp>(stamp)};
  obs.path_delay = std::chrono::milliseconds(path_delay_ms_);
  const bool in_order = ts >= s.rule_clock_ms;
  if (!in_order) ++metrics_.late_records;
  // A pump station's run time goes into its hourly log (every accepted record, late ones too:
  // de-duplication books each window once); the view is as of this record's time.
  pump_runtime_view runtime;
  if (info.kind == site_kind::pump_station && rec.pump_station && !rec.pump_station->pumps.empty()) {
    double run_s = 0;
    for (const auto& p : rec.pump_station->pumps) run_s += p.run_s;
    auto& log = pump_logs_[info.id];
    pump_dirty_.emplace(info.id, log.add(ts, run_s, rec.interval_s));
    if (in_order) {
      if (const auto cut = log.prune(ts, cfg_.zone); cut > 0) pump_cuts_[info.id] = cut;
      runtime = log.view(ts, cfg_.zone, lim.pump_runtime_min_days);
      obs.pump_runtime = &runtime;
    }
  }
  flow_normal_view flow_view;
  obs.flow_normal = observe_flow(info, rec, ts, in_order, flow_view);
  if (in_order) obs.cleanout = observe_cleanout(info, idx, ts);
  for (const auto& rule : rules_.rules()) {
    if (!rule->applies_to(info.kind)) continue;  // effluent rules judge terminals, pump rules stations
    // Event-time rules see records in effective-time order only; a late record is history for
    // them (its volume and statistics are still counted). offline and clock_skew are judged on
    // arrival and see every record.
    const bool arrival_rule = rule->type() == proto::alert_type::offline || rule->type() == proto::alert_type::clock_skew;
    if (!in_order && !arrival_rule) continue;
    const auto v = rule->observe(obs, info, s.rules[type_index(rule->type())]);
    if (v.any()) apply_verdict(idx, rule->type(), v);
  }
  if (in_order) s.rule_clock_ms = ts;
  // "latest" moves by effective time; the stored latest record keeps the agent's stamp.
  const std::int64_t latest_ms =
      rt.latest_effective_ms != 0 || !s.latest ? rt.latest_effective_ms : ms(effective_ts(s.latest->ts, s.latest_arrival, lim));
  const bool newest = !s.latest || ts >= latest_ms;
  rec.ts = stamp;
  if (newest) {
    rt.latest_effective_ms = ts;
    s.latest_arrival = msg.arrival;
    rt.latest_payload = msg.payload;
    batch_.records.push_back({rec, msg.arrival, msg.payload, trusted});
    s.latest = std::move(rec);
  } else {
    batch_.records.push_back({std::move(rec), msg.arrival, msg.payload, trusted});
  }
}

bool engine::accept_seq(std::size_t idx, std::uint64_t seq) {
  auto& s = states_[idx].snap;
  const std::uint64_t missing_before = s.seen.missing();
  spill_buf_.clear();
  auto v = s.seen.offer(seq, &spill_buf_);
  if (v == dedup_verdict::below_floor) {
    // Below the part of the set held in memory: the spilled ranges decide (still in this batch, or
    // in the store). Exact either way.
    bool seen = false;
    for (const auto& sp : batch_.spilled)
      if (sp.terminal_id == s.terminal_id && sp.epoch == s.epoch && sp.range.lo <= seq && seq <= sp.range.hi) seen = true;
    if (!seen) seen = db_.spilled_contains(s.terminal_id, s.epoch, seq);
    if (!seen) {
      s.seen.accept_below_floor();
      batch_.spilled.push_back({s.terminal_id, s.epoch, {seq, seq}});
      v = dedup_verdict::fresh;
    } else {
      v = dedup_verdict::duplicate;
    }
  }
  for (const auto& r : spill_buf_) batch_.spilled.push_back({s.terminal_id, s.epoch, r});
  if (!spill_buf_.empty())
    spdlog::info("terminal {} epoch {}: more than {} separate seq ranges; the lowest moved to the store (seq <= {})",
                 s.terminal_id, s.epoch, s.seen.max_ranges(), s.seen.spill_floor());
  if (v != dedup_verdict::fresh) {
    ++metrics_.duplicates;
    return false;
  }
  metrics_.missing_records = metrics_.missing_records + s.seen.missing() - missing_before;
  return true;
}

void engine::note_missing(std::size_t idx, std::uint64_t seq, std::uint64_t max_before, std::int64_t ts_ms) {
  auto& s = states_[idx].snap;
  const auto day_of = [&](std::int64_t t) {
    return operating_day(from_ms(t) - std::chrono::milliseconds(1), cfg_.zone);
  };
  const auto terminal = static_cast<std::uint32_t>(idx);
  if (seq < max_before) {
    // A late record filled a hole: one record fewer missing, on its own day.
    pending_missing_[{terminal, day_of(ts_ms)}] -= 1;
    return;
  }
  // seq is the new highest; the records between the previous highest and it never arrived. They
  // get times spread evenly between the two records around the hole and count on those days
  // (all on this record's day when the earlier one's time is unknown: first record of an epoch).
  const std::uint64_t hole = seq - max_before - 1;
  const std::int64_t anchor_ms = max_before == 0 ? 0 : s.max_seq_ts_ms;
  s.max_seq_ts_ms = ts_ms;
  if (hole == 0) return;
  if (anchor_ms == 0 || anchor_ms >= ts_ms) {
    pending_missing_[{terminal, day_of(ts_ms)}] += static_cast<std::int64_t>(hole);
    return;
  }
  const double step = static_cast<double>(ts_ms - anchor_ms) / static_cast<double>(hole + 1);
  std::uint64_t done = 0;  // records 1..done of the hole are counted; record i is at anchor + i*step
  while (done < hole) {
    const auto at = [&](std::uint64_t i) { return anchor_ms + static_cast<std::int64_t>(static_cast<double>(i) * step); };
    const std::int32_t day = day_of(at(done + 1));
    const std::int64_t end_ms = ms(operating_day_start(day + 1, cfg_.zone));
    std::uint64_t upto = done + 1;
    while (upto < hole && day_of(at(upto + 1)) == day) {
      // jump close to the day's end, then step: at most a few iterations per day
      const double fit = std::floor(static_cast<double>(end_ms - anchor_ms) / step);
      const auto guess = static_cast<std::uint64_t>(std::clamp(fit, static_cast<double>(upto + 1), static_cast<double>(hole)));
      upto = day_of(at(guess)) == day ? guess : upto + 1;
    }
    pending_missing_[{terminal, day}] += static_cast<std::int64_t>(upto - done);
    done = upto;
  }
}

proto::timestamp effective_ts(proto::timestamp stamp, proto::timestamp arrival, const thresholds& lim) noexcept {
  const auto offset = arrival - stamp;
  const bool trusted = offset <= std::chrono::seconds(lim.clock_trust_behind_s) &&
                       -offset <= std::chrono::seconds(lim.clock_trust_ahead_s);
  return trusted ? stamp : arrival;
}

void engine::on_status(std::size_t idx, const inbound_message& msg, proto::status_message st) {
  ++metrics_.statuses;
  auto& s = states_[idx].snap;
  if (st.state == proto::presence::offline) {
    if (st.reason == proto::offline_reason::shutdown) {
      // A clean stop: the agent is expected back; give it the restart grace period.
      if (!msg.retained) s.grace_until_ms = ms(msg.arrival + cfg_.restart_grace);
      s.will = false;
    } else if (path_probed_ && stall_seen_ != std::chrono::steady_clock::time_point{} &&
               std::chrono::steady_clock::now() - stall_seen_ < will_after_stall) {
      // Right after the broker's own stall: its misjudgement (engine.hpp will_after_stall). The
      // session is gone all the same; the agent reconnects on its backoff (reconnect_after_stall).
      states_[idx].reconnect_until = std::chrono::steady_clock::now() + reconnect_after_stall;
      spdlog::warn("terminal {}: last will {:.1f} s after a broker stall not acted on; silence judges it",
                   s.terminal_id,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - stall_seen_).count());
    } else {
      // Last will (retained or not): the link died. Offline once any grace period is over, and
      // once a probe sent after it came back (tick).
      s.will = true;
      states_[idx].will_at = msg.arrival;
    }
  }
  // A birth (online) is never proof of data flowing, retained or not: only live records are. A
  // live birth does mean the link is back, so an earlier last will no longer applies; the
  // no-record timer still does.
  if (st.state == proto::presence::online && !msg.retained) s.will = false;
  const double interval_before = report_interval_s(idx);
  s.status = std::move(st);
  if (report_interval_s(idx) != interval_before) ++county_generation_;  // county_view

  s.status_arrival = msg.arrival;
  mark_dirty(idx);
}

void engine::apply_verdict(std::size_t idx, proto::alert_type type, const verdict& v) {
  auto& rt = states_[idx];
  auto& slot = rt.open_alert[type_index(type)];
  mark_dirty(idx);
  if (v.act == verdict::action::raise) {
    if (slot != 0) return;  // already open (e.g. state restored): one episode at a time
    proto::alert_message m;
    m.terminal_id = rt.snap.terminal_id;
    m.type = type;
    m.state = proto::alert_state::raised;
    m.alert_id = next_alert_id_++;
    m.raised_at = v.at;
    m.value = v.value;
    m.threshold = v.threshold;
    m.message = v.message;
    slot = m.alert_id;
    ++metrics_.alerts_raised;
    spdlog::warn("alert {} raised: {} {}: {}", m.alert_id, m.terminal_id, proto::to_string(type), m.message);
    batch_.alerts.push_back(m);
    batch_.transitions.push_back({m.alert_id, m.state, m.raised_at, "", m.message});
    pub_.publish(proto::alert_topic(m.terminal_id, type), proto::encode(m), true);
    notify_listener(m);
    open_.emplace(m.alert_id, std::move(m));
    return;
  }
  if (slot == 0) return;
  auto it = open_.find(slot);
  slot = 0;
  if (it == open_.end()) return;
  proto::alert_message m = std::move(it->second);
  open_.erase(it);
  m.state = proto::alert_state::cleared;
  m.cleared_at = std::max(v.at, m.raised_at);
  m.message = v.message;
  ++metrics_.alerts_cleared;
  spdlog::info("alert {} cleared: {} {}: {}", m.alert_id, m.terminal_id, proto::to_string(type), m.message);
  batch_.alerts.push_back(m);
  batch_.transitions.push_back({m.alert_id, m.state, *m.cleared_at, "", m.message});
  pub_.publish(proto::alert_topic(m.terminal_id, type), std::string(), true);
  notify_listener(m);
}

std::string command_wire_id(std::uint64_t n) { return "gw-" + std::to_string(n); }

std::optional<std::uint64_t> parse_command_wire_id(std::string_view id) noexcept {
  if (id.substr(0, 3) != "gw-" || id.size() < 4 || id[3] == '0') return std::nullopt;
  std::uint64_t n = 0;
  const auto r = std::from_chars(id.data() + 3, id.data() + id.size(), n);
  if (r.ec != std::errc() || r.ptr != id.data() + id.size()) return std::nullopt;
  return n;
}

command_row engine::send_command(std::size_t index, proto::command_name name, std::optional<std::uint32_t> interval_s,
                                 const std::string& by) {
  const auto& terminal = registry_.terminals().at(index);
  command_row c;
  c.id = next_command_id_++;
  c.terminal_id = terminal.id;
  c.name = std::string(proto::to_string(name));
  c.args_json = interval_s ? nlohmann::json{{"interval_s", *interval_s}}.dump() : std::string("{}");
  c.by = by;
  c.sent_at = clock_.now();
  proto::command_message m;
  m.id = command_wire_id(c.id);
  m.name = name;
  m.interval_s = interval_s;
  m.ts = c.sent_at;
  // Stored before it is published: a result can only ever meet a command the gateway knows.
  batch_.commands.push_back(c);
  flush();
  pub_.publish(proto::command_topic(terminal.id), proto::encode(m), false);
  ++metrics_.commands.at(static_cast<std::size_t>(command_state::pending));
  spdlog::info("command {} sent to {}: {} {} (by {})", m.id, terminal.id, c.name, c.args_json, by);
  pending_cmds_.emplace(c.id, c);
  return c;
}

void engine::on_command_result(const std::string& terminal_id, const inbound_message& msg,
                               proto::command_result_message result) {
  const auto n = parse_command_wire_id(result.id);
  const auto it = n ? pending_cmds_.find(*n) : pending_cmds_.end();
  if (it == pending_cmds_.end()) {
    // Not ours (a command from another tool), or ours but no longer pending (timed out before
    // the result came, or already answered): the stored outcome stands.
    spdlog::info("command result {} from {} matches no pending command of this gateway; ignored", result.id, terminal_id);
    return;
  }
  auto& c = it->second;
  if (c.terminal_id != terminal_id) {
    spdlog::warn("command result {} arrived from {} but the command went to {}; ignored", result.id, terminal_id,
                 c.terminal_id);
    return;
  }
  c.state = result.ok ? command_state::ok : command_state::error;
  c.answered_at = msg.arrival;
  if (result.result) c.result_json = result.result->dump();
  c.error = result.error;
  ++metrics_.commands.at(static_cast<std::size_t>(c.state));
  batch_.commands.push_back(std::move(c));
  pending_cmds_.erase(it);
}

void engine::expire_commands(proto::timestamp now) {
  for (auto it = pending_cmds_.begin(); it != pending_cmds_.end();) {
    if (now - it->second.sent_at < cfg_.command_timeout) {
      ++it;
      continue;
    }
    auto& c = it->second;
    c.state = command_state::timed_out;
    c.error = "no result within " + std::to_string(cfg_.command_timeout.count()) +
              " s (commands.timeout_s); the terminal may be offline (its clean MQTT session drops commands sent meanwhile)";
    ++metrics_.commands.at(static_cast<std::size_t>(command_state::timed_out));
    spdlog::warn("command {} to {} ({}) timed out", command_wire_id(c.id), c.terminal_id, c.name);
    batch_.commands.push_back(std::move(c));
    it = pending_cmds_.erase(it);
  }
}

void engine::tick() {
  const auto now = clock_.now();
  expire_commands(now);
  const auto* offline = rules_.find(proto::alert_type::offline);
  if (offline == nullptr) return;
  if (link_grace()) {
    presence_floor_ = now;  // the gateway cannot hear anyone: nobody's silence counts yet
    return;
  }
  const auto start_grace = std::max(started_ + cfg_.startup_grace, regrace_until_);
  // Silence is judged only as far as the broker path is proven: a probe sent at path_proven_at_
  // came back, so whatever a terminal published before then has arrived.
  const auto judged_now = path_probed_ ? std::min(now, path_proven_at_) : now;
  const auto steady_now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < states_.size(); ++i) {
    auto& s = states_[i].snap;
    if (states_[i].reconnect_until > steady_now) states_[i].reconnect_floor = now;  // reconnect_after_stall
    const auto registered = from_ms(s.rules[type_index(proto::alert_type::offline)].since_ms);
    presence_view p;
    p.now = judged_now;
    p.last_alive = std::max({from_ms(s.last_alive_ms), started_, presence_floor_, registered, states_[i].reconnect_floor});
    p.grace_until = std::max({start_grace, from_ms(s.grace_until_ms), registered + cfg_.startup_grace});
    // A will counts once the path is proven past its arrival (a stall found first drops it).
    p.will = s.will && (!path_probed_ || states_[i].will_at < path_proven_at_);
    p.interval_s = report_interval_s(i);
    const auto v = offline->tick(p, registry_.terminals()[i], s.rules[type_index(proto::alert_type::offline)]);
    if (v.any()) apply_verdict(i, proto::alert_type::offline, v);
  }
}

bool engine::flush(bool retry_now) {
  const auto steady_now = std::chrono::steady_clock::now();
  if (failed_commits_in_row_ > 0 && !retry_now && steady_now - last_failed_attempt_ < retry_after_) return false;
  for (const auto idx : dirty_) {
    auto& rt = states_[idx];
    rt.dirty = false;
    batch_.terminals.push_back(rt.snap);
    batch_.terminals.back().latest_json = std::move(rt.latest_payload);
    rt.latest_payload = std::string();
  }
  dirty_.clear();
  for (const auto& [key, d] : pending_daily_) {
    if (key.first >= states_.size()) continue;
    daily_row row{states_[key.first].snap.terminal_id, d};
    row.totals.day = key.second;
    if (const auto m = pending_missing_.find(key); m != pending_missing_.end()) {
      row.missing_records = m->second;
      pending_missing_.erase(m);
    }
    batch_.daily.push_back(std::move(row));
  }
  for (const auto& [key, n] : pending_missing_) {
    if (key.first >= states_.size() || n == 0) continue;
    daily_row row{states_[key.first].snap.terminal_id, daily_delta{}};
    row.totals.day = key.second;
    row.missing_records = n;
    batch_.daily.push_back(std::move(row));
  }
  pending_daily_.clear();
  pending_missing_.clear();
  for (const auto& [site, hour] : pump_dirty_) {
    const auto log = pump_logs_.find(site);
    if (log == pump_logs_.end()) continue;
    const auto h = log->second.hours().find(hour);
    if (h == log->second.hours().end()) continue;  // pruned meanwhile
    batch_.pump_run_hours.push_back({site, hour, h->second.run_s, h->second.covered_s});
  }
  pump_dirty_.clear();
  for (auto& [site, cut] : pump_cuts_) batch_.pump_run_cuts.emplace_back(site, cut);
  pump_cuts_.clear();
  // Flow hours are increments: moved into the batch once (a failed commit keeps them there).
  for (auto& [key, h] : flow_pending_) batch_.flow_hours.push_back(std::move(h));
  flow_pending_.clear();
  if (batch_.empty()) {
    publish_receipts();
    if (on_committed_) on_committed_();
    return true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  try {
    db_.apply(batch_);
  } catch (const store_error& e) {
    ++metrics_.store_failures;
    metrics_.last_commit_ok = false;
    // A failing attempt still does the whole transaction's work before the write is refused, and
    // the batch grows while the store fails: wait at least 10x the attempt's duration (so at most
    // ~10 % of the io thread goes to failing attempts and ingest keeps up), at least
    // store_retry_interval, at most store_retry_max.
    last_failed_attempt_ = std::chrono::steady_clock::now();
    retry_after_ = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(10 * (last_failed_attempt_ - t0)),
                              std::chrono::milliseconds(store_retry_interval), std::chrono::milliseconds(store_retry_max));
    if (failed_commits_in_row_++ == 0) {
      store_failing_since_ = steady_now;
      last_failure_log_ = steady_now;
      spdlog::error("store commit failed: {}; {} records and {} other writes kept in memory and in the received-message "
                    "journal, retried every {} ms; next summary in {} s",
                    e.what(), batch_.records.size(), batch_.terminals.size() + batch_.daily.size() + batch_.alerts.size(),
                    store_retry_interval.count(), store_failure_log_interval.count());
    } else if (steady_now - last_failure_log_ >= store_failure_log_interval) {
      last_failure_log_ = steady_now;
      spdlog::error("store still failing: {} failed commits in {:.0f} s, {} records waiting; last error: {}",
                    failed_commits_in_row_, std::chrono::duration<double>(steady_now - store_failing_since_).count(),
                    batch_.records.size(), e.what());
    }
    keep_for_retry();
    return false;
  }
  if (failed_commits_in_row_ > 0) {
    spdlog::warn("store commits work again after {} failed attempts in {:.0f} s; {} records committed",
                 failed_commits_in_row_, std::chrono::duration<double>(steady_now - store_failing_since_).count(),
                 batch_.records.size());
    failed_commits_in_row_ = 0;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++metrics_.store_commits;
  metrics_.last_commit_ok = true;
  metrics_.store_commit_seconds_sum += secs;
  metrics_.store_commit_seconds_max = std::max(metrics_.store_commit_seconds_max, secs);
  static constexpr double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};
  std::size_t b = 0;
  while (b < std::size(bounds) && secs > bounds[b]) ++b;
  ++metrics_.store_commit_buckets.at(b);
  add_committed_days(batch_.daily);
  const bool notified = !batch_.notifications.empty();
  batch_.clear();
  publish_receipts();
  if (notified && listener_ != nullptr) listener_->on_committed();
  if (on_committed_) on_committed_();
  return true;
}

void engine::publish_receipts() {
  if (receipts_->empty()) return;
  if (!link_up_) {
    // Nobody can be told now. The agents keep these records and send them again on the gateway's
    // birth (a new connection); those copies are duplicates and get their receipts then.
    ++metrics_.receipts_skipped;
    receipts_->clear();
    return;
  }
  for (auto& r : receipts_->take()) {
    pub_.publish_paced(r.topic, r.payload);
    ++metrics_.receipts_published;
  }
}

void engine::notify_listener(const proto::alert_message& m) {
  if (listener_ == nullptr) return;
  const auto idx = registry_.find(m.terminal_id);
  listener_->on_transition(m, idx ? &registry_.terminals()[*idx] : nullptr, batch_.notifications);
}

void engine::keep_for_retry() {
  // Snapshots and daily increments go back to where flush() took them from, so that retries while
  // the store fails do not pile up one copy per attempt (the next flush rebuilds them once).
  std::vector<terminal_snapshot> orphans;
  for (auto& t : batch_.terminals) {
    const auto idx = registry_.find(t.terminal_id);
    if (!idx) {
      orphans.push_back(std::move(t));  // removed from the registry meanwhile: keep as is
      continue;
    }
    auto& rt = states_[*idx];
    if (rt.latest_payload.empty() && !t.latest_json.empty()) rt.latest_payload = std::move(t.latest_json);
    mark_dirty(*idx);
  }
  batch_.terminals = std::move(orphans);
  std::vector<daily_row> other_days;
  for (auto& row : batch_.daily) {
    const auto idx = registry_.find(row.terminal_id);
    if (!idx) {
      other_days.push_back(std::move(row));
      continue;
    }
    pending_daily_[{static_cast<std::uint32_t>(*idx), row.totals.day}].add(row.totals);
  }
  batch_.daily = std::move(other_days);
  // Run hours are rebuilt from the logs at the next flush (absolute values: nothing piles up).
  for (const auto& h : batch_.pump_run_hours) pump_dirty_.emplace(h.site_id, h.hour_ms);
  batch_.pump_run_hours.clear();
  for (const auto& [site, cut] : batch_.pump_run_cuts) pump_cuts_[site] = std::max(pump_cuts_[site], cut);
  batch_.pump_run_cuts.clear();
}

std::size_t engine::purge() {
  flush();
  rollup_behind_ = false;
  if (cfg_.rollup_after_days > 0 && cfg_.rollup_after_days < cfg_.retention_days) {
    const auto cut = clock_.now() - std::chrono::days(cfg_.rollup_after_days);
    try {
      // One day of records per call: a backlog (the first run after an upgrade) is worked off in
      // steps that each hold the engine's thread for about a second, not minutes.
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = db_.roll_up_records_before(cut, rollup_days_per_call);
      rollup_behind_ = r.days >= rollup_days_per_call;
      if (r.records > 0)
        spdlog::info("rollup: {} raw records of {} day(s) before {} became hourly values ({} ms){}", r.records, r.days,
                     proto::format_timestamp(cut),
                     std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(),
                     rollup_behind_ ? "; more to do" : "");
    } catch (const store_error& e) {
      // Each day is rolled up in its own transaction: what failed stays raw, retried next period.
      ++metrics_.store_failures;
      spdlog::error("rollup: could not roll up raw records before {}: {}", proto::format_timestamp(cut), e.what());
    }
  }
  const auto before = clock_.now() - std::chrono::days(cfg_.retention_days);
  std::size_t n = 0;
  try {
    n = db_.purge_records_before(before);
  } catch (const store_error& e) {
    // A full disk can refuse even a delete (its journal needs space); retried at the next period.
    ++metrics_.store_failures;
    spdlog::error("retention: could not delete raw records before {}: {}", proto::format_timestamp(before), e.what());
    return 0;
  }
  if (n > 0) spdlog::info("retention: deleted {} raw records before {}", n, proto::format_timestamp(before));
  return n;
}

void engine::republish_open_alerts() {
  for (const auto& [id, a] : open_) pub_.publish(proto::alert_topic(a.terminal_id, a.type), proto::encode(a), true);
}

engine::ack_result engine::acknowledge(std::uint64_t alert_id, const std::string& by, const std::string& note,
                                       proto::alert_message* out) {
  auto it = open_.find(alert_id);
  if (it == open_.end()) {
    flush();
    const auto stored = db_.alert(alert_id);
    if (!stored) return ack_result::not_found;
    if (out != nullptr) *out = *stored;
    return ack_result::already_cleared;
  }
  auto& m = it->second;
  if (m.state == proto::alert_state::acknowledged) {
    // The first acknowledgement (who, when, note) is the record; a second one must not erase it.
    if (out != nullptr) *out = m;
    return ack_result::already_acknowledged;
  }
  m.state = proto::alert_state::acknowledged;
  m.acked_at = std::max(clock_.now(), m.raised_at);
  m.acked_by = by;
  m.ack_note = note.empty() ? std::nullopt : std::optional<std::string>(note);
  batch_.alerts.push_back(m);
  batch_.transitions.push_back({m.alert_id, m.state, *m.acked_at, by, note});
  notify_listener(m);  // before the commit: its notification rows join the same transaction
  flush();
  pub_.publish(proto::alert_topic(m.terminal_id, m.type), proto::encode(m), true);
  if (out != nullptr) *out = m;
  return ack_result::acknowledged;
}

}  // namespace sewage::gateway
