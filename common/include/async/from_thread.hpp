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

namespace cg::async {

/// Awaits a callback that runs on another thread (a Redis worker's, for example) without
/// blocking the calling thread: `start(done)` hands `done` to the other side, which calls it
/// once on its own thread; the result is posted back to the awaiting coroutine's executor,
/// which is kept from running out of work meanwhile (a draining worker may have nothing else
/// to do). `T` is the callback's argument type. If `done` is never called, the coroutine never
/// resumes: the other side must guarantee the call (the consent store does, even after stop).
template <class T, class Start>
boost::asio::awaitable<T> from_thread(Start start) {
    namespace net = boost::asio;
    const auto ex = co_await net::this_coro::executor;
    // The initiation holds only references to this frame's locals: GCC 12 relocates some
    // temporaries of a co_await operand bitwise, which breaks objects that point into
    // themselves (a short std::string), so nothing with state is captured by value here, and
    // callers pass `start` capturing references or trivially copyable values only.
    const auto initiation = [&ex, &start](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto work = net::prefer(ex, net::execution::outstanding_work.tracked);
        start([h, work](T result) mutable {
            net::post(work, [h, r = std::move(result)]() mutable { (*h)(std::move(r)); });
        });
    };
    co_return co_await net::async_initiate<decltype(net::use_awaitable), void(T)>(
        initiation, net::use_awaitable);
}

}  // namespace cg::async
