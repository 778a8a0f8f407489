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
import urllib.error
import urllib.request

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
    https = False  # the gateway's own HTTPS listener (throw-away certificate the browser accepts)

    def setUp(self):
        harness.require_browser()
        self.county = County(BINDIR, https=self.https).start()
        self.browser = None
        try:
            self.browser = Browser(self.width, self.height, artifacts=ARTIFACTS, accept_insecure_certs=self.https)
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
    def open(self, path="/", user="operator"):
        """Opens the application at `path`; when it asks for a login (it does for every fresh
        browser unless http.public_read), logs in as `user` and lands back on `path`."""
        self.browser.open(self.county.url + path)
        if user and not self.logged_in():
            self.login(user)
        self.browser.logs()

    def logged_in(self):
        return self.browser.js("return !document.getElementById('who').hidden")

    def login(self, user, password=None, expect_ok=True):
        """Fills the login page (waits for it) as `user` (password from the county's users)."""
        b = self.browser
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "the login page")
        b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 10, "the login form")
        for field, value in (("login-user", user), ("login-password", password or self.county.users[user][0])):
            el = b.driver.find_element("id", field)
            el.clear()
            el.send_keys(value)
        b.driver.find_element("id", "login-submit").click()
        if expect_ok:
            b.wait_js("return !document.getElementById('who').hidden && !location.hash.startsWith('#/login')", 10, f"{user} logged in")
            self.wait_rendered("the page after the login")

    def wait_rendered(self, what):
        self.browser.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, what)

    def goto(self, hash_):
        # Marked first, so only the new page's render counts (a page may rewrite the hash, such as
        # the report adding ?month=...).
        self.browser.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = arguments[0]", hash_)
        self.wait_rendered(hash_)

    def no_console_errors(self):
        errors = [e["message"] for e in self.browser.console_errors()]
        self.assertEqual([], errors, "browser console errors")


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
        County.wait_for(lambda: any(a["alert_id"] == aid and a["state"] == "acknowledged" for a in self.county.get("/api/alerts?state=all")["alerts"]),
                        10, "the acknowledgement in the API")
        a = next(a for a in self.county.get("/api/alerts?state=all")["alerts"] if a["alert_id"] == aid)
        self.assertEqual("operator", a["acked_by"], "acknowledged as the logged-in user")
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
        got = sub.wait(30)
        self.assertEqual(1, len(got), "one command on the cmd topic")
        cmd = json.loads(got[0])
        self.assertEqual("snapshot_now", cmd["name"])
        api = self.county.get(f"/api/terminals/{tid}/commands")["commands"]
        self.assertEqual("operator", next(c for c in api if c["id"] == cmd["id"])["by"], "sent as the logged-in user")
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
        """Every page after the login (as admin: the audit page too), with live polling for a few
        seconds: nothing in the console at error level, a CSP violation included."""
        self.open("/", user="admin")
        self.wait_rendered("overview")
        for page in ("#/terminals/WT-NRM-03", "#/terminals/WT-OFF-01", "#/alerts", "#/alerts?state=all", "#/report",
                     "#/audit", "#/"):
            self.goto(page)
            time.sleep(1.5)  # a poll or two
        self.no_console_errors()
        # The pages were clean under the gateway's policy (not for want of one): every answer
        # carries it, and the browser enforces it (an injected inline handler does not run).
        for path in ("/", "/web/js/app.js", "/api/ui-config", "/api/no-such-route"):
            try:
                r = urllib.request.urlopen(self.county.url + path, timeout=10, context=self.county.ssl_context)
            except urllib.error.HTTPError as e:
                r = e
            csp = r.headers.get("Content-Security-Policy", "")
            self.assertIn(r.status, (200, 401, 404), path)
            self.assertIn("script-src 'self';", csp, path)
            self.assertNotIn("unsafe-inline", csp, path)
            self.assertEqual("nosniff", r.headers.get("X-Content-Type-Options"), path)
            self.assertEqual("same-origin", r.headers.get("Referrer-Policy"), path)
        b = self.browser
        b.js("window.__violations = []; document.addEventListener('securitypolicyviolation', "
             "(e) => window.__violations.push(e.violatedDirective));"
             "document.body.insertAdjacentHTML('beforeend', '<img id=\"xss\" src=\"data:,x\" onerror=\"window.__xss = 1\">');")
        b.wait_js("return window.__violations.length > 0", 5, "the policy to refuse the inline handler")
        self.assertIsNone(b.js("return window.__xss === undefined ? null : window.__xss"))


class TestSession(WebTest):
    """Issue 11: login page, roles and town scope in the web application."""

    @artifacts_on_failure
    def test_login(self):
        """A fresh browser gets the login page (the menu hidden); a wrong password is named and
        counts nothing; the right one lands on the page first asked for, user and role shown."""
        b = self.browser
        b.open(self.county.url + "/#/alerts?state=all")
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "the login page")
        self.assertIn("next=%23%2Falerts%3Fstate%3Dall", b.js("return location.hash"))
        self.assertEqual("hidden", b.js("return getComputedStyle(document.querySelector('.nav')).visibility"))
        self.login("operator", password="not-the-password", expect_ok=False)
        b.wait_js("return document.getElementById('login-msg').textContent !== ''", 10, "the failure message")
        self.assertEqual("Wrong user name or password.", b.js("return document.getElementById('login-msg').textContent"))
        self.assertFalse(self.logged_in())
        self.assertEqual("", b.js("return document.getElementById('login-password').value"), "the password field is emptied")
        self.login("operator")
        self.assertEqual("#/alerts?state=all", b.js("return location.hash"))
        self.assertEqual("alerts", b.js("return document.querySelector('main').dataset.page"))
        self.assertEqual("operator", b.js("return document.getElementById('who-name').textContent"))
        self.assertEqual("operator", b.js("return document.getElementById('who-role').dataset.role"))
        self.assertTrue(b.js("return document.getElementById('login-link').hidden"))
        # The session is an HttpOnly cookie: the page cannot read it.
        self.assertNotIn("sewage_session", b.js("return document.cookie"))
        self.no_console_errors()

    @artifacts_on_failure
    def test_viewer_role(self):
        """A viewer sees the alerts and terminals but no acknowledge button and no command controls,
        no audit page; the gateway refuses the acknowledgement even when sent by hand."""
        self.open("/#/alerts", user="viewer")
        self.wait_rendered("alerts page")
        b = self.browser
        b.wait_js("return document.querySelectorAll('.alert-card[data-state=raised]').length > 0", 10, "open alerts")
        self.assertEqual(0, b.js("return document.querySelectorAll('.ack-open, .ack-form').length"), "no acknowledge control")
        self.assertEqual("viewer", b.js("return document.getElementById('who-role').dataset.role"))
        self.assertTrue(b.js("return document.querySelector('[data-nav=audit]').hidden"))
        self.goto("#/terminals/WT-ALR-02")
        self.assertEqual([], b.js("return ['snap', 'sample', 'interval-form', 'interval'].filter(id => document.getElementById(id))"),
                         "no command controls for a viewer")
        aid = next(a for a in self.county.get("/api/alerts")["alerts"] if a["type"] == "turbidity_high")["alert_id"]
        status = b.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/api/session').then(r => r.json()).then(s => fetch(`/api/alerts/${arguments[0]}/ack`, {method: 'POST',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token}, body: '{"note":"x"}'}))
              .then(r => done(r.status), e => done(String(e)));""", aid)
        self.assertEqual(403, status)
        self.goto("#/audit")
        self.assertEqual("notfound", b.js("return document.querySelector('main').dataset.page"))
        errors = [m for m in (e["message"] for e in b.console_errors()) if "status of 403" not in m]  # the hand-made POST
        self.assertEqual([], errors)

    @artifacts_on_failure
    def test_town_scope(self):
        """An operator of town A (the offline terminal's town) sees only town A's terminals on the
        map, the list and the alerts; a town-B terminal's page says it is not theirs."""
        self.open("/", user="op-a")
        b = self.browser
        town_a = self.county.terminals[0]["town"]
        b.wait_js("return document.querySelectorAll('.marker-shape').length > 0", 20, "markers")
        time.sleep(1.5)  # a poll: nothing else arrives
        self.assertEqual(["WT-OFF-01"], b.js("return [...document.querySelectorAll('.marker-shape')].map(e => e.dataset.terminalId)"))
        self.assertEqual(["WT-OFF-01"], b.js("return [...document.querySelectorAll('#terminal-rows tr[data-terminal-id]')].map(r => r.dataset.terminalId)"))
        self.assertIn(town_a, b.js("return document.getElementById('terminal-rows').textContent"))
        self.goto("#/terminals/WT-ALR-02")
        b.wait_js("return document.querySelector('main .error')", 10, "the refusal")
        self.assertEqual("403", b.js("return document.querySelector('main .error').dataset.status"))
        self.assertEqual("Terminal WT-ALR-02 is not in your towns.", b.js("return document.querySelector('main .error').textContent"))
        self.assertFalse(b.js("return !!document.getElementById('chart-flow')"), "nothing of the terminal is shown")
        self.goto("#/alerts?state=all")
        ids = b.js("return [...document.querySelectorAll('.alert-card')].map(c => c.querySelector('a').textContent)")
        self.assertTrue(all("WT-ALR-02" not in x and "WT-NRM-03" not in x for x in ids), ids)
        self.goto("#/terminals/WT-OFF-01")  # their own: shown, with the controls of an operator
        self.assertTrue(b.js("return !!document.getElementById('snap')"))
        errors = [m for m in (e["message"] for e in b.console_errors()) if not ("/api/terminals/WT-ALR-02" in m and "status of 403" in m)]
        self.assertEqual([], errors)

    @artifacts_on_failure
    def test_logout(self):
        """Logout returns to the login page and ends the session at the gateway."""
        self.open("/#/alerts")
        b = self.browser
        b.driver.find_element("id", "logout").click()
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "the login page")
        self.assertFalse(self.logged_in())
        status = b.driver.execute_async_script(
            "const done = arguments[arguments.length - 1]; fetch('/api/session').then(r => done(r.status), e => done(String(e)));")
        self.assertEqual(401, status)
        b.js("location.hash = '#/alerts'")
        b.wait_js("return location.hash.startsWith('#/login')", 10, "the login page again")
        # Only an address inside the application is a place to return to after a login.
        b.js("location.hash = '#/login?next=' + encodeURIComponent('https://evil.example/')")
        self.login("operator")
        self.assertEqual("#/", b.js("return location.hash"))
        self.assertTrue(b.js("return location.href.startsWith(arguments[0])", self.county.url))
        self.no_console_errors()

    @artifacts_on_failure
    def test_login_rate_limited(self):
        """After http.login_max_failures wrong passwords the page names the wait (429 Retry-After)."""
        b = self.browser
        b.open(self.county.url + "/")
        for i in range(6):
            self.login("viewer", password=f"wrong-{i}", expect_ok=False)
            b.wait_js("return document.getElementById('login-msg').textContent !== '' && !document.getElementById('login-submit').disabled",
                      10, "the answer")
        msg = b.js("return document.getElementById('login-msg').textContent")
        self.assertRegex(msg, r"^Too many failed attempts\. Try again in [1-9][0-9]* s\.$")
        self.assertFalse(self.logged_in())

    @artifacts_on_failure
    def test_session_expiry(self):
        """The session ending under the page (here: the password changed with the CLI, which ends
        the user's sessions) brings the login page with a message, then back to the same page."""
        self.open("/#/terminals/WT-NRM-03")
        self.wait_rendered("terminal page")
        b = self.browser
        self.county.cli(["users", "passwd", "operator"], "operator-pass-2\n")
        self.county.users["operator"] = ("operator-pass-2", "operator", [])
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-note')", 15, "the expiry notice")
        self.assertIn("session has ended", b.js("return document.getElementById('login-note').textContent"))
        self.login("operator")
        self.assertEqual("#/terminals/WT-NRM-03", b.js("return location.hash"))
        self.no_console_errors_but_401s()

    def no_console_errors_but_401s(self):
        # The polls that found the session ended answer 401 (that is how the page learns it).
        errors = [e["message"] for e in self.browser.console_errors() if "status of 401" not in e["message"]]
        self.assertEqual([], errors)

    @artifacts_on_failure
    def test_audit_page(self):
        """An administrator has the audit page: the logins are listed, newest first."""
        self.open("/", user="admin")
        b = self.browser
        self.assertFalse(b.js("return document.querySelector('[data-nav=audit]').hidden"))
        self.goto("#/audit")
        b.wait_js("return document.querySelectorAll('#audit-rows tr[data-action]').length > 0", 10, "audit rows")
        actions = b.js("return [...document.querySelectorAll('#audit-rows tr[data-action]')].map(r => r.dataset.action)")
        self.assertEqual("login.ok", actions[0])
        self.assertIn("admin", b.js("return document.querySelector('#audit-rows tr').textContent"))
        self.no_console_errors()


class TestHttps(WebTest):
    """The application over the gateway's own HTTPS listener (http.tls_cert_file/tls_key_file)."""
    https = True

    @artifacts_on_failure
    def test_https(self):
        """Login over HTTPS gives a Secure, HttpOnly, SameSite=Strict cookie; every page works with
        no console error; answers carry Strict-Transport-Security."""
        self.assertTrue(self.county.url.startswith("https://"))
        self.open("/#/alerts")
        self.wait_rendered("alerts page")
        b = self.browser
        cookies = {c["name"]: c for c in b.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}
        c = cookies["sewage_session"]
        self.assertTrue(c["secure"])
        self.assertTrue(c["httpOnly"])
        self.assertEqual("Strict", c["sameSite"])
        b.wait_js("return document.querySelector('.ack-open')", 10, "the acknowledge button of an operator")
        for page in ("#/terminals/WT-NRM-03", "#/report", "#/"):
            self.goto(page)
            time.sleep(1.2)
        req = urllib.request.Request(self.county.url + "/", method="HEAD")
        with urllib.request.urlopen(req, timeout=10, context=self.county.ssl_context) as r:
            self.assertEqual("max-age=31536000", r.headers.get("Strict-Transport-Security"))
            self.assertIn("script-src 'self'", r.headers.get("Content-Security-Policy", ""))
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
