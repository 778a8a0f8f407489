// Bytes per stored record of history, raw and once rolled up into hourly values (issue 16 item 5).
//
//   gateway_bench_history_size [--terminals 38] [--days 7] [--backend sqlite|postgresql]
//
// Writes `days` of one record a minute for each terminal through the store interface (batches of
// one minute of the county, as the engine commits them), with payloads like the terminal agent's
// (flow with totalizer, turbidity with its window's extremes, sludge level and clean-out flag,
// queue figures). Then rolls every record up (store::roll_up_records_before) and measures again.
// SQLite: the database file after a WAL checkpoint, less the empty schema's size; "compacted" is
// after VACUUM (what a file reaches once its free pages are reused). PostgreSQL (a server started
// by this program on a free loopback port, stopped by PID): pg_total_relation_size of the record
// partitions and of the hourly table, after VACUUM. Prints the figures; asserts nothing.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/store.hpp"
#include "sewage/gateway/store_factory.hpp"

#include <sewage/testing/postgres.hpp>
#include <sewage/testing/process.hpp>

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace {

using namespace sewage;
using namespace sewage::gateway;
using steady = std::chrono::steady_clock;

std::string terminal_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "HY-T%02zu-%03zu", i % 9, i);
  return buf;
}

/// A record as the agent sends it, with plausible measured decimals.
proto::telemetry_record agent_record(std::size_t i, std::uint64_t seq, proto::timestamp ts, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  proto::telemetry_record r;
  r.terminal_id = terminal_id(i);
  r.epoch = "7f3a9c21e4b05d18";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  const double rate = 0.4 + 1.6 * u(rng);
  r.flow = proto::flow_reading{proto::quantity_status::ok, std::round(rate * 1000) / 1000,
                               std::round((12000.0 + static_cast<double>(seq) * 0.021) * 1000) / 1000, std::nullopt};
  const double ntu = std::round((3.0 + 4.0 * u(rng)) * 100) / 100;
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, ntu, std::round((ntu - 0.4) * 100) / 100,
                                         std::round((ntu + 0.6) * 100) / 100, std::nullopt};
  r.sludge = proto::sludge_reading{proto::quantity_status::ok, std::round((0.8 + 0.1 * u(rng)) * 1000) / 1000, false,
                                   std::nullopt};
  return r;
}

std::uintmax_t sqlite_bytes(const std::filesystem::path& db, bool vacuum) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("cannot open " + db.string());
  sqlite3_exec(raw, vacuum ? "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);" : "PRAGMA wal_checkpoint(TRUNCATE);", nullptr,
               nullptr, nullptr);
  sqlite3_close(raw);
  return std::filesystem::file_size(db);
}

struct pg_sizes {
  std::int64_t records{0}, hourly{0};
};
pg_sizes pg_bytes(const std::string& uri) {
  pqxx::connection c(uri);
  {
    pqxx::nontransaction t(c);
    t.exec("VACUUM ANALYZE");
  }
  pqxx::nontransaction t(c);
  const auto r = t.exec(
      "SELECT coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits"
      " WHERE inhparent = 'records'::regclass), 0)::bigint, pg_total_relation_size('hourly')");
  return {r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("history bytes per record, raw and rolled up");
  std::size_t terminals = 38;
  int days = 7;
  std::string backend = "sqlite";
  app.add_option("--terminals", terminals)->check(CLI::Range(1, 100000));
  app.add_option("--days", days)->check(CLI::Range(1, 400));
  app.add_option("--backend", backend)->check(CLI::IsMember({"sqlite", "postgresql"}));
  CLI11_PARSE(app, argc, argv);

  testing::temp_dir dir("bench-history");
  std::unique_ptr<testing::postgres_server> pg;
  config cfg;
  cfg.store_path = dir.path() / "gateway.db";
  if (backend == "postgresql") {
    pg = std::make_unique<testing::postgres_server>();
    cfg.backend = store_backend::postgresql;
    cfg.postgresql_uri = pg->uri();
  }
  auto db = open_store(cfg, store_access::read_write);
  const auto empty = backend == "sqlite" ? sqlite_bytes(cfg.store_path, false) : 0;

  std::mt19937 rng(1);
  const auto start = proto::timestamp(std::chrono::milliseconds(1'764'547'200'000));  // 2025-12-01T00:00Z
  const std::size_t minutes = static_cast<std::size_t>(days) * 1440;
  const auto t0 = steady::now();
  std::uint64_t n = 0;
  for (std::size_t m = 0; m < minutes; ++m) {
    write_batch b;
    const auto ts = start + std::chrono::minutes(m);
    for (std::size_t i = 0; i < terminals; ++i) {
      b.records.push_back({agent_record(i, m + 1, ts, rng), ts + std::chrono::seconds(2), ""});
      ++n;
    }
    db->apply(b);
  }
  const double write_s = std::chrono::duration<double>(steady::now() - t0).count();
  std::printf("backend %s: %zu terminals x %d days, %llu records written in %.1f s (%.0f records/s)\n", backend.c_str(),
              terminals, days, static_cast<unsigned long long>(n), write_s, static_cast<double>(n) / write_s);

  const auto end = start + std::chrono::minutes(minutes) + std::chrono::minutes(1);
  if (backend == "sqlite") {
    const auto raw = sqlite_bytes(cfg.store_path, false) - empty;
    const auto raw_compact = sqlite_bytes(cfg.store_path, true) - empty;
    std::printf("raw records: %.1f MB as written, %.1f B/record; %.1f B/record compacted\n", raw / 1e6,
                static_cast<double>(raw) / static_cast<double>(n), static_cast<double>(raw_compact) / static_cast<double>(n));
  } else {
    const auto s = pg_bytes(cfg.postgresql_uri);
    std::printf("raw records: %.1f MB, %.1f B/record (partitions with their indexes)\n", s.records / 1e6,
                static_cast<double>(s.records) / static_cast<double>(n));
  }
  const auto t1 = steady::now();
  const auto rolled = db->roll_up_records_before(end, 0).records;
  const double roll_s = std::chrono::duration<double>(steady::now() - t1).count();
  std::printf("rolled up %zu records into hourly values in %.1f s (%.0f records/s)\n", rolled, roll_s,
              static_cast<double>(rolled) / roll_s);
  db.reset();
  if (backend == "sqlite") {
    const auto after = sqlite_bytes(cfg.store_path, true) - empty;
    std::printf("rolled up: %.2f MB, %.2f B/record (compacted)\n", after / 1e6,
                static_cast<double>(after) / static_cast<double>(n));
  } else {
    const auto s = pg_bytes(cfg.postgresql_uri);
    std::printf("rolled up: hourly %.2f MB, records left %.2f MB: %.2f B/record\n", s.hourly / 1e6, s.records / 1e6,
                static_cast<double>(s.hourly + s.records) / static_cast<double>(n));
  }
  return 0;
}
