#pragma once
/// \file
/// Commands to a terminal on `sewage/v1/{terminal}/cmd` and their results on `.../cmd/result`.
///
/// Command: {"id":"c-17","name":"set_report_interval","args":{"interval_s":300},"ts":"..."}
/// Result:  {"id":"c-17","ok":true,"ts":"...","result":{...}}  or  {"id":"c-17","ok":false,"error":"..."}

#include "sewage/proto/problem.hpp"
#include "sewage/proto/timestamp.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::proto {

/// Commands an agent understands.
enum class command_name {
  sample_now,           ///< close the current window now and report it
  snapshot_now,         ///< take and publish an image now
  set_report_interval,  ///< args.interval_s (1..86400)
  get_config,           ///< reply with the running configuration (secrets removed)
};
std::string_view to_string(command_name n) noexcept;
std::optional<command_name> parse_command_name(std::string_view name) noexcept;

struct command_message {
  std::string id;  ///< `[A-Za-z0-9_.:-]{1,64}`, chosen by the sender, echoed in the result
  command_name name{command_name::sample_now};
  std::optional<std::uint32_t> interval_s;  ///< args.interval_s, set_report_interval only
  std::optional<timestamp> ts;              ///< when the command was issued

  friend bool operator==(const command_message&, const command_message&) = default;
};
std::string encode(const command_message& m);

/// Decodes and validates a command. An unknown name is rejected at "/name"; so is a missing or
/// invalid argument of a known command. Thread-safe; never throws except bad_alloc.
decoded<command_message> decode_command(std::string_view payload);

/// Best effort for answering a rejected command: the "id" string if the payload is a JSON object
/// with a valid id, else std::nullopt. Never throws except bad_alloc.
std::optional<std::string> extract_command_id(std::string_view payload);

struct command_result_message {
  std::string id;  ///< the command's id, or "unknown" when the command had none
  bool ok{false};
  std::optional<std::string> error;     ///< required when !ok
  std::optional<nlohmann::json> result;  ///< a JSON object, when ok
  std::optional<timestamp> ts;

  friend bool operator==(const command_result_message&, const command_result_message&) = default;
};
std::string encode(const command_result_message& m);
decoded<command_result_message> decode_command_result(std::string_view payload);

}  // namespace sewage::proto
