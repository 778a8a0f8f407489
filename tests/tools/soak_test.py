#!/usr/bin/python3
"""tools/soak without a county: its scenario (the sludge starts near the clean-out level, the
speed scaling of the real-time budgets), its judgement of the clean-out forecast 14 days before
each true crossing, and tools/county.py's scenario filter and [alerts] settings it relies on.

  soak_test.py            (unittest; registered in CTest as tools_soak)
"""
import datetime as dt
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
import tomllib
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def load(path, name):
    loader = importlib.machinery.SourceFileLoader(name, os.path.join(ROOT, path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


soak = load("tools/soak", "soak")
county = load("tools/county.py", "county_under_test")
UTC = dt.timezone.utc


class SoakScenarioTest(unittest.TestCase):
    ids = [f"HY-T-{i:03d}" for i in range(38)]

    def test_a_month_starts_eight_terminals_near_the_level_and_keeps_clean_outs_off_them(self):
        text, weather, faults, sludge = soak.make_scenario(30, 1, self.ids)
        parsed = tomllib.loads(text)
        self.assertEqual([(e["terminal"], e["due_in_days"]) for e in parsed["sludge"]], sludge)
        self.assertEqual(len(sludge), soak.FORECAST_TERMINALS)
        dues = [d for _, d in sludge]
        self.assertEqual((dues[0], dues[-1]), (soak.FORECAST_FIRST_DUE_D, 29.0))
        self.assertEqual(dues, sorted(dues))
        near = {t for t, _ in sludge}
        self.assertEqual(len(near), len(sludge))
        self.assertFalse([f for f in faults if f["type"] == "sludge_cleanout" and f["terminal"] in near])
        self.assertEqual(len(faults), 6 * len(soak.FAULTS))

    def test_a_short_soak_has_one_terminal_due_halfway(self):
        _, _, _, sludge = soak.make_scenario(2, 1, self.ids)
        self.assertEqual(len(sludge), 1)
        self.assertEqual(sludge[0][1], 1.0)

    def test_above_x240_the_real_time_budgets_and_the_scripted_skew_grow_with_the_speed(self):
        self.assertEqual((soak.lead_h(240), soak.offline_after_intervals(240), soak.clock_skew_settings(240)),
                         (2.5, 5, {}))
        self.assertEqual((soak.lead_h(480), soak.offline_after_intervals(480)), (5.0, 10))
        self.assertEqual(soak.clock_skew_settings(480), {"clock_skew_raise_s": 600, "clock_skew_clear_s": 120})
        self.assertEqual(soak.offline_after_intervals(360), 8)  # 7.5 intervals: never fewer real seconds
        for speed, skew in ((240, 900), (480, 1800)):
            _, _, faults, _ = soak.make_scenario(2, 1, self.ids, speed)
            self.assertEqual({f["skew_s"] for f in faults if f["type"] == "clock_skew"}, {skew})
        # The same seed and days make the same faults at any speed, but for the skew.
        strip = [{k: v for k, v in f.items() if k != "skew_s"} for f in soak.make_scenario(30, 1, self.ids, 480)[2]]
        self.assertEqual(strip, [{k: v for k, v in f.items() if k != "skew_s"}
                                 for f in soak.make_scenario(30, 1, self.ids)[2]])


class ForecastAheadTest(unittest.TestCase):
    """The read nearest 14 days before a true crossing against the crossing's operating day."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="soak-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def truth(self, rows):
        with open(os.path.join(self.dir, "sludge_truth.csv"), "w") as f:
            f.write("terminal,ts,level_m,rise_m_per_day,raise_level_m,due_date,reached_at\n")
            for t, reached in rows:
                f.write(f"{t},2026-12-28T16:00:00.000Z,1.51,0.0005,1.5,2026-12-20,{reached}\n")

    @staticmethod
    def read(t, at, due, early, late, status="forecast"):
        return {"terminal": t, "sim_at": at, "forecast": {"status": status, "due_date": due,
                                                           "due_early_date": early, "due_late_date": late}}

    def test_errors_are_judged_against_the_crossings_operating_day(self):
        # HY-A crosses 2026-12-20T17:00Z = 12-21 01:00 at UTC+8: its operating day is 12-21.
        self.truth([("HY-A", "2026-12-20T17:00:00.000Z"), ("HY-B", "2026-12-25T04:00:00.000Z"), ("HY-C", "")])
        a = dt.datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
        reads = [
            self.read("HY-A", a - dt.timedelta(hours=6), "2026-12-30", "2026-12-25", None),  # farther
            self.read("HY-A", a + dt.timedelta(hours=1), "2026-12-23", "2026-12-19", "2026-12-26"),  # nearest
            # HY-B's reads all lie more than 3 h from its 14 days before: not compared.
            self.read("HY-B", dt.datetime(2026, 12, 10, 22, 0, tzinfo=UTC), "2026-12-25", None, None),
        ]
        got = soak.judge_forecast_ahead(reads, self.dir, [("HY-A", 17.0), ("HY-B", 20.0), ("HY-C", 29.0)])
        rows = {r["terminal"]: r for r in got["terminals"]}
        self.assertEqual(rows["HY-A"]["true_date"], "2026-12-21")
        self.assertEqual(rows["HY-A"]["error_days"], 2.0)
        self.assertTrue(rows["HY-A"]["inside_interval"])
        self.assertAlmostEqual(rows["HY-A"]["days_ahead"], 13.96, places=2)
        self.assertIsNone(rows["HY-B"]["read_at"])
        self.assertEqual(rows["HY-B"]["reached_at"], "2026-12-25T04:00:00.000Z")
        self.assertIsNone(rows["HY-C"]["reached_at"])
        self.assertEqual((got["crossed"], got["compared"], got["median_abs_error_days"]), (2, 1, 2.0))
        self.assertEqual((got["inside_interval"], got["interval_judged"]), (1, 1))

    def test_a_forecast_without_a_date_is_read_but_not_compared(self):
        self.truth([("HY-A", "2026-12-20T17:00:00.000Z")])
        at = dt.datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
        got = soak.judge_forecast_ahead([self.read("HY-A", at, None, None, None, "insufficient_history")],
                                        self.dir, [("HY-A", 17.0)])
        self.assertEqual(got["terminals"][0]["status"], "insufficient_history")
        self.assertEqual(got["compared"], 0)
        self.assertIsNone(got["median_abs_error_days"])


class CountyHelpersTest(unittest.TestCase):
    def test_a_terminals_only_scenario_keeps_the_tables_after_a_dropped_network_fault(self):
        text = ('start = 2026-11-29T00:00:00Z\nduration_h = 10\n\n[[fault]]\ntype = "blockage"\nterminal = "T1"\n'
                'start_h = 1\nend_h = 2\n\n[[fault]]\ntype = "pipe_burst"\nsegment = "G1"\nstart_h = 1\nend_h = 2\n\n'
                '[[sludge]]\nterminal = "T1"\ndue_in_days = 3\n[truth]\nflow_margin = 0.1\n')
        out, dropped = county.terminals_only_scenario(text)
        self.assertEqual(dropped, ["pipe_burst at G1"])
        parsed = tomllib.loads(out)
        self.assertEqual([f["type"] for f in parsed["fault"]], ["blockage"])
        self.assertEqual(parsed["sludge"], [{"terminal": "T1", "due_in_days": 3}])
        self.assertEqual(parsed["truth"], {"flow_margin": 0.1})

    def test_alert_settings_are_finite_numbers_under_bare_keys(self):
        top = tempfile.mkdtemp(prefix="county-test-")
        self.addCleanup(shutil.rmtree, top, True)

        def make(settings):
            return county.County(os.path.join(top, "c"), ROOT, __file__, 240.0, alert_settings=settings)
        c = make({"clock_skew_raise_s": 600, "clock_skew_clear_s": 120})
        self.assertIn("clock_skew_raise_s = 600\n", c._alerts_config())
        self.assertIn("clock_skew_clear_s = 120\n", c._alerts_config())
        for bad in ({"clock_skew_raise_s": True}, {"clock_skew_raise_s": float("nan")},
                    {"clock_skew_raise_s": "600"}, {"offline_after_intervals": 5}, {"a key": 1}):
            with self.assertRaises(ValueError, msg=str(bad)):
                make(bad)


if __name__ == "__main__":
    unittest.main(verbosity=2)
