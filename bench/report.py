#!/usr/bin/env python3
"""Turn the benchmark's raw results into the Markdown report and PASS/FAIL.

  report.py --results results.jsonl [--rss rss.txt] [--header LINE]... [--out FILE]
            [--gateway-label NAME]

results.jsonl: one parse_wrk.py record per wrk run (target is "nginx" or "gateway").
rss.txt: lines `TARGET BEFORE_KB HELD_KB N IDLE_RC` (IDLE_RC = idle_conns.py exit code).
Per (target, file) the median over rounds of req/s, p50 and p99 is reported.
Targets (per file): gateway req/s >= 1.0 x nginx; gateway p99 <= nginx p99 + 1 ms;
no non-2xx/socket errors from the gateway.  Idle: gateway VmRSS <= 30 MiB with the
N idle keep-alive connections held, all of them answered 200 and kept open.
Prints the report, writes it to --out, exits 0 when every target is met, else 3.
"""
import argparse
import json
import os
import statistics
import sys

RATIO_MIN = 1.0
P99_SLACK_MS = 1.0
RSS_LIMIT_KB = 30 * 1024  # 30 MiB, compared with VmRSS (kB)


def fmt_ms(v: float) -> str:
    return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rss")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--gateway-label", default="gateway")
    a = ap.parse_args()

    recs = []
    with open(a.results) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    files = []
    for r in recs:
        if r["file"] not in files:
            files.append(r["file"])

    def runs(target, file):
        return [r for r in recs if r["target"] == target and r["file"] == file]

    def med(rs, key):
        return statistics.median(r[key] for r in rs)

    lines = ["# consent-gateway vs nginx: reverse-proxy benchmark", ""]
    lines += [h for h in a.header] + [""]
    lines.append("| file | nginx req/s | gateway req/s | ratio | nginx p50 | gateway p50 "
                 "| nginx p99 | gateway p99 | p99 Δ ms | result |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    failures, notes = [], []
    for file in files:
        n, g = runs("nginx", file), runs("gateway", file)
        if not n or not g:
            failures.append(f"{file}: missing runs (nginx {len(n)}, gateway {len(g)})")
            continue
        n_rps, g_rps = med(n, "rps"), med(g, "rps")
        n50, g50, n99, g99 = med(n, "p50_ms"), med(g, "p50_ms"), med(n, "p99_ms"), med(g, "p99_ms")
        ratio = g_rps / n_rps if n_rps > 0 else 0.0
        d99 = g99 - n99
        g_err = sum(r["non2xx"] + r["socket_errors"] for r in g)
        n_err = sum(r["non2xx"] + r["socket_errors"] for r in n)
        why = []
        if ratio < RATIO_MIN:
            why.append(f"req/s ratio {ratio:.3f} < {RATIO_MIN:.1f}")
        if d99 > P99_SLACK_MS:
            why.append(f"p99 +{d99:.3f} ms > +{P99_SLACK_MS:.0f} ms")
        if g_err:
            why.append(f"{g_err} gateway errors (non-2xx/socket)")
        if n_err:
            notes.append(f"{file}: nginx had {n_err} errors (non-2xx/socket) over "
                         f"{len(n)} runs")
        result = "PASS" if not why else "FAIL"
        failures += [f"{file}: {w}" for w in why]
        lines.append(f"| {file} | {n_rps:,.0f} | {g_rps:,.0f} | {ratio:.3f} | {fmt_ms(n50)} "
                     f"| {fmt_ms(g50)} | {fmt_ms(n99)} | {fmt_ms(g99)} | {d99:+.3f} | {result} |")
    rounds = sorted({r["round"] for r in recs})
    lines.append("")
    lines.append(f"Median of {len(rounds)} round(s). Targets per file: gateway req/s ≥ "
                 f"{RATIO_MIN:.1f}× nginx, gateway p99 ≤ nginx p99 + {P99_SLACK_MS:.0f} ms, "
                 "no gateway errors.")
    if len(rounds) > 1:
        spread = []
        for file in files:
            parts = []
            for target in ("nginx", "gateway"):
                rs = [r["rps"] for r in runs(target, file)]
                if len(rs) > 1 and statistics.median(rs) > 0:
                    parts.append(f"{target} {100 * (max(rs) - min(rs)) / statistics.median(rs):.0f}%")
            spread.append(f"{file} " + "/".join(parts))
        lines.append("")
        lines.append("Run-to-run spread of req/s, (max − min) / median: " + "; ".join(spread)
                     + ". A ratio closer to 1.0 than this spread is within noise.")

    if a.rss and os.path.exists(a.rss):
        lines += ["", "| idle keep-alive test | RSS before | RSS with conns held | Δ per conn "
                  "| target | result |", "|---|---:|---:|---:|---|---|"]
        with open(a.rss) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 5:
                    continue
                target, before, held, count, rc = parts[0], int(parts[1]), int(parts[2]), \
                    int(parts[3]), int(parts[4])
                per = (held - before) / count if count else 0.0
                name = (f"{a.gateway_label} ({count} conns)" if target == "gateway"
                        else f"nginx proxy worker ({count} conns)")
                if target == "gateway":
                    why = []
                    if held > RSS_LIMIT_KB:
                        why.append(f"idle RSS {fmt_mb(held)} > {fmt_mb(RSS_LIMIT_KB)}")
                    if rc != 0:
                        why.append("idle connections not all answered 200 and kept open "
                                   f"(idle_conns.py exit {rc})")
                    failures += why
                    res, tgt = ("PASS" if not why else "FAIL"), f"≤ {fmt_mb(RSS_LIMIT_KB)}"
                else:
                    res, tgt = ("ok" if rc == 0 else f"idle_conns exit {rc}"), "reference"
                lines.append(f"| {name} | {fmt_mb(before)} | {fmt_mb(held)} | "
                             f"{per:.1f} kB | {tgt} | {res} |")
    else:
        notes.append("idle keep-alive RSS test not run")

    lines.append("")
    for nt in notes:
        lines.append(f"Note: {nt}")
    if failures:
        lines.append("**Overall: FAIL**")
        lines += [f"- {w}" for w in failures]
    else:
        lines.append("**Overall: PASS** (all targets met)")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)
    return 0 if not failures else 3


if __name__ == "__main__":
    sys.exit(main())
