// sewage-provision's work: broker accounts, ACL, mosquitto config and agent snippets (provision.hpp).
#include "sewage/provision/provision.hpp"

#include <sewage/gateway/registry.hpp>
#include <sewage/proto/broker_uri.hpp>
#include <sewage/proto/gateway_probe.hpp>
#include <sewage/proto/receipt.hpp>
#include <sewage/proto/timestamp.hpp>
#include <sewage/proto/topic.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sewage::provision {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

/// Exclusive lock on out/.lock for the lifetime of the object (two provisioning runs serialise).
class dir_lock {
 public:
  explicit dir_lock(const fs::path& out) {
    const auto p = out / ".lock";
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw provision_error("cannot open " + p.string() + ": " + errno_text());
    if (::flock(fd_, LOCK_EX) != 0) throw provision_error("cannot lock " + p.string() + ": " + errno_text());
  }
  ~dir_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

 private:
  int fd_{-1};
};

/// Removes a file at scope exit unless released (the plaintext password list must never stay).
struct unlink_guard {
  fs::path path;
  ~unlink_guard() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

void make_dir(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw provision_error("cannot create " + dir.string() + ": " + ec.message());
  if (::chmod(dir.c_str(), mode) != 0) throw provision_error("cannot chmod " + dir.string() + ": " + errno_text());
}

/// Writes `text` to `path` atomically (temporary file in the same folder, fsync, rename) with
/// `mode`. Returns false (and writes nothing) when the file already holds exactly `text`.
bool write_file(const fs::path& path, const std::string& text, mode_t mode, bool only_if_changed = false) {
  if (only_if_changed) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str() == text) return false;
    }
  }
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw provision_error("cannot write " + tmp.string() + ": " + errno_text());
  unlink_guard guard{tmp};
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      throw provision_error("cannot write " + tmp.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const std::string why = errno_text();
  ::close(fd);
  if (!synced) throw provision_error("cannot write " + tmp.string() + ": " + why);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw provision_error("cannot rename " + tmp.string() + ": " + errno_text());
  guard.path.clear();
  return true;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `argv` and waits; returns its combined output, throws provision_error on a failure.
std::string run(const std::vector<std::string>& argv) {
  std::array<int, 2> pipe_fd{};
  if (::pipe2(pipe_fd.data(), O_CLOEXEC) != 0) throw provision_error("pipe: " + errno_text());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fd[1]);
  std::string output;
  if (rc == 0) {
    std::array<char, 4096> buf{};
    for (;;) {
      const auto n = ::read(pipe_fd[0], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      output.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  ::close(pipe_fd[0]);
  if (rc != 0) throw provision_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw provision_error(argv[0] + " failed (status " + std::to_string(status) + "): " + output);
  return output;
}

/// TOML basic string with the characters TOML requires escaped (ids and base64url passwords
/// need none; paths might hold a quote or backslash).
std::string toml_string(std::string_view s) {
  std::ostringstream os;
  os << toml::value<std::string>(std::string(s));
  return os.str();
}

/// The password of an existing snippet (out/agents/<ID>.toml or out/gateway.toml), or "" when the
/// file does not exist. A file that exists but holds no usable password is an error naming it: a
/// silent new password would lock out an installed terminal.
std::string existing_password(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  try {
    const auto t = toml::parse_file(file.string());
    if (const auto pw = t["mqtt"]["password"].value<std::string>(); pw && !pw->empty()) return *pw;
  } catch (const toml::parse_error& e) {
    throw provision_error(file.string() + ": " + std::string(e.description()) +
                          " (fix or delete it: deleting issues a new password that must be installed on the terminal)");
  }
  throw provision_error(file.string() + ": no mqtt.password (fix or delete it: deleting issues a new password that "
                                        "must be installed on the terminal)");
}

/// revoked.txt: "<ID>\t<time>" lines, in order of revocation.
std::vector<std::pair<std::string, std::string>> read_revoked(const fs::path& out) {
  std::vector<std::pair<std::string, std::string>> list;
  std::istringstream in(read_text(out / "revoked.txt"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    list.emplace_back(line.substr(0, tab), tab == std::string::npos ? std::string() : line.substr(tab + 1));
  }
  return list;
}

void write_revoked(const fs::path& out, const std::vector<std::pair<std::string, std::string>>& list) {
  std::string text = "# Revoked terminals (sewage-provision revoke): never issued a credential again unless\n"
                     "# reinstated (sewage-provision provision --reinstate ID). Terminal id, UTC time.\n";
  for (const auto& [id, when] : list) text += id + "\t" + when + "\n";
  write_file(out / "revoked.txt", text, 0600);
}

std::string now_utc() {
  return proto::format_timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

fs::path broker_dir_of(const fs::path& out, const fs::path& broker_dir) {
  return broker_dir.empty() ? out / "broker" : broker_dir;
}

/// With root rights and a `mosquitto` group: the broker's files belong to that group (mosquitto
/// drops to that user after reading its config and reads the password file afterwards).
void give_to_broker_group(const fs::path& p) {
  if (::geteuid() != 0) return;
  const group* g = ::getgrnam("mosquitto");
  if (g == nullptr) return;
  if (::chown(p.c_str(), 0, g->gr_gid) != 0) throw provision_error("cannot chown " + p.string() + ": " + errno_text());
}

std::string agent_snippet(const std::string& id, const options& o, const std::string& password) {
  std::string s = "# Written by sewage-provision for terminal " + id +
                  ". SECRET: this terminal's broker password.\n"
                  "# Install on this terminal only (merge into its agent config, mode 0600); a copy on another\n"
                  "# terminal is refused by the broker (client id = username = terminal_id).\n"
                  "terminal_id = " + toml_string(id) + "\n\n[mqtt]\nuri = " + toml_string(o.uri) + "\n";
  if (o.allow_plaintext && !proto::broker_uri_uses_tls(o.uri)) s += "allow_plaintext = true\n";
  s += "username = " + toml_string(id) + "\npassword = " + toml_string(password) + "\n";
  if (!o.ca_file.empty()) s += "ca_file = " + toml_string(o.ca_file) + "\n";
  return s;
}

std::string gateway_snippet(const options& o, const std::string& password) {
  std::string s = "# Written by sewage-provision: the gateway's broker account. SECRET: holds its password.\n"
                  "# Copy these keys into the [mqtt] table of the gateway's config (mode 0600).\n"
                  "[mqtt]\nuri = " + toml_string(o.uri) + "\n";
  if (o.allow_plaintext && !proto::broker_uri_uses_tls(o.uri)) s += "allow_plaintext = true\n";
  s += "client_id = " + toml_string(gateway_account) + "\nusername = " + toml_string(gateway_account) +
       "\npassword = " + toml_string(password) + "\n";
  if (!o.ca_file.empty()) s += "ca_file = " + toml_string(o.ca_file) + "\n";
  return s;
}

std::string broker_conf(const options& o, const fs::path& broker_dir) {
  const bool tls = proto::broker_uri_uses_tls(o.uri);
  std::string s =
      "# Written by sewage-provision. Per-terminal identities for the sewage telemetry broker.\n"
      "# Include it from mosquitto.conf (Debian: ln -s it to /etc/mosquitto/conf.d/sewage-identities.conf),\n"
      "# beside /etc/mosquitto/conf.d/sewage.conf (sewage-gateway package, from\n"
      "# gateway/mosquitto.example.conf: persistence, queue limits). Reload after every change:\n"
      "# systemctl reload mosquitto (SIGHUP): reloads passwd and acl, disconnects revoked clients.\n"
      "per_listener_settings false\n"
      "listener " + std::to_string(o.listener_port) + (o.listener_address.empty() ? "" : " " + o.listener_address) + "\n";
  if (tls) {
    s += "# TLS: terminals and the gateway check this certificate against their ca_file and its\n"
         "# subjectAltName against the host of their mqtt.uri.\n"
         "certfile " + o.broker_cert_file + "\nkeyfile " + o.broker_key_file + "\ntls_version tlsv1.2\n";
  } else {
    s += "# PLAINTEXT listener (sewage-provision --allow-plaintext): passwords travel unencrypted.\n";
  }
  s += "# Every client needs an account; the client id is forced to the username, so a terminal can\n"
       "# neither publish as nor take over the session of another.\n"
       "allow_anonymous false\n"
       "use_username_as_clientid true\n"
       "password_file " + (fs::absolute(broker_dir) / "passwd").string() + "\n" +
       "acl_file " + (fs::absolute(broker_dir) / "acl").string() + "\n";
  return s;
}

/// A topic of terminal `%u` built by proto (the only owner of topic strings) for a placeholder id;
/// with level "+" it is the filter covering every terminal.
std::string pattern_topic(std::string (*make)(std::string_view), std::string_view level = "%u") {
  constexpr std::string_view placeholder = "PLACEHOLDERID";
  std::string t = make(placeholder);
  t.replace(t.find(placeholder), placeholder.size(), level);
  return t;
}

}  // namespace

std::string random_password() {
  std::array<unsigned char, 24> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const auto n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw provision_error("getrandom: " + errno_text());
    got += static_cast<std::size_t>(n);
  }
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const unsigned v = (bytes[i] << 16U) | (bytes[i + 1] << 8U) | bytes[i + 2];
    for (int k = 3; k >= 0; --k) out += alphabet[(v >> (6U * static_cast<unsigned>(k))) & 63U];
  }
  return out;
}

std::string acl_text() {
  std::string s =
      "# Written by sewage-provision. mosquitto acl_file: %u is the username = the terminal id\n"
      "# (use_username_as_clientid), so each terminal may publish only its own topics and read only\n"
      "# its own commands. Anything else is denied: a PUBLISH elsewhere is dropped (MQTT 3.1.1 still\n"
      "# gets its PUBACK, 5 gets reason 135), logged as \"Denied PUBLISH\" at log_type debug.\n";
  for (auto* make : {&proto::telemetry_topic, &proto::status_topic, &proto::image_topic, &proto::command_result_topic})
    s += "pattern write " + pattern_topic(make) + "\n";
  s += "pattern read " + pattern_topic(&proto::command_topic) + "\n";
  s += "# Its delivery receipts (proto/receipt.hpp), and the gateway's status that says it sends them.\n";
  s += "pattern read " + pattern_topic(&proto::receipt_topic) + "\n";
  s += "pattern read " + proto::gateway_status_topic() + "\n\n";
  s += "# The gateway reads everything of the contract and writes commands, alerts, receipts and its own status.\n";
  s += "user " + std::string(gateway_account) + "\n";
  s += "topic read " + std::string(proto::topic_root) + "/#\n";
  s += "topic write " + proto::subscription_filter(proto::topic_kind::command) + "\n";
  s += "topic write " + proto::subscription_filter(proto::topic_kind::alert) + "\n";
  s += "topic write " + proto::gateway_status_topic() + "\n";
  s += "topic write " + pattern_topic(&proto::receipt_topic, "+") + "\n";
  s += "# Its loopback probe (proto/gateway_probe.hpp): proves the broker path, so a stalled broker\n";
  s += "# is not taken for every terminal falling silent.\n";
  s += "topic write " + proto::gateway_probe_topic() + "\n";
  return s;
}

provision_result provision(const options& o) {
  if (o.out.empty()) throw provision_error("--out: required");
  if (const auto why = proto::broker_uri_problem(o.uri)) throw provision_error("--uri: " + *why + " in \"" + o.uri + "\"");
  const bool tls = proto::broker_uri_uses_tls(o.uri);
  if (!tls && !o.allow_plaintext)
    throw provision_error("--uri: \"" + o.uri + "\" is plaintext: pass --allow-plaintext to accept that (not recommended), or use ssl://");
  if (tls && (o.broker_cert_file.empty() || o.broker_key_file.empty()))
    throw provision_error("--broker-cert and --broker-key: required with a TLS --uri (the broker's certificate and key)");
  if (!tls && !o.ca_file.empty())
    throw provision_error("--ca-file: set but \"" + o.uri + "\" is plaintext: use ssl://, or drop --ca-file");
  if (o.listener_port < 1 || o.listener_port > 65535)
    throw provision_error("--listener-port: must be 1..65535, got " + std::to_string(o.listener_port));

  const auto reg = gateway::load_registry(o.registry, gateway::thresholds{});
  const fs::path broker_dir = broker_dir_of(o.out, o.broker_dir);
  make_dir(o.out, 0700);
  dir_lock lock(o.out);
  make_dir(o.out / "agents", 0700);
  make_dir(broker_dir, 0750);
  give_to_broker_group(broker_dir);

  auto revoked = read_revoked(o.out);
  for (const auto& id : o.reinstate) {
    const auto before = revoked.size();
    std::erase_if(revoked, [&](const auto& r) { return r.first == id; });
    if (revoked.size() == before) throw provision_error("--reinstate " + id + ": not in " + (o.out / "revoked.txt").string());
  }
  if (!o.reinstate.empty()) write_revoked(o.out, revoked);
  std::set<std::string> revoked_ids;
  for (const auto& r : revoked) revoked_ids.insert(r.first);

  provision_result res;
  res.broker_dir = broker_dir;
  std::map<std::string, std::string> accounts;  // username -> plaintext password
  std::set<std::string> registered;
  for (const auto& t : reg.terminals()) {
    if (t.id == gateway_account)
      throw provision_error(o.registry.string() + ": terminal id \"" + t.id + "\" is the gateway's broker account name");
    ++res.terminals;
    registered.insert(t.id);
    if (revoked_ids.count(t.id) != 0) {
      res.revoked_skipped.push_back(t.id);
      continue;
    }
    const fs::path snippet = o.out / "agents" / (t.id + ".toml");
    std::string pw = existing_password(snippet);
    if (pw.empty()) {
      pw = random_password();
      ++res.issued;
    } else {
      ++res.kept;
    }
    write_file(snippet, agent_snippet(t.id, o, pw), 0600, true);
    accounts.emplace(t.id, std::move(pw));
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(o.out / "agents", ec)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".toml") continue;
    const auto id = e.path().stem().string();
    if (registered.count(id) == 0) res.unregistered.push_back(id);
  }
  std::sort(res.unregistered.begin(), res.unregistered.end());

  std::string gw_pw = existing_password(o.out / "gateway.toml");
  if (gw_pw.empty()) gw_pw = random_password();
  write_file(o.out / "gateway.toml", gateway_snippet(o, gw_pw), 0600, true);
  accounts.emplace(std::string(gateway_account), gw_pw);

  // Password file: a plaintext list (0600, never left behind) hashed in place by
  // mosquitto_passwd -U (one process for every account), then renamed over passwd.
  const fs::path plain = broker_dir / ".passwd.new";
  unlink_guard guard{plain};
  {
    std::string text;
    for (const auto& [user, pw] : accounts) text += user + ":" + pw + "\n";
    ::unlink(plain.c_str());
    const int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw provision_error("cannot write " + plain.string() + ": " + errno_text());
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) throw provision_error("cannot write " + plain.string() + ": " + errno_text());
  }
  run({o.mosquitto_passwd, "-U", plain.string()});
  const std::string hashed = read_text(plain);
  if (std::count(hashed.begin(), hashed.end(), '\n') != static_cast<std::ptrdiff_t>(accounts.size()) ||
      hashed.find(":$") == std::string::npos)
    throw provision_error(o.mosquitto_passwd + " -U did not hash " + plain.string());
  write_file(broker_dir / "passwd", hashed, 0640);
  give_to_broker_group(broker_dir / "passwd");
  write_file(broker_dir / "acl", acl_text(), 0644, true);
  write_file(broker_dir / "sewage.conf", broker_conf(o, broker_dir), 0644, true);
  return res;
}

revoke_result revoke(const fs::path& out, const fs::path& broker_dir_opt, const std::string& id) {
  if (!proto::is_valid_terminal_id(id)) throw provision_error("\"" + id + "\" is not a terminal id ([A-Za-z0-9_-]{1,32})");
  const fs::path broker_dir = broker_dir_of(out, broker_dir_opt);
  const fs::path passwd = broker_dir / "passwd";
  std::error_code ec;
  if (!fs::is_regular_file(passwd, ec))
    throw provision_error(passwd.string() + ": no password file (run sewage-provision provision first, or pass --broker-dir)");
  dir_lock lock(out);
  revoke_result res;
  // Record first: should anything below fail, a re-run of provision cannot issue it again.
  auto revoked = read_revoked(out);
  res.already_revoked = std::any_of(revoked.begin(), revoked.end(), [&](const auto& r) { return r.first == id; });
  if (!res.already_revoked) {
    revoked.emplace_back(id, now_utc());
    write_revoked(out, revoked);
  }
  std::istringstream in(read_text(passwd));
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(id + ":", 0) == 0) {
      res.had_account = true;
      continue;
    }
    kept += line + "\n";
  }
  if (res.had_account) {
    struct stat st {};
    const mode_t mode = ::stat(passwd.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0640;
    const gid_t gid = st.st_gid;
    write_file(passwd, kept, mode);
    if (::geteuid() == 0 && ::chown(passwd.c_str(), 0, gid) != 0)
      throw provision_error("cannot chown " + passwd.string() + ": " + errno_text());
  }
  fs::remove(out / "agents" / (id + ".toml"), ec);
  return res;
}

void reload_broker(const fs::path& pid_file, int pid) {
  std::string what = "broker PID " + std::to_string(pid);
  if (pid <= 0) {
    what = "broker PID file " + pid_file.string();
    std::ifstream in(pid_file);
    if (!in) throw provision_error("cannot reload the broker: cannot read " + pid_file.string() + ": " + errno_text());
    in >> pid;
    if (!in || pid <= 0) throw provision_error("cannot reload the broker: " + pid_file.string() + " holds no PID");
  }
  if (::kill(pid, SIGHUP) != 0)
    throw provision_error("cannot reload the broker: SIGHUP to " + what + " (" + std::to_string(pid) + "): " + errno_text());
}

}  // namespace sewage::provision
