#include "sewage/agent/agent.hpp"

#include "sewage/agent/durable_queue.hpp"
#include "sewage/agent/image_source.hpp"
#include "sewage/agent/interval.hpp"
#include "sewage/agent/mqtt_link.hpp"
#include "sewage/agent/rate_limit.hpp"
#include "sewage/agent/resident_trim.hpp"
#include "sewage/proto/command.hpp"
#include "sewage/proto/receipt.hpp"
#include "sewage/proto/status.hpp"
#include "sewage/proto/topic.hpp"
#include "sewage/service/systemd_notify.hpp"

#include <MQTTAsync.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "sewage/proto/limits.hpp"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace sewage::agent {

std::string_view agent_version() noexcept { return "0.1.0"; }

void limit_malloc_arenas() noexcept { (void)::mallopt(M_ARENA_MAX, malloc_arena_max); }

namespace {

using steady = std::chrono::steady_clock;

/// Polls one device on its own thread so a dead device never stalls the others.
class device_poller {
 public:
  /// Receives one poll's samples and the monotonic time of the poll (agent_clock::elapsed()).
  using sink = std::function<void(std::vector<sample>, std::chrono::milliseconds)>;
  device_poller(std::unique_ptr<sensor_driver> driver, const agent_clock& clock, double poll_interval_s, sink s)
      : driver_(std::move(driver)), clock_(clock), interval_s_(poll_interval_s), sink_(std::move(s)),
        worker_([this] { run(); }) {}
  ~device_poller() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  device_poller(const device_poller&) = delete;
  device_poller& operator=(const device_poller&) = delete;

 private:
  void run() {
    auto next = steady::now();
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      try {
        const proto::timestamp now = clock_.now();
        auto samples = driver_->read(now);
        sink_(std::move(samples), clock_.elapsed());
      } catch (const std::exception& e) {
        spdlog::error("device {}: poll failed: {}", driver_->name(), e.what());
      }
      lock.lock();
      next += std::chrono::duration_cast<steady::duration>(clock_.real(std::chrono::duration<double>(interval_s_)));
      if (next < steady::now()) next = steady::now();  // a slow poll: do not catch up in a burst
      cv_.wait_until(lock, next, [this] { return stop_; });
    }
  }

  std::unique_ptr<sensor_driver> driver_;
  const agent_clock& clock_;
  double interval_s_;
  sink sink_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_{false};
  std::thread worker_;
};

/// Largest payload that fits the broker's max_packet_size in one MQTT 3.1.1 PUBLISH: fixed header
/// (1 + up to 4 bytes remaining length), topic (2 + length) and packet id (2).
std::size_t max_record_bytes(const agent_config& config) {
  const std::size_t overhead = 1 + 4 + 2 + proto::telemetry_topic(config.terminal_id).size() + 2;
  return config.mqtt.max_packet_bytes > overhead ? config.mqtt.max_packet_bytes - overhead : 0;
}

}  // namespace

struct agent::impl {
  impl(agent_config cfg, const driver_registry& drivers, agent_options options)
      : config(std::move(cfg)),
        clock(options.start_time, options.time_scale, options.time_origin),
        queue(durable_queue::options{config.queue.path, config.queue.max_records, config.queue.max_bytes,
                                     max_record_bytes(config)}),
        builder(config, fitted_quantities(config)),
        report_interval_s(config.report_interval_s),
        report_timer(io),
        pump_timer(io),
        delete_timer(io),
        receipt_timer(io),
        trim_timer(io),
        signals(io, SIGTERM, SIGINT),
        telemetry_topic(proto::telemetry_topic(config.terminal_id)),
        status_topic(proto::status_topic(config.terminal_id)),
        image_topic(proto::image_topic(config.terminal_id)),
        command_topic(proto::command_topic(config.terminal_id)),
        result_topic(proto::command_result_topic(config.terminal_id)),
        receipt_topic(proto::receipt_topic(config.terminal_id)),
        gateway_status_topic(proto::gateway_status_topic()) {
    for (const auto& d : config.devices) drivers_.push_back(drivers.create(d));
    proto::status_message will;
    will.terminal_id = config.terminal_id;
    will.state = proto::presence::offline;
    will.reason = proto::offline_reason::connection_lost;
    link = std::make_unique<mqtt_link>(
        config, io,
        mqtt_link::handlers{[this] { on_connected(); }, [this] { on_connection_lost(); },
                            [this](std::uint64_t tag, bool ok, int rc) { on_delivery(tag, ok, rc); },
                            [this](std::string t, std::string p) { on_message(t, p); }},
        status_topic, proto::encode(will));
    tokens = 1.0;
    last_refill = steady::now();
  }

  void start() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (!ec) stop(sig);
    });
    for (auto& d : drivers_) {
      spdlog::info("device {}: polling every {} s", d->name(), config.poll_interval_s);
      pollers.push_back(std::make_unique<device_poller>(
          std::move(d), clock, config.poll_interval_s, [this](std::vector<sample> s, std::chrono::milliseconds mono) {
            boost::asio::post(io, [this, s = std::move(s), mono] {
              // The builder measures hold times between polls: monotonic, never the wall clock.
              if (!stopping) builder.add(s, proto::timestamp(mono));
            });
          }));
    }
    drivers_.clear();
    if (config.image.enabled()) {
      images = std::make_unique<image_source>(config.image, clock, [this](std::string jpeg) {
        boost::asio::post(io, [this, jpeg = std::move(jpeg)]() mutable {
          pending_image = std::move(jpeg);
          publish_image();
        });
      });
    }
    schedule_report();
    schedule_trim();
    link->start();
    // systemd (Type=notify): ready once the queue is open and the devices are polled; the broker
    // may still be unreachable (a lost broker is a state, the queue keeps the records). The
    // keep-alives come from this loop, so a hung loop is restarted by the watchdog.
    keepalive = std::make_unique<service::watchdog_keepalive>(io);
    service::notify_ready("terminal " + config.terminal_id + ": polling " + std::to_string(pollers.size()) +
                          " device(s)");
  }

  void stop(int sig) {
    spdlog::info("signal {}: shutting down", sig);
    service::notify_stopping();
    if (keepalive) keepalive->cancel();
    stopping = true;
    report_timer.cancel();
    pump_timer.cancel();
    delete_timer.cancel();
    receipt_timer.cancel();
    trim_timer.cancel();
    pollers.clear();
    images.reset();
    flush_acks();
    io.stop();
  }

  // ---- reporting ----
  void schedule_report() {
    report_timer.expires_after(clock.real(std::chrono::seconds(report_interval_s)));
    report_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      close_window();
      schedule_report();
    });
  }

  std::optional<std::uint64_t> close_window() {
    // ts is the wall clock at the end of the window; interval_s is the window's length on the
    // monotonic clock, so a wall clock step (1970 -> today, NTP stepping back) never shows in it.
    const sampling_window::closed w = window.close();
    const proto::timestamp end = w.end;
    const double elapsed_s = w.interval_s;
    const auto interval = static_cast<std::uint32_t>(
        std::clamp<double>(std::round(elapsed_s), proto::limits::min_interval_s, proto::limits::max_interval_s));
    // Pump run times are measured on the same monotonic time base as the polls (builder.add).
    proto::telemetry_record rec = builder.close(end, interval, proto::timestamp(w.elapsed_end));
    rec.terminal_id = config.terminal_id;
    rec.epoch = queue.epoch();
    rec.queue_depth = waiting();
    rec.dropped = queue.dropped() + lost;
    rec.queue_fault = queue.storage_fault();
    warn_if_receipts_stall();
    std::string payload;
    try {
      const auto a = queue.append([&](std::uint64_t seq) {
        rec.seq = seq;
        // Records dropped by this very append to make room count in this record already.
        const auto problems = proto::validate(rec);
        for (const auto& p : problems) spdlog::error("record seq {} invalid: {}", seq, p.to_string());
        payload = proto::encode(rec);
        return payload;
      });
      spdlog::debug("record seq {} committed ({} waiting)", a.seq, queue.depth());
      if (!a.set_aside) publish_live(a.seq, payload);
      pump();
      return a.seq;
    } catch (const std::exception& e) {
      // The storage refuses writes even after freeing space: keep reporting live. The record
      // gets a seq (memory only), says it is not durable, and waits in a bounded memory buffer
      // for its PUBACK (sent in seq order with the queue's records).
      rec.seq = queue.skip_seq();
      rec.durable = false;
      rec.queue_depth = waiting() + volatile_records.size();
      rec.dropped = queue.dropped() + lost;
      rec.queue_fault = std::string(e.what()).substr(0, proto::limits::max_reason_length);
      payload = proto::encode(rec);
      volatile_records.emplace(rec.seq, std::move(payload));
      while (volatile_records.size() > max_volatile_records) {
        const auto oldest = volatile_records.begin()->first;
        if (inflight.count(oldest) != 0) break;  // awaiting its PUBACK: keep it
        volatile_records.erase(volatile_records.begin());
        ++lost;
      }
      ++write_failures;
      if (const auto n = write_failure_log.note()) {
        spdlog::error("{} records could not be written to the queue ({}); published from memory, not durable "
                      "({} in all, {} held in memory, {} lost)",
                      n, e.what(), write_failures, volatile_records.size(), lost);
      }
      pump();
      return rec.seq;
    }
  }

  // ---- publishing ----
  void on_connected() {
    // A new clean session: nothing of the previous connection is in flight any more.
    if (!inflight.empty()) on_connection_lost();
    proto::status_message birth;
    birth.terminal_id = config.terminal_id;
    birth.state = proto::presence::online;
    birth.ts = clock.now();
    birth.agent_version = std::string(agent_version());
    birth.config_digest = config.digest;
    birth.epoch = queue.epoch();
    birth.report_interval_s = report_interval_s;
    link->publish(status_topic, proto::encode(birth), true, 0);
    // Paho cannot tell us session_present on automatic reconnects, so subscribe on every connect:
    // this covers "session not present" and is harmless otherwise.
    link->subscribe(command_topic);
    link->subscribe(receipt_topic);
    link->subscribe(gateway_status_topic);
    // What the broker acknowledged before may be lost with it (restarted without persistence):
    // send again what has no receipt a grace period from now.
    receipt_check_after_trigger();
    publish_image();
    pump();
    trim_resident_code();
  }

  /// Every code_trim_period: what rarer paths mapped since (a command, the batched delete, a
  /// reconnect that failed its handshake) is given back too, so VmRSS stays near the working set
  /// of the steady state however long the link stays up.
  void schedule_trim() {
    trim_timer.expires_after(code_trim_period);
    trim_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      trim_resident_code();
      schedule_trim();
    });
  }

  /// After each connect (start-up and the TLS handshake are behind us) and every
  /// code_trim_period: gives back the mappings of code and constants used only then
  /// (resident_trim.hpp; issue 15 item 6, VmRSS <= 10 MB).
  void trim_resident_code() {
    const auto t = release_code_pages();
    if (!t.error.empty()) {
      if (trim_failure_log.note() > 0) spdlog::warn("releasing start-up code pages: {}", t.error);
    }
    spdlog::debug("released {} mappings of code and constants ({} KiB resident), kept {} (private copies or locked pages)",
                  t.mappings_released, t.released_kib, t.mappings_kept);
  }

  void publish_image() {
    if (pending_image && link->connected() && link->publish(image_topic, *pending_image, true, 0)) {
      pending_image.reset();
    }
  }

  /// Sends what waits, in seq order: the queue's records and the records held in memory because
  /// the storage refused them, merged by seq, at most max_inflight awaiting PUBACK and at most
  /// replay_per_s per second. `cursor` is the highest seq handed to Paho on this connection.
  void pump() {
    if (stopping || !link->connected()) return;
    const auto now = steady::now();
    // Token bucket: replay_per_s, with bursts of at most 100 ms worth (and one window).
    const double cap = std::clamp(config.mqtt.replay_per_s / 10.0, 1.0, static_cast<double>(config.mqtt.max_inflight));
    tokens = std::min(cap, tokens + std::chrono::duration<double>(now - last_refill).count() * config.mqtt.replay_per_s);
    last_refill = now;
    while (inflight.size() < config.mqtt.max_inflight && tokens >= 1.0) {
      const std::size_t room = std::min<std::size_t>(config.mqtt.max_inflight - inflight.size(), static_cast<std::size_t>(tokens));
      std::vector<durable_queue::entry> batch;
      try {
        batch = queue.peek_after(cursor, room);
      } catch (const std::exception& e) {
        if (read_failure_log.note() > 0) spdlog::error("queue read failed: {}", e.what());
      }
      for (auto it = volatile_records.upper_bound(cursor); it != volatile_records.end() && batch.size() < 2 * room; ++it) {
        batch.push_back(durable_queue::entry{it->first, it->second});
      }
      std::sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
      if (batch.size() > room) batch.resize(room);
      if (batch.empty()) return;
      for (const auto& e : batch) {
        if (inflight.count(e.seq) != 0 || acked_unremoved.count(e.seq) != 0 || awaiting_receipt.count(e.seq) != 0) {
          cursor = e.seq;
          continue;
        }
        const std::uint64_t tag = next_tag++;
        if (!link->publish(telemetry_topic, e.payload, false, tag)) {
          schedule_pump(std::chrono::milliseconds(200));
          return;
        }
        inflight[e.seq] = tag;
        tags[tag] = e.seq;
        cursor = e.seq;
        tokens -= 1.0;
      }
    }
    if (inflight.size() < config.mqtt.max_inflight && waiting() + volatile_records.size() > inflight.size()) {
      schedule_pump(std::chrono::milliseconds(static_cast<long>(std::ceil(1000.0 / config.mqtt.replay_per_s))));
    }
  }

  /// The link dropped. With a clean session Paho fails (rc -11) and forgets every publish not yet
  /// acknowledged; they are all still in the queue (or in memory), so the replay restarts from
  /// the oldest waiting record after the reconnect. This is the only resend path (issue 9 §5).
  void on_connection_lost() {
    if (!inflight.empty()) {
      spdlog::info("{} records awaiting PUBACK will be sent again from the queue after the reconnect, in seq order",
                   inflight.size());
    }
    flush_acks();
    inflight.clear();
    tags.clear();  // late failure callbacks of the old connection are ignored (unknown tag)
    cursor = 0;
  }

  /// A new record normally joins the end of the replay. When the backlog ahead of it would take
  /// longer than one report interval to drain at replay_per_s, it is published at once instead,
  /// so live data is never starved by a long replay; the backlog itself stays in seq order.
  void publish_live(std::uint64_t seq, const std::string& payload) {
    if (stopping || !link->connected() || inflight.size() >= config.mqtt.max_inflight) return;
    const std::uint64_t waiting = queue.depth() > inflight.size() + 1 ? queue.depth() - inflight.size() - 1 : 0;
    const double drain_s = static_cast<double>(waiting) / config.mqtt.replay_per_s;
    if (drain_s <= report_interval_s) return;
    const std::uint64_t tag = next_tag++;
    if (link->publish(telemetry_topic, payload, false, tag)) {
      inflight[seq] = tag;
      tags[tag] = seq;
      spdlog::debug("record seq {} published ahead of a backlog of {}", seq, waiting);
    }
  }

  void schedule_pump(std::chrono::milliseconds delay) {
    if (pump_scheduled) return;
    pump_scheduled = true;
    pump_timer.expires_after(delay);
    pump_timer.async_wait([this](const boost::system::error_code& ec) {
      pump_scheduled = false;
      if (!ec) pump();
    });
  }

  void on_delivery(std::uint64_t tag, bool ok, int rc) {
    const auto t = tags.find(tag);
    if (t == tags.end()) return;  // a publish of a connection that is gone: already replayed
    const std::uint64_t seq = t->second;
    tags.erase(t);
    inflight.erase(seq);
    if (ok) {
      if (volatile_records.erase(seq) != 0) return;  // held in memory only: nothing to delete
      queue.delivered(seq);  // pushed out by the bounds before its delete, it is not a loss
      if (acked_unremoved.count(seq) != 0) return;  // its receipt came first (a copy sent earlier)
      if (receipts == receipt_mode::on) {
        // The broker has it; the gateway's receipt says it is stored. Until then it stays in the
        // file, is not sent again on this connection, and is sent again after a reconnect or the
        // gateway's birth if its receipt has not come by then (receipt_check_after_trigger).
        awaiting_receipt.emplace(seq, steady::now());
        return;
      }
      done(seq);
    } else {
      // Failed (the link dropped: rc -11, or refused): send it again, in order, from the queue.
      if (rc == MQTTASYNC_OPERATION_INCOMPLETE) {
        spdlog::debug("record seq {} not acknowledged before the link dropped; will be sent again", seq);
      } else {
        spdlog::warn("record seq {} not acknowledged (rc {}); will be sent again", seq, rc);
      }
      if (seq > 0) cursor = std::min(cursor, seq - 1);
      schedule_pump(std::chrono::milliseconds(500));
    }
  }

  /// Record `seq` is delivered for good: never sent again; deleted from the file with the next
  /// batch (delete_batch records, or delete_after_s after the first).
  void done(std::uint64_t seq) {
    acked_unremoved.insert(seq);
    if (acked_unremoved.size() >= config.queue.delete_batch) {
      if (!ack_flush_posted) {
        ack_flush_posted = true;
        boost::asio::post(io, [this] {
          ack_flush_posted = false;
          flush_acks();
          pump();
        });
      }
    } else if (!delete_timer_armed) {
      delete_timer_armed = true;
      delete_timer.expires_after(std::chrono::seconds(config.queue.delete_after_s));
      delete_timer.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: flush_acks ran (and disarmed it) or the agent stops
        delete_timer_armed = false;
        flush_acks();
      });
    }
  }

  // ---- delivery receipts (proto/receipt.hpp) ----
  /// Once per report: a record that has waited for its receipt ten report intervals (at least a
  /// real minute) while the gateway says it sends them points at the broker's ACL (the gateway may
  /// not publish receipts, or this terminal may not read them): the records stay in the file
  /// until the bounds push them out. One warning line a minute at most.
  void warn_if_receipts_stall() {
    if (receipts != receipt_mode::on || awaiting_receipt.empty()) return;
    steady::time_point oldest = steady::time_point::max();
    for (const auto& [seq, at] : awaiting_receipt) oldest = std::min(oldest, at);
    const auto limit = std::max<std::chrono::nanoseconds>(
        clock.real(std::chrono::seconds(10 * std::uint64_t{report_interval_s})), std::chrono::seconds(60));
    if (steady::now() - oldest < limit) return;
    if (receipt_stall_log.note() > 0) {
      spdlog::warn("{} records acknowledged by the broker have waited over {:.0f} s for the gateway's receipt: is "
                   "the gateway running, may it publish {} and may this terminal read it (the broker's ACL, "
                   "sewage-provision)?",
                   awaiting_receipt.size(), std::chrono::duration<double>(limit).count(), receipt_topic);
    }
  }

  /// The gateway's status: whether it sends receipts, and whether it was born again (a new
  /// connection of the gateway: what its broker session held may be lost).
  void on_gateway_status(const std::string& payload) {
    const auto d = proto::decode_gateway_status(payload);
    if (!d.ok()) {
      if (bad_gateway_status_log.note() > 0)
        spdlog::warn("gateway status ignored: {}", d.problems.front().to_string());
      return;
    }
    if (d.value->state != proto::presence::online) return;  // gone: records keep waiting for receipts
    const bool on = d.value->receipts.value_or(false);
    if (!on) {
      if (receipts != receipt_mode::off) {
        spdlog::info("the gateway sends no delivery receipts: records are deleted on the broker's PUBACK");
        receipts = receipt_mode::off;
        // What waited for a receipt is delivered as far as this gateway can say.
        for (const auto& [seq, at] : awaiting_receipt) done(seq);
        awaiting_receipt.clear();
      }
      return;
    }
    if (receipts != receipt_mode::on) {
      spdlog::info("the gateway sends delivery receipts: records are kept until the gateway has stored them");
      receipts = receipt_mode::on;
    }
    if (d.value->ts != gateway_birth) {
      gateway_birth = d.value->ts;
      receipt_check_after_trigger();
    }
  }

  /// A receipt: the records it names are stored at the gateway. Another epoch's (a queue that was
  /// replaced) names nothing of this queue and is ignored.
  void on_receipt(const std::string& payload) {
    const auto d = proto::decode_receipt(payload);
    if (!d.ok()) {
      ++receipts_rejected;
      if (bad_receipt_log.note() > 0)
        spdlog::warn("receipt rejected: {} ({} rejected so far)", d.problems.front().to_string(), receipts_rejected);
      return;
    }
    if (d.value->epoch != queue.epoch()) return;
    for (const auto& [first, last] : d.value->seqs) {
      for (auto it = awaiting_receipt.lower_bound(first); it != awaiting_receipt.end() && it->first <= last;) {
        done(it->first);
        it = awaiting_receipt.erase(it);
      }
      // A copy sent again whose earlier copy got this receipt: its PUBACK no longer matters.
      for (auto it = inflight.lower_bound(first); it != inflight.end() && it->first <= last;) {
        if (volatile_records.count(it->first) != 0) {
          ++it;  // held in memory: its PUBACK frees it
          continue;
        }
        tags.erase(it->second);
        queue.delivered(it->first);
        done(it->first);
        it = inflight.erase(it);
      }
    }
    if (!inflight.empty() || waiting() > 0) pump();
  }

  /// After a trigger (this agent's reconnect, the gateway's birth): the records acknowledged by
  /// the broker before it that still have no receipt a grace period later are sent again. The
  /// grace is one report interval (at least 2 real seconds): the receipts of what the broker kept
  /// arrive well within it, so a broker that lost nothing causes no second copies.
  void receipt_check_after_trigger() {
    receipt_trigger_at = steady::now();
    const auto grace = std::max<std::chrono::nanoseconds>(
        clock.real(std::chrono::seconds(report_interval_s)), std::chrono::seconds(2));
    receipt_timer.expires_after(grace);
    receipt_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      std::size_t again = 0;
      for (auto it = awaiting_receipt.begin(); it != awaiting_receipt.end();) {
        if (it->second < receipt_trigger_at) {
          if (it->first > 0) cursor = std::min(cursor, it->first - 1);
          it = awaiting_receipt.erase(it);
          ++again;
        } else {
          ++it;
        }
      }
      if (again > 0) {
        spdlog::info("{} records acknowledged by the broker have no receipt from the gateway: sending them again",
                     again);
        pump();
      }
    });
  }

  /// Deletes the delivered records still in the file, in one transaction (queue.delete_batch).
  /// If the storage refuses even that, they stay in the file, remembered so that they are not
  /// sent again, and the delete is retried with the next batch.
  void flush_acks() {
    if (delete_timer_armed) {
      delete_timer.cancel();  // its handler sees operation_aborted and does nothing
      delete_timer_armed = false;
    }
    if (acked_unremoved.empty()) return;
    const std::vector<std::uint64_t> all(acked_unremoved.begin(), acked_unremoved.end());
    try {
      queue.remove(all);
      acked_unremoved.clear();
    } catch (const std::exception& e) {
      if (const auto n = remove_failure_log.note()) {
        spdlog::error("queue delete failed {} times: {} ({} acknowledged records kept in the file, not sent again)",
                      n, e.what(), acked_unremoved.size());
      }
    }
  }

  /// Records in the queue file still to be delivered (the file also holds delivered ones awaiting
  /// their batched delete).
  [[nodiscard]] std::size_t waiting() const {
    const auto depth = static_cast<std::size_t>(queue.depth());
    const auto delivered = queue.delivered_count();  // without those the bounds pushed out since
    return depth > delivered ? depth - delivered : 0;
  }

  // ---- commands ----
  void on_message(const std::string& topic, const std::string& payload) {
    if (topic == receipt_topic) return on_receipt(payload);
    if (topic == gateway_status_topic) return on_gateway_status(payload);
    if (topic != command_topic) return;
    proto::command_result_message res;
    res.ts = clock.now();
    const auto cmd = proto::decode_command(payload);
    if (!cmd.ok()) {
      res.id = proto::extract_command_id(payload).value_or("unknown");
      res.ok = false;
      std::string why;
      for (const auto& p : cmd.problems) why += (why.empty() ? "" : "; ") + p.to_string();
      res.error = why.substr(0, proto::limits::max_reason_length);
      ++commands_rejected;
      spdlog::warn("command rejected: {} ({} rejected so far)", why, commands_rejected);
    } else {
      res.id = cmd.value->id;
      switch (cmd.value->name) {
        case proto::command_name::sample_now: {
          const auto seq = close_window();
          report_timer.cancel();
          if (!stopping) schedule_report();
          res.ok = seq.has_value();
          if (seq) res.result = nlohmann::json{{"seq", *seq}};
          else res.error = "the record could not be written to the queue";
          break;
        }
        case proto::command_name::snapshot_now:
          if (images) {
            images->trigger();
            res.ok = true;
            res.result = nlohmann::json::object();
          } else {
            res.ok = false;
            res.error = "no image source configured";
          }
          break;
        case proto::command_name::set_report_interval:
          report_interval_s = *cmd.value->interval_s;
          report_timer.cancel();
          schedule_report();
          res.ok = true;
          res.result = nlohmann::json{{"report_interval_s", report_interval_s}};
          spdlog::info("report interval set to {} s by command {}", report_interval_s, res.id);
          break;
        case proto::command_name::get_config: {
          nlohmann::json j = describe_config(config);
          j["effective_report_interval_s"] = report_interval_s;
          j["epoch"] = queue.epoch();
          j["queue_depth"] = waiting();
          j["dropped"] = queue.dropped();
          j["awaiting_receipt"] = awaiting_receipt.size();
          res.ok = true;
          res.result = std::move(j);
          break;
        }
      }
    }
    link->publish(result_topic, proto::encode(res), false, 0);
  }

  agent_config config;
  agent_clock clock;
  boost::asio::io_context io;
  durable_queue queue;
  interval_builder builder;
  std::uint32_t report_interval_s;
  boost::asio::steady_timer report_timer;
  boost::asio::steady_timer pump_timer;
  /// Runs flush_acks delete_after_s after the first delivered record still in the file.
  boost::asio::steady_timer delete_timer;
  bool delete_timer_armed{false};
  /// Sends again what has no receipt a grace period after a trigger (receipt_check_after_trigger).
  boost::asio::steady_timer receipt_timer;
  /// Gives back code pages every code_trim_period (real time, not the simulated clock).
  boost::asio::steady_timer trim_timer;
  /// One hour: a trim costs ~40 system calls and the minor faults that map the steady state's
  /// code back in (tens of them with large folios), nothing at the scale of an hour.
  static constexpr std::chrono::hours code_trim_period{1};
  boost::asio::signal_set signals;
  std::string telemetry_topic, status_topic, image_topic, command_topic, result_topic, receipt_topic,
      gateway_status_topic;
  /// Whether the gateway sends receipts, from its status. Unknown (no status seen since start):
  /// deleted on PUBACK as with a gateway that sends none; the retained status arrives before the
  /// PUBACKs of this connection (subscribed first), so this matters only without a gateway.
  enum class receipt_mode { unknown, on, off };
  receipt_mode receipts{receipt_mode::unknown};
  std::optional<proto::timestamp> gateway_birth;  ///< ts of the gateway's last birth seen
  /// Records the broker acknowledged that wait for the gateway's receipt: seq -> time of PUBACK.
  std::map<std::uint64_t, steady::time_point> awaiting_receipt;
  steady::time_point receipt_trigger_at{};
  std::uint64_t receipts_rejected{0};
  rate_limit bad_receipt_log{std::chrono::seconds(60)};
  rate_limit bad_gateway_status_log{std::chrono::seconds(60)};
  rate_limit receipt_stall_log{std::chrono::seconds(60)};
  std::vector<std::unique_ptr<sensor_driver>> drivers_;
  std::unique_ptr<mqtt_link> link;
  std::vector<std::unique_ptr<device_poller>> pollers;
  std::unique_ptr<image_source> images;
  std::unique_ptr<service::watchdog_keepalive> keepalive;  ///< WATCHDOG=1 from this loop (systemd)
  /// seq -> tag of its publish on the current connection, for records awaiting PUBACK.
  std::map<std::uint64_t, std::uint64_t> inflight;
  /// tag -> seq; a tag is unique per publish, so a late callback of a lost connection is ignored.
  std::map<std::uint64_t, std::uint64_t> tags;
  std::uint64_t next_tag{1};
  std::uint64_t cursor{0};
  /// Records the storage refused, held in memory until their PUBACK (not durable), by seq.
  std::map<std::uint64_t, std::string> volatile_records;
  /// Bound of volatile_records; beyond it the oldest is lost and counted in `lost`.
  static constexpr std::size_t max_volatile_records = 1000;
  /// Records neither queued nor published (memory bound): counted in each record's `dropped`.
  std::uint64_t lost{0};
  /// Delivered records still in the file (their batched delete is due, or the storage refused
  /// it); never sent again.
  std::set<std::uint64_t> acked_unremoved;
  rate_limit write_failure_log{std::chrono::seconds(60)};
  rate_limit remove_failure_log{std::chrono::seconds(60)};
  rate_limit read_failure_log{std::chrono::seconds(60)};
  rate_limit trim_failure_log{std::chrono::seconds(3600)};
  double tokens{0};
  steady::time_point last_refill;
  bool ack_flush_posted{false};
  bool pump_scheduled{false};
  bool stopping{false};
  std::optional<std::string> pending_image;
  std::uint64_t commands_rejected{0};
  std::uint64_t write_failures{0};
  sampling_window window{clock};
};

agent::agent(agent_config config, const driver_registry& drivers, agent_options options)
    : impl_(std::make_unique<impl>(std::move(config), drivers, options)) {}

agent::~agent() = default;

int agent::run() {
  impl_->start();
  impl_->io.run();
  proto::status_message bye;
  bye.terminal_id = impl_->config.terminal_id;
  bye.state = proto::presence::offline;
  bye.reason = proto::offline_reason::shutdown;
  bye.ts = impl_->clock.now();
  impl_->link->shutdown(impl_->status_topic, proto::encode(bye), std::chrono::seconds(5));
  spdlog::info("stopped; {} records waiting in the queue", impl_->waiting());
  return 0;
}

}  // namespace sewage::agent
