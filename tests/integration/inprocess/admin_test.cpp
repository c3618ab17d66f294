// The admin listener: health, readiness and Prometheus metrics, with and without a token, and
// consent's views of what upstreams set.
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy_fixture.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

bool contains(const std::string& text, std::string_view needle) {
    return text.find(needle) != std::string::npos;
}

// Well-formed UTF-8 (Unicode §3.9 table 3-7): what a JSON parser or a Prometheus scraper needs.
bool is_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto at = [&](std::size_t k) -> unsigned {
            return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0U;
        };
        const auto cont = [&](std::size_t k) { return at(k) >= 0x80 && at(k) <= 0xBF; };
        const unsigned c = at(0);
        std::size_t n = 0;
        if (c < 0x80) {
            n = 1;
        } else if (c >= 0xC2 && c <= 0xDF && cont(1)) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2) && (c != 0xE0 || at(1) >= 0xA0) &&
                   (c != 0xED || at(1) <= 0x9F)) {
            n = 3;
        } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3) &&
                   (c != 0xF0 || at(1) >= 0x90) && (c != 0xF4 || at(1) <= 0x8F)) {
            n = 4;
        } else {
            return false;
        }
        i += n;
    }
    return true;
}

// An origin that answers every request on a connection with the same bytes and closes it: for
// what test_upstream never sends, such as a Set-Cookie whose name is not UTF-8.
class canned_upstream {
  public:
    explicit canned_upstream(std::string answer)
        : answer_(std::move(answer)),
          acceptor_(ioc_, tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), 0}) {
        net::co_spawn(ioc_, accept(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~canned_upstream() {
        ioc_.stop();
        thread_.join();
    }
    canned_upstream(const canned_upstream&) = delete;
    canned_upstream& operator=(const canned_upstream&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  private:
    static constexpr auto use_ec = net::as_tuple(net::use_awaitable);

    net::awaitable<void> accept() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_ec);
            if (ec) {
                co_return;
            }
            net::co_spawn(ioc_, answer(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> answer(tcp::socket socket) {
        std::string head;
        auto [ec, n] =
            co_await net::async_read_until(socket, net::dynamic_buffer(head), "\r\n\r\n", use_ec);
        if (!ec) {
            co_await net::async_write(socket, net::buffer(answer_), use_ec);
        }
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
    }

    std::string answer_;
    net::io_context ioc_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

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

// Issue 8: with Redis down and the journal full every decision is refused (503); readiness
// must say so, so a balancer sends visitors to a gateway where they can consent or withdraw.
TEST(Admin, IsNotReadyWhileTheConsentStoreRefusesDecisions) {
    // Nothing listens on the fixture's Redis socket; a journal of one byte takes no event.
    proxied_site s{[](gateway::config& cfg) { cfg.consent.journal.max_bytes = 1; }};
    const auto before = admin_get(s.proxy.admin_port(), "/readyz");
    ASSERT_EQ(before.status, 200U) << before.body;
    EXPECT_TRUE(contains(before.body, R"("decisions":"accepted")")) << before.body;

    const std::string body = R"({"action":"accept-all"})";
    auto client = s.connect();
    ASSERT_FALSE(client.send("POST /_consent HTTP/1.1\r\nHost: site.test\r\n"
                             "Origin: http://site.test\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto refused = client.read_response();
    ASSERT_EQ(refused.status, 503U) << refused.body;

    const auto after = admin_get(s.proxy.admin_port(), "/readyz");
    EXPECT_EQ(after.status, 503U) << after.body;
    EXPECT_TRUE(contains(after.body, R"("decisions":"refused")")) << after.body;
}

TEST(Admin, KeepsHealthAndReadinessOpenWhenTokenIsConfigured) {
    proxied_site s{[](gateway::config& cfg) { cfg.admin.token = "s3cret-token"; }};

    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/healthz").status, 200U);
    EXPECT_EQ(admin_get(s.proxy.admin_port(), "/readyz").status, 200U);
}

TEST(Admin, AnswersUnknownPathWith404) {
    proxied_site s;

    const auto r = admin_get(s.proxy.admin_port(), "/nothing-here");

    EXPECT_EQ(r.status, 404U);
    EXPECT_TRUE(contains(r.body, "/metrics")) << r.body;
    EXPECT_TRUE(contains(r.body, "/consent/cookies")) << r.body;
}

TEST(Admin, AnswersAWrongMethodWith405AndAllow) {
    proxied_site s;
    raw_client client{s.proxy.admin_port()};

    ASSERT_FALSE(
        client.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 405U);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD");
}

TEST(Admin, RequiresBearerTokenForConsentViewsWhenConfigured) {
    proxied_site s{[](gateway::config& cfg) { cfg.admin.token = "s3cret-token"; }};
    const auto port = s.proxy.admin_port();

    for (const char* path : {"/consent/cookies", "/consent/counts", "/consent/nothing"}) {
        const auto without = admin_get(port, path);
        EXPECT_EQ(without.status, 401U) << path;
        EXPECT_TRUE(without.header("WWW-Authenticate").value_or("").starts_with("Bearer")) << path;
    }
    EXPECT_EQ(admin_get(port, "/consent/cookies", "s3cret-token").status, 200U);
    EXPECT_EQ(admin_get(port, "/consent/nothing", "s3cret-token").status, 404U);
}

// Issue 8: "whoever reaches the port" is no access control for consent ids and histories.
TEST(Admin, ServesNoConsentViewsWithoutAConfiguredToken) {
    proxied_site s;
    const auto port = s.proxy.admin_port();

    for (const char* path : {"/consent/cookies", "/consent/counts", "/consent/history?site=x&id=y",
                             "/consent/nothing"}) {
        const auto r = admin_get(port, path);
        ASSERT_FALSE(r.ec) << r.ec.message();
        EXPECT_EQ(r.status, 403U) << path;
        EXPECT_TRUE(contains(r.body, "admin.token")) << r.body;
    }
    EXPECT_EQ(admin_get(port, "/healthz").status, 200U);
    EXPECT_EQ(admin_get(port, "/metrics").status, 200U) << "Prometheus scrapes loopback freely";
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date, also on the admin port and on the
// error pages the gateway writes itself.
TEST(Admin, AnswersCarryADate) {
    proxied_site s;

    const auto health = admin_get(s.proxy.admin_port(), "/healthz");
    const auto missing = admin_get(s.proxy.admin_port(), "/nothing-here");

    ASSERT_FALSE(health.ec) << health.ec.message();
    const auto date = health.header("Date").value_or("");
    EXPECT_EQ(date.size(), 29U) << date;  // "Wed, 02 Dec 2026 01:02:03 GMT"
    EXPECT_TRUE(date.ends_with(" GMT")) << date;
    EXPECT_TRUE(missing.header("Date").has_value());
}

TEST(Admin, ClosesConnectionsBeyondItsCap) {
    proxied_site s{[](gateway::config& cfg) { cfg.admin.max_connections = 2; }};
    const auto port = s.proxy.admin_port();
    raw_client first{port};
    raw_client second{port};
    ASSERT_FALSE(first.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_FALSE(second.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_EQ(first.read_response().status, 200U);  // both are open and kept alive
    ASSERT_EQ(second.read_response().status, 200U);

    raw_client third{port};
    EXPECT_TRUE(third.closed_by_peer(5s)) << "a third connection is closed without an answer";
    first.close();
    second.close();

    EXPECT_TRUE(eventually([&] {
        const auto m = admin_get(port, "/metrics");
        return m.status == 200U && metric(m.body, "cg_admin_connections_refused_total") >= 1;
    }));
}

TEST(Admin, CountsAdminErrorsInMetrics) {
    proxied_site s;

    const auto r = admin_get(s.proxy.admin_port(), "/metrics");

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_EQ(metric(r.body, "cg_admin_errors_total"), 0);
}

// DESIGN §4 and STYLE §4: a cookie name from an upstream is untrusted; one that is not UTF-8
// must neither break the JSON report (nlohmann's dump throws on it) nor reach /metrics raw.
TEST(Admin, ACookieNameThatIsNotUtf8KeepsTheCookieReportAndMetricsValid) {
    canned_upstream upstream{
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: \xFFweird=1; Path=/\r\n"
        "Content-Length: 3\r\nConnection: close\r\n\r\nok\n"};
    auto cfg = loopback_config();
    cfg.admin.token = "s3cret-token";
    cfg.sites.push_back(loopback_site("demo", {"site.test"}, upstream.port()));
    inprocess_gateway gateway{std::move(cfg)};
    const std::string mangled =
        "\xEF\xBF\xBD"
        "weird";  // U+FFFD in place of the byte 0xFF
    {
        raw_client client{gateway.port()};
        ASSERT_FALSE(client.send(get_request("/")));
        const auto page = client.read_response(5s);
        ASSERT_EQ(page.status, 200U) << page.ec.message();
        EXPECT_EQ(page.header_count("Set-Cookie"), 0U) << "an unknown cookie before consent";
    }

    for (int attempt = 0; attempt < 2; ++attempt) {  // it keeps answering, not just once
        const auto report = admin_get(gateway.admin_port(), "/consent/cookies", "s3cret-token");
        ASSERT_FALSE(report.ec) << report.ec.message();
        EXPECT_EQ(report.status, 200U);
        EXPECT_TRUE(is_utf8(report.body)) << report.body;
        EXPECT_TRUE(contains(report.body, "\"unknown_cookies_seen\":{\"" + mangled + "\":1}"))
            << report.body;
    }
    const auto metrics = admin_get(gateway.admin_port(), "/metrics", "s3cret-token");
    ASSERT_FALSE(metrics.ec) << metrics.ec.message();
    EXPECT_EQ(metrics.status, 200U);
    EXPECT_TRUE(is_utf8(metrics.body));
    EXPECT_EQ(metric(metrics.body,
                     "cg_set_cookie_dropped_total{site=\"demo\",cookie=\"" + mangled + "\"}"),
              1);
}

}  // namespace
}  // namespace cg::test
