// Work orders (#/orders?state=&site=&contractor=&town=&cursor=): the list, newest first, with
// filters and cursor paging (GET /api/work-orders, `next_cursor`); overdue orders (past due and not
// yet fixed) and escalated ones are marked. Operators (and admins) create an order here: from an
// alert (#/orders?create=alert&alert=ID, the alerts and terminal pages link here: site, fault type
// and severity come from GET /api/alerts/{id}), from a villager's complaint (reporter phone) or by
// hand (POST /api/work-orders, then the order's page). The figures panel: GET
// /api/work-orders/figures by contractor, town or fault type over the last 30 days.
// Also the helpers the order page (order.js) and the field pages (field.js) share.
// API: gateway/README.md "Operations and maintenance: work orders".

export const STATES = ["open", "dispatched", "on_site", "fixed", "verified", "reopened"];
/** States in which an order still waits for its repair (overdue counts only there). */
export const UNFIXED = ["open", "dispatched", "on_site", "reopened"];

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The label of a work-order state (literal keys: tests/web/check_i18n.py sees each). */
export function stateLabel(t, s) {
  return (
    {
      open: t("wo.state_open"),
      dispatched: t("wo.state_dispatched"),
      on_site: t("wo.state_on_site"),
      fixed: t("wo.state_fixed"),
      verified: t("wo.state_verified"),
      reopened: t("wo.state_reopened"),
    }[s] || s
  );
}

export function stateBadge(t, s) {
  return `<span class="wo-state wo-state-${esc(s)}" data-state="${esc(s)}">${esc(stateLabel(t, s))}</span>`;
}

export function sourceLabel(t, s) {
  return (
    { alert: t("wo.source_alert"), incident: t("wo.source_incident"), inspection: t("wo.source_inspection"), complaint: t("wo.source_complaint"), manual: t("wo.source_manual") }[s] || s
  );
}

/** Past its due time and not yet fixed. */
export function isOverdue(o, now = Date.now()) {
  return UNFIXED.includes(o.state) && o.due_at && new Date(o.due_at).getTime() < now;
}

/** The overdue and escalation marks of an order (HTML). */
export function marks(t, o) {
  let out = "";
  if (isOverdue(o)) out += ` <span class="overdue" data-overdue="1">${esc(t("wo.overdue"))}</span>`;
  if (o.escalated) out += ` <span class="escalated">${esc(o.escalated === "county" ? t("wo.escalated_county") : t("wo.escalated_town"))}</span>`;
  return out;
}

/** The API's refusal as the page shows it (status and the gateway's message). */
export function refusal(t, e) {
  if (e && typeof e.status === "number") return t("wo.refused", { status: e.code ? `${e.status} ${e.code}` : String(e.status), message: e.message });
  return t("app.load_failed");
}

/** Loads css/orders.css once. */
export function ensureCss() {
  if (document.getElementById("orders-css")) return;
  const link = document.createElement("link");
  link.id = "orders-css";
  link.rel = "stylesheet";
  link.href = "/web/css/orders.css";
  document.head.appendChild(link);
}

function hours(ctx, h) {
  return h === null || h === undefined ? "–" : ctx.t("wo.hours", { n: ctx.fmt.number(h, 1) });
}

export async function render(root, ctx) {
  const { t, fmt, api, params } = ctx;
  ensureCss();
  const operate = ctx.can("ack");
  root.innerHTML = `
  <section class="panel">
    <h1>${esc(t("wo.title"))} <span id="o-count" class="muted"></span></h1>
    <form id="o-filters" class="filters">
      <select id="o-state" aria-label="${esc(t("filter.state"))}"><option value="">${esc(t("wo.all_states"))}</option>
        ${STATES.map((s) => `<option value="${s}">${esc(stateLabel(t, s))}</option>`).join("")}</select>
      <select id="o-site" aria-label="${esc(t("wo.site"))}"><option value="">${esc(t("wo.all_sites"))}</option></select>
      <input type="text" id="o-contractor" placeholder="${esc(t("wo.contractor"))}" aria-label="${esc(t("wo.contractor"))}" maxlength="64">
      <select id="o-town" aria-label="${esc(t("filter.town"))}"><option value="">${esc(t("filter.all_towns"))}</option></select>
    </form>
    <p id="o-error" class="error" role="alert" hidden></p>
    <div class="table-scroll"><table class="wo-table" id="o-list"><thead><tr>
      <th>#</th><th>${esc(t("wo.order"))}</th><th>${esc(t("wo.site"))}</th><th>${esc(t("wo.contractor"))}</th>
      <th>${esc(t("wo.state"))}</th><th>${esc(t("wo.created"))}</th><th>${esc(t("wo.due"))}</th></tr></thead><tbody></tbody></table></div>
    <div class="wo-pager"><button type="button" id="o-first" class="secondary">${esc(t("wo.first_page"))}</button>
      <button type="button" id="o-next" class="secondary">${esc(t("wo.older"))}</button></div>
  </section>
  ${operate ? createPanel(t) : ""}
  <section class="panel" id="o-figures-panel">
    <h2>${esc(t("wo.figures"))}</h2>
    <label>${esc(t("insp.by"))} <select id="o-by"><option value="contractor">${esc(t("insp.by_contractor"))}</option>
      <option value="town">${esc(t("insp.by_town"))}</option><option value="fault_type">${esc(t("wo.by_fault_type"))}</option></select></label>
    <p class="muted" id="o-fig-range"></p>
    <div class="table-scroll"><table class="wo-table" id="o-figures"><thead><tr>
      <th>${esc(t("insp.group"))}</th><th class="num">${esc(t("wo.fig_orders"))}</th><th class="num">${esc(t("wo.fig_dispatch"))}</th>
      <th class="num">${esc(t("wo.fig_fixed"))}</th><th class="num">${esc(t("wo.fig_fix"))}</th><th class="num">${esc(t("wo.fig_on_time"))}</th>
      <th class="num">${esc(t("wo.fig_reopen"))}</th><th class="num">${esc(t("wo.fig_verified"))}</th></tr></thead><tbody></tbody></table></div>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  for (const [id, key] of [["o-state", "state"], ["o-contractor", "contractor"]]) $(id).value = params.get(key) || "";

  // Sites and towns for the filters and the create form (the caller's scope only).
  const terms = ((await api("/api/terminals").catch(() => ({ terminals: [] }))).terminals || []).slice().sort((a, b) => a.id.localeCompare(b.id));
  for (const x of terms) $("o-site").add(new Option(`${x.id} · ${x.name || ""}`, x.id));
  for (const town of [...new Set(terms.map((x) => x.town))].sort()) $("o-town").add(new Option(town, town));
  $("o-site").value = params.get("site") || "";
  $("o-town").value = params.get("town") || "";

  // Paging: the cursors of the pages before this one (to go back to the first page).
  let cursor = params.get("cursor") || "";
  let next = null;
  async function load() {
    const q = new URLSearchParams();
    for (const [id, key] of [["o-state", "state"], ["o-site", "site"], ["o-contractor", "contractor"], ["o-town", "town"]]) {
      const v = $(id).value.trim();
      if (v) q.set(key, v);
    }
    q.set("limit", "50");
    if (cursor) q.set("cursor", cursor);
    let r;
    try {
      r = await api(`/api/work-orders?${q}`);
      $("o-error").hidden = true;
    } catch (e) {
      $("o-error").hidden = false;
      $("o-error").textContent = refusal(t, e);
      return;
    }
    if (!ctx.current) return;
    next = r.next_cursor;
    $("o-next").disabled = !next;
    $("o-first").disabled = !cursor;
    $("o-count").textContent = `(${r.items.length}${next ? "+" : ""})`;
    $("o-list").tBodies[0].innerHTML = r.items.length
      ? r.items
          .map(
            (o) => `<tr data-id="${o.id}" data-state="${esc(o.state)}" class="${isOverdue(o) ? "is-overdue" : ""}">
        <td><a href="#/orders/${o.id}">#${o.id}</a></td>
        <td><a href="#/orders/${o.id}">${esc(o.title)}</a><br><small class="muted">${esc(sourceLabel(t, o.source))} · ${esc(o.fault_type)} · ${esc(t(`severity.${o.severity}`))}</small></td>
        <td data-label="${esc(t("wo.site"))}"><a href="#/terminals/${encodeURIComponent(o.site_id)}">${esc(o.site_id)}</a> · ${esc(o.town)}</td>
        <td data-label="${esc(t("wo.contractor"))}">${esc(o.contractor || t("insp.no_contractor"))}</td>
        <td>${stateBadge(t, o.state)}${marks(t, o)}</td>
        <td data-label="${esc(t("wo.created"))}">${esc(fmt.minute(o.created_at))}</td>
        <td data-label="${esc(t("wo.due"))}">${esc(fmt.minute(o.due_at))}</td></tr>`,
          )
          .join("")
      : `<tr><td colspan="7" class="empty">${esc(t("wo.none"))}</td></tr>`;
  }
  function refilter() {
    cursor = "";
    load();
  }
  for (const id of ["o-state", "o-site", "o-town"]) $(id).addEventListener("change", refilter);
  $("o-contractor").addEventListener("change", refilter);
  $("o-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    refilter();
  });
  $("o-next").addEventListener("click", () => {
    if (!next) return;
    cursor = next;
    load();
  });
  $("o-first").addEventListener("click", refilter);

  async function figures() {
    const f = await api(`/api/work-orders/figures?by=${$("o-by").value}`);
    if (!ctx.current) return;
    $("o-fig-range").textContent = t("wo.fig_range", { from: fmt.date(f.from), to: fmt.date(f.to) });
    $("o-figures").tBodies[0].innerHTML = f.rows.length
      ? f.rows
          .map(
            (g) => `<tr data-key="${esc(g.key)}"><th scope="row">${esc(g.key || t("insp.no_contractor"))}</th>
          <td class="num" data-label="${esc(t("wo.fig_orders"))}">${g.orders}</td>
          <td class="num" data-label="${esc(t("wo.fig_dispatch"))}">${esc(hours(ctx, g.mean_time_to_dispatch_h))}</td>
          <td class="num" data-label="${esc(t("wo.fig_fixed"))}">${g.fixed}</td>
          <td class="num" data-label="${esc(t("wo.fig_fix"))}">${esc(hours(ctx, g.mean_time_to_fix_h))}</td>
          <td class="num" data-label="${esc(t("wo.fig_on_time"))}">${esc(fmt.percent(g.on_time_rate))}</td>
          <td class="num" data-label="${esc(t("wo.fig_reopen"))}">${esc(fmt.percent(g.reopen_rate))}</td>
          <td class="num" data-label="${esc(t("wo.fig_verified"))}">${g.verified}</td></tr>`,
          )
          .join("")
      : `<tr><td colspan="8" class="empty">${esc(t("wo.none"))}</td></tr>`;
  }
  $("o-by").addEventListener("change", () => figures().catch(() => {}));

  if (operate) wireCreate(root, ctx, terms);
  await load();
  await figures().catch((e) => {
    $("o-fig-range").textContent = refusal(t, e);
  });
  root.dataset.rendered = "1";
  ctx.onPoll(() => load());
}

function createPanel(t) {
  return `<details class="panel" id="o-create-panel">
    <summary><h2>${esc(t("wo.create"))}</h2></summary>
    <form id="o-create" class="wo-form">
      <label>${esc(t("wo.source"))}<select id="c-source">
        <option value="alert">${esc(t("wo.source_alert"))}</option><option value="complaint">${esc(t("wo.source_complaint"))}</option>
        <option value="manual">${esc(t("wo.source_manual"))}</option></select></label>
      <label data-for="alert">${esc(t("wo.alert_id"))}<input type="number" id="c-alert" min="1" step="1"></label>
      <label data-for="complaint">${esc(t("wo.reporter_phone"))}<input type="text" id="c-phone" maxlength="32" inputmode="tel" autocomplete="off"></label>
      <label>${esc(t("wo.site"))}<select id="c-site" required></select></label>
      <label>${esc(t("wo.fault_type"))}<input type="text" id="c-fault" maxlength="64" required list="c-fault-list"></label>
      <datalist id="c-fault-list"></datalist>
      <label>${esc(t("wo.severity"))}<select id="c-severity"><option value="critical">${esc(t("severity.critical"))}</option>
        <option value="warning" selected>${esc(t("severity.warning"))}</option><option value="info">${esc(t("severity.info"))}</option></select></label>
      <label class="wide">${esc(t("wo.order_title"))}<input type="text" id="c-title" maxlength="200" required></label>
      <label class="wide">${esc(t("wo.description"))}<textarea id="c-desc" rows="2" maxlength="4000"></textarea></label>
      <div class="wide"><button type="submit" id="c-submit">${esc(t("wo.create_submit"))}</button></div>
    </form>
    <p id="c-msg" class="wo-msg" role="alert"></p>
  </details>`;
}

function wireCreate(root, ctx, terms) {
  const { t, params } = ctx;
  const $ = (x) => root.querySelector(`#${x}`);
  $("c-site").add(new Option(t("wo.choose_site"), ""));
  for (const x of terms) $("c-site").add(new Option(`${x.id} · ${x.name || ""}`, x.id));
  $("c-fault-list").innerHTML = ["turbidity_high", "no_flow", "offline", "flow_high", "cleanout_required", "sensor_fault", "blocked_pipe", "pump_failure", "odour"]
    .map((f) => `<option value="${f}">`)
    .join("");
  function showSource() {
    const s = $("c-source").value;
    for (const l of root.querySelectorAll("#o-create [data-for]")) l.hidden = l.dataset.for !== s;
  }
  $("c-source").addEventListener("change", showSource);
  async function fromAlert() {
    const id = $("c-alert").value;
    if (!id) return;
    try {
      const r = await ctx.api(`/api/alerts/${encodeURIComponent(id)}`);
      const a = r.alert || r;
      $("c-site").value = a.terminal_id;
      $("c-fault").value = a.type;
      if (a.severity) $("c-severity").value = a.severity;
      if (!$("c-title").value) $("c-title").value = `${t(`alert.${a.type}`)} · ${a.terminal_name || a.terminal_id}`;
      if (!$("c-desc").value) $("c-desc").value = a.message || "";
      $("c-msg").className = "wo-msg";
      $("c-msg").textContent = "";
    } catch (e) {
      $("c-msg").className = "wo-msg error";
      $("c-msg").textContent = refusal(t, e);
    }
  }
  $("c-alert").addEventListener("change", fromAlert);
  if (params.get("create")) {
    $("c-source").value = ["alert", "complaint", "manual"].includes(params.get("create")) ? params.get("create") : "manual";
    if (params.get("alert")) $("c-alert").value = params.get("alert");
    if (params.get("site")) $("c-site").value = params.get("site");
    root.querySelector("#o-create-panel").open = true;
    fromAlert();
    root.querySelector("#o-create-panel").scrollIntoView();
  }
  showSource();
  $("o-create").addEventListener("submit", async (e) => {
    e.preventDefault();
    const source = $("c-source").value;
    const body = {
      site_id: $("c-site").value,
      source,
      fault_type: $("c-fault").value.trim(),
      severity: $("c-severity").value,
      title: $("c-title").value.trim(),
      description: $("c-desc").value.trim(),
    };
    if (source === "alert") body.source_ref = $("c-alert").value.trim();
    if (source === "complaint") body.reporter_phone = $("c-phone").value.trim();
    $("c-submit").disabled = true;
    try {
      const o = await ctx.apiPost("/api/work-orders", body);
      location.hash = `#/orders/${o.id}`;
    } catch (err) {
      $("c-msg").className = "wo-msg error";
      $("c-msg").textContent = refusal(t, err);
    } finally {
      $("c-submit").disabled = false;
    }
  });
}
