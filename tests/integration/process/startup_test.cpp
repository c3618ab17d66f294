#include <chrono>
#include <cstdint>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway_process.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::temp_dir;
using cg::test::test_upstream;
using ::testing::HasSubstr;
using ::testing::Not;

/// A port that was free a moment ago. Only for the listener these tests do not look at, so
/// that they do not depend on port 0 being accepted.
std::uint16_t recently_free_port() {
    net::io_context ioc;
    const tcp::acceptor probe{ioc, tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), 0}};
    return probe.local_endpoint().port();
}

TEST(Startup, ListensOnPortsTheKernelChoosesWhenConfiguredWithPortZero) {
    test_upstream upstream;
    temp_dir dir{"cg-startup"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();

    gateway_process gateway{dir, gateway_config(settings)};

    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    EXPECT_NE(gateway.proxy_port(), gateway.admin_port());
    const auto res = cg::test::http_get(gateway.proxy_port(), cg::test::site_host, "/echo");
    EXPECT_EQ(res.status, 200U) << res.ec.message();
    const auto health = cg::test::http_get(gateway.admin_port(), "localhost", "/healthz");
    EXPECT_EQ(health.status, 200U) << health.ec.message();
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

enum class taken { proxy, admin };

// Holds one listener's port, starts the gateway, and expects a non-zero exit that names the
// address: with two listeners, an operator must be told which one is the problem.
void expect_refusal_naming_taken_port(taken which) {
    net::io_context ioc;
    const tcp::acceptor holder{ioc, tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), 0}};
    const auto held = holder.local_endpoint().port();
    temp_dir dir{"cg-startup"};
    cg::test::gateway_settings settings;
    settings.upstream_port = 9;
    settings.listen_port = which == taken::proxy ? held : recently_free_port();
    settings.admin_port = which == taken::admin ? held : recently_free_port();

    gateway_process gateway{dir, gateway_config(settings)};
    const auto exit = gateway.child().wait_exit(5s);

    ASSERT_TRUE(exit.has_value()) << "still running on a port that is taken\n" << gateway.output();
    EXPECT_NE(*exit, 0);
    EXPECT_THAT(gateway.child().stderr_text(), HasSubstr("cannot start"));
    EXPECT_THAT(gateway.child().stderr_text(), HasSubstr("127.0.0.1:" + std::to_string(held)));
    EXPECT_THAT(gateway.child().stdout_text(), Not(HasSubstr("\"msg\":\"listening\"")));
}

TEST(Startup, ExitsNonZeroNamingTheProxyAddressWhenItsPortIsTaken) {
    expect_refusal_naming_taken_port(taken::proxy);
}

TEST(Startup, ExitsNonZeroNamingTheAdminAddressWhenItsPortIsTaken) {
    expect_refusal_naming_taken_port(taken::admin);
}

}  // namespace
