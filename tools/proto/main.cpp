// sewage-proto: checks payloads against the v1 wire contract, for operators who need to know why a
// payload was refused, and prints example payloads.
//
//   sewage-proto validate --topic sewage/v1/HY-WY-001/telemetry record.json
//   mosquitto_sub -t 'sewage/v1/+/telemetry' -C 1 | sewage-proto validate --topic ... -
//   sewage-proto example telemetry
//   sewage-proto example pump_station   (a pump station's record with its optional section)
//
// Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.

#include "sewage/proto/alert.hpp"
#include "sewage/proto/command.hpp"
#include "sewage/proto/image.hpp"
#include "sewage/proto/receipt.hpp"
#include "sewage/proto/status.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/topic.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

namespace {

using namespace sewage::proto;

/// Reads the whole input, up to `limit` bytes; beyond that the validator reports the size anyway.
bool read_input(const std::string& file, std::size_t limit, std::string& out, std::string& error) {
  std::istream* in = &std::cin;
  std::ifstream f;
  if (file != "-") {
    f.open(file, std::ios::binary);
    if (!f) {
      error = "cannot open " + file;
      return false;
    }
    in = &f;
  }
  out.resize(limit);
  in->read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in->gcount()));
  if (in->bad()) {
    error = "cannot read " + file;
    return false;
  }
  return true;
}

template <class T>
std::vector<problem> problems_of(const decoded<T>& d) {
  return d.problems;
}

std::vector<problem> validate_payload(const topic& t, const std::string& payload) {
  switch (t.kind) {
    case topic_kind::telemetry: return problems_of(decode_telemetry(payload, t.terminal_id));
    case topic_kind::status: return problems_of(decode_status(payload, t.terminal_id));
    case topic_kind::command: return problems_of(decode_command(payload));
    case topic_kind::command_result: return problems_of(decode_command_result(payload));
    case topic_kind::gateway_status: return problems_of(decode_gateway_status(payload));
    case topic_kind::alert:
      // An empty retained payload clears an alert topic: that is valid.
      if (payload.empty()) return {};
      return problems_of(decode_alert(payload, t.terminal_id, t.alert));
    case topic_kind::image: {
      std::string why;
      if (is_acceptable_jpeg(payload, &why)) return {};
      return {problem{"", problem_code::bad_image, why}};
    }
  }
  return {};
}

/// The terminal id of a receipt topic (receipt.hpp: not a parse_topic() kind), or nullopt.
std::optional<std::string> receipt_topic_terminal(const std::string& topic_text) {
  constexpr std::string_view suffix = "/receipt";
  const std::string root = std::string(topic_root) + "/";
  if (topic_text.size() <= root.size() + suffix.size() || topic_text.rfind(root, 0) != 0 ||
      topic_text.compare(topic_text.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  std::string id = topic_text.substr(root.size(), topic_text.size() - root.size() - suffix.size());
  if (!is_valid_terminal_id(id)) return std::nullopt;
  return id;
}

int run_validate(const std::string& topic_text, const std::string& file) {
  auto t = parse_topic(topic_text);
  const bool receipt = !t.ok() && receipt_topic_terminal(topic_text).has_value();
  if (!t.ok() && !receipt) {
    for (const auto& p : t.problems) std::cout << "topic: " << p.reason << '\n';
    return 1;
  }
  // Read far past the contract's limits so that the reported size is the real one.
  constexpr std::size_t read_limit = 64U * 1024U * 1024U;
  std::string payload;
  std::string error;
  if (!read_input(file, read_limit, payload, error)) {
    std::cerr << "sewage-proto: " << error << '\n';
    return 2;
  }
  const auto problems = receipt ? problems_of(decode_receipt(payload)) : validate_payload(*t.value, payload);
  if (problems.empty()) {
    std::cout << "ok\n";
    return 0;
  }
  for (const auto& p : problems) std::cout << p.to_string() << '\n';
  return 1;
}

int run_example(const std::string& kind) {
  const timestamp now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string id = "HY-WY-001";
  if (kind == "telemetry") {
    telemetry_record r;
    r.terminal_id = id;
    r.epoch = "9f1c2a7b44e0d3a1";
    r.seq = 1042;
    r.ts = now;
    r.interval_s = 60;
    r.flow = flow_reading{quantity_status::ok, 0.62, 18234.75, std::nullopt};
    r.turbidity = turbidity_reading{quantity_status::ok, 4.1, 3.8, 4.6, std::nullopt};
    r.sludge = sludge_reading{quantity_status::ok, 0.82, false, std::nullopt};
    std::cout << encode(r) << '\n';
  } else if (kind == "pump_station") {  // a pump station's record (issue 13): the optional section
    telemetry_record r;
    r.terminal_id = "HY-PS-012";
    r.epoch = "9f1c2a7b44e0d3a1";
    r.seq = 7;
    r.ts = now;
    r.interval_s = 60;
    pump_station_reading ps;
    ps.wet_well_level_m = 1.42;
    ps.min_level_m = 1.38;
    ps.max_level_m = 1.47;
    ps.mains_power = true;
    ps.power_lost_s = 0;
    ps.pumps.push_back(pump_reading{"P1", true, false, 60, 1, 11.8});
    ps.pumps.push_back(pump_reading{"P2", false, false, 0, 0, std::nullopt});
    r.pump_station = ps;
    std::cout << encode(r) << '\n';
  } else if (kind == "status") {
    status_message m{id, presence::online, now, std::nullopt, "0.1.0", "3fa2c9d1", "9f1c2a7b44e0d3a1",
                     60};
    std::cout << encode(m) << '\n';
  } else if (kind == "alert") {
    alert_message a;
    a.terminal_id = id;
    a.type = alert_type::turbidity_high;
    a.alert_id = 17;
    a.raised_at = now;
    a.value = 12.4;
    a.threshold = 10.0;
    a.message = "effluent turbidity 12.4 NTU above 10 NTU for 15 min";
    std::cout << encode(a) << '\n';
  } else if (kind == "command") {
    command_message c{"c-17", command_name::set_report_interval, 300, now};
    std::cout << encode(c) << '\n';
  } else if (kind == "receipt") {
    std::cout << encode(receipt_message{"9f1c2a7b44e0d3a1", {{1040, 1042}, {1045, 1045}}}) << '\n';
  } else {
    std::cerr << "sewage-proto: unknown example kind \"" << kind
              << "\"; choose telemetry, pump_station, status, alert, command or receipt\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Checks MQTT payloads against the sewage telemetry wire contract v1."};
  app.require_subcommand(1);
  std::string topic_text;
  std::string file = "-";
  auto* validate = app.add_subcommand(
      "validate", "Validate one payload; prints 'ok' (exit 0) or one 'path: reason' line per problem (exit 1)");
  validate->add_option("--topic", topic_text, "MQTT topic the payload was (or will be) published on")
      ->required();
  validate->add_option("file", file, "payload file, or - for standard input")->capture_default_str();
  std::string kind;
  auto* example = app.add_subcommand("example", "Print a valid example payload");
  example->add_option("kind", kind, "telemetry, pump_station, status, alert, command or receipt")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*validate) return run_validate(topic_text, file);
    return run_example(kind);
  } catch (const std::exception& e) {
    std::cerr << "sewage-proto: " << e.what() << '\n';
    return 2;
  }
}
