#pragma once
// Helpers shared by the gateway unit tests.
#include "sewage/gateway/engine.hpp"

#include <sewage/proto/alert.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/timestamp.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace sewage::gateway::test {

inline proto::timestamp at(const char* iso) { return *proto::parse_timestamp(iso); }

/// The config_error load_config gives for a file in `dir` holding `text` ("no error" when none).
inline std::string config_error_of(const std::filesystem::path& dir, const std::string& text) {
  const auto p = dir / "g.toml";
  std::ofstream(p) << text;
  try {
    load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

inline proto::telemetry_record record(std::string id, std::uint64_t seq, proto::timestamp ts,
                                      std::string epoch = "e1") {
  proto::telemetry_record r;
  r.terminal_id = std::move(id);
  r.epoch = std::move(epoch);
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  return r;
}

inline proto::telemetry_record with_turbidity(proto::telemetry_record r, double ntu) {
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, ntu, std::nullopt, std::nullopt, std::nullopt};
  return r;
}

inline proto::telemetry_record with_flow(proto::telemetry_record r, double rate_m3h, std::optional<double> total) {
  r.flow = proto::flow_reading{proto::quantity_status::ok, rate_m3h, total, std::nullopt};
  return r;
}

inline terminal_info terminal(std::string id, thresholds t = {}) {
  terminal_info i;
  i.id = std::move(id);
  i.name = "test";
  i.design_capacity_m3d = 24;
  i.discharge_grade = "grade_1";
  i.report_interval_s = 60;
  i.limits = t;
  return i;
}

/// An alert episode: raised at `raised`, cleared at `cleared` when given (ISO 8601 UTC).
inline proto::alert_message episode(std::uint64_t id, const std::string& terminal, proto::alert_type type, const char* raised,
                             const char* cleared = nullptr) {
  proto::alert_message a;
  a.alert_id = id;
  a.terminal_id = terminal;
  a.type = type;
  a.raised_at = at(raised);
  a.state = cleared != nullptr ? proto::alert_state::cleared : proto::alert_state::raised;
  if (cleared != nullptr) a.cleared_at = at(cleared);
  a.message = "test";
  return a;
}

/// A publisher that records what would go to the broker.
class fake_publisher final : public publisher {
 public:
  struct msg {
    std::string topic;
    std::string payload;
    bool retained;
  };
  void publish(const std::string& topic, const std::string& payload, bool retained) noexcept override {
    sent.push_back({topic, payload, retained});
  }
  std::vector<msg> sent;
};

}  // namespace sewage::gateway::test
