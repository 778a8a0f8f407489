#!/usr/bin/python3
"""Browser test of the lab page (#/lab, gateway/web/js/pages/lab.js) and the site archive
(#/sites/{id}/archive, gateway/web/js/pages/archive.js).

A real gateway and mosquitto (tests/web/harness.py, registry grade_1 for every site) and headless
Chromium: an operator enters a sample by the form and sees each result with its limit and verdict
(COD above the provisional grade-1 limit: "exceeds", marked provisional); a CSV with bad rows is
refused whole and every bad line and column is listed; a good CSV imports; an old sample makes a
site overdue in the overdue list; the lab compliance figure and the turbidity early warning are two
separately labelled boxes. On the archive page the operator saves process, households and
villages, adds equipment and a clean-out, removes the equipment; the page shows the lab results;
Print calls window.print() and the print stylesheet hides navigation, forms and buttons; no
horizontal scroll at 390 px. A town officer of another town gets the refusal (403) on the page.

Run: /usr/bin/python3 tests/web/test_archive.py --bindir build/dev
On failure: <test>.png and <test>.console.log in the artifacts folder (harness.artifacts_dir).
"""
import datetime as dt
import os
import sys
import time
import unittest
import urllib.error
import urllib.request
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BINDIR = harness.bindir_from_argv()
SITE = "WT-NRM-03"  # town Wuyuan; op-a is limited to Shendang


def county_today():
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).strftime("%Y-%m-%d")  # Asia/Shanghai, no DST


class ArchiveLabPagesTest(harness.PageTest):
    NAME = "web_archive"
    BINDIR = BINDIR

    def setUp(self):
        self.b.logs()
        self.b.console = []

    # ---- helpers
    def login_at(self, hash_, user):
        """A fresh start of the application with no session, a login as `user`, then `hash_`."""
        b = self.b
        b.driver.get("about:blank")
        b.open(self.county.url + "/")
        b.driver.delete_all_cookies()  # the previous test's session
        b.driver.get("about:blank")
        b.open(self.county.url + "/")
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "the login page")
        b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 10, "the login form")
        for field, value in (("login-user", user), ("login-password", self.county.users[user][0])):
            el = b.driver.find_element("id", field)
            el.clear()
            el.send_keys(value)
        b.driver.find_element("id", "login-submit").click()
        b.wait_js("return !document.getElementById('who').hidden && !location.hash.startsWith('#/login')", 10, f"{user} logged in")
        self.goto(hash_)

    def goto(self, hash_):
        self.b.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = arguments[0]", hash_)
        self.b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, hash_)

    def fill(self, id_, value):
        el = self.b.driver.find_element("id", id_)
        el.clear()
        el.send_keys(value)

    def set_value(self, id_, value):
        """For date inputs and textareas: set the value directly (send_keys on a date input depends on the locale)."""
        self.b.js("document.getElementById(arguments[0]).value = arguments[1]", id_, value)

    def errors_except(self, allowed):
        """Console errors, but the expected refusals (a 4xx fetch of one of `allowed` paths)."""
        return [e for e in self.b.console_errors() if not any(a in e.get("message", "") for a in allowed)]

    def post_csv(self, text):
        req = urllib.request.Request(self.county.url + "/api/lab-results/import", data=text.encode(), method="POST",
                                     headers={"Content-Type": "text/csv", "Authorization": f"Bearer {self.county.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    # ---- tests
    def test_lab_page_form_csv_import_overdue_and_separate_figures(self):
        self.login_at("#/lab", "operator")
        b = self.b
        # The two figures are apart and labelled differently.
        b.wait_js("return document.getElementById('lab-compliance-box') && document.getElementById('proxy-box')", 10, "the figures")
        titles = b.js("return ['lab-compliance-box', 'proxy-box'].map(i => document.querySelector('#' + i + ' h3').textContent)")
        self.assertIn("Lab compliance", titles[0])
        self.assertIn("Turbidity early warning", titles[1])
        # A sample by the form: COD 70 mg/L is above grade 1's (provisional) 60; pH 7.1 within 6-9.
        b.js(f"document.getElementById('l-site').value = '{SITE}'")
        self.set_value("l-date", county_today())
        self.fill("l-lab", "county lab")
        self.fill("l-v-cod", "70")
        self.fill("l-v-ph", "7.1")
        b.driver.find_element("css selector", "#l-form button[type=submit]").click()
        b.wait_js("return document.querySelector('#l-rows tr[data-parameter=cod]') && document.querySelector('#l-rows tr[data-parameter=ph]')",
                  10, "the stored results")
        self.assertEqual(b.js("return document.querySelector('#l-rows tr[data-parameter=cod]').dataset.verdict"), "exceeds")
        self.assertEqual(b.js("return document.querySelector('#l-rows tr[data-parameter=ph]').dataset.verdict"), "compliant")
        rows_before = b.js("return document.querySelectorAll('#l-rows tr[data-verdict]').length")
        cod = b.js("return document.querySelector('#l-rows tr[data-parameter=cod]').textContent")
        self.assertIn("COD", cod)
        self.assertIn("60", cod)  # the limit shown
        self.assertIn("provisional limit", cod)
        b.wait_js("return document.querySelector('#lab-compliance-box .big').textContent.includes('%')", 10, "the compliance figure")
        # A CSV with bad rows: refused whole, every line and column named.
        bad = ("site_id,sampled_at,parameter,value,unit\n"
               f"{SITE},2026-11-20,tp,0.5,mg/L\n"
               "NOPE,2026-11-20,cod,10,mg/L\n"
               f"{SITE},2026-11-20,ph,7,mg/L\n")
        self.set_value("l-csv", bad)
        b.driver.find_element("css selector", "#l-import button[type=submit]").click()
        b.wait_js("return document.getElementById('l-import-msg').textContent.includes('nothing imported')", 10, "the refusal")
        msg = b.js("return document.getElementById('l-import-msg').textContent")
        self.assertIn("line 3, column site_id", msg)
        self.assertIn("line 4, column unit", msg)
        self.assertEqual(b.js("return document.querySelectorAll('#l-rows tr[data-verdict]').length"), rows_before)  # nothing half-imported
        # A good CSV with an old sample of the offline site: imported, and that site is now overdue.
        self.set_value("l-csv", "site_id,sampled_at,parameter,value,unit\nWT-OFF-01,2025-01-10,cod,30,mg/L\n")
        b.driver.find_element("css selector", "#l-import button[type=submit]").click()
        b.wait_js("return document.getElementById('l-import-msg').textContent.includes('1 results imported')", 10, "the import")
        self.goto("#/")
        self.goto("#/lab")
        b.wait_js("return document.querySelector('#l-overdue-table tr[data-site=\"WT-OFF-01\"]')", 10, "the overdue site")
        self.assertIsNone(b.js(f"return document.querySelector('#l-overdue-table tr[data-site=\"{SITE}\"]')"))
        self.assertEqual(self.errors_except(["/api/lab-results/import"]), [])

    def test_archive_page_round_trip_print_and_phone(self):
        self.county.post("/api/lab-results", {"site_id": SITE, "sampled_at": county_today(),
                                              "results": [{"parameter": "ss", "value": 12, "unit": "mg/L"}]})
        self.login_at(f"#/sites/{SITE}/archive", "operator")
        b = self.b
        b.wait_js("return document.getElementById('a-edit')", 10, "the archive form")
        self.fill("f-process", "A/O + constructed wetland")
        self.fill("f-households", "312")
        self.fill("f-villages", "Xicun, Dongcun")
        b.driver.find_element("css selector", "#a-edit button[type=submit]").click()
        b.wait_js("return document.getElementById('a-process').textContent === 'A/O + constructed wetland'", 10, "the saved process")
        self.assertEqual(b.js("return document.getElementById('a-households').textContent"), "312")
        self.assertEqual(b.js("return document.getElementById('a-villages').textContent"), "Xicun, Dongcun")
        self.fill("e-kind", "blower")
        self.fill("e-model", "HG-250")
        self.fill("e-serial", "SN-77")
        self.set_value("e-date", "2024-05-01")
        b.driver.find_element("css selector", "#e-add button[type=submit]").click()
        b.wait_js("return document.querySelectorAll('tr[data-equipment]').length === 1", 10, "the equipment row")
        self.assertIn("SN-77", b.js("return document.querySelector('tr[data-equipment]').textContent"))
        self.set_value("c-date", "2026-10-12")
        self.fill("c-volume", "4.5")
        self.fill("c-dest", "Haiyan WWTP")
        self.fill("c-by", "crew 2")
        b.driver.find_element("css selector", "#c-add button[type=submit]").click()
        b.wait_js("return document.querySelectorAll('tr[data-cleanout]').length === 1", 10, "the clean-out row")
        self.assertIn("Haiyan WWTP", b.js("return document.querySelector('tr[data-cleanout]').textContent"))
        # The lab section shows the result with its verdict (SS 12 > grade 1's 20? no: within).
        self.assertEqual(b.js("return [...document.querySelectorAll('#a-lab tr[data-verdict]')].map(r => r.dataset.verdict)"), ["compliant"])
        # The API has the same archive.
        a = self.county.get(f"/api/sites/{SITE}/archive")
        self.assertEqual(a["archive"]["households"], 312)
        self.assertEqual(a["equipment"][0]["serial"], "SN-77")
        self.assertEqual(a["cleanouts"][0]["volume_m3"], 4.5)
        # Remove the equipment.
        b.driver.find_element("css selector", "tr[data-equipment] .eq-del").click()
        b.wait_js("return document.querySelectorAll('tr[data-equipment]').length === 0", 10, "the equipment removed")
        # Print: the button calls window.print(); the print stylesheet hides navigation, forms, buttons.
        b.js("window.__printed = 0; window.print = () => { window.__printed++; };")
        b.js("document.getElementById('a-print').click();")
        self.assertEqual(b.js("return window.__printed;"), 1)
        b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            hidden = b.js("return ['.topbar', '#a-edit', '#c-add', '#a-print'].map(s => getComputedStyle(document.querySelector(s)).display);")
            self.assertEqual(hidden, ["none"] * 4)
            self.assertNotEqual(b.js("return getComputedStyle(document.querySelector('tr[data-cleanout]')).display"), "none")
        finally:
            b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        b.set_size(390, 844)
        try:
            time.sleep(0.3)
            self.assertLessEqual(b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;"), 0)
        finally:
            b.set_size(1366, 900)
        self.assertEqual(self.errors_except([]), [])

    def test_town_officer_of_another_town_is_refused(self):
        self.login_at(f"#/sites/{SITE}/archive", "op-a")
        b = self.b
        b.wait_js("return document.querySelector('main p.error')", 10, "the refusal")
        self.assertIn("outside your towns", b.js("return document.querySelector('main p.error').textContent"))
        with self.assertRaises(urllib.error.HTTPError) as e:
            req = urllib.request.Request(self.county.url + f"/api/sites/{SITE}/archive",
                                         headers={"Authorization": f"Bearer {self.county.cli(['tokens', 'add', 'town-a', '--role', 'operator', '--town', 'Shendang']).strip().splitlines()[-1]}"})
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 403)
        self.assertEqual(self.errors_except([f"/api/sites/{SITE}/archive"]), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
