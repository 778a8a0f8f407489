"""Runs the county demo for tools/demo.

Order of work, so that a mistake never costs the running demo or minutes of building:
  1. arguments (--help prints and exits; a bad flag or value exits 2 with usage),
  2. the demo lock (<var-dir>.lock, flock held for this process's lifetime; a second demo on the
     same folder is refused with the holder's PID),
  3. the API port (refused when something listens on it),
  4. install the Debian packages and build the release preset (skipped with --no-build),
  5. only then replace the previous run's folder and start mosquitto, sewage-gateway, sewage-sim.
"""
import argparse
import errno
import json
import fcntl
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import county  # noqa: E402
import fieldcrew  # noqa: E402

# Written into the work folder: a folder with it (or the default var/demo) may be replaced by the
# next run; any other existing, non-empty folder given as --var-dir is refused, never deleted.
MARKER = ".sewage-demo"
DEFAULT_VAR_DIR = os.path.join(county.ROOT, "var", "demo")
BINARIES = ("gateway/sewage-gateway", "firmware/sewage-agent", "tools/sim/sewage-sim", "tools/provision/sewage-provision",
            "tools/sim/sewage-sim-camera")


class UsageError(Exception):
    """A refusal before anything was changed; the message says why and what to do."""


class LockHeld(Exception):
    def __init__(self, path, pid):
        super().__init__(path, pid)
        self.path = path
        self.pid = pid


def _number_in(low, high):
    def check(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}")
        if not low <= v <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}], got {text}")
        return v
    return check


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535 (0 = any free port), got {text}")
    return v


def _existing_file(text):
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return os.path.abspath(text)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="tools/demo",
        description="The county demo: a private mosquitto, sewage-gateway (SQLite) and 38 simulated "
                    "terminals, each a real sewage-agent reading emulated Modbus instruments, on "
                    "loopback. Installs the Debian packages and builds the release preset first "
                    "(after checking the arguments, the port and that no other demo runs in the "
                    "same folder). Ctrl-C stops everything it started.")
    ap.add_argument("--speed", type=_number_in(1, 3600), default=60.0,
                    help="simulated seconds per real second (default 60)")
    ap.add_argument("--duration", type=_number_in(0, 10 * 365 * 86400), default=0,
                    help="stop after this many real seconds (default 0 = at the scenario end)")
    ap.add_argument("--sim-duration-h", type=_number_in(0, 10 * 365 * 24), default=0,
                    help="stop once the simulated clock is this many hours past the scenario start "
                         "(default 0 = at the scenario end or --duration)")
    ap.add_argument("--headless", action="store_true",
                    help="no live status line: a plain progress line every 30 s (for logs and measurements)")
    ap.add_argument("--no-fieldcrew", action="store_true",
                    help="no O&M: no contractors, work-order policies or simulated field crews")
    ap.add_argument("--history-days", type=_number_in(0, 60), default=22,
                    help="days of the county's past imported before it starts (sewage-sim-history, "
                         "sewage-gateway import-history): each village's learned normal flow, weeks of daily "
                         "volumes; 0 = a new county (default 22: three weekends, >= 5 days of each day type)")
    ap.add_argument("--terminals-only", action="store_true",
                    help="the 38 terminals alone: no pump stations and no pipe network (default: the registry's "
                         "101 pump stations too, each an emulated I/O device with its own sewage-agent, and the "
                         "network on the map: 139 agents)")
    ap.add_argument("--scenario", type=_existing_file,
                    default=os.path.join(county.ROOT, "tools/sim/scenarios/demo.toml"),
                    help="scenario file (default tools/sim/scenarios/demo.toml: three days, a storm, six faults at "
                         "terminals and one on the network: a pump station whose pumps all trip)")
    ap.add_argument("--http-port", type=_port, default=8080,
                    help="web application and API port on 127.0.0.1 (default 8080; 0 = any free port)")
    ap.add_argument("--var-dir", default=DEFAULT_VAR_DIR,
                    help="folder for this run's logs and data, replaced at each start "
                         "(default var/demo; locked while the demo runs)")
    ap.add_argument("--bindir", default=os.path.join(county.ROOT, "build/release"),
                    help="build folder with the programs (default build/release)")
    ap.add_argument("--no-build", action="store_true",
                    help="skip installing packages and building; use the programs already in --bindir")
    args = ap.parse_args(argv)
    args.var_dir = os.path.abspath(args.var_dir)
    args.bindir = os.path.abspath(args.bindir)
    return args


def lock_path(var_dir):
    return var_dir.rstrip("/") + ".lock"


def acquire_lock(var_dir):
    """Takes the demo lock of `var_dir`: an exclusive flock on `<var_dir>.lock`, held until the
    returned descriptor is closed (or the process ends), with this process's PID written in the
    file. Raises LockHeld(path, pid or None) if another process holds it, OSError if the file
    cannot be created. The descriptor is close-on-exec, so children never inherit the lock."""
    path = lock_path(var_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            os.close(fd)
            raise
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            pid = int(text) if text.isdigit() else None
        finally:
            os.close(fd)
        raise LockHeld(path, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def port_problem(port):
    """None if 127.0.0.1:`port` can be bound (as the gateway will, with SO_REUSEADDR), otherwise
    the reason, e.g. 'Address already in use'."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def check_var_dir(var_dir):
    """Refuses a --var-dir that holds files this demo did not make (it would be deleted)."""
    if var_dir in ("/", county.ROOT) or county.ROOT.startswith(var_dir.rstrip("/") + "/"):
        raise UsageError(f"--var-dir {var_dir}: refusing to replace the repository or a folder above it")
    if not os.path.exists(var_dir) or var_dir == DEFAULT_VAR_DIR:
        return
    if not os.path.isdir(var_dir):
        raise UsageError(f"--var-dir {var_dir}: exists and is not a folder")
    if os.listdir(var_dir) and not os.path.exists(os.path.join(var_dir, MARKER)):
        raise UsageError(f"--var-dir {var_dir}: holds files not made by tools/demo; "
                         "give an empty or new folder (its contents are replaced at each start)")


def preflight(args):
    """Everything that must be true before anything is changed. Returns the lock descriptor.
    Raises UsageError or LockHeld; changes nothing but the lock file."""
    check_var_dir(args.var_dir)
    fd = acquire_lock(args.var_dir)
    try:
        if args.http_port:
            why = port_problem(args.http_port)
            if why:
                raise UsageError(f"port {args.http_port} on 127.0.0.1 is not free ({why}); "
                                 "pass --http-port 0 for any free port, or stop what uses it")
        if args.no_build:
            missing = [b for b in BINARIES if not os.access(os.path.join(args.bindir, b), os.X_OK)]
            if missing:
                raise UsageError(f"--no-build: {', '.join(missing)} not built in {args.bindir}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def build(args):
    """Installs the Debian packages and builds the release preset. Returns 0 or the failing exit code."""
    print("demo: installing the Debian packages and building the release preset "
          "(the first build takes several minutes) ...", flush=True)
    steps = [[os.path.join(county.ROOT, "tools/install-deps")],
             ["cmake", "--preset", "release"],
             ["cmake", "--build", "--preset", "release"]]
    for step in steps:
        quiet = step[1:3] == ["--preset", "release"]
        rc = subprocess.run(step, cwd=county.ROOT, stdout=subprocess.DEVNULL if quiet else None).returncode
        if rc != 0:
            print(f"demo: `{' '.join(step)}` failed (exit {rc}); nothing was started", file=sys.stderr)
            return rc
    return 0


def fresh_var_dir(var_dir):
    """Replaces the previous run's folder with an empty one carrying the marker."""
    shutil.rmtree(var_dir, ignore_errors=True)
    os.makedirs(var_dir)
    with open(os.path.join(var_dir, MARKER), "w") as f:
        f.write("made by tools/demo; replaced at its next start\n")


def write_figures(c, path):
    """The O&M figures (tools/fieldcrew.py figures) into `path`; returns the text ('' on failure)."""
    try:
        with open(c.fieldcrew_config, encoding="utf-8") as f:
            cfg = json.load(f)
        clock = fieldcrew.Clock(c.sim_start, c.origin, c.speed)
        text = fieldcrew.figures(cfg, clock, c.sim_start)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        return text
    except Exception as exc:  # noqa: BLE001 - figures are a report, never a reason to fail the demo
        print(f"demo: O&M figures not written ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return ""


# Real seconds the county takes to start, with room to spare: no offline alert while it starts.
# Measured from the gateway's start to the first record of the last of the 139 agents (38
# terminals, 101 pump stations): ~5 s in release; 31 s with ASan on 2 idle cores (2026-12-04: the
# simulator has spawned every agent after 13 s, but each ASan process then needs seconds of CPU
# before it reads its first instrument), more on a busy CI machine. With 30 s here CI opened the
# demo with 20 false offline alerts, all pump stations (the last agents to start), the earlier
# 300 simulated seconds (5 real seconds at x60) with 11. At x60 the 90 s are 1.5 simulated hours,
# inside the 30 minutes of lead and the demo scenario's first 3 h without faults.
DEMO_START_UP_REAL_S = 90


def demo_startup_grace_s(speed):
    """The gateway's startup_grace_s (simulated seconds) for a demo at `speed`: at least the
    gateway's default, at least DEMO_START_UP_REAL_S real seconds, at most a day (its limit)."""
    return int(min(86400, max(300, DEMO_START_UP_REAL_S * speed)))


def status_line(c):
    """One line of the county's state from GET /api/summary: terminals and pump stations online
    (`online N/M` is the terminals), today's volume, open alerts by type."""
    try:
        s = c.summary()
        alerts = ", ".join(f"{k} {v}" for k, v in sorted(s.get("open_alerts", {}).items()) if v)
        line = f"online {s['online']}/{s['terminals']}  offline {s['offline']}  "
        st = s.get("pump_stations") or {}
        if st.get("count"):
            line += f"pump stations online {st['online']}/{st['count']}  "
        return (line + f"volume today {s['volume_today_m3']:.1f} m3  "
                f"open alerts {s['open_alerts_total']}" + (f" ({alerts})" if alerts else ""))
    except Exception as exc:  # noqa: BLE001 - the gateway may be busy starting
        return f"waiting for the gateway ({exc.__class__.__name__})"


def run(args):
    c = county.County(args.var_dir, args.bindir, args.scenario, args.speed, http_port=args.http_port or None,
                      om=not args.no_fieldcrew, pump_stations=not args.terminals_only,
                      notify_log=os.path.join(args.var_dir, "notifications.jsonl"),
                      history_days=int(args.history_days),
                      startup_grace_s=demo_startup_grace_s(args.speed))
    figures_path = os.path.join(args.var_dir, "om-figures.txt")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    q = shlex.quote
    try:
        c.start()
        print(f"demo: web application on {c.api}/ : log in as admin, password {c.admin_password} "
              f"(also in {c.admin_password_file}; more users: sewage-gateway --config "
              f"{q(os.path.join(args.var_dir, 'gateway.toml'))} users add NAME --role viewer|operator|admin)")
        print(f"demo: API with the tools' operator token (in {c.token_file}): "
              f"curl -H \"Authorization: Bearer $(cat {q(c.token_file)})\" {c.api}/api/summary")
        print(f"demo: acknowledge alerts with: curl -X POST -H \"Authorization: Bearer $(cat {q(c.token_file)})\" "
              f"-d '{{\"by\":\"NAME\",\"note\":\"...\"}}' {c.api}/api/alerts/ID/ack")
        print(f"demo: score while it runs (from any folder): "
              f"{q(os.path.join(county.ROOT, 'tools/score'))} --api {c.api} --token-file {q(c.token_file)} "
              f"--truth {q(os.path.join(args.var_dir, 'sim'))} "
              f"--notifications {q(os.path.join(args.var_dir, 'notifications.jsonl'))} "
              f"(the alert raises the gateway notified, one JSON line each, to a webhook of the demo)")
        print(f"demo: broker {c.broker_uri} (TLS; throw-away CA {q(os.path.join(c.pki, 'ca.crt'))}); "
              f"every terminal has its own account (agents' snippets in {q(os.path.join(c.identities, 'agents'))}); "
              f"logs and data in {args.var_dir}")
        print(f"demo: revoke one terminal (a stolen SBC; it is disconnected, the others go on): "
              f"{q(os.path.join(c.bindir, 'tools/provision/sewage-provision'))} revoke --out {q(c.identities)} "
              f"--broker-pid {c.broker.pid} HY-WY-001")
        if c.om:
            q_conf = q(os.path.join(args.var_dir, "gateway.toml"))
            print(f"demo: O&M: contractors hy-north and hy-south; field crews, dispatcher and town officers simulated "
                  f"by tools/fieldcrew.py (log {q(c.fieldcrew_log)}); log in as crew-north / crew-south "
                  f"(contractors) or officer-north / officer-south (town officers), passwords in "
                  f"{q(args.var_dir)}/<user>-password")
            print(f"demo: O&M figures (time to fix, on-time rate, inspection completion, assessment) every minute "
                  f"and at the end in {q(figures_path)}; on demand: /usr/bin/python3 "
                  f"{q(os.path.join(county.ROOT, 'tools/fieldcrew.py'))} --config {q(c.fieldcrew_config)} "
                  f"--sim-start {county.iso(c.sim_start)} --time-origin {county.iso(c.origin)} --figures "
                  f"(gateway config {q_conf})")
        print("demo: Ctrl-C stops everything", flush=True)
        started = time.monotonic()
        last_figures = last_line = 0.0
        scenario_start = c._scenario_start()
        while not stopping:
            if not c.sim.running():
                print("\ndemo: the scenario has ended")
                break
            if args.duration and time.monotonic() - started >= args.duration:
                print()
                if args.headless:
                    print(f"demo: after {args.duration:g} s  {status_line(c)}", flush=True)
                break
            sim_now = c.sim_start + (county.dt.datetime.now(county.dt.timezone.utc) - c.origin) * c.speed
            if args.sim_duration_h and sim_now >= scenario_start + county.dt.timedelta(hours=args.sim_duration_h):
                print(f"\ndemo: simulated {args.sim_duration_h:g} h after the scenario start reached")
                break
            if c.om and time.monotonic() - last_figures >= 60:
                last_figures = time.monotonic()
                write_figures(c, figures_path)
            line = status_line(c)
            if args.headless:
                if time.monotonic() - last_line >= 30:
                    last_line = time.monotonic()
                    print(f"demo: simulated {county.iso(sim_now)}  {line}", flush=True)
            else:
                sys.stdout.write("\r\x1b[2K" + line)
                sys.stdout.flush()
            time.sleep(2)
    except KeyboardInterrupt:
        print()
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        c.stop()
        return 1
    if c.om and c.processes:
        text = write_figures(c, figures_path)
        if text:
            print(text + f"demo: (also in {figures_path})", flush=True)
    print("demo: stopping ...")
    c.stop()
    print("demo: stopped")
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        lock = preflight(args)
    except LockHeld as held:
        who = f"PID {held.pid}" if held.pid else "a process"
        print(f"demo: another demo ({who}) is running in {args.var_dir} (lock {held.path}); "
              f"stop it first (Ctrl-C in its terminal{f', or kill {held.pid}' if held.pid else ''}), "
              "or give this one its own --var-dir and --http-port", file=sys.stderr)
        return 2
    except (UsageError, OSError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        if not args.no_build:
            rc = build(args)
            if rc != 0:
                return 1
            if args.http_port and port_problem(args.http_port):
                print(f"demo: port {args.http_port} was taken while building; "
                      "pass --http-port 0 for any free port", file=sys.stderr)
                return 2
        fresh_var_dir(args.var_dir)
        return run(args)
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    finally:
        os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
