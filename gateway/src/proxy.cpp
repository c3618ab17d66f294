#include "proxy.hpp"

#include <openssl/ssl.h>

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
#include "gateway/pipeline.hpp"
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
    std::uint64_t bytes = 0;  ///< body bytes written
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
    auto [ec, n] = co_await client->io.async_read_some(b, use_ec);
    client->disarm();
    if (ec == net::error::operation_aborted && client->timed_out) {
        ec = beast::error::timeout;
    }
    co_return std::tuple{ec, n};
}

// The same for a parser-driven read (chunked or close-delimited bodies).
template <bool IsRequest>
net::awaitable<beast::error_code> timed_parse(beast::tcp_stream& s, beast::flat_buffer& buffer,
                                              head_parser<IsRequest>& p, connection* client,
                                              millis timeout) {
    if (client == nullptr) {
        s.expires_after(timeout);
        auto [ec, n] = co_await http::async_read_some(s, buffer, p, use_ec);
        co_return ec;
    }
    client->arm(timeout);
    auto [ec, n] = co_await http::async_read_some(client->io, buffer, p, use_ec);
    client->disarm();
    if (ec == net::error::operation_aborted && client->timed_out) {
        ec = beast::error::timeout;
    }
    co_return ec;
}

// Bytes that can be read from `s` without waiting (0 on error).
std::size_t available(beast::tcp_stream& s) noexcept {
    beast::error_code ec;
    const std::size_t n = s.socket().available(ec);
    return ec ? 0 : n;
}

template <class Buffers>
std::size_t write_now(beast::tcp_stream& to, const Buffers& pieces, beast::error_code& ec) {
    return to.socket().write_some(pieces, ec);
}

template <class Buffers>
std::size_t write_now(client_io& to, const Buffers& pieces, beast::error_code& ec) {
    return to.write_now(pieces, ec);
}

// Writes all of `pieces`. Most writes fit in the socket buffer at once, so the non-blocking
// socket is tried first (as nginx does) and only a remainder waits in an async write with its
// timeout: no timer, no suspension for the common case. `to` is an upstream's tcp_stream or a
// client's client_io (over TLS every write is an async one).
template <class Stream, class Buffers>
net::awaitable<beast::error_code> write_all(Stream& to, beast::tcp_stream& tcp,
                                            const Buffers& pieces, millis timeout) {
    beast::error_code ec;
    const auto n = write_now(to, pieces, ec);
    if (ec == net::error::would_block) {
        ec = {};
    }
    if (ec || n == net::buffer_size(pieces)) {
        co_return ec;
    }
    beast::buffers_suffix<Buffers> rest{pieces};
    rest.consume(n);
    tcp.expires_after(timeout);
    auto [wec, written] = co_await net::async_write(to, rest, use_ec);
    co_return wec;
}

// The two ends of one direction of a relay and their timeouts. Reading from the client
// (`client` set) runs under the connection's own deadline, which cancels instead of closing,
// so a 408 can still be sent; writing to the client (`to_client` set) goes through its
// client_io (TLS or not).
struct relay_ends {
    beast::tcp_stream& from;
    beast::flat_buffer& from_buffer;
    connection* client;
    beast::tcp_stream& to;
    millis read_timeout;
    millis write_timeout;
    connection* to_client = nullptr;
};

template <class Buffers>
net::awaitable<beast::error_code> write_to(const relay_ends& e, const Buffers& pieces) {
    if (e.to_client != nullptr) {
        co_return co_await write_all(e.to_client->io, e.to, pieces, e.write_timeout);
    }
    co_return co_await write_all(e.to, e.to, pieces, e.write_timeout);
}

// Reads what has already arrived at `e`'s source, without waiting.
std::size_t read_now(const relay_ends& e, std::span<char> into, beast::error_code& ec) {
    return e.client != nullptr ? e.client->io.read_now(into, ec)
                               : read_available(e.from.socket(), into, ec);
}

// A Content-Length body needs no decoding, so it is copied socket to socket: what is already
// buffered goes out with the head, the rest through `scratch`, read no further than the body.
net::awaitable<relay_result> relay_length(const relay_ends& e, std::uint64_t remaining,
                                          std::string_view head, std::span<char> scratch) {
    relay_result r;
    auto buffered =
        static_cast<std::size_t>(std::min<std::uint64_t>(e.from_buffer.size(), remaining));
    remaining -= buffered;
    for (;;) {
        const auto room = scratch.first(
            static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), remaining)));
        beast::error_code ec;
        std::size_t n = read_now(e, room, ec);
        if (!ec && n == 0 && buffered == 0 && !room.empty()) {
            std::tie(ec, n) =
                co_await timed_read(e.from, e.client, e.read_timeout, net::buffer(room));
        }
        if (ec) {
            r.end = relay_end::read_failed;
            r.ec = ec == net::error::eof ? http::error::partial_message : ec;
            co_return r;
        }
        const std::array<net::const_buffer, 3> pieces{
            net::buffer(head), net::buffer(e.from_buffer.data().data(), buffered),
            net::buffer(scratch.data(), n)};
        if (const auto wec = co_await write_to(e, pieces)) {
            r.end = relay_end::write_failed;
            r.ec = wec;
            co_return r;
        }
        e.from_buffer.consume(buffered);
        r.bytes += buffered + n;
        remaining -= n;
        buffered = 0;
        head = {};
        if (remaining == 0) {
            co_return r;
        }
    }
}

// Sends `head` and `prefix` (body bytes read before), then streams the body from `e.from`
// (parsed by `p`) through a fixed scratch buffer: bounded memory whatever the body size. The
// head goes out with the first body piece in one gather write. With `chunked_out` the body is
// framed as chunks here (RFC 9112 §7.1); incoming chunk framing is decoded by the parser,
// never copied through. With a `transform` every piece passes through it (the body-filter
// seam); without one, Content-Length bodies are copied as they are.
template <bool IsRequest>
net::awaitable<relay_result> relay(const relay_ends& e, head_parser<IsRequest>& p,
                                   std::string_view head, std::string_view prefix, bool chunked_out,
                                   std::span<char> scratch, body_transform* transform = nullptr) {
    if (transform == nullptr && prefix.empty() && !p.chunked() && p.content_length_remaining()) {
        co_return co_await relay_length(e, *p.content_length_remaining(), head, scratch);
    }
    // Beast sizes each read by the buffer's free capacity (512 bytes when empty): reserve a
    // full chunk so a body moves in a few large reads, not hundreds of small ones.
    if (!p.is_done() && e.from_buffer.capacity() < scratch.size()) {
        e.from_buffer.reserve(scratch.size());
    }
    static constexpr std::string_view crlf = "\r\n";
    static constexpr std::string_view last_chunk = "0\r\n\r\n";
    std::string transformed;  // the transform's output for one piece
    relay_result r;
    bool head_pending = true;
    for (;;) {
        std::string_view piece = prefix;
        bool more = !p.is_done();
        if (prefix.empty() && more) {
            p.lend(scratch);
            auto ec = co_await timed_parse(e.from, e.from_buffer, p, e.client, e.read_timeout);
            if (ec == http::error::need_buffer) {
                ec = {};
            }
            if (ec) {
                r.end = relay_end::read_failed;
                r.ec = ec;
                co_return r;
            }
            std::size_t filled = p.filled();
            more = !p.is_done();
            // A transform gets what has already arrived in one piece: a page read whole is
            // rewritten and compressed in one go (content_coding.hpp), and the client gets one
            // write instead of one per read. Never waits for bytes that are not there yet.
            while (transform != nullptr && more && filled < scratch.size() &&
                   (e.client != nullptr ? e.client->io.available() : available(e.from)) != 0) {
                p.lend(scratch.subspan(filled));
                ec = co_await timed_parse(e.from, e.from_buffer, p, e.client, e.read_timeout);
                if (ec && ec != http::error::need_buffer) {
                    r.end = relay_end::read_failed;
                    r.ec = ec;
                    co_return r;
                }
                filled += p.filled();
                more = !p.is_done();
            }
            piece = {scratch.data(), filled};
            if (piece.empty() && more) {
                continue;  // only framing was parsed (a chunk header); nothing to send yet
            }
        }
        prefix = {};
        if (transform != nullptr) {
            transformed.clear();
            transform->write(piece, !more, transformed);
            piece = transformed;
        }
        const std::size_t n = piece.size();
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
            net::buffer(size_line, size_len), net::buffer(piece.data(), n),
            net::buffer(crlf.data(), chunked_out && n != 0 ? crlf.size() : 0),
            net::buffer(last_chunk.data(), chunked_out && !more ? last_chunk.size() : 0)};
        if (const auto ec = co_await write_to(e, pieces)) {
            r.end = relay_end::write_failed;
            r.ec = ec;
            co_return r;
        }
        head_pending = false;
        r.bytes += n;
        if (!more) {
            co_return r;
        }
    }
}

// Writes a head alone to the client (interim answers, bodiless answers).
net::awaitable<beast::error_code> write_head(connection& to, std::string_view head,
                                             millis timeout) {
    co_return co_await write_all(to.io, to.stream, net::buffer(head), timeout);
}

// Copies bytes one way until EOF or error, then half-closes the other side (`to_socket`, the
// socket under `to`) so the peer sees the end too; towards a TLS client (`tls_client`) that is
// a close_notify, which a TLS peer needs to tell an end from a cut. `last_activity` feeds the
// idle watchdog.
template <class From, class To>
net::awaitable<void> pump(From& from, To& to, tcp::socket& to_socket,
                          clock::time_point& last_activity, connection* tls_client = nullptr) {
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
    if (tls_client != nullptr && tls_client->tls) {
        // Sends close_notify only (the client's own may never come); the other direction's
        // read is the stream's one read, this the one write.
        SSL_set_shutdown(tls_client->tls->native_handle(), SSL_RECEIVED_SHUTDOWN);
        co_await tls_client->tls->async_shutdown(use_ec);
        co_return;
    }
    beast::error_code ignored;
    to_socket.shutdown(tcp::socket::shutdown_send, ignored);
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
    client.stream.expires_never();
    up.stream.expires_never();
    if (client.buffer.size() != 0) {
        auto [ec, n] = co_await net::async_write(up.stream.socket(), client.buffer.data(), use_ec);
        client.buffer.consume(client.buffer.size());
        if (ec) {
            co_return;
        }
    }
    if (up.buffer.size() != 0) {
        auto [ec, n] = co_await net::async_write(client.io, up.buffer.data(), use_ec);
        up.buffer.consume(up.buffer.size());
        if (ec) {
            co_return;
        }
    }
    auto& a = client.stream.socket();
    auto& b = up.stream.socket();
    clock::time_point last = clock::now();
    co_await ((pump(client.io, b, b, last) && pump(b, client.io, a, last, &client)) ||
              watchdog(a, b, last, idle));
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

// Answers with a gateway-made page (nothing for 499: the client is gone) and records it.
net::awaitable<void> answer_error(connection& c, transaction& tx, unsigned status, bool keep) {
    tx.status = status;
    tx.keep_client = keep && status != 499;
    if (status == 499) {
        co_return;
    }
    // GCC 12 miscompiles a co_await inside a condition (the awaitable is destroyed twice and
    // its frame recycled while in use): await into a local first, then test. Everywhere.
    const bool written = co_await write_error(c, status, tx.version, tx.keep_client);
    if (!written) {
        tx.keep_client = false;
    }
}

// RFC 9110 §10.1.1: the gateway, not the upstream, invites a body the client holds back.
net::awaitable<bool> send_continue(connection& c, millis timeout) {
    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
    c.stream.expires_after(timeout);
    auto [ec, n] = co_await net::async_write(c.io, net::buffer(cont), use_ec);
    co_return !ec;
}

// Where a request stands after the exchange with the upstream.
struct upstream_exchange {
    std::unique_ptr<upstream_connection> conn;
    /// Holds the final head. It lives in the connection, not on a coroutine frame: frames over
    /// about 1 KiB are not recycled by Asio and cost a malloc and a free each.
    std::optional<response_parser>& parser;
    bool request_sent = false;  ///< the upstream has the whole request
};

// The 103 head for the client in `out`, or false when it is to be dropped. Not a coroutine: a
// head on a coroutine frame would make the frame too big to be recycled.
bool hints_head(response_head& from, const transaction& tx, const consent::site_context& consent,
                std::string& out) {
    response_head hints{std::move(from)};
    if (!early_hints_stages(hints, tx, consent)) {
        return false;
    }
    serialize_head(hints, out);
    return true;
}

// Reads the upstream's answer head into ex.parser. Interim answers other than 101 are consumed
// here: 103 Early Hints go on to the client (through the interim stages), 100 and 102 are the
// gateway's to swallow. `client_gone` is set when the client could not take the hints.
net::awaitable<beast::error_code> read_final_head(connection& client,
                                                  upstream_exchange& ex, transaction& tx,
                                                  bool& client_gone) {
    const millis timeout = client.gen->cfg().sites[tx.site].upstream.read_timeout;
    for (;;) {
        ex.parser.emplace();
        ex.parser->header_limit(upstream_header_limit);
        ex.parser->body_limit(boost::none);
        if (tx.method == http::verb::head) {
            ex.parser->skip(true);
        }
        ex.conn->stream.expires_after(timeout);
        auto [ec, n] =
            co_await http::async_read_header(ex.conn->stream, ex.conn->buffer, *ex.parser, use_ec);
        if (ec) {
            co_return ec;
        }
        const auto status = ex.parser->get().result_int();
        if (status < 100 || status >= 200 || status == 101) {
            co_return beast::error_code{};
        }
        if (status != 103) {
            continue;
        }
        std::string hints_text;  // head_text still holds the request, for a retry
        if (!hints_head(ex.parser->get(), tx, *client.gen->shared->consent_sites[tx.site], hints_text)) {
            continue;
        }
        const auto wec = co_await write_head(client, hints_text, client.gen->cfg().limits.body_timeout);
        if (wec) {
            client_gone = true;
            co_return wec;
        }
    }
}

// Sends the request (head in client.head_text, and `body` when it was buffered whole) to one of
// the site's upstream servers and reads the final answer's head into `ex`, passing 103 Early
// Hints to the client on the way. Any request goes to the next server when one cannot be
// connected to; a replayable one also when a new connection is reset before any answer, and is
// sent once more when a pooled connection turns out stale. Returns false on failure, when the
// client has been answered (502/504, or 4xx for its own body).
net::awaitable<bool> exchange_with_upstream(worker& w, connection& client, request_parser& req,
                                            transaction& tx, std::string_view body,
                                            std::span<char> buf, upstream_exchange& ex) {
    const site_config& site = client.gen->cfg().sites[tx.site];
    const limits_config& lim = client.gen->cfg().limits;
    site_counters& stats = w.counters(tx.site);
    const bool replayable = (!tx.has_body || tx.body_buffered) && idempotent(tx.method);
    const bool streamed = tx.has_body && !tx.body_buffered;
    bool sent_continue = false;
    upstream_group& upstreams = *client.gen->upstreams[tx.site];
    upstream_group::tried_set tried = 0;
    bool fresh = false;  // a stale pooled connection was met: the retry takes a new one
    const auto started = clock::now();
    for (;;) {
        const int server = upstreams.choose(tried);
        if (server >= 0) {
            auto& pool = upstreams.pool(static_cast<std::size_t>(server));
            ex.conn = co_await pool.acquire(fresh, !replayable, tx.failure);
            if (!ex.conn) {
                tried |= 1ULL << server;
            }
        } else {
            ex.conn.reset();
            tx.failure = upstream_failure::connect;  // every server tried (or none left)
        }
        client.upstream = ex.conn.get();
        if (!ex.conn) {
            stats.fail(tx.failure);
            if (upstreams.can_retry(tried)) {
                // Nothing was sent (not even a body byte was read yet): any request may go to
                // the next server.
                stats.retries.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            const bool keep = !streamed && !w.draining();
            co_await answer_error(client, tx, status_for(tx.failure), keep);
            co_return false;
        }
        if (streamed && tx.expect_continue && !sent_continue && tx.version >= 11) {
            const bool invited = co_await send_continue(client, lim.body_timeout);
            if (!invited) {
                co_await answer_error(client, tx, 499, false);
                co_return false;
            }
            sent_continue = true;
        }

        relay_result r;
        const std::string_view head = client.head_text;
        if (streamed) {
            const relay_ends ends{client.stream,   client.buffer,    &client,
                                  ex.conn->stream, lim.body_timeout, site.upstream.read_timeout};
            r = co_await relay(ends, req, head, body, tx.chunked, buf);
        } else {
            const std::array<net::const_buffer, 2> pieces{net::buffer(head), net::buffer(body)};
            if (const auto ec =
                    co_await write_all(ex.conn->stream, ex.conn->stream, pieces,
                                       site.upstream.read_timeout)) {
                r = relay_result{relay_end::write_failed, ec};
            }
        }
        ex.request_sent = r.end == relay_end::done;
        if (r.end == relay_end::read_failed) {
            // The client's body failed: it sent too much, broke the chunk framing, went quiet
            // or went away. The upstream connection is mid-request, so it is dropped.
            co_await answer_error(client, tx, status_for(r.ec), false);
            co_return false;
        }

        beast::error_code ec = r.ec;
        bool client_gone = false;
        if (!ec) {
            ec = co_await read_final_head(client, ex, tx, client_gone);
        }
        if (client_gone) {
            co_await answer_error(client, tx, 499, false);
            co_return false;
        }
        if (!ec) {
            upstreams.succeeded(*ex.conn);
            tx.upstream_time = clock::now() - started;
            co_return true;
        }
        const bool no_answer = ex.conn->buffer.size() == 0 && stale_connection(ec);
        if (!fresh && ex.conn->reused && replayable && no_answer) {
            fresh = true;  // it closed while pooled: not the server's failure
            stats.retries.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        tx.failure = classify(ec);
        stats.fail(tx.failure);
        upstreams.failed(*ex.conn);
        if (replayable && no_answer && !ex.conn->reused) {
            // A new connection reset before any answer: the server is in trouble, and an
            // idempotent request may go to another one (nginx's proxy_next_upstream error).
            tried |= 1ULL << ex.conn->server_index;
            if (upstreams.can_retry(tried)) {
                stats.retries.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
        }
        const bool keep = ex.request_sent && !w.draining();
        co_await answer_error(client, tx, status_for(tx.failure), keep);
        co_return false;
    }
}

// After a 101: the switched head, then raw bytes both ways.
net::awaitable<void> switch_protocols(worker& w, connection& client, upstream_connection& up,
                                      transaction& tx) {
    tx.status = 101;
    if (!switching_stages(tx.response, tx, *client.gen->shared->consent_sites[tx.site])) {
        tx.failure = upstream_failure::bad_response;
        w.counters(tx.site).fail(tx.failure);
        co_await answer_error(client, tx, 502, false);
        co_return;
    }
    serialize_head(tx.response, client.head_text);
    const auto ec = co_await write_head(client, client.head_text, client.gen->cfg().limits.body_timeout);
    if (!ec) {
        co_await tunnel(client, up, client.gen->cfg().limits.tunnel_idle_timeout);
    }
}

// Request buffering applies to bodies known or found to fit in limits.request_buffer_bytes.
bool buffer_request(const transaction& tx, std::size_t limit) {
    return tx.has_body && limit != 0 && (tx.chunked || tx.content_length.value_or(0) <= limit);
}

}  // namespace

net::awaitable<beast::error_code> read_request_body(connection& c, request_parser& req,
                                                    std::size_t limit, millis timeout,
                                                    std::string& out) {
    std::array<char, 8 * 1024> chunk;
    while (!req.is_done() && out.size() < limit) {
        const auto room = std::min(chunk.size(), limit - out.size());
        req.lend({chunk.data(), room});
        c.arm(timeout);
        auto [ec, n] = co_await http::async_read_some(c.io, c.buffer, req, use_ec);
        c.disarm();
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec == net::error::operation_aborted && c.timed_out) {
            co_return beast::error::timeout;
        }
        if (ec) {
            co_return ec;
        }
        out.append(chunk.data(), req.filled());
    }
    co_return beast::error_code{};
}

net::awaitable<bool> write_error(connection& client, unsigned status, unsigned version,
                                 bool keep_alive) {
    auto res = error_response(status, version, keep_alive);
    client.stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] = co_await http::async_write(client.io, res, use_ec);
    co_return !ec;
}

net::awaitable<void> forward(worker& w, connection& client, request_parser& req, transaction& tx) {
    // client.upstream lets a shutdown past its deadline cut this exchange; never left dangling.
    struct forget_upstream {
        connection& c;
        ~forget_upstream() { c.upstream = nullptr; }
    } forget{client};
    const site_config& site = client.gen->cfg().sites[tx.site];
    const limits_config& lim = client.gen->cfg().limits;

    // nginx's request buffering: a small body is read whole, and checked, before an upstream
    // connection is taken, so a malformed or stalled body never reaches the origin.
    std::string body;
    if (buffer_request(tx, lim.request_buffer_bytes)) {
        if (tx.expect_continue && tx.version >= 11) {
            const bool invited = co_await send_continue(client, lim.body_timeout);
            if (!invited) {
                co_await answer_error(client, tx, 499, false);
                co_return;
            }
        }
        const auto ec = co_await read_request_body(client, req, lim.request_buffer_bytes,
                                                   lim.body_timeout, body);
        if (ec) {
            co_await answer_error(client, tx, status_for(ec), false);
            co_return;
        }
        if (req.is_done()) {
            tx.body_buffered = true;
            tx.content_length = body.size();
        }
    }
    request_stages(tx, site, *client.gen->shared->consent_sites[tx.site], unix_now());
    if (w.analytics) {
        analytics_request_stage(tx, site, *w.analytics);
    }
    serialize_head(tx.request, client.head_text);

    const auto scratch = w.scratch.get();
    upstream_exchange ex{nullptr, client.answer, false};
    const bool answered =
        co_await exchange_with_upstream(w, client, req, tx, body, scratch.span(), ex);
    if (!answered) {
        co_return;
    }
    auto& rp = *ex.parser;
    tx.response = std::move(rp.get());
    if (tx.response.result_int() == 101) {
        co_await switch_protocols(w, client, *ex.conn, tx);
        co_return;
    }
    upstream_framing framing{rp.chunked(), {}, rp.keep_alive()};
    if (const auto length = rp.content_length()) {
        framing.content_length = *length;
    }
    const auto plan = response_stages(tx, *client.gen->shared->consent_sites[tx.site], client.gen->shared->body_filters,
                                      framing, ex.request_sent, w.draining());
    serialize_head(tx.response, client.head_text);

    const bool keep = tx.keep_client;
    tx.keep_client = false;  // until the answer is out
    relay_result sent;
    if (plan.body) {
        const relay_ends ends{ex.conn->stream,           ex.conn->buffer, nullptr,
                              client.stream,             site.upstream.read_timeout,
                              lim.body_timeout,          &client};
        sent = co_await relay(ends, rp, client.head_text, {}, plan.chunked_out, scratch.span(),
                              plan.transform.get());
    } else if (const auto wec =
                   co_await write_head(client, client.head_text, lim.body_timeout)) {
        sent = relay_result{relay_end::write_failed, wec};
    }
    tx.bytes = sent.bytes;
    if (sent.end == relay_end::read_failed) {
        // Head already sent: all that is left is to cut the connection so the client sees an
        // incomplete message rather than a silently truncated one.
        tx.failure = classify(sent.ec);
        w.counters(tx.site).fail(tx.failure);
        client.gen->upstreams[tx.site]->failed(*ex.conn);
        co_return;
    }
    if (sent.end == relay_end::write_failed) {
        co_return;  // the client went away mid-answer
    }
    if (framing.keep_alive) {
        client.upstream = nullptr;
        client.gen->upstreams[tx.site]->release(std::move(ex.conn));
    }
    tx.keep_client = keep;
}

}  // namespace cg::gateway
