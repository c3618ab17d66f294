// An upstream named by a host name follows its DNS entry (issue 11, resolve_interval_ms): the
// real binary runs in a mount namespace of its own whose /etc/hosts is a file of the test's,
// and the test moves the name from one loopback address to another.
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "gateway_process.hpp"
#include "support/eventually.hpp"
#include "support/raw_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_keys.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::temp_dir;
using cg::test::test_upstream;

std::string config_for(std::uint16_t port) {
    return R"({
  "listen": {"address": "127.0.0.1", "port": 0},
  "admin": {"address": "127.0.0.1", "port": 0},
  "workers": 1,
  "log": {"level": "info", "access": false},
  "consent": {"keys": [")" +
           std::string{cg::test::test_consent_key} + R"("],
              "journal": {"path": "consent-journal.jsonl"}},
  "redis": {"socket": "redis.sock"},
  "sites": [
    {"name": "a", "hosts": [")" +
           std::string{cg::test::site_host} + R"("],
     "upstream": "http://upstream.test:)" +
           std::to_string(port) + R"(",
     "upstream_options": {"resolve_interval_ms": 100},
     "analytics": {"enabled": false}}
  ]
}
)";
}

// A private /etc/hosts needs root and a kernel that lets it make a mount namespace.
bool can_bind_hosts() {
    return ::geteuid() == 0 && std::system("unshare -m true >/dev/null 2>&1") == 0;
}

TEST(UpstreamDns, FollowsANameToItsNewAddress) {
    if (!can_bind_hosts()) {
        GTEST_SKIP() << "needs root and unshare -m (a private /etc/hosts)";
    }
    test_upstream first;
    cg::test::test_upstream_options second_at;
    second_at.address = "127.0.0.2";
    second_at.port = first.port();
    test_upstream second{second_at};

    temp_dir t{"cg-dns"};
    const auto hosts = t.path() / "hosts";
    cg::test::write_file(hosts, "127.0.0.1 upstream.test\n");
    gateway_process gateway{t,
                            config_for(first.port()),
                            {"unshare", "-m", "sh", "-c",
                             R"(mount --bind "$0" /etc/hosts && exec "$@")", hosts.string()}};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();

    raw_client client{gateway.proxy_port()};
    const auto get = [&] {
        return !client.send("GET /echo HTTP/1.1\r\nHost: site.test\r\n\r\n") &&
               client.read_response().status == 200;
    };
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(get()) << gateway.output();
    }
    EXPECT_EQ(first.requests_served(), 3U);

    // Rewritten in place: the bind mount shows the same file. The pooled connection to the
    // old address must not be reused once the name has moved.
    cg::test::write_file(hosts, "127.0.0.2 upstream.test\n");
    ASSERT_TRUE(
        cg::test::eventually([&] { return get() && second.requests_served() > 0; }, 5s, 50ms))
        << gateway.output();
    const auto stayed = first.requests_served();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(get());
    }
    EXPECT_EQ(first.requests_served(), stayed);
    EXPECT_GE(second.requests_served(), 6U);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
