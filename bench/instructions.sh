#!/usr/bin/env bash
# bench/instructions.sh — user-space instructions per proxied request, gateway vs nginx, under
# callgrind: the steadiest figure on a shared machine (the same binary, requests and
# environment give the same count whatever else runs).
#
# Usage: bench/instructions.sh [--build-dir DIR] [--requests N] [--warmup W] [--files "F..."]
#                              [--keep-dumps DIR]  (callgrind dumps, for callgrind_annotate)
#   defaults: --build-dir build-release --requests 2000 --warmup 300 --files all five
#   Needs valgrind, nginx-light and redis-server (apt-get installed when missing, as root).
#
# What it does: generates the five bench files (bench/gen_files.py), starts an upstream nginx
# (normal speed) and, each under valgrind --tool=callgrind with one worker/thread doing the
# work: nginx as the reverse proxy (master_process off, keepalive upstream pool, a JSON access
# log buffered like the gateway's) and the gateway (workers 1, JSON access log to a file,
# consent enforced with a real Redis for the store). For each file and proxy it sends W
# warm-up requests, zeroes the counters (callgrind_control -z), sends N requests one after
# another on one keep-alive connection with a browser-like head (bench/keepalive_client.py),
# dumps (callgrind_control -d) and divides the total instructions of the process (all its
# threads: the gateway's log writer and store threads count too) by N. Prints a markdown
# table with the ratio gateway / nginx (target <= 1.00) and writes it to
# bench/out/instructions.md. Variants: "cookie" sends a realistic Cookie header with a valid
# consent cookie to both (the gateway verifies and filters it).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BUILD_DIR=build-release
REQUESTS=2000
WARMUP=300
FILES_ARG=""
KEEP=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --requests) REQUESTS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --files) FILES_ARG=$2; shift 2 ;;
        --keep-dumps) KEEP=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "instructions: unknown option $1" >&2; exit 2 ;;
    esac
done
die() { echo "instructions: error: $*" >&2; exit 1; }
log() { echo "instructions: $*" >&2; }
[[ "$REQUESTS" =~ ^[0-9]+$ && "$REQUESTS" -ge 10 ]] || die "--requests must be >= 10"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a number"

missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v curl >/dev/null || missing+=(curl)
if [[ ${#missing[@]} -gt 0 ]]; then
    [[ $(id -u) -eq 0 ]] || die "missing: ${missing[*]} (install them, or run as root)"
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

GATEWAY_BIN="$ROOT/$BUILD_DIR/gateway/consent-gateway"
if [[ ! -x "$GATEWAY_BIN" ]]; then
    log "building $BUILD_DIR (Release)"
    cmake -S "$ROOT" -B "$ROOT/$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCG_BUILD_TESTS=OFF >/dev/null
    cmake --build "$ROOT/$BUILD_DIR" --target consent-gateway >/dev/null
fi

T=$(mktemp -d /tmp/cg-instr.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

mapfile -t PORTS < <(python3 "$BENCH/free_ports.py" 4)
UP_PORT=${PORTS[0]} PROXY_PORT=${PORTS[1]} GW_PORT=${PORTS[2]} ADMIN_PORT=${PORTS[3]}
mkdir -p "$T/www" "$T/up/tmp" "$T/proxy/tmp" "$T/redis"
mapfile -t ALL_FILES < <(python3 "$BENCH/gen_files.py" "$T/www")
if [[ -n "$FILES_ARG" ]]; then read -r -a FILES <<< "$FILES_ARG"; else FILES=("${ALL_FILES[@]}"); fi
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"

temp_paths() {
    local d=$1
    echo "client_body_temp_path $d/tmp/cb; proxy_temp_path $d/tmp/p; fastcgi_temp_path $d/tmp/f;"
    echo "uwsgi_temp_path $d/tmp/u; scgi_temp_path $d/tmp/s;"
}
cat > "$T/up/nginx.conf" <<CONF
$USER_LINE
worker_processes 1; daemon off; pid $T/up/nginx.pid; error_log $T/up/error.log warn;
events { worker_connections 1024; }
http {
    $(temp_paths "$T/up")
    types { text/html html; application/javascript js; application/json json; application/octet-stream bin; }
    access_log off; sendfile on; tcp_nopush off; keepalive_requests 1000000;
    server { listen 127.0.0.1:$UP_PORT; root $T/www; location / { try_files \$uri =404; } }
}
CONF
# The proxy: one process (master_process off) so callgrind sees the worker itself.
cat > "$T/proxy/nginx.conf" <<CONF
$USER_LINE
master_process off; daemon off; pid $T/proxy/nginx.pid; error_log $T/proxy/error.log warn;
events { worker_connections 1024; }
http {
    $(temp_paths "$T/proxy")
    keepalive_requests 1000000;
    log_format json escape=json '{"time":"\$time_iso8601","method":"\$request_method",'
        '"path":"\$uri","status":\$status,"bytes":\$body_bytes_sent,'
        '"duration_ms":\$request_time,"upstream_ms":"\$upstream_response_time"}';
    access_log $T/proxy/access.log json buffer=32k flush=1s;
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://backend; proxy_http_version 1.1;
            proxy_set_header Connection ""; proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
CONF
"$NGINX" -p "$T/up" -c "$T/up/nginx.conf" > "$T/up/out.log" 2>&1 &
PIDS+=($!)

redis-server --port 0 --unixsocket "$T/redis/redis.sock" --unixsocketperm 700 --dir "$T/redis" \
    --save "" --daemonize no --logfile "$T/redis/redis.log" > /dev/null 2>&1 &
PIDS+=($!)
KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
cat > "$T/gateway.json" <<CONF
{"listen": {"address": "127.0.0.1", "port": $GW_PORT}, "admin": {"address": "127.0.0.1", "port": $ADMIN_PORT},
 "workers": 1, "log": {"level": "info", "access": true},
 "consent": {"keys": ["$KEY"], "journal": {"path": "$T/journal.jsonl"}},
 "redis": {"socket": "$T/redis/redis.sock"},
 "sites": [{"name": "bench", "hosts": ["127.0.0.1", "localhost"], "upstream": "http://127.0.0.1:$UP_PORT"}]}
CONF
VG=(valgrind --tool=callgrind --dump-instr=no --collect-jumps=no --compress-strings=no)
(cd "$T/proxy" && exec "${VG[@]}" --callgrind-out-file="$T/proxy/cg.out.%p" \
    "$NGINX" -p "$T/proxy" -c "$T/proxy/nginx.conf" > "$T/proxy/out.log" 2>&1) &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
(cd "$T" && exec "${VG[@]}" --callgrind-out-file="$T/gw.cg.out.%p" \
    "$GATEWAY_BIN" "$T/gateway.json" > "$T/gateway.log" 2>&1) &
GW_PID=$!
PIDS+=("$GW_PID")

wait_up() {  # wait_up URL NAME (valgrind starts slowly: up to 60 s)
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null --max-time 2 "$1" && return 0
        sleep 0.1
    done
    die "$2 not ready at $1 (logs in $T)"
}
wait_up "http://127.0.0.1:$UP_PORT/${ALL_FILES[0]}" "upstream nginx"
wait_up "http://127.0.0.1:$PROXY_PORT/${ALL_FILES[0]}" "nginx proxy under callgrind"
wait_up "http://127.0.0.1:$ADMIN_PORT/healthz" "gateway under callgrind"

# A consent cookie the gateway signed: one real decision.
CONSENT=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
    -H "Origin: http://localhost:$GW_PORT" -H "Host: localhost:$GW_PORT" \
    --data '{"categories":["analytics"]}' "http://127.0.0.1:$GW_PORT/_consent" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(cg_consent=[^;]*\).*/\1/p' | head -n1)
[[ -n "$CONSENT" ]] || die "no consent cookie from POST /_consent"
COOKIES="PHPSESSID=bench0123456789abcdefghijk; _ga=GA1.1.123456789.1700000000; _ga_ABC123=GS1.1.1700000000.1.1.1700000100.0.0.0; _fbp=fb.1.1700000000000.1234567890; $CONSENT"

# count PID PORT PATH [COOKIE] -> instructions per request
count() {
    local pid=$1 port=$2 path=$3 cookie=${4:-}
    python3 "$BENCH/keepalive_client.py" "$port" "$path" "$WARMUP" ${cookie:+"$cookie"}
    callgrind_control -z "$pid" >/dev/null
    python3 "$BENCH/keepalive_client.py" "$port" "$path" "$REQUESTS" ${cookie:+"$cookie"}
    local before after dump
    before=$(ls "$T"/proxy/cg.out.* "$T"/gw.cg.out.* 2>/dev/null | wc -l)
    callgrind_control -d "$pid" >/dev/null
    for _ in $(seq 1 100); do
        after=$(ls "$T"/proxy/cg.out.* "$T"/gw.cg.out.* 2>/dev/null | wc -l)
        [[ "$after" -gt "$before" ]] && break
        sleep 0.1
    done
    dump=$(ls -t "$T"/proxy/cg.out.* "$T"/gw.cg.out.* 2>/dev/null | head -n1)
    if [[ -n "$KEEP" ]]; then
        mkdir -p "$KEEP"
        cp "$dump" "$KEEP/$(basename "$(dirname "$dump")")-${path//\//_}${cookie:+-cookie}.out"
    fi
    awk -v n="$REQUESTS" '/^(summary|totals):/ {print int($2 / n); exit}' "$dump"
}

OUT="$BENCH/out"
mkdir -p "$OUT"
{
    echo "Instructions per request under callgrind (user space, all threads of the process)."
    echo "$REQUESTS requests after $WARMUP warm-up on one keep-alive connection, browser-like head;"
    echo "gateway $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') vs $("$NGINX" -v 2>&1 | sed 's/.*: //'), one worker each, JSON access logs."
    echo
    echo "| file | variant | nginx | gateway | ratio |"
    echo "| --- | --- | ---: | ---: | ---: |"
} > "$OUT/instructions.md"
for f in "${FILES[@]}"; do
    for variant in plain cookie; do
        cookie=""
        [[ "$variant" == cookie ]] && cookie="$COOKIES"
        n=$(count "$PROXY_PID" "$PROXY_PORT" "/$f" "$cookie")
        g=$(count "$GW_PID" "$GW_PORT" "/$f" "$cookie")
        ratio=$(python3 -c "print(f'{$g / $n:.3f}')")
        echo "| $f | $variant | $n | $g | $ratio |" >> "$OUT/instructions.md"
        log "$f $variant: nginx $n, gateway $g, ratio $ratio"
    done
done
cat "$OUT/instructions.md"
