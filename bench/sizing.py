#!/usr/bin/env python3
"""Helper of bench/sizing.sh (read that first); Redis on 127.0.0.1:PORT.
  lua-decide N | lua-pages N       wrk scripts that stop after N answers (lua-pages 0: never)
  mem PORT                         "used_memory used_memory_dataset"
  consent PORT SITE SAMPLE U0 D0   JSON record: bytes per consent record
  site PORT SITE LABEL             JSON record: bytes of SITE's day keys, by kind
  age PORT SITE DAYS               rename SITE's day keys DAYS days back, queue them for the fold
  report RESULTS.jsonl HEADER      the markdown table"""
import datetime, json, random, re, socket, statistics, sys


class Redis:  # just enough RESP for pipelined commands
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
        self.f = self.s.makefile("rb")

    def many(self, cmds):
        out = []
        for i in range(0, len(cmds), 1000):
            part = [[str(a).encode() for a in c] for c in cmds[i:i + 1000]]
            self.s.sendall(b"".join(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in c)
                                    for c in part))
            out += [self.read() for _ in part]
        return out

    def __call__(self, *cmd):
        return self.many([cmd])[0]

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t in (b"+", b":"):
            return rest.decode() if t == b"+" else int(rest)
        n = int(rest)
        if n < 0:
            return None
        return self.f.read(n + 2)[:-2].decode("latin-1") if t == b"$" else [self.read() for _ in range(n)]

    def scan(self, pattern):
        cur, keys = None, []
        while cur != "0":
            cur, got = self("SCAN", cur or 0, "MATCH", pattern, "COUNT", 5000)
            keys += got
        return keys

    def mem(self):
        i = dict(l.split(":", 1) for l in self("INFO", "memory").splitlines() if ":" in l)
        return int(i["used_memory"]), int(i["used_memory_dataset"])

    def usage(self, keys):
        return self.many([("MEMORY", "USAGE", k, "SAMPLES", 0) for k in keys])


STOP = "local done = 0\nfunction response() done = done + 1; if done >= %d then wrk.thread:stop() end end\n"
LUA_DECIDE = """wrk.method = "POST"; wrk.body = '{"categories": ["analytics"]}'
wrk.headers["Content-Type"] = "application/json"
function init() wrk.headers["Origin"] = "http://" .. wrk.headers["Host"] end
"""
LUA_PAGES = r"""-- args HOST VISITORS SEED: 300 paths (log-uniform popularity), campaigns on 1 in 12
local UAS = {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
 "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
 "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
 "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
 "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
 "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
 "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
 "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"}
local LANGS = {"nb-NO,nb;q=0.9,en;q=0.8", "en-US,en;q=0.9", "sv-SE,sv;q=0.9,en;q=0.8", "de-DE,de;q=0.9", "da,en;q=0.7"}
local REFS = {"-", "-", "-", "https://www.google.com/", "https://www.google.no/", "https://www.bing.com/", "https://duckduckgo.com/",
 "https://l.facebook.com/", "https://t.co/", "https://www.linkedin.com/", "https://www.reddit.com/", "https://www.finn.no/"}
local CAMPS = {"?utm_source=facebook&utm_medium=social&utm_campaign=vinter&fbclid=IwAR0x",
 "?utm_source=newsletter&utm_medium=email&utm_campaign=uke-49", "?utm_source=google&utm_medium=cpc&utm_campaign=jobb&gclid=Cj0K"}
local ring, pos, RING = {}, 0, 0
local function r(t) return t[math.random(#t)] end
function init(args)
  local nv, paths, vis = tonumber(args[2]), {}, {}
  math.randomseed(tonumber(args[3]))
  for s, sec in ipairs({"nyheter", "sport", "kultur", "jobb", "produkter", "blogg"}) do
    for i = 1, 50 do paths[#paths + 1] = "/" .. sec .. "/" .. (i == 1 and "" or ("side-" .. (s * 1000 + i * 7))) end
  end
  for i = 1, nv do   -- a visitor: a public IPv4 address (X-Forwarded-For), a User-Agent, a language
    local a repeat a = math.random(1, 223) until not (a == 10 or a == 100 or a == 127 or a == 169 or a == 172 or a == 192 or a == 198)
    vis[i] = {a .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254), r(UAS), r(LANGS)}
  end
  RING = math.min(65536, math.max(8192, nv * 3))
  for i = 1, RING do
    local v, ref, p = r(vis), r(REFS), paths[math.floor((#paths + 1) ^ math.random())]
    if math.random(12) == 1 then p = p .. r(CAMPS) end
    local h = {Host = args[1], ["User-Agent"] = v[2], ["Accept-Language"] = v[3], ["X-Forwarded-For"] = v[1],
               Accept = "text/html,application/xhtml+xml,*/*;q=0.8", ["Sec-Fetch-Dest"] = "document",
               ["Sec-Fetch-Mode"] = "navigate", ["Accept-Encoding"] = "gzip, br"}
    if ref ~= "-" then h.Referer = ref end
    ring[i] = wrk.format("GET", p, h)
  end
end
function request() pos = pos % RING + 1; return ring[pos] end
"""


def site_record(r, site, label):
    keys = r.scan("cg:a:{%s:*" % site)
    sizes, kinds = r.usage(keys), {}
    for k, b in zip(keys, sizes):
        suf = k.split("}:", 1)[1]
        kind = ":u:DIM:VALUE" if suf.startswith("u:") else ":" + suf if ":" not in suf else ":" + suf.split(":")[0] + ":*"
        kinds[kind] = [kinds.get(kind, [0, 0])[0] + 1, kinds.get(kind, [0, 0])[1] + b]
    day = re.search(r":(\d{4}-\d\d-\d\d)}", keys[0]).group(1)
    base = "cg:a:{%s:%s}" % (site, day)
    t = r("HGETALL", base + ":t") or []
    f = dict(zip(*[iter(r("HGETALL", base + ":f") or [])] * 2))
    rows = [k for k in keys if "}:u:" in k]
    # :ph as it would be with the day's page views spread over 24 hours: every seen path in every
    # hour, at most one field per page view; built in a scratch key, measured, deleted
    paths = sorted({x[3:] for x in r("HKEYS", base + ":ph")})
    pv = sum(int(v) for n, v in zip(t[::2], t[1::2]) if n[:3] in ("pv:", "an:"))
    avg = str(max(1, pv // (24 * max(len(paths), 1))))
    fields = [x for h in range(24) for p in paths for x in ("%02d:%s" % (h, p), avg)][:2 * pv]
    if fields:
        r("HSET", "cg:sizing:scratch", *fields)
        ph24 = r("MEMORY", "USAGE", "cg:sizing:scratch", "SAMPLES", 0)
        r("DEL", "cg:sizing:scratch")
    return {"kind": "site", "site": site, "label": label, "kinds": kinds, "total": sum(sizes),
            "page_views": pv, "ph_24h": ph24 if fields else 0,
            "visitors": int(f.get("u", 0)) or r("PFCOUNT", base + ":u"),
            "paths": r("HLEN", base + ":d:page") or (r("GET", base + ":r:page") or "").count("\n"),
            "dense_row_hlls": sum(x == "\x00" for x in r.many([("GETRANGE", k, 4, 4) for k in rows]))}


def consent_record(r, site, sample, u0, d0):
    u1, d1 = r.mem()
    hashes, events = r.scan("cg:{c:%s}:consent:*" % site), r.scan("cg:{c:%s}:event:*" % site)
    mean = lambda ks: statistics.mean(r.usage(random.sample(ks, min(sample, len(ks)))))
    return {"kind": "consent", "n": r("XLEN", "cg:{c:%s}:audit" % site), "used": u1 - u0, "dataset": d1 - d0,
            "hashes": len(hashes), "events": len(events), "lists": len(r.scan("cg:{c:%s}:history:*" % site)),
            "hash_mean": mean(hashes), "event_mean": mean(events),
            "stream": r("MEMORY", "USAGE", "cg:{c:%s}:audit" % site, "SAMPLES", 0)}


def age(r, site, days):
    keys = r.scan("cg:a:{%s:*" % site)
    day = re.search(r":(\d{4}-\d\d-\d\d)}", keys[0]).group(1)
    old = datetime.date.fromisoformat(day) - datetime.timedelta(days=int(days))
    r.many([("RENAME", k, k.replace(":%s}" % day, ":%s}" % old)) for k in keys])
    r("ZREM", "cg:a:unfolded", "%s %s" % (day, site))
    r("ZADD", "cg:a:unfolded", (old - datetime.date(1970, 1, 1)).days, "%s %s" % (old, site))
    return old


def report(path, header):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    kb, med = lambda b: f"{b / 1024:,.1f} KiB", statistics.median
    out = ["# consent-gateway sizing (bench/sizing.sh)", "", header, "",
           "| figure | value | detail |", "|---|---:|---|"]
    for c in (x for x in recs if x.get("kind") == "consent"):
        keyl = (c["hashes"] * c["hash_mean"] + c["events"] * c["event_mean"] + c["stream"]) / c["n"]
        out.append(f"| Redis per 1 M consent records (1 decision per visitor) | **{c['used'] / c['n'] * 1e6 / 2**30:.2f} GiB** "
                   f"| {c['n']:,} decisions: used_memory +{c['used'] / 2**20:,.0f} MiB = {c['used'] / c['n']:,.0f} B/record "
                   f"(dataset {c['dataset'] / c['n']:,.0f} B); MEMORY USAGE: hash {c['hash_mean']:,.0f} + event key "
                   f"{c['event_mean']:,.0f} + stream entry {c['stream'] / c['n']:,.0f} = {keyl:,.0f} B; history lists {c['lists']} |")
    for s in (x for x in recs if x.get("kind") == "site"):
        k, live = s["kinds"], s["label"] == "live"
        b = lambda n: k.get(n, [0, 0])[1]
        day = s["total"] - b(":b:*") - b(":key")
        # spread over 24 h: :ph rebuilt with every path in every hour (site_record); live: 23 more
        # hour HLLs, each as big as the measured one (every visitor was in that hour)
        spread = day - b(":ph") + s["ph_24h"] + (23 * b(":uh:*") / max(k.get(":uh:*", [1])[0], 1) if live else 0)
        parts = ", ".join(f"{n} {v[0]}× {kb(v[1])}" for n, v in sorted(k.items()) if n not in (":b:*", ":key"))
        out.append(f"| site-day {s['label']}: {s['page_views']:,} page views, {s['visitors']:,} visitors, {s['paths']} paths "
                   f"| **{kb(day)}** | ≤ {kb(spread)} spread over 24 h; {parts}"
                   + (f"; dense row HLLs {s['dense_row_hlls']}" if live else "") + " |")
    for what, label in (("decisions", "consent decisions/s"), ("pageviews", "page views/s")):
        rs = [x for x in recs if x.get("target") == what]
        if rs:
            gw = [x["requests"] * x["hz"] / x["gw_ticks"] for x in rs]
            both = med(x["requests"] * x["hz"] / (x["gw_ticks"] + x["redis_ticks"]) for x in rs)
            out.append(f"| {label} per gateway core (workers 1) | **{med(gw):,.0f}** | per CPU-second of the gateway process; "
                       f"rounds {', '.join(f'{g:,.0f}' for g in gw)}; per CPU-second of gateway + Redis {both:,.0f}; "
                       f"wall clock (wrk) median {med(x['rps'] for x in rs):,.0f}/s, rounds "
                       f"{', '.join(format(x['rps'], ',.0f') for x in rs)}; errors {sum(x['non2xx'] + x['socket_errors'] for x in rs)} |")
    return "\n".join(out)


if __name__ == "__main__":
    a = sys.argv[1:] + [""]
    cmds = {"lua-decide": lambda: LUA_DECIDE + STOP % int(a[1]),
            "lua-pages": lambda: LUA_PAGES + (STOP % int(a[1]) if int(a[1]) else ""),
            "mem": lambda: "%d %d" % Redis(a[1]).mem(),
            "consent": lambda: json.dumps(consent_record(Redis(a[1]), a[2], int(a[3]), int(a[4]), int(a[5]))),
            "site": lambda: json.dumps(site_record(Redis(a[1]), a[2], a[3])),
            "age": lambda: age(Redis(a[1]), a[2], a[3]), "report": lambda: report(a[1], a[2])}
    if a[0] not in cmds:
        sys.exit(__doc__)
    print(cmds[a[0]]())
