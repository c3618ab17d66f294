#include "analytics/forwarder.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "analytics/stats.hpp"
#include "json_config/reader.hpp"
#include "redis/worker.hpp"

namespace cg::analytics {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

inline constexpr auto use_ec = net::as_tuple(net::use_awaitable);

std::int64_t system_now() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (json_config::ascii_lower(s[i]) != prefix[i]) {
            return false;
        }
    }
    return true;
}

// Marks a day delivered unless a later one already is (two gateways, or a slow one), and keeps
// the progress hash from living forever (C7: every key expires; 400 days after the last
// delivery).   KEYS[1] the hash, ARGV[1] field, ARGV[2] "YYYY-MM-DD" (compares as text).
constexpr std::string_view mark_script = R"lua(
local c = redis.call('HGET', KEYS[1], ARGV[1])
if (not c) or c < ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], 34560000)
return 1
)lua";

/// Upper bound of the wait for the statistics reader to build a batch.
constexpr auto build_timeout = std::chrono::seconds{60};

struct exchange_result {
    unsigned status = 0;  ///< 0: no answer
    std::string error;    ///< when status is 0
};

struct exchange_plan {
    const forward_url& url;
    const forward_target& target;
    const std::string& body;
    const std::string& key;
    clock::time_point deadline;
};

std::string no_answer(const exchange_plan& p) {
    return "no answer within " + std::to_string(p.target.timeout.count()) + " ms";
}

std::string failed(const exchange_plan& p, std::string_view step, const beast::error_code& ec) {
    if (ec == beast::error::timeout) {
        return no_answer(p);
    }
    return std::string{step} + ": " + ec.message();
}

template <class Stream>
net::awaitable<void> send_and_read(Stream& stream, const exchange_plan& p, exchange_result& out) {
    http::request<http::string_body> req{http::verb::post, p.url.target, 11};
    req.set(http::field::host, p.url.host_header);
    req.set(http::field::user_agent, "consent-gateway");
    for (const auto& [name, value] : p.target.headers) {
        req.set(name, value);
    }
    // After the configured headers: config refuses these names, and they are ours to set.
    req.set(http::field::content_type, "application/json");
    req.set("Idempotency-Key", p.key);
    req.set(http::field::connection, "close");
    req.body() = p.body;
    req.prepare_payload();
    const auto [wec, written] = co_await http::async_write(stream, req, use_ec);
    static_cast<void>(written);
    if (wec) {
        out.error = failed(p, "send", wec);
        co_return;
    }
    // Only the status line matters; whatever body follows is not read.
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    const auto [rec, got] = co_await http::async_read_header(stream, buffer, parser, use_ec);
    static_cast<void>(got);
    if (rec) {
        out.error = failed(p, "read answer", rec);
        co_return;
    }
    out.status = parser.get().result_int();
}

// One POST on its own connection; every step runs against p.deadline (tcp_stream's timer).
net::awaitable<void> exchange(const exchange_plan& p, ssl::context* tls, exchange_result& out) {
    const auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver{ex};
    const std::string service = std::to_string(p.url.port);  // not a temporary in co_await
    const auto [rec, found] = co_await resolver.async_resolve(p.url.host, service, use_ec);
    if (rec) {
        out.error = "resolve " + p.url.host + ": " + rec.message();
        co_return;
    }
    if (!p.url.tls) {
        beast::tcp_stream stream{ex};
        stream.expires_at(p.deadline);
        const auto [cec, ep] = co_await stream.async_connect(found, use_ec);
        static_cast<void>(ep);
        if (cec) {
            out.error = failed(p, "connect", cec);
            co_return;
        }
        co_await send_and_read(stream, p, out);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream{ex, *tls};
    boost::system::error_code not_ip;
    static_cast<void>(net::ip::make_address(p.url.host, not_ip));
    // RFC 6066 §3: SNI carries host names only, never an address literal.
    // (SSL_set_tlsext_host_name without its C cast.)
    if (not_ip && SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                           TLSEXT_NAMETYPE_host_name, const_cast<char*>(p.url.host.c_str())) != 1) {
        out.error = "TLS: cannot set the server name";
        co_return;
    }
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(p.url.host));
    beast::get_lowest_layer(stream).expires_at(p.deadline);
    const auto [cec, ep] = co_await beast::get_lowest_layer(stream).async_connect(found, use_ec);
    static_cast<void>(ep);
    if (cec) {
        out.error = failed(p, "connect", cec);
        co_return;
    }
    const auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_ec);
    if (hec) {
        out.error = failed(p, "TLS handshake", hec);
        co_return;
    }
    co_await send_and_read(stream, p, out);
}

}  // namespace

std::optional<forward_url> parse_forward_url(std::string_view url, std::string& why) {
    why.clear();
    forward_url out;
    std::string_view rest;
    if (starts_with_icase(url, "https://")) {
        out.tls = true;
        out.port = 443;
        rest = url.substr(8);
    } else if (starts_with_icase(url, "http://")) {
        rest = url.substr(7);
    } else {
        why = "must be an http:// or https:// URL";
        return std::nullopt;
    }
    for (const char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            why = "must not contain spaces or control characters";
            return std::nullopt;
        }
    }
    const auto end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, end);
    const auto path = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (path.find('#') != std::string_view::npos) {
        why = "must not have a fragment (#)";
        return std::nullopt;
    }
    if (authority.find('@') != std::string_view::npos) {
        why = "must not contain user info (put credentials in headers)";
        return std::nullopt;
    }
    std::string_view host;
    std::optional<std::string_view> port;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        boost::system::error_code ec;
        if (close != std::string_view::npos) {
            static_cast<void>(net::ip::make_address_v6(authority.substr(1, close - 1), ec));
        }
        if (close == std::string_view::npos || ec) {
            why = "has an invalid host";
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "has an invalid host";
                return std::nullopt;
            }
            port = after.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
        }
        if (host.empty()) {
            why = "has no host";
            return std::nullopt;
        }
        if (!json_config::is_name_or_ipv4(host)) {
            why = "has an invalid host";
            return std::nullopt;
        }
    }
    if (port) {
        unsigned long n = 0;
        const bool digits = !port->empty() && port->size() <= 5 &&
                            std::all_of(port->begin(), port->end(), json_config::is_digit);
        for (const char c : *port) {
            n = n * 10 + static_cast<unsigned long>(c - '0');
        }
        if (!digits || n < 1 || n > 65535) {
            why = "has an invalid port (must be 1-65535)";
            return std::nullopt;
        }
        out.port = static_cast<std::uint16_t>(n);
    }
    out.host = json_config::lower(host);
    out.target = path.empty() ? "/" : std::string{path};
    if (out.target.front() == '?') {
        out.target.insert(0, "/");
    }
    out.host_header = authority.starts_with("[") ? "[" + out.host + "]" : out.host;
    if (out.port != (out.tls ? 443 : 80)) {
        out.host_header += ":" + std::to_string(out.port);
    }
    return out;
}

std::string idempotency_key(std::string_view target, std::string_view site, day_number day) {
    std::string input{target};
    input += '\n';
    input += site;
    input += '\n';
    input += format_day(day);
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

struct forwarder::impl final : redis::worker<int>::handler {
    /// One target and one site: its days go in order, one at a time.
    struct lane {
        std::size_t target = 0;
        std::uint32_t site = 0;
        std::string field;  ///< "<target> <site>" in the progress hash
        bool failing = false;
        clock::time_point retry_at{};
        clock::duration backoff{};
        std::optional<std::pair<day_number, std::string>> held;  ///< a built batch to retry
        std::uint64_t pending = 0;
    };

    impl(redis::redis_config redis, std::vector<site_plan> s, std::vector<forward_target> t,
         stats_reader& r, forwarder_options o)
        : prefix(redis.key_prefix),
          progress_key(prefix + "a:fwd"),
          sites(std::move(s)),
          targets(std::move(t)),
          reader(r),
          options(o),
          worker(std::move(redis), worker_opts(), *this) {
        bool any_tls = false;
        for (const auto& target : targets) {
            std::string why;
            auto url = parse_forward_url(target.url, why);
            if (!url) {
                throw std::invalid_argument("analytics.forward " + target.name + ": url " + why);
            }
            any_tls = any_tls || url->tls;
            urls.push_back(std::move(*url));
        }
        if (any_tls) {
            tls.emplace(ssl::context::tls_client);
            // Verify every peer against the system's CA store (and, per connection, the host
            // name); no TLS before 1.2.
            tls->set_default_verify_paths();
            tls->set_verify_mode(ssl::verify_peer);
            SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
        }
        for (std::size_t i = 0; i < targets.size(); ++i) {
            for (std::uint32_t j = 0; j < sites.size(); ++j) {
                if (sites[j].enabled) {
                    lane l;
                    l.target = i;
                    l.site = j;
                    l.field = targets[i].name + " " + sites[j].name;
                    lanes.push_back(std::move(l));
                }
            }
        }
    }

    static redis::worker_options worker_opts() {
        redis::worker_options w;
        w.queue_limit = 16;  // nudges only
        return w;
    }

    std::int64_t now() const { return options.now != nullptr ? options.now() : system_now(); }

    // --- the worker's thread ---------------------------------------------------------------

    void process(std::span<int> run, redis::session& s) override {
        static_cast<void>(run);
        tick(s, true);
    }

    void background(redis::session& s) override { tick(s, false); }

    clock::time_point background_due() const override {
        auto due = next_check;
        for (const auto& l : lanes) {
            if (l.failing) {
                due = std::min(due, l.retry_at);
            }
        }
        return due;
    }

    void tick(redis::session& s, bool forced) {
        if (stopping.load()) {
            return;
        }
        const auto t = clock::now();
        const bool check = forced || t >= next_check;
        if (check) {
            next_check = t + options.check_interval;
        }
        for (auto& l : lanes) {
            if (stopping.load()) {
                break;
            }
            if (t < l.retry_at || (!check && !l.failing)) {
                continue;
            }
            run_lane(s, l);
        }
        std::uint64_t waiting = 0;
        for (const auto& l : lanes) {
            waiting += l.pending;
        }
        pending.store(waiting, std::memory_order_relaxed);
    }

    // The last day delivered on a lane: nullopt when Redis failed, an empty one when none.
    static std::optional<std::optional<day_number>> day_in(const redisReply* r) {
        if (r == nullptr || r->type == REDIS_REPLY_NIL) {
            return std::optional<day_number>{};
        }
        if (r->type != REDIS_REPLY_STRING) {
            return std::nullopt;
        }
        return std::optional<day_number>{parse_day({r->str, r->len})};
    }

    // Redis failed (the worker reconnects): a failing lane waits out its backoff again rather
    // than making background_due() call at once, over and over.
    static void wait_for_redis(lane& l) {
        if (l.failing) {
            l.retry_at = clock::now() + l.backoff;
        }
    }

    void run_lane(redis::session& s, lane& l) {
        if (!s.connected()) {
            wait_for_redis(l);
            return;
        }
        const site_plan& site = sites[l.site];
        const forward_target& target = targets[l.target];
        const std::int64_t n = now();
        const day_number today = site.calendar.at(n).day;
        // The newest closed day: it ended at least `grace` ago in the site's time zone.
        const day_number closed = site.calendar.at(n - options.grace.count()).day - 1;
        const auto first = s.command({"HGET", progress_key, l.field});
        std::optional<std::optional<day_number>> last;
        if (first) {
            last = day_in(first->get());
        }
        if (!last) {
            wait_for_redis(l);
            return;
        }
        day_number next =
            *last ? **last + 1 : today - static_cast<day_number>(options.first_run_days_back);
        next = std::max(next, closed - static_cast<day_number>(options.max_days_back) + 1);
        while (next <= closed && !stopping.load()) {
            l.pending = static_cast<std::uint64_t>(closed - next + 1);
            const std::string date = format_day(next);
            const std::string lock =
                prefix + "a:fwd:lock:" + target.name + ":" + site.name + ":" + date;
            const std::string lock_seconds = std::to_string(options.lock_time.count());
            std::string error;
            const auto replies = s.pipeline(
                {{"SET", lock, "1", "NX", "EX", lock_seconds}, {"HGET", progress_key, l.field}},
                s.deadline(), error);
            if (replies.size() < 2) {
                wait_for_redis(l);
                return;
            }
            // Checked after taking the lock: another gateway may have delivered meanwhile.
            const auto done = day_in(replies[1].get());
            if (done && *done && **done >= next) {
                next = **done + 1;
                continue;
            }
            if (replies[0]->type != REDIS_REPLY_STATUS) {
                l.failing = false;  // another gateway is sending it; look again later
                return;
            }
            std::optional<std::string> body;
            if (l.held && l.held->first == next) {
                body = std::move(l.held->second);
            } else {
                body = build(l.site, next);
            }
            release_held(l);
            if (stopping.load()) {
                s.command({"DEL", lock});  // abandoned: whoever runs next sends it
                return;
            }
            if (!body) {
                fail(s, l, lock, date, "statistics store unreachable");
                return;
            }
            const exchange_result r = post(l, *body, idempotency_key(target.name, site.name, next));
            if (r.status == 0 && stopping.load()) {
                s.command({"DEL", lock});
                return;
            }
            if (r.status >= 200 && r.status < 300) {
                const auto marked =
                    s.command({"EVAL", mark_script, "1", progress_key, l.field, date});
                // Not marked (Redis failed): the day is sent again later; at least once.
                static_cast<void>(marked);
                delivered.fetch_add(1, std::memory_order_relaxed);
                l.failing = false;
                l.backoff = {};
                ++next;
                continue;
            }
            const bool refused =
                r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429;
            if (refused) {
                rejected.fetch_add(1, std::memory_order_relaxed);
            }
            if (held_count < options.max_queue) {
                l.held.emplace(next, std::move(*body));
                ++held_count;
            }
            fail(s, l, lock, date, r.status != 0 ? "HTTP " + std::to_string(r.status) : r.error);
            return;
        }
        l.pending = 0;
    }

    void release_held(lane& l) {
        if (l.held) {
            l.held.reset();
            --held_count;
        }
    }

    // A failed delivery: counted, told in last_error, the lock released (another gateway may
    // try meanwhile; a duplicate is what the idempotency key is for), retried after a backoff.
    void fail(redis::session& s, lane& l, const std::string& lock, const std::string& date,
              const std::string& what) {
        failures.fetch_add(1, std::memory_order_relaxed);
        {
            const std::lock_guard guard{mutex};
            last_error =
                targets[l.target].name + ": " + sites[l.site].name + " " + date + ": " + what;
        }
        s.command({"DEL", lock});
        const clock::duration first = options.first_backoff;
        const clock::duration most = options.max_backoff;
        l.backoff = l.backoff == clock::duration{} ? first : std::min(l.backoff * 2, most);
        l.failing = true;
        l.retry_at = clock::now() + l.backoff;
    }

    // The day's batch from the statistics reader (its thread builds it).
    std::optional<std::string> build(std::uint32_t site, day_number day) {
        auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
        auto future = promise->get_future();
        reader.day_batch(site, day, [promise](std::optional<std::string> doc) {
            promise->set_value(std::move(doc));
        });
        const auto until = clock::now() + build_timeout;
        while (future.wait_for(std::chrono::milliseconds{50}) != std::future_status::ready) {
            if (stopping.load() || clock::now() >= until) {
                return std::nullopt;
            }
        }
        return future.get();
    }

    // One POST on a fresh io_context run on this thread; stop() can stop it from outside.
    exchange_result post(const lane& l, const std::string& body, const std::string& key) {
        const forward_target& target = targets[l.target];
        const exchange_plan plan{urls[l.target], target, body, key, clock::now() + target.timeout};
        exchange_result out;
        bool finished = false;
        net::io_context ioc{1};
        {
            const std::lock_guard guard{mutex};
            if (stopping.load()) {
                return {0, "stopped"};
            }
            running = &ioc;
        }
        net::co_spawn(ioc, exchange(plan, tls ? &*tls : nullptr, out),
                      [&finished, &out](const std::exception_ptr& e) {
                          finished = true;
                          if (e && out.status == 0 && out.error.empty()) {
                              out.error = "internal error";
                          }
                      });
        // The streams' timers end every step at the deadline; this bounds name resolution too.
        ioc.run_until(plan.deadline + std::chrono::milliseconds{200});
        {
            const std::lock_guard guard{mutex};
            running = nullptr;
        }
        if (!finished) {
            out = {0, stopping.load() ? "stopped" : no_answer(plan)};
        }
        return out;  // what is still pending goes with ioc, unrun
    }

    void stop_now() {
        stopping.store(true);
        const std::lock_guard guard{mutex};
        if (running != nullptr) {
            running->stop();
        }
    }

    const std::string prefix;
    const std::string progress_key;
    const std::vector<site_plan> sites;
    const std::vector<forward_target> targets;
    std::vector<forward_url> urls;
    stats_reader& reader;
    const forwarder_options options;
    std::optional<ssl::context> tls;

    // the worker thread's own
    std::vector<lane> lanes;
    std::size_t held_count = 0;
    clock::time_point next_check{};

    mutable std::mutex mutex;
    std::string last_error;              // mutex
    net::io_context* running = nullptr;  // mutex: the exchange in flight

    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> pending{0};

    redis::worker<int> worker;  // last: its thread stops before the members above go
};

forwarder::forwarder(redis::redis_config redis, std::vector<site_plan> sites,
                     std::vector<forward_target> targets, stats_reader& reader,
                     forwarder_options options)
    : impl_(std::make_unique<impl>(std::move(redis), std::move(sites), std::move(targets), reader,
                                   options)) {}

forwarder::~forwarder() {
    stop();
}

void forwarder::start() {
    impl_->worker.start();
}

void forwarder::stop() {
    impl_->stop_now();
    impl_->worker.stop();
}

void forwarder::nudge() {
    int wake = 0;
    impl_->worker.submit(wake);
}

forwarder_status forwarder::status() const {
    forwarder_status s;
    s.redis_up = impl_->worker.status().up;
    s.delivered = impl_->delivered.load(std::memory_order_relaxed);
    s.failures = impl_->failures.load(std::memory_order_relaxed);
    s.rejected = impl_->rejected.load(std::memory_order_relaxed);
    s.pending_days = impl_->pending.load(std::memory_order_relaxed);
    const std::lock_guard guard{impl_->mutex};
    s.last_error = impl_->last_error;
    return s;
}

}  // namespace cg::analytics
