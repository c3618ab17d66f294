#include "upstream_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "async.hpp"

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

upstream_pool::upstream_pool(net::any_io_executor ex, const upstream_config& cfg,
                             site_counters& stats)
    : ex_(std::move(ex)), cfg_(cfg), stats_(stats) {
    boost::system::error_code ec;
    const auto addr = net::ip::make_address(cfg_.host, ec);
    if (!ec) {
        literal_ = tcp::endpoint(addr, cfg_.port);
        host_is_literal_ = true;
    }
    idle_.reserve(cfg_.max_idle);
}

net::awaitable<std::unique_ptr<upstream_connection>> upstream_pool::acquire(
    bool fresh, bool verify, upstream_failure& failure) {
    const auto now = std::chrono::steady_clock::now();
    while (!fresh && !idle_.empty()) {
        auto entry = std::move(idle_.back());
        idle_.pop_back();
        if (now - entry.since < cfg_.idle_timeout &&
            (!verify || still_usable(entry.conn->stream.socket()))) {
            entry.conn->reused = true;
            publish();
            stats_.pool_reused.fetch_add(1, std::memory_order_relaxed);
            co_return std::move(entry.conn);
        }
    }
    publish();
    co_return co_await connect(failure);
}

net::awaitable<std::unique_ptr<upstream_connection>> upstream_pool::connect(
    upstream_failure& failure) {
    auto conn = std::make_unique<upstream_connection>(ex_);
    conn->stream.expires_after(cfg_.connect_timeout);
    boost::system::error_code ec;
    if (host_is_literal_) {
        std::tie(ec) = co_await conn->stream.async_connect(literal_, use_ec);
    } else {
        // Names are resolved per new connection, so DNS changes are followed; pooled
        // connections make this rare.
        tcp::resolver resolver(ex_);
        auto [rec, results] =
            co_await resolver.async_resolve(cfg_.host, std::to_string(cfg_.port), use_ec);
        ec = rec;
        if (!ec) {
            std::tie(ec, std::ignore) = co_await conn->stream.async_connect(results, use_ec);
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
    if (retired_ || idle_.size() >= cfg_.max_idle || c->buffer.size() != 0) {
        return;  // full, or the upstream sent bytes past its response: not safe to reuse
    }
    c->stream.expires_never();
    idle_.push_back({std::move(c), std::chrono::steady_clock::now()});
    publish();
}

void upstream_pool::sweep() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(idle_, [&](const idle_entry& e) { return now - e.since >= cfg_.idle_timeout; });
    publish();
}

void upstream_pool::clear() {
    idle_.clear();
    publish();
}

void upstream_pool::retire() {
    retired_ = true;
    idle_.clear();
}

void upstream_pool::publish() noexcept {
    if (retired_) {
        return;
    }
    stats_.pool_idle.store(idle_.size(), std::memory_order_relaxed);
}

}  // namespace cg::gateway
