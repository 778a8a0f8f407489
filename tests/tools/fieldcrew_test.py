#!/usr/bin/python3
"""tools/fieldcrew.py without a county: the generated PNG is a valid image, phone positions stay
3..40 m from the site, the repair file is what sewage-sim reads, and the HTTP client and the
crews survive a gateway that fails, restarts or answers garbage (a fake API on 127.0.0.1).

  fieldcrew_test.py            (unittest; registered in CTest as tools_fieldcrew)
"""
import datetime as dt
import http.server
import json
import math
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import tomllib
import unittest
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fieldcrew  # noqa: E402


def metres(lat1, lon1, lat2, lon2):
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


class FakeApi(http.server.ThreadingHTTPServer):
    """Answers from a script: self.script(method, path, body) -> (status, bytes)."""
    daemon_threads = True

    def __init__(self, script):
        self.script = script
        self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                self.server.calls.append((self.command, self.path, body, self.headers.get("Authorization")))
                status, data = self.server.script(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            do_GET = do_POST = _answer

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Generated(unittest.TestCase):
    def test_png_is_a_valid_image_of_the_asked_size(self):
        data = fieldcrew.png(5, 3, lambda x, y: (x * 10, y * 20, 7))
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        pos, chunks = 8, {}
        while pos < len(data):
            n, = struct.unpack(">I", data[pos:pos + 4])
            kind, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
            crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
            self.assertEqual(crc, zlib.crc32(kind + payload), kind)
            chunks[kind] = payload
            pos += 12 + n
        self.assertEqual(struct.unpack(">IIBBBBB", chunks[b"IHDR"]), (5, 3, 8, 2, 0, 0, 0))
        rows = zlib.decompress(chunks[b"IDAT"])
        self.assertEqual(len(rows), 3 * (1 + 5 * 3))
        self.assertEqual(rows[1 + 15 + 1:1 + 15 + 4], bytes((0, 20, 7)))  # pixel (0, 1)
        self.assertIn(b"IEND", chunks)

    def test_phone_positions_are_3_to_40_m_from_the_site(self):
        rng = random.Random(1)
        for lat, lon in ((30.53297, 120.93945), (0.0, 0.0), (60.0, 10.0)):
            for _ in range(300):
                d = metres(lat, lon, *fieldcrew.jitter(lat, lon, rng))
                self.assertGreaterEqual(d, 2.9)
                self.assertLessEqual(d, 40.5)


class Crews(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fieldcrew-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def bot(self, url, **kw):
        cfg = {"api": url, "dispatcher_token": "D", "crew_tokens": {"hy-north": "C"}, "officer_tokens": {"hy-north": "O"},
               "sites": {"HY-WY-001": {"town": "Wuyuan", "lat": 30.5, "lon": 120.9, "contractor": "hy-north",
                                       "token": "v1.HY-WY-001.x"}},
               "repair_dir": os.path.join(self.tmp, "repairs"), "speed": 3600}
        clock = fieldcrew.Clock(dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc), dt.datetime.now(dt.timezone.utc), 3600)
        b = fieldcrew.Bot(cfg, clock, os.path.join(self.tmp, "log"), **kw)
        b.api.patience_s = 3.0
        return b

    def log(self):
        with open(os.path.join(self.tmp, "log")) as f:
            return f.read()

    def test_the_repair_file_is_what_the_simulator_reads(self):
        b = self.bot("http://127.0.0.1:9")
        b.write_repair({"id": 17, "site_id": "HY-WY-001", "fault_type": "turbidity_high"}, "hy-north")
        b.write_repair({"id": 18, "site_id": "HY-WY-001", "fault_type": "no_flow"}, "hy-north")
        folder = os.path.join(self.tmp, "repairs")
        names = sorted(os.listdir(folder))
        self.assertEqual(names, ["order-17-1.toml", "order-18-2.toml"])  # no .tmp left behind
        with open(os.path.join(folder, names[0]), "rb") as f:
            self.assertEqual(tomllib.load(f), {"terminal": "HY-WY-001", "order": 17, "by": "hy-north",
                                               "fault": "turbidity_excursion"})
        with open(os.path.join(folder, names[1]), "rb") as f:  # no_flow: blockage or pump failure
            self.assertEqual(tomllib.load(f), {"terminal": "HY-WY-001", "order": 18, "by": "hy-north"})

    def test_5xx_is_retried_then_answered(self):
        answers = [(503, b"busy"), (502, b""), (200, b'{"items": []}')]
        api = FakeApi(lambda *_: answers.pop(0))
        b = self.bot(api.url)
        t0 = time.monotonic()
        self.assertEqual(b.api.call("GET", "/api/work-orders", "C"), (200, {"items": []}))
        self.assertEqual(len(api.calls), 3)
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertIn("retrying GET /api/work-orders", self.log())
        api.shutdown()
        api.server_close()

    def test_a_gateway_that_is_away_gives_none_and_never_raises(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        b = self.bot(f"http://127.0.0.1:{port}")
        b.api.patience_s = 1.0
        status, body = b.api.call("POST", "/api/checkins", "C", {"x": 1})
        self.assertIsNone(status)
        self.assertIn("error", body)
        self.assertIn("giving up on POST /api/checkins", self.log())
        # A whole round of the crews on a dead gateway: logged, nothing raised.
        b.dispatch()
        b.crew_step("hy-north")
        b.officers_step()

    def test_garbage_replies_are_skipped_and_4xx_is_not_retried(self):
        replies = {
            "/api/work-orders?state=open&limit=200": (200, b"not json"),
            "/api/work-orders?state=reopened&limit=200": (200, b'{"items": "nope"}'),
            "/api/work-orders?state=on_site&limit=200": (200, b"[1, 2]"),
            "/api/work-orders?state=dispatched&limit=200": (200, b'{"items": [{"no": "id"}, 7]}'),
            "/api/work-orders?state=fixed&limit=200": (403, b'{"error": "forbidden"}'),
            "/api/inspections/checklists": (200, b'{"checklists": {"terminal": [{"key": "outlet_clear"}]}}'),
            "/api/inspections/plan": (200, b'{"plan": [{"site_id": "HY-WY-001", "next_due_at": "garbage"}, 5]}'),
        }
        api = FakeApi(lambda m, p, b: replies.get(p, (404, b"{}")))
        b = self.bot(api.url)
        b.dispatch()
        b.crew_step("hy-north")
        b.officers_step()
        self.assertIsNone(b.jobs.get("hy-north"))
        self.assertEqual(sum(1 for c in api.calls if c[1] == "/api/work-orders?state=fixed&limit=200"), 1)
        self.assertNotIn("step failed", self.log())
        api.shutdown()
        api.server_close()

    def test_an_order_goes_through_checkin_photo_repair_and_fixed(self):
        state = {"order": {"id": 5, "site_id": "HY-WY-001", "fault_type": "no_flow", "state": "dispatched",
                           "due_at": "2026-11-28T04:00:00Z", "reopen_count": 0}}

        def script(method, path, body):
            o = state["order"]
            if method == "GET" and path.startswith("/api/work-orders?state="):
                want = path.split("=")[1].split("&")[0]
                return 200, json.dumps({"items": [o] if o["state"] == want else []}).encode()
            if path == "/api/checkins":
                b = json.loads(body)
                d = metres(30.5, 120.9, b["lat"], b["lon"])
                return (201, json.dumps({"id": 1, "distance_m": d}).encode()) if b["token"] == "v1.HY-WY-001.x" \
                    else (400, b"{}")
            if path == "/api/work-orders/5/on-site":
                o["state"] = "on_site"
                return 200, b"{}"
            if path.startswith("/api/work-orders/5/photos?lat="):
                return (201, b'{"id": 3}') if body[:8] == b"\x89PNG\r\n\x1a\n" else (400, b"{}")
            if path == "/api/work-orders/5/fixed":
                b = json.loads(body)
                if b["cause"] and b["parts_used"]:
                    o["state"] = "fixed"
                return 200, b"{}"
            return 404, b"{}"
        api = FakeApi(script)
        b = self.bot(api.url, camera=None, travel_min=(0.0, 0.0), work_min=(0.0, 0.0))
        for _ in range(4):
            b.crew_step("hy-north")
        self.assertEqual(state["order"]["state"], "fixed", self.log())
        paths = [c[1].split("?")[0] for c in api.calls if c[0] == "POST"]
        self.assertEqual(paths, ["/api/checkins", "/api/work-orders/5/on-site", "/api/work-orders/5/photos",
                                 "/api/work-orders/5/fixed"])
        self.assertTrue(all(c[3] == "Bearer C" for c in api.calls))
        self.assertEqual(os.listdir(os.path.join(self.tmp, "repairs")), ["order-5-1.toml"])
        api.shutdown()
        api.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
