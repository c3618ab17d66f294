#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/system/system_error.hpp>

#include "gateway_process.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::temp_dir;
using cg::test::test_upstream;
using steady = std::chrono::steady_clock;

std::string get(std::string_view target) {
    return "GET " + std::string{target} + " HTTP/1.1\r\nHost: " + std::string{cg::test::site_host} +
           "\r\n\r\n";
}

double seconds_since(steady::time_point t) {
    return std::chrono::duration<double>(steady::now() - t).count();
}

/// Tries a new connection: "refused" when connect fails, "closed" when the gateway closes it
/// without answering a request, "served STATUS" when it answers.
std::string try_new_connection(std::uint16_t port) {
    std::unique_ptr<raw_client> client;
    try {
        client = std::make_unique<raw_client>(port);
    } catch (const boost::system::system_error&) {
        return "refused";
    }
    if (client->send(get("/echo"), 1s)) {
        return "closed";
    }
    const auto res = client->read_response(2s);
    if (res.ec) {
        return "closed";
    }
    return "served " + std::to_string(res.status);
}

TEST(GracefulShutdown, SigtermLetsAnInFlightResponseFinishWhileRefusingNewConnections) {
    constexpr unsigned shutdown_timeout_ms = 4000;
    test_upstream upstream;
    temp_dir dir{"cg-shutdown"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    settings.workers = 2;
    settings.shutdown_timeout_ms = shutdown_timeout_ms;
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    raw_client idle{gateway.proxy_port()};
    ASSERT_FALSE(idle.send(get("/echo")));
    ASSERT_EQ(idle.read_response().status, 200U);
    raw_client slow{gateway.proxy_port()};
    ASSERT_FALSE(slow.send(get("/sleep/1500")));
    std::this_thread::sleep_for(200ms);

    ASSERT_TRUE(gateway.child().signal(SIGTERM));
    const auto signalled = steady::now();

    ASSERT_TRUE(gateway.child().wait_for_stdout("\"msg\":\"shutting down\"", 2s))
        << gateway.output();
    EXPECT_TRUE(idle.closed_by_peer(500ms)) << "the idle keep-alive connection stayed open";
    idle.close();
    std::this_thread::sleep_for(50ms);  // the workers close their acceptors after the log line
    const auto newcomer = try_new_connection(gateway.proxy_port());
    EXPECT_TRUE(newcomer == "refused" || newcomer == "closed") << newcomer;
    EXPECT_TRUE(gateway.child().running()) << "exited before the slow response was done";
    const auto res = slow.read_response(5s);
    slow.close();
    const auto exit = gateway.child().wait_exit(std::chrono::milliseconds{shutdown_timeout_ms});
    const auto exited_after = seconds_since(signalled);

    ASSERT_FALSE(res.ec) << res.ec.message() << "\n" << gateway.output();
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.body, "slept");
    EXPECT_EQ(exit, 0) << gateway.output();
    EXPECT_LT(exited_after, shutdown_timeout_ms / 1000.0);
    EXPECT_NE(gateway.child().stdout_text().find("\"msg\":\"stopped\""), std::string::npos)
        << gateway.output();
    std::printf("[ measure  ] exited %.2f s after SIGTERM (the slow response ended ~1.3 s after)\n",
                exited_after);
}

TEST(GracefulShutdown, ExitsZeroSoonAfterTheShutdownTimeoutWhenARequestOutlastsIt) {
    test_upstream upstream;
    temp_dir dir{"cg-shutdown-timeout"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    settings.shutdown_timeout_ms = 300;
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    raw_client slow{gateway.proxy_port()};
    ASSERT_FALSE(slow.send(get("/sleep/5000")));
    std::this_thread::sleep_for(200ms);

    ASSERT_TRUE(gateway.child().signal(SIGTERM));
    const auto signalled = steady::now();
    const auto exit = gateway.child().wait_exit(4s);
    const auto exited_after = seconds_since(signalled);
    const auto res = slow.read_response(1s);

    EXPECT_EQ(exit, 0) << gateway.output();
    EXPECT_LT(exited_after, 2.0);
    EXPECT_NE(res.status, 200U) << "the 5 s response cannot have finished";
    std::printf("[ measure  ] exited %.2f s after SIGTERM with shutdown_timeout_ms 300\n",
                exited_after);
}

}  // namespace
