#!/usr/bin/python3
"""End-to-end on the pipe network (issue 13): the example county with its 101 pump stations - a
private mosquitto, sewage-gateway with the network, sewage-sim with 139 real sewage-agent processes
(38 terminals on emulated instruments, 101 pump stations on emulated I/O modules, all in one
simulator process: its descriptor budget holds) - runs a short daytime scenario with two station
faults at high speed. Then:
  - every site reported (139 with a latest record) and no emulated device refused a connection
    (the simulator's last line counts them);
  - tools/score with the webhook notifications: each station fault is one incident rooted top-1 at
    its station, with its downstream terminal affected, notified exactly once; no false alert.

  network_e2e.py --bindir BUILD_DIR [--speed 120] [--keep]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import county  # noqa: E402

# Morning (06:00 local, UTC+8); faults at two stations whose terminals differ (households shares:
# tools/sim/scenarios/network.toml), and a blockage of the trunk sewer that carries 94 % of
# HY-SD-001's households (HY-PS-041/042 upstream of it stay healthy). The blockage leaves part of
# the terminal's flow: only low_flow on the learned normal sees it, so the county starts with 22
# days of imported history (County(history_days=22): sewage-sim-history, sewage-gateway
# import-history). The terminal's tank (4 h lag) delays the loss: low_flow raises ~7 h after the
# blockage starts.
SCENARIO = """# network_e2e.py: two station faults and a pipe blockage in the morning
start = 2026-11-28T22:00:00Z
duration_h = 9.5
weather = "dry"

[[fault]]
type = "station_pump_failure"
node = "HY-PS-052"
start_h = 0.5
end_h = 2.0

[[fault]]
type = "station_power_loss"
node = "HY-PS-034"
start_h = 1.0
end_h = 2.5

[[fault]]
type = "pipe_blockage"
segment = "GS-SD-001-01676"
start_h = 0.5
end_h = 9.5
"""
HISTORY_DAYS = 22
# station -> (its terminal, the window in UTC where its incident must open: from the fault start
# to the scenario end; after the end the simulator stops the agents and each site goes offline)
STATION_FAULTS = {"HY-PS-052": ("HY-SD-005", "2026-11-28T22:30:00", "2026-11-29T07:30:00"),
                  "HY-PS-034": ("HY-QS-002", "2026-11-28T23:00:00", "2026-11-29T07:30:00")}
# segment -> (its terminal, the window of its incident's opening)
PIPE_FAULTS = {"GS-SD-001-01676": ("HY-SD-001", "2026-11-28T22:30:00", "2026-11-29T07:30:00")}


def get(c, path):
    req = urllib.request.Request(c.api + path, headers={"Authorization": f"Bearer {c.token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--speed", type=float, default=120.0)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    workdir = county.ram_workdir("network-e2e-")  # 139 agents fsync each record: see ram_workdir
    scenario = os.path.join(workdir, "scenario.toml")
    with open(scenario, "w", encoding="utf-8") as f:
        f.write(SCENARIO)
    notifications = os.path.join(workdir, "notifications.jsonl")

    def body(counties):
        started = time.monotonic()
        c = county.County(os.path.join(workdir, "county"), args.bindir, scenario, args.speed,
                          notify_log=notifications, history_days=HISTORY_DAYS, lead_h=1.0)
        counties.append(c)
        c.start()
        print(f"e2e: network county running in {workdir}, API {c.api}, x{args.speed}", flush=True)
        c.wait_sim_end(900, settle_s=3)  # then the gateway's last batch
        print(f"e2e: simulation done after {time.monotonic() - started:.0f} s", flush=True)
        problems = []
        with open(os.path.join(c.workdir, "sim.log"), encoding="utf-8") as f:
            sim_log = f.read()
        budget = [ln for ln in sim_log.splitlines() if "descriptors:" in ln]
        print("e2e: " + (budget[0].split(" info ", 1)[-1] if budget else "no descriptor budget line"))
        if not budget:
            problems.append("sewage-sim logged no descriptor budget")
        refused = [ln.split(" info ", 1)[-1] for ln in sim_log.splitlines() if "connections refused" in ln]
        print("e2e: " + (refused[0] if refused else "no count of refused connections"))
        if not refused or not refused[0].startswith("devices: 0 connections refused"):
            problems.append(f"emulated devices refused connections: {refused}")
        sites = get(c, "/api/terminals")["terminals"]
        kinds = {k: sum(1 for s in sites if s.get("kind") == k) for k in ("terminal", "pump_station")}
        silent = [s["id"] for s in sites if not s.get("last_seen")]
        print(f"e2e: sites {kinds}; never reported: {len(silent)} {silent[:10]}")
        if kinds != {"terminal": 38, "pump_station": 101}:
            problems.append(f"sites by kind {kinds}, want 38 terminals and 101 pump stations")
        if silent:
            problems.append(f"{len(silent)} sites never reported: {silent[:10]}")

        score = subprocess.run([sys.executable, os.path.join(ROOT, "tools/score"), "--api", c.api,
                                "--token-file", c.token_file, "--truth", os.path.join(c.workdir, "sim"),
                                "--notifications", notifications, "--json", os.path.join(workdir, "score.json")],
                               capture_output=True, text=True, timeout=300)
        print(score.stdout, end="")
        print(score.stderr, end="", file=sys.stderr)
        if score.returncode != 0:
            problems.append(f"tools/score exited {score.returncode}")
        incidents = get(c, "/api/incidents?state=all&limit=1000")["incidents"]
        for station, (terminal, lo, hi) in STATION_FAULTS.items():
            # The station's incidents of the fault's window (one; an earlier one would be the
            # warm-up's, before the scenario start, which the score does not judge either).
            rooted = [i for i in incidents if (i.get("root_cause") or {}).get("node") == station
                      and lo <= i["opened_at"][:19] <= hi]
            if len(rooted) != 1:
                problems.append(f"{station}: {len(rooted)} incidents rooted there, want 1")
            elif terminal not in (rooted[0].get("affected_terminals") or []):
                problems.append(f"{station}: incident {rooted[0]['id']} does not list {terminal} as affected")
        for segment, (terminal, lo, hi) in PIPE_FAULTS.items():
            # Located: one incident of the window whose suspected section holds the segment.
            located = [i for i in incidents if segment in (i.get("suspected_segments") or [])
                       and lo <= i["opened_at"][:19] <= hi]
            print(f"e2e: {segment}: " + "; ".join(
                f"incident {i['id']} opened {i['opened_at']}, {len(i['suspected_segments'])} suspected segments, "
                f"{i['suspected_length_m']:.0f} m, affected {i.get('affected_terminals')}" for i in located))
            if len(located) != 1:
                problems.append(f"{segment}: {len(located)} incidents with it in their suspected section, want 1")
            elif terminal not in (located[0].get("affected_terminals") or []):
                problems.append(f"{segment}: incident {located[0]['id']} does not list {terminal} as affected")
        # The history made the normal: every cell of the blocked terminal learned from it.
        normal = get(c, "/api/terminals/HY-SD-001/normal")
        cells = [h for t in normal["day_types"].values() for h in t]
        priors = sum(1 for h in cells if h["prior"])
        print(f"e2e: {c.history_summary}; HY-SD-001 normal computed {normal['computed_day']}, "
              f"{len(cells) - priors} of {len(cells)} hours learned")
        if priors:
            problems.append(f"HY-SD-001: {priors} hours of its normal are still the prior after the history import")
        if not c.history_summary or " 0 refused" not in c.history_summary:
            problems.append(f"history import: {c.history_summary}")
        for p in problems:
            print("e2e: problem: " + p)
        return not problems

    return county.run_e2e(workdir, args.keep, body)


if __name__ == "__main__":
    sys.exit(main())
