#!/usr/bin/python3
"""Benchmark: the web application's overview with many terminals in headless Chromium.

For each county size (default 1,000 and 10,000 terminals) it starts a private mosquitto and the
built sewage-gateway (tests/web/harness.py) with a generated registry, publishes one live record
for the first --with-data terminals (one mosquitto_pub each; the rest stay "unknown", which the
page draws the same way), then:

- GET /api/terminals: median and max time over --repeat requests, and the body size;
- the overview in headless Chromium, --repeat times, each in a freshly started browser ("cold":
  its first page load) and then once more in the same browser ("warm": the operator's usual case,
  application files revalidated with 304s): time from navigation start to the first render (KPI
  cards drawn: performance mark sewage:first-render) and to complete data (every terminal on the
  map layer and in the list: sewage:complete), median and max.

  tools/bench/web/overview_bench.py --bindir build/release [--sizes 1000,10000] [--repeat 5]

Prints one line per figure. Goal (issue 10): complete data <= 1 s at 1,000 terminals on a 2-core
machine. Not a test: the figures depend on the machine.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "web"))
import harness  # noqa: E402

TOWNS = ["Wuyuan", "Xitangqiao", "Tongyuan", "Qinshan", "Baibu", "Shendang", "Yuantong", "Huangwan", "Wuyuan East"]


def terminals(n):
    rnd = random.Random(n)
    out = []
    for i in range(n):
        town = TOWNS[i % len(TOWNS)]
        out.append({"id": f"T{i:05d}", "name": f"{town} 村 {i} 号", "town": town, "village": town,
                    "lat": round(30.35 + rnd.random() * 0.35, 5), "lon": round(120.70 + rnd.random() * 0.35, 5),
                    "interval": 60, "role": "normal"})
    return out


def publish_some(county, terms, k):
    procs = []
    now = harness.now_utc()
    for t in terms[:k]:
        rec = county.record(t["id"], 1, now, ntu=25.0 if int(t["id"][1:]) % 50 == 0 else 3.0)
        import json
        procs.append(subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(county.broker_port), "-q", "1",
                                       "-t", f"sewage/v1/{t['id']}/telemetry", "-m", json.dumps(rec)]))
        if len(procs) >= 16:
            for p in procs:
                p.wait()
            procs = []
    for p in procs:
        p.wait()


def api_figures(county, repeat):
    times = []
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with urllib.request.urlopen(county.url + "/api/terminals", timeout=60) as r:
            body = r.read()
        times.append(time.perf_counter() - t0)
        size = len(body)
    return times, size


def load(b, url, n):
    b.driver.get(url)
    b.wait_js("return performance.getEntriesByName('sewage:complete').length > 0", 120, "the overview")
    b.wait_js("return document.querySelector('main').dataset.loaded === arguments[0]", 60, "all terminals", str(n))
    f = b.js("return performance.getEntriesByName('sewage:first-render')[0].startTime")
    c = b.js("return performance.getEntriesByName('sewage:complete')[0].startTime")
    return f / 1000, c / 1000


def page_figures(county, repeat, n):
    """Cold: a freshly started browser's first load. Warm: the next load in the same browser (the
    operator's case: the browser runs, the application files are revalidated with 304s)."""
    cold, warm = ([], []), ([], [])
    for _ in range(repeat):
        b = harness.Browser(1366, 900)
        try:
            for i, (f, c) in enumerate([load(b, county.url + "/", n), load(b, county.url + "/?again", n)]):
                (cold, warm)[i][0].append(f)
                (cold, warm)[i][1].append(c)
        finally:
            b.quit()
    return cold, warm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--with-data", type=int, default=200, help="terminals that get a live record")
    args = ap.parse_args()
    harness.require_browser()
    for n in [int(x) for x in args.sizes.split(",")]:
        terms = terminals(n)
        county = harness.County(args.bindir, terminals=terms).start()
        try:
            publish_some(county, terms, min(args.with_data, n))
            time.sleep(1.0)
            api_t, size = api_figures(county, args.repeat)
            print(f"n={n}: GET /api/terminals median {statistics.median(api_t) * 1000:.0f} ms, max {max(api_t) * 1000:.0f} ms, "
                  f"{size / 1e6:.2f} MB ({size / n:.0f} B per terminal)", flush=True)
            for label, (first, complete) in zip(("cold browser", "warm browser"), page_figures(county, args.repeat, n)):
                print(f"n={n}: overview, {label}: first render (KPI cards) median {statistics.median(first):.2f} s, "
                      f"max {max(first):.2f} s; complete data (map + list) median {statistics.median(complete):.2f} s, "
                      f"max {max(complete):.2f} s", flush=True)
        finally:
            county.stop()


if __name__ == "__main__":
    main()
