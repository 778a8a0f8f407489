#pragma once
/// \file
/// A real mosquitto broker for integration tests, on a free loopback port, with its own config,
/// data directory and log. Follows DEPENDENCIES.md section 3: foreground with -c only, a port that
/// is checked free first, readiness = our PID accepts connections, SIGTERM to stop (which also
/// writes the persistence file), log to a file (flushed per line).

#include "sewage/testing/process.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace sewage::testing {

struct broker_options {
  /// Extra lines appended to the generated config (e.g. "max_packet_size 1024").
  std::string extra_config;
  /// Persist sessions and retained messages in the data dir (written on SIGTERM and autosave).
  bool persistence{true};
  /// The anonymous plaintext listener on port() that tests of other things use (their configs
  /// set mqtt.allow_plaintext = true). false: the broker has only the listeners that `include_dir`
  /// or `extra_config` bring (e.g. sewage-provision's TLS listener with accounts and ACL); then
  /// `port` must be the port of one of them (readiness is a TCP connect to it).
  bool plain_listener{true};
  /// An "include_dir" line: every *.conf in it is read (sewage-provision's broker folder).
  std::filesystem::path include_dir;
  /// The port to use (0 = a free one picked here, retried when taken meanwhile).
  int port{0};
};

class mosquitto_broker {
 public:
  /// Writes a config under `dir` and starts the broker on a free port. Throws std::runtime_error
  /// with the broker's log if it does not come up within 10 s - tests must fail loudly then.
  explicit mosquitto_broker(std::filesystem::path dir, broker_options options = {});
  ~mosquitto_broker();
  mosquitto_broker(const mosquitto_broker&) = delete;
  mosquitto_broker& operator=(const mosquitto_broker&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  /// "tcp://127.0.0.1:<port>" (the plain listener; see broker_options::plain_listener)
  [[nodiscard]] std::string uri() const;
  [[nodiscard]] bool running() const;
  [[nodiscard]] pid_t pid() const;

  /// SIGTERM and wait; the broker saves its persistence file. No-op when stopped.
  void stop();
  /// SIGKILL: loses what was not autosaved, like a power cut.
  void kill();
  /// Starts again on the same port with the same data dir. Throws like the constructor.
  void start();
  /// The broker's log so far.
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path dir_;
  broker_options options_;
  int port_{0};
  std::unique_ptr<child_process> process_;
};

}  // namespace sewage::testing
