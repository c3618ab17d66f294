// Several upstream servers per site (issue 11): weights, least connections, retrying on the next
// server, passive ejection and active health checks, and what /readyz and /metrics say about
// each server. Real test_upstreams behind an in-process gateway with one worker (so the
// round-robin order is one worker's and exact).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/eventually.hpp"
#include "support/prometheus.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

struct server_spec {
    std::uint16_t port;
    unsigned weight = 1;
};

// One site "demo" for site.test over `servers`; `adjust` sets the upstream options.
gateway::config config_over(const std::vector<server_spec>& servers,
                            const std::function<void(gateway::upstream_config&)>& adjust = {}) {
    auto cfg = loopback_config(1);
    auto site = loopback_site("demo", {"site.test"}, servers.at(0).port);
    site.upstream.servers.clear();
    for (const auto& s : servers) {
        site.upstream.servers.push_back(
            {"http://127.0.0.1:" + std::to_string(s.port), "127.0.0.1", s.port, s.weight});
    }
    if (adjust) {
        adjust(site.upstream);
    }
    cfg.sites.push_back(std::move(site));
    return cfg;
}

std::string server_label(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

// The value of a per-server series, e.g. cg_upstream_server_up for `port`.
std::optional<double> server_metric(std::uint16_t admin_port, std::string_view name,
                                    std::uint16_t port) {
    const auto page = admin_get(admin_port, "/metrics");
    return metric(page.body,
                  std::string(name) + "{site=\"demo\",server=\"" + server_label(port) + "\"}");
}

unsigned get_ok(raw_client& client, std::string_view target = "/echo") {
    if (client.send(get_request(target))) {
        return 0;
    }
    return client.read_response().status;
}

TEST(Upstreams, SplitsRequestsByWeight) {
    test_upstream a, b, c;
    inprocess_gateway proxy{config_over({{a.port(), 1}, {b.port(), 2}, {c.port(), 3}})};
    raw_client client{proxy.port()};
    for (int i = 0; i < 60; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(a.requests_served(), 10U);
    EXPECT_EQ(b.requests_served(), 20U);
    EXPECT_EQ(c.requests_served(), 30U);
    EXPECT_EQ(server_metric(proxy.admin_port(), "cg_upstream_server_requests_total", c.port()),
              30.0);
}

TEST(Upstreams, LeastConnectionsSendsNothingToABusyServer) {
    test_upstream a, b;
    inprocess_gateway proxy{config_over({{a.port()}, {b.port()}}, [](auto& up) {
        up.balance = gateway::balance_method::least_connections;
    })};
    raw_client slow{proxy.port()};
    ASSERT_FALSE(slow.send(get_request("/sleep/1500")));
    ASSERT_TRUE(eventually([&] { return a.requests_served() + b.requests_served() == 1; }));
    test_upstream& busy = a.requests_served() == 1 ? a : b;
    test_upstream& idle = &busy == &a ? b : a;

    raw_client client{proxy.port()};
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(busy.requests_served(), 1U);
    EXPECT_EQ(idle.requests_served(), 6U);
    EXPECT_EQ(server_metric(proxy.admin_port(), "cg_upstream_server_active", busy.port()), 1.0);
    EXPECT_EQ(slow.read_response().status, 200U);
}

TEST(Upstreams, RetriesOnTheNextServerWhenOneCannotBeConnectedTo) {
    const auto dead = closed_port();
    test_upstream live;
    // Never ejected: every other request meets the dead server first.
    inprocess_gateway proxy{
        config_over({{dead}, {live.port()}}, [](auto& up) { up.max_fails = 0; })};
    raw_client client{proxy.port()};
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    // Nothing was sent to the dead one, so a POST is safe to move on too.
    for (int i = 0; i < 2; ++i) {
        ASSERT_FALSE(
            client.send("POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n"
                        "\r\nhello"));
        const auto r = client.read_response();
        EXPECT_EQ(r.status, 200U) << i;
        EXPECT_NE(r.body.find("body-bytes: 5"), std::string::npos) << r.body;
    }
    EXPECT_EQ(live.requests_served(), 8U);
    const auto page = admin_get(proxy.admin_port(), "/metrics").body;
    EXPECT_EQ(metric(page, "cg_upstream_retries_total{site=\"demo\"}"), 4.0);
    EXPECT_EQ(metric(page, "cg_upstream_server_failures_total{site=\"demo\",server=\"" +
                               server_label(dead) + "\"}"),
              4.0);
    EXPECT_EQ(
        metric(page, "cg_upstream_server_up{site=\"demo\",server=\"" + server_label(dead) + "\"}"),
        1.0);  // max_fails 0: never taken out
}

TEST(Upstreams, EjectsAFailingServerAndTriesItAgainAfterFailTimeout) {
    const auto dead = closed_port();
    test_upstream live;
    inprocess_gateway proxy{config_over({{dead}, {live.port()}}, [](auto& up) {
        up.max_fails = 2;
        up.fail_timeout = 1000ms;
    })};
    raw_client client{proxy.port()};
    // Round-robin meets the dead server on requests 1 and 3: the second failure ejects it.
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    const auto admin = proxy.admin_port();
    EXPECT_EQ(server_metric(admin, "cg_upstream_server_up", dead), 0.0);
    EXPECT_EQ(server_metric(admin, "cg_upstream_server_ejections_total", dead), 1.0);
    const auto readyz = admin_get(admin, "/readyz").body;
    EXPECT_NE(
        readyz.find("\"" + server_label(dead) + R"(":{"reachable":false,"health":"ejected"})"),
        std::string::npos)
        << readyz;
    EXPECT_NE(readyz.find(R"("demo":"reachable")"), std::string::npos) << readyz;

    // Ejected: no more attempts on it, so no more failures.
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(server_metric(admin, "cg_upstream_server_failures_total", dead), 2.0);

    // After fail_timeout one request tries it again; one failure is enough to eject it again.
    std::this_thread::sleep_for(1100ms);
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(server_metric(admin, "cg_upstream_server_failures_total", dead), 3.0);
    EXPECT_EQ(server_metric(admin, "cg_upstream_server_ejections_total", dead), 2.0);
    EXPECT_EQ(live.requests_served(), 18U);
}

TEST(Upstreams, HealthChecksTakeAServerOutAndBringItBack) {
    test_upstream a, b;
    inprocess_gateway proxy{config_over({{a.port()}, {b.port()}}, [](auto& up) {
        up.health_check.path = "/health";
        up.health_check.interval = 50ms;
        up.health_check.timeout = 50ms;
        up.health_check.fails = 2;
        up.health_check.passes = 2;
    })};
    const auto admin = proxy.admin_port();
    ASSERT_TRUE(eventually([&] { return b.health_checks() >= 1; }));

    b.set_health(503);
    ASSERT_TRUE(
        eventually([&] { return server_metric(admin, "cg_upstream_server_up", b.port()) == 0.0; }));
    const auto readyz = admin_get(admin, "/readyz").body;
    EXPECT_NE(readyz.find(R"("health":"unhealthy")"), std::string::npos) << readyz;
    raw_client client{proxy.port()};
    const auto before = b.requests_served();
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(b.requests_served(), before);
    EXPECT_GE(*server_metric(admin, "cg_upstream_server_check_failures_total", b.port()), 2.0);

    b.set_health(200);
    ASSERT_TRUE(
        eventually([&] { return server_metric(admin, "cg_upstream_server_up", b.port()) == 1.0; }));
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(get_ok(client), 200U) << i;
    }
    EXPECT_EQ(b.requests_served(), before + 4);
}

TEST(Upstreams, AHealthCheckCarriesTheSiteHostAndAUserAgent) {
    test_upstream a;
    inprocess_gateway proxy{config_over({{a.port()}}, [](auto& up) {
        up.health_check.path = "/health";
        up.health_check.interval = 50ms;
        up.health_check.timeout = 50ms;
    })};
    ASSERT_TRUE(eventually([&] { return a.health_checks() >= 1; }));
    const auto check = a.last_health_check();
    EXPECT_EQ(check.method, "GET");
    EXPECT_EQ(check.target, "/health");
    EXPECT_EQ(received_header(check, "Host"), "site.test");
    EXPECT_EQ(received_header(check, "User-Agent"), "consent-gateway health check");
    EXPECT_EQ(a.requests_served(), 0U);
}

TEST(Upstreams, ASiteIsReadyWhileOneOfItsServersIsReachable) {
    const auto dead = closed_port();
    test_upstream live;
    inprocess_gateway proxy{config_over({{dead}, {live.port()}})};
    const auto r = admin_get(proxy.admin_port(), "/readyz");
    EXPECT_EQ(r.status, 200U) << r.body;
    EXPECT_NE(
        r.body.find(R"("servers":{"demo":{")" + server_label(dead) +
                    R"(":{"reachable":false,"health":"in_service"},")" + server_label(live.port()) +
                    R"(":{"reachable":true,"health":"in_service"}}})"),
        std::string::npos)
        << r.body;
}

TEST(Upstreams, EveryServerDownAnswers502AfterTryingEachOnce) {
    const auto d1 = closed_port();
    const auto d2 = closed_port();
    inprocess_gateway proxy{config_over({{d1}, {d2}})};
    raw_client client{proxy.port()};
    EXPECT_EQ(get_ok(client), 502U);
    const auto page = admin_get(proxy.admin_port(), "/metrics").body;
    EXPECT_EQ(metric(page, "cg_upstream_retries_total{site=\"demo\"}"), 1.0);
}

}  // namespace
}  // namespace cg::test
