// Who is logged in and what the role may do. The session itself is an HttpOnly cookie the page
// never sees (POST /api/session sets it); this module keeps the answer's user, role, towns and
// CSRF token (sent by api.js on every state-changing request), in memory only.
import { apiPost, apiDelete, apiProbe, setCsrfToken, clearCache, ApiError } from "./api.js";

/** Roles in rising order (gateway/README.md "Users and roles"): viewer reads; operator also
 * acknowledges alerts and sends commands; admin also manages users and tokens and reads the audit. */
const ROLES = ["viewer", "operator", "admin"];
/** The least role each action needs. */
const NEEDS = { ack: "operator", command: "operator", admin: "admin" };

export const session = {
  user: null, // null: not logged in
  role: null,
  towns: [], // empty: the whole county
  contractor: null, // role contractor: the [[om.contractor]] name it works for
};

function set(s) {
  session.user = s ? s.user : null;
  session.role = s ? s.role : null;
  session.towns = (s && s.towns) || [];
  session.contractor = (s && s.contractor) || null;
  setCsrfToken(s ? s.csrf_token : null);
}

export function loggedIn() {
  return session.user !== null;
}

/** May the logged-in user do `action` ("ack", "command", "admin", "field")? False when not logged
 * in. "field": the field actions of a contractor's crew (role contractor: check-in, on site,
 * photos, fixed on its own orders); contractors never ack, command or administer. */
export function can(action) {
  if (action === "field") return loggedIn() && session.role === "contractor";
  const need = NEEDS[action];
  return loggedIn() && need !== undefined && ROLES.indexOf(session.role) >= ROLES.indexOf(need);
}

/** Asks the gateway who this browser is (GET /api/session). True when logged in; a network error
 * propagates (the caller shows the connection banner). */
export async function loadSession() {
  const r = await apiProbe("/api/session");
  set(r.status === 200 && r.data && r.data.user ? r.data : null);
  return loggedIn();
}

/** Logs in (POST /api/session). Throws ApiError: 401 wrong user or password, 429 too many attempts
 * (err.retryAfterS). */
export async function login(user, password) {
  const s = await apiPost("/api/session", { user, password });
  if (!s || !s.user) throw new ApiError(500, "the gateway answered the login without a user");
  clearCache();
  set(s);
  return s;
}

/** Logs out (DELETE /api/session with the CSRF token); forgets the session even when the gateway
 * cannot be reached (the cookie then ends with its idle timeout). */
export async function logout() {
  try {
    await apiDelete("/api/session");
  } finally {
    clearCache();
    set(null);
  }
}

/** Forgets the session locally (the gateway said 401: it has ended). */
export function forget() {
  clearCache();
  set(null);
}
