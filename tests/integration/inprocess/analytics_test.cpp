// The analytics tap through real sockets (issue 10): every answer of a site with analytics on is
// classified after it was sent, and /metrics says how many were page views and why the others
// were not. Counting only: nothing is stored yet. The User-Agent database loads at the first
// would-be page view.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/eventually.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view chrome =
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36\r\n";
constexpr std::string_view navigation =
    "Sec-Fetch-Dest: document\r\nAccept: text/html,*/*;q=0.8\r\nAccept-Language: nb\r\n";

raw_response get(const proxied_site& s, std::string_view target, std::string_view fields) {
    auto client = s.connect();
    EXPECT_FALSE(client.send(get_request(target, proxied_site::host, fields)));
    return client.read_response(10s);
}

unsigned long long metric(const proxied_site& s, std::string_view series) {
    const auto m = admin_get(s.proxy.admin_port(), "/metrics").body;
    const auto at = m.find(std::string{series} + " ");
    return at == std::string::npos ? ~0ULL : std::stoull(m.substr(at + series.size() + 1));
}

std::string not_counted(std::string_view reason) {
    return "cg_analytics_not_counted_total{site=\"demo\",reason=\"" + std::string{reason} + "\"}";
}

// Sends browser navigations until one is counted: the User-Agent database loads at the first
// would-be page view, on its own thread, and until then such answers count as ua_loading.
void warm_up(const proxied_site& s) {
    const auto page_views = [&] {
        return metric(s, "cg_analytics_page_views_total{site=\"demo\"}");
    };
    EXPECT_TRUE(eventually(
        [&] {
            EXPECT_EQ(get(s, "/page", std::string{chrome} + std::string{navigation}).status, 200U);
            return eventually([&] { return page_views() >= 1; }, 200ms);
        },
        20s, 10ms));
    EXPECT_EQ(page_views(), 1U);
}

TEST(Analytics, CountsABrowsersPageViewAndNamesWhyTheRestAreNone) {
    proxied_site s;
    EXPECT_EQ(get(s, "/page", std::string{chrome} + std::string{navigation}).status, 200U);
    EXPECT_TRUE(eventually([&] { return metric(s, not_counted("ua_loading")) >= 1U; }));
    warm_up(s);
    const auto loading = metric(s, not_counted("ua_loading"));
    EXPECT_EQ(get(s, "/page?utm_source=x", std::string{chrome} + std::string{navigation}).status,
              200U);
    EXPECT_EQ(get(s, "/page", "User-Agent: curl/8.5.0\r\n" + std::string{navigation}).status, 200U);
    EXPECT_EQ(
        get(s, "/page", std::string{chrome} + "Sec-Fetch-Dest: document\r\nAccept: text/html\r\n")
            .status,
        200U);
    EXPECT_EQ(
        get(s, "/page", std::string{chrome} + "Sec-Fetch-Dest: iframe\r\nAccept-Language: nb\r\n")
            .status,
        200U);
    EXPECT_EQ(
        get(s, "/page", std::string{chrome} + std::string{navigation} + "Sec-Purpose: prefetch\r\n")
            .status,
        200U);
    EXPECT_EQ(get(s, "/page?type=text/plain", std::string{chrome} + std::string{navigation}).status,
              200U);
    EXPECT_EQ(get(s, "/page?status=404", std::string{chrome} + std::string{navigation}).status,
              404U);
    // The tap runs after each answer is sent: wait for the last one.
    EXPECT_TRUE(eventually([&] { return metric(s, not_counted("status")) == 1U; }));
    EXPECT_EQ(metric(s, "cg_analytics_page_views_total{site=\"demo\"}"), 2U);
    EXPECT_EQ(metric(s, not_counted("bot")), 1U);
    EXPECT_EQ(metric(s, not_counted("no_language")), 1U);
    EXPECT_EQ(metric(s, not_counted("not_a_page")), 1U);
    EXPECT_EQ(metric(s, not_counted("prefetch")), 1U);
    EXPECT_EQ(metric(s, not_counted("not_html")), 1U);
    EXPECT_EQ(metric(s, not_counted("method")), 0U);
    EXPECT_EQ(metric(s, not_counted("ua_loading")), loading);  // loaded: no more of those
}

TEST(Analytics, ASiteWithAnalyticsOffIsNotLookedAt) {
    proxied_site s{[](gateway::config& c) { c.sites[0].analytics.enabled = false; }};
    EXPECT_EQ(get(s, "/page", std::string{chrome} + std::string{navigation}).status, 200U);
    // The request was counted (log stages) before anything analytics would have counted.
    EXPECT_TRUE(eventually(
        [&] { return metric(s, "cg_requests_total{site=\"demo\",class=\"2xx\"}") == 1U; }));
    EXPECT_EQ(metric(s, "cg_analytics_page_views_total{site=\"demo\"}"), 0U);
    EXPECT_EQ(metric(s, not_counted("bot")), 0U);
}

}  // namespace
}  // namespace cg::test
