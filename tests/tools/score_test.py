#!/usr/bin/python3
"""tools/score against a small synthetic truth and a fake gateway API (http.server on 127.0.0.1,
port 0): mid-run it judges only what has happened (pending, not FAIL), after the end everything;
network faults (issue 13) against a canned incident list and webhook notifications; the clean-out
forecast against sludge_truth.csv; true exceedances (exceedance_truth.csv) and weather incidents.

  score_test.py            (unittest; registered in CTest as tools_score)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCORE = os.path.join(ROOT, "tools", "score")

# Scenario: 2026-11-28T16:00Z (local midnight at UTC+8) for 48 h = operating days 11-29 and 11-30.
WINDOW = "start,end\n2026-11-28T16:00:00.000Z,2026-11-30T16:00:00.000Z\n"
FAULTS = """type,terminal,start,end,expected_alert
blockage,HY-A,2026-11-28T18:00:00.000Z,2026-11-28T22:00:00.000Z,no_flow
turbidity_excursion,HY-B,2026-11-29T10:00:00.000Z,2026-11-29T14:00:00.000Z,turbidity_high
power_loss,HY-C,2026-11-30T06:00:00.000Z,2026-11-30T08:00:00.000Z,offline
meter_reset,HY-A,2026-11-29T01:00:00.000Z,2026-11-29T01:30:00.000Z,
"""
ALERT_A = {"terminal_id": "HY-A", "type": "no_flow", "raised_at": "2026-11-28T18:40:00.000Z", "message": "no flow"}
ALERT_B = {"terminal_id": "HY-B", "type": "turbidity_high", "raised_at": "2026-11-29T10:20:00.000Z", "message": "high"}
ALERT_C = {"terminal_id": "HY-C", "type": "offline", "raised_at": "2026-11-30T06:15:00.000Z", "message": "offline"}


class FakeGateway:
    """Serves /api/alerts?state=all, /api/incidents, /api/terminals/{id} and
    /api/terminals/{id}/daily?from=D&to=D from dicts."""

    def __init__(self):
        self.alerts = []
        self.incidents = None  # None: the route is absent (404)
        self.alert_pages = 0
        self.daily = {}  # (terminal, day) -> volume_m3
        self.forecasts = {}  # terminal -> its cleanout_forecast object (GET /api/terminals/{id})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                parts = url.path.strip("/").split("/")
                if url.path == "/api/alerts" and q.get("state") == "all" and set(q) <= {"state", "limit", "cursor"}:
                    # Like the gateway: pages of at most 1,000 (limit 1..1000), `next` names the
                    # cursor of the next page (here an opaque position) or is null.
                    limit = int(q.get("limit", "1000"))
                    if not 1 <= limit <= 1000:
                        self.send_error(400)
                        return
                    at = int(q.get("cursor", "0"))
                    more = at + limit < len(outer.alerts)
                    body = {"alerts": outer.alerts[at:at + limit], "next": str(at + limit) if more else None}
                    outer.alert_pages += 1
                elif url.path == "/api/incidents" and q.get("state") == "all" and outer.incidents is not None:
                    if not 1 <= int(q.get("limit", "100")) <= 1000:  # the gateway's ceiling: 400 above
                        self.send_error(400)
                        return
                    body = {"incidents": outer.incidents}
                elif len(parts) == 3 and parts[:2] == ["api", "terminals"] and not q:
                    body = {"id": parts[2], "name": parts[2]}
                    if parts[2] in outer.forecasts:
                        body["cleanout_forecast"] = outer.forecasts[parts[2]]
                elif len(parts) == 4 and parts[:2] == ["api", "terminals"] and parts[3] == "daily" \
                        and set(q) == {"from", "to"} and q["from"] == q["to"]:
                    v = outer.daily.get((parts[2], q["from"]))
                    body = {"days": [] if v is None else [{"operating_day": q["from"], "volume_m3": v}]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class ScoreFixture(unittest.TestCase):
    """A temporary truth dir and a fake gateway."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="score-test-")
        self.gw = FakeGateway()
        self.write("scenario_window.csv", WINDOW)
        self.write("ground_truth.csv", FAULTS)

    def tearDown(self):
        self.gw.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def truth(self, now, state, volumes):
        self.write("progress.csv", f"simulated_now,scenario_h,duration_h,state\n{now},0,48,{state}\n")
        self.write("true_volumes.csv", "terminal,operating_day,volume_m3,status\n" +
                   "".join(f"{t},{d},{v},{s}\n" for t, d, v, s in volumes))

    def score(self, *extra):
        out = os.path.join(self.dir, "score.json")
        r = subprocess.run([sys.executable, SCORE, "--api", self.gw.api, "--truth", self.dir, "--json", out, *extra],
                           capture_output=True, text=True, timeout=60)
        result = None
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        return r.returncode, r.stdout + r.stderr, result


class ScoreTest(ScoreFixture):
    # Mid-run: simulated 2026-11-29T12:00Z = 20 h into the scenario. HY-A's blockage was found;
    # HY-B's excursion is under way (no alert yet, allowance until 16:00Z); HY-C's power loss is
    # tomorrow; operating day 11-29 (UTC+8) runs until 11-29T16:00Z.
    MID = "2026-11-29T12:00:00.000Z"

    def test_mid_run_is_pending_not_fail(self):
        self.gw.alerts = [ALERT_A]
        # The gateway's partial day differs from the truth's partial day: not compared yet.
        self.gw.daily = {("HY-A", "2026-11-29"): 3.0, ("HY-B", "2026-11-29"): 4.0}
        self.truth(self.MID, "running", [("HY-A", "2026-11-28", 1.0, "outside"),
                                         ("HY-A", "2026-11-29", 9.0, "in_progress"),
                                         ("HY-B", "2026-11-29", 8.0, "in_progress")])
        rc, out, res = self.score()
        self.assertEqual(rc, 3, out)
        self.assertNotIn("FAIL", out)
        self.assertIn("score: PASS so far", out)
        self.assertIn("simulation running: simulated time 2026-11-29T12:00:00Z (20.0 of 48.0 h", out)
        self.assertIn("turbidity_excursion on HY-B: within its detection allowance until 2026-11-29T16:00:00Z", out)
        self.assertIn("power_loss on HY-C: not yet due (starts 2026-11-30T06:00:00Z)", out)
        self.assertIn("operating day(s) 2026-11-29 not complete yet (2 terminal-days", out)
        self.assertIn("the scenario runs until 2026-11-30T16:00:00Z", out)
        self.assertEqual(res["missed"], 0)
        self.assertEqual(res["volumes"], [])
        self.assertEqual(res["by_type"]["blockage"]["detected"], 1)
        self.assertEqual(res["by_type"]["power_loss"]["pending"], 1)
        self.assertEqual(res["by_type"]["turbidity_excursion"]["pending"], 1)
        self.assertFalse(res["ok"])
        self.assertFalse(res["complete"])

    def test_mid_run_judges_what_has_happened(self):
        # 2026-11-30T00:00Z: HY-B's excursion allowance ran out at 16:00Z without an alert (missed);
        # day 11-29 is complete and its volume is compared (and wrong for HY-A).
        self.gw.alerts = [ALERT_A]
        self.gw.daily = {("HY-A", "2026-11-29"): 9.5, ("HY-B", "2026-11-29"): 8.0}
        self.truth("2026-11-30T00:00:00.000Z", "running", [("HY-A", "2026-11-29", 9.0, "complete"),
                                                          ("HY-B", "2026-11-29", 8.0, "complete"),
                                                          ("HY-A", "2026-11-30", 2.0, "in_progress")])
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("score: FAIL", out)
        self.assertEqual(res["by_type"]["turbidity_excursion"]["missed"], 1)
        self.assertEqual(res["by_type"]["power_loss"]["pending"], 1)
        self.assertEqual(len(res["volumes"]), 2)
        self.assertIn("HY-A 2026-11-29: gateway 9.500 m3, true 9.000 m3 (+5.56 %)", out)

    def test_mid_run_false_alert_fails_at_once(self):
        self.gw.alerts = [ALERT_A, {"terminal_id": "HY-B", "type": "offline",
                                    "raised_at": "2026-11-29T02:00:00.000Z", "message": "x"}]
        self.truth(self.MID, "running", [])
        rc, out, _ = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 1", out)

    def test_after_the_end_everything_is_judged(self):
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C]
        self.gw.daily = {("HY-A", "2026-11-29"): 9.0, ("HY-A", "2026-11-30"): 10.02}
        self.truth("2026-11-30T16:02:00.000Z", "finished", [("HY-A", "2026-11-28", 0.5, "outside"),
                                                           ("HY-A", "2026-11-29", 9.0, "complete"),
                                                           ("HY-A", "2026-11-30", 10.0, "complete")])
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("score: PASS", out)
        self.assertNotIn("pending:", out)
        self.assertTrue(res["ok"])
        self.assertTrue(res["complete"])
        self.assertEqual(res["missed"], 0)
        self.assertEqual([(r["terminal"], r["day"]) for r in res["volumes"]],
                         [("HY-A", "2026-11-29"), ("HY-A", "2026-11-30")])
        self.assertIn("daily volumes: 2 terminal-days, max |error| 0.200 %", out)

    def test_alerts_beyond_the_first_page_are_judged(self):
        # A county of 139 sites raises more than the 1,000 alerts of one page: the score follows
        # the `next` cursor. The faults' alerts come last, after 2,100 alerts outside the scenario
        # window (the simulator's warm-up), so that a first page alone would miss all three.
        warmup = {"terminal_id": "HY-B", "type": "offline", "raised_at": "2026-11-28T15:30:00.000Z", "message": "x"}
        self.write("ground_truth.csv", FAULTS)  # the terminal faults (a subclass may script others)
        self.gw.alerts = [warmup] * 2100 + [ALERT_A, ALERT_B, ALERT_C]
        self.truth("2026-11-30T16:02:00.000Z", "finished", [])
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.gw.alert_pages, 3)
        self.assertEqual(res["missed"], 0)

    def test_after_the_end_an_undetected_fault_is_missed(self):
        # Finished: nothing is pending any more, even a fault whose allowance reaches past the end.
        self.gw.alerts = [ALERT_A, ALERT_B]
        self.truth("2026-11-30T16:02:00.000Z", "finished", [])
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertEqual(res["by_type"]["power_loss"]["missed"], 1)
        self.assertIn("score: FAIL", out)

    def test_a_run_stopped_early_is_incomplete_not_fail(self):
        self.gw.alerts = [ALERT_A]
        self.truth(self.MID, "stopped", [("HY-A", "2026-11-29", 9.0, "in_progress")])
        rc, out, res = self.score()
        self.assertEqual(rc, 3, out)
        self.assertIn("score: INCOMPLETE", out)
        self.assertIn("power_loss on HY-C: the run stopped before it could be judged", out)
        self.assertFalse(res["ok"])

    def test_truth_of_an_older_simulator_counts_as_finished(self):
        # No progress.csv and the boolean `complete` column.
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C]
        self.gw.daily = {("HY-A", "2026-11-29"): 9.0}
        self.write("true_volumes.csv", "terminal,operating_day,volume_m3,complete\n"
                                       "HY-A,2026-11-29,9.0,true\nHY-A,2026-11-28,1.0,false\n")
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(res["volumes"]), 1)

    def test_broken_truth_is_a_usage_error(self):
        self.truth(self.MID, "sleeping", [])
        rc, out, _ = self.score()
        self.assertEqual(rc, 2, out)
        self.assertIn("unknown state 'sleeping'", out)


def forecast(status, due=None, early=None, late=None, days_used=22):
    """A cleanout_forecast object as GET /api/terminals/{id} gives it."""
    has_trend = status in ("forecast", "reached", "not_rising")
    return {"status": status, "raise_level_m": 1.5, "level_m": 0.634 if has_trend else None,
            "rise_m_per_day": 0.00055 if status != "insufficient_history" else None, "due_date": due,
            "due_early_date": early, "due_late_date": late, "days_used": days_used}


class ScoreSecondaryTest(ScoreFixture):
    def test_low_flow_beside_no_flow_on_a_blockage_is_secondary_not_false(self):
        # HY-A's blockage (18:00-22:00Z): its low_flow (learned normal) is a second alert of the
        # fault; the same low_flow on HY-B, or on HY-A after the window plus grace, is false.
        low = {"terminal_id": "HY-A", "type": "low_flow", "raised_at": "2026-11-28T20:00:00.000Z", "message": "x"}
        self.gw.alerts = [ALERT_A, low]
        self.truth("2026-11-29T12:00:00.000Z", "running", [])
        rc, out, res = self.score()
        self.assertEqual(rc, 3, out)
        self.assertIn("secondary alerts: 1", out)
        self.assertIn("false alerts: 0", out)
        self.assertEqual(res["secondary_alerts"][0]["fault"], "blockage")
        self.gw.alerts = [ALERT_A, dict(low, terminal_id="HY-B"), dict(low, raised_at="2026-11-29T01:00:00.000Z")]
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 2", out)
        self.assertEqual(res["secondary_alerts"], [])


class ScoreCleanoutTest(ScoreFixture):
    """The clean-out forecast section and cleanout_due_soon notices. The truth was written at
    2026-11-30T16:02Z, operating day (UTC+8) 2026-12-01; every fault was detected."""

    TS = "2026-11-30T16:02:00.000Z"

    def setUp(self):
        super().setUp()
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C]
        self.truth(self.TS, "finished", [])

    def sludge(self, *rows):
        self.write("sludge_truth.csv", "terminal,ts,level_m,rise_m_per_day,raise_level_m,due_date\n" +
                   "".join(f"{t},{self.TS},0.6,0.0087,1.5,{due}\n" for t, due in rows))

    def test_forecasts_three_days_off_report_3_days(self):
        # HY-A 3 days late, truth inside its interval; HY-C 3 days early, truth outside (the
        # interval ends before it). 103 days ahead: 2.9 %.
        self.sludge(("HY-A", "2027-03-14"), ("HY-C", "2027-03-14"))
        self.gw.forecasts = {"HY-A": forecast("forecast", "2027-03-17", "2027-02-20", "2027-04-30"),
                             "HY-C": forecast("forecast", "2027-03-11", "2027-03-01", "2027-03-13")}
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)  # informational: a truth outside the interval does not fail
        self.assertIn("score: PASS", out)
        self.assertIn("clean-out forecast (informational): 2 terminals, 2 with a forecast, "
                      "2 with a true due date, 2 compared", out)
        self.assertIn("|error| median 3.0 days, max 3.0 days; median |error| / days ahead 2.9 %; "
                      "truth inside the interval: 1 of 2", out)
        self.assertIn("HY-A: forecast 2027-03-17 [2027-02-20..2027-04-30]; true 2027-03-14 (103 days ahead), "
                      "error +3.0 days, truth inside the interval", out)
        self.assertIn("HY-C: forecast 2027-03-11 [2027-03-01..2027-03-13]; true 2027-03-14 (103 days ahead), "
                      "error -3.0 days, truth OUTSIDE the interval", out)
        c = res["cleanout_forecast"]
        self.assertEqual(c["median_abs_error_days"], 3.0)
        self.assertEqual(c["max_abs_error_days"], 3.0)
        self.assertAlmostEqual(c["median_relative_error"], 3 / 103)
        self.assertEqual((c["inside_interval"], c["interval_judged"]), (1, 2))
        self.assertEqual([(r["terminal"], r["error_days"], r["inside_interval"]) for r in c["terminals"]],
                         [("HY-A", 3.0, True), ("HY-C", -3.0, False)])

    def test_insufficient_history_is_listed_without_error(self):
        self.sludge(("HY-A", "2027-03-14"), ("HY-B", "2027-06-01"))
        self.gw.forecasts = {"HY-A": forecast("forecast", "2027-03-14", "2027-02-20", "2027-04-30"),
                             "HY-B": forecast("insufficient_history", days_used=5)}
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("HY-B: insufficient_history, 5 days used; true 2027-06-01 (182 days ahead)", out)
        self.assertIn("1 with a forecast, 2 with a true due date, 1 compared", out)
        self.assertIn("|error| median 0.0 days, max 0.0 days", out)
        c = res["cleanout_forecast"]
        self.assertEqual(c["insufficient_history"], ["HY-B"])
        b = c["terminals"][1]
        self.assertEqual((b["terminal"], b["status"], b["error_days"], b["inside_interval"]),
                         ("HY-B", "insufficient_history", None, None))
        self.assertEqual(b["days_ahead"], 182)

    DUE_SOON_A = {"terminal_id": "HY-A", "type": "cleanout_due_soon", "raised_at": "2026-11-30T10:00:00.000Z",
                  "message": "clean-out due 2026-12-06"}
    DUE_SOON_B = {"terminal_id": "HY-B", "type": "cleanout_due_soon", "raised_at": "2026-11-30T11:00:00.000Z",
                  "message": "clean-out due 2026-12-10"}

    def test_due_soon_notice_is_false_only_when_the_truth_is_far(self):
        # HY-A's truth is due in 5 days (a right notice); HY-B's in 200 days (a false alert).
        self.sludge(("HY-A", "2026-12-06"), ("HY-B", "2027-06-19"))
        self.gw.forecasts = {"HY-A": forecast("forecast", "2026-12-06", "2026-12-04", "2026-12-09"),
                             "HY-B": forecast("forecast", "2026-12-10", "2026-12-05", None)}
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, self.DUE_SOON_A, self.DUE_SOON_B]
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 1", out)
        self.assertIn("cleanout_due_soon on HY-B raised 2026-11-30T11:00:00.000Z", out)
        self.assertEqual([(a["terminal_id"], a["type"]) for a in res["false_alerts"]],
                         [("HY-B", "cleanout_due_soon")])
        self.assertEqual(res["cleanout_forecast"]["terminals"][1]["days_ahead"], 200)
        self.assertIn("HY-B: forecast 2026-12-10 [2026-12-05..open]; true 2027-06-19 (200 days ahead), "
                      "error -191.0 days, truth inside the interval", out)
        # 15 days ahead (14 + 1 day of tolerance) is still right; 16 is not.
        self.sludge(("HY-A", "2026-12-16"), ("HY-B", "2026-12-17"))
        rc, out, res = self.score()
        self.assertEqual([a["terminal_id"] for a in res["false_alerts"]], ["HY-B"])

    def test_without_sludge_truth_a_due_soon_notice_is_false(self):
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, self.DUE_SOON_A]
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 1", out)
        self.assertNotIn("clean-out forecast", out)
        self.assertIsNone(res["cleanout_forecast"])

    def test_due_soon_notice_inside_a_forced_rise_is_right(self):
        # A scripted sludge_cleanout on HY-A (emptied at its end: the truth is far again).
        self.write("ground_truth.csv", FAULTS + "sludge_cleanout,HY-A,2026-11-30T08:00:00.000Z,"
                                                "2026-11-30T12:00:00.000Z,cleanout_required\n")
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, self.DUE_SOON_A,
                          {"terminal_id": "HY-A", "type": "cleanout_required",
                           "raised_at": "2026-11-30T09:00:00.000Z", "message": "m"}]
        self.sludge(("HY-A", "2032-01-01"))
        self.gw.forecasts = {"HY-A": forecast("not_rising")}
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("false alerts: 0", out)
        self.assertIn("HY-A: not_rising; true 2032-01-01", out)

    def reached(self, *rows):
        """sludge_truth.csv with reached_at: rows of (terminal, level_m, reached_at or "")."""
        self.write("sludge_truth.csv", "terminal,ts,level_m,rise_m_per_day,raise_level_m,due_date,reached_at\n" +
                   "".join(f"{t},{self.TS},{level},0.0010,1.5,{'2026-12-01' if r else '2027-06-01'},{r}\n"
                           for t, level, r in rows))

    def test_a_true_clean_out_need_is_reported_by_its_flag_and_missed_without_it(self):
        # HY-A's true level reached 1.5 m two days ago and stands 2 mm above it: marginal (the
        # level sensor's noise); HY-B reached it 12 days ago and stands 12 mm above: required.
        # HY-C never reached it.
        self.reached(("HY-A", 1.502, "2026-11-28T16:00:00.000Z"), ("HY-B", 1.512, "2026-11-18T16:00:00.000Z"),
                     ("HY-C", 0.9, ""))
        flag_b = {"terminal_id": "HY-B", "type": "cleanout_required", "raised_at": "2026-11-29T04:00:00.000Z",
                  "message": "clean-out"}
        rc, out, res = self.score()
        # No alert for either: HY-B is missed (FAIL), HY-A marginal.
        self.assertEqual(rc, 1, out)
        self.assertIn("true clean-out needs (the true sludge level reached the raise level, no scripted fault): 2, "
                      "0 reported, 1 missed, 1 marginal", out)
        self.assertIn("HY-B: reached 2026-11-18T16:00:00Z, true level now 1.5120 m; no cleanout_required (MISSED)", out)
        self.assertEqual([(n["terminal"], n["required"], n["status"]) for n in res["cleanouts_reached"]["needs"]],
                         [("HY-A", False, "marginal"), ("HY-B", True, "missed")])
        # The flag on HY-B (raised 10.5 days after the true crossing) reports it and is no false
        # alert; a flag on HY-C, which never reached the level, is one.
        flag_c = dict(flag_b, terminal_id="HY-C")
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, flag_b, flag_c]
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("1 reported, 0 missed, 1 marginal (level still within 5 mm of the raise level); "
                      "delay after the true crossing median 252.0 h, max 252.0 h", out)
        self.assertEqual([(a["terminal_id"], a["type"]) for a in res["false_alerts"]], [("HY-C", "cleanout_required")])
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, flag_b]
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertEqual(res["cleanouts_reached"]["delays_s"], [252 * 3600.0])
        # A flag raised well before the true crossing does not report it.
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, dict(flag_b, raised_at="2026-11-18T15:00:00.000Z")]
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertEqual(res["cleanouts_reached"]["missed"], 1)

    def test_a_due_soon_notice_before_a_crossing_is_judged_against_the_crossing(self):
        # HY-A crossed 2026-11-30T12:00Z: a notice up to 15 days before is right, one 20 days
        # before is false, although the truth's due date (the crossing) is now whenever it came.
        # (The scenario window holds 2 days: the function itself is asked.)
        import importlib.machinery
        import importlib.util
        loader = importlib.machinery.SourceFileLoader("score_module", SCORE)
        spec = importlib.util.spec_from_loader("score_module", loader)
        score = importlib.util.module_from_spec(spec)
        loader.exec_module(score)
        reached = score.parse_ts("2026-11-30T12:00:00.000Z")
        sludge = {"HY-A": {"ts": reached, "day": reached.date(), "level_m": 1.502, "rise_m_per_day": 0.001,
                           "raise_level_m": 1.5, "due": reached.date(), "reached_at": reached}}
        grace = score.dt.timedelta(hours=2)
        for raised, right in (("2026-11-16T12:00:00.000Z", True), ("2026-11-15T12:00:00.000Z", True),
                              ("2026-11-10T12:00:00.000Z", False)):
            alert = dict(self.DUE_SOON_A, raised_at=raised)
            self.assertEqual(score.due_soon_is_right(alert, sludge, [], grace), right, raised)
        # Inside the scoring run too: a notice 2 days before the crossing is no false alert.
        self.reached(("HY-A", 1.502, "2026-11-30T12:00:00.000Z"))
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, dict(self.DUE_SOON_A, raised_at="2026-11-28T17:00:00.000Z")]
        rc, out, res = self.score()
        self.assertEqual(res["false_alerts"], [], out)

    def test_a_crossing_inside_a_scripted_sludge_cleanout_is_the_faults(self):
        self.write("ground_truth.csv", FAULTS + "sludge_cleanout,HY-A,2026-11-30T08:00:00.000Z,"
                                                "2026-11-30T12:00:00.000Z,cleanout_required\n")
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, {"terminal_id": "HY-A", "type": "cleanout_required",
                                                      "raised_at": "2026-11-30T09:00:00.000Z", "message": "m"}]
        self.reached(("HY-A", 0.1, "2026-11-30T08:40:00.000Z"))
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertEqual(res["cleanouts_reached"]["needs"], [])


# Network faults: a pump station stops (its incident must be rooted there), a blockage and a burst
# (their incidents' suspected sections must hold the segment). HY-T is the terminal downstream.
NET_FAULTS = """type,terminal,start,end,expected_alert,repaired_by,node,segment,expected_incident,affected,households_share
station_pump_failure,HY-PS-1,2026-11-28T18:00:00.000Z,2026-11-28T22:00:00.000Z,pump_fault,,HY-PS-1,,pump_station_fault,HY-PS-1 HY-T,0.5581
pipe_blockage,HY-T,2026-11-29T02:00:00.000Z,2026-11-29T08:00:00.000Z,,,,G3,flow_loss,HY-T,0.9401
pipe_burst,HY-U,2026-11-29T10:00:00.000Z,2026-11-29T16:00:00.000Z,,,,G9,flow_loss,HY-PS-2 HY-U,0.8263
"""


def incident(iid, kind, opened, root=None, segments=(), length=0.0, alerts=()):
    return {"id": iid, "state": "open", "kind": kind,
            "root_cause": None if root is None else {"node": root, "site_id": root, "kind": "pump_station",
                                                     "name": root},
            "suspected_segments": list(segments), "suspected_length_m": length, "affected_nodes": [],
            "affected_terminals": [], "villages": [], "households": 0,
            "alerts": [{"alert_id": a, "site_id": site, "type": t, "role": role} for a, site, t, role in alerts],
            "opened_at": opened, "title": "t"}


GOOD_INCIDENTS = [
    incident(1, "pump_station_fault", "2026-11-28T18:06:00.000Z", root="HY-PS-1",
             alerts=[(11, "HY-PS-1", "pump_fault", "cause"), (12, "HY-T", "no_flow", "consequence")]),
    incident(2, "flow_loss", "2026-11-29T03:00:00.000Z", segments=["G2", "G3", "G4"], length=640.0,
             alerts=[(21, "HY-T", "no_flow", "symptom")]),
    incident(3, "flow_loss", "2026-11-29T10:30:00.000Z", segments=["G9"], length=180.0,
             alerts=[(31, "HY-PS-2", "wet_well_low", "symptom")]),
]
NET_ALERTS = [
    {"terminal_id": "HY-PS-1", "type": "pump_fault", "raised_at": "2026-11-28T18:06:00.000Z", "message": "m"},
    # Consequences on affected sites inside the faults' windows: explained, not false alerts.
    {"terminal_id": "HY-PS-1", "type": "wet_well_high", "raised_at": "2026-11-28T19:00:00.000Z", "message": "m"},
    {"terminal_id": "HY-T", "type": "no_flow", "raised_at": "2026-11-29T03:00:00.000Z", "message": "m"},
    {"terminal_id": "HY-PS-2", "type": "wet_well_low", "raised_at": "2026-11-29T10:30:00.000Z", "message": "m"},
]


def note(alert_id, state, message):
    return json.dumps({"alert_id": alert_id, "state": state, "message": message, "terminal_id": "x",
                       "type": "no_flow"})


ONE_EACH = "\n".join([note(11, "raised", "Incident #1: pump fault"), note(11, "cleared", "cleared"),
                       note(21, "raised", "Incident #2: no flow"), note(31, "raised", "Incident #3: low")]) + "\n"


class ScoreIncidentsTest(ScoreTest):
    """The network part of tools/score on a canned incident list and truth."""

    def setUp(self):
        super().setUp()
        self.write("ground_truth.csv", NET_FAULTS)
        self.gw.alerts = list(NET_ALERTS)
        self.gw.incidents = [dict(i) for i in GOOD_INCIDENTS]
        self.write("notes.jsonl", ONE_EACH)
        self.finished = ("2026-11-30T16:02:00.000Z", "finished", [])

    def score_net(self):
        self.truth(*self.finished)
        return self.score("--notifications", os.path.join(self.dir, "notes.jsonl"))

    def test_every_fault_located_and_notified_once(self):
        rc, out, res = self.score_net()
        self.assertEqual(rc, 0, out)
        self.assertIn("score: PASS", out)
        self.assertIn("false alerts: 0", out)
        kinds = res["incidents"]["by_kind"]
        self.assertEqual(kinds["pump_station_fault"]["faults"], 1)
        self.assertEqual(kinds["pump_station_fault"]["located_top1"], 1)
        self.assertEqual(kinds["pump_station_fault"]["delays_s"], [360.0])
        self.assertEqual(kinds["flow_loss"]["found"], 2)
        self.assertEqual(kinds["flow_loss"]["in_section"], 2)
        self.assertEqual(kinds["flow_loss"]["section_lengths_m"], [640.0, 180.0])
        self.assertEqual(kinds["flow_loss"]["notifications"], [1, 1])
        self.assertEqual(kinds["flow_loss"]["delays_s"], [3600.0, 1800.0])
        self.assertIn("station_pump_failure at HY-PS-1: incident #1 pump_station_fault, root cause HY-PS-1, "
                      "1 notification(s), after 6.0 min", out)
        self.assertIn("pipe_blockage at G3: incident #2 flow_loss, section holds it, 640 m", out)
        self.assertRegex(out, r"pump_station_fault\s+1\s+1\s+1\s+-\s+-\s+1.00\s+6.0 min")
        self.assertRegex(out, r"flow_loss\s+2\s+2\s+-\s+2\s+410\s+1.00")

    def test_a_wrong_root_cause_is_not_located_top1(self):
        self.gw.incidents[0] = incident(1, "pump_station_fault", "2026-11-28T18:06:00.000Z", root="HY-PS-9",
                                        alerts=[(11, "HY-PS-1", "pump_fault", "cause")])
        rc, out, res = self.score_net()
        self.assertEqual(rc, 1, out)
        self.assertEqual(res["incidents"]["by_kind"]["pump_station_fault"]["located_top1"], 0)
        self.assertIn("root cause HY-PS-9", out)
        self.assertIn("<- FAIL", out)

    def test_a_section_without_the_true_segment_fails(self):
        self.gw.incidents[2] = incident(3, "flow_loss", "2026-11-29T10:30:00.000Z", segments=["G7", "G8"],
                                        length=300.0, alerts=[(31, "HY-PS-2", "wet_well_low", "symptom")])
        rc, out, res = self.score_net()
        self.assertEqual(rc, 1, out)
        self.assertEqual(res["incidents"]["by_kind"]["flow_loss"]["in_section"], 1)
        self.assertIn("pipe_burst at G9: incident #3 flow_loss, section MISSES it, 300 m", out)

    def test_two_notifications_for_one_incident_fail(self):
        # A consequence leaked to the notifier: its own raise counts for the incident.
        self.write("notes.jsonl", ONE_EACH + note(12, "raised", "No effluent flow") + "\n")
        rc, out, res = self.score_net()
        self.assertEqual(rc, 1, out)
        self.assertEqual(res["incidents"]["faults"][0]["notifications"], 2)

    def test_missing_incident_is_pending_mid_run_and_missed_at_the_end(self):
        self.gw.incidents = self.gw.incidents[:2]
        self.truth("2026-11-29T12:00:00.000Z", "running", [])
        rc, out, res = self.score("--notifications", os.path.join(self.dir, "notes.jsonl"))
        self.assertEqual(rc, 3, out)
        self.assertIn("pipe_burst at G9: incident pending", out)
        rc, out, res = self.score_net()
        self.assertEqual(rc, 1, out)
        self.assertIn("pipe_burst at G9: no incident (missed)", out)
        self.assertEqual(res["incidents"]["by_kind"]["flow_loss"]["failed"], 1)

    def test_without_notifications_file_they_are_not_judged(self):
        self.truth(*self.finished)
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("notifications per incident: not judged (no --notifications file)", out)

    def test_an_alert_outside_any_fault_window_is_still_false(self):
        self.gw.alerts.append({"terminal_id": "HY-T", "type": "no_flow", "raised_at": "2026-11-30T02:00:00.000Z",
                               "message": "m"})
        rc, out, _ = self.score_net()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 1", out)

    def test_a_gateway_without_incidents_is_an_error(self):
        self.gw.incidents = None
        self.truth(*self.finished)
        rc, out, _ = self.score()
        self.assertEqual(rc, 2, out)
        self.assertIn("404", out)

    # The inherited alert-only tests do not apply to this truth.
    test_mid_run_is_pending_not_fail = test_mid_run_judges_what_has_happened = None
    test_mid_run_false_alert_fails_at_once = test_after_the_end_everything_is_judged = None
    test_after_the_end_an_undetected_fault_is_missed = test_a_run_stopped_early_is_incomplete_not_fail = None
    test_truth_of_an_older_simulator_counts_as_finished = test_broken_truth_is_a_usage_error = None


# True exceedances (issue 14 item 2a): a storm's first flush on HY-D (no scripted fault there).
EXCEEDANCES = """terminal,type,start,end,peak,threshold,clear_level,debounce_s,above_s,margin_above_s,true_raise,required
HY-D,turbidity_high,2026-11-29T20:00:00.000Z,2026-11-29T23:30:00.000Z,18.2,10,8,900,9000,8800,2026-11-29T20:15:00.000Z,true
HY-D,flow_high,2026-11-29T19:00:00.000Z,2026-11-30T01:00:00.000Z,3.9,2.5,2,3600,14000,13000,2026-11-29T20:00:00.000Z,true
HY-E,turbidity_high,2026-11-29T21:00:00.000Z,2026-11-29T22:00:00.000Z,10.3,10,8,900,1200,0,2026-11-29T21:15:00.000Z,false
"""
ALERT_D_TURB = {"terminal_id": "HY-D", "type": "turbidity_high", "raised_at": "2026-11-29T20:17:00.000Z", "message": "t"}
ALERT_D_FLOW = {"terminal_id": "HY-D", "type": "flow_high", "raised_at": "2026-11-29T20:02:00.000Z", "message": "f"}
ALERT_E_TURB = {"terminal_id": "HY-E", "type": "turbidity_high", "raised_at": "2026-11-29T21:20:00.000Z", "message": "t"}


def weather_incident(inc_id, alerts, lost):
    return {"id": inc_id, "kind": "weather", "state": "resolved", "opened_at": "2026-11-29T19:30:00.000Z",
            "resolved_at": "2026-11-30T02:00:00.000Z", "affected_terminals": ["HY-D", "HY-E"],
            "alerts": [{"alert_id": a, "site_id": site, "type": t, "role": "weather", "forwarded": fwd, "open": False,
                        "raised_at": "2026-11-29T20:00:00.000Z", "cleared_at": None} for a, site, t, fwd in alerts],
            "weather": {"towns": ["Wuyuan"], "compliance_hours_lost": lost,
                        "terminals": [{"site_id": "HY-D", "peak_flow_m3h": 3.9, "peak_turbidity_ntu": 18.2,
                                       "compliance_hours_lost": lost}]}}


class ScoreExceedanceTest(ScoreFixture):
    """True exceedances (exceedance_truth.csv) and the weather events section."""

    FINISHED = ("2026-11-30T16:02:00.000Z", "finished", [])

    def setUp(self):
        super().setUp()
        self.write("exceedance_truth.csv", EXCEEDANCES)
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, ALERT_D_TURB, ALERT_D_FLOW]

    def test_alerts_inside_true_exceedances_are_not_false(self):
        self.truth(*self.FINISHED)
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("false alerts: 0", out)
        self.assertIn("true exceedances: 3 episodes", out)
        # Delays from true_raise (the rule's raise on the true values): 2 min each.
        self.assertRegex(out, r"turbidity_high\s+1\s+1\s+0\s+0\s+1\s+0\s+2.0 min\s+2.0 min")
        self.assertRegex(out, r"flow_high\s+1\s+1\s+0\s+0\s+0\s+0\s+2.0 min")
        x = res["exceedances"]
        self.assertEqual(x["missed"], 0)
        self.assertEqual(x["by_type"]["turbidity_high"]["reported"], 1)
        self.assertEqual(x["by_type"]["flow_high"]["delays_s"], [120.0])
        self.assertTrue(res["ok"])

    def test_an_alert_matching_no_exceedance_is_false(self):
        # Another terminal, and HY-D's turbidity long after the episode plus the 2 h grace.
        self.gw.alerts += [{"terminal_id": "HY-E", "type": "flow_high", "raised_at": "2026-11-29T21:30:00.000Z",
                            "message": "x"},
                           {"terminal_id": "HY-D", "type": "turbidity_high", "raised_at": "2026-11-30T02:00:00.000Z",
                            "message": "x"},
                           {"terminal_id": "HY-D", "type": "turbidity_high", "raised_at": "2026-11-29T19:40:00.000Z",
                            "message": "x"}]  # 20 min before the start: outside the 15 min lead
        self.truth(*self.FINISHED)
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("false alerts: 3", out)
        self.assertEqual(res["exceedances"]["missed"], 0)

    def test_a_missed_required_exceedance_fails_once_judged(self):
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, ALERT_D_FLOW]
        # Mid-run, within its allowance (until 2026-11-30T01:30Z): pending, not FAIL.
        self.truth("2026-11-30T00:00:00.000Z", "running", [])
        rc, out, res = self.score()
        self.assertEqual(rc, 3, out)
        self.assertIn("pending: 1 true exceedance(s)", out)
        self.assertIn("turbidity_high on HY-D from 2026-11-29T20:00:00Z: within its detection allowance until "
                      "2026-11-30T01:30:00Z", out)
        self.assertEqual(res["exceedances"]["pending"], 1)
        # After its allowance: missed.
        self.truth("2026-11-30T02:00:00.000Z", "running", [])
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("turbidity_high on HY-D from 2026-11-29T20:00:00Z (peak 18.20, threshold 10.00, above for "
                      "150 min): MISSED", out)
        self.assertEqual(res["exceedances"]["by_type"]["turbidity_high"]["missed"], 1)

    def test_an_alert_still_open_from_before_reports_it(self):
        # HY-D's turbidity alert raised for an earlier rise and not cleared until the episode ran:
        # the operator sees the exceedance (reported, delay 0), and the alert is not false either
        # (raised inside the 15 min lead here). Cleared before the start, it would not report it.
        early = dict(ALERT_D_TURB, raised_at="2026-11-29T19:50:00.000Z", cleared_at="2026-11-29T23:00:00.000Z")
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, ALERT_D_FLOW, early]
        self.write("exceedance_truth.csv", EXCEEDANCES.replace("2026-11-29T20:00:00.000Z,2026-11-29T23:30",
                                                               "2026-11-29T20:30:00.000Z,2026-11-29T23:30"))
        self.truth(*self.FINISHED)
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)  # raised 40 min before the start: a false alert, though it reports it
        self.assertIn("false alerts: 1", out)
        t = res["exceedances"]["by_type"]["turbidity_high"]
        self.assertEqual((t["reported"], t["already_open"], t["delays_s"]), (1, 1, [0.0]))
        self.assertIn("turbidity_high: 1 reported by an alert still open from before the episode", out)
        early["cleared_at"] = "2026-11-29T20:10:00.000Z"
        rc, out, res = self.score()
        self.assertEqual(res["exceedances"]["by_type"]["turbidity_high"]["missed"], 1)

    def test_an_ongoing_exceedance_is_pending_until_the_end(self):
        self.write("exceedance_truth.csv", EXCEEDANCES.replace(",2026-11-29T23:30:00.000Z,", ",,"))
        self.gw.alerts = [ALERT_A, ALERT_B, ALERT_C, ALERT_D_FLOW]
        self.truth("2026-11-30T12:00:00.000Z", "running", [])
        rc, out, _ = self.score()
        self.assertEqual(rc, 3, out)
        self.assertIn("turbidity_high on HY-D from 2026-11-29T20:00:00Z: still ongoing", out)
        self.truth(*self.FINISHED)
        rc, out, _ = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("MISSED", out)

    def test_a_marginal_exceedance_is_optional(self):
        self.gw.alerts.append(ALERT_E_TURB)
        self.truth(*self.FINISHED)
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("false alerts: 0", out)
        self.assertEqual(res["exceedances"]["by_type"]["turbidity_high"]["marginal_reported"], 1)
        self.assertEqual(res["exceedances"]["by_type"]["turbidity_high"]["required"], 1)

    def test_without_the_file_alerts_of_the_storm_are_false(self):
        os.remove(os.path.join(self.dir, "exceedance_truth.csv"))
        self.truth(*self.FINISHED)
        rc, out, res = self.score()
        self.assertEqual(rc, 1, out)
        self.assertIn("true exceedances: not judged (no exceedance_truth.csv in the truth)", out)
        self.assertIn("false alerts: 2", out)
        self.assertIsNone(res["exceedances"])

    def test_weather_events_with_notifications(self):
        self.gw.incidents = [weather_incident(7, [(41, "HY-D", "turbidity_high", True),
                                                  (42, "HY-D", "flow_high", False)], 4.5),
                             {"id": 8, "kind": "flow_loss", "opened_at": "2026-11-29T00:00:00.000Z", "alerts": []}]
        self.write("notes.jsonl", note(41, "raised", "Effluent turbidity") + "\n" +
                   note(99, "raised", "Incident #7: storm") + "\n" + note(41, "cleared", "back") + "\n")
        self.truth(*self.FINISHED)
        rc, out, res = self.score("--notifications", os.path.join(self.dir, "notes.jsonl"))
        self.assertEqual(rc, 0, out)  # informational
        self.assertIn("weather events (informational): 1", out)
        self.assertIn("incident #7 opened 2026-11-29T19:30:00.000Z: towns Wuyuan; 1 terminals, 2 alerts; "
                      "compliance hours lost 4.5, 2 notification(s)", out)
        self.assertEqual(res["weather_events"][0]["notifications"], 2)
        self.assertEqual(res["weather_events"][0]["compliance_hours_lost"], 4.5)

    def test_weather_events_tolerate_no_incidents(self):
        self.truth(*self.FINISHED)
        self.gw.incidents = None  # the route is absent: 404
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("weather events (informational): not judged (the gateway lists no incidents)", out)
        self.assertIsNone(res["weather_events"])
        self.gw.incidents = []
        rc, out, res = self.score()
        self.assertEqual(rc, 0, out)
        self.assertIn("weather events (informational): 0", out)
        self.assertEqual(res["weather_events"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
