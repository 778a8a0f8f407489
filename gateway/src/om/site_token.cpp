// Signed site tokens (om/site_token.hpp): HMAC-SHA256 through libsodium.
#include "sewage/gateway/om/site_token.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace sewage::gateway::om {
namespace {

constexpr std::string_view prefix = "v1.";
constexpr std::string_view domain = "sewage-site-v1:";

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac_of(const site_key& key, std::string_view site_id) {
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.bytes.data(), key.bytes.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(site_id.data()), site_id.size());
  crypto_auth_hmacsha256_final(&st, mac.data());
  sodium_memzero(&st, sizeof st);
  return mac;
}

}  // namespace

site_key load_or_create_site_key(const std::filesystem::path& path) {
  ensure_sodium();
  site_key key;
  const std::string p = path.string();
  struct stat sb {};
  if (::stat(p.c_str(), &sb) != 0) {
    if (errno != ENOENT) throw std::runtime_error("om.site_key_file " + p + ": " + std::strerror(errno));
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    randombytes_buf(key.bytes.data(), key.bytes.size());
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("om.site_key_file " + p + ": cannot create: " + std::strerror(errno));
    const auto n = ::write(fd, key.bytes.data(), key.bytes.size());
    const bool ok = n == static_cast<ssize_t>(key.bytes.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("om.site_key_file " + p + ": cannot write");
    return key;
  }
  if ((sb.st_mode & 077) != 0)
    throw std::runtime_error("om.site_key_file " + p + ": readable by group or others (chmod 600 it)");
  if (sb.st_size != static_cast<off_t>(key.bytes.size()))
    throw std::runtime_error("om.site_key_file " + p + ": must hold exactly 32 bytes, has " + std::to_string(sb.st_size));
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("om.site_key_file " + p + ": cannot open: " + std::strerror(errno));
  const auto n = ::read(fd, key.bytes.data(), key.bytes.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(key.bytes.size())) throw std::runtime_error("om.site_key_file " + p + ": cannot read");
  return key;
}

std::string sign_site_token(const site_key& key, std::string_view site_id) {
  if (site_id.empty() || site_id.find('.') != std::string_view::npos)
    throw std::invalid_argument("site id must be non-empty and without '.'");
  ensure_sodium();
  const auto mac = mac_of(key, site_id);
  std::string b64(sodium_base64_ENCODED_LEN(mac.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(b64.data(), b64.size(), mac.data(), mac.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(prefix) + std::string(site_id) + "." + b64;
}

std::optional<std::string> verify_site_token(const site_key& key, std::string_view token) noexcept {
  try {
    if (token.size() > 512 || token.substr(0, prefix.size()) != prefix) return std::nullopt;
    const auto rest = token.substr(prefix.size());
    const auto dot = rest.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return std::nullopt;
    const auto site = rest.substr(0, dot);
    if (site.find('.') != std::string_view::npos) return std::nullopt;
    const auto b64 = rest.substr(dot + 1);
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_init() < 0) return std::nullopt;
    if (sodium_base642bin(mac.data(), mac.size(), b64.data(), b64.size(), nullptr, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != mac.size() || end != b64.data() + b64.size())
      return std::nullopt;
    const auto want = mac_of(key, site);
    if (sodium_memcmp(want.data(), mac.data(), mac.size()) != 0) return std::nullopt;
    return std::string(site);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace sewage::gateway::om
