// The contractor's phone pages (issue 12 item 7), one column with big touch targets at 390 px:
//  #/field          "My orders": the crew's orders still to do (dispatched, on site, open,
//                   reopened), the earliest due first, overdue marked.
//  #/field/{id}     one order in field view: what to do next (check in by scanning the site's QR
//                   code, on site, photos from the camera, fixed with cause and parts used).
//  #/checkin?site=<id>&t=<token>   the site's QR code opens this (its content, see gateway/README.md
//                   "Check-in"): the phone's position from navigator.geolocation (with its accuracy;
//                   a clear message when it is denied or unavailable), the choice of what the visit
//                   is for (one of the crew's orders at that site, an open inspection, or a new
//                   inspection), POST /api/checkins, then "on site" for an order (or the checklist
//                   of the inspection: #/inspections/start?site=&checkin=).
// Photos: <input type=file accept="image/*" capture="environment"> (the phone's camera), uploaded
// as the raw body with the file's Content-Type and the phone's lat/lon (POST
// /api/work-orders/{id}/photos?lat=&lon=). Every refusal of the API is shown in the page.
import { esc, stateBadge, marks, refusal, ensureCss, isOverdue } from "./orders.js";
import { photosHtml, checkinsHtml } from "./order.js";

/** States in which the crew still has work on an order. */
const OPEN_STATES = ["dispatched", "on_site", "reopened", "open"];

/** The phone's position: {lat, lon, accuracy_m}; rejects with {code: "denied" | "unavailable" |
 * "timeout" | "unsupported"}. */
export function locate(timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject({ code: "unsupported" });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy }),
      (e) => reject({ code: e.code === 1 ? "denied" : e.code === 3 ? "timeout" : "unavailable" }),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 0 },
    );
  });
}

function positionError(t, e) {
  return (
    { denied: t("field.geo_denied"), timeout: t("field.geo_timeout"), unsupported: t("field.geo_unsupported") }[e && e.code] || t("field.geo_unavailable")
  );
}

/** The field actions of the order's crew for its state, drawn into `el`; `reload(text)` draws the
 * page again with `text` as the success message. Shared with the order page (order.js). */
export function crewPanel(el, o, ctx, reload) {
  const { t } = ctx;
  let html = "";
  if (o.state === "dispatched") {
    html = `<h2>${esc(t("field.next_step"))}</h2>
      <ol class="field-steps"><li>${esc(t("field.scan_qr"))}</li><li>${esc(t("field.then_on_site"))}</li></ol>
      <button type="button" class="big" id="f-on-site">${esc(t("field.on_site"))}</button>`;
  } else if (o.state === "on_site") {
    html = `<h2>${esc(t("field.next_step"))}</h2>
      <label class="file-label" id="f-photo-label">${esc(t("field.take_photo"))}
        <input type="file" id="f-photo" accept="image/*" capture="environment"></label>
      <p id="f-photo-msg" class="wo-msg" role="status"></p>
      <form id="f-fixed"><h3>${esc(t("field.fixed_title"))}</h3>
        <label>${esc(t("wo.cause"))}<textarea id="f-cause" rows="3" maxlength="2000"></textarea></label>
        <label>${esc(t("wo.parts_used"))}<textarea id="f-parts" rows="2" maxlength="2000"></textarea></label>
        <label>${esc(t("wo.note"))}<input type="text" id="f-note" maxlength="1000"></label>
        <button type="submit" class="big" id="f-fixed-submit">${esc(t("field.fixed"))}</button></form>`;
  } else if (o.state === "open" || o.state === "reopened") {
    html = `<p>${esc(t("field.wait_dispatch"))}</p>`;
  } else {
    html = `<p>${esc(o.state === "verified" ? t("field.verified") : t("field.wait_verify"))}</p>`;
  }
  el.innerHTML = `${html}<p id="f-msg" class="wo-msg" role="alert"></p>`;
  const msg = el.querySelector("#f-msg");
  const fail = (e) => {
    msg.className = "wo-msg error";
    msg.textContent = refusal(t, e);
    msg.scrollIntoView({ block: "nearest" }); // on a phone the button may be far from the top
  };
  /** Where the phone is, or {} when it cannot say (the action goes without a position). */
  const where = () => locate(8000).catch(() => ({}));

  const onSite = el.querySelector("#f-on-site");
  if (onSite)
    onSite.addEventListener("click", async () => {
      onSite.disabled = true;
      const p = await where();
      try {
        await ctx.apiPost(`/api/work-orders/${o.id}/on-site`, { lat: p.lat, lon: p.lon });
        await reload(t("field.on_site_done"));
      } catch (e) {
        fail(e);
        onSite.disabled = false;
      }
    });
  const photo = el.querySelector("#f-photo");
  if (photo)
    photo.addEventListener("change", async () => {
      const file = photo.files && photo.files[0];
      if (!file) return;
      const pm = el.querySelector("#f-photo-msg");
      pm.className = "wo-msg";
      pm.textContent = t("field.uploading");
      const p = await where();
      const q = new URLSearchParams();
      if (p.lat !== undefined) {
        q.set("lat", String(p.lat));
        q.set("lon", String(p.lon));
      }
      try {
        await ctx.apiPostText(`/api/work-orders/${o.id}/photos${q.toString() ? `?${q}` : ""}`, file, file.type || "application/octet-stream");
        await reload(t("field.photo_done"));
      } catch (e) {
        pm.className = "wo-msg error";
        pm.textContent = refusal(t, e);
        pm.scrollIntoView({ block: "nearest" });
        photo.value = "";
      }
    });
  const fixed = el.querySelector("#f-fixed");
  if (fixed)
    fixed.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const btn = el.querySelector("#f-fixed-submit");
      btn.disabled = true;
      const p = await where();
      const body = { cause: el.querySelector("#f-cause").value.trim(), parts_used: el.querySelector("#f-parts").value.trim(), lat: p.lat, lon: p.lon };
      const note = el.querySelector("#f-note").value.trim();
      if (note) body.note = note;
      try {
        await ctx.apiPost(`/api/work-orders/${o.id}/fixed`, body);
        await reload(t("field.fixed_done"));
      } catch (e) {
        fail(e);
        btn.disabled = false;
      }
    });
}

async function renderMine(root, ctx) {
  const { t, fmt, api } = ctx;
  root.innerHTML = `<section class="panel field"><h1>${esc(t("nav.my_orders"))} <span id="f-count" class="muted"></span></h1>
    <p class="muted">${esc(t("field.mine_hint"))}</p>
    <ul class="field-cards" id="f-list"></ul><p id="f-msg" class="wo-msg error" role="alert"></p></section>`;
  async function load() {
    let r;
    try {
      r = await api("/api/work-orders?limit=500");
    } catch (e) {
      root.querySelector("#f-msg").textContent = refusal(t, e);
      return;
    }
    if (!ctx.current) return;
    const mine = r.items.filter((o) => OPEN_STATES.includes(o.state) && (!ctx.session.contractor || o.contractor === ctx.session.contractor));
    mine.sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)) || a.id - b.id);
    root.querySelector("#f-count").textContent = `(${mine.length})`;
    root.querySelector("#f-list").innerHTML = mine.length
      ? mine
          .map(
            (o) => `<li class="field-card${isOverdue(o) ? " is-overdue" : ""}" data-id="${o.id}"><a href="#/field/${o.id}">
          <b>#${o.id} ${esc(o.title)}</b><br>${stateBadge(t, o.state)}${marks(t, o)}<br>
          ${esc(o.site_id)} · ${esc(o.town)}<br><span class="muted">${esc(t("field.due", { time: fmt.minute(o.due_at) }))}</span></a></li>`,
          )
          .join("")
      : `<li class="empty">${esc(t("field.none"))}</li>`;
  }
  await load();
  root.dataset.rendered = "1";
  ctx.onPoll(load);
}

async function renderOrder(root, ctx, id) {
  const { t, fmt, api } = ctx;
  let o;
  try {
    o = await api(`/api/work-orders/${encodeURIComponent(id)}`);
  } catch (e) {
    root.innerHTML = `<section class="panel field"><h1>${esc(t("wo.one_title", { id: String(id) }))}</h1>
      <p class="error" id="f-msg" role="alert">${esc(e.status === 404 ? t("wo.not_found") : e.status === 403 ? t("wo.forbidden") : "")} ${esc(refusal(t, e))}</p>
      <p><a class="big" href="#/field">${esc(t("nav.my_orders"))}</a></p></section>`;
    root.dataset.rendered = "1";
    return;
  }
  ensureCss();
  root.innerHTML = `<section class="panel field" id="f-head" data-state="${esc(o.state)}">
      <p class="crumbs"><a href="#/field">${esc(t("nav.my_orders"))}</a> ›</p>
      <h1>#${o.id} ${esc(o.title)}</h1>
      <p>${stateBadge(t, o.state)}${marks(t, o)} · ${esc(t(`severity.${o.severity}`))}</p>
      <p>${esc(o.site_id)} · ${esc(o.town)}<br>${esc(t("field.due", { time: fmt.dateTime(o.due_at) }))}</p>
      ${o.description ? `<p>${esc(o.description)}</p>` : ""}
      <p id="o-msg" class="wo-msg" role="status"></p>
    </section>
    <section class="panel field" id="o-crew"></section>
    <section class="panel"><h2>${esc(t("wo.photos"))}</h2><div id="o-photos">${photosHtml(ctx, o.photos)}</div></section>
    <section class="panel"><h2>${esc(t("wo.checkins"))}</h2>${checkinsHtml(ctx, o.checkins)}</section>
    <p><a href="#/orders/${o.id}">${esc(t("field.full_order"))}</a></p>`;
  const reload = async (text) => {
    await renderOrder(root, ctx, id);
    if (text) {
      const m = root.querySelector("#o-msg");
      m.className = "wo-msg ok";
      m.textContent = text;
    }
  };
  if (ctx.can("field") || ctx.can("ack")) crewPanel(root.querySelector("#o-crew"), o, ctx, reload);
  root.dataset.rendered = "1";
}

async function renderCheckin(root, ctx) {
  const { t, fmt, api, params } = ctx;
  const site = params.get("site") || "";
  const token = params.get("t") || "";
  root.innerHTML = `<section class="panel field" id="k-panel">
    <h1>${esc(t("field.checkin_title", { site }))}</h1>
    <p id="k-msg" class="wo-msg" role="alert"></p>
    <h2>${esc(t("field.position"))}</h2>
    <p id="k-pos" class="position" role="status">${esc(t("field.locating"))}</p>
    <button type="button" class="secondary big" id="k-locate">${esc(t("field.locate_again"))}</button>
    <form id="k-form"><fieldset><legend>${esc(t("field.visit_for"))}</legend><div id="k-choices"></div></fieldset>
      <button type="submit" class="big" id="k-submit" disabled>${esc(t("field.checkin"))}</button></form>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  const msg = $("k-msg");
  const fail = (text) => {
    msg.className = "wo-msg error";
    msg.textContent = text;
    msg.scrollIntoView({ block: "nearest" });
  };
  if (!site || !token) {
    fail(t("field.no_token"));
    root.dataset.rendered = "1";
    return;
  }
  // What the visit is for: the crew's orders at this site still to do, open inspections, a new one.
  const [orders, insp] = await Promise.all([
    api(`/api/work-orders?site=${encodeURIComponent(site)}&limit=100`).catch((e) => (fail(refusal(t, e)), { items: [] })),
    api(`/api/inspections?site=${encodeURIComponent(site)}&limit=20`).catch(() => ({ inspections: [] })),
  ]);
  const mine = orders.items.filter((o) => ["dispatched", "on_site"].includes(o.state) && (!ctx.session.contractor || o.contractor === ctx.session.contractor));
  const openInsp = (insp.inspections || []).filter((i) => i.state !== "completed");
  const want = params.get("order");
  const choices = [
    ...mine.map((o) => ({ value: `order:${o.id}`, label: `#${o.id} ${o.title} (${t("wo.due")}: ${fmt.minute(o.due_at)})`, state: o.state })),
    ...openInsp.map((i) => ({ value: `inspection:${i.id}`, label: t("field.open_inspection", { id: String(i.id) }) })),
    { value: "inspection:new", label: t("field.new_inspection") },
  ];
  $("k-choices").innerHTML = choices
    .map(
      (c, n) => `<label class="choice"><input type="radio" name="k-for" value="${esc(c.value)}" ${(want ? c.value === `order:${want}` : n === 0) ? "checked" : ""}> <span>${esc(c.label)}</span></label>`,
    )
    .join("");

  let pos = null;
  async function findPosition() {
    $("k-submit").disabled = true;
    $("k-pos").textContent = t("field.locating");
    try {
      pos = await locate();
      $("k-pos").textContent = t("field.position_is", { lat: pos.lat.toFixed(6), lon: pos.lon.toFixed(6), m: fmt.number(pos.accuracy_m, 0) });
      $("k-pos").dataset.ok = "1";
      $("k-submit").disabled = false;
    } catch (e) {
      pos = null;
      $("k-pos").dataset.ok = "0";
      $("k-pos").textContent = positionError(t, e);
    }
  }
  $("k-locate").addEventListener("click", findPosition);
  $("k-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!pos) return;
    const choice = (root.querySelector("input[name=k-for]:checked") || {}).value || "inspection:new";
    const [kind, ref] = choice.split(":");
    const body = { site_id: site, token, lat: pos.lat, lon: pos.lon, accuracy_m: pos.accuracy_m };
    if (kind === "order") body.order_id = Number(ref);
    if (kind === "inspection" && ref !== "new") body.inspection_id = Number(ref);
    $("k-submit").disabled = true;
    let k;
    try {
      k = await ctx.apiPost("/api/checkins", body);
    } catch (e) {
      fail(refusal(t, e));
      $("k-submit").disabled = false;
      return;
    }
    msg.className = "wo-msg ok";
    msg.textContent = t("field.checked_in", { m: fmt.number(k.distance_m, 0) });
    if (kind === "inspection") {
      location.hash = ref === "new" ? `#/inspections/start?site=${encodeURIComponent(site)}&checkin=${k.id}` : `#/inspections/${ref}`;
      return;
    }
    const o = mine.find((x) => x.id === Number(ref));
    if (o && o.state === "dispatched") {
      try {
        await ctx.apiPost(`/api/work-orders/${o.id}/on-site`, { lat: pos.lat, lon: pos.lon, note: t("field.checkin_note", { m: fmt.number(k.distance_m, 0) }) });
      } catch (e) {
        fail(refusal(t, e));
        return;
      }
    }
    location.hash = `#/field/${ref}`;
  });
  await findPosition();
  root.dataset.rendered = "1";
}

export async function render(root, ctx) {
  ensureCss();
  const [first] = ctx.args;
  if (first === "checkin") return renderCheckin(root, ctx);
  if (first) return renderOrder(root, ctx, first);
  return renderMine(root, ctx);
}
