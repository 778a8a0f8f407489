"""Starts and stops the county's processes for tools/demo and the end-to-end test: a private
mosquitto on a free loopback port, sewage-gateway with SQLite, and sewage-sim (which starts one
sewage-agent per terminal). Every process is stopped by its PID. Python standard library only.

The county runs over TLS with per-terminal identities, as a real one does: at start a throw-away
CA and a broker certificate for 127.0.0.1 are made with openssl (workdir/pki), sewage-provision
writes every terminal's and the gateway's broker account, the ACL and the broker's TLS listener
(workdir/identities), mosquitto includes that folder, and each agent uses its own account.
"""
import ctypes
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY = os.path.join(ROOT, "tools/sim/county/haiyan-registry.toml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


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
                 poll_interval_s=30.0, lead_h=0.5):
        self.workdir = os.path.abspath(workdir)
        self.bindir = os.path.abspath(bindir)
        self.scenario = os.path.abspath(scenario)
        self.speed = speed
        self.report_interval_s = report_interval_s
        self.poll_interval_s = poll_interval_s
        self.lead_h = lead_h
        self.broker_port = free_port()
        self.http_port = http_port or free_port()
        self.processes = []
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
        self._make_pki()
        self._provision()
        self._start_broker()
        origin = dt.datetime.now(dt.timezone.utc)
        sim_start = self._scenario_start() - dt.timedelta(hours=self.lead_h)
        self._start_gateway(sim_start, origin)
        sim = Process("sewage-sim", [
            os.path.join(self.bindir, "tools/sim/sewage-sim"),
            "--registry", REGISTRY, "--scenario", self.scenario,
            "--workdir", os.path.join(self.workdir, "sim"),
            "--broker-port", str(self.broker_port),
            "--identities", self.identities,
            "--agent", os.path.join(self.bindir, "firmware/sewage-agent"),
            "--speed", str(self.speed), "--lead-h", str(self.lead_h),
            "--report-interval-s", str(self.report_interval_s),
            "--camera", os.path.join(self.bindir, "tools/sim/sewage-sim-camera"),
            "--poll-interval-s", str(self.poll_interval_s),
            "--time-origin", iso(origin)], os.path.join(self.workdir, "sim.log"))
        self.processes.append(sim)
        self.sim = sim

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
                "--registry", REGISTRY, "--out", self.identities, "--uri", self.broker_uri,
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

    def _start_gateway(self, sim_start, origin):
        conf = os.path.join(self.workdir, "gateway.toml")
        with open(conf, "w") as f:
            with open(os.path.join(self.identities, "gateway.toml")) as snippet:
                mqtt = snippet.read()  # [mqtt]: uri, client_id, username, password, ca_file
            f.write(f"""# Written by tools/county.py for the simulated county.
{mqtt}[store]
path = "{self.workdir}/gateway.db"
[http]
listen = "127.0.0.1:{self.http_port}"
[registry]
path = "{REGISTRY}"
[log]
level = "warn"
""")
        os.chmod(conf, 0o600)  # it holds the gateway's broker password
        self._make_accounts(conf)
        gw = Process("sewage-gateway", [
            os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", conf,
            "--time-scale", str(self.speed), "--start-time", iso(sim_start),
            "--time-origin", iso(origin)], os.path.join(self.workdir, "gateway.log"))
        self.processes.append(gw)
        for _ in range(400):
            if gw.proc.poll() is not None:
                raise RuntimeError("sewage-gateway exited at start:\n" + gw.tail())
            if port_open(self.http_port):
                return
            time.sleep(0.05)
        raise RuntimeError("sewage-gateway did not open its HTTP port:\n" + gw.tail())

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
        """An `admin` account with a random password, and an operator token for the tools."""
        self.admin_password = secrets.token_urlsafe(12)
        self._cli(conf, ["users", "add", "admin", "--role", "admin"], self.admin_password)
        self._write_secret(self.admin_password_file, self.admin_password)
        self.token = self._cli(conf, ["tokens", "add", "county-tools", "--role", "operator"]).strip()
        self._write_secret(self.token_file, self.token)

    def request(self, path):
        """A request to the gateway's API carrying the tools' bearer token."""
        return urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})

    def summary(self):
        with urllib.request.urlopen(self.request("/api/summary"), timeout=5) as resp:
            return json.load(resp)

    def stop(self):
        """Stops everything it started, newest first, by PID."""
        for p in reversed(self.processes):
            p.stop()
        self.processes.clear()
