// Alerts (#/alerts): open and recent alerts, filters by type / town / state, acknowledge with a
// note; open, acknowledged and cleared look different (icon, label, style), each alert links to its
// terminal and its position on the map. Alarm discipline (issue 12): suppressed (maintenance
// window), shelved, escalated and grouped alerts are marked; shelved ones are hidden unless the
// "shelved" view is chosen; an operator may shelve an alert for a chosen duration.
// Work orders (issue 12): an alert with an order (source alert, source_ref = alert id) links to it;
// an operator may create one from the alert (#/orders?create=alert&alert=ID).
import { ALERT_TYPES, severityOf, severityIcon, escapeHtml } from "../states.js";
import { stateLabel } from "./orders.js";

const STATES = ["open", "raised", "acknowledged", "cleared", "all"];
// Shelving durations offered, s (the gateway bounds them by [alarms] max_shelve_s).
const SHELVE_S = [900, 3600, 4 * 3600, 8 * 3600, 24 * 3600];

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  root.innerHTML = `
  <section class="panel">
    <h1>${t("alerts.title")} <span id="alert-count" class="muted"></span></h1>
    <div class="filters">
      <select id="a-state" aria-label="${t("filter.state")}">${STATES.map((s) => `<option value="${s}">${t(`alert_filter.${s}`)}</option>`).join("")}</select>
      <select id="a-type" aria-label="${t("filter.alert_type")}"><option value="">${t("filter.all_alert_types")}</option>
        ${ALERT_TYPES.map((a) => `<option value="${a}">${t(`alert.${a}`)}</option>`).join("")}</select>
      <select id="a-town" aria-label="${t("filter.town")}"><option value="">${t("filter.all_towns")}</option></select>
      <select id="a-shelf" aria-label="${t("alerts.shelf_filter")}"><option value="hide">${t("alerts.shelf_hide")}</option>
        <option value="only">${t("alerts.shelf_only")}</option></select>
    </div>
    <p id="ack-msg" class="msg" role="status"></p>
    <ul class="alert-cards stale-able" id="alert-list"></ul>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  $("a-state").value = STATES.includes(ctx.params.get("state")) ? ctx.params.get("state") : "open";
  if (ctx.params.get("type")) $("a-type").value = ctx.params.get("type");

  let terminals = new Map(); // id -> terminal (name, town, coordinates) for alerts that lack them
  let orders = new Map(); // alert id -> its work order (source "alert")
  let alerts = [];
  let openForm = null; // alert id whose acknowledgement form is open (kept across refreshes)
  let shelfForm = null; // alert id whose shelve form is open

  function matches(a) {
    const shelved = Boolean(a.discipline && a.discipline.shelved);
    if (($("a-shelf").value === "only") !== shelved) return false;
    const st = $("a-state").value;
    if (st === "open" && a.state === "cleared") return false;
    if (st !== "open" && st !== "all" && a.state !== st) return false;
    if ($("a-type").value && a.type !== $("a-type").value) return false;
    const town = a.town ?? (terminals.get(a.terminal_id) || {}).town;
    if ($("a-town").value && town !== $("a-town").value) return false;
    return true;
  }
  function card(a) {
    const term = terminals.get(a.terminal_id) || {};
    const sev = a.severity || severityOf(a.type);
    const name = a.terminal_name ?? term.name ?? a.terminal_id;
    const town = a.town ?? term.town ?? "";
    const stateMark = { raised: "●", acknowledged: "✔", cleared: "○" }[a.state] || "";
    return `<li class="alert-card alert-${a.state} sev-${sev}" data-alert-id="${a.alert_id}" data-state="${a.state}">
      <div class="alert-head">${severityIcon(sev)} <b>${t(`alert.${a.type}`)}</b>
        <span class="alert-state badge-${a.state}">${stateMark} ${t(`alert_state.${a.state}`)}</span>
        <span class="muted">${t(`severity.${sev}`)}</span></div>
      <div><a href="#/terminals/${encodeURIComponent(a.terminal_id)}">${escapeHtml(name)} (${escapeHtml(a.terminal_id)})</a> · ${escapeHtml(town)}
        · <a href="#/?focus=${encodeURIComponent(a.terminal_id)}" class="map-link">${t("alerts.on_map")}</a></div>
      <div class="alert-msg">${escapeHtml(a.message || "")}</div>
      <div class="muted">${t("alerts.raised_at", { time: fmt.dateTime(a.raised_at) })}
        ${a.cleared_at ? ` · ${t("alerts.cleared_at", { time: fmt.dateTime(a.cleared_at) })}` : ""}</div>
      ${a.acked_at ? `<div class="ack-info">${t("alerts.acked", { by: escapeHtml(a.acked_by), time: fmt.dateTime(a.acked_at) })}${a.ack_note ? `: “${escapeHtml(a.ack_note)}”` : ""}</div>` : ""}
      ${disciplineInfo(a)}
      ${orderLink(a)}
      ${a.state === "raised" && ctx.can("ack") ? `<div class="ack-area">${openForm === a.alert_id ? ackForm(a) : `<button type="button" class="ack-open" data-id="${a.alert_id}">${t("alerts.acknowledge")}</button>`}</div>` : ""}
      ${a.state !== "cleared" && ctx.can("ack") && a.discipline && !a.discipline.shelved && !a.discipline.suppressed ? `<div class="shelve-area">${shelfForm === a.alert_id ? shelveForm(a) : `<button type="button" class="secondary shelve-open" data-id="${a.alert_id}">${t("alerts.shelve")}</button>`}</div>` : ""}
    </li>`;
  }
  // The work order of an alert, or (operators) the way to create one.
  function orderLink(a) {
    const o = orders.get(String(a.alert_id));
    if (o) return `<div class="wo-link"><a href="#/orders/${o.id}" data-order="${o.id}">${t("alerts.work_order", { id: String(o.id), state: escapeHtml(stateLabel(t, o.state)) })}</a></div>`;
    return ctx.can("ack") ? `<div class="wo-link"><a href="#/orders?create=alert&amp;alert=${a.alert_id}" class="wo-create">${t("alerts.create_order")}</a></div>` : "";
  }
  // The marks of an alert: its notification held for a weather event (incidents), and the alarm
  // discipline's (suppressed, shelved, escalated, grouped).
  function disciplineInfo(a) {
    const d = a.discipline || {};
    const marks = [];
    if (a.notification_held_until) {
      marks.push(`<span class="disc disc-held">${t("alerts.held", { until: fmt.dateTime(a.notification_held_until) })}</span>`);
    }
    if (d.suppressed) {
      const w = d.window || {};
      marks.push(`<span class="disc disc-suppressed">${t("alerts.suppressed", { reason: escapeHtml(w.reason || "#" + w.id), until: w.until ? fmt.dateTime(w.until) : "—" })}</span>`);
    } else if (d.released_at) {
      marks.push(`<span class="disc disc-released">${t("alerts.released", { time: fmt.dateTime(d.released_at) })}</span>`);
    }
    if (d.shelved) {
      marks.push(`<span class="disc disc-shelved">${t("alerts.shelved", { until: fmt.dateTime(d.shelved_until), by: escapeHtml(d.shelved_by || "") })}${d.shelve_note ? `: “${escapeHtml(d.shelve_note)}”` : ""}</span>`);
    }
    if (d.escalated) {
      marks.push(`<span class="disc disc-escalated">${t(d.escalated === "county" ? "alerts.escalated_county" : "alerts.escalated_town", { time: fmt.dateTime(d.escalated_at) })}</span>`);
    }
    if (d.group && d.group.repeats > 0) {
      marks.push(`<span class="disc disc-grouped">${t("alerts.grouped", { repeats: d.group.repeats, first: fmt.dateTime(d.group.first_at), last: fmt.dateTime(d.group.last_at) })}</span>`);
    }
    return marks.length ? `<div class="discipline">${marks.join(" ")}</div>` : "";
  }
  function shelveForm(a) {
    return `<form class="shelve-form" data-id="${a.alert_id}">
      <label>${t("alerts.shelve_duration")}<select name="duration">${SHELVE_S.map((s) => `<option value="${s}">${s < 3600 ? t("alerts.minutes", { n: String(s / 60) }) : t("alerts.hours", { n: String(s / 3600) })}</option>`).join("")}</select></label>
      <label>${t("alerts.note")}<textarea name="note" maxlength="1000" rows="2"></textarea></label>
      <div class="buttons"><button type="submit">${t("alerts.confirm_shelve")}</button>
      <button type="button" class="secondary shelve-cancel">${t("common.cancel")}</button></div></form>`;
  }
  function ackForm(a) {
    return `<form class="ack-form" data-id="${a.alert_id}">
      <label>${t("alerts.note")}<textarea name="note" maxlength="1000" rows="2"></textarea></label>
      <div class="buttons"><button type="submit">${t("alerts.confirm_ack")}</button>
      <button type="button" class="secondary ack-cancel">${t("common.cancel")}</button></div></form>`;
  }
  function draw() {
    const list = alerts.filter(matches);
    const keepNote = root.querySelector(".ack-form textarea");
    const note = keepNote ? keepNote.value : "";
    $("alert-list").innerHTML = list.length ? list.map(card).join("") : `<li class="empty">${t("alerts.none")}</li>`;
    const ta = root.querySelector(".ack-form textarea");
    if (ta) ta.value = note;
    $("alert-count").textContent = `(${list.length})`;
  }
  $("alert-list").addEventListener("click", (e) => {
    const open = e.target.closest(".ack-open");
    if (open) {
      openForm = Number(open.dataset.id);
      draw();
      const ta = root.querySelector(".ack-form textarea");
      if (ta) ta.focus();
    }
    if (e.target.closest(".ack-cancel")) {
      openForm = null;
      draw();
    }
    const shelf = e.target.closest(".shelve-open");
    if (shelf) {
      shelfForm = Number(shelf.dataset.id);
      draw();
    }
    if (e.target.closest(".shelve-cancel")) {
      shelfForm = null;
      draw();
    }
  });
  $("alert-list").addEventListener("submit", async (e) => {
    const sf = e.target.closest(".shelve-form");
    if (sf) {
      e.preventDefault();
      try {
        await ctx.apiPost(`/api/alerts/${sf.dataset.id}/shelve`, {
          duration_s: Number(sf.querySelector("select").value),
          note: sf.querySelector("textarea").value.trim(),
        });
        $("ack-msg").textContent = t("alerts.shelve_done");
        shelfForm = null;
        await refresh(true);
      } catch (err) {
        $("ack-msg").textContent = t("alerts.shelve_failed", { message: err.message });
      }
      return;
    }
    const form = e.target.closest(".ack-form");
    if (!form) return;
    e.preventDefault();
    const note = form.querySelector("textarea").value.trim();
    try {
      // Acknowledged as the logged-in user (the gateway records the session's user).
      await ctx.apiPost(`/api/alerts/${form.dataset.id}/ack`, { note });
      $("ack-msg").textContent = t("alerts.ack_done");
      openForm = null;
      await refresh(true);
    } catch (err) {
      $("ack-msg").textContent = t("alerts.ack_failed", { message: err.message });
    }
  });
  for (const id of ["a-state", "a-type", "a-town", "a-shelf"]) $(id).addEventListener("change", () => refresh(true));

  let last = null;
  let lastOrders = null;
  async function refresh(force = false) {
    const st = $("a-state").value;
    // Only parameters every gateway version accepts: the rest is filtered here.
    const [a, tl, wo] = await Promise.all([
      ctx.api(`/api/alerts?state=${st === "open" ? "open" : "all"}&limit=1000&shelved=include`),
      ctx.api("/api/terminals"),
      ctx.api("/api/work-orders?limit=500").catch(() => null), // the newest 500: enough to link recent alerts
    ]);
    if (!ctx.current) return;
    const ordersChanged = wo !== lastOrders;
    lastOrders = wo;
    orders = new Map(((wo && wo.items) || []).filter((o) => o.source === "alert").map((o) => [o.source_ref, o]));
    terminals = new Map((tl.terminals || []).map((x) => [x.id, x]));
    const sel = $("a-town");
    const have = new Set([...sel.options].map((o) => o.value));
    for (const town of [...new Set([...terminals.values()].map((x) => x.town))].sort()) if (!have.has(town)) sel.add(new Option(town, town));
    if (a === last && !force && !ordersChanged) return;
    last = a;
    alerts = a.alerts || [];
    // Raised first, then acknowledged, then cleared; newest first within each.
    const order = { raised: 0, acknowledged: 1, cleared: 2 };
    alerts.sort((x, y) => (order[x.state] ?? 3) - (order[y.state] ?? 3) || String(y.raised_at).localeCompare(String(x.raised_at)));
    draw();
  }
  await refresh(true);
  root.dataset.rendered = "1";
  ctx.onPoll(() => refresh(false));
}
