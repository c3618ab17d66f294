#include "gateway/request_guard.hpp"

#include <cstddef>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>

#include "gateway/error.hpp"

namespace cg::gateway {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

constexpr std::size_t max_bytes = 16 * 1024;
constexpr std::size_t max_fields = 100;

constexpr std::string_view valid_head =
    "GET /index.html?q=1 HTTP/1.1\r\n"
    "Host: shop.example.no\r\n"
    "User-Agent: test\r\n"
    "Accept: */*\r\n"
    "\r\n";

head_scan scan(std::string_view bytes, std::size_t bytes_limit = max_bytes,
               std::size_t fields_limit = max_fields) {
    return scan_request_head(bytes, bytes_limit, fields_limit);
}

// A complete head of exactly `size` bytes (at least 40), padded in one X-Pad field.
std::string head_of_size(std::size_t size) {
    const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    return start + std::string(size - start.size() - end.size(), 'p') + end;
}

// A complete head with a request line, Host and `extra` more fields.
std::string head_with_fields(std::size_t extra) {
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (std::size_t i = 0; i < extra; ++i) {
        head += "X-F" + std::to_string(i) + ": v\r\n";
    }
    return head + "\r\n";
}

// --- scan_request_head ----------------------------------------------------------------------

TEST(ScanRequestHead, FindsEndOfCompleteHead) {
    const auto s = scan(valid_head);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.skipped, 0U);
    EXPECT_EQ(s.head_bytes, valid_head.size());
}

TEST(ScanRequestHead, StopsAtEndOfHeadWhenBodyFollows) {
    const std::string bytes = std::string(valid_head) + "body\r\n\nbytes\r";

    const auto s = scan(bytes);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, valid_head.size());
}

TEST(ScanRequestHead, StopsAtEndOfFirstOfTwoPipelinedHeads) {
    const std::string bytes = std::string(valid_head) + std::string(valid_head);

    const auto s = scan(bytes);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, valid_head.size());
}

TEST(ScanRequestHead, AcceptsRequestLineWithoutFields) {
    constexpr std::string_view head = "GET / HTTP/1.0\r\n\r\n";

    const auto s = scan(head);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, head.size());
}

TEST(ScanRequestHead, NeedsMoreBytesAtEverySplitPointOfValidHead) {
    for (std::size_t n = 0; n < valid_head.size(); ++n) {
        const auto s = scan(valid_head.substr(0, n));

        EXPECT_FALSE(s.error) << "after " << n << " bytes: " << s.error.message();
        EXPECT_EQ(s.head_bytes, 0U) << "after " << n << " bytes";
    }
}

TEST(ScanRequestHead, NeedsMoreBytesAtEverySplitPointAfterLeadingEmptyLines) {
    const std::string bytes = "\r\n\r\n" + std::string(valid_head);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        const auto s = scan(std::string_view{bytes}.substr(0, n));

        EXPECT_FALSE(s.error) << "after " << n << " bytes: " << s.error.message();
        EXPECT_EQ(s.head_bytes, 0U) << "after " << n << " bytes";
    }
}

TEST(ScanRequestHead, SkipsLeadingEmptyLines) {
    const std::string bytes = "\r\n\r\n" + std::string(valid_head);

    const auto s = scan(bytes);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.skipped, 4U);
    EXPECT_EQ(s.head_bytes, valid_head.size());
}

TEST(ScanRequestHead, RefusesBareCrInField) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\rX-Smuggled: 1\r\n\r\n");

    EXPECT_EQ(s.error, errc::bare_cr);
}

TEST(ScanRequestHead, RefusesBareCrInRequestLine) {
    const auto s = scan("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n");

    EXPECT_EQ(s.error, errc::bare_cr);
}

TEST(ScanRequestHead, RefusesBareCrBeforeEmptyLine) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\r\n\rX");

    EXPECT_EQ(s.error, errc::bare_cr);
}

TEST(ScanRequestHead, RefusesBareLfLineEndings) {
    const auto s = scan("GET / HTTP/1.1\nHost: a\n\n");

    EXPECT_EQ(s.error, errc::bare_lf);
}

TEST(ScanRequestHead, RefusesBareLfInsideField) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\nX-Smuggled: 1\r\n\r\n");

    EXPECT_EQ(s.error, errc::bare_lf);
}

TEST(ScanRequestHead, RefusesBareLfAsEndOfHead) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\r\n\n");

    EXPECT_EQ(s.error, errc::bare_lf);
}

TEST(ScanRequestHead, RefusesBareLfBeforeRequestLine) {
    const auto s = scan("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");

    EXPECT_EQ(s.error, errc::bare_lf);
}

TEST(ScanRequestHead, RefusesObsFoldWithSpace) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n");

    EXPECT_EQ(s.error, errc::obs_fold);
}

TEST(ScanRequestHead, RefusesObsFoldWithTab) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n");

    EXPECT_EQ(s.error, errc::obs_fold);
}

TEST(ScanRequestHead, RefusesWhitespaceBeforeFirstField) {
    const auto s = scan("GET / HTTP/1.1\r\n Host: a\r\n\r\n");

    EXPECT_EQ(s.error, errc::obs_fold);
}

TEST(ScanRequestHead, ReportsObsFoldBeforeTheHeadIsComplete) {
    const auto s = scan("GET / HTTP/1.1\r\nHost: a\r\n X");

    EXPECT_EQ(s.error, errc::obs_fold);
}

TEST(ScanRequestHead, AcceptsHeadExactlyAtByteLimit) {
    const std::string head = head_of_size(200);

    const auto s = scan(head, 200);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, 200U);
}

TEST(ScanRequestHead, RefusesHeadOneByteOverByteLimit) {
    const std::string head = head_of_size(201);

    const auto s = scan(head, 200);

    EXPECT_EQ(s.error, errc::header_too_large) << "head_bytes " << s.head_bytes;
}

TEST(ScanRequestHead, RefusesHeadTwoBytesOverByteLimit) {
    const auto s = scan(head_of_size(202), 200);

    EXPECT_EQ(s.error, errc::header_too_large);
}

TEST(ScanRequestHead, RefusesUnfinishedHeadThatReachedByteLimit) {
    const std::string head = head_of_size(400).substr(0, 200);

    const auto s = scan(head, 200);

    EXPECT_EQ(s.error, errc::header_too_large);
}

TEST(ScanRequestHead, WaitsForUnfinishedHeadBelowByteLimit) {
    const std::string head = head_of_size(400).substr(0, 199);

    const auto s = scan(head, 200);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, 0U);
}

TEST(ScanRequestHead, DoesNotCountLeadingEmptyLinesAgainstByteLimit) {
    const std::string bytes = "\r\n\r\n" + head_of_size(200);

    const auto s = scan(bytes, 200);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.skipped, 4U);
    EXPECT_EQ(s.head_bytes, 200U);
}

TEST(ScanRequestHead, AcceptsExactlyTheFieldLimit) {
    const std::string head = head_with_fields(9);  // Host + 9 = 10 fields

    const auto s = scan(head, max_bytes, 10);

    EXPECT_FALSE(s.error) << s.error.message();
    EXPECT_EQ(s.head_bytes, head.size());
}

TEST(ScanRequestHead, RefusesOneFieldOverTheLimit) {
    const auto s = scan(head_with_fields(10), max_bytes, 10);

    EXPECT_EQ(s.error, errc::too_many_headers);
}

TEST(ScanRequestHead, RefusesTooManyFieldsBeforeTheHeadIsComplete) {
    std::string head = head_with_fields(20);
    head.resize(head.size() - 2);  // no empty line yet

    const auto s = scan(head, max_bytes, 10);

    EXPECT_EQ(s.error, errc::too_many_headers);
}

TEST(ScanRequestHead, ZeroFieldLimitAllowsOnlyTheRequestLine) {
    EXPECT_FALSE(scan("GET / HTTP/1.0\r\n\r\n", max_bytes, 0).error);
    EXPECT_EQ(scan("GET / HTTP/1.1\r\nHost: a\r\n\r\n", max_bytes, 0).error,
              errc::too_many_headers);
}

// --- check_request --------------------------------------------------------------------------

http::request_header<> request(http::verb method, std::string_view target, unsigned version = 11) {
    http::request_header<> h;
    h.method(method);
    h.target(target);
    h.version(version);
    if (version >= 11) {
        h.set(http::field::host, "shop.example.no");
    }
    return h;
}

TEST(CheckRequest, AcceptsOriginForm) {
    const auto h = request(http::verb::get, "/products/1?colour=red");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "");
    EXPECT_EQ(t.origin, "/products/1?colour=red");
}

TEST(CheckRequest, AcceptsAbsoluteFormHttpWithPath) {
    const auto h = request(http::verb::get, "http://Shop.Example.no:8080/a/b?c=d");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "Shop.Example.no:8080");
    EXPECT_EQ(t.origin, "/a/b?c=d");
}

TEST(CheckRequest, AcceptsAbsoluteFormHttpsWithPath) {
    const auto h = request(http::verb::post, "https://shop.example.no/cart");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "shop.example.no");
    EXPECT_EQ(t.origin, "/cart");
}

TEST(CheckRequest, AcceptsAbsoluteFormWithoutPath) {
    const auto h = request(http::verb::get, "http://shop.example.no");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "shop.example.no");
    EXPECT_EQ(t.origin, "/");
}

TEST(CheckRequest, AcceptsAbsoluteFormHttpsWithoutPath) {
    const auto h = request(http::verb::get, "HTTPS://shop.example.no:443");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "shop.example.no:443");
    EXPECT_EQ(t.origin, "/");
}

// RFC 9112 §3.2.1: with an empty path the origin-form sent on must start with "/". Either the
// gateway refuses such a target, or what it forwards is a valid origin-form.
TEST(CheckRequest, AbsoluteFormWithQueryButNoPathNeverYieldsOriginWithoutSlash) {
    const auto h = request(http::verb::get, "http://shop.example.no?q=1");
    request_target t;

    const auto ec = check_request(h, t);

    if (!ec) {
        EXPECT_TRUE(t.origin.starts_with('/')) << "origin \"" << t.origin << '"';
    } else {
        EXPECT_EQ(ec, errc::bad_target);
    }
}

TEST(CheckRequest, AcceptsAbsoluteFormWithIpv6Authority) {
    const auto h = request(http::verb::get, "http://[::1]:8080/x");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "[::1]:8080");
    EXPECT_EQ(t.origin, "/x");
}

TEST(CheckRequest, RefusesUserinfoInAbsoluteForm) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "http://user:pw@shop.example.no/"), t),
              errc::bad_target);
    EXPECT_EQ(check_request(request(http::verb::get, "http://evil.example@shop.example.no"), t),
              errc::bad_target);
}

TEST(CheckRequest, AllowsAtSignInPathOfAbsoluteForm) {
    const auto h = request(http::verb::get, "http://shop.example.no/@user");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "shop.example.no");
    EXPECT_EQ(t.origin, "/@user");
}

TEST(CheckRequest, RefusesAbsoluteFormWithEmptyAuthority) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "http:///path"), t), errc::bad_target);
    EXPECT_EQ(check_request(request(http::verb::get, "http://"), t), errc::bad_target);
}

TEST(CheckRequest, RefusesOtherSchemes) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "ftp://shop.example.no/"), t),
              errc::bad_target);
    EXPECT_EQ(check_request(request(http::verb::get, "ws://shop.example.no/"), t),
              errc::bad_target);
}

TEST(CheckRequest, RefusesTargetInNoKnownForm) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "shop.example.no/path"), t), errc::bad_target);
    EXPECT_EQ(check_request(request(http::verb::get, "?q=1"), t), errc::bad_target);
}

TEST(CheckRequest, RefusesFragmentInAbsoluteForm) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "http://shop.example.no#top"), t),
              errc::bad_target);
}

TEST(CheckRequest, AcceptsOptionsAsterisk) {
    const auto h = request(http::verb::options, "*");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
    EXPECT_EQ(t.authority, "");
    EXPECT_EQ(t.origin, "*");
}

TEST(CheckRequest, RefusesAsteriskWithGet) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::get, "*"), t), errc::bad_target);
}

TEST(CheckRequest, RefusesConnect) {
    request_target t;

    EXPECT_EQ(check_request(request(http::verb::connect, "shop.example.no:443"), t),
              errc::method_not_allowed);
}

TEST(CheckRequest, RefusesHttp11WithoutHost) {
    http::request_header<> h;
    h.method(http::verb::get);
    h.target("/");
    h.version(11);
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::missing_host);
}

TEST(CheckRequest, RefusesAbsoluteFormInHttp11WithoutHost) {
    http::request_header<> h;
    h.method(http::verb::get);
    h.target("http://shop.example.no/");
    h.version(11);
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::missing_host);
}

TEST(CheckRequest, AcceptsHttp10WithoutHost) {
    const auto h = request(http::verb::get, "/", 10);
    request_target t;

    EXPECT_FALSE(check_request(h, t));
}

TEST(CheckRequest, RefusesTwoHostFields) {
    auto h = request(http::verb::get, "/");
    h.insert(http::field::host, "evil.example");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::missing_host);
}

TEST(CheckRequest, RefusesTwoHostFieldsInHttp10) {
    auto h = request(http::verb::get, "/", 10);
    h.insert(http::field::host, "shop.example.no");
    h.insert(http::field::host, "evil.example");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::missing_host);
}

TEST(CheckRequest, AcceptsChunkedTransferEncoding) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "chunked");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
}

TEST(CheckRequest, AcceptsChunkedInAnyCase) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "Chunked");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
}

TEST(CheckRequest, RefusesCodingBeforeChunked) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "gzip, chunked");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesCodingAfterChunked) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "chunked, gzip");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesIdentityTransferEncoding) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "identity");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesChunkedFollowedByIdentity) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "chunked, identity");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesLookalikeOfChunked) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "xchunked");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesEmptyTransferEncoding) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::transfer_encoding, "");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesTwoTransferEncodingFields) {
    auto h = request(http::verb::post, "/upload");
    h.insert(http::field::transfer_encoding, "chunked");
    h.insert(http::field::transfer_encoding, "chunked");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, RefusesTransferEncodingInHttp10) {
    auto h = request(http::verb::post, "/upload", 10);
    h.set(http::field::transfer_encoding, "chunked");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::bad_transfer_encoding);
}

TEST(CheckRequest, AcceptsExpect100Continue) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::expect, "100-continue");
    h.set(http::field::content_length, "10");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
}

TEST(CheckRequest, AcceptsExpect100ContinueInAnyCase) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::expect, "100-Continue");
    request_target t;

    EXPECT_FALSE(check_request(h, t));
}

TEST(CheckRequest, RefusesOtherExpectations) {
    auto h = request(http::verb::post, "/upload");
    h.set(http::field::expect, "something");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::expectation_failed);
}

TEST(CheckRequest, RefusesEmptyExpectation) {
    auto h = request(http::verb::get, "/");
    h.set(http::field::expect, "");
    request_target t;

    EXPECT_EQ(check_request(h, t), errc::expectation_failed);
}

// --- error codes ----------------------------------------------------------------------------

TEST(GatewayErrc, MapsEachRefusalToItsStatus) {
    EXPECT_EQ(status_for(errc::header_too_large), 431U);
    EXPECT_EQ(status_for(errc::too_many_headers), 431U);
    EXPECT_EQ(status_for(errc::bare_cr), 400U);
    EXPECT_EQ(status_for(errc::bare_lf), 400U);
    EXPECT_EQ(status_for(errc::obs_fold), 400U);
    EXPECT_EQ(status_for(errc::bad_transfer_encoding), 400U);
    EXPECT_EQ(status_for(errc::missing_host), 400U);
    EXPECT_EQ(status_for(errc::bad_target), 400U);
    EXPECT_EQ(status_for(errc::unknown_host), 421U);
    EXPECT_EQ(status_for(errc::method_not_allowed), 405U);
    EXPECT_EQ(status_for(errc::expectation_failed), 417U);
    EXPECT_EQ(status_for(errc::body_too_large), 413U);
}

TEST(GatewayErrc, ConvertsToErrorCodeOfGatewayCategory) {
    const error_code ec = errc::bare_lf;

    EXPECT_EQ(&ec.category(), &error_category());
    EXPECT_STREQ(ec.category().name(), "cg.gateway");
    EXPECT_EQ(ec.message(), "bare LF in request head");
}

}  // namespace
}  // namespace cg::gateway
