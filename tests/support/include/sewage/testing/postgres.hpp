#pragma once
/// \file
/// A real PostgreSQL server for tests (issue 16), like mosquitto.hpp's broker: `initdb` into a
/// temporary folder, `postgres` in the foreground on a free loopback port (listen_addresses
/// 127.0.0.1 only, its unix socket inside the folder), readiness = its log says it accepts
/// connections, stopped by its PID (SIGINT: fast shutdown, then SIGKILL), log in a file.
///
/// PostgreSQL refuses to run as root: when this process is root, initdb and postgres run as an
/// unprivileged user through `setpriv --reuid --regid --clear-groups` (util-linux), which execs
/// in place, so the PID we hold is the server's. The user is the first that exists of
/// $SEWAGE_PG_USER, "postgres" (created by Debian's postgresql-common) and "nobody".
///
/// The binaries come from $SEWAGE_PG_BINDIR, else /usr/lib/postgresql/15/bin (Debian 12's
/// postgresql-15), else the highest /usr/lib/postgresql/<n>/bin holding initdb.

#include "sewage/testing/process.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace sewage::testing {

class postgres_server {
 public:
  /// Creates the cluster (superuser "sewage", trust authentication on loopback only, UTF8) and
  /// starts the server. Throws std::runtime_error naming the step, with initdb's or the server's
  /// log, when the binaries are missing, no unprivileged user exists (as root), initdb fails or
  /// the server does not accept connections within 60 s: tests must fail loudly then.
  postgres_server();
  /// Stops the server (fast shutdown by PID) and removes its folder.
  ~postgres_server();
  postgres_server(const postgres_server&) = delete;
  postgres_server& operator=(const postgres_server&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] pid_t pid() const;
  /// libpq keyword connection string for database `dbname` over TCP on 127.0.0.1, user "sewage".
  [[nodiscard]] std::string uri(const std::string& dbname = "postgres") const;
  /// The server's log so far (initdb's output first).
  [[nodiscard]] std::string log() const;
  /// The binaries' folder in use.
  [[nodiscard]] const std::filesystem::path& bindir() const noexcept { return bindir_; }

 private:
  std::unique_ptr<temp_dir> dir_;
  std::filesystem::path bindir_;
  std::vector<std::string> as_user_;  // the setpriv prefix when root, else empty
  int port_{0};
  std::unique_ptr<child_process> server_;
};

}  // namespace sewage::testing
