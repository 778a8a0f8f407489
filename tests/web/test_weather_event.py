#!/usr/bin/python3
"""A weather event in the operators' incidents panel, in a real browser (issue 14 item 2b;
gateway/README.md "Weather events"; gateway/web/js/network_panels.js).

A real gateway (tests/web/harness.py) on the example county's registry and network, with
flow_high and turbidity_high at once (debounces 0). Four terminals in two towns report a storm's
flow (above 2.5 x their design mean hourly flow, until now) and two of them a first flush of
turbidity above the limit for 6 minutes: the correlator makes ONE weather incident (the third terminal completes
it). Then, at 1366 px, as an operator:

- the panel lists the event with its kind and towns; selecting it shows the table of each
  terminal's peak flow, peak turbidity and hours over the limit, equal to GET /api/incidents/{id};
- the notifications: the alert list shows the four terminals' alerts; only one raise was
  forwarded, the event's (the API's members: `forwarded` on the third terminal's raise; the two
  before it were held, `weather_hold_s`, and joined the event un-notified, like the rest);

at 390 px: no horizontal scroll, the figures table readable (inside its scroll box). No console
error at error level anywhere.

Screenshots: /tmp/i14-weather-1366.png, /tmp/i14-weather-390.png (and the artifacts folder).

  test_weather_event.py --bindir BUILD_DIR
"""
import datetime as dt
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BINDIR = harness.bindir_from_argv()
os.environ["SEWAGE_BINDIR"] = BINDIR
from test_network_map import NetworkCounty, MapTest  # noqa: E402

STORM = ["HY-WY-001", "HY-WY-002", "HY-XTQ-001", "HY-XTQ-002"]  # two towns
FLUSH = {"HY-WY-001": 18.0, "HY-XTQ-001": 14.0}  # turbidity in the first flush, NTU
SCREENSHOTS = {1366: "/tmp/i14-weather-1366.png", 390: "/tmp/i14-weather-390.png"}


class StormCounty(NetworkCounty):
    def _write_config(self):
        super()._write_config()
        with open(self.config_path, encoding="utf-8") as f:
            conf = f.read()
        conf = conf.replace("[alerts]\n", "[alerts]\nflow_high_debounce_s = 0\nturbidity_debounce_s = 0\n", 1)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(conf)

    def feed(self):
        """From 30 min before now: 5 dry minutes, then the storm's flow until now (the event stays
        open), with 6 minutes of first flush at two terminals; one record a minute each."""
        start = harness.now_utc() - dt.timedelta(minutes=30)
        for n, tid in enumerate(STORM):
            out = []
            total = 1000.0
            for m in range(30):
                ts = start + dt.timedelta(minutes=m) + dt.timedelta(seconds=n)  # one after the other
                storm = m >= 5
                rate = round(self.design_mean(tid) * (3.0 + 0.02 * m), 3) if storm else 0.5  # m3/h
                ntu = FLUSH.get(tid, 4.0) if 5 <= m < 11 else 4.0
                total += rate / 60.0
                out.append(self.record(tid, m + 1, ts, rate=rate, total=total, ntu=ntu))
            self.publish_many(f"sewage/v1/{tid}/telemetry", out)

    def design_mean(self, tid):
        import tomllib
        with open(self.registry, "rb") as f:
            reg = tomllib.load(f)
        return next(t for t in reg["terminal"] if t["id"] == tid)["design_capacity_m3d"] / 24.0


class TestWeatherEvent(MapTest):
    NAME = "web_weather_event"

    @classmethod
    def make_county(cls):
        c = StormCounty(cls.BINDIR).start()
        c.feed()
        c.wait_for(lambda: [i for i in c.get("/api/incidents?state=all")["incidents"] if i["kind"] == "weather"], 30,
                   "a weather incident")
        return c

    def event(self):
        return next(i for i in self.county.get("/api/incidents?state=all")["incidents"] if i["kind"] == "weather")

    def screenshot(self, width):
        self.b.driver.save_screenshot(SCREENSHOTS[width])
        shutil.copy(SCREENSHOTS[width], os.path.join(self.b.artifacts, os.path.basename(SCREENSHOTS[width])))

    def test_a_desktop(self):
        """1366 px: the event listed with its towns; selected, its peaks and hours over the limit."""
        b = self.b
        harness.County.wait_for(lambda: len(self.event()["affected_terminals"]) == len(STORM), 30, "every storm terminal in the event")
        ev = self.event()
        self.assertEqual(sorted(STORM), ev["affected_terminals"])
        self.assertEqual(2, len(ev["towns"]), ev["towns"])
        forwarded = [a for a in ev["alerts"] if a["forwarded"]]
        self.assertEqual(1, len(forwarded), "one notified: the raise that made the event (those before it were held)")
        self.assertGreater(len(ev["alerts"]), len(forwarded), "later alerts joined without a notification")
        full = self.county.get(f"/api/incidents/{ev['id']}")
        w = full["weather"]
        self.assertEqual(len(STORM), len(w["terminals"]))
        by_site = {t["site_id"]: t for t in w["terminals"]}
        self.assertAlmostEqual(0.1, by_site["HY-WY-001"]["compliance_hours_lost"], places=2)  # 6 minutes over 10 NTU
        self.assertEqual(18.0, by_site["HY-WY-001"]["peak_turbidity_ntu"])
        self.assertEqual(0.0, by_site["HY-WY-002"]["compliance_hours_lost"])
        self.assertEqual("open", ev["state"], "the storm's flow is still high: the event is open")
        self.open_overview()
        iid = str(ev["id"])
        sel = f".incident-select[data-incident-id='{iid}']"
        b.wait_js(f"return document.querySelector(\"{sel}\")", 20, "the event in the panel")
        head = b.js(f"return document.querySelector(\"{sel}\").textContent")
        self.assertIn("Weather event", head)
        for town in ev["towns"]:
            self.assertIn(town, head)
        b.js(f"document.querySelector(\"{sel}\").scrollIntoView({{block: 'center'}})")
        b.driver.find_element("css selector", sel).click()
        b.wait_js("return document.querySelectorAll('table.weather-figures tbody tr').length === arguments[0]", 20,
                  "the event's figures", len(STORM))
        rows = b.js("return [...document.querySelectorAll('table.weather-figures tbody tr')].map(r => [...r.children].map(c => c.textContent.trim()))")
        self.assertEqual(sorted(STORM), [r[0] for r in rows])
        got = {r[0]: r for r in rows}
        self.assertEqual(f"{by_site['HY-WY-001']['peak_flow_m3h']:.2f}", got["HY-WY-001"][1])
        self.assertEqual("18.0", got["HY-WY-001"][2])
        self.assertEqual("0.10", got["HY-WY-001"][3])
        self.assertAlmostEqual(w["compliance_hours_lost"],
                               b.js("return Number(document.querySelector('table.weather-figures').dataset.complianceHours)"))
        self.screenshot(1366)
        self.no_console_errors()

    def test_b_phone(self):
        """390 px: no horizontal scroll, the event and its table."""
        b = self.b
        b.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        try:
            self.open_overview()
            ev = self.event()
            sel = f".incident-select[data-incident-id='{ev['id']}']"
            b.wait_js(f"return document.querySelector(\"{sel}\")", 20, "the event in the panel")
            if not b.js(f"return document.querySelector(\"{sel}\").getAttribute('aria-expanded') === 'true'"):
                b.js(f"document.querySelector(\"{sel}\").scrollIntoView({{block: 'center'}})")
                b.driver.find_element("css selector", sel).click()
            b.wait_js("return document.querySelectorAll('table.weather-figures tbody tr').length > 0", 20, "the figures")
            b.js("document.querySelector('table.weather-figures').scrollIntoView({block: 'center'})")
            self.no_horizontal_scroll()
            self.screenshot(390)
            self.no_console_errors()
        finally:
            b.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


if __name__ == "__main__":
    unittest.main(verbosity=2)
