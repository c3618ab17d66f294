#!/usr/bin/env bash
# bench/run.sh — consent-gateway vs nginx as a reverse proxy, on loopback.
#
# Usage: bench/run.sh [--build-dir DIR] [--duration S] [--rounds N] [--connections C]
#                     [--threads T] [--idle-conns N] [--no-consent] [--decision-seconds S]
#                     [--decision-conns C] [--fsync always|everysec|auto] [--keep-tmp]
#                     [--html-only] [--rewrite-conns N] [--rewrite-seconds S] [--https-only]
#   defaults: --build-dir build-release --duration 5 --rounds 3 --connections 50
#             --threads 1 --idle-conns 1000 --decision-seconds 10 --decision-conns 50
#             --fsync auto --rewrite-conns 1000 --rewrite-seconds 8
#             (about 14 minutes in all; --no-consent: about 8; --html-only: about 4;
#             --https-only: about 2)
#   --html-only: only the HTML rows with the banner and the rewrite-memory test (below).
#   --https-only: only the HTTPS rows (below); not together with --html-only.
#   Builds DIR/gateway/consent-gateway (Release, no tests) if it does not exist.
#   Runs as root or not; as root it apt-get installs nginx-light, wrk, curl, openssl,
#   redis-server and redis-tools when missing. nginx must have http_sub_module and
#   http_gzip_static_module (Debian's nginx-light 1.22 has both; else it installs nginx-full,
#   or says so) and http_ssl_module (the HTTPS rows).
#
# What it does: in a fresh temp dir it generates five files (30k.html, 2k.html, 100k.js,
# 5k.json, 200k.bin; deterministic bytes), starts an upstream nginx serving them, nginx as a
# reverse proxy to it (keepalive upstream pool, default proxy buffering, buffered access log)
# and the gateway (its JSON access log to a file too), each with ONE worker, all on
# 127.0.0.1 on free ports, plus a redis-server for the gateway's consent records (Unix
# socket in the temp dir, no RDB snapshots, AOF on with appendfsync always). The gateway
# config has consent keys (random per run), the journal in the temp dir and that Redis; the
# gateway always enforces consent, so its plain numbers are requests WITHOUT a Cookie header
# (necessary-only: nothing to filter, Consent-Categories set). It checks that every file
# comes through both proxies byte for byte, records one decision with a real
# `POST /_consent` (curl) and keeps the signed cg_consent cookie it answers with, and checks
# that enforcement is on (an upstream echo sees _fbp removed and analytics granted; without
# the cookie the upstream's _ga Set-Cookie is dropped), and that the nginx proxy, the
# reference, passes that Cookie header unchanged and both Set-Cookie headers of /sc/ (names
# compared, never values printed). Then it warms up and runs
# `wrk --latency -t1 -cC -dS` per file, interleaved: each round runs every file on nginx,
# the gateway, and two consent variants of the gateway:
#   gateway-cookie     the same file with a realistic Cookie header: PHPSESSID, _ga,
#                      _ga_ABC123, _fbp and the valid cg_consent (analytics granted), so the
#                      consent cookie is verified (HMAC) and _fbp filtered out per request;
#   gateway-setcookie  the same, from /sc/ where the upstream adds two Set-Cookie headers
#                      (_ga and PHPSESSID) to every response, so the Set-Cookie filter runs;
# and their twins on the nginx proxy, the reference for the bigger request (a plain proxy
# handling the same bytes: wrk, the parser and the upstream do more work per request):
#   nginx-cookie       the same URL and headers as gateway-cookie, through nginx;
#   nginx-setcookie    the same URL and headers as gateway-setcookie, through nginx (it
#                      passes the upstream's two Set-Cookie headers, checked before).
# Odd rounds run nginx-setcookie, nginx-cookie, nginx, gateway, gateway-cookie,
# gateway-setcookie; even rounds the reverse (nginx and the gateway stay adjacent, each
# variant is as far from the plain gateway as its twin from plain nginx, and drifts cancel;
# with --no-consent only nginx and gateway). Then it holds 1,000 idle
# keep-alive connections (bench/idle_conns.py) on each proxy and reads the process's VmRSS
# before and while held. Last, the decision test: `wrk -t1 -c50 -d10s` POSTs
# {"categories": ["analytics"]} to /_consent (bench/decide.lua), then, once the store has
# drained, counts the events that reached Redis (XLEN cg:{c:bench}:audit, and the counts hash)
# and compares them with wrk's 2xx answers and with the gateway's stored-events counter.
# With --fsync auto (default) it runs at appendfsync always and, only if that misses
# 10,000 decisions/s, once more at everysec (CONFIG SET) so both are reported.
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
#   - Consent enforcement table, per file and variant (medians of the same rounds):
#       raw ratio          = gateway-cookie (or -setcookie) req/s / plain gateway req/s: the
#                            whole cost of the bigger request, enforcement included;
#       nginx ratio        = nginx-cookie (or -setcookie) req/s / plain nginx req/s: what the
#                            same bigger request costs a proxy that enforces nothing;
#       enforcement ratio  = raw ratio / nginx ratio: what enforcement costs beyond handling
#                            the same bytes. Target >= 0.95 per file (at most 5%), judged on
#                            this one; the raw ratio is shown, not judged (with old results
#                            that lack the nginx twins, the raw ratio is judged instead).
#     It combines four medians, so its noise is about the sum of the spreads on the
#     spread line. "CPU per request" is the gateway process's on-CPU time during the run
#     (all threads, /proc/PID/task/*/schedstat) / requests, CPU Δ against the plain runs,
#     for the gateway and (nginx CPU Δ) for the nginx proxy's worker on the twin: less
#     affected by other load than req/s, so a second view of what enforcement costs.
#     Below it, "gateway vs nginx on the same request": gateway req/s / nginx req/s per
#     request kind, for information (its no-cookie column is the proxy table's ratio; a
#     variant's column divided by it is the enforcement ratio).
#   - Decisions table: decisions/s = 2xx answers per second of the wrk run (non-2xx and
#     socket errors counted separately), with the Redis persistence setting it ran under.
#     Target: >= 10,000/s at appendfsync always, no errors, and every answered decision in
#     Redis: events in Redis == the gateway's stored count, and wrk 2xx <= events in Redis
#     <= wrk 2xx + connections (wrk stops with up to one request per connection in flight:
#     recorded and answered, but the answer is not counted by wrk). Anything else is a loud
#     FAIL (lost or duplicated events).
#   - Exit status: 0 all targets met, 3 a target missed (the report says which),
#     1 the benchmark could not run (setup error, content mismatch, a tool failed).
#
# HTML rows with the banner (also the only rows of --html-only): the page 30k-trackers.html
# (30,720 B, bench/gen_files.py: gtag.js <script src> on www.googletagmanager.com and its
# inline config, the Meta Pixel inline snippet and <noscript><img>, a YouTube <iframe>) from
# the same upstream. The gateway gets a second site, Host banner.bench, with a `banner`
# object: it holds the trackers back (visitor without consent: no Cookie) and inserts the
# banner's <link> + <script> before </head> (and its <noscript> form after <body>). The nginx
# proxy gets a second server block, server_name banner.bench, with
# `sub_filter '</head>' '<the same two tags, taken from the gateway's answer></head>'`
# (sub_filter_once on; text/html is sub_filter_types' default), `proxy_set_header
# Accept-Encoding ""` (sub_filter cannot read gzip) and `gzip on; gzip_min_length 0;
# gzip_comp_level 5` (the gateway's zlib level, banner/src/content_coding.cpp). wrk sends
# `Host: banner.bench` to both. Rows, each a wrk run like the ones above:
#   nginx-html / gateway-html        the page through the plain proxies (no banner site, no
#                                    sub_filter): reference for what rewriting adds;
#   nginx-subfilter / gateway-banner the page rewritten, no Accept-Encoding;
#   nginx-subfilter-gzip / gateway-banner-gzip   the same with `Accept-Encoding: gzip`: the
#       upstream answers gzip to the gateway (gzip_static: a level-6 .gz made by
#       gen_files.py, so the upstream spends no CPU compressing; gzip_proxied any), which
#       decodes, rewrites and re-encodes it; nginx gets it plain and compresses after
#       sub_filter.
#   gateway-banner-nocache(-gzip)    the same banner site with `"cache": false` (Host
#       nocache.banner.bench), so every request is rewritten afresh instead of coming from
#       the worker's cache of rewritten pages; shown against the same nginx runs, not judged.
# They run after the decision test (so that everything above, the idle RSS test included, runs
# as without them: the gateway keeps some of the memory that rewriting allocates), --rounds
# rounds of adjacent pairs (odd rounds in this order, even rounds reversed).
# Before measuring it checks the answers (bench/check_banner.py): the gateway's page has
# `<script src="/_consent/banner.` exactly once, right before </head>, the gtag.js script is
# type="text/plain" (URL in data-consent-src), the inline snippets and the YouTube iframe are
# held; the gzip rows answer Content-Encoding: gzip that decodes to such a page; nginx's
# pages have the same tags once. Report table "HTML with the banner": req/s medians, ratio
# gateway/nginx (target >= 1.0), p50/p99, CPU per request of the gateway and of the nginx
# proxy's worker (schedstat, as above; target: gateway <= nginx), per row.
# Rewrite-memory test: /slow/30k-trackers.html, the same page that the upstream sends at
# 8 KiB/s per connection (limit_rate: ~4 s plain, ~1 s gzip), so that with
# `wrk -c1000 -d8s` (--rewrite-conns/--rewrite-seconds) about 1,000 responses are being
# rewritten at once all the time; VmRSS of the gateway (and of the nginx proxy's worker, the
# reference) is sampled every 0.1 s: before, peak during, and 1 s after, plain and gzip (in
# that order, so "before" of the gzip test is "after" of the plain one). Its records are
# appended to bench/out/latest.jsonl (targets rewrite-nginx / rewrite-gateway).
#
# HTTPS rows (also the only rows of --https-only): both proxies terminate TLS. One
# self-signed EC P-256 certificate for localhost (`openssl req -x509`, in the temp dir) serves
# both. The nginx proxy gets a second server block on its own port (`listen PORT ssl`, that
# cert and key, `ssl_protocols TLSv1.2 TLSv1.3`, ssl_ciphers = the gateway's TLS 1.2 list
# (gateway/src/tls.cpp), `ssl_prefer_server_ciphers on` as the gateway has, a shared session
# cache and tickets; proxying as its plain block); the gateway a second process (the gateway
# has one proxy listener) with `listen.tls` and that pair, the same sites, upstream, consent
# keys and Redis as the plain one, its own admin port and journal, one worker. Before
# measuring it checks every file through both HTTPS proxies byte for byte (curl verifying
# the certificate for localhost, and `curl -k https://127.0.0.1:PORT/` as wrk asks), that
# both accept TLS 1.2, answer ALPN http/1.1 and resume a TLS 1.2 and a TLS 1.3 session
# (python3's ssl), and records the protocol and suite a default OpenSSL client gets from each
# (openssl s_client; in the report). Rows (wrk to https://127.0.0.1:PORT/, same -t/-c/-d):
#   nginx-https / gateway-https              keep-alive, 30k.html and 2k.html: handshakes
#                                            only when wrk connects, so this is the cost of
#                                            TLS records on top of proxying;
#   nginx-https-close / gateway-https-close  "https, new connection per request": 30k.html
#                                            with `Connection: close`, so every request is a
#                                            new TCP connection and TLS handshake. wrk keeps
#                                            each connection's session when it reconnects
#                                            (SSL_clear), so these are RESUMED TLS 1.3
#                                            handshakes (X25519, no certificate signature);
#                                            the gateway's cg_tls_* counters, in the report,
#                                            show it. wrk cannot make full handshakes.
# --rounds rounds of adjacent pairs (odd rounds nginx first, even rounds reversed), run last
# in the full run (nothing above sees a TLS connection). Report table "HTTPS": req/s
# medians, ratio gateway/nginx, p50/p99, CPU per request (schedstat, as above) and the
# gateway's handshakes per request. Reference numbers, no target; errors (non-2xx/socket)
# from the gateway are a FAIL (exit 3). --https-only writes only this table to
# bench/out/latest.md (and its records to latest.jsonl); the full run appends it.
#
# Harness self-test: BENCH_FAKE_GATEWAY=1 bench/run.sh ... puts a second nginx proxy (same
# config as the reference one, plus /healthz on the admin port) in the gateway's slot, so
# the harness can be checked without the gateway; ratios then hover around 1.0. The report
# labels the gateway column as the fake one in that mode (it also gets the TLS server block,
# on the HTTPS gateway's port). The consent variants then send the
# same headers (with a placeholder cg_consent) to the fake one, which filters nothing, so
# their enforcement ratios (fake vs its nginx twin) show the noise floor; no Redis is
# started and the decision test is skipped.
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
CONSENT=1            # the consent variants and the decision test (--no-consent: off)
DEC_SECS=10
DEC_CONNS=50
FSYNC=auto
DECISIONS_TARGET=10000  # decisions/s at appendfsync always (report.py has the same number)
HTML_ONLY=0          # --html-only: only the HTML rows with the banner and the rewrite-memory test
HTML_ROWS=1          # the HTML rows (off with --https-only)
HTTPS_ONLY=0         # --https-only: only the HTTPS rows
HTTPS_ROWS=1         # the HTTPS rows (off with --html-only)
HTTPS_FILES=(30k.html 2k.html)   # keep-alive HTTPS rows; the new-connection rows: the first
REWRITE_CONNS=1000   # concurrent responses being rewritten in the rewrite-memory test
REWRITE_SECS=8
SLOW_RATE=8k         # the upstream's limit_rate for /slow/ (bytes/s per connection)
BANNER_HOST=banner.bench
NOCACHE_HOST=nocache.banner.bench  # the same banner site with "cache": false (rows for reference)
HTML_PAGE=30k-trackers.html   # written by gen_files.py (not in its printed list)
GZIP_LEVEL=5         # zlib level of the gateway's gzip (banner/src/content_coding.cpp)
# The gateway's TLS 1.2 suites (gateway/src/tls.cpp, tls12_ciphers): nginx's ssl_ciphers for
# the HTTPS rows. Checked against that file before the run, so that the two cannot drift apart.
TLS12_CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
        --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
        --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
        --connections) CONNS=${2:?--connections needs a value}; shift 2 ;;
        --threads) THREADS=${2:?--threads needs a value}; shift 2 ;;
        --idle-conns) IDLE_CONNS=${2:?--idle-conns needs a value}; shift 2 ;;
        --no-consent) CONSENT=0; shift ;;
        --decision-seconds) DEC_SECS=${2:?--decision-seconds needs a value}; shift 2 ;;
        --decision-conns) DEC_CONNS=${2:?--decision-conns needs a value}; shift 2 ;;
        --fsync) FSYNC=${2:?--fsync needs a value}; shift 2 ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        --html-only) HTML_ONLY=1; shift ;;
        --https-only) HTTPS_ONLY=1; shift ;;
        --rewrite-conns) REWRITE_CONNS=${2:?--rewrite-conns needs a value}; shift 2 ;;
        --rewrite-seconds) REWRITE_SECS=${2:?--rewrite-seconds needs a value}; shift 2 ;;
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
check_range --decision-seconds "$DEC_SECS" 1 600
check_range --decision-conns "$DEC_CONNS" 1 10000
check_range --rewrite-conns "$REWRITE_CONNS" 1 10000
check_range --rewrite-seconds "$REWRITE_SECS" 1 120
[[ "$FSYNC" =~ ^(always|everysec|auto)$ ]] || die "--fsync must be always, everysec or auto"
(( HTML_ONLY + HTTPS_ONLY < 2 )) || die "--html-only and --https-only exclude each other"
# --html-only: no proxy table, consent variants, idle or decision test (nor HTTPS rows)
[[ $HTML_ONLY == 1 ]] && { CONSENT=0; HTTPS_ROWS=0; }
# --https-only: nothing but the HTTPS rows
[[ $HTTPS_ONLY == 1 ]] && { CONSENT=0; HTML_ROWS=0; }
# the proxy table, its consent variants and the idle test: off with either --*-only
PROXY_ROWS=1
(( HTML_ONLY + HTTPS_ONLY == 0 )) || PROXY_ROWS=0
# The decision test needs the real gateway; the fake one has no /_consent and no Redis.
DECISIONS=$CONSENT
[[ "$FAKE_GATEWAY" == 1 ]] && DECISIONS=0

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
[[ $HTTPS_ROWS == 1 ]] && { command -v openssl >/dev/null || need+=(openssl); }
if [[ "$FAKE_GATEWAY" != 1 ]]; then     # the gateway's consent records
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v redis-cli >/dev/null || need+=(redis-tools)
fi
if [[ ${#need[@]} -gt 0 ]]; then
    # nginx-light is the small Debian build (bookworm); newer releases only have `nginx`.
    apt_install "${need[@]}" || { need=("${need[@]/nginx-light/nginx}"); apt_install "${need[@]}"; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || die "nginx not found"
# The HTML rows need sub_filter (nginx proxy) and gzip_static (upstream). Debian bookworm's
# nginx-light has both; a build without them is replaced by nginx-full (as root).
nginx_modules_ok() { local v; v=$("$NGINX" -V 2>&1); [[ $v == *http_sub_module* && $v == *http_gzip_static_module* ]]; }
if [[ $HTML_ROWS == 1 ]] && ! nginx_modules_ok; then
    apt_install nginx-full
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    nginx_modules_ok || die "$NGINX has no http_sub_module or http_gzip_static_module (nginx -V)"
fi
# The HTTPS rows need http_ssl_module (in every Debian nginx package).
if [[ $HTTPS_ROWS == 1 ]] && [[ $("$NGINX" -V 2>&1) != *http_ssl_module* ]]; then
    die "$NGINX has no http_ssl_module (nginx -V): the HTTPS rows need it"
fi

# 65536 open files, or the hard limit when that is lower (some sandboxes cap it)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ "$NOFILE" == unlimited ]] && NOFILE=65536
(( NOFILE >= IDLE_CONNS * 2 + 256 )) || die "open-file limit $NOFILE too low for $IDLE_CONNS idle connections"
(( NOFILE >= REWRITE_CONNS * 2 + 256 )) || die "open-file limit $NOFILE too low for $REWRITE_CONNS concurrent rewrites"

# ---------------------------------------------------------------------------- build
if [[ "$FAKE_GATEWAY" != 1 && ! -x "$GATEWAY_BIN" ]]; then
    log "no $GATEWAY_BIN: building it (Release) ..."
    if ! command -v cmake >/dev/null || ! command -v c++ >/dev/null; then
        apt_install cmake g++ make pkg-config libboost1.81-dev libssl-dev nlohmann-json3-dev \
            libhiredis-dev
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

mapfile -t PORTS < <(python3 "$BENCH/free_ports.py" 7)
[[ ${#PORTS[@]} -eq 7 ]] || die "could not pick free ports"
UP_PORT=${PORTS[0]} PROXY_PORT=${PORTS[1]} GW_PORT=${PORTS[2]} ADMIN_PORT=${PORTS[3]}
# The HTTPS rows: the nginx proxy's TLS server block, the HTTPS gateway and its admin port
PROXY_TLS_PORT=${PORTS[4]} GWS_PORT=${PORTS[5]} GWS_ADMIN_PORT=${PORTS[6]}

mkdir -p "$T/www" "$T/wrk" "$T/check"
if [[ $HTTPS_ROWS == 1 ]]; then
    # nginx's ssl_ciphers must be the gateway's TLS 1.2 list (the string in tls.cpp, joined)
    src_ciphers=$(sed -n '/tls12_ciphers =/,/;/p' "$REPO/gateway/src/tls.cpp" \
        | grep -o '"[^"]*"' | tr -d '"\n')
    [[ $src_ciphers == "$TLS12_CIPHERS" ]] \
        || die "TLS12_CIPHERS in bench/run.sh is not gateway/src/tls.cpp's tls12_ciphers (${src_ciphers:-not found}): update it"
    # One self-signed EC P-256 certificate for localhost, used by both HTTPS proxies.
    mkdir -p "$T/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost \
        -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" > "$T/tls/openssl.log" 2>&1 \
        || { cat "$T/tls/openssl.log" >&2; die "openssl could not make the test certificate"; }
    chmod 600 "$T/tls/key.pem"
fi
mapfile -t FILES < <(python3 "$BENCH/gen_files.py" "$T/www")
[[ ${#FILES[@]} -eq 5 && -s "$T/www/$HTML_PAGE" && -s "$T/www/$HTML_PAGE.gz" ]] \
    || die "file generation failed"

# Synthetic cookies (fixed, no real visitor's): what a typical site's visitor sends, and the
# two Set-Cookie headers the upstream adds under /sc/. The catalogue knows all of them:
# PHPSESSID necessary, _ga and _ga_* analytics, _fbp marketing.
UP_GA_SET_COOKIE="_ga=GA1.1.123456789.1700000000; Path=/; Max-Age=63072000; SameSite=Lax"
UP_SESSION_SET_COOKIE="PHPSESSID=bench0123456789abcdefghijk; Path=/; HttpOnly; SameSite=Lax"
VISITOR_COOKIES="PHPSESSID=bench0123456789abcdefghijk; _ga=GA1.1.123456789.1700000000; _ga_ABC123=GS1.1.1700000000.1.1.1700000100.0.0.0; _fbp=fb.1.1700000000000.1234567890"
COOKIE_HEADER=""     # VISITOR_COOKIES plus the valid cg_consent, set once the gateway runs

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
    # No TCP_CORK: with it, the /sc/ responses (a larger header block) of 100k.js stalled
    # ~40 ms (delayed ACK) at p99 through any proxy, the fake gateway included, which cost
    # that variant ~15% req/s; off everywhere so that / and /sc/ differ only in the headers.
    tcp_nopush off;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$UP_PORT;
        server_name _;
        root $T/www;
        location / { try_files \$uri =404; }
        # The same files with two Set-Cookie headers, for the Set-Cookie filter (gateway-setcookie)
        location /sc/ {
            alias $T/www/;
            add_header Set-Cookie "$UP_GA_SET_COOKIE";
            add_header Set-Cookie "$UP_SESSION_SET_COOKIE";
        }
        # The HTML rows' page: gzip to whoever accepts it (the gateway on the -gzip row), from a
        # level-6 .gz made by gen_files.py, so that compressing costs the upstream nothing.
        # gzip_proxied any: the gateway may add Via. (text/html is gzip_types' default.)
        location = /$HTML_PAGE {
            gzip_static on;
            gzip on;
            gzip_min_length 0;
            gzip_comp_level $GZIP_LEVEL;
            gzip_proxied any;
        }
        # The same page slowly (rewrite-memory test): many responses in flight at once
        location /slow/ {
            alias $T/www/;
            limit_rate $SLOW_RATE;
            gzip_static on;
            gzip on;
            gzip_min_length 0;
            gzip_comp_level $GZIP_LEVEL;
            gzip_proxied any;
        }
        # What the upstream received, for the check that the gateway filters
        location = /_bench/echo {
            default_type text/plain;
            return 200 "cookie=[\$http_cookie]\ncategories=[\$http_consent_categories]\n";
        }
    }
}
EOF
    } > "$d/nginx.conf"
}

# The plain proxy's location: the HTTPS server block proxies exactly the same way.
nginx_proxy_location() {
    cat <<EOF
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_buffering on;
        }
EOF
}

# write_proxy_conf NAME LISTEN_PORT [ADMIN_PORT] [TLS_PORT]: nginx as reverse proxy to the
# upstream; with TLS_PORT also over HTTPS there (the HTTPS rows).
write_proxy_conf() {
    local name=$1 port=$2 admin=${3:-} tls_port=${4:-} d="$T/$1"
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
$(nginx_proxy_location)
    }
EOF
        if [[ -n "$tls_port" ]]; then
            # The HTTPS rows: the same proxying behind TLS set up as the gateway's listen.tls
            # (TLS 1.2 and 1.3, its TLS 1.2 suites in its order, server preference, session
            # cache and tickets for resumption; ALPN http/1.1 is nginx's answer without http2).
            cat <<EOF
    server {
        listen 127.0.0.1:$tls_port ssl;
        server_name _;
        ssl_certificate $T/tls/cert.pem;
        ssl_certificate_key $T/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $TLS12_CIPHERS;
        ssl_prefer_server_ciphers on;
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;
$(nginx_proxy_location)
    }
EOF
        fi
        if [[ $HTML_ROWS == 1 ]]; then
            # The HTML rows' twin of the gateway's banner site: the same tags before </head>
            # with sub_filter (which cannot read gzip: the upstream must answer plain), gzip
            # at the gateway's level for clients that accept it. text/html is the default of
            # gzip_types and sub_filter_types (listing it again only draws a warning).
            cat <<EOF
    server {
        listen 127.0.0.1:$port;
        server_name $BANNER_HOST $NOCACHE_HOST;
        gzip on;
        gzip_min_length 0;
        gzip_comp_level $GZIP_LEVEL;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header Accept-Encoding "";
            proxy_buffering on;
            sub_filter '</head>' '$BANNER_SNIPPET</head>';
            sub_filter_once on;
        }
    }
EOF
        fi
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
PROXY_TLS="" GWS_TLS=""   # TLS ports of the nginx proxy and the fake gateway: HTTPS rows only
GWS_PID="" GWS_LOG=""     # the HTTPS gateway process (the fake gateway's worker when fake)
if [[ $HTTPS_ROWS == 1 ]]; then
    PROXY_TLS=$PROXY_TLS_PORT GWS_TLS=$GWS_PORT
    log "HTTPS ports: nginx proxy $PROXY_TLS_PORT, gateway $GWS_PORT (admin $GWS_ADMIN_PORT)"
fi
write_upstream_conf
start_nginx upstream; UP_PID=$STARTED_MASTER
wait_http "http://127.0.0.1:$UP_PORT/2k.html" "$UP_PID" "upstream nginx" "$T/upstream/error.log" 100

# The nginx proxy starts after the gateway: its sub_filter inserts the tags the gateway does.
if [[ "$FAKE_GATEWAY" == 1 ]]; then
    GW_LABEL="FAKE gateway (nginx proxy)"
    # The fake one inserts a placeholder of the same shape and size with sub_filter too.
    BANNER_SNIPPET='<link rel="stylesheet" href="/_consent/banner.000000000000.css"><script src="/_consent/banner.000000000000.js" defer id="cg-banner-script" integrity="sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" data-doc="/_consent/site.{lang}.000000000000.json" data-languages="nb nn en" data-default-language="nb" data-decided="0" data-granted="necessary" data-gpc="0" data-consent-mode="off" data-reopen="bottom-left"></script>'
    log "BENCH_FAKE_GATEWAY=1: a second nginx proxy stands in for the gateway"
    write_proxy_conf fakegw "$GW_PORT" "$ADMIN_PORT" "$GWS_TLS"
    start_nginx fakegw; GW_MASTER=$STARTED_MASTER
    wait_http "http://127.0.0.1:$ADMIN_PORT/healthz" "$GW_MASTER" "fake gateway" "$T/fakegw/error.log" 100
    GW_PID=$(nginx_worker "$GW_MASTER") || die "no fake gateway worker process"
    WORKERS+=("$GW_PID")
    GW_LOG="$T/fakegw/error.log"
    [[ $HTTPS_ROWS == 1 ]] && { GWS_PID=$GW_PID; GWS_LOG=$GW_LOG; }
else
    GW_LABEL="gateway"
    # Redis for the consent records: a Unix socket in the temp dir, no RDB snapshots, the
    # append-only file fsync'd after every write (the decision test may switch to everysec).
    mkdir -p "$T/redis"
    REDIS_SOCK="$T/redis/redis.sock"
    redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --dir "$T/redis" \
        --save "" --appendonly yes --appendfsync always --daemonize no \
        --logfile "$T/redis/redis.log" > /dev/null 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
    for _ in $(seq 1 100); do      # up to 10 s
        kill -0 "$REDIS_PID" 2>/dev/null || { tail -n 20 "$T/redis/redis.log" >&2; die "redis-server exited during startup"; }
        [[ $(rcli ping 2>/dev/null) == PONG ]] && break
        sleep 0.1
    done
    [[ $(rcli ping 2>/dev/null) == PONG ]] || die "redis-server not ready on $REDIS_SOCK"
    # A fresh signing key per run (hex, 64 characters); it never leaves the temp dir.
    CONSENT_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    cat > "$T/gateway.json" <<EOF
{"listen": {"address": "127.0.0.1", "port": $GW_PORT}, "admin": {"address": "127.0.0.1", "port": $ADMIN_PORT},
 "workers": 1, "log": {"level": "info", "access": true},
 "consent": {"keys": ["$CONSENT_KEY"], "journal": {"path": "$T/consent-journal.jsonl"},
             "rate_limits": {"per_consent_id": 0, "per_address": 0}},
 "redis": {"socket": "$REDIS_SOCK"},
 "sites": [{"name": "bench", "hosts": ["127.0.0.1", "localhost"], "upstream": "http://127.0.0.1:$UP_PORT"},
           {"name": "banner", "hosts": ["$BANNER_HOST"], "upstream": "http://127.0.0.1:$UP_PORT",
            "banner": {"controller": {"name": "Bench AS", "contact": "post@bench.example",
                                      "privacy_url": "https://bench.example/personvern"},
                       "third_parties": ["Google Analytics"]}},
           {"name": "banner-nocache", "hosts": ["$NOCACHE_HOST"], "upstream": "http://127.0.0.1:$UP_PORT",
            "banner": {"controller": {"name": "Bench AS", "contact": "post@bench.example",
                                      "privacy_url": "https://bench.example/personvern"},
                       "third_parties": ["Google Analytics"], "cache": false}}]}
EOF
    chmod 600 "$T/gateway.json"
    "$GATEWAY_BIN" --check-config "$T/gateway.json" > "$T/check-config.out" 2>&1 \
        || { cat "$T/check-config.out" >&2; die "the gateway refuses the benchmark's config"; }
    GW_LOG="$T/gateway.log"
    "$GATEWAY_BIN" "$T/gateway.json" > "$GW_LOG" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_http "http://127.0.0.1:$ADMIN_PORT/healthz" "$GW_PID" "gateway" "$GW_LOG" 100
    # The two tags the gateway inserts before </head> (no Cookie: a visitor without consent);
    # the nginx twin inserts the same with sub_filter.
    curl -sf --max-time 10 -H "Host: $BANNER_HOST" -o "$T/check/gateway-banner-first.html" \
        "http://127.0.0.1:$GW_PORT/$HTML_PAGE" || die "gateway: GET /$HTML_PAGE (Host $BANNER_HOST) failed"
    BANNER_SNIPPET=$(python3 "$BENCH/check_banner.py" snippet "$T/check/gateway-banner-first.html") \
        || die "no banner tags in the gateway's /$HTML_PAGE for Host $BANNER_HOST"
    if [[ $HTTPS_ROWS == 1 ]]; then
        # The HTTPS gateway: a second process (one proxy listener each), the same sites,
        # upstream, consent keys and Redis; listen.tls with the test certificate (paths
        # relative to the config file), its own admin port and journal.
        python3 - "$T/gateway.json" "$T/gateway-https.json" "$GWS_PORT" "$GWS_ADMIN_PORT" \
            "$T/consent-journal-https.jsonl" <<'PY' || die "could not write the HTTPS gateway's config"
import json, os, sys
src, dst, port, admin, journal = sys.argv[1:]
with open(src) as f:
    c = json.load(f)
c["listen"] = {"address": "127.0.0.1", "port": int(port),
               "tls": {"certificates": [{"cert_file": "tls/cert.pem", "key_file": "tls/key.pem"}]}}
c["admin"]["port"] = int(admin)
c["consent"]["journal"]["path"] = journal
os.umask(0o077)     # it holds the consent key
with open(dst, "w") as f:
    json.dump(c, f, indent=1)
PY
        "$GATEWAY_BIN" --check-config "$T/gateway-https.json" > "$T/check-config-https.out" 2>&1 \
            || { cat "$T/check-config-https.out" >&2; die "the gateway refuses the HTTPS config (listen.tls)"; }
        GWS_LOG="$T/gateway-https.log"
        "$GATEWAY_BIN" "$T/gateway-https.json" > "$GWS_LOG" 2>&1 &
        GWS_PID=$!
        PIDS+=("$GWS_PID")
        wait_http "http://127.0.0.1:$GWS_ADMIN_PORT/healthz" "$GWS_PID" "HTTPS gateway" "$GWS_LOG" 100
        # its log names the proxy listener https, on that port
        grep '"msg":"listening"' "$GWS_LOG" | grep '"listener":"proxy"' | grep "\"port\":${GWS_PORT}[,}]" \
            | grep -q '"scheme":"https"' \
            || { grep '"listening"' "$GWS_LOG" >&2 || true; die "the HTTPS gateway did not log its proxy listener as https on port $GWS_PORT"; }
    fi
fi
printf '%s\n' "$BANNER_SNIPPET" > "$T/check/snippet.txt"

write_proxy_conf proxy "$PROXY_PORT" "" "$PROXY_TLS"
start_nginx proxy; PROXY_MASTER=$STARTED_MASTER
wait_http "http://127.0.0.1:$PROXY_PORT/2k.html" "$PROXY_MASTER" "nginx proxy" "$T/proxy/error.log" 100
PROXY_WORKER=$(nginx_worker "$PROXY_MASTER") || die "no nginx proxy worker process"
WORKERS+=("$PROXY_WORKER")

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

# ---------------------------------------------------------------------------- HTTPS rows: checks
# tls_info PORT [openssl s_client options]: what that client negotiates, one line
# ("TLSv1.3 TLS_AES_256_GCM_SHA384, X25519, ALPN http/1.1"); empty if the handshake failed.
tls_info() {
    local port=$1
    shift
    { timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
        -alpn h2,http/1.1 "$@" < /dev/null 2>&1 || true; } | tr -d '\r' | awk '
        /^New, / { sub(/,$/, "", $2); proto = $2; cipher = $NF }
        /^Server Temp Key:/ { sub(/^Server Temp Key: */, ""); sub(/,.*/, ""); kx = $0 }
        /^ALPN protocol:/ { alpn = $3 }
        /^No ALPN negotiated/ { alpn = "none" }
        END { if (cipher != "" && cipher != "(NONE)")
                  printf "%s %s, %s, ALPN %s\n", proto, cipher, kx, alpn }'
}
# tls_resumes PORT VERSION: two connections (a request each, so that a TLS 1.3 ticket
# arrives), the second offering the first one's session: "False True" when it is resumed.
tls_resumes() {
    timeout 20 python3 - "$1" "$2" "$T/tls/cert.pem" <<'PY' || true
import socket, ssl, sys
port, version, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2,
                                             "1.3": ssl.TLSVersion.TLSv1_3}[version]
session, reused = None, []
for _ in range(2):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET /2k.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            reused.append(str(s.session_reused))
            session = s.session
print(" ".join(reused))
PY
}
TLS_INFO=""
if [[ $HTTPS_ROWS == 1 ]]; then
    for pair in "nginx-https:$PROXY_TLS_PORT" "gateway-https:$GWS_PORT"; do
        name=${pair%%:*} port=${pair##*:}
        for f in "${FILES[@]}"; do
            # As a browser asks (the certificate verified for localhost, Host localhost), and
            # as wrk asks (https://127.0.0.1:PORT/, no verification, Host 127.0.0.1:PORT).
            out="$T/check/$name-$f"
            curl -sf --max-time 10 --cacert "$T/tls/cert.pem" --resolve "localhost:$port:127.0.0.1" \
                -o "$out" "https://localhost:$port/$f" \
                || die "$name: GET https://localhost:$port/$f failed (status, connection or certificate; see ${GWS_LOG:-$T/proxy/error.log})"
            cmp -s "$out" "$T/www/$f" \
                || die "$name: /$f differs from the file served directly ($(stat -c %s "$out") vs $(stat -c %s "$T/www/$f") bytes)"
            curl -sfk --max-time 10 -o "$out.ip" "https://127.0.0.1:$port/$f" \
                || die "$name: GET https://127.0.0.1:$port/$f failed"
            cmp -s "$out.ip" "$T/www/$f" || die "$name: /$f via https://127.0.0.1:$port differs from the file"
        done
        # TLS 1.2 (one of the shared ECDHE AEAD suites), ALPN http/1.1 with h2 offered too
        v=$(curl -sf --max-time 10 --tlsv1.2 --tls-max 1.2 --cacert "$T/tls/cert.pem" \
            --resolve "localhost:$port:127.0.0.1" -o /dev/null -w '%{http_version}' \
            "https://localhost:$port/${FILES[0]}") || die "$name: GET over TLS 1.2 failed"
        [[ $v == 1.1 ]] || die "$name: TLS 1.2 with ALPN h2,http/1.1 offered gave HTTP/$v, not 1.1"
        t13=$(tls_info "$port")
        t12=$(tls_info "$port" -tls1_2)
        [[ $t13 == TLSv1.3* && $t12 == TLSv1.2\ ECDHE-* ]] \
            || die "$name: openssl s_client got '${t13:-no handshake}' by default and '${t12:-no handshake}' with -tls1_2"
        [[ $t13 == *"ALPN http/1.1" && $t12 == *"ALPN http/1.1" ]] \
            || die "$name: ALPN is not http/1.1 ('$t13'; '$t12')"
        # Session resumption (what wrk's reconnects use): TLS 1.2 and 1.3, second connection
        for v in 1.2 1.3; do
            [[ $(tls_resumes "$port" "$v") == "False True" ]] \
                || die "$name: a TLS $v session is not resumed on the next connection"
        done
        TLS_INFO+="${TLS_INFO:+; }$name: $t13 (with -tls1_2: ${t12#TLSv1.2 })"
        log "check $name: ${#FILES[@]} files byte for byte (certificate verified for localhost, and as wrk asks), TLS 1.2 and 1.3 ($t13; $t12), sessions resumed"
    done
fi

# ---------------------------------------------------------------------------- HTML rows: checks
if [[ $HTML_ROWS == 1 ]]; then
    # banner_check NAME PORT CODING [--held]: the page via Host banner.bench, checked by
    # check_banner.py (tags once before </head>, equal to the gateway's; coding; hold-back)
    banner_check() {  # (Host $NOCACHE_HOST for a NAME with "nocache")
        local name=$1 port=$2 coding=$3 msg host=$BANNER_HOST
        shift 3
        [[ $name == *nocache* ]] && host=$NOCACHE_HOST
        local -a hdr=(-H "Host: $host")
        [[ $coding == gzip ]] && hdr+=(-H "Accept-Encoding: gzip")
        curl -s --max-time 10 -D "$T/check/$name.head" -o "$T/check/$name.body" "${hdr[@]}" \
            "http://127.0.0.1:$port/$HTML_PAGE" || die "$name: GET /$HTML_PAGE failed"
        msg=$(python3 "$BENCH/check_banner.py" page "$T/check/$name.head" "$T/check/$name.body" \
            --coding "$coding" --snippet "$T/check/snippet.txt" "$@") \
            || die "$name: the page with the banner is not right (see above; $T/check/$name.*, --keep-tmp keeps it)"
        log "check $name: $msg"
    }
    # The upstream answers the page gzip'd to a client that accepts it (so the gateway's gzip
    # row decodes, rewrites and re-encodes), plain otherwise.
    curl -s --max-time 10 -D - -o /dev/null -H 'Accept-Encoding: gzip' \
        "http://127.0.0.1:$UP_PORT/$HTML_PAGE" | tr -d '\r' | grep -qi '^content-encoding: gzip$' \
        || die "upstream: /$HTML_PAGE with Accept-Encoding: gzip is not answered gzip"
    held=(--held)
    [[ "$FAKE_GATEWAY" == 1 ]] && held=()     # the fake one only inserts the tags
    banner_check gateway-banner "$GW_PORT" identity "${held[@]}"
    banner_check gateway-banner-gzip "$GW_PORT" gzip "${held[@]}"
    banner_check gateway-banner-nocache "$GW_PORT" identity "${held[@]}"
    banner_check gateway-banner-nocache-gzip "$GW_PORT" gzip "${held[@]}"
    banner_check nginx-subfilter "$PROXY_PORT" identity
    banner_check nginx-subfilter-gzip "$PROXY_PORT" gzip
    # The reference rows: the page unchanged through both proxies without the banner site.
    for pair in "nginx-html:$PROXY_PORT" "gateway-html:$GW_PORT"; do
        curl -sf --max-time 10 -o "$T/check/${pair%%:*}" "http://127.0.0.1:${pair##*:}/$HTML_PAGE" \
            && cmp -s "$T/check/${pair%%:*}" "$T/www/$HTML_PAGE" \
            || die "${pair%%:*}: /$HTML_PAGE without the banner site differs from the file"
    done
    log "HTML rows: the banner tags once before </head> via both$([[ "$FAKE_GATEWAY" == 1 ]] || echo ", trackers held back by the gateway"), gzip decodes"
fi

# ---------------------------------------------------------------------------- consent checks
gw_alive() {  # the gateway (or the fake one), and the HTTPS one, must not have died under load
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        tail -n 30 "$GW_LOG" >&2 || true
        die "$GW_LABEL exited (log: $GW_LOG)"
    fi
    if [[ -n $GWS_PID ]] && ! kill -0 "$GWS_PID" 2>/dev/null; then
        tail -n 30 "$GWS_LOG" >&2 || true
        die "the HTTPS $GW_LABEL exited (log: $GWS_LOG)"
    fi
}
metric() {  # metric NAME [ADMIN_PORT]: a value from the gateway's /metrics (0 when absent)
    curl -sf --max-time 5 "http://127.0.0.1:${2:-$ADMIN_PORT}/metrics" \
        | awk -v k="$1" '$1 == k {v = $2} END {print v + 0}'
}
# The HTTPS gateway's TLS counters: "OK FAILED RESUMED" (not for the fake gateway)
tls_counts() {
    curl -sf --max-time 5 "http://127.0.0.1:$GWS_ADMIN_PORT/metrics" | awk '
        $1 == "cg_tls_handshakes_total{outcome=\"ok\"}" {ok = $2}
        $1 == "cg_tls_handshakes_total{outcome=\"failed\"}" {failed = $2}
        $1 == "cg_tls_sessions_resumed_total" {resumed = $2}
        END {print ok + 0, failed + 0, resumed + 0}'
}
# Names of the cookies in a response's Set-Cookie headers, sorted, space-separated.
set_cookie_names() {
    curl -s --max-time 10 -o /dev/null -D - "$@" | tr -d '\r' \
        | sed -n 's/^[Ss][Ee][Tt]-[Cc][Oo][Oo][Kk][Ii][Ee]: *\([^=;]*\)=.*/\1/p' | sort | tr '\n' ' '
}
if [[ $PROXY_ROWS == 0 ]]; then
    :   # --html-only, --https-only: no consent variants, no decision
elif [[ "$FAKE_GATEWAY" == 1 ]]; then
    # Same length as a real one, so that the requests are the same size; nothing checks it.
    COOKIE_HEADER="$VISITOR_COOKIES; cg_consent=1.AAAAAAAAAAAAAAAAAAAAAA.5.c.1795388734.1.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
else
    for _ in $(seq 1 50); do        # the store connects in the background: up to 5 s
        curl -sf --max-time 2 "http://127.0.0.1:$ADMIN_PORT/readyz" | grep -q '"redis":"up"' && break
        sleep 0.1
    done
    curl -sf --max-time 2 "http://127.0.0.1:$ADMIN_PORT/readyz" | grep -q '"redis":"up"' \
        || die "the gateway does not reach Redis (/readyz: $(curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/readyz"))"
    # One real decision: its answer carries the signed consent cookie used below.
    code=$(curl -s --max-time 10 -o "$T/check/consent.body" -D "$T/check/consent.head" \
        -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H "Origin: http://127.0.0.1:$GW_PORT" --data '{"categories": ["analytics"]}' \
        "http://127.0.0.1:$GW_PORT/_consent") || code=000
    gw_alive
    [[ $code == 200 ]] || die "POST /_consent answered $code: $(head -c 300 "$T/check/consent.body")"
    grep -q '"recorded":"stored"' "$T/check/consent.body" \
        || die "POST /_consent did not store the decision in Redis: $(head -c 300 "$T/check/consent.body")"
    consent_value=$(tr -d '\r' < "$T/check/consent.head" \
        | sed -n 's/^[Ss][Ee][Tt]-[Cc][Oo][Oo][Kk][Ii][Ee]: *cg_consent=\([^;]*\).*/\1/p' | head -n 1)
    [[ -n "$consent_value" ]] || die "POST /_consent answered without a cg_consent Set-Cookie"
    COOKIE_HEADER="$VISITOR_COOKIES; cg_consent=$consent_value"
    unset consent_value

    # Enforcement is on: what the upstream receives, and which Set-Cookie headers come back.
    # (Only cookie names are compared and printed, never values.)
    echo_of() { curl -sf --max-time 10 "$@" "http://127.0.0.1:$GW_PORT/_bench/echo"; }
    seen=$(echo_of -H "Cookie: $COOKIE_HEADER") || die "GET /_bench/echo via the gateway failed"
    cookie_line=$(grep '^cookie=' <<< "$seen" || true)
    for name in PHPSESSID _ga _ga_ABC123; do
        [[ "$cookie_line" == *"[$name="* || "$cookie_line" == *" $name="* ]] \
            || die "consent check: the gateway removed $name (necessary/granted) from Cookie"
    done
    [[ "$cookie_line" != *"_fbp="* ]] \
        || die "consent check: _fbp (marketing, not granted) reached the upstream"
    grep -q '^categories=\[.*analytics.*\]' <<< "$seen" \
        || die "consent check: Consent-Categories without analytics for a visitor who granted it"
    seen=$(echo_of) || die "GET /_bench/echo via the gateway failed"
    grep -q '^categories=\[necessary\]' <<< "$seen" \
        || die "consent check: Consent-Categories is not \"necessary\" without a consent cookie"
    direct=$(set_cookie_names "http://127.0.0.1:$UP_PORT/sc/${FILES[0]}")
    plain=$(set_cookie_names "http://127.0.0.1:$GW_PORT/sc/${FILES[0]}")
    granted=$(set_cookie_names -H "Cookie: $COOKIE_HEADER" "http://127.0.0.1:$GW_PORT/sc/${FILES[0]}")
    [[ "$direct" == "PHPSESSID _ga " ]] || die "upstream /sc/ sends Set-Cookie for: $direct"
    [[ "$plain" == "PHPSESSID " ]] \
        || die "consent check: without consent the gateway passed Set-Cookie for: $plain"
    [[ "$granted" == "PHPSESSID _ga " ]] \
        || die "consent check: with analytics granted the gateway passed Set-Cookie for: $granted"
    curl -sf --max-time 10 -o "$T/check/sc" -H "Cookie: $COOKIE_HEADER" \
        "http://127.0.0.1:$GW_PORT/sc/${FILES[0]}" && cmp -s "$T/check/sc" "$T/www/${FILES[0]}" \
        || die "gateway: /sc/${FILES[0]} with the consent cookie differs from the file"
    gw_alive
    log "consent is enforced: cg_consent from POST /_consent verified, _fbp filtered, _ga Set-Cookie only with consent"
fi
if [[ $CONSENT == 1 ]]; then
    # The nginx twins (nginx-cookie, nginx-setcookie) must do the same work as a plain proxy:
    # the whole Cookie header to the upstream, both Set-Cookie headers of /sc/ back to wrk.
    # (Compared only; no value is printed.)
    seen=$(curl -sf --max-time 10 -H "Cookie: $COOKIE_HEADER" \
        "http://127.0.0.1:$PROXY_PORT/_bench/echo") || die "GET /_bench/echo via nginx failed"
    [[ "$(grep '^cookie=' <<< "$seen" || true)" == "cookie=[$COOKIE_HEADER]" ]] \
        || die "reference check: the upstream did not get the whole Cookie header via nginx"
    direct=$(set_cookie_names "http://127.0.0.1:$UP_PORT/sc/${FILES[0]}")
    [[ "$direct" == "PHPSESSID _ga " ]] || die "upstream /sc/ sends Set-Cookie for: $direct"
    via_nginx=$(set_cookie_names -H "Cookie: $COOKIE_HEADER" "http://127.0.0.1:$PROXY_PORT/sc/${FILES[0]}")
    [[ "$via_nginx" == "PHPSESSID _ga " ]] \
        || die "reference check: nginx passed Set-Cookie of /sc/ for: ${via_nginx:-none} (upstream: $direct)"
    curl -sf --max-time 10 -o "$T/check/sc-nginx" -H "Cookie: $COOKIE_HEADER" \
        "http://127.0.0.1:$PROXY_PORT/sc/${FILES[0]}" && cmp -s "$T/check/sc-nginx" "$T/www/${FILES[0]}" \
        || die "nginx: /sc/${FILES[0]} with the Cookie header differs from the file"
    unset seen direct via_nginx
    log "reference: nginx passes the whole Cookie header and both Set-Cookie headers of /sc/ (_ga, PHPSESSID)"
fi

# ---------------------------------------------------------------------------- measure
RESULTS="$T/results.jsonl"
: > "$RESULTS"
# CPU time a process has used, in ns: the sum over its threads (schedstat: on-CPU time).
# Per request it is far less sensitive to other load on the machine than req/s is.
cpu_ns() {
    { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{s += $1} END {printf "%.0f\n", s}'
}
run_wrk() {  # run_wrk TARGET FILE ROUND SECONDS [record]
    local target=$1 f=$2 round=$3 secs=$4 record=${5:-} url out cpu_pid cpu0 cpu1
    local -a hdr=()
    # nginx-* are the reference twins of gateway-*: the same path and headers, other port
    case $target in
        nginx) url="http://127.0.0.1:$PROXY_PORT/$f" ;;
        gateway) url="http://127.0.0.1:$GW_PORT/$f" ;;
        nginx-cookie) url="http://127.0.0.1:$PROXY_PORT/$f"; hdr=(-H "Cookie: $COOKIE_HEADER") ;;
        gateway-cookie) url="http://127.0.0.1:$GW_PORT/$f"; hdr=(-H "Cookie: $COOKIE_HEADER") ;;
        nginx-setcookie) url="http://127.0.0.1:$PROXY_PORT/sc/$f"; hdr=(-H "Cookie: $COOKIE_HEADER") ;;
        gateway-setcookie) url="http://127.0.0.1:$GW_PORT/sc/$f"; hdr=(-H "Cookie: $COOKIE_HEADER") ;;
        nginx-html) url="http://127.0.0.1:$PROXY_PORT/$f" ;;
        gateway-html) url="http://127.0.0.1:$GW_PORT/$f" ;;
        nginx-subfilter) url="http://127.0.0.1:$PROXY_PORT/$f"; hdr=(-H "Host: $BANNER_HOST") ;;
        gateway-banner) url="http://127.0.0.1:$GW_PORT/$f"; hdr=(-H "Host: $BANNER_HOST") ;;
        nginx-subfilter-gzip) url="http://127.0.0.1:$PROXY_PORT/$f"
            hdr=(-H "Host: $BANNER_HOST" -H "Accept-Encoding: gzip") ;;
        gateway-banner-gzip) url="http://127.0.0.1:$GW_PORT/$f"
            hdr=(-H "Host: $BANNER_HOST" -H "Accept-Encoding: gzip") ;;
        gateway-banner-nocache) url="http://127.0.0.1:$GW_PORT/$f"; hdr=(-H "Host: $NOCACHE_HOST") ;;
        gateway-banner-nocache-gzip) url="http://127.0.0.1:$GW_PORT/$f"
            hdr=(-H "Host: $NOCACHE_HOST" -H "Accept-Encoding: gzip") ;;
        # HTTPS rows: keep-alive, and a new TLS connection (full handshake) per request
        nginx-https) url="https://127.0.0.1:$PROXY_TLS_PORT/$f" ;;
        gateway-https) url="https://127.0.0.1:$GWS_PORT/$f" ;;
        nginx-https-close) url="https://127.0.0.1:$PROXY_TLS_PORT/$f"; hdr=(-H "Connection: close") ;;
        gateway-https-close) url="https://127.0.0.1:$GWS_PORT/$f"; hdr=(-H "Connection: close") ;;
        *) die "run_wrk: unknown target $target" ;;
    esac
    out="$T/wrk/$target-$f-$round.txt"
    if [[ $target == nginx* ]]; then cpu_pid=$PROXY_WORKER
    elif [[ $target == gateway-https* ]]; then cpu_pid=$GWS_PID
    else cpu_pid=$GW_PID; fi
    local -a extra=()
    local tls0=""
    [[ $target == gateway-https* && "$FAKE_GATEWAY" != 1 ]] && tls0=$(tls_counts)
    cpu0=$(cpu_ns "$cpu_pid")
    # in the background so that a TERM/INT stops the benchmark at once (cleanup kills wrk)
    wrk --latency -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 10s "${hdr[@]}" "$url" \
        > "$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed on $target /$f"; }
    WRK_PID=
    gw_alive
    cpu1=$(cpu_ns "$cpu_pid")
    if [[ -n $tls0 ]]; then   # the HTTPS gateway's handshakes during the run
        local o0 f0 r0 o1 f1 r1
        read -r o0 f0 r0 <<< "$tls0"
        read -r o1 f1 r1 <<< "$(tls_counts)"
        extra=("tls_ok=$(( o1 - o0 ))" "tls_failed=$(( f1 - f0 ))" "tls_resumed=$(( r1 - r0 ))")
    fi
    if [[ -n $record ]]; then
        python3 "$BENCH/parse_wrk.py" "$target" "$f" "$round" "cpu_ns=$(( cpu1 - cpu0 ))" \
            "${extra[@]}" < "$out" >> "$RESULTS" \
            || die "could not parse wrk output ($out)"
        log "round $round $(printf '%-17s %-9s' "$target" "$f") $(grep -m1 '^Requests/sec' "$out" | tr -s ' ')"
    fi
}

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)   # other work on the machine skews results
# The variants mirror their nginx twins around the plain pair: in every round gateway-X is
# as far from gateway as nginx-X is from nginx (1 run for -cookie, 2 for -setcookie), so the
# raw ratio and the nginx ratio of the consent table see the same drift.
if [[ $PROXY_ROWS == 0 ]]; then
    TARGETS=()
elif [[ $CONSENT == 1 ]]; then
    TARGETS=(nginx-setcookie nginx-cookie nginx gateway gateway-cookie gateway-setcookie)
else
    TARGETS=(nginx gateway)
fi
warm_twins=""
[[ $CONSENT == 1 ]] && warm_twins=", 1 s per consent variant and nginx twin"
if [[ ${#TARGETS[@]} -gt 0 ]]; then
    log "warm-up: 1 s per file per proxy$warm_twins (load average now: $LOAD_START)"
    for f in "${FILES[@]}"; do run_wrk nginx "$f" 0 1; run_wrk gateway "$f" 0 1; done
    for target in "${TARGETS[@]}"; do
        [[ $target == nginx || $target == gateway ]] || run_wrk "$target" "${FILES[0]}" 0 1
    done

    total=$(( ROUNDS * ${#FILES[@]} * ${#TARGETS[@]} * DURATION ))
    log "measuring: $ROUNDS round(s) x ${#FILES[@]} files x ${#TARGETS[@]} targets (${TARGETS[*]}) x ${DURATION}s (~${total}s)"
fi
reversed() { local i; for (( i = $# ; i >= 1; i-- )); do printf '%s\n' "${!i}"; done; }
for round in $(seq 1 "$ROUNDS"); do
    [[ ${#TARGETS[@]} -gt 0 ]] || break
    # odd rounds in order, even rounds reversed: neighbours stay neighbours, drifts cancel
    order=("${TARGETS[@]}")
    if (( round % 2 == 0 )); then mapfile -t order < <(reversed "${TARGETS[@]}"); fi
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
if [[ $PROXY_ROWS == 1 ]]; then
    log "idle keep-alive test: $IDLE_CONNS connections, VmRSS before and while held"
    idle_test nginx "$PROXY_PORT" "$PROXY_WORKER"
    idle_test gateway "$GW_PORT" "$GW_PID"
fi

# ---------------------------------------------------------------------------- decisions
# decision_run FSYNC: wrk POSTs decisions for DEC_SECS with Redis at appendfsync FSYNC, then
# counts what reached Redis. Appends one record to RESULTS; sets DEC_RATE (2xx per second).
redis_events() { rcli XLEN 'cg:{c:bench}:audit'; }
redis_counted() { rcli HVALS 'cg:{c:bench}:counts' | awk '{s += $1} END {print s + 0}'; }
decision_run() {
    local fsync=$1 out="$T/wrk/decisions-$1.txt" r0 c0 s0 j0 f0 r1 c1 s1 j1 f1 prev=-1 left=0
    local gc0 gc1 rc0 rc1
    [[ $(rcli CONFIG SET appendfsync "$fsync") == OK ]] || die "redis: CONFIG SET appendfsync $fsync failed"
    [[ $(rcli CONFIG GET appendfsync | tail -n 1) == "$fsync" ]] || die "redis: appendfsync is not $fsync"
    r0=$(redis_events) c0=$(redis_counted)
    s0=$(metric 'cg_consent_events_total{outcome="stored"}')
    j0=$(metric 'cg_consent_events_total{outcome="journaled"}')
    f0=$(metric 'cg_consent_events_total{outcome="failed"}')
    gc0=$(cpu_ns "$GW_PID") rc0=$(cpu_ns "$REDIS_PID")
    wrk --latency -t1 -c"$DEC_CONNS" -d"${DEC_SECS}s" --timeout 10s -s "$BENCH/decide.lua" \
        "http://127.0.0.1:$GW_PORT/_consent" > "$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed on POST /_consent"; }
    WRK_PID=
    gw_alive
    gc1=$(cpu_ns "$GW_PID") rc1=$(cpu_ns "$REDIS_PID")
    # Answers come after the store confirmed each event, so Redis normally has them all
    # already; journaled ones (Redis slower than command_timeout) are replayed: wait for that.
    for _ in $(seq 1 100); do       # up to 10 s
        left=$(metric cg_consent_journal_events)
        r1=$(redis_events)
        [[ $left == 0 && $r1 == "$prev" ]] && break
        prev=$r1
        sleep 0.1
    done
    r1=$(redis_events) c1=$(redis_counted)
    s1=$(metric 'cg_consent_events_total{outcome="stored"}')
    j1=$(metric 'cg_consent_events_total{outcome="journaled"}')
    f1=$(metric 'cg_consent_events_total{outcome="failed"}')
    left=$(metric cg_consent_journal_events)
    python3 "$BENCH/parse_wrk.py" decisions "appendfsync $fsync" 1 "fsync=$fsync" \
        "conns=$DEC_CONNS" "seconds=$DEC_SECS" "redis_events=$(( r1 - r0 ))" \
        "redis_counted=$(( c1 - c0 ))" "stored=$(( s1 - s0 ))" "journaled=$(( j1 - j0 ))" \
        "failed=$(( f1 - f0 ))" "journal_left=$left" "cpu_ns=$(( gc1 - gc0 ))" \
        "redis_cpu_ns=$(( rc1 - rc0 ))" < "$out" >> "$RESULTS" \
        || die "could not parse wrk output ($out)"
    DEC_RATE=$(tail -n 1 "$RESULTS" | python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
print(int(r["rps"] * (r["requests"] - r["non2xx"]) / max(r["requests"], 1)))')
    log "decisions at appendfsync $fsync: $DEC_RATE 2xx/s; wrk $(grep -m1 'requests in' "$out" | tr -s ' '), non-2xx $(tail -n 1 "$RESULTS" | python3 -c 'import json, sys; print(json.load(sys.stdin)["non2xx"])'); events in Redis +$(( r1 - r0 )), gateway stored +$(( s1 - s0 )), journaled +$(( j1 - j0 )), failed +$(( f1 - f0 ))"
}
REDIS_INFO=""
if [[ $DECISIONS == 1 ]]; then
    log "decision test: POST /_consent, wrk -t1 -c$DEC_CONNS -d${DEC_SECS}s, Redis AOF on $(stat -f -c %T "$T/redis")"
    if [[ $FSYNC == everysec ]]; then
        decision_run everysec
    else
        decision_run always
        if [[ $FSYNC == auto ]] && (( DEC_RATE < DECISIONS_TARGET )); then
            log "below $DECISIONS_TARGET/s at appendfsync always: measuring everysec too"
            decision_run everysec
        fi
    fi
    redis_ver=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
    REDIS_INFO="decisions: wrk -t1 -c$DEC_CONNS -d${DEC_SECS}s POST /_consent (bench/decide.lua) | Redis ${redis_ver:-?} on a Unix socket, RDB off, AOF on (appendfsync as in the table), AOF dir on $(stat -f -c %T "$T/redis") ($(df -P "$T/redis" | awk 'NR == 2 {print $1}'))"
elif [[ $CONSENT == 1 ]]; then
    log "decision test skipped: the fake gateway has no /_consent"
fi

# ---------------------------------------------------------------------------- HTML rows
# After everything else, so that the rows above (and the idle RSS test) run as without them:
# rewriting allocates (gzip state, buffers) and the gateway keeps part of that memory.
HTML_TARGETS=()
[[ $HTML_ROWS == 1 ]] && HTML_TARGETS=(nginx-html gateway-html nginx-subfilter gateway-banner
                                       gateway-banner-nocache nginx-subfilter-gzip
                                       gateway-banner-gzip gateway-banner-nocache-gzip)
if [[ ${#HTML_TARGETS[@]} -gt 0 ]]; then
    log "HTML rows: warm-up 1 s each (load average now: $(cut -d" " -f1-3 /proc/loadavg))"
    for target in "${HTML_TARGETS[@]}"; do run_wrk "$target" "$HTML_PAGE" 0 1; done
    log "measuring: $ROUNDS round(s) x $HTML_PAGE x ${#HTML_TARGETS[@]} HTML rows (${HTML_TARGETS[*]}) x ${DURATION}s (~$(( ROUNDS * ${#HTML_TARGETS[@]} * DURATION ))s)"
    for round in $(seq 1 "$ROUNDS"); do
        # adjacent pairs, nginx twin first; even rounds reversed (drifts cancel)
        order=("${HTML_TARGETS[@]}")
        if (( round % 2 == 0 )); then mapfile -t order < <(reversed "${HTML_TARGETS[@]}"); fi
        for target in "${order[@]}"; do run_wrk "$target" "$HTML_PAGE" "$round" "$DURATION" record; done
    done
fi

# ---------------------------------------------------------------------------- rewrite memory
# rewrite_mem_test TARGET PORT PID CODING: REWRITE_CONNS responses of the slow page being
# rewritten at once (wrk keeps every connection busy; the upstream sends each at SLOW_RATE);
# VmRSS of PID sampled every 0.1 s. Appends one parse_wrk.py record (target rewrite-TARGET,
# file = CODING) with idle_kb, peak_kb, after_kb to RW_RSS.
RW_RSS="$T/rewrite-rss.jsonl"
: > "$RW_RSS"
rewrite_mem_test() {
    local target=$1 port=$2 pid=$3 coding=$4 idle peak after sampler
    local out="$T/wrk/rewrite-$1-$4.txt" samples="$T/rewrite-$1-$4.rss"
    local -a hdr=(-H "Host: $BANNER_HOST")
    [[ $coding == gzip ]] && hdr+=(-H "Accept-Encoding: gzip")
    sleep 1
    idle=$(rss_kb "$pid")
    (   # bounded: at most the run plus 60 s
        for _ in $(seq 1 $(( (REWRITE_SECS + 60) * 10 ))); do rss_kb "$pid"; sleep 0.1; done
    ) > "$samples" &
    sampler=$!
    PIDS+=("$sampler")
    wrk --latency -t1 -c"$REWRITE_CONNS" -d"${REWRITE_SECS}s" --timeout 30s "${hdr[@]}" \
        "http://127.0.0.1:$port/slow/$HTML_PAGE" > "$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed on the rewrite-memory test ($target, $coding)"; }
    WRK_PID=
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    gw_alive
    peak=$(sort -n "$samples" | tail -n 1)
    (( ${peak:-0} > idle )) || peak=$idle
    sleep 1
    after=$(rss_kb "$pid")
    python3 "$BENCH/parse_wrk.py" "rewrite-$target" "$coding" 0 "idle_kb=$idle" "peak_kb=$peak" \
        "after_kb=$after" "conns=$REWRITE_CONNS" "seconds=$REWRITE_SECS" "rate=$SLOW_RATE" \
        < "$out" >> "$RW_RSS" || die "could not parse wrk output ($out)"
    log "rewrite memory $target $coding: VmRSS idle $idle kB, peak $peak kB, 1 s after $after kB; wrk $(grep -m1 'requests in' "$out" | tr -s ' '), p50 $(awk '$1 == "50%" {print $2}' "$out")"
}
if [[ $HTML_ROWS == 1 ]]; then
    log "rewrite-memory test: wrk -c$REWRITE_CONNS -d${REWRITE_SECS}s on /slow/$HTML_PAGE (upstream limit_rate $SLOW_RATE), VmRSS sampled"
    for coding in identity gzip; do
        rewrite_mem_test nginx "$PROXY_PORT" "$PROXY_WORKER" "$coding"
        rewrite_mem_test gateway "$GW_PORT" "$GW_PID" "$coding"
    done
fi

# ---------------------------------------------------------------------------- HTTPS rows
# Last: nothing above sees a TLS connection. Pairs of (target file), adjacent, nginx first in
# odd rounds, the whole list reversed in even rounds.
HTTPS_RUNS=()
if [[ $HTTPS_ROWS == 1 ]]; then
    for f in "${HTTPS_FILES[@]}"; do HTTPS_RUNS+=("nginx-https $f" "gateway-https $f"); done
    HTTPS_RUNS+=("nginx-https-close ${HTTPS_FILES[0]}" "gateway-https-close ${HTTPS_FILES[0]}")
    log "HTTPS rows: warm-up 1 s each (load average now: $(cut -d" " -f1-3 /proc/loadavg))"
    for run in "${HTTPS_RUNS[@]}"; do
        read -r target f <<< "$run"
        run_wrk "$target" "$f" 0 1
    done
    log "measuring: $ROUNDS round(s) x ${#HTTPS_RUNS[@]} HTTPS runs (${HTTPS_RUNS[*]}) x ${DURATION}s (~$(( ROUNDS * ${#HTTPS_RUNS[@]} * DURATION ))s)"
    for round in $(seq 1 "$ROUNDS"); do
        order=("${HTTPS_RUNS[@]}")
        if (( round % 2 == 0 )); then mapfile -t order < <(reversed "${HTTPS_RUNS[@]}"); fi
        for run in "${order[@]}"; do
            read -r target f <<< "$run"
            run_wrk "$target" "$f" "$round" "$DURATION" record
        done
    done
fi

# https_report RESULTS LABEL TLS_INFO: the Markdown section of the HTTPS rows (stdout); exit 3
# when the gateway had errors, 1 when there is nothing to report.
https_report() {
    python3 - "$@" <<'PY'
import json, statistics, sys

results, label, tls_info = sys.argv[1:4]
recs = [json.loads(line) for line in open(results) if line.strip()]
https = [r for r in recs if r["target"].startswith(("nginx-https", "gateway-https"))]
if not https:
    print("no HTTPS records", file=sys.stderr)
    sys.exit(1)


def runs(target, file):
    return [r for r in recs if r["target"] == target and r["file"] == file]


def med(rs, key):
    return statistics.median(r[key] for r in rs)


def ms(v):
    return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"


def cpu(rs):
    per = [r["cpu_ns"] / r["requests"] / 1000 for r in rs
           if r.get("cpu_ns", 0) > 0 and r.get("requests", 0) > 0]
    return f"{statistics.median(per):.0f} µs" if per else "–"


rows = [("keep-alive", "nginx-https", "gateway-https"),
        ("new connection per request", "nginx-https-close", "gateway-https-close")]
files = []
for r in https:
    if r["file"] not in files:
        files.append(r["file"])
out = ["", "## HTTPS: TLS terminated by the proxy", "",
       "wrk to https://127.0.0.1:PORT/FILE through the nginx proxy's TLS server block and through "
       + (f"the {label}'s TLS server block (the same settings)" if "FAKE" in label else
          f"the {label}'s `listen.tls` listener (a second process with the same sites and consent "
          "settings)") + ", one self-signed EC P-256 certificate for localhost on both, TLS 1.2 and 1.3, "
       "the gateway's TLS 1.2 suites on both (server preference), session cache and tickets on "
       "both (both checked to resume TLS 1.2 and 1.3 sessions). Negotiated with a default "
       "OpenSSL client: " + (tls_info or "?") + ". "
       "\"https, new connection per request\": `Connection: close`, so every request is a new "
       "TCP connection and TLS handshake; wrk keeps each connection's session when it "
       "reconnects, so these are resumed TLS 1.3 handshakes (key exchange, no certificate "
       "signature), as the gateway's counters show. Full handshakes are not measured (wrk "
       "cannot turn resumption off).", "",
       "| row | file | nginx req/s | gateway req/s | ratio | nginx p50 | gateway p50 | nginx p99 "
       "| gateway p99 | nginx CPU/req | gateway CPU/req | gateway TLS handshakes per run "
       "| errors gateway / nginx | result |",
       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
failures = []
for name, nt, gt in rows:
    for f in files:
        n, g = runs(nt, f), runs(gt, f)
        if not n and not g:
            continue
        if not n or not g:
            failures.append(f"HTTPS {name} {f}: missing runs (nginx {len(n)}, gateway {len(g)})")
            continue
        n_rps, g_rps = med(n, "rps"), med(g, "rps")
        ratio = g_rps / n_rps if n_rps > 0 else 0.0
        g_err = sum(r["non2xx"] + r["socket_errors"] for r in g)
        n_err = sum(r["non2xx"] + r["socket_errors"] for r in n)
        hs = "–"
        if all("tls_ok" in r for r in g):
            per_req = statistics.median(r["tls_ok"] / max(r["requests"], 1) for r in g)
            hs = (f"{med(g, 'tls_ok'):,.0f} ({per_req:.2f}/request; "
                  f"{med(g, 'tls_resumed'):,.0f} resumed, {med(g, 'tls_failed'):,.0f} failed)")
        if g_err:
            failures.append(f"HTTPS {name} {f}: {g_err} gateway errors (non-2xx/socket)")
        out.append(f"| https, {name} | {f} | {n_rps:,.0f} | {g_rps:,.0f} | {ratio:.3f} "
                   f"| {ms(med(n, 'p50_ms'))} | {ms(med(g, 'p50_ms'))} | {ms(med(n, 'p99_ms'))} "
                   f"| {ms(med(g, 'p99_ms'))} | {cpu(n)} | {cpu(g)} | {hs} | {g_err} / {n_err} "
                   f"| {'reference' if not g_err else 'FAIL'} |")
rounds = sorted({r["round"] for r in https})
out += ["", f"Median of {len(rounds)} round(s), each pair adjacent, order reversed every other "
        "round. ratio = gateway req/s / nginx req/s. CPU per request = on-CPU time (/proc "
        "schedstat, all threads) of the HTTPS gateway process / of the nginx proxy's one worker "
        "during the run, / requests (wrk, the upstream and the other proxy share the same "
        "cores). Handshakes: the gateway's cg_tls_handshakes_total (ok, failed) and "
        "cg_tls_sessions_resumed_total during one run (medians); \"failed\" are wrk's own: "
        "its TCP-only reachability probe before each run (wrk.resolve) and, on the "
        "new-connection row, connections still in their handshake when the run stops. "
        "wrk's latency of a new connection counts from the request, after the handshake. "
        "Reference numbers: no target; errors from the gateway are a FAIL."]
spread = []
for name, nt, gt in rows:
    for f in files:
        parts = []
        for t in (nt, gt):
            rs = [r["rps"] for r in runs(t, f)]
            if len(rs) > 1 and statistics.median(rs) > 0:
                parts.append(f"{t} {100 * (max(rs) - min(rs)) / statistics.median(rs):.0f}%")
        if parts:
            spread.append(f"{f} " + "/".join(parts))
if spread:
    out += ["", "Run-to-run spread of req/s, (max − min) / median: " + "; ".join(spread)
            + ". A ratio closer to 1.0 than this spread is within noise."]
plain = []
for f in files:
    n, g, ns, gs = runs("nginx", f), runs("gateway", f), runs("nginx-https", f), runs("gateway-https", f)
    if n and g and ns and gs:
        plain.append(f"{f}: nginx {med(ns, 'rps') / med(n, 'rps'):.2f}×, gateway "
                     f"{med(gs, 'rps') / med(g, 'rps'):.2f}×")
if plain:
    out += ["", "Keep-alive HTTPS req/s / plain HTTP req/s of the same proxy (proxy table above, "
            "same run, earlier): " + "; ".join(plain) + "."]
out.append("")
if failures:
    out.append("**HTTPS: FAIL**")
    out += [f"- {w}" for w in failures]
else:
    out.append("HTTPS: no gateway errors (reference rows, no target).")
print("\n".join(out))
sys.exit(3 if failures else 0)
PY
}

# ---------------------------------------------------------------------------- report
cpu=$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no commit")
# (diff-index only reads: no index refresh, so no index.lock while others commit)
git -C "$REPO" diff-index --quiet HEAD -- CMakeLists.txt cmake common consent gateway \
    2>/dev/null || rev="$rev + uncommitted changes"
# the binary may be older than HEAD: say when it was built
[[ "$FAKE_GATEWAY" != 1 ]] && rev="$rev, binary built $(date -u -r "$GATEWAY_BIN" '+%Y-%m-%d %H:%MZ')"
H1="date: $(date -u '+%Y-%m-%d %H:%M:%SZ') | nproc: $(nproc) | cpu: ${cpu:-unknown} | kernel: $(uname -sr) | load avg at start: $LOAD_START, at end: $(cut -d" " -f1-3 /proc/loadavg)"
nginx_ver=$({ "$NGINX" -v 2>&1 || true; } | sed 's/^nginx version: //')
NGINX_PKG=$(dpkg -S "$(readlink -f "$NGINX")" 2>/dev/null | cut -d: -f1 | head -n 1 || true)
[[ -n $NGINX_PKG ]] && NGINX_PKG="$NGINX_PKG $(dpkg-query -W -f='${Version}' "$NGINX_PKG" 2>/dev/null || true)"
wrk_ver=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print "wrk " $2}')
H2="wrk -t$THREADS -c$CONNS -d${DURATION}s × $ROUNDS round(s), interleaved | one worker each | $nginx_ver | $wrk_ver | $GW_LABEL @ $rev"
headers=(--header "$H1  " --header "$H2")
[[ -n $REDIS_INFO ]] && headers=(--header "$H1  " --header "$H2  " --header "$REDIS_INFO")
mkdir -p "$BENCH/out"
cat "$RESULTS" "$RW_RSS" > "$BENCH/out/latest.jsonl"
echo
rc=0
HTTPS_MD="$T/https.md"
https_rc=0
if [[ $HTTPS_ROWS == 1 ]]; then
    https_report "$RESULTS" "$GW_LABEL" "$TLS_INFO" > "$HTTPS_MD" || https_rc=$?
    (( https_rc == 0 || https_rc == 3 )) || die "HTTPS report failed"
fi
if [[ $HTTPS_ONLY == 1 ]]; then
    # Only the HTTPS rows: their section is the whole report.
    {
        printf '# consent-gateway vs nginx: reverse-proxy benchmark (--https-only)\n\n%s  \n%s\n' "$H1" "$H2"
        cat "$HTTPS_MD"
    } > "$BENCH/out/latest.md"
    cat "$BENCH/out/latest.md"
    exit "$https_rc"
fi
rss_args=(--rss "$RSS")
[[ $PROXY_ROWS == 0 ]] && rss_args=()
[[ $HTML_ROWS == 1 ]] && rss_args+=(--rewrite-rss "$RW_RSS")
if [[ $HTML_ROWS == 1 ]]; then
    headers=(--header "$H1  " --header "$H2  ")
    [[ -n $REDIS_INFO ]] && headers+=(--header "$REDIS_INFO  ")
    headers+=(--header "HTML rows: $HTML_PAGE, gateway site $BANNER_HOST with a banner vs nginx sub_filter (the same tags before </head>; $nginx_ver${NGINX_PKG:+ from Debian package $NGINX_PKG}, with http_sub_module), gzip level $GZIP_LEVEL on both; the upstream serves a level-$GZIP_LEVEL .gz (gzip_static) to the gateway's gzip row")
fi
python3 "$BENCH/report.py" --results "$RESULTS" "${rss_args[@]}" "${headers[@]}" \
    --gateway-label "$GW_LABEL" --decisions-target "$DECISIONS_TARGET" \
    --out "$BENCH/out/latest.md" || rc=$?
(( rc == 0 || rc == 3 )) || die "report failed"
if [[ $HTTPS_ROWS == 1 ]]; then
    tee -a "$BENCH/out/latest.md" < "$HTTPS_MD"
    (( https_rc == 0 )) || rc=3
fi
exit "$rc"
