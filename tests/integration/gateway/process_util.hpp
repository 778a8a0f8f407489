#pragma once
/// \file
/// Helpers of the tests that run the gateway as a process: a file's text, polling a condition,
/// a plain telemetry record's JSON, a registry of plain terminals.
#include "http_client.hpp"

#include <sewage/proto/telemetry.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace sewage::gateway::test {

/// The whole text of `p` (empty when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Polls `cond` every 200 ms until it holds or `timeout` passed; returns its last value.
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return cond();
}

/// Record `seq` of terminal `id` at `ts`, epoch "ep1", 60 s interval, no readings yet.
inline proto::telemetry_record bare_record(const std::string& id, std::uint64_t seq, proto::timestamp ts) {
  proto::telemetry_record r;
  r.terminal_id = id;
  r.epoch = "ep1";
  r.seq = seq;
  r.ts = ts;
  r.interval_s = 60;
  return r;
}

/// Record `seq` of terminal `id` on epoch "ep1": flow 0.6 m3/h, totalizer 100 + 0.01 x seq m3.
inline std::string record_json(const std::string& id, std::uint64_t seq, proto::timestamp ts) {
  auto r = bare_record(id, seq, ts);
  r.flow = proto::flow_reading{proto::quantity_status::ok, 0.6, 100.0 + 0.01 * static_cast<double>(seq), std::nullopt};
  return proto::encode(r);
}

/// Record `seq` of terminal `id` on epoch "ep1": flow 60 m3/h with totalizer `total_m3`, turbidity
/// `ntu`. 60 m3/h: tests' totals climb up to 1 m3 a minute, which the gateway only accepts as real
/// volume when the reported rate (or the design capacity) makes it plausible.
inline std::string flow_turbidity_record_json(const std::string& id, std::uint64_t seq, double total_m3, double ntu,
                                              proto::timestamp ts) {
  auto r = bare_record(id, seq, ts);
  r.flow = proto::flow_reading{proto::quantity_status::ok, 60.0, total_m3, std::nullopt};
  r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, ntu, std::nullopt, std::nullopt, std::nullopt};
  return proto::encode(r);
}

/// Writes a registry of `ids` (town A, 30 m3/d, grade 1, 60 s reports) to `path`.
inline void write_registry(const std::filesystem::path& path, const std::vector<std::string>& ids) {
  std::ofstream reg(path);
  for (const auto& id : ids)
    reg << "[[terminal]]\nid = \"" << id << "\"\nname = \"n\"\ntown = \"A\"\nvillage = \"B\"\n"
        << "latitude = 30.5\nlongitude = 120.9\ndesign_capacity_m3d = 30\ndischarge_grade = \"grade_1\"\n"
        << "report_interval_s = 60\n";
}

/// Writes `path`: a gateway on `broker_uri` (plaintext, client id `client_id`, keep-alive 5 s),
/// its SQLite store gateway.db and registry.toml beside it, public reads on 127.0.0.1:http_port.
inline void write_gateway_config(const std::filesystem::path& path, const std::string& broker_uri,
                                 const std::string& client_id, int http_port) {
  std::ofstream(path) << "[mqtt]\nuri = \"" << broker_uri << "\"\nallow_plaintext = true\nclient_id = \"" << client_id
                      << "\"\nkeep_alive_s = 5\n"
                      << "[store]\npath = \"gateway.db\"\nflush_interval_ms = 50\n"
                      << "[http]\nlisten = \"127.0.0.1:" << http_port << "\"\npublic_read = true\n"
                      << "[registry]\npath = \"registry.toml\"\n"
                      << "[log]\nlevel = \"info\"\n";
}

/// GET `target` from the gateway on 127.0.0.1:port: its JSON body on 200, else an empty object.
inline nlohmann::json get_json(int port, const std::string& target) {
  const auto r = http_call(port, "GET", target);
  return r.status == 200 ? nlohmann::json::parse(r.body, nullptr, false) : nlohmann::json::object();
}

/// The value of the unlabelled metric `name` in the gateway's /metrics, -1 when absent.
inline double metric_value(int port, const std::string& name) {
  const auto r = http_call(port, "GET", "/metrics");
  const auto pos = r.body.find("\n" + name + " ");
  return pos == std::string::npos ? -1.0 : std::stod(r.body.substr(pos + name.size() + 2));
}

}  // namespace sewage::gateway::test
