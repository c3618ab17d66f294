#include "session.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/string_body.hpp>

#include "async.hpp"
#include "consent/endpoints.hpp"
#include "consent_endpoint.hpp"
#include "gateway/request_guard.hpp"
#include "proxy.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t read_chunk = 8 * 1024;

// Keeps the worker's connection registry and the open-connection gauge true for the lifetime
// of a session, whichever way it ends.
class registration {
  public:
    registration(worker& w, connection& c) : w_(w), c_(c) { w_.connections.insert(&c_); }
    ~registration() {
        w_.connections.erase(&c_);
        w_.shared.stats.open_connections.fetch_sub(1, std::memory_order_relaxed);
    }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

  private:
    worker& w_;
    connection& c_;
};

// Reads until the buffer holds a complete, well-framed request head. The first request on a
// connection gets limits.header_timeout in all; later ones may idle for limits.idle_timeout
// and then get header_timeout from their first byte (slowloris defence).
net::awaitable<beast::error_code> read_head(connection& c, const limits_config& lim, bool first,
                                            head_scan& scan) {
    if (c.buffer.size() != 0) {
        scan =
            scan_request_head({static_cast<const char*>(c.buffer.data().data()), c.buffer.size()},
                              lim.header_bytes, lim.header_count);
        if (scan.error || scan.head_bytes != 0) {
            co_return scan.error;
        }
    }
    bool timed = first || c.buffer.size() != 0;
    c.arm(timed ? lim.header_timeout : lim.idle_timeout);
    for (;;) {
        auto [ec, n] =
            co_await c.stream.socket().async_read_some(c.buffer.prepare(read_chunk), use_ec);
        if (ec) {
            if (ec == net::error::operation_aborted && c.timed_out) {
                ec = beast::error::timeout;
            }
            c.disarm();
            co_return ec;
        }
        c.buffer.commit(n);
        if (!timed) {
            c.arm(lim.header_timeout);
            timed = true;
        }
        scan =
            scan_request_head({static_cast<const char*>(c.buffer.data().data()), c.buffer.size()},
                              lim.header_bytes, lim.header_count);
        if (scan.error || scan.head_bytes != 0) {
            c.disarm();
            co_return scan.error;
        }
    }
}

// Half-closes, then reads and discards what the client is still sending for a short while:
// closing a socket with unread input sends RST, which can destroy the error page we just wrote
// before the client has read it (the reason for nginx's lingering_close).
net::awaitable<void> lingering_close(connection& c) {
    beast::error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 4096> sink;
    c.stream.expires_after(std::chrono::seconds(2));
    for (std::size_t total = 0; total < (1U << 20);) {
        auto [ec, n] = co_await c.stream.async_read_some(net::buffer(sink), use_ec);
        if (ec) {
            break;
        }
        total += n;
    }
    c.stream.close();
}

// Metrics and one access-log line for every answered request. `refused` says why the gateway
// answered by itself (an error_code message: never request data).
void account(worker& w, std::size_t site, std::string_view method, std::string_view path,
             const exchange& ex, clock::duration took, std::string_view refused = {}) {
    w.counters(site).record(ex.status, took);
    if (!w.cfg.log.access || !w.shared.log.enabled(log_level::info)) {
        return;
    }
    log_line line{w.access_log.buffer(), log_level::info, "request"};
    line.str("site", site < w.cfg.sites.size() ? std::string_view{w.cfg.sites[site].name}
                                               : std::string_view{"_unrouted"})
        .str("method", method)
        .str("path", path)
        .num("status", ex.status)
        .num("bytes", static_cast<std::int64_t>(ex.bytes))
        .ms("duration_ms", took)
        .ms("upstream_ms", ex.upstream_time);
    if (ex.failure != upstream_failure::none) {
        static constexpr std::array<std::string_view, upstream_failure_kinds> names{
            "none", "connect", "timeout", "reset", "bad_response"};
        line.str("upstream_error", names[static_cast<std::size_t>(ex.failure)]);
    }
    if (!refused.empty()) {
        line.str("refused", refused);
    }
    line.finish();
    w.access_log.added();
}

bool trusted(const config& cfg, const net::ip::address& a) {
    return std::any_of(cfg.trusted_proxies.begin(), cfg.trusted_proxies.end(),
                       [&](const cidr& c) { return c.contains(a); });
}

net::ip::address unmapped(const net::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
    }
    return a;
}

}  // namespace

void connection::arm(std::chrono::steady_clock::duration d) {
    timed_out = false;
    const auto generation = ++deadline_generation;
    deadline.expires_after(d);  // aborts the previous wait, if any
    deadline.async_wait([this, generation](const beast::error_code& ec) {
        if (!ec && generation == deadline_generation) {
            timed_out = true;
            beast::error_code ignored;
            stream.socket().cancel(ignored);
        }
    });
}

void connection::disarm() {
    ++deadline_generation;
    deadline.cancel();
}

net::awaitable<void> serve(worker& w, tcp::socket socket) {
    connection c{std::move(socket)};
    registration reg{w, c};
    const auto& cfg = w.cfg;
    {
        beast::error_code ec;
        const auto remote = c.stream.socket().remote_endpoint(ec);
        if (ec) {
            co_return;
        }
        const auto addr = unmapped(remote.address());
        c.peer = addr.to_string();
        c.info = client_info{c.peer, trusted(cfg, addr)};
        c.stream.socket().set_option(tcp::no_delay(true), ec);
        c.stream.socket().non_blocking(true, ec);  // for read_available() in the relay
    }

    for (bool first = true;; first = false) {
        if (w.draining()) {
            break;
        }
        c.idle = true;
        head_scan scan;
        const auto ec = co_await read_head(c, cfg.limits, first, scan);
        c.idle = false;
        const auto started = clock::now();
        if (ec) {
            unsigned status = 0;
            if (ec.category() == error_category()) {
                status = status_for(static_cast<errc>(ec.value()));
            } else if (ec == beast::error::timeout && c.buffer.size() != 0) {
                status = 408;  // a head that started but never finished
            }
            if (status != 0) {
                account(w, w.shared.stats.unrouted(), "-", "-", exchange{.status = status},
                        clock::now() - started, ec.message());
                co_await write_error(c, status, 11, false);
            }
            break;  // or: EOF, reset, idle timeout, cancelled by drain
        }

        request_parser req;
        req.header_limit(static_cast<std::uint32_t>(cfg.limits.header_bytes + 4));
        req.body_limit(cfg.limits.body_bytes);
        beast::error_code parse_ec;
        const auto* head_start = static_cast<const char*>(c.buffer.data().data()) + scan.skipped;
        req.put(net::buffer(head_start, scan.head_bytes), parse_ec);
        c.buffer.consume(scan.skipped + scan.head_bytes);
        request_target target;
        beast::error_code check_ec = parse_ec ? parse_ec : check_request(req.get(), target);

        std::size_t site_index = w.shared.stats.unrouted();
        if (!check_ec) {
            const std::string_view host = target.authority.empty()
                                              ? std::string_view{req.get()[http::field::host]}
                                              : target.authority;
            if (w.routes.find(host, &site_index) == nullptr) {
                check_ec = errc::unknown_host;
            }
        }
        if (check_ec) {
            const unsigned status = check_ec == http::error::body_limit ? 413
                                    : check_ec.category() == error_category()
                                        ? status_for(static_cast<errc>(check_ec.value()))
                                        : 400;
            // Keep the connection only when the request certainly had no body: after a refused
            // Transfer-Encoding Beast may take the body as empty, and what follows would be
            // parsed as a new request (RFC 9112 §6.3: close after a framing error).
            const bool keep = !parse_ec && req.is_done() && req.keep_alive() && !w.draining() &&
                              req.get().count(http::field::transfer_encoding) == 0 &&
                              !req.content_length().value_or(0);
            account(w, site_index, parse_ec ? "-" : std::string_view{req.get().method_string()},
                    parse_ec ? "-" : path_of(std::string_view{req.get().target()}),
                    exchange{.status = status}, clock::now() - started, check_ec.message());
            if (!co_await write_error(c, status, parse_ec ? 11 : req.get().version(), keep) ||
                !keep) {
                break;
            }
            continue;
        }

        // What the access log needs is copied now: forward() takes the head away.
        const std::string method{req.get().method_string()};
        std::string path;
        if (cfg.log.access) {
            path = path_of(target.origin);
        }
        // DESIGN §4: /_consent/* is answered by the gateway, everything else is proxied.
        const exchange ex = consent::is_endpoint(path_of(target.origin))
                                ? co_await answer_consent(w, site_index, c, req, target)
                                : co_await forward(w, site_index, c, req, target);
        account(w, site_index, method, path, ex, clock::now() - started);
        if (!ex.keep_client) {
            break;
        }
        if (c.buffer.size() == 0 && c.buffer.capacity() > 16 * 1024) {
            c.buffer.shrink_to_fit();  // idle keep-alive connections stay small
        }
    }
    co_await lingering_close(c);
    // A deadline wait that fired just now may still be queued and refers to `c`: let it run
    // (as a no-op, see disarm) before `c` goes away with this frame.
    c.disarm();
    co_await net::post(c.stream.get_executor(), net::use_awaitable);
}

}  // namespace cg::gateway
