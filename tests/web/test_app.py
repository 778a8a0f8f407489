#!/usr/bin/python3
"""The web application in a real browser (headless Chromium + selenium) against a real gateway and
mosquitto with records published by the test (tests/web/harness.py). One ctest per test method
(web_*); each starts its own broker, gateway and browser.

  test_app.py --bindir BUILD_DIR [TestApp.test_name ...]

On failure: <artifacts>/<test>.png and <test>.console.log (WEB_TEST_ARTIFACTS, default
BUILD_DIR/tests/web/artifacts).
"""
import datetime as dt
import functools
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Browser, County  # noqa: E402

BINDIR = harness.bindir_from_argv()
ARTIFACTS = harness.artifacts_dir(BINDIR)


def artifacts_on_failure(test):
    """Saves a screenshot and the console log when the test fails, then re-raises."""

    @functools.wraps(test)
    def wrapper(self):
        try:
            test(self)
        except BaseException:
            if getattr(self, "browser", None):
                png, log = self.browser.save_failure(self.id().split(".")[-1])
                print(f"\nFAILED: screenshot {png}\n        console log {log}\n        gateway log {self.county.workdir}/gateway.log",
                      file=sys.stderr)
                self.county.keep = True
            raise

    return wrapper


class WebTest(unittest.TestCase):
    width, height = 1366, 900

    def setUp(self):
        harness.require_browser()
        self.county = County(BINDIR).start()
        self.browser = None
        try:
            self.browser = Browser(self.width, self.height, artifacts=ARTIFACTS)
            self.pictures = {}
            for t in self.county.terminals:  # the offline one too: its retained picture from before
                self.pictures[t["id"]] = self.browser.make_jpeg(f"{t['id']} camera")
            self.browser.console.clear()
            self.sent = self.county.populate(30)
            for tid, jpeg in self.pictures.items():
                self.county.publish_image(tid, jpeg)
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        if self.browser:
            self.browser.quit()
        self.county.stop()

    # helpers
    def open(self, path="/"):
        self.browser.open(self.county.url + path)
        self.browser.logs()

    def wait_rendered(self, what):
        self.browser.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, what)

    def goto(self, hash_):
        self.browser.js("location.hash = arguments[0]", hash_)
        self.browser.wait_js("return document.querySelector('main').dataset.rendered !== '1' || location.hash === arguments[0]", 5, "navigation", hash_)
        self.wait_rendered(hash_)

    def sign_in(self, name="Wang Gong"):
        """Fills the operator dialog (asked once per tab) when it shows."""
        b = self.browser
        b.wait_js("return document.querySelector('dialog.auth-dialog[open]')", 10, "the operator dialog")
        b.driver.find_element("id", "auth-by").send_keys(name)
        b.driver.find_element("id", "auth-token").send_keys(self.county.operator_token)
        b.driver.find_element("id", "auth-ok").click()

    def no_console_errors(self):
        errors = self.browser.console_errors()
        self.assertEqual([], [e["message"] for e in errors], "browser console errors")


class TestApp(WebTest):
    @artifacts_on_failure
    def test_markers(self):
        """One marker per terminal, with the state class the API gives, shape + text (legend, list)."""
        self.open("/")
        b = self.browser
        b.wait_js("return document.querySelectorAll('.marker-shape').length === 3", 20, "three markers")
        markers = b.js("return [...document.querySelectorAll('.marker-shape')].map(e => [e.dataset.terminalId, e.dataset.stateClass, e.querySelector('svg').innerHTML])")
        got = {m[0]: m[1] for m in markers}
        self.assertEqual({"WT-OFF-01": "offline", "WT-ALR-02": "alert_critical", "WT-NRM-03": "normal"}, got)
        api = {x["id"]: x for x in self.county.get("/api/terminals")["terminals"]}
        for tid, sc in got.items():
            if "state_class" in api[tid]:
                self.assertEqual(api[tid]["state_class"], sc, tid)
        # Different shapes, not only colours.
        self.assertEqual(3, len({m[2] for m in markers}), "each state has its own shape")
        # The list: offline first, then the alerting terminal, each with its state in words.
        rows = b.js("return [...document.querySelectorAll('#terminal-rows tr')].map(r => [r.dataset.terminalId, r.dataset.stateClass, r.querySelector('.state-badge').textContent.trim()])")
        self.assertEqual(["WT-OFF-01", "WT-ALR-02", "WT-NRM-03"], [r[0] for r in rows])
        self.assertEqual(["Offline", "Critical alert", "Normal"], [r[2] for r in rows])
        # Search by a Chinese name.
        box = b.driver.find_element("id", "f-q")
        box.send_keys("农丰")
        b.wait_js("return document.querySelectorAll('#terminal-rows tr[data-terminal-id]').length === 1", 5, "search result")
        self.assertEqual("WT-ALR-02", b.js("return document.querySelector('#terminal-rows tr').dataset.terminalId"))
        # KPI cards: open alerts by type, presence.
        kpi = b.js("return document.getElementById('kpi-alerts').textContent")
        self.assertIn("Turbidity high", kpi)
        self.assertIn("Offline", kpi)
        self.no_console_errors()

    @artifacts_on_failure
    def test_terminal_charts(self):
        """The terminal page's charts hold exactly the published points; thresholds drawn; picture shown."""
        tid = "WT-NRM-03"
        self.open(f"/#/terminals/{tid}")
        self.wait_rendered("terminal page")
        b = self.browser
        sent = self.sent[tid]
        want_x = [int(dt.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp() * 1000) for r in sent]
        for canvas, key in (("chart-flow", lambda r: r["flow"]["rate_m3h"]), ("chart-turbidity", lambda r: r["turbidity"]["ntu"]),
                            ("chart-sludge", lambda r: r["sludge"]["level_m"])):
            pts = b.js("const c = Chart.getChart(document.getElementById(arguments[0])); return c.data.datasets[0].data.map(p => [p.x, p.y])", canvas)
            self.assertEqual(len(sent), len(pts), canvas)
            self.assertEqual(want_x, [p[0] for p in pts], canvas)
            for p, r in zip(pts, sent):
                self.assertAlmostEqual(key(r), p[1], places=3, msg=canvas)
        # The turbidity limit is drawn as a line at the terminal's threshold.
        th = self.county.get(f"/api/terminals/{tid}")["thresholds"]["turbidity_limit_ntu"]
        lines = b.js("return Chart.getChart(document.getElementById('chart-turbidity')).data.datasets.slice(1).map(d => d.data.map(p => p.y))")
        self.assertIn([th, th], lines)
        # Daily volume bars: today's bar carries the volume the API reports.
        vol = b.js("const c = Chart.getChart(document.getElementById('chart-volume')); return c.data.datasets[0].data.length")
        self.assertGreaterEqual(vol, 1)
        # The picture with its time.
        b.wait_js("const i = document.getElementById('picture'); return !i.hidden && i.complete && i.naturalWidth === 640", 15, "the picture")
        self.assertIn("Taken and received", b.js("return document.getElementById('picture-time').textContent"))
        # Latest values with their age, not stale.
        self.assertFalse(b.js("return document.getElementById('latest').classList.contains('stale')"))
        self.no_console_errors()

    @artifacts_on_failure
    def test_acknowledge(self):
        """An acknowledgement with a note made in the UI appears in the API."""
        self.open("/#/alerts")
        self.wait_rendered("alerts page")
        b = self.browser
        alert = next(a for a in self.county.get("/api/alerts")["alerts"] if a["type"] == "turbidity_high")
        aid = alert["alert_id"]
        b.wait_js("return document.querySelector(`[data-alert-id='${arguments[0]}'] .ack-open`)", 10, "the acknowledge button", aid)
        b.js("document.querySelector(`[data-alert-id='${arguments[0]}'] .ack-open`).click()", aid)
        note = "crew sent to clean the filter 清洗过滤器"
        b.wait_js("return document.querySelector('.ack-form textarea')", 5, "the note field")
        b.driver.find_element("css selector", ".ack-form textarea").send_keys(note)
        b.driver.find_element("css selector", ".ack-form button[type=submit]").click()
        self.sign_in("王工")
        County.wait_for(lambda: any(a["alert_id"] == aid and a["state"] == "acknowledged" for a in self.county.get("/api/alerts?state=all")["alerts"]),
                        10, "the acknowledgement in the API")
        a = next(a for a in self.county.get("/api/alerts?state=all")["alerts"] if a["alert_id"] == aid)
        self.assertEqual("王工", a["acked_by"])
        self.assertEqual(note, a["ack_note"])
        # The page shows it acknowledged (different from open).
        b.wait_js("return document.querySelector(`[data-alert-id='${arguments[0]}']`).dataset.state === 'acknowledged'", 10, "acknowledged in the page", aid)
        self.no_console_errors()

    @artifacts_on_failure
    def test_command(self):
        """'Take a picture now' from the terminal page reaches a subscriber on the cmd topic; its state is shown."""
        tid = "WT-NRM-03"
        sub = self.county.subscribe(f"sewage/v1/{tid}/cmd", count=1, timeout_s=30)
        self.open(f"/#/terminals/{tid}")
        self.wait_rendered("terminal page")
        self.browser.driver.find_element("id", "snap").click()
        self.sign_in("Li")
        got = sub.wait(30)
        self.assertEqual(1, len(got), "one command on the cmd topic")
        cmd = json.loads(got[0])
        self.assertEqual("snapshot_now", cmd["name"])
        self.browser.wait_js("return document.querySelector(`#commands [data-command-id='${arguments[0]}']`)", 10, "the command in the page", cmd["id"])
        self.no_console_errors()

    @artifacts_on_failure
    def test_connection_lost(self):
        """Stopping the gateway shows the lost connection within 15 s, and the figures marked stale."""
        self.open("/")
        b = self.browser
        b.wait_js("return document.querySelectorAll('.marker-shape').length === 3", 20, "markers")
        self.assertFalse(b.js("return document.body.classList.contains('disconnected')"))
        self.county.stop_gateway()
        t0 = time.time()
        b.wait_js("return document.body.classList.contains('disconnected') && !document.getElementById('conn-banner').hidden", 15,
                  "the lost-connection banner")
        took = time.time() - t0
        print(f"lost connection shown after {took:.1f} s", file=sys.stderr)
        self.assertLess(took, 15)
        banner = b.js("return document.getElementById('conn-banner').textContent")
        self.assertIn("Connection to the gateway lost", banner)
        # Figures greyed and labelled stale.
        self.assertLess(float(b.js("return getComputedStyle(document.querySelector('.kpi-value')).opacity")), 0.6)
        self.assertTrue(b.js("return getComputedStyle(document.querySelector('.stale-badge')).display !== 'none'"))
        # Back again: the banner goes.
        self.county.start_gateway()
        b.wait_js("return !document.body.classList.contains('disconnected') && document.getElementById('conn-banner').hidden", 15,
                  "the banner to go when the gateway is back")

    @artifacts_on_failure
    def test_phone_width(self):
        """At 390 px: no horizontal scroll on the overview, a terminal page and the alerts; touch-sized targets."""
        b = self.browser
        b.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        self.open("/")
        self.wait_rendered("overview")
        for page in ("#/", "#/terminals/WT-ALR-02", "#/alerts"):
            if page != "#/":
                self.goto(page)
            time.sleep(0.5)
            w = b.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]")
            self.assertEqual(390, w[2], "viewport width")
            self.assertLessEqual(w[0], w[1], f"horizontal scroll on {page}: {w}")
            small = b.js("""return [...document.querySelectorAll('main button, main select, main input, .nav a')]
                .filter(e => e.offsetParent !== null).map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
                .filter(([, h]) => h < 36)""")
            self.assertEqual([], small, f"touch targets under 36 px on {page}")
        self.no_console_errors()

    @artifacts_on_failure
    def test_languages(self):
        """zh-CN from the switch, remembered; every visible string from the language file."""
        self.open("/")
        self.wait_rendered("overview")
        b = self.browser
        from selenium.webdriver.support.ui import Select
        Select(b.driver.find_element("id", "lang-select")).select_by_value("zh-CN")
        b.wait_js("return document.documentElement.lang === 'zh-CN' && document.querySelector('main').dataset.rendered === '1'", 10, "Chinese")
        b.wait_js("return document.querySelector('.nav a').textContent === '总览'", 10, "the Chinese menu")
        self.assertIn("离线", b.js("return document.getElementById('terminal-rows').textContent"))
        b.driver.refresh()
        b.wait_js("return document.body.dataset.ready === '1'", 20, "reload")
        self.assertEqual("zh-CN", b.js("return document.documentElement.lang"))
        self.no_console_errors()

    @artifacts_on_failure
    def test_no_console_errors(self):
        """Every page, with live polling for a few seconds: nothing in the console at error level."""
        self.open("/")
        self.wait_rendered("overview")
        for page in ("#/terminals/WT-NRM-03", "#/terminals/WT-OFF-01", "#/alerts", "#/alerts?state=all", "#/"):
            self.goto(page)
            time.sleep(1.5)  # a poll or two
        self.no_console_errors()


class TestDense(WebTest):
    """A county of 260 terminals: the map clusters (markercluster) and the list shows the first 200."""

    def setUp(self):
        harness.require_browser()
        extra = [{"id": f"D{i:04d}", "name": f"密集 {i}", "town": "Dense", "village": "Dense", "lat": 30.45 + (i % 20) * 0.004,
                  "lon": 120.85 + (i // 20) * 0.004, "interval": 60, "role": "unknown"} for i in range(257)]
        self.county = County(BINDIR, terminals=harness.DEFAULT_TERMINALS + extra).start()
        self.browser = None
        try:
            self.browser = Browser(self.width, self.height, artifacts=ARTIFACTS)
            self.sent = self.county.populate(5)
        except BaseException:
            self.tearDown()
            raise

    @artifacts_on_failure
    def test_dense_county(self):
        self.open("/")
        b = self.browser
        b.wait_js("return document.querySelector('main').dataset.loaded === '260'", 30, "260 terminals")
        b.wait_js("return document.querySelectorAll('.marker-cluster').length > 0", 15, "clusters on the map")
        self.assertEqual(200, b.js("return document.querySelectorAll('#terminal-rows tr').length"))
        self.assertEqual("WT-OFF-01", b.js("return document.querySelector('#terminal-rows tr').dataset.terminalId"))
        b.driver.find_element("id", "show-all").click()
        b.wait_js("return document.querySelectorAll('#terminal-rows tr').length === 260", 10, "all rows")
        self.no_console_errors()


if __name__ == "__main__":
    unittest.main(verbosity=2)
