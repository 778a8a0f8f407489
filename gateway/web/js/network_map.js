// The pipe network drawn on a Leaflet map (issue 13): segments of GET /api/network on ONE canvas
// renderer (4,402 segments of the example county are one <canvas>, not 4,402 SVG paths), gravity
// sewers thin and solid, pressure mains dashed; inspection wells and collection points on the same
// canvas only from zoom NODES_FROM_ZOOM; pump stations as square markers coloured AND marked by
// state (ok, alert, offline, unknown); and, on a second canvas above the network that takes no
// clicks, the highlights: an incident's root cause and suspected section, a trace's upstream
// catchment and downstream path. Drawing only: the data and the panels are network_panels.js.
//
// For the browser tests the map element carries counts (data-net-segments, data-net-nodes,
// data-net-pump-stations, data-net-draw-ms, data-net-paint-ms, data-hl-*, data-zoom) and the property `sewageNetwork.pointOf(id)` (the pixel of
// a segment's middle or a node in the map element, to click it like a person would).
import { escapeHtml } from "./states.js";

/** Inspection wells and collection points are drawn from this zoom on (3,666 wells at county
 * zoom would be a grey smear; at 15 a village fills the map). */
export const NODES_FROM_ZOOM = 15;
/** A network with more segments than this draws its gravity sewers only from GRAVITY_FROM_ZOOM
 * (pressure mains always); the example county (4,402) is drawn whole at every zoom. */
export const SEGMENTS_AT_EVERY_ZOOM = 20000;
export const GRAVITY_FROM_ZOOM = 12;
/** Pump-station states of GET /api/network (properties.state). */
export const PUMP_STATES = ["ok", "alert", "offline", "unknown"];

// Canvas paths cannot take CSS classes: their styles are here (the legend draws the same ones).
export const STYLE = {
  gravity: { color: "#566573", weight: 1.4, opacity: 0.9 },
  pressure: { color: "#1a5276", weight: 2.4, opacity: 0.95, dashArray: "6 4" },
  inIncident: { color: "#c0392b" }, // a segment that an open incident suspects (properties.incident)
  well: { radius: 2.5, color: "#566573", weight: 1, fillColor: "#ffffff", fillOpacity: 1 },
  collectionPoint: { radius: 5, color: "#7e5109", weight: 1.5, fillColor: "#f5b041", fillOpacity: 1 },
  upstream: { color: "#2e86c1", weight: 4, opacity: 0.85 },
  downstream: { color: "#7d3c98", weight: 5, opacity: 0.9 },
  selected: { color: "#f5b041", weight: 10, opacity: 0.9 },
  suspectedCasing: { color: "#ffffff", weight: 10, opacity: 0.9 },
  suspected: { color: "#c0392b", weight: 6, opacity: 1, dashArray: "12 6" },
  affected: { color: "#d68910", weight: 3, radius: 9, fill: false },
};

// Squares on a 16 x 16 box with a dark frame (smaller than the terminals' 22 px shapes, whose
// white-framed square means "notice") and a glyph per state but ok, so no state depends on colour
// alone.
const PUMP_GLYPHS = {
  ok: "",
  alert: '<path d="M8 4v5M8 11.3v.9" class="glyph"/>',
  offline: '<path d="M5 5l6 6M11 5l-6 6" class="glyph"/>',
  unknown: '<path d="M6.2 6.2a1.9 1.9 0 1 1 2.6 1.8c-.5.3-.8.6-.8 1.3M8 11.3v.9" class="glyph"/>',
};

/** An inline SVG square of a pump station in `state` (CSS class pump-state-<state> colours it). */
export function pumpIcon(state, size = 16) {
  const s = Object.hasOwn(PUMP_GLYPHS, state) ? state : "unknown";
  return `<svg class="pump-icon pump-state-${s}" width="${size}" height="${size}" viewBox="0 0 16 16" aria-hidden="true">` +
    `<rect x="1" y="1" width="14" height="14" rx="1"/>${PUMP_GLYPHS[s]}</svg>`;
}

/** An inline SVG sample of a line style of STYLE (for the legend). */
export function lineSample(style, width = 28) {
  const dash = style.dashArray ? ` stroke-dasharray="${style.dashArray}"` : "";
  return `<svg width="${width}" height="10" viewBox="0 0 ${width} 10" aria-hidden="true"><line x1="1" y1="5" x2="${width - 1}" y2="5" ` +
    `stroke="${style.color}" stroke-width="${Math.min(style.weight, 6)}"${dash}/></svg>`;
}

/** An inline SVG sample of a circle style of STYLE (for the legend). */
export function dotSample(style) {
  const r = Math.min(style.radius, 6);
  const fill = style.fill === false ? "none" : style.fillColor;
  return `<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="${r}" fill="${fill}" ` +
    `stroke="${style.color}" stroke-width="${Math.min(style.weight, 2)}"/></svg>`;
}

const toLatLng = ([lon, lat]) => [lat, lon];

/**
 * The network layers on `map` (a Leaflet map whose container is `mapEl`). `onSelect(id, latlng)`
 * is called when a segment, a well, a collection point or a pump station is clicked; `t` is the
 * strings function. Returns the layer's operations (each documented below).
 */
export function createNetworkLayer(map, mapEl, { t, onSelect }) {
  const hlPane = map.createPane("networkHighlight");
  hlPane.style.zIndex = 450; // above the network (overlay pane 400), below the markers (600)
  hlPane.style.pointerEvents = "none"; // clicks go through to the network's canvas
  const renderer = L.canvas({ padding: 0.3, tolerance: 6 });
  const hlRenderer = L.canvas({ padding: 0.3, pane: "networkHighlight" });
  const gravityLayer = L.layerGroup();
  const pressureLayer = L.layerGroup();
  const nodeLayer = L.layerGroup();
  const pumpLayer = L.layerGroup();
  const traceLayer = L.layerGroup().addTo(map);
  const incidentLayer = L.layerGroup().addTo(map);
  const segs = new Map(); // id -> {p, latlngs, layer}
  const nodes = new Map(); // id -> {p, latlng, layer (wells, collection points) | marker (pump stations)}
  const bySite = new Map(); // registry site id -> node id (terminals and pump stations)
  let signature = "";
  let drawn = false;

  function segStyle(p) {
    const base = p.flow === "pressure" ? STYLE.pressure : STYLE.gravity;
    const inIncident = p.incident !== undefined && p.incident !== null;
    return inIncident ? { ...base, ...STYLE.inIncident, weight: base.weight + 1.2 } : base;
  }

  function pumpMarkerIcon(id, p, state) {
    const name = p.name || id;
    const inIncident = p.incident !== undefined && p.incident !== null; // the root of an open incident
    return L.divIcon({
      className: `pump-marker pump-state-${state}${inIncident ? " in-incident" : ""}`,
      html: `<span class="pump-shape" data-node-id="${escapeHtml(id)}" data-site-id="${escapeHtml(p.site_id || id)}" data-state="${state}" ` +
        `title="${escapeHtml(name)} – ${escapeHtml(t(`pump_state.${state}`))}">${pumpIcon(state, 14)}</span>`,
      iconSize: [14, 14],
      iconAnchor: [7, 7],
    });
  }

  function stateOf(p) {
    return PUMP_STATES.includes(p.state) ? p.state : "unknown";
  }

  function clear() {
    for (const l of [gravityLayer, pressureLayer, nodeLayer, pumpLayer]) l.clearLayers();
    segs.clear();
    nodes.clear();
    bySite.clear();
  }

  function build(features) {
    clear();
    for (const f of features) {
      const p = f.properties || {};
      const g = f.geometry;
      if (!g || typeof p.id !== "string") continue;
      if (g.type === "LineString" && p.kind === "segment") {
        const latlngs = g.coordinates.map(toLatLng);
        const layer = L.polyline(latlngs, { renderer, ...segStyle(p) });
        layer.on("click", (e) => onSelect(p.id, e.latlng));
        (p.flow === "pressure" ? pressureLayer : gravityLayer).addLayer(layer);
        segs.set(p.id, { p, latlngs, layer });
      } else if (g.type === "Point") {
        const latlng = toLatLng(g.coordinates);
        const node = { p, latlng, layer: null, marker: null, state: null };
        if (p.kind === "inspection_well" || p.kind === "collection_point") {
          node.layer = L.circleMarker(latlng, { renderer, ...(p.kind === "inspection_well" ? STYLE.well : STYLE.collectionPoint) });
          node.layer.on("click", (e) => onSelect(p.id, e.latlng));
          nodeLayer.addLayer(node.layer);
        } else if (p.kind === "pump_station") {
          node.state = stateOf(p);
          node.marker = L.marker(latlng, { icon: pumpMarkerIcon(p.id, p, node.state), keyboard: true, zIndexOffset: -100, alt: p.name || p.id });
          node.marker.on("click", () => onSelect(p.id, latlng));
          pumpLayer.addLayer(node.marker);
        }
        if (p.kind === "terminal" || p.kind === "pump_station") bySite.set(p.site_id || p.id, p.id);
        nodes.set(p.id, node);
      }
    }
  }

  // A refresh with the same features only restyles (live states, incident marks).
  function restyle(features) {
    for (const f of features) {
      const p = f.properties || {};
      const s = segs.get(p.id);
      if (s) {
        const was = s.p.incident ?? null;
        s.p = p;
        if ((p.incident ?? null) !== was) s.layer.setStyle(segStyle(p));
        continue;
      }
      const n = nodes.get(p.id);
      if (n) {
        const was = n.p.incident ?? null;
        n.p = p;
        if (n.marker) setNodeState(p.id, stateOf(p), (p.incident ?? null) !== was);
      }
    }
  }

  function setNodeState(id, state, force = false) {
    const n = nodes.get(id);
    if (!n || !n.marker || (n.state === state && !force)) return;
    n.state = state;
    n.marker.setIcon(pumpMarkerIcon(id, n.p, state));
  }

  function showByZoom() {
    const z = map.getZoom();
    const wantNodes = z >= NODES_FROM_ZOOM;
    if (wantNodes !== map.hasLayer(nodeLayer)) {
      if (wantNodes) nodeLayer.addTo(map);
      else map.removeLayer(nodeLayer);
    }
    const wantGravity = segs.size <= SEGMENTS_AT_EVERY_ZOOM || z >= GRAVITY_FROM_ZOOM;
    if (wantGravity !== map.hasLayer(gravityLayer)) {
      if (wantGravity) gravityLayer.addTo(map);
      else map.removeLayer(gravityLayer);
    }
    mapEl.dataset.zoom = String(z);
    mapEl.dataset.netNodes = wantNodes ? String(nodeLayer.getLayers().length) : "0";
    mapEl.dataset.netSegmentsShown = String((wantGravity ? gravityLayer.getLayers().length : 0) + pressureLayer.getLayers().length);
  }
  map.on("zoomend", showByZoom);

  function boundsOf(ids) {
    const b = L.latLngBounds([]);
    for (const id of ids) {
      const s = segs.get(id);
      if (s) for (const ll of s.latlngs) b.extend(ll);
      const n = nodes.get(id);
      if (n) b.extend(n.latlng);
    }
    return b;
  }

  function lines(group, ids, style) {
    let n = 0;
    for (const id of ids || []) {
      const s = segs.get(id);
      if (!s) continue;
      L.polyline(s.latlngs, { renderer: hlRenderer, interactive: false, ...style }).addTo(group);
      n += 1;
    }
    return n;
  }

  const api = {
    /** Draws (or, with the same feature ids, restyles) the FeatureCollection of GET /api/network.
     * Returns the time taken in ms (data-net-draw-ms and, a frame later, data-net-paint-ms keep
     * the last full drawing's). */
    load(fc) {
      const t0 = performance.now();
      const features = Array.isArray(fc && fc.features) ? fc.features : [];
      const sig = `${features.length}|${features.map((f) => (f.properties || {}).id).join(",")}`;
      const rebuilt = sig !== signature;
      if (rebuilt) {
        signature = sig;
        build(features);
        if (!drawn) {
          drawn = true;
          pressureLayer.addTo(map);
          pumpLayer.addTo(map);
        }
        showByZoom();
      } else {
        restyle(features);
      }
      const ms = performance.now() - t0;
      if (rebuilt) {
        mapEl.dataset.netDrawMs = String(Math.round(ms));
        // Leaflet paints the canvas on the next animation frame: built + painted by the one after.
        requestAnimationFrame(() => requestAnimationFrame(() => {
          mapEl.dataset.netPaintMs = String(Math.round(performance.now() - t0));
        }));
      }
      mapEl.dataset.netSegments = String(segs.size);
      mapEl.dataset.netPumpStations = String(pumpLayer.getLayers().length);
      return ms;
    },
    /** The properties of a node or segment (null when not in the network). */
    feature(id) {
      const x = segs.get(id) || nodes.get(id);
      return x ? x.p : null;
    },
    /** The node id of a registry site (terminal or pump station), or null. */
    nodeOfSite(siteId) {
      return bySite.get(siteId) || null;
    },
    /** Is the site a pump station of the network (its marker is the network's square)? */
    isPumpSite(siteId) {
      const n = nodes.get(bySite.get(siteId));
      return !!(n && n.marker);
    },
    /** Sets a pump station's state ("ok" | "alert" | "offline" | "unknown") by its site id. */
    setPumpState(siteId, state) {
      const id = bySite.get(siteId);
      if (id) setNodeState(id, PUMP_STATES.includes(state) ? state : "unknown");
    },
    /** Highlights an incident from the FeatureCollection of GET /api/incidents/{id}/geojson
     * (properties.role root_cause | suspected | affected); returns the features' bounds. */
    showIncident(fc) {
      incidentLayer.clearLayers();
      const b = L.latLngBounds([]);
      let suspected = 0;
      let affected = 0;
      let root = "";
      const features = Array.isArray(fc && fc.features) ? fc.features : [];
      for (const role of ["affected", "suspected", "root_cause"]) { // drawn bottom to top
        for (const f of features) {
          const p = f.properties || {};
          const g = f.geometry;
          if (!g || p.role !== role) continue;
          if (g.type === "LineString") {
            const ll = g.coordinates.map(toLatLng);
            if (role === "suspected") {
              L.polyline(ll, { renderer: hlRenderer, interactive: false, ...STYLE.suspectedCasing }).addTo(incidentLayer);
              L.polyline(ll, { renderer: hlRenderer, interactive: false, ...STYLE.suspected }).addTo(incidentLayer);
              suspected += 1;
            } else {
              L.polyline(ll, { renderer: hlRenderer, interactive: false, color: STYLE.affected.color, weight: 4 }).addTo(incidentLayer);
            }
            for (const x of ll) b.extend(x);
          } else if (g.type === "Point") {
            const ll = toLatLng(g.coordinates);
            if (role === "root_cause") {
              root = String(p.id || "");
              L.marker(ll, {
                icon: L.divIcon({ className: "root-cause-marker", html: `<span data-node-id="${escapeHtml(root)}"></span>`, iconSize: [40, 40], iconAnchor: [20, 20] }),
                interactive: false, keyboard: false, zIndexOffset: 1000,
              }).addTo(incidentLayer);
            } else {
              L.circleMarker(ll, { renderer: hlRenderer, interactive: false, ...STYLE.affected }).addTo(incidentLayer);
              affected += 1;
            }
            b.extend(ll);
          }
        }
      }
      mapEl.dataset.hlSuspected = String(suspected);
      mapEl.dataset.hlAffected = String(affected);
      mapEl.dataset.hlRoot = root;
      return b;
    },
    clearIncident() {
      incidentLayer.clearLayers();
      for (const k of ["hlSuspected", "hlAffected", "hlRoot"]) delete mapEl.dataset[k];
    },
    /** Highlights the trace of GET /api/network/trace (upstream catchment, downstream path) and
     * the traced feature `id`; returns the bounds of the traced feature. */
    showTrace(id, trace) {
      traceLayer.clearLayers();
      const up = lines(traceLayer, trace.upstream && trace.upstream.segments, STYLE.upstream);
      const down = lines(traceLayer, trace.downstream && trace.downstream.segments, STYLE.downstream);
      const s = segs.get(id);
      const n = nodes.get(id);
      if (s) {
        L.polyline(s.latlngs, { renderer: hlRenderer, interactive: false, ...STYLE.selected }).addTo(traceLayer).bringToBack();
      } else if (n) {
        L.circleMarker(n.latlng, { renderer: hlRenderer, interactive: false, radius: 11, color: STYLE.selected.color, weight: 4, fill: false }).addTo(traceLayer);
      }
      mapEl.dataset.hlUpstream = String(up);
      mapEl.dataset.hlDownstream = String(down);
      mapEl.dataset.hlTraced = id;
      return boundsOf([id]);
    },
    clearTrace() {
      traceLayer.clearLayers();
      for (const k of ["hlUpstream", "hlDownstream", "hlTraced"]) delete mapEl.dataset[k];
    },
    /** The bounds of these node/segment ids (empty bounds when none is known). */
    boundsOf,
    /** The pixel (relative to the map element) of a segment's middle or a node; null if unknown. */
    pointOf(id) {
      const s = segs.get(id);
      const n = nodes.get(id);
      let ll = null;
      if (s) {
        const a = map.latLngToContainerPoint(s.latlngs[0]);
        const z = map.latLngToContainerPoint(s.latlngs[s.latlngs.length - 1]);
        if (s.latlngs.length === 2) return { x: Math.round((a.x + z.x) / 2), y: Math.round((a.y + z.y) / 2) };
        ll = s.latlngs[Math.floor(s.latlngs.length / 2)];
      } else if (n) {
        ll = n.latlng;
      }
      if (!ll) return null;
      const p = map.latLngToContainerPoint(ll);
      return { x: Math.round(p.x), y: Math.round(p.y) };
    },
    /** The segment ids (for tests and the panels). */
    segmentIds() {
      return [...segs.keys()];
    },
  };
  mapEl.sewageNetwork = api;
  return api;
}
