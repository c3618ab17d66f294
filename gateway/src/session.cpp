#include "session.hpp"

#include <algorithm>
#include <array>
#include <tuple>

#include <openssl/ssl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"
#include "consent/endpoints.hpp"
#include "banner_endpoint.hpp"
#include "consent_endpoint.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/request_guard.hpp"
#include "gateway/router.hpp"
#include "proxy.hpp"
#include "responses.hpp"

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
    bool readable = false;
    if (!timed && !c.io.tls()) {
        // A keep-alive connection waits for its next request without a read buffer (nginx
        // does the same): thousands of idle connections cost their frames, not 8 KiB each.
        auto [ec] = co_await c.stream.socket().async_wait(tcp::socket::wait_read, use_ec);
        if (ec) {
            if (ec == net::error::operation_aborted && c.timed_out) {
                ec = beast::error::timeout;
            }
            c.disarm();
            co_return ec;
        }
        readable = true;
    }
    for (;;) {
        beast::error_code ec;
        std::size_t n = 0;
        if (readable) {
            // Just reported readable: one non-blocking read (the socket is non-blocking, see
            // serve) saves the second completion an asynchronous read would cost.
            readable = false;
            n = c.stream.socket().read_some(c.buffer.prepare(read_chunk), ec);
            if (ec == net::error::would_block) {
                continue;  // nothing after all: wait in an asynchronous read
            }
        } else {
            std::tie(ec, n) = co_await c.io.async_read_some(c.buffer.prepare(read_chunk), use_ec);
        }
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
    if (c.tls) {
        // close_notify, without waiting for the client's: it may never send one. Its unread
        // bytes could only be TLS records, which an RST after our answer rarely hurts.
        SSL_set_shutdown(c.tls->native_handle(), SSL_RECEIVED_SHUTDOWN);
        c.stream.expires_after(std::chrono::seconds(1));
        co_await c.tls->async_shutdown(use_ec);
        c.stream.close();
        co_return;
    }
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

std::string_view view(boost::core::string_view s) noexcept {
    return {s.data(), s.size()};
}

// The stages after an answer (pipeline.cpp): the analytics tap, the counters, the access log.
void log_stages(worker& w, const connection& c, const transaction& tx) {
    const std::size_t site = tx.site == transaction::no_site ? w.shared.stats.unrouted() : tx.site;
    const auto& g = *c.gen->shared;
    const auto& sites = g.cfg->sites;
    if (site < sites.size() && w.analytics) {
        analytics_stage(tx, g.cfg, sites[site], g.banners[site] != nullptr, *w.analytics,
                        w.counters(site), unix_now());
    }
    const bool access = g.cfg->log.access && w.shared.log.enabled(log_level::info);
    gateway::log_stages(tx,
                        site < sites.size() ? std::string_view{sites[site].name}
                                            : std::string_view{"_unrouted"},
                        w.counters(site), access ? &w.access_log : nullptr);
}

// The redirect listener's answer (listen.tls.redirect_port): 308 to the same host and target
// over https. Only configured hosts get here (routing refused the others), so the Location
// never points anywhere else. A request with a body is answered without reading it, and the
// connection closed.
net::awaitable<void> answer_redirect(worker& w, connection& c, transaction& tx) {
    const auto hp = split_host_port(tx.host);
    const auto port = w.shared.proxy_port.load(std::memory_order_relaxed);
    std::string location = "https://";
    const bool v6 = hp.host.find(':') != std::string_view::npos;
    location.append(v6 ? "[" : "").append(hp.host).append(v6 ? "]" : "");
    if (port != 443) {
        location.append(":").append(std::to_string(port));
    }
    location.append(tx.origin);
    http::response<http::string_body> res{http::status::permanent_redirect, tx.version};
    res.set(http::field::date, http_date_now());
    res.set(http::field::location, location);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "This site is served over HTTPS.\n";
    tx.keep_client = tx.keep_alive && !tx.has_body;
    res.keep_alive(tx.keep_client);
    res.prepare_payload();
    tx.status = 308;
    c.stream.expires_after(c.gen->cfg().limits.body_timeout);
    auto [ec, n] = co_await http::async_write(c.io, res, use_ec);
    tx.bytes = res.body().size();
    if (ec) {
        tx.keep_client = false;
    }
}

// The paths the gateway answers itself (DESIGN §4, §5): the banner's files, site documents and
// declaration (is_banner_path: hashed names, not path segments), then consent's endpoints by
// prefix. Everything else goes to the site's upstream.
using local_handler = net::awaitable<void> (*)(worker&, connection&, request_parser&, transaction&);
constexpr std::array<std::string_view, 1> local_prefixes{consent::endpoint_prefix};
constexpr std::array<local_handler, 1> local_handlers{answer_consent};

net::awaitable<void> handle(worker& w, connection& c, request_parser& req, transaction& tx) {
    const auto local = match_prefix(local_prefixes, tx.path);
    if (c.redirect) {
        co_await answer_redirect(w, c, tx);
    } else if (is_banner_path(tx.path)) {
        co_await answer_banner(w, c, req, tx);
    } else if (local < local_handlers.size()) {
        co_await local_handlers[local](w, c, req, tx);
    } else {
        co_await forward(w, c, req, tx);
    }
}

// The TLS handshake within limits.header_timeout; false (counted) when it fails.
net::awaitable<bool> handshake(worker& w, connection& c) {
    c.tls_owner = c.gen->shared;
    c.tls = std::make_unique<client_io::tls_stream>(c.stream, c.tls_owner->tls->context());
    c.arm(c.gen->cfg().limits.header_timeout);
    auto [ec] = co_await c.tls->async_handshake(net::ssl::stream_base::server, use_ec);
    c.disarm();
    auto& stats = w.shared.stats;
    if (ec) {
        stats.tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
        co_return false;
    }
    stats.tls_handshakes.fetch_add(1, std::memory_order_relaxed);
    if (SSL_session_reused(c.tls->native_handle()) == 1) {
        stats.tls_sessions_resumed.fetch_add(1, std::memory_order_relaxed);
    }
    c.io.use_tls(*c.tls);
    co_return true;
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

net::awaitable<void> serve(worker& w, tcp::socket socket, listener_kind kind) {
    connection c{std::move(socket)};
    registration reg{w, c};
    c.gen = w.gen;
    c.redirect = kind == listener_kind::redirect;
    {
        beast::error_code ec;
        const auto remote = c.stream.socket().remote_endpoint(ec);
        if (ec) {
            co_return;
        }
        const auto addr = unmapped(remote.address());
        c.peer = addr.to_string();
        c.info = client_info{c.peer, trusted(c.gen->cfg(), addr), addr, kind == listener_kind::tls};
        c.stream.socket().set_option(tcp::no_delay(true), ec);
        c.stream.socket().non_blocking(true, ec);  // for read_available() in the relay
    }
    if (kind == listener_kind::tls && c.gen->shared->tls) {
        const bool ok = co_await handshake(w, c);
        if (!ok) {
            c.disarm();
            co_await net::post(c.stream.get_executor(), net::use_awaitable);
            co_return;
        }
    }

    for (bool first = true;; first = false) {
        if (w.draining()) {
            break;
        }
        c.idle = true;
        head_scan scan;
        const auto ec = co_await read_head(c, c.gen->cfg().limits, first, scan);
        c.idle = false;
        c.gen = w.gen;  // a reload while this connection waited applies from this request on
        const config& cfg = c.gen->cfg();
        transaction tx;
        tx.started = clock::now();
        if (ec) {
            // A head that can never be valid, or one that started but never finished.
            if (ec.category() == error_category() ||
                (ec == beast::error::timeout && c.buffer.size() != 0)) {
                tx.status = status_for(ec);
                tx.refused = ec.message();
                co_await write_error(c, tx.status, 11, false);
                log_stages(w, c, tx);
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
        if (!check_ec) {
            const std::string_view host =
                target.authority.empty() ? view(req.get()[http::field::host]) : target.authority;
            if (c.gen->routes.find(host, &tx.site) == nullptr) {
                check_ec = errc::unknown_host;
            }
        }
        if (check_ec) {
            tx.status = status_for(check_ec);
            tx.refused = check_ec.message();
            // Keep the connection only when the request certainly had no body: after a refused
            // Transfer-Encoding Beast may take the body as empty, and what follows would be
            // parsed as a new request (RFC 9112 §6.3: close after a framing error).
            const bool keep = !parse_ec && req.is_done() && req.keep_alive() && !w.draining() &&
                              req.get().count(http::field::transfer_encoding) == 0 &&
                              !req.content_length().value_or(0);
            const unsigned version = parse_ec ? 11 : req.get().version();
            if (!parse_ec) {
                tx.request = std::move(req.get());
                tx.path = path_of(view(tx.request.target()));
            }
            const bool written = co_await write_error(c, tx.status, version, keep);
            log_stages(w, c, tx);
            if (!written || !keep) {
                break;
            }
            continue;
        }

        request_framing framing{req.keep_alive(), req.chunked(), !req.is_done(), {}};
        if (const auto length = req.content_length()) {
            framing.content_length = *length;
        }
        open_transaction(tx, std::move(req.get()), target, framing, c.info, cfg.trusted_proxies);
        // One choke point: whatever a stage throws ends this request with a 500 (when nothing
        // was sent yet), a count and a log line, never with a silently dropped connection.
        bool failed = false;
        try {
            co_await handle(w, c, req, tx);
        } catch (const std::exception& e) {
            failed = true;
            internal_error(w, e.what());
        } catch (...) {
            failed = true;
            internal_error(w, "unknown exception");
        }
        if (failed) {
            const bool nothing_sent = tx.status == 0;
            tx.status = 500;
            tx.keep_client = false;
            if (nothing_sent) {
                co_await write_error(c, 500, tx.version, false);
            }
        }
        log_stages(w, c, tx);
        if (!tx.keep_client) {
            break;
        }
        if (c.buffer.size() == 0) {
            c.buffer.shrink_to_fit();  // idle keep-alive connections stay small (read_head)
        }
    }
    co_await lingering_close(c);
    // A deadline wait that fired just now may still be queued and refers to `c`: let it run
    // (as a no-op, see disarm) before `c` goes away with this frame.
    c.disarm();
    co_await net::post(c.stream.get_executor(), net::use_awaitable);
}

void internal_error(worker& w, std::string_view what) noexcept {
    w.shared.stats.internal_errors.fetch_add(1, std::memory_order_relaxed);
    // An exception's text may quote what it choked on: only the part before the first ':'
    // (nlohmann's "[json.exception.type_error.316] invalid UTF-8 byte at index 3") is logged.
    try {
        log_line line{log_level::error, "internal error while serving a request"};
        line.str("error", what.substr(0, std::min<std::size_t>(what.find(':'), 120)));
        w.shared.log.write(log_level::error, line);
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the count is kept
    }
}

}  // namespace cg::gateway
