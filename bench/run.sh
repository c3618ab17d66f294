#!/usr/bin/env bash
# bench/run.sh — consent-gateway vs nginx as a reverse proxy, on loopback.
#
# Usage: bench/run.sh [--build-dir DIR] [--duration S] [--rounds N] [--connections C]
#                     [--threads T] [--idle-conns N] [--keep-tmp]
#   defaults: --build-dir build-release --duration 5 --rounds 3 --connections 50
#             --threads 1 --idle-conns 1000
#   Builds DIR/gateway/consent-gateway (Release, no tests) if it does not exist.
#   Runs as root or not; as root it apt-get installs nginx-light, wrk, curl when missing.
#
# What it does: in a fresh temp dir it generates five files (30k.html, 2k.html, 100k.js,
# 5k.json, 200k.bin; deterministic bytes), starts an upstream nginx serving them, nginx as a
# reverse proxy to it (keepalive upstream pool, default proxy buffering, buffered access log)
# and the gateway (its JSON access log to a file too), each with ONE worker, all on
# 127.0.0.1 on free ports. It checks that every file comes through both proxies byte for
# byte, warms both up, then runs `wrk --latency -t1 -cC -dS` against each proxy for each
# file, interleaved: each round runs every file on both proxies, nginx first in odd rounds
# and the gateway first in even rounds. Last, it holds 1,000 idle keep-alive connections
# (bench/idle_conns.py) on each proxy and reads the process's VmRSS before and while held.
#
# How to read the results (printed, and written to bench/out/latest.md; raw wrk records in
# bench/out/latest.jsonl):
#   - Every number is the MEDIAN over the rounds of that (proxy, file) pair.
#   - ratio = gateway req/s / nginx req/s; the target is >= 1.000 on every file.
#   - p99 Δ ms = gateway p99 - nginx p99; the target is <= +1.000 ms.
#   - The idle table shows VmRSS of the gateway process (target <= 30 MiB while the
#     1,000 connections are held) and of the nginx proxy's worker process (reference).
#   - Both proxies, the upstream and wrk share this machine's cores, so absolute numbers
#     depend on the machine and its load; compare the ratio. The header shows the load
#     average (anything else running, e.g. a compiler, skews single runs by tens of
#     percent), and the "spread" line shows how much req/s moved between rounds: a ratio
#     closer to 1.0 than that spread is noise. Judge the targets on a quiet machine with
#     the defaults or more (--rounds 5 --duration 10); a BENCH_FAKE_GATEWAY=1 run (nginx
#     against itself, see below) shows the noise floor of the machine.
#   - Exit status: 0 all targets met, 3 a target missed (the report says which),
#     1 the benchmark could not run (setup error, content mismatch, a tool failed).
#
# Harness self-test: BENCH_FAKE_GATEWAY=1 bench/run.sh ... puts a second nginx proxy (same
# config as the reference one, plus /healthz on the admin port) in the gateway's slot, so
# the harness can be checked without the gateway; ratios then hover around 1.0. The report
# labels the gateway column as the fake one in that mode.
#
# Safety: traffic goes only to 127.0.0.1; every loop is bounded; every process started here
# is stopped on exit (EXIT/INT/TERM), and the temp dir is removed (kept with --keep-tmp).
set -euo pipefail

BUILD_DIR=build-release
DURATION=5
ROUNDS=3
CONNS=50
THREADS=1
IDLE_CONNS=1000
IDLE_HOLD=6          # seconds idle_conns.py holds the connections after they are all set up
KEEP_TMP=0
FAKE_GATEWAY=${BENCH_FAKE_GATEWAY:-0}

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
        --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
        --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
        --connections) CONNS=${2:?--connections needs a value}; shift 2 ;;
        --threads) THREADS=${2:?--threads needs a value}; shift 2 ;;
        --idle-conns) IDLE_CONNS=${2:?--idle-conns needs a value}; shift 2 ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
check_range() {  # check_range OPTION VALUE LO HI
    if ! is_uint "$2" || (( $2 < $3 || $2 > $4 )); then die "$1 must be $3..$4"; fi
}
check_range --duration "$DURATION" 1 600
check_range --rounds "$ROUNDS" 1 50
check_range --connections "$CONNS" 1 10000
check_range --threads "$THREADS" 1 "$CONNS"
check_range --idle-conns "$IDLE_CONNS" 1 20000

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$REPO/bench"
cd "$REPO"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$REPO/$BUILD_DIR"
GATEWAY_BIN="$BUILD_DIR/gateway/consent-gateway"

# ---------------------------------------------------------------------------- tools
apt_install() {
    [[ $(id -u) -eq 0 ]] || die "missing $* and not root: install them (apt-get install -y $*)"
    command -v apt-get >/dev/null || die "missing $* and no apt-get"
    log "installing $* ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v cmp >/dev/null || need+=(diffutils)
command -v pgrep >/dev/null || need+=(procps)
if [[ ${#need[@]} -gt 0 ]]; then
    # nginx-light is the small Debian build (bookworm); newer releases only have `nginx`.
    apt_install "${need[@]}" || { need=("${need[@]/nginx-light/nginx}"); apt_install "${need[@]}"; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || die "nginx not found"

# 65536 open files, or the hard limit when that is lower (some sandboxes cap it)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ "$NOFILE" == unlimited ]] && NOFILE=65536
(( NOFILE >= IDLE_CONNS * 2 + 256 )) || die "open-file limit $NOFILE too low for $IDLE_CONNS idle connections"

# ---------------------------------------------------------------------------- build
if [[ "$FAKE_GATEWAY" != 1 && ! -x "$GATEWAY_BIN" ]]; then
    log "no $GATEWAY_BIN: building it (Release) ..."
    if ! command -v cmake >/dev/null || ! command -v c++ >/dev/null; then
        apt_install cmake g++ make pkg-config libboost1.81-dev libssl-dev nlohmann-json3-dev
    fi
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCG_BUILD_TESTS=OFF >&2 \
        || die "cmake configure failed"
    cmake --build "$BUILD_DIR" --target consent-gateway -j2 >&2 || die "gateway build failed"
    [[ -x "$GATEWAY_BIN" ]] || die "build did not produce $GATEWAY_BIN"
fi

# ---------------------------------------------------------------------------- processes
T=$(mktemp -d -t cg-bench.XXXXXX)
PIDS=()      # processes started here: TERM on exit, KILL if still alive after 5 s
WORKERS=()   # nginx worker processes: they stop with their master; KILLed if not
WRK_PID=     # the wrk run in progress, if any
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local rc=$? pid alive
    set +e          # a failing kill/wait must not cut the cleanup short
    trap - EXIT INT TERM ERR
    [[ $rc -eq 130 || $rc -eq 143 ]] && log "interrupted: stopping everything"
    [[ -n "$WRK_PID" ]] && { kill -KILL "$WRK_PID"; wait "$WRK_PID"; } 2>/dev/null
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do          # up to 5 s for a clean stop
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive -eq 0 ]] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}" "${WORKERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ $KEEP_TMP -eq 1 ]]; then log "temp dir kept: $T"; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: error: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The single worker of an nginx master (its only child process); bounded wait.
nginx_worker() {
    local master=$1 w
    for _ in $(seq 1 50); do
        w=$(pgrep -P "$master" 2>/dev/null | head -n1 || true)
        [[ -n "$w" ]] && { echo "$w"; return 0; }
        sleep 0.1
    done
    return 1
}

# wait_http URL PID NAME LOGFILE TIMEOUT_TENTHS
wait_http() {
    local url=$1 pid=$2 name=$3 logf=$4 tries=$5
    for _ in $(seq 1 "$tries"); do
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logf" >&2 || true; die "$name exited during startup (log: $logf)"; }
        curl -sf -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    tail -n 30 "$logf" >&2 || true
    die "$name not ready at $url after $((tries / 10)) s"
}

mapfile -t PORTS < <(python3 "$BENCH/free_ports.py" 5)
[[ ${#PORTS[@]} -eq 5 ]] || die "could not pick free ports"
UP_PORT=${PORTS[0]} PROXY_PORT=${PORTS[1]} GW_PORT=${PORTS[2]} ADMIN_PORT=${PORTS[3]}

mkdir -p "$T/www" "$T/wrk" "$T/check"
mapfile -t FILES < <(python3 "$BENCH/gen_files.py" "$T/www")
[[ ${#FILES[@]} -eq 5 ]] || die "file generation failed"

USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"   # workers must read the 0700 temp dir

# nginx_common NAME: main-context and http-context lines shared by every nginx here.
nginx_main() {
    local d="$T/$1"
    cat <<EOF
$USER_LINE
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $(( NOFILE < 8192 ? NOFILE : 8192 )); }
EOF
}
nginx_http_common() {
    local d="$T/$1"
    cat <<EOF
    client_body_temp_path $d/tmp/client_body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
EOF
}

write_upstream_conf() {
    local d="$T/upstream"
    mkdir -p "$d/tmp"
    {
        nginx_main upstream
        cat <<EOF
http {
$(nginx_http_common upstream)
    types {
        text/html html;
        application/javascript js;
        application/json json;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$UP_PORT;
        server_name _;
        root $T/www;
        location / { try_files \$uri =404; }
    }
}
EOF
    } > "$d/nginx.conf"
}

# write_proxy_conf NAME LISTEN_PORT [ADMIN_PORT]: nginx as reverse proxy to the upstream.
write_proxy_conf() {
    local name=$1 port=$2 admin=${3:-} d="$T/$1"
    mkdir -p "$d/tmp"
    {
        nginx_main "$name"
        cat <<EOF
http {
$(nginx_http_common "$name")
    access_log $d/access.log combined buffer=32k flush=1s;
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$port;
        server_name _;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_buffering on;
        }
    }
EOF
        if [[ -n "$admin" ]]; then
            cat <<EOF
    server {
        listen 127.0.0.1:$admin;
        access_log off;
        location = /healthz { return 200 "ok\n"; }
    }
EOF
        fi
        echo "}"
    } > "$d/nginx.conf"
}

# start_nginx NAME -> sets STARTED_MASTER / STARTED_WORKER
start_nginx() {
    local d="$T/$1"
    "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" > "$d/stdout.log" 2>&1 &
    STARTED_MASTER=$!
    PIDS+=("$STARTED_MASTER")
}

# ---------------------------------------------------------------------------- start
log "temp dir $T; ports: upstream $UP_PORT, nginx proxy $PROXY_PORT, gateway $GW_PORT (admin $ADMIN_PORT)"
write_upstream_conf
start_nginx upstream; UP_PID=$STARTED_MASTER
wait_http "http://127.0.0.1:$UP_PORT/2k.html" "$UP_PID" "upstream nginx" "$T/upstream/error.log" 100

write_proxy_conf proxy "$PROXY_PORT"
start_nginx proxy; PROXY_MASTER=$STARTED_MASTER
wait_http "http://127.0.0.1:$PROXY_PORT/2k.html" "$PROXY_MASTER" "nginx proxy" "$T/proxy/error.log" 100
PROXY_WORKER=$(nginx_worker "$PROXY_MASTER") || die "no nginx proxy worker process"
WORKERS+=("$PROXY_WORKER")

if [[ "$FAKE_GATEWAY" == 1 ]]; then
    GW_LABEL="FAKE gateway (nginx proxy)"
    log "BENCH_FAKE_GATEWAY=1: a second nginx proxy stands in for the gateway"
    write_proxy_conf fakegw "$GW_PORT" "$ADMIN_PORT"
    start_nginx fakegw; GW_MASTER=$STARTED_MASTER
    wait_http "http://127.0.0.1:$ADMIN_PORT/healthz" "$GW_MASTER" "fake gateway" "$T/fakegw/error.log" 100
    GW_PID=$(nginx_worker "$GW_MASTER") || die "no fake gateway worker process"
    WORKERS+=("$GW_PID")
    GW_LOG="$T/fakegw/error.log"
else
    GW_LABEL="gateway"
    cat > "$T/gateway.json" <<EOF
{"listen": {"address": "127.0.0.1", "port": $GW_PORT}, "admin": {"address": "127.0.0.1", "port": $ADMIN_PORT},
 "workers": 1, "log": {"level": "info", "access": true},
 "sites": [{"name": "bench", "hosts": ["127.0.0.1", "localhost"], "upstream": "http://127.0.0.1:$UP_PORT"}]}
EOF
    GW_LOG="$T/gateway.log"
    "$GATEWAY_BIN" "$T/gateway.json" > "$GW_LOG" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_http "http://127.0.0.1:$ADMIN_PORT/healthz" "$GW_PID" "gateway" "$GW_LOG" 100
fi

# ---------------------------------------------------------------------------- verify
for f in "${FILES[@]}"; do
    for pair in "direct:$UP_PORT" "nginx:$PROXY_PORT" "gateway:$GW_PORT"; do
        name=${pair%%:*} port=${pair##*:}
        out="$T/check/$name-$f"
        curl -sf --max-time 10 -o "$out" "http://127.0.0.1:$port/$f" \
            || die "$name: GET /$f failed (status or connection; see $GW_LOG)"
        cmp -s "$out" "$T/www/$f" \
            || die "$name: /$f differs from the file served directly ($(stat -c %s "$out") vs $(stat -c %s "$T/www/$f") bytes)"
    done
done
log "all ${#FILES[@]} files identical direct, via nginx and via $GW_LABEL"

# ---------------------------------------------------------------------------- measure
RESULTS="$T/results.jsonl"
: > "$RESULTS"
run_wrk() {  # run_wrk TARGET FILE ROUND SECONDS [record]
    local target=$1 f=$2 round=$3 secs=$4 record=${5:-} port out
    if [[ $target == nginx ]]; then port=$PROXY_PORT; else port=$GW_PORT; fi
    out="$T/wrk/$target-$f-$round.txt"
    # in the background so that a TERM/INT stops the benchmark at once (cleanup kills wrk)
    wrk --latency -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 10s \
        "http://127.0.0.1:$port/$f" > "$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed on $target /$f"; }
    WRK_PID=
    if [[ -n $record ]]; then
        python3 "$BENCH/parse_wrk.py" "$target" "$f" "$round" < "$out" >> "$RESULTS" \
            || die "could not parse wrk output ($out)"
        log "round $round $(printf '%-8s %-9s' "$target" "$f") $(grep -m1 '^Requests/sec' "$out" | tr -s ' ')"
    fi
}

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)   # other work on the machine skews results
log "warm-up: 1 s per file per proxy (load average now: $LOAD_START)"
for f in "${FILES[@]}"; do run_wrk nginx "$f" 0 1; run_wrk gateway "$f" 0 1; done

total=$(( ROUNDS * ${#FILES[@]} * 2 * DURATION ))
log "measuring: $ROUNDS round(s) x ${#FILES[@]} files x 2 proxies x ${DURATION}s (~${total}s)"
for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 == 1 )); then order=(nginx gateway); else order=(gateway nginx); fi
    for f in "${FILES[@]}"; do
        for target in "${order[@]}"; do run_wrk "$target" "$f" "$round" "$DURATION" record; done
    done
done

# ---------------------------------------------------------------------------- idle RSS
RSS="$T/rss.txt"
: > "$RSS"
idle_test() {  # idle_test TARGET PORT PID
    local target=$1 port=$2 pid=$3 before held rc=0 ipid out="$T/idle-$1.out"
    sleep 1
    before=$(rss_kb "$pid")
    python3 "$BENCH/idle_conns.py" "$port" "$IDLE_CONNS" "$IDLE_HOLD" > "$out" 2> "$T/idle-$target.err" &
    ipid=$!
    PIDS+=("$ipid")
    for _ in $(seq 1 1200); do   # up to 120 s to open and use the connections
        grep -q '^READY' "$out" 2>/dev/null && break
        kill -0 "$ipid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^READY' "$out" || { cat "$T/idle-$target.err" >&2; die "idle_conns.py did not get ready for $target"; }
    sleep 1
    held=$(rss_kb "$pid")
    wait "$ipid" || rc=$?
    log "idle $target: $(tr '\n' ' ' < "$out")(rss ${before} kB -> ${held} kB)"
    [[ -s "$T/idle-$target.err" ]] && head -n 5 "$T/idle-$target.err" >&2
    echo "$target $before $held $IDLE_CONNS $rc" >> "$RSS"
}
log "idle keep-alive test: $IDLE_CONNS connections, VmRSS before and while held"
idle_test nginx "$PROXY_PORT" "$PROXY_WORKER"
idle_test gateway "$GW_PORT" "$GW_PID"

# ---------------------------------------------------------------------------- report
cpu=$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no commit")
H1="date: $(date -u '+%Y-%m-%d %H:%M:%SZ') | nproc: $(nproc) | cpu: ${cpu:-unknown} | kernel: $(uname -sr) | load avg at start: $LOAD_START, at end: $(cut -d" " -f1-3 /proc/loadavg)"
nginx_ver=$({ "$NGINX" -v 2>&1 || true; } | sed 's/^nginx version: //')
wrk_ver=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print "wrk " $2}')
H2="wrk -t$THREADS -c$CONNS -d${DURATION}s × $ROUNDS round(s), interleaved | one worker each | $nginx_ver | $wrk_ver | $GW_LABEL @ $rev"
mkdir -p "$BENCH/out"
cp "$RESULTS" "$BENCH/out/latest.jsonl"
echo
rc=0
python3 "$BENCH/report.py" --results "$RESULTS" --rss "$RSS" --header "$H1  " --header "$H2" \
    --gateway-label "$GW_LABEL" --out "$BENCH/out/latest.md" || rc=$?
(( rc == 0 || rc == 3 )) || die "report failed"
exit "$rc"
