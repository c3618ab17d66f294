// Two gateway processes sharing one Redis (issue 11): the page views of one sequence of visits
// split between them count exactly as the same sequence through one gateway process on a Redis
// of its own. Real binaries, real redis-servers, loopback only.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_process.hpp"
#include "support/eventually.hpp"
#include "support/raw_client.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_process;
using cg::test::temp_dir;
using json = nlohmann::json;

constexpr std::string_view token = "scale-out-test-token-0123456789abcdef";

// One gateway of a group: its own dir (journal), the group's Redis socket.
struct member {
    member(std::uint16_t upstream_port, const std::filesystem::path& redis_socket) {
        cg::test::gateway_settings settings;
        settings.upstream_port = upstream_port;
        json cfg = json::parse(cg::test::gateway_config(settings));
        cfg["log"]["access"] = false;
        cfg["admin"]["token"] = token;
        cfg["redis"]["socket"] = redis_socket.string();
        cfg["analytics"]["flush_interval_ms"] = 100;
        process.emplace(dir, cfg.dump(2));
        ready = process->wait_ready(10s);
    }

    // A GET on the admin listener with the token.
    std::string admin(const std::string& target) const {
        cg::test::raw_client c{process->admin_port()};
        if (c.send("GET " + target + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                   std::string{token} + "\r\nConnection: close\r\n\r\n")) {
            return {};
        }
        return c.read_response(10s).body;
    }

    unsigned get(std::string_view target, int visitor) const {
        // A browser navigation; visitors differ by their User-Agent (all come from 127.0.0.1).
        const std::string request =
            "GET " + std::string{target} +
            " HTTP/1.1\r\nHost: " + std::string{cg::test::site_host} +
            "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0." +
            std::to_string(visitor) +
            " Safari/537.36\r\nSec-Fetch-Dest: document\r\nAccept: text/html\r\n"
            "Accept-Language: nb\r\nConnection: close\r\n\r\n";
        cg::test::raw_client c{process->proxy_port()};
        if (c.send(request)) {
            return 0;
        }
        return c.read_response(10s).status;
    }

    json stats(std::string_view report) const {
        const bool query = report.find('?') != std::string_view::npos;
        return json::parse(
            admin("/stats/api/" + std::string{report} + (query ? "&" : "?") + "site=a"), nullptr,
            false);
    }

    std::uint64_t page_views_counted() const {
        const auto body = admin("/metrics");
        const std::string series = "\ncg_analytics_page_views_total{site=\"a\"} ";
        const auto at = body.find(series);
        return at == std::string::npos ? 0 : std::stoull(body.substr(at + series.size()));
    }

    temp_dir dir{"cg-scale-out"};
    std::optional<gateway_process> process;
    bool ready = false;
};

// The User-Agent database loads at the first would-be page view: until a page view counts,
// navigations are not counted (ua_loading). Sends one (visitor 0) until it does.
void warm_up(const member& m) {
    ASSERT_TRUE(cg::test::eventually(
        [&] {
            return m.get("/page", 0) == 200 &&
                   cg::test::eventually([&] { return m.page_views_counted() >= 1; }, 300ms);
        },
        30s, 10ms));
}

TEST(ScaleOut, PageViewsSplitOverTwoGatewaysCountAsThroughOne) {
    cg::test::test_upstream upstream;
    cg::test::redis_server shared_redis;
    cg::test::redis_server own_redis;
    member one{upstream.port(), shared_redis.socket_path()};
    member two{upstream.port(), shared_redis.socket_path()};
    member alone{upstream.port(), own_redis.socket_path()};
    ASSERT_TRUE(one.ready && two.ready && alone.ready)
        << one.process->output() << two.process->output() << alone.process->output();
    warm_up(one);
    warm_up(two);
    warm_up(alone);

    // 12 visitors, each reading /page/jobs twice and /page/about once; their requests
    // alternate between the two gateways, so most visitors are seen by both.
    const std::vector<std::string> visit{"/page/jobs", "/page/about", "/page/jobs?utm_source=news"};
    int n = 0;
    for (int v = 1; v <= 12; ++v) {
        for (const auto& target : visit) {
            const member& split = (n++ % 2 == 0) ? one : two;
            ASSERT_EQ(split.get(target, v), 200U);
            ASSERT_EQ(alone.get(target, v), 200U);
        }
    }
    // One visitor 0 page view per gateway in the warm-ups: 3 against 1 + 1 on the group.
    ASSERT_EQ(alone.get("/page", 0), 200U);

    const int expected_views = 12 * 3 + 2;
    json group;
    json single;
    ASSERT_TRUE(cg::test::eventually(
        [&] {
            group = one.stats("summary");
            single = alone.stats("summary");
            return group.value("page_views", 0) == expected_views &&
                   single.value("page_views", 0) == expected_views;
        },
        20s, 100ms))
        << group.dump() << "\n"
        << single.dump();
    EXPECT_EQ(group["visitors"], 13);  // visitor 0 and twelve, each once though seen by both
    EXPECT_EQ(single["visitors"], 13);
    EXPECT_EQ(two.stats("summary")["page_views"], expected_views);  // both read the same totals

    for (const std::string report : {"pages", "campaigns?by=source"}) {
        const auto g = one.stats(report);
        const auto s = alone.stats(report);
        ASSERT_TRUE(g.contains("rows")) << g.dump();
        EXPECT_EQ(g["rows"], s["rows"]) << report << "\n" << g.dump() << "\n" << s.dump();
        EXPECT_EQ(g["other"], s["other"]) << report;
    }
    const auto pages = one.stats("pages");
    ASSERT_GE(pages["rows"].size(), 2U) << pages.dump();
    EXPECT_EQ(pages["rows"][0]["name"], "/page/jobs");
    EXPECT_EQ(pages["rows"][0]["page_views"], 24);
    EXPECT_EQ(pages["rows"][0]["visitors"], 12);

    EXPECT_EQ(one.process->stop(), 0);
    EXPECT_EQ(two.process->stop(), 0);
    EXPECT_EQ(alone.process->stop(), 0);
}

}  // namespace
