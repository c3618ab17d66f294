#!/usr/bin/env python3
"""Turn the benchmark's raw results into the Markdown report and PASS/FAIL.

  report.py --results results.jsonl [--rss rss.txt] [--header LINE]... [--out FILE]
            [--gateway-label NAME] [--decisions-target N]

results.jsonl: one parse_wrk.py record per wrk run.  Target "nginx" or "gateway": the
proxy comparison; "gateway-cookie" / "gateway-setcookie": the consent variants (the
same file with a realistic Cookie header and a valid consent cookie; and also two
upstream Set-Cookie headers); "nginx-cookie" / "nginx-setcookie": their twins, the same
requests through the nginx proxy; "decisions": a POST /_consent run, whose record also has
fsync, conns, redis_events, redis_counted, stored, journaled, failed, journal_left.
rss.txt: lines `TARGET BEFORE_KB HELD_KB N IDLE_RC` (IDLE_RC = idle_conns.py exit code).
HTML rows (targets nginx-html/gateway-html: the trackers page passed through;
nginx-subfilter/gateway-banner and their -gzip forms: rewritten): table "HTML with the
banner", targets per rewritten row: gateway req/s >= 1.0 x nginx (sub_filter), gateway CPU per
request <= the nginx worker's, no gateway errors.  --rewrite-rss FILE: parse_wrk.py records
of the rewrite-memory test (targets rewrite-nginx / rewrite-gateway, file = coding, with
idle_kb, peak_kb, after_kb, conns; also read from --results), shown for reference (not
judged).
Per (target, file) the median over rounds of req/s, p50 and p99 is reported.
Targets (per file): gateway req/s >= 1.0 x nginx; gateway p99 <= nginx p99 + 1 ms;
no non-2xx/socket errors from the gateway.  Consent variants: enforcement ratio >= 0.95
(enforcement costs at most 5%), no errors, where enforcement ratio = (variant req/s /
plain gateway req/s) / (nginx twin req/s / plain nginx req/s), i.e. the variant's raw
ratio corrected by what the same bigger request costs nginx; results without the twin
are judged on the raw ratio.  Decisions: at appendfsync
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
# Each variant's reference: the same path and headers through the nginx proxy.
TWINS = {"gateway-cookie": "nginx-cookie", "gateway-setcookie": "nginx-setcookie"}
PROXY_TARGETS = ("nginx", "gateway") + tuple(v for v, _ in VARIANTS) + tuple(TWINS.values())
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
    """The consent-variant rows: each variant's req/s against the plain gateway's, and the
    same for its nginx twin (the same request through the nginx proxy) as the reference for
    what the bigger request costs without enforcement."""
    present = [(v, name) for v, name in VARIANTS if any(r["target"] == v for r in recs)]
    if not present:
        return []
    fake = "FAKE" in label
    has_twins = any(r["target"] in TWINS.values() for r in recs)
    out = ["", "Consent enforcement cost: the same files through the " + label
           + ", without a Cookie header (necessary only) and with a realistic one"
           " (PHPSESSID, _ga, _ga_ABC123, _fbp, valid cg_consent granting analytics)"
           + (", and with two upstream Set-Cookie headers (_ga, PHPSESSID)"
              if any(v == "gateway-setcookie" for v, _ in present) else "")
           + ("; each also through the nginx proxy with the same path and headers (its twin)"
              if has_twins else "") + "."
           + (" The fake gateway gets a placeholder cg_consent and filters nothing: these "
              "enforcement ratios are the noise floor." if fake else ""), "",
           "| file | request | gateway req/s | raw ratio | nginx req/s | nginx ratio "
           "| enforcement ratio | gateway p50 | gateway p99 | gateway CPU per request "
           "| gateway CPU Δ | nginx CPU Δ | result |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    same_req = []       # (file, [gateway/nginx ratio per request kind, None if unknown])
    no_twin = []        # variants judged on the raw ratio (no nginx twin in the results)
    judged = 0          # variant rows with runs
    for file in files:
        base = runs("gateway", file)
        if not base:
            continue
        nbase = runs("nginx", file)
        b_rps, b_cpu = med(base, "rps"), cpu_us(base)
        nb_rps = med(nbase, "rps") if nbase else None
        nb_cpu = cpu_us(nbase) if nbase else None
        out.append(f"| {file} | no cookie | {b_rps:,.0f} | – "
                   f"| {'–' if nb_rps is None else f'{nb_rps:,.0f}'} | – | – "
                   f"| {fmt_ms(med(base, 'p50_ms'))} | {fmt_ms(med(base, 'p99_ms'))} | "
                   f"{'–' if b_cpu is None else f'{b_cpu:.1f} µs'} | – | – | |")
        row = [b_rps / nb_rps if nb_rps else None]
        for v, name in present:
            rs = runs(v, file)
            if not rs:
                failures.append(f"consent {file} {name}: no runs")
                row.append(None)
                continue
            judged += 1
            twin = runs(TWINS[v], file)
            v_rps, v_cpu = med(rs, "rps"), cpu_us(rs)
            raw = v_rps / b_rps if b_rps > 0 else 0.0
            t_rps = med(twin, "rps") if twin else 0.0
            row.append(v_rps / t_rps if t_rps > 0 else None)
            why = []
            if twin and nb_rps:
                t_cpu = cpu_us(twin)
                n_ratio = t_rps / nb_rps
                enforce = raw / n_ratio if n_ratio > 0 else 0.0
                if round(enforce, 3) < ENFORCE_RATIO_MIN:    # judged as printed
                    why.append(f"enforcement ratio {enforce:.3f} < {ENFORCE_RATIO_MIN:.2f} "
                               f"(raw {raw:.3f}, nginx {n_ratio:.3f})")
                t_err = sum(r["non2xx"] + r["socket_errors"] for r in twin)
                if t_err:
                    notes.append(f"consent {file} {name}: the nginx twin had {t_err} errors "
                                 f"(non-2xx/socket) over {len(twin)} runs")
                t_cols = (f"{t_rps:,.0f} | {n_ratio:.3f} | **{enforce:.3f}**")
                n_delta = ("–" if t_cpu is None or not nb_cpu
                           else f"{100 * (t_cpu - nb_cpu) / nb_cpu:+.0f}%")
            else:
                # Old results without the twin: the raw ratio is all there is.
                no_twin.append(f"{file} {name}")
                if round(raw, 3) < ENFORCE_RATIO_MIN:
                    why.append(f"raw req/s ratio {raw:.3f} < {ENFORCE_RATIO_MIN:.2f} "
                               "(no nginx twin to separate the bigger request's cost)")
                t_cols, n_delta = "– | – | –", "–"
            errs = sum(r["non2xx"] + r["socket_errors"] for r in rs)
            if errs:
                why.append(f"{errs} errors (non-2xx/socket)")
            cpu = "–" if v_cpu is None else f"{v_cpu:.1f} µs"
            delta = ("–" if v_cpu is None or not b_cpu
                     else f"{100 * (v_cpu - b_cpu) / b_cpu:+.0f}%")
            out.append(f"| {file} | {name} | {v_rps:,.0f} | {raw:.3f} | {t_cols} "
                       f"| {fmt_ms(med(rs, 'p50_ms'))} | {fmt_ms(med(rs, 'p99_ms'))} | {cpu} "
                       f"| {delta} | {n_delta} | {'PASS' if not why else 'FAIL'} |")
            failures += [f"consent {file} {name}: {w}" for w in why]
        same_req.append((file, row))
    out.append("")
    out.append("Median of the same rounds, interleaved with the proxy runs above. "
               "raw ratio = the gateway's req/s with that request / its no-cookie req/s: the "
               "whole cost of the bigger request, enforcement included. nginx ratio = the "
               "same for the nginx proxy (same path and headers): what the bigger request "
               "costs a proxy that enforces nothing (more bytes for wrk, the parser and the "
               "upstream on the same cores). enforcement ratio = raw ratio / nginx ratio: what "
               "enforcement costs beyond handling the same bytes; target (as printed) ≥ "
               f"{ENFORCE_RATIO_MIN:.2f} (at most {100 * (1 - ENFORCE_RATIO_MIN):.0f}%), no "
               "errors; the raw ratio is shown, not judged (unless the twin is missing). CPU "
               "per request = the gateway "
               "process's on-CPU time (all threads, /proc schedstat) during the run / "
               "requests; gateway CPU Δ against its no-cookie runs, nginx CPU Δ the same for "
               "the nginx proxy's worker on the twin. CPU depends less on other load than "
               "req/s does, but a busy machine moves it too (cache misses, more wake-ups per "
               "request).")
    if no_twin:
        which = ("every variant (results of an older run.sh without nginx-cookie / "
                 "nginx-setcookie)" if len(no_twin) == judged else ", ".join(no_twin))
        out += ["", f"No nginx twin (or no plain nginx runs) for {which}: judged on the raw ratio, which includes "
                "what the bigger request costs any proxy."]
    spread = []
    kinds = ["gateway"] + [v for v, _ in present]
    for file in files:
        parts = []
        for proxy, targets in (("gateway", kinds),
                               ("nginx", ["nginx"] + [TWINS[v] for v, _ in present])):
            ps = []
            for t in targets:
                rs = [r["rps"] for r in runs(t, file)]
                if len(rs) > 1 and statistics.median(rs) > 0:
                    ps.append(f"{100 * (max(rs) - min(rs)) / statistics.median(rs):.0f}%")
                else:
                    ps.append("–")
            if any(p != "–" for p in ps):
                parts.append(f"{proxy} " + "/".join(ps))
        if parts:
            spread.append(f"{file} " + ", ".join(parts))
    if spread:
        out += ["", "Run-to-run spread of req/s, (max − min) / median (no cookie/"
                + "/".join(n for _, n in present) + "): " + "; ".join(spread)
                + ". The enforcement ratio combines four medians: a deviation from 1.0 within "
                "about the sum of the spreads involved is noise."]
    if any(any(x is not None for x in row[1:]) for _, row in same_req):
        out += ["", "Gateway vs nginx on the same request: gateway req/s / nginx req/s "
                "(medians), for information.", "",
                "| file | no cookie | " + " | ".join(n for _, n in present) + " |",
                "|---|" + "---:|" * (1 + len(present))]
        for file, row in same_req:
            out.append(f"| {file} | "
                       + " | ".join("–" if x is None else f"{x:.3f}" for x in row) + " |")
        out += ["", "The no-cookie column is the proxy table's ratio; a variant's column / "
                "the no-cookie column = its enforcement ratio above. No target of its own "
                "(≥ 0.95 × the no-cookie column would be the same test as the enforcement "
                "ratio's): it shows how the gateway compares with nginx when both handle the "
                "realistic request."]
    return out


HTML_REF = ("nginx-html", "gateway-html")
HTML_ROWS = (("no Accept-Encoding", "nginx-subfilter", "gateway-banner"),
             ("Accept-Encoding: gzip", "nginx-subfilter-gzip", "gateway-banner-gzip"))
# The same banner site with "cache": false: every request rewritten afresh (reference rows).
HTML_NOCACHE_ROWS = (("no Accept-Encoding", "nginx-subfilter", "gateway-banner-nocache"),
                     ("Accept-Encoding: gzip", "nginx-subfilter-gzip",
                      "gateway-banner-nocache-gzip"))
HTML_TARGETS = HTML_REF + tuple(dict.fromkeys(
    t for _, n, g in HTML_ROWS + HTML_NOCACHE_ROWS for t in (n, g)))


def html_table(recs, label, failures, notes):
    """The HTML rows with the banner: the gateway's banner site (hold-back + injection, gzip
    decoded and re-encoded) against nginx with sub_filter inserting the same tags (and gzip),
    plus both proxies passing the same page through, for reference."""
    hr = [r for r in recs if r["target"] in HTML_TARGETS]
    if not hr:
        return []
    page = hr[0]["file"]

    def runs(t):
        return [r for r in hr if r["target"] == t]

    def med(rs, key):
        return statistics.median(r[key] for r in rs)

    def cpu(rs):
        v = cpu_us(rs)
        return "–" if v is None else f"{v:.0f} µs"

    out = ["", f"HTML with the banner: {page} (gtag.js, inline gtag and Meta Pixel snippets, "
           "YouTube iframe) through the " + label + "'s banner site (trackers held back, "
           "banner <link> + <script> inserted before </head>, <noscript> form after <body>; "
           "gzip decoded, rewritten, re-encoded) and through nginx with sub_filter inserting "
           "the same two tags (gzip on, same level, after sub_filter). Targets: req/s ratio "
           "gateway/nginx ≥ 1.0 and gateway CPU per request ≤ nginx worker's, on both rows; "
           "no gateway errors."
           + (" The fake gateway is a second nginx with the same sub_filter and gzip (no "
              "hold-back): these ratios are the noise floor." if "FAKE" in label else ""), "",
           "| row | request | nginx req/s | gateway req/s | ratio (≥ 1.0) | nginx p50 | gateway p50 "
           "| nginx p99 | gateway p99 | nginx CPU/req | gateway CPU/req (≤ nginx) | result |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    rows = [("pass-through (no banner, no sub_filter)", "–", HTML_REF[0], HTML_REF[1], False)]
    rows += [("banner / sub_filter", req, n, g, True) for req, n, g in HTML_ROWS]
    rows += [("banner, rewrite cache off / sub_filter", req, n, g, False)
             for req, n, g in HTML_NOCACHE_ROWS]
    cpus = {}
    for name, req, nt, gt, judged in rows:
        n, g = runs(nt), runs(gt)
        if not n or not g:
            if judged:
                failures.append(f"HTML {name} {req}: missing runs (nginx {len(n)}, gateway {len(g)})")
            continue
        n_rps, g_rps = med(n, "rps"), med(g, "rps")
        ratio = g_rps / n_rps if n_rps > 0 else 0.0
        n_cpu, g_cpu = cpu_us(n), cpu_us(g)
        cpus[nt], cpus[gt] = n_cpu, g_cpu
        why = []
        if judged:
            if round(ratio, 3) < RATIO_MIN:
                why.append(f"req/s ratio {ratio:.3f} < {RATIO_MIN:.1f}")
            if n_cpu is not None and g_cpu is not None and g_cpu > n_cpu:
                why.append(f"CPU per request {g_cpu:.0f} µs > nginx's {n_cpu:.0f} µs "
                           f"({g_cpu / n_cpu:.1f}×)")
        g_err = sum(r["non2xx"] + r["socket_errors"] for r in g)
        n_err = sum(r["non2xx"] + r["socket_errors"] for r in n)
        if g_err:
            why.append(f"{g_err} gateway errors (non-2xx/socket)")
        if n_err:
            notes.append(f"HTML {name} {req}: nginx had {n_err} errors (non-2xx/socket)")
        failures += [f"HTML {name} {req}: {w}" for w in why]
        result = ("PASS" if not why else "FAIL") if judged else ("reference" if not why else "FAIL")
        out.append(f"| {name} | {req} | {n_rps:,.0f} | {g_rps:,.0f} | {ratio:.3f} "
                   f"| {fmt_ms(med(n, 'p50_ms'))} | {fmt_ms(med(g, 'p50_ms'))} "
                   f"| {fmt_ms(med(n, 'p99_ms'))} | {fmt_ms(med(g, 'p99_ms'))} "
                   f"| {cpu(n)} | {cpu(g)} | {result} |")
    rounds = sorted({r["round"] for r in hr})
    out += ["", f"Median of {len(rounds)} round(s), each row's pair adjacent, order reversed "
            "every other round. CPU per request = on-CPU time (/proc schedstat, all threads) "
            "of the gateway process / of the nginx proxy's one worker during the run, / "
            "requests. The gateway's page is longer than nginx's: it also writes the <noscript> "
            "consent form after <body> and a placeholder for the held-back iframe. The judged "
            "rows use the default configuration, in which each worker keeps recently rewritten "
            "pages and reuses one when the upstream body and the visitor's state are the same "
            "(here every request; `cg_banner_cache_hits_total`); the \"rewrite cache off\" rows "
            "are a second banner site with `\"cache\": false`, where every page is decoded, "
            "rewritten and encoded afresh (no target: what a site whose pages change on every "
            "request gets)."]
    added = []
    for (req, nt, gt), (_, _, off) in zip(HTML_ROWS, HTML_NOCACHE_ROWS):
        base_n, base_g = cpus.get(HTML_REF[0]), cpus.get(HTML_REF[1])
        if None not in (base_n, base_g, cpus.get(nt), cpus.get(gt)):
            added.append(f"{req}: gateway +{cpus[gt] - base_g:.0f} µs"
                         + (f" (rewrite cache off +{cpus[off] - base_g:.0f} µs)"
                            if cpus.get(off) is not None else "")
                         + f", nginx +{cpus[nt] - base_n:.0f} µs")
    if added:
        out += ["", "CPU per request that rewriting adds to passing the same page through "
                "(banner row − pass-through row): " + "; ".join(added) + "."]
    if len(rounds) > 1:
        spread = []
        for t in HTML_TARGETS:
            rs = [r["rps"] for r in runs(t)]
            if len(rs) > 1 and statistics.median(rs) > 0:
                spread.append(f"{t} {100 * (max(rs) - min(rs)) / statistics.median(rs):.0f}%")
        out += ["", "Run-to-run spread of req/s, (max − min) / median: " + "; ".join(spread) + "."]
    return out


def rewrite_memory_table(rs, label):
    """Peak VmRSS while REWRITE_CONNS slow responses are rewritten at once (reference)."""
    if not rs:
        return []
    r0 = rs[0]
    out = ["", f"Memory while rewriting {r0.get('conns', '?'):,} responses at once: "
           f"`wrk -c{r0.get('conns', '?')} -d{r0.get('seconds', '?')}s` on the banner page that "
           f"the upstream sends at {r0.get('rate', '?')}/s per connection (so every connection "
           "has a response in flight, being rewritten, all the time; p50 = how long one took). "
           "VmRSS sampled every 0.1 s. Reference numbers: the issue sets no limit.", "",
           "| process | coding | RSS before | RSS peak | peak − before | per response in flight "
           "| RSS 1 s after | responses done | p50 | errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        who = label if r["target"] == "rewrite-gateway" else "nginx proxy worker (sub_filter)"
        idle, peak = r.get("idle_kb", 0), r.get("peak_kb", 0)   # idle_kb: just before the test
        conns = r.get("conns", 0) or 1
        out.append(f"| {who} | {r['file']} | {fmt_mb(idle)} | {fmt_mb(peak)} "
                   f"| {fmt_mb(peak - idle)} | {(peak - idle) / conns:.1f} kB "
                   f"| {fmt_mb(r.get('after_kb', 0))} | {r['requests']:,} "
                   f"| {fmt_ms(r['p50_ms']) if r['requests'] else '–'} "
                   f"| {r['non2xx'] + r['socket_errors']} |")
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
    ap.add_argument("--rewrite-rss")
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
    html_recs = [r for r in recs if r["target"] in HTML_TARGETS]
    # rewrite-memory records: in --rewrite-rss, or in the results (bench/out/latest.jsonl)
    rewrite = [r for r in recs if r["target"] in ("rewrite-nginx", "rewrite-gateway")]
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
    failures, notes = [], []
    if files:
        lines.append("| file | nginx req/s | gateway req/s | ratio | nginx p50 | gateway p50 "
                     "| nginx p99 | gateway p99 | p99 Δ ms | result |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        lines.append("Only the HTML rows were run (--html-only).")
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
    if files:
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
    lines += html_table(html_recs, a.gateway_label, failures, notes)
    if a.rewrite_rss and os.path.exists(a.rewrite_rss):
        with open(a.rewrite_rss) as f:
            rewrite += [json.loads(line) for line in f if line.strip()]
    lines += rewrite_memory_table(rewrite, a.gateway_label)
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
    elif files:
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
