#include "sewage/proto/broker_uri.hpp"

#include <algorithm>
#include <array>

namespace sewage::proto {

std::optional<std::string> broker_uri_problem(std::string_view uri) {
  constexpr std::array<std::string_view, 4> schemes{"tcp://", "mqtt://", "ssl://", "mqtts://"};
  const auto scheme = std::find_if(schemes.begin(), schemes.end(), [&](std::string_view s) { return uri.starts_with(s); });
  if (scheme == schemes.end()) return "must start with tcp://, mqtt://, ssl:// or mqtts://";
  const std::string_view rest = uri.substr(scheme->size());
  if (rest.empty() || rest.front() == ':' || rest.front() == '/') return "no host";
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || rest.back() == ']') return std::nullopt;  // Paho's default port
  const std::string_view port = rest.substr(colon + 1);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int value = digits ? std::stoi(std::string(port)) : 0;
  if (value < 1 || value > 65535) return "port must be 1..65535, got \"" + std::string(port) + "\"";
  return std::nullopt;
}

bool broker_uri_uses_tls(std::string_view uri) noexcept { return uri.starts_with("ssl://") || uri.starts_with("mqtts://"); }

std::optional<std::string> broker_uri_tls_mismatch(std::string_view uri, const std::vector<std::string>& tls_keys_set) {
  if (tls_keys_set.empty() || broker_uri_uses_tls(uri)) return std::nullopt;
  std::string keys;
  for (const auto& k : tls_keys_set) keys += (keys.empty() ? "" : ", ") + k;
  const bool one = tls_keys_set.size() == 1;
  return keys + (one ? " is" : " are") + " set but \"" + std::string(uri) +
         "\" is a plaintext URI (the connection and its password would go unencrypted); use ssl:// or mqtts://, or remove " +
         keys;
}

std::optional<std::string> broker_uri_plaintext_refusal(std::string_view uri, bool allow_plaintext) {
  if (allow_plaintext || broker_uri_uses_tls(uri)) return std::nullopt;
  return "\"" + std::string(uri) +
         "\" is plaintext: set mqtt.allow_plaintext = true to accept that (not recommended), or use ssl://";
}

std::string broker_uri_plaintext_warning(std::string_view uri) {
  return "mqtt: plaintext connection to " + std::string(uri) +
         " (mqtt.allow_plaintext = true): credentials and data travel unencrypted";
}

}  // namespace sewage::proto
