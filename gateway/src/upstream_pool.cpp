#include "upstream_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "async.hpp"
#include "upstream_group.hpp"

namespace cg::gateway {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A pooled socket the upstream has closed (FIN already here) or that has unexpected bytes
// waiting is useless: one non-blocking peek tells, without waiting for a failed request.
bool still_usable(tcp::socket& s) {
    char byte;
    const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

upstream_connection::~upstream_connection() { set_idle(); }

void upstream_connection::set_in_use() noexcept {
    if (!in_use) {
        in_use = true;
        server->active.fetch_add(1, std::memory_order_relaxed);
    }
}

void upstream_connection::set_idle() noexcept {
    if (in_use) {
        in_use = false;
        server->active.fetch_sub(1, std::memory_order_relaxed);
    }
}

upstream_pool::upstream_pool(net::any_io_executor ex, const upstream_config& cfg,
                             upstream_server_state& server, std::size_t index,
                             site_counters& stats)
    : ex_(std::move(ex)), cfg_(cfg), server_(server), index_(index), stats_(stats) {
    boost::system::error_code ec;
    const auto addr = net::ip::make_address(server_.cfg().host, ec);
    if (!ec) {
        literal_ = tcp::endpoint(addr, server_.cfg().port);
        host_is_literal_ = true;
    }
    idle_.reserve(cfg_.max_idle);
}

upstream_pool::~upstream_pool() { clear(); }

template <typename Pred>
void upstream_pool::drop_idle(Pred stale) {
    const auto dropped = std::erase_if(idle_, stale);
    stats_.pool_idle.fetch_sub(dropped, std::memory_order_relaxed);
}

net::awaitable<std::unique_ptr<upstream_connection>> upstream_pool::acquire(
    bool fresh, bool verify, upstream_failure& failure) {
    const auto now = std::chrono::steady_clock::now();
    const auto version = server_.address_version();
    while (!fresh && !idle_.empty()) {
        auto entry = std::move(idle_.back());
        idle_.pop_back();
        stats_.pool_idle.fetch_sub(1, std::memory_order_relaxed);
        if (now - entry.since < cfg_.idle_timeout && entry.conn->address_version == version &&
            (!verify || still_usable(entry.conn->stream.socket()))) {
            entry.conn->reused = true;
            stats_.pool_reused.fetch_add(1, std::memory_order_relaxed);
            server_.requests.fetch_add(1, std::memory_order_relaxed);
            entry.conn->set_in_use();
            co_return std::move(entry.conn);
        }
    }
    auto conn = co_await connect(failure);
    if (!conn) {
        server_.failed(std::chrono::steady_clock::now());
        co_return nullptr;
    }
    server_.requests.fetch_add(1, std::memory_order_relaxed);
    conn->set_in_use();
    co_return conn;
}

net::awaitable<std::unique_ptr<upstream_connection>> upstream_pool::connect(
    upstream_failure& failure) {
    auto conn = std::make_unique<upstream_connection>(ex_, server_, index_);
    conn->stream.expires_after(cfg_.connect_timeout);
    boost::system::error_code ec;
    if (host_is_literal_) {
        std::tie(ec) = co_await conn->stream.async_connect(literal_, use_ec);
    } else {
        // A name: the addresses the monitor resolved last (upstream_monitor.cpp), or, before
        // the first resolution and with resolve_interval_ms 0, a resolution of its own.
        conn->address_version = server_.address_version();
        auto addresses = server_.addresses();
        if (addresses.empty()) {
            tcp::resolver resolver(ex_);
            auto [rec, results] = co_await resolver.async_resolve(
                server_.cfg().host, std::to_string(server_.cfg().port), use_ec);
            ec = rec;
            for (const auto& r : results) {
                addresses.push_back(r.endpoint());
            }
        }
        if (!ec) {
            std::tie(ec, std::ignore) = co_await conn->stream.async_connect(addresses, use_ec);
        }
    }
    if (ec) {
        failure = ec == boost::beast::error::timeout ? upstream_failure::timeout
                                                     : upstream_failure::connect;
        co_return nullptr;
    }
    conn->stream.socket().set_option(tcp::no_delay(true), ec);
    conn->stream.socket().non_blocking(true, ec);  // for read_available() in the relay
    stats_.pool_connects.fetch_add(1, std::memory_order_relaxed);
    co_return conn;
}

void upstream_pool::release(std::unique_ptr<upstream_connection> c) {
    c->set_idle();
    if (retired_ || idle_.size() >= cfg_.max_idle || c->buffer.size() != 0 ||
        c->address_version != server_.address_version()) {
        return;  // full, or the upstream sent bytes past its response: not safe to reuse
    }
    c->stream.expires_never();
    idle_.push_back({std::move(c), std::chrono::steady_clock::now()});
    stats_.pool_idle.fetch_add(1, std::memory_order_relaxed);
}

void upstream_pool::sweep() {
    const auto now = std::chrono::steady_clock::now();
    const auto version = server_.address_version();
    drop_idle([&](const idle_entry& e) {
        return now - e.since >= cfg_.idle_timeout || e.conn->address_version != version;
    });
}

void upstream_pool::clear() {
    drop_idle([](const idle_entry&) { return true; });
}

void upstream_pool::retire() {
    retired_ = true;
    clear();
}

}  // namespace cg::gateway
