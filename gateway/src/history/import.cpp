// The history room: importing recorded interval records through the engine (history/import.hpp).
#include "sewage/gateway/history/import.hpp"

#include "sewage/gateway/alarms/discipline.hpp"
#include "sewage/gateway/alarms/discipline_db.hpp"
#include "sewage/gateway/clock.hpp"
#include "sewage/gateway/engine.hpp"
#include "sewage/gateway/incidents/correlator.hpp"
#include "sewage/gateway/rules.hpp"
#include "sewage/gateway/store_factory.hpp"

#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/topic.hpp>

#include <algorithm>

namespace sewage::gateway::history {
namespace {

/// Flush when this many writes wait (as the live gateway does under a burst).
constexpr std::size_t flush_every = 5000;
constexpr std::size_t max_problems = 20;

/// The engine's clock during an import: the stamp of the record being judged.
class following_clock final : public clock_source {
 public:
  [[nodiscard]] proto::timestamp now() const noexcept override { return now_; }
  void set(proto::timestamp t) noexcept { now_ = std::max(now_, t); }

 private:
  proto::timestamp now_{};
};

/// Nothing is published during an import (the live gateway republishes open alerts on connect).
class no_publisher final : public publisher {
 public:
  void publish(const std::string&, const std::string&, bool) noexcept override {}
};

struct pending_record {
  proto::timestamp ts;
  std::string terminal_id;
  std::string payload;
};

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

import_summary import_records(const config& cfg, registry reg, const network::holder& pipes, std::istream& in) {
  import_summary sum;
  auto refuse = [&sum](std::uint64_t line, const std::string& why) {
    ++sum.refused;
    if (sum.problems.size() < max_problems) sum.problems.push_back("line " + std::to_string(line) + ": " + why);
  };
  // Read and check every line first: the engine then sees the county's records in time order.
  std::vector<pending_record> records;
  std::string line;
  std::uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (is_blank(line)) continue;
    ++sum.lines;
    auto d = proto::decode_telemetry(line);
    if (!d.ok()) {
      refuse(n, d.problems.empty() ? std::string("not a telemetry payload") : d.problems.front().to_string());
      continue;
    }
    if (!reg.find(d.value->terminal_id)) {
      refuse(n, "terminal " + d.value->terminal_id + " is not in the registry");
      continue;
    }
    records.push_back({d.value->ts, d.value->terminal_id, std::move(line)});
  }
  if (in.bad()) throw std::runtime_error("line " + std::to_string(n + 1) + ": cannot be read");
  std::stable_sort(records.begin(), records.end(),
                   [](const pending_record& a, const pending_record& b) { return a.ts < b.ts; });

  const auto db_owner = open_store(cfg, store_access::read_write);  // store.backend (store_factory.hpp)
  store& db = *db_owner;
  following_clock clock;
  if (!records.empty()) clock.set(records.front().ts);
  no_publisher pub;
  // The live chain without its notifier: incidents are correlated, nothing is sent.
  alarms::discipline alarm_discipline(alarms::open_discipline_db(cfg), cfg.alarms, cfg.zone, clock, nullptr, nullptr);
  incidents::correlator incident_room(incidents::open_incident_db(cfg), pipes, clock, &alarm_discipline);
  alarm_discipline.set_held_back([&incident_room](std::uint64_t id) { return incident_room.held_back(id); });
  engine eng(cfg, std::move(reg), db, clock, pub, default_rules(), &incident_room);
  // Nothing is notified from history, so nothing is held for a notification (a held raise would
  // be stored and notified by the next live start).
  auto weather = cfg.weather;
  weather.hold = std::chrono::seconds(0);
  incident_room.set_weather(weather);
  incident_room.set_site_health(
      [&eng](const std::string& site, network::node_kind kind) { return incidents::engine_health(eng, site, kind); });
  incident_room.set_running_high(
      [&eng](double factor, sewage::proto::timestamp at) { return eng.terminals_running_high(factor, at); });
  eng.set_weather_spans([&incident_room](std::int64_t from_ms, std::int64_t to_ms) {
    return incident_room.weather_spans(from_ms, to_ms);
  });
  (void)incident_room.reconcile(eng.open_alerts());
  const engine_metrics before = eng.metrics();
  for (auto& r : records) {
    clock.set(r.ts);
    inbound_message msg;
    msg.topic = proto::telemetry_topic(r.terminal_id);
    msg.payload = std::move(r.payload);
    msg.arrival = r.ts;
    const auto accepted = eng.metrics().records_accepted;
    eng.handle(msg);
    if (eng.metrics().records_accepted > accepted) {
      if (!sum.first || r.ts < *sum.first) sum.first = r.ts;
      if (!sum.last || r.ts > *sum.last) sum.last = r.ts;
    }
    if (eng.pending_writes() >= flush_every && !eng.flush(true))
      throw store_error("the store refused a commit (see the log); what was committed before stays");
  }
  if (!eng.flush(true)) throw store_error("the store refused the last commit (see the log)");
  const engine_metrics& after = eng.metrics();
  sum.accepted = after.records_accepted - before.records_accepted;
  sum.duplicates = after.duplicates - before.duplicates;
  sum.alerts_raised = after.alerts_raised - before.alerts_raised;
  sum.alerts_cleared = after.alerts_cleared - before.alerts_cleared;
  sum.other = records.size() - sum.accepted - sum.duplicates;
  return sum;
}

}  // namespace sewage::gateway::history
