#!/usr/bin/python3
"""Benchmark of GET /api/report (gateway/README.md, "Monthly report").

Starts mosquitto and the built sewage-gateway (tests/web/harness.py) with N terminals in 10
towns, stops the gateway, writes 30 daily rows per terminal for November 2026 and 5 x N cleared
alert episodes straight into its SQLite store, starts it again and times 5 requests of each of
/healthz, one terminal's /daily, the county report (JSON and CSV) and one town's report.

  /usr/bin/python3 tools/bench/gateway/report_bench.py --bindir build/dev --terminals 1000
"""
import argparse
import datetime as dt
import os
import sqlite3
import statistics
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "web"))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build", "dev"))
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    n = a.terminals
    terms = [{"id": f"T{i:05d}", "name": f"终端 {i}, x", "town": f"Town{i % 10}", "village": "v",
              "lat": 30.5, "lon": 120.9, "interval": 60, "role": "normal"} for i in range(n)]
    c = harness.County(a.bindir, terminals=terms)
    c.start()
    try:
        c.stop_gateway()
        db = sqlite3.connect(os.path.join(c.workdir, "gateway.db"))
        d0 = (dt.date(2026, 11, 1) - dt.date(1970, 1, 1)).days
        db.executemany("INSERT INTO daily(terminal, day, volume_m3, records, turbidity_ok_s, compliant_s, missing_records)"
                       " VALUES (?,?,?,?,?,?,?)",
                       [(t["id"], d0 + k, 10.0, 1440, 86400.0, 86000.0, 0 if k % 7 else 2) for t in terms for k in range(30)])
        base = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
        db.executemany("INSERT INTO alerts(id, terminal, type, state, raised_ms, cleared_ms, message) VALUES (?,?,?,?,?,?,?)",
                       [(i + 1, terms[i % n]["id"], ["no_flow", "offline", "turbidity_high"][i % 3], "cleared",
                         base + i * 60000, base + i * 60000 + 3600000, "m") for i in range(5 * n)])
        db.commit()
        db.close()
        c.start_gateway()
        for path in ["/healthz", "/api/terminals/T00001/daily?from=2026-11-01&to=2026-11-30",
                     "/api/report?month=2026-11", "/api/report?month=2026-11&format=csv",
                     "/api/report?month=2026-11&town=Town3"]:
            times, size = [], 0
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                with urllib.request.urlopen(c.url + path, timeout=120) as r:
                    size = len(r.read())
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{n} terminals x 30 days, {5 * n} episodes: {path}: median {statistics.median(times):.0f} ms,"
                  f" min {min(times):.0f} ms, {size} bytes")
    finally:
        c.stop()


if __name__ == "__main__":
    main()
