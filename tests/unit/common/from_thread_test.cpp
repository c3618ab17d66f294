#include "async/from_thread.hpp"

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace cg::async {
namespace {

namespace net = boost::asio;

TEST(FromThread, ResumesOnTheAwaitingExecutorWithTheCallbacksValue) {
    net::io_context ioc;
    std::thread other;
    std::optional<std::string> got;
    std::thread::id resumed_on;

    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            got =
                co_await from_thread<std::string>([&other](std::function<void(std::string)> done) {
                    other = std::thread(
                        [done] { done("from another thread, long enough to allocate"); });
                });
            resumed_on = std::this_thread::get_id();
        },
        net::detached);
    // The pending callback keeps run() from returning before the value is back.
    ioc.run();
    other.join();

    EXPECT_EQ(got, "from another thread, long enough to allocate");
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace cg::async
