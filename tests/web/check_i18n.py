#!/usr/bin/python3
"""Every string of the web application is in every language file (gateway/web/i18n/*.json):

- all language files have exactly the same keys, and no empty value;
- every key the code uses is there: t("key") in js/**.js, data-i18n="key" in index.html, and the
  keys built from a prefix (t(`state.${x}`)) for every value of that family;
- the {placeholders} of a string are the same in every language.

  check_i18n.py GATEWAY_WEB_DIR
"""
import glob
import json
import os
import re
import sys

# Families of keys built at run time: prefix -> the values the code can produce.
FAMILIES = {
    "state.": ["offline", "alert_critical", "alert_warning", "alert_info", "stale", "unknown", "normal"],
    "alert.": ["turbidity_high", "no_flow", "offline", "flow_high", "cleanout_required", "sensor_fault", "queue_overflow", "clock_skew"],
    "severity.": ["critical", "warning", "info"],
    "alert_state.": ["raised", "acknowledged", "cleared"],
    "alert_filter.": ["open", "raised", "acknowledged", "cleared", "all"],
    "cmd.": ["sample_now", "snapshot_now", "set_report_interval", "get_config"],
    "cmd_state.": ["pending", "ok", "error", "timed_out"],
    "sensor.": ["ok", "fault", "out_of_range", "stale"],
    "grade.": ["grade_1", "grade_2", "grade_1a", "grade_1b", "grade_3"],
    "range.": ["24h", "7d", "30d"],
    "role.": ["viewer", "contractor", "operator", "admin"],
    "recurrence.": ["once", "daily", "weekly"],
    "weekday.": ["1", "2", "3", "4", "5", "6", "7"],
    # the pipe network and its incidents (issue 13; js/network_map.js, js/network_panels.js)
    "pump_state.": ["ok", "alert", "offline", "unknown"],
    "node_kind.": ["terminal", "pump_station", "inspection_well", "collection_point", "segment"],
    "flow_kind.": ["gravity", "pressure"],
    "incident_kind.": ["pump_station_fault", "flow_loss", "weather"],
    "incident_state.": ["open", "acknowledged"],
    "incident_role.": ["cause", "consequence", "symptom", "weather"],
    # the clean-out forecast's statuses (issue 14 item 3; js/pages/terminal.js)
    "cleanout.forecast.": ["insufficient_history", "not_rising", "beyond_horizon", "forecast", "reached"],
}


def main(web):
    problems = []
    langs = {}
    for path in sorted(glob.glob(os.path.join(web, "i18n", "*.json"))):
        with open(path, encoding="utf-8") as f:
            langs[os.path.basename(path)[:-5]] = json.load(f)
    if set(langs) < {"en", "zh-CN"}:
        problems.append(f"language files: need en and zh-CN, found {sorted(langs)}")
    keys = set().union(*[set(v) for v in langs.values()]) if langs else set()
    for lang, strings in langs.items():
        for k in sorted(keys - set(strings)):
            problems.append(f"{lang}.json: missing {k}")
        for k, v in strings.items():
            if not isinstance(v, str) or not v.strip():
                problems.append(f"{lang}.json: {k} is empty")
    for k in sorted(keys):
        ph = {lang: sorted(re.findall(r"\{(\w+)\}", s.get(k, ""))) for lang, s in langs.items() if k in s}
        if len({tuple(v) for v in ph.values()}) > 1:
            problems.append(f"{k}: placeholders differ between languages: {ph}")

    used = set()
    dynamic = set()
    for path in glob.glob(os.path.join(web, "js", "**", "*.js"), recursive=True):
        with open(path, encoding="utf-8") as f:
            src = f.read()
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", src))
        for prefix in re.findall(r"""\bt\(\s*`([\w.]+\.)\$\{""", src):
            dynamic.add(prefix)
        for a, b in re.findall(r"""\bt\(\s*[^()`"']*\?\s*["']([\w.]+)["']\s*:\s*["']([\w.]+)["']""", src):
            used |= {a, b}
    with open(os.path.join(web, "index.html"), encoding="utf-8") as f:
        used |= set(re.findall(r'data-i18n(?:-placeholder|-title)?="([\w.]+)"', f.read()))
    for prefix in sorted(dynamic):
        if prefix not in FAMILIES:
            problems.append(f"t(`{prefix}${{...}}`) in the code: add the family to check_i18n.py FAMILIES")
            continue
        used |= {prefix + v for v in FAMILIES[prefix]}
    for k in sorted(used - keys):
        problems.append(f"used in the code but in no language file: {k}")
    for p in problems:
        print(p)
    print(f"{len(keys)} keys in {len(langs)} languages, {len(used)} used by the code: "
          + ("OK" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "gateway", "web")))
