// Issue 11 item 5: the security headers and the configuration keys of HTTP hardening
// (http.tile_url as a CSP source, http.tls_cert_file / tls_key_file both or none, readable).
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/http/security.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace sewage::gateway {
namespace {

std::string value_of(const http_security::header_list& h, const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return "(absent)";
}

TEST(HttpSecurity, TileUrlTemplatesBecomeCspSources) {
  const std::vector<std::pair<std::string, std::string>> ok{
      {"https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"},
      {"https://tile-{s}.example.org/{z}/{x}/{y}.png", "https://*.example.org"},
      {"http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png", "http://10.0.0.5:8081"},
      {"https://Tiles.County.GOV.cn/{z}/{x}/{y}.png", "https://tiles.county.gov.cn"},
      {"https://[fd00::5]:8443/t/{z}/{x}/{y}.png", "https://[fd00::5]:8443"},
      {"https://tiles.example.org", "https://tiles.example.org"},
  };
  for (const auto& [url, src] : ok) {
    std::string why;
    const auto got = http_security::tile_source(url, &why);
    ASSERT_TRUE(got.has_value()) << url << ": " << why;
    EXPECT_EQ(*got, src) << url;
  }
  const std::vector<std::string> bad{
      "ftp://tiles.example.org/{z}.png",             // not http(s)
      "//tiles.example.org/{z}/{x}/{y}.png",         // scheme-relative
      "tiles.example.org/{z}/{x}/{y}.png",           // no scheme
      "https:///{z}/{x}/{y}.png",                    // no host
      "https://tiles.{s}.example.org/{z}.png",       // placeholder not in the first label
      "https://{s}/{z}.png",                         // only a placeholder
      "https://user:pw@tiles.example.org/{z}.png",   // credentials
      "https://tiles.example.org:{p}/{z}.png",       // templated port
      "https://tiles.example.org;script-src */x",    // would inject a directive
      "https://tiles example.org/{z}.png",           // space
      "https://tiles.example.org:/x",                // empty port
      "https://[fd00::5/x",                          // unclosed IPv6
  };
  for (const auto& url : bad) {
    std::string why;
    EXPECT_FALSE(http_security::tile_source(url, &why).has_value()) << url;
    EXPECT_FALSE(why.empty()) << url;
  }
}

TEST(HttpSecurity, HeadersCarryAStrictPolicyAndHstsOnlyOnHttps) {
  const auto plain = http_security::security_headers("", false);
  EXPECT_EQ(value_of(plain, "Content-Security-Policy"),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
            "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  EXPECT_EQ(value_of(plain, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(value_of(plain, "Referrer-Policy"), "same-origin");
  EXPECT_EQ(value_of(plain, "X-Frame-Options"), "DENY");
  EXPECT_EQ(value_of(plain, "Strict-Transport-Security"), "(absent)");
  const auto tiles = http_security::security_headers("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", true);
  EXPECT_NE(value_of(tiles, "Content-Security-Policy").find("; img-src 'self' data: blob: https://*.tile.openstreetmap.org;"),
            std::string::npos);
  EXPECT_EQ(value_of(tiles, "Strict-Transport-Security"), "max-age=31536000");
  // An unusable tile URL adds nothing (load_config refuses it before it gets here).
  EXPECT_EQ(value_of(http_security::security_headers("ftp://x/{z}", false), "Content-Security-Policy"),
            value_of(plain, "Content-Security-Policy"));
}

std::string config_error_of(const testing::temp_dir& dir, const std::string& text) {
  const auto p = dir.path() / "g.toml";
  std::ofstream(p) << text;
  try {
    load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(HttpSecurity, ConfigRefusesABadTileUrlAndAnIncompleteOrUnreadableTlsPair) {
  const testing::temp_dir dir("http-security");
  EXPECT_NE(config_error_of(dir, "[http]\ntile_url = \"tiles.example.org/{z}/{x}/{y}.png\"\n")
                .find("g.toml: http.tile_url: \"tiles.example.org/{z}/{x}/{y}.png\" must start with https:// or http://"),
            std::string::npos);
  EXPECT_NE(config_error_of(dir, "[http]\ntile_url = \"https://a.{s}.example.org/{z}.png\"\n").find("http.tile_url"),
            std::string::npos);
  EXPECT_EQ(config_error_of(dir, "[http]\ntile_url = \"https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png\"\n"), "no error");
  EXPECT_NE(config_error_of(dir, "[http]\ntls_cert_file = \"c.pem\"\n")
                .find("http.tls_key_file: must be set together with http.tls_cert_file"),
            std::string::npos);
  EXPECT_NE(config_error_of(dir, "[http]\ntls_key_file = \"k.pem\"\n")
                .find("http.tls_cert_file: must be set together with http.tls_key_file"),
            std::string::npos);
  const auto missing = config_error_of(dir, "[http]\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n");
  EXPECT_NE(missing.find("http.tls_cert_file: cannot load the certificate chain (PEM) from "), std::string::npos) << missing;
  EXPECT_NE(missing.find((dir.path() / "c.pem").string()), std::string::npos) << "relative to the config file: " << missing;
  std::ofstream(dir.path() / "c.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  EXPECT_NE(config_error_of(dir, "[http]\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n").find("http.tls_cert_file"),
            std::string::npos);
  const config d;
  EXPECT_TRUE(d.http_tls_cert_file.empty());
  EXPECT_TRUE(d.http_tls_key_file.empty());
}

}  // namespace
}  // namespace sewage::gateway
