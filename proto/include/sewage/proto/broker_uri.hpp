#pragma once
/// \file
/// The broker address both sides of the contract are configured with: terminals publish to it,
/// the gateway subscribes on it. One check so that an agent and a gateway accept the same URIs.

#include <optional>
#include <string>
#include <string_view>

namespace sewage::proto {

/// Why `uri` cannot work as a Paho broker URI, or std::nullopt when it can: a scheme tcp://,
/// mqtt:// (plain) or ssl://, mqtts:// (TLS), then a host, then optionally :PORT with PORT in
/// 1..65535 (Paho's default port otherwise). The reason names what is wrong, e.g.
/// "no host" or "port must be 1..65535, got \"99999\"". Pure; thread-safe; never throws except
/// bad_alloc.
std::optional<std::string> broker_uri_problem(std::string_view uri);

/// True for the TLS schemes ssl:// and mqtts://.
bool broker_uri_uses_tls(std::string_view uri) noexcept;

}  // namespace sewage::proto
