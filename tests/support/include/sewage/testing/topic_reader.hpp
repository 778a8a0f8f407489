#pragma once
/// \file
/// A Paho MQTT C++ subscriber for tests: connects (clean session) to `uri`, subscribes to one
/// topic at QoS 1 and collects the distinct payloads that arrive. Header-only; the test binary
/// links PahoMqttCpp::paho-mqttpp3. The constructor throws mqtt::exception when the broker cannot
/// be reached. Thread-safe: payloads arrive on a Paho thread, seen()/has() may be called from any.

#include <mqtt/async_client.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>

namespace sewage::testing {

class topic_reader final : public mqtt::callback {
 public:
  topic_reader(const std::string& uri, const std::string& topic, const std::string& client_id)
      : client_(uri, client_id) {
    client_.set_callback(*this);
    client_.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    client_.subscribe(topic, 1)->wait();
  }
  ~topic_reader() override {
    try {
      client_.disconnect()->wait_for(std::chrono::seconds(2));
    } catch (...) {
    }
  }
  topic_reader(const topic_reader&) = delete;
  topic_reader& operator=(const topic_reader&) = delete;

  void message_arrived(mqtt::const_message_ptr msg) override {
    std::lock_guard lock(mutex_);
    seen_.insert(msg->get_payload_str());
  }
  /// The distinct payloads received so far.
  [[nodiscard]] std::set<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  [[nodiscard]] bool has(const std::string& payload) {
    std::lock_guard lock(mutex_);
    return seen_.count(payload) != 0;
  }

 private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::set<std::string> seen_;
};

}  // namespace sewage::testing
