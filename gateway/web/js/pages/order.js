// One work order (#/orders/{id}): GET /api/work-orders/{id}. Header with state, site, contractor,
// due time and the overdue flag; the times created / dispatched / on site / fixed / verified; the
// cause and parts of the repair; the timeline of events (who, when, where, note); the check-ins
// with their distance to the site; the photos (GET /api/photos/{id}) with their taken time and its
// source, position and its source. Buttons by role and state: operators of the order's town or the
// county dispatch (choosing the contractor), verify and reopen (note required); the order's
// contractor gets the field actions (field.js: on site, photo, fixed). Every refusal of the API
// (403, 409 checkin_required / photo_required, 400 naming the field) is shown in the page.
import { esc, stateBadge, sourceLabel, marks, refusal, ensureCss } from "./orders.js";
import { crewPanel } from "./field.js";

/** "30.51234, 120.91234" or "–". */
export function position(lat, lon) {
  return lat === null || lat === undefined || lon === null || lon === undefined ? "–" : `${Number(lat).toFixed(5)}, ${Number(lon).toFixed(5)}`;
}

/** The photos of an order as thumbnails with their evidence (HTML). */
export function photosHtml(ctx, photos) {
  const { t, fmt } = ctx;
  if (!photos.length) return `<p class="muted" id="o-no-photos">${esc(t("wo.no_photos"))}</p>`;
  return `<div class="wo-photos">${photos
    .map(
      (p) => `<figure data-photo="${p.id}"><a href="${esc(p.url)}" target="_blank" rel="noopener"><img src="${esc(p.url)}" alt="${esc(t("wo.photo_alt", { id: String(p.id) }))}" loading="lazy"></a>
      <figcaption><span class="photo-taken">${esc(t("wo.photo_taken", { time: fmt.dateTime(p.taken_at), source: p.taken_source === "exif" ? t("wo.src_exif") : t("wo.src_upload") }))}</span><br>
      <span class="photo-pos">${esc(t("wo.photo_position", { pos: position(p.lat, p.lon), source: p.position_source === "exif" ? t("wo.src_exif") : p.position_source === "phone" ? t("wo.src_phone") : t("wo.src_none") }))}</span><br>
      <span class="muted">${esc(p.actor)}</span></figcaption></figure>`,
    )
    .join("")}</div>`;
}

export function checkinsHtml(ctx, checkins) {
  const { t, fmt } = ctx;
  if (!checkins.length) return `<p class="muted">${esc(t("wo.no_checkins"))}</p>`;
  return `<ul class="wo-timeline" id="o-checkins">${checkins
    .map(
      (k) => `<li data-checkin="${k.id}"><b>${esc(fmt.dateTime(k.at))}</b> · ${esc(k.actor)}<br>
      <span class="checkin-distance">${esc(t("wo.distance", { m: fmt.number(k.distance_m, 0) }))}</span>
      ${k.accuracy_m !== null && k.accuracy_m !== undefined ? ` · ${esc(t("wo.accuracy", { m: fmt.number(k.accuracy_m, 0) }))}` : ""} · ${esc(position(k.lat, k.lon))}</li>`,
    )
    .join("")}</ul>`;
}

function timesHtml(ctx, o) {
  const { t, fmt } = ctx;
  const rows = [
    ["created", t("wo.t_created"), o.created_at],
    ["dispatched", t("wo.t_dispatched"), o.dispatched_at],
    ["on_site", t("wo.t_on_site"), o.on_site_at],
    ["fixed", t("wo.t_fixed"), o.fixed_at],
    ["verified", t("wo.t_verified"), o.verified_at],
    ["due", t("wo.due"), o.due_at],
  ];
  // After each step, how long since the order was created (time to dispatch, to fix, ...).
  const since = (k, v) =>
    v && k !== "created" && k !== "due" ? `<small class="muted" data-since="${k}">${esc(t("wo.after", { d: fmt.duration((new Date(v) - new Date(o.created_at)) / 1000) }))}</small>` : "";
  return `<dl class="wo-times" id="o-times">${rows
    .map(([k, label, v]) => `<div data-time="${k}"><dt>${esc(label)}</dt><dd>${esc(fmt.dateTime(v))}</dd>${since(k, v)}</div>`)
    .join("")}</dl>`;
}

function eventsHtml(ctx, events) {
  const { t, fmt } = ctx;
  if (!events.length) return `<p class="muted">${esc(t("wo.no_events"))}</p>`;
  return `<ol class="wo-timeline" id="o-events">${events
    .map(
      (e) => `<li data-to="${esc(e.to)}"><b>${esc(fmt.dateTime(e.at))}</b> · ${esc(e.actor)} ·
      ${e.from ? `${esc(e.from)} → ` : ""}${esc(e.to)}${e.lat !== null && e.lat !== undefined ? ` · ${esc(position(e.lat, e.lon))}` : ""}
      ${e.note ? `<br>“${esc(e.note)}”` : ""}</li>`,
    )
    .join("")}</ol>`;
}

/** The operator's buttons (dispatch, verify, reopen) for the order's state (HTML). */
function officePanel(ctx, o) {
  const { t } = ctx;
  const forms = [];
  if (o.state === "open" || o.state === "reopened")
    forms.push(`<form data-action="dispatch" id="o-dispatch"><h3>${esc(t("wo.dispatch"))}</h3>
      <label>${esc(t("wo.contractor"))}<input type="text" name="contractor" maxlength="64" value="${esc(o.contractor)}" required></label>
      <label>${esc(t("wo.note"))}<input type="text" name="note" maxlength="1000"></label>
      <button type="submit">${esc(t("wo.dispatch"))}</button></form>`);
  if (o.state === "fixed")
    forms.push(`<form data-action="verify" id="o-verify"><h3>${esc(t("wo.verify"))}</h3>
      <label>${esc(t("wo.note"))}<input type="text" name="note" maxlength="1000"></label>
      <button type="submit">${esc(t("wo.verify"))}</button></form>`);
  if (o.state === "fixed" || o.state === "verified")
    forms.push(`<form data-action="reopen" id="o-reopen"><h3>${esc(t("wo.reopen"))}</h3>
      <label>${esc(t("wo.reopen_note"))}<input type="text" name="note" maxlength="1000" required></label>
      <button type="submit" class="secondary">${esc(t("wo.reopen"))}</button></form>`);
  return forms.length ? forms.join("") : `<p class="muted">${esc(t("wo.no_actions"))}</p>`;
}

export async function render(root, ctx) {
  const { t, api } = ctx;
  ensureCss();
  const id = ctx.args[0];
  let o;
  try {
    o = await api(`/api/work-orders/${encodeURIComponent(id)}`);
  } catch (e) {
    root.innerHTML = `<section class="panel"><h1>${esc(t("wo.one_title", { id: String(id) }))}</h1>
      <p class="error" id="o-msg" role="alert">${esc(e.status === 404 ? t("wo.not_found") : e.status === 403 ? t("wo.forbidden") : "")} ${esc(refusal(t, e))}</p>
      <p><a href="#/orders">${esc(t("wo.back"))}</a></p></section>`;
    root.dataset.rendered = "1";
    return;
  }
  const crew = ctx.can("field") && ctx.session.contractor === o.contractor;
  const office = ctx.can("ack");
  root.innerHTML = `
  <p class="crumbs"><a href="${crew ? "#/field" : "#/orders"}">${esc(crew ? t("nav.my_orders") : t("wo.title"))}</a> ›</p>
  <section class="panel" id="o-head" data-state="${esc(o.state)}">
    <h1>${esc(t("wo.one_title", { id: String(o.id) }))}: ${esc(o.title)}</h1>
    <p>${stateBadge(t, o.state)}${marks(t, o)} · ${esc(t(`severity.${o.severity}`))} · ${esc(o.fault_type)}</p>
    <p><a href="#/terminals/${encodeURIComponent(o.site_id)}">${esc(o.site_id)}</a> · ${esc(o.town)} ·
      ${esc(t("wo.contractor"))}: <b id="o-contractor">${esc(o.contractor || t("insp.no_contractor"))}</b></p>
    <p class="muted">${esc(sourceLabel(t, o.source))}${o.source === "alert" && o.source_ref ? ` #${esc(o.source_ref)} (<a href="#/alerts?state=all">${esc(t("nav.alerts"))}</a>)` : o.source_ref ? ` ${esc(o.source_ref)}` : ""}
      ${o.reporter_phone ? ` · ${esc(t("wo.reporter_phone"))}: ${esc(o.reporter_phone)}` : ""} · ${esc(t("wo.created_by", { who: o.created_by }))}
      ${o.reopen_count ? ` · ${esc(t("wo.reopened_n", { n: String(o.reopen_count) }))}` : ""}</p>
    ${o.description ? `<p>${esc(o.description)}</p>` : ""}
    ${timesHtml(ctx, o)}
    ${o.cause || o.parts_used ? `<p id="o-repair"><b>${esc(t("wo.cause"))}:</b> ${esc(o.cause)}<br><b>${esc(t("wo.parts_used"))}:</b> ${esc(o.parts_used)}</p>` : ""}
    <p id="o-msg" class="wo-msg" role="alert"></p>
  </section>
  ${office ? `<section class="panel wo-actions" id="o-office">${officePanel(ctx, o)}</section>` : ""}
  ${crew ? `<section class="panel field" id="o-crew"></section>` : ""}
  <div class="wo-grid">
    <section class="panel"><h2>${esc(t("wo.photos"))}</h2><div id="o-photos">${photosHtml(ctx, o.photos)}</div></section>
    <section class="panel"><h2>${esc(t("wo.checkins"))}</h2>${checkinsHtml(ctx, o.checkins)}</section>
  </div>
  <section class="panel"><h2>${esc(t("wo.timeline"))}</h2>${eventsHtml(ctx, o.events)}</section>`;
  const msg = root.querySelector("#o-msg");
  const reload = async (text) => {
    await render(root, ctx);
    if (text) {
      const m = root.querySelector("#o-msg");
      m.className = "wo-msg ok";
      m.textContent = text;
    }
  };
  if (crew) crewPanel(root.querySelector("#o-crew"), o, ctx, reload);
  if (office)
    root.querySelector("#o-office").addEventListener("submit", async (e) => {
      const form = e.target.closest("form[data-action]");
      if (!form) return;
      e.preventDefault();
      const body = {};
      for (const el of form.querySelectorAll("input[name]")) if (el.value.trim()) body[el.name] = el.value.trim();
      const action = form.dataset.action;
      if (action === "reopen" && !body.note) {
        msg.className = "wo-msg error";
        msg.textContent = t("wo.reopen_note_required");
        return;
      }
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      try {
        root.dataset.rendered = "stale";
        await ctx.apiPost(`/api/work-orders/${o.id}/${action}`, body);
        await reload(t("wo.done", { action: form.querySelector("h3").textContent }));
      } catch (err) {
        msg.className = "wo-msg error";
        msg.textContent = refusal(t, err);
        msg.scrollIntoView({ block: "nearest" });
        for (const b of form.querySelectorAll("button")) b.disabled = false;
        root.dataset.rendered = "1";
      }
    });
  root.dataset.rendered = "1";
}
