#include "sewage/gateway/auth/identity.hpp"

#include <algorithm>

namespace sewage::gateway::auth {

std::string_view to_string(role r) noexcept {
  switch (r) {
    case role::viewer: return "viewer";
    case role::contractor: return "contractor";
    case role::operator_: return "operator";
    case role::admin: return "admin";
  }
  return "viewer";
}

std::optional<role> parse_role(std::string_view s) noexcept {
  if (s == "viewer") return role::viewer;
  if (s == "contractor") return role::contractor;
  if (s == "operator") return role::operator_;
  if (s == "admin") return role::admin;
  return std::nullopt;
}

std::string_view to_string(actor_kind k) noexcept {
  switch (k) {
    case actor_kind::anonymous: return "anonymous";
    case actor_kind::user: return "user";
    case actor_kind::token: return "token";
    case actor_kind::system: return "system";
  }
  return "system";
}

bool principal::sees_town(std::string_view town) const noexcept {
  if (role == auth::role::contractor) return false;
  return towns.empty() || std::find(towns.begin(), towns.end(), town) != towns.end();
}

bool principal::sees(std::string_view town, std::string_view site_id) const noexcept {
  if (role == auth::role::contractor) return std::find(sites.begin(), sites.end(), site_id) != sites.end();
  return sees_town(town);
}

std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty() || name.size() > 64) return "must be 1..64 characters, got " + std::to_string(name.size());
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '@' || c == '-';
    if (!ok) return "may hold only letters A-Z a-z, digits and . _ @ -";
  }
  return std::nullopt;
}

}  // namespace sewage::gateway::auth
