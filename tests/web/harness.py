"""Browser-test harness for the gateway's web application (tests/web).

Starts, on free loopback ports and in a temporary folder, its own mosquitto and the built
sewage-gateway with a small registry (one terminal offline, one alerting, one normal; more can be
given), publishes records with mosquitto_pub (mosquitto-clients), and drives Debian's Chromium
headless (selenium 4 + chromedriver). Everything it starts is stopped by PID.

On a failed test, `Browser.save_failure(name)` writes `<name>.png` (screenshot) and
`<name>.console.log` (the browser console) into the artifacts folder (WEB_TEST_ARTIFACTS or
<bindir>/tests/web/artifacts), next to the test output.

A missing chromium, chromedriver or python3-selenium is a FAILURE, never a skip: these tests are
how the web application is checked (tools/install-deps installs them).

Users (issue 11): before the gateway starts, `County` creates with the gateway's own CLI
(`sewage-gateway --config F users add NAME --role R [--town T]`, password on stdin) the users of
USERS (admin, operator, viewer of the whole county; `op-a`, an operator of the first terminal's town)
plus any given, and a bearer token `harness` (admin) with `tokens add`, which County.get/post use.
Browser tests log in through the login page (WebTest.login in test_app.py).

Terminals are dicts {id, name, town, village, lat, lon, interval, role}; `County.populate()` gives
each its role: "normal" (records, online, no alert), "alerting" (records with turbidity far above
the limit: turbidity_high, critical), "offline" (a retained last will: offline at once, the gateway
runs with startup_grace_s = 0), "unknown" (nothing at all).

Used by tests/web/test_*.py (and the report page's test). Python 3 standard library + selenium.
"""
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from county import free_port, port_open  # noqa: E402  (one port picker: never the same port twice)
# name -> (password, role, towns). `None` towns: the first terminal's town (set per county).
USERS = {
    "admin": ("admin-pass-1", "admin", []),
    "operator": ("operator-pass-1", "operator", []),
    "viewer": ("viewer-pass-1", "viewer", []),
    "op-a": ("op-a-pass-1", "operator", None),
}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def require_browser():
    """Raises with a clear message when the browser stack is missing (never skip)."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("chromium (Debian package chromium)")
    if not os.path.exists(CHROMEDRIVER):
        missing.append("chromedriver (Debian package chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium (use /usr/bin/python3)")
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_pub") is None:
        missing.append("mosquitto and mosquitto-clients")
    if missing:
        raise RuntimeError("browser tests cannot run, missing: " + ", ".join(missing) + " -- run tools/install-deps")


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_utc():
    return dt.datetime.now(dt.timezone.utc)


class Process:
    """A child process with its output in a log file; stop() sends SIGTERM, then SIGKILL, by PID."""

    def __init__(self, name, args, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def running(self):
        return self.proc.poll() is None

    def stop(self, grace=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


# The default county: Chinese names on purpose (search, fonts). Coordinates in Haiyan county.
DEFAULT_TERMINALS = [
    {"id": "WT-OFF-01", "name": "沈荡镇五丰村", "town": "Shendang", "village": "Wufeng",
     "lat": 30.5012, "lon": 120.8105, "interval": 60, "role": "offline"},
    {"id": "WT-ALR-02", "name": "百步镇农丰村", "town": "Baibu", "village": "Nongfeng",
     "lat": 30.5601, "lon": 120.8833, "interval": 60, "role": "alerting"},
    {"id": "WT-NRM-03", "name": "Wuyuan Village No. 3", "town": "Wuyuan", "village": "Wuyuan",
     "lat": 30.5265, "lon": 120.9421, "interval": 60, "role": "normal"},
]


class County:
    """mosquitto + sewage-gateway in a temp folder; publishes records for the terminals."""

    def __init__(self, bindir, terminals=None, workdir=None, keep=False, extra_http="", users=None, https=False,
                 extra_store=""):
        self.bindir = os.path.abspath(bindir)
        self.terminals = terminals or DEFAULT_TERMINALS
        self.keep = keep
        self.workdir = workdir or tempfile.mkdtemp(prefix="sewage-web-")
        self.broker_port = free_port()
        self.http_port = free_port()
        self.extra_http = extra_http
        self.extra_store = extra_store  # more [store] lines (e.g. "rollup_after_days = 1")
        self.broker = None
        self.gateway = None
        town_a = self.terminals[0]["town"]
        self.users = {n: (pw, role, [town_a] if towns is None else towns) for n, (pw, role, towns) in USERS.items()}
        self.users.update(users or {})
        self.token = None  # the harness's bearer token (admin), made at start
        self.https = https  # the gateway's own HTTPS listener with a throw-away certificate
        self.ssl_context = None

    @property
    def url(self):
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.http_port}"

    def _make_certificate(self):
        """A self-signed certificate for 127.0.0.1 (openssl, at test time); the harness's own
        HTTP calls trust exactly it. Returns the [http] lines."""
        import ssl
        crt, key = os.path.join(self.workdir, "gw.crt"), os.path.join(self.workdir, "gw.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        self.ssl_context = ssl.create_default_context(cafile=crt)
        return f'tls_cert_file = "{crt}"\ntls_key_file = "{key}"\n'

    # ---- processes
    def start(self):
        self._start_broker()
        self._write_registry()
        self._write_config()
        for name, (password, role, towns) in self.users.items():
            self.add_user(name, password, role, towns)
        self.token = self.cli(["tokens", "add", "harness", "--role", "admin"]).strip().splitlines()[-1]
        self.start_gateway()
        return self

    # ---- users (the gateway's CLI against the same configuration and store)
    def cli(self, args, stdin=""):
        """Runs `sewage-gateway --config <conf> ARGS...` and returns its stdout; raises with its
        output on failure. Secrets go through stdin, never the command line."""
        r = subprocess.run([os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", self.config_path] + args,
                           input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"sewage-gateway {args[:2]} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
        return r.stdout.decode()

    def add_user(self, name, password, role, towns=()):
        args = ["users", "add", name, "--role", role]
        for t in towns:
            args += ["--town", t]
        self.cli(args, password + "\n")
        self.users[name] = (password, role, list(towns))

    def _start_broker(self):
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"per_listener_settings false\nlistener {self.broker_port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence false\nmax_queued_messages 100000\n" + ("user root\n" if os.geteuid() == 0 else ""))
        self.broker = Process("mosquitto", ["mosquitto", "-c", conf], os.path.join(self.workdir, "broker.log"))
        self._wait_port(self.broker, self.broker_port)

    def _write_registry(self):
        lines = []
        for t in self.terminals:
            lines.append(f"""[[terminal]]
id = "{t['id']}"
name = "{t['name']}"
town = "{t['town']}"
village = "{t['village']}"
latitude = {t['lat']}
longitude = {t['lon']}
design_capacity_m3d = {t.get('capacity', 30.0)}
discharge_grade = "grade_1"
report_interval_s = {t['interval']}
[terminal.thresholds]
turbidity_debounce_s = 0
""")
        self.registry = os.path.join(self.workdir, "registry.toml")
        with open(self.registry, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    @property
    def config_path(self):
        return os.path.join(self.workdir, "gateway.toml")

    def _write_config(self):
        tls = self._make_certificate() if self.https else ""
        with open(self.config_path, "w") as f:
            f.write(f"""[mqtt]
uri = "tcp://127.0.0.1:{self.broker_port}"
allow_plaintext = true
client_id = "sewage-gateway-web-test"
[store]
path = "{self.workdir}/gateway.db"
flush_interval_ms = 50
{self.extra_store}
[http]
listen = "127.0.0.1:{self.http_port}"
web_root = "{ROOT}/gateway/web"
poll_interval_ms = 1000
{tls}{self.extra_http}
[registry]
path = "{self.registry}"
[alerts]
startup_grace_s = 0
tick_ms = 200
[log]
level = "info"
""")

    def start_gateway(self):
        conf = self.config_path
        self.gateway = Process("sewage-gateway", [os.path.join(self.bindir, "gateway/sewage-gateway"), "--config", conf],
                               os.path.join(self.workdir, "gateway.log"))
        self._wait_port(self.gateway, self.http_port)
        deadline = time.time() + 15
        while time.time() < deadline:  # connected to the broker
            if not self.gateway.running():
                raise RuntimeError("sewage-gateway exited at start:\n" + self.gateway.tail())
            try:
                if self.get("/healthz").get("mqtt_connected"):
                    return
            except urllib.error.HTTPError as e:
                if json.load(e).get("mqtt_connected"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("sewage-gateway did not connect to the broker:\n" + self.gateway.tail())

    def stop_gateway(self):
        if self.gateway:
            self.gateway.stop()

    @staticmethod
    def _wait_port(proc, port):
        for _ in range(300):
            if not proc.running():
                raise RuntimeError(f"{proc.name} exited at start:\n" + proc.tail())
            if port_open(port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{proc.name} did not open port {port}:\n" + proc.tail())

    def stop(self):
        for p in (self.gateway, self.broker):
            if p:
                p.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- MQTT
    def publish(self, topic, payload, retain=False):
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker_port), "-q", "1", "-t", topic]
        if retain:
            args.append("-r")
        if isinstance(payload, (bytes, bytearray)):
            path = os.path.join(self.workdir, "payload.bin")
            with open(path, "wb") as f:
                f.write(payload)
            args += ["-f", path]
        else:
            args += ["-m", payload if isinstance(payload, str) else json.dumps(payload)]
        subprocess.run(args, check=True, timeout=10)

    def publish_many(self, topic, payloads):
        """One mosquitto_pub for many messages (-l: one per line)."""
        data = "\n".join(json.dumps(p) for p in payloads) + "\n"
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker_port), "-q", "1", "-t", topic, "-l"],
                       input=data.encode(), check=True, timeout=30)

    def publish_image(self, tid, jpeg):
        self.publish(f"sewage/v1/{tid}/image", bytes(jpeg), retain=True)

    def subscribe(self, topic, count=1, timeout_s=30):
        """Starts mosquitto_sub in the background; .wait() returns the received payloads."""
        return Subscriber(self.broker_port, topic, count, timeout_s, self.workdir)

    @staticmethod
    def record(tid, seq, ts, interval_s=60, rate=0.9, total=1000.0, ntu=3.0, sludge=0.8, cleanout=False,
               epoch="0123456789abcdef"):
        return {"terminal_id": tid, "epoch": epoch, "seq": seq, "ts": iso(ts), "interval_s": interval_s,
                "flow": {"status": "ok", "rate_m3h": rate, "total_m3": round(total, 3)},
                "turbidity": {"status": "ok", "ntu": ntu, "min_ntu": ntu, "max_ntu": ntu},
                "sludge": {"status": "ok", "level_m": sludge, "cleanout_required": cleanout},
                "queue_depth": 0, "dropped": 0}

    def history(self, tid, n, ntu=3.0, start_total=1000.0, end=None, interval_s=60):
        """n records ending at `end` (default now), one per interval; the last one is live."""
        end = end or now_utc()
        out = []
        total = start_total
        for i in range(n):
            ts = end - dt.timedelta(seconds=interval_s * (n - 1 - i))
            rate = 0.6 + 0.4 * ((i % 10) / 10)
            total += rate * interval_s / 3600
            out.append(self.record(tid, i + 1, ts, interval_s, rate=round(rate, 2), total=total,
                                   ntu=ntu if callable(ntu) is False else ntu(i), sludge=round(0.5 + i * 0.001, 3)))
        return out

    def populate(self, points=30):
        """The default scenario: the normal and alerting terminals get `points` records each (the
        alerting one with turbidity far above the limit: turbidity_high), the offline one a last
        will (offline at once). Waits until the API shows each state. Returns the records sent."""
        sent = {}
        for t in self.terminals:
            if t["role"] == "unknown":  # never heard of: no record, no status
                continue
            if t["role"] == "offline":
                self.publish(f"sewage/v1/{t['id']}/status",
                             {"terminal_id": t["id"], "state": "offline", "reason": "connection_lost"},
                             retain=True)
                continue
            recs = self.history(t["id"], points, ntu=25.0 if t["role"] == "alerting" else 3.0, interval_s=t["interval"])
            self.publish_many(f"sewage/v1/{t['id']}/telemetry", recs)
            sent[t["id"]] = recs
        self.wait_for(lambda: self._states_reached(), 20, "terminal states")
        return sent

    def _states_reached(self):
        want = {"offline": "offline", "alerting": "alert_critical", "normal": "normal"}
        got = {x["id"]: x for x in self.get("/api/terminals")["terminals"]}
        for t in self.terminals:
            x = got.get(t["id"])
            if x is None:
                return False
            role = t["role"]
            if role == "offline" and x["state"] != "offline":
                return False
            if role == "alerting" and not x["open_alerts"]:
                return False
            if role == "normal" and (x["state"] != "online" or x["open_alerts"]):
                return False
            if "state_class" in x and role in want and x["state_class"] != want[role]:
                return False
        return True

    # ---- HTTP
    def get(self, path, token=None):
        """GET as the harness's admin token (or `token`)."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token or self.token}"})
        with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as r:
            return json.load(r)

    def post(self, path, body, token=None):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token or self.token}"})
        with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as r:
            return json.load(r)

    @staticmethod
    def wait_for(cond, timeout_s, what):
        deadline = time.time() + timeout_s
        last = None
        while time.time() < deadline:
            try:
                if cond():
                    return
            except Exception as e:  # noqa: BLE001 - retried until the deadline
                last = e
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}" + (f" (last error: {last})" if last else ""))


class Subscriber:
    """mosquitto_sub in the background for `count` messages on `topic` (its output in a file)."""

    def __init__(self, port, topic, count, timeout_s, workdir):
        self.out = os.path.join(workdir, f"sub-{time.time_ns()}.txt")
        self.f = open(self.out, "wb")
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
                                      "-C", str(count), "-W", str(timeout_s)], stdout=self.f, stderr=subprocess.STDOUT)
        time.sleep(0.3)  # subscribed before anything is published

    def wait(self, timeout_s=30):
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.f.close()
        with open(self.out, "rb") as f:
            return [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]


class Browser:
    """Headless Chromium through chromedriver; console captured (goog:loggingPrefs)."""

    def __init__(self, width=1366, height=900, lang="en-US", artifacts=None, accept_insecure_certs=False):
        require_browser()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  f"--window-size={width},{height}", f"--lang={lang}", "--no-first-run",
                  "--disable-extensions", "--disable-background-networking"]:
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if accept_insecure_certs:  # the gateway's throw-away HTTPS certificate (County(https=True))
            opts.set_capability("acceptInsecureCerts", True)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(30)
        self.console = []
        self.artifacts = artifacts or os.environ.get("WEB_TEST_ARTIFACTS") or tempfile.gettempdir()
        os.makedirs(self.artifacts, exist_ok=True)

    def open(self, url):
        self.driver.get(url)
        self.wait_js("return document.body.dataset.ready === '1'", 20, "the application to start")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait_js(self, script, timeout_s, what, *args):
        deadline = time.time() + timeout_s
        last = None
        while time.time() < deadline:
            try:
                v = self.js(script, *args)
                if v:
                    return v
            except Exception as e:  # noqa: BLE001 - retried until the deadline
                last = e
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}" + (f" ({last})" if last else ""))

    def log_in(self, county, user="operator"):
        """On the login page (waits for it): logs in as `user` with its password from `county`
        and waits until the application shows who is logged in."""
        self.wait_js("return location.hash.startsWith('#/login') && document.getElementById('login-form')", 10, "login")
        for field, value in (("login-user", user), ("login-password", county.users[user][0])):
            el = self.driver.find_element("id", field)
            el.clear()
            el.send_keys(value)
        self.driver.find_element("id", "login-submit").click()
        self.wait_js("return !document.getElementById('who').hidden", 10, f"{user} logged in")

    def logs(self):
        """New console entries since the last call (kept in self.console too)."""
        new = self.driver.get_log("browser")
        self.console.extend(new)
        return new

    def console_errors(self):
        """Console entries at error level, except the session resource's 401: GET /api/session
        answers 401 when nobody is logged in (the application asks at start) and POST when the
        password is wrong; Chromium logs every 4xx answer of fetch() as an error."""
        self.logs()
        return [e for e in self.console if e.get("level") == "SEVERE"
                and not ("/api/session" in e.get("message", "") and "status of 401" in e.get("message", ""))]

    def set_size(self, width, height):
        self.driver.set_window_size(width, height)

    def save_failure(self, name):
        """Screenshot and console log next to the test output; returns the paths."""
        png = os.path.join(self.artifacts, f"{name}.png")
        log = os.path.join(self.artifacts, f"{name}.console.log")
        try:
            self.driver.save_screenshot(png)
        except Exception as e:  # noqa: BLE001
            png = f"(no screenshot: {e})"
        try:
            self.logs()
        except Exception:  # noqa: BLE001
            pass
        with open(log, "w", encoding="utf-8") as f:
            for e in self.console:
                f.write(f"{e.get('timestamp')} {e.get('level')} {e.get('message')}\n")
        return png, log

    def make_jpeg(self, label, width=640, height=360):
        """A JPEG drawn on a canvas in this browser (a stand-in for the terminal's camera picture:
        sky, ground, a treatment tank, the label); returns its bytes. No imaging library needed."""
        import base64
        self.driver.get("about:blank")
        data = self.js("""
          const [label, w, h] = arguments;
          const c = document.createElement('canvas'); c.width = w; c.height = h;
          const g = c.getContext('2d');
          g.fillStyle = '#9cc9e8'; g.fillRect(0, 0, w, h * 0.55);
          g.fillStyle = '#6b8e4e'; g.fillRect(0, h * 0.55, w, h * 0.45);
          g.fillStyle = '#b8b8b0'; g.fillRect(w * 0.3, h * 0.35, w * 0.4, h * 0.35);
          g.fillStyle = '#5d6d7e'; g.fillRect(w * 0.3, h * 0.33, w * 0.4, h * 0.04);
          g.fillStyle = '#2c3e50'; g.fillRect(w * 0.62, h * 0.45, w * 0.05, h * 0.12);
          g.fillStyle = '#fff'; g.font = 'bold 22px sans-serif'; g.fillText(label, 16, 32);
          return c.toDataURL('image/jpeg', 0.8).split(',')[1];""", label, width, height)
        return base64.b64decode(data)

    def quit(self):
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001
            pass


def artifacts_dir(bindir):
    d = os.environ.get("WEB_TEST_ARTIFACTS") or os.path.join(os.path.abspath(bindir), "tests", "web", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def bindir_from_argv():
    """--bindir BUILD_DIR from sys.argv (removed, so unittest sees the rest)."""
    if "--bindir" in sys.argv:
        i = sys.argv.index("--bindir")
        b = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        return b
    return os.environ.get("SEWAGE_BINDIR", os.path.join(ROOT, "build", "dev"))


class PageTest(unittest.TestCase):
    """Base of a browser test class: one county and one browser for the whole class, a screenshot
    and the console log saved under the artifacts folder for every failing test. A subclass sets
    NAME (the artifacts' prefix, e.g. "web_orders") and BINDIR (bindir_from_argv()), and may
    override make_county()."""

    NAME = "web_page"
    BINDIR = None

    @classmethod
    def make_county(cls):
        """The county the class runs against, started; the default is harness.County."""
        return County(cls.BINDIR).start()

    @classmethod
    def setUpClass(cls):
        require_browser()
        cls.county = cls.make_county()
        try:
            cls.browser = Browser(artifacts=artifacts_dir(cls.county.bindir))
        except Exception:
            cls.county.stop()
            raise
        cls.b = cls.browser

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.county.stop()

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            png, log = self.browser.save_failure(f"{self.NAME}.{self._testMethodName}")
            print(f"saved {png} and {log}", file=sys.stderr)
        return result
