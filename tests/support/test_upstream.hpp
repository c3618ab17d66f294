#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/pattern.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace cg::test {

/// What test_upstream saw of one request: header fields in arrival order, body size.
struct recorded_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::uint64_t body_bytes = 0;
};

/// Behaviour switches; see test_upstream::set_idle_close and set_max_requests_per_connection.
struct test_upstream_options {
    /// Close a keep-alive connection after it has waited this long for the next request.
    /// Zero (the default) waits forever.
    std::chrono::milliseconds idle_close{0};
    /// Answer the Nth request of a connection with `Connection: close` and close it.
    /// Zero (the default) means no limit.
    std::size_t max_requests_per_connection = 0;
    /// Where to listen: another loopback address (127.0.0.2...) and a fixed port are for
    /// tests that need two servers behind one name and port.
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
};

/// A real HTTP/1.1 origin server for integration tests, listening on 127.0.0.1 on a port
/// chosen by the kernel. It serves from its own thread from construction until destruction;
/// the destructor stops the io_context, joins the thread and closes every connection.
/// Keep-alive and pipelining are supported; request bodies are always read streaming.
///
/// Routes (by path; the query is ignored unless stated):
///   /echo          any method; 200 text/plain "METHOD TARGET\n", one "name: value\n" per
///                  received header in order, then "body-bytes: N\n".
///   /bytes/N       N pattern bytes (see pattern_fill) with Content-Length, streamed in pieces.
///                  HEAD gives the same headers without a body.
///   /chunked/N     N pattern bytes with Transfer-Encoding: chunked in chunks of `?size=K`
///                  bytes (default 1000).
///   /upload        200 "bytes=N fnv1a=HEX" over the request body (see upload_reply_for_pattern).
///   /sleep/MS      waits MS milliseconds, then 200 "slept".
///   /hang          reads the request and never answers.
///   /status/N      status N, empty body (no Content-Length for 1xx, 204 and 304).
///   /headers       200 "headers" with hop-by-hop fields a proxy must remove (Connection:
///                  keep-alive, X-Hop; X-Hop; Keep-Alive; Proxy-Authenticate; Trailer; Upgrade)
///                  and the end-to-end field `X-End: kept`.
///   /close         200 "closing" with Connection: close, then closes the connection.
///   /ws            WebSocket echo of text and binary messages until the peer closes.
///   /drop          closes the connection after reading the request, without answering.
///   /cookies       200 text/html that sets five cookies, one Set-Cookie each, in this order:
///                  `PHPSESSID=sess1; Path=/; HttpOnly`,
///                  `_ga=GA1.1.111.222; Path=/; Max-Age=63072000`,
///                  `_ga_ABC123=GS1.1.333; Path=/; Max-Age=63072000`,
///                  `_fbp=fb.1.444; Path=/; Domain=site.test; Max-Age=7776000`,
///                  `mystery=zzz; Path=/shop`; the body is "cookie: V\n" and
///                  "consent-categories: V\n" with the received values ("-" when absent).
///   /page          test_page_html() as `text/html; charset=utf-8` with Content-Length. Query
///                  flags, `&`-separated: `encoding=gzip|deflate|br` (compressed, with
///                  Content-Encoding), `label=CODING` (Content-Encoding without compressing:
///                  a broken stream), `chunked`, `status=N`, `type=T` (Content-Type),
///                  `csp=NONCE` (Content-Security-Policy: script-src 'nonce-NONCE'; style-src
///                  'self'), `attachment` (Content-Disposition), `no-transform` (Cache-Control),
///                  `etag` (ETag "page-1"), `vary` (Vary: Accept-Encoding), `stamp` (the
///                  body ends with `<!-- N -->`, N counting /page?stamp answers: a page that
///                  changes on every request).
///   /health        an empty answer with the status set_health() chose (200 at first); these
///                  are counted by health_checks(), not requests_served().
///   anything else  404 "not found".
/// A request with `Expect: 100-continue` and a body gets an interim 100 Continue first.
/// HEAD is answered with the GET headers and no body on every route.
///
/// Thread safety: every public member may be called from any thread.
/// The page /page serves: a small document with a head, a gtag.js script on a catalogued
/// tracker host, an inline Meta Pixel snippet and a YouTube iframe in the body.
std::string_view test_page_html();

class test_upstream {
  public:
    /// Binds 127.0.0.1:0 and starts serving. Throws boost::system::system_error if it cannot.
    explicit test_upstream(test_upstream_options options = {});
    ~test_upstream();
    test_upstream(const test_upstream&) = delete;
    test_upstream& operator=(const test_upstream&) = delete;

    /// The port it listens on (from local_endpoint()).
    std::uint16_t port() const noexcept { return port_; }

    /// Takes effect from the next wait for a request on each connection.
    void set_idle_close(std::chrono::milliseconds idle);
    /// Takes effect from the next request; counts requests since each connection opened.
    void set_max_requests_per_connection(std::size_t n);

    /// Connections accepted so far.
    std::size_t connections_accepted() const noexcept { return connections_accepted_.load(); }
    /// Requests read completely (header and body), counted before any answer is written, so
    /// a client that has its response sees the count include it. /hang and /drop count too.
    std::size_t requests_served() const noexcept { return requests_served_.load(); }
    /// Connections currently open.
    std::size_t open_connections() const noexcept { return open_connections_.load(); }
    /// The status /health answers from now on.
    void set_health(unsigned status) { health_status_ = status; }
    /// Requests to /health so far.
    std::size_t health_checks() const noexcept { return health_checks_.load(); }
    /// A copy of the last /health request (empty before the first).
    recorded_request last_health_check() const;
    /// A copy of the last completely read request (empty before the first).
    recorded_request last_request() const;

  private:
    struct impl;
    friend struct impl;

    // Held by pointer so the destructor can destroy it (and with it every suspended coroutine)
    // while the counters the coroutines touch are still alive.
    std::unique_ptr<boost::asio::io_context> ioc_;
    std::uint16_t port_ = 0;
    std::atomic<std::int64_t> idle_close_ms_{0};
    std::atomic<std::size_t> max_requests_{0};
    std::atomic<std::size_t> connections_accepted_{0};
    std::atomic<std::size_t> requests_served_{0};
    std::atomic<std::size_t> open_connections_{0};
    std::atomic<unsigned> health_status_{200};
    std::atomic<std::size_t> health_checks_{0};
    mutable std::mutex last_mutex_;
    recorded_request last_;
    recorded_request last_health_;
    std::thread thread_;
};

}  // namespace cg::test
