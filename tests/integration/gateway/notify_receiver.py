#!/usr/bin/env python3
"""A test receiver for the gateway's notifications: an HTTP or HTTPS (--cert/--key) server on
127.0.0.1:--port that records every POST as one JSON line in --log and answers from --answers
(a JSON list of [status, body]; the last one repeats). With --dingtalk-secret it recomputes
DingTalk's signature (HMAC-SHA256 over "timestamp\\nsecret", base64) from the query and records
whether it matches ("sign_ok"). Standard library only. Prints "ready" when listening."""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import ssl
import sys
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--answers", default='[[200, "{\\"errcode\\":0,\\"errmsg\\":\\"ok\\"}"]]')
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--dingtalk-secret")
    a = ap.parse_args()
    answers = json.loads(a.answers)
    state = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            rec = {"path": url.path, "query": query, "raw_query": url.query, "body": body,
                   "content_type": self.headers.get("Content-Type", "")}
            if a.dingtalk_secret is not None:
                ts = query.get("timestamp", "")
                mac = hmac.new(a.dingtalk_secret.encode(), (ts + "\n" + a.dingtalk_secret).encode(),
                               hashlib.sha256).digest()
                rec["sign_ok"] = query.get("sign") == base64.b64encode(mac).decode()
            status, answer = answers[min(state["n"], len(answers) - 1)]
            state["n"] += 1
            rec["answered"] = status
            with open(a.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            data = answer.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("receiver: " + (fmt % args) + "\n")

    server = http.server.HTTPServer(("127.0.0.1", a.port), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
