#!/usr/bin/python3
"""History older than store.rollup_after_days on the terminal page (issue 16 item 5) in a real
browser: three hours of minute records two days ago (imported, sewage-gateway import-history)
are rolled up at the gateway's start (rollup_after_days = 1); the 7-day flow and turbidity charts
draw one point per hour, at the middle of the hour, at the hour's mean, then today's raw records;
the note under the charts says since when history is hourly. The API lists the hours.

  test_history_rollup.py --bindir BUILD_DIR
"""
import datetime as dt
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import County, PageTest  # noqa: E402

TID = "WT-NRM-03"
RATES = (0.6, 1.2, 1.8)  # m3/h in each of the three old hours
NTU = (2.0, 4.0, 6.0)


def ms(t):
    return int(t.timestamp() * 1000)


class TestHistoryRollup(PageTest):
    NAME = "web_history_rollup"
    BINDIR = harness.bindir_from_argv()

    @classmethod
    def make_county(cls):
        county = County(cls.BINDIR, extra_store="rollup_after_days = 1").start()
        try:
            county.stop_gateway()
            now = harness.now_utc()
            cls.hour0 = dt.datetime(now.year, now.month, now.day, now.hour, tzinfo=dt.timezone.utc) - dt.timedelta(days=2)
            path = os.path.join(county.workdir, "history.jsonl")
            with open(path, "w") as f:
                for k in range(180):
                    h = k // 60
                    rec = County.record(TID, k + 1, cls.hour0 + dt.timedelta(minutes=k), rate=RATES[h],
                                        total=1000.0 + k * 0.02, ntu=NTU[h], epoch="history")
                    f.write(json.dumps(rec) + "\n")
            out = county.cli(["import-history", path])
            assert "180 accepted" in out, out
            county.start_gateway()  # its first retention run rolls the imported records up
            cls.sent = county.populate(10)
        except BaseException:
            county.stop()
            raise
        return county

    def test_api_lists_the_hours(self):
        since = (self.hour0 - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        h = self.county.get(f"/api/terminals/{TID}/history?from={since}")
        self.assertEqual(len(self.sent[TID]), len(h["records"]))
        self.assertEqual(3, len(h["hourly"]))
        for i, row in enumerate(h["hourly"]):
            self.assertEqual((self.hour0 + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), row["hour"])
            self.assertEqual(60, row["records"])
            self.assertAlmostEqual(RATES[i], row["flow_rate_m3h"]["mean"], places=9)
            self.assertAlmostEqual(NTU[i], row["turbidity_ntu"]["max"], places=9)

    def test_week_chart_draws_hourly_means_then_raw_records(self):
        b = self.b
        b.open(f"{self.county.url}/#/")
        b.log_in(self.county)
        b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, "the overview")
        b.js("document.querySelector('main').dataset.rendered = 'stale'; location.hash = arguments[0]", f"#/terminals/{TID}")
        b.wait_js("return document.querySelector('main').dataset.rendered === '1'", 20, "the terminal page")
        b.driver.find_element("css selector", "[data-range='7d']").click()
        b.wait_js("const c = Chart.getChart(document.getElementById('chart-flow'));"
                  " return c && c.data.datasets[0].data.filter(p => p.y !== null).length === arguments[0]", 20,
                  "the week's flow points",
                  3 + len(self.sent[TID]))
        for canvas, want in (("chart-flow", RATES), ("chart-turbidity", NTU)):
            data = b.js("return Chart.getChart(document.getElementById(arguments[0])).data.datasets[0].data.map(p => [p.x, p.y])",
                        canvas)
            # Two days of silence between the hours and today's records: one break in the line there.
            self.assertEqual([3], [i for i, p in enumerate(data) if p[1] is None], canvas)
            pts = [p for p in data if p[1] is not None]
            for i in range(3):
                self.assertEqual(ms(self.hour0 + dt.timedelta(hours=i, minutes=30)), pts[i][0], canvas)
                self.assertAlmostEqual(want[i], pts[i][1], places=6, msg=canvas)
            raw_x = [ms(dt.datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))) for r in self.sent[TID]]
            self.assertEqual(raw_x, [p[0] for p in pts[3:]], canvas)
        note = b.js("return document.getElementById('chart-note').textContent")
        self.assertIn("hourly means (3 hours shown)", note)
        self.assertEqual([], [e["message"] for e in b.console_errors()])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]])
