#pragma once
/// \file
/// Who is asking (issue 11, gateway/README.md "Users, roles and town scope"): a role and a town
/// scope, carried by a user's session, a bearer token, or nobody (anonymous; reads only, and
/// only when http.public_read = true). Plain values, no I/O; thread-safe to copy and read.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::auth {

/// Ordered: each role may do what the ones before it may.
enum class role {
  viewer,     ///< reads
  /// An O&M contractor's field crew (issue 12): reads only its contractor's sites (principal::
  /// contractor, `[[om.contractor]]`), and does field actions (check-in, photos, on_site, fixed)
  /// on its own orders; never acknowledges, commands or administers. "contractor" on the wire.
  contractor,
  operator_,  ///< + acknowledge alerts, send commands ("operator" on the wire)
  admin,      ///< + users, tokens, registry reload, audit, /metrics
};

/// "viewer", "contractor", "operator", "admin".
std::string_view to_string(role r) noexcept;
/// The role named `s` (exact, lower case), std::nullopt otherwise.
std::optional<role> parse_role(std::string_view s) noexcept;

/// How a request was authenticated.
enum class actor_kind { anonymous, user, token, system };
/// "anonymous", "user", "token", "system" (the audit's actor_kind column).
std::string_view to_string(actor_kind k) noexcept;

/// The authenticated caller of one request.
struct principal {
  actor_kind kind{actor_kind::anonymous};
  std::string name;                 ///< user or token name; empty when anonymous
  auth::role role{auth::role::viewer};
  std::vector<std::string> towns;   ///< registry town names; empty = the whole county
  bool via_cookie{false};           ///< authenticated by the session cookie (CSRF applies)
  std::string csrf_token;           ///< the session's CSRF token (via_cookie only)
  std::string session_key;          ///< the session's stored key (hash of the cookie; via_cookie only)
  std::string address;              ///< the peer's address (audit)
  /// Role contractor: the `[[om.contractor]]` name it works for; "" for other roles.
  std::string contractor;
  /// Role contractor: the registry ids of its contractor's sites, filled per request by the API
  /// from the registry and `[[om.contractor]]` (om::contractor_of); ignored for other roles.
  std::vector<std::string> sites;

  /// True when the scope is the whole county (no town list; never for a contractor).
  [[nodiscard]] bool whole_county() const noexcept { return towns.empty() && role != auth::role::contractor; }
  /// True when a terminal of `town` is inside the scope (a contractor sees no whole town).
  [[nodiscard]] bool sees_town(std::string_view town) const noexcept;
  /// True when site `site_id` of `town` is inside the scope: a contractor's sites, else sees_town.
  [[nodiscard]] bool sees(std::string_view town, std::string_view site_id) const noexcept;
  /// True when the role is `r` or above.
  [[nodiscard]] bool at_least(auth::role r) const noexcept { return static_cast<int>(role) >= static_cast<int>(r); }
};

/// A user or token name: 1..64 bytes of [A-Za-z0-9._@-] (no spaces, no control characters, safe
/// in a log line and a URL path). Returns why not, std::nullopt when fine.
std::optional<std::string> name_problem(std::string_view name);

}  // namespace sewage::gateway::auth
