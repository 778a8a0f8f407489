"""Checks of a finished county run shared by tools/soak and tools/chaos: the registry's terminal
ids, the gateway API with the tools' bearer token, tools/score, and the stored records (per queue
epoch, seq numbers gap-free and unique) and pictures of every terminal. Python standard library only.
"""
import datetime as dt
import json
import os
import subprocess
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import county  # noqa: E402

# The tools' bearer token: set HEADERS["Authorization"] once the county has made it.
HEADERS = {}


def terminals():
    """The registry's terminal ids (its pump stations left out)."""
    with open(county.REGISTRY, "rb") as f:
        reg = tomllib.load(f)
    return [t["id"] for t in reg.get("terminal", []) if t.get("kind", "terminal") != "pump_station"]


def get(api, path, timeout=60):
    with urllib.request.urlopen(urllib.request.Request(api + path, headers=HEADERS), timeout=timeout) as resp:
        return json.load(resp)


def history_seqs(api, t, start, end):
    """{epoch: [seq, ...]} of terminal `t`'s stored records from `start` to `end`, a day at a time,
    and the problems met (a truncated answer)."""
    by_epoch = {}
    problems = []
    a = start
    while a < end:
        b = min(a + dt.timedelta(days=1), end)
        q = urllib.parse.urlencode({"from": county.iso(a), "to": county.iso(b)})
        got = get(api, f"/api/terminals/{t}/history?{q}")
        if got.get("truncated"):
            problems.append(f"{t}: history {county.iso(a)}..{county.iso(b)} truncated")
        for r in got["records"]:
            by_epoch.setdefault(r["epoch"], []).append(r["seq"])
        a = b
    return by_epoch, problems


def judge_seqs(t, by_epoch):
    """(records, lost, duplicated, problems) of one terminal's {epoch: [seq]}: per epoch, seq
    numbers gap-free (a gap = lost records) and unique."""
    total = lost = dup = 0
    problems = []
    for epoch, seqs in by_epoch.items():
        total += len(seqs)
        seqs = sorted(seqs)
        d = len(seqs) - len(set(seqs))
        u = sorted(set(seqs))
        gaps = [(x, y) for x, y in zip(u, u[1:]) if y != x + 1]
        missing = sum(y - x - 1 for x, y in gaps)
        dup += d
        lost += missing
        if d:
            problems.append(f"{t} epoch {epoch}: {d} duplicate seq")
        if gaps:
            problems.append(f"{t} epoch {epoch}: {missing} lost, gaps {gaps[:5]}")
    return total, lost, dup, problems


def check_sequences(api, ids, start, end):
    """Per terminal and queue epoch: seq numbers gap-free and unique, fetched a day at a time.
    Returns (records, lost, duplicated, problems)."""
    total = lost = dup = 0
    problems = []
    for t in ids:
        by_epoch, p = history_seqs(api, t, start, end)
        n, ls, d, q = judge_seqs(t, by_epoch)
        total, lost, dup = total + n, lost + ls, dup + d
        problems += p + q
    return total, lost, dup, problems


def check_images(api, ids):
    problems = []
    for t in ids:
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{api}/api/terminals/{t}/image", headers=HEADERS),
                                        timeout=30) as resp:
                body = resp.read()
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            problems.append(f"{t}: HTTP {exc.code}")
            continue
        if ctype != "image/jpeg" or not (body[:3] == b"\xff\xd8\xff" and body[-2:] == b"\xff\xd9" and len(body) > 2000):
            problems.append(f"{t}: not the simulated camera's JPEG ({ctype}, {len(body)} bytes)")
    return problems


def run_score(c, workdir, notes=None, echo=True):
    """tools/score --json against county `c` (its simulator's ground truth); prints its output
    (echo=False: only writes it to WORKDIR/score.txt, for a caller that prints it later) and
    returns its JSON result. Raises RuntimeError when it could not judge."""
    score_json = os.path.join(workdir, "score.json")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools/score"), "--api", c.api,
                        "--token-file", c.token_file, "--truth", os.path.join(c.workdir, "sim"),
                        "--json", score_json] + (["--notifications", notes] if notes else []),
                       capture_output=True, text=True, timeout=1800)
    with open(os.path.join(workdir, "score.txt"), "w", encoding="utf-8") as f:
        f.write(r.stdout)
    if echo:
        print(r.stdout, end="")
    print(r.stderr, end="", file=sys.stderr)
    if r.returncode not in (0, 1, 3) or not os.path.exists(score_json):
        raise RuntimeError(f"tools/score exited {r.returncode}")
    with open(score_json) as f:
        return json.load(f)


def minutes(v):
    return "-" if v is None else f"{v / 60:.1f}"
