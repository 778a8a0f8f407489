// Monthly operations report (#/report?month=YYYY-MM&town=...): GET /api/report for the county or
// one town: faults found and resolved by type with the mean time to resolve, per terminal volume,
// compliance, availability and days with incomplete data, town and county totals. Printable
// (window.print() with the print rules of css/report.css) and downloadable as CSV (the same
// route with format=csv; the gateway names the file and adds a UTF-8 BOM for Excel).
// The current month is partial: the page says which days are not over yet.

const CSS_ID = "report-css";

/** Loads this page's stylesheet once (screen and print rules); the shell's index.html needs no change. */
function ensureStylesheet() {
  if (document.getElementById(CSS_ID)) return;
  const link = document.createElement("link");
  link.id = CSS_ID;
  link.rel = "stylesheet";
  link.href = "/web/css/report.css";
  document.head.appendChild(link);
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** "YYYY-MM" of now in the county zone (the API's default month). */
function currentMonth(zone) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: zone || "UTC", year: "numeric", month: "2-digit" })
      .formatToParts(new Date())
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}`;
}

function reportPath(month, town, format) {
  const q = new URLSearchParams();
  if (month) q.set("month", month);
  if (town) q.set("town", town);
  if (format) q.set("format", format);
  return `/api/report?${q.toString()}`;
}

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  ensureStylesheet();
  const zone = (ctx.config && ctx.config.time_zone) || fmt.zone || "Asia/Shanghai";
  const target = (ctx.config && ctx.config.compliance_target) || 0.95;
  const thisMonth = currentMonth(zone);
  const wanted = ctx.params.get("month");
  const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
  let month = MONTH.test(wanted || "") ? wanted : thisMonth;
  let town = ctx.params.get("town") || "";

  root.innerHTML = `
  <section class="panel report">
    <div class="report-toolbar no-print">
      <label>${esc(t("report.month"))} <input type="month" id="r-month" min="1970-01" max="${thisMonth}" value="${month}" pattern="\\d{4}-\\d{2}" placeholder="YYYY-MM"></label>
      <label>${esc(t("report.town"))} <select id="r-town"><option value="">${esc(t("report.county"))}</option></select></label>
      <div class="report-actions">
        <button type="button" id="r-print">${esc(t("report.print"))}</button>
        <a id="r-csv" class="report-csv" href="#" download>${esc(t("report.download_csv"))}</a>
      </div>
    </div>
    <p id="r-notice" class="error" role="status" hidden></p>
    <p id="r-error" class="error" role="alert" hidden></p>
    <div id="r-body" class="report-body stale-able" aria-live="polite"></div>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  // A month in the address that is not YYYY-MM: say so, and show the current month instead.
  if (wanted && !MONTH.test(wanted)) {
    $("r-notice").hidden = false;
    $("r-notice").textContent = t("report.address_month_refused", { month: wanted, shown: thisMonth });
  }
  if (town) $("r-town").add(new Option(town, town));
  $("r-town").value = town;

  function syncLinks() {
    $("r-csv").href = reportPath(month, town, "csv");
    // Keep the address shareable without re-rendering the page (replaceState fires no hashchange).
    const q = new URLSearchParams({ month });
    if (town) q.set("town", town);
    history.replaceState(null, "", `#/report?${q.toString()}`);
  }

  const pct = (v) => (v === null || v === undefined ? "–" : fmt.percent(v, 1));
  const num = (v, d = 1) => fmt.number(v, d);
  const dur = (s) => (s === null || s === undefined ? "–" : fmt.duration(s));

  function complianceCell(v) {
    if (v === null || v === undefined) return `<td class="num">–</td>`;
    const ok = v >= target;
    // Colour AND words: below the county target is said, not only shown.
    return `<td class="num ${ok ? "meets" : "below"}">${pct(v)}${ok ? "" : ` <span class="flag">${esc(t("report.below_target"))}</span>`}</td>`;
  }
  function availabilityCell(v) {
    if (v === null || v === undefined) return `<td class="num">–</td>`;
    return `<td class="num ${v < 1 ? "below" : ""}">${pct(v)}</td>`;
  }

  function kpis(r) {
    const tot = r.totals;
    const card = (label, value, sub = "", cls = "") =>
      `<div class="kpi ${cls}"><div class="kpi-label">${esc(label)}</div><div class="kpi-value">${value}</div><div class="kpi-sub">${sub}</div></div>`;
    const comp = tot.compliance_rate;
    return `<div class="kpis report-kpis" id="r-totals" data-volume="${tot.volume_m3}" data-terminals="${tot.terminals}">
      ${card(t("report.terminals"), esc(tot.terminals))}
      ${card(t("report.volume"), `${num(tot.volume_m3, 1)} <small>m³</small>`,
        tot.volume_estimated_m3 > 0 ? esc(t("report.estimated_part", { v: num(tot.volume_estimated_m3, 3) })) : "")}
      ${card(t("report.compliance"), pct(comp), esc(t("report.target", { v: pct(target) })),
        comp === null || comp === undefined ? "" : comp >= target ? "good" : "bad")}
      ${card(t("report.availability"), pct(tot.availability),
        esc(t("report.records_of", { n: tot.records, m: num(tot.expected_records, 0) })))}
      ${card(t("report.days_incomplete"), esc(tot.days_incomplete), esc(t("report.terminal_days")), tot.days_incomplete > 0 ? "bad" : "good")}
      ${card(t("report.faults"), `${esc(r.faults.found)} / ${esc(r.faults.resolved)}`,
        esc(t("report.found_resolved_open", { open: r.faults.open_at_end })))}
      ${card(t("report.mttr"), dur(r.faults.mean_time_to_resolve_s))}
    </div>`;
  }

  function faultsTable(r) {
    const rows = Object.entries(r.faults.by_type)
      .filter(([, f]) => f.found > 0 || f.resolved > 0 || f.open_at_end > 0)
      .map(([type, f]) => `<tr data-type="${esc(type)}"><th scope="row">${esc(t(`alert.${type}`))}</th>
        <td class="num">${f.found}</td><td class="num">${f.resolved}</td><td class="num">${f.open_at_end}</td>
        <td class="num">${dur(f.mean_time_to_resolve_s)}</td></tr>`)
      .join("");
    const f = r.faults;
    return `<h2>${esc(t("report.faults_by_type"))}</h2>
    <div class="table-scroll"><table class="report-table" id="r-faults">
      <thead><tr><th scope="col">${esc(t("report.alert_type"))}</th><th scope="col" class="num">${esc(t("report.found"))}</th>
        <th scope="col" class="num">${esc(t("report.resolved"))}</th><th scope="col" class="num">${esc(t("report.open_at_end"))}</th>
        <th scope="col" class="num">${esc(t("report.mttr"))}</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="5" class="empty">${esc(t("report.no_faults"))}</td></tr>`}</tbody>
      <tfoot><tr><th scope="row">${esc(t("report.total"))}</th><td class="num">${f.found}</td><td class="num">${f.resolved}</td>
        <td class="num">${f.open_at_end}</td><td class="num">${dur(f.mean_time_to_resolve_s)}</td></tr></tfoot>
    </table></div>`;
  }

  const figureHeads = () => `<th scope="col" class="num">${esc(t("report.volume"))} (m³)</th>
    <th scope="col" class="num">${esc(t("report.compliance"))}</th><th scope="col" class="num">${esc(t("report.availability"))}</th>
    <th scope="col" class="num">${esc(t("report.days_incomplete"))}</th><th scope="col" class="num">${esc(t("report.faults_found"))}</th>
    <th scope="col" class="num">${esc(t("report.faults_resolved"))}</th>`;
  const figureCells = (x) => `<td class="num">${num(x.volume_m3, 1)}${x.volume_estimated_m3 > 0 ? ` <span class="est" title="${esc(t("report.estimated_part", { v: num(x.volume_estimated_m3, 3) }))}">*</span>` : ""}</td>
    ${complianceCell(x.compliance_rate)}${availabilityCell(x.availability)}
    <td class="num ${x.days_incomplete > 0 ? "below" : ""}">${x.days_incomplete}</td><td class="num">${x.faults_found}</td><td class="num">${x.faults_resolved}</td>`;

  function townsTable(r) {
    const rows = r.towns.map((x) => `<tr data-town="${esc(x.town)}"><th scope="row">${esc(x.town || t("report.no_town"))}</th>
      <td class="num">${x.terminals}</td>${figureCells(x)}</tr>`).join("");
    return `<h2>${esc(t(r.town ? "report.town_totals" : "report.towns"))}</h2>
    <div class="table-scroll"><table class="report-table" id="r-towns">
      <thead><tr><th scope="col">${esc(t("report.town"))}</th><th scope="col" class="num">${esc(t("report.terminals"))}</th>${figureHeads()}</tr></thead>
      <tbody>${rows}</tbody>
      ${r.town ? "" : `<tfoot><tr id="r-county-row"><th scope="row">${esc(t("report.county_total"))}</th><td class="num">${r.totals.terminals}</td>${figureCells(r.totals)}</tr></tfoot>`}
    </table></div>`;
  }

  function terminalsTable(r) {
    const rows = r.terminals.map((x) => `<tr data-terminal="${esc(x.id)}">
      <th scope="row"><a href="#/terminals/${encodeURIComponent(x.id)}">${esc(x.id)}</a></th><td>${esc(x.name)}</td><td>${esc(x.town)}</td>
      ${figureCells(x)}
      <td class="days">${x.incomplete_days.length ? x.incomplete_days.map((d) => esc(d.slice(8))).join(", ") : ""}</td></tr>`).join("");
    return `<h2>${esc(t("report.terminals_title"))}</h2>
    <div class="table-scroll"><table class="report-table" id="r-terminals">
      <thead><tr><th scope="col">${esc(t("report.terminal_id"))}</th><th scope="col">${esc(t("report.name"))}</th><th scope="col">${esc(t("report.town"))}</th>
        ${figureHeads()}<th scope="col">${esc(t("report.incomplete_days"))}</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="10" class="empty">${esc(t("report.no_terminals"))}</td></tr>`}</tbody>
    </table></div>
    <p class="muted report-notes">${esc(t("report.notes"))}</p>`;
  }

  function draw(r) {
    const scope = r.town ? t("report.scope_town", { town: r.town }) : t("report.scope_county");
    const lastDay = new Date(Date.parse(r.to) - 1);
    const partial = r.partial
      ? `<p class="report-partial" id="r-partial" role="note"><b>${esc(t("report.partial"))}</b> ${esc(
          t("report.days_not_over", { n: r.days_not_over.length, first: r.days_not_over[0], last: r.days_not_over[r.days_not_over.length - 1] }),
        )}</p>`
      : "";
    $("r-body").innerHTML = `
      <h1 id="r-title">${esc(t("report.title", { month: r.month, scope }))}</h1>
      <p class="report-meta">${esc(t("report.period", { from: fmt.date(r.from), to: fmt.date(lastDay), zone: r.time_zone }))}
        · ${esc(t("report.generated", { time: fmt.dateTime(r.generated_at) }))}</p>
      ${partial}
      ${kpis(r)}
      ${faultsTable(r)}
      ${townsTable(r)}
      ${terminalsTable(r)}`;
    root.dataset.month = r.month;
  }

  async function fillTowns() {
    try {
      const tl = await ctx.api("/api/terminals");
      if (!ctx.current) return;
      const sel = $("r-town");
      const have = new Set([...sel.options].map((o) => o.value));
      const towns = [...new Set((tl.terminals || []).map((x) => x.town))].filter((x) => x).sort((a, b) => a.localeCompare(b));
      for (const x of towns) if (!have.has(x)) sel.add(new Option(x, x));
    } catch (_) {
      /* the picker keeps "county"; the shell shows a lost connection */
    }
  }

  let lastFetch = 0;
  let lastData = null;
  async function refresh(force) {
    syncLinks();
    lastFetch = Date.now();
    try {
      const r = await ctx.api(reportPath(month, town));
      if (!ctx.current) return;
      $("r-error").hidden = true;
      if (r !== lastData || force) draw(r);
      lastData = r;
      root.dataset.rendered = "1";
    } catch (e) {
      if (!ctx.current) return;
      $("r-error").hidden = false;
      $("r-error").textContent =
        e instanceof ctx.ApiError ? t("report.refused", { message: e.message }) : t("report.unreachable");
      if (e instanceof ctx.ApiError) {
        $("r-body").innerHTML = "";
        lastData = null;
      }
    }
  }

  $("r-month").addEventListener("change", () => {
    const v = $("r-month").value;
    if (!MONTH.test(v)) {
      $("r-error").hidden = false;
      $("r-error").textContent = t("report.bad_month");
      return;
    }
    month = v;
    refresh(true);
  });
  $("r-town").addEventListener("change", () => {
    town = $("r-town").value;
    refresh(true);
  });
  $("r-print").addEventListener("click", () => window.print());

  await Promise.all([fillTowns(), refresh(true)]);
  // The current month changes as records arrive: refresh it about once a minute (a past month
  // only when asked; the API revalidates with its ETag). Other ticks ask the cheap ui-config, so
  // the shell still learns at every tick whether the gateway answers.
  ctx.onPoll(() => {
    if (lastData && lastData.partial && Date.now() - lastFetch >= 60000) return refresh(false);
    return ctx.api("/api/ui-config");
  });
}
