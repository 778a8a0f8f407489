// Printable QR sheet (#/qr?site=ID or #/qr?town=NAME, or every site the user sees): one card per
// site with its name, id, town and QR code (GET /api/sites/{id}/qr.svg: the check-in URL with the
// site's signed token, rendered by the gateway). Print with the button (css/qr.css print rules:
// A4, cards that never break across pages, nothing else on the sheet).

const CSS_ID = "qr-css";

function ensureStylesheet() {
  if (document.getElementById(CSS_ID)) return;
  const link = document.createElement("link");
  link.id = CSS_ID;
  link.rel = "stylesheet";
  link.href = "/web/css/qr.css";
  document.head.appendChild(link);
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export async function render(root, ctx) {
  const { t, api } = ctx;
  ensureStylesheet();
  const site = ctx.params.get("site") || "";
  const town = ctx.params.get("town") || "";
  const plan = await api(`/api/inspections/plan${town ? `?town=${encodeURIComponent(town)}` : ""}`);
  const sites = plan.plan.filter((r) => !site || r.site_id === site);
  const towns = [...new Set(plan.plan.map((r) => r.town))].sort();
  root.innerHTML = `
  <section class="panel qr-page">
    <div class="report-toolbar no-print">
      <label>${esc(t("qr.town"))} <select id="q-town"><option value="">${esc(t("qr.all_towns"))}</option>${towns
        .map((x) => `<option value="${esc(x)}" ${x === town ? "selected" : ""}>${esc(x)}</option>`)
        .join("")}</select></label>
      <button type="button" id="q-print">${esc(t("qr.print"))}</button>
      <span>${esc(t("qr.count", { n: sites.length }))}</span>
    </div>
    <p class="no-print report-meta">${esc(t("qr.hint"))}</p>
    <div class="qr-sheet" id="q-sheet">${sites
      .map(
        (r) => `<figure class="qr-card" data-site="${esc(r.site_id)}">
        <img src="/api/sites/${encodeURIComponent(r.site_id)}/qr.svg" alt="${esc(t("qr.alt", { site: r.site_id }))}" width="200" height="200">
        <figcaption><strong>${esc(r.name || r.site_id)}</strong><br><span class="qr-id">${esc(r.site_id)}</span><br>${esc(r.town)}</figcaption>
      </figure>`,
      )
      .join("")}</div>
    ${sites.length ? "" : `<p class="empty">${esc(t("qr.none"))}</p>`}
  </section>`;
  root.querySelector("#q-print").addEventListener("click", () => window.print());
  root.querySelector("#q-town").addEventListener("change", (ev) => {
    const v = ev.target.value;
    location.hash = v ? `#/qr?town=${encodeURIComponent(v)}` : "#/qr";
  });
  root.dataset.rendered = "1";
}
