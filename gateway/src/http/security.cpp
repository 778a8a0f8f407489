// Security headers and the HTTPS certificate check (see the header).
#include "sewage/gateway/http/security.hpp"

#include "detail/openssl_errors.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace sewage::gateway::http_security {
namespace {

std::nullopt_t fail(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
  return std::nullopt;
}

bool host_label_ok(std::string_view l) {
  return !l.empty() && l.size() <= 63 && l.front() != '-' && l.back() != '-' &&
         std::all_of(l.begin(), l.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '-'; });
}

using detail::openssl_errors;

}  // namespace

std::optional<std::string> tile_source(std::string_view url, std::string* why) {
  std::string_view scheme;
  for (const std::string_view s : {"https://", "http://"})
    if (url.substr(0, s.size()) == s) scheme = s;
  if (scheme.empty()) return fail(why, "must start with https:// or http://");
  auto rest = url.substr(scheme.size());
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return fail(why, "has no host");
  if (authority.find('@') != std::string_view::npos) return fail(why, "must not hold user:password@");
  std::string_view host = authority;
  std::string_view port;
  if (host.front() == '[') {  // IPv6 literal
    const auto close = host.find(']');
    if (close == std::string_view::npos) return fail(why, "has an unclosed IPv6 address");
    const auto inner = host.substr(1, close - 1);
    if (inner.empty() || !std::all_of(inner.begin(), inner.end(), [](unsigned char c) { return std::isxdigit(c) != 0 || c == ':' || c == '.'; }))
      return fail(why, "has an invalid IPv6 address");
    const auto after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return fail(why, "has text after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
    host = host.substr(0, close + 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (authority.back() == ':' || (!port.empty() && (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))))
    return fail(why, "has an invalid port \"" + std::string(port) + "\" (the port may not be a template)");
  std::string out(scheme);
  if (host.front() == '[') {
    out += host;
  } else {
    // Labels: the first may hold a placeholder ({s}, {a-c}) and becomes CSP's wildcard "*".
    std::size_t start = 0;
    bool first = true;
    while (true) {
      const auto dot = host.find('.', start);
      const auto label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (first && label.find('{') != std::string_view::npos) {
        if (dot == std::string_view::npos) return fail(why, "host is only a template placeholder");
        out += '*';
      } else if (!host_label_ok(label)) {
        return fail(why, "host \"" + std::string(host) + "\" is not a host name (a template placeholder such as {s} "
                         "may only be the first label)");
      } else {
        out += label;
      }
      first = false;
      if (dot == std::string_view::npos) break;
      out += '.';
      start = dot + 1;
    }
  }
  if (!port.empty()) (out += ':') += port;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

header_list security_headers(std::string_view tile_url, bool https) {
  std::string img = "img-src 'self' data: blob:";
  if (!tile_url.empty())
    if (const auto src = tile_source(tile_url)) (img += ' ') += *src;
  header_list h{
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; " + img +
           "; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "same-origin"},
      {"X-Frame-Options", "DENY"},
  };
  if (https) h.emplace_back("Strict-Transport-Security", "max-age=31536000");
  return h;
}

std::optional<std::string> tls_files_problem(const std::filesystem::path& cert_file,
                                             const std::filesystem::path& key_file) {
  ERR_clear_error();
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!ctx) return "cannot create a TLS context: " + openssl_errors();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    return "cannot load the certificate chain (PEM) from " + cert_file.string() + ": " + openssl_errors();
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL 3 compares the key with the certificate already here.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return "the private key in " + key_file.string() + " does not belong to the certificate in " +
             cert_file.string() + ": " + openssl_errors();
    return "cannot load the private key (PEM, unencrypted) from " + key_file.string() + ": " + openssl_errors();
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return "the private key in " + key_file.string() + " does not belong to the certificate in " +
           cert_file.string() + ": " + openssl_errors();
  return std::nullopt;
}

}  // namespace sewage::gateway::http_security
