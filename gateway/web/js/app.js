// The application shell: ui-config, session, language, hash router (#/login, #/, #/terminals/{id},
// #/alerts, #/report, #/audit, #/inspections, #/qr, #/assessment, #/orders, #/orders/{id}, the
// contractor's #/field, #/field/{id} and #/checkin?site=&t=), the live poll loop and the connection banner. Pages are modules in
// ./pages that export render(root, ctx); they register what to refresh with ctx.onPoll(fn).
// Not logged in (and http.public_read off), or the session ended (any 401): the login page, which
// returns to where the operator was.
import { api, apiPost, apiPut, apiPostText, apiDelete, apiBlob, connection, onConnection, onUnauthorized, checkSilence, ApiError, NetworkError } from "./api.js";
import { t, setLanguage, chooseLanguage, language, translateDom } from "./i18n.js";
import { fmt, setZone } from "./fmt.js";
import { session, loggedIn, can, loadSession, login, logout, forget } from "./session.js";

const main = document.getElementById("main");
const banner = document.getElementById("conn-banner");
const live = document.getElementById("live");
let uiConfig = { poll_interval_ms: 3000, compliance_target: 0.95, tile_url: "", time_zone: "Asia/Shanghai", public_read: false };
let pollers = [];
let generation = 0;
let pollTimer = null;
let ticking = Promise.resolve(); // the poll round in flight (logout waits for it)

function showConnection() {
  document.body.classList.toggle("disconnected", !connection.ok);
  if (connection.ok) {
    banner.hidden = true;
    live.className = "live ok";
    live.textContent = t("live.updated", { time: fmt.time(connection.lastOk) });
  } else {
    banner.hidden = false;
    banner.textContent = t("live.lost", {
      since: fmt.time(connection.lostSince),
      last: connection.lastOk ? fmt.time(connection.lastOk) : t("live.never"),
    });
    live.className = "live lost";
    live.textContent = t("live.lost_short");
  }
}
onConnection(showConnection);

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "overview", args: [], params };
  if (parts[0] === "login") return { page: "login", args: [], params };
  if (parts[0] === "audit") return { page: "audit", args: [], params };
  if (parts[0] === "terminals" && parts[1]) return { page: "terminal", args: [parts[1]], params };
  if (parts[0] === "alerts") return { page: "alerts", args: [], params };
  if (parts[0] === "maintenance") return { page: "maintenance", args: [], params };
  if (parts[0] === "report") return { page: "report", args: parts.slice(1), params };
  if (parts[0] === "sites" && parts[1] && parts[2] === "archive") return { page: "archive", args: [parts[1]], params };
  if (parts[0] === "lab") return { page: "lab", args: [], params };
  if (parts[0] === "inspections") return { page: "inspections", args: parts.slice(1), params };
  if (parts[0] === "qr") return { page: "qr", args: [], params };
  if (parts[0] === "assessment") return { page: "assessment", args: [], params };
  if (parts[0] === "orders" && parts[1]) return { page: "order", args: [parts[1]], params };
  if (parts[0] === "orders") return { page: "orders", args: [], params };
  if (parts[0] === "field") return { page: "field", args: parts.slice(1), params };
  if (parts[0] === "checkin") return { page: "field", args: ["checkin"], params };
  return { page: "notfound", args: [], params };
}

function makeContext(r, gen) {
  return {
    t,
    fmt,
    api,
    apiPost,
    apiPut,
    apiPostText,
    apiDelete,
    apiBlob,
    ApiError,
    config: uiConfig,
    args: r.args,
    params: r.params,
    language,
    connection,
    session,
    /** May the logged-in user do `action` ("ack", "command", "admin")? */
    can,
    login,
    /** Registers `f` to run on every poll tick while this page is shown. */
    onPoll(f) {
      if (gen === generation) pollers.push(f);
    },
    /** True while this render is still the page shown (stop async work otherwise). */
    get current() {
      return gen === generation;
    },
  };
}

/** The current in-application address, to come back to after a login. */
function here() {
  return location.hash && location.hash !== "#" ? location.hash : "#/";
}

/** To the login page; `why` "expired" (the session ended) or "required" (a login is needed). */
function toLogin(why) {
  const next = route().page === "login" ? null : here();
  const q = new URLSearchParams();
  if (why) q.set("why", why);
  if (next) q.set("next", next);
  location.hash = `#/login${q.toString() ? `?${q}` : ""}`;
}

/** The header: user name and role with a logout button, or a login link (public reads). */
function showWho() {
  const who = document.getElementById("who");
  who.hidden = !loggedIn();
  document.getElementById("who-name").textContent = session.user || "";
  document.getElementById("who-role").textContent = session.role ? t(`role.${session.role}`) : "";
  document.getElementById("who-role").dataset.role = session.role || "";
  document.getElementById("logout").hidden = !loggedIn();
  document.getElementById("login-link").hidden = loggedIn() || route().page === "login";
  document.body.classList.toggle("logged-out", !loggedIn() && !uiConfig.public_read);
  for (const a of document.querySelectorAll("[data-nav-role]")) a.hidden = !can(a.dataset.navRole);
  // A contractor's crew sees only what it may use: links marked data-nav-contractor ("also" or
  // "only"); "only" links (My orders) are hidden from everyone else.
  const crew = can("field");
  for (const a of document.querySelectorAll("[data-nav]")) {
    const mark = a.dataset.navContractor;
    if (crew) a.hidden = !mark;
    else if (mark === "only") a.hidden = true;
    else if (!a.dataset.navRole) a.hidden = false;
  }
}

onUnauthorized(() => {
  if (route().page === "login") return;
  const was = loggedIn();
  forget();
  toLogin(was ? "expired" : "required");
});

async function render() {
  const gen = ++generation;
  pollers = [];
  const r = route();
  if (r.page !== "login" && !loggedIn() && !uiConfig.public_read) {
    showWho();
    toLogin(null); // hashchange renders the login page
    return;
  }
  if (r.page === "audit" && !can("admin")) r.page = "notfound";
  if (r.page === "overview" && can("field")) {
    location.replace("#/field"); // a contractor's crew lands on its orders
    return;
  }
  showWho();
  for (const a of document.querySelectorAll("[data-nav]")) {
    const navOf = { terminal: "overview", order: "orders" };
    const on = a.dataset.nav === (navOf[r.page] || r.page);
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  delete main.dataset.rendered; // set again by the page when it has drawn
  main.dataset.page = r.page;
  if (r.page === "notfound") {
    main.innerHTML = `<p class="empty">${t("app.not_found")}</p>`;
    main.dataset.rendered = "1";
    return;
  }
  let mod;
  try {
    mod = await import(`./pages/${r.page}.js`);
  } catch (e) {
    main.innerHTML = `<p class="empty">${t("app.page_unavailable")}</p>`;
    main.dataset.rendered = "1";
    return;
  }
  if (gen !== generation) return;
  try {
    await mod.render(main, makeContext(r, gen));
  } catch (e) {
    if (gen === generation) {
      showError(e);
      main.dataset.rendered = "1";
    }
  }
}

export function showError(e) {
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = e instanceof ApiError ? t("app.api_error", { message: e.message }) : e instanceof NetworkError ? t("app.load_failed") : t("app.bug", { message: String(e) });
  if (!(e instanceof ApiError || e instanceof NetworkError)) console.error(e); // a bug: the browser tests see it
  main.prepend(p);
}

async function tick() {
  const gen = generation;
  const jobs = pollers.map((f) => Promise.resolve().then(f).catch(() => {}));
  if (jobs.length === 0) jobs.push(api("/api/ui-config").catch(() => {}));
  ticking = Promise.all(jobs);
  await ticking;
  // Nothing answered for twice the poll interval plus the request timeout: the gateway is gone.
  checkSilence(2 * uiConfig.poll_interval_ms + 5000);
  if (gen === generation || true) showConnection();
}

function startPolling() {
  clearInterval(pollTimer);
  pollTimer = setInterval(tick, uiConfig.poll_interval_ms);
}

async function start() {
  const [cfg] = await Promise.all([
    api("/api/ui-config").catch(() => null), // null: the defaults; the banner shows the lost connection
    setLanguage(chooseLanguage()),
    loadSession().catch(() => false), // unreachable: not logged in; the banner says why
  ]);
  if (cfg) uiConfig = Object.assign(uiConfig, cfg);
  setZone(uiConfig.time_zone);
  const select = document.getElementById("lang-select");
  select.value = language();
  select.addEventListener("change", async () => {
    await setLanguage(select.value, true);
    render();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    // No poll of the page being left may reach the gateway after the session ended (it would be
    // answered 401): stop the polling and its page's pollers, let a round in flight finish first.
    clearInterval(pollTimer);
    generation++;
    pollers = [];
    await ticking;
    try {
      await logout();
    } catch (_) {
      /* forgotten locally all the same */
    }
    location.hash = "#/login";
    showWho();
    startPolling();
  });
  translateDom(document);
  showConnection();
  window.addEventListener("hashchange", render);
  await render();
  startPolling();
  document.body.dataset.ready = "1";
}

start();
