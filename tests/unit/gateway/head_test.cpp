#include "gateway/head.hpp"

#include <gtest/gtest.h>

#include <string>

#include <boost/asio/buffer.hpp>

#include "gateway/head_parser.hpp"

namespace cg::gateway {
namespace {

namespace http = boost::beast::http;

request_head parse(std::string text) {
    request_parser p;
    boost::system::error_code ec;
    p.eager(false);
    p.put(boost::asio::buffer(text.data(), text.size()), ec);
    EXPECT_FALSE(ec) << ec.message();
    std::fill(text.begin(), text.end(), '#');  // the head must not point into the input
    return std::move(p.get());
}

std::vector<std::string> lines(const head_fields& h) {
    std::vector<std::string> out;
    for (const auto& f : h) {
        out.push_back(std::string{f.name_string()} + ": " + std::string{f.value()});
    }
    return out;
}

TEST(RequestHead, OwnsItsBytesAfterTheParserAndTheInputAreGone) {
    const auto h = parse(
        "POST /form?x=1 HTTP/1.1\r\nHost: shop.example.no\r\nX-Custom:  a b \r\n"
        "Content-Length: 0\r\n\r\n");
    EXPECT_EQ(h.method(), http::verb::post);
    EXPECT_EQ(h.method_string(), "POST");
    EXPECT_EQ(h.target(), "/form?x=1");
    EXPECT_EQ(h.version(), 11U);
    EXPECT_EQ(lines(h), (std::vector<std::string>{"Host: shop.example.no", "X-Custom: a b",
                                                  "Content-Length: 0"}));
    EXPECT_EQ(h.find(http::field::host)->name(), http::field::host);
    EXPECT_EQ(h["x-custom"], "a b");
}

TEST(HeadFields, FindsCountsAndErasesKnownAndUnknownNamesInAnyCase) {
    auto h = parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nACCEPT: */*\r\n\r\n");
    EXPECT_EQ(h.count("X-a"), 2U);
    EXPECT_EQ(h.count(http::field::accept), 1U);
    EXPECT_EQ(h.count("accept"), 1U);
    EXPECT_EQ(h["Accept"], "*/*");
    EXPECT_EQ(h.erase("x-A"), 2U);
    EXPECT_EQ(h.erase(http::field::accept), 1U);
    EXPECT_EQ(lines(h), std::vector<std::string>{"Host: h"});
}

TEST(HeadFields, SetReplacesEveryFieldOfTheNameAndKeepsTheValue) {
    auto h = parse("GET / HTTP/1.1\r\nCookie: a=1\r\nHost: h\r\nCookie: b=2\r\n\r\n");
    std::string value = "c=3";
    h.set(http::field::cookie, value);
    value = "overwritten";
    h.set("X-Forwarded-Proto", "http");
    h.set("x-forwarded-proto", "https");
    EXPECT_EQ(lines(h),
              (std::vector<std::string>{"Host: h", "Cookie: c=3", "x-forwarded-proto: https"}));
}

TEST(HeadFields, SetMayTakeItsValueFromTheFieldItReplaces) {
    auto h = parse("GET / HTTP/1.1\r\nVary: Accept\r\n\r\n");
    h.set(http::field::vary, h[http::field::vary]);
    EXPECT_EQ(h[http::field::vary], "Accept");
}

TEST(HeadFields, ViewsSurviveMovesAndManyValues) {
    auto h = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    for (int i = 0; i < 100; ++i) {  // past the room after the head: more blocks
        h.insert("X-N-" + std::to_string(i), std::string(20, static_cast<char>('a' + i % 26)));
    }
    h.target("/elsewhere");
    request_head moved{std::move(h)};
    request_head assigned;
    assigned = std::move(moved);
    EXPECT_EQ(assigned.size(), 101U);
    EXPECT_EQ(assigned["x-n-99"], std::string(20, 'v'));
    EXPECT_EQ(assigned.target(), "/elsewhere");
    EXPECT_EQ(moved.size(), 0U);
}

TEST(HeadFields, EraseIfRemovesInOnePassAndKeepsOrder) {
    auto h = parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    EXPECT_EQ(h.erase_if([](const head_field& f) { return f.value() == "2" || f.value() == "4"; }),
              2U);
    EXPECT_EQ(lines(h), (std::vector<std::string>{"A: 1", "C: 3"}));
}

TEST(ResponseParser, LendsBodyBytesIntoTheCallersBuffer) {
    response_parser p;
    const std::string text =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
        "world\r\n0\r\n\r\n";
    boost::system::error_code ec;
    auto used = p.put(boost::asio::buffer(text.data(), text.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(p.is_header_done());
    EXPECT_EQ(p.get().result_int(), 200U);
    std::string body;
    char small[4];
    for (int guard = 0; guard < 20 && !p.is_done(); ++guard) {
        p.lend(small);
        used += p.put(boost::asio::buffer(text.data() + used, text.size() - used), ec);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        ASSERT_FALSE(ec) << ec.message();
        body.append(small, p.filled());
    }
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(body, "hello world");
}

}  // namespace
}  // namespace cg::gateway
