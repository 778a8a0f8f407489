// The JSON API client: ETag revalidation (If-None-Match -> 304 gives the cached body back, the
// same object, so pages can skip re-rendering), a timeout on every request, and the connection
// state (connected / lost) the whole page shows.

const TIMEOUT_MS = 5000;
const cache = new Map(); // path -> {etag, data}
const listeners = new Set();
const unauthorized = new Set();
let csrfToken = null; // the session's CSRF token (POST /api/session answer), sent on every state change

/** Sets the CSRF token sent as X-CSRF-Token on every POST/PUT/PATCH/DELETE (null: none). */
export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Calls `f(path)` when an API answer is 401 (not logged in, or the session ended). */
export function onUnauthorized(f) {
  unauthorized.add(f);
}

/** Forgets every cached answer (after logout/login: another user may see other terminals). */
export function clearCache() {
  cache.clear();
}

export const connection = {
  ok: true, // false while the gateway cannot be reached
  lastOk: null, // Date of the last answer from the gateway
  lostSince: null, // Date of the first failure while lost
};

function setConnected(ok) {
  const changed = ok !== connection.ok;
  connection.ok = ok;
  if (ok) {
    connection.lastOk = new Date();
    connection.lostSince = null;
  } else if (!connection.lostSince) {
    connection.lostSince = new Date();
  }
  if (changed) for (const f of listeners) f(connection);
}

/** Calls `f(connection)` whenever the gateway is lost or reached again. */
export function onConnection(f) {
  listeners.add(f);
}

/** Marks the gateway unreachable when nothing answered for `ms` (a hung request). */
export function checkSilence(ms) {
  if (connection.lastOk && Date.now() - connection.lastOk.getTime() > ms) setConnected(false);
}

/** An HTTP error answer (the gateway was reached): status and the API's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The gateway could not be reached (refused, reset, timed out). */
export class NetworkError extends Error {}

async function request(path, options = {}, timeoutMs = TIMEOUT_MS) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let resp;
  try {
    resp = await fetch(path, { ...options, signal: ctl.signal, cache: "no-store" });
  } catch (e) {
    setConnected(false); // refused, reset, timed out: the gateway cannot be reached
    throw new NetworkError(e && e.name === "AbortError" ? "timed out" : String(e && e.message));
  } finally {
    clearTimeout(timer);
  }
  setConnected(true);
  // 401 anywhere but the session resource itself: the login is missing or has ended.
  if (resp.status === 401 && !path.startsWith("/api/session")) for (const f of unauthorized) f(path);
  return resp;
}

async function errorOf(resp) {
  let msg = `HTTP ${resp.status}`;
  let errors = [];
  let code = null;
  try {
    const j = await resp.json();
    if (j && j.error && j.error.message) msg = j.error.message;
    if (j && j.error && typeof j.error.code === "string") code = j.error.code; // e.g. photo_required
    if (j && Array.isArray(j.errors)) errors = j.errors; // field or CSV-line problems (lab import)
  } catch (_) {
    /* not JSON */
  }
  const e = new ApiError(resp.status, msg);
  e.errors = errors;
  e.code = code;
  const retry = Number(resp.headers.get("Retry-After"));
  if (Number.isFinite(retry) && retry > 0) e.retryAfterS = retry;
  return e;
}

/** A state-changing request with JSON body (or none) and the CSRF header. */
async function change(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (!resp.ok) throw await errorOf(resp);
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** GET `path` as JSON, revalidated with its ETag. Throws ApiError (HTTP error) or a network error.
 * `timeoutMs` (default 5 s) is for the few large answers (the pipe network: megabytes). */
export async function api(path, { timeoutMs = TIMEOUT_MS } = {}) {
  const hit = cache.get(path);
  const headers = hit && hit.etag ? { "If-None-Match": hit.etag } : {};
  const resp = await request(path, { headers }, timeoutMs);
  if (resp.status === 304 && hit) return hit.data;
  if (!resp.ok) throw await errorOf(resp);
  const data = await resp.json();
  const etag = resp.headers.get("ETag");
  cache.set(path, { etag, data });
  return data;
}

/** POST JSON as the logged-in user (session cookie + X-CSRF-Token); the parsed answer (null for
 * 204) or throws ApiError / NetworkError. */
export function apiPost(path, body) {
  return change("POST", path, body);
}

/** PUT JSON as the logged-in user (session cookie + X-CSRF-Token). */
export function apiPut(path, body) {
  return change("PUT", path, body);
}

/** POST a text body of `type` (e.g. "text/csv") as the logged-in user; the parsed JSON answer. */
export async function apiPostText(path, text, type) {
  const headers = { "Content-Type": type };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await request(path, { method: "POST", headers, body: text, credentials: "same-origin" });
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

/** DELETE as the logged-in user (session cookie + X-CSRF-Token); null or the parsed answer. */
export function apiDelete(path) {
  return change("DELETE", path);
}

/** GET without cache or 401 notification: {status, data} (data null when not JSON). For the
 * session resource, whose 401 is an answer, not an error. */
export async function apiProbe(path) {
  const resp = await request(path);
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    /* not JSON */
  }
  return { status: resp.status, data };
}

/** GET a binary resource (the latest picture): {blob, headers} or null when there is none (404). */
export async function apiBlob(path) {
  const resp = await request(path);
  if (resp.status === 404) return null;
  if (!resp.ok) throw await errorOf(resp);
  return { blob: await resp.blob(), headers: resp.headers };
}
