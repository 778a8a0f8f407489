// Audit log (#/audit, administrators only): GET /api/audit, newest first, filter by actor and
// action, "older entries" follows the answer's `next` cursor.
import { escapeHtml } from "../states.js";

const ACTIONS = ["login.ok", "login.failed", "logout", "alert.ack", "command.send", "user.add", "user.change",
  "user.disable", "token.add", "token.revoke", "registry.reload"];

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  root.innerHTML = `
  <section class="panel">
    <h1>${t("audit.title")}</h1>
    <form class="filters" id="audit-filter">
      <input id="au-actor" type="search" maxlength="64" placeholder="${t("audit.filter_actor")}" aria-label="${t("audit.filter_actor")}">
      <select id="au-action" aria-label="${t("audit.action")}"><option value="">${t("audit.all_actions")}</option>
        ${ACTIONS.map((a) => `<option value="${a}">${a}</option>`).join("")}</select>
    </form>
    <div class="table-wrap"><table class="audit-table">
      <thead><tr><th>${t("audit.time")}</th><th>${t("audit.actor")}</th><th>${t("audit.address")}</th>
        <th>${t("audit.action")}</th><th>${t("audit.target")}</th><th>${t("audit.detail")}</th></tr></thead>
      <tbody id="audit-rows"></tbody></table></div>
    <p><button type="button" id="au-more" class="secondary" hidden>${t("audit.more")}</button></p>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  let next = null;
  const row = (e) => `<tr data-action="${escapeHtml(e.action)}"><td>${fmt.dateTime(e.at)}</td>
      <td>${escapeHtml(e.actor)} <span class="muted">${escapeHtml(e.actor_kind || "")}</span></td><td>${escapeHtml(e.address || "")}</td>
      <td>${escapeHtml(e.action)}</td><td>${escapeHtml(e.target || "")}</td>
      <td><code>${escapeHtml(e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : "")}</code></td></tr>`;
  async function load(more) {
    const q = new URLSearchParams({ limit: "100" });
    if ($("au-actor").value.trim()) q.set("actor", $("au-actor").value.trim());
    if ($("au-action").value) q.set("action", $("au-action").value);
    if (more && next) q.set("cursor", next);
    const a = await ctx.api(`/api/audit?${q}`);
    if (!ctx.current) return;
    const list = a.audit || [];
    next = a.next || null;
    const html = list.map(row).join("");
    if (more) $("audit-rows").insertAdjacentHTML("beforeend", html);
    else $("audit-rows").innerHTML = html || `<tr><td colspan="6" class="empty">${t("audit.none")}</td></tr>`;
    $("au-more").hidden = !next;
  }
  $("audit-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    load(false);
  });
  $("au-action").addEventListener("change", () => load(false));
  $("au-actor").addEventListener("change", () => load(false));
  $("au-more").addEventListener("click", () => load(true));
  await load(false);
  root.dataset.rendered = "1";
}
