// Terminal states (the API's state_class) and alert severities: each has a colour AND a shape
// AND a text label, so nothing depends on colour alone.
import { t } from "./i18n.js";

/** In order of attention (the list's default order). */
export const STATE_CLASSES = ["offline", "alert_critical", "alert_warning", "alert_info", "stale", "unknown", "normal"];

/** Alert severity by type (the gateway's mapping, gateway/README.md). */
export const SEVERITY = {
  turbidity_high: "critical",
  no_flow: "critical",
  offline: "critical",
  flow_high: "warning",
  cleanout_required: "warning",
  sensor_fault: "warning",
  queue_overflow: "warning",
  clock_skew: "info",
  power_without_flow: "warning",
  flow_without_power: "warning",
  pump_fault: "critical",
  power_lost: "critical",
  wet_well_high: "critical",
  wet_well_low: "warning",
  pump_no_level_drop: "warning",
  pump_runtime_abnormal: "info",
  low_flow: "warning",
  cleanout_due_soon: "info",
};
export const ALERT_TYPES = Object.keys(SEVERITY);
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

// SVG shapes on a 24 x 24 box: circle, triangle, diamond, square, cross, ring, question mark.
const SHAPES = {
  normal: '<circle cx="12" cy="12" r="8"/>',
  alert_critical: '<path d="M12 2 L23 21 H1 Z"/><path d="M12 8v6M12 16.5v1.5" class="glyph"/>',
  alert_warning: '<path d="M12 1 L23 12 L12 23 L1 12 Z"/><path d="M12 7v6M12 15.5v1.5" class="glyph"/>',
  alert_info: '<rect x="3" y="3" width="18" height="18" rx="2"/><path d="M12 10v7M12 6.5v1.5" class="glyph"/>',
  offline: '<rect x="2" y="2" width="20" height="20" rx="3"/><path d="M7 7l10 10M17 7L7 17" class="glyph"/>',
  stale: '<circle cx="12" cy="12" r="8" class="hollow"/><path d="M12 7v5l3 2" class="glyph dark"/>',
  unknown: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.4-1 .9-1 1.7M12 16.5v1.5" class="glyph"/>',
};

/** An inline SVG of the state's shape (class state-<name> colours it). */
export function stateIcon(stateClass, size = 18) {
  const s = SHAPES[stateClass] ? stateClass : "unknown";
  return `<svg class="state-icon state-${s}" width="${size}" height="${size}" viewBox="0 0 24 24" aria-hidden="true">${SHAPES[s]}</svg>`;
}

/** Icon and the state's name in words. */
export function stateBadge(stateClass) {
  return `<span class="state-badge state-${stateClass}">${stateIcon(stateClass)}<span>${t(`state.${stateClass}`)}</span></span>`;
}

export function severityOf(type) {
  return SEVERITY[type] || "warning";
}

export function severityIcon(sev) {
  return stateIcon(`alert_${sev}`, 16);
}

/** The attention rank for sorting: offline, alerts by severity, stale/unknown, normal. */
export function attentionRank(stateClass) {
  const i = STATE_CLASSES.indexOf(stateClass);
  return i < 0 ? STATE_CLASSES.length : i;
}

/**
 * The terminal's state_class: the API's when it gives one, else derived the same way from the
 * fields every gateway version has (presence state, open alerts, age of the latest record).
 */
export function stateClassOf(term, nowMs = Date.now()) {
  if (term.state_class) return term.state_class;
  if (term.state === "offline") return "offline";
  let best = null;
  for (const a of term.open_alerts || []) {
    const s = a.severity || severityOf(a.type);
    if (best === null || SEVERITY_RANK[s] < SEVERITY_RANK[best]) best = s;
  }
  if (best) return `alert_${best}`;
  const seen = term.last_seen || term.latest_record_arrived_at;
  if (term.stale === true) return "stale";
  if (seen && term.report_interval_s && nowMs - Date.parse(seen) > 2000 * term.report_interval_s) return "stale";
  if (term.state === "unknown" || !seen) return "unknown";
  return "normal";
}

/** The terminal's highest open alert severity or null. */
export function severityOfTerminal(term) {
  if (term.severity !== undefined) return term.severity;
  let best = null;
  for (const a of term.open_alerts || []) {
    const s = a.severity || severityOf(a.type);
    if (best === null || SEVERITY_RANK[s] < SEVERITY_RANK[best]) best = s;
  }
  return best;
}

/** The age in seconds of the terminal's latest live record (the API's age_s, else computed). */
export function ageOf(term, nowMs = Date.now()) {
  if (term.age_s !== undefined && term.age_s !== null) return term.age_s;
  const seen = term.last_seen || term.latest_record_arrived_at;
  return seen ? Math.max(0, (nowMs - Date.parse(seen)) / 1000) : null;
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
