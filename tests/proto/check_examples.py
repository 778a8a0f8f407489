#!/usr/bin/python3
"""Runs every payload in proto/examples/ through two independent validators and requires both to
give the verdict the file's folder states (valid/ or invalid/):

  1. our C++ validator, through the `sewage-proto validate` tool;
  2. the JSON Schema in proto/schema/ with Debian's python3-jsonschema, after a strict JSON load
     that refuses what JSON Schema cannot see: duplicate keys, NaN/Infinity literals, numbers that
     overflow a double, invalid UTF-8, payloads over 64 KiB and nesting deeper than 16 levels.

File names are "<kind>--<description>.json"; <kind> selects the schema and the topic.
Run with /usr/bin/python3 (Debian's interpreter, which sees python3-jsonschema).
"""
import argparse
import json
import math
import pathlib
import subprocess
import sys

import jsonschema
from jsonschema import validators

MAX_PAYLOAD_BYTES = 64 * 1024  # proto/include/sewage/proto/limits.hpp
MAX_DEPTH = 16
TERMINAL = "HY-WY-001"
TOPICS = {
    "telemetry": f"sewage/v1/{TERMINAL}/telemetry",
    "status": f"sewage/v1/{TERMINAL}/status",
    "gateway_status": "sewage/v1/gateway/status",
    "alert": f"sewage/v1/alerts/{TERMINAL}/turbidity_high",
    "command": f"sewage/v1/{TERMINAL}/cmd",
    "command_result": f"sewage/v1/{TERMINAL}/cmd/result",
    "receipt": f"sewage/v1/{TERMINAL}/receipt",
}


class StrictLoadError(ValueError):
    pass


def _pairs(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise StrictLoadError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _constant(name):
    raise StrictLoadError(f"non-finite literal {name}")


def _float(text):
    value = float(text)
    if not math.isfinite(value):
        raise StrictLoadError(f"number overflows a double: {text}")
    return value


def _depth(value):
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def strict_load(raw: bytes):
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise StrictLoadError(f"{len(raw)} bytes is over the limit")
    text = raw.decode("utf-8", errors="strict")
    doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
    if _depth(doc) > MAX_DEPTH:
        raise StrictLoadError("nested too deep")
    return doc


def schema_validator_class():
    # JSON Schema counts 1.0 as an integer; the contract does not (seq must be a JSON integer).
    def is_integer(_checker, instance):
        return isinstance(instance, int) and not isinstance(instance, bool)

    base = validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    checker = base.TYPE_CHECKER.redefine("integer", is_integer)
    return validators.extend(base, type_checker=checker)


def schema_verdict(cls, schema, raw):
    try:
        doc = strict_load(raw)
    except (StrictLoadError, ValueError, RecursionError) as exc:
        return False, f"strict load: {exc}"
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        return False, "; ".join(f"/{'/'.join(map(str, e.path))}: {e.message[:100]}" for e in errors)
    return True, "ok"


def cpp_verdict(tool, topic, path):
    proc = subprocess.run([tool, "validate", "--topic", topic, str(path)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{tool} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.returncode == 0, proc.stdout.strip().replace("\n", "; ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", required=True, type=pathlib.Path)
    ap.add_argument("--schemas", required=True, type=pathlib.Path)
    ap.add_argument("--validator", required=True, help="path to sewage-proto")
    args = ap.parse_args()

    cls = schema_validator_class()
    schemas = {}
    for kind in TOPICS:
        schema = json.loads((args.schemas / f"{kind}.schema.json").read_text())
        cls.check_schema(schema)
        schemas[kind] = schema

    passed = failed = 0
    files = sorted(args.examples.glob("valid/*.json")) + sorted(args.examples.glob("invalid/*.json"))
    if len(files) < 10:
        print(f"only {len(files)} example files found under {args.examples}")
        return 1
    for path in files:
        expected = path.parent.name == "valid"
        kind = path.name.split("--", 1)[0]
        if kind not in TOPICS:
            print(f"FAIL {path.name}: unknown kind {kind!r}")
            failed += 1
            continue
        raw = path.read_bytes()
        s_ok, s_why = schema_verdict(cls, schemas[kind], raw)
        c_ok, c_why = cpp_verdict(args.validator, TOPICS[kind], path)
        if s_ok == expected and c_ok == expected:
            passed += 1
            print(f"ok   {path.parent.name}/{path.name}: schema [{s_why[:90]}] c++ [{c_why[:90]}]")
        else:
            failed += 1
            print(f"FAIL {path.parent.name}/{path.name}: expected {'valid' if expected else 'invalid'};"
                  f" schema says {s_ok} ({s_why}); c++ says {c_ok} ({c_why})")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
