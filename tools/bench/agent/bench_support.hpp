#pragma once
// Small helpers for the agent benchmarks (release builds have no test support library):
// child processes by PID, a private mosquitto on a free loopback port, /proc readings.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sewage::bench {

inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

/// A child process, stdout/stderr to `log`, stdin from `in` (or /dev/null). Stopped by PID.
class process {
 public:
  process(std::vector<std::string> argv, const std::filesystem::path& log, const std::filesystem::path& in = "/dev/null") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~process() { stop(); }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Waits for exit; returns the wait status.
  int wait() {
    int st = 0;
    if (pid_ > 0) ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  pid_t pid_{-1};
};

/// Runs `argv` to completion (output appended to `log`); throws unless it exits 0.
inline void run_ok(std::vector<std::string> argv, const std::filesystem::path& log) {
  const std::string name = argv.front();
  process p(std::move(argv), log);
  const int st = p.wait();
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw std::runtime_error(name + " failed, see " + log.string());
}

/// Throw-away TLS material in `dir`, made as gateway/README.md "Terminal identities" makes the
/// county's (EC P-256 CA, a server certificate for 127.0.0.1 signed by it) plus a mosquitto
/// password file with one account. Runs openssl and mosquitto_passwd; throws if either fails.
struct tls_material {
  std::filesystem::path ca;
  std::filesystem::path cert;
  std::filesystem::path key;
  std::filesystem::path passwd;
  std::string user;
  std::string password;
};
inline tls_material make_tls_material(const std::filesystem::path& dir, const std::string& user, const std::string& password) {
  tls_material m{dir / "ca.crt", dir / "server.crt", dir / "server.key", dir / "passwd", user, password};
  const auto log = dir / "openssl.log";
  const auto f = [&](const char* name) { return (dir / name).string(); };
  run_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
          "-subj", "/CN=Bench sewage CA", "-keyout", f("ca.key"), "-out", m.ca.string()}, log);
  run_ok({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
          "-keyout", m.key.string(), "-out", f("server.csr")}, log);
  std::ofstream(dir / "server.ext") << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
  run_ok({"openssl", "x509", "-req", "-in", f("server.csr"), "-CA", m.ca.string(), "-CAkey", f("ca.key"), "-CAcreateserial",
          "-days", "30", "-extfile", f("server.ext"), "-out", m.cert.string()}, log);
  run_ok({"mosquitto_passwd", "-c", "-b", m.passwd.string(), user, password}, log);
  return m;
}

/// mosquitto on a free loopback port with limits raised for a burst (DEPENDENCIES.md §3.5).
/// With `tls`: a TLS listener (cafile/certfile/keyfile) that accepts only the password file's
/// accounts; uri() is then ssl://.
class broker {
 public:
  explicit broker(const std::filesystem::path& dir, const tls_material* tls = nullptr)
      : port_(free_port()), tls_(tls != nullptr), log_(dir / "broker.log") {
    const auto conf = dir / "mosquitto.conf";
    std::ofstream out(conf);
    out << "per_listener_settings false\nuser root\nlistener " << port_ << " 127.0.0.1\npersistence false\n"
        << "max_queued_messages 200000\nlog_dest file " << log_.string() << "\n";
    if (tls != nullptr) {
      out << "allow_anonymous false\npassword_file " << tls->passwd.string() << "\ncafile " << tls->ca.string()
          << "\ncertfile " << tls->cert.string() << "\nkeyfile " << tls->key.string() << "\n";
    } else {
      out << "allow_anonymous true\n";
    }
    out.close();
    proc_ = std::make_unique<process>(std::vector<std::string>{"mosquitto", "-c", conf.string()}, dir / "broker.out");
    for (int i = 0; i < 200 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!port_open(port_)) throw std::runtime_error("mosquitto did not start");
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string uri() const { return (tls_ ? "ssl://127.0.0.1:" : "tcp://127.0.0.1:") + std::to_string(port_); }
  /// Occurrences of `text` in the broker's log so far (e.g. its "New client connected" lines).
  [[nodiscard]] int log_count(const std::string& text) const {
    std::ifstream in(log_);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    int n = 0;
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + text.size())) ++n;
    return n;
  }

 private:
  int port_;
  bool tls_;
  std::filesystem::path log_;
  std::unique_ptr<process> proc_;
};

/// Memory figures of `pid`, KiB. VmRSS, RssAnon and RssFile come from /proc/pid/status (RssFile
/// counts every resident page of a mapped file, mostly shared-library code that other processes
/// share). Pss (each shared page divided by the number of processes mapping it) and USS
/// (Private_Clean + Private_Dirty: the memory freed if this process exits) come from
/// /proc/pid/smaps_rollup (Linux >= 4.14, proc(5)). -1 when a field cannot be read.
struct memory_kib {
  long vm_rss{-1};
  long rss_anon{-1};
  long rss_file{-1};
  long pss{-1};
  long uss{-1};
};

namespace detail {
/// The KiB value of the first line of `file` starting with `key` (e.g. "VmRSS:"), or -1.
inline long proc_field_kib(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}
}  // namespace detail

/// Reads all memory figures of `pid` at once (not atomically: the lines come from two files).
inline memory_kib memory(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  memory_kib m;
  m.vm_rss = detail::proc_field_kib(base + "/status", "VmRSS:");
  m.rss_anon = detail::proc_field_kib(base + "/status", "RssAnon:");
  m.rss_file = detail::proc_field_kib(base + "/status", "RssFile:");
  m.pss = detail::proc_field_kib(base + "/smaps_rollup", "Pss:");
  const long clean = detail::proc_field_kib(base + "/smaps_rollup", "Private_Clean:");
  const long dirty = detail::proc_field_kib(base + "/smaps_rollup", "Private_Dirty:");
  if (clean >= 0 && dirty >= 0) m.uss = clean + dirty;
  return m;
}

/// Storage I/O of `pid` from /proc/pid/io (proc(5); needs CONFIG_TASK_IO_ACCOUNTING, as Debian's
/// kernels have it): write_bytes = bytes the process caused to be sent to the storage layer (its
/// dirtied page-cache pages of block-backed files: what wears an SD card), cancelled_write_bytes =
/// of those, pages truncated before they were written back (a deleted WAL), wchar / syscw = bytes
/// and calls of write(2)-like system calls, sockets included. -1 when unreadable.
struct io_counters {
  long long write_bytes{-1};
  long long cancelled_write_bytes{-1};
  long long wchar{-1};
  long long syscw{-1};
};
inline io_counters io(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  io_counters c;
  std::string key;
  long long v = 0;
  while (in >> key >> v) {
    if (key == "write_bytes:") c.write_bytes = v;
    if (key == "cancelled_write_bytes:") c.cancelled_write_bytes = v;
    if (key == "wchar:") c.wchar = v;
    if (key == "syscw:") c.syscw = v;
  }
  return c;
}

/// Resident (Rss) and private (Private_Clean + Private_Dirty) KiB of each mapped file of `pid`,
/// summed over its mappings, plus "[anon]" for all mappings without a path (heap, stacks,
/// anonymous mmap), from /proc/pid/smaps. Sorted by Rss, largest first.
struct mapping_kib {
  std::string name;
  long rss{0};
  long pss{0};
  long uss{0};
};
inline std::vector<mapping_kib> mappings(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::vector<mapping_kib> out;
  std::size_t cur = 0;
  std::string line;
  while (std::getline(in, line)) {
    // A mapping starts with "start-end perms offset dev inode [path]"; its fields ("Rss:   4 kB")
    // follow. Only a header's first token is made of hex digits and one '-'.
    const std::string first = line.substr(0, line.find(' '));
    const bool header = first.find('-') != std::string::npos &&
                        first.find_first_not_of("0123456789abcdef-") == std::string::npos;
    if (header) {
      std::istringstream fields(line);
      std::string skip;
      for (int i = 0; i < 5; ++i) fields >> skip;
      std::string name;
      std::getline(fields >> std::ws, name);
      if (name.empty() || name[0] == '[') name = "[anon]";
      const auto it = std::find_if(out.begin(), out.end(), [&](const mapping_kib& m) { return m.name == name; });
      cur = static_cast<std::size_t>(it - out.begin());
      if (it == out.end()) out.push_back(mapping_kib{name});
      continue;
    }
    if (out.empty()) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    long* field = key == "Rss"             ? &out[cur].rss
                  : key == "Pss"           ? &out[cur].pss
                  : key == "Private_Clean" ? &out[cur].uss
                  : key == "Private_Dirty" ? &out[cur].uss
                                           : nullptr;
    if (field != nullptr) *field += std::stol(line.substr(colon + 1));
  }
  std::sort(out.begin(), out.end(), [](const mapping_kib& a, const mapping_kib& b) { return a.rss > b.rss; });
  return out;
}

/// Threads of `pid` (Threads: in /proc/pid/status), or -1.
inline long threads(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

/// Resident set size of `pid`, KiB (VmRSS in /proc/pid/status).
inline long rss_kib(pid_t pid) { return detail::proc_field_kib("/proc/" + std::to_string(pid) + "/status", "VmRSS:"); }

/// User and system CPU time of `pid`, seconds (/proc/pid/stat fields 14 utime and 15 stime).
struct cpu_split {
  double user{0};
  double sys{0};
};
inline cpu_split cpu_times(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  cpu_split c;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14) c.user = std::stod(field) / tick;
    if (i == 15) c.sys = std::stod(field) / tick;
  }
  return c;
}

/// Context switches of all live threads of `pid` (voluntary = the thread slept: each is one
/// wake-up), summed over /proc/pid/task/*/status.
inline long long voluntary_switches(pid_t pid) {
  long long n = 0;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const long v = detail::proc_field_kib((t.path() / "status").string(), "voluntary_ctxt_switches:");
    if (v > 0) n += v;
  }
  return n;
}

/// User + system CPU time of `pid`, seconds (/proc/pid/stat fields 14 and 15).
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace sewage::bench
