#!/usr/bin/env python3
"""Parse `wrk --latency` output (stdin) into one JSON line (stdout).

  wrk --latency ... | parse_wrk.py TARGET FILE ROUND [KEY=VALUE]... >> results.jsonl

Fields: target, file, round, rps, p50_ms, p99_ms, requests, non2xx,
socket_errors (connect+read+write+timeout), plus every KEY=VALUE given (VALUE
stored as an integer when it is one, else as a string).  Latency units
us/ms/s/m/h are converted to milliseconds.  Exits 1 if the output has no
Requests/sec line.
"""
import json
import re
import sys

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"bad latency value {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse(out: str) -> dict:
    res = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": 0,
           "non2xx": 0, "socket_errors": 0}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    if m:
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        if m:
            res[key] = to_ms(m.group(1))
    m = re.search(r"^\s+(\d+) requests in", out, re.M)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["socket_errors"] = sum(int(g) for g in m.groups())
    return res


def main() -> int:
    if len(sys.argv) < 4 or any("=" not in a for a in sys.argv[4:]):
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.stdin.read()
    res = parse(out)
    if res["rps"] is None or res["p50_ms"] is None or res["p99_ms"] is None:
        print("parse_wrk: no Requests/sec or latency distribution in wrk output:\n" + out,
              file=sys.stderr)
        return 1
    rec = {"target": sys.argv[1], "file": sys.argv[2], "round": int(sys.argv[3])}
    rec.update(res)
    for arg in sys.argv[4:]:
        key, _, value = arg.partition("=")
        rec[key] = int(value) if re.fullmatch(r"-?[0-9]+", value) else value
    print(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
