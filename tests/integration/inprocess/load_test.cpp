// Concurrency and upstream churn: many keep-alive clients on two workers while the upstream
// closes every connection after a few requests. Every request must still succeed, bodies
// intact; stale pooled connections are the gateway's problem, never the client's.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/pattern.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::get_request;
using cg::test::pattern_fnv1a;
using cg::test::proxied_site;
using cg::test::raw_client;

TEST(ProxyLoad, EveryRequestSucceedsWhileTheUpstreamKeepsClosingConnections) {
    proxied_site s{[](cg::gateway::config& cfg) { cfg.workers = 2; }};
    s.upstream.set_max_requests_per_connection(3);
    constexpr int clients = 16;
    constexpr int requests_each = 40;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
        threads.emplace_back([&, t] {
            raw_client client = s.connect();
            for (int i = 0; i < requests_each; ++i) {
                const std::uint64_t n = 1000U + static_cast<std::uint64_t>(t * 997 + i * 131);
                const auto target = (i % 3 == 0 ? "/chunked/" : "/bytes/") + std::to_string(n);
                if (client.send(get_request(target))) {
                    failed.fetch_add(1);
                    return;
                }
                const auto r = client.read_response(5s, {.count_body_only = true});
                if (r.ec || r.status != 200 || r.body_bytes != n ||
                    r.body_fnv1a != pattern_fnv1a(n)) {
                    failed.fetch_add(1);
                    return;
                }
                ok.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(ok.load(), clients * requests_each);
    // The upstream closed after every third request, so the gateway needed many connections.
    EXPECT_GE(s.upstream.connections_accepted(),
              static_cast<std::size_t>(clients * requests_each / 3));
}

}  // namespace
