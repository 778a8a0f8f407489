#!/usr/bin/python3
"""The demo's simulated field crews, their dispatcher and their town officers (issue 12 item 9).
SIMULATION ONLY. Python 3 standard library only.

It plays, through the gateway's public API with the accounts tools/county.py made:
  * the county dispatcher (the tools' operator token): dispatches every open or reopened work
    order to the site's contractor after a short delay (the gateway's policy only creates orders);
  * one field crew per contractor (role contractor tokens): takes its dispatched orders one at a
    time, travels (a plausible delay), checks in with the site's QR token and a phone position a
    few to tens of metres from the site, goes on site, works, uploads a photo (a JPEG from
    sewage-sim-camera, else a generated PNG) with its position, ends the fault in the simulator
    (a repair file in sewage-sim's --repair-dir), and marks the order fixed with a cause and the
    parts for its fault type; when it has no order it inspects the site of its contractor whose
    inspection is due soonest (check-in, start, every checklist item answered, complete);
  * one town officer per contractor area (operators limited to those towns): verifies fixed
    orders after a delay.
Scripted cases (on by default, off with --no-scripted-cases): the first critical order of
`--slow-contractor` (default hy-south) is set out for only 30 min after its due time, the crew
doing its other work meanwhile (the overdue escalation fires), and the
first order of `--reopen-contractor` (default hy-north) that its officer checks is reopened once
(the crew comes back, checks in again, fixes again; then it is verified).

Times are simulated: the clock is the one the gateway and the simulator share (--sim-start at
--time-origin, --speed x). Every action is logged to --log. HTTP errors and a restarting gateway
are retried with back-off; a bad reply is logged and skipped, never fatal. SIGTERM stops it.

  fieldcrew.py --config DIR/fieldcrew/config.json --log DIR/fieldcrew.log --sim-start ISO --time-origin ISO
  fieldcrew.py --config ... --figures [--out FILE]     # print the O&M figures once and exit
"""
import argparse
import datetime as dt
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

# What a crew finds and uses, by the order's fault type (the gateway's alert types). Illustrative.
REPAIRS = {
    "no_flow": ("Outlet pipe blocked by rags and grease; rodded and flushed", "drain rods; 1 DN110 gasket"),
    "turbidity_high": ("Treatment upset: aeration diffuser clogged, blower filter dirty; cleaned, aeration restored",
                       "1 blower air filter; 2 diffuser membranes"),
    "sensor_fault": ("Turbidity probe not answering: wet RS-485 connector; dried, resealed, probe cleaned",
                     "1 M12 RS-485 connector; sealant"),
    "offline": ("Terminal offline: tripped supply breaker / hung 4G router; reset and power supply replaced",
                "1 12 V router power supply"),
    "cleanout_required": ("Sludge at clean-out level: tank emptied by suction tanker, sludge to the county WWTP",
                          "suction tanker (3 m3 sludge removed)"),
    "power_without_flow": ("Pump running dry: impeller jammed by debris; cleared", "1 impeller wear ring"),
    "flow_without_power": ("kWh meter without supply: fuse blown; replaced", "1 fuse 2 A"),
}
DEFAULT_REPAIR = ("Fault checked on site and repaired", "none")
# The simulator's fault type when an alert has exactly one (scenario.hpp expected_alert); other
# alerts end every active fault of the terminal.
SIM_FAULT = {"turbidity_high": "turbidity_excursion", "cleanout_required": "sludge_cleanout",
             "power_without_flow": "pump_dry_run", "flow_without_power": "meter_no_power"}


def parse_iso(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Clock:
    """The shared simulated clock: sim_start at real time_origin, speed simulated s per real s."""

    def __init__(self, sim_start, time_origin, speed):
        self.sim_start, self.time_origin, self.speed = sim_start, time_origin, speed

    def now(self):
        return self.sim_start + (dt.datetime.now(dt.timezone.utc) - self.time_origin) * self.speed

    def real_s(self, sim_s):
        return sim_s / self.speed


class Api:
    """JSON over HTTP with one bearer token per call. Connection errors, 5xx and 429 are retried
    with back-off (0.5 s doubling to 8 s, for up to `patience_s` real seconds); the result is
    (status, body) with body the parsed JSON (or {"raw": text}); (None, {"error": ...}) when the
    gateway could not be reached. Never raises."""

    def __init__(self, base, log, patience_s=60.0, stop=lambda: False):
        self.base, self.log, self.patience_s, self.stop = base.rstrip("/"), log, patience_s, stop

    def call(self, method, path, token, body=None, data=None, content_type="application/json"):
        if body is not None:
            data = json.dumps(body).encode()
        delay, deadline = 0.5, time.monotonic() + self.patience_s
        while True:
            req = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}"})
            if data is not None:
                req.add_header("Content-Type", content_type)
            status, text, why = None, "", ""
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    status, text = r.status, r.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as e:
                status = e.code
                try:
                    text = e.read().decode("utf-8", "replace")
                except Exception:  # noqa: BLE001 - a broken body is still an answer
                    text = ""
            except Exception as e:  # noqa: BLE001 - refused, reset, timeout: retried
                why = f"{e.__class__.__name__}: {e}"
            if status is not None and status < 500 and status != 429:
                try:
                    parsed = json.loads(text) if text else {}
                except ValueError:
                    parsed = {"raw": text[:200]}
                if not isinstance(parsed, dict):
                    parsed = {"value": parsed}
                return status, parsed
            if time.monotonic() >= deadline or self.stop():
                self.log(f"giving up on {method} {path}: {why or f'HTTP {status} {text[:200]}'}")
                return status, {"error": why or text[:200]}
            self.log(f"retrying {method} {path} in {delay:.1f} s: {why or f'HTTP {status}'}")
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


def png(width, height, rgb_of):
    """A PNG (8-bit RGB) made with zlib and struct: rgb_of(x, y) -> (r, g, b)."""
    rows = b"".join(b"\0" + bytes(c for x in range(width) for c in rgb_of(x, y)) for y in range(height))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def jitter(lat, lon, rng, low_m=3.0, high_m=40.0):
    """A phone position `low_m`..`high_m` metres from (lat, lon) in a random direction."""
    d, b = rng.uniform(low_m, high_m), rng.uniform(0, 2 * math.pi)
    return (lat + d * math.cos(b) / 111_320.0,
            lon + d * math.sin(b) / (111_320.0 * math.cos(math.radians(lat))))


class Bot:
    def __init__(self, cfg, clock, log_path, camera=None, seed=12, scripted=True, slow_contractor="hy-south",
                 reopen_contractor="hy-north", dispatch_delay_min=10.0, travel_min=(20.0, 50.0),
                 work_min=(20.0, 45.0), verify_delay_min=(30.0, 90.0), inspect=True):
        self.cfg, self.clock, self.camera = cfg, clock, camera
        self.rng = random.Random(seed)
        self.log_file = open(log_path, "a", buffering=1, encoding="utf-8")
        self.stopping = False
        self.api = Api(cfg["api"], self.log, stop=lambda: self.stopping)
        self.scripted = scripted
        self.slow_contractor, self.reopen_contractor = slow_contractor, reopen_contractor
        self.slow_done = set()      # contractors whose slow order was picked
        self.deferred = {}          # order id -> simulated time the held-up crew sets out
        self.reopened = set()       # contractors whose order was reopened once
        self.dispatch_delay_min, self.travel_min, self.work_min = dispatch_delay_min, travel_min, work_min
        self.verify_delay_min, self.inspect = verify_delay_min, inspect
        self.jobs = {}              # contractor -> current job (dict)
        self.verify_at = {}         # order id -> simulated time its officer looks at it
        self.checklist = None
        self.repairs = 0

    # -- plumbing ---------------------------------------------------------------------------
    def log(self, text):
        line = f"{iso(dt.datetime.now(dt.timezone.utc))} sim {iso(self.clock.now())} {text}"
        self.log_file.write(line + "\n")

    def crew(self, contractor):
        return self.cfg["crew_tokens"][contractor]

    def officer(self, contractor):
        return self.cfg["officer_tokens"][contractor]

    def orders(self, token, state):
        status, body = self.api.call("GET", f"/api/work-orders?state={state}&limit=200", token)
        if status != 200 or not isinstance(body.get("items"), list):
            if status is not None:
                self.log(f"listing {state} orders: HTTP {status} {body}")
            return []
        return [o for o in body["items"] if isinstance(o, dict) and "id" in o]

    def minutes(self, span):
        return dt.timedelta(minutes=self.rng.uniform(*span))

    def photo(self, site_id):
        if self.camera and os.access(self.camera, os.X_OK):
            try:
                r = subprocess.run([self.camera, "--terminal", site_id, "--time", iso(self.clock.now())],
                                   capture_output=True, timeout=20)
                if r.returncode == 0 and r.stdout[:2] == b"\xff\xd8":
                    return r.stdout, "image/jpeg"
                self.log(f"camera failed (exit {r.returncode}): {r.stderr[:200]!r}; a PNG instead")
            except (OSError, subprocess.SubprocessError) as e:
                self.log(f"camera failed ({e}); a PNG instead")
        shade = sum(site_id.encode()) % 128
        return png(64, 48, lambda x, y: (shade + x, 90 + y, 160 - (x + y) // 2)), "image/png"

    def write_repair(self, order, contractor):
        """Ends the order's fault in the simulator (sewage-sim --repair-dir; written atomically)."""
        folder = self.cfg["repair_dir"]
        self.repairs += 1
        lines = [f'terminal = "{order["site_id"]}"', f'order = {int(order["id"])}', f'by = "{contractor}"']
        if order.get("fault_type") in SIM_FAULT:
            lines.append(f'fault = "{SIM_FAULT[order["fault_type"]]}"')
        name = f"order-{int(order['id'])}-{self.repairs}"
        try:
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, name + ".tmp")
            with open(tmp, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, os.path.join(folder, name + ".toml"))
            self.log(f"{contractor}: repair of {order['site_id']} written for the simulator ({name}.toml)")
        except OSError as e:
            self.log(f"{contractor}: cannot write the repair file: {e}")

    def checkin(self, contractor, site_id, order_id=None):
        site = self.cfg["sites"].get(site_id)
        if not site:
            self.log(f"{contractor}: site {site_id} not in the crew's QR cards; cannot check in")
            return None, None
        lat, lon = jitter(site["lat"], site["lon"], self.rng)
        body = {"site_id": site_id, "token": site["token"], "lat": lat, "lon": lon,
                "accuracy_m": round(self.rng.uniform(4, 25), 1)}
        if order_id is not None:
            body["order_id"] = order_id
        status, r = self.api.call("POST", "/api/checkins", self.crew(contractor), body)
        if status != 201:
            self.log(f"{contractor}: check-in at {site_id} refused: HTTP {status} {r}")
            return None, (lat, lon)
        self.log(f"{contractor}: checked in at {site_id} ({r.get('distance_m', 0):.0f} m from the site), "
                 f"check-in {r.get('id')}")
        return r.get("id"), (lat, lon)

    # -- the dispatcher -----------------------------------------------------------------------
    def dispatch(self):
        now = self.clock.now()
        for state in ("open", "reopened"):
            for o in self.orders(self.cfg["dispatcher_token"], state):
                since = o.get("created_at") if state == "open" else None
                key = ("dispatch", o["id"], o.get("reopen_count", 0))
                if key not in self.verify_at:
                    base = parse_iso(since) if since else now
                    self.verify_at[key] = base + dt.timedelta(minutes=self.dispatch_delay_min)
                if now < self.verify_at[key]:
                    continue
                status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/dispatch", self.cfg["dispatcher_token"],
                                          {"note": "dispatched by the county duty officer (demo bot)"})
                self.log(f"dispatcher: order {o['id']} ({o.get('fault_type')} at {o.get('site_id')}) -> "
                         f"{o.get('contractor')}: HTTP {status}" + ("" if status == 200 else f" {r}"))

    # -- the crews ------------------------------------------------------------------------------
    def crew_step(self, contractor):
        now, job = self.clock.now(), self.jobs.get(contractor)
        if job is None:
            job = self.next_job(contractor)
            if job is None:
                return
            self.jobs[contractor] = job
        if now < job["at"]:
            return
        done = self.order_step(contractor, job) if job["kind"] == "order" else self.inspection_step(contractor, job)
        if done:
            self.jobs.pop(contractor, None)

    def next_job(self, contractor):
        token, now = self.crew(contractor), self.clock.now()
        on_site = self.orders(token, "on_site")
        if on_site:  # after a restart of the bot: finish what was begun
            o = on_site[-1]
            return {"kind": "order", "order": o, "phase": "work", "at": now}
        dispatched = sorted(self.orders(token, "dispatched"), key=lambda o: o["id"])
        if self.scripted and contractor == self.slow_contractor and contractor not in self.slow_done:
            for o in dispatched:
                if o.get("severity") == "critical" and o.get("due_at"):
                    # The scripted slow one: its crew is held up elsewhere and sets out only 30 min
                    # (simulated) after its due time; the crew goes on with other work meanwhile.
                    self.slow_done.add(contractor)
                    self.deferred[o["id"]] = parse_iso(o["due_at"]) + dt.timedelta(minutes=30)
                    self.log(f"{contractor}: order {o['id']} is the scripted slow one: the crew is held up and "
                             f"sets out at {iso(self.deferred[o['id']])}, after its due time {o['due_at']}")
                    break
        dispatched = [o for o in dispatched if self.deferred.get(o["id"], now) <= now]
        if dispatched:
            o = dispatched[0]
            arrive = now + self.minutes(self.travel_min)
            self.log(f"{contractor}: takes order {o['id']} ({o.get('fault_type')} at {o['site_id']}); "
                     f"travelling, on site at {iso(arrive)}")
            return {"kind": "order", "order": o, "phase": "arrive", "at": arrive}
        if self.inspect:
            return self.next_inspection(contractor)
        return None

    def order_step(self, contractor, job):
        o, token, now = job["order"], self.crew(contractor), self.clock.now()
        if job["phase"] == "arrive":
            cid, pos = self.checkin(contractor, o["site_id"], o["id"])
            if cid is None:
                job["at"] = now + dt.timedelta(minutes=10)  # try again (a refused check-in is logged)
                return False
            status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/on-site", token,
                                      {"lat": pos[0], "lon": pos[1], "note": "crew on site"})
            self.log(f"{contractor}: order {o['id']} on site: HTTP {status}" + ("" if status == 200 else f" {r}"))
            if status is None:  # the gateway is away: try again a little later
                job["at"] = now + dt.timedelta(minutes=5)
                return False
            if status != 200:
                return True  # refused (logged): the order is planned again from its state
            job.update(phase="work", at=now + self.minutes(self.work_min), pos=pos)
            return False
        # work done: photo, repair in the simulator, fixed
        site = self.cfg["sites"].get(o["site_id"], {})
        pos = job.get("pos") or jitter(site.get("lat", 0.0), site.get("lon", 0.0), self.rng)
        image, ctype = self.photo(o["site_id"])
        q = urllib.parse.urlencode({"lat": f"{pos[0]:.7f}", "lon": f"{pos[1]:.7f}"})
        status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/photos?{q}", token, data=image, content_type=ctype)
        self.log(f"{contractor}: order {o['id']} photo ({ctype}, {len(image)} bytes): HTTP {status}"
                 + (f" photo {r.get('id')}" if status == 201 else f" {r}"))
        self.write_repair(o, contractor)
        cause, parts = REPAIRS.get(o.get("fault_type"), DEFAULT_REPAIR)
        if o.get("reopen_count", 0):
            cause = "Second visit after the officer's reopen: " + cause
        status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/fixed", token,
                                  {"cause": cause, "parts_used": parts, "lat": pos[0], "lon": pos[1],
                                   "note": "fixed; photo uploaded"})
        self.log(f"{contractor}: order {o['id']} fixed: HTTP {status}" + ("" if status == 200 else f" {r}"))
        return True

    def next_inspection(self, contractor):
        if self.checklist is None:
            status, r = self.api.call("GET", "/api/inspections/checklists", self.crew(contractor))
            lists = r.get("checklists") if status == 200 else None
            if not isinstance(lists, dict) or not isinstance(lists.get("terminal"), list):
                return None
            self.checklist = [i["key"] for i in lists["terminal"] if isinstance(i, dict) and "key" in i]
        status, r = self.api.call("GET", "/api/inspections/plan", self.crew(contractor))
        plan = r.get("plan") if status == 200 else None
        if not isinstance(plan, list):
            return None
        now = self.clock.now()
        due = []
        for p in plan:
            try:
                next_due = parse_iso(p["next_due_at"])
            except (KeyError, TypeError, ValueError):
                continue
            # Inspect a site once its next due time is less than half a day away (or past).
            if next_due - now < dt.timedelta(hours=12) and p.get("site_id") in self.cfg["sites"]:
                due.append((next_due, p["site_id"], p.get("open_inspection_id")))
        if not due:
            return None
        next_due, site_id, open_id = min(due)
        arrive = now + self.minutes((10.0, 25.0))
        self.log(f"{contractor}: inspection of {site_id} (due {iso(next_due)}); on site at {iso(arrive)}")
        return {"kind": "inspection", "site": site_id, "phase": "arrive", "at": arrive, "id": open_id}

    def inspection_step(self, contractor, job):
        token, now = self.crew(contractor), self.clock.now()
        if job["phase"] == "arrive":
            if job.get("id") is None:
                cid, _ = self.checkin(contractor, job["site"])
                if cid is None:
                    return True
                status, r = self.api.call("POST", "/api/inspections", token, {"site_id": job["site"], "checkin_id": cid})
                insp = r.get("inspection") if status == 201 else None
                if not isinstance(insp, dict):
                    self.log(f"{contractor}: inspection of {job['site']} not started: HTTP {status} {r}")
                    return True
                job["id"] = insp.get("id")
                self.log(f"{contractor}: inspection {job['id']} of {job['site']} started")
            job.update(phase="work", at=now + self.minutes((10.0, 20.0)))
            return False
        items = [{"key": k, "result": "ok"} for k in (self.checklist or [])]
        status, r = self.api.call("POST", f"/api/inspections/{job['id']}/complete", token,
                                  {"items": items, "note": "routine inspection (demo crew)"})
        self.log(f"{contractor}: inspection {job['id']} of {job['site']} completed: HTTP {status}"
                 + ("" if status == 200 else f" {r}"))
        return True

    # -- the town officers ----------------------------------------------------------------------
    def officers_step(self):
        now = self.clock.now()
        for contractor in self.cfg["officer_tokens"]:
            token = self.officer(contractor)
            for o in self.orders(token, "fixed"):
                if o.get("contractor") != contractor:
                    continue
                key = ("verify", o["id"], o.get("reopen_count", 0))
                if key not in self.verify_at:
                    fixed = parse_iso(o["fixed_at"]) if o.get("fixed_at") else now
                    self.verify_at[key] = fixed + self.minutes(self.verify_delay_min)
                if now < self.verify_at[key]:
                    continue
                if self.scripted and contractor == self.reopen_contractor and contractor not in self.reopened \
                        and not o.get("reopen_count"):
                    self.reopened.add(contractor)
                    status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/reopen", token, {
                        "note": "Scripted case: on the officer's visit the fault was back; reopened"})
                    self.log(f"officer of {contractor}: order {o['id']} REOPENED (scripted case): HTTP {status}"
                             + ("" if status == 200 else f" {r}"))
                    continue
                site = self.cfg["sites"].get(o["site_id"], {})
                lat, lon = jitter(site.get("lat", 0.0), site.get("lon", 0.0), self.rng, 5, 60)
                status, r = self.api.call("POST", f"/api/work-orders/{o['id']}/verify", token,
                                          {"note": "checked by the town officer", "lat": lat, "lon": lon})
                self.log(f"officer of {contractor}: order {o['id']} verified: HTTP {status}"
                         + ("" if status == 200 else f" {r}"))

    def run(self, tick_s=1.0):
        self.log(f"field crews start: contractors {', '.join(self.cfg['crew_tokens'])}, speed x{self.clock.speed:g}, "
                 f"scripted cases {'on' if self.scripted else 'off'}")
        while not self.stopping:
            for step in [self.dispatch, *[(lambda c=c: self.crew_step(c)) for c in self.cfg["crew_tokens"]],
                         self.officers_step]:
                if self.stopping:
                    break
                try:
                    step()
                except Exception as e:  # noqa: BLE001 - a bad reply must never end the crews
                    self.log(f"step failed, going on: {e.__class__.__name__}: {e}")
            time.sleep(tick_s)
        self.log("field crews stop")


def figures(cfg, clock, sim_start):
    """The O&M figures as text: work-order figures by contractor, inspection completion by
    contractor, and the assessment score by contractor for the simulated month(s)."""
    api = Api(cfg["api"], lambda _t: None, patience_s=20.0)
    token = cfg["dispatcher_token"]
    now = clock.now()
    frm, to = iso(sim_start), iso(now + dt.timedelta(seconds=1))
    out = [f"O&M figures of the demo county, simulated {frm} .. {iso(now)} (GET /api/work-orders/figures, "
           f"/api/inspections/figures, /api/assessment)"]
    status, r = api.call("GET", f"/api/work-orders/figures?by=contractor&from={frm}&to={to}", token)
    out.append("\nWork orders by contractor:")
    out.append(f"  {'contractor':<10} {'orders':>6} {'dispatched':>10} {'to dispatch h':>13} {'fixed':>5} "
               f"{'to fix h':>8} {'on time':>7} {'on-time rate':>12} {'reopened':>8} {'reopen rate':>11} {'verified':>8}")

    def num(v, f="{:.2f}"):
        return "-" if v is None else f.format(v)
    for row in (r.get("rows") or []) if status == 200 else []:
        out.append(f"  {row.get('key', ''):<10} {row.get('orders', 0):>6} {row.get('dispatched', 0):>10} "
                   f"{num(row.get('mean_time_to_dispatch_h')):>13} {row.get('fixed', 0):>5} "
                   f"{num(row.get('mean_time_to_fix_h')):>8} {row.get('on_time', 0):>7} "
                   f"{num(row.get('on_time_rate'), '{:.0%}'):>12} {row.get('reopened', 0):>8} "
                   f"{num(row.get('reopen_rate'), '{:.0%}'):>11} {row.get('verified', 0):>8}")
    if status != 200:
        out.append(f"  (not available: HTTP {status} {r})")
    elif not r.get("rows"):
        out.append("  (no orders yet)")
    status, r = api.call("GET", f"/api/inspections/figures?by=contractor&from={frm}&to={to}", token)
    out.append("\nInspections by contractor:")
    rows = r.get("groups") if status == 200 else None
    if isinstance(rows, list):
        if not rows:
            out.append("  (nothing due yet)")
        for row in rows:
            out.append(f"  {str(row.get('key', row.get('contractor', ''))):<10} completion {num(row.get('completion_rate'), '{:.0%}')}"
                       f"  on-time rate {num(row.get('on_time_rate'), '{:.0%}')}  (due {row.get('due')}: on time "
                       f"{row.get('on_time')}, late {row.get('late')}, missed {row.get('missed')}, overdue "
                       f"{row.get('overdue')}; not yet due {row.get('pending')})")
    else:
        out.append(f"  (HTTP {status}) {json.dumps(r)[:600]}")
    months = sorted({sim_start.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m"),
                     now.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")})
    for month in months:
        status, r = api.call("GET", f"/api/assessment?month={month}&by=contractor", token)
        out.append(f"\nAssessment {month} by contractor (100 minus deductions):")
        groups = r.get("groups") if status == 200 else None
        if not isinstance(groups, list):
            out.append(f"  (HTTP {status}) {json.dumps(r)[:600]}")
            continue
        for g in groups:
            parts = g.get("parts") or []
            if isinstance(parts, dict):
                parts = [dict(v, part=k) for k, v in parts.items() if isinstance(v, dict)]
            detail = ", ".join(f"{p.get('part')} -{p.get('deduction', 0):.1f}" + (" (no data)" if p.get("no_data") else "")
                               for p in parts if isinstance(p, dict))
            out.append(f"  {str(g.get('key', g.get('contractor', ''))):<10} score {num(g.get('score'), '{:.1f}')}  [{detail}]")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="fieldcrew/config.json written by tools/county.py")
    ap.add_argument("--log", help="action log (appended)")
    ap.add_argument("--sim-start", required=True, help="simulated UTC time at --time-origin (ISO 8601)")
    ap.add_argument("--time-origin", required=True, help="real UTC time at which the clock read --sim-start")
    ap.add_argument("--speed", type=float, help="simulated s per real s (default: the config's)")
    ap.add_argument("--camera", help="sewage-sim-camera for the photos (default: a generated PNG)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--no-scripted-cases", action="store_true", help="no slow (overdue) and no reopened order")
    ap.add_argument("--no-inspections", action="store_true", help="the crews do orders only")
    ap.add_argument("--slow-contractor", default="hy-south")
    ap.add_argument("--reopen-contractor", default="hy-north")
    ap.add_argument("--delay-scale", type=float, default=1.0,
                    help="multiplies every simulated delay (dispatch, travel, work, verification; tests: 0.5)")
    ap.add_argument("--figures", action="store_true", help="print the O&M figures once and exit")
    ap.add_argument("--out", help="with --figures: also write them to this file")
    args = ap.parse_args(argv)
    with open(args.config, encoding="utf-8") as f:
        cfg = json.load(f)
    clock = Clock(parse_iso(args.sim_start), parse_iso(args.time_origin), args.speed or float(cfg.get("speed", 60)))
    if args.figures:
        text = figures(cfg, clock, parse_iso(args.sim_start))
        sys.stdout.write(text)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text)
        return 0
    bot = Bot(cfg, clock, args.log or os.devnull, camera=args.camera, seed=args.seed,
              scripted=not args.no_scripted_cases, slow_contractor=args.slow_contractor,
              reopen_contractor=args.reopen_contractor, inspect=not args.no_inspections,
              dispatch_delay_min=10.0 * args.delay_scale, travel_min=(20.0 * args.delay_scale, 50.0 * args.delay_scale),
              work_min=(20.0 * args.delay_scale, 45.0 * args.delay_scale),
              verify_delay_min=(30.0 * args.delay_scale, 90.0 * args.delay_scale))

    def stop(*_):
        bot.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bot.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
