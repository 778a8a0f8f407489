#pragma once
/// \file
/// A write-ahead journal of received MQTT messages. Paho 1.2 acknowledges a QoS 1 message to the
/// broker as soon as the message callback returns, long before the engine's batch that holds its
/// effects is committed. So the callback appends each message here first (one small SQLite
/// transaction, WAL, synchronous=NORMAL: it survives a killed process), the engine works as
/// before, and after each committed batch the journal is released up to the last message the
/// batch contains. At start the gateway replays what is left, in arrival order; de-duplication
/// makes a replay of already-committed records harmless. Nothing the broker considers delivered
/// is lost to SIGKILL.

#include "sewage/gateway/engine.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sewage::gateway {

class durable_inbox {
 public:
  /// Opens or creates the journal at `path` (a SQLite file of its own, so appends never wait for
  /// the store's write lock). Throws std::runtime_error naming the file on failure.
  explicit durable_inbox(const std::filesystem::path& path);
  ~durable_inbox();
  durable_inbox(const durable_inbox&) = delete;
  durable_inbox& operator=(const durable_inbox&) = delete;

  /// Appends and commits one message; returns its id (strictly increasing). Thread-safe.
  /// Throws std::runtime_error if SQLite fails (disk full).
  std::uint64_t append(const inbound_message& m);
  /// Messages not yet released, oldest first, with their ids. Thread-safe.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, inbound_message>> pending();
  /// Forgets every message with id <= `id`: their effects are committed in the store.
  /// Thread-safe; throws std::runtime_error if SQLite fails.
  void release_through(std::uint64_t id);
  /// Messages held. Thread-safe.
  [[nodiscard]] std::uint64_t size();

 private:
  std::mutex mutex_;
  sqlite3* db_{nullptr};
  sqlite3_stmt* insert_{nullptr};
  sqlite3_stmt* release_{nullptr};
};

}  // namespace sewage::gateway
