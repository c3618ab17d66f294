#include "proxy.hpp"

#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"
#include "gateway/forwarding.hpp"
#include "pipeline.hpp"
#include "responses.hpp"
#include "wire.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t upstream_header_limit = 64 * 1024;

enum class relay_end { done, read_failed, write_failed };

struct relay_result {
    relay_end end = relay_end::done;
    beast::error_code ec;
};

// Reads into `b` within `timeout`. From the client (`client` set) the read runs under the
// connection's own deadline, which cancels instead of closing, so a 408 can still be sent;
// from an upstream tcp_stream's timeout (which closes the socket) is all that is needed.
net::awaitable<std::tuple<beast::error_code, std::size_t>> timed_read(beast::tcp_stream& s,
                                                                      connection* client,
                                                                      millis timeout,
                                                                      net::mutable_buffer b) {
    if (client == nullptr) {
        s.expires_after(timeout);
        co_return co_await s.async_read_some(b, use_ec);
    }
    client->arm(timeout);
    auto [ec, n] = co_await s.socket().async_read_some(b, use_ec);
    client->disarm();
    if (ec == net::error::operation_aborted && client->timed_out) {
        ec = beast::error::timeout;
    }
    co_return std::tuple{ec, n};
}

// The same for a parser-driven read (chunked or close-delimited bodies).
template <bool IsRequest>
net::awaitable<beast::error_code> timed_parse(
    beast::tcp_stream& s, beast::flat_buffer& buffer,
    http::parser<IsRequest, http::buffer_body, pool_allocator<char>>& p, connection* client,
    millis timeout) {
    if (client == nullptr) {
        s.expires_after(timeout);
        auto [ec, n] = co_await http::async_read_some(s, buffer, p, use_ec);
        co_return ec;
    }
    client->arm(timeout);
    auto [ec, n] = co_await http::async_read_some(s.socket(), buffer, p, use_ec);
    client->disarm();
    if (ec == net::error::operation_aborted && client->timed_out) {
        ec = beast::error::timeout;
    }
    co_return ec;
}

// Writes all of `pieces`. Most writes fit in the socket buffer at once, so the non-blocking
// socket is tried first (as nginx does) and only a remainder waits in an async write with its
// timeout: no timer, no suspension for the common case.
template <class Buffers>
net::awaitable<beast::error_code> write_all(beast::tcp_stream& to, const Buffers& pieces,
                                            millis timeout) {
    beast::error_code ec;
    const auto n = to.socket().write_some(pieces, ec);
    if (ec == net::error::would_block) {
        ec = {};
    }
    if (ec || n == net::buffer_size(pieces)) {
        co_return ec;
    }
    beast::buffers_suffix<Buffers> rest{pieces};
    rest.consume(n);
    to.expires_after(timeout);
    auto [wec, written] = co_await net::async_write(to, rest, use_ec);
    co_return wec;
}

// Reads what has already arrived, without waiting, into `into`: fewer, fuller writes when an
// answer arrives in several segments (nginx's proxy buffering gathers for the same reason).
// The socket is in non-blocking mode, so read_some reports would_block instead of waiting.
std::size_t read_available(tcp::socket& s, std::span<char> into, beast::error_code& ec) {
    std::size_t filled = 0;
    while (filled < into.size()) {
        const auto n = s.read_some(net::buffer(into.data() + filled, into.size() - filled), ec);
        filled += n;
        if (ec) {
            break;
        }
    }
    if (ec == net::error::would_block || (ec && filled != 0)) {
        ec = {};  // a real error shows again on the next read
    }
    return filled;
}

// A Content-Length body needs no decoding, so it is copied socket to socket: what is already
// buffered goes out with the head, the rest through `scratch`, read no further than the body.
net::awaitable<relay_result> relay_length(beast::tcp_stream& from, beast::flat_buffer& from_buffer,
                                          connection* client, std::uint64_t remaining,
                                          beast::tcp_stream& to, std::string_view head,
                                          std::span<char> scratch, millis read_timeout,
                                          millis write_timeout, std::uint64_t& bytes) {
    auto buffered =
        static_cast<std::size_t>(std::min<std::uint64_t>(from_buffer.size(), remaining));
    remaining -= buffered;
    for (;;) {
        const auto room = scratch.first(
            static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), remaining)));
        beast::error_code ec;
        std::size_t n = read_available(from.socket(), room, ec);
        if (!ec && n == 0 && buffered == 0 && !room.empty()) {
            std::tie(ec, n) = co_await timed_read(from, client, read_timeout, net::buffer(room));
        }
        if (ec) {
            co_return relay_result{relay_end::read_failed,
                                   ec == net::error::eof ? http::error::partial_message : ec};
        }
        const std::array<net::const_buffer, 3> pieces{
            net::buffer(head), net::buffer(from_buffer.data().data(), buffered),
            net::buffer(scratch.data(), n)};
        if (const auto wec = co_await write_all(to, pieces, write_timeout)) {
            co_return relay_result{relay_end::write_failed, wec};
        }
        from_buffer.consume(buffered);
        bytes += buffered + n;
        remaining -= n;
        buffered = 0;
        head = {};
        if (remaining == 0) {
            co_return relay_result{};
        }
    }
}

// Sends `head`, then streams the body from `from` (parsed by `p`) to `to` through a fixed
// scratch buffer: bounded memory whatever the body size. The head goes out with the first body
// piece in one gather write. With `chunked_out` the body is framed as chunks here (RFC 9112
// §7.1); incoming chunk framing is decoded by the parser, never copied through.
template <bool IsRequest>
net::awaitable<relay_result> relay(
    beast::tcp_stream& from, beast::flat_buffer& from_buffer, connection* client,
    http::parser<IsRequest, http::buffer_body, pool_allocator<char>>& p, beast::tcp_stream& to,
    std::string_view head, bool chunked_out, std::span<char> scratch, millis read_timeout,
    millis write_timeout, std::uint64_t& bytes) {
    if (!p.chunked() && p.content_length_remaining()) {
        co_return co_await relay_length(from, from_buffer, client, *p.content_length_remaining(),
                                        to, head, scratch, read_timeout, write_timeout, bytes);
    }
    // Beast sizes each read by the buffer's free capacity (512 bytes when empty): reserve a
    // full chunk so a body moves in a few large reads, not hundreds of small ones.
    if (!p.is_done() && from_buffer.capacity() < scratch.size()) {
        from_buffer.reserve(scratch.size());
    }
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    bool head_pending = true;
    for (;;) {
        std::size_t n = 0;
        bool more = false;
        if (!p.is_done()) {
            p.get().body().data = scratch.data();
            p.get().body().size = scratch.size();
            auto ec = co_await timed_parse(from, from_buffer, p, client, read_timeout);
            if (ec == http::error::need_buffer) {
                ec = {};
            }
            if (ec) {
                co_return relay_result{relay_end::read_failed, ec};
            }
            n = scratch.size() - p.get().body().size;
            more = !p.is_done();
            if (n == 0 && more) {
                continue;  // only framing was parsed (a chunk header); nothing to send yet
            }
        }
        char size_line[24];
        std::size_t size_len = 0;
        if (chunked_out && n != 0) {
            size_len = static_cast<std::size_t>(
                std::to_chars(size_line, size_line + 16, n, 16).ptr - size_line);
            size_line[size_len++] = '\r';
            size_line[size_len++] = '\n';
        }
        const std::array<net::const_buffer, 5> pieces{
            net::buffer(head.data(), head_pending ? head.size() : 0),
            net::buffer(size_line, size_len), net::buffer(scratch.data(), n),
            net::buffer(crlf.data(), chunked_out && n != 0 ? crlf.size() : 0),
            net::buffer(last_chunk.data(), chunked_out && !more ? last_chunk.size() : 0)};
        if (const auto ec = co_await write_all(to, pieces, write_timeout)) {
            co_return relay_result{relay_end::write_failed, ec};
        }
        head_pending = false;
        bytes += n;
        if (!more) {
            co_return relay_result{};
        }
    }
}

// Writes a head alone (interim answers, bodiless answers).
net::awaitable<beast::error_code> write_head(beast::tcp_stream& to, std::string_view head,
                                             millis timeout) {
    co_return co_await write_all(to, net::buffer(head), timeout);
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
        case http::verb::delete_:
            return true;
        default:
            return false;
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
    // client.upstream lets a shutdown past its deadline cut this exchange; never left dangling.
    struct forget_upstream {
        connection& c;
        ~forget_upstream() { c.upstream = nullptr; }
    } forget{client};

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

    const bool chunked_request = req.chunked();
    http::header<true, pooled_fields> up{std::move(req.get().base())};
    if (!target.authority.empty()) {
        up.target(origin);
        up.set(http::field::host, host);  // RFC 9112 §3.2.2: the authority replaces Host
    }
    up.erase(http::field::expect);  // the gateway answers 100-continue itself
    const consent::site_context& consent_site = *w.shared.consent_sites[site_index];
    const consent::visitor_consent visitor =
        request_stages(up, consent_site, client.info, host, websocket, unix_now());
    if (!site.preserve_host) {
        up.set(http::field::host, site.upstream.host + ":" + std::to_string(site.upstream.port));
    }
    up.version(11);
    std::string& head_text = client.head_text;
    serialize_head(up, head_text);

    const auto scratch = w.scratch.get();
    const std::span<char> buf = scratch.span();
    const auto started = clock::now();

    std::unique_ptr<upstream_connection> conn;
    std::optional<http::response_parser<http::buffer_body, pool_allocator<char>>> rp;
    bool sent_continue = false;
    bool request_sent = false;  // head and whole body are with the upstream
    for (int attempt = 0;; ++attempt) {
        conn = co_await w.pools[site_index]->acquire(attempt > 0, !replayable, ex.failure);
        client.upstream = conn.get();
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
        const auto r = co_await relay(client.stream, client.buffer, &client, req, conn->stream,
                                      head_text, chunked_request, buf, lim.body_timeout,
                                      site.upstream.read_timeout, sent);
        request_sent = r.end == relay_end::done;
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
                    http::header<false, pooled_fields> hints{std::move(rp->get().base())};
                    response_stages(hints, consent_site, visitor, false);
                    std::string hints_text;  // head_text still holds the request, for a retry
                    serialize_head(hints, hints_text);
                    if (co_await write_head(client.stream, hints_text, lim.body_timeout)) {
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
        ex.keep_client = client_keep_alive && request_sent && !w.draining();
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
        http::header<false, pooled_fields> switching{std::move(answer.base())};
        response_stages(switching, consent_site, visitor, true);
        serialize_head(switching, head_text);
        if (!co_await write_head(client.stream, head_text, lim.body_timeout)) {
            co_await tunnel(client, *conn, lim.tunnel_idle_timeout);
        }
        co_return ex;
    }

    const bool body_allowed = !head && ex.status != 204 && ex.status != 304;
    const bool known_length = rp->content_length().has_value();
    bool keep = client_keep_alive && request_sent && !w.draining();
    http::header<false, pooled_fields> res{std::move(answer.base())};
    response_stages(res, consent_site, visitor, false);
    res.version(client_version);
    bool chunked_out = false;
    if (client_version < 11) {
        res.erase(http::field::transfer_encoding);  // HTTP/1.0 has no chunked coding
        keep = keep && (!body_allowed || known_length);
    } else if (body_allowed && !known_length) {
        // Upstream chunked, or delimited by its close: the client gets chunks either way.
        chunked_out = true;
        if (!rp->chunked()) {
            const auto te = res[http::field::transfer_encoding];
            res.set(http::field::transfer_encoding,
                    te.empty() ? std::string{"chunked"} : std::string{te} + ", chunked");
        }
    }
    if (!keep) {
        res.set(http::field::connection, "close");
    } else if (client_version < 11) {
        res.set(http::field::connection, "keep-alive");
    }
    serialize_head(res, head_text);

    relay_result sent;
    if (body_allowed) {
        sent = co_await relay(conn->stream, conn->buffer, nullptr, *rp, client.stream, head_text,
                              chunked_out, buf, site.upstream.read_timeout, lim.body_timeout,
                              ex.bytes);
    } else if (const auto wec = co_await write_head(client.stream, head_text, lim.body_timeout)) {
        sent = relay_result{relay_end::write_failed, wec};
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
    if (sent.end == relay_end::done && rp->keep_alive()) {
        client.upstream = nullptr;
        w.pools[site_index]->release(std::move(conn));
    }
    ex.keep_client = keep;
    co_return ex;
}

}  // namespace cg::gateway
