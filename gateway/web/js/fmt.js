// Formatting: dates and times in the county's zone (ui-config time_zone) with Intl, numbers in
// the page's language, ages ("3 min ago").
import { language, t } from "./i18n.js";

let zone = "Asia/Shanghai";
const cache = new Map();

export function setZone(z) {
  zone = z || "UTC";
  cache.clear();
}

function formatter(kind) {
  const key = `${language()}|${kind}`;
  if (!cache.has(key)) {
    const base = { timeZone: zone, hour12: false };
    const opts = {
      datetime: { ...base, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" },
      minute: { ...base, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" },
      time: { ...base, hour: "2-digit", minute: "2-digit", second: "2-digit" },
      hm: { ...base, hour: "2-digit", minute: "2-digit" },
      date: { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" },
      day: { timeZone: zone, month: "2-digit", day: "2-digit" },
    }[kind];
    cache.set(key, new Intl.DateTimeFormat(language(), opts));
  }
  return cache.get(key);
}

function toDate(v) {
  if (v === null || v === undefined || v === "") return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const show = (kind) => (v) => {
  const d = toDate(v);
  return d ? formatter(kind).format(d) : "–";
};

export const fmt = {
  get zone() {
    return zone;
  },
  dateTime: show("datetime"),
  minute: show("minute"),
  time: show("time"),
  hm: show("hm"),
  date: show("date"),
  day: show("day"),
  /** A number with `digits` decimals, "–" for null/undefined. */
  number(v, digits = 1) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return new Intl.NumberFormat(language(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
  },
  /** A ratio 0..1 as a percentage. */
  percent(v, digits = 1) {
    if (v === null || v === undefined) return "–";
    return `${fmt.number(v * 100, digits)} %`;
  },
  /** An age in seconds as "42 s", "5 min", "3 h", "2 d". */
  age(s) {
    if (s === null || s === undefined) return t("age.never");
    if (s < 90) return t("age.s", { n: Math.max(0, Math.round(s)) });
    if (s < 5400) return t("age.min", { n: Math.round(s / 60) });
    if (s < 172800) return t("age.h", { n: Math.round(s / 3600) });
    return t("age.d", { n: Math.round(s / 86400) });
  },
  /** A duration in seconds (mean time to resolve). */
  duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 3600) return t("dur.min", { n: Math.round(s / 60) });
    if (s < 172800) return t("dur.h", { n: fmt.number(s / 3600, 1) });
    return t("dur.d", { n: fmt.number(s / 86400, 1) });
  },
  /** The calendar day (YYYY-MM-DD) of `d` in the county zone. */
  isoDay(d) {
    const p = Object.fromEntries(
      new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
        .formatToParts(d)
        .map((x) => [x.type, x.value]),
    );
    return `${p.year}-${p.month}-${p.day}`;
  },
};
