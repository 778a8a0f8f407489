#!/usr/bin/python3
"""The clean-out forecast on the terminal page (issue 14 item 3) in a real browser: a terminal
whose sludge rose 20 mm/day for the last 11 days (imported history, sewage-gateway
import-history) shows the date its trend reaches the clean-out level, highlighted inside the
14-day notice period, and the cleanout_due_soon notice in its open alerts; a terminal with no
history says how many days it still needs.

  test_cleanout.py --bindir BUILD_DIR
"""
import datetime as dt
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import County, PageTest  # noqa: E402

DUE_TID = "WT-DUE-04"
# The harness's three terminals (offline, alerting, normal) and one whose tank is nearly full
# (its own role: the harness's state checks leave it alone, its notice is an open alert).
TERMINALS = harness.DEFAULT_TERMINALS + [
    {"id": DUE_TID, "name": "Baibu Village No. 4", "town": "Baibu", "village": "Baibu",
     "lat": 30.5411, "lon": 120.9021, "interval": 60, "role": "due_for_cleanout"}]
SHANGHAI = dt.timedelta(hours=8)  # Asia/Shanghai has had no daylight saving since 1991


def local_midnight_utc(now):
    """UTC instant of today's local midnight in Asia/Shanghai."""
    local = now + SHANGHAI
    return dt.datetime(local.year, local.month, local.day, tzinfo=dt.timezone.utc) - SHANGHAI


class TestCleanoutForecast(PageTest):
    NAME = "web_cleanout"
    BINDIR = harness.bindir_from_argv()

    @classmethod
    def make_county(cls):
        county = County(cls.BINDIR, terminals=TERMINALS).start()
        try:
            county.stop_gateway()
            # 11 local days before today, hourly, at 1.00 m + 20 mm a day: today's trend is at
            # 1.22 m, 14 days from the 1.5 m clean-out level.
            cls.midnight = local_midnight_utc(harness.now_utc())
            start = cls.midnight - dt.timedelta(days=11)
            path = os.path.join(county.workdir, "history.jsonl")
            with open(path, "w") as f:
                for k in range(1, 11 * 24 + 1):
                    rec = County.record(DUE_TID, k, start + dt.timedelta(hours=k), interval_s=3600, rate=1.0,
                                        total=1000.0 + k, sludge=round(1.0 + 0.02 * ((k - 1) // 24), 3),
                                        epoch="history")
                    f.write(json.dumps(rec) + "\n")
            out = county.cli(["import-history", path])
            assert "264 accepted" in out, out
            county.start_gateway()
            county.populate(5)
        except BaseException:
            county.stop()
            raise
        return county

    def open_terminal(self, tid):
        """Logs in when asked, then goes to the terminal's page (from the overview, so the hash
        changes and the page renders anew)."""
        self.b.open(f"{self.county.url}/#/")
        if not self.b.js("return !document.getElementById('who').hidden"):
            self.b.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "login")
            for field, value in (("login-user", "operator"), ("login-password", self.county.users["operator"][0])):
                el = self.b.driver.find_element("id", field)
                el.clear()
                el.send_keys(value)
            self.b.driver.find_element("id", "login-submit").click()
            self.b.wait_js("return !document.getElementById('who').hidden", 10, "logged in")
        self.b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, "the overview")
        self.b.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = arguments[0]", f"#/terminals/{tid}")
        self.b.wait_js("return document.querySelector('main').dataset.rendered === '1' && document.getElementById('cleanout-forecast')",
                       20, f"{tid}'s page with its forecast")

    def test_due_soon_is_dated_highlighted_and_noticed(self):
        api = self.county.get(f"/api/terminals/{DUE_TID}")
        f = api["cleanout_forecast"]
        due = ((self.midnight + SHANGHAI).date() + dt.timedelta(days=14)).isoformat()
        self.assertEqual("forecast", f["status"], f)
        self.assertEqual(11, f["days_used"])
        self.assertEqual(1.22, f["level_m"])
        self.assertEqual(0.02, f["rise_m_per_day"])
        self.assertEqual(due, f["due_date"])
        self.assertIn("cleanout_due_soon", [a["type"] for a in api["open_alerts"]])
        self.open_terminal(DUE_TID)
        p = self.b.js("const p = document.getElementById('cleanout-forecast'); return [p.dataset.status, p.className, p.textContent]")
        self.assertEqual("forecast", p[0])
        self.assertEqual("warn", p[1], "inside the 14-day notice period: highlighted")
        self.assertIn(due, p[2])
        self.assertIn("1.220 m", p[2])
        self.assertIn("20.00 mm/day", p[2])
        self.assertIn("1.50 m", p[2])
        # The notice is listed by its name on the alerts page.
        self.b.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = '#/alerts'")
        self.b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, "alerts page")
        self.b.wait_js("return document.querySelector('main').textContent.includes('Clean-out due soon')", 10,
                       "the notice on the alerts page")
        self.assertEqual([], [e["message"] for e in self.b.console_errors()])

    def test_no_history_says_what_it_needs(self):
        f = self.county.get("/api/terminals/WT-NRM-03")["cleanout_forecast"]
        self.assertEqual("insufficient_history", f["status"])
        self.assertEqual(0, f["days_used"])
        self.assertIsNone(f["due_date"])
        self.open_terminal("WT-NRM-03")
        p = self.b.js("const p = document.getElementById('cleanout-forecast'); return [p.dataset.status, p.className, p.textContent]")
        self.assertEqual(["insufficient_history", "muted"], p[:2])
        self.assertIn("needs 7 days", p[2])
        self.assertIn("(0 so far)", p[2])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]])
