// libFuzzer target: every decoder of sewage::proto on arbitrary bytes. Besides crashes and
// sanitizer reports it checks two properties: a decoded message re-encodes to a payload that
// decodes to the same message, and no decoder both succeeds and reports problems.
#include "sewage/proto/alert.hpp"
#include "sewage/proto/command.hpp"
#include "sewage/proto/image.hpp"
#include "sewage/proto/receipt.hpp"
#include "sewage/proto/status.hpp"
#include "sewage/proto/telemetry.hpp"
#include "sewage/proto/topic.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

template <class T, class Decode>
void round_trip(std::string_view input, Decode decode) {
  const auto first = decode(input);
  if (first.ok() != first.problems.empty()) std::abort();
  if (!first.ok()) return;
  const auto again = decode(sewage::proto::encode(*first.value));
  if (!again.ok() || !(*again.value == *first.value)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sewage::proto;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  round_trip<telemetry_record>(in, [](std::string_view s) { return decode_telemetry(s); });
  round_trip<status_message>(in, [](std::string_view s) { return decode_status(s); });
  round_trip<gateway_status_message>(in, [](std::string_view s) { return decode_gateway_status(s); });
  round_trip<alert_message>(in, [](std::string_view s) { return decode_alert(s); });
  round_trip<command_message>(in, [](std::string_view s) { return decode_command(s); });
  round_trip<command_result_message>(in, [](std::string_view s) { return decode_command_result(s); });
  round_trip<receipt_message>(in, [](std::string_view s) { return decode_receipt(s); });
  (void)extract_command_id(in);
  (void)is_acceptable_jpeg(in);
  const auto t = parse_topic(in);
  if (t.ok() && parse_topic(make_topic(*t.value)).value != t.value) std::abort();
  return 0;
}
