#!/usr/bin/python3
"""Browser test of the monthly report page (#/report, gateway/web/js/pages/report.js).

A real gateway and mosquitto (tests/web/harness.py) with records published by the test; headless
Chromium shows the report: the county totals on the page are the API's (/api/report), the town
and terminal tables have every town and terminal, the current month says it is partial, the CSV
link downloads report-<month>-county.csv (UTF-8 BOM, one row per terminal), Print calls
window.print() and the print stylesheet hides the navigation and the pickers, the page works in
Chinese and has no horizontal scroll at 390 px, and the browser console has no errors.

Run: /usr/bin/python3 tests/web/test_report.py --bindir build/dev
On failure: <test>.png and <test>.console.log in the artifacts folder (harness.artifacts_dir).
"""
import csv
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BINDIR = harness.bindir_from_argv()


class ReportPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_browser()
        # Read without login (http.public_read): the report for a county that publishes it openly.
        cls.county = harness.County(BINDIR, extra_http="public_read = true").start()
        try:
            cls.populate()
            cls.browser = harness.Browser(artifacts=harness.artifacts_dir(BINDIR))
        except Exception:
            cls.county.stop()
            raise
        cls.downloads = tempfile.mkdtemp(prefix="sewage-web-dl-")
        # Downloads of the headless browser go to a folder of the test's own.
        cls.browser.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                           {"behavior": "allow", "downloadPath": cls.downloads})

    @classmethod
    def populate(cls):
        """30 records each for the normal and the alerting terminal (turbidity far above the
        limit: a turbidity_high episode), a last will for the offline one; waits until the
        report has the records and the episode."""
        c = cls.county
        cls.first_record = harness.now_utc() - dt.timedelta(minutes=29, seconds=5)  # history() ends at now
        for t in c.terminals:
            if t["role"] == "offline":
                c.publish(f"sewage/v1/{t['id']}/status",
                          {"terminal_id": t["id"], "state": "offline", "reason": "connection_lost"}, retain=True)
                continue
            c.publish_many(f"sewage/v1/{t['id']}/telemetry",
                           c.history(t["id"], 30, ntu=25.0 if t["role"] == "alerting" else 3.0, interval_s=t["interval"]))

        def ready():
            got = {x["id"]: x for x in c.get("/api/terminals")["terminals"]}
            return all((got[i].get("latest_record") or {}).get("seq") == 30 for i in ("WT-ALR-02", "WT-NRM-03")) \
                and bool(got["WT-ALR-02"]["open_alerts"])
        c.wait_for(ready, 20, "the records and the alert")

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.county.stop()
        shutil.rmtree(cls.downloads, ignore_errors=True)

    def setUp(self):
        self.b = self.browser
        self.b.logs()  # each test judges only its own console entries
        self.b.console = []

    def run(self, result=None):
        # Screenshot and console log of every failing test.
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            png, log = self.b.save_failure(f"web_report.{self._testMethodName}")
            print(f"saved {png} and {log}", file=sys.stderr)
        return result

    def open_report(self, hash_="#/report"):
        self.b.driver.get("about:blank")  # a fresh start of the application, not a hash change
        self.b.open(self.county.url + "/" + hash_)
        self.b.wait_js("return document.querySelector('main').dataset.rendered === '1'"
                       " && !!document.getElementById('r-totals')", 20, "the report to render")

    def api_report(self):
        return self.county.get("/api/report")

    def test_county_totals_are_the_apis(self):
        self.open_report()
        # http.public_read: readable without login; the header offers a login, shows no user.
        self.assertFalse(self.b.js("return document.getElementById('login-link').hidden"))
        self.assertTrue(self.b.js("return document.getElementById('who').hidden"))
        api = self.api_report()
        tot = api["totals"]
        self.assertEqual(tot["terminals"], 3)
        self.assertGreater(tot["volume_m3"], 0)
        # The figures the page shows are the API's: the data attributes and the county row.
        shown = self.b.js("const k = document.getElementById('r-totals');"
                          "return {volume: Number(k.dataset.volume), terminals: Number(k.dataset.terminals)};")
        self.assertAlmostEqual(shown["volume"], tot["volume_m3"], places=3)
        self.assertEqual(shown["terminals"], 3)
        row = self.b.js("return [...document.querySelectorAll('#r-county-row > *')].map(c => c.textContent.trim());")
        self.assertEqual(row[0], "County total")
        self.assertEqual(row[1], "3")
        # Volume with one decimal in the page's language (en: 1,234.5).
        self.assertEqual(row[2].rstrip(" *"), f"{tot['volume_m3']:,.1f}")
        self.assertEqual(row[6], str(tot["faults_found"]))
        # Every town and terminal of the registry has its row.
        towns = self.b.js("return [...document.querySelectorAll('#r-towns tbody tr')].map(r => r.dataset.town);")
        self.assertEqual(sorted(towns), sorted(t["town"] for t in harness.DEFAULT_TERMINALS))
        ids = self.b.js("return [...document.querySelectorAll('#r-terminals tbody tr')].map(r => r.dataset.terminal);")
        self.assertEqual(ids, [t["id"] for t in harness.DEFAULT_TERMINALS])
        # The alerting terminal's turbidity_high episode is in the faults by type (unless the test
        # runs in the first half hour of a county month: then it was raised in the month before).
        month_from = dt.datetime.fromisoformat(api["from"].replace("Z", "+00:00"))
        if self.first_record >= month_from:
            self.assertGreaterEqual(api["faults"]["by_type"]["turbidity_high"]["found"], 1)
        found = self.b.js("const r = document.querySelector('#r-faults tr[data-type=turbidity_high]');"
                          "return r ? r.children[1].textContent : '0';")
        self.assertEqual(found, str(api["faults"]["by_type"]["turbidity_high"]["found"]))
        # The current month is partial and says so.
        self.assertTrue(api["partial"])
        partial = self.b.js("const p = document.getElementById('r-partial'); return p ? p.textContent : '';")
        self.assertIn("not over", partial)
        self.assertIn(api["days_not_over"][0], partial)
        self.assertEqual(self.b.console_errors(), [])

    def test_town_picker_shows_one_town(self):
        self.open_report()
        self.b.js("const s = document.getElementById('r-town'); s.value = 'Baibu';"
                  "s.dispatchEvent(new Event('change'));")
        self.b.wait_js("return [...document.querySelectorAll('#r-terminals tbody tr')].length === 1", 10,
                       "the town report")
        ids = self.b.js("return [...document.querySelectorAll('#r-terminals tbody tr')].map(r => r.dataset.terminal);")
        self.assertEqual(ids, ["WT-ALR-02"])
        self.assertIn("town=Baibu", self.b.js("return location.hash;"))
        href = self.b.js("return document.getElementById('r-csv').getAttribute('href');")
        self.assertIn("town=Baibu", href)
        self.assertIn("format=csv", href)
        api = self.county.get("/api/report?town=Baibu")
        shown = self.b.js("return Number(document.getElementById('r-totals').dataset.volume);")
        self.assertAlmostEqual(shown, api["totals"]["volume_m3"], places=3)
        self.assertEqual(self.b.console_errors(), [])

    def test_csv_link_downloads_the_report(self):
        self.open_report()
        month = self.api_report()["month"]
        name = f"report-{month}-county.csv"
        path = os.path.join(self.downloads, name)
        if os.path.exists(path):
            os.remove(path)
        self.b.js("document.getElementById('r-csv').click();")
        deadline = time.time() + 20
        while time.time() < deadline and not (os.path.exists(path) and os.path.getsize(path) > 0):
            time.sleep(0.2)
        self.assertTrue(os.path.exists(path), f"{name} not downloaded: {os.listdir(self.downloads)}")
        time.sleep(0.3)  # the browser renames the partial file when it is complete
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"\xef\xbb\xbf"), data[:20])
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        self.assertEqual(rows[0][:4], ["month", "town", "terminal_id", "terminal_name"])
        self.assertEqual([r[2] for r in rows[1:]], [t["id"] for t in harness.DEFAULT_TERMINALS])
        # Chinese names survive the round trip.
        self.assertEqual(rows[1][3], harness.DEFAULT_TERMINALS[0]["name"])
        # The same headers a spreadsheet sees.
        with urllib.request.urlopen(self.county.url + "/api/report?format=csv", timeout=10) as r:
            self.assertEqual(r.headers["Content-Type"], "text/csv; charset=utf-8")
            self.assertEqual(r.headers["Content-Disposition"], f'attachment; filename="{name}"')

    def test_print_button_and_print_stylesheet(self):
        self.open_report()
        self.b.js("window.__printed = 0; window.print = () => { window.__printed++; };")
        self.b.js("document.getElementById('r-print').click();")
        self.assertEqual(self.b.js("return window.__printed;"), 1)
        self.b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            hidden = self.b.js("return ['.topbar', '.report-toolbar'].map(s => getComputedStyle(document.querySelector(s)).display);")
            self.assertEqual(hidden, ["none", "none"])
            self.assertNotEqual(self.b.js("return getComputedStyle(document.getElementById('r-terminals')).display;"), "none")
        finally:
            self.b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    def test_chinese_and_phone_width(self):
        self.open_report("#/report")
        self.b.js("const s = document.getElementById('lang-select'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change'));")
        self.b.wait_js("return (document.getElementById('r-title') || {}).textContent?.includes('月度运维报表')", 10,
                       "the Chinese title")
        self.assertEqual(self.b.js("return document.querySelector('#r-county-row th').textContent;"), "全县合计")
        self.b.set_size(390, 844)
        try:
            time.sleep(0.3)
            scroll = self.b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            self.assertLessEqual(scroll, 0, "horizontal scroll at 390 px")
        finally:
            self.b.set_size(1366, 900)
            self.b.js("localStorage.removeItem('lang');")
        self.assertEqual(self.b.console_errors(), [])

    def test_bad_month_in_the_address_falls_back_and_future_is_refused(self):
        self.open_report("#/report?month=2026-13")
        api = self.api_report()
        self.assertEqual(self.b.js("return document.querySelector('main').dataset.month;"), api["month"])
        # ... and says that the month in the address was not one, never silently.
        self.assertFalse(self.b.js("return document.getElementById('r-notice').hidden;"))
        notice = self.b.js("return document.getElementById('r-notice').textContent;")
        self.assertIn("2026-13", notice)
        self.assertIn(api["month"], notice)
        # A month that has not begun: the API's message, no stale tables.
        y, m = map(int, api["month"].split("-"))
        nxt = f"{y + (m == 12):04d}-{(m % 12) + 1:02d}"
        self.b.js("const i = document.getElementById('r-month'); i.value = arguments[0];"
                  "i.dispatchEvent(new Event('change'));", nxt)
        self.b.wait_js("return !document.getElementById('r-error').hidden", 10, "the refusal")
        msg = self.b.js("return document.getElementById('r-error').textContent;")
        self.assertIn(f"month: {nxt} has not begun", msg)
        self.assertFalse(self.b.js("return !!document.getElementById('r-totals');"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
