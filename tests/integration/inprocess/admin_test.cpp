// The admin listener: health, readiness and Prometheus metrics, with and without a token.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, std::string_view needle) {
    return text.find(needle) != std::string::npos;
}

TEST(Admin, AnswersHealthz) {
    proxied_site s;

    const auto r = admin_get(s.proxy.admin_port(), "/healthz");

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, "ok\n");
}

TEST(Admin, IsReadyWhenEveryUpstreamIsReachable) {
    proxied_site s;

    const auto r = admin_get(s.proxy.admin_port(), "/readyz");

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(contains(r.body, R"("ready":true)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"("demo":"reachable")")) << r.body;
}

TEST(Admin, IsNotReadyWhileAnUpstreamIsDown) {
    const auto down = closed_port();
    proxied_site s{[&](gateway::config& cfg) {
        cfg.sites.push_back(loopback_site("broken", {"broken.test"}, down));
    }};

    const auto r = admin_get(s.proxy.admin_port(), "/readyz");

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 503U);
    EXPECT_TRUE(contains(r.body, R"("ready":false)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"("broken":"unreachable")")) << r.body;
    EXPECT_TRUE(contains(r.body, R"("demo":"reachable")")) << r.body;
}

TEST(Admin, CountsRequestsBySiteAndStatusClass) {
    proxied_site s;
    auto client = s.connect();
    for (int i = 0; i < 3; ++i) {
        ASSERT_FALSE(client.send(get_request("/echo")));
        ASSERT_EQ(client.read_response().status, 200U);
    }
    ASSERT_FALSE(client.send(get_request("/status/404")));
    ASSERT_EQ(client.read_response().status, 404U);

    EXPECT_EQ(
        await_metric(s.proxy.admin_port(), R"(cg_requests_total{site="demo",class="2xx"})", 3), 3);
    EXPECT_EQ(
        await_metric(s.proxy.admin_port(), R"(cg_requests_total{site="demo",class="4xx"})", 1), 1);
    const auto r = admin_get(s.proxy.admin_port(), "/metrics");
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(r.header("Content-Type").value_or("").starts_with("text/plain"));
    EXPECT_EQ(metric(r.body, R"(cg_requests_total{site="demo",class="5xx"})"), 0);
    EXPECT_EQ(metric(r.body, R"(cg_request_duration_seconds_count{site="demo"})"), 4);
    EXPECT_EQ(metric(r.body, R"(cg_request_duration_seconds_bucket{site="demo",le="+Inf"})"), 4);
    EXPECT_EQ(metric(r.body, "cg_connections_open"), 1);
    EXPECT_EQ(metric(r.body, R"(cg_upstream_pool_idle{site="demo"})"), 1);
    EXPECT_EQ(metric(r.body, R"(cg_upstream_connects_total{site="demo"})"), 1);
    EXPECT_EQ(metric(r.body, R"(cg_upstream_pool_reused_total{site="demo"})"), 3);
}

TEST(Admin, CountsRefusedRequestsAsUnrouted) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/echo", "other.test")));
    ASSERT_EQ(client.read_response().status, 421U);

    EXPECT_EQ(
        await_metric(s.proxy.admin_port(), R"(cg_requests_total{site="_unrouted",class="4xx"})", 1),
        1);
}

TEST(Admin, CountsUpstreamFailuresByKind) {
    proxied_site s{[](gateway::config& cfg) { cfg.sites[0].upstream.read_timeout = 200ms; }};
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/hang")));
    ASSERT_EQ(client.read_response(5s).status, 504U);

    EXPECT_EQ(await_metric(s.proxy.admin_port(),
                           R"(cg_upstream_errors_total{site="demo",kind="timeout"})", 1),
              1);
    EXPECT_EQ(
        await_metric(s.proxy.admin_port(), R"(cg_requests_total{site="demo",class="5xx"})", 1), 1);
}

TEST(Admin, RequiresBearerTokenForMetricsWhenConfigured) {
    proxied_site s{[](gateway::config& cfg) { cfg.admin.token = "s3cret-token"; }};
    const auto port = s.proxy.admin_port();

    const auto without = admin_get(port, "/metrics");
    const auto wrong = admin_get(port, "/metrics", "s3cret-tokem");
    const auto prefix = admin_get(port, "/metrics", "s3cret");
    const auto with = admin_get(port, "/metrics", "s3cret-token");

    ASSERT_FALSE(without.ec) << without.ec.message();
    EXPECT_EQ(without.status, 401U);
    EXPECT_TRUE(without.header("WWW-Authenticate").value_or("").starts_with("Bearer"));
    EXPECT_FALSE(contains(without.body, "cg_requests_total"));
    EXPECT_EQ(wrong.status, 401U);
    EXPECT_EQ(prefix.status, 401U);
    ASSERT_FALSE(with.ec) << with.ec.message();
    EXPECT_EQ(with.status, 200U);
    EXPECT_TRUE(contains(with.body, "cg_requests_total"));
}

TEST(Admin, KeepsHealthAndReadinessOpenWhenTokenIsConfigured) {
    proxied_site s{[](gateway::config& cfg) { cfg.admin.token = "s3cret-token"; }};

    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/healthz").status, 200U);
    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/readyz").status, 200U);
}

TEST(Admin, AnswersUnknownPathWith404) {
    proxied_site s;

    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/nothing-here").status, 404U);
}

}  // namespace
}  // namespace cg::test
