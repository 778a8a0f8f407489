#include "sewage/testing/mosquitto.hpp"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace sewage::testing {

mosquitto_broker::mosquitto_broker(std::filesystem::path dir, broker_options options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  std::filesystem::create_directories(dir_ / "data");
  // A port that another process grabbed between our check and the broker's bind makes mosquitto
  // exit; try a few ports before giving up.
  std::string last_error;
  for (int attempt = 0; attempt < (options_.port > 0 ? 1 : 5); ++attempt) {
    port_ = options_.port > 0 ? options_.port : free_loopback_port();
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      last_error = e.what();
    }
  }
  throw std::runtime_error(last_error);
}

mosquitto_broker::~mosquitto_broker() { stop(); }

std::string mosquitto_broker::uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

bool mosquitto_broker::running() const { return process_ && process_->running(); }

pid_t mosquitto_broker::pid() const { return process_ ? process_->pid() : -1; }

void mosquitto_broker::start() {
  if (running()) return;
  if (port_accepts(port_)) {
    throw std::runtime_error("mosquitto: port " + std::to_string(port_) + " is already in use");
  }
  const auto conf = dir_ / "mosquitto.conf";
  const auto log_file = dir_ / "broker.log";
  {
    std::ofstream c(conf);
    c << "per_listener_settings false\n";
    if (options_.plain_listener) c << "listener " << port_ << " 127.0.0.1\n" << "allow_anonymous true\n";
    // Running as root, mosquitto drops to user 'mosquitto' and then cannot write our data dir.
    if (::geteuid() == 0) c << "user root\n";
    if (options_.persistence) {
      c << "persistence true\n"
        << "persistence_location " << (dir_ / "data").string() << "/\n"
        << "persistence_file mosquitto.db\n"
        << "autosave_interval 60\n";
    } else {
      c << "persistence false\n";
    }
    // Stock limits drop messages silently under load (DEPENDENCIES.md 3.5): raise them.
    c << "max_queued_messages 1000000\n"
      << "max_queued_bytes 0\n"
      << "max_inflight_messages 100\n"
      << "log_dest file " << log_file.string() << "\n"
      << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
      << "connection_messages true\n"
      << options_.extra_config << "\n";
    if (!options_.include_dir.empty()) c << "include_dir " << options_.include_dir.string() << "\n";
  }
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{"mosquitto", "-c", conf.string()}, dir_ / "broker.stdout");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) {
      throw std::runtime_error("mosquitto exited at start on port " + std::to_string(port_) +
                               ":\n" + process_->log() + log());
    }
    if (port_accepts(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_->kill_now();
  throw std::runtime_error("mosquitto did not accept connections on port " +
                           std::to_string(port_) + " within 10 s:\n" + log());
}

void mosquitto_broker::stop() {
  if (process_) process_->stop(std::chrono::seconds(10));
}

void mosquitto_broker::kill() {
  if (process_) process_->kill_now();
}

std::string mosquitto_broker::log() const {
  std::ifstream in(dir_ / "broker.log");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace sewage::testing
