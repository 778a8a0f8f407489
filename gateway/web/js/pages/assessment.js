// Contractor assessment (#/assessment?month=YYYY-MM&by=contractor|town): GET /api/assessment, the
// monthly score per contractor or town (100 minus the deductions of five weighted parts) with the
// evidence of every deduction (work order, inspection and lab result ids, sites below the
// availability target). Printable (css/report.css print rules) and downloadable as CSV.

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function ensureStylesheet() {
  if (document.getElementById("report-css")) return;
  const link = document.createElement("link");
  link.id = "report-css";
  link.rel = "stylesheet";
  link.href = "/web/css/report.css";
  document.head.appendChild(link);
}

const PARTS = ["on_time", "reopen", "inspection", "availability", "lab"];

function partName(t, p) {
  return { on_time: t("assess.on_time"), reopen: t("assess.reopen"), inspection: t("assess.inspection"), availability: t("assess.availability"), lab: t("assess.lab") }[p];
}

function evidenceItem(t, fmt, e) {
  const link = e.kind === "work_order" ? `<a href="#/orders/${e.id}">${esc(t("assess.ev_order", { id: e.id }))}</a>`
    : e.kind === "inspection" ? `<a href="#/inspections/${e.id}">${esc(t("assess.ev_inspection", { id: e.id }))}</a>`
    : e.kind === "lab_result" ? esc(t("assess.ev_lab", { id: e.id }))
    : e.kind === "missed_inspection" ? esc(t("assess.ev_missed"))
    : esc(t("assess.ev_availability", { rate: fmt.percent(e.value) }));
  const due = e.due_at ? ` · ${esc(t("assess.ev_due", { when: fmt.dateTime(new Date(e.due_at)) }))}` : "";
  return `<li>${link} · ${esc(e.site_id)} · ${esc(e.detail)}${due}</li>`;
}

export async function render(root, ctx) {
  const { t, fmt, api } = ctx;
  ensureStylesheet();
  const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
  const month = MONTH.test(ctx.params.get("month") || "") ? ctx.params.get("month") : "";
  const by = ctx.params.get("by") === "town" ? "town" : "contractor";
  const q = new URLSearchParams({ by });
  if (month) q.set("month", month);
  const a = await api(`/api/assessment?${q}`);
  root.innerHTML = `
  <section class="panel report">
    <div class="report-toolbar no-print">
      <label>${esc(t("report.month"))} <input type="month" id="a-month" value="${esc(a.month)}"></label>
      <label>${esc(t("insp.by"))} <select id="a-by"><option value="contractor">${esc(t("insp.by_contractor"))}</option><option value="town" ${by === "town" ? "selected" : ""}>${esc(t("insp.by_town"))}</option></select></label>
      <div class="report-actions"><button type="button" id="a-print">${esc(t("report.print"))}</button>
      <a class="report-csv" id="a-csv" href="/api/assessment?${new URLSearchParams({ month: a.month, by, format: "csv" })}" download>${esc(t("report.download_csv"))}</a></div>
    </div>
    <h1>${esc(t("assess.title", { month: a.month }))}</h1>
    <p class="report-meta">${esc(t("assess.rule"))}</p>
    <div class="table-scroll"><table class="report-table" id="a-table"><thead><tr><th>${esc(by === "town" ? t("insp.by_town") : t("insp.by_contractor"))}</th>
      <th class="num">${esc(t("assess.score"))}</th>${PARTS.map((p) => `<th class="num">${esc(partName(t, p))}</th>`).join("")}</tr></thead>
      <tbody>${a.groups
        .map(
          (g) => `<tr data-key="${esc(g.key)}"><th scope="row">${esc(g.key || t("insp.no_contractor"))}</th><td class="num"><strong>${esc(fmt.number(g.score, 1))}</strong></td>
          ${PARTS.map((p) => {
            const x = g.parts[p];
            const cell = x.unavailable ? t("assess.unavailable") : x.no_data ? t("assess.no_data") : `−${fmt.number(x.deduction, 1)} / ${fmt.number(x.weight, 0)}`;
            return `<td class="num ${x.deduction > 0 ? "below" : ""}">${esc(cell)}</td>`;
          }).join("")}</tr>`,
        )
        .join("")}</tbody></table></div>
    <h2>${esc(t("assess.evidence"))}</h2>
    <div id="a-evidence">${a.groups
      .map((g) =>
        PARTS.filter((p) => g.parts[p].deduction > 0)
          .map(
            (p) => `<section class="evidence" data-key="${esc(g.key)}" data-part="${p}"><h3>${esc(g.key || t("insp.no_contractor"))} · ${esc(partName(t, p))}
            (−${esc(fmt.number(g.parts[p].deduction, 2))}; ${esc(t("assess.failed", { failed: g.parts[p].failed, counted: g.parts[p].counted }))})</h3>
            <ul>${g.parts[p].evidence.map((e) => evidenceItem(t, fmt, e)).join("")}</ul></section>`,
          )
          .join(""),
      )
      .join("")}</div>
  </section>`;
  const go = () => {
    const m = root.querySelector("#a-month").value;
    location.hash = `#/assessment?${new URLSearchParams({ month: m, by: root.querySelector("#a-by").value })}`;
  };
  root.querySelector("#a-month").addEventListener("change", go);
  root.querySelector("#a-by").addEventListener("change", go);
  root.querySelector("#a-print").addEventListener("click", () => window.print());
  root.dataset.rendered = "1";
}
