// Lab results (#/lab): the lab compliance rate beside (never mixed with) the turbidity early
// warning for a period (GET /api/lab-results/compliance), the sites whose sample is overdue
// (GET /api/lab-results/schedule?overdue=true), the results with their limits and verdicts
// (GET /api/lab-results), and for operators a form for one sample (POST /api/lab-results) and a
// CSV import (POST /api/lab-results/import, text/csv) that lists every refused line and column.
import { escapeHtml as esc } from "../states.js";

const CSS_ID = "archive-css";
const PARAMS = ["cod", "nh3_n", "tn", "tp", "ss", "ph", "faecal_coliforms"];
const UNITS = { cod: "mg/L", nh3_n: "mg/L", tn: "mg/L", tp: "mg/L", ss: "mg/L", ph: "pH", faecal_coliforms: "MPN/L" };

/** Loads the archive/lab stylesheet once (screen and print rules). */
export function ensureOmStylesheet() {
  if (document.getElementById(CSS_ID)) return;
  const link = document.createElement("link");
  link.id = CSS_ID;
  link.rel = "stylesheet";
  link.href = "/web/css/archive.css";
  document.head.appendChild(link);
}

function paramName(t, p) {
  return { cod: "COD", nh3_n: "NH₃-N", tn: "TN", tp: "TP", ss: "SS", ph: "pH", faecal_coliforms: t("lab.faecal_coliforms") }[p] || p;
}

function verdictText(t, v) {
  return { compliant: t("lab.verdict_compliant"), exceeds: t("lab.verdict_exceeds"), below_range: t("lab.verdict_below"), not_judged: t("lab.verdict_not_judged") }[v] || v;
}

/** The head of a results table (`withSite`: a site column). */
export function resultHead(t, withSite) {
  return `<thead><tr>${withSite ? `<th>${t("lab.site")}</th>` : ""}<th>${t("lab.sampled_at")}</th><th>${t("lab.parameter")}</th>
    <th class="num">${t("lab.value")}</th><th>${t("lab.unit")}</th><th class="num">${t("lab.limit")}</th><th>${t("lab.verdict")}</th><th>${t("lab.lab")}</th></tr></thead>`;
}

/** Rows of a results table: value, unit, the limit it was judged against and the verdict. */
export function resultRows(list, ctx, withSite) {
  const { t, fmt } = ctx;
  return list.map((r) => {
    const limit = r.limit_low !== null && r.limit_high !== null ? `${fmt.number(r.limit_low, 1)}–${fmt.number(r.limit_high, 1)}`
      : r.limit_high !== null ? `≤ ${fmt.number(r.limit_high, r.limit_high < 1 ? 2 : 1)}` : "—";
    return `<tr data-result="${r.id}" data-parameter="${esc(r.parameter)}" data-verdict="${esc(r.verdict)}">${withSite ? `<td><a href="#/sites/${encodeURIComponent(r.site_id)}/archive">${esc(r.site_name || r.site_id)}</a></td>` : ""}
      <td>${fmt.dateTime(r.sampled_at)}</td><td>${esc(paramName(t, r.parameter))}</td><td class="num">${fmt.number(r.value, r.value < 10 ? 2 : 1)}</td>
      <td>${esc(r.unit)}</td><td class="num">${limit}</td>
      <td class="verdict-${esc(r.verdict)}">${esc(verdictText(t, r.verdict))}${r.provisional_limit ? `<span class="provisional" title="${esc(t("lab.provisional_hint"))}">${t("lab.provisional")}</span>` : ""}</td>
      <td>${esc(r.lab)}</td></tr>`;
  }).join("");
}

/** An API refusal as text: the message, then each listed problem (CSV line/column or form field). */
export function problemsText(err, t) {
  const list = (err && err.errors) || [];
  const lines = list.map((e) => (e.line !== undefined
    ? t("lab.problem_line", { line: e.line, column: e.column || "—", reason: e.reason })
    : `${e.field}: ${e.reason}`));
  return [err && err.message ? err.message : String(err), ...lines].join("\n");
}

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  ensureOmStylesheet();
  const operator = ctx.can("command");
  root.innerHTML = `
  <section class="panel lab">
    <h1>${t("lab.title")}</h1>
    <div class="figures" id="l-figures"></div>
    <p class="muted" id="l-period"></p>
    <h2>${t("lab.overdue_title")}</h2>
    <div id="l-overdue"></div>
    ${operator ? `<h2>${t("lab.enter")}</h2>
    <form class="om-form" id="l-form">
      <label>${t("lab.site")}<select id="l-site" required></select></label>
      <label>${t("lab.sampled_at")}<input id="l-date" type="date" required></label>
      <label>${t("lab.lab")}<input id="l-lab" maxlength="200"></label>
      <label>${t("lab.sampled_by")}<input id="l-by" maxlength="200"></label>
      ${PARAMS.map((p) => `<label>${esc(paramName(t, p))} (${UNITS[p]})<input id="l-v-${p}" data-param="${p}" type="number" step="any" min="0"></label>`).join("")}
      <button type="submit">${t("lab.save")}</button>
    </form>
    <pre id="l-form-msg" class="om-problems"></pre>
    <h2>${t("lab.import")}</h2>
    <p class="muted">${t("lab.import_hint")}</p>
    <form class="om-form" id="l-import">
      <label>${t("lab.csv_file")}<input id="l-file" type="file" accept=".csv,text/csv"></label>
      <label>${t("lab.csv_text")}<textarea id="l-csv" spellcheck="false"></textarea></label>
      <button type="submit">${t("lab.import_button")}</button>
    </form>
    <pre id="l-import-msg" class="om-problems"></pre>` : ""}
    <h2>${t("lab.results")}</h2>
    <div class="table-scroll"><table class="om-table" id="l-results">${resultHead(t, true)}<tbody id="l-rows"></tbody></table></div>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);

  function box(cls, title, f, big, detail) {
    return `<div class="figure-box ${cls}" id="${cls}-box"><h3>${title}</h3><div class="big">${big}</div><div class="muted">${detail}</div></div>`;
  }

  async function loadFigures() {
    const c = await ctx.api("/api/lab-results/compliance");
    if (!ctx.current) return;
    const lab = c.total.lab_compliance;
    const tu = c.total.turbidity_early_warning;
    $("l-figures").innerHTML =
      box("lab-compliance", t("lab.compliance_title"), lab, lab.rate === null ? "—" : fmt.percent(lab.rate),
        t("lab.compliance_detail", { ok: lab.compliant_samples, n: lab.samples }) + (lab.provisional_limits ? ` · ${t("lab.provisional")}` : "")) +
      box("proxy", t("lab.turbidity_title"), tu, tu.time_within_limit_rate === null ? "—" : fmt.percent(tu.time_within_limit_rate), t("lab.turbidity_detail"));
    $("l-period").textContent = t("lab.period", { from: c.from, to: c.to });
  }

  async function loadOverdue() {
    const s = await ctx.api("/api/lab-results/schedule");
    if (!ctx.current) return;
    const late = s.sites.filter((x) => x.overdue);
    $("l-overdue").innerHTML = late.length
      ? `<div class="table-scroll"><table class="om-table" id="l-overdue-table"><thead><tr><th>${t("lab.site")}</th><th>${t("terminal.town")}</th>
          <th>${t("lab.size_class")}</th><th>${t("lab.last_sample")}</th><th>${t("lab.due")}</th><th class="num">${t("lab.days_late")}</th></tr></thead><tbody>
          ${late.map((x) => `<tr data-site="${esc(x.site_id)}" class="sampling-overdue"><td><a href="#/sites/${encodeURIComponent(x.site_id)}/archive">${esc(x.name)}</a></td>
            <td>${esc(x.town)}</td><td>${esc(x.size_class)} · ${x.interval_days} d</td><td>${x.last_sampled_at ? fmt.dateTime(x.last_sampled_at) : t("lab.never")}</td>
            <td>${fmt.dateTime(x.due_at)}</td><td class="num">${x.overdue_days}</td></tr>`).join("")}</tbody></table></div>`
      : `<p class="archive-empty" id="l-overdue-none">${t("lab.none_overdue")}</p>`;
    const sel = $("l-site");
    if (sel && !sel.options.length)
      sel.innerHTML = s.sites.map((x) => `<option value="${esc(x.site_id)}">${esc(x.name)} (${esc(x.site_id)})</option>`).join("");
  }

  async function loadResults() {
    const r = await ctx.api("/api/lab-results?limit=200");
    if (!ctx.current) return;
    $("l-rows").innerHTML = r.results.length ? resultRows(r.results, ctx, true) : `<tr><td colspan="8" class="empty">${t("lab.none")}</td></tr>`;
  }

  async function reload() {
    await Promise.all([loadFigures(), loadOverdue(), loadResults()]);
  }

  if (operator) {
    $("l-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      $("l-form-msg").textContent = "";
      const results = [];
      for (const input of root.querySelectorAll("[data-param]"))
        if (input.value.trim() !== "") results.push({ parameter: input.dataset.param, value: Number(input.value), unit: UNITS[input.dataset.param] });
      try {
        await ctx.apiPost("/api/lab-results", {
          site_id: $("l-site").value, sampled_at: $("l-date").value, lab: $("l-lab").value.trim(), sampled_by: $("l-by").value.trim(), results,
        });
        for (const input of root.querySelectorAll("[data-param]")) input.value = "";
        $("l-form-msg").className = "om-ok";
        $("l-form-msg").textContent = t("lab.saved", { n: results.length });
        await reload();
      } catch (err) {
        $("l-form-msg").className = "om-problems";
        $("l-form-msg").textContent = problemsText(err, t);
      }
    });
    $("l-file").addEventListener("change", async () => {
      const f = $("l-file").files[0];
      if (f) $("l-csv").value = await f.text();
    });
    $("l-import").addEventListener("submit", async (e) => {
      e.preventDefault();
      $("l-import-msg").textContent = "";
      try {
        const r = await ctx.apiPostText("/api/lab-results/import", $("l-csv").value, "text/csv; charset=utf-8");
        $("l-import-msg").className = "om-ok";
        $("l-import-msg").textContent = t("lab.imported", { n: r.imported });
        await reload();
      } catch (err) {
        $("l-import-msg").className = "om-problems";
        $("l-import-msg").textContent = problemsText(err, t);
      }
    });
  }
  await reload();
  ctx.onPoll(() => Promise.all([loadFigures(), loadResults()]));
  root.dataset.rendered = "1";
}
