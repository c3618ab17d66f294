#include "proxy.hpp"

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/forwarding.hpp"
#include "responses.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;
inline constexpr auto use_ec = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t relay_chunk = 64 * 1024;
constexpr std::uint32_t upstream_header_limit = 64 * 1024;

enum class relay_end { done, read_failed, write_failed };

struct relay_result {
    relay_end end = relay_end::done;
    beast::error_code ec;
};

// Streams a message body from `from` (parsed by `p`) to `to` (serialised from `out`) through
// a fixed scratch buffer: bounded memory whatever the body size. Writes the head first, with
// the first body piece. Chunked framing is re-encoded by the serializer, never copied.
template <bool IsRequest>
net::awaitable<relay_result> relay(beast::tcp_stream& from, beast::flat_buffer& from_buffer,
                                   http::parser<IsRequest, http::buffer_body>& p,
                                   beast::tcp_stream& to,
                                   http::message<IsRequest, http::buffer_body>& out,
                                   std::span<char> scratch, millis read_timeout,
                                   millis write_timeout, std::uint64_t& bytes) {
    http::serializer<IsRequest, http::buffer_body> sr{out};
    for (;;) {
        if (!p.is_done()) {
            p.get().body().data = scratch.data();
            p.get().body().size = scratch.size();
            from.expires_after(read_timeout);
            auto [ec, n] = co_await http::async_read_some(from, from_buffer, p, use_ec);
            if (ec == http::error::need_buffer) {
                ec = {};
            }
            if (ec) {
                co_return relay_result{relay_end::read_failed, ec};
            }
            out.body().data = scratch.data();
            out.body().size = scratch.size() - p.get().body().size;
            out.body().more = !p.is_done();
            if (out.body().size == 0 && out.body().more) {
                continue;  // only framing was parsed (a chunk header); nothing to send yet
            }
        } else {
            out.body().data = nullptr;
            out.body().size = 0;
            out.body().more = false;
        }
        bytes += out.body().size;
        to.expires_after(write_timeout);
        auto [ec, n] = co_await http::async_write(to, sr, use_ec);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            co_return relay_result{relay_end::write_failed, ec};
        }
        if (sr.is_done()) {
            co_return relay_result{};
        }
    }
}

// Copies bytes one way until EOF or error, then half-closes the other side so the peer sees
// the end too. `last_activity` feeds the idle watchdog.
net::awaitable<void> pump(tcp::socket& from, tcp::socket& to, clock::time_point& last_activity) {
    std::array<char, 16 * 1024> buf;
    for (;;) {
        auto [ec, n] = co_await from.async_read_some(net::buffer(buf), use_ec);
        if (ec) {
            break;
        }
        last_activity = clock::now();
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), use_ec);
        if (wec) {
            break;
        }
    }
    beast::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> watchdog(tcp::socket& a, tcp::socket& b, const clock::time_point& last,
                              millis idle) {
    net::steady_timer timer(a.get_executor());
    for (;;) {
        timer.expires_after(std::max(millis{10}, idle / 10));
        auto [ec] = co_await timer.async_wait(use_ec);
        if (ec) {
            co_return;  // cancelled: both directions finished
        }
        if (clock::now() - last >= idle) {
            beast::error_code ignored;
            a.close(ignored);
            b.close(ignored);
            co_return;
        }
    }
}

// After a 101: raw bytes both ways (WebSocket frames are not our business) until both sides
// close or nothing moves for `idle`.
net::awaitable<void> tunnel(connection& client, upstream_connection& up, millis idle) {
    using namespace net::experimental::awaitable_operators;
    // Bytes already read past the heads belong to the new protocol.
    if (client.buffer.size() != 0) {
        auto [ec, n] = co_await net::async_write(up.stream.socket(), client.buffer.data(), use_ec);
        client.buffer.consume(client.buffer.size());
        if (ec) {
            co_return;
        }
    }
    if (up.buffer.size() != 0) {
        auto [ec, n] = co_await net::async_write(client.stream.socket(), up.buffer.data(), use_ec);
        up.buffer.consume(up.buffer.size());
        if (ec) {
            co_return;
        }
    }
    client.stream.expires_never();
    up.stream.expires_never();
    auto& a = client.stream.socket();
    auto& b = up.stream.socket();
    clock::time_point last = clock::now();
    co_await ((pump(a, b, last) && pump(b, a, last)) || watchdog(a, b, last, idle));
}

bool idempotent(http::verb v) {
    switch (v) {
        case http::verb::get:
        case http::verb::head:
        case http::verb::options:
        case http::verb::trace:
        case http::verb::put:
        case http::verb::delete_: return true;
        default: return false;
    }
}

// A failure on a reused connection before any response byte means the upstream closed it while
// it sat in the pool (RFC 9112 §9.3.1 allows retrying idempotent requests then).
bool stale_connection(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == http::error::partial_message;
}

upstream_failure classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout) {
        return upstream_failure::timeout;
    }
    const auto& http_errors = beast::error_code(http::error::end_of_stream).category();
    if (ec.category() == http_errors && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
        return upstream_failure::bad_response;
    }
    return upstream_failure::reset;
}

unsigned status_for_failure(upstream_failure f) {
    return f == upstream_failure::timeout ? 504 : 502;
}

}  // namespace

net::awaitable<bool> write_error(connection& client, unsigned status, unsigned version,
                                 bool keep_alive) {
    auto res = error_response(status, version, keep_alive);
    client.stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] = co_await http::async_write(client.stream, res, use_ec);
    co_return !ec;
}

net::awaitable<exchange> forward(worker& w, std::size_t site_index, connection& client,
                                 request_parser& req, const request_target& target) {
    const site_config& site = w.cfg.sites[site_index];
    const limits_config& lim = w.cfg.limits;
    site_counters& stats = w.counters(site_index);
    exchange ex;

    const auto& in = req.get();
    const unsigned client_version = in.version();
    const bool client_keep_alive = req.keep_alive();
    const http::verb method = in.method();
    const bool head = method == http::verb::head;
    const bool websocket = is_websocket_upgrade(in);
    const bool expect_continue = in.count(http::field::expect) != 0;
    const bool has_body = !req.is_done();
    const bool replayable = !has_body && idempotent(method);
    const std::string host{target.authority.empty() ? std::string_view{in[http::field::host]}
                                                   : target.authority};
    std::string origin;
    if (!target.authority.empty()) {
        origin = target.origin;  // absolute-form: the upstream gets origin-form
    }

    http::request<http::buffer_body> up{std::move(req.get().base())};
    if (!target.authority.empty()) {
        up.target(origin);
        up.set(http::field::host, host);  // RFC 9112 §3.2.2: the authority replaces Host
    }
    up.erase(http::field::expect);  // the gateway answers 100-continue itself
    strip_hop_by_hop(up, websocket);
    set_forwarded(up, client.info, host);
    if (!site.preserve_host) {
        up.set(http::field::host, site.upstream.host + ":" + std::to_string(site.upstream.port));
    }
    up.version(11);

    auto scratch = std::make_unique_for_overwrite<char[]>(relay_chunk);
    const std::span<char> buf{scratch.get(), relay_chunk};
    const auto started = clock::now();

    std::unique_ptr<upstream_connection> conn;
    std::optional<http::response_parser<http::buffer_body>> rp;
    bool sent_continue = false;
    for (int attempt = 0;; ++attempt) {
        conn = co_await w.pools[site_index]->acquire(attempt > 0, ex.failure);
        if (!conn) {
            stats.fail(ex.failure);
            ex.status = status_for_failure(ex.failure);
            ex.keep_client = client_keep_alive && !has_body && !w.draining();
            if (!co_await write_error(client, ex.status, client_version, ex.keep_client)) {
                ex.keep_client = false;
            }
            co_return ex;
        }
        if (expect_continue && has_body && !sent_continue && client_version >= 11) {
            // RFC 9110 §10.1.1: the upstream is reachable, so invite the body.
            static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
            client.stream.expires_after(lim.body_timeout);
            auto [ec, n] = co_await net::async_write(client.stream, net::buffer(cont), use_ec);
            if (ec) {
                ex.status = 499;
                co_return ex;
            }
            sent_continue = true;
        }

        std::uint64_t sent = 0;
        const auto r = co_await relay(client.stream, client.buffer, req, conn->stream, up, buf,
                                      lim.body_timeout, site.upstream.read_timeout, sent);
        if (r.end == relay_end::read_failed) {
            // The client's body failed: it sent too much, broke the chunk framing, went quiet
            // or went away. The upstream connection is mid-request, so it is dropped.
            ex.keep_client = false;
            if (r.ec == http::error::body_limit) {
                ex.status = 413;
            } else if (r.ec == beast::error::timeout) {
                ex.status = 408;
            } else if (r.ec == http::error::end_of_stream || r.ec == net::error::eof ||
                       r.ec == net::error::connection_reset) {
                ex.status = 499;
                co_return ex;
            } else {
                ex.status = 400;
            }
            co_await write_error(client, ex.status, client_version, false);
            co_return ex;
        }

        beast::error_code ec = r.ec;
        if (!ec) {
            // Read the answer; interim 1xx answers (other than 101) are consumed here.
            for (;;) {
                rp.emplace();
                rp->header_limit(upstream_header_limit);
                rp->body_limit(boost::none);
                if (head) {
                    rp->skip(true);
                }
                conn->stream.expires_after(site.upstream.read_timeout);
                std::tie(ec, std::ignore) =
                    co_await http::async_read_header(conn->stream, conn->buffer, *rp, use_ec);
                if (ec) {
                    break;
                }
                const auto status = rp->get().result_int();
                if (status < 100 || status >= 200 || status == 101) {
                    break;
                }
                if (status == 103 && client_version >= 11) {
                    // Early Hints are useful to the browser; 100 and 102 are ours to swallow.
                    http::response<http::empty_body> hints{std::move(rp->get().base())};
                    strip_hop_by_hop(hints, false);
                    client.stream.expires_after(lim.body_timeout);
                    auto [wec, wn] = co_await http::async_write(client.stream, hints, use_ec);
                    if (wec) {
                        ex.status = 499;
                        co_return ex;
                    }
                }
            }
        }
        if (!ec) {
            break;
        }
        if (attempt == 0 && conn->reused && replayable && stale_connection(ec) &&
            conn->buffer.size() == 0) {
            stats.retries.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        ex.failure = classify(ec);
        stats.fail(ex.failure);
        ex.status = status_for_failure(ex.failure);
        ex.keep_client = client_keep_alive && req.is_done() && !w.draining();
        if (!co_await write_error(client, ex.status, client_version, ex.keep_client)) {
            ex.keep_client = false;
        }
        co_return ex;
    }
    ex.upstream_time = clock::now() - started;

    auto& answer = rp->get();
    ex.status = answer.result_int();
    if (ex.status == 101) {
        if (!websocket) {
            // A protocol switch nobody asked for cannot be relayed safely.
            stats.fail(upstream_failure::bad_response);
            ex.failure = upstream_failure::bad_response;
            ex.status = 502;
            co_await write_error(client, 502, client_version, false);
            co_return ex;
        }
        http::response<http::empty_body> switching{std::move(answer.base())};
        strip_hop_by_hop(switching, true);
        client.stream.expires_after(lim.body_timeout);
        auto [wec, wn] = co_await http::async_write(client.stream, switching, use_ec);
        if (!wec) {
            co_await tunnel(client, *conn, lim.tunnel_idle_timeout);
        }
        co_return ex;
    }

    const bool body_allowed = !head && ex.status != 204 && ex.status != 304;
    const bool known_length = rp->content_length().has_value();
    bool keep = client_keep_alive && req.is_done() && !w.draining();
    http::response<http::buffer_body> res{std::move(answer.base())};
    strip_hop_by_hop(res, false);
    res.version(client_version);
    if (client_version < 11) {
        res.erase(http::field::transfer_encoding);  // HTTP/1.0 has no chunked coding
        keep = keep && (!body_allowed || known_length);
    } else if (body_allowed && !known_length) {
        res.chunked(true);  // upstream chunked, or delimited by close: re-chunk for the client
    }
    res.keep_alive(keep);

    relay_result sent;
    if (body_allowed) {
        sent = co_await relay(conn->stream, conn->buffer, *rp, client.stream, res, buf,
                              site.upstream.read_timeout, lim.body_timeout, ex.bytes);
    } else {
        http::response_serializer<http::buffer_body> sr{res};
        client.stream.expires_after(lim.body_timeout);
        auto [wec, wn] = co_await http::async_write_header(client.stream, sr, use_ec);
        sent.end = wec ? relay_end::write_failed : relay_end::done;
        sent.ec = wec;
    }
    if (sent.end == relay_end::read_failed) {
        // Head already sent: all that is left is to cut the connection so the client sees an
        // incomplete message rather than a silently truncated one.
        ex.failure = classify(sent.ec);
        stats.fail(ex.failure);
        co_return ex;
    }
    if (sent.end == relay_end::write_failed) {
        co_return ex;  // the client went away mid-answer
    }
    if (rp->is_done() && rp->keep_alive()) {
        w.pools[site_index]->release(std::move(conn));
    }
    ex.keep_client = keep;
    co_return ex;
}

}  // namespace cg::gateway
