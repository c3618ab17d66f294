#include "support/test_upstream.hpp"

#include "support/compress.hpp"

#include <algorithm>
#include <atomic>
#include <array>
#include <charconv>
#include <exception>
#include <limits>
#include <optional>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace cg::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

inline constexpr auto use_ec = net::as_tuple(net::use_awaitable);  // STYLE §5: Boost 1.81

constexpr std::size_t header_limit = 64 * 1024;
constexpr std::size_t body_piece = 64 * 1024;
constexpr std::size_t max_chunk = 16 * 1024 * 1024;

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

/// The value of `name` in a query string such as "a=1&size=20", if present.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
            return pair.substr(eq + 1);
        }
        if (amp == std::string_view::npos) {
            break;
        }
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

/// Keeps test_upstream::open_connections() right however a connection coroutine ends,
/// including destruction while suspended when the server stops.
class open_count_guard {
  public:
    explicit open_count_guard(std::atomic<std::size_t>& count) : count_(count) { ++count_; }
    ~open_count_guard() { --count_; }
    open_count_guard(const open_count_guard&) = delete;
    open_count_guard& operator=(const open_count_guard&) = delete;

  private:
    std::atomic<std::size_t>& count_;
};

/// What the routes need to know about the request being answered.
struct exchange {
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;
};

/// Writes `res`, or only its header for a HEAD request (RFC 9110 §9.3.2: same fields as GET).
template <class Body>
net::awaitable<error_code> send(beast::tcp_stream& stream, http::response<Body>& res,
                                const exchange& ex) {
    if (ex.head) {
        http::response_serializer<Body> sr{res};
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_ec);
        co_return ec;
    }
    auto [ec, n] = co_await http::async_write(stream, res, use_ec);
    co_return ec;
}

bool has_flag(std::string_view query, std::string_view flag) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        if (query.substr(0, amp) == flag) {
            return true;
        }
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    return false;
}

std::string flag_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        if (pair.starts_with(key) && pair.size() > key.size() && pair[key.size()] == '=') {
            return std::string{pair.substr(key.size() + 1)};
        }
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    return {};
}

http::response<http::string_body> text_response(http::status status, std::string body,
                                                const exchange& ex) {
    http::response<http::string_body> res{status, ex.version};
    res.set(http::field::server, "cg-test-upstream");
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(ex.keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// /page: test_page_html() with the headers its query asks for (test_upstream.hpp).
net::awaitable<error_code> send_page(beast::tcp_stream& stream, std::string_view query,
                                     const exchange& ex) {
    const std::string status = flag_value(query, "status");
    std::string body{test_page_html()};
    if (has_flag(query, "stamp")) {
        static std::atomic<unsigned> stamps{0};
        body += "<!-- " + std::to_string(++stamps) + " -->";
    }
    auto res = text_response(
        static_cast<http::status>(status.empty() ? 200 : std::stoi(status)), std::move(body), ex);
    const std::string type = flag_value(query, "type");
    res.set(http::field::content_type, type.empty() ? "text/html; charset=utf-8" : type);
    if (const std::string coding = flag_value(query, "encoding"); !coding.empty()) {
        res.body() = compress(coding, res.body());
        res.set(http::field::content_encoding, coding);
    }
    if (const std::string label = flag_value(query, "label"); !label.empty()) {
        res.set(http::field::content_encoding, label);  // claims a coding it does not use
    }
    if (const std::string nonce = flag_value(query, "csp"); !nonce.empty()) {
        res.set("Content-Security-Policy",
                "script-src 'nonce-" + nonce + "' 'strict-dynamic'; style-src 'self'");
    }
    if (has_flag(query, "attachment")) {
        res.set(http::field::content_disposition, "attachment; filename=\"page.html\"");
    }
    if (has_flag(query, "no-transform")) {
        res.set(http::field::cache_control, "public, no-transform");
    }
    if (has_flag(query, "etag")) {
        res.set(http::field::etag, "\"page-1\"");
        res.set(http::field::accept_ranges, "bytes");
    }
    if (has_flag(query, "vary")) {
        res.set(http::field::vary, "Accept-Encoding");
    }
    if (has_flag(query, "chunked")) {
        res.chunked(true);
    } else {
        res.prepare_payload();
    }
    co_return co_await send(stream, res, ex);
}

/// Streams `n` pattern bytes through a buffer_body serializer, `piece` bytes per write, so a
/// 50 MB body never sits in memory. With res.chunked(true) each piece becomes one chunk.
net::awaitable<error_code> send_pattern(beast::tcp_stream& stream,
                                        http::response<http::buffer_body>& res, std::uint64_t n,
                                        std::size_t piece) {
    std::vector<char> buf(piece);
    http::response_serializer<http::buffer_body> sr{res};
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = true;
    {
        auto [ec, ignored] = co_await http::async_write_header(stream, sr, use_ec);
        if (ec) {
            co_return ec;
        }
    }
    std::uint64_t sent = 0;
    while (sent < n) {
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(piece, n - sent));
        pattern_fill(buf.data(), static_cast<std::size_t>(sent), len);
        res.body().data = buf.data();
        res.body().size = len;
        res.body().more = true;
        auto [ec, ignored] = co_await http::async_write(stream, sr, use_ec);
        // Beast's buffer_body protocol: need_buffer means "piece consumed, give me the next".
        if (ec && ec != http::error::need_buffer) {
            co_return ec;
        }
        sent += len;
    }
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, ignored] = co_await http::async_write(stream, sr, use_ec);
    if (ec == http::error::need_buffer) {
        ec = {};
    }
    co_return ec;
}

net::awaitable<void> serve_websocket(beast::tcp_stream stream,
                                     http::request<http::buffer_body> upgrade) {
    // websocket::stream runs its own timers; the tcp_stream's must be off (Beast docs).
    stream.expires_never();
    websocket::stream<beast::tcp_stream> ws{std::move(stream)};
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    {
        auto [ec] = co_await ws.async_accept(upgrade, use_ec);
        if (ec) {
            co_return;
        }
    }
    beast::flat_buffer buffer;
    for (;;) {
        auto [read_ec, n] = co_await ws.async_read(buffer, use_ec);
        if (read_ec) {
            co_return;  // websocket::error::closed after a close handshake, or a real error
        }
        ws.text(ws.got_text());
        auto [write_ec, m] = co_await ws.async_write(buffer.data(), use_ec);
        if (write_ec) {
            co_return;
        }
        buffer.consume(buffer.size());
    }
}

/// /hang: keep the connection open and answer nothing; discard whatever else arrives until
/// the peer goes away or the server stops.
net::awaitable<void> hang(beast::tcp_stream& stream) {
    std::array<char, 4096> sink{};
    for (;;) {
        auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_ec);
        if (ec) {
            co_return;
        }
    }
}

/// Sends FIN, then reads until the peer closes (or 2 s pass) before the socket is closed:
/// closing with unread input would send RST, which can destroy the response in flight.
net::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
        co_return;
    }
    stream.expires_after(std::chrono::seconds{2});
    std::array<char, 4096> sink{};
    for (;;) {
        auto [read_ec, n] = co_await stream.async_read_some(net::buffer(sink), use_ec);
        if (read_ec) {
            co_return;
        }
    }
}

}  // namespace

struct test_upstream::impl {
    static net::awaitable<void> accept_loop(test_upstream& self, tcp::acceptor acceptor);
    static net::awaitable<void> serve(test_upstream& self, tcp::socket socket);
};

test_upstream::test_upstream(test_upstream_options options)
    : ioc_(std::make_unique<net::io_context>(1)) {
    idle_close_ms_ = options.idle_close.count();
    max_requests_ = options.max_requests_per_connection;
    tcp::acceptor acceptor{*ioc_,
                           tcp::endpoint{net::ip::make_address_v4(options.address), options.port}};
    port_ = acceptor.local_endpoint().port();
    net::co_spawn(*ioc_, impl::accept_loop(*this, std::move(acceptor)),
                  [](const std::exception_ptr&) {});
    thread_ = std::thread([this] {
        for (;;) {
            try {
                ioc_->run();
                return;
            } catch (...) {
                // A throwing handler must not take the test process down; keep serving.
            }
        }
    });
}

test_upstream::~test_upstream() {
    ioc_->stop();
    if (thread_.joinable()) {
        thread_.join();
    }
    // Destroys the suspended coroutines, closing their sockets, while members still live.
    ioc_.reset();
}

void test_upstream::set_idle_close(std::chrono::milliseconds idle) {
    idle_close_ms_ = idle.count();
}

void test_upstream::set_max_requests_per_connection(std::size_t n) {
    max_requests_ = n;
}

recorded_request test_upstream::last_request() const {
    std::lock_guard lock{last_mutex_};
    return last_;
}

recorded_request test_upstream::last_health_check() const {
    std::lock_guard lock{last_mutex_};
    return last_health_;
}

net::awaitable<void> test_upstream::impl::accept_loop(test_upstream& self, tcp::acceptor acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_ec);
        if (ec == net::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            // ECONNABORTED from a client that gave up, or EMFILE: keep listening, but without
            // spinning on an error that repeats at once.
            net::steady_timer pause{acceptor.get_executor(), std::chrono::milliseconds{10}};
            co_await pause.async_wait(use_ec);
            continue;
        }
        ++self.connections_accepted_;
        net::co_spawn(acceptor.get_executor(), serve(self, std::move(socket)),
                      [](const std::exception_ptr&) {});
    }
}

net::awaitable<void> test_upstream::impl::serve(test_upstream& self, tcp::socket socket) {
    open_count_guard guard{self.open_connections_};
    beast::tcp_stream stream{std::move(socket)};
    beast::flat_buffer buffer;
    std::size_t requests_here = 0;
    std::array<char, body_piece> body_buf{};
    for (;;) {
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        const auto idle = self.idle_close_ms_.load();
        if (idle > 0) {
            // On expiry tcp_stream closes the socket: the client sees FIN on an idle
            // keep-alive connection, which is what a stale pooled connection looks like.
            stream.expires_after(std::chrono::milliseconds{idle});
        } else {
            stream.expires_never();
        }
        {
            auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_ec);
            if (ec) {
                co_return;
            }
        }
        stream.expires_never();
        auto& req = parser.get();

        recorded_request record;
        record.method = std::string{req.method_string()};
        record.target = std::string{req.target()};
        for (const auto& field : req) {
            record.headers.emplace_back(std::string{field.name_string()},
                                        std::string{field.value()});
        }
        const std::string_view target = req.target();
        const auto question = target.find('?');
        const std::string_view path = target.substr(0, question);
        const std::string_view query =
            question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

        if (path == "/ws" && websocket::is_upgrade(req)) {
            {
                std::lock_guard lock{self.last_mutex_};
                self.last_ = std::move(record);
            }
            ++self.requests_served_;
            co_await serve_websocket(std::move(stream), parser.release());
            co_return;
        }

        if (!parser.is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
            http::response<http::empty_body> cont{http::status::continue_, req.version()};
            auto [ec, n] = co_await http::async_write(stream, cont, use_ec);
            if (ec) {
                co_return;
            }
        }

        fnv1a hash;
        std::uint64_t body_bytes = 0;
        while (!parser.is_done()) {
            req.body().data = body_buf.data();
            req.body().size = body_buf.size();
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_ec);
            if (ec && ec != http::error::need_buffer) {
                co_return;
            }
            const std::size_t got = body_buf.size() - req.body().size;
            hash.update(body_buf.data(), got);
            body_bytes += got;
        }

        record.body_bytes = body_bytes;
        if (path == "/health") {
            std::lock_guard lock{self.last_mutex_};
            self.last_health_ = std::move(record);
            ++self.health_checks_;
        } else {
            std::lock_guard lock{self.last_mutex_};
            self.last_ = std::move(record);
            ++self.requests_served_;
        }
        ++requests_here;

        exchange ex;
        ex.version = req.version();
        ex.head = req.method() == http::verb::head;
        ex.keep_alive = req.keep_alive();
        const auto max_requests = self.max_requests_.load();
        if (max_requests > 0 && requests_here >= max_requests) {
            ex.keep_alive = false;
        }

        error_code ec;
        if (path == "/health") {
            http::response<http::empty_body> res;
            res.version(ex.version);
            res.result(self.health_status_.load());
            res.keep_alive(ex.keep_alive);
            res.content_length(0);
            ec = co_await send(stream, res, ex);
        } else if (path == "/echo") {
            std::string body;
            body.append(req.method_string()).append(" ").append(target).append("\n");
            for (const auto& field : req) {
                body.append(field.name_string()).append(": ").append(field.value()).append("\n");
            }
            body.append("body-bytes: ").append(std::to_string(body_bytes)).append("\n");
            auto res = text_response(http::status::ok, std::move(body), ex);
            ec = co_await send(stream, res, ex);
        } else if (path.starts_with("/bytes/") || path.starts_with("/chunked/")) {
            const bool chunked = path.starts_with("/chunked/");
            const auto n = parse_u64(path.substr(path.find('/', 1) + 1));
            std::optional<std::uint64_t> size = 1000;
            if (const auto text = query_param(query, "size")) {
                size = parse_u64(*text);
            }
            if (!n || !size || *size == 0) {
                auto res = text_response(http::status::bad_request, "bad size\n", ex);
                ec = co_await send(stream, res, ex);
            } else if (ex.head) {
                http::response<http::empty_body> res{http::status::ok, ex.version};
                res.set(http::field::content_type, "application/octet-stream");
                res.keep_alive(ex.keep_alive);
                if (chunked) {
                    res.chunked(true);
                } else {
                    res.content_length(*n);
                }
                ec = co_await send(stream, res, ex);
            } else {
                http::response<http::buffer_body> res{http::status::ok, ex.version};
                res.set(http::field::content_type, "application/octet-stream");
                res.keep_alive(ex.keep_alive);
                if (chunked) {
                    res.chunked(true);
                } else {
                    res.content_length(*n);
                }
                const auto piece =
                    chunked ? static_cast<std::size_t>(std::min<std::uint64_t>(*size, max_chunk))
                            : body_piece;
                ec = co_await send_pattern(stream, res, *n, piece);
            }
        } else if (path == "/upload") {
            auto res = text_response(
                http::status::ok,
                "bytes=" + std::to_string(body_bytes) + " fnv1a=" + hex64(hash.value()), ex);
            ec = co_await send(stream, res, ex);
        } else if (path.starts_with("/sleep/")) {
            const auto ms = parse_u64(path.substr(7));
            if (!ms) {
                auto res = text_response(http::status::bad_request, "bad duration\n", ex);
                ec = co_await send(stream, res, ex);
            } else {
                net::steady_timer timer{stream.get_executor()};
                timer.expires_after(std::chrono::milliseconds{*ms});
                co_await timer.async_wait(use_ec);
                auto res = text_response(http::status::ok, "slept", ex);
                ec = co_await send(stream, res, ex);
            }
        } else if (path == "/hang") {
            co_await hang(stream);
            co_return;
        } else if (path.starts_with("/status/")) {
            const auto code = parse_u64(path.substr(8));
            if (!code || *code < 100 || *code > 999) {
                auto res = text_response(http::status::bad_request, "bad status\n", ex);
                ec = co_await send(stream, res, ex);
            } else {
                const auto status = static_cast<unsigned>(*code);
                http::response<http::empty_body> res;
                res.version(ex.version);
                res.result(status);
                if (http::int_to_status(status) == http::status::unknown) {
                    res.reason("Status");
                }
                res.keep_alive(ex.keep_alive);
                // RFC 9110 §8.6: no Content-Length in 1xx and 204; a 304's would describe the
                // selected representation, so leave it out too.
                if (status >= 200 && status != 204 && status != 304) {
                    res.content_length(0);
                }
                ec = co_await send(stream, res, ex);
            }
        } else if (path == "/headers") {
            auto res = text_response(http::status::ok, "headers", ex);
            res.set(http::field::connection, ex.keep_alive ? "keep-alive, X-Hop" : "close, X-Hop");
            res.set("X-Hop", "secret");
            res.set(http::field::keep_alive, "timeout=5");
            res.set(http::field::proxy_authenticate, "Basic");
            res.set(http::field::trailer, "X-T");
            // Odd in a 200 but legal: Upgrade is hop-by-hop (RFC 9110 §7.8), so a proxy drops it.
            res.set(http::field::upgrade, "h2c");
            res.set("X-End", "kept");
            ec = co_await send(stream, res, ex);
        } else if (path == "/close") {
            ex.keep_alive = false;
            auto res = text_response(http::status::ok, "closing", ex);
            ec = co_await send(stream, res, ex);
        } else if (path == "/drop") {
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream.socket().close(ignored);
            co_return;
        } else if (path == "/cookies") {
            // Necessary, analytics (exact and prefixed name), marketing under another Domain,
            // and an unknown cookie under another Path: what consent filtering must tell apart.
            const auto received = [&req](std::string_view name) {
                const auto it = req.find(name);
                return it == req.end() ? std::string{"-"} : std::string{it->value()};
            };
            auto res = text_response(http::status::ok,
                                     "cookie: " + received("Cookie") + "\nconsent-categories: " +
                                         received("Consent-Categories") + "\n",
                                     ex);
            res.set(http::field::content_type, "text/html; charset=utf-8");
            for (const char* set_cookie :
                 {"PHPSESSID=sess1; Path=/; HttpOnly",
                  "_ga=GA1.1.111.222; Path=/; Max-Age=63072000",
                  "_ga_ABC123=GS1.1.333; Path=/; Max-Age=63072000",
                  "_fbp=fb.1.444; Path=/; Domain=site.test; Max-Age=7776000",
                  "mystery=zzz; Path=/shop"}) {
                res.insert(http::field::set_cookie, set_cookie);
            }
            ec = co_await send(stream, res, ex);
        } else if (path == "/page" || path.starts_with("/page/")) {
            ec = co_await send_page(stream, query, ex);
        } else if (path == "/ws") {
            auto res = text_response(http::status::upgrade_required, "websocket only\n", ex);
            res.set(http::field::upgrade, "websocket");
            ec = co_await send(stream, res, ex);
        } else {
            auto res = text_response(http::status::not_found, "not found\n", ex);
            ec = co_await send(stream, res, ex);
        }

        if (ec) {
            co_return;
        }
        if (!ex.keep_alive) {
            co_await close_gracefully(stream);
            co_return;
        }
    }
}

std::string_view test_page_html() {
    return R"html(<!DOCTYPE html>
<html lang="nb">
<head>
<meta charset="utf-8">
<title>Testside</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>
<script>
!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,document,
'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','1');
</script>
</head>
<body class="page">
<h1>Velkommen</h1>
<iframe width="560" height="315" src="https://www.youtube.com/embed/abc"></iframe>
</body>
</html>
)html";
}

}  // namespace cg::test
