// Identity routes (auth/routes.hpp): session, users, tokens, audit. JSON via nlohmann.
#include "auth/routes.hpp"
#include "detail/http_json.hpp"

#include <sewage/proto/timestamp.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace sewage::gateway::auth {

using nlohmann::json;

namespace {

using gateway::detail::json_response;

std::string iso_ms(std::int64_t ms) {
  return proto::format_timestamp(proto::timestamp(std::chrono::milliseconds(ms)));
}

/// The body as a JSON object whose keys are all in `allowed`; else auth_error 400 naming the field.
json body_object(const http_request& req, std::initializer_list<std::string_view> allowed, const char* shape) {
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw auth_error(400, std::string("body must be a JSON object ") + shape);
  for (const auto& [k, v] : body.items())
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      throw auth_error(400, "unknown field '" + k.substr(0, 64) + "' (accepted: " + [&] {
                              std::string s;
                              for (const auto a : allowed) s += (s.empty() ? "" : ", ") + std::string(a);
                              return s;
                            }() + ")");
  return body;
}

std::optional<std::string> string_field(const json& body, const char* key, bool required) {
  const auto it = body.find(key);
  if (it == body.end()) {
    if (required) throw auth_error(400, std::string(key) + ": required string");
    return std::nullopt;
  }
  if (!it->is_string()) throw auth_error(400, std::string(key) + ": must be a string");
  return it->get<std::string>();
}

role role_field(const json& body, bool required, role fallback = role::viewer) {
  const auto s = string_field(body, "role", required);
  if (!s) return fallback;
  const auto r = parse_role(*s);
  if (!r) throw auth_error(400, "role: must be viewer, contractor, operator or admin");
  return *r;
}

/// `towns`: an array of town names of the registry (empty = the whole county).
std::vector<std::string> towns_field(const json& body, const registry& reg) {
  const auto it = body.find("towns");
  if (it == body.end()) return {};
  if (!it->is_array()) throw auth_error(400, "towns: must be an array of town names ([] = the whole county)");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& t = (*it)[i];
    const std::string where = "towns[" + std::to_string(i) + "]";
    if (!t.is_string()) throw auth_error(400, where + ": must be a string");
    const auto name = t.get<std::string>();
    const bool known = std::any_of(reg.terminals().begin(), reg.terminals().end(), [&](const auto& ti) { return ti.town == name; });
    if (!known) throw auth_error(400, where + ": not a town of the registry");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

json principal_json(const principal& p) {
  return json{{"user", p.name},
              {"kind", to_string(p.kind)},
              {"role", to_string(p.role)},
              {"towns", p.towns},
              {"contractor", p.contractor.empty() ? json(nullptr) : json(p.contractor)},
              {"csrf_token", p.via_cookie ? json(p.csrf_token) : json(nullptr)}};
}

json user_json(const user_info& u) {
  return json{{"name", u.name},           {"role", to_string(u.role)},        {"towns", u.towns},
              {"contractor", u.contractor.empty() ? json(nullptr) : json(u.contractor)},
              {"disabled", u.disabled},   {"created_at", iso_ms(u.created_ms)}, {"changed_at", iso_ms(u.changed_ms)}};
}

json token_json(const token_info& t) {
  return json{{"name", t.name},
              {"role", to_string(t.role)},
              {"towns", t.towns},
              {"contractor", t.contractor.empty() ? json(nullptr) : json(t.contractor)},
              {"created_at", iso_ms(t.created_ms)},
              {"revoked_at", t.revoked_ms ? json(iso_ms(*t.revoked_ms)) : json(nullptr)}};
}

std::string cookie_header(const http_request& req, const std::string& value, bool clear) {
  std::string c = std::string(session_cookie) + "=" + value + "; HttpOnly; SameSite=Strict; Path=/";
  if (clear) c += "; Max-Age=0";
  if (req.tls) c += "; Secure";
  return c;
}

}  // namespace

std::string cookie_value(const http_request& req, std::string_view name) {
  for (const auto& [h, v] : req.headers) {
    if (h.size() != 6 || !std::equal(h.begin(), h.end(), "cookie", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      auto pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return {};
}

http_response session_get(const call& c) {
  if (c.who.kind == actor_kind::anonymous) throw auth_error(401, "login required");
  return json_response(200, principal_json(c.who));
}

http_response session_post(const call& c) {
  const auto body = body_object(c.req, {"user", "password"}, R"({"user": "name", "password": "..."})");
  const auto user = *string_field(body, "user", true);
  const auto password = *string_field(body, "password", true);
  if (user.empty() || user.size() > 64) throw auth_error(400, "user: must be 1..64 characters");
  if (password.empty() || password.size() > 1024) throw auth_error(400, "password: must be 1..1024 bytes");
  auto r = c.ids.login(user, password, c.req.remote_address);
  if (r.result == login_result::outcome::rate_limited) {
    auto res = json_response(429, json{{"error",
                                        {{"status", 429},
                                         {"message", "too many failed logins for this user or from this address; retry in " +
                                                         std::to_string(r.retry_after_s) + " s"}}}});
    res.headers.emplace_back("Retry-After", std::to_string(r.retry_after_s));
    return res;
  }
  // The same answer for an unknown user, a wrong password and a disabled account.
  if (r.result != login_result::outcome::ok) throw auth_error(401, "wrong user name or password");
  auto res = json_response(200, principal_json(r.who));
  res.headers.emplace_back("Set-Cookie", cookie_header(c.req, r.cookie, false));
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response session_delete(const call& c) {
  if (!c.who.via_cookie) throw auth_error(401, "login required");
  c.ids.logout(c.who);
  http_response r;
  r.status = 204;
  r.content_type.clear();
  r.headers.emplace_back("Set-Cookie", cookie_header(c.req, "", true));
  return r;
}

http_response users_get(const call& c) {
  json arr = json::array();
  for (const auto& u : c.ids.users()) arr.push_back(user_json(u));
  return json_response(200, json{{"users", arr}});
}

namespace {
json find_user(service& ids, const std::string& name) {
  for (const auto& u : ids.users())
    if (u.name == name) return user_json(u);
  throw auth_error(404, "no user '" + name + "'");
}
}  // namespace

http_response users_post(const call& c) {
  const auto body = body_object(c.req, {"name", "password", "role", "towns", "contractor"},
                                R"({"name": "...", "password": "...", "role": "viewer|contractor|operator|admin", "towns": ["..."], "contractor"?: "..."})");
  const auto name = *string_field(body, "name", true);
  const auto password = *string_field(body, "password", true);
  const auto r = role_field(body, true);
  const auto towns = towns_field(body, c.reg);
  const auto contractor = string_field(body, "contractor", false).value_or("");
  c.ids.add_user(name, password, r, towns, contractor);
  c.ids.audit(c.who, "user.add", name, json{{"role", to_string(r)}, {"towns", towns}, {"contractor", contractor}}.dump());
  return json_response(201, json{{"user", find_user(c.ids, name)}});
}

http_response users_patch(const call& c) {
  const auto& name = c.args.at(0);
  const auto body = body_object(c.req, {"password", "role", "towns", "disabled", "contractor"},
                                R"({"password"?: "...", "role"?: "...", "towns"?: [...], "disabled"?: bool})");
  user_change ch;
  ch.password = string_field(body, "password", false);
  if (body.contains("role")) ch.role = role_field(body, true);
  if (body.contains("towns")) ch.towns = towns_field(body, c.reg);
  if (body.contains("contractor")) ch.contractor = string_field(body, "contractor", true);
  if (body.contains("disabled")) {
    if (!body["disabled"].is_boolean()) throw auth_error(400, "disabled: must be true or false");
    ch.disabled = body["disabled"].get<bool>();
  }
  c.ids.change_user(name, ch);
  json detail = json::object();
  if (ch.password) detail["password"] = "changed";  // never the password itself
  if (ch.role) detail["role"] = to_string(*ch.role);
  if (ch.towns) detail["towns"] = *ch.towns;
  if (ch.disabled) detail["disabled"] = *ch.disabled;
  c.ids.audit(c.who, ch.disabled.value_or(false) ? "user.disable" : "user.change", name, detail.dump());
  return json_response(200, json{{"user", find_user(c.ids, name)}});
}

http_response tokens_get(const call& c) {
  json arr = json::array();
  for (const auto& t : c.ids.tokens()) arr.push_back(token_json(t));
  return json_response(200, json{{"tokens", arr}});
}

http_response tokens_post(const call& c) {
  const auto body = body_object(c.req, {"name", "role", "towns", "contractor"},
                                R"({"name": "...", "role": "viewer|contractor|operator|admin", "towns": ["..."], "contractor"?: "..."})");
  const auto name = *string_field(body, "name", true);
  const auto r = role_field(body, true);
  const auto towns = towns_field(body, c.reg);
  const auto contractor = string_field(body, "contractor", false).value_or("");
  const auto token = c.ids.add_token(name, r, towns, contractor);
  c.ids.audit(c.who, "token.add", name, json{{"role", to_string(r)}, {"towns", towns}}.dump());
  auto res = json_response(201, json{{"name", name}, {"role", to_string(r)}, {"towns", towns}, {"token", token}});
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response tokens_delete(const call& c) {
  c.ids.revoke_token(c.args.at(0));
  c.ids.audit(c.who, "token.revoke", c.args.at(0), {});
  http_response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

http_response audit_get(const call& c) {
  audit_query q;
  const auto time = [&](const char* key) -> std::optional<std::int64_t> {
    const auto it = c.q.find(key);
    if (it == c.q.end()) return std::nullopt;
    const auto t = proto::parse_timestamp(it->second);
    if (!t) throw auth_error(400, std::string(key) + ": must be an ISO 8601 UTC time like 2026-11-29T08:00:00Z");
    return t->time_since_epoch().count();
  };
  const auto number = [&](const char* key, std::uint64_t lo, std::uint64_t hi) -> std::optional<std::uint64_t> {
    const auto it = c.q.find(key);
    if (it == c.q.end()) return std::nullopt;
    std::uint64_t v = 0;
    const auto& s = it->second;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < lo || v > hi)
      throw auth_error(400, std::string(key) + ": must be a whole number in " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
  };
  q.from_ms = time("from");
  q.to_ms = time("to");
  if (const auto it = c.q.find("actor"); it != c.q.end()) q.actor = it->second;
  if (const auto it = c.q.find("action"); it != c.q.end()) q.action = it->second;
  q.limit = static_cast<std::size_t>(number("limit", 1, 1000).value_or(100));
  q.before_id = number("cursor", 1, UINT64_MAX);
  q.limit += 1;  // one more than shown: is there a next page?
  auto rows = c.ids.audit_rows(q);
  const bool more = rows.size() >= q.limit;
  if (more) rows.pop_back();
  json arr = json::array();
  for (const auto& r : rows) {
    auto detail = json::parse(r.detail_json, nullptr, false);
    arr.push_back({{"id", r.id},
                   {"at", iso_ms(r.ts_ms)},
                   {"actor", r.actor},
                   {"actor_kind", to_string(r.kind)},
                   {"address", r.address},
                   {"action", r.action},
                   {"target", r.target},
                   {"detail", detail.is_discarded() ? json::object() : detail}});
  }
  return json_response(200, json{{"audit", arr}, {"next", more ? json(std::to_string(rows.back().id)) : json(nullptr)}});
}

}  // namespace sewage::gateway::auth
