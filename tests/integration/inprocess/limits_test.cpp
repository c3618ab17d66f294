// What the gateway refuses and how: upstream failures, client limits, slow clients, and
// request-smuggling attempts. Every refused request must leave the upstream untouched.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>

#include "proxy_fixture.hpp"
#include "support/pattern.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool is_html_page(const raw_response& r) {
    return r.header("Content-Type").value_or("").starts_with("text/html") &&
           r.body.find("<html") != std::string::npos;
}

// Sends `bytes` on a new connection and expects `status`, then the connection closed, and
// nothing forwarded to the upstream.
void expect_refused_and_closed(proxied_site& s, std::string_view bytes, unsigned status = 400) {
    auto client = s.connect();
    ASSERT_FALSE(client.send(bytes));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(is_html_page(r)) << r.body;
    EXPECT_TRUE(client.closed_by_peer(2s)) << "the connection stayed open after " << r.status;
    EXPECT_EQ(s.upstream.requests_served(), 0U)
        << "last: " << s.upstream.last_request().method << " " << s.upstream.last_request().target;
}

// --- upstream failures ----------------------------------------------------------------------

TEST(ProxyUpstreamFailure, AnswersHangingUpstreamWith504AfterReadTimeout) {
    proxied_site s{[](gateway::config& cfg) { cfg.sites[0].upstream.read_timeout = 300ms; }};
    auto client = s.connect();
    const auto started = steady::now();

    ASSERT_FALSE(client.send(get_request("/hang")));
    const auto r = client.read_response(5s);
    const auto took = steady::now() - started;

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 504U);
    EXPECT_TRUE(is_html_page(r)) << r.body;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
}

TEST(ProxyUpstreamFailure, RelaysUpstreamThatAnswersWithinReadTimeout) {
    proxied_site s{[](gateway::config& cfg) { cfg.sites[0].upstream.read_timeout = 300ms; }};
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/sleep/50")));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, "slept");
}

TEST(ProxyUpstreamFailure, AnswersUnreachableUpstreamWith502Quickly) {
    const auto port = closed_port();
    auto cfg = loopback_config();
    cfg.sites.push_back(loopback_site("down", {"site.test"}, port));
    inprocess_gateway proxy{std::move(cfg)};
    raw_client client{proxy.port()};
    const auto started = steady::now();

    ASSERT_FALSE(client.send(get_request("/echo")));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 502U);
    EXPECT_TRUE(is_html_page(r)) << r.body;
    EXPECT_LT(steady::now() - started, 1s);
}

TEST(ProxyUpstreamFailure, AnswersUpstreamThatDropsTheConnectionWith502) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/drop")));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 502U);
}

// --- header limits --------------------------------------------------------------------------

TEST(ProxyLimits, RefusesOversizedHeaderWith431AndCloses) {
    proxied_site s;  // default header_bytes: 16384

    expect_refused_and_closed(
        s, get_request("/echo", "site.test", "X-Big: " + std::string(20 * 1024, 'b') + "\r\n"),
        431);
}

TEST(ProxyLimits, AcceptsHeaderJustBelowTheLimit) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(
        get_request("/echo", "site.test", "X-Big: " + std::string(15 * 1024, 'b') + "\r\n")));
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
}

// Host plus `extra` more fields.
std::string request_with_fields(std::size_t extra) {
    std::string fields;
    for (std::size_t i = 0; i < extra; ++i) {
        fields += "X-Field-" + std::to_string(i) + ": v\r\n";
    }
    return get_request("/echo", "site.test", fields);
}

TEST(ProxyLimits, RefusesMoreFieldsThanHeaderCountWith431) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.header_count = 100; }};

    expect_refused_and_closed(s, request_with_fields(100), 431);  // 101 fields
}

TEST(ProxyLimits, AcceptsExactlyHeaderCountFields) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.header_count = 100; }};
    auto client = s.connect();

    ASSERT_FALSE(client.send(request_with_fields(99)));  // 100 fields
    const auto r = client.read_response();

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
}

TEST(ProxyLimits, AnswersSlowRequestHeadWith408AndCloses) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.header_timeout = 300ms; }};
    auto client = s.connect();
    const auto started = steady::now();

    ASSERT_FALSE(client.send("GET /ec"));
    const auto r = client.read_response(3s);
    const auto took = steady::now() - started;

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 408U);
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_TRUE(client.closed_by_peer(1s));
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

TEST(ProxyLimits, AnswersStalledRequestBodyWith408AndCloses) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.body_timeout = 300ms; }};
    auto client = s.connect();
    const auto started = steady::now();

    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 10\r\n\r\nabcde"));
    const auto r = client.read_response(3s);
    const auto took = steady::now() - started;

    ASSERT_FALSE(r.ec) << r.ec.message() << " after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms";
    EXPECT_EQ(r.status, 408U);
    EXPECT_LT(took, 1500ms);
    EXPECT_TRUE(client.closed_by_peer(1s));
    EXPECT_EQ(s.upstream.requests_served(), 0U);
}

// Lingering after an error page drains what the client still sends; once the client has sent
// its EOF there is nothing left to drain, so the connection must not hold a slot any longer.
TEST(ProxyLimits, ReleasesConnectionPromptlyWhenClientHalfCloses) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/echo")));
    ASSERT_EQ(client.read_response().status, 200U);
    ASSERT_EQ(await_metric(s.proxy.admin_port(), "cg_connections_open", 1), 1);
    const auto started = steady::now();

    client.shutdown_send();
    const auto open = await_metric(s.proxy.admin_port(), "cg_connections_open", 0, 3s);
    const auto took = steady::now() - started;

    EXPECT_EQ(open, 0);
    EXPECT_LT(took, 1s) << "the gateway kept the half-closed connection for "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
}

TEST(ProxyLimits, RefusesConnectionsOverMaxConnectionsWith503) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.max_connections = 2; }};
    auto first = s.connect();
    auto second = s.connect();
    for (auto* client : {&first, &second}) {
        ASSERT_FALSE(client->send(get_request("/echo")));
        ASSERT_EQ(client->read_response().status, 200U);
    }

    auto third = s.connect();
    const auto refused = third.read_response(5s);

    ASSERT_FALSE(refused.ec) << refused.ec.message();
    EXPECT_EQ(refused.status, 503U);
    EXPECT_TRUE(third.closed_by_peer(2s));
    EXPECT_EQ(await_metric(s.proxy.admin_port(), "cg_connections_refused_total", 1), 1);

    // Both admitted connections still work, and a freed slot admits a new one.
    ASSERT_FALSE(second.send(get_request("/echo")));
    EXPECT_EQ(second.read_response().status, 200U);
    first.close();
    EXPECT_EQ(await_metric(s.proxy.admin_port(), "cg_connections_open", 1), 1);
    auto fourth = s.connect();
    ASSERT_FALSE(fourth.send(get_request("/echo")));
    EXPECT_EQ(fourth.read_response().status, 200U);
}

// --- request bodies -------------------------------------------------------------------------

TEST(ProxyLimits, RefusesDeclaredBodyOverLimitWith413) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.body_bytes = 1000; }};

    expect_refused_and_closed(
        s, "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5000\r\n\r\n", 413);
}

TEST(ProxyLimits, AcceptsBodyExactlyAtLimit) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.body_bytes = 1000; }};
    auto client = s.connect();

    const auto r = upload_pattern(client, 1000);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, upload_reply_for_pattern(1000));
}

TEST(ProxyLimits, NeverForwardsWholeChunkedBodyOverLimit) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.body_bytes = 1000; }};
    auto client = s.connect();

    ASSERT_FALSE(client.send(
        "POST /upload HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n"));
    client.send_pattern_chunked(5000, 300);  // may fail once the gateway gives up
    const auto r = client.read_response(5s);

    if (!r.ec) {
        EXPECT_EQ(r.status, 413U);
    }
    EXPECT_TRUE(client.closed_by_peer(2s));
    EXPECT_EQ(s.upstream.requests_served(), 0U);
}

TEST(ProxyLimits, SendsContinueBeforeTheBodyIsSent) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\n"
                    "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"));
    const auto interim = client.read_response(5s);
    ASSERT_FALSE(interim.ec) << interim.ec.message();
    EXPECT_EQ(interim.status, 100U);

    ASSERT_FALSE(client.send_pattern_body(10));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, upload_reply_for_pattern(10));
    EXPECT_FALSE(received_header(s.upstream.last_request(), "Expect"));
}

TEST(ProxyLimits, RefusesUnknownExpectationWith417) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send(get_request("/echo", "site.test", "Expect: something\r\n")));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 417U);
    EXPECT_EQ(s.upstream.requests_served(), 0U);
}

// --- request smuggling: every ambiguous framing is refused and the connection closed ---------

// What a second request hidden in the body of the first looks like.
const std::string smuggled = get_request("/echo?smuggled=1");

TEST(ProxySmuggling, RefusesContentLengthWithTransferEncoding) {
    proxied_site s;
    expect_refused_and_closed(s, "POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: " +
                                     std::to_string(5 + smuggled.size()) +
                                     "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
}

TEST(ProxySmuggling, RefusesTransferEncodingWithContentLength) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                              "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesTwoDifferentContentLengths) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: 0\r\n"
                              "Content-Length: " +
                                  std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
}

TEST(ProxySmuggling, RefusesChunkedFollowedByIdentity) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                              "Transfer-Encoding: chunked, identity\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesUnknownTransferCoding) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                              "Transfer-Encoding: xchunked\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesTwoTransferEncodingFields) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                              "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "0\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesTransferEncodingInHttp10) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.0\r\nHost: site.test\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesNonChunkedTransferEncodingInKeepAliveHttp10) {
    proxied_site s;
    expect_refused_and_closed(s,
                              "POST /echo HTTP/1.0\r\nHost: site.test\r\nConnection: keep-alive\r\n"
                              "Transfer-Encoding: gzip\r\n\r\n" +
                                  smuggled);
}

TEST(ProxySmuggling, RefusesObsFold) {
    proxied_site s;
    expect_refused_and_closed(
        s, "GET /echo HTTP/1.1\r\nHost: site.test\r\nX-Folded: one\r\n two\r\n\r\n");
}

TEST(ProxySmuggling, RefusesObsFoldWithTab) {
    proxied_site s;
    expect_refused_and_closed(
        s, "GET /echo HTTP/1.1\r\nHost: site.test\r\nX-Folded: one\r\n\ttwo\r\n\r\n");
}

TEST(ProxySmuggling, RefusesBareCrInHeader) {
    proxied_site s;
    expect_refused_and_closed(
        s, "GET /echo HTTP/1.1\r\nHost: site.test\r\nX-A: 1\rTransfer-Encoding: chunked\r\n\r\n");
}

TEST(ProxySmuggling, RefusesBareLfLineEndings) {
    proxied_site s;
    expect_refused_and_closed(s, "GET /echo HTTP/1.1\nHost: site.test\n\n");
}

// RFC 9112 §3.2 asks for a 400 here but not for a close: the framing itself is sound.
TEST(ProxySmuggling, RefusesHttp11WithoutHost) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET /echo HTTP/1.1\r\nX-A: 1\r\n\r\n"));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U);
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

TEST(ProxySmuggling, RefusesTwoHostFields) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(client.send("GET /echo HTTP/1.1\r\nHost: site.test\r\nHost: other.test\r\n\r\n"));
    const auto r = client.read_response(5s);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U);
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

// The head of these is valid, so the gateway may have started forwarding; what matters is that
// it answers 400 or closes, and that the request hidden after the bad chunk never arrives.
void expect_bad_chunk_stops_the_connection(std::string_view size_line) {
    proxied_site s;
    auto client = s.connect();

    ASSERT_FALSE(
        client.send("POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" +
                    std::string{size_line} + "\r\nhello\r\n0\r\n\r\n" + smuggled));
    const auto r = client.read_response(5s);

    if (!r.ec) {
        EXPECT_EQ(r.status, 400U);
    }
    EXPECT_TRUE(client.closed_by_peer(2s));
    EXPECT_EQ(s.upstream.requests_served(), 0U) << "last: " << s.upstream.last_request().target;
}

TEST(ProxySmuggling, RefusesInvalidChunkSize) {
    expect_bad_chunk_stops_the_connection("zz");
}

TEST(ProxySmuggling, RefusesOverflowingChunkSize) {
    expect_bad_chunk_stops_the_connection("ffffffffffffffffff");
}

}  // namespace
}  // namespace cg::test
