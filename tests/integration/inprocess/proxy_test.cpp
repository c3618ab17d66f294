// What a client sees through the gateway when everything works: keep-alive, pooling, framing
// conversions, hop-by-hop handling, forwarding fields, routing and large bodies.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>

#include "proxy_fixture.hpp"
#include "support/pattern.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

// The first `n` bytes of the body pattern.
TEST(Proxy, ServesFiveRequestsOnOneClientConnectionOverOnePooledUpstreamConnection) {
    proxied_site s;
    auto client = s.connect();

    for (int i = 0; i < 5; ++i) {
        ASSERT_FALSE(client.send(get_request("/echo?i=" + std::to_string(i))));
        const auto r = client.read_response();
        ASSERT_FALSE(r.ec) << "request " << i << ": " << r.ec.message();
        EXPECT_EQ(r.status, 200U);
        EXPECT_TRUE(r.keep_alive);
        EXPECT_TRUE(r.body.starts_with("GET /echo?i=" + std::to_string(i) + "\n")) << r.body;
    }

    EXPECT_EQ(s.upstream.connections_accepted(), 1U);
    EXPECT_EQ(s.upstream.requests_served(), 5U);
    EXPECT_FALSE(client.closed_by_peer(100ms));
}

TEST(Proxy, ServesConcurrentConnectionsOnTwoWorkers) {
    proxied_site s{[](gateway::config& cfg) { cfg.workers = 2; }};
    std::vector<std::unique_ptr<raw_client>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<raw_client>(s.proxy.port()));
    }

    for (int round = 0; round < 2; ++round) {
        for (auto& client : clients) {
            ASSERT_FALSE(client->send(get_request("/bytes/1000")));
        }
        for (auto& client : clients) {
            const auto r = client->read_response();
            ASSERT_FALSE(r.ec) << r.ec.message();
            EXPECT_EQ(r.status, 200U);
            EXPECT_EQ(r.body, pattern(1000));
        }
    }

    EXPECT_EQ(s.upstream.requests_served(), 12U);
}

TEST(Proxy, RelaysChunkedResponseAsChunksToHttp11Client) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/chunked/200000?size=777")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(r.chunked);
    EXPECT_FALSE(r.header("Content-Length"));
    EXPECT_EQ(r.body_bytes, 200000U);
    EXPECT_EQ(r.body_fnv1a, pattern_fnv1a(200000));
    EXPECT_EQ(r.body.substr(0, 1000), pattern(1000));
    EXPECT_TRUE(r.keep_alive);
}

// Read as raw bytes: a body delimited by the close is only complete once EOF has arrived.
TEST(Proxy, RelaysChunkedResponseUnchunkedToHttp10ClientAndCloses) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET /chunked/200000?size=777 HTTP/1.0\r\nHost: site.test\r\n\r\n"));
    boost::system::error_code ec;
    const std::string bytes = client.read_until_eof(10s, &ec);

    EXPECT_EQ(ec, boost::asio::error::eof) << ec.message();
    const auto end_of_head = bytes.find("\r\n\r\n");
    ASSERT_NE(end_of_head, std::string::npos) << bytes.substr(0, 200);
    const std::string head = bytes.substr(0, end_of_head + 2);
    const std::string body = bytes.substr(end_of_head + 4);
    EXPECT_TRUE(head.starts_with("HTTP/1.0 200 ")) << head;
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
    EXPECT_EQ(body.size(), 200000U);
    EXPECT_EQ(body == pattern(200000), true) << "the body differs from the pattern";
}

TEST(Proxy, KeepsHttp10ClientWithKnownLengthAliveWhenAsked) {
    proxied_site s;
    auto client = s.connect();

    for (int i = 0; i < 2; ++i) {
        ASSERT_FALSE(client.send(
            "GET /bytes/100 HTTP/1.0\r\nHost: site.test\r\nConnection: keep-alive\r\n\r\n"));
        const auto r = client.read_response();
        ASSERT_FALSE(r.ec) << r.ec.message();
        EXPECT_EQ(r.status, 200U);
        EXPECT_EQ(r.body, pattern(100));
        EXPECT_TRUE(r.keep_alive);
    }
}

TEST(Proxy, AnswersHeadWithHeadersOnlyAndKeepsConnectionUsable) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("HEAD /bytes/1000 HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    const auto head = client.read_response(10s, read_options{.head = true});
    ASSERT_FALSE(head.ec) << head.ec.message();
    EXPECT_EQ(head.status, 200U);
    EXPECT_EQ(head.header("Content-Length"), "1000");
    EXPECT_EQ(head.body, "");

    // Had any body followed the HEAD answer, it would be read as this response's status line.
    ASSERT_FALSE(client.send(get_request("/bytes/10")));
    const auto next = client.read_response();
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.status, 200U);
    EXPECT_EQ(next.body, pattern(10));
}

TEST(Proxy, RelaysBodilessStatusesAndKeepsConnectionUsable) {
    proxied_site s;
    auto client = s.connect();

    for (const unsigned status : {204U, 304U}) {
        ASSERT_FALSE(client.send(get_request("/status/" + std::to_string(status))));
        const auto bodiless = client.read_response();
        ASSERT_FALSE(bodiless.ec) << status << ": " << bodiless.ec.message();
        EXPECT_EQ(bodiless.status, status);
        EXPECT_EQ(bodiless.body, "");
        EXPECT_FALSE(bodiless.chunked) << status;

        ASSERT_FALSE(client.send(get_request("/echo")));
        const auto next = client.read_response();
        ASSERT_FALSE(next.ec) << "after " << status << ": " << next.ec.message();
        EXPECT_EQ(next.status, 200U);
        EXPECT_TRUE(next.body.starts_with("GET /echo\n"));
    }
    EXPECT_EQ(s.upstream.connections_accepted(), 1U);
}

TEST(Proxy, AnswersPipelinedRequestsInOrder) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(
        client.send(get_request("/echo?n=1") + get_request("/bytes/5") + get_request("/echo?n=3")));
    const auto first = client.read_response();
    const auto second = client.read_response();
    const auto third = client.read_response();

    ASSERT_FALSE(first.ec) << first.ec.message();
    ASSERT_FALSE(second.ec) << second.ec.message();
    ASSERT_FALSE(third.ec) << third.ec.message();
    EXPECT_TRUE(first.body.starts_with("GET /echo?n=1\n")) << first.body;
    EXPECT_EQ(second.body, "abcde");
    EXPECT_TRUE(third.body.starts_with("GET /echo?n=3\n")) << third.body;
}

TEST(Proxy, AnswersPipelinedRequestAfterBodyInOrder) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n\r\n"
                    "abcde" +
                    get_request("/echo?n=2")));
    const auto first = client.read_response();
    const auto second = client.read_response();

    ASSERT_FALSE(first.ec) << first.ec.message();
    ASSERT_FALSE(second.ec) << second.ec.message();
    EXPECT_EQ(first.body, upload_reply_for_pattern(5));
    EXPECT_TRUE(second.body.starts_with("GET /echo?n=2\n")) << second.body;
}

// --- hop-by-hop and forwarding fields -------------------------------------------------------

TEST(ProxyHeaders, RemovesHopByHopFieldsFromResponse) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/headers")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, "headers");
    for (const char* name : {"Keep-Alive", "X-Hop", "Proxy-Authenticate", "Trailer", "Upgrade"}) {
        EXPECT_FALSE(r.header(name)) << name << ": " << r.header(name).value_or("");
    }
    EXPECT_EQ(r.header("X-End"), "kept");
    EXPECT_TRUE(r.keep_alive);
}

TEST(ProxyHeaders, RemovesHopByHopFieldsFromRequest) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo", "site.test",
                                         "Connection: close, X-Secret\r\n"
                                         "X-Secret: 1\r\n"
                                         "TE: trailers\r\n"
                                         "Proxy-Authorization: x\r\n"
                                         "Keep-Alive: 300\r\n"
                                         "X-Visible: yes\r\n")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    const auto seen = s.upstream.last_request();
    for (const char* name : {"Connection", "X-Secret", "TE", "Proxy-Authorization", "Keep-Alive"}) {
        EXPECT_FALSE(received_header(seen, name)) << name;
        EXPECT_EQ(r.body.find(std::string{"\n"} + name + ": "), std::string::npos) << name;
    }
    EXPECT_EQ(received_header(seen, "X-Visible"), "yes");
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(client.closed_by_peer(2s));
}

TEST(ProxyHeaders, ReplacesForgedForwardingFieldsFromUntrustedClient) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo", "site.test:8080",
                                         "X-Forwarded-For: 6.6.6.6\r\n"
                                         "X-Forwarded-Proto: https\r\n"
                                         "X-Forwarded-Host: evil.example\r\n"
                                         "X-Real-IP: 6.6.6.6\r\n"
                                         "Forwarded: for=6.6.6.6\r\n")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    const auto seen = s.upstream.last_request();
    EXPECT_EQ(received_header(seen, "X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Proto"), "http");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Host"), "site.test:8080");
    EXPECT_FALSE(received_header(seen, "X-Real-IP"));
    EXPECT_FALSE(received_header(seen, "Forwarded"));
    EXPECT_EQ(received_header(seen, "Host"), "site.test:8080");
}

TEST(ProxyHeaders, SetsForwardingFieldsWhenClientSentNone) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    const auto seen = s.upstream.last_request();
    EXPECT_EQ(received_header(seen, "X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Proto"), "http");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Host"), "site.test");
}

TEST(ProxyHeaders, AppendsToForwardingChainOfTrustedProxy) {
    proxied_site s{[](gateway::config& cfg) {
        cfg.trusted_proxies.push_back(
            gateway::cidr{boost::asio::ip::make_address("127.0.0.1"), 32});
    }};
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo", "site.test",
                                         "X-Forwarded-For: 6.6.6.6\r\n"
                                         "X-Forwarded-Proto: https\r\n"
                                         "X-Forwarded-Host: www.example.no\r\n")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    const auto seen = s.upstream.last_request();
    EXPECT_EQ(received_header(seen, "X-Forwarded-For"), "6.6.6.6, 127.0.0.1");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Proto"), "https");
    EXPECT_EQ(received_header(seen, "X-Forwarded-Host"), "www.example.no");
}

// --- routing --------------------------------------------------------------------------------

TEST(ProxyRouting, SendsEachHostToItsOwnUpstream) {
    test_upstream a;
    test_upstream b;
    auto cfg = loopback_config();
    cfg.sites.push_back(loopback_site("a", {"a.test"}, a.port()));
    cfg.sites.push_back(loopback_site("b", {"b.test"}, b.port()));
    inprocess_gateway proxy{std::move(cfg)};
    raw_client client{proxy.port()};

    for (const char* host : {"a.test", "b.test", "A.Test", "b.test:8080"}) {
        ASSERT_FALSE(client.send(get_request("/echo?via=" + std::string{host}, host)));
        const auto r = client.read_response();
        ASSERT_FALSE(r.ec) << host << ": " << r.ec.message();
        EXPECT_EQ(r.status, 200U) << host;
    }

    EXPECT_EQ(a.requests_served(), 2U);
    EXPECT_EQ(b.requests_served(), 2U);
    EXPECT_EQ(a.connections_accepted(), 1U);
    EXPECT_EQ(b.connections_accepted(), 1U);
    EXPECT_EQ(a.last_request().target, "/echo?via=A.Test");
    EXPECT_EQ(received_header(a.last_request(), "Host"), "A.Test");
    EXPECT_EQ(b.last_request().target, "/echo?via=b.test:8080");
    EXPECT_EQ(received_header(b.last_request(), "Host"), "b.test:8080");
}

TEST(ProxyRouting, AnswersUnknownHostWith421Page) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo", "other.test")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 421U);
    EXPECT_TRUE(r.header("Content-Type").value_or("").starts_with("text/html"));
    EXPECT_NE(r.body.find("<html"), std::string::npos) << r.body;
    EXPECT_EQ(s.upstream.requests_served(), 0U);
}

TEST(ProxyRouting, RoutesAbsoluteFormByItsAuthorityNotByHost) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET http://evil.example/echo HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 421U);
    EXPECT_EQ(s.upstream.requests_served(), 0U);
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

TEST(ProxyRouting, ForwardsAbsoluteFormForConfiguredHostInOriginForm) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET http://site.test/echo?x=1 HTTP/1.1\r\nHost: other.test\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(r.body.starts_with("GET /echo?x=1\n")) << r.body;
    const auto seen = s.upstream.last_request();
    EXPECT_EQ(seen.target, "/echo?x=1");
    // RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host.
    EXPECT_EQ(received_header(seen, "Host"), "site.test");
}

// RFC 9112 §3.2.1: an empty path is sent as "/" in origin-form.
TEST(ProxyRouting, ForwardsAbsoluteFormWithoutPathAsSlash) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET http://site.test HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(s.upstream.requests_served(), 1U);
    EXPECT_EQ(s.upstream.last_request().target, "/");
}

TEST(ProxyRouting, ForwardsAbsoluteFormWithQueryButNoPathAsSlashAndQuery) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET http://site.test?x=1 HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    if (r.status != 400) {  // refusing the target would be fine too
        EXPECT_EQ(s.upstream.requests_served(), 1U);
        EXPECT_EQ(s.upstream.last_request().target, "/?x=1");
    }
}

TEST(ProxyRouting, RefusesConnectWith405) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("CONNECT site.test:443 HTTP/1.1\r\nHost: site.test:443\r\n\r\n"));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 405U);
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

// --- pooled connections the upstream has closed ---------------------------------------------

TEST(ProxyPool, ReplacesPooledConnectionTheUpstreamClosedBeforeGet) {
    proxied_site s;
    s.upstream.set_idle_close(100ms);
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo?n=1")));
    const auto first = client.read_response();
    ASSERT_EQ(first.status, 200U) << first.ec.message();
    ASSERT_TRUE(eventually([&] { return s.upstream.open_connections() == 0; }))
        << "the upstream kept its idle connection open";
    std::this_thread::sleep_for(50ms);  // let the FIN reach the gateway's pooled socket

    ASSERT_FALSE(client.send(get_request("/echo?n=2")));
    const auto second = client.read_response();

    ASSERT_FALSE(second.ec) << second.ec.message();
    EXPECT_EQ(second.status, 200U);
    EXPECT_TRUE(second.body.starts_with("GET /echo?n=2\n"));
    EXPECT_EQ(s.upstream.connections_accepted(), 2U);
    EXPECT_EQ(await_metric(s.proxy.admin_port(), R"(cg_upstream_connects_total{site="demo"})", 2),
              2);
    EXPECT_EQ(metric(admin_get(s.proxy.admin_port(), "/metrics").body,
                     R"(cg_upstream_errors_total{site="demo",kind="reset"})"),
              0);
}

TEST(ProxyPool, ReplacesPooledConnectionTheUpstreamClosedBeforePost) {
    proxied_site s;
    s.upstream.set_idle_close(100ms);
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo")));
    ASSERT_EQ(client.read_response().status, 200U);
    ASSERT_TRUE(eventually([&] { return s.upstream.open_connections() == 0; }));
    std::this_thread::sleep_for(50ms);

    const auto r = upload_pattern(client, 1000);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, upload_reply_for_pattern(1000));
    EXPECT_EQ(s.upstream.connections_accepted(), 2U);
}

// --- large bodies ---------------------------------------------------------------------------

TEST(ProxyBodies, UploadsFiveMegabytesWithContentLength) {
    proxied_site s;
    auto client = s.connect();
    constexpr std::uint64_t size = 5'000'000;

    const auto r = upload_pattern(client, size, 30s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, upload_reply_for_pattern(size));
}

TEST(ProxyBodies, UploadsThreeMegabytesChunked) {
    proxied_site s;
    auto client = s.connect();
    constexpr std::uint64_t size = 3'000'000;

    ASSERT_FALSE(client.send(
        "POST /upload HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n"));
    ASSERT_FALSE(client.send_pattern_chunked(size, 10'000));
    const auto r = client.read_response(30s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, upload_reply_for_pattern(size));
    EXPECT_EQ(s.upstream.last_request().body_bytes, size);
}

TEST(ProxyBodies, DownloadsFiveMegabytesIntact) {
    proxied_site s;
    auto client = s.connect();
    constexpr std::uint64_t size = 5'000'000;

    ASSERT_FALSE(client.send(get_request("/bytes/" + std::to_string(size))));
    const auto r = client.read_response(30s, read_options{.count_body_only = true});

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(size));
    EXPECT_EQ(r.body_bytes, size);
    EXPECT_EQ(r.body_fnv1a, pattern_fnv1a(size));
}

}  // namespace
}  // namespace cg::test

namespace cg::test {
namespace {

TEST(ProxyUpgrade, RelaysTheSwitchingProtocolsHeadWithItsUpgradePair) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("GET /ws HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
    const auto r = client.read_response(std::chrono::seconds{5});
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 101U);
    EXPECT_EQ(r.header("Upgrade").value_or(""), "websocket");
    EXPECT_EQ(r.header("Sec-WebSocket-Accept").value_or(""), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace cg::test
