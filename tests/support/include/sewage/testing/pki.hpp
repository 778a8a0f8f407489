#pragma once
/// \file
/// A throw-away PKI for TLS tests, made with the `openssl` command (EC P-256 keys: fast) the first
/// time it is asked for in a test binary, in a temporary folder removed when the binary exits.

#include <filesystem>

namespace sewage::testing {

struct test_pki {
  std::filesystem::path dir;
  /// The CA that signed server.crt and wronghost.crt (CN "Sewage Test CA").
  [[nodiscard]] std::filesystem::path ca_crt() const { return dir / "ca.crt"; }
  /// A CA that signed nothing the broker uses (a terminal given it must refuse the broker).
  [[nodiscard]] std::filesystem::path other_ca_crt() const { return dir / "other-ca.crt"; }
  /// Broker certificate and key for DNS:localhost and IP:127.0.0.1 (serverAuth), signed by ca.
  [[nodiscard]] std::filesystem::path server_crt() const { return dir / "server.crt"; }
  [[nodiscard]] std::filesystem::path server_key() const { return dir / "server.key"; }
  /// Signed by ca, but for DNS:broker.example only: a client of 127.0.0.1 must refuse it.
  [[nodiscard]] std::filesystem::path wronghost_crt() const { return dir / "wronghost.crt"; }
  [[nodiscard]] std::filesystem::path wronghost_key() const { return dir / "wronghost.key"; }
};

/// The binary's PKI, made on first call (about 0.2 s). Throws std::runtime_error with openssl's
/// output when a step fails. Thread-safe (made once).
const test_pki& shared_test_pki();

}  // namespace sewage::testing
