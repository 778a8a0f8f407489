"""Starts and stops the county's processes for tools/demo and the end-to-end test: a private
mosquitto on a free loopback port, sewage-gateway with SQLite, and sewage-sim (which starts one
sewage-agent per terminal). Every process is stopped by its PID. Python standard library only.

The county runs over TLS with per-terminal identities, as a real one does: at start a throw-away
CA and a broker certificate for 127.0.0.1 are made with openssl (workdir/pki), sewage-provision
writes every terminal's and the gateway's broker account, the ACL and the broker's TLS listener
(workdir/identities), mosquitto includes that folder, and each agent uses its own account.

With `om=True` (the demo) the county also has operations and maintenance (issue 12): two O&M
contractors splitting the registry's towns, auto-created work orders for the scripted faults'
alerts, town officers and field-crew accounts, the site key, and tools/fieldcrew.py (a simulated
field crew and its town officers and dispatcher) driving the orders; see om_config() and
start_fieldcrew().
"""
import base64
import ctypes
import datetime as dt
import hashlib
import hmac
import http.server
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY = os.path.join(ROOT, "tools/sim/county/haiyan-registry.toml")
NETWORK = os.path.join(ROOT, "tools/sim/county/haiyan-network.geojson")


def terminals_only_registry(text):
    """The registry text without its pump stations (`kind = "pump_station"` entries): each
    [[terminal]] block (up to the next one, its sub-tables included) is kept or dropped whole."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("[[terminal]]")]
    out = lines[:starts[0]] if starts else lines
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        block = "".join(lines[a:b])
        entry = tomllib.loads(block)["terminal"][0]
        if entry.get("kind", "terminal") != "pump_station":
            out.append(block)
    return "".join(out)


def terminals_only_scenario(text):
    """The scenario text without its network faults ([[fault]] blocks naming a `node` or a
    `segment`: they need the pipe network), and the dropped faults' types and places. A [[fault]]
    block runs to the next table header (a line starting with `[`), so the tables after the
    faults ([[sludge]], [truth]) are kept."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")] + [len(lines)]
    out, dropped, at = [], [], 0
    for a, b in zip(headers, headers[1:]):
        if not lines[a].lstrip().startswith("[[fault]]"):
            continue  # another table ([truth], [[weather]], [[sludge]]): kept as it is
        out += lines[at:a]
        at = b
        block = "".join(lines[a:b])
        fault = tomllib.loads(block)["fault"][0]
        where = fault.get("node") or fault.get("segment")
        if where:
            dropped.append(f"{fault.get('type')} at {where}")
        else:
            out.append(block)
    out += lines[at:]
    return "".join(out), dropped


def run_e2e(workdir, keep, body):
    """Runs an end-to-end test's `body()` (True = passed) and reports like the test command expects:
    an exception is a failure with its message and every process's log tail (never a hang), the
    wall time, "1 passed, 0 failed" or "0 passed, 1 failed", and `workdir` removed on success
    unless `keep`. `body` starts its County and registers it in the list it is given, which is
    stopped here. Returns the exit code (0 passed, 1 failed)."""
    started = time.monotonic()
    counties = []
    ok = False
    try:
        ok = bool(body(counties))
    except Exception as exc:  # report and fail, never hang
        print(f"e2e: FAILED: {exc}", file=sys.stderr)
        for c in counties:
            for p in c.processes:
                print(f"--- {p.name} log tail ---\n{p.tail()}", file=sys.stderr)
    finally:
        for c in counties:
            c.stop()
    print(f"e2e: wall time {time.monotonic() - started:.0f} s")
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    if not keep and ok:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"e2e: work dir kept: {workdir}")
    return 0 if ok else 1


class NotificationLog:
    """A webhook receiver on 127.0.0.1 (a thread of this process): every POST body, which for a
    `kind = "webhook"` notify target is one alert message JSON, is appended as one line to `path`
    (what `tools/score --notifications` reads) and answered 200. stop() closes it."""

    def __init__(self, path):
        self.path = path
        self.count = 0
        lock = threading.Lock()
        log = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace").replace("\n", " ").strip()
                with lock, open(log.path, "a", encoding="utf-8") as f:
                    f.write(body + "\n")
                    log.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        open(path, "w").close()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/notify"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


_PORTS_GIVEN = set()  # every port free_port() handed out in this process


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now and that this process has not been
    given before: two ports picked before either is bound (broker, then HTTP) never coincide.
    The kernel's port-0 choice alone can repeat. Another process may still take the port before
    it is bound; callers that start a server check that their own process opened it."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN and not port_open(port):
            _PORTS_GIVEN.add(port)
            return port
    raise RuntimeError("no free loopback port after 200 tries")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ram_workdir(prefix, need_bytes=2 << 30):
    """A new work directory on tmpfs (/dev/shm) when it is writable and has `need_bytes` free,
    else under the system's temporary directory. For a county on a fast simulated clock: at x240
    one real second is four simulated minutes, and a terminal's live window (3 report intervals
    of 60 s) is 0.75 real s. Every agent commits each record with fsync before it publishes it,
    as does the gateway's journal and store; a virtual disk that stalls fsync for a second (a
    shared host flushing) delays every agent's records at once past that window, and the
    gateway rightly raises offline for terminals the simulation itself held back (soak_short in
    CI, 2026-12-02: five terminals at the same instant). On tmpfs fsync returns at once. What is
    measured on such a county is detection and numbers, not storage: durability is tested on
    real storage (tests/integration, tools/chaos)."""
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= need_bytes:
            return tempfile.mkdtemp(prefix=prefix, dir=shm)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix=prefix)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent():
    """Runs in the child before exec: SIGTERM when the process that started it dies, so a killed
    demo (SIGKILL, closed terminal) leaves no processes writing into its folder or holding ports."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Process:
    """A child process with its output in a log file; stop() sends SIGTERM, then SIGKILL."""

    def __init__(self, name, args, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def stop(self, grace=15.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class County:
    """mosquitto + sewage-gateway + sewage-sim in `workdir`, sharing one simulated clock."""

    def __init__(self, workdir, bindir, scenario, speed, http_port=None, report_interval_s=60,
                 poll_interval_s=30.0, lead_h=0.5, registry=REGISTRY, om=False, fieldcrew_args=(),
                 pump_stations=True, network=NETWORK, station_agents=True, notify_log=None, history_days=0,
                 store_dir=None, startup_grace_s=None, offline_after_intervals=None, alert_settings=None):
        """pump_stations=False leaves the registry's pump stations out (a terminals-only copy of the
        registry in workdir, no pipe network): today's county of terminals, 101 fewer agents.
        network: the pipe network GeoJSON for the gateway ([network] file) and the simulator
        (--network) when pump stations are in; None: none. station_agents: the simulator starts
        an emulated I/O device and a sewage-agent per pump station (sewage-sim --station-agents);
        False simulates the stations' physics only, so they never report and each goes offline.
        notify_log: a file path: the gateway notifies alert raises to a webhook of this process
        (NotificationLog) that writes them there as JSON lines, for tools/score --notifications.
        history_days: before the gateway starts, the county's past weeks (sewage-sim-history: the
        same villages and pump stations, dry weather, no faults, one record per terminal every
        15 min, ending where the simulation starts, in the network state it starts in) are imported into its store (sewage-gateway import-history), so it
        starts with each village's learned normal flow (needs >= 5 days of each day type: 22 days
        hold 3 weekends) and weeks of daily volumes; 0: a new county with no history.
        store_dir: the folder of the gateway's SQLite store (default workdir; tools/chaos gives a
        small file system).
        startup_grace_s: the gateway's [alerts] startup_grace_s (simulated seconds without offline
        alerts after its start); None: the gateway's default (300 s), which at x60 is 5 real
        seconds, less than the simulator takes to start 139 agents: the demo gives more.
        offline_after_intervals: the gateway's [alerts] offline_after_intervals (report intervals
        without a live record before offline); None: the gateway's default (3).
        alert_settings: more [alerts] keys of gateway.toml as {key: int or float, written as given;
        not startup_grace_s or offline_after_intervals} (tools/soak sets clock_skew_raise_s above
        x240); None: none. Anything else (a bool, NaN, a quoted key) raises ValueError here."""
        self.startup_grace_s = startup_grace_s
        self.alert_settings = dict(alert_settings or {})
        for k, v in self.alert_settings.items():
            if k in ("startup_grace_s", "offline_after_intervals") or not k.replace("_", "").isalnum() or \
                    isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"alert_settings: {k} = {v!r}: a finite number under a bare key this class does "
                                 "not write itself")
        self.offline_after_intervals = offline_after_intervals
        self.registry = os.path.abspath(registry)
        self.pump_stations = pump_stations
        self.network = os.path.abspath(network) if network and pump_stations else None
        self.station_agents = station_agents and pump_stations
        self.om = om
        self.notify_log_path = os.path.abspath(notify_log) if notify_log else None
        self.notify_log = None
        self.fieldcrew_args = list(fieldcrew_args)
        self.fieldcrew = None
        self.workdir = os.path.abspath(workdir)
        self.bindir = os.path.abspath(bindir)
        self.scenario = os.path.abspath(scenario)
        self.speed = speed
        self.report_interval_s = report_interval_s
        self.poll_interval_s = poll_interval_s
        self.lead_h = lead_h
        self.history_days = history_days
        self.history_summary = None
        self.store_dir = os.path.abspath(store_dir) if store_dir else os.path.abspath(workdir)
        self.gateway_conf = None
        self.broker_port = free_port()
        self.http_port = http_port or free_port()
        self.processes = []
        self.ended = []  # (name, exit status, how) of the processes restart_*() ended on purpose
        # Made with the CLI at start (sewage-gateway users/tokens add): the tools' bearer token
        # (operator, whole county) and the admin account's random password; both also written,
        # mode 0600, to <workdir>/api-token and <workdir>/admin-password.
        self.token = None
        self.token_file = os.path.join(self.workdir, "api-token")
        self.admin_password = None
        self.admin_password_file = os.path.join(self.workdir, "admin-password")
        os.makedirs(self.workdir, exist_ok=True)

    @property
    def api(self):
        return f"http://127.0.0.1:{self.http_port}"

    def _scenario_start(self):
        with open(self.scenario) as f:
            for line in f:
                key, _, value = line.partition("=")
                if key.strip() == "start":
                    return dt.datetime.fromisoformat(value.split("#")[0].strip().replace("Z", "+00:00"))
        raise ValueError(f"{self.scenario}: no start")

    def start(self):
        if not self.pump_stations:
            with open(self.registry, encoding="utf-8") as f:
                text = terminals_only_registry(f.read())
            self.registry = os.path.join(self.workdir, "registry-terminals.toml")
            with open(self.registry, "w", encoding="utf-8") as f:
                f.write(text)
            with open(self.scenario, encoding="utf-8") as f:
                text, dropped = terminals_only_scenario(f.read())
            if dropped:
                self.scenario = os.path.join(self.workdir, "scenario-terminals.toml")
                with open(self.scenario, "w", encoding="utf-8") as f:
                    f.write(text)
                print(f"county: terminals only: the scenario's network faults are left out ({'; '.join(dropped)})",
                      file=sys.stderr)
        self._make_pki()
        self._provision()
        self._start_broker()
        conf = self._configure_gateway()
        origin = dt.datetime.now(dt.timezone.utc)
        sim_start = self._scenario_start() - dt.timedelta(hours=self.lead_h)
        self.gateway_conf = conf
        self._start_gateway(conf, sim_start, origin)
        sim = Process("sewage-sim", [
            os.path.join(self.bindir, "tools/sim/sewage-sim"),
            "--registry", self.registry, "--scenario", self.scenario,
            "--workdir", os.path.join(self.workdir, "sim"),
            "--broker-port", str(self.broker_port),
            "--identities", self.identities,
            "--agent", os.path.join(self.bindir, "firmware/sewage-agent"),
            "--speed", str(self.speed), "--lead-h", str(self.lead_h),
            "--report-interval-s", str(self.report_interval_s),
            "--camera", os.path.join(self.bindir, "tools/sim/sewage-sim-camera"),
            "--poll-interval-s", str(self.poll_interval_s),
            "--time-origin", iso(origin)]
            + (["--repair-dir", self.repair_dir] if self.om else [])
            + (["--network", self.network] if self.network else [])
            + (["--station-agents"] if self.station_agents and self.network else [])
            + (["--history-days", str(self.history_days)] if self.history_days and self.network else []),
            os.path.join(self.workdir, "sim.log"))
        self.processes.append(sim)
        self.sim = sim
        self.sim_start = sim_start
        self.origin = origin
        if self.om:
            self.start_fieldcrew()

    @property
    def pki(self):
        return os.path.join(self.workdir, "pki")

    @property
    def identities(self):
        return os.path.join(self.workdir, "identities")

    @property
    def broker_uri(self):
        return f"ssl://127.0.0.1:{self.broker_port}"

    def _openssl(self, *args):
        r = subprocess.run(["openssl", *args], cwd=self.pki, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("openssl " + " ".join(args) + " failed:\n" + r.stdout.decode("utf-8", "replace"))

    def _make_pki(self):
        """A throw-away county CA and the broker's certificate for 127.0.0.1 (EC P-256, 30 days)."""
        os.makedirs(self.pki, exist_ok=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self._openssl("req", "-x509", *ec, "-days", "30", "-subj", "/CN=Sewage demo county CA (throw-away)",
                      "-keyout", "ca.key", "-out", "ca.crt")
        self._openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", "broker.key", "-out", "broker.csr")
        with open(os.path.join(self.pki, "broker.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        self._openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                      "-days", "30", "-extfile", "broker.ext", "-out", "broker.crt")
        os.chmod(os.path.join(self.pki, "ca.key"), 0o600)
        os.chmod(os.path.join(self.pki, "broker.key"), 0o600)

    def _provision(self):
        """Every terminal's and the gateway's broker account, ACL and TLS listener (sewage-provision)."""
        args = [os.path.join(self.bindir, "tools/provision/sewage-provision"), "provision",
                "--registry", self.registry, "--out", self.identities, "--uri", self.broker_uri,
                "--ca-file", os.path.join(self.pki, "ca.crt"),
                "--broker-cert", os.path.join(self.pki, "broker.crt"),
                "--broker-key", os.path.join(self.pki, "broker.key"),
                "--listener-port", str(self.broker_port), "--listener-address", "127.0.0.1", "--no-reload"]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(os.path.join(self.workdir, "provision.log"), "ab") as f:
            f.write(r.stdout)
        if r.returncode != 0:
            raise RuntimeError("sewage-provision failed:\n" + r.stdout.decode("utf-8", "replace"))

    def _start_broker(self):
        data = os.path.join(self.workdir, "broker")
        os.makedirs(data, exist_ok=True)
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"""# Written by tools/county.py: a private broker for the simulated county.
# The TLS listener, accounts and ACL are in identities/broker/sewage.conf (sewage-provision).
per_listener_settings false
persistence true
persistence_location {data}/
autosave_interval 60
# Stock limits drop messages silently under load (DEPENDENCIES.md 3.5).
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 100
log_dest file {self.workdir}/broker.log
include_dir {self.identities}/broker
""" + ("user root\n" if os.geteuid() == 0 else ""))
        if port_open(self.broker_port):
            raise RuntimeError(f"port {self.broker_port} is already in use")
        broker = Process("mosquitto", ["mosquitto", "-c", conf], os.path.join(self.workdir, "broker.out"))
        self.processes.append(broker)
        self.broker = broker
        for _ in range(200):
            if broker.proc.poll() is not None:
                raise RuntimeError("mosquitto exited at start:\n" + broker.tail())
            if port_open(self.broker_port):
                return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start:\n" + broker.tail())

    def _configure_gateway(self):
        """Writes gateway.toml, makes the accounts and imports the history (before the simulated
        clock starts: an import takes tens of seconds). Returns the config path."""
        conf = os.path.join(self.workdir, "gateway.toml")
        with open(conf, "w", encoding="utf-8") as f:
            with open(os.path.join(self.identities, "gateway.toml")) as snippet:
                mqtt = snippet.read()  # [mqtt]: uri, client_id, username, password, ca_file
            f.write(f"""# Written by tools/county.py for the simulated county.
{mqtt}[store]
path = "{self.store_dir}/gateway.db"
[http]
listen = "127.0.0.1:{self.http_port}"
[registry]
path = "{self.registry}"
""" + (f"""[network]
file = "{self.network}"
""" if self.network else "") + self._alerts_config() + """[log]
level = "warn"
""" + (self.om_config() if self.om else "") + self._notify_config())
        os.chmod(conf, 0o600)  # it holds the gateway's broker password
        self._make_accounts(conf)
        if self.history_days:
            self._import_history(conf)
        return conf

    def _alerts_config(self):
        """The [alerts] table of gateway.toml: only what this county sets, else nothing."""
        keys = []
        if self.startup_grace_s is not None:
            keys.append(f"startup_grace_s = {int(self.startup_grace_s)}")
        if self.offline_after_intervals is not None:
            keys.append(f"offline_after_intervals = {float(self.offline_after_intervals)}")
        for k, v in sorted(self.alert_settings.items()):  # checked in __init__
            keys.append(f"{k} = {v}")
        return "".join(k + "\n" for k in ["[alerts]"] + keys) if keys else ""

    def _start_gateway(self, conf, sim_start, origin):
        gw = Process("sewage-gateway", [
            os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", conf,
            "--time-scale", str(self.speed), "--start-time", iso(sim_start),
            "--time-origin", iso(origin)], os.path.join(self.workdir, "gateway.log"))
        self.processes.append(gw)
        self.gateway = gw
        for _ in range(400):
            if gw.proc.poll() is not None:
                raise RuntimeError("sewage-gateway exited at start:\n" + gw.tail())
            if port_open(self.http_port):
                return
            time.sleep(0.05)
        raise RuntimeError("sewage-gateway did not open its HTTP port:\n" + gw.tail())

    def restart_broker(self, clean=False, down_s=0.0):
        """Stops mosquitto (SIGTERM: it writes its persistence file), waits `down_s` real seconds
        and starts it again on the same port. clean: its persistence file is deleted first, so it
        starts with no session and no queued message (as a broker with persistence false does).
        Returns the old process's exit status."""
        rc = self._end(self.broker, kill=False)
        if clean:
            for name in os.listdir(os.path.join(self.workdir, "broker")):
                if name.endswith(".db"):
                    os.remove(os.path.join(self.workdir, "broker", name))
        time.sleep(down_s)
        self._start_broker()
        return rc

    def restart_gateway(self, kill=False, down_s=0.0):
        """Stops sewage-gateway (SIGTERM, or SIGKILL when `kill`), waits `down_s` real seconds and
        starts it again with the same config on the same simulated timeline (the same --start-time
        and --time-origin: its clock goes on where the county's is). Returns the old exit status."""
        rc = self._end(self.gateway, kill)
        time.sleep(down_s)
        self._start_gateway(self.gateway_conf, self.sim_start, self.origin)
        return rc

    def _end(self, p, kill):
        if kill:
            p.proc.kill()
            p.proc.wait()
            p.log.close()
            rc = p.proc.returncode
        else:
            rc = p.stop(grace=30.0)
        self.processes.remove(p)
        self.ended.append((p.name, rc, "SIGKILL" if kill else "SIGTERM"))
        return rc

    def _import_history(self, conf):
        """The county's past `history_days` days into the gateway's store, before it starts."""
        started = time.monotonic()
        records = os.path.join(self.workdir, "history.jsonl")
        r = subprocess.run([os.path.join(self.bindir, "tools/sim/sewage-sim-history"), "--registry", self.registry,
                            "--scenario", self.scenario, "--lead-h", str(self.lead_h),
                            "--days", str(self.history_days), "--out", records]
                           + (["--network", self.network] if self.network else []),
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("sewage-sim-history failed:\n" + r.stdout + r.stderr)
        r = subprocess.run([os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", conf,
                            "import-history", records], capture_output=True, text=True, timeout=1200)
        if r.returncode != 0:
            raise RuntimeError("sewage-gateway import-history failed:\n" + r.stdout + r.stderr)
        self.history_summary = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
        os.remove(records)  # 30 MB for 22 days; the store has it now
        print(f"county: history imported in {time.monotonic() - started:.0f} s: {self.history_summary}",
              file=sys.stderr, flush=True)

    def _notify_config(self):
        """[[notify.target]] for notify_log: raises only (what tools/score counts per incident)."""
        if not self.notify_log_path:
            return ""
        self.notify_log = NotificationLog(self.notify_log_path)
        return f"""[[notify.target]]
name = "county-log"
kind = "webhook"
url = "{self.notify_log.url}"
allow_plaintext = true
events = ["raise"]
"""

    def _cli(self, conf, args, stdin_text=""):
        r = subprocess.run([os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", conf] + args,
                           input=stdin_text + "\n", capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"sewage-gateway {' '.join(args[:2])} failed: {r.stderr.strip()}")
        return r.stdout

    @staticmethod
    def _write_secret(path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")

    def _make_accounts(self, conf):
        """An `admin` account with a random password, and an operator token for the tools; with
        `om`, also the town officers' and field crews' accounts (om_accounts)."""
        self.admin_password = secrets.token_urlsafe(12)
        self._cli(conf, ["users", "add", "admin", "--role", "admin"], self.admin_password)
        self._write_secret(self.admin_password_file, self.admin_password)
        self.token = self._cli(conf, ["tokens", "add", "county-tools", "--role", "operator"]).strip()
        self._write_secret(self.token_file, self.token)
        if self.om:
            self.om_accounts(conf)

    # ---- operations and maintenance (issue 12) -------------------------------------------------

    # The demo county's two O&M contractors split the Haiyan towns north/south (19 terminals each
    # in tools/sim/county/haiyan-registry.toml); a registry with other towns gives the rest to
    # the second. ILLUSTRATIVE: the companies are made up.
    NORTH_TOWNS = ("Wuyuan", "Xitangqiao", "Wanghai", "Qinshan", "Ganpu")
    # Alert types of the scripted faults (tools/sim scenario.hpp expected_alert) that open orders.
    ORDER_ALERTS = ("no_flow", "turbidity_high", "sensor_fault", "offline", "cleanout_required",
                    "power_without_flow", "flow_without_power")

    @property
    def repair_dir(self):
        return os.path.join(self.workdir, "sim", "repairs")

    @property
    def fieldcrew_dir(self):
        return os.path.join(self.workdir, "fieldcrew")

    def sites(self):
        """The registry's terminals: [{id, town, lat, lon}]."""
        with open(self.registry, "rb") as f:
            reg = tomllib.load(f)
        return [{"id": t["id"], "town": t["town"], "lat": t["latitude"], "lon": t["longitude"]}
                for t in reg.get("terminal", [])]

    def contractors(self):
        """{name: {display_name, towns}}: hy-north and hy-south (see NORTH_TOWNS)."""
        towns = sorted({s["town"] for s in self.sites()})
        north = [t for t in towns if t.split(" ")[0] in self.NORTH_TOWNS]
        south = [t for t in towns if t not in north]
        return {"hy-north": {"display_name": "Haiyan North Water O&M (demo)", "towns": north},
                "hy-south": {"display_name": "Haiyan South Environmental Services (demo)", "towns": south}}

    def om_config(self):
        """The gateway's [om] tables for the demo: public_url = the demo's HTTP address, the site
        key, order policies for the scripted faults' alerts, inspections every day (compressed so
        that a three-day demo has due dates: a demo choice, not a recommendation), two contractors."""
        out = [f"""
[om]
public_url = "{self.api}"
site_key_file = "{self.site_key_file}"
photo_dir = "{self.workdir}/photos"

[om.work_orders]
# Due by severity: critical 4 h, warning 24 h (simulated time).
due_h = {{ critical = 4, warning = 24, info = 72 }}
escalate_county_after_h = 6
# The judge's period is REAL seconds (a timer of the gateway): one simulated minute at this speed.
check_interval_s = {max(1, round(60 / self.speed))}
"""]
        for t in self.ORDER_ALERTS:
            out.append(f"""[[om.work_orders.policy]]
type = "{t}"
min_severity = "info"
min_duration_s = 900
""")
        out.append("""[om.inspections]
interval_days_small = 1
interval_days_medium = 1
interval_days_large = 1
""")
        for name, c in self.contractors().items():
            towns = ", ".join(json.dumps(t, ensure_ascii=False) for t in c["towns"])
            out.append(f"""[[om.contractor]]
name = "{name}"
display_name = "{c['display_name']}"
towns = [{towns}]
sites = []
""")
        return "\n".join(out)

    @property
    def site_key_file(self):
        return os.path.join(self.workdir, "site-key")

    def _make_site_key(self):
        """The 32-byte key that signs the sites' QR tokens (the gateway's [om] site_key_file)."""
        if not os.path.exists(self.site_key_file):
            fd = os.open(self.site_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))

    def site_token(self, site_id):
        """The signed site token a site's printed QR code carries (gateway om/site_token.hpp:
        v1.<site>.<base64url, no padding, of HMAC-SHA256(key, "sewage-site-v1:" + site)>)."""
        with open(self.site_key_file, "rb") as f:
            key = f.read()
        mac = hmac.new(key, b"sewage-site-v1:" + site_id.encode(), hashlib.sha256).digest()
        return f"v1.{site_id}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def om_accounts(self, conf):
        """Town officers (operators limited to a contractor's towns) and field crews (role
        contractor): users with random passwords in <workdir>/<user>-password and API tokens for
        tools/fieldcrew.py, all files mode 0600. Then the bot's configuration: the tokens, every
        site's position and QR token (what the crews carry as printed QR cards), the repair folder."""
        self._make_site_key()
        os.makedirs(self.fieldcrew_dir, exist_ok=True)
        os.chmod(self.fieldcrew_dir, 0o700)
        crews, officers = {}, {}
        for name, c in self.contractors().items():
            area = name.split("-", 1)[1]
            officer = f"officer-{area}"
            town_args = [a for t in c["towns"] for a in ("--town", t)]
            password = secrets.token_urlsafe(12)
            self._cli(conf, ["users", "add", officer, "--role", "operator", *town_args], password)
            self._write_secret(os.path.join(self.workdir, f"{officer}-password"), password)
            crew = f"crew-{area}"
            password = secrets.token_urlsafe(12)
            self._cli(conf, ["users", "add", crew, "--role", "contractor", "--contractor", name], password)
            self._write_secret(os.path.join(self.workdir, f"{crew}-password"), password)
            crews[name] = self._cli(conf, ["tokens", "add", f"fieldcrew-{area}", "--role", "contractor",
                                           "--contractor", name]).strip()
            officers[name] = self._cli(conf, ["tokens", "add", f"fieldcrew-{officer}", "--role", "operator",
                                              *town_args]).strip()
        town_of = {t: n for n, c in self.contractors().items() for t in c["towns"]}
        sites = {s["id"]: {"town": s["town"], "lat": s["lat"], "lon": s["lon"], "contractor": town_of[s["town"]],
                           "token": self.site_token(s["id"])} for s in self.sites()}
        bot = {"api": self.api, "dispatcher_token": self.token, "crew_tokens": crews, "officer_tokens": officers,
               "sites": sites, "repair_dir": self.repair_dir, "speed": self.speed}
        self._write_secret(self.fieldcrew_config, json.dumps(bot, indent=1, ensure_ascii=False))

    @property
    def fieldcrew_config(self):
        return os.path.join(self.fieldcrew_dir, "config.json")

    @property
    def fieldcrew_log(self):
        return os.path.join(self.workdir, "fieldcrew.log")

    def start_fieldcrew(self):
        """tools/fieldcrew.py on the shared simulated clock; stopped with the county by PID."""
        args = ["/usr/bin/python3", os.path.join(ROOT, "tools/fieldcrew.py"), "--config", self.fieldcrew_config,
                "--log", self.fieldcrew_log, "--sim-start", iso(self.sim_start), "--time-origin", iso(self.origin),
                "--camera", os.path.join(self.bindir, "tools/sim/sewage-sim-camera"), *self.fieldcrew_args]
        self.fieldcrew = Process("fieldcrew", args, os.path.join(self.workdir, "fieldcrew.out"))
        self.processes.append(self.fieldcrew)

    def request(self, path):
        """A request to the gateway's API carrying the tools' bearer token."""
        return urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})

    def summary(self):
        with urllib.request.urlopen(self.request("/api/summary"), timeout=5) as resp:
            return json.load(resp)

    def wait_sim_end(self, limit_s, settle_s=2.0):
        """Waits for sewage-sim to end the scenario, then `settle_s` more (the gateway's last batch).
        Raises RuntimeError naming the process and its log tail when another process dies, the
        simulator exits non-zero, or `limit_s` real seconds pass."""
        started = time.monotonic()
        while self.sim.running():
            if time.monotonic() - started > limit_s:
                raise RuntimeError(f"the simulation did not finish within {limit_s:.0f} s")
            for p in self.processes:
                if p is not self.sim and not p.running():
                    raise RuntimeError(f"{p.name} died:\n{p.tail()}")
            time.sleep(1)
        if self.sim.proc.returncode != 0:
            raise RuntimeError(f"sewage-sim exited {self.sim.proc.returncode}:\n{self.sim.tail()}")
        time.sleep(settle_s)

    def stop(self):
        """Stops everything it started, newest first, by PID."""
        for p in reversed(self.processes):
            p.stop()
        self.processes.clear()
        if self.notify_log:
            self.notify_log.stop()
            self.notify_log = None
