#include "admin.hpp"

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Compares a presented token without leaking through timing how much of it matched.
bool token_matches(std::string_view presented, std::string_view expected) {
    if (presented.size() != expected.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        diff |= static_cast<unsigned char>(presented[i] ^ expected[i]);
    }
    return diff == 0;
}

// One TCP connect per upstream within a second: "reachable" is what readiness promises.
net::awaitable<bool> reachable(const upstream_config& up) {
    auto ex = co_await net::this_coro::executor;
    beast::tcp_stream s(ex);
    s.expires_after(std::chrono::seconds(1));
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(up.host, std::to_string(up.port), use_ec);
    if (rec) {
        co_return false;
    }
    auto [ec, ep] = co_await s.async_connect(results, use_ec);
    co_return !ec;
}

// Probes every site's upstream at once, so /readyz answers within about a second however
// many upstreams are down. The state is shared with the probes: one still resolving a name
// when the wait ends must not outlive what it writes to.
net::awaitable<std::vector<char>> probe_all(const config& cfg) {
    struct state {
        explicit state(const net::any_io_executor& ex, std::size_t n) : up(n, 0), done(ex) {}
        std::vector<char> up;
        std::size_t pending = 0;
        net::steady_timer done;
    };
    auto ex = co_await net::this_coro::executor;
    auto st = std::make_shared<state>(ex, cfg.sites.size());
    st->pending = cfg.sites.size();
    for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
        net::co_spawn(
            ex,
            [st, i, &up = cfg.sites[i].upstream]() -> net::awaitable<void> {
                st->up[i] = co_await reachable(up) ? 1 : 0;
                if (--st->pending == 0) {
                    st->done.cancel();
                }
            },
            net::detached);
    }
    if (st->pending != 0) {
        st->done.expires_after(std::chrono::seconds(2));
        co_await st->done.async_wait(use_ec);
    }
    co_return st->up;
}

using response = http::response<http::string_body>;

response make(unsigned status, std::string_view type, std::string body, unsigned version) {
    response res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

net::awaitable<response> handle(shared_state& shared, const http::request<http::string_body>& req) {
    const auto& cfg = *shared.cfg;
    const auto path = req.target().substr(0, req.target().find('?'));
    const unsigned v = req.version();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = make(405, "text/plain", "method not allowed\n", v);
        res.set(http::field::allow, "GET, HEAD");
        co_return res;
    }
    if (path == "/healthz") {
        co_return make(200, "text/plain", "ok\n", v);
    }
    if (path == "/readyz") {
        if (shared.draining.load()) {
            co_return make(503, "application/json",
                           R"({"ready":false,"reason":"draining"})"
                           "\n",
                           v);
        }
        const auto up = co_await probe_all(cfg);
        std::string body = R"({"ready":)";
        std::string sites;
        bool all = true;
        for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
            const auto& site = cfg.sites[i];
            const bool ok = up[i] != 0;
            all = all && ok;
            sites.append(sites.empty() ? "" : ",")
                .append("\"")
                .append(site.name)
                .append("\":\"")
                .append(ok ? "reachable" : "unreachable")
                .append("\"");
        }
        body.append(all ? "true" : "false")
            .append(R"(,"upstreams":{)")
            .append(sites)
            .append("}}\n");
        co_return make(all ? 200 : 503, "application/json", std::move(body), v);
    }
    if (path == "/metrics") {
        if (!cfg.admin.token.empty()) {
            const auto auth = req[http::field::authorization];
            if (!auth.starts_with("Bearer ") || !token_matches(auth.substr(7), cfg.admin.token)) {
                auto res = make(401, "text/plain", "a bearer token is required\n", v);
                res.set(http::field::www_authenticate, R"(Bearer realm="consent-gateway admin")");
                co_return res;
            }
        }
        co_return make(200, "text/plain; version=0.0.4", shared.stats.render(cfg), v);
    }
    co_return make(404, "text/plain", "not found: try /healthz, /readyz or /metrics\n", v);
}

net::awaitable<void> serve_admin(shared_state& shared, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(8 * 1024);
        parser.body_limit(4 * 1024);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_ec);
        if (ec) {
            break;
        }
        auto req = parser.release();
        auto res = co_await handle(shared, req);
        res.keep_alive(req.keep_alive());
        stream.expires_after(std::chrono::seconds(30));
        if (req.method() == http::verb::head) {
            http::response_serializer<http::string_body> sr{res};
            std::tie(ec, n) = co_await http::async_write_header(stream, sr, use_ec);
        } else {
            std::tie(ec, n) = co_await http::async_write(stream, res, use_ec);
        }
        if (ec || !res.keep_alive()) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_admin(shared_state& shared, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_ec);
        if (!acceptor.is_open()) {
            co_return;
        }
        if (!ec) {
            net::co_spawn(acceptor.get_executor(), serve_admin(shared, std::move(socket)),
                          net::detached);
        }
    }
}

}  // namespace

admin_listener::admin_listener(net::io_context& ioc, shared_state& shared)
    : ioc_(ioc), shared_(shared), acceptor_(ioc) {}

void admin_listener::open() {
    const auto& a = shared_.cfg->admin;
    const tcp::endpoint ep{net::ip::make_address(a.address), a.port};
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
        acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        acceptor_.bind(ep, ec);
    }
    if (!ec) {
        acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("admin listener " + a.address + ":" + std::to_string(a.port) +
                                 ": " + ec.message());
    }
}

void admin_listener::start() {
    net::co_spawn(ioc_, accept_admin(shared_, acceptor_), net::detached);
}

void admin_listener::close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
}

tcp::endpoint admin_listener::endpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
}

}  // namespace cg::gateway
