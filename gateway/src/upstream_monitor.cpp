#include "upstream_monitor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "async.hpp"
#include "generation.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

using current_fn = std::function<std::shared_ptr<const generation>()>;

// The generation while it is still the one new requests use; null once replaced.
std::shared_ptr<const generation> still_current(const std::weak_ptr<const generation>& weak,
                                                const current_fn& current) {
    auto g = weak.lock();
    if (g && current().get() == g.get()) {
        return g;
    }
    return nullptr;
}

net::awaitable<std::vector<tcp::endpoint>> resolve(const upstream_server& s) {
    auto ex = co_await net::this_coro::executor;
    std::vector<tcp::endpoint> out;
    boost::system::error_code ec;
    const auto literal = net::ip::make_address(s.host, ec);
    if (!ec) {
        out.emplace_back(literal, s.port);
        co_return out;
    }
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(s.host, std::to_string(s.port), use_ec);
    for (const auto& r : results) {
        out.push_back(r.endpoint());
    }
    co_return out;
}

// The Host a check sends: the site's own name when it has a plain one and keeps the client's
// Host, else the server's (what a proxied request would carry).
std::string check_host(const site_config& site, const upstream_server& s) {
    if (site.preserve_host && !site.hosts.empty() && !site.hosts.front().starts_with("*.")) {
        return site.hosts.front();
    }
    return s.authority();
}

// One GET of the check path: passed when a 2xx or 3xx head arrives within the timeout.
net::awaitable<bool> check_once(const site_config& site, const upstream_server_state& server) {
    const auto& hc = site.upstream.health_check;
    auto ex = co_await net::this_coro::executor;
    beast::tcp_stream stream(ex);
    stream.expires_after(hc.timeout);
    auto addresses = server.addresses();
    if (addresses.empty()) {
        addresses = co_await resolve(server.cfg());
    }
    auto [cec, ep] = co_await stream.async_connect(addresses, use_ec);
    if (cec) {
        co_return false;
    }
    const std::string request = "GET " + hc.path +
                                " HTTP/1.1\r\nHost: " + check_host(site, server.cfg()) +
                                "\r\nUser-Agent: consent-gateway health check\r\n"
                                "Connection: close\r\n\r\n";
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(request), use_ec);
    if (wec) {
        co_return false;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, use_ec);
    if (rec) {
        co_return false;
    }
    const auto status = parser.get().result_int();
    co_return status >= 200 && status < 400;
}

net::awaitable<void> check_loop(std::weak_ptr<const generation> weak, current_fn current,
                                std::size_t site, std::size_t index) {
    net::steady_timer timer(co_await net::this_coro::executor);
    unsigned fails = 0;
    unsigned passes = 0;
    for (;;) {
        millis interval{};
        {
            const auto g = still_current(weak, current);
            if (!g) {
                co_return;
            }
            const auto& cfg = g->cfg->sites[site];
            const auto& hc = cfg.upstream.health_check;
            auto& server = *g->servers[site]->servers[index];
            const bool ok = co_await check_once(cfg, server);
            if (ok) {
                fails = 0;
                if (++passes >= hc.passes) {
                    server.set_check(true);
                }
            } else {
                passes = 0;
                server.checks_failed.fetch_add(1, std::memory_order_relaxed);
                if (++fails >= hc.fails) {
                    server.set_check(false);
                }
            }
            interval = hc.interval;
        }
        timer.expires_after(interval);
        co_await timer.async_wait(use_ec);
    }
}

// Follows a host name's DNS entry: keeps the last addresses when a resolution fails.
net::awaitable<void> resolve_loop(std::weak_ptr<const generation> weak, current_fn current,
                                  std::size_t site, std::size_t index) {
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        millis interval{};
        {
            const auto g = still_current(weak, current);
            if (!g) {
                co_return;
            }
            auto& server = *g->servers[site]->servers[index];
            auto found = co_await resolve(server.cfg());
            if (!found.empty()) {
                server.set_addresses(std::move(found));
            }
            interval = g->cfg->sites[site].upstream.resolve_interval;
        }
        timer.expires_after(interval);
        co_await timer.async_wait(use_ec);
    }
}

}  // namespace

void monitor_upstreams(const net::any_io_executor& ex, const std::shared_ptr<const generation>& g,
                       current_fn current) {
    const auto& sites = g->cfg->sites;
    for (std::size_t site = 0; site < sites.size(); ++site) {
        const auto& up = sites[site].upstream;
        for (std::size_t i = 0; i < up.servers.size(); ++i) {
            boost::system::error_code ec;
            net::ip::make_address(up.servers[i].host, ec);
            if (ec && up.resolve_interval.count() > 0) {
                net::co_spawn(ex, resolve_loop(g, current, site, i), net::detached);
            }
            if (up.health_check.enabled()) {
                net::co_spawn(ex, check_loop(g, current, site, i), net::detached);
            }
        }
    }
}

}  // namespace cg::gateway
