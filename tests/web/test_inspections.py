#!/usr/bin/python3
"""Browser test of the inspections pages (#/inspections, #/qr, #/assessment; gateway/web/js/pages/
inspections.js, qr.js, assessment.js).

A real gateway and mosquitto (tests/web/harness.py). An operator logs in, sees the plan of every
site (size class, interval, next due), starts an inspection from a check-in
(#/inspections/start?site=..&checkin=..), answers the checklist and submits it; the completed
inspection shows every answer. The QR sheet has one card per site (name, id, town, code image)
and its print rules hide the navigation; the assessment page has a row per town with the score
and the five parts; the checklist works at 390 px without horizontal scroll; no console errors.

The check-in row is written by the test into the store's `checkins` table (as POST /api/checkins
would after verifying the QR token and the phone's position; that route is the work-orders part's).

Run: /usr/bin/python3 tests/web/test_inspections.py --bindir build/dev
"""
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BINDIR = harness.bindir_from_argv()


class InspectionsPageTest(harness.PageTest):
    NAME = "web_inspections"
    BINDIR = BINDIR

    # ---- helpers
    def wait_rendered(self, what):
        self.browser.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, what)

    def goto(self, hash_):
        self.browser.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = arguments[0]", hash_)
        self.wait_rendered(hash_)

    def login_operator(self):
        b = self.browser
        b.driver.get("about:blank")
        b.open(self.county.url + "/#/inspections")
        b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "the login page")
        self.wait_rendered("the login form")
        for field, value in (("login-user", "operator"), ("login-password", self.county.users["operator"][0])):
            el = b.driver.find_element("id", field)
            el.clear()
            el.send_keys(value)
        b.driver.find_element("id", "login-submit").click()
        b.wait_js("return !document.getElementById('who').hidden && location.hash.startsWith('#/inspections')", 10, "logged in")
        self.wait_rendered("the inspections page")

    def checkin(self, site, actor):
        """A check-in row as POST /api/checkins writes it (contract of issue 12)."""
        db = sqlite3.connect(os.path.join(self.county.workdir, "gateway.db"), timeout=10)
        try:
            cur = db.execute("INSERT INTO checkins(site_id, actor, ts_ms, lat, lon, accuracy_m, distance_m) "
                             "VALUES(?, ?, ?, 30.5, 120.9, 8, 10)", (site, actor, int(time.time() * 1000)))
            db.commit()
            return cur.lastrowid
        finally:
            db.close()

    # ---- the test
    def test_plan_checklist_qr_sheet_and_assessment(self):
        b = self.browser
        self.login_operator()
        ids = b.js("return [...document.querySelectorAll('#i-plan tbody tr')].map(r => r.dataset.site);")
        self.assertEqual(ids, [t["id"] for t in harness.DEFAULT_TERMINALS])
        plan = self.county.get("/api/inspections/plan")
        self.assertEqual(len(plan["plan"]), 3)
        first = b.js("return [...document.querySelectorAll('#i-plan tbody tr')[0].children].map(c => c.textContent.trim());")
        self.assertIn(plan["plan"][0]["site_id"], first[0])
        self.assertEqual(first[3], str(plan["plan"][0]["interval_days"]))

        # Start from a check-in, answer the checklist (one item n/a, one note), submit.
        cid = self.checkin("WT-NRM-03", "operator")
        self.goto(f"#/inspections/start?site=WT-NRM-03&checkin={cid}")
        b.wait_js("return /^#\\/inspections\\/\\d+$/.test(location.hash) && document.getElementById('i-form')", 10, "the checklist")
        n_items = b.js("return document.querySelectorAll('#i-form fieldset').length")
        self.assertEqual(n_items, len(self.county.get("/api/inspections/checklists")["checklists"]["terminal"]))
        # At phone width the checklist needs no horizontal scroll.
        b.set_size(390, 844)
        self.assertLessEqual(b.js("return document.documentElement.scrollWidth"), 390)
        b.set_size(1366, 900)
        b.js("document.querySelector('#i-form fieldset[data-key=sludge_level] input[value=na]').click();"
             "document.querySelector('#i-form fieldset[data-key=fence_signage] input[type=text]').value = 'sign faded, still legible';")
        b.js("document.querySelector('main').dataset.rendered = 'stale'; document.getElementById('i-submit').click();")
        self.wait_rendered("the completed inspection")
        b.wait_js("return document.getElementById('i-items')", 10, "the answers")
        rows = b.js("return [...document.querySelectorAll('#i-items tr')].map(r => [...r.children].map(c => c.textContent.trim()));")
        self.assertEqual(len(rows), n_items)
        self.assertIn(["Sludge level below the mark", "n/a", "", ""], rows)
        self.assertIn(["Fence and signage intact", "OK", "sign faded, still legible", ""], rows)
        insp_id = int(b.js("return location.hash.split('/')[2]"))
        api = self.county.get(f"/api/inspections/{insp_id}")["inspection"]
        self.assertEqual(api["state"], "completed")
        self.assertEqual(api["completed_by"], "operator")

        # The plan shows it as the site's last inspection.
        self.goto("#/inspections")
        last = b.js("return document.querySelector('#i-plan tr[data-site=\"WT-NRM-03\"]').children[4].textContent.trim()")
        self.assertNotEqual(last, "never")

        # The QR sheet: one card per site with name, id and town; print hides everything else.
        self.goto("#/qr")
        cards = b.js("return [...document.querySelectorAll('.qr-card')].map(c => [c.dataset.site, c.querySelector('figcaption').textContent, c.querySelector('img').getAttribute('src')]);")
        self.assertEqual([c[0] for c in cards], [t["id"] for t in harness.DEFAULT_TERMINALS])
        for (sid, caption, src), t in zip(cards, harness.DEFAULT_TERMINALS):
            self.assertIn(t["name"], caption)
            self.assertIn(t["town"], caption)
            self.assertEqual(src, f"/api/sites/{sid}/qr.svg")
        b.wait_js("return [...document.querySelectorAll('.qr-card img')].every(i => i.complete && i.naturalWidth > 0)", 10,
                  "the QR images to load")
        b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            self.assertEqual(b.js("return getComputedStyle(document.querySelector('.topbar')).display"), "none")
            self.assertEqual(b.js("return getComputedStyle(document.querySelector('.report-toolbar')).display"), "none")
        finally:
            b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        self.goto("#/qr?site=WT-ALR-02")
        self.assertEqual(b.js("return document.querySelectorAll('.qr-card').length"), 1)

        # The assessment by town: a row per town with a score and five parts; the API's figures.
        self.goto("#/assessment?by=town")
        api = self.county.get("/api/assessment?by=town")
        keys = b.js("return [...document.querySelectorAll('#a-table tbody tr')].map(r => r.dataset.key);")
        self.assertEqual(keys, [g["key"] for g in api["groups"]])
        self.assertEqual(sorted(keys), sorted(t["town"] for t in harness.DEFAULT_TERMINALS))
        cells = b.js("return document.querySelectorAll('#a-table tbody tr')[0].children.length")
        self.assertEqual(cells, 7)
        self.assertIn("format=csv", b.js("return document.getElementById('a-csv').getAttribute('href')"))
        self.assertEqual([e["message"] for e in b.console_errors()], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
