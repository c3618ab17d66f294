#!/usr/bin/env bash
# bench/sizing.sh — sizing figures for operators, measured on loopback (about 3 minutes):
#   1. Redis memory per 1 million consent records (one decision per visitor),
#   2. Redis memory of one site-day of analytics, live and folded, for a few traffic sizes,
#   3. consent decisions/s and page views/s per gateway core ("workers": 1), median of rounds.
# Usage: bench/sizing.sh [--decisions N] [--pageviews "1000 10000 100000"] [--rounds 3]
#                        [--duration 5] [--build-dir build-release] [--out FILE] [--keep-tmp]
#   defaults as shown, --decisions 100000 (1000..1000000), --out /tmp/sizing-results.md.
#   Needs the built DIR/gateway/consent-gateway (never builds), redis-server, nginx, wrk, curl,
#   python3, uap-core and node_modules' GeoIP database (npm ci). Helper: bench/sizing.py.
# How: redis-server on a free 127.0.0.1 port (AOF, appendfsync always, no RDB, no auto-rewrite),
# nginx answering bench/gen_files.py's 30k.html for every path, ONE gateway (workers 1, access
# log on, analytics flush 1 s): site "consent" (analytics off), one analytics site per size, "pvtput".
#  1. wrk POSTs {"categories": ["analytics"]} to /_consent without a Cookie (a new consent id each)
#     until N events are in the audit stream; Δ INFO used_memory / N, MEMORY USAGE of 2,000 keys.
#  2. Per size, that many page views (300 paths, a third as many visitors, 9 User-Agents, 5
#     languages, referrers, campaigns, public IPs in X-Forwarded-For); after the flush SCAN +
#     MEMORY USAGE of the site-day's keys. Then the days are RENAMEd 3 days back and queued in
#     cg:a:unfolded, the gateway restarts (it folds days >= 2 days old at start), measured again.
#  3. --rounds x (`wrk --latency -t1 -c50 -dS` with bench/decide.lua, then page views): requests
#     per CPU-second of the gateway process (/proc/PID/stat) and wrk's wall-clock req/s.
# Safety: 127.0.0.1 only; every loop bounded; everything started here is stopped on exit.
set -euo pipefail
DECISIONS=100000 PAGEVIEWS="1000 10000 100000" ROUNDS=3 DURATION=5 BUILD_DIR=build-release
OUT=/tmp/sizing-results.md KEEP_TMP=0
die() { echo "sizing: error: $*" >&2; exit 1; }
log() { echo "sizing: $*" >&2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --decisions|--pageviews|--rounds|--duration|--build-dir|--out)
            v=${1#--}; v=${v//-/_}; declare "${v^^}"="${2:?$1 needs a value}"; shift 2 ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; [[ $1 == -h || $1 == --help ]] && exit 0; die "bad argument $1" ;;
    esac
done
in_range() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 )); }
in_range "$DECISIONS" 1000 1000000 && in_range "$ROUNDS" 1 9 && in_range "$DURATION" 1 60 || die "bad option value"
for n in $PAGEVIEWS; do in_range "$n" 100 1000000 || die "--pageviews: 100..1000000 each"; done
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); cd "$REPO"
[[ $BUILD_DIR = /* ]] || BUILD_DIR="$REPO/$BUILD_DIR"
GW_BIN="$BUILD_DIR/gateway/consent-gateway"
GEOIP="$REPO/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
[[ -x $GW_BIN && -s $GEOIP ]] || die "no $GW_BIN (build it) or no $GEOIP (npm ci)"
for t in redis-server redis-cli wrk curl python3; do command -v "$t" >/dev/null || die "missing $t"; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx); [[ -x $NGINX ]] || die "missing nginx"
PY="python3 $REPO/bench/sizing.py"

T=$(mktemp -d -t cg-sizing.XXXXXX)
REDIS_PID= UP_PID= GW_PID= WRK_PID= UP_WORKERS=
cleanup() {
    local rc=$? pid alive
    set +e; trap - EXIT INT TERM
    for pid in $WRK_PID $GW_PID $UP_PID $REDIS_PID; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 50); do   # up to 5 s for a clean stop, then KILL
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
ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }   # utime + stime
wait_up() {  # wait_up PID NAME CHECK...: up to 15 s
    for _ in $(seq 1 150); do
        kill -0 "$1" 2>/dev/null || die "$2 exited at start (logs in $T: use --keep-tmp)"
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
http { access_log off; default_type text/html; keepalive_requests 1000000;
    client_body_temp_path $T/up/tmp/b; proxy_temp_path $T/up/tmp/p; fastcgi_temp_path $T/up/tmp/f;
    uwsgi_temp_path $T/up/tmp/u; scgi_temp_path $T/up/tmp/s;
    server { listen 127.0.0.1:$UP; root $T/www; location / { try_files /30k.html =404; } } }
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
 "redis": {"host": "127.0.0.1", "port": $RP}, "analytics": {"flush_interval_ms": 1000, "geoip_db": "$GEOIP"},
 "sites": [$SITES]}
EOF
chmod 600 "$T/gw.json"
"$GW_BIN" --check-config "$T/gw.json" >/dev/null || die "the gateway refuses $T/gw.json"
start_gw() {  # and wait until the User-Agent database is loaded (no page view counts before)
    "$GW_BIN" "$T/gw.json" >> "$T/gateway.log" 2>&1 &
    GW_PID=$!
    wait_up "$GW_PID" gateway curl -sf "http://127.0.0.1:$ADM/healthz"
    local m='cg_analytics_page_views_total{site="pvtput"}' pv0; pv0=$(metric "$m")
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null -H 'Host: pvtput.sizing' -H 'Accept: text/html' -H 'Accept-Language: en' \
            -H 'Sec-Fetch-Dest: document' -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' \
            "http://127.0.0.1:$GW/" || true
        (( $(metric "$m") > pv0 )) && return 0; sleep 0.2
    done; die "no page view counted 20 s after the gateway started"
}
start_gw
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "temp dir $T; redis :$RP, upstream :$UP, gateway :$GW (admin :$ADM); load average $LOAD0"
R="$T/results.jsonl"; : > "$R"

fill() {  # fill N COUNTER WRK-ARGS...: wrk until COUNTER >= N or stands still 3 s (<= 300 s)
    local n=$1 counter=$2 c last=-1 same=0; shift 2
    wrk -t1 -c8 -d300s --timeout 10s "$@" > "$T/fill.out" 2>&1 & WRK_PID=$!
    for _ in $(seq 1 1500); do
        c=$($counter); (( c >= n )) && break
        if (( c == last )); then (( ++same >= 15 )) && break; else same=0 last=$c; fi
        kill -0 "$WRK_PID" 2>/dev/null || break; sleep 0.2
    done
    kill -INT "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" || true; WRK_PID=
    grep -q 'requests in' "$T/fill.out" || { cat "$T/fill.out" >&2; die "wrk failed"; }
}
settle() {  # the consent journal replayed and the analytics writer idle, then two flushes more
    for _ in $(seq 1 100); do
        [[ $(metric cg_consent_journal_events) == 0 && $(metric cg_analytics_pending) == 0 ]] && break; sleep 0.2
    done; sleep 2.5
}

# ---- 1. consent records
sleep 2; read -r U0 D0 < <($PY mem "$RP")
audit_len() { rcli XLEN 'cg:{c:consent}:audit'; }
log "1. $DECISIONS consent decisions (a new visitor each) ..."
$PY lua-decide "$DECISIONS" > "$T/decide.lua"
fill "$DECISIONS" audit_len -s "$T/decide.lua" "http://127.0.0.1:$GW/_consent"
settle; $PY consent "$RP" consent 2000 "$U0" "$D0" >> "$R"

# ---- 2. analytics site-days, live, then folded
$PY lua-pages 0 > "$T/pages-tput.lua"
for n in $PAGEVIEWS; do
    log "2. site pv$n: $n page views from $(( n / 3 )) visitors ..."
    $PY lua-pages "$n" > "$T/pages.lua"
    pv_of() { metric "cg_analytics_page_views_total{site=\"pv$n\"}"; }
    fill "$n" pv_of -s "$T/pages.lua" "http://127.0.0.1:$GW/" -- "pv$n.sizing" "$(( n / 3 ))" "$n"
    settle; $PY site "$RP" "pv$n" live >> "$R"
done
kill -TERM "$GW_PID"; wait "$GW_PID" || true     # it counts its open visits as it stops
declare -A OLD
for n in $PAGEVIEWS; do OLD[$n]=$($PY age "$RP" "pv$n" 3); done
log "   days moved back to ${OLD[*]}, gateway restarted to fold them"
start_gw
for n in $PAGEVIEWS; do
    f() { rcli HGET "cg:a:{pv$n:${OLD[$n]}}:f" folded; }
    for _ in $(seq 1 450); do [[ $(f) == 1 ]] && break; sleep 0.2; done
    [[ $(f) == 1 ]] || die "pv$n's day was not folded within 90 s"
    $PY site "$RP" "pv$n" folded >> "$R"
done

# ---- 3. rates: requests per CPU-second of the gateway, --rounds rounds
rate_run() {  # rate_run TARGET ROUND SECONDS
    local out="$T/wrk-$1-$2.txt" g0 r0 args=(-s "$REPO/bench/decide.lua" "http://127.0.0.1:$GW/_consent")
    [[ $1 == pageviews ]] && args=(-s "$T/pages-tput.lua" "http://127.0.0.1:$GW/" -- pvtput.sizing 3000 7)
    g0=$(ticks "$GW_PID") r0=$(ticks "$REDIS_PID")
    wrk --latency -t1 -c50 -d"${3}s" --timeout 10s "${args[@]}" > "$out" 2>&1 & WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed"; }; WRK_PID=
    [[ $2 == warmup ]] && return 0
    python3 bench/parse_wrk.py "$1" "$1" "$2" "gw_ticks=$(( $(ticks "$GW_PID") - g0 ))" \
        "redis_ticks=$(( $(ticks "$REDIS_PID") - r0 ))" "hz=$(getconf CLK_TCK)" < "$out" >> "$R"
    log "   $1 round $2: $(grep -m1 'Requests/sec' "$out" | tr -s ' ')"
}
log "3. rates: $ROUNDS rounds x 2 x ${DURATION}s after a 2 s warm-up each"
rate_run decisions warmup 2; rate_run pageviews warmup 2
for r in $(seq 1 "$ROUNDS"); do rate_run decisions "$r" "$DURATION"; rate_run pageviews "$r" "$DURATION"; done
kill -0 "$GW_PID" || die "the gateway died"

HDR="$(date -u '+%Y-%m-%d %H:%MZ') | $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), \
shared: load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end | gateway $(git rev-parse --short HEAD) \
built $(date -u -r "$GW_BIN" '+%Y-%m-%d %H:%MZ'), workers 1, access log on | \
$(redis-server --version | grep -o 'v=[^ ]*' | sed 's/v=/Redis /'), TCP loopback, AOF appendfsync always"
{ $PY report "$R" "$HDR"; cat <<'EOF'

Method notes:
- Consent: each `POST /_consent` without a Cookie is a new consent id, so one record = one visitor's single decision: a `cg:consent:` hash (latest state + the decision as `first`), a `cg:event:` idempotency key, one audit-stream entry (a history list only from a visitor's 2nd decision; not measured). Per million = Δ`used_memory` / N × 10^6: linear, as every part is per record. Δ`used_memory` is above the `MEMORY USAGE` sum by the main and expires dicts' bucket arrays (which double at powers of two) and the stream's index. Add jemalloc fragmentation (RSS, typically 1.1–1.5 ×) and `retention_days` worth of records.
- Analytics: the page views of a run land in one or two clock hours (the gateway's clock), so a real day's 24 `:uh:HH` HyperLogLogs and 24 hours of `:ph` (hour × path) fields are under-represented; "≤ … spread over 24 h" replaces `:ph` by a scratch hash with every seen path in all 24 hours (at most one field per page view), measured the same way, and adds 23 hour HLLs as big as the measured one (an upper bound). Left out of the site-day: `:b:` batch markers (~100 B, one per flush with traffic per site-day per gateway, kept 2 days: up to 17,280 a day per gateway at the default 5 s flush, ~1.7 MB) and the `{rt:SITE}` minute HLLs (10 minutes). A row's HLL is sparse (≤ a few hundred B) until ~1–2 thousand visitors, then dense (~12 KB).
- Fold: forced from outside by renaming the day's keys 3 days back and restarting the gateway (it folds days ≥ 2 days old at start and every minute): the gateway's own fold code ran. Folded = `:t` + `:ph` + `:f` + one `:r:DIM` string per breakdown.
- Rates: "per gateway core" = requests / CPU-seconds of the whole gateway process (worker, consent store and analytics threads) during the run, steadier than wall-clock req/s; gateway + Redis CPU beside it. Page views proxy a 30 KB page from nginx. wrk, nginx and Redis share the 2 cores and another engineer was compiling at the same time, so the wall-clock figures are noisy and low; medians of the rounds.
- Not measured: a visitor's 2nd and later decisions (a history-list item each, plus the stream entry and event key), a real day's hour spread (estimated above), several gateways' markers, RSS/fragmentation at 1 M records, rates on a quiet machine or with several workers, decisions at `appendfsync everysec`.
EOF
} > "$OUT"
cat "$OUT"
