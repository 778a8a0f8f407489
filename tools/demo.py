"""Runs the county demo (see tools/demo, which builds first)."""
import argparse
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import county  # noqa: E402


def main():
    ap = argparse.ArgumentParser(prog="tools/demo")
    ap.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    ap.add_argument("--duration", type=float, default=0, help="stop after this many real seconds (0 = at the scenario end)")
    ap.add_argument("--scenario", default=os.path.join(county.ROOT, "tools/sim/scenarios/demo.toml"))
    ap.add_argument("--http-port", type=int, default=8080, help="API port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--bindir", default=os.path.join(county.ROOT, "build/release"))
    args = ap.parse_args()

    workdir = os.path.join(county.ROOT, "var/demo")
    shutil.rmtree(workdir, ignore_errors=True)
    port = args.http_port or None
    if port and county.port_open(port):
        print(f"demo: port {port} is in use; pass --http-port 0 for any free port", file=sys.stderr)
        return 2
    c = county.County(workdir, args.bindir, args.scenario, args.speed, http_port=port)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        c.start()
        print(f"demo: API and dashboard on {c.api}/  (summary: {c.api}/api/summary, map: {c.api}/api/terminals.geojson)")
        print(f"demo: acknowledge alerts with: curl -X POST -H 'Authorization: Bearer {county.ACK_TOKEN}' "
              f"-d '{{\"by\":\"NAME\",\"note\":\"...\"}}' {c.api}/api/alerts/ID/ack")
        print(f"demo: score while it runs: tools/score --api {c.api} --truth {workdir}/sim")
        print(f"demo: broker on 127.0.0.1:{c.broker_port}; logs and data in {workdir}")
        print("demo: Ctrl-C stops everything")
        started = time.monotonic()
        while not stopping:
            if not c.sim.running():
                print("\ndemo: the scenario has ended")
                break
            if args.duration and time.monotonic() - started >= args.duration:
                print()
                break
            try:
                s = c.summary()
                alerts = ", ".join(f"{k} {v}" for k, v in sorted(s.get("open_alerts", {}).items()) if v)
                line = (f"online {s['online']}/{s['terminals']}  offline {s['offline']}  "
                        f"volume today {s['volume_today_m3']:.1f} m3  "
                        f"open alerts {s['open_alerts_total']}" + (f" ({alerts})" if alerts else ""))
            except Exception as exc:  # the gateway may be busy starting
                line = f"waiting for the gateway ({exc.__class__.__name__})"
            sys.stdout.write("\r\x1b[2K" + line)
            sys.stdout.flush()
            time.sleep(2)
    except KeyboardInterrupt:
        print()
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        c.stop()
        return 1
    print("demo: stopping ...")
    c.stop()
    print("demo: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
