#!/usr/bin/env bash
# bench/sizing.sh — sizing figures for operators, measured on loopback (about 4 minutes):
#   1. Redis memory per 1 million consent records (one decision per visitor),
#   2. Redis memory of one site-day of analytics, live and folded, for a few traffic sizes,
#   3. consent decisions/s and page views/s per gateway core ("workers": 1), median of rounds.
#
# Usage: bench/sizing.sh [--decisions N] [--pageviews "1000 10000 100000"] [--rounds 3]
#                        [--duration 5] [--build-dir build-release] [--out FILE] [--keep-tmp]
#   defaults: --decisions 100000 (1000..1000000) --rounds 3 --duration 5 (seconds per wrk run)
#             --out /tmp/sizing-results.md (the markdown report; also printed)
#   Needs an already built DIR/gateway/consent-gateway (never builds), redis-server, nginx, wrk,
#   curl, python3, uap-core and node_modules' GeoIP database (npm ci).
#
# How: a redis-server on a free 127.0.0.1 port (no RDB, AOF on, appendfsync always, no
# auto-rewrite), an nginx upstream answering bench/gen_files.py's 30k.html for every path, and
# ONE gateway process ("workers": 1, access log on, flush every 1 s) with a site "consent"
# (analytics off), one analytics site per traffic size and "tput" for the rate rounds.
#  1. wrk POSTs {"categories": ["analytics"]} to /_consent without a Cookie (each a new consent id)
#     until N events are in the audit stream; Δ INFO used_memory / N × 10^6, and MEMORY USAGE of a
#     sample of the keys (bench/sizing.py consent).
#  2. Per size, wrk sends that many page views (300 paths, 1/3 as many visitors as page views,
#     12 User-Agents, 5 languages, 10 referrers + direct, campaigns on 1 in 12, public IPs in
#     X-Forwarded-For for the country); after the flush, SCAN + MEMORY USAGE of the site-day's
#     keys. Fold: the day's keys are RENAMEd 3 days back and queued in cg:a:unfolded, the
#     gateway is restarted (it folds days >= 2 days old at start), then measured again.
#  3. --rounds rounds of `wrk --latency -t1 -c50 -dS`: bench/decide.lua, then page views; per
#     round requests / CPU-seconds of the gateway process (/proc/PID/stat) and wrk's req/s.
# Safety: 127.0.0.1 only; every loop bounded; everything started here is stopped on exit.
set -euo pipefail

DECISIONS=100000 PAGEVIEWS="1000 10000 100000" ROUNDS=3 DURATION=5 BUILD_DIR=build-release
OUT=/tmp/sizing-results.md KEEP_TMP=0
die() { echo "sizing: error: $*" >&2; exit 1; }
log() { echo "sizing: $*" >&2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --decisions) DECISIONS=${2:?}; shift 2 ;;
        --pageviews) PAGEVIEWS=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $DECISIONS =~ ^[0-9]+$ ]] && (( DECISIONS >= 1000 && DECISIONS <= 1000000 )) || die "--decisions: 1000..1000000"
[[ $ROUNDS =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 && ROUNDS <= 9 )) || die "--rounds: 1..9"
[[ $DURATION =~ ^[0-9]+$ ]] && (( DURATION >= 1 && DURATION <= 60 )) || die "--duration: 1..60"
for n in $PAGEVIEWS; do [[ $n =~ ^[0-9]+$ ]] && (( n >= 100 && n <= 1000000 )) || die "--pageviews: 100..1000000 each"; done
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
[[ $BUILD_DIR = /* ]] || BUILD_DIR="$REPO/$BUILD_DIR"
GW_BIN="$BUILD_DIR/gateway/consent-gateway"
GEOIP="$REPO/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
[[ -x $GW_BIN ]] || die "no $GW_BIN (build it first; this script never builds)"
[[ -s $GEOIP ]] || die "no $GEOIP (npm ci)"
for t in redis-server redis-cli wrk curl python3; do command -v "$t" >/dev/null || die "missing $t"; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx); [[ -x $NGINX ]] || die "missing nginx"
PY="python3 $REPO/bench/sizing.py"

T=$(mktemp -d -t cg-sizing.XXXXXX)
REDIS_PID= UP_PID= GW_PID= WRK_PID= UP_WORKERS=
cleanup() {
    local rc=$? pid
    set +e; trap - EXIT INT TERM
    for pid in $WRK_PID $GW_PID $UP_PID $REDIS_PID; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 50); do
        alive=0; for pid in $GW_PID $UP_PID $REDIS_PID; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break; sleep 0.1
    done
    for pid in $WRK_PID $GW_PID $UP_PID $REDIS_PID $UP_WORKERS; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if (( KEEP_TMP )); then log "temp dir kept: $T"; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

mapfile -t P < <(python3 bench/free_ports.py 4)
RP=${P[0]} UP=${P[1]} GW=${P[2]} ADM=${P[3]}
rcli() { redis-cli -h 127.0.0.1 -p "$RP" "$@"; }
metric() { curl -sf --max-time 5 "http://127.0.0.1:$ADM/metrics" | awk -v k="$1" '$1 == k {v = $2} END {printf "%.0f\n", v + 0}'; }
ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
wait_up() {  # wait_up PID NAME CHECK...: up to 15 s
    for _ in $(seq 1 150); do
        kill -0 "$1" 2>/dev/null || die "$2 exited at start (logs in $T; --keep-tmp keeps them)"
        "${@:3}" >/dev/null 2>&1 && return 0; sleep 0.1
    done; die "$2 not ready"
}

mkdir -p "$T/redis" "$T/www" "$T/up/tmp"
redis-server --bind 127.0.0.1 --port "$RP" --dir "$T/redis" --save "" --appendonly yes \
    --appendfsync always --auto-aof-rewrite-percentage 0 --logfile "$T/redis/log" &
REDIS_PID=$!
wait_up "$REDIS_PID" redis-server rcli ping
python3 bench/gen_files.py "$T/www" >/dev/null
cat > "$T/up/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo "user root;")
worker_processes 1; daemon off; pid $T/up/nginx.pid; error_log $T/up/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $T/up/tmp/b; proxy_temp_path $T/up/tmp/p; fastcgi_temp_path $T/up/tmp/f;
    uwsgi_temp_path $T/up/tmp/u; scgi_temp_path $T/up/tmp/s; access_log off; default_type text/html;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$UP; root $T/www; location / { try_files /30k.html =404; } }
}
EOF
"$NGINX" -p "$T/up" -c "$T/up/nginx.conf" -e "$T/up/error.log" &
UP_PID=$!
wait_up "$UP_PID" nginx curl -sf "http://127.0.0.1:$UP/"
UP_WORKERS=$(pgrep -P "$UP_PID" | tr '\n' ' ' || true)

SITES='{"name": "consent", "hosts": ["127.0.0.1"], "upstream": "http://127.0.0.1:'$UP'", "analytics": {"enabled": false}}'
for n in $PAGEVIEWS tput; do SITES+=', {"name": "pv'$n'", "hosts": ["pv'$n'.sizing"], "upstream": "http://127.0.0.1:'$UP'"}'; done
cat > "$T/gw.json" <<EOF
{"listen": {"address": "127.0.0.1", "port": $GW}, "admin": {"address": "127.0.0.1", "port": $ADM},
 "workers": 1, "log": {"level": "info", "access": true}, "trusted_proxies": ["127.0.0.1/32"],
 "consent": {"keys": ["$(python3 -c 'import secrets; print(secrets.token_hex(32))')"],
             "journal": {"path": "$T/journal.jsonl"}, "rate_limits": {"per_consent_id": 0, "per_address": 0}},
 "redis": {"host": "127.0.0.1", "port": $RP},
 "analytics": {"flush_interval_ms": 1000, "geoip_db": "$GEOIP"},
 "sites": [$SITES]}
EOF
chmod 600 "$T/gw.json"
"$GW_BIN" --check-config "$T/gw.json" >/dev/null || die "the gateway refuses $T/gw.json"
start_gw() {
    "$GW_BIN" "$T/gw.json" >> "$T/gateway.log" 2>&1 &
    GW_PID=$!
    wait_up "$GW_PID" gateway curl -sf "http://127.0.0.1:$ADM/healthz"
}
start_gw
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "temp dir $T; redis :$RP, upstream :$UP, gateway :$GW (admin :$ADM); load average $LOAD0"
: > "$T/results.jsonl"

# fill N COUNTER WRK-ARGS...: wrk (its Lua script stops at N answers) until COUNTER >= N; <= 300 s
fill() {
    local n=$1 counter=$2; shift 2
    wrk -t1 -c8 -d300s --timeout 10s "$@" > "$T/fill.out" 2>&1 & WRK_PID=$!
    for _ in $(seq 1 1500); do
        (( $($counter) >= n )) && break
        kill -0 "$WRK_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -INT "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" || true; WRK_PID=
    grep -q 'requests in' "$T/fill.out" || { cat "$T/fill.out" >&2; die "wrk failed"; }
}
settle() {  # consent journal replayed and the analytics writer idle, then two flushes more
    for _ in $(seq 1 100); do
        [[ $(metric cg_consent_journal_events) == 0 && $(metric cg_analytics_pending) == 0 ]] && break
        sleep 0.2
    done; sleep 2.5
}

# ---- 1. consent records
sleep 2
read -r U0 D0 < <($PY mem "$RP")
audit_len() { rcli XLEN cg:audit:consent; }
$PY lua-decide "$DECISIONS" > "$T/decide.lua"
log "1. $DECISIONS consent decisions (new visitor each) ..."
fill "$DECISIONS" audit_len -s "$T/decide.lua" "http://127.0.0.1:$GW/_consent"
settle
$PY consent "$RP" consent 2000 "$U0" "$D0" >> "$T/results.jsonl"
log "   $(tail -n1 "$T/results.jsonl")"

# ---- 2. analytics site-days, live
for n in $PAGEVIEWS; do
    v=$(( n / 3 > 10 ? n / 3 : 10 ))
    read -r U0 _ < <($PY mem "$RP")
    $PY lua-pages "$n" > "$T/pages.lua"
    pv_of() { metric "cg_analytics_page_views_total{site=\"pv$n\"}"; }
    log "2. site pv$n: $n page views from $v visitors ..."
    fill "$n" pv_of -s "$T/pages.lua" "http://127.0.0.1:$GW/" -- "pv$n.sizing" "$v" "$n"
    settle
    $PY site "$RP" "pv$n" live "$U0" >> "$T/results.jsonl"
done
# ---- ... and folded: the days moved 3 days back, the gateway restarted (it folds at start)
for n in $PAGEVIEWS; do log "   pv$n's day moved back to $($PY age "$RP" "pv$n" 3) for the fold"; done
kill -TERM "$GW_PID"; wait "$GW_PID" || true
start_gw
want=$(wc -w <<< "$PAGEVIEWS")
for _ in $(seq 1 900); do (( $(metric cg_analytics_folded_days_total) >= want )) && break; sleep 0.1; done
(( $(metric cg_analytics_folded_days_total) >= want )) || die "the gateway folded $(metric cg_analytics_folded_days_total) of $want days in 90 s"
for n in $PAGEVIEWS; do $PY site "$RP" "pv$n" folded 0 >> "$T/results.jsonl"; done

# ---- 3. rates: decisions and page views per gateway CPU-second, --rounds rounds
$PY lua-pages 0 > "$T/pages-tput.lua"
rate_run() {  # rate_run TARGET ROUND SECONDS
    local out="$T/wrk-$1-$2.txt" g0 r0 args=(-s "$REPO/bench/decide.lua" "http://127.0.0.1:$GW/_consent")
    [[ $1 == pageviews ]] && args=(-s "$T/pages-tput.lua" "http://127.0.0.1:$GW/" -- pvtput.sizing 3000 7)
    g0=$(ticks "$GW_PID") r0=$(ticks "$REDIS_PID")
    wrk --latency -t1 -c50 -d"${3}s" --timeout 10s "${args[@]}" > "$out" 2>&1 & WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed"; }; WRK_PID=
    [[ $2 == warmup ]] && return 0
    python3 bench/parse_wrk.py "$1" "$1" "$2" "gw_ticks=$(( $(ticks "$GW_PID") - g0 ))" \
        "redis_ticks=$(( $(ticks "$REDIS_PID") - r0 ))" "hz=$(getconf CLK_TCK)" < "$out" >> "$T/results.jsonl"
    log "   $1 round $2: $(grep -m1 'Requests/sec' "$out" | tr -s ' ')"
}
log "3. rates: $ROUNDS rounds x 2 x ${DURATION}s (after a 2 s warm-up each)"
rate_run decisions warmup 2; rate_run pageviews warmup 2
for r in $(seq 1 "$ROUNDS"); do rate_run decisions "$r" "$DURATION"; rate_run pageviews "$r" "$DURATION"; done
kill -0 "$GW_PID" || die "the gateway died"

# ---- report
HDR="$(date -u '+%Y-%m-%d %H:%MZ') | $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), \
shared: load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end | gateway $(git rev-parse --short HEAD) \
built $(date -u -r "$GW_BIN" '+%Y-%m-%d %H:%MZ'), workers 1, access log on | \
$(redis-server --version | grep -o 'v=[^ ]*' | sed 's/v=/Redis /'), TCP loopback, AOF appendfsync always"
{
    $PY report "$T/results.jsonl" "$HDR"
    cat <<'EOF'

Method notes:
- Consent: each POST /_consent without a Cookie is a new consent id, so a record here is what one visitor's single decision costs: a `cg:consent:` hash (latest state + the decision JSON as `first`), a `cg:event:` idempotency key and an audit-stream entry (no history list until a visitor's 2nd decision). Per million = Δ`used_memory` / N × 10^6. Linear extrapolation is sound because every part is per record; the main and expires dict bucket arrays (8 B per key slot, doubling at powers of two) and the stream's radix tree are included in Δ`used_memory` but not in `MEMORY USAGE`, which is why the key sum is lower. Plan RSS with jemalloc fragmentation on top (typically 1.1-1.5 ×).
- Analytics: all page views of a run land in one or two clock hours (the hour comes from the gateway's clock), so a real day's 24 `:uh:HH` HyperLogLogs and up to 24 hours of `:ph` (path × hour) fields are under-represented; the "≤ … if spread over 24 h" figure adds 23 × the hour HLL and 23 × the `:ph` hash as an upper bound. Not included in the site-day figure: the `:b:` batch markers (one per flush per site-day per gateway while it has traffic, kept 2 days; with the default 5 s flush up to 17,280 a day per gateway) and the `{rt:SITE}` minute HLLs (10 minutes); the gateway's in-memory visit table is not in Redis. A row's HLL is sparse (a few hundred bytes) until it has ~1-2 thousand visitors, then dense (~12 KB).
- Fold: forced from outside by renaming the day's keys 3 days back and restarting the gateway (it folds days >= 2 days old at start and every minute); the fold code is the gateway's own. Folded = `:t` + `:ph` + `:f` + one `:r:DIM` string per breakdown.
- Rates: one gateway worker thread plus its writer threads; "per gateway core" = requests / CPU-seconds of the whole gateway process during the run (less sensitive to other load than wall-clock req/s; Redis's CPU shown beside it). wrk, nginx and Redis share the 2 cores, and another build ran at the same time, so wall-clock rates are noisy; take medians, compare CPU-based figures.
EOF
} > "$OUT"
cat "$OUT"
