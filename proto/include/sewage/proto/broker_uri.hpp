#pragma once
/// \file
/// The broker address both sides of the contract are configured with: terminals publish to it,
/// the gateway subscribes on it. One check so that an agent and a gateway accept the same URIs.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::proto {

/// Why `uri` cannot work as a Paho broker URI, or std::nullopt when it can: a scheme tcp://,
/// mqtt:// (plain) or ssl://, mqtts:// (TLS), then a host, then optionally :PORT with PORT in
/// 1..65535 (Paho's default port otherwise). The reason names what is wrong, e.g.
/// "no host" or "port must be 1..65535, got \"99999\"". Pure; thread-safe; never throws except
/// bad_alloc.
std::optional<std::string> broker_uri_problem(std::string_view uri);

/// True for the TLS schemes ssl:// and mqtts://.
bool broker_uri_uses_tls(std::string_view uri) noexcept;

/// Why a plain (tcp://, mqtt://) `uri` must not be combined with TLS settings, or std::nullopt.
/// `tls_keys_set` names the TLS keys that are set (e.g. {"ca_file"}); with a plain scheme the
/// connection would go out unencrypted and carry the password in clear text although the
/// configuration asks for TLS. The reason names the keys and the fix, e.g. "ca_file is set but
/// \"tcp://h:1883\" is a plaintext URI (the password would be sent unencrypted); use ssl:// or
/// mqtts://, or remove ca_file". Pure; thread-safe; never throws except bad_alloc.
std::optional<std::string> broker_uri_tls_mismatch(std::string_view uri, const std::vector<std::string>& tls_keys_set);

/// TLS is the default on every link (DESIGN.md, "Identity"): a plain `uri` (tcp://, mqtt://) is
/// accepted only with the explicit opt-in `mqtt.allow_plaintext = true`. Returns why `uri` is
/// refused, or std::nullopt for a TLS URI or when `allow_plaintext` is true. The reason starts
/// with the quoted URI and names the key and the fix, e.g. "\"tcp://h:1883\" is plaintext: set
/// mqtt.allow_plaintext = true to accept that (not recommended), or use ssl://"; callers prefix
/// the key holding the URI ("mqtt.uri", "mqtt.fallback_uris[0]"). Pure; thread-safe; never throws
/// except bad_alloc.
std::optional<std::string> broker_uri_plaintext_refusal(std::string_view uri, bool allow_plaintext);

/// The one warning line both processes log at start (and print with --check-config) for a plain
/// URI accepted through `mqtt.allow_plaintext = true`: "mqtt: plaintext connection to
/// tcp://h:1883 (mqtt.allow_plaintext = true): credentials and data travel unencrypted".
/// Pure; never throws except bad_alloc.
std::string broker_uri_plaintext_warning(std::string_view uri);

}  // namespace sewage::proto
