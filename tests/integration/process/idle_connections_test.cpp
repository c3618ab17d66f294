#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gateway_process.hpp"
#include "support/prometheus.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::temp_dir;
using cg::test::test_upstream;

constexpr std::size_t connections = 1000;
constexpr long rss_limit_kib = 30 * 1024;

/// Raises the soft open-file limit to `want` (within the hard limit); false if it stays lower.
/// The gateway inherits the limit.
bool allow_open_files(rlim_t want) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return false;
    }
    if (lim.rlim_cur >= want) {
        return true;
    }
    lim.rlim_cur = std::min(want, lim.rlim_max);
    return ::setrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= want;
}

TEST(IdleConnections, AThousandKeepAliveConnectionsStayUnder30MBAndAreCounted) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "a sanitizer's shadow memory makes an absolute RSS bound meaningless";
#endif
    // Each raw_client holds a socket plus its io_context's epoll, eventfd and timerfd.
    ASSERT_TRUE(allow_open_files(connections * 5 + 256)) << "RLIMIT_NOFILE too low";
    test_upstream upstream;
    temp_dir dir{"cg-idle"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    settings.workers = 2;
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const long rss_after_start = gateway.child().rss_kib();

    // In batches of 50, so what is measured is the idle client connections, not the peak of
    // a thousand simultaneous upstream exchanges (whose freed buffers glibc may keep).
    constexpr std::size_t batch = 50;
    std::vector<std::unique_ptr<raw_client>> clients;
    clients.reserve(connections);
    for (std::size_t first = 0; first < connections; first += batch) {
        for (std::size_t i = first; i < std::min(first + batch, connections); ++i) {
            clients.push_back(std::make_unique<raw_client>(gateway.proxy_port()));
            ASSERT_FALSE(
                clients.back()->send("GET /echo HTTP/1.1\r\nHost: site.test\r\n\r\n"))
                << "connection " << i;
        }
        for (std::size_t i = first; i < clients.size(); ++i) {
            const auto res = clients[i]->read_response(5s);
            ASSERT_EQ(res.status, 200U) << "connection " << i << ": " << res.ec.message();
            ASSERT_TRUE(res.keep_alive) << "connection " << i;
        }
    }
    std::this_thread::sleep_for(200ms);
    const long rss = gateway.child().rss_kib();
    const auto metrics = cg::test::http_get(gateway.admin_port(), "localhost", "/metrics");

    std::printf(
        "[ measure  ] gateway RSS after start %ld KiB, with %zu idle connections %ld KiB "
        "(%.1f KiB per connection)\n",
        rss_after_start, connections, rss,
        static_cast<double>(rss - rss_after_start) / static_cast<double>(connections));
    EXPECT_GT(rss, 0);
    EXPECT_LT(rss, rss_limit_kib);
    ASSERT_EQ(metrics.status, 200U) << metrics.ec.message();
    EXPECT_EQ(cg::test::metric(metrics.body, "cg_connections_open"),
              static_cast<double>(connections))
        << metrics.body;
    for (const auto& client : clients) {
        client->close();
    }
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
