#!/usr/bin/env python3
"""Helper of bench/sizing.sh (read that first). Redis on 127.0.0.1:PORT only.

  sizing.py lua-decide N                  wrk script: POST /_consent, a new visitor each, stop after N
  sizing.py lua-pages N                   wrk script: page views (args HOST VISITORS SEED), stop after N (0: never)
  sizing.py mem PORT                      "used_memory used_memory_dataset"
  sizing.py consent PORT SITE SAMPLE U0 D0   JSON record: bytes per consent record
  sizing.py site PORT SITE LABEL U0       JSON record: bytes of SITE's day keys, by kind
  sizing.py age PORT SITE DAYS            rename SITE's day keys DAYS days back, queue them for the fold
  sizing.py report RESULTS.jsonl HEADER   the markdown report
"""
import datetime, json, random, re, socket, statistics, sys


class Redis:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        self.f = self.s.makefile("rb")

    def many(self, cmds, out=None):
        out = [] if out is None else out
        for i in range(0, len(cmds), 1000):
            part = cmds[i:i + 1000]
            buf = b"".join(b"*%d\r\n" % len(c) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a) for a in (str(x).encode() for x in c)) for c in part)
            self.s.sendall(buf)
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
            return int(rest) if t == b":" else rest.decode()
        n = int(rest)
        if n < 0:
            return None
        return self.f.read(n + 2)[:-2].decode("latin-1") if t == b"$" else [self.read() for _ in range(n)]

    def scan(self, pattern):
        cur, keys = "0", []
        while True:
            cur, got = self("SCAN", cur, "MATCH", pattern, "COUNT", 5000)
            keys += got
            if cur == "0":
                return keys

    def mem(self):
        info = dict(l.split(":", 1) for l in self("INFO", "memory").splitlines() if ":" in l)
        return int(info["used_memory"]), int(info["used_memory_dataset"])

    def usage(self, keys):
        return self.many([("MEMORY", "USAGE", k, "SAMPLES", 0) for k in keys])


UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
       "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
       "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
       "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
       "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
       "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"]
LANGS = ["nb-NO,nb;q=0.9,en;q=0.8", "en-US,en;q=0.9", "sv-SE,sv;q=0.9,en;q=0.8", "de-DE,de;q=0.9", "da,en;q=0.7"]
REFS = ["-", "-", "-", "https://www.google.com/", "https://www.google.no/", "https://www.bing.com/",
        "https://duckduckgo.com/", "https://l.facebook.com/", "https://t.co/", "https://www.linkedin.com/",
        "https://www.reddit.com/", "https://news.ycombinator.com/", "https://www.finn.no/"]
CAMPS = ["?utm_source=facebook&utm_medium=social&utm_campaign=vinter&fbclid=IwAR0x",
         "?utm_source=newsletter&utm_medium=email&utm_campaign=uke-49",
         "?utm_source=google&utm_medium=cpc&utm_campaign=jobb&gclid=Cj0KCQiA"]
STOP = """local done = 0
function response() done = done + 1; if done >= %d then wrk.thread:stop() end end
"""
LUA_PAGES = """local ring, pos, RING = {}, 0, 0
local function lst(s) local t = {} for x in s:gmatch("[^|]+") do t[#t + 1] = x end return t end
local UAS, LANGS, REFS, CAMPS = lst(%s), lst(%s), lst(%s), lst(%s)
local function ip()
  local a repeat a = math.random(1, 223) until not (a == 10 or a == 100 or a == 127 or a == 169 or a == 172 or a == 192 or a == 198)
  return a .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
end
function init(args)   -- HOST VISITORS SEED: 300 paths (log-uniform popularity), campaigns on 1 in 12
  local nv = tonumber(args[2]); math.randomseed(tonumber(args[3]))
  local paths, vis = {}, {}
  for s, sec in ipairs({"nyheter", "sport", "kultur", "jobb", "produkter", "blogg"}) do
    for i = 1, 50 do paths[#paths + 1] = "/" .. sec .. "/" .. (i == 1 and "" or ("side-" .. (s * 1000 + i * 7))) end
  end
  for i = 1, nv do vis[i] = {ip(), UAS[math.random(#UAS)], LANGS[math.random(#LANGS)]} end
  RING = math.min(65536, math.max(8192, nv * 3))
  for i = 1, RING do
    local v, r = vis[math.random(nv)], REFS[math.random(#REFS)]
    local p = paths[math.floor((#paths + 1) ^ math.random())]
    if math.random(12) == 1 then p = p .. CAMPS[math.random(#CAMPS)] end
    local h = {Host = args[1], ["User-Agent"] = v[2], ["Accept-Language"] = v[3], ["X-Forwarded-For"] = v[1],
               Accept = "text/html,application/xhtml+xml,*/*;q=0.8", ["Sec-Fetch-Dest"] = "document",
               ["Sec-Fetch-Mode"] = "navigate", ["Accept-Encoding"] = "gzip, br"}
    if r ~= "-" then h.Referer = r end
    ring[i] = wrk.format("GET", p, h)
  end
end
function request() pos = pos %% RING + 1; return ring[pos] end
"""
LUA_DECIDE = """wrk.method = "POST"; wrk.body = '{"categories": ["analytics"]}'
wrk.headers["Content-Type"] = "application/json"
function init() wrk.headers["Origin"] = "http://" .. wrk.headers["Host"] end
"""


def site_record(r, site, label, used0):
    keys = r.scan("cg:a:{%s:*" % site)
    sizes = r.usage(keys)
    kinds = {}
    for k, b in zip(keys, sizes):
        suf = k.split("}:", 1)[1]
        kind = {"t": ":t", "ph": ":ph", "u": ":u", "f": ":f", "key": ":key"}.get(suf) or ":" + suf.split(":")[0] + ":*"
        if suf.startswith("u:"):
            kind = ":u:DIM:VALUE"
        c = kinds.setdefault(kind, [0, 0])
        c[0] += 1
        c[1] += b
    day = re.search(r":(\d{4}-\d\d-\d\d)}", keys[0]).group(1) if keys else "?"
    base = "cg:a:{%s:%s}" % (site, day)
    t = r("HGETALL", base + ":t") or []
    pv = sum(int(v) for f, v in zip(t[::2], t[1::2]) if f[:3] in ("pv:", "an:"))
    f = dict(zip(*[iter(r("HGETALL", base + ":f") or [])] * 2))
    rows = [k for k in keys if ":u:" in k]
    dense = sum(1 for x in r.many([("GETRANGE", k, 4, 4) for k in rows]) if x == "\x00")
    return {"kind": "site", "site": site, "label": label, "page_views": pv, "day": day,
            "visitors": int(f.get("u", 0)) or r("PFCOUNT", base + ":u"), "paths": r("HLEN", base + ":d:page") or (r("GET", base + ":r:page") or "").count("\n"),
            "kinds": kinds, "total": sum(sizes), "dense_row_hlls": dense,
            "used_delta": r.mem()[0] - used0, "rt": sum(r.usage(r.scan("cg:a:{rt:%s}:*" % site)))}


def consent_record(r, site, sample, u0, d0):
    n = r("XLEN", "cg:audit:" + site)
    u1, d1 = r.mem()
    mean = lambda ks: statistics.mean(r.usage(random.sample(ks, min(sample, len(ks))))) if ks else 0
    hashes, events = r.scan("cg:consent:%s:*" % site), r.scan("cg:event:*")
    return {"kind": "consent", "n": n, "used": u1 - u0, "dataset": d1 - d0, "hashes": len(hashes),
            "events": len(events), "lists": len(r.scan("cg:history:%s:*" % site)),
            "hash_mean": mean(hashes), "event_mean": mean(events),
            "stream": r("MEMORY", "USAGE", "cg:audit:" + site, "SAMPLES", 0)}


def age(r, site, days):
    keys = r.scan("cg:a:{%s:*" % site)
    day = re.search(r":(\d{4}-\d\d-\d\d)}", keys[0]).group(1)
    old = datetime.date.fromisoformat(day) - datetime.timedelta(days=int(days))
    r.many([("RENAME", k, k.replace(":%s}" % day, ":%s}" % old)) for k in keys])
    r("ZREM", "cg:a:unfolded", "%s %s" % (day, site))
    r("ZADD", "cg:a:unfolded", (old - datetime.date(1970, 1, 1)).days, "%s %s" % (old, site))
    print(old)


def report(path, header):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    kb = lambda b: f"{b / 1024:,.1f} KiB"
    mb = lambda b: f"{b / 2**20:,.0f} MiB"
    out = ["# consent-gateway sizing (bench/sizing.sh)", "", header, "", "| figure | value | detail |", "|---|---:|---|"]
    for c in (x for x in recs if x["kind"] == "consent"):
        keyl = c["hashes"] * c["hash_mean"] + c["events"] * c["event_mean"] + c["stream"]
        out.append(f"| Redis per 1 M consent records (1 decision per visitor) | **{mb(c['used'] / c['n'] * 1e6)}** "
                   f"| {c['n']:,} decisions: used_memory +{mb(c['used'])} ({c['used'] / c['n']:.0f} B/record; dataset "
                   f"{c['dataset'] / c['n']:.0f} B); MEMORY USAGE: hash {c['hash_mean']:.0f} B + event key "
                   f"{c['event_mean']:.0f} B + stream entry {c['stream'] / c['n']:.0f} B = {keyl / c['n']:.0f} B; "
                   f"history lists: {c['lists']} |")
    for s in (x for x in recs if x["kind"] == "site"):
        k = s["kinds"]
        b = lambda n: k.get(n, [0, 0])[1]
        markers = k.get(":b:*", [0, 0])
        day = s["total"] - b(":b:*") - b(":key")
        spread = day + 23 * (b(":ph") + (b(":uh:*") / max(k.get(":uh:*", [1, 1])[0], 1)
                                         if s["label"] == "live" else 0))
        out.append(f"| site-day {s['label']}, {s['page_views']:,} page views ({s['visitors']:,} visitors, "
                   f"{s['paths']} paths) | **{kb(day)}** | ≤ {kb(spread)} if spread over 24 h; "
                   + ", ".join(f"{n} {v[0]}×={kb(v[1])}" for n, v in sorted(k.items()) if n not in (":b:*", ":key"))
                   + (f"; dense row HLLs {s['dense_row_hlls']}" if s["label"] == "live" else "")
                   + (f"; +batch markers {markers[0]}× ≈ {markers[1] / max(markers[0], 1):.0f} B each" if markers[0] else "")
                   + " |")
    for what, label in (("decisions", "consent decisions/s"), ("pageviews", "page views/s")):
        rs = [x for x in recs if x.get("target") == what]
        if not rs:
            continue
        gw = [x["requests"] / (x["gw_ticks"] / x["hz"]) for x in rs]
        rps = ", ".join(f"{x['rps']:,.0f}" for x in rs)
        both = [x["requests"] / ((x["gw_ticks"] + x["redis_ticks"]) / x["hz"]) for x in rs]
        out.append(f"| {label} per gateway core (workers=1) | **{statistics.median(gw):,.0f}** | per CPU-second of "
                   f"the gateway process, rounds {', '.join(f'{g:,.0f}' for g in gw)}; gateway+Redis CPU: "
                   f"{statistics.median(both):,.0f}/s; wall clock (wrk) {statistics.median(x['rps'] for x in rs):,.0f}/s "
                   f"(rounds {rps}); non-2xx {sum(x['non2xx'] for x in rs)}, "
                   f"socket errors {sum(x['socket_errors'] for x in rs)} |")
    print("\n".join(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "lua-decide":
        print(LUA_DECIDE + STOP % int(a[1]))
    elif a[0] == "lua-pages":
        q = lambda xs: '"' + "|".join(xs) + '"'
        print(LUA_PAGES % (q(UAS), q(LANGS), q(REFS), q(CAMPS))
              + (STOP % int(a[1]) if int(a[1]) > 0 else ""))
    elif a[0] == "mem":
        print(*Redis(a[1]).mem())
    elif a[0] == "consent":
        print(json.dumps(consent_record(Redis(a[1]), a[2], int(a[3]), int(a[4]), int(a[5]))))
    elif a[0] == "site":
        print(json.dumps(site_record(Redis(a[1]), a[2], a[3], int(a[4]))))
    elif a[0] == "age":
        age(Redis(a[1]), a[2], a[3])
    elif a[0] == "report":
        report(a[1], a[2])
    else:
        sys.exit(__doc__)
