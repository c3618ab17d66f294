# Sourced by scripts/demo and scripts/test: installs the Debian packages that are missing.
# Every package is named with the reason it is needed; see README "Dependencies".

build_packages=(
    cmake ninja-build g++ pkg-config   # the build
    libboost1.81-dev                   # Asio (event loop, sockets, timers) and Beast (HTTP/1.1, WebSocket)
    nlohmann-json3-dev                 # configuration, catalogue and consent-record JSON
    libssl-dev                         # HMAC-SHA256 of the consent cookie, SHA-256, random ids
    zlib1g-dev libbrotli-dev           # gzip, deflate and br pages are decoded, rewritten, re-encoded
    libdeflate-dev                     # ... and a page rewritten whole is compressed in one call
    libhiredis-dev                     # the Redis client for consent records
    libre2-dev libyaml-cpp-dev         # analytics: ua-parser's User-Agent regexes, read from YAML
    uap-core                           # ... the regexes themselves (and their test cases)
    libmaxminddb-dev                   # analytics: country of a visitor's address (.mmdb)
    libxxhash-dev                      # analytics: the visit table's seeded keys (XXH3)
    libcctz-dev tzdata                 # analytics: days and hours in each site's time zone
)
test_packages=(
    libgtest-dev                       # unit and integration tests
    libbenchmark-dev                   # microbenchmarks (analytics_bench), run by hand
    libmaxmind-db-writer-perl          # tests build their own GeoIP fixtures (.mmdb)
    redis-server                       # integration tests start their own redis-server
    clang libclang-rt-14-dev           # libFuzzer builds of the parsers (tests/fuzz)
    chromium                           # browser tests (tests/e2e), driven by playwright-core
    openssl                            # TLS tests make their CA and certificates at test time
    prometheus                         # promtool checks and unit-tests the alerting rules
    nodejs                             # runs the browser tests and `npm ci` (package-lock.json)
)
# Debian's npm; NodeSource's nodejs bundles its own and conflicts with it, so ask only when
# there is no npm at all.
command -v npm >/dev/null 2>&1 || test_packages+=(npm)
demo_packages=(
    redis-server                       # consent records (the demo starts one for the gateway)
    python3                            # the bundled demo website
    curl                               # the demo script's readiness check
    openssl                            # makes the demo's consent cookie key
    nodejs                             # `npm ci`: uPlot for the dashboard, the demo's GeoIP file
)

# install_missing PACKAGE...: apt-get installs those not yet installed (root, or via sudo).
install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
