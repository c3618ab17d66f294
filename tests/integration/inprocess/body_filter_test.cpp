// The body-filter seam (gateway/body_filter.hpp) through real sockets: a test-only transform
// that upper-cases the body, on Content-Length and chunked answers, for HTTP/1.1 and 1.0
// clients; answers nobody transforms keep the byte-for-byte relay; a filter or transform that
// throws ends in the session's choke point, not in a silently dropped connection.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "gateway/body_filter.hpp"
#include "proxy_fixture.hpp"
#include "support/pattern.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

std::string upper_pattern(std::size_t n) {
    std::string s = pattern(n);
    for (auto& c : s) {
        c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
}

class upper_case final : public gateway::body_transform {
  public:
    explicit upper_case(int throw_at_piece = 0) : throw_at_(throw_at_piece) {}
    void write(std::string_view in, bool, std::string& out) override {
        if (++pieces_ == throw_at_) {
            throw std::runtime_error("test transform gave up: at piece " + std::to_string(pieces_));
        }
        for (const char c : in) {
            out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
        }
    }
    std::string_view vary() const noexcept override { return "Cookie"; }

  private:
    int throw_at_;
    int pieces_ = 0;
};

// Transforms /bytes/* and /chunked/*; throws when offered /status/418 (a filter bug) and
// from the second piece of /bytes/300000?throw (a transform bug).
std::vector<gateway::body_filter> upper_case_filter() {
    return {[](const gateway::transaction& tx,
               const gateway::response_head&) -> std::unique_ptr<gateway::body_transform> {
        if (tx.path == "/status/418") {
            throw std::logic_error("test filter: cannot decide: really");
        }
        if (tx.path.starts_with("/bytes/") || tx.path.starts_with("/chunked/")) {
            return std::make_unique<upper_case>(tx.query == "throw" ? 2 : 0);
        }
        return nullptr;
    }};
}

TEST(BodyFilter, TransformsAContentLengthBodyIntoChunksForAnHttp11Client) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/bytes/200000")));
    const auto r = client.read_response(10s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.header_count("Content-Length"), 0U);
    EXPECT_EQ(r.header("Vary").value_or(""), "Cookie");
    EXPECT_EQ(r.body, upper_pattern(200000));
    EXPECT_TRUE(r.keep_alive);

    // The connection goes on, and the upstream connection went back to the pool.
    ASSERT_FALSE(client.send(get_request("/bytes/30")));
    const auto again = client.read_response(5s);
    ASSERT_FALSE(again.ec) << again.ec.message();
    EXPECT_EQ(again.body, upper_pattern(30));
    EXPECT_EQ(s.upstream.connections_accepted(), 1U);
}

TEST(BodyFilter, TransformsAChunkedBody) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/chunked/50000?size=777")));
    const auto r = client.read_response(10s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.body, upper_pattern(50000));
}

TEST(BodyFilter, SendsATransformedBodyToAnHttp10ClientDelimitedByClose) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(
        client.send("GET /chunked/5000 HTTP/1.0\r\nHost: site.test\r\n"
                    "Connection: keep-alive\r\n\r\n"));
    const auto r = client.read_response(10s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.version, 10U);
    EXPECT_FALSE(r.chunked);
    EXPECT_EQ(r.header_count("Content-Length"), 0U);
    EXPECT_EQ(r.header("Connection").value_or(""), "close");
    EXPECT_EQ(r.body, upper_pattern(5000));  // read until the gateway closed
}

TEST(BodyFilter, LeavesAnswersNobodyTransformsByteForByte) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/echo")));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_FALSE(r.chunked);
    EXPECT_TRUE(r.header("Content-Length").has_value());
    EXPECT_TRUE(r.body.starts_with("GET /echo\n")) << r.body;
}

TEST(BodyFilter, AnswersHeadWithoutOfferingATransform) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(client.send("HEAD /bytes/100 HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    read_options head;
    head.head = true;
    const auto r = client.read_response(5s, head);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.header("Content-Length").value_or(""), "100");
}

TEST(BodyFilter, AFilterThatThrowsGetsA500AndACountNotASilentClose) {
    proxied_site s{{}, upper_case_filter()};
    {
        auto client = s.connect();
        ASSERT_FALSE(client.send(get_request("/status/418")));
        const auto r = client.read_response(5s);
        ASSERT_FALSE(r.ec) << r.ec.message();
        EXPECT_EQ(r.status, 500U);
        EXPECT_TRUE(client.closed_by_peer(2s));
    }
    EXPECT_EQ(await_metric(s.proxy.admin_port(), "cg_internal_errors_total", 1), 1);
    const auto next = http_get(s.proxy.port(), "site.test", "/bytes/10");
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.body, upper_pattern(10));
}

TEST(BodyFilter, ATransformThatThrowsMidBodyCutsTheConnection) {
    proxied_site s{{}, upper_case_filter()};
    auto client = s.connect();
    ASSERT_FALSE(client.send(get_request("/bytes/300000?throw")));
    const auto r = client.read_response(5s);
    EXPECT_TRUE(r.ec) << "a truncated body must not look complete";
    EXPECT_EQ(r.status, 200U);
    EXPECT_LT(r.body.size(), 300000U);
    EXPECT_EQ(await_metric(s.proxy.admin_port(), "cg_internal_errors_total", 1), 1);
}

}  // namespace
}  // namespace cg::test
