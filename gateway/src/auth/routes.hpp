#pragma once
// Internal: the HTTP routes of identities (session, users, tokens, audit), called by api.cpp's
// route table after it has checked the bytes, matched the route, authenticated the caller and
// checked the route's role. Refusals are thrown as auth_error (status + message), which api.cpp
// answers as JSON errors like every other refusal.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/registry.hpp"

#include <map>
#include <string>
#include <vector>

namespace sewage::gateway::auth {

/// What one identity route gets.
struct call {
  service& ids;
  const principal& who;
  const http_request& req;
  const std::map<std::string, std::string, std::less<>>& q;
  const std::vector<std::string>& args;  ///< path captures
  const registry& reg;                   ///< towns named in a body must be towns of it
};

/// The name of the session cookie (contract of issue 11).
inline constexpr const char* session_cookie = "sewage_session";

/// The value of cookie `name` in the request's Cookie headers (RFC 6265 5.4), "" when absent.
std::string cookie_value(const http_request& req, std::string_view name);

http_response session_get(const call& c);     ///< GET /api/session
http_response session_post(const call& c);    ///< POST /api/session (login)
http_response session_delete(const call& c);  ///< DELETE /api/session (logout)
http_response users_get(const call& c);       ///< GET /api/users
http_response users_post(const call& c);      ///< POST /api/users
http_response users_patch(const call& c);     ///< PATCH /api/users/{name}
http_response tokens_get(const call& c);      ///< GET /api/tokens
http_response tokens_post(const call& c);     ///< POST /api/tokens
http_response tokens_delete(const call& c);   ///< DELETE /api/tokens/{name}
http_response audit_get(const call& c);       ///< GET /api/audit

}  // namespace sewage::gateway::auth
