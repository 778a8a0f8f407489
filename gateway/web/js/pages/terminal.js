// One terminal (#/terminals/{id}): identity and archive, latest values with their age (greyed when
// older than 2 x the report interval), charts of flow, turbidity and sludge level for 24 h / 7 d /
// 30 d with thresholds drawn, daily volume bars, the latest picture with "take a picture now",
// commands and their states, alert history, clean-out state.
import { stateBadge, stateClassOf, ageOf, escapeHtml, severityOf, severityIcon } from "../states.js";
import { stateLabel as orderStateLabel } from "./orders.js";

const RANGES = { "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const COLORS = { flow: "#1f6f8b", turbidity: "#8a5a00", sludge: "#6b4f9e", limit: "#c0392b", clear: "#7f8c8d", volume: "#2e86c1", estimated: "#aed6f1" };

let chartJs = null;
/** Chart.js (Debian libjs-chart.js, a UMD script defining window.Chart), loaded on first use. */
function loadChartJs() {
  if (window.Chart) return Promise.resolve();
  if (!chartJs) {
    chartJs = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/vendor/chart.js/chart.min.js";
      s.onload = resolve;
      s.onerror = () => reject(new Error("Chart.js could not be loaded"));
      document.head.appendChild(s);
    });
  }
  return chartJs;
}

export async function render(root, ctx) {
  const charting = loadChartJs();
  const { t, fmt } = ctx;
  const id = ctx.args[0];
  const enc = encodeURIComponent(id);
  root.innerHTML = `
  <p class="crumbs"><a href="#/">${t("nav.overview")}</a> › <span>${escapeHtml(id)}</span></p>
  <section class="panel ident stale-able" id="ident"></section>
  <section class="terminal-grid">
    <div class="panel" id="latest-panel"><h2>${t("terminal.latest")}<span class="stale-badge">${t("live.stale")}</span></h2><div id="latest"></div></div>
    <div class="panel" id="picture-panel"><h2>${t("terminal.picture")}</h2>
      <figure class="picture"><img id="picture" alt="${t("terminal.picture_alt", { id: escapeHtml(id) })}" hidden><figcaption id="picture-time"></figcaption></figure>
      ${ctx.can("command") ? `<div class="cmd-buttons">
        <button type="button" id="snap">${t("terminal.take_picture")}</button>
        <button type="button" id="sample" class="secondary">${t("terminal.sample_now")}</button>
      </div>
      <form id="interval-form" class="inline-form">
        <label>${t("terminal.report_interval")} <input id="interval" type="number" min="10" max="86400" step="1" inputmode="numeric"></label>
        <button type="submit" class="secondary">${t("terminal.set_interval")}</button>
      </form>
      <p id="cmd-msg" class="msg" role="status"></p>` : ""}
      <h3>${t("terminal.commands")}</h3><div id="commands"></div>
    </div>
  </section>
  <section class="panel charts-panel">
    <div class="chart-head"><h2>${t("terminal.charts")}</h2>
      <div class="range" role="group" aria-label="${t("terminal.range")}">
        ${Object.keys(RANGES).map((r) => `<button type="button" data-range="${r}" class="secondary">${t(`range.${r}`)}</button>`).join("")}
      </div></div>
    <p id="chart-note" class="muted"></p>
    <div class="charts">
      <div class="chart-box"><h3>${t("chart.flow")}</h3><canvas id="chart-flow" role="img" aria-label="${t("chart.flow")}"></canvas></div>
      <div class="chart-box"><h3>${t("chart.turbidity")}</h3><canvas id="chart-turbidity" role="img" aria-label="${t("chart.turbidity")}"></canvas></div>
      <div class="chart-box"><h3>${t("chart.sludge")}</h3><canvas id="chart-sludge" role="img" aria-label="${t("chart.sludge")}"></canvas></div>
      <div class="chart-box"><h3>${t("chart.daily_volume")}</h3><canvas id="chart-volume" role="img" aria-label="${t("chart.daily_volume")}"></canvas></div>
    </div>
  </section>
  <section class="panel"><h2>${t("terminal.alert_history")}</h2><div id="alert-history"></div></section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  let range = sessionStorage.getItem("range") || "24h";
  let term = null;
  const charts = {};

  // ---- identity and latest values
  function drawIdent(x) {
    const sc = stateClassOf(x);
    const st = x.status || {};
    $("ident").innerHTML = `
      <div class="ident-head"><h1>${escapeHtml(x.name)} <span class="muted">${escapeHtml(x.id)}</span></h1>${stateBadge(sc)}
        <a class="archive-link" href="#/sites/${enc}/archive">${t("archive.open")}</a></div>
      <dl class="facts">
        <dt>${t("terminal.town")}</dt><dd>${escapeHtml(x.town)}</dd>
        <dt>${t("terminal.village")}</dt><dd>${escapeHtml(x.village)}</dd>
        <dt>${t("terminal.coordinates")}</dt><dd><a href="#/?focus=${enc}">${fmt.number(x.latitude, 5)}, ${fmt.number(x.longitude, 5)}</a></dd>
        <dt>${t("terminal.capacity")}</dt><dd>${fmt.number(x.design_capacity_m3d, 1)} m³/d</dd>
        <dt>${t("terminal.grade")}</dt><dd>${escapeHtml(t(`grade.${x.discharge_grade}`))}</dd>
        <dt>${t("terminal.interval")}</dt><dd>${x.report_interval_s} s</dd>
        <dt>${t("terminal.instruments")}</dt><dd>${t("terminal.instrument_list")}</dd>
        <dt>${t("terminal.agent")}</dt><dd>${escapeHtml(st.agent_version || "–")}${st.state ? ` (${escapeHtml(st.state)}, ${fmt.dateTime(x.status_arrived_at)})` : ""}</dd>
        <dt>${t("terminal.last_seen")}</dt><dd>${fmt.dateTime(x.last_seen || x.latest_record_arrived_at)} (${fmt.age(ageOf(x))})</dd>
      </dl>`;
  }
  function value(label, v, unit, status, digits, extra = "") {
    const bad = status && status !== "ok";
    return `<div class="value ${bad || extra ? "bad" : ""}"><div class="v-label">${label}</div>
      <div class="v-num">${bad ? "–" : fmt.number(v, digits)} <small>${unit}</small></div>
      <div class="v-status">${status ? (bad ? `✖ ${t(`sensor.${status}`)}` : `✔ ${t("sensor.ok")}`) : ""}${extra}</div></div>`;
  }
  function drawLatest(x) {
    const r = x.latest_record;
    const age = ageOf(x);
    const stale = age === null || age > 2 * x.report_interval_s;
    const box = $("latest");
    box.classList.toggle("stale", stale);
    if (!r) {
      box.innerHTML = `<p class="empty">${t("terminal.no_records")}</p>`;
      return;
    }
    const f = r.flow || {};
    const tu = r.turbidity || {};
    const sl = r.sludge || {};
    const cleanout = (x.open_alerts || []).find((a) => a.type === "cleanout_required");
    const overLimit = tu.status === "ok" && x.thresholds && tu.ntu > x.thresholds.turbidity_limit_ntu;
    box.innerHTML = `
      <p class="age ${stale ? "warn" : ""}">${stale ? "⚠ " : ""}${t(stale ? "terminal.values_stale" : "terminal.values_at", { time: fmt.dateTime(r.ts), age: fmt.age(age) })}</p>
      <div class="values">
        ${value(t("value.flow"), f.rate_m3h, "m³/h", f.status, 2)}
        ${value(t("value.total"), f.total_m3, "m³", f.status, 2)}
        ${value(t("value.turbidity"), tu.ntu, "NTU", tu.status, 1, overLimit ? ` · <b class="warn">✖ ${t("terminal.over_limit", { v: fmt.number(x.thresholds.turbidity_limit_ntu, 1) })}</b>` : "")}
        ${value(t("value.sludge"), sl.level_m, "m", sl.status, 2)}
        ${r.energy ? value(t("value.power"), r.energy.power_kw, "kW", r.energy.status, 2) : ""}
        ${r.energy && r.energy.pump_current_a !== undefined ? value(t("value.pump_current"), r.energy.pump_current_a, "A", r.energy.status, 2) : ""}
        ${r.energy && r.energy.kwh_total !== undefined ? value(t("value.energy_total"), r.energy.kwh_total, "kWh", r.energy.status, 1) : ""}
        <div class="value ${sl.cleanout_required || cleanout ? "bad" : ""}" id="cleanout"><div class="v-label">${t("value.cleanout")}</div>
          <div class="v-num">${sl.cleanout_required ? `✖ ${t("cleanout.required")}` : `✔ ${t("cleanout.not_required")}`}</div>
          <div class="v-status">${cleanout ? t(`alert_state.${cleanout.state}`) + " · " + fmt.minute(cleanout.raised_at) : ""}</div></div>
      </div>
      ${forecastLine(x.cleanout_forecast, x.thresholds)}
      <p class="muted">${t("terminal.today", { v: fmt.number(x.today && x.today.volume_m3, 2), a: fmt.percent(x.today && x.today.availability) })}</p>
      ${x.today && x.today.energy_kwh !== null && x.today.energy_kwh !== undefined ? `<p class="muted" id="energy-today">${t("terminal.energy_today", { e: fmt.number(x.today.energy_kwh, 1), k: fmt.number(x.today.energy_kwh_per_m3, 2) })}</p>` : ""}`;
  }

  // The clean-out forecast (GET /api/terminals/{id} cleanout_forecast): when the sludge trend
  // reaches the clean-out level; highlighted when it falls inside the notice period.
  function forecastLine(f, th) {
    if (!f) return "";
    const soon = th ? th.cleanout_due_soon_days : 0;
    const days = f.due_date ? Math.round((Date.parse(f.due_date) - Date.parse(f.computed_date)) / 86400e3) : null;
    const v = {
      level: fmt.number(f.level_m, 3),
      rise: fmt.number(f.rise_m_per_day === null ? null : f.rise_m_per_day * 1000, 2),
      target: fmt.number(f.cleanout_level_m, 2),
      date: escapeHtml(f.due_date || ""),
      early: escapeHtml(f.due_early_date || ""),
      late: f.due_late_date ? escapeHtml(f.due_late_date) : t("cleanout.forecast.open_late"),
      min: f.min_days,
      n: f.days_used,
    };
    const due = f.status === "forecast" && soon > 0 && days !== null && days <= soon;
    return `<p id="cleanout-forecast" data-status="${escapeHtml(f.status)}" class="${due || f.status === "reached" ? "warn" : "muted"}">${t(`cleanout.forecast.${f.status}`, v)}</p>`;
  }

  // ---- charts (Chart.js, linear time axis in ms, ticks in the county zone)
  // The county zone's offset from UTC at `ms` (ms), so ticks fall on its whole hours and midnights.
  function zoneOffsetMs(ms) {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: fmt.zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" })
      .formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }
  function timeAxis(from, to) {
    const span = to - from;
    const long = span > 2 * 86400e3;
    const step = span <= 86400e3 ? 4 * 3600e3 : span <= 7 * 86400e3 ? 86400e3 : 5 * 86400e3;
    return {
      type: "linear",
      min: from,
      max: to,
      afterBuildTicks: (axis) => {
        const off = zoneOffsetMs(from);
        const ticks = [];
        for (let v = Math.ceil((from + off) / step) * step - off; v <= to; v += step) ticks.push({ value: v });
        axis.ticks = ticks;
      },
      ticks: { autoSkip: true, maxRotation: 0, callback: (v) => (long ? fmt.day(v) : fmt.hm(v)) },
    };
  }
  function lineChart(canvasId, label, color, points, from, to, lines, unit) {
    const datasets = [{ label, data: points, borderColor: color, backgroundColor: color, pointRadius: points.length < 60 ? 2 : 0, borderWidth: 1.5, spanGaps: false, parsing: false }];
    for (const l of lines) {
      datasets.push({ label: l.label, data: [{ x: from, y: l.y }, { x: to, y: l.y }], borderColor: l.color, borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5, parsing: false, threshold: true });
    }
    const cfg = {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: timeAxis(from, to), y: { beginAtZero: true, grace: "10%", title: { display: true, text: unit } } },
        plugins: {
          legend: { labels: { boxWidth: 14 } },
          tooltip: { callbacks: { title: (items) => (items.length ? fmt.dateTime(items[0].parsed.x) : "") } },
        },
      },
    };
    if (charts[canvasId]) charts[canvasId].destroy();
    charts[canvasId] = new Chart($(canvasId), cfg);
  }
  async function drawCharts() {
    const to = Date.now();
    const from = to - RANGES[range];
    const q = `from=${new Date(from).toISOString()}&to=${new Date(to + 60e3).toISOString()}`;
    const h = await ctx.api(`/api/terminals/${enc}/history?${q}`);
    if (!ctx.current) return;
    const recs = h.records || [];
    // History older than store.rollup_after_days comes as hourly values: their means are drawn at
    // the middle of each hour, before the raw records.
    const hours = h.hourly || [];
    const hourly = (key) => hours.map((r) => ({ x: Date.parse(r.hour) + 1800e3, y: r[key] ? r[key].mean : null }));
    // A silence longer than two hours (an outage, or between the hourly and the raw history) is
    // a break in the line (a null point), never a straight line across it.
    const pts = (get, key) => hourly(key).concat(recs.map((r) => ({ x: Date.parse(r.ts), y: get(r) })))
      .filter((p) => p.y !== null && p.y !== undefined && !Number.isNaN(p.x)).sort((a, b) => a.x - b.x)
      .flatMap((p, i, all) => (i > 0 && p.x - all[i - 1].x > 2 * 3600e3 ? [{ x: (p.x + all[i - 1].x) / 2, y: null }, p] : [p]));
    const th = (term && term.thresholds) || {};
    const designH = term ? term.design_capacity_m3d / 24 : null;
    $("chart-note").textContent = (h.truncated ? t("chart.truncated", { n: recs.length }) + " " : "") +
      (hours.length ? t("chart.hourly", { time: fmt.dateTime(Date.parse(hours[hours.length - 1].hour) + 3600e3), n: hours.length }) + " " : "") +
      t("chart.zone", { zone: fmt.zone });
    lineChart("chart-flow", t("value.flow"), COLORS.flow,
      pts((r) => (r.flow && r.flow.status === "ok" ? r.flow.rate_m3h : null), "flow_rate_m3h"), from, to,
      designH && th.flow_high_raise_factor ? [{ label: t("chart.flow_high", { v: fmt.number(designH * th.flow_high_raise_factor, 2) }), y: designH * th.flow_high_raise_factor, color: COLORS.limit }] : [],
      "m³/h");
    lineChart("chart-turbidity", t("value.turbidity"), COLORS.turbidity,
      pts((r) => (r.turbidity && r.turbidity.status === "ok" ? r.turbidity.ntu : null), "turbidity_ntu"), from, to,
      th.turbidity_limit_ntu !== undefined ? [
        { label: t("chart.turbidity_limit", { v: fmt.number(th.turbidity_limit_ntu, 1) }), y: th.turbidity_limit_ntu, color: COLORS.limit },
        { label: t("chart.turbidity_clear", { v: fmt.number(th.turbidity_clear_ntu, 1) }), y: th.turbidity_clear_ntu, color: COLORS.clear },
      ] : [], "NTU");
    lineChart("chart-sludge", t("value.sludge"), COLORS.sludge,
      pts((r) => (r.sludge && r.sludge.status === "ok" ? r.sludge.level_m : null), "sludge_level_m"), from, to, [], "m");
  }
  async function drawVolume() {
    const d = await ctx.api(`/api/terminals/${enc}/daily`);
    if (!ctx.current) return;
    const days = d.days || [];
    const cfg = {
      type: "bar",
      data: {
        labels: days.map((x) => x.day.slice(5)),
        datasets: [
          { label: t("chart.measured"), data: days.map((x) => x.volume_measured_m3 ?? x.volume_m3), backgroundColor: COLORS.volume, stack: "v" },
          { label: t("chart.estimated"), data: days.map((x) => x.volume_estimated_m3 || 0), backgroundColor: COLORS.estimated, stack: "v" },
          ...(term ? [{ type: "line", label: t("chart.design", { v: fmt.number(term.design_capacity_m3d, 0) }), data: days.map(() => term.design_capacity_m3d), borderColor: COLORS.limit, borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5 }] : []),
        ],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: "m³" } } } },
    };
    if (charts["chart-volume"]) charts["chart-volume"].destroy();
    charts["chart-volume"] = new Chart($("chart-volume"), cfg);
  }

  // ---- picture
  let pictureUrl = null;
  let pictureStamp = null;
  async function drawPicture() {
    const img = $("picture");
    // The terminal's detail says when its latest picture arrived: ask for the JPEG only when there
    // is one and it is not the one shown (no 404 for a terminal that never sent a picture).
    const known = term ? term.image_arrived_at : undefined;
    if (known === null) {
      img.hidden = true;
      $("picture-time").textContent = t("terminal.no_picture");
      return;
    }
    if (known !== undefined && known === pictureStamp) return;
    const p = await ctx.apiBlob(`/api/terminals/${enc}/image`);
    if (!ctx.current) return;
    if (!p) {
      img.hidden = true;
      $("picture-time").textContent = t("terminal.no_picture");
      return;
    }
    const at = p.headers.get("X-Image-Arrived-At");
    if (at !== pictureStamp) {
      pictureStamp = at;
      if (pictureUrl) URL.revokeObjectURL(pictureUrl);
      pictureUrl = URL.createObjectURL(p.blob);
      img.src = pictureUrl;
      img.hidden = false;
    }
    $("picture-time").textContent = t("terminal.picture_time", { time: fmt.dateTime(at) });
  }

  // ---- commands
  async function drawCommands() {
    let list = [];
    try {
      list = (await ctx.api(`/api/terminals/${enc}/commands?limit=10`)).commands || [];
    } catch (e) {
      if (!(e instanceof ctx.ApiError)) throw e;
      $("commands").innerHTML = `<p class="muted">${t("terminal.commands_unavailable")}</p>`;
      return;
    }
    if (!ctx.current) return;
    $("commands").innerHTML = list.length
      ? `<ul class="commands">${list.map((c) => `<li class="cmd cmd-${c.state}" data-command-id="${escapeHtml(c.id)}">
          <span class="cmd-state">${{ pending: "⏳", ok: "✔", error: "✖", timed_out: "⌛" }[c.state] || "?"} ${t(`cmd_state.${c.state}`)}</span>
          <b>${t(`cmd.${c.name}`)}</b> · ${escapeHtml(c.by || "")} · ${fmt.minute(c.sent_at)}${c.error ? ` · ${escapeHtml(c.error)}` : ""}</li>`).join("")}</ul>`
      : `<p class="muted">${t("terminal.no_commands")}</p>`;
  }
  async function send(name, args) {
    const msg = $("cmd-msg");
    msg.textContent = t("terminal.sending");
    try {
      const body = { name }; // sent as the logged-in user (the gateway records the session's user)
      if (args) body.args = args;
      await ctx.apiPost(`/api/terminals/${enc}/commands`, body);
      msg.textContent = t("terminal.sent", { cmd: t(`cmd.${name}`) });
      await drawCommands();
    } catch (e) {
      msg.textContent = t("terminal.send_failed", { message: e.message });
    }
  }
  // Only a role that may send commands gets the controls (viewer: none).
  if (ctx.can("command")) {
    $("snap").addEventListener("click", () => send("snapshot_now"));
    $("sample").addEventListener("click", () => send("sample_now"));
    $("interval-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const v = Number($("interval").value);
      if (!Number.isInteger(v) || v < 10 || v > 86400) {
        $("cmd-msg").textContent = t("terminal.interval_invalid");
        return;
      }
      send("set_report_interval", { interval_s: v });
    });
  }

  // ---- alert history
  async function drawAlerts() {
    const [a, wo] = await Promise.all([ctx.api(`/api/alerts?state=all&terminal=${enc}&limit=50`), ctx.api(`/api/work-orders?site=${enc}&limit=500`).catch(() => null)]);
    if (!ctx.current) return;
    const list = a.alerts || [];
    // Each alert's work order (source "alert", source_ref = alert id), or the way to create one.
    const orders = new Map(((wo && wo.items) || []).filter((o) => o.source === "alert").map((o) => [o.source_ref, o]));
    const orderLink = (x) => {
      const o = orders.get(String(x.alert_id));
      if (o) return `<div class="wo-link"><a href="#/orders/${o.id}" data-order="${o.id}">${t("alerts.work_order", { id: String(o.id), state: escapeHtml(orderStateLabel(t, o.state)) })}</a></div>`;
      return ctx.can("ack") ? `<div class="wo-link"><a href="#/orders?create=alert&amp;alert=${x.alert_id}" class="wo-create">${t("alerts.create_order")}</a></div>` : "";
    };
    $("alert-history").innerHTML = list.length
      ? `<ul class="alert-list">${list.map((x) => `<li class="alert-item alert-${x.state}">
          ${severityIcon(x.severity || severityOf(x.type))} <b>${t(`alert.${x.type}`)}</b> <span class="alert-state">${t(`alert_state.${x.state}`)}</span>
          <div>${t("alerts.raised_at", { time: fmt.dateTime(x.raised_at) })}: ${escapeHtml(x.message || "")}</div>
          ${x.acked_at ? `<div>${t("alerts.acked", { by: escapeHtml(x.acked_by), time: fmt.dateTime(x.acked_at) })}${x.ack_note ? `: “${escapeHtml(x.ack_note)}”` : ""}</div>` : ""}
          ${x.cleared_at ? `<div>${t("alerts.cleared_at", { time: fmt.dateTime(x.cleared_at) })}${x.clear_message ? `: ${escapeHtml(x.clear_message)}` : ""}</div>` : ""}
          ${orderLink(x)}
        </li>`).join("")}</ul>`
      : `<p class="muted">${t("terminal.no_alerts")}</p>`;
  }

  // ---- range buttons
  function markRange() {
    for (const b of root.querySelectorAll("[data-range]")) {
      b.classList.toggle("active", b.dataset.range === range);
      b.setAttribute("aria-pressed", String(b.dataset.range === range));
    }
  }
  for (const b of root.querySelectorAll("[data-range]")) {
    b.addEventListener("click", async () => {
      range = b.dataset.range;
      sessionStorage.setItem("range", range);
      markRange();
      await drawCharts();
    });
  }
  markRange();

  let lastTerm = null;
  async function refreshTerm() {
    const x = await ctx.api(`/api/terminals/${enc}`);
    if (!ctx.current) return;
    if (x === lastTerm) return;
    lastTerm = x;
    term = x;
    drawIdent(x);
    drawLatest(x);
    if ($("interval") && !$("interval").value) $("interval").value = x.report_interval_s;
  }
  try {
    await refreshTerm();
  } catch (e) {
    // 404: no such terminal; 400: an id the gateway refuses outright (e.g. a control character);
    // 403: a terminal outside the user's towns (nothing of it is shown).
    if (e instanceof ctx.ApiError && (e.status === 404 || e.status === 400 || e.status === 403)) {
      const key = e.status === 403 ? "terminal.forbidden" : "terminal.not_found";
      root.innerHTML = `<p class="crumbs"><a href="#/">${t("nav.overview")}</a></p><p class="error" data-status="${e.status}">${t(key, { id: escapeHtml(id) })}</p>`;
      root.dataset.rendered = "1";
      return;
    }
    throw e;
  }
  await charting;
  await Promise.all([drawCharts(), drawVolume(), drawPicture(), drawCommands(), drawAlerts()]);
  root.dataset.rendered = "1";
  let n = 0;
  ctx.onPoll(async () => {
    n++;
    await Promise.all([refreshTerm(), drawCommands(), drawAlerts(), n % 10 === 0 ? drawCharts() : null]);
    await drawPicture();  // after refreshTerm: asks for the JPEG only when image_arrived_at changed
  });
}
