#pragma once
// ingest/: why a connection to the broker fails, in words (the gateway's MQTT link logs it).
//
// Paho reports a failed TCP or TLS connect only as rc -1 ("TCP/TLS connect failure"). Its
// ssl_error_cb would give OpenSSL's text for a failed handshake, but Paho C++ 1.2 cannot keep that
// callback's context alive (paho.mqtt.cpp#325, DEPENDENCIES.md 2.6), and Paho C 1.3.12 checks the
// server's host name only after the handshake without calling it at all. So the link asks this
// probe, which repeats the connect with the same settings (TCP, then TLS with the same CA file,
// client certificate and host name check) and returns OpenSSL's or the socket's reason.

#include <chrono>
#include <string>

namespace sewage::gateway::detail {

/// TLS settings of a probe, as in the gateway's [mqtt] table (empty = not set).
struct probe_tls {
  std::string ca_file;    ///< PEM CA; empty = the system's default trust store
  std::string cert_file;  ///< client certificate (mutual TLS)
  std::string key_file;
};

/// Connects to the broker of `uri` (tcp://, mqtt://, ssl://, mqtts://; ssl/mqtts with `tls`)
/// and returns why it fails, e.g. "connection refused by 127.0.0.1:1883", "TLS: certificate
/// verify failed: unable to get local issuer certificate (ca_file /etc/ca.crt)", "TLS: certificate
/// verify failed: IP address mismatch (the server's certificate is not valid for 127.0.0.1)", or,
/// when everything this probe can check works, a sentence saying so. Blocks up to about
/// 2 x `timeout` (connect, then handshake): call it off the io thread. Thread-safe; never throws
/// except bad_alloc.
std::string probe_broker(const std::string& uri, const probe_tls& tls, std::chrono::milliseconds timeout);

/// Paho's connect return code in words: 1..5 are MQTT 3.1.1 CONNACK refusals, negatives Paho's own
/// (MQTTAsync.h). Pure.
std::string describe_connect_rc(int rc);

}  // namespace sewage::gateway::detail
