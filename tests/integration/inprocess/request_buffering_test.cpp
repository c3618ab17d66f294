// Request buffering (limits.request_buffer_bytes): a small body is read whole and checked
// before an upstream connection is used, as nginx does by default; larger ones stream.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/pattern.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

TEST(RequestBuffering, NeverForwardsAChunkedBodyThatOverrunsItsChunkSize) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(client.closed_by_peer(2s));
    EXPECT_EQ(s.upstream.connections_accepted(), 0U) << "the origin saw a truncated request";
}

TEST(RequestBuffering, AStalledSmallBodyNeverHoldsAnUpstreamConnection) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.body_timeout = 300ms; }};
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\n"
                    "Content-Length: 100\r\n\r\nonly ten b"));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 408U);
    EXPECT_EQ(s.upstream.connections_accepted(), 0U);
}

TEST(RequestBuffering, SendsASmallChunkedBodyUpstreamWithItsLength) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"));
    ASSERT_FALSE(client.send_pattern_chunked(1000, 300));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    const auto seen = s.upstream.last_request();
    EXPECT_EQ(received_header(seen, "Content-Length").value_or("-"), "1000");
    EXPECT_FALSE(received_header(seen, "Transfer-Encoding").has_value());
    EXPECT_EQ(seen.body_bytes, 1000U);
}

TEST(RequestBuffering, StreamsAChunkedBodyLargerThanTheBuffer) {
    proxied_site s{[](gateway::config& cfg) { cfg.limits.request_buffer_bytes = 4096; }};
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("POST /upload HTTP/1.1\r\nHost: site.test\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"));
    ASSERT_FALSE(client.send_pattern_chunked(100000, 1000));
    const auto r = client.read_response(10s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, upload_reply_for_pattern(100000));
    EXPECT_EQ(received_header(s.upstream.last_request(), "Transfer-Encoding").value_or("-"),
              "chunked");
}

TEST(RequestBuffering, ForwardsARepeatedIdenticalContentLengthOnce) {
    proxied_site s;
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n"
                    "Content-Length: 5\r\n\r\nhello"));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    std::size_t lengths = 0;
    for (const auto& [name, value] : s.upstream.last_request().headers) {
        lengths += name == "Content-Length" || name == "content-length" ? 1U : 0U;
    }
    EXPECT_EQ(lengths, 1U);
}

TEST(RequestBuffering, RetriesABufferedIdempotentRequestOnAStalePooledConnection) {
    proxied_site s;
    s.upstream.set_idle_close(50ms);
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("PUT /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 3\r\n"
                    "\r\nabc"));
    ASSERT_FALSE(client.read_response(5s).ec);
    std::this_thread::sleep_for(150ms);  // the upstream closes the pooled connection
    ASSERT_FALSE(
        client.send("PUT /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 3\r\n"
                    "\r\nabc"));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, "bytes=3 fnv1a=" + hex64([] {
                          fnv1a h;
                          h.update("abc");
                          return h.value();
                      }()));
    // Sent once more on a fresh connection, which a streamed body could not have been.
    EXPECT_EQ(await_metric(s.proxy.admin_port(), R"(cg_upstream_retries_total{site="demo"})", 1),
              1);
}

}  // namespace
}  // namespace cg::test
