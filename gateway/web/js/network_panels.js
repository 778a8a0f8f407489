// The pipe network on the overview (issue 13): loads GET /api/network into the map
// (network_map.js draws it), adds the network's legend, the incidents panel (GET /api/incidents,
// open and acknowledged; selecting one highlights GET /api/incidents/{id}/geojson and fits the
// map to it; Acknowledge = POST /api/incidents/{id}/ack for operators) and the trace panel (a
// clicked segment or node -> GET /api/network/trace?id=: upstream catchment and downstream path
// highlighted, villages, households and lengths listed, a short popup at the click).
// Only mounted when ui-config says the gateway has a network ("network": true), so a gateway
// without one is never asked (no 503 in the console); an error answer later turns the network
// side off quietly (the terminals' map stays as it was).
import { createNetworkLayer, pumpIcon, lineSample, dotSample, STYLE, PUMP_STATES, NODES_FROM_ZOOM } from "./network_map.js";
import { escapeHtml, stateClassOf } from "./states.js";
import { t } from "./i18n.js";

/** Live states and incident marks of the whole network are asked again no sooner than this, nor
 * than 10 x the last answer's time (megabytes the gateway builds on its engine thread: 5-8 s for the
 * example county from a Debug build on a busy machine); pump-station states move sooner through
 * /api/terminals, and a changed incident list asks at once. */
const NETWORK_REFRESH_MS = 60000;
/** The network's answer may take seconds to build and send (8,842 features of the example county:
 * 0.5 MB/s of a Debug gateway on a busy machine); a slow answer is not a lost gateway. */
const NETWORK_TIMEOUT_MS = 60000;
/** After a failed load, asked again this soon. */
const NETWORK_RETRY_MS = 5000;
/** Villages listed in a trace before "and N more". */
const VILLAGES_SHOWN = 25;
const INCIDENT_STATES = ["open", "acknowledged"];

/** Pump-station state of a site entry of /api/terminals (its state class, states.js). */
function pumpStateOf(site) {
  const sc = stateClassOf(site);
  if (sc === "normal") return "ok";
  if (sc === "offline") return "offline";
  if (typeof sc === "string" && sc.startsWith("alert_")) return "alert";
  return "unknown";
}

/** An alert type in words; the wire name when the strings do not have it yet. */
function alertName(type) {
  const s = t(`alert.${type}`);
  return s === `alert.${type}` ? type : s;
}

const km = (fmt, m) => fmt.number((Number(m) || 0) / 1000, 2);
const villageName = (v) => (typeof v === "string" ? v : (v && (v.village || v.name)) || "");

/** The villages once each (several collection points may serve one village), in their order. */
function uniqueVillages(vs) {
  const seen = new Set();
  return (vs || []).filter((v) => {
    const n = villageName(v);
    if (seen.has(n)) return false;
    seen.add(n);
    return true;
  });
}

/**
 * Mounts the network on the overview's map. `els`: {mapEl, legend (element the network legend is
 * appended to), side (element the trace and incident panels go in)}; `onLoaded()` runs after each
 * (re)drawing of the network. Returns the controller (null-safe to call before the load ends).
 */
export function mountNetwork(ctx, map, els, onLoaded) {
  const { t, fmt } = ctx;
  const { mapEl, side } = els;
  side.innerHTML = `
    <section class="trace-panel" id="trace" hidden aria-live="polite"></section>
    <section class="incidents-panel" id="incidents" aria-labelledby="incidents-h">
      <h3 id="incidents-h">${t("incident.panel")} <span id="incident-count" class="muted"></span></h3>
      <ul class="incident-list" id="incident-list"><li class="empty">${t("incident.loading")}</li></ul>
    </section>`;
  const traceEl = side.querySelector("#trace");
  const listEl = side.querySelector("#incident-list");
  const countEl = side.querySelector("#incident-count");
  let enabled = true;
  let loaded = false;
  let nextNetworkAt = 0;
  let lastNetwork = null;
  let incidents = [];
  let lastIncidentAnswers = [];
  let selected = ctx.params.get("incident"); // #/?incident=N selects it at load
  let selectToken = 0;
  let traceToken = 0;
  let popup = null;
  let ackMessage = "";

  const layer = createNetworkLayer(map, mapEl, { t, onSelect: (id, latlng) => trace(id, latlng) });

  // The network's legend: open on a wide screen, one tap away on a phone (it is long).
  els.legend.insertAdjacentHTML("afterend", `<details class="net-legend-box" id="net-legend"${window.innerWidth > 600 ? " open" : ""}>
    <summary>${t("net.legend")}</summary><div class="legend">
    <span class="legend-item">${lineSample(STYLE.gravity)} ${t("net.gravity")}</span>
    <span class="legend-item">${lineSample(STYLE.pressure)} ${t("net.pressure")}</span>
    ${PUMP_STATES.map((s) => `<span class="legend-item">${pumpIcon(s, 14)} ${t("net.pump_station")}: ${t(`pump_state.${s}`)}</span>`).join("")}
    <span class="legend-item" title="${t("net.nodes_from_zoom", { z: NODES_FROM_ZOOM })}">${dotSample(STYLE.well)} ${t("node_kind.inspection_well")}</span>
    <span class="legend-item" title="${t("net.nodes_from_zoom", { z: NODES_FROM_ZOOM })}">${dotSample(STYLE.collectionPoint)} ${t("node_kind.collection_point")}</span>
    <span class="legend-break" aria-hidden="true"></span>
    <span class="legend-item"><span class="root-cause-sample" aria-hidden="true"></span> ${t("incident.root_cause")}</span>
    <span class="legend-item">${lineSample(STYLE.suspected)} ${t("incident.suspected_section")}</span>
    <span class="legend-item">${lineSample(STYLE.upstream)} ${t("trace.upstream")}</span>
    <span class="legend-item">${lineSample(STYLE.downstream)} ${t("trace.downstream")}</span></div></details>`);
  const legendBox = els.legend.parentElement.querySelector("#net-legend");

  function disable() {
    enabled = false;
    side.hidden = true;
    legendBox.remove();
  }

  // ---- the network itself
  let networkBusy = false; // one request at a time (poll ticks do not wait for a slow answer)
  async function loadNetwork() {
    if (!enabled || networkBusy || Date.now() < nextNetworkAt) return;
    const t0 = performance.now();
    let fc;
    networkBusy = true;
    try {
      fc = await ctx.api("/api/network", { timeoutMs: NETWORK_TIMEOUT_MS });
    } catch (e) {
      // 503: no network configured (any longer), 404: a gateway without the route. Anything
      // else (unreachable: the banner says so; a passing 5xx) is asked again later.
      if (e instanceof ctx.ApiError && (e.status === 503 || e.status === 404)) disable();
      else nextNetworkAt = Date.now() + (loaded ? NETWORK_REFRESH_MS : NETWORK_RETRY_MS);
      return;
    } finally {
      networkBusy = false;
    }
    nextNetworkAt = Date.now() + Math.max(NETWORK_REFRESH_MS, 10 * (performance.now() - t0));
    if (!ctx.current || fc === lastNetwork) return;
    lastNetwork = fc;
    layer.load(fc);
    if (!loaded) {
      loaded = true;
      performance.mark("sewage:network-drawn");
    }
    if (onLoaded) onLoaded();
  }

  // ---- trace of a clicked segment or node
  function describe(id) {
    const p = layer.feature(id);
    if (!p) return { title: escapeHtml(id), sub: "" };
    if (p.kind === "segment") {
      const bits = [t(`flow_kind.${p.flow === "pressure" ? "pressure" : "gravity"}`)];
      if (p.diameter_mm) bits.push(`DN${escapeHtml(p.diameter_mm)}`);
      if (p.material) bits.push(escapeHtml(p.material));
      if (p.install_year) bits.push(escapeHtml(p.install_year));
      return { title: escapeHtml(id), sub: `${t("node_kind.segment")} · ${bits.join(" · ")}` };
    }
    const kind = ["terminal", "pump_station", "inspection_well", "collection_point"].includes(p.kind) ? p.kind : "inspection_well";
    let sub = t(`node_kind.${kind}`);
    if (p.kind === "pump_station" || p.kind === "terminal") sub += ` · ${escapeHtml(p.site_id || id)}`;
    if (p.kind === "pump_station") sub += ` · ${t(`pump_state.${PUMP_STATES.includes(p.state) ? p.state : "unknown"}`)}`;
    if (p.kind === "collection_point") sub += ` · ${t("trace.households", { n: fmt.number(p.households, 0) })}`;
    return { title: escapeHtml(p.name || id), sub };
  }

  // Counted words with their singular ("1 segment", "1 village").
  function pipeLength(part) {
    const n = (part.segments || []).length;
    return t(n === 1 ? "trace.length_one" : "trace.length", { km: km(fmt, part.length_m), n });
  }
  function villagesCount(n) {
    return t(n === 1 ? "trace.villages_one" : "trace.villages", { n });
  }
  function sectionText(x) {
    const n = (x.suspected_segments || []).length;
    return t(n === 1 ? "incident.section_one" : "incident.section", { n, km: km(fmt, x.suspected_length_m) });
  }

  function villagesText(vs) {
    const all = uniqueVillages(vs);
    if (!all.length) return "–";
    const text = all.slice(0, VILLAGES_SHOWN).map((v) => escapeHtml(villageName(v))).join(", ");
    return all.length > VILLAGES_SHOWN ? `${text} ${t("trace.more", { n: all.length - VILLAGES_SHOWN })}` : text;
  }

  function villagesHtml(vs) {
    if (!vs.length) return `<p class="muted">${t("trace.no_villages")}</p>`;
    const shown = vs.slice(0, VILLAGES_SHOWN).map((v) => {
      const hh = v && typeof v === "object" && v.households !== undefined ? ` <span class="muted">(${fmt.number(v.households, 0)})</span>` : "";
      return `<li>${escapeHtml(villageName(v))}${hh}</li>`;
    });
    const more = vs.length > VILLAGES_SHOWN ? `<li class="muted">${t("trace.more", { n: vs.length - VILLAGES_SHOWN })}</li>` : "";
    return `<ul class="village-list">${shown.join("")}${more}</ul>`;
  }

  function traceSummary(tr) {
    const up = tr.upstream || {};
    const down = tr.downstream || {};
    const terminal = down.terminal && typeof down.terminal === "object" ? down.terminal.site_id || down.terminal.id : down.terminal;
    return {
      households: t("trace.households", { n: fmt.number(up.households, 0) }),
      villages: villagesCount(uniqueVillages(up.villages).length),
      upLength: pipeLength(up),
      downLength: pipeLength(down),
      terminal: terminal ? escapeHtml(terminal) : "–",
    };
  }

  async function trace(id, latlng) {
    const token = ++traceToken;
    const d = describe(id);
    traceEl.hidden = false;
    traceEl.dataset.traceId = id;
    delete traceEl.dataset.loaded;
    traceEl.innerHTML = `<h3>${t("trace.title", { name: d.title })}</h3><p class="muted">${d.sub}</p><p>${t("trace.loading")}</p>`;
    let tr;
    try {
      tr = await ctx.api(`/api/network/trace?id=${encodeURIComponent(id)}`);
    } catch (e) {
      if (token !== traceToken) return;
      traceEl.innerHTML = `<h3>${t("trace.title", { name: d.title })}</h3><p class="error-text">${escapeHtml(e instanceof ctx.ApiError ? e.message : t("app.load_failed"))}</p>`;
      return;
    }
    if (token !== traceToken || !ctx.current) return;
    layer.showTrace(id, tr);
    const s = traceSummary(tr);
    const up = tr.upstream || {};
    traceEl.innerHTML = `
      <div class="trace-head"><h3>${t("trace.title", { name: d.title })}</h3>
        <button type="button" class="secondary small" id="trace-clear">${t("trace.clear")}</button></div>
      <p class="muted">${d.sub}</p>
      <h4>${lineSample(STYLE.upstream, 20)} ${t("trace.upstream")}</h4>
      <p class="trace-figures"><b class="trace-households" data-households="${Number(up.households) || 0}">${s.households}</b> · ${s.villages} · ${s.upLength}</p>
      ${villagesHtml(uniqueVillages(up.villages))}
      <h4>${lineSample(STYLE.downstream, 20)} ${t("trace.downstream")}</h4>
      <p class="trace-figures">${t("trace.to_terminal", { terminal: s.terminal })} · ${s.downLength}</p>`;
    traceEl.dataset.loaded = "1";
    traceEl.querySelector("#trace-clear").addEventListener("click", clearTrace);
    if (latlng) {
      if (popup) map.closePopup(popup);
      popup = L.popup({ className: "trace-popup", maxWidth: 260, autoPanPadding: [16, 16] })
        .setLatLng(latlng)
        .setContent(`<div class="popup"><strong>${d.title}</strong><br><span class="muted">${d.sub}</span><br>
          ${t("trace.upstream")}: <b>${s.households}</b>, ${s.villages}, ${s.upLength}<br>
          ${t("trace.to_terminal", { terminal: s.terminal })}: ${s.downLength}</div>`)
        .openOn(map);
    }
  }

  function clearTrace() {
    traceToken += 1;
    layer.clearTrace();
    traceEl.hidden = true;
    traceEl.innerHTML = "";
    delete traceEl.dataset.traceId;
    if (popup) map.closePopup(popup);
  }

  // ---- incidents
  function incidentHtml(x) {
    const id = String(x.id);
    const open = id === selected;
    const state = INCIDENT_STATES.includes(x.state) ? x.state : "open";
    const kind = x.kind === "pump_station_fault" || x.kind === "weather" ? x.kind : "flow_loss";
    const weather = kind === "weather";
    const where = weather
      ? `${t("incident.towns")}: ${escapeHtml((x.towns || []).join(", ") || "–")}`
      : x.root_cause
        ? `${t("incident.root_cause")}: ${escapeHtml(x.root_cause.name || x.root_cause.node)}`
        : sectionText(x);
    const reach = weather
      ? t("incident.terminals_n", { n: fmt.number((x.affected_terminals || []).length, 0) })
      : t("trace.households", { n: fmt.number(x.households, 0) });
    const head = `<button type="button" class="incident-select" aria-expanded="${open}" data-incident-id="${escapeHtml(id)}">
        <span class="incident-title">#${escapeHtml(id)} ${escapeHtml(x.title || t(`incident_kind.${kind}`))}</span>
        <span class="incident-meta"><span class="incident-state state-${state}">${t(`incident_state.${state}`)}</span>
        ${t(`incident_kind.${kind}`)} · ${where} · ${reach} · ${fmt.minute(x.opened_at)}</span>
      </button>`;
    if (!open) return `<li class="incident incident-${state}" data-incident-id="${escapeHtml(id)}">${head}</li>`;
    const terminals = (x.affected_terminals || []).map((s) => `<a href="#/terminals/${encodeURIComponent(s)}">${escapeHtml(s)}</a>`).join(", ") || "–";
    const alerts = (x.alerts || []).map((a) =>
      `<li class="role-${escapeHtml(a.role)}${a.open === false ? " cleared" : ""}">${escapeHtml(alertName(a.type))} · ${escapeHtml(a.site_id)} <span class="muted">(${escapeHtml(t(`incident_role.${a.role}`))})</span></li>`).join("");
    const root = weather
      ? `<dt>${t("incident.towns")}</dt><dd class="incident-towns">${escapeHtml((x.towns || []).join(", ") || "–")}</dd>`
      : x.root_cause
      ? `<dt>${t("incident.root_cause")}</dt><dd class="incident-root">${escapeHtml(x.root_cause.name || "")} <span class="muted">${escapeHtml(x.root_cause.site_id || x.root_cause.node)} · ${t(`node_kind.${x.root_cause.kind === "terminal" ? "terminal" : x.root_cause.kind === "pump_station" ? "pump_station" : "inspection_well"}`)}</span></dd>`
      : `<dt>${t("incident.suspected_section")}</dt><dd class="incident-section">${sectionText(x)}</dd>`;
    const acked = x.acked_at ? `<p class="muted">${t("incident.acked_by", { user: escapeHtml(x.acked_by || "–"), time: fmt.minute(x.acked_at) })}</p>` : "";
    const ack = state === "open" && ctx.can("ack")
      ? `<form class="incident-ack" data-incident-id="${escapeHtml(id)}"><label><span class="sr-only">${t("incident.ack_note")}</span>
          <input type="text" name="note" maxlength="500" placeholder="${t("incident.ack_note")}"></label>
          <button type="submit" class="incident-ack-btn">${t("incident.ack")}</button></form>`
      : "";
    return `<li class="incident incident-${state} selected" data-incident-id="${escapeHtml(id)}">${head}
      <div class="incident-detail">
        <dl class="facts">${root}
          <dt>${t("incident.affected_terminals")}</dt><dd class="incident-terminals">${terminals}</dd>
          ${weather ? "" : `<dt>${t("incident.households")}</dt><dd class="incident-households">${fmt.number(x.households, 0)}</dd>`}
          <dt>${t("incident.villages")}</dt><dd class="incident-villages">${villagesText(x.villages)}</dd>
        </dl>
        ${weather ? weatherHtml(id) : ""}
        ${alerts ? `<h4>${t("incident.alerts")}</h4><ul class="incident-alerts">${alerts}</ul>` : ""}
        ${acked}${ack}<p class="msg" role="status">${escapeHtml(ackMessage)}</p>
      </div></li>`;
  }

  /** A weather event's figures (GET /api/incidents/{id} "weather": read from the history when
   * asked, so only for the selected event): each terminal's peak flow and turbidity and the hours
   * its effluent was over its compliance limit. */
  const weatherFigures = new Map();
  function weatherHtml(id) {
    const w = weatherFigures.get(id);
    if (!w) return `<p class="muted weather-loading">${t("incident.weather_loading")}</p>`;
    const num = (v, d) => (v === null || v === undefined ? "–" : fmt.number(v, d));
    const rows = (w.terminals || []).map((r) => `<tr><th scope="row"><a href="#/terminals/${encodeURIComponent(r.site_id)}">${escapeHtml(r.site_id)}</a></th>
        <td>${num(r.peak_flow_m3h, 2)}</td><td>${num(r.peak_turbidity_ntu, 1)}</td><td>${num(r.compliance_hours_lost, 2)}</td></tr>`).join("");
    return `<h4>${t("incident.weather_figures")}</h4>
      <div class="weather-wrap"><table class="weather-figures" data-compliance-hours="${Number(w.compliance_hours_lost) || 0}">
        <thead><tr><th scope="col">${t("incident.terminal")}</th><th scope="col">${t("incident.peak_flow")}</th>
          <th scope="col">${t("incident.peak_turbidity")}</th><th scope="col">${t("incident.compliance_hours_lost")}</th></tr></thead>
        <tbody>${rows}</tbody>
        <tfoot><tr><th scope="row">${t("incident.total")}</th><td></td><td></td><td>${num(w.compliance_hours_lost, 2)}</td></tr></tfoot>
      </table></div>`;
  }
  async function loadWeather(id) {
    let x;
    try {
      x = await ctx.api(`/api/incidents/${encodeURIComponent(id)}`);
    } catch (e) {
      return; // resolved meanwhile, or unreachable: the list says so on the next poll
    }
    if (!x || !x.weather || selected !== id || !ctx.current) return;
    weatherFigures.set(id, x.weather);
    drawIncidents();
  }

  // Redrawn only when its text changes, so a poll never takes the focus or a typed note away.
  let listHtml = "";
  function drawIncidents() {
    countEl.textContent = incidents.length ? `(${incidents.length})` : "";
    const html = incidents.length ? incidents.map(incidentHtml).join("") : `<li class="empty">${t("incident.none")}</li>`;
    if (html !== listHtml) {
      listHtml = html;
      listEl.innerHTML = html;
    }
    listEl.dataset.count = String(incidents.length);
  }

  let incidentsBusy = false;
  async function loadIncidents() {
    if (!enabled || incidentsBusy) return;
    let answers;
    incidentsBusy = true;
    try {
      answers = await Promise.all(INCIDENT_STATES.map((s) => ctx.api(`/api/incidents?state=${s}&limit=200`)));
    } catch (e) {
      if (e instanceof ctx.ApiError && (e.status === 404 || e.status === 503)) disable();
      return;
    } finally {
      incidentsBusy = false;
    }
    if (!ctx.current || answers.every((a, i) => a === lastIncidentAnswers[i])) return;
    if (lastIncidentAnswers.length) nextNetworkAt = 0; // a change: the segments' incident marks too
    lastIncidentAnswers = answers;
    const byId = new Map();
    for (const a of answers) for (const x of a.incidents || []) byId.set(String(x.id), x);
    incidents = [...byId.values()].sort((a, b) =>
      (a.state === "open" ? 0 : 1) - (b.state === "open" ? 0 : 1) || String(b.opened_at).localeCompare(String(a.opened_at)));
    if (selected && !byId.has(selected)) {
      selected = null; // resolved: nothing left to show
      layer.clearIncident();
    }
    drawIncidents();
    // The selected incident re-rooted or its section changed: drawn again (the view kept).
    if (selected && shapeOf(byId.get(selected)) !== shownShape) showIncident(selected, false);
  }

  function shapeOf(x) {
    return x ? JSON.stringify([x.root_cause, x.suspected_segments, x.affected_nodes]) : "";
  }

  // A fit asked for survives a newer drawing of the same selection (a poll that saw a change).
  let fitPending = false;
  let shownShape = "";
  async function showIncident(id, fit) {
    const token = ++selectToken;
    if (fit) fitPending = true;
    const shown = incidents.find((x) => String(x.id) === id);
    shownShape = shapeOf(shown);
    if (shown && shown.kind === "weather") loadWeather(id);
    let fc;
    try {
      fc = await ctx.api(`/api/incidents/${encodeURIComponent(id)}/geojson`);
    } catch (e) {
      return; // resolved meanwhile, or unreachable: the list says so on the next poll
    }
    if (token !== selectToken || selected !== id || !ctx.current) return;
    const b = layer.showIncident(fc);
    const wantFit = fitPending;
    fitPending = false;
    if (wantFit && b.isValid()) {
      map.fitBounds(b, { padding: [30, 30], maxZoom: 16 });
      const r = mapEl.getBoundingClientRect();
      if (r.bottom < 40 || r.top > window.innerHeight - 40) mapEl.scrollIntoView({ block: "start" });
    }
  }

  listEl.addEventListener("click", (e) => {
    const btn = e.target.closest(".incident-select");
    if (!btn) return;
    const id = btn.dataset.incidentId;
    ackMessage = "";
    if (selected === id) {
      selected = null;
      selectToken += 1;
      fitPending = false;
      layer.clearIncident();
    } else {
      selected = id;
      showIncident(id, true);
    }
    drawIncidents();
    const again = listEl.querySelector(`.incident-select[data-incident-id="${CSS.escape(id)}"]`);
    if (again) again.focus();
  });
  listEl.addEventListener("submit", async (e) => {
    const form = e.target.closest(".incident-ack");
    if (!form) return;
    e.preventDefault();
    const id = form.dataset.incidentId;
    const btn = form.querySelector("button");
    btn.disabled = true;
    try {
      await ctx.apiPost(`/api/incidents/${encodeURIComponent(id)}/ack`, { note: form.elements.note.value.trim() });
      ackMessage = t("incident.acked");
    } catch (err) {
      ackMessage = err instanceof ctx.ApiError ? t("app.api_error", { message: err.message }) : t("app.load_failed");
    }
    await loadIncidents();
    drawIncidents();
  });

  return {
    /** First load: the network and the incidents (a selected one from the address is shown). */
    async start() {
      await Promise.all([loadNetwork(), loadIncidents()]);
      if (enabled && selected) showIncident(selected, true);
    },
    /** One poll tick: incidents every tick, the network when due. */
    async poll() {
      await loadIncidents();
      await loadNetwork();
    },
    /** Pump-station states from /api/terminals entries of kind pump_station. */
    applyTerminals(list) {
      if (!enabled || !loaded) return;
      for (const x of list) if (x.kind === "pump_station") layer.setPumpState(x.id, pumpStateOf(x));
    },
    /** Is `siteId` drawn by the network as a pump station (not as a terminal marker)? */
    isPumpSite(siteId) {
      return enabled && loaded && layer.isPumpSite(siteId);
    },
    /** A line break and a "show catchment" button for the popup of a site that is a network
     * node, or "". */
    traceButton(siteId) {
      const node = enabled && loaded ? layer.nodeOfSite(siteId) : null;
      return node ? `<br><button type="button" class="secondary small trace-site" data-node-id="${escapeHtml(node)}">${t("trace.show_catchment")}</button>` : "";
    },
    trace,
  };
}
