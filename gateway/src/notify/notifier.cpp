// Notifications room: routing alert transitions to targets, and the delivery thread.
#include "sewage/gateway/notify/notifier.hpp"

#include "sewage/gateway/notify/http_post.hpp"
#include "sewage/gateway/notify/message.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace sewage::gateway {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A store that fails (disk full, locked) is retried after this long.
constexpr auto store_retry = std::chrono::seconds(1);
// Queue heads looked at per pass (one per target).
constexpr std::size_t heads_per_pass = 256;

}  // namespace

std::chrono::milliseconds notify_backoff(std::uint32_t failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double jitter01) noexcept {
  const std::uint32_t doublings = std::min<std::uint32_t>(failures == 0 ? 0 : failures - 1, 40);
  const double full = std::min(static_cast<double>(initial.count()) * static_cast<double>(std::uint64_t{1} << doublings),
                               static_cast<double>(max.count()));
  const double j = std::clamp(jitter01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(full / 2 + j * full / 2));
}

notifier::notifier(notify_settings settings, county_zone zone, std::unique_ptr<notification_store> queue)
    : settings_(std::move(settings)), zone_(zone), queue_(std::move(queue)) {
  std::set<std::string> names;
  for (const auto& t : settings_.targets) {
    if (!names.insert(t.name).second) throw std::invalid_argument("notify.target \"" + t.name + "\": duplicate name");
    if (t.url.rfind("https://", 0) != 0 && !(t.allow_plaintext && t.url.rfind("http://", 0) == 0))
      throw std::invalid_argument("notify.target \"" + t.name + "\": url must be https:// (http:// only with allow_plaintext)");
    if (t.url.rfind("http://", 0) == 0)
      spdlog::warn("notify: target {}: plaintext connection to {} (allow_plaintext = true): messages and the URL's "
                   "key travel unencrypted",
                   t.name, loggable_url(t.url));
    counters_.emplace_back();
  }
  if (!queue_) throw std::invalid_argument("notifier: no queue store");
  worker_ = std::thread([this] { run(); });
}

notifier::~notifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void notifier::on_transition(const proto::alert_message& alert, const terminal_info* terminal,
                             std::vector<notification_row>& queue) noexcept {
  const auto event = notify_event(alert.state);
  const auto sev = alert_severity(alert.type);
  for (const auto& t : settings_.targets) {
    try {
      if (t.level != notify_level::operator_) continue;  // town / county targets get escalations only
      if (std::find(t.events.begin(), t.events.end(), event) == t.events.end()) continue;
      if (sev < t.min_severity) continue;
      if (!t.towns.empty() &&
          (terminal == nullptr || std::find(t.towns.begin(), t.towns.end(), terminal->town) == t.towns.end()))
        continue;
      notification_row r;
      r.target = t.name;
      r.subject_kind = "alert";
      r.subject_id = alert.alert_id;
      r.event = std::string(event);
      r.body = render_notification(t, alert, terminal, zone_);
      r.created_ms = now_ms();
      r.next_attempt_ms = r.created_ms;
      queue.push_back(std::move(r));
    } catch (const std::exception& e) {  // bad_alloc: this target misses this one, counted
      dropped_queue_full_.fetch_add(1);
      spdlog::error("notify: target {}: alert {} not queued: {}", t.name, alert.alert_id, e.what());
    }
  }
}

std::size_t notifier::enqueue_escalation(notify_level level, const std::string& site_id, const std::string& town,
                                         const escalation_message& msg) {
  std::vector<notification_row> rows;
  const auto now = now_ms();
  for (const auto& t : settings_.targets) {
    if (t.level != level) continue;
    if (!t.towns.empty() && std::find(t.towns.begin(), t.towns.end(), town) == t.towns.end()) continue;
    notification_row r;
    r.target = t.name;
    r.subject_kind = msg.subject_kind;
    r.subject_id = msg.subject_id;
    r.event = "escalate_" + std::string(to_string(level));
    r.body = render_escalation(t, level, site_id, town, msg, zone_);
    r.created_ms = now;
    r.next_attempt_ms = now;
    rows.push_back(std::move(r));
  }
  if (rows.empty()) {
    // Recorded under its key all the same: the check that asked is done, a later call is not a retry.
    if (!msg.once_key.empty()) {
      std::lock_guard q(queue_mutex_);
      if (!queue_->notification_enqueue({}, msg.once_key)) return 0;
    }
    escalations_unrouted_.fetch_add(1);
    spdlog::warn("notify: escalation of {} {} at site {} (town \"{}\") to level {}: no target of that level takes "
                 "this town",
                 msg.subject_kind, msg.subject_id, site_id, town, to_string(level));
    return 0;
  }
  {
    std::lock_guard q(queue_mutex_);
    if (!queue_->notification_enqueue(rows, msg.once_key)) return 0;
  }
  escalations_queued_.fetch_add(rows.size());
  spdlog::info("notify: escalation of {} {} at site {} to level {}: queued for {} target(s)", msg.subject_kind,
               msg.subject_id, site_id, to_string(level), rows.size());
  on_committed();
  return rows.size();
}

std::size_t notifier::enqueue_alert(const proto::alert_message& alert, const terminal_info* terminal,
                                    const std::string& once_key) {
  std::vector<notification_row> rows;
  on_transition(alert, terminal, rows);
  {
    std::lock_guard q(queue_mutex_);
    if (!queue_->notification_enqueue(rows, once_key)) return 0;
  }
  if (!rows.empty()) on_committed();
  return rows.size();
}

std::size_t notifier::enqueue_rows(const std::vector<notification_row>& rows, const std::string& once_key) {
  {
    std::lock_guard q(queue_mutex_);
    if (!queue_->notification_enqueue(rows, once_key)) return 0;
  }
  if (!rows.empty()) on_committed();
  return rows.size();
}

void notifier::on_committed() noexcept {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

notify_counts notifier::counts() const {
  notify_counts c;
  for (std::size_t i = 0; i < settings_.targets.size(); ++i)
    c.targets.push_back({settings_.targets[i].name, counters_[i].sent.load(), counters_[i].failures.load(),
                         counters_[i].tls_failures.load()});
  c.dropped_queue_full = dropped_queue_full_.load();
  c.dropped_gave_up = dropped_gave_up_.load();
  c.dropped_permanent = dropped_permanent_.load();
  c.dropped_unknown_target = dropped_unknown_target_.load();
  c.queue_depth = depth_.load();
  c.escalations_queued = escalations_queued_.load();
  c.escalations_unrouted = escalations_unrouted_.load();
  return c;
}

const notify_target* notifier::find(const std::string& name, std::size_t& index) const noexcept {
  for (std::size_t i = 0; i < settings_.targets.size(); ++i)
    if (settings_.targets[i].name == name) {
      index = i;
      return &settings_.targets[i];
    }
  return nullptr;
}

void notifier::attempt(const notification_row& row, std::size_t ti) {
  const auto& t = settings_.targets[ti];
  auto& n = counters_[ti];
  post_options o;
  o.allow_plaintext = t.allow_plaintext;
  o.ca_file = t.ca_file;
  o.timeout = settings_.timeout;
  o.cancel = &stop_;
  // DingTalk checks the signature's time stamp against its clock (within an hour): signed now.
  const std::string url = t.kind == notify_kind::dingtalk && !t.secret.empty()
                              ? dingtalk_signed_url(t.url, t.secret, now_ms())
                              : t.url;
  const auto res = http_post_json(url, row.body, o);
  if (stop_) return;  // aborted by shutdown: not a failure, retried at the next start
  answer_verdict v;
  if (res.status == 0) {
    v.error = res.error;
  } else {
    v = judge_answer(t.kind, res.status, res.body);
  }
  if (v.delivered) {
    {
      std::lock_guard q(queue_mutex_);
      queue_->notification_remove(row.id);
    }
    n.sent.fetch_add(1);
    spdlog::info("notify: target {}: {} {} {} delivered{}", t.name, row.subject_kind, row.subject_id, row.event,
                 row.attempts > 0 ? " after " + std::to_string(row.attempts) + " failed attempts" : std::string());
    return;
  }
  n.failures.fetch_add(1);
  if (res.tls_failure) n.tls_failures.fetch_add(1);
  const std::uint32_t attempts = row.attempts + 1;
  const std::string where = loggable_url(t.url);
  if (v.permanent || attempts >= settings_.max_attempts) {
    {
      std::lock_guard q(queue_mutex_);
      queue_->notification_remove(row.id);
    }
    (v.permanent ? dropped_permanent_ : dropped_gave_up_).fetch_add(1);
    spdlog::error("notify: target {} ({}): {} {} {} given up after {} attempt(s){}: {}", t.name, where,
                  row.subject_kind, row.subject_id, row.event, attempts,
                  v.permanent ? " (refused for good: fix the target's configuration)" : "", v.error);
    return;
  }
  const auto delay = notify_backoff(attempts, settings_.initial_backoff, settings_.max_backoff,
                                    std::uniform_real_distribution<double>(0.0, 1.0)(rng_));
  {
    std::lock_guard q(queue_mutex_);
    queue_->notification_retry(row.id, attempts, now_ms() + delay.count(), v.error);
  }
  spdlog::warn("notify: target {} ({}): {} {} {} attempt {} of {} failed{}: {}; next in {} ms", t.name, where,
               row.subject_kind, row.subject_id, row.event, attempts, settings_.max_attempts,
               res.tls_failure ? " (TLS: certificate or host name check)" : "", v.error, delay.count());
}

std::optional<std::chrono::system_clock::time_point> notifier::pass() {
  std::uint64_t trimmed = 0;
  {
    std::lock_guard q(queue_mutex_);
    trimmed = queue_->notification_trim(settings_.queue_max);
  }
  if (const auto dropped = trimmed; dropped > 0) {
    dropped_queue_full_.fetch_add(dropped);
    spdlog::error("notify: queue full ({} rows): dropped the {} oldest notification(s)", settings_.queue_max, dropped);
  }
  std::optional<std::chrono::system_clock::time_point> next;
  bool again = true;
  while (again && !stop_) {
    again = false;
    std::vector<notification_row> heads;
    {
      std::lock_guard q(queue_mutex_);
      heads = queue_->notification_heads(heads_per_pass);
    }
    for (const auto& row : heads) {
      if (stop_) break;
      std::size_t ti = 0;
      if (find(row.target, ti) == nullptr) {
        {
          std::lock_guard q(queue_mutex_);
          queue_->notification_remove(row.id);
        }
        dropped_unknown_target_.fetch_add(1);
        spdlog::warn("notify: dropped {} {} {}: target \"{}\" is no longer configured", row.subject_kind,
                     row.subject_id, row.event, row.target);
        again = true;
        continue;
      }
      if (row.next_attempt_ms > now_ms()) {
        const auto due = std::chrono::system_clock::time_point(std::chrono::milliseconds(row.next_attempt_ms));
        next = next ? std::min(*next, due) : due;
        continue;
      }
      attempt(row, ti);
      again = true;  // this target's next row may be due now
    }
    std::lock_guard q(queue_mutex_);
    depth_ = queue_->notification_count();
  }
  return next;
}

void notifier::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      woken_ = false;
    }
    std::optional<std::chrono::system_clock::time_point> next;
    try {
      next = pass();
    } catch (const std::exception& e) {
      spdlog::error("notify: queue store failed, retrying in {} s: {}", store_retry.count(), e.what());
      next = std::chrono::system_clock::now() + store_retry;
    }
    std::unique_lock lock(mutex_);
    const auto ready = [this] { return stop_.load() || woken_; };
    if (next) {
      cv_.wait_until(lock, *next, ready);
    } else {
      cv_.wait(lock, ready);
    }
    if (stop_) return;
  }
}

}  // namespace sewage::gateway
