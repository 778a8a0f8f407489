// County overview: KPI cards (/api/summary, /api/daily), the map (Leaflet, markers coloured AND
// shaped by state_class, clustered when dense; with a pipe network, the network, its pump stations,
// the incidents and traces of ../network_panels.js) and the sortable, filterable terminal list.
import { mountNetwork } from "../network_panels.js";
import {
  STATE_CLASSES, ALERT_TYPES, stateClassOf, stateIcon, stateBadge, attentionRank, ageOf, escapeHtml, severityOfTerminal,
} from "../states.js";

const CLUSTER_ABOVE = 150; // more terminals than this: markercluster
const LIST_PAGE = 200; // rows shown before "show all"
const SITE_KINDS = ["terminal", "pump_station"]; // the registry's site kinds (/api/terminals `kind`)

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  root.innerHTML = `
  <section class="kpis stale-able" id="kpis" aria-label="${t("overview.kpis")}"></section>
  <section class="overview-grid">
    <div class="panel map-panel">
      <h2>${t("overview.map")}</h2>
      <div id="map" class="map" role="region" aria-label="${t("overview.map")}"></div>
      <div class="legend" id="legend"></div>
      <div class="net-side" id="net-side"></div>
    </div>
    <div class="panel list-panel">
      <h2><span id="list-title">${t("overview.terminals")}</span> <span id="count" class="muted"></span></h2>
      <div class="filters">
        <input id="f-q" type="search" placeholder="${t("filter.search")}" aria-label="${t("filter.search")}">
        <select id="f-kind" aria-label="${t("filter.kind")}" hidden><option value="">${t("filter.all_kinds")}</option>
          ${SITE_KINDS.map((k) => `<option value="${k}">${t(`node_kind.${k}`)}</option>`).join("")}</select>
        <select id="f-town" aria-label="${t("filter.town")}"><option value="">${t("filter.all_towns")}</option></select>
        <select id="f-state" aria-label="${t("filter.state")}"><option value="">${t("filter.all_states")}</option>
          ${STATE_CLASSES.map((s) => `<option value="${s}">${t(`state.${s}`)}</option>`).join("")}</select>
        <select id="f-type" aria-label="${t("filter.alert_type")}"><option value="">${t("filter.all_alert_types")}</option>
          ${ALERT_TYPES.map((a) => `<option value="${a}">${t(`alert.${a}`)}</option>`).join("")}</select>
      </div>
      <div class="table-wrap">
      <table class="terminals" id="terminal-table">
        <thead><tr>
          <th data-sort="attention" scope="col"><button type="button">${t("col.state")}</button></th>
          <th data-sort="id" scope="col"><button type="button">${t("col.terminal")}</button></th>
          <th data-sort="town" scope="col"><button type="button">${t("col.town")}</button></th>
          <th data-sort="age" scope="col"><button type="button">${t("col.last_seen")}</button></th>
          <th data-sort="volume" scope="col" class="num"><button type="button">${t("col.today_m3")}</button></th>
          <th scope="col">${t("col.alerts")}</th>
        </tr></thead>
        <tbody id="terminal-rows"></tbody>
      </table></div>
      <button type="button" id="show-all" class="secondary" hidden></button>
    </div>
  </section>`;

  const state = { terminals: [], sort: "attention", dir: 1, showAll: false, focus: ctx.params.get("focus") };
  const $ = (id) => root.querySelector(`#${id}`);

  // ---- map
  const map = L.map($("map"), { zoomControl: true, maxZoom: 18, minZoom: 3, preferCanvas: false, attributionControl: !!ctx.config.tile_url });
  if (ctx.config.tile_url) {
    L.tileLayer(ctx.config.tile_url, { attribution: ctx.config.tile_attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    $("map").classList.add("plain");
  }
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  map.setView([30.5, 120.9], 10);
  let layer = null;
  let fitted = false;
  const markers = new Map();
  $("legend").innerHTML = STATE_CLASSES.map((s) => `<span class="legend-item">${stateIcon(s)} ${t(`state.${s}`)}</span>`).join("");
  // The pipe network (issue 13) when the gateway has one: drawn under the terminals; its pump
  // stations are its square markers, not terminal markers (drawMap skips them once it is drawn).
  const net = ctx.config.network === true
    ? mountNetwork(ctx, map, { mapEl: $("map"), legend: $("legend"), side: $("net-side") }, () => drawMap(state.terminals))
    : null;
  if (!net) $("net-side").hidden = true;
  $("map").addEventListener("click", (e) => {
    const btn = e.target.closest(".trace-site");
    if (btn && net) net.trace(btn.dataset.nodeId, null);
  });

  function markerIcon(term, sc) {
    return L.divIcon({
      className: `terminal-marker state-${sc}`,
      html: `<span class="marker-shape" data-terminal-id="${escapeHtml(term.id)}" data-state-class="${sc}" title="${escapeHtml(term.name)} – ${t(`state.${sc}`)}">${stateIcon(sc, 22)}</span>`,
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
  }

  function popupHtml(term, sc) {
    return `<div class="popup"><strong>${escapeHtml(term.name)}</strong><br>${escapeHtml(term.id)} · ${escapeHtml(term.town)}<br>
      ${stateBadge(sc)}<br>${t("col.last_seen")}: ${fmt.age(ageOf(term))}<br>
      <a href="#/terminals/${encodeURIComponent(term.id)}">${t("overview.open_terminal")}</a>${net ? net.traceButton(term.id) : ""}</div>`;
  }

  function drawMap(list) {
    const dense = list.length > CLUSTER_ABOVE && typeof L.markerClusterGroup === "function";
    const wantCluster = dense ? "cluster" : "plain";
    if (!layer || layer.kind !== wantCluster) {
      if (layer) map.removeLayer(layer);
      layer = dense ? L.markerClusterGroup({ chunkedLoading: true, maxClusterRadius: 40 }) : L.layerGroup();
      layer.kind = wantCluster;
      layer.addTo(map);
      markers.clear();
    }
    const seen = new Set();
    const add = [];
    for (const term of list) {
      if (typeof term.latitude !== "number" || typeof term.longitude !== "number") continue;
      // Pump stations are the network layer's square markers (drawn only with a network), never
      // terminal markers.
      if (term.kind === "pump_station" || (net && net.isPumpSite(term.id))) continue;
      const sc = stateClassOf(term);
      seen.add(term.id);
      let m = markers.get(term.id);
      if (!m) {
        m = L.marker([term.latitude, term.longitude], { icon: markerIcon(term, sc), keyboard: true, title: term.name, alt: term.name });
        m.sc = sc;
        m.bindPopup(() => popupHtml(m.term, m.sc));
        markers.set(term.id, m);
        add.push(m);
      } else if (m.sc !== sc) {
        m.sc = sc;
        m.setIcon(markerIcon(term, sc));
      }
      m.term = term;
    }
    if (dense) layer.addLayers(add);
    else for (const m of add) layer.addLayer(m);
    for (const [id, m] of markers) {
      if (!seen.has(id)) {
        layer.removeLayer(m);
        markers.delete(id);
      }
    }
    if (!fitted && markers.size > 0) {
      fitted = true;
      const focus = state.focus && markers.get(state.focus);
      if (focus) {
        map.setView(focus.getLatLng(), 15);
        if (dense) layer.zoomToShowLayer(focus, () => focus.openPopup());
        else focus.openPopup();
      } else {
        map.fitBounds(L.latLngBounds([...markers.values()].map((m) => m.getLatLng())), { padding: [24, 24], maxZoom: 14 });
      }
    }
  }

  // ---- KPI cards
  function card(id, label, value, sub = "", cls = "") {
    return `<div class="kpi ${cls}" id="kpi-${id}"><div class="kpi-label">${label}<span class="stale-badge">${t("live.stale")}</span></div>
      <div class="kpi-value">${value}</div><div class="kpi-sub">${sub}</div></div>`;
  }
  function vsTarget(rate) {
    if (rate === null || rate === undefined) return { cls: "", text: t("kpi.no_data") };
    const ok = rate >= ctx.config.compliance_target;
    return { cls: ok ? "good" : "bad", text: `${ok ? "✔" : "✖"} ${t(ok ? "kpi.meets_target" : "kpi.below_target", { target: fmt.percent(ctx.config.compliance_target, 0) })}` };
  }
  let month = null; // {rate} from /api/daily
  function drawKpis(s) {
    const today = vsTarget(s.compliance_rate_today);
    const mon = vsTarget(month ? month.rate : null);
    const open = Object.entries(s.open_alerts || {}).filter(([, n]) => n > 0);
    const openList = open.length
      ? `<ul class="by-type">${open.map(([k, n]) => `<li><a href="#/alerts?type=${k}">${t(`alert.${k}`)}</a>: <b>${n}</b></li>`).join("")}</ul>`
      : t("kpi.none");
    const m = s.month || {};
    $("kpis").innerHTML = [
      card("presence", t("kpi.terminals"),
        `<span class="presence"><span class="state-badge state-normal">${stateIcon("normal")} ${s.online}</span> <span class="state-badge state-offline">${stateIcon("offline")} ${s.offline}</span> <span class="state-badge state-unknown">${stateIcon("unknown")} ${s.unknown}</span></span>`,
        t("kpi.presence_sub", { online: s.online, offline: s.offline, unknown: s.unknown })),
      card("volume", t("kpi.volume_today"), `${fmt.number(s.volume_today_m3, 1)} <small>m³</small>`,
        s.volume_today_estimated_m3 > 0 ? t("kpi.estimated", { v: fmt.number(s.volume_today_estimated_m3, 1) }) : t("kpi.operating_day", { day: s.operating_day })),
      card("compliance-today", t("kpi.compliance_today"), fmt.percent(s.compliance_rate_today), today.text, today.cls),
      card("compliance-month", t("kpi.compliance_month"), fmt.percent(month ? month.rate : null), mon.text, mon.cls),
      card("alerts", t("kpi.open_alerts"), `${s.open_alerts_total}`, openList, s.open_alerts_total > 0 ? "bad" : ""),
      card("faults", t("kpi.faults_month"), `${m.faults_found ?? "–"} / ${m.faults_resolved ?? "–"}`,
        t("kpi.mttr", { v: fmt.duration(m.mean_time_to_resolve_s) })),
    ].join("");
  }
  async function loadMonth(s) {
    // This month's compliance: the county-wide daily series, rate weighted by each day's coverage
    // (= sum compliant time / sum good-turbidity time when days have equal length).
    const day = s.operating_day;
    if (!day) return;
    try {
      const d = await ctx.api(`/api/daily?from=${day.slice(0, 8)}01&to=${day}`);
      let w = 0;
      let sum = 0;
      for (const x of d.days || []) {
        if (x.compliance_rate === null || x.compliance_rate === undefined) continue;
        const cov = x.compliance_coverage ?? 1;
        w += cov;
        sum += x.compliance_rate * cov;
      }
      month = { rate: w > 0 ? sum / w : null };
    } catch (e) {
      if (!(e instanceof ctx.ApiError)) throw e;
      month = null;
    }
  }

  // ---- list
  const collator = new Intl.Collator(ctx.language(), { numeric: true });
  function filtered() {
    const q = $("f-q").value.trim().normalize("NFKC").toLowerCase();
    const town = $("f-town").value;
    const kind = $("f-kind").value;
    const st = $("f-state").value;
    const type = $("f-type").value;
    return state.terminals.filter((x) => {
      if (town && x.town !== town) return false;
      if (kind && (x.kind || "terminal") !== kind) return false;
      if (st && stateClassOf(x) !== st) return false;
      if (type && !(x.open_alerts || []).some((a) => a.type === type)) return false;
      if (q) {
        const hay = `${x.id} ${x.name} ${x.town} ${x.village || ""}`.normalize("NFKC").toLowerCase();
        if (!hay.includes(q)) return false;
      }
      return true;
    });
  }
  function sorted(list) {
    const key = {
      attention: (a, b) => attentionRank(stateClassOf(a)) - attentionRank(stateClassOf(b)) || collator.compare(a.id, b.id),
      id: (a, b) => collator.compare(a.id, b.id),
      town: (a, b) => collator.compare(a.town, b.town) || collator.compare(a.id, b.id),
      age: (a, b) => (ageOf(a) ?? Infinity) - (ageOf(b) ?? Infinity),
      volume: (a, b) => ((a.today && a.today.volume_m3) ?? -1) - ((b.today && b.today.volume_m3) ?? -1),
    }[state.sort];
    return [...list].sort((a, b) => state.dir * key(a, b));
  }
  function rowHtml(x) {
    const sc = stateClassOf(x);
    const alerts = (x.open_alerts || []).map((a) => `<span class="chip sev-${a.severity || ""}">${t(`alert.${a.type}`)}</span>`).join(" ");
    return `<tr class="row state-${sc}" data-terminal-id="${escapeHtml(x.id)}" data-state-class="${sc}">
      <td>${stateBadge(sc)}</td>
      <td><a href="#/terminals/${encodeURIComponent(x.id)}" class="term-link"><b>${escapeHtml(x.name)}</b><br><span class="muted">${escapeHtml(x.id)}${
        x.kind === "pump_station" ? ` · ${t("node_kind.pump_station")}` : ""}</span></a></td>
      <td>${escapeHtml(x.town)}</td>
      <td class="${sc === "stale" || sc === "offline" ? "warn" : ""}">${fmt.age(ageOf(x))}</td>
      <td class="num">${fmt.number(x.today ? x.today.volume_m3 : null, 1)}</td>
      <td>${alerts}</td></tr>`;
  }
  function drawList() {
    const list = sorted(filtered());
    const shown = state.showAll ? list : list.slice(0, LIST_PAGE);
    // A county with pump stations lists sites of both kinds, with a kind filter (issue 13).
    const mixed = state.terminals.some((x) => x.kind === "pump_station");
    $("f-kind").hidden = !mixed;
    $("list-title").textContent = t(mixed ? "overview.sites" : "overview.terminals");
    $("terminal-rows").innerHTML = shown.length ? shown.map(rowHtml).join("")
      : `<tr><td colspan="6" class="empty">${t(mixed ? "overview.no_match_site" : "overview.no_match")}</td></tr>`;
    $("count").textContent = t("overview.count", { shown: list.length, total: state.terminals.length });
    const more = $("show-all");
    more.hidden = list.length <= shown.length;
    more.textContent = t("overview.show_all", { n: list.length });
    for (const th of root.querySelectorAll("th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === state.sort ? (state.dir > 0 ? "ascending" : "descending") : "none");
    }
  }
  function fillTowns() {
    const sel = $("f-town");
    const towns = [...new Set(state.terminals.map((x) => x.town))].sort(collator.compare);
    const have = new Set([...sel.options].map((o) => o.value));
    for (const town of towns) if (!have.has(town)) sel.add(new Option(town, town));
  }
  for (const id of ["f-q", "f-kind", "f-town", "f-state", "f-type"]) $(id).addEventListener("input", drawList);
  const kindParam = ctx.params.get("kind");
  if (kindParam && SITE_KINDS.includes(kindParam)) $("f-kind").value = kindParam;
  const stateParam = ctx.params.get("state");
  if (stateParam) $("f-state").value = stateParam;
  $("show-all").addEventListener("click", () => {
    state.showAll = true;
    drawList();
  });
  for (const th of root.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      if (state.sort === th.dataset.sort) state.dir = -state.dir;
      else {
        state.sort = th.dataset.sort;
        state.dir = 1;
      }
      drawList();
    });
  }

  // ---- data
  let lastSummary = null;
  let monthAt = 0;
  let monthDay = null;
  let lastTerminals = null;
  // Summary and terminals are drawn each as soon as it arrives (the KPI cards do not wait for a
  // 10,000-terminal list). performance marks: sewage:first-render, sewage:complete (benchmark).
  let marked = false;
  async function refreshSummary() {
    const s = await ctx.api("/api/summary");
    if (!ctx.current || s === lastSummary) return;
    lastSummary = s;
    drawKpis(s);
    if (!marked) {
      marked = true;
      performance.mark("sewage:first-render");
    }
    // The month's series changes slowly: once a minute (and when the operating day changes).
    if (Date.now() - monthAt > 60000 || s.operating_day !== monthDay) {
      monthAt = Date.now();
      monthDay = s.operating_day;
      await loadMonth(s);
      if (ctx.current) drawKpis(s);
    }
  }
  // A large county's list is costly for the gateway to build (0.9 s at 10,000 terminals, see the
  // README's benchmark): asked again no sooner than 5 x its last duration (every poll when small).
  let nextTerminalsAt = 0;
  async function refreshTerminals() {
    if (Date.now() < nextTerminalsAt) return;
    const t0 = performance.now();
    const tl = await ctx.api("/api/terminals");
    nextTerminalsAt = Date.now() + 4 * (performance.now() - t0);
    if (!ctx.current) return;
    if (tl !== lastTerminals) {
      const first = lastTerminals === null;
      lastTerminals = tl;
      state.terminals = tl.terminals || [];
      fillTowns();
      drawMap(state.terminals);
      if (net) net.applyTerminals(state.terminals);
      drawList();
      root.dataset.loaded = String(state.terminals.length);
      if (first) performance.mark("sewage:terminals-drawn");
    } else {
      drawList(); // ages move on
    }
  }
  async function refresh() {
    await Promise.all([refreshSummary(), refreshTerminals()]);
  }
  await refresh();
  ctx.onPoll(refresh);
  if (net) net.start().then(() => ctx.onPoll(net.poll)); // the network (megabytes) does not hold the page
  root.dataset.rendered = "1";
  performance.mark("sewage:complete");
  setTimeout(() => map.invalidateSize(), 0);
}
