// Strings: one JSON file per language (/web/i18n/<lang>.json), chosen from the browser
// (navigator.languages), switchable, remembered in localStorage.

export const LANGUAGES = ["en", "zh-CN"];
let strings = {};
let fallback = {};
let current = "en";

export function chooseLanguage() {
  const saved = localStorage.getItem("lang");
  if (LANGUAGES.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    if (/^zh\b/i.test(l)) return "zh-CN";
    if (/^en\b/i.test(l)) return "en";
  }
  return "en";
}

async function load(lang) {
  const resp = await fetch(`/web/i18n/${lang}.json`);
  if (!resp.ok) throw new Error(`language file ${lang}: HTTP ${resp.status}`);
  return resp.json();
}

export async function setLanguage(lang, remember = false) {
  if (!LANGUAGES.includes(lang)) lang = "en";
  strings = await load(lang);
  if (lang !== "en" && Object.keys(fallback).length === 0) fallback = await load("en");
  if (lang === "en") fallback = strings;
  current = lang;
  if (remember) localStorage.setItem("lang", lang);
  document.documentElement.lang = lang;
  translateDom(document);
}

export function language() {
  return current;
}

/** The string for `key` with {name} placeholders filled from `vars`; the key itself if missing. */
export function t(key, vars) {
  let s = strings[key] ?? fallback[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** Fills every [data-i18n] element's text (and [data-i18n-placeholder], [data-i18n-title]). */
export function translateDom(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}
