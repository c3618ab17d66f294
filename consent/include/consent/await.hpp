#pragma once
#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cg::consent {

/// Awaits a store callback without blocking the calling thread: `start(done)` hands `done` to
/// the store, which calls it once on its own thread; the result is posted back to the
/// awaiting coroutine's executor, which is kept from running out of work meanwhile (a
/// draining worker may have nothing else to do). `T` is the callback's argument type.
template <class T, class Start>
boost::asio::awaitable<T> from_store(Start start) {
    namespace net = boost::asio;
    auto ex = co_await net::this_coro::executor;
    co_return co_await net::async_initiate<decltype(net::use_awaitable), void(T)>(
        [ex](auto handler, Start begin) {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            auto work = net::prefer(ex, net::execution::outstanding_work.tracked);
            begin([h, work](T result) mutable {
                net::post(work, [h, r = std::move(result)]() mutable { (*h)(std::move(r)); });
            });
        },
        net::use_awaitable, std::move(start));
}

}  // namespace cg::consent
