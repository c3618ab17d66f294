#!/usr/bin/env python3
"""Turn the benchmark's raw results into the Markdown report and PASS/FAIL.

  report.py --results results.jsonl [--rss rss.txt] [--header LINE]... [--out FILE]
            [--gateway-label NAME] [--decisions-target N]

results.jsonl: one parse_wrk.py record per wrk run.  Target "nginx" or "gateway": the
proxy comparison; "gateway-cookie" / "gateway-setcookie": the consent variants (the
same file with a realistic Cookie header and a valid consent cookie; and also two
upstream Set-Cookie headers); "decisions": a POST /_consent run, whose record also has
fsync, conns, redis_events, redis_counted, stored, journaled, failed, journal_left.
rss.txt: lines `TARGET BEFORE_KB HELD_KB N IDLE_RC` (IDLE_RC = idle_conns.py exit code).
Per (target, file) the median over rounds of req/s, p50 and p99 is reported.
Targets (per file): gateway req/s >= 1.0 x nginx; gateway p99 <= nginx p99 + 1 ms;
no non-2xx/socket errors from the gateway.  Consent variants: req/s >= 0.95 x the
plain gateway's (enforcement costs at most 5%), no errors.  Decisions: at appendfsync
always >= N (default 10,000) 2xx answers per second, no errors; in every run the events
in Redis equal the gateway's stored count and the counts hash, wrk's 2xx <= events <=
wrk's 2xx + connections, nothing failed or left in the journal.  Idle: gateway VmRSS
<= 30 MiB with the N idle keep-alive connections held, all of them answered 200 and
kept open.  Prints the report, writes it to --out, exits 0 when every target is met,
else 3.
"""
import argparse
import json
import os
import statistics
import sys

RATIO_MIN = 1.0
ENFORCE_RATIO_MIN = 0.95
VARIANTS = (("gateway-cookie", "+ consent cookie"), ("gateway-setcookie", "+ Set-Cookie filter"))
PROXY_TARGETS = ("nginx", "gateway") + tuple(v for v, _ in VARIANTS)
P99_SLACK_MS = 1.0
RSS_LIMIT_KB = 30 * 1024  # 30 MiB, compared with VmRSS (kB)


def fmt_ms(v: float) -> str:
    return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MiB"


def cpu_us(rs):
    """Median CPU microseconds per request of the measured process, or None if unknown."""
    per = [r["cpu_ns"] / r["requests"] / 1000 for r in rs
           if r.get("cpu_ns", 0) > 0 and r.get("requests", 0) > 0]
    return statistics.median(per) if per else None


def enforcement_table(recs, files, runs, med, label, failures, notes):
    """The consent-variant rows: each variant's req/s against the plain gateway's."""
    present = [(v, name) for v, name in VARIANTS if any(r["target"] == v for r in recs)]
    if not present:
        return []
    out = ["", "Consent enforcement cost: the same files through the " + label
           + ", without a Cookie header (necessary only) and with a realistic one"
           " (PHPSESSID, _ga, _ga_ABC123, _fbp, valid cg_consent granting analytics)"
           + (", and with two upstream Set-Cookie headers (_ga, PHPSESSID)"
              if any(v == "gateway-setcookie" for v, _ in present) else "") + "."
           + (" The fake gateway gets a placeholder cg_consent and filters nothing: these "
              "ratios are the noise floor." if "FAKE" in label else ""), "",
           "| file | request | req/s | ratio | p50 | p99 | CPU per request | CPU Δ | result |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for file in files:
        base = runs("gateway", file)
        if not base:
            continue
        b_rps, b_cpu = med(base, "rps"), cpu_us(base)
        out.append(f"| {file} | no cookie | {b_rps:,.0f} | – | {fmt_ms(med(base, 'p50_ms'))} "
                   f"| {fmt_ms(med(base, 'p99_ms'))} | "
                   f"{'–' if b_cpu is None else f'{b_cpu:.1f} µs'} | – | |")
        for v, name in present:
            rs = runs(v, file)
            if not rs:
                failures.append(f"consent {file} {name}: no runs")
                continue
            v_rps, v_cpu = med(rs, "rps"), cpu_us(rs)
            ratio = v_rps / b_rps if b_rps > 0 else 0.0
            why = []
            if ratio < ENFORCE_RATIO_MIN:
                why.append(f"req/s ratio {ratio:.3f} < {ENFORCE_RATIO_MIN:.2f}")
            errs = sum(r["non2xx"] + r["socket_errors"] for r in rs)
            if errs:
                why.append(f"{errs} errors (non-2xx/socket)")
            cpu = "–" if v_cpu is None else f"{v_cpu:.1f} µs"
            delta = ("–" if v_cpu is None or not b_cpu
                     else f"{100 * (v_cpu - b_cpu) / b_cpu:+.0f}%")
            out.append(f"| {file} | {name} | {v_rps:,.0f} | {ratio:.3f} "
                       f"| {fmt_ms(med(rs, 'p50_ms'))} | {fmt_ms(med(rs, 'p99_ms'))} | {cpu} "
                       f"| {delta} | {'PASS' if not why else 'FAIL'} |")
            failures += [f"consent {file} {name}: {w}" for w in why]
    out.append("")
    out.append("Median of the same rounds, interleaved with the proxy runs above. ratio = req/s "
               f"/ the no-cookie req/s; target ≥ {ENFORCE_RATIO_MIN:.2f} (enforcement costs at "
               f"most {100 * (1 - ENFORCE_RATIO_MIN):.0f}%), no errors. CPU per request = the "
               "gateway process's on-CPU time (all threads, /proc schedstat) during the run / "
               "requests; CPU Δ against no cookie. It depends less on other load than req/s does, "
               "but a busy machine moves it too (cache misses, more wake-ups per request).")
    spread = []
    for file in files:
        parts = []
        for v in ["gateway"] + [v for v, _ in present]:
            rs = [r["rps"] for r in runs(v, file)]
            if len(rs) > 1 and statistics.median(rs) > 0:
                parts.append(f"{100 * (max(rs) - min(rs)) / statistics.median(rs):.0f}%")
        if parts:
            spread.append(f"{file} " + "/".join(parts))
    if spread:
        out += ["", "Run-to-run spread of req/s (no cookie/" + "/".join(n for _, n in present)
                + "): " + "; ".join(spread) + "."]
    return out


def decisions_table(decisions, target, failures):
    """The POST /_consent rows and the check that every answered decision is in Redis."""
    if not decisions:
        return []
    out = ["", "Consent decisions: `POST /_consent` with {\"categories\": [\"analytics\"]}, each a "
           "new visitor (a Lua script per event in Redis: hash, audit stream entry, count).", "",
           "| Redis persistence | decisions/s (2xx) | non-2xx | socket errors | p50 | p99 "
           "| wrk 2xx | events in Redis | gateway stored | journaled | CPU per decision "
           "gateway / Redis | target | result |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for d in decisions:
        ok2xx = d["requests"] - d["non2xx"]
        rate = d["rps"] * ok2xx / d["requests"] if d["requests"] else 0.0
        ev, stored, counted = d.get("redis_events", -1), d.get("stored", -1), d.get("redis_counted", -1)
        fsync = d.get("fsync", "?")
        why = []
        # Lost or duplicated events are failures at any persistence setting.
        if ev < ok2xx:
            why.append(f"LOST EVENTS: wrk got {ok2xx} 2xx answers but only {ev} events are in "
                       f"Redis ({ok2xx - ev} missing)")
        elif ev > ok2xx + d.get("conns", 0):
            why.append(f"{ev} events in Redis for {ok2xx} 2xx answers: more than the "
                       f"{d.get('conns', 0)} that can be in flight when wrk stops")
        if ev != stored:
            why.append(f"events in Redis ({ev}) != events the gateway counted as stored ({stored})")
        if counted != ev:
            why.append(f"counts hash grew by {counted}, the audit stream by {ev}")
        if d.get("failed", 0):
            why.append(f"{d['failed']} decisions could not be recorded at all")
        if d.get("journal_left", 0):
            why.append(f"{d['journal_left']} events still in the journal after the drain wait")
        if d["non2xx"] or d["socket_errors"]:
            why.append(f"{d['non2xx']} non-2xx answers, {d['socket_errors']} socket errors")
        if fsync == "always":
            tgt = f"≥ {target:,}/s"
            if rate < target:
                why.append(f"{rate:,.0f} decisions/s < {target:,}/s")
        else:
            tgt = "reference (all events in Redis)"
        failures += [f"decisions (appendfsync {fsync}): {w}" for w in why]
        cpu = "–"
        if d.get("cpu_ns", 0) > 0 and d["requests"]:
            cpu = (f"{d['cpu_ns'] / d['requests'] / 1000:.0f} µs / "
                   f"{d.get('redis_cpu_ns', 0) / d['requests'] / 1000:.0f} µs")
        out.append(f"| appendfsync {fsync} | {rate:,.0f} | {d['non2xx']} | {d['socket_errors']} "
                   f"| {fmt_ms(d['p50_ms'])} | {fmt_ms(d['p99_ms'])} | {ok2xx:,} | {ev:,} "
                   f"| {stored:,} | {d.get('journaled', 0):,} | {cpu} | {tgt} | "
                   f"{'PASS' if not why else '**FAIL**'} |")
    out.append("")
    out.append("wrk 2xx ≤ events in Redis ≤ wrk 2xx + connections: wrk stops with up to one "
               "request per connection in flight, recorded and answered but not counted by wrk. "
               "Journaled = acknowledged from the local journal (Redis slower than the command "
               "timeout), replayed to Redis before the count. CPU per decision: on-CPU time of "
               "the gateway (all threads) and of redis-server during the run / wrk's requests.")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rss")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--gateway-label", default="gateway")
    ap.add_argument("--decisions-target", type=int, default=10000)
    a = ap.parse_args()

    recs = []
    with open(a.results) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    decisions = [r for r in recs if r["target"] == "decisions"]
    recs = [r for r in recs if r["target"] in PROXY_TARGETS]
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
    rounds = sorted({r["round"] for r in recs if r["target"] in ("nginx", "gateway")})
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

    lines += enforcement_table(recs, files, runs, med, a.gateway_label, failures, notes)
    lines += decisions_table(decisions, a.decisions_target, failures)

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
