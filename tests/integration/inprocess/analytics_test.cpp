// The analytics tap through real sockets (issue 10): every answer of a site with analytics on is
// classified after it was sent, and /metrics says how many were page views and why the others
// were not. Counting only: nothing is stored yet. The User-Agent database loads at the first
// would-be page view.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy_fixture.hpp"
#include "support/eventually.hpp"
#include "support/redis_server.hpp"

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

constexpr std::string_view token = "analytics-test-token-0123456789abcdef";

unsigned long long metric(const proxied_site& s, std::string_view series) {
    const auto m = admin_get(s.proxy.admin_port(), "/metrics", token).body;
    const auto at = m.find("\n" + std::string{series} + " ");  // a sample, not its # HELP
    return at == std::string::npos ? ~0ULL : std::stoull(m.substr(at + series.size() + 2));
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

nlohmann::json stats(const proxied_site& s, const std::string& target) {
    const auto r = admin_get(s.proxy.admin_port(), target, token);
    EXPECT_EQ(r.status, 200U) << target << ": " << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
}

std::string browser(int n) {
    return "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0." +
           std::to_string(n) + " Safari/537.36\r\n";
}

// Issue 10 end to end: page views go from the tap through the Redis writer to the statistics
// API; a row of fewer than k visitors is never named (C13); Redis holds no address, no
// User-Agent and no visitor id outside HyperLogLogs; the day key expires within 25 hours.
TEST(Analytics, C13PageViewsReachTheStatsApiAndSmallGroupsStayHidden) {
    proxied_site s{[](gateway::config& c) {
        c.analytics.flush_interval_ms = 100;
        c.admin.token = std::string{token};
    }};
    redis_server::options o;
    o.dir = s.proxy.dir();
    redis_server redis{o};
    warm_up(s);
    for (int v = 1; v <= 6; ++v) {  // six visitors read /jobs, two pages each
        for (int i = 0; i < 2; ++i) {
            EXPECT_EQ(get(s, "/page/jobs?utm_source=news&fbclid=x", browser(v) + std::string{navigation})
                          .status,
                      200U);
        }
    }
    EXPECT_EQ(get(s, "/page/rare", browser(99) + std::string{navigation}).status, 200U);
    EXPECT_EQ(get(s, "/page/jobs", browser(100) + std::string{navigation} + "Sec-GPC: 1\r\n").status,
              200U);
    nlohmann::json summary;
    EXPECT_TRUE(eventually(
        [&] {
            summary = stats(s, "/stats/api/summary?site=demo");
            return summary.value("page_views", 0) == 15;
        },
        15s));
    EXPECT_EQ(summary["page_views"], 15) << summary.dump();
    EXPECT_EQ(summary["anonymous_page_views"], 1);
    EXPECT_EQ(summary["visitors"], 8);  // the warm-up's, six, the rare page's; not the GPC one
    EXPECT_EQ(summary["visits"], 8);
    EXPECT_EQ(summary["visitors_kind"], "daily");

    const auto pages = stats(s, "/stats/api/pages?site=demo");
    ASSERT_EQ(pages["rows"].size(), 1U) << pages.dump();
    EXPECT_EQ(pages["rows"][0]["name"], "/page/jobs");
    EXPECT_EQ(pages["rows"][0]["visitors"], 6);
    EXPECT_EQ(pages["rows"][0]["page_views"], 12);
    EXPECT_TRUE(pages["other"].is_null());  // /page and /rare-page: 2 visitors, under k
    const auto csv = admin_get(s.proxy.admin_port(), "/stats/api/pages?site=demo&format=csv", token);
    EXPECT_EQ(csv.body, "name,visitors,page_views\r\n\"/page/jobs\",6,12\r\n");
    const auto sources = stats(s, "/stats/api/campaigns?site=demo&by=source");
    ASSERT_EQ(sources["rows"].size(), 1U) << sources.dump();
    EXPECT_EQ(sources["rows"][0]["name"], "news");
    EXPECT_EQ(stats(s, "/stats/api/realtime?site=demo")["visitors_last_5_min"], 8);
    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/stats/api/pages?site=demo&from=2026-02-30", token)
                  .status,
              400U);
    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/stats/api/pages?site=nope", token).status, 404U);
    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/stats/api/pages?site=demo").status, 401U);

    // Nothing identifying in Redis: every key and every string value.
    const auto sock = redis.dir() / "redis.sock";
    const auto keys = redis_command(sock, {"KEYS", "*"});
    ASSERT_FALSE(keys.elements.empty());
    bool day_key = false;
    for (const auto& k : keys.elements) {
        EXPECT_EQ(k.text.find("127.0.0.1"), std::string::npos) << k.text;
        EXPECT_EQ(k.text.find("Mozilla"), std::string::npos) << k.text;
        EXPECT_EQ(k.text.find("fbclid"), std::string::npos) << k.text;
        const auto type = redis_command(sock, {"TYPE", k.text}).text;
        if (k.text.ends_with(":key")) {
            day_key = true;
            const auto ttl = redis_command(sock, {"TTL", k.text}).integer;
            EXPECT_GT(ttl, 0);
            EXPECT_LE(ttl, 25 * 3600);  // at most 25 hours
        } else if (k.text.find("a:{") != std::string::npos) {
            EXPECT_GT(redis_command(sock, {"TTL", k.text}).integer, 0) << k.text;  // C7
        }
        if (type == "hash") {
            const auto all = redis_command(sock, {"HGETALL", k.text});
            for (const auto& e : all.elements) {
                EXPECT_EQ(e.text.find("127.0.0.1"), std::string::npos) << e.text;
                EXPECT_EQ(e.text.find("Mozilla"), std::string::npos) << e.text;
            }
        }
    }
    EXPECT_TRUE(day_key);
}

// Issue 10: two gateways sharing one Redis (and so one day key) count like one: a visitor seen
// by both is one unique visitor, and the halves add up to the whole.
TEST(Analytics, TwoGatewaysFedHalvesOfTheTrafficCountLikeOne) {
    redis_server redis;
    const auto adjust = [&](gateway::config& c) {
        c.analytics.flush_interval_ms = 100;
        c.admin.token = std::string{token};
        c.consent.redis.socket = redis.socket_path().string();
    };
    proxied_site a{adjust};
    proxied_site b{adjust};
    EXPECT_TRUE(eventually([&] {
        return metric(a, "cg_analytics_day_keys_unshared") == 0 &&
               metric(b, "cg_analytics_day_keys_unshared") == 0;
    }));
    warm_up(a);
    warm_up(b);
    for (int v = 1; v <= 6; ++v) {  // each visitor once through each gateway
        EXPECT_EQ(get(a, "/page/jobs", browser(v) + std::string{navigation}).status, 200U);
        EXPECT_EQ(get(b, "/page/jobs", browser(v) + std::string{navigation}).status, 200U);
    }
    nlohmann::json summary;
    EXPECT_TRUE(eventually(
        [&] {
            summary = stats(a, "/stats/api/summary?site=demo");
            return summary.value("page_views", 0) == 14;
        },
        15s));
    EXPECT_EQ(summary["page_views"], 14) << summary.dump();
    EXPECT_EQ(summary["visitors"], 7);  // the warm-up's browser and six: each once
    const auto pages = stats(b, "/stats/api/pages?site=demo");
    ASSERT_EQ(pages["rows"].size(), 1U) << pages.dump();
    EXPECT_EQ(pages["rows"][0]["visitors"], 6);
    EXPECT_EQ(pages["rows"][0]["page_views"], 12);
}

}  // namespace
}  // namespace cg::test
