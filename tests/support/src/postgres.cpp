#include "sewage/testing/postgres.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sewage::testing {
namespace {

std::filesystem::path find_bindir() {
  if (const char* e = std::getenv("SEWAGE_PG_BINDIR"); e != nullptr && *e != '\0') return e;
  const std::filesystem::path debian12 = "/usr/lib/postgresql/15/bin";
  if (std::filesystem::exists(debian12 / "initdb")) return debian12;
  std::filesystem::path best;
  int best_v = -1;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto name = d.path().filename().string();
    char* end = nullptr;
    const long v = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0' || !std::filesystem::exists(d.path() / "bin" / "initdb")) continue;
    if (v > best_v) best_v = static_cast<int>(v), best = d.path() / "bin";
  }
  if (best.empty())
    throw std::runtime_error(
        "postgres_server: no initdb in /usr/lib/postgresql/15/bin nor /usr/lib/postgresql/*/bin (install "
        "postgresql-15: tools/install-deps) and SEWAGE_PG_BINDIR is not set");
  return best;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

postgres_server::postgres_server() : dir_(std::make_unique<temp_dir>("sewage-pg")), bindir_(find_bindir()) {
  const auto& dir = dir_->path();
  if (::geteuid() == 0) {
    const passwd* pw = nullptr;
    std::string user;
    for (const char* u : {static_cast<const char*>(std::getenv("SEWAGE_PG_USER")), "postgres", "nobody"}) {
      if (u == nullptr || *u == '\0') continue;
      if ((pw = ::getpwnam(u)) != nullptr) {
        user = u;
        break;
      }
    }
    if (pw == nullptr || pw->pw_uid == 0)
      throw std::runtime_error("postgres_server: running as root and no unprivileged user (postgres, nobody) to run "
                               "PostgreSQL as (initdb refuses root)");
    const auto uid = pw->pw_uid;
    const auto gid = pw->pw_gid;
    as_user_ = {"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid), "--clear-groups", "--"};
    if (::chown(dir.c_str(), uid, gid) != 0)
      throw std::runtime_error("postgres_server: chown " + dir.string() + " to " + user + " failed");
  }
  const auto data = dir / "data";
  const auto initdb_log = dir / "initdb.log";
  {
    auto argv = as_user_;
    for (const auto& a : {(bindir_ / "initdb").string(), std::string("-D"), data.string(), std::string("-U"),
                          std::string("sewage"), std::string("-A"), std::string("trust"), std::string("-E"),
                          std::string("UTF8"), std::string("--no-locale"), std::string("--no-sync")})
      argv.push_back(a);
    child_process initdb(argv, initdb_log);
    const auto st = initdb.wait_for_exit(std::chrono::seconds(120));
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
      if (!st) initdb.kill_now();
      throw std::runtime_error("postgres_server: initdb failed:\n" + read_file(initdb_log));
    }
  }
  // Up to three ports: another process may take the free port before the server binds it.
  const auto log_path = dir / "postgres.log";
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_loopback_port();
    auto argv = as_user_;
    // fsync off: a throw-away test cluster (durability is not what these tests check).
    for (const auto& a : {(bindir_ / "postgres").string(), std::string("-D"), data.string(), std::string("-p"),
                          std::to_string(port_), std::string("-k"), dir.string(), std::string("-c"),
                          std::string("listen_addresses=127.0.0.1"), std::string("-c"), std::string("fsync=off"),
                          std::string("-c"), std::string("shared_buffers=16MB"), std::string("-c"),
                          std::string("max_connections=40")})
      argv.push_back(a);
    { std::ofstream(log_path, std::ios::app) << "--- postgres on port " << port_ << "\n"; }
    server_ = std::make_unique<child_process>(argv, log_path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool ready = false, exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!server_->running()) {
        exited = true;
        break;
      }
      if (server_->log().find("database system is ready to accept connections") != std::string::npos &&
          port_accepts(port_)) {
        ready = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (ready) return;
    const bool port_taken = exited && server_->log().find("Address already in use") != std::string::npos;
    server_->kill_now();
    if (!port_taken || attempt == 2)
      throw std::runtime_error(std::string("postgres_server: the server ") + (exited ? "exited" : "did not accept connections within 60 s") +
                               " (binaries " + bindir_.string() + "):\n" + read_file(log_path));
  }
}

postgres_server::~postgres_server() {
  if (server_) {
    server_->signal(SIGINT);  // fast shutdown: ends client sessions, writes a checkpoint
    if (!server_->wait_for_exit(std::chrono::seconds(20))) server_->kill_now();
  }
}

pid_t postgres_server::pid() const { return server_ ? server_->pid() : -1; }

std::string postgres_server::uri(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=sewage dbname=" + dbname + " connect_timeout=10";
}

std::string postgres_server::log() const {
  return read_file(dir_->path() / "initdb.log") + read_file(dir_->path() / "postgres.log");
}

}  // namespace sewage::testing
