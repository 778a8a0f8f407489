#!/usr/bin/python3
"""The O&M loop of the demo, end to end (issue 12 item 9): a small county (three terminals, one
scripted blockage, high simulated speed) with mosquitto, sewage-gateway, sewage-sim and the field
crew bot (tools/fieldcrew.py), all started by tools/county.py on loopback.

Asserts: the blockage's no_flow alert opens a work order by policy, which goes open -> dispatched
-> on_site -> fixed -> verified with a check-in near the site and a photo; the bot's repair ended
the fault in the simulator at that moment (repairs.csv, ground_truth.csv repaired_by); flow
returns and the alert clears. Polls with generous timeouts (no tight real-time budget).

  fieldcrew_e2e.py --bindir build/dev [--speed 240] [--keep DIR]   (CTest: om_fieldcrew_loop)
"""
import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import county  # noqa: E402

TERMINALS = ("HY-WY-001", "HY-WY-002", "HY-BB-001")  # Wuyuan -> hy-north, Baibu -> hy-south
FAULTY = "HY-WY-001"


def write_registry(path):
    with open(county.REGISTRY, "rb") as f:
        reg = tomllib.load(f)
    out = ["# Three terminals of tools/sim/county/haiyan-registry.toml (tests/e2e/fieldcrew_e2e.py)\n"]
    for t in reg["terminal"]:
        if t["id"] not in TERMINALS:
            continue
        out.append("[[terminal]]\n")
        for k, v in t.items():
            if isinstance(v, dict):
                continue
            out.append(f"{k} = {json.dumps(v, ensure_ascii=False)}\n")
        if t["id"] == FAULTY:
            # No flow for 20 min raises no_flow here (the county default, 6 h, suits night-time lulls).
            out.append("[terminal.thresholds]\nno_flow_debounce_s = 1200\n")
        out.append("\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(out))


def write_scenario(path):
    with open(path, "w") as f:
        f.write(f"""# One blockage the field crew must fix (tests/e2e/fieldcrew_e2e.py).
start = 2026-11-28T16:00:00Z
duration_h = 7.9
weather = "dry"
[[fault]]
type = "blockage"
terminal = "{FAULTY}"
start_h = 0.3
end_h = 7.8
""")


class Failed(Exception):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--speed", type=float, default=240.0)
    ap.add_argument("--timeout-s", type=float, default=150.0, help="real seconds for the whole loop")
    ap.add_argument("--keep", help="work folder to keep (default: a temporary one, removed on success)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="fieldcrew-e2e-")
    os.makedirs(work, exist_ok=True)
    registry, scenario = os.path.join(work, "registry.toml"), os.path.join(work, "scenario.toml")
    write_registry(registry)
    write_scenario(scenario)
    c = county.County(os.path.join(work, "county"), args.bindir, scenario, args.speed, registry=registry, om=True,
                      pump_stations=False, fieldcrew_args=["--no-scripted-cases", "--no-inspections", "--delay-scale", "0.5"])

    def get(path):
        with urllib.request.urlopen(c.request(path), timeout=10) as r:
            return json.load(r)

    ok = False
    try:
        c.start()
        started = time.monotonic()
        order = None
        while time.monotonic() - started < args.timeout_s:
            time.sleep(2)
            for p in c.processes:
                if p.name != "sewage-sim" and not p.running():
                    raise Failed(f"{p.name} exited:\n{p.tail()}")
            try:
                items = get(f"/api/work-orders?site={FAULTY}")["items"]
            except OSError:
                continue
            if items and items[-1]["state"] == "verified":
                order = get(f"/api/work-orders/{items[-1]['id']}")
                break
        if order is None:
            raise Failed(f"no verified order for {FAULTY} within {args.timeout_s:.0f} s")
        print(f"order {order['id']}: {order['fault_type']} {order['state']}, created {order['created_at']}, "
              f"fixed {order['fixed_at']}, verified {order['verified_at']}")
        if order["source"] != "alert" or order["fault_type"] != "no_flow" or order["contractor"] != "hy-north":
            raise Failed(f"order not opened by policy for hy-north's no_flow: {order}")
        steps = [(e["from"], e["to"]) for e in order["events"]]
        want = [("open", "dispatched"), ("dispatched", "on_site"), ("on_site", "fixed"), ("fixed", "verified")]
        if [s for s in steps if s[0]] != want:
            raise Failed(f"transitions {steps}, want {want}")
        if not order["checkins"] or not all(k["distance_m"] <= 100 for k in order["checkins"]):
            raise Failed(f"check-ins {order['checkins']}")
        if not order["photos"] or order["photos"][0]["lat"] is None:
            raise Failed(f"photos {order['photos']}")
        if not order["cause"] or not order["parts_used"]:
            raise Failed("fixed without cause or parts")
        # The simulator ended the fault at the repair.
        with open(os.path.join(c.workdir, "sim", "repairs.csv"), newline="") as f:
            repairs = [r for r in csv.DictReader(f) if r["terminal"] == FAULTY and r["result"] == "repaired"]
        if not repairs or repairs[0]["order"] != str(order["id"]):
            raise Failed(f"repairs.csv: {repairs}")
        with open(os.path.join(c.workdir, "sim", "ground_truth.csv"), newline="") as f:
            truth = [r for r in csv.DictReader(f) if r["terminal"] == FAULTY]
        gap_s = abs((county.dt.datetime.fromisoformat(truth[0]["end"].replace("Z", "+00:00"))
                     - county.dt.datetime.fromisoformat(repairs[0]["simulated_at"].replace("Z", "+00:00"))).total_seconds())
        if truth[0]["repaired_by"] != f"hy-north/order {order['id']}" or gap_s > 1.0:
            raise Failed(f"ground truth {truth}, repairs {repairs}")
        # Flow returns and the alert clears (the scripted fault would have lasted to 7.8 h).
        started = time.monotonic()
        while True:
            alerts = get(f"/api/alerts?terminal={FAULTY}&type=no_flow&state=all")
            items = alerts.get("items", alerts.get("alerts", []))
            if items and all(a.get("state") == "cleared" for a in items):
                break
            if time.monotonic() - started > 90:
                raise Failed(f"no_flow of {FAULTY} not cleared after the repair: {items}")
            time.sleep(2)
        # Cleared after the repair (the rule clears when flow is back above its clear level).
        print(f"alert {items[0].get('id')} cleared: {items[0].get('message')} at {items[0].get('cleared_at')}")
        cleared = county.dt.datetime.fromisoformat(items[0]["cleared_at"].replace("Z", "+00:00"))
        repaired = county.dt.datetime.fromisoformat(repairs[0]["simulated_at"].replace("Z", "+00:00"))
        if cleared < repaired or "flow resumed" not in items[0].get("message", ""):
            raise Failed(f"no_flow cleared at {cleared} (repair {repaired}): {items[0]}")
        # No secret (bearer tokens, site tokens) in the bot's or the simulator's logs.
        with open(c.fieldcrew_config, encoding="utf-8") as f:
            cfg = json.load(f)
        secrets = [cfg["dispatcher_token"], *cfg["crew_tokens"].values(), *cfg["officer_tokens"].values(),
                   *(s["token"] for s in cfg["sites"].values())]
        for name in ("fieldcrew.log", "fieldcrew.out", "sim.log", "gateway.log"):
            with open(os.path.join(c.workdir, name), encoding="utf-8", errors="replace") as f:
                text = f.read()
            if any(x in text for x in secrets):
                raise Failed(f"a token appears in {name}")
        if os.stat(c.fieldcrew_config).st_mode & 0o077:
            raise Failed("fieldcrew/config.json is readable by others")
        print("PASS: alert -> order -> dispatched -> on site (check-in) -> photo -> fixed (fault ended in the sim) "
              "-> verified")
        ok = True
        return 0
    except Failed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for name in ("fieldcrew.log", "sim.log"):
            try:
                with open(os.path.join(c.workdir, name), encoding="utf-8", errors="replace") as f:
                    print(f"--- {name} (tail)\n" + "".join(f.readlines()[-40:]), file=sys.stderr)
            except OSError:
                pass
        return 1
    finally:
        c.stop()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
