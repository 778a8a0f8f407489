// The JSON API client: ETag revalidation (If-None-Match -> 304 gives the cached body back, the
// same object, so pages can skip re-rendering), a timeout on every request, and the connection
// state (connected / lost) the whole page shows.

const TIMEOUT_MS = 5000;
const cache = new Map(); // path -> {etag, data}
const listeners = new Set();

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

async function request(path, options = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  let resp;
  try {
    resp = await fetch(path, { ...options, signal: ctl.signal, cache: "no-store" });
  } catch (e) {
    setConnected(false); // refused, reset, timed out: the gateway cannot be reached
    throw e;
  } finally {
    clearTimeout(timer);
  }
  setConnected(true);
  return resp;
}

async function errorOf(resp) {
  let msg = `HTTP ${resp.status}`;
  try {
    const j = await resp.json();
    if (j && j.error && j.error.message) msg = j.error.message;
  } catch (_) {
    /* not JSON */
  }
  return new ApiError(resp.status, msg);
}

/** GET `path` as JSON, revalidated with its ETag. Throws ApiError (HTTP error) or a network error. */
export async function api(path) {
  const hit = cache.get(path);
  const headers = hit && hit.etag ? { "If-None-Match": hit.etag } : {};
  const resp = await request(path, { headers });
  if (resp.status === 304 && hit) return hit.data;
  if (!resp.ok) throw await errorOf(resp);
  const data = await resp.json();
  const etag = resp.headers.get("ETag");
  cache.set(path, { etag, data });
  return data;
}

/** POST JSON with a bearer token; returns the parsed answer or throws ApiError. */
export async function apiPost(path, body, token) {
  const resp = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

/** GET a binary resource (the latest picture): {blob, headers} or null when there is none (404). */
export async function apiBlob(path) {
  const resp = await request(path);
  if (resp.status === 404) return null;
  if (!resp.ok) throw await errorOf(resp);
  return { blob: await resp.blob(), headers: resp.headers };
}
