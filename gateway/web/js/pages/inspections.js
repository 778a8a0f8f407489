// Inspections (#/inspections, #/inspections/{id}): the plan per site (size class, interval, last
// completed, next due, late flagged), the figures (completion rate and late inspections per
// contractor or town over the last 30 days), recent inspections; one inspection's checklist, which
// its inspector answers (ok / not ok / n/a + note) and submits; not-ok answers open work orders.
// An inspection is started from a check-in: #/inspections/start?site=ID&checkin=N (the check-in
// page of the work orders part links here). Data: GET/POST /api/inspections... (gateway/README.md).

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function resultLabel(t, r) {
  return { ok: t("insp.result_ok"), not_ok: t("insp.result_not_ok"), na: t("insp.result_na") }[r] || r;
}

async function renderList(root, ctx) {
  const { t, fmt, api } = ctx;
  root.innerHTML = `
  <section class="panel">
    <h1>${esc(t("insp.title"))}</h1>
    <p class="no-print"><a href="#/qr">${esc(t("insp.qr_sheet"))}</a> · <a href="#/assessment">${esc(t("nav.assessment"))}</a></p>
    <h2>${esc(t("insp.plan"))} <span id="i-late" class="badge"></span></h2>
    <div class="table-scroll"><table class="report-table" id="i-plan"><thead><tr>
      <th>${esc(t("insp.site"))}</th><th>${esc(t("insp.town"))}</th><th>${esc(t("insp.size"))}</th>
      <th class="num">${esc(t("insp.interval_days"))}</th><th>${esc(t("insp.last"))}</th><th>${esc(t("insp.next_due"))}</th>
      <th>${esc(t("insp.state"))}</th><th class="no-print">${esc(t("insp.qr"))}</th></tr></thead><tbody></tbody></table></div>
    <h2>${esc(t("insp.figures"))}</h2>
    <label class="no-print">${esc(t("insp.by"))} <select id="i-by"><option value="contractor">${esc(t("insp.by_contractor"))}</option><option value="town">${esc(t("insp.by_town"))}</option></select></label>
    <div class="table-scroll"><table class="report-table" id="i-fig"><thead><tr>
      <th>${esc(t("insp.group"))}</th><th class="num">${esc(t("insp.due"))}</th><th class="num">${esc(t("insp.on_time"))}</th>
      <th class="num">${esc(t("insp.late_n"))}</th><th class="num">${esc(t("insp.missed"))}</th><th class="num">${esc(t("insp.overdue"))}</th>
      <th class="num">${esc(t("insp.completion_rate"))}</th></tr></thead><tbody></tbody></table></div>
    <h2>${esc(t("insp.recent"))}</h2>
    <ul id="i-recent" class="plain-list"></ul>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  const plan = await api("/api/inspections/plan");
  $("i-late").textContent = plan.late ? t("insp.late_count", { n: plan.late }) : "";
  $("i-plan").tBodies[0].innerHTML = plan.plan
    .map(
      (r) => `<tr data-site="${esc(r.site_id)}" class="${r.late ? "late" : ""}">
      <th scope="row"><a href="#/terminals/${encodeURIComponent(r.site_id)}">${esc(r.name || r.site_id)}</a> <small>${esc(r.site_id)}</small></th>
      <td>${esc(r.town)}</td><td>${esc({ small: t("insp.size_small"), medium: t("insp.size_medium"), large: t("insp.size_large") }[r.size_class] || r.size_class)}</td><td class="num">${r.interval_days}</td>
      <td>${r.last_completed_at ? esc(fmt.dateTime(new Date(r.last_completed_at))) : esc(t("insp.never"))}</td>
      <td>${esc(fmt.dateTime(new Date(r.next_due_at)))}</td>
      <td>${r.late ? `<span class="flag bad">${esc(t("insp.late_days", { n: r.days_late }))}</span>` : esc(t("insp.in_time"))}
          ${r.open_inspection_id ? ` · <a href="#/inspections/${r.open_inspection_id}">${esc(t("insp.open"))}</a>` : ""}</td>
      <td class="no-print"><a href="#/qr?site=${encodeURIComponent(r.site_id)}">${esc(t("insp.qr"))}</a></td></tr>`,
    )
    .join("");
  async function figures() {
    const f = await api(`/api/inspections/figures?by=${$("i-by").value}`);
    $("i-fig").tBodies[0].innerHTML = f.groups
      .map(
        (g) => `<tr><th scope="row">${esc(g.key || t("insp.no_contractor"))}</th><td class="num">${g.due}</td><td class="num">${g.on_time}</td>
        <td class="num">${g.late}</td><td class="num">${g.missed}</td><td class="num">${g.overdue}</td>
        <td class="num">${esc(fmt.percent(g.completion_rate))}</td></tr>`,
      )
      .join("");
  }
  $("i-by").addEventListener("change", () => figures().catch(() => {}));
  await figures();
  const recent = await api("/api/inspections?limit=20");
  $("i-recent").innerHTML = recent.inspections.length
    ? recent.inspections
        .map(
          (i) => `<li><a href="#/inspections/${i.id}">#${i.id}</a> ${esc(i.site_id)} · ${esc(i.state === "completed" ? t("insp.completed") : t("insp.started"))}
          · ${esc(fmt.dateTime(new Date(i.completed_at || i.started_at)))} · ${esc(i.started_by)}${i.late ? ` · <span class="flag bad">${esc(t("insp.late"))}</span>` : ""}</li>`,
        )
        .join("")
    : `<li class="empty">${esc(t("insp.none"))}</li>`;
  root.dataset.rendered = "1";
}

async function renderStart(root, ctx) {
  const { t, apiPost } = ctx;
  const site = ctx.params.get("site") || "";
  const checkin = Number(ctx.params.get("checkin"));
  root.innerHTML = `<section class="panel"><h1>${esc(t("insp.start_title", { site }))}</h1><p id="i-msg" role="status"></p></section>`;
  try {
    const r = await apiPost("/api/inspections", { site_id: site, checkin_id: checkin });
    location.replace(`#/inspections/${r.inspection.id}`);
  } catch (e) {
    root.querySelector("#i-msg").className = "error";
    root.querySelector("#i-msg").textContent = t("app.api_error", { message: e.message });
    root.dataset.rendered = "1";
  }
}

async function renderOne(root, ctx, id) {
  const { t, fmt, api, apiPost } = ctx;
  const { inspection: i } = await api(`/api/inspections/${encodeURIComponent(id)}`);
  const head = `<h1>${esc(t("insp.one_title", { id: i.id, site: i.site_id }))}</h1>
    <p class="report-meta">${esc(i.town)} · ${esc(t("insp.due_at", { when: fmt.dateTime(new Date(i.due_at)) }))} ·
      ${esc(t("insp.started_at", { when: fmt.dateTime(new Date(i.started_at)), who: i.started_by }))}</p>`;
  if (i.state === "completed") {
    root.innerHTML = `<section class="panel">${head}
      <p>${esc(t("insp.completed_at", { when: fmt.dateTime(new Date(i.completed_at)) }))}${i.late ? ` <span class="flag bad">${esc(t("insp.late"))}</span>` : ""}</p>
      <table class="report-table" id="i-items"><tbody>${i.items
        .map(
          (it) => `<tr class="${it.result === "not_ok" ? "late" : ""}"><th scope="row">${esc(it.label)}</th><td>${esc(resultLabel(t, it.result))}</td>
          <td>${esc(it.note)}</td><td>${it.work_order_id ? `<a href="#/orders/${it.work_order_id}">${esc(t("insp.work_order", { id: it.work_order_id }))}</a>` : ""}</td></tr>`,
        )
        .join("")}</tbody></table>
      ${i.note ? `<p>${esc(i.note)}</p>` : ""}</section>`;
    root.dataset.rendered = "1";
    return;
  }
  const { checklists } = await api("/api/inspections/checklists");
  const items = checklists[i.kind] || [];
  root.innerHTML = `<section class="panel">${head}
    <form id="i-form" class="checklist">
      ${items
        .map(
          (it, n) => `<fieldset data-key="${esc(it.key)}"><legend>${esc(it.label)}</legend>
          ${["ok", "not_ok", "na"]
            .map((r) => `<label><input type="radio" name="r${n}" value="${r}" ${r === "ok" ? "checked" : ""}> ${esc(resultLabel(t, r))}</label>`)
            .join(" ")}
          <input type="text" name="n${n}" maxlength="1000" placeholder="${esc(t("insp.note"))}"></fieldset>`,
        )
        .join("")}
      <label>${esc(t("insp.overall_note"))} <input type="text" id="i-note" maxlength="1000"></label>
      <button type="submit" id="i-submit">${esc(t("insp.submit"))}</button>
      <p id="i-error" class="error" role="alert" hidden></p>
    </form></section>`;
  root.querySelector("#i-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const answers = items.map((it, n) => ({ key: it.key, result: form.querySelector(`input[name=r${n}]:checked`).value, note: form.querySelector(`input[name=n${n}]`).value }));
    try {
      await apiPost(`/api/inspections/${i.id}/complete`, { items: answers, note: root.querySelector("#i-note").value });
      renderOne(root, ctx, id);
    } catch (e) {
      const p = root.querySelector("#i-error");
      p.hidden = false;
      p.textContent = t("app.api_error", { message: e.message });
    }
  });
  root.dataset.rendered = "1";
}

export async function render(root, ctx) {
  const [first] = ctx.args;
  if (first === "start") return renderStart(root, ctx);
  if (first) return renderOne(root, ctx, first);
  return renderList(root, ctx);
}
