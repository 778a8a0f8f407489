// The application shell: ui-config, language, hash router (#/, #/terminals/{id}, #/alerts,
// #/report), the live poll loop and the connection banner. Pages are modules in ./pages that
// export render(root, ctx); they register what to refresh with ctx.onPoll(fn).
import { api, apiPost, apiBlob, connection, onConnection, checkSilence, ApiError } from "./api.js";
import { t, setLanguage, chooseLanguage, language, translateDom } from "./i18n.js";
import { fmt, setZone } from "./fmt.js";
import { askCredentials, credentials } from "./auth.js";

const main = document.getElementById("main");
const banner = document.getElementById("conn-banner");
const live = document.getElementById("live");
let uiConfig = { poll_interval_ms: 3000, compliance_target: 0.95, tile_url: "", time_zone: "Asia/Shanghai" };
let pollers = [];
let generation = 0;
let pollTimer = null;

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
  if (parts[0] === "terminals" && parts[1]) return { page: "terminal", args: [parts[1]], params };
  if (parts[0] === "alerts") return { page: "alerts", args: [], params };
  if (parts[0] === "report") return { page: "report", args: parts.slice(1), params };
  return { page: "notfound", args: [], params };
}

function makeContext(r, gen) {
  return {
    t,
    fmt,
    api,
    apiPost,
    apiBlob,
    ApiError,
    config: uiConfig,
    args: r.args,
    params: r.params,
    language,
    connection,
    credentials,
    askCredentials,
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

async function render() {
  const gen = ++generation;
  pollers = [];
  const r = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    const on = a.dataset.nav === (r.page === "terminal" ? "overview" : r.page);
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  main.dataset.page = r.page;
  if (r.page === "notfound") {
    main.innerHTML = `<p class="empty">${t("app.not_found")}</p>`;
    return;
  }
  let mod;
  try {
    mod = await import(`./pages/${r.page}.js`);
  } catch (e) {
    main.innerHTML = `<p class="empty">${t("app.page_unavailable")}</p>`;
    return;
  }
  if (gen !== generation) return;
  try {
    await mod.render(main, makeContext(r, gen));
  } catch (e) {
    if (gen === generation) showError(e);
  }
}

export function showError(e) {
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = e instanceof ApiError ? t("app.api_error", { message: e.message }) : t("app.load_failed");
  main.prepend(p);
}

async function tick() {
  const gen = generation;
  const jobs = pollers.map((f) => Promise.resolve().then(f).catch(() => {}));
  if (jobs.length === 0) jobs.push(api("/api/ui-config").catch(() => {}));
  await Promise.all(jobs);
  // Nothing answered for twice the poll interval plus the request timeout: the gateway is gone.
  checkSilence(2 * uiConfig.poll_interval_ms + 5000);
  if (gen === generation || true) showConnection();
}

function startPolling() {
  clearInterval(pollTimer);
  pollTimer = setInterval(tick, uiConfig.poll_interval_ms);
}

async function start() {
  try {
    uiConfig = Object.assign(uiConfig, await api("/api/ui-config"));
  } catch (_) {
    /* the defaults; the banner shows the lost connection */
  }
  setZone(uiConfig.time_zone);
  const select = document.getElementById("lang-select");
  await setLanguage(chooseLanguage());
  select.value = language();
  select.addEventListener("change", async () => {
    await setLanguage(select.value, true);
    render();
  });
  translateDom(document);
  showConnection();
  window.addEventListener("hashchange", render);
  await render();
  startPolling();
  document.body.dataset.ready = "1";
}

start();
