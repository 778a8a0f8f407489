// Maintenance windows (#/maintenance, issue 12 alarm discipline): planned work per site during
// which its alerts are suppressed (kept and shown as suppressed, never notified, never escalated).
// Lists the windows (current, planned; ended ones on request) and, for operators, creates one-off
// or recurring (daily / weekly, local time in the county's zone) windows, ends them early or
// deletes them. Every change is audited by the gateway.
import { escapeHtml } from "../states.js";

const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7]; // ISO: 1 = Monday

/** UTC ISO string of a wall time "YYYY-MM-DDTHH:MM" in time zone `zone` (Intl supplies the rules). */
function zoneLocalToIso(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  const offsetAt = (ms) => {
    const p = Object.fromEntries(parts.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute) - ms;
  };
  let utc = wall - offsetAt(wall);
  utc = wall - offsetAt(utc); // again at the found instant: right across a clock change
  return new Date(utc).toISOString();
}

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  const canEdit = ctx.can("ack");
  root.innerHTML = `
  <section class="panel">
    <h1>${t("maint.title")} <span id="mw-count" class="muted"></span></h1>
    <p class="muted">${t("maint.explain", { zone: escapeHtml(fmt.zone) })}</p>
    <div class="filters">
      <label class="inline"><input type="checkbox" id="mw-ended"> ${t("maint.show_ended")}</label>
    </div>
    <p id="mw-msg" class="msg" role="status"></p>
    <ul class="alert-cards" id="mw-list"></ul>
  </section>
  ${canEdit ? `<section class="panel">
    <h2>${t("maint.new")}</h2>
    <form id="mw-form" class="mw-form">
      <label>${t("maint.site")}<select name="site_id" id="mw-site" required></select></label>
      <label>${t("maint.reason")}<input name="reason" id="mw-reason" maxlength="256" required></label>
      <label>${t("maint.recurrence")}<select name="recurrence" id="mw-rec">
        <option value="once">${t("maint.rec_once")}</option><option value="daily">${t("maint.rec_daily")}</option>
        <option value="weekly">${t("maint.rec_weekly")}</option></select></label>
      <div id="mw-once">
        <label>${t("maint.start")}<input type="datetime-local" name="start" id="mw-start"></label>
        <label>${t("maint.end")}<input type="datetime-local" name="end" id="mw-end"></label>
      </div>
      <div id="mw-recurring" hidden>
        <label>${t("maint.local_start")}<input type="time" name="local_start" id="mw-local-start" value="22:00"></label>
        <label>${t("maint.duration_h")}<input type="number" name="duration_h" id="mw-duration" min="0.25" max="168" step="0.25" value="2"></label>
        <fieldset id="mw-weekdays" hidden><legend>${t("maint.weekdays")}</legend>
          ${WEEKDAYS.map((d) => `<label class="inline"><input type="checkbox" value="${d}"> ${t(`weekday.${d}`)}</label>`).join("")}</fieldset>
      </div>
      <div class="buttons"><button type="submit" id="mw-create">${t("maint.create")}</button></div>
    </form>
  </section>` : ""}`;
  const $ = (x) => root.querySelector(`#${x}`);
  let windows = [];

  function card(w) {
    const when = w.recurrence === "once"
      ? t("maint.once_span", { start: fmt.dateTime(w.start), end: fmt.dateTime(w.end) })
      : t(w.recurrence === "daily" ? "maint.daily_span" : "maint.weekly_span", {
          time: w.local_start, hours: fmt.number(w.duration_s / 3600, 2),
          days: (w.weekdays || []).map((d) => t(`weekday.${d}`)).join(", "),
        });
    const status = w.ended_at ? t("maint.ended", { by: escapeHtml(w.ended_by || ""), time: fmt.dateTime(w.ended_at) })
      : w.active ? t("maint.active_until", { time: fmt.dateTime(w.current.end) })
      : w.next ? t("maint.next", { time: fmt.dateTime(w.next.start) }) : t("maint.over");
    return `<li class="alert-card mw-card ${w.active ? "mw-active" : ""}" data-window-id="${w.id}">
      <div class="alert-head"><b>${escapeHtml(w.reason)}</b> <span class="badge">${t(`recurrence.${w.recurrence}`)}</span>
        <span class="mw-status">${status}</span></div>
      <div><a href="#/terminals/${encodeURIComponent(w.site_id)}">${escapeHtml(w.site_name || w.site_id)} (${escapeHtml(w.site_id)})</a> · ${escapeHtml(w.town || "")}</div>
      <div class="muted">${when}</div>
      <div class="muted">${t("maint.created", { by: escapeHtml(w.created_by), time: fmt.dateTime(w.created_at) })}</div>
      ${canEdit ? `<div class="buttons">${!w.ended_at && (w.active || w.next) ? `<button type="button" class="secondary mw-end" data-id="${w.id}">${t("maint.end_now")}</button>` : ""}
        <button type="button" class="secondary mw-delete" data-id="${w.id}">${t("maint.delete")}</button></div>` : ""}
    </li>`;
  }
  function draw() {
    $("mw-list").innerHTML = windows.length ? windows.map(card).join("") : `<li class="empty">${t("maint.none")}</li>`;
    $("mw-count").textContent = `(${windows.length})`;
  }
  async function refresh() {
    const r = await ctx.api(`/api/maintenance-windows${$("mw-ended").checked ? "?ended=true" : ""}`);
    if (!ctx.current) return;
    windows = r.windows || [];
    draw();
  }
  $("mw-ended").addEventListener("change", refresh);
  $("mw-list").addEventListener("click", async (e) => {
    const end = e.target.closest(".mw-end");
    const del = e.target.closest(".mw-delete");
    if (!end && !del) return;
    try {
      if (end) await ctx.apiPost(`/api/maintenance-windows/${end.dataset.id}/end`, {});
      if (del) await ctx.apiDelete(`/api/maintenance-windows/${del.dataset.id}`);
      $("mw-msg").textContent = t(end ? "maint.end_done" : "maint.delete_done");
      await refresh();
    } catch (err) {
      $("mw-msg").textContent = t("maint.failed", { message: err.message });
    }
  });
  if (canEdit) {
    const tl = await ctx.api("/api/terminals");
    for (const x of tl.terminals || []) $("mw-site").add(new Option(`${x.name || x.id} (${x.id})`, x.id));
    const showKind = () => {
      const k = $("mw-rec").value;
      $("mw-once").hidden = k !== "once";
      $("mw-recurring").hidden = k === "once";
      $("mw-weekdays").hidden = k !== "weekly";
    };
    $("mw-rec").addEventListener("change", showKind);
    $("mw-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const k = $("mw-rec").value;
      const body = { site_id: $("mw-site").value, reason: $("mw-reason").value.trim(), recurrence: k };
      if (k === "once") {
        body.start = zoneLocalToIso($("mw-start").value, fmt.zone);
        body.end = zoneLocalToIso($("mw-end").value, fmt.zone);
      } else {
        body.local_start = $("mw-local-start").value;
        body.duration_s = Math.round(Number($("mw-duration").value) * 3600);
        if (k === "weekly") body.weekdays = [...root.querySelectorAll("#mw-weekdays input:checked")].map((x) => Number(x.value));
      }
      try {
        await ctx.apiPost("/api/maintenance-windows", body);
        $("mw-msg").textContent = t("maint.create_done");
        $("mw-reason").value = "";
        await refresh();
      } catch (err) {
        $("mw-msg").textContent = t("maint.failed", { message: err.message });
      }
    });
  }
  await refresh();
  root.dataset.rendered = "1";
  ctx.onPoll(refresh);
}
